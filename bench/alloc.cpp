// Allocator shapes (after mimalloc-bench's single-threaded ones), built once per allocator:
//   BENCH_IMPL_OURO    ouro::PoolResource, the heap's allocator used on its own
//   BENCH_IMPL_MALLOC  malloc/free (glibc, or mimalloc / jemalloc when linked in: BENCH_IMPL_NAME)
// Shapes (n = --n operations unless said otherwise):
//   alloc_lifo       allocate one 32-byte block and free it
//   alloc_random     a working set of 100,000 slots: free a random slot's block and allocate one
//                    of a random size in {16, 24, 32, 48, 64, 96, 128, 256}
//   alloc_batch      allocate n/10 blocks of random sizes, free them in random order; 10 rounds
//   alloc_test       alloc-test: sizes from a Pareto distribution (16 B minimum, tail cut at
//                    512 B), each new block replacing a random one of 50,000 live blocks
//   alloc_sh6        sh6bench-like: rounds of 10,000 blocks of 16-512 B; the first half freed in
//                    allocation order, the second in reverse, every 10th block kept for 10 rounds
//   alloc_simple     glibc's bench-malloc-simple: 100 blocks of one size allocated then freed, for
//                    sizes 16, 32, 64, 128, 256 in turn
//   alloc_mixed      random sizes 16-512 B with mixed lifetimes: 90% die after 64 more
//                    allocations (a FIFO), 10% replace a random one of 100,000 long-lived blocks
//   alloc_prodcons   producer/consumer in one thread: a queue of 100,000 blocks of 16-512 B,
//                    each step produces one at the tail and consumes (frees) one at the head
// Verified: a checksum written into every block and read back before it is freed.
//
// Usage: alloc_<impl> [--n 10000000] [--reps 3] [--shape lifo|random|batch|test|sh6|simple|mixed|prodcons]
#include "common.hpp"

#include <array>
#include <cmath>
#include <cstdlib>
#include <string>
#include <utility>
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
Handle allocate_bytes(std::size_t size, std::uint64_t v) {
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
Handle allocate_bytes(std::size_t size, std::uint64_t v) {
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

// One of the eight sizes of the older shapes (k = 0 is 24 B).
Handle allocate(unsigned k, std::uint64_t v) { return allocate_bytes(k == 0 ? 24 : kSizes[k], v); }

std::size_t uniform_16_512(bench::Rng& rng) { return 16 + rng.below(497); }

// Pareto(x_m = 16, alpha = 1.2), the tail cut at 512: most blocks small, a few large.
std::size_t pareto_16_512(bench::Rng& rng) {
    double u = (static_cast<double>(rng.next() >> 11) + 1.0) * 0x1.0p-53;  // (0, 1]
    double x = 16.0 / std::pow(u, 1.0 / 1.2);
    return x >= 512.0 ? 512 : static_cast<std::size_t>(x);
}

// Resident size when main() began: the programs differ in code size (libouro is linked into
// one), so the allocators are compared by how far their peak grew past it.
std::size_t g_start_rss = 0;

// The peak RSS figures of a shape: the process's, and its growth past g_start_rss.
bench::Extra rss_extra(long ops) {
    const std::size_t peak = bench::peak_rss_bytes();
    return {{"n", bench::jint(ops)},
            {"peak_rss_MB", bench::jnum(static_cast<double>(peak) / 1e6)},
            {"rss_growth_MB", bench::jnum(static_cast<double>(peak - std::min(peak, g_start_rss)) / 1e6)}};
}

void emit_shape(const char* name, double elapsed, long rep, bool good, long ops) {
    bool ok = bench::check(good, name);
    bench::emit(name, bench::kImpl, "time_s", elapsed, "s", rep, ok, rss_extra(ops));
}

// Frees h after checking its checksum.
bool check_release(Handle& h, std::uint64_t expect) {
    bool good = read(h) == expect;
    release(h);
    return good;
}

void alloc_test(long n, long rep) {
    const std::size_t slots = 50000;
    std::vector<Handle> live(slots);
    std::vector<std::uint64_t> expect(slots);
    bench::Rng rng(11 + static_cast<std::uint64_t>(rep));
    for (std::size_t i = 0; i < slots; ++i) live[i] = allocate_bytes(pareto_16_512(rng), expect[i] = rng.next());
    bool good = true;
    double t0 = bench::now();
    for (long i = 0; i < n; ++i) {
        std::uint64_t r = rng.next();
        std::size_t s = r % slots;
        good &= check_release(live[s], expect[s]);
        live[s] = allocate_bytes(pareto_16_512(rng), expect[s] = r);
    }
    double elapsed = bench::now() - t0;
    for (std::size_t i = 0; i < slots; ++i) good &= check_release(live[i], expect[i]);
    emit_shape("alloc_test", elapsed, rep, good, n);
}

void sh6(long n, long rep) {
    const long per_round = 10000;
    const long rounds = n / per_round;
    bench::Rng rng(13 + static_cast<std::uint64_t>(rep));
    std::vector<Handle> round(static_cast<std::size_t>(per_round));
    std::vector<std::pair<Handle, long>> kept;  // (block, round it was made in); its checksum is that round
    bool good = true;
    double t0 = bench::now();
    for (long r = 0; r < rounds; ++r) {
        const auto v = static_cast<std::uint64_t>(r);
        for (auto& h : round) h = allocate_bytes(uniform_16_512(rng), v);
        for (long i = 0; i < per_round / 2; ++i) {  // first half, allocation order
            auto& h = round[static_cast<std::size_t>(i)];
            if (i % 10 == 0) kept.emplace_back(h, r);
            else good &= check_release(h, v);
        }
        for (long i = per_round - 1; i >= per_round / 2; --i) {  // second half, reverse order
            auto& h = round[static_cast<std::size_t>(i)];
            if (i % 10 == 0) kept.emplace_back(h, r);
            else good &= check_release(h, v);
        }
        // Blocks kept for 10 rounds die now: lifetimes that span rounds.
        std::size_t k = 0;
        for (auto& [h, made] : kept) {
            if (r - made >= 10) good &= check_release(h, static_cast<std::uint64_t>(made));
            else kept[k++] = {h, made};
        }
        kept.resize(k);
    }
    double elapsed = bench::now() - t0;
    for (auto& [h, made] : kept) good &= check_release(h, static_cast<std::uint64_t>(made));
    emit_shape("alloc_sh6", elapsed, rep, good, rounds * per_round);
}

void simple(long n, long rep) {
    constexpr std::array<std::size_t, 5> sizes{16, 32, 64, 128, 256};
    const long groups = n / 100;
    Handle group[100];
    bool good = true;
    double t0 = bench::now();
    for (long g = 0; g < groups; ++g) {
        const std::size_t size = sizes[static_cast<std::size_t>(g / (groups / 5 + 1))];
        for (int i = 0; i < 100; ++i) group[i] = allocate_bytes(size, static_cast<std::uint64_t>(g + i));
        for (int i = 0; i < 100; ++i) good &= check_release(group[i], static_cast<std::uint64_t>(g + i));
    }
    double elapsed = bench::now() - t0;
    emit_shape("alloc_simple", elapsed, rep, good, groups * 100);
}

void mixed(long n, long rep) {
    const std::size_t slots = 100000, fifo = 64;
    std::vector<Handle> old(slots), young(fifo);
    std::vector<std::uint64_t> old_expect(slots), young_expect(fifo);
    bench::Rng rng(17 + static_cast<std::uint64_t>(rep));
    for (std::size_t i = 0; i < slots; ++i) old[i] = allocate_bytes(uniform_16_512(rng), old_expect[i] = rng.next());
    for (std::size_t i = 0; i < fifo; ++i) young[i] = allocate_bytes(uniform_16_512(rng), young_expect[i] = rng.next());
    bool good = true;
    double t0 = bench::now();
    for (long i = 0; i < n; ++i) {
        std::uint64_t r = rng.next();
        if (r % 10 == 0) {
            std::size_t s = (r >> 8) % slots;
            good &= check_release(old[s], old_expect[s]);
            old[s] = allocate_bytes(uniform_16_512(rng), old_expect[s] = r);
        } else {
            std::size_t s = static_cast<std::size_t>(i) % fifo;
            good &= check_release(young[s], young_expect[s]);
            young[s] = allocate_bytes(uniform_16_512(rng), young_expect[s] = r);
        }
    }
    double elapsed = bench::now() - t0;
    for (std::size_t i = 0; i < slots; ++i) good &= check_release(old[i], old_expect[i]);
    for (std::size_t i = 0; i < fifo; ++i) good &= check_release(young[i], young_expect[i]);
    emit_shape("alloc_mixed", elapsed, rep, good, n);
}

void prodcons(long n, long rep) {
    const std::size_t depth = 100000;
    std::vector<Handle> queue(depth);
    bench::Rng rng(19 + static_cast<std::uint64_t>(rep));
    for (std::size_t i = 0; i < depth; ++i) queue[i] = allocate_bytes(uniform_16_512(rng), i);
    bool good = true;
    double t0 = bench::now();
    for (long i = 0; i < n; ++i) {
        std::size_t head = static_cast<std::size_t>(i) % depth;  // the oldest: consume it, produce in its place
        good &= check_release(queue[head], static_cast<std::uint64_t>(i));
        queue[head] = allocate_bytes(uniform_16_512(rng), static_cast<std::uint64_t>(i) + depth);
    }
    double elapsed = bench::now() - t0;
    for (std::size_t i = 0; i < depth; ++i) {
        std::size_t slot = (static_cast<std::size_t>(n) + i) % depth;
        good &= check_release(queue[slot], static_cast<std::uint64_t>(n) + i);
    }
    emit_shape("alloc_prodcons", elapsed, rep, good, n);
}

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
    bench::emit("alloc_random", bench::kImpl, "time_s", elapsed, "s", rep, ok, rss_extra(n));
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
    bench::emit("alloc_batch", bench::kImpl, "time_s", elapsed, "s", rep, ok, rss_extra(n));
}

}  // namespace

int main(int argc, char** argv) {
    g_start_rss = bench::rss_bytes();
    bench::Args args(argc, argv);
    long n = args.num("--n", 10000000);
    long reps = args.num("--reps", 3);
    std::string only = args.str("--shape", "");  // run one shape (its name without "alloc_")
    const std::pair<const char*, void (*)(long, long)> shapes[] = {
        {"lifo", lifo},     {"random", random_replace}, {"batch", batch},   {"test", alloc_test},
        {"sh6", sh6},       {"simple", simple},         {"mixed", mixed},   {"prodcons", prodcons}};
    for (auto [name, run] : shapes)
        if (only.empty() || only == name)
            for (long rep = 0; rep < reps; ++rep) run(n, rep);
    return bench::g_failures ? 1 : 0;
}
