// Young-generation churn beside a long-lived heap (peer: bench/python/churn.py).
//
// A long-lived chain of --live objects is built and collected once (it is then old). Then
// --iters iterations, each: a 3-node tree that dies by its count at once, a node stored in a
// 1024-slot ring (it lives ~1024 iterations, long enough to survive young collections), and
// every 4th iteration a 2-node garbage cycle that only the collector can free. Automatic
// collections run with the default thresholds; gc::callbacks() time each one.
// Reported: the loop's total time, and the pauses' p50 / p99 / max (all generations, and the
// young generations alone) and the collections per generation.
// Verified: everything the cycles made was collected (collected counts from the callbacks plus a
// final collection), the ring's checksum, the long-lived chain intact.
//
// Usage: churn_ouro [--live 1000000] [--iters 2000000] [--reps 1] [--tracemalloc NFRAME [--sample BYTES]]
#include "common.hpp"

#include <ouro/ouro.hpp>

#include <algorithm>
#include <array>
#include <string>
#include <vector>

namespace {

struct Node : ouro::Object {
    long value;
    ouro::Ref<Node> next, other;
    explicit Node(long v) : value(v) {}
    Node(long v, ouro::Ref<Node> a, ouro::Ref<Node> b) : value(v), next(std::move(a)), other(std::move(b)) {}
    void trace(ouro::Visitor& visit) override {
        visit(next);
        visit(other);
    }
};

double percentile(std::vector<double> v, double q) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    auto i = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(i, v.size() - 1)];
}

std::string json_list(const std::vector<double>& v) {
    std::string s = "[";
    for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + bench::jnum(v[i] * 1e6);
    return s + "]";
}

void run(long live, long iters, long rep, const std::string& impl) {
    ouro::Ref<Node> root = ouro::make<Node>(0);
    Node* tail = root.get();
    for (long i = 1; i < live; ++i) {
        tail->next = ouro::make<Node>(i);
        tail = tail->next.get();
    }
    ouro::gc::collect();

    std::vector<double> pauses;
    std::vector<int> generations;
    std::size_t collected = 0;
    std::array<long, 3> per_gen{};
    double started = 0;
    ouro::gc::callbacks().push_back([&](std::string_view phase, const ouro::gc::Info& info) {
        if (phase == "start") {
            started = bench::now();
        } else {
            pauses.push_back(bench::now() - started);
            generations.push_back(info.generation);
            ++per_gen[static_cast<std::size_t>(info.generation)];
            collected += info.collected;
        }
    });
    pauses.reserve(static_cast<std::size_t>(iters / 100));

    std::vector<ouro::Ref<Node>> ring(1024);
    long cycles = 0;
    double t0 = bench::now();
    for (long i = 0; i < iters; ++i) {
        {
            auto tree = ouro::make<Node>(i, ouro::make<Node>(i), ouro::make<Node>(i));
            bench::keep(tree);
        }
        ring[static_cast<std::size_t>(i) & 1023] = ouro::make<Node>(i);
        if ((i & 3) == 0) {
            auto a = ouro::make<Node>(i);
            auto b = ouro::make<Node>(i);
            a->next = b;
            b->next = a;
            ++cycles;
        }
    }
    double elapsed = bench::now() - t0;
    ouro::gc::callbacks().clear();
    collected += ouro::gc::collect();

    long ring_sum = 0;
    for (auto& r : ring) ring_sum += r->value;
    long expect_ring = 0;
    for (long i = std::max(0L, iters - 1024); i < iters; ++i) expect_ring += i;
    long count = 0;
    for (Node* p = root.get(); p; p = p->next.get()) ++count;
    bool ok = bench::all(bench::check(collected == static_cast<std::size_t>(2 * cycles), "churn: every cycle collected"),
              bench::check(ring_sum == expect_ring, "churn: ring checksum"),
              bench::check(count == live, "churn: long-lived chain intact"));

    std::vector<double> young;
    for (std::size_t i = 0; i < pauses.size(); ++i)
        if (generations[i] < 2) young.push_back(pauses[i]);
    std::string gens = "[" + bench::jint(per_gen[0]) + ", " + bench::jint(per_gen[1]) + ", " + bench::jint(per_gen[2]) + "]";
    bench::Extra extra{{"live", bench::jint(live)}, {"iters", bench::jint(iters)}, {"collections", gens},
                       {"collected", bench::jint(static_cast<long long>(collected))}};
    bench::tracer_figures(extra);
    bench::emit("churn", impl, "time_s", elapsed, "s", rep, ok, extra);
    bench::emit("churn_pause_p50", impl, "pause_s", percentile(pauses, 0.5), "s", rep, ok);
    bench::emit("churn_pause_p99", impl, "pause_s", percentile(pauses, 0.99), "s", rep, ok);
    bench::emit("churn_pause_max", impl, "pause_s", percentile(pauses, 1.0), "s", rep, ok);
    bench::emit("churn_young_pause_p99", impl, "pause_s", percentile(young, 0.99), "s", rep, ok);
    bench::emit("churn_young_pause_max", impl, "pause_s", percentile(young, 1.0), "s", rep, ok);
    bench::emit("churn_pauses", impl, "count", static_cast<double>(pauses.size()), "", rep, ok,
                {{"pauses_us", json_list(pauses)}, {"generations", [&] {
                     std::string s = "[";
                     for (std::size_t i = 0; i < generations.size(); ++i) s += (i ? ", " : "") + bench::jint(generations[i]);
                     return s + "]";
                 }()}});
}

}  // namespace

int main(int argc, char** argv) {
    bench::Args args(argc, argv);
    long live = args.num("--live", 1000000);
    long iters = args.num("--iters", 2000000);
    long reps = args.num("--reps", 1);
    const std::string impl = bench::start_tracemalloc(args, "ouro");
    for (long rep = 0; rep < reps; ++rep) run(live, iters, rep, impl);
    return bench::g_failures ? 1 : 0;
}
