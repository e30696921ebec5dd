// The allocator (docs/design.md §2): size classes, statistics, PoolResource / PoolAllocator, memory
// returned to the OS, and misuse detection.
#include <ouro/ouro.hpp>

#include <gtest/gtest.h>

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <list>
#include <map>
#include <memory_resource>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace {

template <std::size_t N>
struct Sized : ouro::Object {
    char payload[N - sizeof(ouro::Object)];
};

// True while pools given back after `since` cannot have been purged yet: the purge delay (10 ms)
// is counted in whole milliseconds of the coarse clock, which may be a tick ahead.
bool before_purge_delay(std::chrono::steady_clock::time_point since) {
    timespec tick{};
    ::clock_getres(CLOCK_MONOTONIC_COARSE, &tick);
    return std::chrono::steady_clock::now() - since + std::chrono::nanoseconds(tick.tv_nsec) +
               std::chrono::milliseconds(1) < std::chrono::milliseconds(10);
}

std::size_t resident_bytes() {
    std::ifstream statm("/proc/self/statm");
    std::size_t pages = 0, resident = 0;
    statm >> pages >> resident;
    return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

}  // namespace

TEST(Allocator, GetsizeofIsTheSizeClassTheObjectOccupies) {
    ouro::Heap heap;
    ouro::Heap::Scope scope(heap);
    EXPECT_EQ(ouro::sys::getsizeof(*ouro::make<Sized<24>>()), 24u);
    EXPECT_EQ(ouro::sys::getsizeof(*ouro::make<Sized<32>>()), 32u);
    EXPECT_EQ(ouro::sys::getsizeof(*ouro::make<Sized<40>>()), 40u);
    EXPECT_EQ(ouro::sys::getsizeof(*ouro::make<Sized<512>>()), 512u);
    // Over 512 bytes: the system allocator, with the prefix that records where it belongs.
    auto big = ouro::make<Sized<520>>();
    EXPECT_GE(ouro::sys::getsizeof(*big), 520u);
    auto stats = ouro::sys::mallocstats();
    EXPECT_EQ(stats.large_blocks, 1u);
    EXPECT_EQ(stats.large_bytes, ouro::sys::getsizeof(*big));
}

TEST(Allocator, StatsAccountForEveryMappedByte) {
    ouro::Heap heap;
    ouro::Heap::Scope scope(heap);
    std::vector<ouro::Ref<Sized<48>>> keep;
    for (int i = 0; i < 10000; ++i) keep.push_back(ouro::make<Sized<48>>());
    auto st = ouro::sys::mallocstats();
    const auto& c = st.classes[ouro::detail::size_class(48)];
    EXPECT_EQ(c.size, 48u);
    EXPECT_EQ(c.blocks_in_use, 10000u);
    EXPECT_GE(c.pools, 10000u * 48 / ouro::detail::kPoolSize);
    EXPECT_EQ(st.bytes_in_use, 10000u * 48);
    EXPECT_EQ(st.bytes_in_use + st.bytes_free + st.unused_pool_bytes + st.pool_header_bytes + st.quantization_bytes +
                  st.arena_alignment_bytes,
              st.mapped_bytes());
    EXPECT_EQ(st.arenas_current, st.arenas_allocated_total - st.arenas_reclaimed);
    EXPECT_LE(st.unpurged_pool_bytes, st.unused_pool_bytes);
    std::ostringstream out;
    ouro::sys::debugmallocstats(out);
    EXPECT_NE(out.str().find("# arenas highwater mark"), std::string::npos);
    EXPECT_NE(out.str().find("# bytes lost to quantization"), std::string::npos);
}

// 64-byte blocks that fill about one arena.
constexpr std::size_t kArenaOf64 = ouro::detail::kArenaSize / 64;

TEST(Allocator, EmptyArenasGoBackToTheOS) {
    ouro::PoolResource pool;
    std::vector<void*> blocks;
    for (std::size_t i = 0; i < 13 * kArenaOf64; ++i) blocks.push_back(pool.allocate(64, 8));
    auto full = pool.stats();
    EXPECT_GE(full.arenas_current, 12u);
    for (void* b : blocks) pool.deallocate(b, 64, 8);
    auto empty = pool.stats();
    EXPECT_EQ(empty.bytes_in_use, 0u);
    // Kept against thrashing: one empty arena, and the arena of the one empty pool kept for the
    // size class.
    EXPECT_LE(empty.arenas_current, 2u);
    EXPECT_EQ(empty.arenas_reclaimed, full.arenas_current - empty.arenas_current);
    EXPECT_EQ(empty.arenas_highwater, full.arenas_current);
}

// A heap that shrinks from a peak keeps up to as many empty arenas as it has in use, for a
// quarter of a second: rebuilding soon after reuses them without faulting again; later (or at
// trim()) they go back.
TEST(Allocator, EmptyArenasAreKeptForAWhileThenGoBack) {
    ouro::PoolResource pool;
    std::vector<void*> kept, dropped;
    for (std::size_t i = 0; i < 10 * kArenaOf64; ++i) kept.push_back(pool.allocate(64, 8));
    for (std::size_t i = 0; i < 10 * kArenaOf64; ++i) dropped.push_back(pool.allocate(64, 8));
    const auto peak = pool.stats();
    const auto t0 = std::chrono::steady_clock::now();
    for (void* b : dropped) pool.deallocate(b, 64, 8);
    const auto shrunk = pool.stats();
    const std::size_t in_use = shrunk.arenas_current - shrunk.arenas_empty;
    EXPECT_LE(shrunk.arenas_empty, in_use);
    // Rebuilt at once: no arena mapped again.
    for (auto& b : dropped) b = pool.allocate(64, 8);
    const auto rebuilt = pool.stats();
    // (Under valgrind this takes longer than the window, and the arenas go back meanwhile.)
    if (std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(200)) {
        EXPECT_GE(shrunk.arenas_empty, in_use - 1) << "kept for reuse";
        EXPECT_EQ(rebuilt.arenas_allocated_total, peak.arenas_allocated_total);
    }
    for (void* b : dropped) pool.deallocate(b, 64, 8);

    // Later, the next pool released gives back the ones past their time.
    ::usleep(300'000);
    std::vector<void*> two_pools;  // of the 512-byte class: the first empties and is given back
    for (std::size_t i = 0; i < ouro::detail::kPoolBlockBytes / 512 + 10; ++i) two_pools.push_back(pool.allocate(512, 8));
    for (void* t : two_pools) pool.deallocate(t, 512, 8);
    const auto later = pool.stats();
    EXPECT_LE(later.arenas_empty, 1 + in_use / 16);
    EXPECT_EQ(later.arenas_reclaimed, later.arenas_allocated_total - later.arenas_current);

    // trim() does it at once; so does everything being freed.
    const auto t1 = std::chrono::steady_clock::now();
    for (auto& d : dropped) d = pool.allocate(64, 8);
    for (void* d : dropped) pool.deallocate(d, 64, 8);
    if (std::chrono::steady_clock::now() - t1 < std::chrono::milliseconds(200)) {
        EXPECT_GT(pool.stats().arenas_empty, 1 + in_use / 16);
    }
    pool.trim();
    EXPECT_LE(pool.stats().arenas_empty, 1 + in_use / 16);
    for (void* k : kept) pool.deallocate(k, 64, 8);
    EXPECT_LE(pool.stats().arenas_current, 2u);
}

// A pool hands out never-used blocks a page at a time, and blocks given back elsewhere in the
// class come before a new page: a class's resident memory follows its live blocks, not the
// extent of its newest pool.
TEST(Allocator, FreedBlocksAreReusedBeforeNewPagesAreTouched) {
    using ouro::detail::pool_of;
    ouro::PoolResource pool;
    std::vector<void*> blocks;
    for (std::size_t i = 0; i < ouro::detail::kPoolBlockBytes / 64 + 10; ++i) blocks.push_back(pool.allocate(64, 8));
    ouro::detail::Pool* first = pool_of(blocks.front());
    ouro::detail::Pool* newest = pool_of(blocks.back());
    ASSERT_NE(first, newest);
    for (std::size_t i = 0; i < 400; i += 2) pool.deallocate(blocks[i], 64, 8);
    const char* newest_first_page_end = newest->data() - ouro::detail::kPoolOffset + ouro::detail::kPageSize;
    std::size_t reused = 0;
    for (int i = 0; i < 200; ++i) {
        void* b = pool.allocate(64, 8);
        if (pool_of(b) == first) ++reused;
        else EXPECT_LT(static_cast<const char*>(b), newest_first_page_end) << "allocation " << i << " touched a new page";
    }
    EXPECT_GT(reused, 100u);
}

// A pool given back keeps its pages for a while (a class that emptied it may carve one again),
// then they go back to the OS, although its arena stays mapped for the pools still in use.
TEST(Allocator, FreePoolsArePurgedAfterAWhile) {
    constexpr std::size_t kArenas = 4;
    ouro::PoolResource pool;
    auto fill_and_free_all_but_first_pools = [&pool] {
        std::vector<void*> kept;
        std::vector<void*> freed;
        for (std::size_t i = 0; i < kArenas * kArenaOf64; ++i) {
            void* b = pool.allocate(64, 8);
            static_cast<char*>(b)[0] = 1;
            (ouro::detail::pool_of(b)->slot() == 1 ? kept : freed).push_back(b);
        }
        for (void* b : freed) pool.deallocate(b, 64, 8);
        return kept;
    };
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<void*> kept = fill_and_free_all_but_first_pools();
    const auto freed = pool.stats();
    const std::size_t resident = resident_bytes();
    EXPECT_LE(freed.unpurged_pool_bytes, freed.unused_pool_bytes);
    EXPECT_GE(freed.arenas_current, kArenas - 1) << "pinned by their first pools";
    // (Under valgrind the frees take longer than the delay, and pools are purged meanwhile.)
    if (before_purge_delay(t0)) {
        EXPECT_GE(freed.unpurged_pool_bytes, (kArenas - 1) * 25 * ouro::detail::kPoolSize);
    }

    // The next pool carved (or given back, or a full collection) after the delay releases them.
    ::usleep(30'000);
    void* other = pool.allocate(512, 8);
    const auto purged = pool.stats();
    EXPECT_EQ(purged.unpurged_pool_bytes, 0u);
    EXPECT_LE(resident_bytes() + freed.unpurged_pool_bytes * 9 / 10, resident)
        << "pages of free pools still resident";
    std::printf("free pools: %zu KiB resident, purged after the delay\n", freed.unpurged_pool_bytes >> 10);
    pool.deallocate(other, 512, 8);

    // trim() releases them at once.
    for (void* b : kept) pool.deallocate(b, 64, 8);
    kept = fill_and_free_all_but_first_pools();
    pool.trim();
    EXPECT_EQ(pool.stats().unpurged_pool_bytes, 0u);
    for (void* b : kept) pool.deallocate(b, 64, 8);
}

// A new pool goes where pages are still resident: into a pool given back moments ago, before
// the free pool of a fuller arena whose pages already went back to the OS (which the carving
// class would fault in again while the resident ones sat unused).
TEST(Allocator, NewPoolsReusePagesStillResident) {
    using ouro::detail::Pool;
    ouro::PoolResource pool;
    std::map<Pool*, std::vector<void*>> by_pool;  // ordered by address: by arena, then slot
    for (std::size_t i = 0; i < 2 * kArenaOf64; ++i) {
        void* b = pool.allocate(64, 8);
        static_cast<char*>(b)[0] = 1;
        by_pool[ouro::detail::pool_of(b)].push_back(b);
    }
    std::map<ouro::detail::Arena*, std::vector<Pool*>> by_arena;
    for (auto& [p, blocks] : by_pool) by_arena[p->arena()].push_back(p);
    std::vector<std::vector<Pool*>> full;  // the pools of each arena with no free pool
    for (auto& [a, pools] : by_arena)
        if (pools.size() == ouro::detail::kPoolsPerArena) full.push_back(pools);
    ASSERT_GE(full.size(), 2u);
    auto give_back = [&](const std::vector<Pool*>& in, std::size_t n) {
        pool.deallocate(by_pool[in.back()].back(), 64, 8);  // so the emptied pools are not the class's last
        by_pool[in.back()].pop_back();
        for (std::size_t i = 0; i < n; ++i) {
            for (void* b : by_pool[in[i]]) pool.deallocate(b, 64, 8);
            by_pool.erase(in[i]);
        }
    };
    give_back(full[0], 1);  // the fuller arena: one free pool
    pool.trim();            // whose pages go back to the OS
    ASSERT_EQ(pool.stats().unpurged_pool_bytes, 0u);

    const auto t0 = std::chrono::steady_clock::now();
    give_back(full[1], 2);  // two free pools, resident, in the emptier arena
    void* b = pool.allocate(128, 8);
    if (before_purge_delay(t0)) {
        EXPECT_EQ(ouro::detail::pool_of(b)->arena(), full[1][0]->arena());
        EXPECT_EQ(pool.stats().unpurged_pool_bytes, ouro::detail::kPoolSize) << "one resident free pool left";
    }
    pool.deallocate(b, 128, 8);
    for (auto& [p, blocks] : by_pool)
        for (void* x : blocks) pool.deallocate(x, 64, 8);
}

// Objects of the 64-byte class filling about `arenas` arenas of the current heap.
static std::vector<ouro::Ref<Sized<64>>> make_arenas_of_64(std::size_t arenas) {
    std::vector<ouro::Ref<Sized<64>>> objects;
    for (std::size_t i = 0; i < arenas * kArenaOf64; ++i) objects.push_back(ouro::make<Sized<64>>());
    return objects;
}

// gc::collect() gives back a heap's kept arenas.
TEST(Allocator, CollectGivesBackKeptArenas) {
    ouro::Heap heap;
    ouro::Heap::Scope scope(heap);
    auto kept = make_arenas_of_64(5);
    auto dropped = make_arenas_of_64(5);
    dropped.clear();
    EXPECT_GT(ouro::sys::mallocstats().arenas_empty, 1u);
    ouro::gc::collect();
    const auto st = ouro::sys::mallocstats();
    EXPECT_LE(st.arenas_empty, 1 + (st.arenas_current - st.arenas_empty) / 16);
}

// ... but not when called from inside a collection (a finalizer), where collect() does nothing.
struct CollectsInFinalizer : ouro::Object {
    static inline std::size_t empty_before = 0, empty_after = 0;
    ouro::Ref<ouro::Object> self;
    void trace(ouro::Visitor& visit) override { visit(self); }
    void finalize() override {
        empty_before = ouro::sys::mallocstats().arenas_empty;
        EXPECT_EQ(ouro::gc::collect(), 0u);
        empty_after = ouro::sys::mallocstats().arenas_empty;
    }
};

TEST(Allocator, NestedCollectLeavesKeptArenas) {
    ouro::Heap heap;
    ouro::Heap::Scope scope(heap);
    auto kept = make_arenas_of_64(5);
    auto dropped = make_arenas_of_64(5);
    {
        auto cycle = ouro::make<CollectsInFinalizer>();
        cycle->self = cycle;
    }
    const auto t0 = std::chrono::steady_clock::now();
    dropped.clear();
    ouro::gc::collect();
    // (Under valgrind the window may pass first, and the arenas go back meanwhile.)
    if (std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(200)) {
        EXPECT_GT(CollectsInFinalizer::empty_before, 1u);
    }
    EXPECT_EQ(CollectsInFinalizer::empty_after, CollectsInFinalizer::empty_before);
}

TEST(Allocator, PmrContainersAndPoolAllocator) {
    ouro::PoolResource pool;
    {
        std::pmr::vector<int> v(&pool);
        std::pmr::map<int, std::pmr::string> m(&pool);
        for (int i = 0; i < 1000; ++i) {
            v.push_back(i);
            m.emplace(i, std::pmr::string(40, 'x'));
        }
        EXPECT_EQ(v[999], 999);
        EXPECT_EQ(m.size(), 1000u);
        EXPECT_GT(pool.stats().bytes_in_use, 1000u * 40);
    }
    EXPECT_EQ(pool.stats().bytes_in_use, 0u);
    EXPECT_EQ(pool.stats().large_blocks, 0u);

    std::list<double, ouro::PoolAllocator<double>> l{ouro::PoolAllocator<double>(pool)};
    for (int i = 0; i < 100; ++i) l.push_back(i);
    EXPECT_EQ(pool.stats().classes[ouro::detail::size_class(24)].blocks_in_use, 100u);
    std::vector<int, ouro::PoolAllocator<int>> dflt;  // the thread's default resource
    dflt.assign(1000, 7);
    EXPECT_EQ(dflt.get_allocator().resource(), &ouro::PoolResource::thread_default());
    EXPECT_TRUE(ouro::PoolAllocator<int>(pool) == ouro::PoolAllocator<long>(pool));
}

TEST(Allocator, AlignmentIsHonoured) {
    ouro::PoolResource pool;
    for (std::size_t align : {1, 2, 4, 8, 16, 32, 64})
        for (std::size_t size : {1, 7, 8, 24, 40, 100, 512, 513, 4096}) {
            void* p = pool.allocate(size, align);
            EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % align, 0u) << size << " " << align;
            pool.deallocate(p, size, align);
        }
}

// 256 MiB of small blocks, 90% freed in a scattered order, then the rest; without a trim() the
// resident size must come back to within 2% of the growth of where it started (glibc malloc keeps
// most of it).
TEST(Allocator, ResidentMemoryReturnsAfterScatteredFrees) {
    constexpr std::size_t kBlock = 64;
    constexpr std::size_t kBytes = std::size_t{256} << 20;  // what it proves holds at any size
    constexpr std::size_t kCount = kBytes / kBlock;
    std::vector<void*> blocks(kCount);
    std::vector<std::uint32_t> order(kCount);
    for (std::uint32_t i = 0; i < kCount; ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), std::mt19937(42));
    const std::size_t start = resident_bytes();
    {
        ouro::PoolResource pool;
        for (auto& b : blocks) {
            b = pool.allocate(kBlock, 8);
            static_cast<char*>(b)[0] = 1;
        }
        const std::size_t peak = resident_bytes();
        EXPECT_GT(peak, start + kBytes * 9 / 10);
        const std::size_t ninety = kCount * 9 / 10;
        for (std::size_t i = 0; i < ninety; ++i) pool.deallocate(blocks[order[i]], kBlock, 8);
        for (std::size_t i = ninety; i < kCount; ++i) pool.deallocate(blocks[order[i]], kBlock, 8);
        const std::size_t end = resident_bytes();
        std::printf("resident: start %zu MiB, peak %zu MiB, after freeing all %zu MiB\n", start >> 20, peak >> 20,
                    end >> 20);
#ifdef OURO_ASAN
        // ASan builds poison free blocks: AddressSanitizer's shadow of the poisoned blocks (one
        // byte per eight) stays resident after the arenas are unmapped. That, and no more.
        const std::size_t shadow = (peak - start) / 8;
#else
        const std::size_t shadow = 0;
#endif
        EXPECT_LE(end, start + (peak - start) / 50 + shadow) << "start " << start << " peak " << peak << " end " << end;
    }
}

// The same with blocks of every size class: each class's last pool is kept, empty, against
// thrashing, and must not keep its arena (and the arena's stale pages) mapped.
TEST(Allocator, ResidentMemoryReturnsAfterFreeingManySizeClasses) {
    constexpr std::size_t kCount = 1'000'000;  // ~250 MiB of 16-512 B blocks, 62 classes
    std::vector<std::pair<void*, std::size_t>> blocks(kCount);
    std::mt19937 rng(7);
    for (auto& [b, size] : blocks) size = 16 + rng() % 497;
    const std::size_t start = resident_bytes();
    ouro::PoolResource pool;
    for (auto& [b, size] : blocks) static_cast<char*>(b = pool.allocate(size, 8))[0] = 1;
    const std::size_t peak = resident_bytes();
    std::shuffle(blocks.begin(), blocks.end(), rng);
    for (auto [b, size] : blocks) pool.deallocate(b, size, 8);
    const auto st = pool.stats();
    EXPECT_EQ(st.bytes_in_use, 0u);
    EXPECT_LE(st.arenas_current, 1u) << "arenas pinned by the kept pools of their classes";
#ifdef OURO_ASAN
    const std::size_t shadow = (peak - start) / 8;
#else
    const std::size_t shadow = 0;
#endif
    EXPECT_LE(resident_bytes(), start + (std::size_t{4} << 20) + shadow) << "peak " << (peak >> 20) << " MiB";
}

// The managed heap too, with its automatic collections on: a burst of 2 M tracked objects, freed
// in random order, leaves nothing behind without a trim() — the pools' arenas, the young list's
// array and the young collections' scratch all go back (each grows with the burst). The test's
// own vector is resident before the start is measured and until the end.
TEST(Allocator, ResidentMemoryReturnsAfterABurstOfManagedObjects) {
#ifdef OURO_ASAN
    GTEST_SKIP() << "AddressSanitizer's shadow and quarantine stay resident; the GCC passes measure it";
#endif
    struct Link : ouro::Object {
        ouro::Ref<Link> next;
        OURO_TRACE(next)
    };
    constexpr std::size_t kCount = 2'000'000;
    ouro::Heap heap;
    ouro::Heap::Scope scope{heap};
    std::vector<ouro::Ref<Link>> links(kCount);
    const std::size_t start = resident_bytes();
    for (auto& l : links) l = ouro::make<Link>();
    std::shuffle(links.begin(), links.end(), std::mt19937(3));
    const std::size_t peak = resident_bytes();
    for (auto& l : links) l = nullptr;
    // Emptied pools keep their pages for 10 ms (FreePoolsArePurgedAfterAWhile); the heap's next
    // collection after that gives back what it grew for the burst.
    ::usleep(30'000);
    ouro::gc::collect();
    const std::size_t end = resident_bytes();
    // 2% of the growth, and the one empty arena the allocator keeps against thrashing.
    EXPECT_LE(end, start + (peak - start) / 50 + ouro::detail::kArenaSize)
        << "start " << (start >> 20) << " MiB, peak " << (peak >> 20) << " MiB, end " << (end >> 20) << " MiB";
}

#if OURO_CHECKS
TEST(AllocatorDeathTest, DoubleFreeIsReported) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    ouro::PoolResource pool;
    void* a = pool.allocate(32, 8);
    void* b = pool.allocate(32, 8);
    pool.deallocate(a, 32, 8);
    EXPECT_DEATH(pool.deallocate(a, 32, 8), "double free");
    pool.deallocate(b, 32, 8);
}

TEST(AllocatorDeathTest, ForeignPointerIsReported) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    ouro::PoolResource pool, other;
    void* a = other.allocate(32, 8);
    EXPECT_DEATH(pool.deallocate(a, 32, 8), "did not hand out");
    int on_stack = 0;
    EXPECT_DEATH(pool.deallocate(&on_stack, 32, 8), "did not hand out");
    other.deallocate(a, 32, 8);
}

TEST(AllocatorDeathTest, OverflowIntoAFreeBlockIsCaughtAtTheNextAllocation) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_DEATH(
        {
            ouro::PoolResource pool;
            auto* a = static_cast<char*>(pool.allocate(32, 8));
            auto* b = static_cast<char*>(pool.allocate(32, 8));
            auto* c = pool.allocate(32, 8);
            pool.deallocate(c, 32, 8);
            pool.deallocate(b, 32, 8);  // b's link points at c
            // One byte past a: the low byte of b's link (through an integer, so the compiler's
            // object-size checks do not stop the deliberate overflow first).
            *reinterpret_cast<volatile unsigned char*>(reinterpret_cast<std::uintptr_t>(a) + 32) = 0x55;
            (void)pool.allocate(32, 8);
        },
        "link was overwritten");
}
#endif

TEST(Allocator, PoolHeadersAreNeverNextToABlock) {
    ouro::PoolResource pool;
    std::vector<char*> blocks;
    // Fill more than an arena with blocks of the 64-byte class: no block's end comes within 16
    // bytes of a header (slot 0 of an arena), and no header lies inside a pool.
    for (std::size_t i = 0; i < ouro::detail::kArenaSize / 64 + 1000; ++i)
        blocks.push_back(static_cast<char*>(pool.allocate(64, 8)));
    for (char* b : blocks) {
        auto addr = reinterpret_cast<std::uintptr_t>(b);
        auto in_arena = addr & (ouro::detail::kArenaSize - 1);
        EXPECT_GE(in_arena, ouro::detail::kPoolSize);  // not in the header slot
        EXPECT_LE(in_arena + 64 + ouro::detail::kPoolGuard, ouro::detail::kArenaSize);
        EXPECT_NE(reinterpret_cast<char*>(ouro::detail::pool_of(b)), b);
    }
    for (char* b : blocks) pool.deallocate(b, 64, 8);
}

#ifdef OURO_ASAN
// Under AddressSanitizer the pools poison free blocks past their header: reading a field of a
// freed small object is reported, though the pools are one mmap to ASan.
TEST(AllocatorDeathTest, UseAfterFreeOfASmallObjectIsReportedUnderAsan) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    struct Fields : ouro::Object {
        long a = 1, b = 2, c = 3;
    };
    EXPECT_DEATH(
        {
            ouro::Heap heap;
            ouro::Heap::Scope scope(heap);
            auto r = ouro::make<Fields>();
            volatile long* field = &r->c;
            r = nullptr;
            std::printf("%ld\n", *field);
        },
        "use-after-poison");
}

// ... and so is a write just past the last block of a pool (into its tail guard).
TEST(AllocatorDeathTest, OverflowPastAPoolsLastBlockIsReportedUnderAsan) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_DEATH(
        {
            ouro::PoolResource pool;
            char* last = nullptr;
            for (std::size_t i = 0; i < ouro::detail::kPoolBlockBytes / 64; ++i)  // fills one pool
                last = static_cast<char*>(pool.allocate(64, 8));
            *reinterpret_cast<volatile char*>(reinterpret_cast<std::uintptr_t>(last) + 64) = 1;
        },
        "use-after-poison");
}
#endif
