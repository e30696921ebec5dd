// "<Node at 0x...>": how messages name an object.
#pragma once

#include <ouro/object.hpp>

#include <string>

namespace ouro::detail {

// The object's dynamic type, demangled, and address — or what is left of a dead block. Throws
// std::bad_alloc.
std::string describe(const Object& o);
// The dynamic type of a live object, demangled ("Node", "app::Widget"). Throws std::bad_alloc.
std::string type_name(const Object& o);

}  // namespace ouro::detail
