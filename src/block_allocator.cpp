// Arena and pool management behind PoolAllocator's inline fast paths.
//
// Policy (after pymalloc, reference doc §6): a new pool is carved from the arena with the
// fewest free pools, so allocations pack into the fullest arenas and the emptiest ones drain
// and go back to the OS. One empty arena is kept mapped to avoid map/unmap thrashing.
#include <ouro/detail/pool_allocator.hpp>

#include <sys/mman.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <new>

namespace ouro::detail {

PoolAllocator::PoolAllocator() noexcept {
    for (auto& per_kind : current_) per_kind.fill(&sentinel_);
}

PoolAllocator::~PoolAllocator() {
    for (Arena* a : arenas_) {
        ::munmap(a->base, kArenaSize);
        delete a;
    }
}

void PoolAllocator::check_free(Pool* p, void* b) const noexcept {
    // Every pool this allocator hands out has `owner == this`; anything else is a foreign
    // pointer. A block on the free list already is a double free (checked builds walk the list:
    // O(free blocks in the pool), acceptable for a debugging aid).
    const char* c = static_cast<const char*>(b);
    bool ok = owns(b) && p->owner == this && p->used != 0 && c >= p->data() && c < p->bump_end() &&
              (static_cast<std::size_t>(c - p->data()) % p->block_size) == 0;
    if (ok)
        for (void* f = p->free_list; f; f = *static_cast<void**>(f))
            if (f == b) {
                std::fprintf(stderr, "ouro: double free of block %p (size %u)\n", b, p->block_size);
                std::abort();
            }
    if (!ok) {
        std::fprintf(stderr, "ouro: free of %p, which this heap's allocator did not hand out\n", b);
        std::abort();
    }
}

namespace {
// Arenas of destroyed heaps that still hold live objects. They are never unmapped; keeping them
// listed documents that (and keeps leak checkers from reporting an intentional retention).
std::vector<Arena*>& orphaned_arenas() {
    static auto* arenas = new std::vector<Arena*>;
    return *arenas;
}
}  // namespace

void PoolAllocator::orphan_live_pools() noexcept {
    std::erase_if(arenas_, [this](Arena* a) {
        if (a->nfree == kPoolsPerArena) return false;
        for (std::size_t i = 0; i < kPoolsPerArena - a->untouched; ++i) {
            auto* p = reinterpret_cast<Pool*>(a->base + i * kPoolSize);
            if (p->used != 0) p->owner = nullptr;
        }
        bucket_remove(a);
        try {
            orphaned_arenas().push_back(a);
        } catch (const std::bad_alloc&) {
        }
        return true;  // left mapped on purpose: its objects may still be in use
    });
    for (auto& per_kind : current_) per_kind.fill(&sentinel_);
}

bool PoolAllocator::owns(const void* p) const noexcept {
    auto* c = static_cast<const char*>(p);
    auto it = std::upper_bound(arenas_.begin(), arenas_.end(), c,
                               [](const char* x, const Arena* a) { return x < a->base; });
    if (it == arenas_.begin()) return false;
    const Arena* a = *(it - 1);
    return c < a->base + kArenaSize;
}

void* PoolAllocator::allocate_slow(unsigned cls, PoolKind kind) {
    Pool*& head = current_[kind][cls];
    // The head is exhausted: unlink it (it rejoins the list when a block comes back) and try
    // the next pool with free blocks before carving a new one.
    while (head != &sentinel_) {
        Pool* p = head;
        if (p->free_list || p->bump != p->limit) return allocate(cls, kind);
        head = p->next ? p->next : &sentinel_;
        if (p->next) p->next->prev = nullptr;
        p->next = p->prev = nullptr;
        p->in_list = false;
    }
    Pool* p = new_pool(cls, kind);
    p->in_list = true;
    p->next = p->prev = nullptr;
    head = p;
    return allocate(cls, kind);
}

void PoolAllocator::deallocate_slow(Pool* p) noexcept {
    Pool*& head = current_[p->kind][p->size_class];
    if (!p->in_list) {  // was full: it has a free block again, so it goes to the front
        p->in_list = true;
        p->prev = nullptr;
        p->next = head == &sentinel_ ? nullptr : head;
        if (p->next) p->next->prev = p;
        head = p;
    }
    if (p->used == 0) {
        if (p->prev) p->prev->next = p->next;
        else head = p->next ? p->next : &sentinel_;
        if (p->next) p->next->prev = p->prev;
        p->in_list = false;
        release_pool(p);
    }
}

Pool* PoolAllocator::new_pool(unsigned cls, PoolKind kind) {
    Arena* a = pick_arena();
    Pool* p;
    if (a->free_pools) {
        p = a->free_pools;
        a->free_pools = p->next;
    } else {
        p = reinterpret_cast<Pool*>(a->base + (kPoolsPerArena - a->untouched) * kPoolSize);
        --a->untouched;
    }
    bucket_remove(a);
    if (a->nfree == kPoolsPerArena) --empty_arenas_;
    --a->nfree;
    bucket_insert(a);

    const auto bs = static_cast<std::uint32_t>(class_size(cls));
    p->free_list = nullptr;
    p->capacity = static_cast<std::uint16_t>((kPoolSize - sizeof(Pool)) / bs);
    p->bump = sizeof(Pool);
    p->limit = static_cast<std::uint16_t>(sizeof(Pool) + std::size_t{p->capacity} * bs);
    p->used = 0;
    p->block_size = static_cast<std::uint16_t>(bs);
    p->div_magic = static_cast<std::uint32_t>(((std::uint64_t{1} << 32) + bs - 1) / bs);
    p->size_class = static_cast<std::uint8_t>(cls);
    p->kind = kind;
    p->in_list = false;
    p->base_index = 0;
    p->arena = a;
    p->owner = this;
    return p;
}

void PoolAllocator::release_pool(Pool* p) noexcept {
    Arena* a = p->arena;
    bucket_remove(a);
    ++a->nfree;
    p->next = a->free_pools;
    a->free_pools = p;
    if (a->nfree == kPoolsPerArena && ++empty_arenas_ > 1) {
        --empty_arenas_;
        unmap_arena(a);
        return;
    }
    bucket_insert(a);
}

Arena* PoolAllocator::pick_arena() {
    if (nonempty_buckets_ == 0) new_arena();
    // Lowest set bit = the arena with the fewest free pools that still has one.
    return by_nfree_[static_cast<std::size_t>(__builtin_ctzll(nonempty_buckets_)) + 1];
}

void PoolAllocator::new_arena() {
    // Map twice the size and trim, so the arena (and so every pool) is naturally aligned and
    // a pool header is found by masking an address.
    void* raw = ::mmap(nullptr, 2 * kArenaSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) throw std::bad_alloc();
    auto addr = reinterpret_cast<std::uintptr_t>(raw);
    auto aligned = (addr + kArenaSize - 1) & ~(kArenaSize - 1);
    if (aligned > addr) ::munmap(raw, aligned - addr);
    auto tail = addr + 2 * kArenaSize - (aligned + kArenaSize);
    if (tail) ::munmap(reinterpret_cast<void*>(aligned + kArenaSize), tail);

    auto* a = new (std::nothrow) Arena{reinterpret_cast<char*>(aligned), kPoolsPerArena, kPoolsPerArena,
                                       nullptr, nullptr, nullptr};
    if (!a) {
        ::munmap(reinterpret_cast<void*>(aligned), kArenaSize);
        throw std::bad_alloc();
    }
    try {
        arenas_.insert(std::upper_bound(arenas_.begin(), arenas_.end(), a,
                                        [](const Arena* x, const Arena* y) { return x->base < y->base; }),
                       a);
    } catch (...) {
        ::munmap(a->base, kArenaSize);
        delete a;
        throw;
    }
    ++empty_arenas_;
    ++counters_.arenas_allocated_total;
    counters_.arenas_highwater = std::max(counters_.arenas_highwater, arenas_.size());
    bucket_insert(a);
}

void PoolAllocator::unmap_arena(Arena* a) noexcept {
    arenas_.erase(std::find(arenas_.begin(), arenas_.end(), a));
    ::munmap(a->base, kArenaSize);
    delete a;
    ++counters_.arenas_reclaimed;
}

void PoolAllocator::bucket_insert(Arena* a) noexcept {
    Arena*& head = by_nfree_[a->nfree];
    a->prev = nullptr;
    a->next = head;
    if (head) head->prev = a;
    head = a;
    if (a->nfree) nonempty_buckets_ |= std::uint64_t{1} << (a->nfree - 1);
}

void PoolAllocator::bucket_remove(Arena* a) noexcept {
    if (a->prev) a->prev->next = a->next;
    else by_nfree_[a->nfree] = a->next;
    if (a->next) a->next->prev = a->prev;
    if (!by_nfree_[a->nfree] && a->nfree) nonempty_buckets_ &= ~(std::uint64_t{1} << (a->nfree - 1));
    a->next = a->prev = nullptr;
}

void* PoolAllocator::allocate_large(std::size_t size, std::size_t align) {
    void* p = ::operator new(size, std::align_val_t{align});
    ++counters_.large_blocks;
    counters_.large_bytes += size;
    return p;
}

void PoolAllocator::deallocate_large(void* p, std::size_t size, std::size_t align) noexcept {
    ::operator delete(p, size, std::align_val_t{align});
    --counters_.large_blocks;
    counters_.large_bytes -= size;
}

}  // namespace ouro::detail
