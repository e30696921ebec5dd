// Per-object overhead: every byte a managed object costs beyond the user's own fields.
//
// "The user's own fields" is sizeof(Plain), the same fields in a plain C++ struct with raw
// pointers (so the user's own padding is not counted as overhead; see docs/benchmarks.md).
// Two measurements per shape:
//   static_B : the allocator block the object occupies (sys::getsizeof for ouroboros, GC_size for
//              Boehm; std::make_shared exposes no block size) minus sizeof(Plain);
//   rss_B    : resident memory grown while N objects are built as a chain, divided by N, minus
//              sizeof(Plain): headers, vptr, size-class rounding, pool headers and tails, and any
//              side tables (the young-generation lists) all count.
//
// Built three times: BENCH_IMPL_OURO (ouro::make), BENCH_IMPL_SHARED (std::make_shared) and
// BENCH_IMPL_BOEHM (GC_MALLOC). Usage: overhead_<impl> --shape ref|int_ref|ref_ref|d3_ref --n N
#include "common.hpp"

#include <memory>
#include <string>

namespace {

// The plain structs: what the fields cost with no memory management at all.
struct PlainRef { PlainRef* next; };
struct PlainIntRef { int value; PlainIntRef* next; };
struct PlainRefRef { PlainRefRef* left; PlainRefRef* right; };
struct PlainD3Ref { double x, y, z; PlainD3Ref* next; };

#if defined(BENCH_IMPL_OURO)
struct NRef : ouro::Object {
    ouro::Ref<NRef> next;
    NRef(int, ouro::Ref<NRef> n) : next(std::move(n)) {}
    void trace(ouro::Visitor& v) override { v(next); }
};
struct NIntRef : ouro::Object {
    int value;
    ouro::Ref<NIntRef> next;
    NIntRef(int i, ouro::Ref<NIntRef> n) : value(i), next(std::move(n)) {}
    void trace(ouro::Visitor& v) override { v(next); }
};
struct NRefRef : ouro::Object {
    ouro::Ref<NRefRef> left, right;
    NRefRef(int, ouro::Ref<NRefRef> n) : left(std::move(n)) {}
    void trace(ouro::Visitor& v) override {
        v(left);
        v(right);
    }
};
struct ND3Ref : ouro::Object {
    double x, y, z;
    ouro::Ref<ND3Ref> next;
    ND3Ref(int i, ouro::Ref<ND3Ref> n) : x(i), y(i), z(i), next(std::move(n)) {}
    void trace(ouro::Visitor& v) override { v(next); }
};
template <class N>
using Handle = ouro::Ref<N>;
template <class N>
Handle<N> make_node(int i, Handle<N> next) { return ouro::make<N>(i, std::move(next)); }
template <class N>
std::size_t static_block(const Handle<N>& h) { return ouro::sys::getsizeof(*h); }
template <class N>
N* link_of(N* n) {
    if constexpr (requires { n->next; }) return n->next.get();
    else return n->left.get();
}
template <class N>
void teardown(Handle<N>& head) { head = nullptr; }  // ouroboros releases chains iteratively
#elif defined(BENCH_IMPL_SHARED)
struct NRef {
    std::shared_ptr<NRef> next;
    NRef(int, std::shared_ptr<NRef> n) : next(std::move(n)) {}
};
struct NIntRef {
    int value;
    std::shared_ptr<NIntRef> next;
    NIntRef(int i, std::shared_ptr<NIntRef> n) : value(i), next(std::move(n)) {}
};
struct NRefRef {
    std::shared_ptr<NRefRef> left, right;
    NRefRef(int, std::shared_ptr<NRefRef> n) : left(std::move(n)) {}
};
struct ND3Ref {
    double x, y, z;
    std::shared_ptr<ND3Ref> next;
    ND3Ref(int i, std::shared_ptr<ND3Ref> n) : x(i), y(i), z(i), next(std::move(n)) {}
};
template <class N>
using Handle = std::shared_ptr<N>;
template <class N>
Handle<N> make_node(int i, Handle<N> next) { return std::make_shared<N>(i, std::move(next)); }
template <class N>
std::size_t static_block(const Handle<N>&) { return 0; }
template <class N>
N* link_of(N* n) {
    if constexpr (requires { n->next; }) return n->next.get();
    else return n->left.get();
}
template <class N>
std::shared_ptr<N>& link_ref(N* n) {
    if constexpr (requires { n->next; }) return n->next;
    else return n->left;
}
// A shared_ptr chain dies recursively (one stack frame per node): unlink it by hand.
template <class N>
void teardown(Handle<N>& head) {
    while (head) {
        Handle<N> next = std::move(link_ref(head.get()));
        head = std::move(next);
    }
}
#else
struct NRef { NRef* next; };
struct NIntRef { int value; NIntRef* next; };
struct NRefRef { NRefRef* left; NRefRef* right; };
struct ND3Ref { double x, y, z; ND3Ref* next; };
template <class N>
using Handle = N*;
template <class N>
Handle<N> make_node(int i, Handle<N> next) {
    auto* n = static_cast<N*>(GC_MALLOC(sizeof(N)));
    if constexpr (requires { n->value; }) n->value = i;
    if constexpr (requires { n->x; }) n->x = n->y = n->z = i;
    if constexpr (requires { n->next; }) n->next = next;
    else n->left = next, n->right = nullptr;
    return n;
}
template <class N>
std::size_t static_block(const Handle<N>& h) { return GC_size(h); }
template <class N>
N* link_of(N* n) {
    if constexpr (requires { n->next; }) return n->next;
    else return n->left;
}
template <class N>
void teardown(Handle<N>& head) { head = nullptr; }
#endif

template <class N, class Plain>
void measure(const std::string& shape, long n) {
    Handle<N> warm = make_node<N>(0, Handle<N>{});  // the heap / GC exists before the baseline
    std::size_t before = bench::rss_bytes();
    std::size_t free_before = bench::malloc_free_bytes();
    Handle<N> head{};
    for (long i = 0; i < n; ++i) head = make_node<N>(static_cast<int>(i), std::move(head));
    std::size_t after = bench::rss_bytes();
    std::size_t free_after = bench::malloc_free_bytes();
#if defined(BENCH_IMPL_OURO)
    // A full collection needs scratch memory (a slot per block, the candidate list); glibc may
    // keep it resident afterwards. Reported separately: it is not part of any object.
    ouro::gc::collect();
    std::size_t after_collect = bench::rss_bytes();
#endif
    // Verify: the chain holds all n objects.
    long count = 0;
    for (N* p = &*head; p; p = link_of(p)) ++count;
    bool ok = bench::check(count == n, "chain length");
    auto per_object = [&](std::size_t rss) { return static_cast<double>(rss - before) / static_cast<double>(n); };
    std::size_t block = static_block(head);
    bench::Extra extra{{"shape", bench::jstr(shape)}, {"plain_B", bench::jint(sizeof(Plain))},
                       {"objects", bench::jint(n)}, {"rss_per_object_B", bench::jnum(per_object(after))}};
    if (block) {
        extra.push_back({"block_B", bench::jint(static_cast<long long>(block))});
        bench::emit("overhead_" + shape, bench::kImpl, "static_B", static_cast<double>(block) - sizeof(Plain), "B", 0, ok,
                    extra);
    }
    bench::emit("overhead_" + shape, bench::kImpl, "rss_B", per_object(after) - sizeof(Plain), "B", 0, ok, extra);
    // RSS less the memory glibc holds free: what live allocations occupy.
    double live = (static_cast<double>(after) - static_cast<double>(free_after) - static_cast<double>(before) +
                   static_cast<double>(free_before)) / static_cast<double>(n);
    bench::emit("overhead_" + shape, bench::kImpl, "rss_live_B", live - sizeof(Plain), "B", 0, ok, extra);
#if defined(BENCH_IMPL_OURO)
    bench::emit("overhead_" + shape, bench::kImpl, "rss_after_collect_B", per_object(after_collect) - sizeof(Plain), "B", 0,
                ok, extra);
#endif
    teardown(head);
    bench::keep(warm);
}

}  // namespace

int main(int argc, char** argv) {
#if defined(BENCH_IMPL_BOEHM)
    GC_INIT();
#endif
    bench::Args args(argc, argv);
    std::string shape = args.str("--shape", "int_ref");
    long n = args.num("--n", 1000000);
    if (shape == "ref") measure<NRef, PlainRef>(shape, n);
    else if (shape == "int_ref") measure<NIntRef, PlainIntRef>(shape, n);
    else if (shape == "ref_ref") measure<NRefRef, PlainRefRef>(shape, n);
    else if (shape == "d3_ref") measure<ND3Ref, PlainD3Ref>(shape, n);
    else {
        std::fprintf(stderr, "unknown shape %s\n", shape.c_str());
        return 2;
    }
    return bench::g_failures ? 1 : 0;
}
