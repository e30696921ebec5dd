// The cycle collector: CPython's algorithm (reference doc §2) over a 16-byte header.
//
// A collection of generation g looks at "candidates" among the tracked objects of generation
// <= g: the ones marked dirty since a full collection last found them reachable, and all they
// reach (see "Candidate spaces" below; the others cannot be garbage). It never scans stacks and
// never asks for roots: a candidate is a root when its count is higher than the number of
// references candidates hold to it. The phases, in order:
//
//   1. gather      each candidate's count into a scratch slot (update_refs) and, in the same
//                  pass, subtract one per reference it holds to a candidate (subtract_refs),
//                  recording that edge as a slot number
//   2. mark        everything reachable from a root, with an explicit stack, following the
//                  recorded edges (move_unreachable)
//   3. promote     survivors to the next generation; the rest is the unreachable set U
//   4. hold        U: one extra count each, so no member of U can die while user code runs
//   5. weakrefs    to members of U are cleared; callbacks of live weakrefs run (handle_weakrefs)
//   6. finalize    finalize() of each member of U, at most once per object (PEP 442)
//   7. resurrect   only if user code ran: reachability within U again; survivors leave U
//   8. delete      clear each member's references (tp_clear), then drop the holds so counts
//                  fall to zero and objects are freed, in address order (or save them with
//                  DEBUG_SAVEALL)
//
// Where CPython keeps gc_refs in the object's header and candidates on a doubly linked list,
// we number the candidates ("slots") and keep gc_refs, marks and the candidates' edges in
// scratch arrays that live for one collection. Seeds are found in the young list (generations 0
// and 1) or by walking the tracked pools in address order (full collections), so the one pass
// that reads objects streams through memory; marking then reads only the compact edge array,
// never the objects. See docs/design.md.
#include "graph.hpp"
#include "heap_state.hpp"

#include <ouro/unraisable.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <climits>
#include <memory>
#include <span>
#include <stdexcept>

namespace ouro::detail {
namespace {

// Counts above this are clamped: such an object is a root whatever its internal references.
constexpr std::int32_t clamp_count(std::uint32_t count) noexcept {
    return count > (1u << 30) ? std::int32_t{1} << 30 : static_cast<std::int32_t>(count);
}

// Subtracts one from each visited candidate's gc_refs and records the edge; a space that
// discovers candidates along edges (FullSpace) is told of each target.
template <class Space>
struct RecordVisitor final : Visitor {
    Space* space;
    Graph* graph;
    RecordVisitor(Space* s, Graph* g) : space(s), graph(g) {}
    void visit(Object*& slot) override {
        Object* y = slot;
        const std::uint32_t w = gcword(y);  // read once: the stores below may alias it
        std::uint32_t j = space->index(y, w);
        if (j == kNone) return;
        --graph->slots[j].refs;
        graph->edges.push_back(j);
        space->reached_by_edge(y, w, j, *graph);
    }
};

// Drops every reference an object holds, CPython's tp_clear: each slot is nulled, then its count
// dropped (Py_CLEAR's order). What that frees cannot reach the object being cleared: anything
// that could would have made it reachable.
struct ClearVisitor final : Visitor {
    void visit(Object*& slot) override { decref(std::exchange(slot, nullptr)); }
};

struct TraceFailed {};

// --- Candidate spaces: how candidates are enumerated and numbered ------------------------------
//
// A collection does not look at every object of its generations. Its candidates are the seeds —
// dirty objects (kDirty) — and every object of its
// generations they reach. The rest, clean objects out of reach of every seed, cannot be garbage
// that this collection could free: a garbage set always has a member whose last outside
// reference was dropped or moved, which marked it, and only a full collection that finds an
// object reachable clears the mark (docs/design.md §5, "Clean objects"). Results are the same
// as with every object a candidate; the work is proportional to what changed.
//
// Discovery: seeds are gathered in the space's own order (which streams through memory); a
// clean object first reached along an edge is queued and gathered right after the seed's
// other finds (depth first).
struct Discovery {
    std::vector<std::pair<Object*, std::uint32_t>> found;
    std::size_t chased = 0;  // clean objects queued
    // Past this many, clean objects are no longer chased: the space must then gather every
    // object it has (`over`), in its own order.
    std::size_t budget = SIZE_MAX;
    bool over = false;

    // An edge reached eligible object y (slot j).
    void reached(Object* y, std::uint32_t j, Graph& g, bool seed) {
        if (seed || g.slots[j].link & kCandidate) return;
        if (chased == budget) {
            over = true;
            return;
        }
        ++chased;
        g.slots[j].link = kCandidate;  // queued; gathering fills in the rest
        found.emplace_back(y, j);
    }
    template <class F>
    void gather_seed(Object* o, std::uint32_t j, Graph& g, F& f) {
        g.start();
        if (g.slots[j].link & kCandidate) return;  // already reached from an earlier seed
        f(o, j);
        while (!found.empty()) {
            auto [x, k] = found.back();
            found.pop_back();
            f(x, k);
        }
    }
};

// Young collections: generation 0's part of the young list, or all of it for generation 1; the
// slot is the list position (which the object's header holds) minus the first one's.
struct YoungSpace {
    const YoungList& list;
    std::uint32_t base;  // first position of the generations collected
    std::uint32_t n;
    Discovery discovery;

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
    static bool is_seed(std::uint32_t w) noexcept { return (w & kDirty) != 0; }
    static void abandon(Graph&) noexcept {}  // young collections clear no marks
    void reached_by_edge(Object* y, std::uint32_t w, std::uint32_t j, Graph& g) { discovery.reached(y, j, g, is_seed(w)); }
    template <class F>
    void gather(Graph& g, F&& f) {
        for (std::uint32_t j = 0; j < n; ++j) {
            Object* x = at(j);  // null: a hole where an object died
            if (x && is_seed(gcword(x))) discovery.gather_seed(x, j, g, f);
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
// index, found by masking the address), large objects after them. Seeds are found by streaming
// through every header in address order; `all` (a heap's final collections) makes every object
// a seed.
struct FullSpace {
    std::vector<Pool*> pools;  // tracked pools in address order
    const std::vector<Object*>& large;
    const BlockAllocator* alloc;
    const Heap* heap;
    bool all;
    std::uint32_t large_base = 0;
    std::size_t eligible = 0;  // old and young objects seen by gather(): generation 2 after it
    bool gathered = false;
    Discovery discovery;

    FullSpace(BlockAllocator& a, const std::vector<Object*>& large_objects, const Heap* h, bool every)
        : large(large_objects), alloc(&a), heap(h), all(every) {
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
    bool is_seed(std::uint32_t w) const noexcept { return all || (w & kDirty); }
    std::uint32_t index(Object* y, std::uint32_t w) const noexcept {
        if (!is_eligible(w)) return kNone;
        // Objects of other heaps are never candidates: references to them are external.
        if (w & kLarge) return large_prefix(y)->heap == heap ? large_base + large_prefix(y)->index : kNone;
        Pool* p = pool_of(y);
        return p->owner == alloc ? p->base_index + p->block_index(y) : kNone;
    }
    void reached_by_edge(Object* y, std::uint32_t w, std::uint32_t j, Graph& g) { discovery.reached(y, j, g, is_seed(w)); }
    // Calls f(object, slot) for every block of the tracked pools in address order, then for
    // every large object.
    template <class F>
    void for_each_block(F&& f) const {
        for (Pool* p : pools) {
            std::uint32_t j = p->base_index;
            for (char* b = p->data(); b != p->bump_end(); b += p->block_size, ++j) f(reinterpret_cast<Object*>(b), j);
        }
        for (std::uint32_t i = 0; i < large.size(); ++i) f(large[i], large_base + i);
    }
    // A seed's mark is cleared as it is gathered, in the pass that reads its header anyway: the
    // collection either finds it reachable (clean) or frees it; resurrection marks it again, and
    // an aborted collection marks every candidate again (abandon).
    template <class F>
    void gather(Graph& g, F&& f) {
        eligible = 0;
        // Chasing edges from a few seeds through a large clean graph is random access: past a
        // sixteenth of the heap, the collection takes every object, in a second streaming pass.
        discovery.budget = slots() / 16 + 4096;
        for_each_block([&](Object* o, std::uint32_t j) {
            std::uint32_t w = gcword(o);
            if (!is_eligible(w)) return;
            ++eligible;
            if (!is_seed(w)) return;
            g.start();  // first: it may throw, and the seed must be a candidate before its mark goes
            gcword(o) &= ~kDirty;
            discovery.gather_seed(o, j, g, f);
        });
        if (discovery.over)
            for_each_block([&](Object* o, std::uint32_t j) {
                if (is_eligible(gcword(o)) && !(g.slots[j].link & kCandidate)) f(o, j);
            });
        gathered = true;
    }
    void abandon(Graph& g) const noexcept {
        if (g.started) scan(g.slots.data(), [](std::uint32_t, Object* x) { mark_dirty(x); });
    }
    // Generation 2 once the collection is over, its garbage included.
    std::size_t population() const noexcept {
        if (gathered) return eligible;
        std::size_t n = 0;  // gather() was cut short by a trace() that threw
        for_each_block([&](Object* o, std::uint32_t) { n += is_eligible(gcword(o)); });
        return n;
    }
    // Visits candidates by their scratch slots alone: objects are not read.
    template <class F>
    void scan(const Slot* graph, F&& f) const {
        for_each_block([&](Object* o, std::uint32_t j) {
            if (is_candidate_slot(graph, j)) f(j, o);
        });
    }
};

// The resurrection check: the unreachable set, sorted by address, found by binary search.
struct SetSpace {
    std::span<Object* const> sorted;
    std::uint32_t slots() const noexcept { return static_cast<std::uint32_t>(sorted.size()); }
    std::uint32_t index(Object* y) const noexcept { return index(y, gcword(y)); }
    std::uint32_t index(Object* y, std::uint32_t w) const noexcept {
        if (!(w & kUnreachable)) return kNone;
        auto it = std::lower_bound(sorted.begin(), sorted.end(), y);
        return it != sorted.end() && *it == y ? static_cast<std::uint32_t>(it - sorted.begin()) : kNone;
    }
    void reached_by_edge(Object*, std::uint32_t, std::uint32_t, Graph&) noexcept {}
    static void abandon(Graph&) noexcept {}
    template <class F>
    void gather(Graph& g, F&& f) {
        g.start();
        for (std::uint32_t j = 0; j < sorted.size(); ++j) f(sorted[j], j);
    }
    template <class F>
    void scan(const Slot* graph, F&& f) const {
        for (std::uint32_t j = 0; j < sorted.size(); ++j)
            if (is_candidate_slot(graph, j)) f(j, sorted[j]);
    }
};

// Gathers counts and edges into g (subtracting `bias` from each count: the collector's own
// holds) and marks. A trace() that throws (TraceFailed) or a lack of memory leaves the graph
// incomplete: the caller must then free nothing and give the space's marks back (abandon).
template <class Space>
void analyse(Space& space, Graph& g, std::int32_t bias, std::size_t edges_hint) {
    g.edges.reserve(edges_hint);
    RecordVisitor visitor(&space, &g);
    Object* current = nullptr;
    try {
        space.gather(g, [&](Object* x, std::uint32_t j) {
            current = x;
            // A count of 0 means a deallocation is under way (the trashcan may have queued it):
            // that deallocation holds it, so it counts as referenced from outside.
            std::uint32_t count = refcnt(x);
            g.slots[j].refs += clamp_count(count ? count : 1) - bias;
            const std::size_t start = g.edges.size();
            g.slots[j].link = kCandidate;  // its own edges (a self-reference) must not queue it
            x->trace(visitor);
            const std::size_t n = g.edges.size() - start;
            if (n <= 1) {
                g.slots[j].link = kCandidate | kInline | (n ? g.edges[start] : kNoTarget);
                g.edges.resize(start);
            } else {
                if (start >= kNoTarget) throw std::length_error("ouro::gc: a collection of more than 2^30 references");
                g.slots[j].link = kCandidate | static_cast<std::uint32_t>(start);
                g.edges.push_back(kNone);
            }
        });
    } catch (const std::bad_alloc&) {
        throw;
    } catch (const std::length_error&) {
        throw;
    } catch (...) {
        report_unraisable("trace() during a collection (nothing was freed), of", *current);
        throw TraceFailed{};
    }
    g.mark(space.slots());
}

class Collection {
public:
    Collection(Heap& h, int gen, bool every) : heap_(h), s_(HeapAccess::state(h)), gen_(gen), every_(every) {}

    // Returns the number of unreachable objects found (resurrected ones excluded, as CPython).
    std::size_t run() {
        // Nothing marked since a full collection cleared every mark: no seeds, nothing to look
        // at, nothing unreachable; only the promotions remain.
        if (s_.known_clean()) {
            promote(clean_survivors());
            return 0;
        }
        auto& alloc = HeapAccess::allocator(heap_);
        if (gen_ == 2) find_unreachable(FullSpace(alloc, s_.large, &heap_, every_));
        else find_unreachable(YoungSpace(HeapAccess::young(heap_), gen_));
        if (unreachable_.empty()) return 0;
        if (s_.debug & gc::DEBUG_COLLECTABLE)
            for (Object* u : unreachable_) std::fprintf(stderr, "gc: collectable %s\n", describe(*u).c_str());
        bool user_code_ran = handle_weakrefs(heap_, unreachable_);
        user_code_ran |= finalize();
        if (user_code_ran) drop_resurrected();
        std::size_t found = unreachable_.size();
        if (s_.debug & gc::DEBUG_SAVEALL) save_all();
        else delete_garbage();
        return found;
    }

private:
    // --- 1-3. gather, mark, promote --------------------------------------------------------------
    template <class Space>
    void find_unreachable(Space&& space) {
        GraphBuffers local;
        Graph g(gen_ == 2 ? local : s_.young_graph, space.slots());
        try {
            analyse(space, g, 0, gen_ == 2 ? s_.edges_hint : 0);
            if (gen_ == 2) {
                s_.edges_hint = g.edges.size();
                // Every mark of this heap was a seed and has been cleared; user code has not run.
                s_.clean_thread = &t_marks;
                s_.clean_marks = t_marks;
            }
            if (g.started)
                space.scan(g.slots.data(), [&](std::uint32_t j, Object* x) {
                    if (!g.reached(j)) unreachable_.push_back(x);
                });
        } catch (const TraceFailed&) {
            unreachable_.clear();
            space.abandon(g);
        } catch (...) {
            unreachable_.clear();
            space.abandon(g);
            throw;
        }
        // Generation 0's survivors count for nothing (the scheduling counts only promotions to 2).
        promote(gen_ == 0 ? 0 : space.population() - unreachable_.size());
    }

    // Survivors of generation 0 join generation 1; of older ones, generation 2 (which has no
    // list). The unreachable set U leaves the lists too, flagged, until it is freed or
    // resurrected, and each member is held (4.): one extra count, so no member of U can die
    // while user code runs in the phases that follow.
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

    // promote()'s count when nothing was marked. A full collection's survivors are known without
    // counting: the last one's, minus the old objects that died since, plus what young
    // collections promoted since and the young objects it promotes now.
    std::size_t clean_survivors() const noexcept {
        if (gen_ == 0) return 0;  // generation 0's survivors count for nothing
        std::size_t young = HeapAccess::young(heap_).count_live(0);
        if (gen_ == 1) return young;
        std::size_t old = s_.long_lived_total - std::min(s_.old_deaths, s_.long_lived_total);
        return old + s_.long_lived_pending + young;
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

    // --- 7. resurrect --------------------------------------------------------------------------
    // User code may have stored references to members of U anywhere. Recount within U: a member
    // referenced from outside U (beyond our hold) is resurrected, with all it reaches in U.
    void drop_resurrected() {
        try {
            std::sort(unreachable_.begin(), unreachable_.end());
            SetSpace space{std::span<Object* const>(unreachable_.begin(), unreachable_.size())};
            GraphBuffers local;
            Graph g(local, space.slots());
            analyse(space, g, 1, 0);
            Object** kept = std::remove_if(unreachable_.begin(), unreachable_.end(), [&](Object* u) {
                if (!g.reached(space.index(u))) return false;
                resurrect(u);
                return true;
            });
            unreachable_.resize(static_cast<std::size_t>(kept - unreachable_.begin()));
        } catch (...) {
            // No memory, or a trace() that threw (already reported): keep everything alive
            // rather than risk freeing a live object.
            for (Object* u : unreachable_) resurrect(u);
            unreachable_.clear();
        }
    }

    void resurrect(Object* u) noexcept {
        gcword(u) &= ~kUnreachable;
        mark_dirty(u);
        if (gen_ == 0) young_append(heap_, u, true);
        --refcnt(u);  // our hold; something else holds it too, so this never reaches zero
    }

    // --- 8. delete -----------------------------------------------------------------------------
    void save_all() {
        for (Object* u : unreachable_) {
            gcword(u) &= ~kUnreachable;
            try {
                s_.garbage.emplace_back(Adopt{}, u);  // adopts our hold
            } catch (const std::bad_alloc&) {
                decref(u);  // cannot be saved: let it go the normal way
            }
        }
        unreachable_.clear();
    }

    void delete_garbage() {
        ClearVisitor clear;
        for (Object* u : unreachable_) {
            try {
                u->trace(clear);
            } catch (...) {
                report_unraisable("trace() while clearing garbage, of", *u);
            }
        }
        // Drop the holds in reverse address order: freed blocks are pushed on LIFO free lists,
        // which then hand them out again in ascending address order.
        if (!std::is_sorted(unreachable_.begin(), unreachable_.end()))
            std::sort(unreachable_.begin(), unreachable_.end());
        for (std::size_t i = unreachable_.size(); i-- > 0;) {
            gcword(unreachable_[i]) &= ~kUnreachable;
            decref(unreachable_[i]);
        }
        unreachable_.clear();
    }

    Heap& heap_;
    HeapState& s_;
    int gen_;
    bool every_;  // a full collection that traces every object, clean or not
    ScratchArray<Object*> unreachable_;  // can be millions: huge pages, given back at the end
    bool finalizers_pending_ = false;    // some member of U has a finalizer that has not run
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

std::size_t collect(Heap& h, int generation, bool every) {
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
    std::size_t found = Collection(h, generation, every).run();
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
