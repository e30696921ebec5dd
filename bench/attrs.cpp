// Attributes in a per-instance dictionary against a fixed layout (peer: bench/python/attrs.py):
//   --layout dict    ouro::DynObject, its attributes set by name (Python: an ordinary class,
//                    whose instances share their keys, PEP 412)
//   --layout slots   a managed struct with two int64 members (Python: __slots__ = ("x", "y"))
// For n instances with two int attributes x and y, each reports:
//   attr_bytes_<layout>  static_B: sys::getsizeof per instance (the object and its values);
//                        rss_B: resident memory grown while the instances are made, / n
//   attr_read_<layout>   `passes` passes over the instances adding up o.x + o.y
//   attr_write_<layout>  `passes` passes setting o.x
// Verified: every sum against its closed form, and (dict) every instance shares its keys.
//
// Usage: attrs_ouro --layout dict|slots [--n 1000000] [--passes 10] [--reps 3]
#include "common.hpp"

#include <ouro/dyn_object.hpp>
#include <ouro/ouro.hpp>

#include <string>
#include <vector>

namespace {

struct Dict : ouro::DynObject {
    Dict(long x, long y) {
        setattr("x", x);
        setattr("y", y);
    }
    long x() const { return getattr("x").as_int(); }
    long y() const { return getattr("y").as_int(); }
    void set_x(long v) { setattr("x", v); }
};

struct Slots : ouro::Object {
    std::int64_t x_, y_;
    Slots(long x, long y) : x_(x), y_(y) {}
    long x() const { return x_; }
    long y() const { return y_; }
    void set_x(long v) { x_ = v; }
};

template <class T>
bool shares(const T&) {
    return true;
}
template <>
bool shares(const Dict& d) {
    return d.shares_keys();
}

template <class T>
void run(const std::string& layout, long n, long passes, long rep) {
    std::vector<ouro::Ref<T>> objs(static_cast<std::size_t>(n));  // its pages touched before the baseline
    const std::size_t rss0 = bench::rss_bytes();
    for (long i = 0; i < n; ++i) objs[static_cast<std::size_t>(i)] = ouro::make<T>(i, 2 * i);
    const double rss = static_cast<double>(bench::rss_bytes() - rss0) / static_cast<double>(n);
    bool shared = true;
    for (auto& o : objs) shared &= shares(*o);
    bool ok = bench::check(shared, "attrs: instances share their keys");
    const double size = static_cast<double>(ouro::sys::getsizeof(*objs[0]));
    bench::emit("attr_bytes_" + layout, "ouro", "static_B", size, "B", rep, ok);
    bench::emit("attr_bytes_" + layout, "ouro", "rss_B", rss, "B", rep, ok);

    double t0 = bench::now();
    long total = 0;
    for (long p = 0; p < passes; ++p)
        for (auto& o : objs) total += o->x() + o->y();
    double elapsed = bench::now() - t0;
    const double accesses = 2.0 * static_cast<double>(n) * static_cast<double>(passes);
    ok = bench::check(total == passes * 3 * (n * (n - 1) / 2), "attrs: read sum");
    bench::emit("attr_read_" + layout, "ouro", "time_s", elapsed, "s", rep, ok,
                {{"ns_per_access", bench::jnum(elapsed * 1e9 / accesses)}});

    t0 = bench::now();
    for (long p = 0; p < passes; ++p)
        for (long i = 0; i < n; ++i) objs[static_cast<std::size_t>(i)]->set_x(i + p);
    elapsed = bench::now() - t0;
    total = 0;
    for (auto& o : objs) total += o->x();
    ok = bench::check(total == n * (n - 1) / 2 + n * (passes - 1), "attrs: write sum");
    bench::emit("attr_write_" + layout, "ouro", "time_s", elapsed, "s", rep, ok,
                {{"ns_per_access", bench::jnum(elapsed * 1e9 / (accesses / 2))}});
}

}  // namespace

int main(int argc, char** argv) {
    bench::Args args(argc, argv);
    const std::string layout = args.str("--layout", "dict");
    long n = args.num("--n", 1000000);
    long passes = args.num("--passes", 10);
    long reps = args.num("--reps", 3);
    ouro::gc::disable();  // as the peer: only the attribute work is measured
    for (long rep = 0; rep < reps; ++rep) {
        ouro::Heap heap;  // a fresh heap each time: the RSS growth is this repetition's
        ouro::Heap::Scope scope(heap);
        ouro::gc::disable();
        if (layout == "slots") run<Slots>(layout, n, passes, rep);
        else run<Dict>(layout, n, passes, rep);
    }
    return bench::g_failures ? 1 : 0;
}
