// The shared keys of one heap's DynObjects, per dynamic type (PEP 412's cached keys, which CPython
// keeps in the class): instances of a type that set their attributes in the same order share one
// table of names and hold only their values (src/dyn_object.cpp).
#pragma once

#include "pointer_map.hpp"

namespace ouro::detail {

struct DynKeys;

struct SharedKeys {
    PointerMap<DynKeys*> by_type;  // &typeid(T) -> its table (the registry holds one reference)
    SharedKeys() = default;
    SharedKeys(const SharedKeys&) = delete;
    SharedKeys& operator=(const SharedKeys&) = delete;
    ~SharedKeys();  // drops the registry's references; instances keep theirs
};

}  // namespace ouro::detail
