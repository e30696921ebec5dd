// The cycle collector: CPython's algorithm (docs/cpython.md §2) over a 16-byte header.
//
// A collection of generation g looks at every tracked object of generations <= g: those are its
// candidates. It never scans stacks and never asks for roots: a candidate is a root when its
// count is higher than the number of references candidates hold to it, which is all the
// collector needs to know about the program — not how references got where they are (moved,
// swapped, inside which container or memory resource), only where they are when it looks
// (docs/design.md §5). The phases, in order, each with its contract:
//
//   1. gather      each candidate's count into a scratch slot (update_refs) and, in the same
//                  pass, one subtracted per reference a candidate holds to a candidate
//                  (subtract_refs), that edge recorded as a slot number. After: refs > 0 means
//                  referenced from outside the candidates.
//   2. mark        everything reachable from a root, with an explicit stack, following the
//                  recorded edges (move_unreachable). After: unreached candidates are garbage,
//                  if every trace() told the truth.
//   3. promote     survivors to the next generation; the rest is the unreachable set U, each
//                  member held (one extra count), so nothing in U can die while user code runs.
//   4. verify      only if some member of U visited a slot outside its own block, or some count
//                  went negative: U's references are counted again, each slot once and only
//                  slots U may own; what that shows to be referenced from outside leaves U.
//                  After: U is garbage whatever a trace() got wrong by visiting too much.
//   5. weakrefs    to members of U are cleared; callbacks of live weakrefs run (handle_weakrefs)
//   6. finalize    finalize() of each member of U, at most once per object (PEP 442)
//   7. resurrect   only if user code ran in 5-6: 4's count again; what user code made reachable
//                  leaves U, and what it let die by its count is freed by its count (and not
//                  counted, as CPython). After: U is garbage and nothing else is in it.
//   8. delete      clear each member's references (tp_clear), then drop the holds so counts
//                  fall to zero and objects are freed, in address order (or save them with
//                  DEBUG_SAVEALL)
//
// Where CPython keeps gc_refs in the object's header and candidates on a doubly linked list,
// we number the candidates ("slots") and keep gc_refs, marks and the candidates' edges in
// scratch arrays that live for one collection. Candidates are found in the young list
// (generations 0 and 1) or by walking the tracked pools in address order (full collections), so
// the one pass that reads objects streams through memory; marking then reads only the compact
// edge array, never the objects. See docs/design.md §5.
#include "graph.hpp"
#include "heap_state.hpp"
#include "ownership.hpp"

#include <ouro/unraisable.hpp>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <memory>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <typeinfo>
#include <unordered_set>

namespace ouro::detail {
namespace {

// Counts above this are clamped: such an object is a root whatever its internal references.
constexpr std::int32_t clamp_count(std::uint32_t count) noexcept {
    return count > (1u << 28) ? std::int32_t{1} << 28 : static_cast<std::int32_t>(count);
}

// The block size of a candidate (its fields start at the object).
std::size_t block_size(Object* x) noexcept {
    return (gcword(x) & kLarge) ? large_prefix(x)->size - large_prefix(x)->offset : pool_of(x)->block_size;
}

// --- Mistaken traces -------------------------------------------------------------------------
// Problems a trace() showed: kept while the collector walks the heap (no user code may run then)
// and reported through the unraisable hook once the walk is over, once per type and problem
// for the life of the heap.
class TraceErrors {
public:
    void record(const Object& x, const char* problem) noexcept { add(x, problem, nullptr); }
    // A trace() that threw: reported every time, with its own exception (as CPython reports
    // every exception a tp_traverse-driven callback raises).
    void record_exception(const Object& x) noexcept { add(x, nullptr, std::current_exception()); }
    // Reports what was recorded; true when user code (the hook) ran.
    bool flush(HeapState& s) noexcept {
        bool reported = false;
        for (Found& f : found_) {
            try {
                if (f.error) {
                    std::rethrow_exception(f.error);
                } else {
                    if (!s.trace_errors.emplace(f.type, f.problem).second) continue;
                    throw std::logic_error(std::string("it ") + f.problem);
                }
            } catch (...) {
                report_unraisable(f.where);
                reported = true;
            }
        }
        found_.clear();
        return reported;
    }

private:
    struct Found {
        std::string type;
        std::string problem;
        std::string where;
        std::exception_ptr error;
    };
    void add(const Object& x, const char* problem, std::exception_ptr error) noexcept {
        try {
            std::string where = (error ? "trace() during a collection (nothing was freed), of " : "trace() of ") + describe(x);
            found_.push_back({typeid(x).name(), problem ? problem : "", std::move(where), std::move(error)});
        } catch (...) {
        }
    }
    std::vector<Found> found_;
};

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
    bool first(const void* slot) {
        const std::size_t word = offset(slot) / sizeof(void*);
        if (word < 64) {
            const std::uint64_t bit = std::uint64_t{1} << word;
            if (bits_ & bit) return false;
            bits_ |= bit;
            return true;
        }
        if (std::find(large_.begin(), large_.end(), word) != large_.end()) return false;
        large_.push_back(word);
        return true;
    }

private:
    std::size_t offset(const void* slot) const noexcept {
        return static_cast<std::size_t>(static_cast<const char*>(slot) - base_);
    }
    const char* base_ = nullptr;
    std::size_t size_ = 0;
    std::uint64_t bits_ = 0;
    std::vector<std::size_t> large_;
};

// Phase 1's visitor: subtracts one from each visited candidate's gc_refs and records the edge. A
// slot of the object's own block visited twice counts once; a slot outside it flags the object
// (kOutside) for phase 4. Checked builds also look at every outside slot now, so a mistake is
// reported even when the object is not garbage.
template <class Space>
struct RecordVisitor final : Visitor {
    Space* space;
    Graph* graph;
    TraceErrors* errors;
    Ownership* ownership;
    Object* current = nullptr;
    SeenSlots seen;
    bool outside = false;
    bool oom = false;  // the collector's own memory ran out (not the trace()'s fault)
    std::vector<const void*> outside_slots;  // checked builds: to find one visited twice

    RecordVisitor(Space* s, Graph* g, TraceErrors* e, Ownership* o) : space(s), graph(g), errors(e), ownership(o) {}
    void begin(Object* x, std::size_t size) {
        current = x;
        seen.begin(x, size);
        outside = false;
        if constexpr (OURO_CHECKS) outside_slots.clear();
    }
    void visit(Object*& slot) override {
        if (seen.inside(&slot)) {
            if (!seen.first(&slot)) {
                errors->record(*current, "visited a Ref of its own twice (counted once)");
                return;
            }
        } else {
            outside = true;
            if constexpr (OURO_CHECKS)
                if (!check_outside(&slot)) return;
        }
        Object* y = slot;
        const std::uint32_t w = gcword(y);  // read once: the stores below may alias it
        const std::uint32_t j = space->index(y, w);
        if (j == kNone) return;
        --graph->slots[j].refs;
        record_edge(j);
    }
    void record_edge(std::uint32_t j) {
        try {
            graph->edges.push_back(j);
        } catch (...) {
            oom = true;
            throw;
        }
    }
    // After the object's trace(): checked builds report an outside slot visited twice.
    void end() {
        if constexpr (OURO_CHECKS) {
            std::sort(outside_slots.begin(), outside_slots.end());
            if (std::adjacent_find(outside_slots.begin(), outside_slots.end()) != outside_slots.end())
                errors->record(*current, "visited a Ref twice (a container visited both whole and element by element?)");
        }
    }

private:
    bool check_outside(const void* slot) {
        const SlotOwner owner = ownership->classify(slot, seen.base(), seen.size());
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

// Phases 4 and 7's visitor: like RecordVisitor, but every slot counts once however many objects
// of the set visit it, and slots the set cannot own (Static, OtherObject) do not count.
template <class Space>
struct VerifyVisitor final : Visitor {
    Space* space;
    Graph* graph;
    TraceErrors* errors;
    Ownership* ownership;
    Object* current = nullptr;
    SeenSlots seen;
    static constexpr bool outside = false;
    bool oom = false;
    std::unordered_set<const void*> outside_seen;  // outside slots visited by any member

    VerifyVisitor(Space* s, Graph* g, TraceErrors* e, Ownership* o) : space(s), graph(g), errors(e), ownership(o) {}
    void begin(Object* x, std::size_t size) {
        current = x;
        seen.begin(x, size);
    }
    void end() {}
    void visit(Object*& slot) override {
        if (seen.inside(&slot)) {
            if (!seen.first(&slot)) return;  // reported by phase 1 already
        } else {
            const SlotOwner owner = ownership->classify(&slot, seen.base(), seen.size());
            if (owner == SlotOwner::Static || owner == SlotOwner::OtherObject) {
                errors->record(*current, owner == SlotOwner::Static
                                             ? "visited a Ref it does not own: a global or static (ignored)"
                                             : "visited a Ref it does not own: a member of another managed object (ignored)");
                return;
            }
            if (!first_outside(&slot)) {
                errors->record(*current, "visited a Ref twice (it, or another object of the garbage, visited it already: counted once)");
                return;
            }
        }
        Object* y = slot;
        const std::uint32_t j = space->index(y, gcword(y));
        if (j == kNone) return;
        --graph->slots[j].refs;
        try {
            graph->edges.push_back(j);
        } catch (...) {
            oom = true;
            throw;
        }
    }

private:
    bool first_outside(const void* slot) {
        try {
            return outside_seen.insert(slot).second;
        } catch (...) {
            oom = true;
            throw;
        }
    }
};

// Phase 8's visitor: drops every reference an object holds, CPython's tp_clear: each slot is
// nulled, then its count dropped (Py_CLEAR's order). What that frees cannot reach the object
// being cleared: anything that could would have made it reachable. A slot the object cannot own
// is left alone (the program's global keeps its value).
struct ClearVisitor final : Visitor {
    Ownership* ownership;
    SeenSlots seen;
    explicit ClearVisitor(Ownership* o) : ownership(o) {}
    void visit(Object*& slot) override {
        if (!seen.inside(&slot)) {
            const SlotOwner owner = ownership->classify(&slot, seen.base(), seen.size());
            if (owner == SlotOwner::Static || owner == SlotOwner::OtherObject) return;
        }
        decref(std::exchange(slot, nullptr));
    }
};

struct TraceFailed {};

// --- Candidate spaces: how candidates are enumerated and numbered ------------------------------

// Young collections: generation 0's part of the young list, or all of it for generation 1; the
// slot is the list position (which the object's header holds) minus the first one's.
struct YoungSpace {
    const YoungList& list;
    std::uint32_t base;  // first position of the generations collected
    std::uint32_t n;

    YoungSpace(const YoungList& l, int gen) : list(l), base(gen == 0 ? l.boundary() : 0), n(l.size() - base) {}
    std::uint32_t slots() const noexcept { return n; }
    Object* at(std::uint32_t j) const noexcept { return list[base + j]; }
    std::uint32_t index(Object* y, std::uint32_t w) const noexcept {
        if (!(w & kTracked) || generation(w) != 0) return kNone;
        std::uint32_t j = (w >> kIndexShift) - base;  // wraps for generation 1 in a generation-0 collection
        // The slot must hold this very object: one of another heap (or allocated by a
        // misbehaving trace()) has index bits that mean nothing here.
        return j < n && at(j) == y ? j : kNone;
    }
    // Calls f(object, slot, block size) for every candidate.
    template <class F>
    void gather(Graph& g, F&& f) {
        for (std::uint32_t j = 0; j < n; ++j)
            if (Object* x = at(j)) {  // null: a hole where an object died
                g.start();
                f(x, j, block_size(x));
            }
    }
    std::size_t population() const noexcept { return list.count_live(base); }
    template <class F>
    void scan(const Slot* graph, F&& f) const {
        for (std::uint32_t j = 0; j < n; ++j)
            if (is_candidate_slot(graph, j)) f(j, at(j));
    }
};

// Full collections: the slot is the block's number across the tracked pools (pool base + block
// index, found by masking the address), large objects after them. Candidates are found by
// streaming through every header in address order.
struct FullSpace {
    std::vector<Pool*> pools;  // tracked pools in address order
    const std::vector<Object*>& large;
    const BlockAllocator* alloc;
    const Heap* heap;
    std::uint32_t large_base = 0;
    std::size_t eligible = 0;  // old and young objects seen by gather(): generation 2 after it
    bool gathered = false;

    FullSpace(BlockAllocator& a, const std::vector<Object*>& large_objects, const Heap* h)
        : large(large_objects), alloc(&a), heap(h) {
        std::size_t slots = 0;
        a.for_each_pool([&](Pool& p) {
            if (p.kind != kTrackedPool) return;
            p.base_index = static_cast<std::uint32_t>(slots);
            slots += p.capacity;
            pools.push_back(&p);
        });
        large_base = static_cast<std::uint32_t>(slots);
    }
    std::uint32_t slots() const noexcept { return large_base + static_cast<std::uint32_t>(large.size()); }
    static bool is_eligible(std::uint32_t w) noexcept {
        return (w & (kLive | kTracked)) == (kLive | kTracked) && generation(w) != kPermanent;
    }
    std::uint32_t index(Object* y, std::uint32_t w) const noexcept {
        if (!is_eligible(w)) return kNone;
        // Objects of other heaps are never candidates: references to them are external.
        if (w & kLarge) return large_prefix(y)->heap == heap ? large_base + large_prefix(y)->index : kNone;
        Pool* p = pool_of(y);
        return p->owner == alloc ? p->base_index + p->block_index(y) : kNone;
    }
    // Calls f(object, slot, block size) for every block of the tracked pools in address order,
    // then for every large object.
    template <class F>
    void for_each_block(F&& f) const {
        for (Pool* p : pools) {
            std::uint32_t j = p->base_index;
            for (char* b = p->data(); b != p->bump_end(); b += p->block_size, ++j)
                f(reinterpret_cast<Object*>(b), j, std::size_t{p->block_size});
        }
        for (std::uint32_t i = 0; i < large.size(); ++i) f(large[i], large_base + i, block_size(large[i]));
    }
    template <class F>
    void gather(Graph& g, F&& f) {
        eligible = 0;
        for_each_block([&](Object* o, std::uint32_t j, std::size_t size) {
            if (!is_eligible(gcword(o))) return;
            ++eligible;
            g.start();
            f(o, j, size);
        });
        gathered = true;
    }
    // Generation 2 once the collection is over, its garbage included.
    std::size_t population() const noexcept {
        if (gathered) return eligible;
        std::size_t n = 0;  // gather() was cut short by a trace() that threw
        for_each_block([&](Object* o, std::uint32_t, std::size_t) { n += is_eligible(gcword(o)); });
        return n;
    }
    // Visits candidates by their scratch slots alone: objects are not read.
    template <class F>
    void scan(const Slot* graph, F&& f) const {
        for_each_block([&](Object* o, std::uint32_t j, std::size_t) {
            if (is_candidate_slot(graph, j)) f(j, o);
        });
    }
};

// Phases 4 and 7: the unreachable set U, sorted by address. Each member's index bits hold its
// position (they are free while it is in U: promote() put it in generation 2 without an epoch;
// leave() clears them), so an edge finds its target in one read.
struct SetSpace {
    std::span<Object* const> sorted;
    bool positions;  // U fits the index bits; else targets are found by binary search

    explicit SetSpace(std::span<Object* const> u) : sorted(u), positions(u.size() < kNoIndex) {
        if (positions)
            for (std::uint32_t j = 0; j < sorted.size(); ++j) set_generation(sorted[j], 2, j);
    }
    SetSpace(const SetSpace&) = delete;
    SetSpace& operator=(const SetSpace&) = delete;
    std::uint32_t slots() const noexcept { return static_cast<std::uint32_t>(sorted.size()); }
    std::uint32_t index(Object* y) const noexcept { return index(y, gcword(y)); }
    std::uint32_t index(Object* y, std::uint32_t w) const noexcept {
        if (!(w & kUnreachable)) return kNone;
        if (positions) {
            const std::uint32_t j = w >> kIndexShift;
            return j < sorted.size() && sorted[j] == y ? j : kNone;
        }
        auto it = std::lower_bound(sorted.begin(), sorted.end(), y);
        return it != sorted.end() && *it == y ? static_cast<std::uint32_t>(it - sorted.begin()) : kNone;
    }
    template <class F>
    void gather(Graph& g, F&& f) {
        g.start();
        for (std::uint32_t j = 0; j < sorted.size(); ++j) f(sorted[j], j, block_size(sorted[j]));
    }
};

// Phases 1-2 (or 4/7's recount): gathers counts and edges into g, subtracting `bias` from each
// count (the collector's own holds), and marks. A trace() that throws (TraceFailed) or a lack of
// memory leaves the graph incomplete: the caller must then free nothing.
template <class Visit, class Space>
void analyse(Space& space, Graph& g, std::int32_t bias, TraceErrors& errors, Ownership& ownership,
             std::size_t edges_hint = 0) {
    g.edges.reserve(edges_hint);
    Visit visitor(&space, &g, &errors, &ownership);
    space.gather(g, [&](Object* x, std::uint32_t j, std::size_t size) {
        visitor.begin(x, size);
        // A count of 0 means a deallocation is under way (the trashcan may have queued it):
        // that deallocation holds it, so it counts as referenced from outside.
        const std::uint32_t count = refcnt(x);
        g.slots[j].refs += clamp_count(count ? count : 1) - bias;
        const std::size_t start = g.edges.size();
        g.slots[j].link = kCandidate;  // its own edges (a self-reference) see it as a candidate
        try {
            x->trace(visitor);
        } catch (...) {
            if (visitor.oom) throw;
            errors.record_exception(*x);
            throw TraceFailed{};
        }
        visitor.end();
        const std::uint32_t outside = visitor.outside ? kOutside : 0u;
        const std::size_t n = g.edges.size() - start;
        if (n <= 1) {
            g.slots[j].link = kCandidate | kInline | outside | (n ? g.edges[start] : kNoTarget);
            g.edges.resize(start);
        } else {
            if (start >= kNoTarget) throw std::length_error("ouro::gc: a collection of more than 2^29 references");
            g.slots[j].link = kCandidate | outside | static_cast<std::uint32_t>(start);
            g.edges.push_back(kNone);
        }
    });
    g.mark();
}

class Collection {
public:
    Collection(Heap& h, int gen) : heap_(h), s_(HeapAccess::state(h)), gen_(gen), ownership_(h) {}

    // Returns the number of unreachable objects found (resurrected ones excluded, as CPython).
    std::size_t run() {
        auto& alloc = HeapAccess::allocator(heap_);
        if (gen_ == 2) find_unreachable(FullSpace(alloc, s_.large, &heap_));
        else find_unreachable(YoungSpace(HeapAccess::young(heap_), gen_));
        if (doubtful_ && !unreachable_.empty()) recount();
        // The reports are user code (the hook): after them, U is checked again like after any.
        bool user_code_ran = errors_.flush(s_);
        if (unreachable_.empty()) return 0;
        if (s_.debug & gc::DEBUG_COLLECTABLE)
            for (Object* u : unreachable_) std::fprintf(stderr, "gc: collectable %s\n", describe(*u).c_str());
        user_code_ran |= handle_weakrefs(heap_, unreachable_);
        user_code_ran |= finalize();
        if (user_code_ran) recount();
        std::size_t found = unreachable_.size();
        if (s_.debug & gc::DEBUG_SAVEALL) save_all();
        else delete_garbage();
        errors_.flush(s_);  // the last recount's, once nothing is left to check
        return found;
    }

private:
    // --- 1-3. gather, mark, promote --------------------------------------------------------------
    template <class Space>
    void find_unreachable(Space&& space) {
        GraphBuffers local;
        Graph g(gen_ == 2 ? local : s_.young_graph, space.slots());
        try {
            analyse<RecordVisitor<Space>>(space, g, 0, errors_, ownership_, gen_ == 2 ? s_.edges_hint : 0);
            if (gen_ == 2) s_.edges_hint = g.edges.size();
            doubtful_ = g.overcounted;
            if (g.started)
                space.scan(g.slots.data(), [&](std::uint32_t j, Object* x) {
                    if (g.reached(j)) return;
                    unreachable_.push_back(x);
                    doubtful_ |= (g.slots[j].link & kOutside) != 0;
                });
        } catch (const TraceFailed&) {
            unreachable_.clear();
        } catch (...) {
            unreachable_.clear();
            throw;
        }
        // Generation 0's survivors count for nothing (the scheduling counts only promotions to 2).
        promote(gen_ == 0 ? 0 : space.population() - unreachable_.size());
    }

    // Survivors of generation 0 join generation 1; of older ones, generation 2 (which has no
    // list). The unreachable set U leaves the lists too, flagged, until it is freed or
    // resurrected, and each member is held: one extra count, so no member of U can die while
    // user code runs in the phases that follow.
    void promote(std::size_t survivors) noexcept {
        auto& young = HeapAccess::young(heap_);
        for (Object* u : unreachable_) {
            std::uint32_t& w = gcword(u);
            if (generation(w) == 0) young.remove(u);
            set_generation(u, 2);
            w |= kUnreachable;
            finalizers_pending_ |= (w & (kHasFinalizer | kFinalized)) == kHasFinalizer;
            ++refcnt(u);
        }
        if (gen_ == 0) {
            young.promote_all();
        } else {
            // Promoted by a young collection: pending long-lived objects (§6 of docs/design.md).
            std::uint32_t index = gen_ == 1 ? s_.pending_index : kNoIndex;
            for (std::uint32_t i = 0; i < young.size(); ++i)
                if (Object* x = young[i]) set_generation(x, 2, index);
            young.clear();
        }
        HeapAccess::count0(heap_) = 0;
        if (gen_ == 0) {
            ++s_.count1;
        } else if (gen_ == 1) {
            s_.count1 = 0;
            ++s_.count2;
            s_.long_lived_pending += survivors;
        } else {
            s_.count1 = s_.count2 = 0;
            s_.long_lived_total = survivors;
            s_.long_lived_pending = 0;
            s_.old_deaths = 0;
            // A new epoch: the pending marks of the last one no longer count.
            s_.pending_index = s_.pending_index + 1 < kNoIndex ? s_.pending_index + 1 : kPendingBase;
        }
    }

    // --- 4 and 7. recount ------------------------------------------------------------------------
    // Counts U's references again, each slot once and only slots U may own (VerifyVisitor), with
    // our holds subtracted: a member referenced from outside U — by a reference a trace()
    // claimed wrongly, or one user code stored since — survives with all it reaches in U. After
    // user code ran, members only the collector still holds died by their count in CPython
    // (a finalizer broke their cycle): they are released now, uncounted, and U is looked at again,
    // as their destructors were user code too.
    void recount() {
        for (;;) {
            std::vector<Object*> peeled;
            try {
                peeled.reserve(unreachable_.size());  // so that nothing below can throw once decided
                std::sort(unreachable_.begin(), unreachable_.end());
                SetSpace space{std::span<Object* const>(unreachable_.begin(), unreachable_.size())};
                GraphBuffers local;
                Graph g(local, space.slots());
                analyse<VerifyVisitor<SetSpace>>(space, g, 1, errors_, ownership_);
                if (g.overcounted) throw TraceFailed{};  // counts too low to explain: trust nothing
                g.peel(1, [&](std::uint32_t j) { return clamp_count(refcnt(space.sorted[j])); });
                std::size_t kept = 0;
                for (std::uint32_t j = 0; j < space.slots(); ++j) {
                    Object* u = space.sorted[j];
                    const std::int32_t r = g.slots[j].refs;
                    if (r == kReached) resurrect(u);
                    else if (r == kPeeled) peeled.push_back(u);
                    else unreachable_[kept++] = u;  // in place: kept <= j
                }
                unreachable_.resize(kept);
            } catch (...) {
                // No memory, or a trace() that threw: keep everything alive rather than risk
                // freeing a live object.
                for (Object* u : unreachable_) resurrect(u);
                unreachable_.clear();
                return;
            }
            if (peeled.empty()) return;
            for (Object* p : peeled) release(p);
        }
    }

    // A member of U leaves it: flag and epoch-free generation 2 back (SetSpace wrote positions
    // into the index bits).
    static void leave(Object* u) noexcept {
        gcword(u) &= ~kUnreachable;
        set_generation(u, 2);
    }

    void resurrect(Object* u) noexcept {
        leave(u);
        if (gen_ == 0) young_append(heap_, u, true);
        --refcnt(u);  // our hold; something else holds it too, so this never reaches zero
    }

    // Drops our hold on a member of U that leaves it to die by its count.
    static void release(Object* u) noexcept {
        leave(u);
        decref(u);
    }

    // --- 6. finalize ---------------------------------------------------------------------------
    bool finalize() {
        bool ran = false;
        if (!finalizers_pending_) return ran;  // noted in promote(): no pass over U for nothing
        for (Object* u : unreachable_) {
            std::uint32_t& w = gcword(u);
            if ((w & (kHasFinalizer | kFinalized)) != kHasFinalizer) continue;
            w |= kFinalized;
            ran = true;
            try {
                u->finalize();
            } catch (...) {
                report_unraisable("finalizer of", *u);
            }
        }
        return ran;
    }

    // --- 8. delete -----------------------------------------------------------------------------
    void save_all() {
        for (Object* u : unreachable_) {
            leave(u);
            try {
                s_.garbage.emplace_back(Adopt{}, u);  // adopts our hold
            } catch (const std::bad_alloc&) {
                decref(u);  // cannot be saved: let it go the normal way
            }
        }
        unreachable_.clear();
    }

    void delete_garbage() {
        ClearVisitor clear(&ownership_);
        for (Object* u : unreachable_) {
            try {
                clear.seen.begin(u, block_size(u));
                u->trace(clear);
            } catch (...) {
                report_unraisable("trace() while clearing garbage, of", *u);
            }
        }
        // Drop the holds in reverse address order: freed blocks are pushed on LIFO free lists,
        // which then hand them out again in ascending address order.
        if (!std::is_sorted(unreachable_.begin(), unreachable_.end()))
            std::sort(unreachable_.begin(), unreachable_.end());
        for (std::size_t i = unreachable_.size(); i-- > 0;) release(unreachable_[i]);
        unreachable_.clear();
    }

    Heap& heap_;
    HeapState& s_;
    int gen_;
    ScratchArray<Object*> unreachable_;  // can be millions: huge pages, given back at the end
    bool finalizers_pending_ = false;    // some member of U has a finalizer that has not run
    bool doubtful_ = false;              // phase 4 must run (see the file comment)
    TraceErrors errors_;
    Ownership ownership_;
};

void run_callbacks(HeapState& s, std::string_view phase, const gc::Info& info) {
    if (s.callbacks.empty()) return;
    auto callbacks = s.callbacks;  // a callback may add or remove callbacks
    for (auto& cb : callbacks) {
        try {
            cb(phase, info);
        } catch (...) {
            report_unraisable(phase == "start" ? "gc callback (phase \"start\")" : "gc callback (phase \"stop\")");
        }
    }
}

}  // namespace

std::size_t collect(Heap& h, int generation) {
    HeapState& s = HeapAccess::state(h);
    if (s.collecting) return 0;
    s.collecting = true;
    HeapAccess::update_trigger(h);
    struct Done {
        Heap& h;
        HeapState& s;
        ~Done() {
            s.collecting = false;
            HeapAccess::update_trigger(h);
        }
    } done{h, s};

    run_callbacks(s, "start", gc::Info{generation, 0, 0, 0});
    auto t0 = std::chrono::steady_clock::now();
    std::size_t found = Collection(h, generation).run();
    if (generation == 2) HeapAccess::allocator(h).purge();  // empty arenas kept past their time
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    auto& st = s.stats[static_cast<std::size_t>(generation)];
    ++st.collections;
    st.collected += found;
    st.pause_seconds += seconds;
    if (s.debug & gc::DEBUG_STATS)
        std::fprintf(stderr, "gc: generation %d: %zu unreachable, 0 uncollectable, %.7fs elapsed\n", generation,
                     found, seconds);
    run_callbacks(s, "stop", gc::Info{generation, found, 0, seconds});
    return found;
}

}  // namespace ouro::detail
