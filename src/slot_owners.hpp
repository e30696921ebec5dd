// What a trace() may visit: the Refs in its object's own block, or outside it in storage the
// object owns (a container's buffer — the library's containers keep theirs in the heap's raw
// pools —, a unique_ptr's target, a pmr buffer wherever it is). A Ref
// inside another managed object, or in a module's static storage (a global), is never the
// visiting object's own: such a visit is a trace() mistake, and the collector neither counts it
// nor clears it (docs/design.md §5, "Mistaken traces"). Whether outside storage is really owned
// cannot be told in general; these two cases can, cheaply enough for the garbage and for checked
// builds.
#pragma once

#include "os.hpp"

#include <ouro/object.hpp>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ouro {
class Heap;
}

namespace ouro::detail {

enum class SlotOwner : std::uint8_t {
    Self,         // inside the visiting object's block
    Outside,      // elsewhere, and possibly its own
    Static,       // in a module's static storage: a global or a static member
    OtherObject,  // inside another managed object
};

// The loaded modules' static storage as a heap's collector last read it: read again at every full
// collection (a module loaded since is only missed by the young collections until then).
struct StaticStorage {
    std::vector<os::Range> ranges;  // sorted
    bool loaded = false;
};

// One collection's view of who owns what.
class SlotOwners {
public:
    SlotOwners(Heap& h, StaticStorage& statics, bool refresh) noexcept : heap_(h), statics_(statics), refresh_(refresh) {}
    // Where `slot`, visited by the object whose block is [base, base + size), lies.
    SlotOwner classify(const void* slot, const void* base, std::size_t size);
    // Whether every slot in [lo, hi] outside the visiting object's block is Outside: the range
    // meets no arena of the heap (or lies in one raw pool block), large object or static storage.
    bool all_outside(const void* lo, const void* hi);

private:
    void load();
    Heap& heap_;
    StaticStorage& statics_;
    bool refresh_;
    bool loaded_ = false;
    std::vector<os::Range> large_;  // this heap's large objects, sorted
};

}  // namespace ouro::detail
