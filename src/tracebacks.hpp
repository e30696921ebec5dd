// A tracer's tracebacks, each stored once (CPython interns them in a hashtable too): traces keep
// a 32-bit id. A traceback is a sequence of frame words, most recent first: a native frame is a
// return address; a script frame (tracemalloc::FrameScope) has kScriptFrame set, the interned
// code (filename, function) in bits 32..62 and the line in bits 0..31.
#pragma once

#include <ouro/detail/open_table.hpp>
#include <ouro/tracemalloc.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ouro::detail {

inline constexpr std::uint64_t kScriptFrame = std::uint64_t{1} << 63;
inline std::uint64_t script_word(std::uint32_t code, int lineno) noexcept {
    return kScriptFrame | std::uint64_t{code} << 32 | static_cast<std::uint32_t>(lineno);
}

// Script code names, interned for the process (an interpreter's files and functions are few).
std::uint32_t intern_code(std::string_view filename, std::string_view function);
std::pair<std::string, std::string> code_names(std::uint32_t code);

// A trie of frames rooted at the oldest one: a traceback is the node of its most recent frame,
// whose parent is the traceback of the frames older than it (CPython shares its tracebacks by
// interning too). Tracebacks with the same callers share those nodes, so a deep traceback costs
// a node for each frame below the callers it shares with one seen before. A node is 8 bytes (its
// parent and its word's index among the distinct words, which are few) plus 5 of index.
// Captures mostly share their older frames with an earlier one made from the same place on the
// stack: intern() compares the frames, oldest first, with the last capture of that place (its
// `place`, where the oldest frame lies) and looks up only the frames after the first difference.
// Nodes no live trace needs are dropped by sweep(). Traces keep a node id; the empty traceback
// is node 1.
class TracebackTable {
public:
    TracebackTable() = default;
    TracebackTable(const TracebackTable&) = delete;
    TracebackTable& operator=(const TracebackTable&) = delete;
    ~TracebackTable() { std::free(index_); }

    // The id (from 1) of the traceback `frames` (most recent first, at most MAX_NFRAME), added
    // if new. `place`: any number that tells where on the stack the oldest frame is (it only
    // picks the earlier capture to compare with). Throws std::bad_alloc.
    std::uint32_t intern(const std::uint64_t* frames, std::size_t n, std::uintptr_t place = 0) {
        if (nodes_.empty()) init();
        Path& last = paths_[(place >> 4) % kPaths];
        std::uint32_t id = kEmpty;
        std::size_t j = 0;
        for (const std::size_t same = n < last.n ? n : last.n; j < same && last.words[j] == frames[n - 1 - j]; ++j)
            id = last.ids[j];
        last.n = j;  // what stays valid if a lookup below throws
        for (; j < n; ++j) {
            const std::uint64_t w = frames[n - 1 - j];
            id = child(id, word_index(w));
            last.words[j] = w;
            last.ids[j] = id;
            last.n = j + 1;
        }
        return id;
    }
    // The traceback's frame words, most recent first.
    std::vector<std::uint64_t> frames(std::uint32_t id) const {
        std::vector<std::uint64_t> out;
        for (; id > kEmpty; id = nodes_[id].parent) out.push_back(words_[nodes_[id].word]);
        return out;
    }
    std::size_t nodes() const noexcept { return nodes_.size(); }
    std::size_t bytes() const noexcept {
        return nodes_.capacity() * sizeof(Node) + index_cap_ * sizeof(std::uint32_t) + words_.capacity() * sizeof(std::uint64_t) +
               word_index_.bytes() + (paths_ ? sizeof(WordCache) * kWordCache + sizeof(Path) * kPaths : 0);
    }
    void clear() noexcept {
        std::vector<Node>().swap(nodes_);
        std::vector<std::uint64_t>().swap(words_);
        word_index_.clear();
        std::free(index_);
        index_ = nullptr;
        index_cap_ = 0;
        word_cache_.reset();
        paths_.reset();
    }
    // Drops the nodes that no traceback in use needs. for_each_id(g) calls g(std::uint32_t&) on
    // every id in use (twice: to mark, then to renumber). false, and nothing changed, when the
    // memory for it cannot be had.
    template <class ForEachId>
    bool sweep(ForEachId&& for_each_id) noexcept {
        if (nodes_.empty()) return true;
        auto* renumber = static_cast<std::uint32_t*>(std::calloc(nodes_.size(), sizeof(std::uint32_t)));
        if (!renumber) return false;
        renumber[kEmpty] = kEmpty;
        for_each_id([&](std::uint32_t& id) {
            for (std::uint32_t i = id; i > kEmpty && !renumber[i]; i = nodes_[i].parent) renumber[i] = 1;
        });
        // A parent is older than its children: renumbering in order keeps that.
        std::uint32_t next = kEmpty + 1;
        for (std::uint32_t i = kEmpty + 1; i < nodes_.size(); ++i) {
            if (!renumber[i]) continue;
            nodes_[next] = {renumber[nodes_[i].parent], nodes_[i].word};
            renumber[i] = next++;
        }
        for_each_id([&](std::uint32_t& id) { id = renumber[id]; });
        std::free(renumber);
        nodes_.resize(next);
        std::memset(index_, 0, index_cap_ * sizeof(std::uint32_t));
        for (std::uint32_t id = kEmpty + 1; id < nodes_.size(); ++id) place(id, node_hash(nodes_[id].parent, nodes_[id].word));
        for (std::size_t k = 0; k < kPaths; ++k) paths_[k].n = 0;
        return true;
    }

private:
    static constexpr std::size_t kMaxFrames = tracemalloc::MAX_NFRAME;
    static constexpr std::uint32_t kEmpty = 1;      // node 0 is unused: an index slot of 0 is empty
    struct Node {
        std::uint32_t parent;  // the traceback of the older frames
        std::uint32_t word;    // index in words_
    };
    struct WordBucket {
        std::uint64_t h;
        std::uint32_t index1;  // index + 1; 0: empty
        std::uint32_t pad;
        bool empty() const noexcept { return index1 == 0; }
        std::size_t hash() const noexcept { return h; }
    };
    struct WordCache {  // words seen lately, direct-mapped: most lookups end here
        std::uint64_t word;
        std::uint32_t index1;
    };
    static constexpr std::size_t kWordCache = 256;
    struct Path {  // a capture, oldest frame first, and the node of each of its prefixes
        std::size_t n;
        std::uint64_t words[kMaxFrames];
        std::uint32_t ids[kMaxFrames];
    };
    static constexpr std::size_t kPaths = 32;

    void init() {
        word_cache_.reset(new WordCache[kWordCache]());
        paths_.reset(new Path[kPaths]);
        for (std::size_t k = 0; k < kPaths; ++k) paths_[k].n = 0;
        nodes_.reserve(64);
        nodes_.push_back({0, 0});
        nodes_.push_back({0, 0});
    }
    static std::uint64_t node_hash(std::uint32_t parent, std::uint32_t word) noexcept {
        return mix(std::uint64_t{parent} << 32 | word);
    }
    std::size_t home(std::uint64_t h) const noexcept {
        return static_cast<std::size_t>((std::uint64_t{static_cast<std::uint32_t>(h)} * index_cap_) >> 32);
    }
    std::uint32_t word_index(std::uint64_t w) {
        WordCache& c = word_cache_[mix(w) & (kWordCache - 1)];
        if (c.index1 && c.word == w) return c.index1 - 1;
        const std::uint64_t h = mix(w) | 1;
        WordBucket* b = word_index_.find(h, [&](const WordBucket& b) { return b.h == h && words_[b.index1 - 1] == w; });
        if (!b) {
            word_index_.reserve_one();
            words_.push_back(w);
            b = &word_index_.place(WordBucket{h, static_cast<std::uint32_t>(words_.size()), 0});
        }
        c = {w, b->index1};
        return b->index1 - 1;
    }
    // The node (parent, word), added if new. Linear probing over node ids, at most 80% full:
    // the index holds ids only, a probe compares the node.
    std::uint32_t child(std::uint32_t parent, std::uint32_t word) {
        const std::uint64_t h = node_hash(parent, word);
        for (std::size_t i = index_cap_ ? home(h) : 0; index_cap_; i = i + 1 == index_cap_ ? 0 : i + 1) {
            const std::uint32_t id = index_[i];
            if (!id) break;
            if (nodes_[id].parent == parent && nodes_[id].word == word) return id;
        }
        if (nodes_.size() >= UINT32_MAX) throw std::bad_alloc();
        if ((nodes_.size() + 1) * 5 > index_cap_ * 4) grow_index();
        if (nodes_.size() == nodes_.capacity()) nodes_.reserve(nodes_.size() + nodes_.size() / 2);  // less slack than doubling
        const auto id = static_cast<std::uint32_t>(nodes_.size());
        nodes_.push_back({parent, word});
        place(id, h);
        return id;
    }
    void place(std::uint32_t id, std::uint64_t h) noexcept {
        std::size_t i = home(h);
        while (index_[i]) i = i + 1 == index_cap_ ? 0 : i + 1;
        index_[i] = id;
    }
    void grow_index() {
        const std::size_t cap = index_cap_ ? index_cap_ + index_cap_ / 4 : 64;
        auto* fresh = static_cast<std::uint32_t*>(std::calloc(cap, sizeof(std::uint32_t)));
        if (!fresh) throw std::bad_alloc();
        std::free(index_);
        index_ = fresh;
        index_cap_ = cap;
        for (std::uint32_t id = kEmpty + 1; id < nodes_.size(); ++id) place(id, node_hash(nodes_[id].parent, nodes_[id].word));
    }

    std::vector<Node> nodes_;           // by id
    std::vector<std::uint64_t> words_;  // the distinct frame words
    OpenTable<WordBucket> word_index_;
    std::unique_ptr<WordCache[]> word_cache_;
    std::uint32_t* index_ = nullptr;  // node ids (0: empty); a hash's home is (hash x cap) >> 32
    std::size_t index_cap_ = 0;
    std::unique_ptr<Path[]> paths_;  // by place
};

}  // namespace ouro::detail
