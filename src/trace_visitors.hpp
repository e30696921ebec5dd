// The visitors of a collection's phases: gather (RecordVisitor), recount (VerifyVisitor) and
// clear (ClearVisitor), and how they tell a slot of the visiting object's own block visited twice.
#pragma once

#include "graph.hpp"
#include "pointer_map.hpp"
#include "slot_owners.hpp"
#include "trace_errors.hpp"

#include <ouro/ref.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <utility>
#include <vector>

namespace ouro::detail {

// The block size of a candidate (its fields start at the object).
inline std::size_t block_size(Object* x) noexcept {
    return (gcword(x) & kLarge) ? large_prefix(x)->size - large_prefix(x)->offset : pool_of(x)->block_size;
}

// Tells, for the slots one object's trace() visits inside its own block, whether each is new: a
// slot visited twice counts once. Blocks of up to 512 bytes are 64 words, one bit each; larger
// ones keep a list.
class SeenSlots {
public:
    void begin(const Object* x, std::size_t size) noexcept {
        base_ = reinterpret_cast<const char*>(x);
        size_ = size;
        bits_ = 0;
        large_.clear();
    }
    const char* base() const noexcept { return base_; }
    std::size_t size() const noexcept { return size_; }
    bool inside(const void* slot) const noexcept { return offset(slot) < size_; }
    // For a slot inside the block: true the first time.
    OURO_ALWAYS_INLINE bool first(const void* slot) {
        const std::size_t word = offset(slot) / sizeof(void*);
        if (OURO_UNLIKELY(word >= 64)) return first_beyond_64(word);
        const std::uint64_t bit = std::uint64_t{1} << word;
        if (bits_ & bit) return false;
        bits_ |= bit;
        return true;
    }

private:
    OURO_NOINLINE bool first_beyond_64(std::size_t word) {
        if (std::find(large_.begin(), large_.end(), word) != large_.end()) return false;
        large_.push_back(word);
        return true;
    }
    std::size_t offset(const void* slot) const noexcept {
        return static_cast<std::size_t>(static_cast<const char*>(slot) - base_);
    }
    const char* base_ = nullptr;
    std::size_t size_ = 0;
    std::uint64_t bits_ = 0;
    std::vector<std::size_t> large_;
};

// Records the edges of one candidate whose targets were appended to the edge array from `start`
// on: up to two go into its slot (the common case), more stay there as a run ended by kNone.
inline void record_edges(Graph& g, Slot& slot, std::size_t start, std::uint32_t flags) {
    const std::size_t n = g.edges.size() - start;
    if (n <= 2) {
        slot.link = kCandidate | kInline | flags | (n ? g.edges[start] : kNoTarget);
        slot.second = n == 2 ? g.edges[start + 1] : kNoTarget;
        g.edges.resize(start);
        return;
    }
    if (start >= kNoTarget) throw std::length_error("ouro::gc: a collection of more than 2^29 references");
    slot.link = kCandidate | flags | static_cast<std::uint32_t>(start);
    g.edges.push_back(kNone);
}

// Phase 1's visitor: subtracts one from each visited candidate's gc_refs and records the edge.
// It flags the object as doubtful (kDoubtful, for phase 4) when its trace() visits a slot outside
// the object's own block, or its own slots out of increasing address order: slots visited in
// order (as OURO_TRACE and most hand-written traces do: members in declaration order) cannot
// repeat, and the flag costs a compare where an exact check of repeats would cost more. Checked
// builds check repeats exactly and every outside slot now, so that a mistake is reported even
// when the object is not garbage.
//
// trace() writes the slots it visits into the Visitor's buffer. An object that visited at most
// two (list links, chains, tree nodes: nearly all) has its edges written straight into its slot
// from there; only a longer buffer goes through the edge array.
template <class Space>
struct RecordVisitor final : Visitor {
    Space* space;
    Graph* graph;
    TraceErrors* errors;
    SlotOwners* owners;
    Object* current = nullptr;
    SeenSlots seen;         // checked builds: the object's own slots, for an exact check of repeats
    bool oom = false;  // the collector's own memory ran out (not the trace()'s fault)
    bool saw_shared = false;  // some candidate holds storage with other owners (SharedOwners)
    bool saw_generator = false;  // some candidate holds a suspended generator (phase 6 closes U's)
    std::vector<const void*> outside_slots;  // checked builds: to find one visited twice

    RecordVisitor(Space* s, Graph* g, TraceErrors* e, SlotOwners* o)
        : space(s), graph(g), errors(e), owners(o), slots_(g->slots.data()) {
        // The decrement ring starts full of the graph's spare slot (Graph): no count of waiting
        // decrements to keep.
        for (std::uint32_t& a : ahead_) a = static_cast<std::uint32_t>(g->size);
        limit_ = buffer_ + kBuffer;
    }
    OURO_ALWAYS_INLINE void begin(Object* x, std::size_t size) {
        base_ = reinterpret_cast<const char*>(x);
        size_ = size;
        reset_shared();
        if constexpr (OURO_CHECKS) {
            current = x;  // for the reports
            seen.begin(x, size);
            outside_slots.clear();
        }
        cursor_ = buffer_;
    }
    // Shared storage is gathered as if each owner held it whole: a count may come out too low,
    // which only sends U to the recount, where SharedOwners decides.
    bool enter_shared(const void*, const void*, long) override {
        saw_shared = true;  // whose it is, even with one owner, SharedOwners tells
        return true;
    }
    void visit_generator(void*, void*, bool, const GeneratorOps&) override { saw_generator = true; }
    // Called when the buffer is full: it goes to the edge array, and the slot starts the next one.
    void visit(Object*& slot) override {
        if (!spilled_) {
            spilled_ = true;
            start_ = graph->edges.size();
            floor_ = base_;
            doubtful_ = false;
        }
        drain();
        *cursor_++ = &slot;
    }
    // After the object's trace(): its edges into its slot; checked builds report an outside slot
    // visited twice.
    OURO_ALWAYS_INLINE void end(Slot& slot) {
        if (OURO_UNLIKELY(spilled_)) {
            drain();
            spilled_ = false;
            record_edges(*graph, slot, start_, doubtful_ ? kDoubtful : 0u);
        } else {
            const char* floor = base_;
            bool doubt = false;
            std::uint32_t target[2] = {kNoTarget, kNoTarget};
            std::uint32_t* out = target;
            Object*** const end = cursor_;
            if (end - buffer_ <= 2) {
                for (Object*** p = buffer_; p != end; ++p) out = edge(**p, floor, doubt, out);
                slot.link = kCandidate | kInline | (doubt ? kDoubtful : 0u) | target[0];
                slot.second = target[1];
            } else {
                start_ = graph->edges.size();
                floor_ = floor;
                doubtful_ = false;
                drain();
                record_edges(*graph, slot, start_, doubtful_ ? kDoubtful : 0u);
            }
        }
        if constexpr (OURO_CHECKS) {
            std::sort(outside_slots.begin(), outside_slots.end());
            if (std::adjacent_find(outside_slots.begin(), outside_slots.end()) != outside_slots.end())
                errors->record(*current, "visited a Ref twice (a container visited both whole and element by element?)");
        }
    }

private:
    static constexpr std::size_t kBuffer = 32;
    Object** buffer_[kBuffer];
    const char* base_ = nullptr;   // the object's block
    std::size_t size_ = 0;
    Slot* slots_;                  // the graph's (allocated before the gather)
    // The buffer's trip through the edge array (more than two slots visited):
    bool spilled_ = false;         // part of it is there already (the buffer overflowed)
    std::size_t start_ = 0;        // where the object's run starts
    const char* floor_ = nullptr;  // past the last slot of the block visited
    bool doubtful_ = false;

    // One visited slot: the doubt it casts, and its target's slot number written at `out` when
    // it is a candidate (returns the next place to write). The decrement waits in a small ring,
    // its target prefetched as it enters: in a big heap each target's slot is a cache miss (and
    // decrements commute).
    OURO_ALWAYS_INLINE std::uint32_t* edge(Object*& slot, const char*& floor, bool& doubt, std::uint32_t* out) {
        const char* at = reinterpret_cast<const char*>(&slot);
        if (static_cast<std::size_t>(at - base_) < size_) {
            if constexpr (OURO_CHECKS) {
                if (!seen.first(&slot)) {
                    errors->record(*current, "visited a Ref of its own twice (counted once)");
                    return out;
                }
            }
            doubt |= at < floor;
            floor = at + 1;
        } else {
            doubt = true;
            if constexpr (OURO_CHECKS)
                if (!check_outside(&slot)) return out;
        }
        const std::uint32_t j = space->index(slot);
        if (j == kNone) return out;
        __builtin_prefetch(&slots_[j], 1);
        const std::uint32_t k = in_++ % kAhead;
        --slots_[ahead_[k]].refs;
        ahead_[k] = j;
        *out = j;
        return out + 1;
    }

    // The buffer into the edge array. Room for it is made once, so that recording an edge is a
    // plain store.
    void drain() {
        auto& edges = graph->edges;
        try {
            edges.reserve(edges.size() + kBuffer);
        } catch (...) {
            oom = true;
            throw;
        }
        std::uint32_t* const first = edges.data() + edges.size();
        std::uint32_t* out = first;
        const char* floor = floor_;
        bool doubt = doubtful_;
        for (Object*** p = buffer_; p != cursor_; ++p) out = edge(**p, floor, doubt, out);
        edges.commit(edges.size() + static_cast<std::size_t>(out - first));
        floor_ = floor;
        doubtful_ = doubt;
        cursor_ = buffer_;
    }
    static constexpr std::uint32_t kAhead = 16;
    std::uint32_t ahead_[kAhead];
    std::uint32_t in_ = 0;

public:
    // After the last candidate: the decrements still waiting.
    void flush() noexcept {
        for (std::uint32_t& a : ahead_) {
            --slots_[a].refs;
            a = static_cast<std::uint32_t>(graph->size);
        }
    }

private:
    bool check_outside(const void* slot) {
        const SlotOwner owner = owners->classify(slot, seen.base(), seen.size());
        if (owner == SlotOwner::Static) {
            errors->record(*current, "visited a Ref it does not own: a global or static (ignored)");
            return false;
        }
        if (owner == SlotOwner::OtherObject) {
            errors->record(*current, "visited a Ref it does not own: a member of another managed object (ignored)");
            return false;
        }
        try {
            outside_slots.push_back(slot);
        } catch (...) {
            oom = true;
            throw;
        }
        return true;
    }
};

// Which shared storage (Visitor::enter_shared: what std::shared_ptrs point to, traced weak
// reference callbacks) a set of objects owns whole. Each owner met (a shared_ptr, a handle) counts
// once however often it is met; a storage is the set's when it has as many owners there as its
// use_count() and each of them lies in the set's own memory: a member's block, or storage the set
// owns in turn. Any other storage is also held from outside the set — by a live object, a local,
// a global, an older object, storage reached through those — and what it holds is referenced
// from outside: it must neither count as the set's references nor be cleared with it. An owner
// lying inside storage that is not the set's makes the storage it owns not the set's either,
// however many owners it counts (propagated along the owners, not by recursion).
class SharedOwners {
public:
    // Counts the owners `members` hold. If a trace() throws or memory runs out, no storage counts
    // as theirs (the safe answer: it all survives). An owner the members cannot own (a global, a
    // member of another managed object: `slots`) makes its storage not theirs.
    void count(std::span<Object* const> members, SlotOwners& slots) noexcept {
        valid_ = false;
        met_.clear();
        owned_.clear();
        try {
            Counter counter(met_, slots);
            for (Object* u : members) {
                counter.reset_shared();
                counter.base = u;
                counter.size = block_size(u);
                u->trace(counter);
            }
            decide();
            valid_ = true;
        } catch (...) {
        }
    }
    // Whether the last count() succeeded (else nothing is the members').
    bool valid() const noexcept { return valid_; }
    // Whether the counted members own `storage` whole, with `owners` owners now.
    bool owns_all(const void* storage, long owners) const noexcept {
        if (!valid_ || owners < 1) return false;
        const Owned* o = find(reinterpret_cast<std::uintptr_t>(storage));
        return o && o->whole && o->count >= owners;
    }

private:
    struct Met {  // an owner met: where it points, itself, the storage it lies in (0: a member's own)
        std::uintptr_t storage, owner, within;
        long owners;   // the storage's owners (use_count) as seen then
        bool foreign;  // it lies where the members cannot own it
    };
    struct Owned {
        std::uintptr_t storage;
        long count;  // distinct owners in the set
        bool whole;
    };
    struct Counter final : Visitor {
        std::vector<Met>& met;
        SlotOwners& slots;
        const Object* base = nullptr;  // the member being traced
        std::size_t size = 0;
        PointerMap<char> owners_met;   // each owner once, however many members reach it
        Counter(std::vector<Met>& m, SlotOwners& s) : met(m), slots(s) {}
        void visit(Object*&) override {}
        bool enter_shared(const void* owner, const void* storage, long owners) override {
            if (!owners_met.insert(owner)) return true;
            const SlotOwner where = slots.classify(owner, base, size);
            met.push_back({reinterpret_cast<std::uintptr_t>(storage), reinterpret_cast<std::uintptr_t>(owner),
                           reinterpret_cast<std::uintptr_t>(shared_within()), owners,
                           where == SlotOwner::Static || where == SlotOwner::OtherObject});
            return true;  // what it holds may own storage too
        }
    };

    Owned* find(std::uintptr_t storage) noexcept {
        auto it = std::lower_bound(owned_.begin(), owned_.end(), storage, [](const Owned& o, std::uintptr_t k) { return o.storage < k; });
        return it != owned_.end() && it->storage == storage ? &*it : nullptr;
    }
    const Owned* find(std::uintptr_t storage) const noexcept { return const_cast<SharedOwners*>(this)->find(storage); }

    // Each owner was met once (Counter): the storages' counts are their runs in storage order.
    void decide() {
        std::sort(met_.begin(), met_.end(), [](const Met& a, const Met& b) { return a.storage < b.storage; });
        for (std::size_t i = 0; i < met_.size();) {
            Owned o{met_[i].storage, 0, true};
            long owners = 0;
            for (; i < met_.size() && met_[i].storage == o.storage; ++i) {
                ++o.count;
                owners = std::max(owners, met_[i].owners);
                o.whole = o.whole && met_[i].owners >= 1 && !met_[i].foreign;  // (an alias that owns nothing: never the set's)
            }
            o.whole = o.whole && o.count >= owners;
            owned_.push_back(o);
        }
        // Storage not the set's makes what its owners point to not the set's: along the owners.
        std::sort(met_.begin(), met_.end(), [](const Met& a, const Met& b) { return a.within < b.within; });
        std::vector<std::uintptr_t> lost;
        for (const Owned& o : owned_)
            if (!o.whole) lost.push_back(o.storage);
        while (!lost.empty()) {
            const std::uintptr_t s = lost.back();
            lost.pop_back();
            auto it = std::lower_bound(met_.begin(), met_.end(), s, [](const Met& m, std::uintptr_t k) { return m.within < k; });
            for (; it != met_.end() && it->within == s; ++it) {
                Owned* o = find(it->storage);
                if (o && o->whole) {
                    o->whole = false;
                    lost.push_back(o->storage);
                }
            }
        }
    }

    std::vector<Met> met_;
    std::vector<Owned> owned_;  // by storage
    bool valid_ = false;
};

// Phases 4 and 7's visitor: like RecordVisitor, but every slot counts once however many objects
// of the set visit it, and slots the set cannot own (Static, OtherObject) do not count. Storage
// shared with owners outside the set is not entered (its targets then look referenced from
// outside, as they are); storage the set owns whole counts once, with an edge from each owner.
template <class Space>
struct VerifyVisitor final : Visitor {
    Space* space;
    Graph* graph;
    TraceErrors* errors;
    SlotOwners* owners;
    Object* current = nullptr;
    SeenSlots seen;
    bool oom = false;
    PointerMap<char> outside_seen;  // outside slots visited by any member
    const SharedOwners* shared;     // null: the gather saw no shared storage (nothing of it is U's)

    VerifyVisitor(Space* s, Graph* g, TraceErrors* e, SlotOwners* o, const SharedOwners* so)
        : space(s), graph(g), errors(e), owners(o), shared(so) {}
    bool enter_shared(const void*, const void* storage, long owners) override {
        return shared && shared->owns_all(storage, owners);
    }
    void begin_shared() noexcept override { ++in_shared_; }
    void end_shared() noexcept override { --in_shared_; }
    void begin(Object* x, std::size_t size) {
        current = x;
        seen.begin(x, size);
        reset_shared();
        start_ = graph->edges.size();
    }
    void end(Slot& slot) { record_edges(*graph, slot, start_, 0); }
    void flush() noexcept {}
    void visit(Object*& slot) override {
        if (seen.inside(&slot)) {
            if (!seen.first(&slot)) {
                errors->record(*current, "visited a Ref of its own twice (counted once)");
                return;
            }
        } else {
            const SlotOwner owner = owners->classify(&slot, seen.base(), seen.size());
            if (owner == SlotOwner::Static || owner == SlotOwner::OtherObject) {
                errors->record(*current, owner == SlotOwner::Static
                                             ? "visited a Ref it does not own: a global or static (ignored)"
                                             : "visited a Ref it does not own: a member of another managed object (ignored)");
                return;
            }
            if (!first_outside(&slot)) {
                if (in_shared_ == 0) {
                    errors->record(*current, "visited a Ref twice (it, or another object of the garbage, visited it already: counted once)");
                    return;
                }
                // Storage the set owns whole, reached through another owner: counted once
                // already, but an edge from this owner too.
                if (const std::uint32_t j = space->index(slot); j != kNone) add_edge(j);
                return;
            }
        }
        const std::uint32_t j = space->index(slot);
        if (j == kNone) return;
        --graph->slots[j].refs;
        add_edge(j);
    }

private:
    std::size_t start_ = 0;  // the current member's first edge
    int in_shared_ = 0;      // depth of shared storage entered

    void add_edge(std::uint32_t j) {
        try {
            graph->edges.push_back(j);
        } catch (...) {
            oom = true;
            throw;
        }
    }

    bool first_outside(const void* slot) {
        try {
            return outside_seen.insert(slot);
        } catch (...) {
            oom = true;
            throw;
        }
    }
};

// Phase 4's quick look at a doubtful member of U: does its trace() visit a slot of its own block
// twice, or outside slots that could have been counted wrongly? It looks at addresses only: its own
// slots exactly; its outside slots as one range [lo, hi], visited in increasing order (one vector,
// one array), which the collection then checks against the heap's arenas, large objects and
// static storage, and against the other members' ranges (storage two objects share). A member
// for which that cannot be shown makes the collection recount U exactly (VerifyVisitor).
struct CheckVisitor final : Visitor {
    SeenSlots seen;
    const char* lo = nullptr;
    const char* hi = nullptr;
    bool clean = true;
    void begin(Object* x, std::size_t size) {
        seen.begin(x, size);
        reset_shared();
        lo = hi = nullptr;
        clean = true;
    }
    bool enter_shared(const void*, const void*, long) override {
        clean = false;  // whose it is only SharedOwners can tell (a single owner may be a global)
        return true;
    }
    void visit(Object*& slot) override {
        const char* at = reinterpret_cast<const char*>(&slot);
        if (seen.inside(at)) {
            clean &= seen.first(at);
            return;
        }
        if (!lo) lo = at;
        else clean &= at > hi;
        hi = at;
    }
};

// Phase 6's look for the suspended generators U holds (in its members and in storage it owns
// whole; not a global's or another object's, which a mistaken trace() may visit): each is pinned
// (its frame outlives its Generator until released) and recorded with its holder, to be closed
// once no trace() is running. `failed`: no memory to record one.
struct GeneratorFinder final : Visitor {
    struct Found {
        Object* holder;
        void* frame;
        const GeneratorOps* ops;
    };
    const SharedOwners* shared;
    SlotOwners& slots;
    std::vector<Found>& found;
    Object* holder = nullptr;  // the member being traced
    std::size_t size = 0;
    bool failed = false;
    GeneratorFinder(const SharedOwners* so, SlotOwners& s, std::vector<Found>& f) : shared(so), slots(s), found(f) {}
    void begin(Object* u) {
        reset_shared();
        holder = u;
        size = block_size(u);
    }
    void visit(Object*&) override {}
    bool enter_shared(const void*, const void* storage, long owners) override {
        return shared && shared->owns_all(storage, owners);
    }
    // Finalized generators whose body is still suspended are left to `stuck` (one is found per
    // trace(), to be destroyed through its Generator once that trace() has returned).
    void* stuck = nullptr;
    const GeneratorOps* stuck_ops = nullptr;
    bool only_stuck = false;  // looking for those alone
    bool any = false;         // some suspended generator was met (check_only: nothing recorded)
    bool check_only = false;
    void visit_generator(void* gen, void* frame, bool finalized, const GeneratorOps& ops) override {
        const SlotOwner where = slots.classify(gen, holder, size);
        if (where == SlotOwner::Static || where == SlotOwner::OtherObject) return;
        any = true;
        if (check_only) return;
        if (finalized) {
            if (!stuck) stuck = gen, stuck_ops = &ops;
            return;
        }
        if (only_stuck) return;
        try {
            found.push_back({holder, frame, &ops});  // (first: a frame is pinned only once recorded)
        } catch (...) {
            failed = true;
            return;
        }
        if (!ops.pin(frame)) found.pop_back();
    }
};

// Phase 8's visitor: drops every reference an object holds, CPython's tp_clear: each slot is
// nulled, then its count dropped (Py_CLEAR's order). What that frees cannot reach the object
// being cleared: anything that could would have made it reachable. A slot the object cannot own
// is left alone (the program's global keeps its value), and so is shared storage with an owner
// outside U (a live object's).
struct ClearVisitor final : Visitor {
    SlotOwners* owners;           // null: phase 4 showed every outside slot of U to be U's own
    const SharedOwners* shared;   // counted over U; null: no shared storage is U's
    SeenSlots seen;
    ClearVisitor(SlotOwners* o, const SharedOwners* so) : owners(o), shared(so) {}
    bool enter_shared(const void*, const void* storage, long owners) override {
        return shared && shared->owns_all(storage, owners);
    }
    void visit(Object*& slot) override {
        if (owners && !seen.inside(&slot)) {
            const SlotOwner owner = owners->classify(&slot, seen.base(), seen.size());
            if (owner == SlotOwner::Static || owner == SlotOwner::OtherObject) return;
        }
        decref(std::exchange(slot, nullptr));
    }
};

}  // namespace ouro::detail
