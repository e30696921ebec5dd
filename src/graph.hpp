// The collector's scratch for one reachability analysis: one 12-byte slot per candidate (and a
// spare one past them) and the candidates' recorded edges (see src/collector.cpp and
// docs/design.md §5).
#pragma once

#include "scratch.hpp"

#include <climits>
#include <cstdint>
#include <stdexcept>
#include <type_traits>

#include <ouro/config.hpp>

namespace ouro::detail {

constexpr std::uint32_t kNone = 0xffffffffu;

// One candidate's scratch: 12 bytes, so that a step of the marking chase along an object with
// one or two references (a list's links, a tree's children, a doubly linked list) is one access.
struct Slot {
    std::int32_t refs;     // gc_refs: count minus references from candidates; kReached once marked
    std::uint32_t link;    // flags | the first edge's target (or kNoTarget) when kInline,
                           //       | else the index of the candidate's run of edges in Graph::edges
    std::uint32_t second;  // kInline: the second edge's target, or kNoTarget
};
constexpr std::int32_t kReached = INT32_MIN;
constexpr std::int32_t kPeeled = INT32_MIN + 1;  // died by its count once user code let go (see peel)
constexpr std::uint32_t kCandidate = 1u << 31;
constexpr std::uint32_t kInline = 1u << 30;
// The candidate's trace() visited a slot outside its own block (a container's buffer, a
// unique_ptr's target, or a mistake), or its own slots out of order: if it is garbage, its
// references are counted again, exactly, before anything is freed (RecordVisitor).
constexpr std::uint32_t kDoubtful = 1u << 29;
constexpr std::uint32_t kLinkMask = kDoubtful - 1;
constexpr std::uint32_t kNoTarget = kLinkMask;  // also the limit on slots and on edges

inline bool is_candidate_slot(const Slot* slots, std::uint32_t j) noexcept { return slots[j].link & kCandidate; }

// The memory of one reachability analysis. Young collections reuse the heap's (they are frequent
// and small); full collections and checks of the unreachable set use their own.
struct GraphBuffers {
    ScratchArray<Slot> slots;
    ScratchArray<std::uint32_t> edges;
    ScratchArray<std::uint32_t> stack;  // room for every slot: each is pushed at most once
    // After a collection, with `next` candidates expected next time: what a burst of young
    // objects grew goes back (see ScratchArray::trim), unless the next collection needs it too.
    void trim(std::size_t next) noexcept {
        if (slots.capacity() <= 4 * next) return;
        slots.trim();
        edges.trim();
        stack.trim();
    }
};

// One reachability analysis over candidates numbered 0..size-1.
struct Graph {
    ScratchArray<Slot>& slots;           // all zero: no candidates yet
    ScratchArray<std::uint32_t>& edges;  // runs of three or more targets, each ended by kNone
    ScratchArray<std::uint32_t>& stack;
    std::size_t size;
    // Some candidate's references from candidates outnumber its count: a trace() visits a
    // reference it does not hold, or one twice (seen by mark).
    bool overcounted = false;
    std::size_t marked = 0;  // candidates reached by mark()

    // Throws std::bad_alloc (or std::length_error) before anything changed.
    Graph(GraphBuffers& b, std::size_t n) : slots(b.slots), edges(b.edges), stack(b.stack), size(n) {
        if (n >= kNoTarget) throw std::length_error("ouro::gc: a collection of more than 2^29 objects");
        edges.clear();
        slots.assign_zero(n + 1);  // and a spare one at `size`, never a candidate (RecordVisitor's)
    }
    bool reached(std::uint32_t j) const noexcept { return slots[j].refs == kReached; }

    // Calls f(target) for each recorded edge of candidate j.
    template <class F>
    void for_each_edge(std::uint32_t j, F&& f) const {
        const std::uint32_t link = slots[j].link;
        if (link & kInline) {
            if ((link & kLinkMask) != kNoTarget) f(link & kLinkMask);
            if (slots[j].second != kNoTarget) f(slots[j].second);
            return;
        }
        for (const std::uint32_t* e = edges.data() + (link & kLinkMask); *e != kNone; ++e) f(*e);
    }

    // Marks everything reachable from the candidates with gc_refs > 0 (the roots), depth first
    // with an explicit stack, reading only the slots and the edge runs. A target is checked when
    // it is taken off the stack, not when it is pushed, and taken through a small FIFO whose
    // entries are prefetched as they enter: the chase is a string of cache misses otherwise (in
    // a big heap).
    // Every candidate's final gc_refs is looked at once (as a root or when first reached): a
    // negative one sets `overcounted`.
    void mark() {
        constexpr std::uint32_t kAhead = 8;  // the FIFO's depth: misses in flight
        constexpr std::size_t kCachedBytes = 256 << 10;
        std::uint32_t ahead[kAhead];
        std::uint32_t in = 0, queued = 0;
        Slot* const s = slots.data();
        const std::uint32_t* const runs = edges.data();
        stack.reserve(size + 2);
        std::uint32_t* bottom = stack.data();
        std::uint32_t* top = bottom;
        std::uint32_t* limit = bottom + stack.capacity();
        auto push = [&](std::uint32_t t) {
            if (OURO_UNLIKELY(top == limit)) {  // more pushes than slots: duplicates on the stack
                const std::size_t depth = static_cast<std::size_t>(top - bottom);
                stack.commit(depth);
                stack.reserve(depth * 2);
                bottom = stack.data();
                top = bottom + depth;
                limit = bottom + stack.capacity();
            }
            *top++ = t;
        };
        // Marks t and what it leads to. With the FIFO (fifo), a target is followed at once only
        // when nothing else is in flight (a chain's links: no other miss to overlap with);
        // without it, the first target always is and the second waits on the stack.
        auto visit = [&](std::uint32_t t, auto fifo) __attribute__((always_inline)) {
            for (;;) {
                Slot& x = s[t];
                if (x.refs == kReached || !(x.link & kCandidate)) return;
                overcounted |= x.refs < 0;
                x.refs = kReached;
                ++marked;
                const std::uint32_t link = x.link;
                if (!(link & kInline)) {
                    for (const std::uint32_t* e = runs + (link & kLinkMask); *e != kNone; ++e) push(*e);
                    return;
                }
                const std::uint32_t first = link & kLinkMask;
                if (x.second != kNoTarget) {
                    if (first == kNoTarget) {
                        t = x.second;
                        continue;
                    }
                    push(x.second);
                } else if (first == kNoTarget) {
                    return;
                }
                if (fifo && (top != bottom || queued)) {
                    push(first);
                    return;
                }
                t = first;
            }
        };
        // Slots that fit in the L2 cache (a young collection's, usually) have no misses for the
        // FIFO to overlap: a plain stack is cheaper there.
        const bool fifo = size * sizeof(Slot) > kCachedBytes;
        for (std::uint32_t root = 0; root < size; ++root) {
            // Only candidates have a positive gc_refs (others are only ever decremented).
            const std::int32_t r = s[root].refs;
            if (r <= 0) {
                if (OURO_UNLIKELY(r != kReached) && r < 0 && (s[root].link & kCandidate)) overcounted = true;
                continue;
            }
            if (!fifo) {
                visit(root, std::false_type{});
                while (top != bottom) visit(*--top, std::false_type{});
                continue;
            }
            push(root);
            while (top != bottom || queued) {
                if (top != bottom) {
                    const std::uint32_t t = *--top;
                    __builtin_prefetch(&s[t]);
                    const std::uint32_t at = in++ % kAhead;
                    if (queued < kAhead) {
                        ++queued;
                        ahead[at] = t;
                        continue;
                    }
                    const std::uint32_t oldest = ahead[at];
                    ahead[at] = t;
                    visit(oldest, std::true_type{});
                } else {
                    visit(ahead[(in - queued--) % kAhead], std::true_type{});
                }
            }
        }
    }

    // After mark(), when the candidates are a set held by the collector (`bias` counts each):
    // the unreached candidates no reference reaches but the collector's own — in CPython, objects
    // that died by their count while user code ran — and, transitively, those only they reach,
    // are set to kPeeled. count(j) gives candidate j's reference count.
    template <class Count>
    void peel(std::int32_t bias, Count&& count) {
        stack.reserve(size);  // each slot is pushed at most once
        std::uint32_t* const bottom = stack.data();
        std::uint32_t* top = bottom;
        // An unreached candidate's references all come from unreached candidates: its in-degree
        // there is its count less the collector's hold.
        for (std::uint32_t j = 0; j < size; ++j)
            if ((slots[j].link & kCandidate) && slots[j].refs != kReached) {
                slots[j].refs = count(j) - bias;
                if (slots[j].refs == 0) *top++ = j;
            }
        while (top != bottom) {
            const std::uint32_t j = *--top;
            slots[j].refs = kPeeled;
            for_each_edge(j, [&](std::uint32_t t) {
                if ((slots[t].link & kCandidate) && slots[t].refs > 0 && --slots[t].refs == 0) *top++ = t;
            });
        }
    }
};

}  // namespace ouro::detail
