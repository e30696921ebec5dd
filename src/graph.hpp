// The collector's scratch for one reachability analysis: one 8-byte slot per candidate and the
// candidates' recorded edges (see src/collector.cpp and docs/design.md §5).
#pragma once

#include "scratch.hpp"

#include <climits>
#include <cstdint>
#include <stdexcept>
#include <vector>

namespace ouro::detail {

constexpr std::uint32_t kNone = 0xffffffffu;

// One candidate's scratch: 8 bytes, so a step of the marking chase is one memory access.
struct Slot {
    std::int32_t refs;   // gc_refs: count minus references from candidates; kReached once marked
    std::uint32_t link;  // flags | the one edge's target (or kNoTarget) when kInline,
                         //       | else the index of the candidate's run of edges in Graph::edges
};
constexpr std::int32_t kReached = INT32_MIN;
constexpr std::int32_t kPeeled = INT32_MIN + 1;  // died by its count once user code let go (see peel)
constexpr std::uint32_t kCandidate = 1u << 31;
constexpr std::uint32_t kInline = 1u << 30;
// The candidate's trace() visited a slot outside its own block (a container's buffer, a
// unique_ptr's target, or a mistake): its references are checked before anything is freed.
constexpr std::uint32_t kOutside = 1u << 29;
constexpr std::uint32_t kLinkMask = kOutside - 1;
constexpr std::uint32_t kNoTarget = kLinkMask;  // also the limit on slots and on edges

inline bool is_candidate_slot(const Slot* slots, std::uint32_t j) noexcept { return slots[j].link & kCandidate; }

// The memory of one reachability analysis. Young collections reuse the heap's (they are frequent
// and small); full collections and checks of the unreachable set use their own.
struct GraphBuffers {
    ScratchArray<Slot> slots;
    ScratchArray<std::uint32_t> edges;
    std::vector<std::uint32_t> stack;
};

// One reachability analysis over candidates numbered 0..size-1.
struct Graph {
    ScratchArray<Slot>& slots;           // all zero: no candidates yet
    ScratchArray<std::uint32_t>& edges;  // runs of two or more targets, each ended by kNone
    std::vector<std::uint32_t>& stack;
    std::size_t size;
    bool started = false;
    // Some candidate's references from candidates outnumber its count: a trace() visits a
    // reference it does not hold, or one twice (seen by mark).
    bool overcounted = false;

    Graph(GraphBuffers& b, std::size_t n) : slots(b.slots), edges(b.edges), stack(b.stack), size(n) {
        if (n >= kNoTarget) throw std::length_error("ouro::gc: a collection of more than 2^29 objects");
        edges.clear();
        stack.clear();
    }
    // The slots are zeroed when the first candidate is gathered: a collection that finds no
    // candidate never touches them.
    void start() {
        if (started) return;
        slots.assign_zero(size);
        started = true;
    }
    bool reached(std::uint32_t j) const noexcept { return slots[j].refs == kReached; }

    // Calls f(target) for each recorded edge of candidate j.
    template <class F>
    void for_each_edge(std::uint32_t j, F&& f) const {
        const std::uint32_t link = slots[j].link;
        if (link & kInline) {
            if ((link & kLinkMask) != kNoTarget) f(link & kLinkMask);
            return;
        }
        for (const std::uint32_t* e = edges.data() + (link & kLinkMask); *e != kNone; ++e) f(*e);
    }

    // Marks everything reachable from the candidates with gc_refs > 0 (the roots), depth first
    // with an explicit stack. Objects with one reference (list links) cost one memory access per
    // step: the target is inline in the slot. Every candidate's final gc_refs is looked at once
    // (as a root or when first reached): a negative one sets `overcounted`.
    void mark() {
        if (!started) return;
        auto reach = [&](std::uint32_t t) {
            const std::int32_t r = slots[t].refs;
            if (r == kReached || !(slots[t].link & kCandidate)) return;
            overcounted |= r < 0;
            slots[t].refs = kReached;
            stack.push_back(t);
        };
        for (std::uint32_t root = 0; root < size; ++root) {
            const std::int32_t r = slots[root].refs;
            if (!(slots[root].link & kCandidate) || r == kReached) continue;
            if (r <= 0) {
                overcounted |= r < 0;
                continue;
            }
            reach(root);
            while (!stack.empty()) {
                const std::uint32_t j = stack.back();
                stack.pop_back();
                for_each_edge(j, reach);
            }
        }
    }

    // After mark(), when the candidates are a set held by the collector (`bias` counts each):
    // the unreached candidates no reference reaches but the collector's own — in CPython, objects
    // that died by their count while user code ran — and, transitively, those only they reach,
    // are set to kPeeled. count(j) gives candidate j's reference count.
    template <class Count>
    void peel(std::int32_t bias, Count&& count) {
        if (!started) return;
        // An unreached candidate's references all come from unreached candidates: its in-degree
        // there is its count less the collector's hold.
        for (std::uint32_t j = 0; j < size; ++j)
            if ((slots[j].link & kCandidate) && slots[j].refs != kReached) {
                slots[j].refs = count(j) - bias;
                if (slots[j].refs == 0) stack.push_back(j);
            }
        while (!stack.empty()) {
            const std::uint32_t j = stack.back();
            stack.pop_back();
            slots[j].refs = kPeeled;
            for_each_edge(j, [&](std::uint32_t t) {
                if ((slots[t].link & kCandidate) && slots[t].refs > 0 && --slots[t].refs == 0) stack.push_back(t);
            });
        }
    }
};

}  // namespace ouro::detail
