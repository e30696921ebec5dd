// The cycle collector: CPython's algorithm (reference doc §2) over a 16-byte header.
//
// A collection of generation g looks at the "candidates": every tracked object of generation
// <= g. It never scans stacks and never asks for roots: an object is a root when its count is
// higher than the number of references candidates hold to it. The phases, in order:
//
//   1. gather      candidates and their counts into a scratch array (update_refs)
//   2. subtract    one per reference a candidate holds to a candidate (subtract_refs)
//   3. mark        everything reachable from a root, with an explicit stack (move_unreachable)
//   4. promote     survivors to the next generation; the rest is the unreachable set U
//   5. hold        U: one extra count each, so no member of U can die while user code runs
//   6. weakrefs    to members of U are cleared; callbacks of live weakrefs run (handle_weakrefs)
//   7. finalize    finalize() of each member of U, at most once per object (PEP 442)
//   8. resurrect   only if user code ran: reachability within U again; survivors leave U
//   9. delete      clear each member's references (tp_clear), then drop the holds so counts
//                  fall to zero and objects are freed, in address order (or save them with
//                  DEBUG_SAVEALL)
//
// Where CPython keeps gc_refs in the object's header and candidates on a doubly linked list,
// we keep gc_refs in a scratch array for the duration of one collection, and enumerate
// candidates from the young-generation lists (generations 0 and 1) or by walking the tracked
// pools in address order (full collections). See docs/design.md.
#include "heap_state.hpp"

#include <ouro/unraisable.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>

namespace ouro::detail {
namespace {

constexpr std::uint32_t kNone = 0xffffffffu;
constexpr std::uint32_t kReachable = 0x80000000u;  // mark bit in a scratch slot; the rest is gc_refs

// Maps an object to its scratch slot, or kNone when it is not a candidate.
// Young collections: the slot is the object's position in its generation list.
struct YoungIndex {
    std::uint32_t max_gen;
    std::uint32_t n0;     // size of generation 0's list: generation 1 follows it
    std::uint32_t slots;  // objects allocated by a misbehaving trace() must not index past the end
    std::uint32_t operator()(Object* y) const noexcept {
        std::uint32_t w = gcword(y);
        if (!(w & kTracked)) return kNone;
        std::uint32_t g = generation(w);
        if (g > max_gen) return kNone;
        std::uint32_t j = (w >> kIndexShift) + (g == 0 ? 0 : n0);
        return j < slots ? j : kNone;
    }
};

// Full collections: the slot is the block's number across the tracked pools (pool base +
// block index, found by masking the address), large objects after them.
struct FullIndex {
    std::uint32_t large_base;
    std::uint32_t operator()(Object* y) const noexcept {
        std::uint32_t w = gcword(y);
        if (!(w & kTracked) || generation(w) == kPermanent) return kNone;
        if (w & kLarge) return large_base + large_prefix(y)->index;
        Pool* p = pool_of(y);
        return p->base_index + p->block_index(y);
    }
};

template <class Index>
struct SubtractVisitor final : Visitor {
    Index index;
    std::uint32_t* refs;
    SubtractVisitor(Index i, std::uint32_t* r) : index(i), refs(r) {}
    void visit(Object*& slot) override {
        std::uint32_t j = index(slot);
        // Saturating: a trace() that visits one reference twice must not wrap a count around.
        if (j != kNone && (refs[j] & ~kReachable) != 0) --refs[j];
    }
};

template <class Index>
struct MarkVisitor final : Visitor {
    Index index;
    std::uint32_t* refs;
    std::vector<Object*>* stack;
    MarkVisitor(Index i, std::uint32_t* r, std::vector<Object*>* s) : index(i), refs(r), stack(s) {}
    void visit(Object*& slot) override {
        Object* y = slot;
        std::uint32_t j = index(y);
        if (j != kNone && !(refs[j] & kReachable)) {
            refs[j] |= kReachable;
            __builtin_prefetch(y);  // popped soon: start the miss now
            stack->push_back(y);
        }
    }
};

// Drops every reference an object holds, CPython's tp_clear. The slot is nulled first and the
// count dropped after trace() returns, so no destructor runs while the object is being walked.
struct ClearVisitor final : Visitor {
    std::vector<Object*> dropped;
    void visit(Object*& slot) override {
        dropped.push_back(slot);
        slot = nullptr;
    }
    void release() noexcept {
        for (Object* o : dropped) decref(o);
        dropped.clear();
    }
};

// Within-U indexing for the resurrection check: U sorted by address, binary search.
struct SortedIndex {
    const std::vector<Object*>* sorted;
    std::uint32_t operator()(Object* y) const noexcept {
        if (!(gcword(y) & kUnreachable)) return kNone;
        auto it = std::lower_bound(sorted->begin(), sorted->end(), y);
        return it != sorted->end() && *it == y ? static_cast<std::uint32_t>(it - sorted->begin()) : kNone;
    }
};

class Collection {
public:
    Collection(Heap& h, int gen) : heap_(h), s_(HeapAccess::state(h)), gen_(gen) {}

    // Returns the number of unreachable objects found (resurrected ones excluded, as CPython).
    std::size_t run() {
        bool analysed = gen_ == 2 ? analyse(gather_full()) : analyse(gather_young());
        promote(analysed);
        if (unreachable_.empty()) return 0;
        hold();
        bool user_code_ran = handle_weakrefs_of_unreachable();
        user_code_ran |= finalize();
        if (user_code_ran) drop_resurrected();
        std::size_t found = unreachable_.size();
        if (s_.debug & gc::DEBUG_SAVEALL) save_all();
        else delete_garbage();
        return found;
    }

private:
    // --- 1. gather (update_refs) ---------------------------------------------------------------
    YoungIndex gather_young() {
        auto& y0 = HeapAccess::young(heap_, 0);
        auto& y1 = HeapAccess::young(heap_, 1);
        std::size_t n = y0.size() + (gen_ >= 1 ? y1.size() : 0);
        candidates_.reserve(n);
        candidates_.insert(candidates_.end(), y0.begin(), y0.end());
        if (gen_ >= 1) candidates_.insert(candidates_.end(), y1.begin(), y1.end());
        refs_ = std::make_unique_for_overwrite<std::uint32_t[]>(n);
        for (std::size_t i = 0; i < n; ++i) refs_[i] = refcnt(candidates_[i]) & ~kReachable;
        return YoungIndex{static_cast<std::uint32_t>(gen_), static_cast<std::uint32_t>(y0.size()),
                          static_cast<std::uint32_t>(n)};
    }

    FullIndex gather_full() {
        auto& alloc = HeapAccess::allocator(heap_);
        std::size_t slots = 0;
        alloc.for_each_pool([&](Pool& p) {
            if (p.kind != kTrackedPool) return;
            p.base_index = static_cast<std::uint32_t>(slots);
            slots += p.capacity;
        });
        auto large_base = static_cast<std::uint32_t>(slots);
        slots += s_.large.size();
        refs_ = std::make_unique_for_overwrite<std::uint32_t[]>(slots);
        // Stream through the pools in address order: every pass of the collector that follows
        // visits candidates in this order, so it reads memory forwards.
        std::size_t estimate = HeapAccess::young(heap_, 0).size() + HeapAccess::young(heap_, 1).size();
        candidates_.reserve(estimate);
        alloc.for_each_pool([&](Pool& p) {
            if (p.kind != kTrackedPool) return;
            std::uint32_t k = 0;
            for (char* b = p.data(); b != p.bump_end(); b += p.block_size, ++k) {
                auto* o = reinterpret_cast<Object*>(b);
                std::uint32_t w = gcword(o);
                if ((w & kTracked) && generation(w) != kPermanent) {
                    candidates_.push_back(o);
                    refs_[p.base_index + k] = refcnt(o) & ~kReachable;
                }
            }
        });
        for (std::size_t i = 0; i < s_.large.size(); ++i) {
            Object* o = s_.large[i];
            std::uint32_t w = gcword(o);
            if ((w & kTracked) && generation(w) != kPermanent) {
                candidates_.push_back(o);
                refs_[large_base + i] = refcnt(o) & ~kReachable;
            }
        }
        return FullIndex{large_base};
    }

    // --- 2. subtract and 3. mark ---------------------------------------------------------------
    // Returns false when a trace() threw: the collection then frees nothing (everything is
    // treated as reachable), because an incomplete walk could make a live object look dead.
    template <class Index>
    bool analyse(Index index) {
        std::uint32_t* refs = refs_.get();
        SubtractVisitor<Index> subtract(index, refs);
        std::vector<Object*> stack;
        MarkVisitor<Index> mark(index, refs, &stack);
        Object* current = nullptr;
        try {
            for (Object* x : candidates_) {
                current = x;
                x->trace(subtract);
            }
            // Everything with gc_refs > 0 is referenced from outside the candidates: a root.
            for (Object* x : candidates_) {
                std::uint32_t& r = refs[index(x)];
                if (r == 0 || (r & kReachable)) continue;
                r |= kReachable;
                stack.push_back(x);
                while (!stack.empty()) {
                    current = stack.back();
                    stack.pop_back();
                    current->trace(mark);
                }
            }
        } catch (...) {
            report_unraisable("trace() of " + describe(*current) + " during a collection (nothing was freed)");
            return false;
        }
        for (Object* x : candidates_)
            if (!(refs[index(x)] & kReachable)) unreachable_.push_back(x);
        return true;
    }

    // --- 4. promote ----------------------------------------------------------------------------
    void promote(bool analysed) {
        if (!analysed) unreachable_.clear();
        auto& y0 = HeapAccess::young(heap_, 0);
        auto& y1 = HeapAccess::young(heap_, 1);
        for (Object* u : unreachable_) gcword(u) |= kUnreachable;
        std::size_t survivors = 0;
        // Survivors of generation 0 join generation 1; of older ones, generation 2 (no list).
        y0.clear();
        if (gen_ >= 1) y1.clear();
        for (Object* x : candidates_) {
            if (gcword(x) & kUnreachable) continue;
            ++survivors;
            move_to_older(x);
        }
        for (Object* u : unreachable_) set_generation(u, 2);
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
        }
        candidates_.clear();
        candidates_.shrink_to_fit();
        refs_.reset();
    }

    void move_to_older(Object* x) noexcept {
        if (gen_ == 0) young_append(heap_, 1, x);
        else set_generation(x, 2);
    }
    static void set_generation(Object* x, std::uint32_t g) noexcept {
        std::uint32_t& w = gcword(x);
        w = (w & ~kGenMask & ((1u << kIndexShift) - 1)) | g << kGenShift | kNoIndex << kIndexShift;
    }

    // --- 5. hold -------------------------------------------------------------------------------
    void hold() noexcept {
        for (Object* u : unreachable_) ++refcnt(u);
        if (s_.debug & gc::DEBUG_COLLECTABLE)
            for (Object* u : unreachable_) std::fprintf(stderr, "gc: collectable %s\n", describe(*u).c_str());
    }

    // --- 6. weakrefs ---------------------------------------------------------------------------
    bool handle_weakrefs_of_unreachable() { return handle_weakrefs(heap_, unreachable_); }

    // --- 7. finalize ---------------------------------------------------------------------------
    bool finalize() {
        bool ran = false;
        for (Object* u : unreachable_) {
            std::uint32_t& w = gcword(u);
            if ((w & (kHasFinalizer | kFinalized)) != kHasFinalizer) continue;
            w |= kFinalized;
            ran = true;
            try {
                u->finalize();
            } catch (...) {
                report_unraisable("finalizer of " + describe(*u));
            }
        }
        return ran;
    }

    // --- 8. resurrect --------------------------------------------------------------------------
    // User code may have stored references to members of U anywhere. Recount within U: a member
    // referenced from outside U (beyond our hold) is resurrected, with all it reaches in U.
    void drop_resurrected() {
        std::vector<Object*> sorted;
        std::unique_ptr<std::uint32_t[]> refs;
        try {
            sorted = unreachable_;
            refs = std::make_unique_for_overwrite<std::uint32_t[]>(sorted.size());
        } catch (const std::bad_alloc&) {
            // No memory to check: keep everything alive rather than risk freeing a live object.
            for (Object* u : unreachable_) resurrect(u);
            unreachable_.clear();
            return;
        }
        std::sort(sorted.begin(), sorted.end());
        for (std::size_t i = 0; i < sorted.size(); ++i) refs[i] = (refcnt(sorted[i]) - 1) & ~kReachable;
        SortedIndex index{&sorted};
        SubtractVisitor<SortedIndex> subtract(index, refs.get());
        std::vector<Object*> stack;
        MarkVisitor<SortedIndex> mark(index, refs.get(), &stack);
        try {
            for (Object* u : sorted) u->trace(subtract);
            for (std::size_t i = 0; i < sorted.size(); ++i) {
                if (refs[i] == 0 || (refs[i] & kReachable)) continue;
                refs[i] |= kReachable;
                stack.push_back(sorted[i]);
                while (!stack.empty()) {
                    Object* x = stack.back();
                    stack.pop_back();
                    x->trace(mark);
                }
            }
        } catch (...) {
            report_unraisable("trace() during a collection's resurrection check (nothing was freed)");
            for (Object* u : unreachable_) resurrect(u);
            unreachable_.clear();
            return;
        }
        std::erase_if(unreachable_, [&](Object* u) {
            if (!(refs[index(u)] & kReachable)) return false;
            resurrect(u);
            return true;
        });
    }

    void resurrect(Object* u) noexcept {
        gcword(u) &= ~kUnreachable;
        if (gen_ == 0) young_append(heap_, 1, u);
        --refcnt(u);  // our hold; something else holds it too, so this never reaches zero
    }

    // --- 9. delete -----------------------------------------------------------------------------
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
                report_unraisable("trace() of " + describe(*u) + " while clearing garbage");
            }
            clear.release();
        }
        // Drop the holds in reverse address order: freed blocks are pushed on LIFO free lists,
        // which then hand them out again in ascending address order.
        std::sort(unreachable_.begin(), unreachable_.end());
        for (auto it = unreachable_.rbegin(); it != unreachable_.rend(); ++it) {
            gcword(*it) &= ~kUnreachable;
            decref(*it);
        }
        unreachable_.clear();
    }

    Heap& heap_;
    HeapState& s_;
    int gen_;
    std::vector<Object*> candidates_;
    std::unique_ptr<std::uint32_t[]> refs_;
    std::vector<Object*> unreachable_;
};

void run_callbacks(HeapState& s, std::string_view phase, const gc::Info& info) {
    if (s.callbacks.empty()) return;
    auto callbacks = s.callbacks;  // a callback may add or remove callbacks
    for (auto& cb : callbacks) {
        try {
            cb(phase, info);
        } catch (...) {
            report_unraisable("gc callback (phase \"" + std::string(phase) + "\")");
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
