// The weak references of one heap: referent -> its first record (the records of one referent are
// linked through WeakRecord::prev/next, its basic record first). An object only carries
// kHasWeakrefs, so one that never had a weak reference pays nothing (src/weakref.cpp).
//
// A bucket is 12 bytes: the referent's 32-bit hash and the record, whose `referent` is the key
// (docs/design.md §7). A lookup reads the record only when the hash matches, and every caller
// reads that record next anyway.
#pragma once

#include <ouro/detail/open_table.hpp>
#include <ouro/weakref.hpp>

#include <cstdint>
#include <cstring>

namespace ouro::detail {

class WeakRegistry {
public:
    struct Bucket {
        std::uint32_t hash_;
        std::uint32_t head_bits[2];  // the record pointer, 4-byte aligned; zero: empty
        bool empty() const noexcept { return (head_bits[0] | head_bits[1]) == 0; }
        std::size_t hash() const noexcept { return hash_; }
        WeakRecord* head() const noexcept {
            WeakRecord* r;
            std::memcpy(&r, head_bits, sizeof r);
            return r;
        }
        void set_head(WeakRecord* r) noexcept { std::memcpy(head_bits, &r, sizeof r); }
    };
    static_assert(sizeof(Bucket) == 12);

    static std::uint32_t hash_of(const void* referent) noexcept {
        return static_cast<std::uint32_t>(mix_pointer(referent));
    }

    bool empty() const noexcept { return table_.empty(); }
    std::size_t size() const noexcept { return table_.size(); }
    std::size_t bytes() const noexcept { return table_.bytes(); }

    // The bucket of o's records, or null.
    Bucket* find(const Object* o) const noexcept {
        const std::uint32_t h = hash_of(o);
        return table_.find(h, [&](const Bucket& b) { return b.hash_ == h && b.head()->referent == o; });
    }
    // The bucket whose first record is r (registered, its referent alive).
    Bucket* find_head(const WeakRecord* r) const noexcept {
        return table_.find(hash_of(r->referent), [r](const Bucket& b) { return b.head() == r; });
    }
    // Registers head as the first record of head->referent, which has none. Throws
    // std::bad_alloc, with nothing registered, when the table cannot grow.
    void insert(WeakRecord* head) {
        table_.reserve_one();
        Bucket b{};
        b.hash_ = hash_of(head->referent);
        b.set_head(head);
        table_.place(b);
    }
    // Room for one insert() that cannot fail.
    void reserve_one() { table_.reserve_one(); }
    void erase(Bucket* b) noexcept { table_.erase(b); }

    // f(referent, first record) for each registered object.
    template <class F>
    void for_each(F&& f) const {
        table_.for_each([&](const Bucket& b) {
            WeakRecord* head = b.head();
            f(static_cast<const void*>(head->referent), head);
        });
    }

private:
    WeakHash<Bucket> table_;
};

}  // namespace ouro::detail
