// Generations (docs/cpython.md §3): membership and promotion, young collections that leave older
// generations alone, automatic collections of each generation, the long-lived 25% rule.
#include <ouro/ouro.hpp>

#include <gtest/gtest.h>

#include "support.hpp"

#include <algorithm>
#include <random>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace {

using ouro::Ref;
using support::Node;

bool in(const std::vector<Ref<ouro::Object>>& v, const ouro::Object* o) {
    return std::any_of(v.begin(), v.end(), [&](const Ref<ouro::Object>& r) { return r.get() == o; });
}

int generation_of(const ouro::Object* o) {
    int found = -1;
    for (int g = 0; g < 3; ++g) {
        if (in(ouro::gc::get_objects(g), o)) {
            EXPECT_EQ(found, -1) << "object listed in two generations";
            found = g;
        }
    }
    return found;
}

Ref<Node> make_pair_cycle(int v) {
    auto a = ouro::make<Node>(v);
    a->next = ouro::make<Node>(v + 1);
    a->next->next = a;
    return a;
}

// Resurrects itself into *saved from its finalizer.
struct Phoenix : ouro::Object {
    static inline Ref<ouro::Object>* saved = nullptr;
    static inline std::vector<Ref<Node>>* release = nullptr;  // cleared by the finalizer
    Ref<Phoenix> self;
    void trace(ouro::Visitor& visit) override { visit(self); }
    void finalize() override {
        if (release) release->clear();
        if (saved) *saved = Ref<Phoenix>(this);
    }
};

class GenerationsTest : public support::HeapTest {
protected:
    void SetUp() override { support::reset(Node::destroyed); }
};

TEST_F(GenerationsTest, NewObjectsAreInGenerationZero) {
    auto a = ouro::make<Node>(1);
    EXPECT_EQ(generation_of(a.get()), 0);
}

TEST_F(GenerationsTest, SurvivorsArePromotedOneGenerationAtATime) {
    auto a = ouro::make<Node>(1);
    ouro::gc::collect(0);
    EXPECT_EQ(generation_of(a.get()), 1);
    auto b = ouro::make<Node>(2);
    EXPECT_EQ(generation_of(b.get()), 0);
    ouro::gc::collect(0);  // a stays in 1 (not a candidate), b -> 1
    EXPECT_EQ(generation_of(a.get()), 1);
    EXPECT_EQ(generation_of(b.get()), 1);
    ouro::gc::collect(1);
    EXPECT_EQ(generation_of(a.get()), 2);
    EXPECT_EQ(generation_of(b.get()), 2);
    ouro::gc::collect(2);
    EXPECT_EQ(generation_of(a.get()), 2);  // the oldest generation keeps its survivors
    auto c = ouro::make<Node>(3);
    ouro::gc::collect(1);  // generation 0 survivors of a collection of 1 go straight to 2
    EXPECT_EQ(generation_of(c.get()), 2);
    auto d = ouro::make<Node>(4);
    ouro::gc::collect(2);
    EXPECT_EQ(generation_of(d.get()), 2);
    // Promotion keeps the objects intact.
    EXPECT_EQ(a->value + b->value + c->value + d->value, 10);
}

TEST_F(GenerationsTest, YoungCollectionLeavesOlderGarbageAlone) {
    ouro::gc::disable();
    {
        auto g1 = make_pair_cycle(10);
        ouro::gc::collect(0);  // reachable now: promoted to generation 1
        auto g2 = make_pair_cycle(20);
        ouro::gc::collect(0);
        ouro::gc::collect(1);  // g1 and g2 -> 2
        auto g1b = make_pair_cycle(30);
        ouro::gc::collect(0);  // g1b -> 1
        EXPECT_EQ(generation_of(g2.get()), 2);
        EXPECT_EQ(generation_of(g1b.get()), 1);
    }
    make_pair_cycle(40);  // garbage in generation 0 at once
    EXPECT_EQ(ouro::gc::collect(0), 2u);  // only the young cycle
    EXPECT_EQ(Node::destroyed, 2);
    EXPECT_EQ(ouro::gc::collect(0), 0u);
    EXPECT_EQ(ouro::gc::collect(1), 2u);  // the generation-1 cycle
    EXPECT_EQ(Node::destroyed, 4);
    EXPECT_EQ(ouro::gc::collect(1), 0u);
    EXPECT_EQ(ouro::gc::collect(2), 4u);  // both generation-2 cycles
    EXPECT_EQ(Node::destroyed, 8);
}

TEST_F(GenerationsTest, OldObjectsReferencingYoungOnesAreRootsForAYoungCollection) {
    auto old = ouro::make<Node>(1);
    ouro::gc::collect();  // old -> 2
    old->next = ouro::make<Node>(2);  // young, referenced only from an old object
    old->next->next = ouro::make<Node>(3);
    EXPECT_EQ(ouro::gc::collect(0), 0u);
    EXPECT_EQ(ouro::gc::collect(1), 0u);
    EXPECT_EQ(Node::destroyed, 0);
    EXPECT_EQ(old->next->next->value, 3);
}

TEST_F(GenerationsTest, OldGarbageCycleKeepsItsYoungReferentsUntilAFullCollection) {
    Node* young_raw = nullptr;
    {
        auto a = make_pair_cycle(1);
        ouro::gc::collect();  // the cycle -> 2 (it was reachable)
        auto young = ouro::make<Node>(3);
        young_raw = young.get();
        a->next->next = nullptr;  // a -> b
        a->next->next = young;    // a -> b -> young -> a
        young->next = a;
    }
    EXPECT_EQ(ouro::gc::collect(0), 0u);  // young is referenced from the (old) garbage
    EXPECT_EQ(young_raw->value, 3);
    EXPECT_EQ(generation_of(young_raw), 1);
    EXPECT_EQ(ouro::gc::collect(1), 0u);
    EXPECT_EQ(ouro::gc::collect(2), 3u);
    EXPECT_EQ(Node::destroyed, 3);
}

TEST_F(GenerationsTest, DeathByCountLeavesTheGenerationLists) {
    // Objects are removed from the middle of the young lists in any order.
    ouro::gc::disable();
    std::vector<Ref<Node>> nodes;
    for (int i = 0; i < 1000; ++i) nodes.push_back(ouro::make<Node>(i));
    std::mt19937 rng(12345);
    std::shuffle(nodes.begin(), nodes.end(), rng);
    std::unordered_set<const ouro::Object*> alive;
    for (int i = 0; i < 500; ++i) alive.insert(nodes[static_cast<std::size_t>(i)].get());
    nodes.resize(500);
    auto g0 = ouro::gc::get_objects(0);
    EXPECT_EQ(g0.size(), 500u);
    for (auto& o : g0) EXPECT_TRUE(alive.count(o.get()));
    g0.clear();
    EXPECT_EQ(ouro::gc::collect(0), 0u);
    // Half of generation 1 dies, then half of the rest after another promotion.
    std::shuffle(nodes.begin(), nodes.end(), rng);
    nodes.resize(250);
    auto g1 = ouro::gc::get_objects(1);
    EXPECT_EQ(g1.size(), 250u);
    for (auto& n : nodes) EXPECT_TRUE(in(g1, n.get()));
    g1.clear();
    EXPECT_EQ(ouro::gc::collect(1), 0u);
    nodes.resize(100);
    EXPECT_EQ(ouro::gc::get_objects(2).size(), 100u);
    EXPECT_EQ(Node::destroyed, 900);
    // The young lists still work after all that.
    make_pair_cycle(0);
    EXPECT_EQ(ouro::gc::collect(0), 2u);
}

TEST_F(GenerationsTest, ManyDeathsInRandomOrderKeepTheGenerationsExact) {
    // Enough deaths to make the young lists reorganise themselves, in both young generations.
    ouro::gc::disable();
    std::mt19937 rng(777);
    std::vector<Ref<Node>> nodes;
    for (int i = 0; i < 6000; ++i) nodes.push_back(ouro::make<Node>(i));
    std::shuffle(nodes.begin(), nodes.end(), rng);
    nodes.resize(1600);  // 4400 deaths in random order
    auto check_generation = [&](int gen) {
        auto listed = ouro::gc::get_objects(gen);
        EXPECT_EQ(listed.size(), nodes.size());
        std::unordered_set<const ouro::Object*> expected;
        for (auto& n : nodes) expected.insert(n.get());
        for (auto& o : listed) EXPECT_TRUE(expected.count(o.get()));
        for (int g = 0; g < 3; ++g) {
            if (g == gen) continue;
            EXPECT_TRUE(ouro::gc::get_objects(g).empty()) << g;
        }
    };
    check_generation(0);
    EXPECT_EQ(ouro::gc::get_count()[0], 1600u);
    EXPECT_EQ(ouro::gc::collect(0), 0u);
    check_generation(1);
    for (int round = 0; round < 3; ++round) {  // more deaths, now in generation 1
        std::shuffle(nodes.begin(), nodes.end(), rng);
        nodes.resize(nodes.size() / 2);
    }
    check_generation(1);
    // Turn the survivors into garbage pairs: a young collection still finds exactly them.
    ASSERT_EQ(nodes.size() % 2, 0u);
    std::size_t n = nodes.size();
    for (std::size_t i = 0; i < n; i += 2) {
        nodes[i]->next = nodes[i + 1];
        nodes[i + 1]->next = nodes[i];
    }
    nodes.clear();
    EXPECT_EQ(ouro::gc::collect(0), 0u);
    EXPECT_EQ(ouro::gc::collect(1), n);
    EXPECT_EQ(Node::destroyed, 6000);
    EXPECT_TRUE(ouro::gc::get_objects().empty());
}

TEST_F(GenerationsTest, DeathsDuringACollectionKeepTheYoungListsConsistent) {
    // A finalizer that runs inside a young collection releases thousands of generation-1
    // objects by count, and resurrects its own cycle into generation 1.
    ouro::gc::disable();
    std::vector<Ref<Node>> keep;
    for (int i = 0; i < 5000; ++i) keep.push_back(ouro::make<Node>(i));
    ouro::gc::collect(0);  // all of them in generation 1
    std::shuffle(keep.begin(), keep.end(), std::mt19937(99));
    Ref<ouro::Object> saved;
    Phoenix::saved = &saved;
    Phoenix::release = &keep;
    {
        auto p = ouro::make<Phoenix>();
        p->self = p;
    }
    EXPECT_EQ(ouro::gc::collect(0), 0u);  // found and resurrected
    Phoenix::release = nullptr;
    Phoenix::saved = nullptr;
    EXPECT_EQ(Node::destroyed, 5000);
    ASSERT_TRUE(saved);
    auto g1 = ouro::gc::get_objects(1);
    ASSERT_EQ(g1.size(), 1u);
    EXPECT_EQ(g1[0].get(), saved.get());
    g1.clear();
    saved = nullptr;
    EXPECT_EQ(ouro::gc::collect(1), 1u);
    EXPECT_TRUE(ouro::gc::get_objects().empty());
}

TEST_F(GenerationsTest, AutomaticCollectionsOfGenerationZeroAndOne) {
    // count[1] counts generation-0 collections; generation 1 is collected when it exceeds
    // threshold1. With thresholds (1, 2, huge): three collections of 0, then one of 1.
    ouro::gc::set_threshold(1, 2, 1'000'000);
    std::vector<int> gens;
    ouro::gc::callbacks().push_back([&](std::string_view phase, const ouro::gc::Info& info) {
        if (phase == "start") gens.push_back(info.generation);
    });
    std::vector<Ref<Node>> keep;
    for (int i = 0; i < 41; ++i) keep.push_back(ouro::make<Node>(i));
    ouro::gc::callbacks().clear();
    ASSERT_EQ(gens.size(), 40u);
    for (std::size_t i = 0; i < gens.size(); ++i) EXPECT_EQ(gens[i], i % 4 == 3 ? 1 : 0) << i;
    auto stats = ouro::gc::get_stats();
    EXPECT_EQ(stats[0].collections, 30u);
    EXPECT_EQ(stats[1].collections, 10u);
    EXPECT_EQ(stats[2].collections, 0u);
}

// The default schedule adapts (docs/design.md §6): automatic collections that find nothing make
// the next ones of their generation wait longer, up to 16 times threshold0; one that finds garbage
// puts the schedule back. A collection that waited 2^k thresholds counts 2^k times towards the
// next generation's, so older generations keep CPython's clock in allocations. set_threshold()
// asks for CPython's exact schedule instead.
TEST_F(GenerationsTest, EmptyAutomaticCollectionsBackOffAndGarbageResetsThem) {
    std::vector<std::size_t> at;  // count0 when each collection started
    std::vector<int> gens;        // and its generation
    ouro::gc::callbacks().push_back([&](std::string_view phase, const ouro::gc::Info& info) {
        if (phase != "start") return;
        at.push_back(ouro::gc::get_count()[0]);
        gens.push_back(info.generation);
    });
    std::vector<Ref<Node>> keep;
    for (int i = 0; i < 700 * (1 + 2 + 4 + 8 + 16 + 16) + 1; ++i) keep.push_back(ouro::make<Node>(i));
    ASSERT_EQ(at.size(), 6u);
    for (std::size_t k = 0; k < at.size(); ++k) EXPECT_EQ(at[k], 700u << std::min<std::size_t>(k, 4)) << k;
    // The first four count 1 + 2 + 4 + 8 = 15 > threshold1: the fifth collects generation 1.
    EXPECT_EQ(gens, (std::vector<int>{0, 0, 0, 0, 1, 0}));
    at.clear();
    // Garbage: the next collection finds it, and the one after comes at threshold0 again.
    for (int i = 0; i < 11200 + 701; ++i) {
        auto a = ouro::make<Node>(i);
        a->next = a;
    }
    ASSERT_GE(at.size(), 2u);
    EXPECT_EQ(at.back(), 700u);
    ouro::gc::callbacks().clear();
}

TEST_F(GenerationsTest, SetThresholdGivesCPythonsExactSchedule) {
    ouro::gc::set_threshold(700, 10, 10);
    std::vector<Ref<Node>> keep;
    for (int i = 0; i < 700 * 20 + 1; ++i) keep.push_back(ouro::make<Node>(i));
    EXPECT_EQ(ouro::gc::get_stats()[0].collections + ouro::gc::get_stats()[1].collections, 20u);
}

TEST_F(GenerationsTest, AutomaticCollectionsFreeGarbageOfEveryGeneration) {
    // Garbage that survives young collections (it was reachable for a while) is freed by the
    // automatic collection of an older generation.
    ouro::gc::set_threshold(20, 2, 2);
    std::vector<Ref<Node>> window;
    for (int i = 0; i < 3000; ++i) {
        window.push_back(make_pair_cycle(i));
        if (window.size() > 50) window.erase(window.begin());  // dropped after a while
    }
    auto stats = ouro::gc::get_stats();
    EXPECT_GT(stats[0].collections, 0u);
    EXPECT_GT(stats[1].collections, 0u);
    EXPECT_GT(stats[2].collections, 0u);
    EXPECT_GT(stats[1].collected + stats[2].collected, 0u);
    // Nothing accumulates: live tracked objects stay bounded.
    EXPECT_LT(ouro::gc::get_objects().size(), 1500u);
    window.clear();
    ouro::gc::collect();
    EXPECT_TRUE(ouro::gc::get_objects().empty());
    EXPECT_EQ(Node::destroyed, 6000);
}

TEST_F(GenerationsTest, LongLivedRuleDelaysFullCollections) {
    // After a full collection leaves N long-lived objects, another automatic full collection
    // waits until more than N/4 objects have survived generation-1 collections since.
    ouro::gc::disable();
    constexpr int kLongLived = 2000;
    std::vector<Ref<Node>> long_lived;
    for (int i = 0; i < kLongLived; ++i) long_lived.push_back(ouro::make<Node>(i));
    ouro::gc::collect();  // long_lived_total = 2000
    ouro::gc::set_threshold(10, 0, 0);  // generation 1 and 2 as often as allowed
    ouro::gc::enable();

    int allocated = 0;
    int allocated_at_first_full = -1;
    ouro::gc::callbacks().push_back([&](std::string_view phase, const ouro::gc::Info& info) {
        if (phase == "start" && info.generation == 2 && allocated_at_first_full < 0)
            allocated_at_first_full = allocated;
    });
    std::vector<Ref<Node>> young;  // survivors: they become long-lived pending
    while (allocated < 1000) {
        young.push_back(ouro::make<Node>(allocated));
        ++allocated;
    }
    ouro::gc::callbacks().clear();
    ASSERT_GE(allocated_at_first_full, 0) << "no automatic full collection at all";
    // More than 2000/4 survivors were pending before the first automatic full collection.
    EXPECT_GT(allocated_at_first_full, kLongLived / 4);
    EXPECT_LT(allocated_at_first_full, kLongLived / 4 + 40);
    EXPECT_GT(ouro::gc::get_stats()[1].collections, 20u);
}

TEST_F(GenerationsTest, WithoutLongLivedObjectsFullCollectionsComeQuickly) {
    ouro::gc::set_threshold(10, 0, 0);
    std::vector<Ref<Node>> young;
    for (int i = 0; i < 60; ++i) young.push_back(ouro::make<Node>(i));
    EXPECT_GT(ouro::gc::get_stats()[2].collections, 0u);
}

TEST_F(GenerationsTest, ResurrectedObjectsArePromoted) {
    Ref<ouro::Object> saved;
    Phoenix::saved = &saved;
    {
        auto p = ouro::make<Phoenix>();
        p->self = p;
    }
    EXPECT_EQ(ouro::gc::collect(0), 0u);  // found, then resurrected
    ASSERT_TRUE(saved);
    EXPECT_EQ(generation_of(saved.get()), 1);
    // The self-cycle is intact; it dies in a later collection of generation 1 without running
    // the finalizer again.
    Phoenix::saved = nullptr;
    saved = nullptr;
    EXPECT_EQ(ouro::gc::collect(0), 0u);
    EXPECT_EQ(ouro::gc::collect(1), 1u);
}

}  // namespace
