// Hostile user code (docs/reliability.md §5), the cases the other files do not already cover one by one:
// every hook throwing in one collection and in one deep release, finalizers that drop the last
// reference to an object being finalized (their own included), weak references destroyed inside
// their own callback (and inside each other's), and resurrection through weak containers read
// from finalizers. Each object checks its canary at destruction, so a double destruction or a
// destruction of freed memory shows; the counts show leaks. docs/reliability.md maps every hostile
// case to the test that covers it.
#include <ouro/ouro.hpp>
#include <ouro/sys.hpp>
#include <ouro/unraisable.hpp>
#include <ouro/weak_set.hpp>
#include <ouro/weak_value_dictionary.hpp>
#include <ouro/weakref.hpp>

#include <gtest/gtest.h>

#include "support.hpp"

#include <cstdlib>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

constexpr std::uint64_t kCanary = 0x686f7374696c6521ull;

int g_constructed = 0;
int g_destroyed = 0;
int g_bad_canary = 0;

struct Probe : ouro::Object {
    std::uint64_t canary = kCanary;
    int id;
    std::vector<ouro::Ref<Probe>> edges;
    std::function<void(Probe&)> on_finalize;  // the hostile part
    explicit Probe(int i = 0) : id(i) { ++g_constructed; }
    ~Probe() override {
        if (canary != kCanary) ++g_bad_canary;
        canary = 0;
        ++g_destroyed;
    }
    void finalize() override {
        if (canary != kCanary) ++g_bad_canary;
        if (on_finalize) on_finalize(*this);
    }
    void trace(ouro::Visitor& visit) override { visit(edges); }
    bool intact() const { return canary == kCanary; }
};

struct Unraisables {
    std::vector<std::string> where, what;
    ouro::UnraisableHook previous;
    Unraisables() {
        previous = ouro::set_unraisable_hook([this](std::exception_ptr e, std::string_view w) {
            where.emplace_back(w);
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& x) {
                what.emplace_back(x.what());
            } catch (...) {
                what.emplace_back("?");
            }
        });
    }
    ~Unraisables() { ouro::set_unraisable_hook(std::move(previous)); }
    int count(const std::string& w) const {
        int n = 0;
        for (auto& s : what) n += s == w;
        return n;
    }
};

class Hostile : public support::HeapTest {
protected:
    void SetUp() override { support::reset(g_constructed, g_destroyed, g_bad_canary); }
    // Everything dead, nothing destroyed twice, the heap empty and still working.
    void expect_clean() {
        ouro::gc::collect();
        EXPECT_EQ(g_bad_canary, 0);
        EXPECT_EQ(g_destroyed, g_constructed);
        EXPECT_TRUE(ouro::gc::get_objects().empty());
        auto a = ouro::make<Probe>(-1);
        a->edges.push_back(a);
        a = nullptr;
        EXPECT_EQ(ouro::gc::collect(), 1u);
        EXPECT_EQ(g_destroyed, g_constructed);
    }
};

// Drops a vector of references that finalizers may append to while it is being dropped.
void release(std::vector<ouro::Ref<Probe>>& v) {
    while (!v.empty()) {
        auto batch = std::move(v);
        v.clear();
        batch.clear();
    }
}

// A ring of n probes (garbage once the returned root is dropped).
ouro::Ref<Probe> ring(int n, int first_id = 0) {
    auto head = ouro::make<Probe>(first_id);
    Probe* t = head.get();
    for (int i = 1; i < n; ++i) {
        t->edges.push_back(ouro::make<Probe>(first_id + i));
        t = t->edges.back().get();
    }
    t->edges.push_back(head);
    return head;
}

}  // namespace

// Every hook throws — finalize(), weak reference callbacks, ouro::finalize functions and the gc
// callbacks at start and stop — in one collection: each error reaches the unraisable hook once,
// the collection completes, everything is freed once.
TEST_F(Hostile, EveryHookThrowsInOneCollection) {
    Unraisables hook;
    int gc_calls = 0;
    ouro::gc::callbacks().push_back([&](std::string_view phase, const ouro::gc::Info&) {
        ++gc_calls;
        throw std::runtime_error("gc callback " + std::string(phase));
    });
    std::vector<ouro::WeakRef<Probe>> weaks;
    std::vector<ouro::Finalizer> finalizers;
    {
        auto r = ring(50);
        Probe* p = r.get();
        for (int i = 0; i < 50; ++i, p = p->edges[0].get()) {
            if (i % 2 == 0) p->on_finalize = [](Probe&) { throw std::runtime_error("finalize"); };
            if (i % 3 == 0)
                weaks.emplace_back(ouro::Ref<Probe>(p), [](const ouro::WeakRef<Probe>&) { throw std::runtime_error("weakref"); });
            if (i % 5 == 0) finalizers.push_back(ouro::finalize(ouro::Ref<Probe>(p), [] { throw std::runtime_error("finalize fn"); }));
        }
    }
    EXPECT_EQ(ouro::gc::collect(), 50u);
    ouro::gc::callbacks().clear();
    EXPECT_EQ(g_destroyed, 50);
    EXPECT_EQ(gc_calls, 2);
    EXPECT_EQ(hook.count("finalize"), 25);
    EXPECT_EQ(hook.count("weakref"), 17);
    EXPECT_EQ(hook.count("finalize fn"), 10);
    EXPECT_EQ(hook.count("gc callback start"), 1);
    EXPECT_EQ(hook.count("gc callback stop"), 1);
    for (auto& w : weaks) EXPECT_FALSE(w.alive());
    for (auto& f : finalizers) EXPECT_FALSE(f.alive());
    expect_clean();
}

// The same hooks throwing while a 100 000-long chain is released by count (the trashcan defers
// most of it): every error reported, every object destroyed once, the default stack enough.
TEST_F(Hostile, EveryHookThrowsDuringADeepRelease) {
    Unraisables hook;
    constexpr int kLen = 100000;
    std::vector<ouro::WeakRef<Probe>> weaks;
    std::vector<ouro::Finalizer> finalizers;
    {
        auto head = ouro::make<Probe>(0);
        Probe* t = head.get();
        for (int i = 1; i < kLen; ++i) {
            t->edges.push_back(ouro::make<Probe>(i));
            t = t->edges.back().get();
            if (i % 1000 == 0) t->on_finalize = [](Probe&) { throw std::runtime_error("finalize"); };
            if (i % 1000 == 1)
                weaks.emplace_back(ouro::Ref<Probe>(t), [](const ouro::WeakRef<Probe>&) { throw std::runtime_error("weakref"); });
            if (i % 1000 == 2) finalizers.push_back(ouro::finalize(ouro::Ref<Probe>(t), [] { throw std::runtime_error("finalize fn"); }));
        }
    }
    EXPECT_EQ(g_destroyed, kLen);
    EXPECT_EQ(hook.count("finalize"), kLen / 1000 - 1);
    EXPECT_EQ(hook.count("weakref"), kLen / 1000);
    EXPECT_EQ(hook.count("finalize fn"), kLen / 1000);
    expect_clean();
}

// Finalizers that drop the last reference to an object being finalized in the same collection:
// each member of a ring cuts the edge to its successor (dropping that member's last reference)
// and the predecessor's edge to itself.
TEST_F(Hostile, FinalizersDropTheLastReferencesInsideTheGarbage) {
    Probe* members[8];
    {
        auto r = ring(8);
        Probe* p = r.get();
        for (int i = 0; i < 8; ++i, p = p->edges[0].get()) members[i] = p;
        for (int i = 0; i < 8; ++i) {
            Probe* pred = members[(i + 7) % 8];
            members[i]->on_finalize = [pred](Probe& self) {
                EXPECT_TRUE(self.intact());
                self.edges.clear();  // the last reference to the successor (it may be finalized already)
                if (pred->intact()) pred->edges.clear();  // and to itself
            };
        }
    }
    // The finalizers cut the ring: every member then dies by its count, which CPython does not
    // count as collected (a ring whose finalizers clear their own edges: 0 in Python 3.11).
    EXPECT_EQ(ouro::gc::collect(), 0u);
    EXPECT_EQ(g_destroyed, 8);
    expect_clean();
}

// A finalizer that resurrects its object into a global; the finalizer of another member of the
// same garbage drops that global again (the last reference to an object resurrected a moment ago,
// inside the same collection). It dies by count later in the collection or afterwards — once.
TEST_F(Hostile, ResurrectedThenDroppedByAnotherFinalizerInTheSameCollection) {
    static ouro::Ref<Probe> saved;
    for (int order = 0; order < 2; ++order) {
        SetUp();
        {
            auto r = ring(2);
            Probe* a = r.get();
            Probe* b = r->edges[0].get();
            Probe* saver = order == 0 ? a : b;
            Probe* dropper = order == 0 ? b : a;
            saver->on_finalize = [](Probe& self) { saved = ouro::Ref<Probe>(&self); };
            dropper->on_finalize = [](Probe&) { saved = nullptr; };
        }
        ouro::gc::collect();
        saved = nullptr;
        ouro::gc::collect();
        EXPECT_EQ(g_destroyed, 2) << "order " << order;
        EXPECT_EQ(g_bad_canary, 0);
    }
    expect_clean();
}

// ouro::finalize called explicitly, whose function drops the last reference to its own object:
// the object dies (finalize() and weak callbacks included) inside the call that is running the
// function; the finalizer is dead afterwards and does not run again.
TEST_F(Hostile, FinalizeFunctionDropsTheLastReferenceToItsObject) {
    ouro::Ref<Probe> only = ouro::make<Probe>(1);
    int fn_calls = 0, cb_calls = 0;
    ouro::WeakRef<Probe> w(only, [&](const ouro::WeakRef<Probe>&) { ++cb_calls; });
    auto f = ouro::finalize(only, [&] {
        ++fn_calls;
        only = nullptr;
    });
    f();
    EXPECT_EQ(fn_calls, 1);
    EXPECT_EQ(cb_calls, 1);
    EXPECT_EQ(g_destroyed, 1);
    EXPECT_FALSE(f.alive());
    EXPECT_FALSE(w.alive());
    expect_clean();
}

// Weak references destroyed inside their own callbacks, and inside the callbacks of others that
// run before theirs. As CPython (PyObject_ClearWeakRefs and the collector's handle_weakrefs hold
// a reference to every weak reference whose callback is due before calling any), every callback
// due runs exactly once, with a valid handle, even when its last user handle is gone by then.
void weakrefs_destroyed_in_callbacks(bool in_collection) {
    constexpr int kN = 40;
    std::vector<std::unique_ptr<ouro::WeakRef<Probe>>> slots(kN);
    std::vector<int> calls(kN, 0);
    {
        auto target = ouro::make<Probe>(0);
        if (in_collection) target->edges.push_back(target);
        for (int i = 0; i < kN; ++i) {
            slots[i] = std::make_unique<ouro::WeakRef<Probe>>(target, [&, i](const ouro::WeakRef<Probe>& self) {
                ++calls[i];
                EXPECT_FALSE(self.alive());
                ouro::WeakRef<Probe> copy = self;  // the handle is valid
                EXPECT_TRUE(copy == self);
                slots[i].reset();  // its own
                if (i % 3 == 0)    // and its neighbours' (i + 1 has run already: newest first)
                    for (int j : {i + 1, i - 1})
                        if (j >= 0 && j < kN) slots[j].reset();
            });
        }
    }
    if (in_collection) {
        EXPECT_EQ(ouro::gc::collect(), 1u);
    }
    for (int i = 0; i < kN; ++i) {
        EXPECT_EQ(calls[i], 1) << i;
        EXPECT_FALSE(slots[i]) << i;
    }
    EXPECT_EQ(g_destroyed, 1);
}

TEST_F(Hostile, WeakRefsDestroyedInsideTheirOwnAndEachOthersCallbacksOnDeathByCount) {
    weakrefs_destroyed_in_callbacks(false);
    expect_clean();
}

TEST_F(Hostile, WeakRefsDestroyedInsideTheirOwnAndEachOthersCallbacksInACollection) {
    // Bug 6 (fixed): which callbacks run is decided before any of them runs.
    weakrefs_destroyed_in_callbacks(true);
    expect_clean();
}

// A WeakRef destroyed by the callback of a newer weak reference to the same object: its own
// callback still runs once (as CPython), and its handle is valid there.
TEST_F(Hostile, WeakRefDestroyedByAnotherCallbackStillCallsBackOnce) {
    auto a = ouro::make<Probe>(1);
    int inner_calls = 0;
    auto inner = std::make_unique<ouro::WeakRef<Probe>>(a, [&](const ouro::WeakRef<Probe>& self) {
        ++inner_calls;
        EXPECT_FALSE(self.alive());
    });
    ouro::WeakRef<Probe> outer(a, [&](const ouro::WeakRef<Probe>&) { inner.reset(); });  // newer: runs first
    a = nullptr;
    EXPECT_FALSE(inner);
    EXPECT_EQ(inner_calls, 1);
    EXPECT_EQ(g_destroyed, 1);
    expect_clean();
}

// Resurrection through weak containers: finalizers of garbage read a WeakValueDictionary and a
// WeakSet that hold garbage and live objects, and keep what they find. Entries of garbage are
// already gone (CPython clears weak references before finalizers), so nothing cleared comes
// back; the live entries stay; the one object that resurrects itself and re-registers is found.
TEST_F(Hostile, ResurrectionThroughWeakContainersInACollection) {
    static ouro::WeakValueDictionary<int, Probe> dict;
    static ouro::WeakSet<Probe> set;
    static std::vector<ouro::Ref<Probe>> kept;
    dict.clear();
    set.clear();
    kept.clear();
    std::vector<ouro::Ref<Probe>> live;
    for (int i = 0; i < 10; ++i) {
        live.push_back(ouro::make<Probe>(100 + i));
        dict.insert_or_assign(100 + i, live.back());
        set.insert(live.back());
    }
    int seen_garbage = 0;  // a garbage object other than the resurrected 7, found by a finalizer
    {
        auto r = ring(20);
        Probe* p = r.get();
        for (int i = 0; i < 20; ++i, p = p->edges[0].get()) {
            dict.insert_or_assign(i, ouro::Ref<Probe>(p));
            set.insert(ouro::Ref<Probe>(p));
            p->on_finalize = [&](Probe& self) {
                for (int k = 0; k < 20; ++k)
                    if (auto v = dict.get(k)) {
                        seen_garbage += k != 7;
                        kept.push_back(v);
                    }
                for (auto v : set) {
                    EXPECT_TRUE(v->intact());
                    seen_garbage += v->id < 100 && v->id != 7;
                    kept.push_back(v);
                }
                for (auto [k, v] : dict) {
                    EXPECT_TRUE(v->intact());
                    kept.push_back(v);
                }
                if (self.id == 7) {  // resurrects itself and registers again
                    kept.emplace_back(&self);
                    dict.insert_or_assign(7, ouro::Ref<Probe>(&self));
                    set.insert(ouro::Ref<Probe>(&self));
                }
            };
        }
    }
    ouro::gc::collect();
    EXPECT_EQ(seen_garbage, 0) << "a finalizer found garbage through a weak container";
    EXPECT_EQ(dict.size(), 11u);  // the live ten and the resurrected 7
    EXPECT_TRUE(dict.get(7));
    EXPECT_EQ(set.size(), 11u);
    for (int i = 0; i < 10; ++i) EXPECT_EQ(dict.get(100 + i).get(), live[static_cast<std::size_t>(i)].get());
    release(kept);
    live.clear();
    ouro::gc::collect();
    EXPECT_EQ(dict.size(), 0u);
    EXPECT_EQ(set.size(), 0u);
    expect_clean();
}

// On death by count: the dying object's finalizer iterates the containers it is registered in
// and keeps whatever they yield (itself included, if they yield it — CPython's __del__ sees a
// live weak reference to self). Whatever is kept stays intact; everything dies exactly once.
TEST_F(Hostile, ResurrectionThroughWeakContainersOnDeathByCount) {
    static ouro::WeakValueDictionary<int, Probe> dict;
    static ouro::WeakSet<Probe> set;
    static std::vector<ouro::Ref<Probe>> kept;
    dict.clear();
    set.clear();
    kept.clear();
    {
        auto head = ouro::make<Probe>(0);
        Probe* t = head.get();
        for (int i = 1; i < 300; ++i) {  // deep enough for the trashcan
            t->edges.push_back(ouro::make<Probe>(i));
            t = t->edges.back().get();
            dict.insert_or_assign(i, ouro::Ref<Probe>(t));
            set.insert(ouro::Ref<Probe>(t));
            if (i % 50 == 0)
                t->on_finalize = [](Probe&) {
                    for (auto [k, v] : dict) {
                        EXPECT_TRUE(v->intact()) << k;
                        EXPECT_GE(ouro::sys::getrefcount(*v), 2u) << k;
                        kept.push_back(v);
                    }
                    for (auto v : set) kept.push_back(v);
                };
        }
    }
    for (auto& k : kept) EXPECT_TRUE(k->intact());
    EXPECT_EQ(g_bad_canary, 0);
    release(kept);
    ouro::gc::collect();
    EXPECT_EQ(dict.size(), 0u);
    EXPECT_EQ(set.size(), 0u);
    expect_clean();
}
