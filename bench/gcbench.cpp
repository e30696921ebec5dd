// GCBench (John Ellis, Pete Kovac, Hans Boehm), built once per implementation:
//   BENCH_IMPL_OURO    ouro::make / ouro::Ref, collector enabled with its default thresholds
//   BENCH_IMPL_SHARED  std::make_shared / std::shared_ptr
//   BENCH_IMPL_BOEHM   GC_MALLOC (nodes) and GC_MALLOC_ATOMIC (the array of doubles)
//
// A stretch tree of depth S, a long-lived tree of depth L (top-down), an array of A doubles,
// then for d = 4, 6, ..., M: NumIters(d) = 2*TreeSize(S)/TreeSize(d) trees built top-down
// (Populate) and as many bottom-up (MakeTree), each dropped at once.
// Verified: the number of nodes made equals the closed form, the long-lived tree still has
// TreeSize(L) nodes at the end, and the array still holds 1/i.
//
// Usage: gcbench_<impl> [--stretch 18] [--long-lived 16] [--array 500000] [--max 16] [--tag name]
#include "common.hpp"

#include <memory>
#include <string>
#include <vector>

namespace {

long g_made = 0;

#if defined(BENCH_IMPL_OURO)
struct Node : ouro::Object {
    ouro::Ref<Node> left, right;
    int i = 0, j = 0;
    Node() { ++g_made; }
    Node(ouro::Ref<Node> l, ouro::Ref<Node> r) : left(std::move(l)), right(std::move(r)) { ++g_made; }
    void trace(ouro::Visitor& visit) override {
        visit(left);
        visit(right);
    }
};
using Ptr = ouro::Ref<Node>;
Ptr new_node() { return ouro::make<Node>(); }
Ptr new_node(Ptr l, Ptr r) { return ouro::make<Node>(std::move(l), std::move(r)); }
using Array = std::vector<double>;
Array new_array(long n) { return Array(static_cast<std::size_t>(n)); }
#elif defined(BENCH_IMPL_SHARED)
struct Node {
    std::shared_ptr<Node> left, right;
    int i = 0, j = 0;
    Node() { ++g_made; }
    Node(std::shared_ptr<Node> l, std::shared_ptr<Node> r) : left(std::move(l)), right(std::move(r)) { ++g_made; }
};
using Ptr = std::shared_ptr<Node>;
Ptr new_node() { return std::make_shared<Node>(); }
Ptr new_node(Ptr l, Ptr r) { return std::make_shared<Node>(std::move(l), std::move(r)); }
using Array = std::vector<double>;
Array new_array(long n) { return Array(static_cast<std::size_t>(n)); }
#else
struct Node {
    Node* left;
    Node* right;
    int i, j;
};
using Ptr = Node*;
Ptr new_node(Ptr l = nullptr, Ptr r = nullptr) {
    auto* n = static_cast<Node*>(GC_MALLOC(sizeof(Node)));
    n->left = l;
    n->right = r;
    n->i = n->j = 0;
    ++g_made;
    return n;
}
using Array = double*;
Array new_array(long n) { return static_cast<double*>(GC_MALLOC_ATOMIC(sizeof(double) * static_cast<std::size_t>(n))); }
#endif

long tree_size(int depth) { return (1L << (depth + 1)) - 1; }

void populate(int depth, Node* node) {
    if (depth <= 0) return;
    --depth;
    node->left = new_node();
    node->right = new_node();
    populate(depth, &*node->left);
    populate(depth, &*node->right);
}

Ptr make_tree(int depth) {
    if (depth <= 0) return new_node();
    return new_node(make_tree(depth - 1), make_tree(depth - 1));
}

long count(const Node* node) { return node ? 1 + count(&*node->left) + count(&*node->right) : 0; }

}  // namespace

int main(int argc, char** argv) {
#if defined(BENCH_IMPL_BOEHM)
    GC_INIT();
#endif
    bench::Args args(argc, argv);
    const int stretch = static_cast<int>(args.num("--stretch", 18));
    const int long_lived_depth = static_cast<int>(args.num("--long-lived", 16));
    const long array_size = args.num("--array", 500000);
    const int min_depth = 4;
    const int max_depth = static_cast<int>(args.num("--max", 16));
    const std::string tag = args.str("--tag", "gcbench");
    long expected = 0;

    double t0 = bench::now();
    {
        Ptr temp = make_tree(stretch);
        bench::keep(temp);
        expected += tree_size(stretch);
    }
    Ptr long_lived = new_node();
    populate(long_lived_depth, &*long_lived);
    expected += tree_size(long_lived_depth);
    Array array = new_array(array_size);
    for (long i = 0; i < array_size / 2; ++i) array[i] = 1.0 / static_cast<double>(i);
    for (int d = min_depth; d <= max_depth; d += 2) {
        long iters = 2 * tree_size(stretch) / tree_size(d);
        for (long i = 0; i < iters; ++i) {
            Ptr temp = new_node();
            populate(d, &*temp);
        }
        for (long i = 0; i < iters; ++i) {
            Ptr temp = make_tree(d);
            bench::keep(temp);
        }
        expected += 2 * iters * tree_size(d);
    }
    double elapsed = bench::now() - t0;

    bool ok = bench::all(bench::check(g_made == expected, "nodes made"),
              bench::check(count(&*long_lived) == tree_size(long_lived_depth), "long-lived tree intact"),
              bench::check(array_size < 2000 || array[1000] == 1.0 / 1000.0, "array intact"));
    bench::Extra extra{{"nodes", bench::jint(g_made)},
                       {"peak_rss_MB", bench::jnum(static_cast<double>(bench::peak_rss_bytes()) / 1e6)},
                       {"stretch", bench::jint(stretch)}};
#if defined(BENCH_IMPL_OURO)
    auto stats = ouro::gc::get_stats();
    std::string collections = "[";
    double pause = 0;
    for (int g = 0; g < 3; ++g) {
        pause += stats[g].pause_seconds;
        collections += (g ? ", " : "") + bench::jint(static_cast<long long>(stats[g].collections));
    }
    extra.push_back({"collections", collections + "]"});
    extra.push_back({"gc_pause_s", bench::jnum(pause)});
#elif defined(BENCH_IMPL_BOEHM)
    extra.push_back({"collections", bench::jint(static_cast<long long>(GC_get_gc_no()))});
#endif
    bench::emit(tag, bench::kImpl, "time_s", elapsed, "s", 0, ok, extra);
    return bench::g_failures ? 1 : 0;
}
