// Allocator shapes (after mimalloc-bench's single-threaded ones), built once per allocator:
//   BENCH_IMPL_OURO    ouro::PoolResource, the heap's allocator used on its own (issue 4)
//   BENCH_IMPL_MALLOC  malloc/free (glibc, or mimalloc / jemalloc when linked in: BENCH_IMPL_NAME)
// Shapes:
//   alloc_lifo     --n times: allocate one 32-byte block and free it
//   alloc_random   a working set of 100,000 slots; --n times: free a random slot's block and
//                  allocate one of a random size in {16, 24, 32, 48, 64, 96, 128, 256}
//   alloc_batch    allocate --n/10 blocks of random sizes, free them in random order; 10 rounds
// Verified: a checksum written into every block and read back before it is freed.
//
// Usage: alloc_<impl> [--n 10000000] [--reps 3]
#include "common.hpp"

#include <array>
#include <cstdlib>
#include <vector>


namespace {

constexpr std::array<std::size_t, 8> kSizes{16, 24, 32, 48, 64, 96, 128, 256};

#if defined(BENCH_IMPL_OURO)
// The heap's allocator on its own: ouro::PoolResource's inline path (what PoolAllocator<T> uses).
ouro::PoolResource g_pool;
struct Handle {
    std::uint64_t* p = nullptr;
    std::size_t size = 0;
};
Handle allocate(unsigned k, std::uint64_t v) {
    std::size_t size = k == 0 ? 24 : kSizes[k];
    auto* p = static_cast<std::uint64_t*>(g_pool.allocate_inline(size, alignof(std::max_align_t)));
    p[0] = v;
    return Handle{p, size};
}
std::uint64_t read(const Handle& h) { return h.p[0]; }
void release(Handle& h) {
    g_pool.deallocate_inline(h.p, h.size, alignof(std::max_align_t));
    h.p = nullptr;
}
#else
// The same handle as ouroboros' (which needs the size back for sized deallocation), so both
// sides' working sets are the same size.
struct Handle {
    std::uint64_t* p = nullptr;
    std::size_t size = 0;
};
Handle allocate(unsigned k, std::uint64_t v) {
    std::size_t size = k == 0 ? 24 : kSizes[k];
    auto* p = static_cast<std::uint64_t*>(std::malloc(size));
    if (!p) std::abort();
    p[0] = v;
    return Handle{p, size};
}
std::uint64_t read(const Handle& h) { return h.p[0]; }
void release(Handle& h) {
    std::free(h.p);
    h.p = nullptr;
}
#endif

void lifo(long n, long rep) {
    std::uint64_t sum = 0;
    double t0 = bench::now();
    for (long i = 0; i < n; ++i) {
        Handle h = allocate(2, static_cast<std::uint64_t>(i));
        sum += read(h);
        release(h);
    }
    double elapsed = bench::now() - t0;
    bool ok = bench::check(sum == static_cast<std::uint64_t>(n) * static_cast<std::uint64_t>(n - 1) / 2, "lifo checksum");
    bench::emit("alloc_lifo", bench::kImpl, "time_s", elapsed, "s", rep, ok, {{"n", bench::jint(n)}});
}

void random_replace(long n, long rep) {
    const std::size_t slots = 100000;
    std::vector<Handle> live(slots);
    std::vector<std::uint64_t> expect(slots);
    bench::Rng rng(99 + static_cast<std::uint64_t>(rep));
    for (std::size_t i = 0; i < slots; ++i) {
        expect[i] = rng.next();
        live[i] = allocate(static_cast<unsigned>(rng.below(kSizes.size())), expect[i]);
    }
    bool good = true;
    double t0 = bench::now();
    for (long i = 0; i < n; ++i) {
        std::uint64_t r = rng.next();
        std::size_t s = r % slots;
        good &= read(live[s]) == expect[s];
        release(live[s]);
        expect[s] = r;
        live[s] = allocate(static_cast<unsigned>((r >> 32) % kSizes.size()), r);
    }
    double elapsed = bench::now() - t0;
    for (std::size_t i = 0; i < slots; ++i) {
        good &= read(live[i]) == expect[i];
        release(live[i]);
    }
    bool ok = bench::check(good, "random checksum");
    bench::emit("alloc_random", bench::kImpl, "time_s", elapsed, "s", rep, ok,
                {{"n", bench::jint(n)}, {"peak_rss_MB", bench::jnum(static_cast<double>(bench::peak_rss_bytes()) / 1e6)}});
}

void batch(long n, long rep) {
    const long per_round = n / 10;
    bench::Rng rng(5 + static_cast<std::uint64_t>(rep));
    std::vector<Handle> live(static_cast<std::size_t>(per_round));
    std::vector<std::size_t> order(static_cast<std::size_t>(per_round));
    bool good = true;
    double t0 = bench::now();
    for (int round = 0; round < 10; ++round) {
        for (long i = 0; i < per_round; ++i)
            live[static_cast<std::size_t>(i)] = allocate(static_cast<unsigned>(rng.below(kSizes.size())), static_cast<std::uint64_t>(i));
        for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
        bench::shuffle(order, rng);
        for (std::size_t i : order) {
            good &= read(live[i]) == i;
            release(live[i]);
        }
    }
    double elapsed = bench::now() - t0;
    bool ok = bench::check(good, "batch checksum");
    bench::emit("alloc_batch", bench::kImpl, "time_s", elapsed, "s", rep, ok,
                {{"n", bench::jint(n)}, {"peak_rss_MB", bench::jnum(static_cast<double>(bench::peak_rss_bytes()) / 1e6)}});
}

}  // namespace

int main(int argc, char** argv) {
    bench::Args args(argc, argv);
    long n = args.num("--n", 10000000);
    long reps = args.num("--reps", 3);
    for (long rep = 0; rep < reps; ++rep) lifo(n, rep);
    for (long rep = 0; rep < reps; ++rep) random_replace(n, rep);
    for (long rep = 0; rep < reps; ++rep) batch(n, rep);
    return bench::g_failures ? 1 : 0;
}
