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
//   4. verify      only if some member of U visited a slot outside its own block or its own
//                  slots out of order (doubtful), or some count went negative: the doubtful
//                  members are looked at once more, and unless that shows every slot they visit
//                  counted once and theirs, U's references are counted again, each slot once and
//                  only slots U may own; what that shows to be referenced from outside leaves U.
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
#include "candidates.hpp"
#include "describe.hpp"
#include "graph.hpp"
#include "heap_state.hpp"
#include "os.hpp"
#include "slot_owners.hpp"
#include "trace_errors.hpp"
#include "trace_visitors.hpp"

#include <ouro/unraisable.hpp>

#include <algorithm>
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

// A candidate's count as gc_refs starts from it. Counts above 2^28 are clamped: such an object is
// a root whatever its internal references. So is a count of 0 (it wraps to the clamp): a
// deallocation is under way (the trashcan may have queued it), and that deallocation holds it.
constexpr std::int32_t clamp_count(std::uint32_t count) noexcept {
    constexpr std::uint32_t kClamp = 1u << 28;
    return static_cast<std::int32_t>(std::min(count - 1, kClamp - 1) + 1);
}

struct TraceFailed {};

// Checked builds check each phase's contract (the file comment) as it ends: a failure is a bug
// in the collector, not in user code.
void contract(bool holds, const char* what) noexcept {
    if (OURO_CHECKS && !holds) {
        std::fprintf(stderr, "ouro: collector contract broken: %s\n", what);
        std::abort();
    }
}

// Phases 1-2 (or 4/7's recount): gathers counts and edges into g, subtracting `bias` from each
// count (the collector's own holds), and marks. A trace() that throws (TraceFailed) or a lack of
// memory leaves the graph incomplete: the caller must then free nothing.
template <class Visit, class Space>
void analyse(Space& space, Graph& g, std::int32_t bias, TraceErrors& errors, Visit& visitor, std::size_t edges_hint = 0) {
    g.edges.reserve(edges_hint);
    Slot* const slots = g.slots.data();
    space.gather(g, [&](Object* x, std::uint32_t j, std::size_t size) __attribute__((always_inline)) {
        visitor.begin(x, size);
        Slot& slot = slots[j];
        slot.refs += clamp_count(refcnt(x)) - bias;
        try {
            x->trace(visitor);
        } catch (...) {
            if (visitor.oom) throw;
            errors.record_exception(*x);
            throw TraceFailed{};
        }
        visitor.end(slot);
    });
    visitor.flush();
    g.mark();
}

class Collection {
public:
    Collection(Heap& h, int gen) : heap_(h), s_(HeapAccess::state(h)), gen_(gen), owners_(h, s_.collector.statics, gen == 2) {}

    // The objects the analysis examined (gc::GenerationStats::candidates).
    std::size_t candidates() const noexcept { return candidates_; }

    // Returns the number of unreachable objects found (resurrected ones excluded, as CPython).
    std::size_t run() {
        auto& alloc = HeapAccess::allocator(heap_);
        if (gen_ == 2) find_unreachable(FullSpace(alloc, s_.large, &heap_));
        else find_unreachable(YoungSpace(HeapAccess::young(heap_), gen_));
        check_held("after promote");
        if (!unreachable_.empty() && needs_recount()) {
            recount();
            check_held("after verify");
        }
        // The reports are user code (the hook): after them, U is checked again like after any.
        bool user_code_ran = errors_.flush(s_);
        if (unreachable_.empty()) return 0;
        if (s_.gc.debug & gc::DEBUG_COLLECTABLE)
            for (Object* u : unreachable_) std::fprintf(stderr, "gc: collectable %s\n", describe(*u).c_str());
        // (Nothing to clear or call when no weak reference to a live object is left in the heap.)
        if (!s_.weakrefs.empty())
            user_code_ran |= handle_weakrefs(heap_, unreachable_, count_shared(), owners_);  // (callbacks may weakly reference U again)
        user_code_ran |= finalize(user_code_ran);
        if constexpr (OURO_CHECKS)
            for (Object* u : unreachable_)
                contract((gcword(u) & (kHasFinalizer | kFinalized)) != kHasFinalizer, "U finalized");
        if (user_code_ran) {
            recount();
            check_held("after resurrect");
        }
        // The last word before anything is cleared: a suspended generator U still holds (started
        // by user code since phase 6: a destructor the recount ran) would run its cleanup after
        // phase 8 freed what it uses. Then U survives this time; the next collection closes it.
        // No user code runs from here to the clearing: one count of shared storage serves both.
        const SharedOwners* shared = count_shared();
        if ((generators_seen_ || user_code_ran) && holds_suspended_generator(shared)) keep_all_ = true;
        if (keep_all_) {  // no memory to decide what shared storage, or which generators, are U's
            for (Object* u : unreachable_) resurrect(u);
            unreachable_.clear();
        }
        std::size_t found = unreachable_.size();
        if (s_.gc.debug & gc::DEBUG_SAVEALL) save_all();
        else delete_garbage(shared);
        contract(unreachable_.empty(), "U emptied by delete");
        check_held("after delete");
        errors_.flush(s_);  // the last recount's, once nothing is left to check
        return found;
    }

private:
    // Checked builds: every member of U is flagged, in generation 2 and held; the young list is
    // whole.
    void check_held(const char* when) const noexcept {
        if constexpr (OURO_CHECKS) {
            for (Object* u : unreachable_) {
                const std::uint32_t w = gcword(u);
                contract((w & kUnreachable) && generation(w) == 2 && refcnt(u) >= 2, when);
            }
            contract(HeapAccess::young(heap_).check().empty(), when);
        }
    }

    // --- 1-3. gather, mark, promote --------------------------------------------------------------
    template <class Space>
    void find_unreachable(Space&& space) {
        GraphBuffers local;
        Graph g(gen_ == 2 ? local : s_.collector.young_graph, space.slots());
        try {
            RecordVisitor<std::remove_reference_t<Space>> visitor(&space, &g, &errors_, &owners_);
            analyse(space, g, 0, errors_, visitor, gen_ == 2 ? s_.collector.edges_hint : 0);
            shared_seen_ = visitor.saw_shared;
            generators_seen_ = visitor.saw_generator;
            if (gen_ == 2) s_.collector.edges_hint = g.edges.size();
            overcounted_ = g.overcounted;
            if (g.marked < space.population())  // (a live heap is not walked again for nothing)
                space.scan(g.slots.data(), [&](std::uint32_t j, Object* x) {
                    if (g.reached(j)) return;
                    unreachable_.push_back(x);
                    if (g.slots[j].link & kDoubtful) doubtful_.push_back(x);
                });
        } catch (const TraceFailed&) {
            unreachable_.clear();
            doubtful_.clear();
        } catch (...) {
            unreachable_.clear();
            doubtful_.clear();
            throw;
        }
        // Generation 0's survivors count for nothing (the scheduling counts only promotions to 2).
        candidates_ = space.population();
        promote(gen_ == 0 ? 0 : candidates_ - unreachable_.size());
    }

    // Survivors of generation 0 join generation 1; of older ones, generation 2 (which has no
    // list). The unreachable set U leaves the lists too, flagged, until it is freed or
    // resurrected, and each member is held: one extra count, so no member of U can die while
    // user code runs in the phases that follow.
    void promote(std::size_t survivors) noexcept {
        auto& young = HeapAccess::young(heap_);
        if (gen_ != 0) {
            // Promoted by a young collection: pending long-lived objects (§6 of docs/design.md).
            // The list is emptied whole; U's members, in it too, get their generation below.
            const std::uint32_t index = s_.schedule.promotion_index(gen_);
            for (std::uint32_t i = 0; i < young.size(); ++i)
                set_generation(young[i], 2, index);
            young.clear();
        }
        for (Object* u : unreachable_) {
            std::uint32_t& w = gcword(u);
            if (generation(w) == 0) young.remove(u);
            set_generation(u, 2);
            w |= kUnreachable;
            finalizers_pending_ |= (w & (kHasFinalizer | kFinalized)) == kHasFinalizer;
            ++refcnt(u);
        }
        if (gen_ == 0) young.promote_all();
        HeapAccess::count0(heap_) = 0;
        s_.schedule.collected(gen_, survivors);
    }

    // --- 4. verify ------------------------------------------------------------------------------
    // Whether U's counts could be wrong: some count went negative, or a doubtful member (one whose
    // trace() visited outside its block, or its own slots out of order) visited a slot it cannot
    // own or one counted twice. The doubtful members are looked at once more (CheckVisitor);
    // anything that cannot be shown harmless sends U to an exact recount.
    bool needs_recount() {
        if (overcounted_) return true;
        if (doubtful_.empty()) return false;
        try {
            auto& ranges = s_.collector.ranges;  // each member's outside slots
            ranges.clear();
            CheckVisitor check;
            for (Object* u : doubtful_) {
                check.begin(u, block_size(u));
                u->trace(check);
                if (!check.clean) return true;
                if (!check.lo) continue;
                if (!owners_.all_outside(check.lo, check.hi)) return true;
                ranges.emplace_back(check.lo, check.hi);
            }
            std::sort(ranges.begin(), ranges.end());
            for (std::size_t i = 1; i < ranges.size(); ++i)
                if (ranges[i].first <= ranges[i - 1].second) return true;  // storage two members share?
            outside_verified_ = true;  // no member of U visits a slot it cannot own: nothing to filter when clearing
            return false;
        } catch (...) {
            return true;  // the recount reports a trace() that throws, and survives a lack of memory
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
        outside_verified_ = false;  // from here on U's trace()s are only known through the recount
        for (;;) {
            std::vector<Object*> peeled;
            try {
                peeled.reserve(unreachable_.size());  // so that nothing below can throw once decided
                SetSpace space{std::span<Object*>(unreachable_.begin(), unreachable_.size())};
                GraphBuffers local;
                Graph g(local, space.slots());
                const SharedOwners* shared = count_shared();
                VerifyVisitor<SetSpace> visitor(&space, &g, &errors_, &owners_, shared);
                analyse(space, g, 1, errors_, visitor);
                if (g.overcounted) throw TraceFailed{};  // counts too low to explain: trust nothing
                g.peel(1, [&](std::uint32_t j) { return clamp_count(refcnt(space.members[j])); });
                std::size_t kept = 0;
                for (std::uint32_t j = 0; j < space.slots(); ++j) {
                    Object* u = space.members[j];
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
    bool finalize(bool user_code_ran) {
        const bool ran = finalize_objects();
        return close_generators(user_code_ran || ran) || ran;
    }

    // Python's generator finalizer, for garbage: each suspended generator U holds (in its members
    // or in storage it owns whole) is closed now, once, while everything its cleanup code can
    // reach is intact (CPython finalizes the generator objects of U with the rest of it; here a
    // generator is a member, and phase 8 would otherwise null its frame's references and free what
    // they held before ~Generator closes it). They are found first, their frames pinned (cleanup
    // code may destroy or move Generators, not frames still to close), then closed after the
    // trace()s returned: no user code runs inside a trace(). Looked for when the gather met one,
    // or when user code ran since (a finalizer may start one); cleanups that start more get a few
    // more rounds, and what the last leaves is finalized without running. A finalized body still
    // suspended (it ignored GeneratorExit, or was never closed) has live locals, whose destructors
    // are cleanup code too: its frame is destroyed now, one per trace() of its holder. Without
    // memory for any of it, nothing of U is freed this time.
    bool close_generators(bool user_code_ran) noexcept {
        if (!generators_seen_ && !user_code_ran) return false;
        bool ran = false;
        constexpr int kRounds = 4;
        const SharedOwners* shared = nullptr;
        bool counted = false;  // `shared` counted since user code last ran
        for (int round = 0; round <= kRounds; ++round) {
            std::vector<GeneratorFinder::Found> found;
            shared = count_shared();
            counted = true;
            GeneratorFinder finder(shared, owners_, found);
            for (Object* u : unreachable_) {
                finder.begin(u);
                try {
                    u->trace(finder);
                } catch (...) {
                    // (phase 8 reports a trace() that throws)
                }
            }
            if (finder.failed) keep_all_ = true;
            if (found.empty()) break;
            ran = true;
            for (const auto& f : found) (round < kRounds ? f.ops->close : f.ops->forgo)(f.frame);
            for (const auto& f : found) f.ops->release(f.frame);
            counted = false;
        }
        if (!counted) shared = count_shared();
        for (Object* u : unreachable_) {
            for (std::size_t budget = 1 << 20; budget > 0; --budget) {  // (each pass destroys one)
                std::vector<GeneratorFinder::Found> none;
                GeneratorFinder finder(shared, owners_, none);
                finder.only_stuck = true;
                finder.begin(u);
                try {
                    u->trace(finder);
                } catch (...) {
                    break;
                }
                if (!finder.stuck) break;
                ran = true;
                finder.stuck_ops->destroy(finder.stuck);  // (its locals' destructors: user code)
            }
        }
        return ran;
    }

    bool holds_suspended_generator(const SharedOwners* shared) noexcept {
        std::vector<GeneratorFinder::Found> none;
        GeneratorFinder finder(shared, owners_, none);
        finder.check_only = true;
        for (Object* u : unreachable_) {
            finder.begin(u);
            try {
                u->trace(finder);
            } catch (...) {
                return true;  // (cannot tell)
            }
            if (finder.any) return true;
        }
        return false;
    }

    bool finalize_objects() {
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
                s_.gc.garbage.emplace_back(Adopt{}, u);  // adopts our hold
            } catch (const std::bad_alloc&) {
                decref(u);  // cannot be saved: let it go the normal way
            }
        }
        unreachable_.clear();
    }

    // The owners U holds of storage shared through std::shared_ptr, counted now (U changes
    // between phases); null when the gather saw no shared storage. Storage shared only since then
    // (user code stored it into U) is not U's: it survives.
    const SharedOwners* count_shared() noexcept {
        if (!shared_seen_) return nullptr;
        shared_.count(std::span<Object* const>(unreachable_.begin(), unreachable_.size()), owners_);
        keep_all_ |= !shared_.valid();  // a decision made without the count: trust none of them
        return &shared_;
    }

    void delete_garbage(const SharedOwners* shared) {
        ClearVisitor clear(outside_verified_ ? nullptr : &owners_, shared);
        for (Object* u : unreachable_) {
            try {
                clear.seen.begin(u, block_size(u));
                clear.reset_shared();
                u->trace(clear);
            } catch (...) {
                report_unraisable("trace() while clearing garbage, of", *u);
            }
        }
        // Drop the holds in reverse order — address order for a full collection, allocation
        // order for a young one: freed blocks are pushed on LIFO free lists, which then hand them
        // out again in ascending order, and the heap stays dense.
        for (std::size_t i = unreachable_.size(); i-- > 0;) release(unreachable_[i]);
        unreachable_.clear();
    }

    Heap& heap_;
    HeapState& s_;
    int gen_;
    ScratchArray<Object*> unreachable_;  // can be millions: huge pages, given back at the end
    bool finalizers_pending_ = false;    // some member of U has a finalizer that has not run
    bool overcounted_ = false;           // some count went negative in the mark
    std::size_t candidates_ = 0;
    bool outside_verified_ = false;      // phase 4 showed that U's outside slots are all U's own
    bool shared_seen_ = false;           // the gather met storage with several owners (SharedOwners)
    bool generators_seen_ = false;       // the gather met a suspended generator
    bool keep_all_ = false;              // nothing of U may be freed this time (no memory to decide)
    SharedOwners shared_;
    std::vector<Object*> doubtful_;      // the members of U whose counts phase 4 must check
    TraceErrors errors_;
    SlotOwners owners_;
};

void run_callbacks(GcModule& m, std::string_view phase, const gc::Info& info) {
    if (m.callbacks.empty()) return;
    auto callbacks = m.callbacks;  // a callback may add or remove callbacks
    for (auto& cb : callbacks) {
        try {
            cb(phase, info);
        } catch (...) {
            report_unraisable(phase == "start" ? "gc callback (phase \"start\")" : "gc callback (phase \"stop\")");
        }
    }
}

}  // namespace

std::size_t collect(Heap& h, int generation, bool automatic) {
    HeapState& s = HeapAccess::state(h);
    if (s.schedule.collecting) return 0;
    s.schedule.collecting = true;
    HeapAccess::update_trigger(h);
    struct Done {
        Heap& h;
        Schedule& s;
        ~Done() {
            s.collecting = false;
            HeapAccess::update_trigger(h);
        }
    } done{h, s.schedule};

    run_callbacks(s.gc, "start", gc::Info{generation, 0, 0, 0});
    const double t0 = os::precise_now_s();
    Collection collection(h, generation);
    std::size_t found = collection.run();
    s.schedule.found(generation, found, automatic);
    if (generation == 2) HeapAccess::allocator(h).purge();  // empty arenas kept past their time
    HeapAccess::young(h).shrink();
    s.collector.young_graph.trim(HeapAccess::young(h).size());
    const double seconds = os::precise_now_s() - t0;

    auto& st = s.gc.stats[static_cast<std::size_t>(generation)];
    ++st.collections;
    st.collected += found;
    st.candidates += collection.candidates();
    st.pause_seconds += seconds;
    if (s.gc.debug & gc::DEBUG_STATS)
        std::fprintf(stderr, "gc: generation %d: %zu unreachable, 0 uncollectable, %.7fs elapsed\n", generation,
                     found, seconds);
    run_callbacks(s.gc, "stop", gc::Info{generation, found, 0, seconds});
    return found;
}

}  // namespace ouro::detail
