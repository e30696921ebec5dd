// Weak references (peers: bench/python/weakref_churn.py, and this file built with std::weak_ptr),
// one figure per shape (--shape all runs every timed one in one process):
//   churn        --n times, make an object, take a weak reference to it with a callback, drop the
//                object (the callback runs at once), check that the weak reference is dead, drop
//                it. std::weak_ptr has no callbacks: its loop counts the death itself.
//   churn_plain  the same without a callback
//   churn_live   --n times, take a weak reference to one of 1024 live objects and drop it (the
//                object has no other weak reference: its record is made and freed each time)
//   bulk         --n live objects with a weak reference (callback) each, then all freed
//   parent_build --n children, each holding a weak reference without a callback to one of n/16
//                parents (make the child, then set its parent link)
//   parent_deref 10 rounds over those children: `if (auto p = child->parent()) sum += p->value`
//   dict         --n times, make an object, put it in a WeakValueDictionary under a new key, read
//                it back, drop it (the entry vanishes)
//   index        a weak index over a window of the 100k newest objects: --n times, make an object
//                and index it under a new key, look up a live key and a dead one, and let the
//                object that leaves the window die (its entry goes with it). The std peer is an
//                std::unordered_map<long, std::weak_ptr> that erases the dead object's key itself
//                (the most it could know), so it never holds an expired entry.
// and, in a process of their own (--shape memory), the bytes a weak reference costs:
//   mem_handle        sizeof(WeakRef) / sizeof(std::weak_ptr)
//   mem_shared_parent --n weak references to n/100 objects: heap growth per reference plus the
//                     handle (records of references without callbacks are shared)
//   mem_own_referent  --n objects with one weak reference each: the same
//   mem_index_entry   --n entries of a WeakValueDictionary<int, T> / unordered_map<int,
//                     weak_ptr<T>> (values made before): heap growth per entry beyond the key
// Heap growth is malloc's bytes in use (mallinfo2: uordblks + hblkhd) plus, for ouroboros, the
// bytes of the blocks in use in its pools (sys::mallocstats().bytes_in_use).
// Verified: every callback ran exactly once, every weak reference reads as dead after its
// referent, every lookup found what it should, the containers end empty.
//
// Usage: weakref_churn_<impl> [--n 1000000] [--reps 3] [--shape all|memory|<shape>]
#include "common.hpp"

#include <malloc.h>

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#if defined(BENCH_IMPL_OURO)
#  include <ouro/sys.hpp>
#  include <ouro/weak_value_dictionary.hpp>
#  include <ouro/weakref.hpp>
#endif

namespace {

#if defined(BENCH_IMPL_OURO)
struct Target : ouro::Object {
    long value;
    explicit Target(long v) : value(v) {}
};
using Ptr = ouro::Ref<Target>;
using Weak = ouro::WeakRef<Target>;
Ptr make_target(long v) { return ouro::make<Target>(v); }
Weak weak_of(const Ptr& p) { return Weak(p); }
template <class F>
Weak weak_with_callback(const Ptr& p, F&& on_death) {
    return Weak(p, [f = std::forward<F>(on_death)](const Weak&) { f(); });
}
Ptr lock(const Weak& w) { return w(); }
bool dead(const Weak& w) { return !w.alive(); }

struct Child : ouro::Object {
    long value;
    Weak parent;
    explicit Child(long v) : value(v) {}
    OURO_TRACE(parent)
};
using ChildPtr = ouro::Ref<Child>;
ChildPtr make_child(long v) { return ouro::make<Child>(v); }

// The entry of a dead object goes with it.
template <class K>
class Index {
public:
    void put(K key, const Ptr& p) { map_.insert_or_assign(key, p); }
    Ptr get(K key) const { return map_.get(key); }
    void died(K) {}
    std::size_t size() const { return map_.size(); }

private:
    ouro::WeakValueDictionary<K, Target> map_;
};

double heap_bytes() {
    struct mallinfo2 mi = mallinfo2();
    return static_cast<double>(mi.uordblks + mi.hblkhd) + static_cast<double>(ouro::sys::mallocstats().bytes_in_use);
}
#else
struct Target {
    long value;
    explicit Target(long v) : value(v) {}
};
using Ptr = std::shared_ptr<Target>;
using Weak = std::weak_ptr<Target>;
Ptr make_target(long v) { return std::make_shared<Target>(v); }
Weak weak_of(const Ptr& p) { return Weak(p); }
template <class F>
Weak weak_with_callback(const Ptr& p, F&&) {
    return Weak(p);
}
Ptr lock(const Weak& w) { return w.lock(); }
bool dead(const Weak& w) { return w.expired(); }

struct Child {
    long value;
    Weak parent;
    explicit Child(long v) : value(v) {}
};
using ChildPtr = std::shared_ptr<Child>;
ChildPtr make_child(long v) { return std::make_shared<Child>(v); }

// Nothing tells the map that an object died: the program erases the key itself.
template <class K>
class Index {
public:
    void put(K key, const Ptr& p) { map_.insert_or_assign(key, p); }
    Ptr get(K key) const {
        auto it = map_.find(key);
        return it == map_.end() ? nullptr : it->second.lock();
    }
    void died(K key) { map_.erase(key); }
    std::size_t size() const { return map_.size(); }

private:
    std::unordered_map<K, std::weak_ptr<Target>> map_;
};

double heap_bytes() {
    struct mallinfo2 mi = mallinfo2();
    return static_cast<double>(mi.uordblks + mi.hblkhd);
}
#endif

void report(const char* bench, double seconds, long rep, bool ok, long n) {
    bench::emit(bench, bench::kImpl, "time_s", seconds, "s", rep, ok, {{"n", bench::jint(n)}});
}

void churn(long n, long rep, bool with_callback) {
    long fired = 0, dead_count = 0;
    double t0 = bench::now();
    for (long i = 0; i < n; ++i) {
        Ptr obj = make_target(i);
        Weak weak = with_callback ? weak_with_callback(obj, [&fired] { ++fired; }) : weak_of(obj);
        obj = nullptr;
#if !defined(BENCH_IMPL_OURO)
        fired += with_callback && weak.expired();  // what the callback would have done
#endif
        dead_count += dead(weak);
    }
    double elapsed = bench::now() - t0;
    bool ok = bench::check(fired == (with_callback ? n : 0) && dead_count == n, "weakref churn: callbacks and deaths");
    report(with_callback ? "weakref_churn" : "weakref_churn_plain", elapsed, rep, ok, n);
}

void churn_live(long n, long rep) {
    constexpr long kLive = 1024;
    std::vector<Ptr> objs;
    for (long i = 0; i < kLive; ++i) objs.push_back(make_target(i));
    long alive = 0;
    double t0 = bench::now();
    for (long i = 0; i < n; ++i) {
        Weak w = weak_of(objs[static_cast<std::size_t>(i % kLive)]);
        alive += !dead(w);
    }
    double elapsed = bench::now() - t0;
    report("weakref_churn_live", elapsed, rep, bench::check(alive == n, "weakref churn (live): all alive"), n);
}

void bulk(long n, long rep) {
    long fired = 0;
    std::vector<Ptr> objs;
    std::vector<Weak> weaks;
    objs.reserve(static_cast<std::size_t>(n));
    weaks.reserve(static_cast<std::size_t>(n));
    double t0 = bench::now();
    for (long i = 0; i < n; ++i) {
        objs.push_back(make_target(i));
        weaks.push_back(weak_with_callback(objs.back(), [&fired] { ++fired; }));
    }
    long alive = 0;
    for (auto& w : weaks) alive += !dead(w);
    objs.clear();
    long dead_count = 0;
    for (auto& w : weaks) dead_count += dead(w);
#if !defined(BENCH_IMPL_OURO)
    fired = dead_count;  // what the callbacks would have counted
#endif
    weaks.clear();
    double elapsed = bench::now() - t0;
    bool ok = bench::check(alive == n && fired == n && dead_count == n, "weakref bulk: callbacks and deaths");
    report("weakref_bulk", elapsed, rep, ok, n);
}

void parent(long n, long rep) {
    const long parents_n = std::max(1L, n / 16);
    bench::Rng rng(42);
    std::vector<Ptr> parents;
    for (long i = 0; i < parents_n; ++i) parents.push_back(make_target(i));
    std::vector<ChildPtr> children;
    children.reserve(static_cast<std::size_t>(n));
    long expected = 0;
    double t0 = bench::now();
    for (long i = 0; i < n; ++i) {
        const Ptr& p = parents[rng.below(static_cast<std::uint64_t>(parents_n))];
        expected += p->value;
        children.push_back(make_child(i));
        children.back()->parent = weak_of(p);
    }
    double t1 = bench::now();
    long sum = 0, rounds = 10;
    for (long r = 0; r < rounds; ++r)
        for (const ChildPtr& c : children)
            if (auto p = lock(c->parent)) sum += p->value;
    double t2 = bench::now();
    bool ok = bench::check(sum == rounds * expected, "weak parents: every dereference found its parent");
    report("weak_parent_build", t1 - t0, rep, ok, n);
    report("weak_parent_deref", t2 - t1, rep, ok, n * rounds);
    children.clear();
    parents.clear();
}

void dict(long n, long rep) {
    long found = 0;
    Index<long> cache;
    double t0 = bench::now();
    for (long i = 0; i < n; ++i) {
        Ptr obj = make_target(i);
        cache.put(i, obj);
        found += cache.get(i) == obj;
        obj = nullptr;
        cache.died(i);
    }
    double elapsed = bench::now() - t0;
    bool ok = bench::check(found == n && cache.size() == 0, "weak dictionary churn: reads and vanished entries");
    report("weakdict_churn", elapsed, rep, ok, n);
}

void index(long n, long rep) {
    const long window = std::min(n, 100000L);
    bench::Rng rng(7);
    Index<long> idx;
    std::vector<Ptr> ring(static_cast<std::size_t>(window));
    long hits = 0, misses = 0, wrong = 0;
    double t0 = bench::now();
    for (long i = 0; i < n; ++i) {
        Ptr obj = make_target(i);
        idx.put(i, obj);
        Ptr& slot = ring[static_cast<std::size_t>(i % window)];
        if (slot) {
            const long gone = slot->value;
            slot = std::move(obj);  // the old object dies here
            idx.died(gone);
        } else {
            slot = std::move(obj);
        }
        const long live = i - static_cast<long>(rng.below(static_cast<std::uint64_t>(std::min(i + 1, window))));
        if (Ptr p = idx.get(live)) hits += 1, wrong += p->value != live;
        if (i >= window && !idx.get(i - window - static_cast<long>(rng.below(1000)))) ++misses;
    }
    double elapsed = bench::now() - t0;
    bool ok = bench::check(hits == n && misses == std::max(0L, n - window) && wrong == 0 &&
                               idx.size() == static_cast<std::size_t>(window),
                           "weak index: live keys found, dead keys gone");
    for (Ptr& p : ring) {
        const long key = p->value;
        p = nullptr;
        idx.died(key);
    }
    ok = bench::check(idx.size() == 0, "weak index: empty at the end") && ok;
    report("weakdict_index", elapsed, rep, ok, n);
}

// The figures of --shape memory: bytes, in a process of its own.
void memory(long n) {
    const bool ok = true;
    bench::emit("mem_handle", bench::kImpl, "bytes", static_cast<double>(sizeof(Weak)), "B", 0, ok);
    {
        std::vector<Ptr> objs;
        const long m = std::max(1L, n / 100);
        for (long i = 0; i < m; ++i) objs.push_back(make_target(i));
        std::vector<Weak> weaks;
        weaks.reserve(static_cast<std::size_t>(n));
        double before = heap_bytes();
        for (long i = 0; i < n; ++i) weaks.push_back(weak_of(objs[static_cast<std::size_t>(i % m)]));
        double per = (heap_bytes() - before) / static_cast<double>(n) + static_cast<double>(sizeof(Weak));
        bench::emit("mem_shared_parent", bench::kImpl, "bytes", per, "B", 0, ok, {{"n", bench::jint(n)}});
    }
    {
        std::vector<Ptr> objs;
        for (long i = 0; i < n; ++i) objs.push_back(make_target(i));
        std::vector<Weak> weaks;
        weaks.reserve(static_cast<std::size_t>(n));
        double before = heap_bytes();
        for (long i = 0; i < n; ++i) weaks.push_back(weak_of(objs[static_cast<std::size_t>(i)]));
        double per = (heap_bytes() - before) / static_cast<double>(n) + static_cast<double>(sizeof(Weak));
        bench::emit("mem_own_referent", bench::kImpl, "bytes", per, "B", 0, ok, {{"n", bench::jint(n)}});
    }
    {
        std::vector<Ptr> objs;
        for (long i = 0; i < n; ++i) objs.push_back(make_target(i));
        Index<int> idx;
        double before = heap_bytes();
        for (long i = 0; i < n; ++i) idx.put(static_cast<int>(i), objs[static_cast<std::size_t>(i)]);
        double per = (heap_bytes() - before) / static_cast<double>(n) - static_cast<double>(sizeof(int));
        bool full = bench::check(idx.size() == static_cast<std::size_t>(n), "memory: index entries");
        bench::emit("mem_index_entry", bench::kImpl, "bytes", per, "B", 0, full, {{"n", bench::jint(n)}});
    }
}

}  // namespace

int main(int argc, char** argv) {
    bench::Args args(argc, argv);
    long n = args.num("--n", 1000000);
    long reps = args.num("--reps", 3);
    const std::string shape = args.str("--shape", "all");
    if (shape == "memory") {
        memory(n);
        return bench::g_failures ? 1 : 0;
    }
    auto want = [&](const char* s) { return shape == "all" || shape == s; };
    for (long rep = 0; rep < reps; ++rep) {
        if (want("churn")) churn(n, rep, true);
        if (want("churn_plain")) churn(n, rep, false);
        if (want("churn_live")) churn_live(n, rep);
        if (want("bulk")) bulk(n, rep);
        if (want("parent")) parent(n, rep);
        if (want("dict")) dict(n, rep);
        if (want("index")) index(n, rep);
    }
    return bench::g_failures ? 1 : 0;
}
