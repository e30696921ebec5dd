// binary-trees (the Benchmarks Game shape, single-threaded), built once per implementation:
//   BENCH_IMPL_OURO    ouro::make / ouro::Ref, collector enabled with its default thresholds
//   BENCH_IMPL_SHARED  std::make_shared / std::shared_ptr (glibc malloc, or mimalloc when linked)
//   BENCH_IMPL_BOEHM   GC_MALLOC, Boehm GC collecting on its own schedule
//
// min depth 4, max depth n: build and check a stretch tree of depth n+1, keep a long-lived tree
// of depth n, then for d = 4, 6, ..., n build, check and drop 2^(n-d+4) trees of depth d.
// check = node count. Every check is compared with its closed form (2^(d+1)-1 per tree).
//
// Two idioms for building a node (ouro and make_shared; --idiom, default ctor):
//   ctor   make<TreeNode>(bottom_up(d - 1), bottom_up(d - 1)): the children go to the constructor
//   link   auto n = make<TreeNode>(); n->left = bottom_up(d - 1); n->right = ...; return n;
//          create-then-link, as most programs build their graphs (reported as "<impl> (link)")
// Boehm's nodes are raw memory, written after GC_MALLOC either way.
//
// Usage: binary_trees_<impl> --n N [--text] [--idiom ctor|link] [--no-gc (ouro only)]
//        [--tracemalloc NFRAME [--sample BYTES] (ouro only: the run traced)]   (--text: print the Benchmarks
// Game output instead of JSON, for comparison with the reference text)
#include "common.hpp"

#include <memory>
#include <string>

namespace {

#if defined(BENCH_IMPL_OURO)
struct TreeNode : ouro::Object {
    ouro::Ref<TreeNode> left, right;
    TreeNode() = default;
    TreeNode(ouro::Ref<TreeNode> l, ouro::Ref<TreeNode> r) : left(std::move(l)), right(std::move(r)) {}
    void trace(ouro::Visitor& visit) override {
        visit(left);
        visit(right);
    }
};
using Tree = ouro::Ref<TreeNode>;
template <bool kLink>
Tree bottom_up(int depth) {
    if (depth <= 0) return ouro::make<TreeNode>();
    if constexpr (kLink) {
        auto node = ouro::make<TreeNode>();
        node->left = bottom_up<kLink>(depth - 1);
        node->right = bottom_up<kLink>(depth - 1);
        return node;
    } else {
        return ouro::make<TreeNode>(bottom_up<kLink>(depth - 1), bottom_up<kLink>(depth - 1));
    }
}
#elif defined(BENCH_IMPL_SHARED)
struct TreeNode {
    std::shared_ptr<TreeNode> left, right;
    TreeNode() = default;
    TreeNode(std::shared_ptr<TreeNode> l, std::shared_ptr<TreeNode> r) : left(std::move(l)), right(std::move(r)) {}
};
using Tree = std::shared_ptr<TreeNode>;
template <bool kLink>
Tree bottom_up(int depth) {
    if (depth <= 0) return std::make_shared<TreeNode>();
    if constexpr (kLink) {
        auto node = std::make_shared<TreeNode>();
        node->left = bottom_up<kLink>(depth - 1);
        node->right = bottom_up<kLink>(depth - 1);
        return node;
    } else {
        return std::make_shared<TreeNode>(bottom_up<kLink>(depth - 1), bottom_up<kLink>(depth - 1));
    }
}
#else
struct TreeNode {
    TreeNode* left;
    TreeNode* right;
};
using Tree = TreeNode*;
template <bool kLink>
Tree bottom_up(int depth) {
    auto* node = static_cast<TreeNode*>(GC_MALLOC(sizeof(TreeNode)));
    if (depth > 0) {
        node->left = bottom_up<kLink>(depth - 1);
        node->right = bottom_up<kLink>(depth - 1);
    } else {
        node->left = node->right = nullptr;
    }
    return node;
}
#endif

long check(const TreeNode* node) {
    return node->left ? 1 + check(&*node->left) + check(&*node->right) : 1;
}
long expected(int depth) { return (2L << depth) - 1; }

}  // namespace

int main(int argc, char** argv) {
#if defined(BENCH_IMPL_BOEHM)
    GC_INIT();
#endif
    bench::Args args(argc, argv);
    const int n = std::max(6, static_cast<int>(args.num("--n", 18)));
    const bool text = args.flag("--text");
    const int min_depth = 4;
    long nodes = 0;
    bool ok = true;
    std::string out;
    char line[128];
    std::string impl = bench::kImpl;
    const std::string idiom = args.str("--idiom", "ctor");
    if (idiom != "ctor" && idiom != "link") {
        std::fprintf(stderr, "--idiom must be ctor or link\n");
        return 2;
    }
    const bool link = idiom == "link";
    Tree (*const bottom_up)(int) = link ? ::bottom_up<true> : ::bottom_up<false>;
    std::string variants = link ? "link" : "";
#if defined(BENCH_IMPL_OURO)
    // Diagnostic only: --no-gc disables automatic collection to show what the collector costs.
    if (args.flag("--no-gc")) {
        ouro::gc::disable();
        variants += variants.empty() ? "gc disabled" : ", gc disabled";
    }
#endif
    if (!variants.empty()) impl += " (" + variants + ")";
#if defined(BENCH_IMPL_OURO)
    impl = bench::start_tracemalloc(args, impl);  // --tracemalloc N [--sample BYTES]
#endif

    double t0 = bench::now();
    {
        Tree stretch = bottom_up(n + 1);
        long c = check(&*stretch);
        ok &= bench::check(c == expected(n + 1), "stretch tree check");
        nodes += c;
        std::snprintf(line, sizeof line, "stretch tree of depth %d\t check: %ld\n", n + 1, c);
        out += line;
    }
    Tree long_lived = bottom_up(n);
    nodes += expected(n);
    for (int d = min_depth; d <= n; d += 2) {
        long iterations = 1L << (n - d + min_depth);
        long c = 0;
        for (long i = 0; i < iterations; ++i) {
            Tree t = bottom_up(d);
            c += check(&*t);
        }
        ok &= bench::check(c == iterations * expected(d), "trees check");
        nodes += c;
        std::snprintf(line, sizeof line, "%ld\t trees of depth %d\t check: %ld\n", iterations, d, c);
        out += line;
    }
    long c = check(&*long_lived);
    ok &= bench::check(c == expected(n), "long-lived tree check");
    std::snprintf(line, sizeof line, "long lived tree of depth %d\t check: %ld\n", n, c);
    out += line;
    double elapsed = bench::now() - t0;

    if (text) {
        std::fputs(out.c_str(), stdout);
        return bench::g_failures ? 1 : 0;
    }
    bench::Extra extra{{"n", bench::jint(n)},
                       {"nodes", bench::jint(nodes)},
                       {"peak_rss_MB", bench::jnum(static_cast<double>(bench::peak_rss_bytes()) / 1e6)}};
#if defined(BENCH_IMPL_OURO)
    auto stats = ouro::gc::get_stats();
    double pause = 0;
    std::string collections = "[", pauses = "[";
    for (int g = 0; g < 3; ++g) {
        pause += stats[g].pause_seconds;
        collections += (g ? ", " : "") + bench::jint(static_cast<long long>(stats[g].collections));
        pauses += (g ? ", " : "") + bench::jnum(stats[g].pause_seconds);
    }
    extra.push_back({"collections", collections + "]"});
    extra.push_back({"gc_pause_by_generation_s", pauses + "]"});
    extra.push_back({"gc_pause_s", bench::jnum(pause)});
    // Young collections' cost per object they traced (a target: <= 10 ns).
    const double young_s = stats[0].pause_seconds + stats[1].pause_seconds;
    const double young_traced = static_cast<double>(stats[0].candidates + stats[1].candidates);
    extra.push_back({"young_traced", bench::jnum(young_traced)});
    extra.push_back({"young_ns_per_traced", bench::jnum(young_traced > 0 ? young_s * 1e9 / young_traced : 0)});
    if (ouro::tracemalloc::is_tracing()) {
        Tree kept = bottom_up(n);  // a tree alive for the tracer's figures
        bench::tracer_figures(extra);
    }
#elif defined(BENCH_IMPL_BOEHM)
    extra.push_back({"collections", bench::jint(static_cast<long long>(GC_get_gc_no()))});
#endif
    bench::emit("binary_trees", impl, "time_s", elapsed, "s", 0, ok, extra);
    return bench::g_failures ? 1 : 0;
}
