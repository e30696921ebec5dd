// A heap's part for DynObjects (src/dyn_object.cpp):
// - the shared keys, per dynamic type (PEP 412's cached keys, which CPython keeps in the class):
//   instances of a type that set their attributes in the same order share one table of names;
// - the allocator of their value arrays: pools of their own, apart from the heap's object pools,
//   because the collector takes a Ref inside the heap's pools for another object's member
//   (src/slot_owners.hpp) and a value array is its instance's own storage.
#pragma once

#include "pointer_map.hpp"

#include <ouro/detail/block_allocator.hpp>

namespace ouro::detail {

struct DynKeys;

struct DynObjectState {
    PointerMap<DynKeys*> shared_keys;  // &typeid(T) -> its table (this registry holds one reference)
    BlockAllocator values;

    DynObjectState() = default;
    DynObjectState(const DynObjectState&) = delete;
    DynObjectState& operator=(const DynObjectState&) = delete;
    // Drops the registry's references (instances keep theirs) and leaves the pools of value arrays
    // still in use mapped, for the instances the heap leaves behind.
    ~DynObjectState();
};

}  // namespace ouro::detail
