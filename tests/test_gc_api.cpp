// The gc module's API (docs/cpython.md §4): enable/disable, counts and thresholds, statistics,
// get_objects, get_referrers/get_referents, is_tracked/is_finalized, freeze, garbage with
// DEBUG_SAVEALL, debug flags, callbacks and their errors.
#include <ouro/ouro.hpp>

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
using support::contains;
using support::HookCapture;
using support::Node;

struct Pair : ouro::Object {
    Ref<ouro::Object> a, b;
    void trace(ouro::Visitor& visit) override {
        visit(a);
        visit(b);
    }
};

struct Leaf : ouro::Object {
    int value = 0;
};

struct WithFinalizer : ouro::Object {
    static inline int finalized = 0;
    Ref<ouro::Object> next;
    void trace(ouro::Visitor& visit) override { visit(next); }
    void finalize() override { ++finalized; }
};

void make_garbage_pair() {
    auto a = ouro::make<Node>(1);
    auto b = ouro::make<Node>(2);
    a->next = b;
    b->next = a;
}

class GcApiTest : public support::HeapTest {
protected:
    void SetUp() override { support::reset(Node::destroyed, WithFinalizer::finalized); }
};

// --- enable / disable / isenabled --------------------------------------------------------------

TEST_F(GcApiTest, EnabledByDefault) { EXPECT_TRUE(ouro::gc::isenabled()); }

TEST_F(GcApiTest, DisableStopsAutomaticCollection) {
    ouro::gc::disable();
    EXPECT_FALSE(ouro::gc::isenabled());
    for (int i = 0; i < 3000; ++i) make_garbage_pair();
    EXPECT_EQ(ouro::gc::get_stats()[0].collections, 0u);
    EXPECT_EQ(Node::destroyed, 0);
    EXPECT_EQ(ouro::gc::get_count()[0], 6000u);
    // An explicit collection still works while disabled.
    EXPECT_EQ(ouro::gc::collect(), 6000u);
    EXPECT_FALSE(ouro::gc::isenabled());
    ouro::gc::enable();
    EXPECT_TRUE(ouro::gc::isenabled());
}

TEST_F(GcApiTest, EnableResumesAutomaticCollection) {
    ouro::gc::disable();
    for (int i = 0; i < 1000; ++i) make_garbage_pair();  // count0 = 2000, over the threshold
    EXPECT_EQ(ouro::gc::get_stats()[0].collections, 0u);
    ouro::gc::enable();
    auto n = ouro::make<Node>(0);  // the next tracked allocation sees count0 >= threshold0
    EXPECT_EQ(ouro::gc::get_stats()[0].collections, 1u);
    EXPECT_EQ(Node::destroyed, 2000);
}

TEST_F(GcApiTest, DisableAroundACriticalSection) {
    ouro::gc::set_threshold(10);
    ouro::gc::disable();
    for (int i = 0; i < 100; ++i) make_garbage_pair();
    EXPECT_EQ(ouro::gc::get_stats()[0].collections + ouro::gc::get_stats()[1].collections +
                  ouro::gc::get_stats()[2].collections,
              0u);
    ouro::gc::enable();
    for (int i = 0; i < 100; ++i) make_garbage_pair();
    EXPECT_GT(ouro::gc::get_stats()[0].collections, 0u);
}

TEST_F(GcApiTest, SettingsArePerHeap) {
    ouro::gc::disable();
    ouro::gc::set_threshold(5, 6, 7);
    ouro::gc::set_debug(ouro::gc::DEBUG_SAVEALL);
    {
        ouro::Heap other;
        ouro::Heap::Scope inner(other);
        EXPECT_TRUE(ouro::gc::isenabled());
        EXPECT_EQ(ouro::gc::get_threshold(), (std::array<std::size_t, 3>{700, 10, 10}));
        EXPECT_EQ(ouro::gc::get_debug(), 0u);
        make_garbage_pair();
        EXPECT_EQ(ouro::gc::collect(), 2u);
        EXPECT_TRUE(ouro::gc::garbage().empty());
        EXPECT_EQ(ouro::gc::get_stats()[2].collections, 1u);
    }
    EXPECT_FALSE(ouro::gc::isenabled());
    EXPECT_EQ(ouro::gc::get_threshold(), (std::array<std::size_t, 3>{5, 6, 7}));
    EXPECT_EQ(ouro::gc::get_stats()[2].collections, 0u);
    ouro::gc::set_debug(0);
}

// --- get_count / get_threshold / set_threshold -------------------------------------------------

TEST_F(GcApiTest, CountStartsAtZero) { EXPECT_EQ(ouro::gc::get_count(), (std::array<std::size_t, 3>{0, 0, 0})); }

TEST_F(GcApiTest, CountIsTrackedAllocationsMinusDeallocations) {
    auto a = ouro::make<Node>(1);
    auto b = ouro::make<Node>(2);
    EXPECT_EQ(ouro::gc::get_count()[0], 2u);
    auto leaf = ouro::make<Leaf>();  // untracked: not counted
    EXPECT_EQ(ouro::gc::get_count()[0], 2u);
    leaf = nullptr;
    EXPECT_EQ(ouro::gc::get_count()[0], 2u);
    a = nullptr;
    EXPECT_EQ(ouro::gc::get_count()[0], 1u);
    b = nullptr;
    EXPECT_EQ(ouro::gc::get_count()[0], 0u);
}

TEST_F(GcApiTest, CountNeverGoesBelowZero) {
    auto a = ouro::make<Node>(1);
    auto b = ouro::make<Node>(2);
    ouro::gc::collect();
    EXPECT_EQ(ouro::gc::get_count()[0], 0u);
    a = nullptr;
    b = nullptr;
    EXPECT_EQ(ouro::gc::get_count()[0], 0u);
}

TEST_F(GcApiTest, CollectionsResetAndCarryCounts) {
    // A collection of generation n resets count[0..n] and adds 1 to count[n+1].
    auto keep = ouro::make<Node>(1);
    ouro::gc::collect(0);
    EXPECT_EQ(ouro::gc::get_count(), (std::array<std::size_t, 3>{0, 1, 0}));
    ouro::gc::collect(0);
    EXPECT_EQ(ouro::gc::get_count(), (std::array<std::size_t, 3>{0, 2, 0}));
    auto more = ouro::make<Node>(2);
    EXPECT_EQ(ouro::gc::get_count(), (std::array<std::size_t, 3>{1, 2, 0}));
    ouro::gc::collect(1);
    EXPECT_EQ(ouro::gc::get_count(), (std::array<std::size_t, 3>{0, 0, 1}));
    ouro::gc::collect(0);
    ouro::gc::collect(1);
    EXPECT_EQ(ouro::gc::get_count(), (std::array<std::size_t, 3>{0, 0, 2}));
    ouro::gc::collect(2);
    EXPECT_EQ(ouro::gc::get_count(), (std::array<std::size_t, 3>{0, 0, 0}));
}

TEST_F(GcApiTest, DefaultThresholds) {
    EXPECT_EQ(ouro::gc::get_threshold(), (std::array<std::size_t, 3>{700, 10, 10}));
}

TEST_F(GcApiTest, SetThresholdWithOneTwoAndThreeArguments) {
    ouro::gc::set_threshold(100);
    EXPECT_EQ(ouro::gc::get_threshold(), (std::array<std::size_t, 3>{100, 10, 10}));
    ouro::gc::set_threshold(200, 20);
    EXPECT_EQ(ouro::gc::get_threshold(), (std::array<std::size_t, 3>{200, 20, 10}));
    ouro::gc::set_threshold(300, 30, 40);
    EXPECT_EQ(ouro::gc::get_threshold(), (std::array<std::size_t, 3>{300, 30, 40}));
    ouro::gc::set_threshold(5);
    EXPECT_EQ(ouro::gc::get_threshold(), (std::array<std::size_t, 3>{5, 30, 40}));
    ouro::gc::set_threshold(700, 10, 10);  // the seed's call
    EXPECT_EQ(ouro::gc::get_threshold(), (std::array<std::size_t, 3>{700, 10, 10}));
}

TEST_F(GcApiTest, ThresholdZeroDisablesAutomaticCollection) {
    ouro::gc::set_threshold(0);
    EXPECT_TRUE(ouro::gc::isenabled());
    for (int i = 0; i < 5000; ++i) make_garbage_pair();
    auto stats = ouro::gc::get_stats();
    EXPECT_EQ(stats[0].collections + stats[1].collections + stats[2].collections, 0u);
    EXPECT_EQ(Node::destroyed, 0);
    EXPECT_EQ(ouro::gc::collect(), 10000u);  // explicit collections still work
    ouro::gc::set_threshold(10);
    for (int i = 0; i < 100; ++i) make_garbage_pair();
    EXPECT_GT(ouro::gc::get_stats()[0].collections, 0u);
}

TEST_F(GcApiTest, AutomaticCollectionFiresWhenCountReachesThreshold) {
    ouro::gc::set_threshold(10, 1000, 1000);
    std::vector<Ref<Node>> keep;
    for (int i = 0; i < 10; ++i) keep.push_back(ouro::make<Node>(i));
    EXPECT_EQ(ouro::gc::get_count()[0], 10u);
    EXPECT_EQ(ouro::gc::get_stats()[0].collections, 0u);
    // Untracked allocations never trigger a collection.
    for (int i = 0; i < 100; ++i) (void)ouro::make<Leaf>();
    EXPECT_EQ(ouro::gc::get_stats()[0].collections, 0u);
    keep.push_back(ouro::make<Node>(10));  // checked before allocating: count0 (10) >= 10
    EXPECT_EQ(ouro::gc::get_stats()[0].collections, 1u);
    EXPECT_EQ(ouro::gc::get_count(), (std::array<std::size_t, 3>{1, 1, 0}));
    for (int i = 0; i < 9; ++i) keep.push_back(ouro::make<Node>(i));
    EXPECT_EQ(ouro::gc::get_stats()[0].collections, 1u);
    keep.push_back(ouro::make<Node>(0));
    EXPECT_EQ(ouro::gc::get_stats()[0].collections, 2u);
}

TEST_F(GcApiTest, AutomaticCollectionsFreeGarbageWhileAllocating) {
    ouro::gc::set_threshold(50);
    std::vector<std::size_t> seen;
    for (int i = 0; i < 1000; ++i) {
        make_garbage_pair();
        if (i % 100 == 99) seen.push_back(ouro::gc::get_stats()[0].collections);
    }
    for (std::size_t i = 1; i < seen.size(); ++i) EXPECT_GT(seen[i], seen[i - 1]);
    auto stats = ouro::gc::get_stats();
    EXPECT_GE(stats[0].collections, 20u);
    // Most of the garbage was freed along the way, by automatic collections only.
    EXPECT_GT(Node::destroyed, 1500);
    EXPECT_EQ(static_cast<std::size_t>(Node::destroyed), stats[0].collected + stats[1].collected + stats[2].collected);
    // All live tracked objects are what is left.
    EXPECT_EQ(ouro::gc::get_objects().size(), 2000u - static_cast<std::size_t>(Node::destroyed));
}

TEST_F(GcApiTest, AutomaticCollectionForLargeTrackedObjects) {
    struct BigNode : ouro::Object {
        char bytes[4096] = {};
        Ref<BigNode> next;
        void trace(ouro::Visitor& visit) override { visit(next); }
    };
    ouro::gc::set_threshold(10);
    for (int i = 0; i < 100; ++i) {
        auto a = ouro::make<BigNode>();
        a->next = a;
    }
    EXPECT_GE(ouro::gc::get_stats()[0].collections, 5u);
    EXPECT_LT(ouro::gc::get_objects().size(), 20u);
}

// --- get_stats -------------------------------------------------------------------------------

TEST_F(GcApiTest, StatsStartAtZero) {
    for (const auto& s : ouro::gc::get_stats()) {
        EXPECT_EQ(s.collections, 0u);
        EXPECT_EQ(s.collected, 0u);
        EXPECT_EQ(s.uncollectable, 0u);
        EXPECT_EQ(s.pause_seconds, 0.0);
    }
}

TEST_F(GcApiTest, StatsFields) {
    ouro::gc::disable();
    for (int i = 0; i < 100; ++i) make_garbage_pair();
    EXPECT_EQ(ouro::gc::collect(1), 200u);
    auto s = ouro::gc::get_stats();
    EXPECT_EQ(s[1].collections, 1u);
    EXPECT_EQ(s[1].collected, 200u);
    EXPECT_EQ(s[1].uncollectable, 0u);
    EXPECT_GT(s[1].pause_seconds, 0.0);
    EXPECT_LT(s[1].pause_seconds, 10.0);
    EXPECT_EQ(s[0].collections, 0u);
    EXPECT_EQ(s[2].collections, 0u);
    double before = s[1].pause_seconds;
    ouro::gc::collect(1);
    s = ouro::gc::get_stats();
    EXPECT_EQ(s[1].collections, 2u);
    EXPECT_EQ(s[1].collected, 200u);
    EXPECT_GT(s[1].pause_seconds, before);  // a total
}

// --- get_objects ---------------------------------------------------------------------------------

TEST_F(GcApiTest, GetObjectsListsTrackedObjectsOnly) {
    auto a = ouro::make<Node>(1);
    auto b = ouro::make<Pair>();
    auto leaf = ouro::make<Leaf>();
    auto all = ouro::gc::get_objects();
    EXPECT_EQ(all.size(), 2u);
    EXPECT_TRUE(contains(all, a.get()));
    EXPECT_TRUE(contains(all, b.get()));
    EXPECT_FALSE(contains(all, leaf.get()));
    EXPECT_EQ(ouro::sys::getrefcount(*a), 2u);  // the list holds references
    all.clear();
    a = nullptr;
    all = ouro::gc::get_objects();
    EXPECT_EQ(all.size(), 1u);
    EXPECT_TRUE(contains(all, b.get()));
}

TEST_F(GcApiTest, GetObjectsByGeneration) {
    auto a = ouro::make<Node>(1);
    ouro::gc::collect(0);  // a -> generation 1
    auto b = ouro::make<Node>(2);
    ouro::gc::collect(0);  // b -> 1
    ouro::gc::collect(1);  // a, b -> 2
    auto c = ouro::make<Node>(3);
    ouro::gc::collect(0);  // c -> 1
    auto d = ouro::make<Node>(4);
    auto g0 = ouro::gc::get_objects(0);
    auto g1 = ouro::gc::get_objects(1);
    auto g2 = ouro::gc::get_objects(2);
    EXPECT_EQ(g0.size(), 1u);
    EXPECT_TRUE(contains(g0, d.get()));
    EXPECT_EQ(g1.size(), 1u);
    EXPECT_TRUE(contains(g1, c.get()));
    EXPECT_EQ(g2.size(), 2u);
    EXPECT_TRUE(contains(g2, a.get()));
    EXPECT_TRUE(contains(g2, b.get()));
    EXPECT_EQ(ouro::gc::get_objects().size(), 4u);
    EXPECT_THROW(ouro::gc::get_objects(-1), std::invalid_argument);
    EXPECT_THROW(ouro::gc::get_objects(3), std::invalid_argument);
}

// --- get_referrers / get_referents ---------------------------------------------------------------

TEST_F(GcApiTest, GetReferents) {
    auto p = ouro::make<Pair>();
    auto n = ouro::make<Node>(1);
    auto leaf = ouro::make<Leaf>();
    p->a = n;
    p->b = leaf;
    auto refs = ouro::gc::get_referents(*p);
    ASSERT_EQ(refs.size(), 2u);
    EXPECT_EQ(refs[0].get(), n.get());  // in trace() order
    EXPECT_EQ(refs[1].get(), leaf.get());  // untracked referents are listed too
    EXPECT_EQ(ouro::sys::getrefcount(*n), 3u);
    refs.clear();
    // Null slots are skipped; a duplicate is listed twice.
    p->a = nullptr;
    p->b = n;
    n->next = n;
    refs = ouro::gc::get_referents(*p);
    ASSERT_EQ(refs.size(), 1u);
    EXPECT_EQ(refs[0].get(), n.get());
    p->a = n;
    refs = ouro::gc::get_referents(*p);
    EXPECT_EQ(refs.size(), 2u);
    // An untracked object has no referents; nor does an object whose refs are all null.
    EXPECT_TRUE(ouro::gc::get_referents(*leaf).empty());
    EXPECT_TRUE(ouro::gc::get_referents(*ouro::make<Node>(5)).empty());
    n->next = nullptr;
}

TEST_F(GcApiTest, GetReferrers) {
    auto x = ouro::make<Leaf>();
    auto a = ouro::make<Pair>();
    auto b = ouro::make<Pair>();
    auto c = ouro::make<Pair>();
    auto y = ouro::make<Node>(1);
    a->a = x;
    a->b = x;  // twice from one object: listed once
    b->b = x;
    c->a = y;
    struct Opaque : ouro::Object {
        Ref<Leaf> hidden;  // untracked: never a referrer
    };
    auto opaque = ouro::make<Opaque>();
    opaque->hidden = x;
    auto referrers = ouro::gc::get_referrers(*x);
    EXPECT_EQ(referrers.size(), 2u);
    EXPECT_TRUE(contains(referrers, a.get()));
    EXPECT_TRUE(contains(referrers, b.get()));
    EXPECT_FALSE(contains(referrers, c.get()));
    EXPECT_TRUE(ouro::gc::get_referrers(*c).empty());
    auto of_y = ouro::gc::get_referrers(*y);
    ASSERT_EQ(of_y.size(), 1u);
    EXPECT_EQ(of_y[0].get(), c.get());
    // A self-reference makes an object its own referrer.
    y->next = y;
    of_y = ouro::gc::get_referrers(*y);
    EXPECT_EQ(of_y.size(), 2u);
    EXPECT_TRUE(contains(of_y, y.get()));
    y->next = nullptr;
}

TEST_F(GcApiTest, GetReferrersSeesAllGenerations) {
    auto x = ouro::make<Leaf>();
    auto old = ouro::make<Pair>();
    old->a = x;
    ouro::gc::collect();  // old -> generation 2
    auto middle = ouro::make<Pair>();
    middle->a = x;
    ouro::gc::collect(0);  // middle -> generation 1
    auto young = ouro::make<Pair>();
    young->a = x;
    auto referrers = ouro::gc::get_referrers(*x);
    EXPECT_EQ(referrers.size(), 3u);
    EXPECT_TRUE(contains(referrers, old.get()));
    EXPECT_TRUE(contains(referrers, middle.get()));
    EXPECT_TRUE(contains(referrers, young.get()));
}

TEST_F(GcApiTest, GetReferrersSkipsFrozenObjectsLikeGetObjects) {
    // CPython's get_referrers walks the three generations, not the permanent one, exactly as
    // get_objects does.
    auto x = ouro::make<Leaf>();
    auto frozen = ouro::make<Pair>();
    frozen->a = x;
    ouro::gc::freeze();
    auto young = ouro::make<Pair>();
    young->a = x;
    auto referrers = ouro::gc::get_referrers(*x);
    EXPECT_EQ(referrers.size(), 1u);
    EXPECT_TRUE(contains(referrers, young.get()));
    referrers.clear();
    ouro::gc::unfreeze();
    EXPECT_EQ(ouro::gc::get_referrers(*x).size(), 2u);
}

// --- is_tracked / is_finalized ---------------------------------------------------------------------

TEST_F(GcApiTest, IsTracked) {
    auto n = ouro::make<Node>(1);
    auto leaf = ouro::make<Leaf>();
    EXPECT_TRUE(ouro::gc::is_tracked(*n));
    EXPECT_FALSE(ouro::gc::is_tracked(*leaf));
    ouro::gc::collect();
    EXPECT_TRUE(ouro::gc::is_tracked(*n));  // still tracked in an older generation
    ouro::gc::freeze();
    EXPECT_TRUE(ouro::gc::is_tracked(*n));  // and when frozen
    ouro::gc::unfreeze();
}

TEST_F(GcApiTest, IsFinalized) {
    auto f = ouro::make<WithFinalizer>();
    auto n = ouro::make<Pair>();
    EXPECT_FALSE(ouro::gc::is_finalized(*f));
    EXPECT_FALSE(ouro::gc::is_finalized(*n));
    ouro::gc::set_debug(ouro::gc::DEBUG_SAVEALL);
    f->next = n;
    n->a = f;
    WithFinalizer* raw = f.get();
    Pair* nraw = n.get();
    f = nullptr;
    n = nullptr;
    EXPECT_EQ(ouro::gc::collect(), 2u);
    ASSERT_EQ(ouro::gc::garbage().size(), 2u);
    EXPECT_EQ(WithFinalizer::finalized, 1);
    EXPECT_TRUE(ouro::gc::is_finalized(*raw));
    EXPECT_FALSE(ouro::gc::is_finalized(*nraw));  // no finalizer, nothing to mark
    ouro::gc::set_debug(0);
    ouro::gc::garbage().clear();
    EXPECT_EQ(ouro::gc::collect(), 2u);
    EXPECT_EQ(WithFinalizer::finalized, 1);  // at most once
}

// --- freeze / unfreeze / get_freeze_count ---------------------------------------------------------

TEST_F(GcApiTest, FreezeMovesEverythingToThePermanentGeneration) {
    EXPECT_EQ(ouro::gc::get_freeze_count(), 0u);
    make_garbage_pair();
    auto keep = ouro::make<Node>(9);
    auto leaf = ouro::make<Leaf>();
    ouro::gc::collect(0);  // keep -> gen 1 (garbage freed)
    make_garbage_pair();   // a frozen garbage cycle in gen 0
    EXPECT_EQ(Node::destroyed, 2);
    ouro::gc::freeze();
    EXPECT_EQ(ouro::gc::get_freeze_count(), 3u);  // tracked objects only
    EXPECT_EQ(ouro::gc::get_count()[0], 0u);
    EXPECT_TRUE(ouro::gc::get_objects().empty());  // frozen objects are excluded
    for (int g = 0; g < 3; ++g) EXPECT_TRUE(ouro::gc::get_objects(g).empty());
    // Frozen objects are never collected.
    EXPECT_EQ(ouro::gc::collect(), 0u);
    EXPECT_EQ(ouro::gc::collect(0), 0u);
    EXPECT_EQ(Node::destroyed, 2);
    EXPECT_EQ(ouro::gc::get_freeze_count(), 3u);
    // New objects are collected as usual.
    make_garbage_pair();
    EXPECT_EQ(ouro::gc::collect(), 2u);
    EXPECT_EQ(Node::destroyed, 4);
    // unfreeze: everything goes back to the oldest generation and is collectable again.
    ouro::gc::unfreeze();
    EXPECT_EQ(ouro::gc::get_freeze_count(), 0u);
    auto g2 = ouro::gc::get_objects(2);
    EXPECT_EQ(g2.size(), 3u);
    EXPECT_TRUE(contains(g2, keep.get()));
    g2.clear();
    EXPECT_EQ(ouro::gc::collect(1), 0u);  // gen 2 is not looked at by a young collection
    EXPECT_EQ(ouro::gc::collect(), 2u);
    EXPECT_EQ(Node::destroyed, 6);
    EXPECT_EQ(keep->value, 9);
}

TEST_F(GcApiTest, FrozenObjectsAreRoots) {
    auto frozen = ouro::make<Node>(1);
    ouro::gc::freeze();
    // A young object reachable only from a frozen one survives collections.
    frozen->next = ouro::make<Node>(2);
    frozen->next->next = frozen;  // young -> frozen: still no garbage
    EXPECT_EQ(ouro::gc::collect(), 0u);
    EXPECT_EQ(frozen->next->value, 2);
    Node* raw = frozen.get();
    frozen = nullptr;  // the frozen object is now only held by the young one: a frozen cycle
    EXPECT_EQ(ouro::gc::collect(), 0u);
    EXPECT_EQ(Node::destroyed, 0);
    EXPECT_EQ(raw->next->value, 2);
    ouro::gc::unfreeze();
    EXPECT_EQ(ouro::gc::collect(), 2u);
    EXPECT_EQ(Node::destroyed, 2);
}

TEST_F(GcApiTest, FrozenObjectDyingByCountLeavesTheFreezeCount) {
    auto a = ouro::make<Node>(1);
    auto b = ouro::make<Node>(2);
    ouro::gc::freeze();
    EXPECT_EQ(ouro::gc::get_freeze_count(), 2u);
    a = nullptr;
    EXPECT_EQ(ouro::gc::get_freeze_count(), 1u);
    EXPECT_EQ(ouro::gc::get_count()[0], 0u);
    ouro::gc::freeze();  // freezing again adds nothing new
    EXPECT_EQ(ouro::gc::get_freeze_count(), 1u);
    ouro::gc::unfreeze();
    EXPECT_EQ(ouro::gc::get_freeze_count(), 0u);
    ouro::gc::unfreeze();  // no-op
    EXPECT_EQ(ouro::gc::get_objects(2).size(), 1u);
}

// freeze() from a finalizer, during a collection: the garbage being collected is the collector's,
// in no generation, and is not frozen (CPython's unreachable list is in no generation either).
struct FreezingNode : ouro::Object {
    ouro::Ref<FreezingNode> next;
    void finalize() override { ouro::gc::freeze(); }
    OURO_TRACE(next)
};

TEST_F(GcApiTest, FreezeFromAFinalizerLeavesTheGarbageOut) {
    auto live = ouro::make<Node>(1);
    live->next = ouro::make<Node>(2);
    {
        auto a = ouro::make<FreezingNode>();
        a->next = ouro::make<FreezingNode>();
        a->next->next = a;
    }
    EXPECT_EQ(ouro::gc::collect(), 2u);
    EXPECT_EQ(ouro::gc::get_freeze_count(), 2u);  // live and live->next
    ouro::gc::unfreeze();
    EXPECT_EQ(ouro::gc::get_freeze_count(), 0u);
}

// --- garbage() and DEBUG_SAVEALL ---------------------------------------------------------------

TEST_F(GcApiTest, SaveAllKeepsGarbageInGarbageList) {
    EXPECT_TRUE(ouro::gc::garbage().empty());
    ouro::gc::set_debug(ouro::gc::DEBUG_SAVEALL);
    make_garbage_pair();
    EXPECT_EQ(ouro::gc::collect(), 2u);
    EXPECT_EQ(Node::destroyed, 0);
    auto& garbage = ouro::gc::garbage();
    ASSERT_EQ(garbage.size(), 2u);
    // Intact: the references that made the cycle are still there.
    auto a = ouro::ref_cast<Node>(garbage[0]);
    auto b = ouro::ref_cast<Node>(garbage[1]);
    ASSERT_TRUE(a && b);
    EXPECT_TRUE(a->next == b);
    EXPECT_TRUE(b->next == a);
    EXPECT_EQ(a->value + b->value, 3);
    EXPECT_EQ(ouro::gc::get_stats()[2].collected, 2u);
    // Saved objects are reachable now (from garbage): collecting again finds nothing.
    EXPECT_EQ(ouro::gc::collect(), 0u);
    a = nullptr;
    b = nullptr;
    // Dropping the list with SAVEALL still on: the next collection saves them again.
    garbage.clear();
    EXPECT_EQ(ouro::gc::collect(), 2u);
    EXPECT_EQ(ouro::gc::garbage().size(), 2u);
    // Without SAVEALL, clearing the list and collecting frees them.
    ouro::gc::set_debug(0);
    ouro::gc::garbage().clear();
    EXPECT_EQ(Node::destroyed, 0);
    EXPECT_EQ(ouro::gc::collect(), 2u);
    EXPECT_EQ(Node::destroyed, 2);
}

TEST_F(GcApiTest, SaveAllAlsoAppliesToAutomaticCollections) {
    ouro::gc::set_debug(ouro::gc::DEBUG_SAVEALL);
    ouro::gc::set_threshold(10);
    for (int i = 0; i < 50; ++i) make_garbage_pair();
    EXPECT_GT(ouro::gc::garbage().size(), 0u);
    EXPECT_EQ(Node::destroyed, 0);
    ouro::gc::set_debug(0);
    ouro::gc::garbage().clear();
    ouro::gc::collect();
    EXPECT_EQ(Node::destroyed, 100);
}

// --- set_debug / get_debug and the flags ---------------------------------------------------------

TEST_F(GcApiTest, DebugFlagValuesAreCPythons) {
    EXPECT_EQ(ouro::gc::DEBUG_STATS, 1u);
    EXPECT_EQ(ouro::gc::DEBUG_COLLECTABLE, 2u);
    EXPECT_EQ(ouro::gc::DEBUG_UNCOLLECTABLE, 4u);
    EXPECT_EQ(ouro::gc::DEBUG_SAVEALL, 32u);
    EXPECT_EQ(ouro::gc::DEBUG_LEAK, 38u);
}

TEST_F(GcApiTest, SetDebugGetDebug) {
    EXPECT_EQ(ouro::gc::get_debug(), 0u);
    ouro::gc::set_debug(ouro::gc::DEBUG_STATS | ouro::gc::DEBUG_SAVEALL);
    EXPECT_EQ(ouro::gc::get_debug(), 33u);
    ouro::gc::set_debug(ouro::gc::DEBUG_LEAK);
    EXPECT_EQ(ouro::gc::get_debug(), ouro::gc::DEBUG_LEAK);
    ouro::gc::set_debug(0);
    EXPECT_EQ(ouro::gc::get_debug(), 0u);
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::size_t start = 0;
    while (start < text.size()) {
        std::size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        lines.push_back(text.substr(start, end - start));
        start = end + 1;
    }
    return lines;
}

TEST_F(GcApiTest, DebugStatsPrintsOneLinePerCollection) {
    ouro::gc::set_debug(ouro::gc::DEBUG_STATS);
    make_garbage_pair();
    testing::internal::CaptureStderr();
    ouro::gc::collect(1);
    ouro::gc::collect(0);
    std::string err = testing::internal::GetCapturedStderr();
    ouro::gc::set_debug(0);
    auto lines = lines_of(err);
    ASSERT_EQ(lines.size(), 2u) << err;
    EXPECT_NE(lines[0].find("2 unreachable"), std::string::npos) << lines[0];
    EXPECT_NE(lines[1].find("0 unreachable"), std::string::npos) << lines[1];
    for (auto& line : lines) {
        EXPECT_NE(line.find("elapsed"), std::string::npos) << line;
        EXPECT_NE(line.find_first_of("0123456789"), std::string::npos) << line;
    }
    // Nothing is printed without the flag.
    testing::internal::CaptureStderr();
    ouro::gc::collect();
    EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
}

TEST_F(GcApiTest, DebugCollectablePrintsEachUnreachableObject) {
    ouro::gc::set_debug(ouro::gc::DEBUG_COLLECTABLE);
    make_garbage_pair();
    testing::internal::CaptureStderr();
    EXPECT_EQ(ouro::gc::collect(), 2u);
    std::string err = testing::internal::GetCapturedStderr();
    ouro::gc::set_debug(0);
    auto lines = lines_of(err);
    ASSERT_EQ(lines.size(), 2u) << err;
    for (auto& line : lines) {
        EXPECT_NE(line.find("collectable"), std::string::npos) << line;
        EXPECT_NE(line.find("Node"), std::string::npos) << line;  // names the type
    }
}

// --- callbacks -----------------------------------------------------------------------------

struct Event {
    std::string phase;
    ouro::gc::Info info;
};

TEST_F(GcApiTest, CallbacksSeeStartAndStop) {
    std::vector<Event> events;
    EXPECT_TRUE(ouro::gc::callbacks().empty());
    ouro::gc::callbacks().push_back(
        [&](std::string_view phase, const ouro::gc::Info& info) { events.push_back({std::string(phase), info}); });
    make_garbage_pair();
    make_garbage_pair();
    EXPECT_EQ(ouro::gc::collect(1), 4u);
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[0].phase, "start");
    EXPECT_EQ(events[0].info.generation, 1);
    EXPECT_EQ(events[0].info.collected, 0u);
    EXPECT_EQ(events[0].info.uncollectable, 0u);
    EXPECT_EQ(events[0].info.duration_seconds, 0.0);
    EXPECT_EQ(events[1].phase, "stop");
    EXPECT_EQ(events[1].info.generation, 1);
    EXPECT_EQ(events[1].info.collected, 4u);
    EXPECT_EQ(events[1].info.uncollectable, 0u);
    EXPECT_GT(events[1].info.duration_seconds, 0.0);
    ouro::gc::callbacks().clear();
    ouro::gc::collect();
    EXPECT_EQ(events.size(), 2u);
}

TEST_F(GcApiTest, CallbacksRunInOrderAndForAutomaticCollections) {
    std::vector<std::string> order;
    ouro::gc::callbacks().push_back([&](std::string_view phase, const ouro::gc::Info& info) {
        order.push_back("first " + std::string(phase) + " " + std::to_string(info.generation));
    });
    ouro::gc::callbacks().push_back([&](std::string_view phase, const ouro::gc::Info&) {
        order.push_back("second " + std::string(phase));
    });
    ouro::gc::set_threshold(5);
    std::vector<Ref<Node>> keep;
    for (int i = 0; i < 6; ++i) keep.push_back(ouro::make<Node>(i));
    ASSERT_EQ(order.size(), 4u);
    EXPECT_EQ(order[0], "first start 0");
    EXPECT_EQ(order[1], "second start");
    EXPECT_EQ(order[2], "first stop 0");
    EXPECT_EQ(order[3], "second stop");
    ouro::gc::callbacks().clear();
}

TEST_F(GcApiTest, CallbackMayChangeTheCallbackList) {
    int calls = 0;
    ouro::gc::callbacks().push_back([&](std::string_view, const ouro::gc::Info&) {
        ++calls;
        ouro::gc::callbacks().clear();  // removes itself (and the others) mid-collection
    });
    ouro::gc::callbacks().push_back([&](std::string_view, const ouro::gc::Info&) { ++calls; });
    make_garbage_pair();
    EXPECT_EQ(ouro::gc::collect(), 2u);
    EXPECT_GE(calls, 1);
    EXPECT_TRUE(ouro::gc::callbacks().empty());
    int before = calls;
    ouro::gc::collect();
    EXPECT_EQ(calls, before);
}

TEST_F(GcApiTest, CollectFromACallbackReturnsZero) {
    std::vector<std::size_t> nested;
    ouro::gc::callbacks().push_back([&](std::string_view, const ouro::gc::Info&) {
        make_garbage_pair();
        nested.push_back(ouro::gc::collect());
        nested.push_back(ouro::gc::collect(0));
    });
    make_garbage_pair();
    EXPECT_EQ(ouro::gc::collect(), 4u);  // the start callback's pair is found by this collection
    ouro::gc::callbacks().clear();
    ASSERT_EQ(nested.size(), 4u);
    for (auto n : nested) EXPECT_EQ(n, 0u);
    // The nested calls did not count as collections.
    EXPECT_EQ(ouro::gc::get_stats()[2].collections, 1u);
    EXPECT_EQ(ouro::gc::get_stats()[0].collections, 0u);
    // The pair made in the stop callback is collected next time.
    EXPECT_EQ(ouro::gc::collect(), 2u);
    EXPECT_EQ(Node::destroyed, 6);
}

TEST_F(GcApiTest, ExceptionFromACallbackGoesToTheUnraisableHook) {
    HookCapture hook;
    int later_calls = 0;
    ouro::gc::callbacks().push_back([](std::string_view phase, const ouro::gc::Info&) {
        throw std::runtime_error("callback failed in " + std::string(phase));
    });
    ouro::gc::callbacks().push_back([&](std::string_view, const ouro::gc::Info&) { ++later_calls; });
    make_garbage_pair();
    EXPECT_EQ(ouro::gc::collect(), 2u);  // the collection completes
    EXPECT_EQ(Node::destroyed, 2);
    EXPECT_EQ(later_calls, 2);  // the other callback still runs, in both phases
    ouro::gc::callbacks().clear();
    ASSERT_EQ(hook.reports.size(), 2u);
    EXPECT_EQ(hook.reports[0].what, "callback failed in start");
    EXPECT_EQ(hook.reports[1].what, "callback failed in stop");
    for (auto& r : hook.reports) EXPECT_NE(r.where.find("callback"), std::string::npos) << r.where;
    EXPECT_NE(hook.reports[0].where.find("start"), std::string::npos) << hook.reports[0].where;
    EXPECT_NE(hook.reports[1].where.find("stop"), std::string::npos) << hook.reports[1].where;
    // The heap is consistent: collections keep working.
    make_garbage_pair();
    EXPECT_EQ(ouro::gc::collect(), 2u);
}

TEST_F(GcApiTest, NonStdExceptionFromACallbackIsReported) {
    HookCapture hook;
    ouro::gc::callbacks().push_back([](std::string_view, const ouro::gc::Info&) { throw 42; });
    EXPECT_EQ(ouro::gc::collect(), 0u);
    ouro::gc::callbacks().clear();
    EXPECT_EQ(hook.reports.size(), 2u);
}

TEST_F(GcApiTest, DefaultUnraisableHookPrintsExceptionIgnored) {
    auto previous = ouro::set_unraisable_hook({});  // the default
    ouro::gc::callbacks().push_back([](std::string_view phase, const ouro::gc::Info&) {
        if (phase == "stop") throw std::runtime_error("boom from callback");
    });
    testing::internal::CaptureStderr();
    ouro::gc::collect();
    std::string err = testing::internal::GetCapturedStderr();
    ouro::gc::callbacks().clear();
    ouro::set_unraisable_hook(std::move(previous));
    EXPECT_NE(err.find("Exception ignored in"), std::string::npos) << err;
    EXPECT_NE(err.find("boom from callback"), std::string::npos) << err;
}

TEST_F(GcApiTest, SetUnraisableHookReturnsThePreviousHook) {
    int first = 0;
    int second = 0;
    auto original = ouro::set_unraisable_hook([&](std::exception_ptr, std::string_view) { ++first; });
    auto mine = ouro::set_unraisable_hook([&](std::exception_ptr, std::string_view) { ++second; });
    ASSERT_TRUE(mine);
    mine(nullptr, "test");  // the hook returned is the one installed before
    EXPECT_EQ(first, 1);
    try {
        throw std::runtime_error("x");
    } catch (...) {
        ouro::report_unraisable("test");
    }
    EXPECT_EQ(second, 1);
    ouro::set_unraisable_hook(std::move(original));
}

// --- trace() errors during a collection ---------------------------------------------------------

struct FlakyTrace : ouro::Object {
    static inline bool fail = false;
    static inline int destroyed = 0;
    Ref<FlakyTrace> next;
    ~FlakyTrace() override { ++destroyed; }
    void trace(ouro::Visitor& visit) override {
        if (fail) throw std::runtime_error("trace failed");
        visit(next);
    }
};

TEST_F(GcApiTest, ExceptionFromTraceFreesNothingAndIsReported) {
    HookCapture hook;
    FlakyTrace::destroyed = 0;
    {
        auto a = ouro::make<FlakyTrace>();
        auto b = ouro::make<FlakyTrace>();
        a->next = b;
        b->next = a;
    }
    auto keep = ouro::make<Node>(1);
    FlakyTrace::fail = true;
    EXPECT_EQ(ouro::gc::collect(), 0u);
    FlakyTrace::fail = false;
    EXPECT_EQ(FlakyTrace::destroyed, 0);
    ASSERT_GE(hook.reports.size(), 1u);
    EXPECT_NE(hook.reports[0].where.find("trace"), std::string::npos) << hook.reports[0].where;
    EXPECT_EQ(hook.reports[0].what, "trace failed");
    EXPECT_EQ(keep->value, 1);
    EXPECT_EQ(ouro::gc::collect(), 2u);
    EXPECT_EQ(FlakyTrace::destroyed, 2);
}

}  // namespace
