// gc::collect: CPython's algorithm (docs/cpython.md §2): roots found by subtracting internal
// references, unreachable cycles freed, reachable objects untouched, return values, errors.
#include <ouro/ouro.hpp>

#include <gtest/gtest.h>

#include "support.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

using ouro::Ref;

struct Node : ouro::Object {
    static inline int destroyed = 0;
    static inline std::vector<int>* destroyed_values = nullptr;
    int value;
    Ref<Node> next;
    explicit Node(int v = 0) : value(v) {}
    ~Node() override {
        ++destroyed;
        if (destroyed_values) destroyed_values->push_back(value);
    }
    void trace(ouro::Visitor& visit) override { visit(next); }
};

using support::Pair;  // two traced edges

// Untracked: holds no references it declares.
struct Leaf : ouro::Object {
    static inline int destroyed = 0;
    int value = 11;
    ~Leaf() override { ++destroyed; }
};

// Untracked holder of a reference it does not declare: the collector cannot see this edge, so
// the target must count as referenced from outside (a root).
struct OpaqueHolder : ouro::Object {
    Ref<Node> hidden;
};

// Records what its destructor sees of its traced and untraced references.
struct Inspect : ouro::Object {
    static inline int traced_null_at_death = 0;
    static inline int untraced_alive_at_death = 0;
    Ref<Inspect> traced;
    Ref<Leaf> untraced;  // not visited by trace(): a collection must not clear it
    ~Inspect() override {
        traced_null_at_death += traced ? 0 : 1;
        untraced_alive_at_death += (untraced && untraced->value == 11) ? 1 : 0;
    }
    void trace(ouro::Visitor& visit) override { visit(traced); }
};

class CollectTest : public support::HeapTest {
protected:
    void SetUp() override {
        support::reset(Node::destroyed, Node::destroyed_values, Pair::destroyed, Leaf::destroyed,
                       Inspect::traced_null_at_death, Inspect::untraced_alive_at_death);
    }
};

// Makes a ring of n nodes and returns nothing: the ring is garbage at once.
void make_garbage_ring(int n, int first_value = 0) {
    auto head = ouro::make<Node>(first_value);
    Node* tail = head.get();
    for (int i = 1; i < n; ++i) {
        tail->next = ouro::make<Node>(first_value + i);
        tail = tail->next.get();
    }
    tail->next = head;
}

TEST_F(CollectTest, SeedExample) {
    auto node1 = ouro::make<Node>(1);
    auto node2 = ouro::make<Node>(2);
    node1->next = node2;
    node2->next = node1;
    node1 = nullptr;
    node2 = nullptr;
    EXPECT_EQ(Node::destroyed, 0);  // counts stay at 1: nothing freed yet
    std::size_t found = ouro::gc::collect();
    EXPECT_EQ(found, 2u);
    EXPECT_EQ(Node::destroyed, 2);
    EXPECT_TRUE(ouro::gc::get_objects().empty());
}

TEST_F(CollectTest, NothingToCollectReturnsZero) {
    EXPECT_EQ(ouro::gc::collect(), 0u);
    auto a = ouro::make<Node>(1);
    a->next = ouro::make<Node>(2);
    EXPECT_EQ(ouro::gc::collect(), 0u);
    EXPECT_EQ(ouro::gc::collect(0), 0u);
    EXPECT_EQ(ouro::gc::collect(1), 0u);
    EXPECT_EQ(ouro::gc::collect(2), 0u);
    EXPECT_EQ(Node::destroyed, 0);
}

TEST_F(CollectTest, DefaultGenerationIsTwo) {
    auto before = ouro::gc::get_stats();
    ouro::gc::collect();
    auto after = ouro::gc::get_stats();
    EXPECT_EQ(after[2].collections, before[2].collections + 1);
    EXPECT_EQ(after[0].collections, before[0].collections);
    EXPECT_EQ(after[1].collections, before[1].collections);
}

TEST_F(CollectTest, InvalidGenerationThrows) {
    EXPECT_THROW(ouro::gc::collect(-1), std::invalid_argument);
    EXPECT_THROW(ouro::gc::collect(3), std::invalid_argument);
    EXPECT_THROW(ouro::gc::collect(100), std::invalid_argument);
    try {
        ouro::gc::collect(7);
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find('7'), std::string::npos) << e.what();
    }
    // Nothing was collected or counted.
    for (auto& s : ouro::gc::get_stats()) EXPECT_EQ(s.collections, 0u);
}

TEST_F(CollectTest, SelfCycle) {
    {
        auto a = ouro::make<Node>(1);
        a->next = a;
    }
    EXPECT_EQ(Node::destroyed, 0);
    EXPECT_EQ(ouro::gc::collect(), 1u);
    EXPECT_EQ(Node::destroyed, 1);
}

TEST_F(CollectTest, ReachableCycleSurvivesIntact) {
    auto a = ouro::make<Node>(1);
    {
        auto b = ouro::make<Node>(2);
        auto c = ouro::make<Node>(3);
        a->next = b;
        b->next = c;
        c->next = a;
    }
    EXPECT_EQ(ouro::gc::collect(), 0u);
    EXPECT_EQ(Node::destroyed, 0);
    // References of survivors are not cleared.
    ASSERT_TRUE(a->next);
    EXPECT_EQ(a->next->value, 2);
    EXPECT_EQ(a->next->next->value, 3);
    EXPECT_TRUE(a->next->next->next == a);
    EXPECT_EQ(ouro::sys::getrefcount(*a), 2u);
    EXPECT_EQ(ouro::sys::getrefcount(*a->next), 1u);
    // Once the outside reference goes, the cycle is garbage.
    a = nullptr;
    EXPECT_EQ(Node::destroyed, 0);
    EXPECT_EQ(ouro::gc::collect(), 3u);
    EXPECT_EQ(Node::destroyed, 3);
}

TEST_F(CollectTest, ReferenceFromAnywhereInTheMiddleKeepsTheCycle) {
    // No stack scanning, no root registration: any outside count is a root, wherever it is.
    std::vector<Ref<Node>> elsewhere;
    {
        auto a = ouro::make<Node>(1);
        auto b = ouro::make<Node>(2);
        a->next = b;
        b->next = a;
        elsewhere.push_back(b);
    }
    EXPECT_EQ(ouro::gc::collect(), 0u);
    EXPECT_EQ(Node::destroyed, 0);
    EXPECT_EQ(elsewhere[0]->next->value, 1);
    elsewhere.clear();
    EXPECT_EQ(ouro::gc::collect(), 2u);
}

TEST_F(CollectTest, TailHangingOffACycleIsFoundAndCollected) {
    // p1 <-> p2 is the cycle; p1 -> n1 -> n2 -> n3 is a tail of tracked objects outside it.
    {
        auto p1 = ouro::make<Pair>();
        auto p2 = ouro::make<Pair>();
        p1->a = p2;
        p2->a = p1;
        auto n1 = ouro::make<Node>(1);
        n1->next = ouro::make<Node>(2);
        n1->next->next = ouro::make<Node>(3);
        p1->b = n1;
    }
    EXPECT_EQ(ouro::gc::collect(), 5u);  // unreachable objects found, not just cycle members
    EXPECT_EQ(Node::destroyed, 3);
    EXPECT_EQ(Pair::destroyed, 2);
}

TEST_F(CollectTest, TwoCyclesLinkedOneWay) {
    // ring1 -> ring2: both unreachable, both found.
    {
        auto p1 = ouro::make<Pair>();
        auto p2 = ouro::make<Pair>();
        p1->a = p2;
        p2->a = p1;
        auto q1 = ouro::make<Pair>();
        auto q2 = ouro::make<Pair>();
        q1->a = q2;
        q2->a = q1;
        p2->b = q1;
    }
    EXPECT_EQ(ouro::gc::collect(), 4u);
    EXPECT_EQ(Pair::destroyed, 4);
}

TEST_F(CollectTest, UntrackedObjectsHangingOffACycleAreFreedButNotCounted) {
    {
        auto p = ouro::make<Pair>();
        p->a = p;
        p->b = ouro::make<Leaf>();
    }
    EXPECT_EQ(ouro::gc::collect(), 1u);  // the leaf is freed by the cascade, not found
    EXPECT_EQ(Pair::destroyed, 1);
    EXPECT_EQ(Leaf::destroyed, 1);
}

TEST_F(CollectTest, ObjectReferencedByGarbageAndFromOutsideSurvives) {
    auto x = ouro::make<Node>(42);
    {
        auto p = ouro::make<Pair>();
        p->a = p;
        p->b = x;
    }
    EXPECT_EQ(ouro::sys::getrefcount(*x), 2u);
    EXPECT_EQ(ouro::gc::collect(), 1u);
    EXPECT_EQ(Pair::destroyed, 1);
    EXPECT_EQ(Node::destroyed, 0);
    EXPECT_EQ(ouro::sys::getrefcount(*x), 1u);
    EXPECT_EQ(x->value, 42);
}

TEST_F(CollectTest, EdgeInvisibleToTheCollectorMakesARoot) {
    // OpaqueHolder is untracked and does not declare `hidden`: the count it holds on the cycle
    // is unexplained by any trace(), so the cycle is reachable.
    auto holder = ouro::make<OpaqueHolder>();
    {
        auto a = ouro::make<Node>(1);
        auto b = ouro::make<Node>(2);
        a->next = b;
        b->next = a;
        holder->hidden = a;
    }
    EXPECT_EQ(ouro::gc::collect(), 0u);
    EXPECT_EQ(Node::destroyed, 0);
    EXPECT_EQ(holder->hidden->next->value, 2);
    holder->hidden = nullptr;
    EXPECT_EQ(ouro::gc::collect(), 2u);
}

TEST_F(CollectTest, ManyDisjointCycles) {
    ouro::gc::disable();  // no automatic collection in between
    for (int i = 0; i < 1000; ++i) make_garbage_ring(2, 2 * i);
    auto keep = ouro::make<Node>(-1);
    keep->next = keep;
    EXPECT_EQ(ouro::gc::collect(), 2000u);
    EXPECT_EQ(Node::destroyed, 2000);
    EXPECT_EQ(keep->value, -1);
    EXPECT_EQ(ouro::gc::get_objects().size(), 1u);
}

TEST_F(CollectTest, LongGarbageRingIsCollectedWithoutRecursion) {
    ouro::gc::disable();
    make_garbage_ring(200'000);
    EXPECT_EQ(ouro::gc::collect(), 200'000u);
    EXPECT_EQ(Node::destroyed, 200'000);
}

TEST_F(CollectTest, LongReachableChainSurvives) {
    ouro::gc::disable();
    auto head = ouro::make<Node>(0);
    Node* tail = head.get();
    for (int i = 1; i < 100'000; ++i) {
        tail->next = ouro::make<Node>(i);
        tail = tail->next.get();
    }
    tail->next = head;  // and a cycle through the root
    EXPECT_EQ(ouro::gc::collect(), 0u);
    EXPECT_EQ(Node::destroyed, 0);
    int n = 0;
    for (Node* p = head.get(); n < 100'000; p = p->next.get(), ++n) ASSERT_EQ(p->value, n);
    head->next = nullptr;  // break the cycle: the chain dies by count
    head = nullptr;
    EXPECT_EQ(Node::destroyed, 100'000);
}

TEST_F(CollectTest, CollectionClearsOnlyTracedReferences) {
    {
        auto a = ouro::make<Inspect>();
        auto b = ouro::make<Inspect>();
        a->traced = b;
        b->traced = a;
        a->untraced = ouro::make<Leaf>();
        b->untraced = ouro::make<Leaf>();
    }
    EXPECT_EQ(ouro::gc::collect(), 2u);
    // tp_clear semantics: the traced references were dropped to break the cycle; the rest of
    // each object was intact until its destructor.
    EXPECT_EQ(Inspect::traced_null_at_death, 2);
    EXPECT_EQ(Inspect::untraced_alive_at_death, 2);
    EXPECT_EQ(Leaf::destroyed, 2);
}

TEST_F(CollectTest, MixedReachableAndUnreachable) {
    std::vector<int> died;
    Node::destroyed_values = &died;
    std::vector<Ref<Node>> roots;
    for (int i = 0; i < 50; ++i) {
        auto a = ouro::make<Node>(i);
        auto b = ouro::make<Node>(1000 + i);
        a->next = b;
        b->next = a;
        if (i % 2 == 0) roots.push_back(i % 4 == 0 ? a : b);
    }
    EXPECT_EQ(ouro::gc::collect(), 50u);
    Node::destroyed_values = nullptr;
    ASSERT_EQ(died.size(), 50u);
    for (int v : died) EXPECT_EQ((v % 1000) % 2, 1) << v;  // only the odd rings died
    for (auto& r : roots) EXPECT_EQ(r->next->next, r);
}

TEST_F(CollectTest, GarbageMadeOnlyByMovesIsFound) {
    // Cycles can become garbage without any reference count being decremented: every step
    // below moves a reference. A collection must still find them.
    EXPECT_EQ(ouro::gc::collect(), 0u);
    EXPECT_EQ(ouro::gc::collect(0), 0u);
    {
        auto a = ouro::make<Node>(1);
        Node* raw = a.get();
        raw->next = std::move(a);  // a self-cycle; the local is now null
    }
    EXPECT_EQ(ouro::gc::collect(0), 1u);
    {
        auto a = ouro::make<Node>(1);
        auto b = ouro::make<Node>(2);
        Node* ra = a.get();
        Node* rb = b.get();
        ra->next = std::move(b);
        rb->next = std::move(a);
    }
    EXPECT_EQ(ouro::gc::collect(), 2u);
    EXPECT_EQ(Node::destroyed, 3);
}

TEST_F(CollectTest, GarbageMadeByMovesInOlderGenerationsIsFound) {
    auto a = ouro::make<Node>(1);
    auto b = ouro::make<Node>(2);
    ouro::gc::collect();  // both in generation 2, analysed
    Node* ra = a.get();
    Node* rb = b.get();
    ra->next = std::move(b);
    rb->next = std::move(a);
    EXPECT_EQ(ouro::gc::collect(), 2u);
    EXPECT_EQ(Node::destroyed, 2);
}

TEST_F(CollectTest, StatsCountCollectionsAndCollected) {
    make_garbage_ring(3);
    EXPECT_EQ(ouro::gc::collect(0), 3u);
    make_garbage_ring(4);
    EXPECT_EQ(ouro::gc::collect(1), 4u);
    make_garbage_ring(5);
    EXPECT_EQ(ouro::gc::collect(2), 5u);
    EXPECT_EQ(ouro::gc::collect(2), 0u);
    auto stats = ouro::gc::get_stats();
    EXPECT_EQ(stats[0].collections, 1u);
    EXPECT_EQ(stats[0].collected, 3u);
    EXPECT_EQ(stats[1].collections, 1u);
    EXPECT_EQ(stats[1].collected, 4u);
    EXPECT_EQ(stats[2].collections, 2u);
    EXPECT_EQ(stats[2].collected, 5u);
    for (auto& s : stats) {
        EXPECT_EQ(s.uncollectable, 0u);
        EXPECT_GT(s.pause_seconds, 0.0);
    }
}

TEST_F(CollectTest, CollectAfterEverythingDiedByCount) {
    std::vector<Ref<Node>> v;
    for (int i = 0; i < 100; ++i) v.push_back(ouro::make<Node>(i));
    v.clear();
    EXPECT_EQ(Node::destroyed, 100);
    EXPECT_EQ(ouro::gc::collect(), 0u);
    EXPECT_TRUE(ouro::gc::get_objects().empty());
}

TEST_F(CollectTest, RefsHeldByCollectorApiDoNotConfuseIt) {
    // get_objects() hands out Refs: while they are held, every object is referenced from outside.
    make_garbage_ring(3);
    {
        auto all = ouro::gc::get_objects();
        EXPECT_EQ(all.size(), 3u);
        EXPECT_EQ(ouro::gc::collect(), 0u);
    }
    EXPECT_EQ(ouro::gc::collect(), 3u);
}

// A type whose trace() visits a shared vector: a collection walks a "container" of refs.
struct Container : ouro::Object {
    static inline int destroyed = 0;
    std::vector<Ref<ouro::Object>> items;
    ~Container() override { ++destroyed; }
    void trace(ouro::Visitor& visit) override { visit(items); }
};

TEST_F(CollectTest, ContainerCyclesWithDuplicatesAndNulls) {
    Container::destroyed = 0;
    {
        auto c = ouro::make<Container>();
        auto d = ouro::make<Container>();
        c->items = {d, d, nullptr, c, ouro::make<Leaf>(), d};
        d->items = {c, nullptr};
    }
    EXPECT_EQ(ouro::gc::collect(), 2u);
    EXPECT_EQ(Container::destroyed, 2);
    EXPECT_EQ(Leaf::destroyed, 1);
}

}  // namespace
