// A tiny interpreter's memory behaviour (peer: bench/python/interp.py), built once per
// implementation:
//   BENCH_IMPL_OURO    ouro::make / ouro::Ref everywhere; the cycles go to the collector
//   BENCH_IMPL_SHARED  std::make_shared / std::shared_ptr everywhere: every call's cycle leaks,
//                      which is what an interpreter written this way does (the peak RSS says how
//                      much)
//
// The objects are those of a tree-walking interpreter: an environment (Env: its variables and a
// parent Env) and a closure (Closure: a code id and the Env it captured). Calling a closure makes
// a new Env whose parent is the closure's Env; a function that defines a local function stores a
// Closure capturing its own Env in that Env, so every such call leaves Env -> Closure -> Env
// behind: a cycle, as in every real interpreter (CPython's frames and cells are no different).
//
// The program, in the interpreted language:
//   def one(x):                      def two(x):
//       def g(y): return add(x, y)       def g(y): return mul(x, y)
//       return g(x + 1)                  def h(y): return add(x, y)
//                                        return (g if x odd else h)(x) + 1
//   add(x, y) = x + y + G[(x + y) % 250]
//   mul(x, y) = (3x + y) * (G[x * y % 250] + 1) % 1000003
// where G is the module's numbers. The module ("global" Env) has 1000 entries: every fourth a
// number, the others one or two; --calls times a random function of the module is called with a
// random argument, and every --update-every calls a random entry is rebound (a new number, or a
// new closure capturing the module: the module's own long-lived cycles).
//
// Verified: each call's result equals the same function computed directly on the numbers (a
// freed or corrupted Env would show), the checksum of the results is printed (the same in every
// implementation), and with ouro, after a full collection, only the module and its closures are
// alive.
//
// Usage: interp_<impl> [--calls 2000000] [--update-every 1000] [--no-gc (ouro only)]
#include "common.hpp"

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace {

long g_envs = 0, g_closures = 0;  // live objects of each kind

// Names as a compiler would intern them; a global's name is kFirstGlobal + its slot.
enum Name : int { kX = 1, kY, kG, kH, kFirstGlobal = 100 };
enum Code : int { kOne, kTwo, kAdd, kMul };
constexpr int kGlobals = 1000;

#if defined(BENCH_IMPL_OURO)
template <class T> using Ptr = ouro::Ref<T>;
template <class T, class... A> Ptr<T> create(A&&... a) { return ouro::make<T>(std::forward<A>(a)...); }
struct Managed : ouro::Object {};
#else
template <class T> using Ptr = std::shared_ptr<T>;
template <class T, class... A> Ptr<T> create(A&&... a) { return std::make_shared<T>(std::forward<A>(a)...); }
struct Managed {};
#endif

struct Closure;

// A number or a function: the two kinds of value this language has.
struct Value {
    long num = 0;
    Ptr<Closure> fn;
};

struct Env : Managed {
    struct Slot {
        int name;
        Value value;
    };
    Ptr<Env> parent;
    std::vector<Slot> slots;

    Env(Ptr<Env> p, std::size_t room) : parent(std::move(p)) {
        ++g_envs;
        slots.reserve(room);
    }
    ~Env() { --g_envs; }
#if defined(BENCH_IMPL_OURO)
    void trace(ouro::Visitor& visit) override {
        visit(parent);
        for (auto& s : slots) visit(s.value.fn);
    }
#endif

    void define(int name, Value v) { slots.push_back({name, std::move(v)}); }

    // Lexical lookup. The module scope (the Env without a parent) is a dense table indexed by the
    // global's name, as a compiler resolves globals to slots; function scopes are searched.
    const Value& lookup(int name) const {
        const Env* e = this;
        for (; e->parent; e = e->parent.get())
            for (const Slot& s : e->slots)
                if (s.name == name) return s.value;
        return e->slots[static_cast<std::size_t>(name - kFirstGlobal)].value;
    }
};

struct Closure : Managed {
    int code;
    Ptr<Env> env;

    Closure(int c, Ptr<Env> e) : code(c), env(std::move(e)) { ++g_closures; }
    ~Closure() { --g_closures; }
#if defined(BENCH_IMPL_OURO)
    void trace(ouro::Visitor& visit) override { visit(env); }
#endif
};

long global_number(const Env& env, long key) { return env.lookup(kFirstGlobal + 4 * static_cast<int>(key % 250)).num; }

long call(const Closure& f, long arg) {
    switch (f.code) {
        case kOne: {
            auto frame = create<Env>(f.env, 2);
            frame->define(kX, Value{arg, nullptr});
            frame->define(kG, Value{0, create<Closure>(kAdd, frame)});
            Ptr<Closure> g = frame->lookup(kG).fn;
            return call(*g, arg + 1);
        }
        case kTwo: {
            auto frame = create<Env>(f.env, 3);
            frame->define(kX, Value{arg, nullptr});
            frame->define(kG, Value{0, create<Closure>(kMul, frame)});
            frame->define(kH, Value{0, create<Closure>(kAdd, frame)});
            Ptr<Closure> pick = frame->lookup(arg & 1 ? kG : kH).fn;
            return call(*pick, arg) + 1;
        }
        case kAdd: {
            auto frame = create<Env>(f.env, 1);
            frame->define(kY, Value{arg, nullptr});
            long x = frame->lookup(kX).num, y = frame->lookup(kY).num;
            return x + y + global_number(*frame, x + y);
        }
        default: {  // kMul
            auto frame = create<Env>(f.env, 1);
            frame->define(kY, Value{arg, nullptr});
            long x = frame->lookup(kX).num, y = frame->lookup(kY).num;
            return (3 * x + y) * (global_number(*frame, x * y) + 1) % 1000003;
        }
    }
}

// The same functions computed directly on the module's numbers, to check the interpreter.
long direct(const Env& module, int code, long x) {
    auto add = [&](long a, long b) { return a + b + global_number(module, a + b); };
    auto mul = [&](long a, long b) { return (3 * a + b) * (global_number(module, a * b) + 1) % 1000003; };
    return code == kOne ? add(x, x + 1) : (x & 1 ? mul(x, x) : add(x, x)) + 1;
}

}  // namespace

int main(int argc, char** argv) {
    bench::Args args(argc, argv);
    const long calls = std::max(0L, args.num("--calls", 2000000));
    const long update_every = std::max(1L, args.num("--update-every", 1000));
    std::string impl = bench::kImpl;
#if defined(BENCH_IMPL_OURO)
    // Diagnostic only: --no-gc disables automatic collection (every call's cycle then leaks).
    if (args.flag("--no-gc")) {
        ouro::gc::disable();
        impl += " (gc disabled)";
    }
#endif

    bench::Rng rng(7);
    double t0 = bench::now();
    auto module = create<Env>(nullptr, kGlobals);
    for (int i = 0; i < kGlobals; ++i) {
        if (i % 4 == 0) module->define(kFirstGlobal + i, Value{i * 7 % 1000, nullptr});
        else module->define(kFirstGlobal + i, Value{0, create<Closure>(i % 4 == 1 ? kTwo : kOne, module)});
    }

    std::uint64_t checksum = 0;
    long mismatches = 0;
    for (long i = 0; i < calls; ++i) {
        if (i % update_every == update_every - 1) {
            auto slot = rng.below(kGlobals);
            long v = static_cast<long>(rng.below(1000));
            Value& entry = module->slots[slot].value;
            if (slot % 4 == 0) entry.num = v;
            else entry.fn = create<Closure>(v & 1 ? kTwo : kOne, module);
        }
        auto slot = rng.below(kGlobals);
        if (slot % 4 == 0) ++slot;  // a function, not a number
        long arg = static_cast<long>(rng.below(1000));
        Ptr<Closure> f = module->slots[slot].value.fn;
        long result = call(*f, arg);
        mismatches += result != direct(*module, f->code, arg);
        checksum = checksum * 31 + static_cast<std::uint64_t>(result);
    }
    double elapsed = bench::now() - t0;

    long envs = g_envs, closures = g_closures;  // before the final collection: what was left
#if defined(BENCH_IMPL_OURO)
    const auto stats = ouro::gc::get_stats();  // the timed part's collections, not the final check's
#endif
    bool ok = bench::check(mismatches == 0, "interp: every result equals the direct computation");
#if defined(BENCH_IMPL_OURO)
    const long module_closures = kGlobals - kGlobals / 4;
    ouro::gc::collect();
    ok &= bench::check(g_envs == 1 && g_closures == module_closures,
                       "interp: only the module and its closures are alive after a full collection");
#endif
    const double peak_mb = static_cast<double>(bench::peak_rss_bytes()) / 1e6;
    bench::Extra extra{{"calls", bench::jint(calls)},
                       {"checksum", std::to_string(checksum)},
                       {"peak_rss_MB", bench::jnum(peak_mb)},
                       {"envs_alive_at_end", bench::jint(envs)},
                       {"closures_alive_at_end", bench::jint(closures)}};
#if defined(BENCH_IMPL_OURO)
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
#endif
    bench::emit("interp", impl, "time_s", elapsed, "s", 0, ok, extra);
    bench::emit("interp", impl, "peak_rss_MB", peak_mb, "MB", 0, ok);
    module = nullptr;
    return bench::g_failures ? 1 : 0;
}
