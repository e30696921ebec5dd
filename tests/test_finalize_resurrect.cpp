// Finalizers (PEP 442), resurrection, re-entrancy and errors from user code (docs/cpython.md §2,
// steps 6-9).
#include <ouro/ouro.hpp>
#include <ouro/weakref.hpp>

#include <gtest/gtest.h>

#include "support.hpp"

#include <algorithm>
#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

using ouro::Ref;
using support::HookCapture;

std::vector<std::string> g_log;

// A node with a finalizer whose behaviour each test configures.
struct Fin : ouro::Object {
    static inline int destroyed = 0;
    static inline int finalized = 0;
    static inline std::vector<Ref<Fin>>* resurrect_into = nullptr;  // every finalizer stores Ref(this) here
    static inline std::vector<std::size_t>* nested_collect = nullptr;  // finalizers call gc::collect()

    std::string name;
    int value = 0;
    Ref<Fin> next;
    Ref<Fin> other;
    bool resurrect_self = false;
    bool resurrect_next = false;
    bool throw_in_finalize = false;
    bool drop_next_in_finalize = false;
    int finalize_calls = 0;
    bool was_finalized_flag_inside = false;

    explicit Fin(std::string n, int v = 0) : name(std::move(n)), value(v) {}
    ~Fin() override {
        ++destroyed;
        g_log.push_back("dtor " + name);
    }
    void trace(ouro::Visitor& visit) override {
        visit(next);
        visit(other);
    }
    void finalize() override {
        ++finalized;
        ++finalize_calls;
        g_log.push_back("fin " + name);
        was_finalized_flag_inside = ouro::gc::is_finalized(*this);
        if (resurrect_into && (resurrect_self || resurrect_next)) {
            resurrect_into->push_back(resurrect_self ? Ref<Fin>(this) : next);
        }
        if (nested_collect) nested_collect->push_back(ouro::gc::collect());
        if (drop_next_in_finalize) next = nullptr;
        if (throw_in_finalize) throw std::runtime_error("finalize failed: " + name);
    }
};

// No finalizer.
struct Plain : ouro::Object {
    static inline int destroyed = 0;
    Ref<ouro::Object> next;
    ~Plain() override {
        ++destroyed;
        g_log.push_back("dtor plain");
    }
    void trace(ouro::Visitor& visit) override { visit(next); }
};

struct Temp : ouro::Object {
    static inline int destroyed = 0;
    static inline std::size_t count_seen = 0;
    Ref<Temp> self;
    ~Temp() override { ++destroyed; }
    void trace(ouro::Visitor& visit) override { visit(self); }
    void finalize() override {
        Ref<Temp> me(this);
        count_seen = ouro::sys::getrefcount(*me);
    }
};

struct Reader : ouro::Object {
    static inline std::vector<int> seen;
    int value;
    Ref<Reader> next;
    explicit Reader(int v) : value(v) {}
    void trace(ouro::Visitor& visit) override { visit(next); }
    void finalize() override {
        // PEP 442: every member of the garbage is still alive and unchanged here.
        seen.push_back(next ? next->value * 100 + next->next->value : -1);
    }
};

struct Checker : ouro::Object {
    static inline int dead_seen = 0;
    ouro::WeakRef<Checker> weak_to_partner;  // not traced as a strong edge
    Ref<Checker> partner;
    void trace(ouro::Visitor& visit) override {
        visit(partner);
        visit(weak_to_partner);
    }
    void finalize() override { dead_seen += weak_to_partner.alive() ? 0 : 1; }
};

struct Maker : ouro::Object {
    static inline std::vector<Ref<ouro::Object>>* out = nullptr;
    Ref<Maker> self;
    void trace(ouro::Visitor& visit) override { visit(self); }
    void finalize() override {
        for (int i = 0; i < 2000; ++i) {  // more than threshold0: no automatic collection now
            auto n = ouro::make<Plain>();
            n->next = n;  // new garbage
        }
        auto keep = ouro::make<Plain>();
        out->push_back(keep);
    }
};

// Links of a long chain, each with a leaf; `leaf` is released after `next` (members die in
// reverse order), so leaf finalizers run while the release of the rest of the chain is deferred.
struct Deep : ouro::Object {
    enum Mode { kNothing, kCollect, kAllocate };
    static inline int destroyed = 0;
    static inline int finalized = 0;
    static inline Mode leaf_mode = kNothing;
    static inline std::vector<Ref<Plain>>* allocations = nullptr;
    Ref<Deep> leaf;
    Ref<Deep> next;
    bool is_leaf = false;
    ~Deep() override { ++destroyed; }
    void trace(ouro::Visitor& visit) override {
        visit(leaf);
        visit(next);
    }
    void finalize() override {
        ++finalized;
        if (!is_leaf) return;
        if (leaf_mode == kCollect) ouro::gc::collect(0);
        if (leaf_mode == kAllocate) allocations->push_back(ouro::make<Plain>());
    }
};

Ref<Deep> make_deep_chain(int length) {
    Ref<Deep> head;
    for (int i = 0; i < length; ++i) {
        auto n = ouro::make<Deep>();
        n->leaf = ouro::make<Deep>();
        n->leaf->is_leaf = true;
        n->next = std::move(head);
        head = std::move(n);
    }
    return head;
}

struct Saver : ouro::Object {
    static inline Plain* into = nullptr;
    Ref<Saver> self;
    int payload = 99;
    void trace(ouro::Visitor& visit) override { visit(self); }
    void finalize() override { into->next = Ref<Saver>(this); }
};

struct WeakProbe : ouro::Object {
    static inline ouro::WeakRef<WeakProbe>* probe = nullptr;
    ~WeakProbe() override { g_log.push_back("dtor probe"); }
    void finalize() override { g_log.push_back(probe && probe->alive() ? "fin, weakref alive" : "fin, weakref dead"); }
};

class FinalizeTest : public support::HeapTest {
protected:
    void SetUp() override {
        support::reset(g_log, Fin::destroyed, Fin::finalized, Fin::resurrect_into, Fin::nested_collect,
                       Plain::destroyed);
    }
    // The heap's final collection comes after TearDown(): its finalizers must not reach the
    // test's locals, which are gone by then.
    void TearDown() override { support::reset(Fin::resurrect_into, Fin::nested_collect); }
};

Ref<Fin> make_cycle(const std::string& a, const std::string& b) {
    auto x = ouro::make<Fin>(a, 1);
    auto y = ouro::make<Fin>(b, 2);
    x->next = y;
    y->next = x;
    return x;
}

// --- finalize on death by count ------------------------------------------------------------------

TEST_F(FinalizeTest, FinalizeRunsBeforeTheDestructorOnDeathByCount) {
    auto a = ouro::make<Fin>("a");
    EXPECT_FALSE(ouro::gc::is_finalized(*a));
    a = nullptr;
    EXPECT_EQ(g_log, (std::vector<std::string>{"fin a", "dtor a"}));
}

TEST_F(FinalizeTest, IsFinalizedIsAlreadyTrueInsideFinalize) {
    std::vector<Ref<Fin>> saved;
    Fin::resurrect_into = &saved;
    auto a = ouro::make<Fin>("a");
    a->resurrect_self = true;
    a = nullptr;
    ASSERT_EQ(saved.size(), 1u);
    EXPECT_TRUE(saved[0]->was_finalized_flag_inside);
    EXPECT_TRUE(ouro::gc::is_finalized(*saved[0]));
    saved.clear();
}

TEST_F(FinalizeTest, OrderOnDeathByCountIsFinalizeThenWeakrefCallbacksThenDestructor) {
    auto p = ouro::make<WeakProbe>();
    ouro::WeakRef<WeakProbe> w(p, [](const ouro::WeakRef<WeakProbe>& self) {
        g_log.push_back(self.alive() ? "callback, referent alive" : "callback");
    });
    WeakProbe::probe = &w;
    p = nullptr;
    WeakProbe::probe = nullptr;
    // The finalizer runs with the object fully alive (its weak references still work).
    EXPECT_EQ(g_log, (std::vector<std::string>{"fin, weakref alive", "callback", "dtor probe"}));
    EXPECT_FALSE(w.alive());
    EXPECT_FALSE(w());
}

TEST_F(FinalizeTest, DestructorRunsWhenFinalizeThrowsOnDeathByCount) {
    HookCapture hook;
    auto a = ouro::make<Fin>("thrower");
    a->throw_in_finalize = true;
    a = nullptr;
    EXPECT_EQ(Fin::destroyed, 1);
    ASSERT_EQ(hook.reports.size(), 1u);
    EXPECT_EQ(hook.reports[0].what, "finalize failed: thrower");
    EXPECT_NE(hook.reports[0].where.find("finalize"), std::string::npos) << hook.reports[0].where;
    EXPECT_NE(hook.reports[0].where.find("Fin"), std::string::npos) << hook.reports[0].where;  // names the type
}

TEST_F(FinalizeTest, DefaultHookPrintsExceptionIgnored) {
    auto previous = ouro::set_unraisable_hook({});
    testing::internal::CaptureStderr();
    {
        auto a = ouro::make<Fin>("noisy");
        a->throw_in_finalize = true;
    }
    std::string err = testing::internal::GetCapturedStderr();
    ouro::set_unraisable_hook(std::move(previous));
    EXPECT_NE(err.find("Exception ignored in"), std::string::npos) << err;
    EXPECT_NE(err.find("finalize failed: noisy"), std::string::npos) << err;
    EXPECT_EQ(Fin::destroyed, 1);
}

TEST_F(FinalizeTest, AHookThatThrowsFallsBackToTheDefaultReport) {
    auto previous = ouro::set_unraisable_hook(
        [](std::exception_ptr, std::string_view) { throw std::runtime_error("the hook failed too"); });
    testing::internal::CaptureStderr();
    {
        auto a = ouro::make<Fin>("a");
        a->throw_in_finalize = true;
    }
    std::string err = testing::internal::GetCapturedStderr();
    ouro::set_unraisable_hook(std::move(previous));
    EXPECT_NE(err.find("finalize failed: a"), std::string::npos) << err;
    EXPECT_NE(err.find("the hook failed too"), std::string::npos) << err;
    EXPECT_EQ(Fin::destroyed, 1);
}

TEST_F(FinalizeTest, RefOfThisInsideAFinalizerThatDoesNotKeepIt) {
    Temp::destroyed = 0;
    {
        auto t = ouro::make<Temp>();
    }
    EXPECT_EQ(Temp::destroyed, 1);  // died by count: the temporary Ref did not resurrect it
    EXPECT_GE(Temp::count_seen, 2u);
    {
        auto t = ouro::make<Temp>();
        t->self = t;
    }
    EXPECT_EQ(ouro::gc::collect(), 1u);  // nor in a collection
    EXPECT_EQ(Temp::destroyed, 2);
}

// --- finalize during a collection ----------------------------------------------------------------

TEST_F(FinalizeTest, AllFinalizersRunBeforeAnyDestructorInACollection) {
    {
        auto a = make_cycle("a", "b");
        auto c = ouro::make<Fin>("c");
        a->other = c;  // a tail
        c->other = ouro::make<Fin>("d");
        c->other->other = ouro::make<Fin>("e");
        c->next = c->other->other;
    }
    EXPECT_EQ(ouro::gc::collect(), 5u);
    ASSERT_EQ(g_log.size(), 10u);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(g_log[static_cast<std::size_t>(i)].rfind("fin ", 0), 0u) << g_log[static_cast<std::size_t>(i)];
    for (int i = 5; i < 10; ++i) EXPECT_EQ(g_log[static_cast<std::size_t>(i)].rfind("dtor ", 0), 0u) << g_log[static_cast<std::size_t>(i)];
    EXPECT_EQ(Fin::finalized, 5);
    EXPECT_EQ(Fin::destroyed, 5);
}

TEST_F(FinalizeTest, FinalizerSeesTheGarbageIntact) {
    Reader::seen.clear();
    {
        auto a = ouro::make<Reader>(1);
        auto b = ouro::make<Reader>(2);
        auto c = ouro::make<Reader>(3);
        a->next = b;
        b->next = c;
        c->next = a;
    }
    EXPECT_EQ(ouro::gc::collect(), 3u);
    std::sort(Reader::seen.begin(), Reader::seen.end());
    EXPECT_EQ(Reader::seen, (std::vector<int>{102, 203, 301}));
}

TEST_F(FinalizeTest, WeakrefCallbacksRunBeforeFinalizersInACollection) {
    // Reference doc §2 step 7: weak references to the garbage are cleared, and callbacks of
    // reachable weak references run, before any finalizer.
    ouro::WeakRef<Fin> w;
    {
        auto a = make_cycle("a", "b");
        w = ouro::WeakRef<Fin>(a, [](const ouro::WeakRef<Fin>&) { g_log.push_back("callback"); });
    }
    EXPECT_EQ(ouro::gc::collect(), 2u);
    ASSERT_GE(g_log.size(), 3u);
    EXPECT_EQ(g_log[0], "callback");
    EXPECT_EQ(g_log[1].rfind("fin ", 0), 0u);
    EXPECT_EQ(g_log[2].rfind("fin ", 0), 0u);
    EXPECT_FALSE(w.alive());
}

TEST_F(FinalizeTest, WeakrefsToGarbageAreDeadWhenFinalizersRun) {
    Checker::dead_seen = 0;
    {
        auto a = ouro::make<Checker>();
        auto b = ouro::make<Checker>();
        a->partner = b;
        b->partner = a;
        a->weak_to_partner = ouro::WeakRef<Checker>(b);
        b->weak_to_partner = ouro::WeakRef<Checker>(a);
    }
    EXPECT_EQ(ouro::gc::collect(), 2u);
    EXPECT_EQ(Checker::dead_seen, 2);
}

TEST_F(FinalizeTest, ExceptionFromFinalizeDuringACollection) {
    HookCapture hook;
    {
        auto a = make_cycle("a", "b");
        a->throw_in_finalize = true;
        auto c = make_cycle("c", "d");
        c->throw_in_finalize = true;
        c->next->throw_in_finalize = true;
    }
    EXPECT_EQ(ouro::gc::collect(), 4u);  // the collection completes
    EXPECT_EQ(Fin::finalized, 4);        // every finalizer ran
    EXPECT_EQ(Fin::destroyed, 4);        // and everything was freed
    ASSERT_EQ(hook.reports.size(), 3u);
    std::vector<std::string> whats;
    for (auto& r : hook.reports) {
        whats.push_back(r.what);
        EXPECT_NE(r.where.find("finalize"), std::string::npos) << r.where;
        EXPECT_NE(r.where.find("Fin"), std::string::npos) << r.where;
    }
    std::sort(whats.begin(), whats.end());
    EXPECT_EQ(whats, (std::vector<std::string>{"finalize failed: a", "finalize failed: c", "finalize failed: d"}));
    // The heap is consistent afterwards.
    make_cycle("e", "f");
    EXPECT_EQ(ouro::gc::collect(), 2u);
    EXPECT_TRUE(ouro::gc::get_objects().empty());
}

TEST_F(FinalizeTest, FinalizerThatAllocatesDuringACollection) {
    std::vector<Ref<ouro::Object>> out;
    Maker::out = &out;
    {
        auto m = ouro::make<Maker>();
        m->self = m;
    }
    EXPECT_EQ(ouro::gc::collect(), 1u);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_TRUE(ouro::gc::is_tracked(*out[0]));
    EXPECT_EQ(Plain::destroyed, 0);
    EXPECT_EQ(ouro::gc::collect(), 2000u);  // the finalizer's garbage is collected next time
    EXPECT_EQ(Plain::destroyed, 2000);
    Maker::out = nullptr;
}

TEST_F(FinalizeTest, FinalizerThatChangesTheGarbageGraph) {
    {
        auto a = make_cycle("a", "b");
        a->drop_next_in_finalize = true;  // a drops b, b still holds a
        a->next->drop_next_in_finalize = true;
        auto c = make_cycle("c", "d");
        c->other = ouro::make<Fin>("e");
        c->drop_next_in_finalize = true;
        c->other->other = c;
    }
    // As CPython counts: a and b, and d, die by their counts once the finalizers cut their
    // cycles; only c <-> e is left for the collector to free (Python 3.11 returns 2 for the same
    // graph).
    EXPECT_EQ(ouro::gc::collect(), 2u);
    EXPECT_EQ(Fin::destroyed, 5);
    EXPECT_EQ(Fin::finalized, 5);
    EXPECT_TRUE(ouro::gc::get_objects().empty());
}

// --- re-entrancy ---------------------------------------------------------------------------

TEST_F(FinalizeTest, CollectFromAFinalizerDuringACollectionReturnsZero) {
    std::vector<std::size_t> nested;
    {
        auto a = make_cycle("a", "b");
        make_cycle("c", "d");
    }
    Fin::nested_collect = &nested;
    EXPECT_EQ(ouro::gc::collect(), 4u);
    Fin::nested_collect = nullptr;
    ASSERT_EQ(nested.size(), 4u);
    for (auto n : nested) EXPECT_EQ(n, 0u);
    EXPECT_EQ(ouro::gc::get_stats()[2].collections, 1u);
    EXPECT_EQ(Fin::destroyed, 4);
}

TEST_F(FinalizeTest, CollectFromAFinalizerOnDeathByCountRunsACollection) {
    std::vector<std::size_t> nested;
    make_cycle("x", "y");  // garbage waiting
    Fin::nested_collect = &nested;
    auto a = ouro::make<Fin>("a");
    a = nullptr;  // not inside a collection: its finalizer's collect() is a real one
    Fin::nested_collect = nullptr;
    // x's and y's finalizers ran inside that collection: their own collect() calls returned 0.
    EXPECT_EQ(nested, (std::vector<std::size_t>{0, 0, 2}));
    EXPECT_EQ(Fin::destroyed, 3);
}

TEST_F(FinalizeTest, CollectFromAFinalizerDuringADeepRelease) {
    // Releasing a long structure defers deallocations (the trashcan). A finalizer that runs in the
    // middle of that release calls gc::collect(0): the collector must not see the objects whose
    // count already reached zero and that are waiting to be destroyed.
    Deep::destroyed = 0;
    Deep::finalized = 0;
    ouro::gc::disable();  // everything stays in generation 0
    auto head = make_deep_chain(100);
    Deep::leaf_mode = Deep::kCollect;
    head = nullptr;
    Deep::leaf_mode = Deep::kNothing;
    EXPECT_EQ(Deep::finalized, 200);
    EXPECT_EQ(Deep::destroyed, 200);
    EXPECT_TRUE(ouro::gc::get_objects().empty());
}

TEST_F(FinalizeTest, AutomaticCollectionDuringADeepRelease) {
    // The same through an automatic collection: a finalizer allocates a tracked object.
    Deep::destroyed = 0;
    Deep::finalized = 0;
    std::vector<Ref<Plain>> allocations;
    Deep::allocations = &allocations;
    auto head = make_deep_chain(100);  // 200 tracked objects, all in generation 0
    ouro::gc::set_threshold(50);
    Deep::leaf_mode = Deep::kAllocate;
    head = nullptr;
    Deep::leaf_mode = Deep::kNothing;
    EXPECT_EQ(Deep::finalized, 200);
    EXPECT_EQ(Deep::destroyed, 200);
    EXPECT_EQ(allocations.size(), 100u);
    allocations.clear();
    Deep::allocations = nullptr;
}

// --- resurrection --------------------------------------------------------------------------

TEST_F(FinalizeTest, ResurrectionOnDeathByCount) {
    std::vector<Ref<Fin>> saved;
    Fin::resurrect_into = &saved;
    auto a = ouro::make<Fin>("a", 7);
    a->resurrect_self = true;
    a->next = ouro::make<Fin>("child", 8);
    a = nullptr;
    EXPECT_EQ(Fin::destroyed, 0);  // resurrected: no destructor
    ASSERT_EQ(saved.size(), 1u);
    EXPECT_EQ(ouro::sys::getrefcount(*saved[0]), 1u);
    EXPECT_EQ(saved[0]->value, 7);
    EXPECT_EQ(saved[0]->next->value, 8);  // what it reaches is intact
    EXPECT_TRUE(ouro::gc::is_finalized(*saved[0]));
    EXPECT_TRUE(ouro::gc::is_tracked(*saved[0]));
    // It dies again later: the destructor runs, the finalizer does not.
    saved.clear();
    EXPECT_EQ(Fin::destroyed, 2);
    EXPECT_EQ(Fin::finalized, 2);  // a once, child once
    // a's destructor body runs before its members release the child.
    EXPECT_EQ(g_log, (std::vector<std::string>{"fin a", "dtor a", "fin child", "dtor child"}));
}

TEST_F(FinalizeTest, ResurrectedObjectCanBeResurrectedAgainOnlyByOthers) {
    // After resurrection its finalizer never runs again, even if it would resurrect again.
    std::vector<Ref<Fin>> saved;
    Fin::resurrect_into = &saved;
    auto a = ouro::make<Fin>("a");
    a->resurrect_self = true;
    a = nullptr;
    ASSERT_EQ(saved.size(), 1u);
    Ref<Fin> again = saved[0];
    saved.clear();
    EXPECT_EQ(Fin::destroyed, 0);
    again = nullptr;
    EXPECT_EQ(Fin::destroyed, 1);
    EXPECT_TRUE(saved.empty());
    EXPECT_EQ(Fin::finalized, 1);
}

TEST_F(FinalizeTest, ResurrectionInACycleKeepsEverythingItReaches) {
    std::vector<Ref<Fin>> saved;
    Fin::resurrect_into = &saved;
    {
        auto a = make_cycle("a", "b");  // a <-> b
        a->resurrect_self = true;
        a->other = ouro::make<Fin>("c", 3);  // a -> c -> d -> e (a tail)
        a->other->next = ouro::make<Fin>("d", 4);
        a->other->next->next = ouro::make<Fin>("e", 5);
    }
    auto found = ouro::gc::collect();
    EXPECT_EQ(found, 0u);  // 5 found, 5 resurrected (CPython reports found minus resurrected)
    EXPECT_EQ(Fin::destroyed, 0);
    EXPECT_EQ(Fin::finalized, 5);  // each finalizer ran once
    ASSERT_EQ(saved.size(), 1u);
    Ref<Fin> a = saved[0];
    saved.clear();
    // Intact: every reference is still there (nothing was cleared).
    EXPECT_EQ(a->name, "a");
    ASSERT_TRUE(a->next);
    EXPECT_EQ(a->next->name, "b");
    EXPECT_TRUE(a->next->next == a);
    ASSERT_TRUE(a->other);
    EXPECT_EQ(a->other->value, 3);
    ASSERT_TRUE(a->other->next);
    EXPECT_EQ(a->other->next->value, 4);
    ASSERT_TRUE(a->other->next->next);
    EXPECT_EQ(a->other->next->next->value, 5);
    for (Fin* f : {a.get(), a->next.get(), a->other.get(), a->other->next.get(), a->other->next->next.get()})
        EXPECT_TRUE(ouro::gc::is_finalized(*f)) << f->name;
    EXPECT_EQ(ouro::gc::get_stats()[2].collected, 0u);
    EXPECT_EQ(ouro::gc::get_objects().size(), 5u);
    // Dying again in a later collection: no finalizer runs a second time.
    a = nullptr;
    EXPECT_EQ(ouro::gc::collect(), 5u);
    EXPECT_EQ(Fin::finalized, 5);
    EXPECT_EQ(Fin::destroyed, 5);
    EXPECT_TRUE(saved.empty());
    EXPECT_TRUE(ouro::gc::get_objects().empty());
}

TEST_F(FinalizeTest, ResurrectingANeighbourKeepsTheWholeCycle) {
    std::vector<Ref<Fin>> saved;
    Fin::resurrect_into = &saved;
    {
        auto a = make_cycle("a", "b");
        a->resurrect_next = true;  // a's finalizer saves b, which reaches a
    }
    EXPECT_EQ(ouro::gc::collect(), 0u);
    ASSERT_EQ(saved.size(), 1u);
    EXPECT_EQ(saved[0]->name, "b");
    EXPECT_EQ(saved[0]->next->name, "a");
    EXPECT_TRUE(saved[0]->next->next == saved[0]);
    EXPECT_EQ(Fin::destroyed, 0);
    saved.clear();
    EXPECT_EQ(ouro::gc::collect(), 2u);
    EXPECT_EQ(Fin::destroyed, 2);
    EXPECT_EQ(Fin::finalized, 2);
}

TEST_F(FinalizeTest, PartialResurrectionReturnsFoundMinusResurrected) {
    std::vector<Ref<Fin>> saved;
    Fin::resurrect_into = &saved;
    {
        auto a = make_cycle("a", "b");
        a->resurrect_self = true;
        make_cycle("c", "d");
        auto p = ouro::make<Plain>();
        p->next = p;
    }
    EXPECT_EQ(ouro::gc::collect(), 3u);  // c, d and the plain self-cycle
    EXPECT_EQ(Fin::destroyed, 2);
    EXPECT_EQ(Plain::destroyed, 1);
    EXPECT_EQ(ouro::gc::get_stats()[2].collected, 3u);
    ASSERT_EQ(saved.size(), 1u);
    EXPECT_EQ(saved[0]->next->name, "b");
    saved.clear();
    EXPECT_EQ(ouro::gc::collect(), 2u);
}

TEST_F(FinalizeTest, ResurrectedInACycleThenDiesByCount) {
    std::vector<Ref<Fin>> saved;
    Fin::resurrect_into = &saved;
    {
        auto a = ouro::make<Fin>("a");
        a->next = a;  // self-cycle
        a->resurrect_self = true;
    }
    EXPECT_EQ(ouro::gc::collect(), 0u);
    ASSERT_EQ(saved.size(), 1u);
    EXPECT_EQ(Fin::finalized, 1);
    saved[0]->next = nullptr;  // no longer a cycle
    saved.clear();              // dies by count
    EXPECT_EQ(Fin::destroyed, 1);
    EXPECT_EQ(Fin::finalized, 1);
}

TEST_F(FinalizeTest, ResurrectedByCountThenDiesInACycle) {
    std::vector<Ref<Fin>> saved;
    Fin::resurrect_into = &saved;
    auto a = ouro::make<Fin>("a");
    a->resurrect_self = true;
    a = nullptr;
    ASSERT_EQ(saved.size(), 1u);
    EXPECT_EQ(Fin::finalized, 1);
    saved[0]->next = saved[0];  // now a self-cycle
    saved.clear();
    EXPECT_EQ(Fin::destroyed, 0);
    EXPECT_EQ(ouro::gc::collect(), 1u);
    EXPECT_EQ(Fin::destroyed, 1);
    EXPECT_EQ(Fin::finalized, 1);
    EXPECT_TRUE(saved.empty());
}

TEST_F(FinalizeTest, ResurrectionWithSaveAll) {
    std::vector<Ref<Fin>> saved;
    Fin::resurrect_into = &saved;
    ouro::gc::set_debug(ouro::gc::DEBUG_SAVEALL);
    {
        auto a = make_cycle("a", "b");
        a->resurrect_self = true;
        make_cycle("c", "d");
    }
    EXPECT_EQ(ouro::gc::collect(), 2u);
    EXPECT_EQ(ouro::gc::garbage().size(), 2u);  // only the cycle that was not resurrected
    for (auto& g : ouro::gc::garbage()) {
        auto f = ouro::ref_cast<Fin>(g);
        ASSERT_TRUE(f);
        EXPECT_TRUE(f->name == "c" || f->name == "d") << f->name;
        EXPECT_TRUE(ouro::gc::is_finalized(*f));
    }
    ouro::gc::set_debug(0);
    ouro::gc::garbage().clear();
    saved.clear();
    EXPECT_EQ(ouro::gc::collect(), 4u);
    EXPECT_EQ(Fin::finalized, 4);
    EXPECT_EQ(Fin::destroyed, 4);
}

TEST_F(FinalizeTest, ResurrectionIntoAnObjectOutsideTheGarbage) {
    // The finalizer stores the reference in a managed object that is alive (not in a vector).
    auto holder = ouro::make<Plain>();
    Saver::into = holder.get();
    {
        auto s = ouro::make<Saver>();
        s->self = s;
    }
    EXPECT_EQ(ouro::gc::collect(), 0u);
    auto s = ouro::ref_cast<Saver>(holder->next);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->payload, 99);
    EXPECT_TRUE(s->self == s);
    s = nullptr;
    // holder -> saver <-> saver: reachable from holder (a root), stays.
    EXPECT_EQ(ouro::gc::collect(), 0u);
    holder = nullptr;  // Plain dies by count; the saver self-cycle remains
    EXPECT_EQ(ouro::gc::collect(), 1u);
    Saver::into = nullptr;
}

}  // namespace
