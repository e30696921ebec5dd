// Weak reference churn (peer: bench/python/weakref_churn.py): --n times, make an object, take a
// weak reference to it with a callback, drop the object (the callback runs at once), check that
// the weak reference is dead, drop it. A second shape keeps --n objects alive with a weak
// reference each and then frees them all (the table of weak references at full size). A third
// is the seed's cache: --n times, make an object, put it in a WeakValueDictionary under a new
// key, read it back, drop it (the entry vanishes).
// Verified: every callback ran exactly once, every weak reference reads as dead, every cache
// read found its object and the cache ends empty.
//
// Usage: weakref_churn_ouro [--n 1000000] [--reps 3]
#include "common.hpp"

#include <ouro/ouro.hpp>
#include <ouro/weak_value_dictionary.hpp>
#include <ouro/weakref.hpp>

#include <vector>

namespace {

struct Target : ouro::Object {
    long value;
    explicit Target(long v) : value(v) {}
};

void one_at_a_time(long n, long rep) {
    long fired = 0, dead = 0;
    double t0 = bench::now();
    for (long i = 0; i < n; ++i) {
        auto obj = ouro::make<Target>(i);
        ouro::WeakRef<Target> weak(obj, [&fired](const ouro::WeakRef<Target>&) { ++fired; });
        obj = nullptr;
        dead += !weak.alive();
    }
    double elapsed = bench::now() - t0;
    bool ok = bench::check(fired == n && dead == n, "weakref churn: callbacks and deaths");
    bench::emit("weakref_churn", "ouro", "time_s", elapsed, "s", rep, ok, {{"n", bench::jint(n)}});
}

void all_at_once(long n, long rep) {
    long fired = 0;
    std::vector<ouro::Ref<Target>> objs;
    std::vector<ouro::WeakRef<Target>> weaks;
    objs.reserve(static_cast<std::size_t>(n));
    weaks.reserve(static_cast<std::size_t>(n));
    double t0 = bench::now();
    for (long i = 0; i < n; ++i) {
        objs.push_back(ouro::make<Target>(i));
        weaks.emplace_back(objs.back(), [&fired](const ouro::WeakRef<Target>&) { ++fired; });
    }
    long alive = 0;
    for (auto& w : weaks) alive += w.alive();
    objs.clear();
    long dead = 0;
    for (auto& w : weaks) dead += !w.alive();
    weaks.clear();
    double elapsed = bench::now() - t0;
    bool ok = bench::check(alive == n && fired == n && dead == n, "weakref bulk: callbacks and deaths");
    bench::emit("weakref_bulk", "ouro", "time_s", elapsed, "s", rep, ok, {{"n", bench::jint(n)}});
}

void dictionary_churn(long n, long rep) {
    long found = 0;
    ouro::WeakValueDictionary<long, Target> cache;
    double t0 = bench::now();
    for (long i = 0; i < n; ++i) {
        auto obj = ouro::make<Target>(i);
        cache.insert_or_assign(i, obj);
        found += cache.get(i) == obj;
    }
    double elapsed = bench::now() - t0;
    bool ok = bench::check(found == n && cache.empty(), "weak dictionary churn: reads and vanished entries");
    bench::emit("weakdict_churn", "ouro", "time_s", elapsed, "s", rep, ok, {{"n", bench::jint(n)}});
}

}  // namespace

int main(int argc, char** argv) {
    bench::Args args(argc, argv);
    long n = args.num("--n", 1000000);
    long reps = args.num("--reps", 3);
    for (long rep = 0; rep < reps; ++rep) one_at_a_time(n, rep);
    for (long rep = 0; rep < reps; ++rep) all_at_once(n, rep);
    for (long rep = 0; rep < reps; ++rep) dictionary_churn(n, rep);
    return bench::g_failures ? 1 : 0;
}
