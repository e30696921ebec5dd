// The weak references of one heap: referent -> its newest record (the records of one referent
// are linked through WeakRecord::prev/next). An object only carries kHasWeakrefs, so one that
// never had a weak reference pays nothing (src/weakref.cpp).
#pragma once

#include "pointer_map.hpp"

namespace ouro::detail {

struct WeakRecord;
using WeakRegistry = PointerMap<WeakRecord*>;

}  // namespace ouro::detail
