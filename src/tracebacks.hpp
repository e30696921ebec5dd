// A tracer's tracebacks, each stored once (CPython interns them in a hashtable too): traces keep
// a 32-bit id. A traceback is a sequence of frame words, most recent first: a native frame is a
// return address; a script frame (tracemalloc::FrameScope) has kScriptFrame set, the interned
// code (filename, function) in bits 32..62 and the line in bits 0..31.
#pragma once

#include <ouro/detail/open_table.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
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

class TracebackTable {
public:
    // The id (from 1) of the traceback `frames`, added if new. Throws std::bad_alloc.
    std::uint32_t intern(const std::uint64_t* frames, std::size_t n) {
        const std::uint64_t h = hash_frames(frames, n);
        if (Bucket* b = index_.find(h, [&](const Bucket& b) { return b.h == h && equal(b.id, frames, n); })) return b->id;
        index_.reserve_one();
        entries_.reserve(entries_.size() + 1);
        words_.insert(words_.end(), frames, frames + n);
        entries_.push_back({static_cast<std::uint32_t>(words_.size() - n), static_cast<std::uint32_t>(n)});
        const auto id = static_cast<std::uint32_t>(entries_.size());
        index_.place(Bucket{h, id, 0});
        return id;
    }
    std::span<const std::uint64_t> frames(std::uint32_t id) const noexcept {
        const Entry& e = entries_[id - 1];
        return {words_.data() + e.offset, e.length};
    }
    std::size_t size() const noexcept { return entries_.size(); }
    std::size_t bytes() const noexcept {
        return words_.capacity() * sizeof(std::uint64_t) + entries_.capacity() * sizeof(Entry) + index_.bytes();
    }
    void clear() noexcept {
        std::vector<std::uint64_t>().swap(words_);
        std::vector<Entry>().swap(entries_);
        index_.clear();
    }

private:
    struct Entry {
        std::uint32_t offset, length;
    };
    struct Bucket {
        std::uint64_t h;
        std::uint32_t id;  // 0: empty
        std::uint32_t pad;
        bool empty() const noexcept { return id == 0; }
        std::size_t hash() const noexcept { return h; }
    };
    static std::uint64_t hash_frames(const std::uint64_t* f, std::size_t n) noexcept {
        std::uint64_t h = n;
        for (std::size_t i = 0; i < n; ++i) h = mix(h ^ f[i]);
        return h | 1;
    }
    bool equal(std::uint32_t id, const std::uint64_t* f, std::size_t n) const noexcept {
        const auto have = frames(id);
        if (have.size() != n) return false;
        for (std::size_t i = 0; i < n; ++i)
            if (have[i] != f[i]) return false;
        return true;
    }
    std::vector<std::uint64_t> words_;
    std::vector<Entry> entries_;
    OpenTable<Bucket> index_;
};

}  // namespace ouro::detail
