// Generators (peer: bench/python/generator.py). Two shapes:
//   gen_iterate  sum(count_up_to(n)): one generator yields n ints, the consumer adds them up
//   gen_create   n times, make a generator that yields three ints and consume it: creating and
//                destroying a frame (a block of the heap's pools) per generator
// Each also reports the resident memory grown during the run (count_up_to's is constant).
// Verified: every sum against its closed form.
//
// Usage: generator_ouro [--n 10000000] [--reps 3]
#include "common.hpp"

#include <ouro/generator.hpp>

namespace {

ouro::Generator<long> count_up_to(long n) {
    for (long i = 0; i < n; ++i) co_yield i;
}

ouro::Generator<long> three(long base) {
    co_yield base;
    co_yield base + 1;
    co_yield base + 2;
}

void iterate(long n, long rep) {
    const std::size_t rss0 = bench::rss_bytes();
    double t0 = bench::now();
    long total = 0;
    for (long v : count_up_to(n)) total += v;
    double elapsed = bench::now() - t0;
    const double grown = static_cast<double>(bench::rss_bytes() - rss0);
    bool ok = bench::check(total == n * (n - 1) / 2, "gen_iterate: sum");
    bench::emit("gen_iterate", bench::kImpl, "time_s", elapsed, "s", rep, ok,
                {{"n", bench::jint(n)}, {"ns_per_item", bench::jnum(elapsed * 1e9 / static_cast<double>(n))}});
    bench::emit("gen_iterate", bench::kImpl, "rss_grown_B", grown, "B", rep, ok);
}

void create(long n, long rep) {
    double t0 = bench::now();
    long total = 0;
    for (long i = 0; i < n; ++i)
        for (long v : three(i)) total += v;
    double elapsed = bench::now() - t0;
    bool ok = bench::check(total == 3 * (n * (n - 1) / 2) + 3 * n, "gen_create: sum");
    bench::emit("gen_create", bench::kImpl, "time_s", elapsed, "s", rep, ok,
                {{"n", bench::jint(n)}, {"ns_per_generator", bench::jnum(elapsed * 1e9 / static_cast<double>(n))}});
}

}  // namespace

int main(int argc, char** argv) {
    bench::Args args(argc, argv);
    long n = args.num("--n", 10000000);
    long reps = args.num("--reps", 3);
    for (long rep = 0; rep < reps; ++rep) iterate(n, rep);
    for (long rep = 0; rep < reps; ++rep) create(n / 10, rep);
    return bench::g_failures ? 1 : 0;
}
