// The containers (peers: bench/python/containers.py, and this program built on the standard
// library): List of references against std::vector<std::shared_ptr>, Dict<long, long> against
// std::unordered_map, Array<int> against std::vector<int>, Deque of references against
// std::deque<std::shared_ptr>. Each operation is timed over --n elements; the figures are the
// whole loop ("time_s") and the container's bytes per element ("bytes_per_elem": sys::getsizeof
// here and in CPython; for the standard containers what they take from malloc).
// Dictionary keys are inserted in one random order and looked up in another (sequential lookups
// would favour std::unordered_map, whose bucket array then walks its nodes in allocation order).
// Verified: every loop's checksum against its closed form.
//
// Usage: containers_ouro|containers_std [--n 1000000] [--reps 3]
#include "common.hpp"

#include <sys/resource.h>

#include <deque>
#include <memory>
#include <numeric>
#include <unordered_map>
#include <vector>

namespace {

#if defined(BENCH_IMPL_OURO)
struct Node : ouro::Object {
    long v;
    explicit Node(long x) : v(x) {}
};
using Handle = ouro::Ref<Node>;
Handle make_node(long v) { return ouro::make<Node>(v); }
using RefList = ouro::List<Node>;
using IntDict = ouro::Dict<long, long>;
using IntArray = ouro::Array<int>;
using RefDeque = ouro::Deque<Node>;
void push(RefList& l, const Handle& h) { l.append(h); }
void push(IntArray& a, int x) { a.append(x); }
// Checked indexing, as Python's (IndexError).
template <class C>
decltype(auto) at(const C& c, long i) {
    return c[i];
}
Handle take_back(RefList& l) { return l.pop(); }
long lookup(const IntDict& d, long k) { return d.at(k); }
void push_back(RefDeque& d, const Handle& h) { d.append(h); }
void push_front(RefDeque& d, const Handle& h) { d.appendleft(h); }
Handle take_back(RefDeque& d) { return d.pop(); }
Handle take_front(RefDeque& d) { return d.popleft(); }
// Bytes per element: sys.getsizeof's figure, as for CPython.
template <class C>
double bytes_per_elem(const C& c, std::size_t) {
    return static_cast<double>(ouro::sys::getsizeof(c)) / static_cast<double>(c.size());
}
template <class C>
auto make_container() {
    return ouro::make<C>();
}
#else
struct Node {
    long v;
    explicit Node(long x) : v(x) {}
};
using Handle = std::shared_ptr<Node>;
Handle make_node(long v) { return std::make_shared<Node>(v); }
using RefList = std::vector<Handle>;
using IntDict = std::unordered_map<long, long>;
using IntArray = std::vector<int>;
using RefDeque = std::deque<Handle>;
void push(RefList& l, const Handle& h) { l.push_back(h); }
void push(IntArray& a, int x) { a.push_back(x); }
// Checked indexing, as Python's: at() (operator[] is unchecked, and the compiler vectorises the
// array's loop over it: docs/benchmarks.md gives that figure too).
template <class C>
decltype(auto) at(const C& c, long i) {
    return c.at(static_cast<std::size_t>(i));
}
Handle take_back(RefList& l) {
    Handle h = std::move(l.back());
    l.pop_back();
    return h;
}
long lookup(const IntDict& d, long k) { return d.at(k); }
void push_back(RefDeque& d, const Handle& h) { d.push_back(h); }
void push_front(RefDeque& d, const Handle& h) { d.push_front(h); }
Handle take_back(RefDeque& d) {
    Handle h = std::move(d.back());
    d.pop_back();
    return h;
}
Handle take_front(RefDeque& d) {
    Handle h = std::move(d.front());
    d.pop_front();
    return h;
}
// Bytes per element: what the container took from malloc while it was built (chunk headers
// included), measured by the caller.
template <class C>
double bytes_per_elem(const C& c, std::size_t malloc_bytes) {
    return static_cast<double>(malloc_bytes + sizeof(C)) / static_cast<double>(c.size());
}
template <class C>
auto make_container() {
    return std::make_unique<C>();
}
#endif

// Bytes malloc has handed out, big (mmapped) blocks included.
std::size_t malloc_in_use() {
    const struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}
long minor_faults() {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}

struct Run {
    long n;
    long rep;
    std::vector<Handle> nodes;  // node i has v == i
    std::vector<long> order;    // a permutation of 0..n-1: the keys in insertion order
    std::vector<long> lookups;  // another one: the keys in lookup order
    long sum_v() const { return n * (n - 1) / 2; }

    long faults = minor_faults();
    // The loop since t0; its page faults are reported beside it (memory the allocator had given
    // back to the OS and must fault in again).
    void time(const char* bench, double t0, bool ok, const char* what) {
        const double elapsed = bench::now() - t0;
        const long f = minor_faults();
        bench::emit(bench, bench::kImpl, "time_s", elapsed, "s", rep, bench::check(ok, what),
                    {{"n", bench::jint(n)}, {"page_faults", bench::jint(f - std::exchange(faults, f))}});
    }
    void bytes(const char* bench, double b) {
        bench::emit(bench, bench::kImpl, "bytes_per_elem", b, "B", rep, true, {{"n", bench::jint(n)}});
    }

    // The floor under every append of references: the same n copies into a buffer reserved and
    // faulted in beforehand (no growth, no container logic, no page faults), each writing its
    // object's count as an append does. A container's append cannot beat it; CPython's append
    // pays it too, plus its interpreter.
    void copy_floor() {
        std::vector<Handle> v(nodes);  // faults the buffer in
        v.clear();
        faults = minor_faults();
        const double t0 = bench::now();
        for (const Handle& h : nodes) v.push_back(h);
        time("containers_copy_floor", t0, static_cast<long>(v.size()) == n, "copy floor: size");
    }

    void list() {
        auto l = make_container<RefList>();
        const std::size_t m0 = malloc_in_use();
        double t0 = bench::now();
        for (const Handle& h : nodes) push(*l, h);
        time("containers_list_append", t0, static_cast<long>(l->size()) == n, "list append: size");
        bytes("containers_list_bytes", bytes_per_elem(*l, malloc_in_use() - m0));
        long s = 0;
        t0 = bench::now();
        for (long i = 0; i < n; ++i) s += at(*l, i)->v;
        time("containers_list_index", t0, s == sum_v(), "list index: sum");
        s = 0;
        t0 = bench::now();
        for (const Handle& h : *l) s += h->v;
        time("containers_list_iterate", t0, s == sum_v(), "list iterate: sum");
        s = 0;
        t0 = bench::now();
        while (!l->empty()) s += take_back(*l)->v;
        time("containers_list_pop", t0, s == sum_v(), "list pop: sum");
    }

    void dict() {
        auto d = make_container<IntDict>();
        const std::size_t m0 = malloc_in_use();
        double t0 = bench::now();
        for (long k : order) d->insert_or_assign(k, k);
        time("containers_dict_insert", t0, static_cast<long>(d->size()) == n, "dict insert: size");
        bytes("containers_dict_bytes", bytes_per_elem(*d, malloc_in_use() - m0));
        long s = 0;
        t0 = bench::now();
        for (long k : lookups) s += lookup(*d, k);
        time("containers_dict_lookup", t0, s == sum_v(), "dict lookup: sum");
        s = 0;
        t0 = bench::now();
        for (const auto& [k, v] : *d) s += v;
        time("containers_dict_iterate", t0, s == sum_v(), "dict iterate: sum");
    }

    void array() {
        auto a = make_container<IntArray>();
        const std::size_t m0 = malloc_in_use();
        double t0 = bench::now();
        for (long i = 0; i < n; ++i) push(*a, static_cast<int>(i));
        time("containers_array_append", t0, static_cast<long>(a->size()) == n, "array append: size");
        bytes("containers_array_bytes", bytes_per_elem(*a, malloc_in_use() - m0));
        long s = 0;
        t0 = bench::now();
        for (long i = 0; i < n; ++i) s += at(*a, i);
        time("containers_array_index", t0, s == sum_v(), "array index: sum");
        s = 0;
        t0 = bench::now();
        for (int x : *a) s += x;
        time("containers_array_iterate", t0, s == sum_v(), "array iterate: sum");
    }

    // Timed warm, after the deque was built and emptied once: a first build from cold memory
    // faults its blocks in (the pools gave their pages back while the other containers ran),
    // where glibc reuses what the dictionary freed.
    void deque() {
        auto d = make_container<RefDeque>();
        for (const Handle& h : nodes) push_back(*d, h);
        while (!d->empty()) take_back(*d);
        d = make_container<RefDeque>();
        const std::size_t m0 = malloc_in_use();
        faults = minor_faults();
        double t0 = bench::now();
        for (const Handle& h : nodes) push_back(*d, h);
        time("containers_deque_append", t0, static_cast<long>(d->size()) == n, "deque append: size");
        bytes("containers_deque_bytes", bytes_per_elem(*d, malloc_in_use() - m0));
        long s = 0;
        t0 = bench::now();
        for (const Handle& h : *d) s += h->v;
        time("containers_deque_iterate", t0, s == sum_v(), "deque iterate: sum");
        s = 0;
        t0 = bench::now();
        while (!d->empty()) s += take_front(*d)->v;
        time("containers_deque_popleft", t0, s == sum_v(), "deque popleft: sum");
        t0 = bench::now();
        for (const Handle& h : nodes) push_front(*d, h);
        time("containers_deque_appendleft", t0, static_cast<long>(d->size()) == n, "deque appendleft: size");
        s = 0;
        t0 = bench::now();
        while (!d->empty()) s += take_back(*d)->v;
        time("containers_deque_pop", t0, s == sum_v(), "deque pop: sum");
    }
};

}  // namespace

int main(int argc, char** argv) {
    bench::Args args(argc, argv);
    Run run{args.num("--n", 1000000), 0, {}, {}, {}};
    const long reps = args.num("--reps", 3);
    for (long i = 0; i < run.n; ++i) run.nodes.push_back(make_node(i));
    run.order.resize(static_cast<std::size_t>(run.n));
    std::iota(run.order.begin(), run.order.end(), 0L);
    run.lookups = run.order;
    bench::Rng rng(42), rng2(7);
    bench::shuffle(run.order, rng);
    bench::shuffle(run.lookups, rng2);
    for (run.rep = 0; run.rep < reps; ++run.rep) {
        run.copy_floor();
        run.list();
        run.dict();
        run.array();
        run.deque();
    }
    return bench::g_failures ? 1 : 0;
}
