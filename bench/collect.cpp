// Full collections of large heaps, the peer of bench/python/collect.py.
//
// Shapes (N objects of Node{int; Ref next}, built with the collector disabled, as the Python
// peer builds with gc.disable()):
//   chain          N live objects allocated in order, node i -> node i+1, one root
//   shuffled       N live objects allocated in order, linked in a random permutation
//   cycles         N/2 garbage two-node cycles (a <-> b), no roots
//   cycles_churned the same garbage, allocated after 2N objects were made and a random half of
//                  them freed, so the cycles land in scattered holes
// Metrics per repetition: collect_s (the first full collection after building: the headline
// figure), and for the live shapes collect_<shape>_again (a second full collection, everything
// now old, after one reference was dropped so that the collector has to look again).
// Verified: collect() returns 0 and the chain is intact (live shapes), or returns N and N
// destructors ran (garbage shapes). Each figure also comes per object (collect_ns_per_object),
// which is what the scaling rows (1 M, 10 M, 30 M objects: --label) compare as the heap grows.
//
// Usage: collect_ouro --shape chain|shuffled|cycles|cycles_churned --n N --reps R [--label SUFFIX]
//        (SUFFIX is appended to the figures' bench names: collect_chain_10M)
#include "common.hpp"

#include <ouro/ouro.hpp>

#include <string>

namespace {

long g_destroyed = 0;

struct Node : ouro::Object {
    int value;
    ouro::Ref<Node> next;
    explicit Node(int v) : value(v) {}
    ~Node() override { ++g_destroyed; }
    void trace(ouro::Visitor& visit) override { visit(next); }
};

long chain_sum(Node* p, long& count) {
    long sum = 0;
    for (; p; p = p->next.get()) {
        sum += p->value;
        ++count;
    }
    return sum;
}

// The figure, and the same per object.
void emit_collect(const std::string& bench, double seconds, long objects, long rep, bool ok, const bench::Extra& extra) {
    bench::emit(bench, "ouro", "collect_s", seconds, "s", rep, ok, extra);
    bench::emit(bench, "ouro", "collect_ns_per_object", seconds * 1e9 / static_cast<double>(objects), "ns", rep, ok);
}

void run_live(const std::string& name, const std::string& shape, long n, long rep) {
    ouro::Ref<Node> root;
    double t0 = bench::now();
    if (shape == "chain") {
        root = ouro::make<Node>(0);
        Node* tail = root.get();
        for (long i = 1; i < n; ++i) {
            tail->next = ouro::make<Node>(static_cast<int>(i));
            tail = tail->next.get();
        }
    } else {
        std::vector<ouro::Ref<Node>> nodes;
        nodes.reserve(static_cast<std::size_t>(n));
        for (long i = 0; i < n; ++i) nodes.push_back(ouro::make<Node>(static_cast<int>(i)));
        bench::Rng rng(42 + static_cast<std::uint64_t>(rep));
        bench::shuffle(nodes, rng);
        for (long i = 0; i + 1 < n; ++i) nodes[i]->next = nodes[i + 1];
        root = nodes[0];
    }
    double build = bench::now() - t0;
    t0 = bench::now();
    std::size_t found = ouro::gc::collect();
    double first = bench::now() - t0;
    // The same reference drop as the Python peer's (its object stays alive).
    { ouro::Ref<Node> touch = root; }
    t0 = bench::now();
    std::size_t found_again = ouro::gc::collect();
    double again = bench::now() - t0;
    long count = 0;
    long sum = chain_sum(root.get(), count);
    bool ok = bench::all(bench::check(found == 0 && found_again == 0, "live heap: nothing collected"),
              bench::check(count == n && sum == n * (n - 1) / 2, "live heap: chain intact"));
    bench::Extra extra{{"objects", bench::jint(n)}, {"collected", bench::jint(static_cast<long long>(found))},
                       {"build_s", bench::jnum(build)}};
    emit_collect(name, first, n, rep, ok, extra);
    emit_collect(name + "_again", again, n, rep, ok, extra);
    g_destroyed = 0;
    root = nullptr;
    bench::check(g_destroyed == n, "live heap: all freed at the end");
}

void run_garbage(const std::string& name, const std::string& shape, long n, long rep) {
    std::vector<ouro::Ref<Node>> filler;
    if (shape == "cycles_churned") {
        filler.reserve(static_cast<std::size_t>(2 * n));
        for (long i = 0; i < 2 * n; ++i) filler.push_back(ouro::make<Node>(static_cast<int>(i)));
        bench::Rng rng(7 + static_cast<std::uint64_t>(rep));
        bench::shuffle(filler, rng);
        filler.resize(static_cast<std::size_t>(n));  // frees a random half, in random order
    }
    double t0 = bench::now();
    for (long i = 0; i < n / 2; ++i) {
        auto a = ouro::make<Node>(static_cast<int>(i));
        auto b = ouro::make<Node>(static_cast<int>(i));
        a->next = b;
        b->next = a;
    }
    double build = bench::now() - t0;
    g_destroyed = 0;
    t0 = bench::now();
    std::size_t found = ouro::gc::collect();
    double elapsed = bench::now() - t0;
    bool ok = bench::all(bench::check(found == static_cast<std::size_t>(n / 2 * 2), "garbage: collected count"),
              bench::check(g_destroyed == n / 2 * 2, "garbage: destructors ran"));
    emit_collect(name, elapsed, n / 2 * 2, rep, ok,
                 {{"objects", bench::jint(n / 2 * 2)}, {"collected", bench::jint(static_cast<long long>(found))},
                  {"build_s", bench::jnum(build)}});
    filler.clear();
}

}  // namespace

int main(int argc, char** argv) {
    bench::Args args(argc, argv);
    std::string shape = args.str("--shape", "chain");
    long n = args.num("--n", 1000000);
    long reps = args.num("--reps", 5);
    const std::string name = "collect_" + shape + args.str("--label", "");
    ouro::gc::disable();
    for (long rep = 0; rep < reps; ++rep) {
        if (shape == "chain" || shape == "shuffled") run_live(name, shape, n, rep);
        else if (shape == "cycles" || shape == "cycles_churned") run_garbage(name, shape, n, rep);
        else {
            std::fprintf(stderr, "unknown shape %s\n", shape.c_str());
            return 2;
        }
    }
    bench::emit(name, "ouro", "peak_rss_MB", static_cast<double>(bench::peak_rss_bytes()) / 1e6, "MB", 0,
                true);
    return bench::g_failures ? 1 : 0;
}
