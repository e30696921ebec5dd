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
    std::uint32_t link;  // kCandidate | kInline | the one edge's target (or kNoTarget), or
                         // kCandidate | index of the candidate's run of edges in Graph::edges
};
constexpr std::int32_t kReached = INT32_MIN;
constexpr std::uint32_t kCandidate = 1u << 31;
constexpr std::uint32_t kInline = 1u << 30;
constexpr std::uint32_t kLinkMask = kInline - 1;
constexpr std::uint32_t kNoTarget = kLinkMask;  // also the limit on slots and on edges

inline bool is_candidate_slot(const Slot* slots, std::uint32_t j) noexcept { return slots[j].link & kCandidate; }

// The memory of one reachability analysis. Young collections reuse the heap's (they are frequent
// and small); full collections and resurrection checks use their own, returned when they end.
struct GraphBuffers {
    ScratchArray<Slot> slots;
    ScratchArray<std::uint32_t> edges;
    std::vector<std::uint32_t> stack;
};

// One reachability analysis over candidates numbered 0..slots-1.
struct Graph {
    ScratchArray<Slot>& slots;           // all zero: no candidates yet
    ScratchArray<std::uint32_t>& edges;  // runs of two or more targets, each ended by kNone
    std::vector<std::uint32_t>& stack;
    std::size_t size;
    bool started = false;

    Graph(GraphBuffers& b, std::size_t n) : slots(b.slots), edges(b.edges), stack(b.stack), size(n) {
        if (n >= kNoTarget) throw std::length_error("ouro::gc: a collection of more than 2^30 objects");
        edges.clear();
        stack.clear();
    }
    // The slots are zeroed when the first candidate is gathered: a collection that finds no
    // candidate (nothing changed) never touches them.
    void start() {
        if (started) return;
        slots.assign_zero(size);
        started = true;
    }
    bool reached(std::uint32_t j) const noexcept { return slots[j].refs == kReached; }

    // Marks everything reachable from the candidates with gc_refs > 0 (the roots), depth first
    // with an explicit stack. Objects with one reference (list links) cost one memory access per
    // step: the target is inline in the slot.
    void mark(std::uint32_t n) {
        if (!started) return;
        auto reach = [&](std::uint32_t t) {
            if (slots[t].refs == kReached) return;
            slots[t].refs = kReached;
            stack.push_back(t);
        };
        for (std::uint32_t root = 0; root < n; ++root) {
            if (!(slots[root].link & kCandidate) || slots[root].refs <= 0) continue;  // kReached < 0
            reach(root);
            while (!stack.empty()) {
                std::uint32_t link = slots[stack.back()].link;
                stack.pop_back();
                if (link & kInline) {
                    if ((link & kLinkMask) != kNoTarget) reach(link & kLinkMask);
                    continue;
                }
                for (const std::uint32_t* e = edges.data() + (link & kLinkMask); *e != kNone; ++e) reach(*e);
            }
        }
    }
};

}  // namespace ouro::detail
