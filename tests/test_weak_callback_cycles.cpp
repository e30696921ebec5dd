// Weak reference callbacks that hold references (WeakRef's traced callbacks, bind_callback): the
// collector sees them, as CPython's weakref traverses its callback, so an object whose weak
// reference's callback holds the object is collected; and a callback some live handle still
// shares keeps what it holds alive.
#include <ouro/ouro.hpp>

#include <gtest/gtest.h>

#include "support.hpp"

namespace {

using ouro::Ref;

class WeakCallbackCycles : public support::LeakCheckedHeapTest {
protected:
    void SetUp() override {
        Target::destroyed = Watcher::destroyed = 0;
        Watcher::notified = 0;
    }
    struct Target : ouro::Object {
        static inline int destroyed = 0;
        Ref<ouro::Object> w_holder;
        ~Target() override { ++destroyed; }
        OURO_TRACE(w_holder)
    };
    // self.w = weakref.ref(target, self.on_death)
    struct Watcher : ouro::Object {
        static inline int destroyed = 0;
        static inline int notified = 0;
        ouro::WeakRef<Target> w;
        Ref<ouro::Object> strong;
        ~Watcher() override { ++destroyed; }
        void on_death() { ++notified; }
        OURO_TRACE(w, strong)
    };
    static ouro::WeakRef<Target> watch(Ref<Target> t, Ref<Watcher> by) {
        return ouro::WeakRef<Target>(t, ouro::bind_callback(by, [](Watcher& self, const ouro::WeakRef<Target>&) { self.on_death(); }));
    }
};

TEST_F(WeakCallbackCycles, AHolderOnlyItsCallbackHoldsIsCollected) {
    auto target = ouro::make<Target>();
    {
        auto watcher = ouro::make<Watcher>();
        watcher->w = watch(target, watcher);
    }
    EXPECT_EQ(Watcher::destroyed, 0);  // the callback holds it
    EXPECT_EQ(ouro::gc::collect(), 1u);
    EXPECT_EQ(Watcher::destroyed, 1);
    target = nullptr;
    EXPECT_EQ(Watcher::notified, 0);  // the weak reference died with its holder: no callback
    EXPECT_EQ(Target::destroyed, 1);
}

TEST_F(WeakCallbackCycles, AReachableHolderIsKeptAndCalledBack) {
    auto target = ouro::make<Target>();
    auto watcher = ouro::make<Watcher>();
    watcher->w = watch(target, watcher);
    EXPECT_EQ(ouro::gc::collect(), 0u);
    target = nullptr;
    EXPECT_EQ(Watcher::notified, 1);
    watcher->w.reset();  // (the callback has run and let its capture go already)
}

TEST_F(WeakCallbackCycles, AHandleALiveObjectSharesKeepsTheCallbacksCapture) {
    auto target = ouro::make<Target>();
    auto keeper = ouro::make<Watcher>();  // holds a copy of the weak reference: a second handle
    {
        auto watcher = ouro::make<Watcher>();
        watcher->w = watch(target, watcher);
        keeper->w = watcher->w;
    }
    EXPECT_EQ(ouro::gc::collect(), 0u);  // the callback is reachable through keeper's handle
    EXPECT_EQ(Watcher::destroyed, 0);
    target = nullptr;
    EXPECT_EQ(Watcher::notified, 1);  // the captured watcher, intact
    EXPECT_EQ(Watcher::destroyed, 1);  // then let go with the spent callback: nothing else held it
    keeper->w.reset();
}

TEST_F(WeakCallbackCycles, AReferentDyingWithItsWatcherRunsNoCallback) {
    {
        auto target = ouro::make<Target>();
        auto watcher = ouro::make<Watcher>();
        watcher->w = watch(target, watcher);
        watcher->strong = target;  // a cycle of strong references, and the weak one beside it
        target->w_holder = watcher;
    }
    EXPECT_EQ(ouro::gc::collect(), 2u);
    EXPECT_EQ(Watcher::notified, 0);  // both garbage: the weak reference too, cleared first
    EXPECT_EQ(Target::destroyed, 1);
    EXPECT_EQ(Watcher::destroyed, 1);
}

// A mistaken trace() that visits a global weak reference, or a live object's: those handles are
// not the garbage's, so the weak references stay live and call back when their referents die.
struct Mistaken : ouro::Object {
    Ref<ouro::Object> next;
    ouro::WeakRef<ouro::Object>* other = nullptr;  // someone else's weak reference
    void trace(ouro::Visitor& visit) override {
        visit(next);
        if (other) visit(*other);
    }
};
struct LiveWatcher : ouro::Object {
    ouro::WeakRef<ouro::Object> w;
    OURO_TRACE(w)
};
ouro::WeakRef<ouro::Object> g_weak;

TEST_F(WeakCallbackCycles, AWeakReferenceTheGarbageCannotOwnStaysLive) {
    support::HookCapture reports;
    int calls = 0;
    auto target = ouro::make<Target>();
    g_weak = ouro::WeakRef<ouro::Object>(target, [&](const ouro::WeakRef<ouro::Object>&) { ++calls; });
    auto live = ouro::make<LiveWatcher>();
    auto target2 = ouro::make<Target>();
    live->w = ouro::WeakRef<ouro::Object>(target2, [&](const ouro::WeakRef<ouro::Object>&) { ++calls; });
    {
        auto a = ouro::make<Mistaken>();
        auto b = ouro::make<Mistaken>();
        a->next = b;
        b->next = a;
        a->other = &g_weak;
        b->other = &live->w;
    }
    EXPECT_EQ(ouro::gc::collect(), 2u);
    EXPECT_TRUE(g_weak.alive());
    EXPECT_TRUE(live->w.alive());
    target = nullptr;
    target2 = nullptr;
    EXPECT_EQ(calls, 2);
    g_weak.reset();
}

// The same through a proxy: self.p = weakref.proxy(target, self.on_death)
struct ProxyWatcher : ouro::Object {
    static inline int notified = 0;
    ouro::Proxy<ouro::Object> p;
    OURO_TRACE(p)
};

TEST_F(WeakCallbackCycles, AProxysCallbackIsTracedToo) {
    ProxyWatcher::notified = 0;
    auto target = ouro::make<Target>();
    ouro::WeakRef<ProxyWatcher> seen;
    {
        auto watcher = ouro::make<ProxyWatcher>();
        watcher->p = ouro::Proxy<ouro::Object>(
            target, ouro::bind_callback(watcher, [](ProxyWatcher&, const ouro::Proxy<ouro::Object>&) { ++ProxyWatcher::notified; }));
        seen = ouro::WeakRef<ProxyWatcher>(watcher);
    }
    EXPECT_TRUE(seen.alive());
    EXPECT_EQ(ouro::gc::collect(), 1u);
    EXPECT_FALSE(seen.alive());
    target = nullptr;
    EXPECT_EQ(ProxyWatcher::notified, 0);
}

}  // namespace
