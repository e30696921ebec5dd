// Arena and pool management behind BlockAllocator's inline fast paths.
//
// Policy (after pymalloc, docs/cpython.md §6): a new pool is carved from the arena with the
// fewest free pools, so allocations pack into the fullest arenas and the emptiest ones drain
// and go back to the OS — unless a free pool's pages are still resident (see purge_pools):
// then it is reused first, as faulting in other pages would only add to the footprint. Against
// map/unmap thrashing, empty arenas are kept for a while (see unmap_empty); a heap that drains
// completely keeps one.
#include <ouro/detail/block_allocator.hpp>

#include "os.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iomanip>
#include <new>
#include <ostream>

namespace ouro::detail {

namespace {
constexpr std::int64_t kRetainNs = 250'000'000;  // how long empty arenas beyond the allowance stay
// How long a pool given back keeps its pages: a class that empties a pool often carves one again
// soon, and finds it resident; one that no longer needs it stops pinning its pages (see purge_pools).
constexpr std::int64_t kPurgeDelayNs = 10'000'000;
std::int64_t now_ns() noexcept { return os::coarse_now_ns(); }  // 4 ms resolution is plenty here
std::uint32_t to_ms(std::int64_t ns) noexcept { return static_cast<std::uint32_t>(ns / 1'000'000); }
// The pages of a pool's slot that were ever touched: those below its bump offset.
std::size_t touched_bytes(Pool* p) noexcept {
    const auto below_bump = static_cast<std::size_t>(p->bump_end() - (p->data() - kPoolOffset));
    return (below_bump + kPageSize - 1) & ~std::size_t{kPageSize - 1};
}
}  // namespace

BlockAllocator::BlockAllocator() noexcept {
    for (auto& per_kind : current_) per_kind.fill(&sentinel_);
    lists_ = current_;
    for (auto& per_kind : tails_) per_kind.fill(nullptr);
}

BlockAllocator::~BlockAllocator() {
    if (hook_) hook_->allocator_destroyed(*this);
    for (Arena* a : arenas_) {
        unpoison(a->base(), kArenaSize);
        os::unmap(a->base(), kArenaSize);
    }
}

// Checked builds mark each free block of 16 bytes or more with kFreeMark in bytes 8..11 (a managed
// object's count; its GC word, bytes 12..15, stays zero so pool walks see a free block), so a
// double free is caught in O(1): the mark can only be a false alarm, which a walk of the free list
// then rules out. Blocks of 8 bytes have room for the link alone: for them the list is walked.
namespace {
constexpr std::uint32_t kFreeMark = 0x0b10c5edu;
std::uint32_t* free_mark(Pool* p, void* b) noexcept {
    return p->block_size >= 16 ? reinterpret_cast<std::uint32_t*>(static_cast<char*>(b) + 8) : nullptr;
}
[[noreturn]] void corrupt(const char* what, const void* b, const Pool* p) {
    std::fprintf(stderr, "ouro: %s (block %p, pool %p, size class %u bytes)\n", what, b, static_cast<const void*>(p),
                 p->block_size);
    std::abort();
}
}  // namespace

void BlockAllocator::check_free(Pool* p, void* b) const noexcept {
    const char* c = static_cast<const char*>(b);
    bool ours = owns(b) && p->owner == this && c >= p->data() && c < p->bump_end() &&
                (static_cast<std::size_t>(c - p->data()) % p->block_size) == 0;
    if (!ours) {
        std::fprintf(stderr, "ouro: free of %p, which this allocator did not hand out\n", b);
        std::abort();
    }
    std::uint32_t* mark = free_mark(p, b);
    if (p->used == 0 || !mark || *mark == kFreeMark)
        for (void* f = p->free_list; f; f = *static_cast<void**>(f))
            if (f == b) corrupt("double free", b, p);
    if (mark) *mark = kFreeMark;
}

// Validates the link of the block being allocated: it must be null or another block of the
// same pool. A neighbour's overflow into a free block shows up here, not as a wild pointer later.
void BlockAllocator::check_link(Pool* p, void* b, void* next) noexcept {
    if (std::uint32_t* mark = free_mark(p, b)) *mark = 0;
    if (!next) return;
    auto off = static_cast<std::size_t>(static_cast<char*>(next) - p->data());
    if (pool_of(next) != p || static_cast<char*>(next) < p->data() || next >= p->bump_end() ||
        off % p->block_size != 0)
        corrupt("heap corruption: a free block's link was overwritten (a write past the end of the block before it?)",
                b, p);
}

MallocStats BlockAllocator::stats() const {
    MallocStats st;
    for (unsigned c = 0; c < kNumClasses; ++c) st.classes[c].size = class_size(c);
    st.arenas_allocated_total = counters_.arenas_allocated_total;
    st.arenas_reclaimed = counters_.arenas_reclaimed;
    st.arenas_highwater = counters_.arenas_highwater;
    st.arenas_current = arenas_.size();
    st.arenas_empty = empty_arenas_;
    st.arena_size = kArenaSize;
    st.pool_size = kPoolSize;
    st.large_blocks = counters_.large_blocks;
    st.large_bytes = counters_.large_bytes;
    std::size_t pools_in_use = 0;
    const_cast<BlockAllocator*>(this)->for_each_pool([&](Pool& p) {
        SizeClassStats& c = st.classes[p.size_class];
        ++c.pools;
        c.blocks_in_use += p.used;
        c.blocks_free += static_cast<std::size_t>(p.capacity - p.used);
        st.bytes_in_use += std::size_t{p.used} * p.block_size;
        st.bytes_free += static_cast<std::size_t>(p.capacity - p.used) * p.block_size;
        st.quantization_bytes += kPoolSize - std::size_t{p.capacity} * p.block_size;  // incl. offset and guard
        ++pools_in_use;
    });
    for (const Arena* a = dirty_arenas_; a; a = a->dirty_next)  // their dirty pools lead free_pools
        for (Pool* p = a->free_pools; p && p->dirty; p = p->next) st.unpurged_pool_bytes += touched_bytes(p);
    // Each arena's first slot holds the headers (only its first page is ever touched).
    st.pool_header_bytes = arenas_.size() * kPoolSize;
    st.unused_pool_bytes = (arenas_.size() * kPoolsPerArena - pools_in_use) * kPoolSize;
    return st;
}

namespace {
// Arenas of destroyed heaps that still hold live objects. They are never unmapped; keeping them
// listed documents that (and keeps leak checkers from reporting an intentional retention).
std::vector<Arena*>& orphaned_arenas() {
    static auto* arenas = new std::vector<Arena*>;
    return *arenas;
}
}  // namespace

void BlockAllocator::orphan_live_pools() noexcept {
    std::erase_if(arenas_, [this](Arena* a) {
        bool live = false;
        for (std::size_t i = 1; i < kArenaSlots - a->untouched; ++i) {
            Pool* p = a->pool(i);
            p->set_in_list(false);  // the lists are dropped below
            if (p->used != 0) {
                p->owner = nullptr;
                live = true;
            }
        }
        if (!live) return false;  // unmapped with the allocator (it may hold kept, empty pools)
        bucket_remove(a);
        if (a->dirty) remove_dirty(a, a->dirty);
        try {
            orphaned_arenas().push_back(a);
        } catch (const std::bad_alloc&) {
        }
        return true;  // left mapped on purpose: its objects may still be in use
    });
    for (auto& per_kind : current_) per_kind.fill(&sentinel_);
    lists_ = current_;
    for (auto& per_kind : tails_) per_kind.fill(nullptr);
}

bool BlockAllocator::owns_any(const void* lo, const void* hi) const noexcept {
    auto it = std::upper_bound(arenas_.begin(), arenas_.end(), static_cast<const char*>(hi),
                               [](const char* x, const Arena* a) { return x < a->base(); });
    if (it == arenas_.begin()) return false;
    return static_cast<const char*>(lo) < (*(it - 1))->base() + kArenaSize;
}

// Pools with free blocks form one list per (kind, size class). Allocation serves the head until
// it is exhausted; a pool that gets a block back joins at the tail, so it gathers more free blocks
// before it is served again (with scattered frees, front insertion made nearly every allocation
// and every free take the slow path).
void BlockAllocator::link_back(Pool* p) noexcept {
    Pool*& h = head(p->kind, p->size_class);
    if (h == &sentinel_) h = nullptr;
    PoolLinks::push_back(h, tails_[p->kind][p->size_class], p);
    head_changed(p->kind, p->size_class);
    p->set_in_list(true);
}

void BlockAllocator::unlink(Pool* p) noexcept {
    Pool*& h = head(p->kind, p->size_class);
    PoolLinks::remove(h, &tails_[p->kind][p->size_class], p);
    if (!h) h = &sentinel_;
    head_changed(p->kind, p->size_class);
    p->set_in_list(false);
}

// A pool hands out its never-used blocks a page at a time (Pool::limit stops at the page's last
// block). When the page is used up while the next pool of the class holds a quarter of a page of
// blocks given back, that pool is served first and this one goes to the tail. So a class touches
// new pages only while its freed blocks are too few to be worth a detour, and its resident
// memory follows its peak of live blocks. A quarter page: fewer made allocation hop between pools
// holding a block or two, more left freed blocks unused (docs/decisions.md, 2026-11-24).
void* BlockAllocator::allocate_slow(unsigned cls, PoolKind kind) {
    if (OURO_UNLIKELY(hook_ != nullptr)) return allocate_hooked(cls, kind, {__builtin_return_address(0), __builtin_dwarf_cfa()});
    return refill(cls, kind);
}

// With a hook, every allocation comes here (the fast path saw the sentinel): the block is
// taken from the real lists, then reported.
void* BlockAllocator::allocate_hooked(unsigned cls, PoolKind kind, CallSite caller) {
    void* b = take(head(kind, cls));
    if (!b) b = refill(cls, kind);
    if (!sample_point(class_size(cls))) return b;
    try {
        hook_->allocated(b, class_size(cls), kind, caller);
    } catch (...) {
        deallocate(b);  // the hook has no record of it
        throw;
    }
    return b;
}

// The fast path failed on the head pool: finds or makes one that serves, and serves from it.
void* BlockAllocator::refill(unsigned cls, PoolKind kind) {
    auto serve = [&] {
        fault_point();
        return take(head(kind, cls));
    };
    for (;;) {
        Pool* head = this->head(kind, cls);
        if (head == &sentinel_) {
            link_back(new_pool(cls, kind));
            return serve();
        }
        if (head->free_list || head->bump != head->limit) return serve();
        if (head->limit != head->end()) {  // a page used up
            const Pool* next = head->next;
            if (next && std::uint32_t{next->capacity} - next->used >= kPageSize / 4 / head->block_size) {
                // Only a class's newest pool has never-used blocks, and any pool behind it got
                // into the list by a free: the next head has a free list.
                unlink(head);
                link_back(head);
            } else {
                head->extend_limit();
            }
            return serve();
        }
        unlink(head);  // exhausted: it rejoins the list when a block comes back
    }
}

void BlockAllocator::deallocate_slow(Pool* p) noexcept {
    if (p->free_flags & Pool::kTracedFrees) hook_->freed(p->free_list, p->block_size, p);  // the block just freed
    if (!p->in_list()) link_back(p);  // was full: it has a free block again
    if (p->used != 0) return;
    Arena* a = p->arena();
    // The only pool of its class stays, empty: a loop that allocates and frees one block would
    // otherwise carve and give back a pool every time.
    if (head(p->kind, p->size_class) != p || p->next) {
        unlink(p);
        give_back(p);
    }
    // Below the allowance there is nothing to give back or unmap (the common case of the loop).
    if (empty_arenas_ < empty_arenas_to_keep()) return;
    // Kept pools must not pin arenas that are otherwise empty (a heap freed of blocks of 60 size
    // classes kept 60 arenas, with their stale pages): once the heap keeps its allowance of empty
    // arenas, an arena whose only pools in use are kept ones gives them back.
    if (a->nfree != kPoolsPerArena) release_kept(a);
    purge();  // last: it may unmap a
}

// If a's only pools in use are the kept, empty pools of their classes, gives them all back (a
// becomes empty; the caller purges).
void BlockAllocator::release_kept(Arena* a) noexcept {
    const std::size_t end = kArenaSlots - a->untouched;
    for (std::size_t i = 1; i < end; ++i)
        if (a->pool(i)->used != 0) return;  // given-back pools have used == 0 and are not listed
    for (std::size_t i = 1; i < end; ++i)
        if (Pool* q = a->pool(i); q->in_list()) {
            unlink(q);
            give_back(q);
        }
}

Pool* BlockAllocator::new_pool(unsigned cls, PoolKind kind) {
    purge_pools_if_due();
    // A free pool still resident first: the first free pool of the arena at the head of the
    // dirty list (the last to get a dirty pool while it had none).
    Arena* a = dirty_arenas_ ? dirty_arenas_ : pick_arena();
    Pool* p;
    if (a->free_pools) {
        p = a->free_pools;
        a->free_pools = p->next;
        if (p->dirty) {
            p->dirty = false;
            remove_dirty(a);
        }
    } else {
        p = a->pool(kArenaSlots - a->untouched);
        --a->untouched;
    }
    bucket_remove(a);
    if (a->nfree == kPoolsPerArena) --empty_arenas_;
    --a->nfree;
    bucket_insert(a);

    const auto bs = static_cast<std::uint32_t>(class_size(cls));
    char* first = p->data();
    unpoison(first, kPoolSize - kPoolOffset);  // it may have served another size class (tail)
    p->free_list = nullptr;
    p->capacity = static_cast<std::uint16_t>(kPoolBlockBytes / bs);
    p->bump = static_cast<std::uint32_t>(first - reinterpret_cast<char*>(p));
    p->block_size = static_cast<std::uint16_t>(bs);
    p->extend_limit();
    // ASan builds poison the 64-byte lead and the tail past the last block: a small overflow or
    // underflow of a pool's first or last block is reported.
    char* slot_end = first - kPoolOffset + kPoolSize;
    char* tail = first + std::size_t{p->capacity} * bs;
    poison(first - kPoolOffset, kPoolOffset);
    poison(tail, static_cast<std::size_t>(slot_end - tail));
    p->used = 0;
    p->div_magic = static_cast<std::uint32_t>(((std::uint64_t{1} << 32) + bs - 1) / bs);
    p->size_class = static_cast<std::uint8_t>(cls);
    p->kind = kind;
    p->free_flags = hook_ && !until_sample_ ? Pool::kUnlisted | Pool::kTracedFrees : Pool::kUnlisted;
    p->owner = this;
    return p;
}

void BlockAllocator::give_back(Pool* p) noexcept {
    if (hook_) hook_->pool_released(p);
    Arena* a = p->arena();
    const std::int64_t now = now_ns();
    bucket_remove(a);
    ++a->nfree;
    p->next = a->free_pools;
    a->free_pools = p;
    p->dirty = true;
    p->freed_ms = to_ms(now);
    add_dirty(a);
    if (a->nfree == kPoolsPerArena) {
        ++empty_arenas_;
        a->empty_since = now;
    }
    bucket_insert(a);
    if (purge_due_ == INT64_MAX) purge_due_ = now + kPurgeDelayNs;
    else if (now >= purge_due_) purge_pools(now, false);
}

// A pool given back keeps its pages (they are reused at no cost if a pool is carved there soon)
// until it has been free for kPurgeDelayNs; then they go back to the OS. Without this, every slot
// a heap ever used would stay resident until its arena was unmapped, and an arena stays mapped
// while any pool in it is in use; purging at once costs shapes that empty and refill pools
// (docs/decisions.md). While they wait, new pools are carved from them (new_pool), so a
// heap that drains and rebuilds reuses its pages. Checked when a pool is carved or given back
// and at purge(); all at once by trim(). The scan visits only arenas with such pools, and runs at
// most once per clock tick (4 ms) with a pool due.
void BlockAllocator::purge_pools(std::int64_t now, bool all) noexcept {
    const std::uint32_t now_ms = to_ms(now);
    constexpr auto delay_ms = static_cast<std::uint32_t>(kPurgeDelayNs / 1'000'000);
    std::int64_t due = INT64_MAX;
    for (Arena* a = dirty_arenas_; a;) {
        Arena* next = a->dirty_next;  // remove_dirty may unlink a
        // The dirty pools are free_pools' first ones (given back newest first, purged oldest
        // first): once one is due, so are all behind it. (Purging those by position, not age,
        // also keeps the order when freed_ms wraps, after 49 days.)
        bool due_from_here = all;
        for (Pool* p = a->free_pools; p && p->dirty; p = p->next) {
            const std::uint32_t age = now_ms - p->freed_ms;  // wraps correctly
            if (due_from_here || age >= delay_ms) {
                due_from_here = true;
                os::discard(p->data() - kPoolOffset, touched_bytes(p));
                p->dirty = false;
                remove_dirty(a);
            } else {
                due = std::min(due, now + std::int64_t{delay_ms - age} * 1'000'000);
            }
        }
        a = next;
    }
    purge_due_ = due;
}

void BlockAllocator::purge_pools_if_due() noexcept {
    if (purge_due_ != INT64_MAX)
        if (const std::int64_t now = now_ns(); now >= purge_due_) purge_pools(now, false);
}

// Empty arenas kept mapped against map/unmap thrashing: one, plus one per 16 arenas in use, for
// good; and beyond that, for up to kRetainNs, as many as are in use. So a heap that builds and
// drops large structures again and again does not remap (and re-fault) its arenas each time, a
// heap that drains completely gives back all but one at once, and one that shrinks from a peak
// gives back the rest within kRetainNs of its next pool release or full collection, or at trim().
std::size_t BlockAllocator::empty_arenas_to_keep() const noexcept {
    return 1 + (arenas_.size() - empty_arenas_) / 16;
}

void BlockAllocator::unmap_empty(bool expired_only) noexcept {
    const std::int64_t now = expired_only ? now_ns() : 0;
    while (empty_arenas_ > empty_arenas_to_keep()) {
        Arena* a = oldest_empty_;  // the newest are reused first (pick_arena takes a bucket's head)
        const std::size_t in_use = arenas_.size() - empty_arenas_;
        if (expired_only && empty_arenas_ <= in_use && now - a->empty_since < kRetainNs) return;
        bucket_remove(a);
        --empty_arenas_;
        unmap_arena(a);
    }
}

void BlockAllocator::trim() noexcept {
    for (Arena* a : arenas_)  // release_kept never unmaps
        if (a->nfree != kPoolsPerArena) release_kept(a);
    unmap_empty(false);
    purge_pools(0, true);
}
void BlockAllocator::purge() noexcept {
    if (empty_arenas_ > empty_arenas_to_keep()) unmap_empty(true);
    purge_pools_if_due();
}

Arena* BlockAllocator::pick_arena() {
    if (nonempty_buckets_ == 0) new_arena();
    // Lowest set bit = the arena with the fewest free pools that still has one.
    return by_nfree_[static_cast<std::size_t>(__builtin_ctzll(nonempty_buckets_)) + 1];
}

void BlockAllocator::add_dirty(Arena* a) noexcept {
    if (a->dirty++ == 0) DirtyLinks::push_front(dirty_arenas_, a);
}

void BlockAllocator::remove_dirty(Arena* a, std::uint32_t pools) noexcept {
    if ((a->dirty -= pools) == 0) DirtyLinks::remove(dirty_arenas_, nullptr, a);
}

void BlockAllocator::new_arena() {
    fault_point();
    // Aligned to its size, so the arena (and so every pool) is found by masking an address.
    void* aligned = os::map_aligned(kArenaSize, kArenaSize);
    if (!aligned) throw std::bad_alloc();
    auto* a = new (aligned) Arena{kPoolsPerArena, kPoolsPerArena, 0, nullptr, nullptr, nullptr, nullptr, nullptr, 0};
    try {
        arenas_.insert(std::upper_bound(arenas_.begin(), arenas_.end(), a, std::less<>()), a);
    } catch (...) {
        os::unmap(a->base(), kArenaSize);
        throw;
    }
    ++empty_arenas_;
    ++counters_.arenas_allocated_total;
    counters_.arenas_highwater = std::max(counters_.arenas_highwater, arenas_.size());
    bucket_insert(a);
}

void BlockAllocator::unmap_arena(Arena* a) noexcept {
    unpoison(a->base(), kArenaSize);  // the range may be mapped again, by anyone
    arenas_.erase(std::find(arenas_.begin(), arenas_.end(), a));
    if (a->dirty) remove_dirty(a, a->dirty);
    os::unmap(a->base(), kArenaSize);
    ++counters_.arenas_reclaimed;
}

void BlockAllocator::bucket_insert(Arena* a) noexcept {
    Arena*& head = by_nfree_[a->nfree];
    if (!head && a->nfree == kPoolsPerArena) oldest_empty_ = a;
    BucketLinks::push_front(head, a);
    if (a->nfree) nonempty_buckets_ |= std::uint64_t{1} << (a->nfree - 1);
}

void BlockAllocator::bucket_remove(Arena* a) noexcept {
    if (a == oldest_empty_) oldest_empty_ = a->prev;
    Arena*& head = by_nfree_[a->nfree];
    BucketLinks::remove(head, nullptr, a);
    if (!head && a->nfree) nonempty_buckets_ &= ~(std::uint64_t{1} << (a->nfree - 1));
}

void BlockAllocator::set_hook(Hook* hook, std::int64_t* until_sample) noexcept {
    hook_ = hook;
    until_sample_ = hook ? until_sample : nullptr;
    const bool every_free = hook && !until_sample;
    for (unsigned kind = 0; kind < kNumKinds; ++kind)
        for (unsigned cls = 0; cls < kNumClasses; ++cls) head_changed(static_cast<PoolKind>(kind), cls);
    for_each_carved_pool([&](Pool& p) {
        p.free_flags = static_cast<std::uint8_t>(every_free ? p.free_flags | Pool::kTracedFrees
                                                             : p.free_flags & ~Pool::kTracedFrees);
    });
}

void* BlockAllocator::allocate_large(std::size_t size, std::size_t align, const void* caller) {
    fault_point();
    void* p = ::operator new(size, std::align_val_t{align});
    if (hook_ && sample_point(size)) {
        try {
            hook_->allocated(p, size, kNumKinds, {caller ? caller : __builtin_return_address(0)});
        } catch (...) {
            ::operator delete(p, std::align_val_t{align});
            throw;
        }
    }
    ++counters_.large_blocks;
    counters_.large_bytes += size;
    return p;
}

void BlockAllocator::deallocate_large(void* p, std::size_t size, std::size_t align) noexcept {
    if (hook_) hook_->freed(p, size, nullptr);
    ::operator delete(p, std::align_val_t{align});
    --counters_.large_blocks;
    counters_.large_bytes -= size;
}

}  // namespace ouro::detail

namespace ouro {

void print_mallocstats(std::ostream& out, const MallocStats& st) {
    auto line = [&](const char* label, std::size_t value) {
        out << std::left << std::setw(36) << label << "= " << std::right << std::setw(21) << value << '\n';
    };
    out << "Small block threshold = " << detail::kMaxSmall << ", in " << MallocStats::kSizeClasses
        << " size classes.\n\nclass   size   num pools   blocks in use  avail blocks\n"
        << "-----   ----   ---------   -------------  ------------\n";
    for (std::size_t c = 0; c < st.classes.size(); ++c) {
        const SizeClassStats& k = st.classes[c];
        if (k.pools == 0) continue;
        out << std::setw(5) << c << std::setw(7) << k.size << std::setw(12) << k.pools << std::setw(16)
            << k.blocks_in_use << std::setw(14) << k.blocks_free << '\n';
    }
    out << '\n';
    line("# arenas allocated total", st.arenas_allocated_total);
    line("# arenas reclaimed", st.arenas_reclaimed);
    line("# arenas highwater mark", st.arenas_highwater);
    line("# arenas allocated current", st.arenas_current);
    line("# arenas empty (kept)", st.arenas_empty);
    line("# bytes in arenas", st.mapped_bytes());
    out << '\n';
    line("# bytes in allocated blocks", st.bytes_in_use);
    line("# bytes in available blocks", st.bytes_free);
    line("# bytes in unused pools", st.unused_pool_bytes);
    line("#   of which not yet purged", st.unpurged_pool_bytes);
    line("# bytes lost to pool headers", st.pool_header_bytes);
    line("# bytes lost to quantization", st.quantization_bytes);
    line("# bytes lost to arena alignment", st.arena_alignment_bytes);
    line("Total", st.bytes_in_use + st.bytes_free + st.unused_pool_bytes + st.pool_header_bytes +
                      st.quantization_bytes + st.arena_alignment_bytes);
    out << '\n';
    line("# large blocks (system allocator)", st.large_blocks);
    line("# bytes in large blocks", st.large_bytes);
}

}  // namespace ouro

namespace ouro::detail {

namespace {
std::string pool_name(const Pool* p) { return "pool " + std::to_string(reinterpret_cast<std::uintptr_t>(p)); }
std::string arena_name(const Arena* a) { return "arena " + std::to_string(reinterpret_cast<std::uintptr_t>(a)); }
}  // namespace

// Walks everything; called by tests (the randomized model, the fuzzer), never by the library.
std::string BlockAllocator::check() const {
    auto* self = const_cast<BlockAllocator*>(this);
    for (std::size_t i = 1; i < arenas_.size(); ++i)
        if (!(arenas_[i - 1] < arenas_[i])) return "arenas not sorted by address";
    std::size_t empty = 0, in_buckets = 0, dirty_arenas = 0;
    for (Arena* a : arenas_) {
        std::uint32_t free = 0, dirty = 0;
        bool clean_seen = false;
        for (Pool* p = a->free_pools; p; p = p->next) {
            if (p->arena() != a) return pool_name(p) + " on the free list of another arena";
            if (p->used != 0 || p->in_list()) return pool_name(p) + " is free but in use or listed";
            if (++free > kPoolsPerArena) return arena_name(a) + ": free-pool list loops";
            if (p->dirty) {
                if (clean_seen) return arena_name(a) + ": a dirty free pool behind a purged one";
                ++dirty;
            } else {
                clean_seen = true;
            }
        }
        if (a->nfree != free + a->untouched) return arena_name(a) + ": nfree disagrees with its free pools";
        if (a->dirty != dirty) return arena_name(a) + ": dirty count disagrees with its free pools";
        dirty_arenas += dirty != 0;
        empty += a->nfree == kPoolsPerArena;
        for (std::size_t i = 1; i < kArenaSlots - a->untouched; ++i) {
            Pool* p = a->pool(i);
            if (p->used == 0 && !p->in_list()) continue;  // free: on the list above
            if (p->owner != this) return pool_name(p) + " does not name its allocator";
            if (p->kind >= kNumKinds || p->size_class >= kNumClasses) return pool_name(p) + ": bad kind or size class";
            std::size_t listed = 0;
            for (void* b = p->free_list; b; b = *static_cast<void* const*>(b))
                if (++listed > p->capacity) return pool_name(p) + ": free list loops";
            const std::size_t unused = (p->end() - p->bump) / p->block_size;
            if (p->used + listed + unused != p->capacity) return pool_name(p) + ": used + free + never used != capacity";
            const bool has_room = listed != 0 || unused != 0;
            if (has_room != p->in_list() && self->lists_[p->kind][p->size_class] != p)
                return pool_name(p) + (has_room ? " has free blocks but is not listed" : " is full but listed");
        }
    }
    if (empty != empty_arenas_) return "empty-arena count disagrees with the arenas";
    for (std::uint32_t k = 0; k <= kPoolsPerArena; ++k) {
        const Arena* prev = nullptr;
        for (const Arena* a = by_nfree_[k]; a; prev = a, a = a->next) {
            if (a->nfree != k) return arena_name(a) + " in the bucket of another free-pool count";
            if (a->prev != prev) return arena_name(a) + ": bucket links broken";
            ++in_buckets;
        }
        if (k == kPoolsPerArena && prev != oldest_empty_) return "the oldest empty arena is not its bucket's tail";
        if (k != 0 && (by_nfree_[k] != nullptr) != ((nonempty_buckets_ >> (k - 1)) & 1))
            return "bucket bitmap disagrees with bucket " + std::to_string(k);
    }
    if (in_buckets != arenas_.size()) return "arenas missing from the buckets or listed twice";
    std::size_t dirty_listed = 0;
    for (const Arena* a = dirty_arenas_; a; a = a->dirty_next) {
        if (a->dirty == 0) return arena_name(a) + " on the dirty list without a dirty pool";
        if (++dirty_listed > arenas_.size()) return "dirty-arena list loops";
    }
    if (dirty_listed != dirty_arenas) return "arenas with dirty pools missing from the dirty list";
    for (unsigned kind = 0; kind < kNumKinds; ++kind)
        for (unsigned cls = 0; cls < kNumClasses; ++cls) {
            const Pool* head = lists_[kind][cls];
            const Pool* tail = tails_[kind][cls];
            if ((head == &sentinel_) != (tail == nullptr)) return "pool list head and tail disagree";
            if (head == &sentinel_) continue;
            const Pool* prev = nullptr;
            std::size_t n = 0;
            for (const Pool* p = head; p; prev = p, p = p->next) {
                if (p->prev != prev || !p->in_list()) return pool_name(p) + ": pool list links broken";
                if (p->kind != kind || p->size_class != cls) return pool_name(p) + " in the list of another class";
                if (++n > arenas_.size() * kPoolsPerArena) return "pool list loops";
            }
            if (prev != tail) return "pool list tail is not its last pool";
        }
    return {};
}

}  // namespace ouro::detail
