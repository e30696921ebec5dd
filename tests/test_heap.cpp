// ouro::Heap and Heap::Scope, the default heap, heap destruction (final collection, orphans),
// one-thread-at-a-time checks, and ouro::sys (getsizeof, getrefcount).
#include <ouro/ouro.hpp>

#include <gtest/gtest.h>

#include "support.hpp"

#include <atomic>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using ouro::Ref;
using support::Node;
using support::Pair;

struct FinNode : ouro::Object {
    static inline int destroyed = 0;
    static inline int finalized = 0;
    Ref<FinNode> next;
    ~FinNode() override { ++destroyed; }
    void trace(ouro::Visitor& visit) override { visit(next); }
    void finalize() override { ++finalized; }
};

struct Leaf : ouro::Object {
    static inline int destroyed = 0;
    int value = 5;
    ~Leaf() override { ++destroyed; }
};

struct Big : ouro::Object {
    static inline int destroyed = 0;
    char bytes[3000] = {};
    Ref<Big> next;
    ~Big() override { ++destroyed; }
    void trace(ouro::Visitor& visit) override { visit(next); }
};

struct Phoenix : ouro::Object {
    static inline std::vector<Ref<ouro::Object>>* into = nullptr;
    Ref<Phoenix> self;
    int value = 3;
    void trace(ouro::Visitor& visit) override { visit(self); }
    void finalize() override { into->push_back(Ref<Phoenix>(this)); }
};

void reset_counters() { support::reset(Node::destroyed, FinNode::destroyed, FinNode::finalized, Leaf::destroyed); }

// --- Heap::Scope and the current heap --------------------------------------------------------------

TEST(HeapTest, ScopeMakesAHeapCurrent) {
    ouro::Heap heap;
    {
        ouro::Heap::Scope scope(heap);
        EXPECT_EQ(&ouro::Heap::current(), &heap);
    }
    EXPECT_NE(&ouro::Heap::current(), &heap);
}

TEST(HeapTest, ScopesNest) {
    ouro::Heap outer;
    ouro::Heap inner;
    ouro::Heap::Scope s1(outer);
    auto a = ouro::make<Node>(1);
    {
        ouro::Heap::Scope s2(inner);
        EXPECT_EQ(&ouro::Heap::current(), &inner);
        auto b = ouro::make<Node>(2);
        // Objects are made in the current heap; the gc module works on the current heap.
        auto objects = ouro::gc::get_objects();
        ASSERT_EQ(objects.size(), 1u);
        EXPECT_EQ(objects[0].get(), b.get());
        {
            ouro::Heap::Scope s3(outer);  // re-entering the outer heap in the same thread is fine
            EXPECT_EQ(&ouro::Heap::current(), &outer);
            auto outer_objects = ouro::gc::get_objects();
            ASSERT_EQ(outer_objects.size(), 1u);
            EXPECT_EQ(outer_objects[0].get(), a.get());
        }
        EXPECT_EQ(&ouro::Heap::current(), &inner);
    }
    EXPECT_EQ(&ouro::Heap::current(), &outer);
    EXPECT_EQ(ouro::gc::get_objects().size(), 1u);
}

TEST(HeapTest, EachHeapHasItsOwnCollectorState) {
    reset_counters();
    ouro::Heap h1;
    ouro::Heap h2;
    {
        ouro::Heap::Scope s(h1);
        auto a = ouro::make<Node>(1);
        a->next = a;
    }
    {
        ouro::Heap::Scope s(h2);
        EXPECT_EQ(ouro::gc::get_count()[0], 0u);
        EXPECT_EQ(ouro::gc::collect(), 0u);  // h1's garbage is not h2's business
        EXPECT_EQ(Node::destroyed, 0);
    }
    {
        ouro::Heap::Scope s(h1);
        EXPECT_EQ(ouro::gc::get_count()[0], 1u);
        EXPECT_EQ(ouro::gc::collect(), 1u);
        EXPECT_EQ(ouro::gc::get_stats()[2].collections, 1u);
    }
    {
        ouro::Heap::Scope s(h2);
        EXPECT_EQ(ouro::gc::get_stats()[2].collections, 1u);
    }
}

TEST(HeapTest, DefaultHeapPerThread) {
    // Run in fresh threads so this test does not leave objects in the main thread's default heap.
    ouro::Heap* first = nullptr;
    ouro::Heap* second = nullptr;
    bool stable = false;
    bool scoped_then_back = false;
    std::size_t found = 0;
    std::thread t([&] {
        first = &ouro::Heap::current();
        stable = &ouro::Heap::current() == first;
        {
            ouro::Heap other;
            ouro::Heap::Scope scope(other);
            scoped_then_back = &ouro::Heap::current() == &other;
        }
        scoped_then_back = scoped_then_back && &ouro::Heap::current() == first;
        // The default heap works like any other.
        auto a = ouro::make<Node>(1);
        a->next = a;
        a = nullptr;
        found = ouro::gc::collect();
    });
    t.join();
    EXPECT_TRUE(stable);
    EXPECT_TRUE(scoped_then_back);
    EXPECT_EQ(found, 1u);
    std::thread t2([&] {
        second = &ouro::Heap::current();
        auto n = ouro::make<Node>(2);
        EXPECT_EQ(n->value, 2);
    });
    t2.join();
    EXPECT_NE(second, nullptr);
}

TEST(HeapTest, DefaultHeapsOfLiveThreadsAreDistinct) {
    ouro::Heap* heaps[2] = {nullptr, nullptr};
    std::atomic<int> ready{0};
    auto body = [&](int i) {
        heaps[i] = &ouro::Heap::current();
        auto n = ouro::make<Node>(i);
        ++ready;
        while (ready.load() < 2) std::this_thread::yield();  // both heaps alive at once
    };
    std::thread a(body, 0);
    std::thread b(body, 1);
    a.join();
    b.join();
    EXPECT_NE(heaps[0], heaps[1]);
}

TEST(HeapTest, HeapsInSeveralThreadsAtOnce) {
    // Heaps are independent: threads that each use their own heap need no coordination.
    std::atomic<int> total{0};
    auto work = [&] {
        ouro::Heap heap;
        ouro::Heap::Scope scope(heap);
        ouro::gc::set_threshold(100);
        std::size_t found = 0;
        for (int i = 0; i < 2000; ++i) {
            auto a = ouro::make<Node>(i);
            a->next = ouro::make<Node>(i);
            a->next->next = a;
        }
        found += ouro::gc::collect();
        total += static_cast<int>(ouro::gc::get_objects().size());
        (void)found;
    };
    std::thread t1(work);
    std::thread t2(work);
    t1.join();
    t2.join();
    EXPECT_EQ(total.load(), 0);
}

// --- heap destruction -------------------------------------------------------------------------

TEST(HeapTest, DestructionRunsAFinalCollection) {
    reset_counters();
    {
        ouro::Heap heap;
        ouro::Heap::Scope scope(heap);
        ouro::gc::disable();  // even with automatic collection off
        for (int i = 0; i < 10; ++i) {
            auto a = ouro::make<FinNode>();
            a->next = ouro::make<FinNode>();
            a->next->next = a;
        }
        auto self = ouro::make<Node>(1);
        self->next = self;
        EXPECT_EQ(FinNode::destroyed, 0);
    }
    EXPECT_EQ(FinNode::finalized, 20);  // finalizers ran
    EXPECT_EQ(FinNode::destroyed, 20);
    EXPECT_EQ(Node::destroyed, 1);
}

TEST(HeapTest, DestructionFreesSavedGarbageAndFrozenCycles) {
    reset_counters();
    {
        ouro::Heap heap;
        ouro::Heap::Scope scope(heap);
        ouro::gc::set_debug(ouro::gc::DEBUG_SAVEALL);
        {
            auto a = ouro::make<Node>(1);
            a->next = a;
        }
        EXPECT_EQ(ouro::gc::collect(), 1u);
        EXPECT_EQ(ouro::gc::garbage().size(), 1u);
        {
            auto b = ouro::make<Node>(2);
            b->next = b;
        }
        ouro::gc::freeze();
        EXPECT_EQ(Node::destroyed, 0);
    }
    EXPECT_EQ(Node::destroyed, 2);
}

TEST(HeapTest, ObjectsReferencedFromOutsideSurviveAsUsableOrphans) {
    reset_counters();
    Ref<Node> survivor;
    Ref<Leaf> leaf;
    {
        ouro::Heap heap;
        ouro::Heap::Scope scope(heap);
        survivor = ouro::make<Node>(1);
        survivor->next = ouro::make<Node>(2);
        survivor->next->next = ouro::make<Node>(3);
        leaf = ouro::make<Leaf>();
        auto garbage = ouro::make<Node>(99);
        garbage->next = garbage;
    }
    EXPECT_EQ(Node::destroyed, 1);  // only the garbage
    // The orphans are intact and usable.
    ASSERT_TRUE(survivor);
    EXPECT_EQ(survivor->value, 1);
    EXPECT_EQ(survivor->next->value, 2);
    EXPECT_EQ(survivor->next->next->value, 3);
    survivor->value = 10;
    EXPECT_EQ(survivor->value, 10);
    EXPECT_EQ(ouro::sys::getrefcount(*survivor), 1u);
    Ref<Node> copy = survivor;  // counting still works
    EXPECT_EQ(ouro::sys::getrefcount(*survivor), 2u);
    copy = nullptr;
    EXPECT_EQ(leaf->value, 5);
    EXPECT_GE(ouro::sys::getsizeof(*leaf), sizeof(Leaf));
    // Orphans can reference each other and be re-linked.
    survivor->next->next->next = survivor->next;  // a cycle among orphans...
    survivor->next->next->next = nullptr;         // ...undone
    // Released safely: destructors run, in a cascade.
    leaf = nullptr;
    EXPECT_EQ(Leaf::destroyed, 1);
    survivor = nullptr;
    EXPECT_EQ(Node::destroyed, 4);
}

TEST(HeapTest, OrphansInManyPools) {
    reset_counters();
    std::vector<Ref<Node>> nodes;
    {
        ouro::Heap heap;
        ouro::Heap::Scope scope(heap);
        for (int i = 0; i < 5000; ++i) nodes.push_back(ouro::make<Node>(i));
        for (int i = 0; i < 5000; ++i) {  // garbage interleaved with the survivors
            auto g = ouro::make<Node>(-1);
            g->next = g;
        }
    }
    EXPECT_EQ(Node::destroyed, 5000);
    for (int i = 0; i < 5000; ++i) ASSERT_EQ(nodes[static_cast<std::size_t>(i)]->value, i);
    nodes.clear();
    EXPECT_EQ(Node::destroyed, 10000);
}

TEST(HeapTest, LargeOrphansAreFreedWhenTheyDie) {
    Big::destroyed = 0;
    Ref<Big> big;
    {
        ouro::Heap heap;
        ouro::Heap::Scope scope(heap);
        big = ouro::make<Big>();
        big->next = ouro::make<Big>();
        big->bytes[2999] = 'z';
        auto garbage = ouro::make<Big>();
        garbage->next = garbage;
    }
    EXPECT_EQ(Big::destroyed, 1);
    EXPECT_EQ(big->bytes[2999], 'z');
    EXPECT_EQ(ouro::sys::getrefcount(*big->next), 1u);
    big = nullptr;
    EXPECT_EQ(Big::destroyed, 3);
    // Under ASan, LeakSanitizer checks at exit that their memory was given back.
}

TEST(HeapTest, OrphanCanBeUsedFromAnotherHeapsScope) {
    reset_counters();
    Ref<Node> orphan;
    {
        ouro::Heap heap;
        ouro::Heap::Scope scope(heap);
        orphan = ouro::make<Node>(7);
    }
    ouro::Heap other;
    ouro::Heap::Scope scope(other);
    Ref<Node> copy = orphan;
    EXPECT_EQ(copy->value, 7);
    EXPECT_EQ(ouro::gc::collect(), 0u);  // the orphan is not in this heap's business
    EXPECT_TRUE(ouro::gc::get_objects().empty());
    copy = nullptr;
    orphan = nullptr;
    EXPECT_EQ(Node::destroyed, 1);
}

TEST(HeapTest, DebugUncollectableReportsObjectsLeftAtDestruction) {
    reset_counters();
    Ref<Node> survivor;
    testing::internal::CaptureStderr();
    {
        ouro::Heap heap;
        ouro::Heap::Scope scope(heap);
        ouro::gc::set_debug(ouro::gc::DEBUG_UNCOLLECTABLE);
        survivor = ouro::make<Node>(1);
    }
    std::string err = testing::internal::GetCapturedStderr();
    EXPECT_NE(err.find("Node"), std::string::npos) << err;
    EXPECT_NE(err.find('1'), std::string::npos) << err;  // how many
    survivor = nullptr;
    // DEBUG_LEAK includes DEBUG_UNCOLLECTABLE.
    testing::internal::CaptureStderr();
    {
        ouro::Heap heap;
        ouro::Heap::Scope scope(heap);
        ouro::gc::set_debug(ouro::gc::DEBUG_LEAK);
        survivor = ouro::make<Node>(1);
        auto garbage = ouro::make<Node>(2);
        garbage->next = garbage;
    }
    err = testing::internal::GetCapturedStderr();
    EXPECT_NE(err.find("Node"), std::string::npos) << err;
    EXPECT_EQ(Node::destroyed, 2);  // the first survivor, and the garbage: freed, not saved
    EXPECT_EQ(survivor->value, 1);
    survivor = nullptr;
    // Without the flag nothing is printed.
    testing::internal::CaptureStderr();
    {
        ouro::Heap heap;
        ouro::Heap::Scope scope(heap);
        survivor = ouro::make<Node>(1);
    }
    EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
    survivor = nullptr;
}

TEST(HeapTest, FinalizerResurrectingDuringHeapDestructionLeavesAnOrphan) {
    std::vector<Ref<ouro::Object>> saved;
    Phoenix::into = &saved;
    {
        ouro::Heap heap;
        ouro::Heap::Scope scope(heap);
        auto p = ouro::make<Phoenix>();
        p->self = p;
    }
    ASSERT_EQ(saved.size(), 1u);
    auto p = ouro::ref_cast<Phoenix>(saved[0]);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->value, 3);
    p->self = nullptr;  // break its cycle so it can die by count
    p = nullptr;
    saved.clear();
    Phoenix::into = nullptr;
}

// --- one thread at a time -----------------------------------------------------------------------

#if OURO_CHECKS
TEST(HeapThreadTest, RefCopiedFromAnotherThreadThrows) {
    ouro::Heap heap;
    ouro::Heap::Scope scope(heap);
    auto n = ouro::make<Node>(1);
    std::string message;
    bool threw = false;
    std::thread t([&] {
        try {
            Ref<Node> copy = n;  // touches the count from the wrong thread
        } catch (const std::logic_error& e) {
            threw = true;
            message = e.what();
        }
    });
    t.join();
    EXPECT_TRUE(threw);
    EXPECT_NE(message.find("thread"), std::string::npos) << message;
    EXPECT_EQ(ouro::sys::getrefcount(*n), 1u);  // nothing changed
}

TEST(HeapThreadTest, ExplicitRefFromRawPointerInAnotherThreadThrows) {
    ouro::Heap heap;
    ouro::Heap::Scope scope(heap);
    auto n = ouro::make<Node>(1);
    Node* raw = n.get();
    bool threw = false;
    std::thread t([&] {
        try {
            Ref<Node> r(raw);
        } catch (const std::logic_error&) {
            threw = true;
        }
    });
    t.join();
    EXPECT_TRUE(threw);
}
#endif

TEST(HeapThreadTest, EnteringAHeapCurrentInAnotherThreadThrows) {
    ouro::Heap heap;
    ouro::Heap::Scope scope(heap);
    bool threw = false;
    std::string message;
    std::thread t([&] {
        try {
            ouro::Heap::Scope other(heap);
        } catch (const std::logic_error& e) {
            threw = true;
            message = e.what();
        }
    });
    t.join();
    EXPECT_TRUE(threw);
    EXPECT_NE(message.find("thread"), std::string::npos) << message;
    EXPECT_EQ(&ouro::Heap::current(), &heap);  // still fine here
}

TEST(HeapThreadTest, AHeapCanMoveBetweenThreadsOneAtATime) {
    reset_counters();
    ouro::Heap heap;
    Ref<Node> handoff;
    std::thread t1([&] {
        ouro::Heap::Scope scope(heap);
        handoff = ouro::make<Node>(1);
        handoff->next = ouro::make<Node>(2);
        auto g = ouro::make<Node>(3);
        g->next = g;
    });
    t1.join();
    std::thread t2([&] {
        ouro::Heap::Scope scope(heap);  // t1's scope is over: allowed
        Ref<Node> copy = handoff;      // and its objects may be used here now
        EXPECT_EQ(copy->next->value, 2);
        EXPECT_EQ(ouro::gc::collect(), 1u);
        copy = nullptr;
        handoff = nullptr;
    });
    t2.join();
    EXPECT_EQ(Node::destroyed, 3);
    ouro::Heap::Scope back(heap);  // and back to this thread, which destroys it
    EXPECT_EQ(ouro::gc::collect(), 0u);
}

TEST(HeapThreadTest, GarbageMadeInAnotherThreadIsFound) {
    // A heap analysed in one thread, garbage made in another, collected back in the first.
    reset_counters();
    ouro::Heap heap;
    Ref<Node> a;
    Ref<Node> b;
    {
        ouro::Heap::Scope scope(heap);
        a = ouro::make<Node>(1);
        b = ouro::make<Node>(2);
        a->next = b;
        b->next = a;
        EXPECT_EQ(ouro::gc::collect(), 0u);
        EXPECT_EQ(ouro::gc::collect(0), 0u);
    }
    std::thread t([&] {
        ouro::Heap::Scope scope(heap);
        a = nullptr;  // the cycle becomes garbage in this thread
        b = nullptr;
    });
    t.join();
    ouro::Heap::Scope scope(heap);
    EXPECT_EQ(ouro::gc::collect(), 2u);
    EXPECT_EQ(Node::destroyed, 2);
}

// --- cross-heap references -------------------------------------------------------------------

TEST(HeapTest, ReferenceIntoAnotherHeapDoesNotCorruptItsCollections) {
    // Garbage in heap B refers to an object of heap A. Collections of B must not mistake the
    // foreign object for one of B's own candidates (the issue: "a debug build detects a Ref
    // touched from another thread or heap"; refusing the edge or handling it are both fine).
    reset_counters();
    Pair::destroyed = 0;
    ouro::Heap a_heap;
    ouro::Heap b_heap;
    Ref<Node> a0;
    {
        ouro::Heap::Scope s(a_heap);
        a0 = ouro::make<Node>(100);  // position 0 of A's generation 0
    }
    ouro::Heap::Scope s(b_heap);
    auto b0 = ouro::make<Node>(7);  // position 0 of B's generation 0, referenced only from here
    b0->next = ouro::make<Node>(8);
    bool refused = false;
    {
        auto b1 = ouro::make<Pair>();
        b1->a = b1;  // garbage: a self-cycle...
        try {
            b1->b = a0;  // ...with an edge into heap A
        } catch (const std::logic_error&) {
            refused = true;
        }
    }
    EXPECT_EQ(ouro::gc::collect(0), 1u);  // the pair, and nothing else
    EXPECT_EQ(Pair::destroyed, 1);
    EXPECT_EQ(Node::destroyed, 0);
    EXPECT_EQ(b0->value, 7);
    EXPECT_EQ(ouro::sys::getrefcount(*b0), 1u);
    ASSERT_TRUE(b0->next) << "a live object's reference was cleared by the collector";
    EXPECT_EQ(b0->next->value, 8);
    EXPECT_EQ(a0->value, 100);
    EXPECT_EQ(ouro::sys::getrefcount(*a0), 1u);
    (void)refused;
}

TEST(HeapTest, ReferenceIntoAnotherHeapDoesNotCorruptAFullCollection) {
    reset_counters();
    Pair::destroyed = 0;
    ouro::Heap a_heap;
    ouro::Heap b_heap;
    std::vector<Ref<Node>> a_objects;
    {
        ouro::Heap::Scope s(a_heap);
        for (int i = 0; i < 100; ++i) a_objects.push_back(ouro::make<Node>(i));
        ouro::gc::collect();  // gives A's pools their scratch numbering
    }
    ouro::Heap::Scope s(b_heap);
    std::vector<Ref<Node>> b_objects;
    int refused = 0;
    for (int i = 0; i < 100; ++i) {
        b_objects.push_back(ouro::make<Node>(1000 + i));
        b_objects.back()->next = ouro::make<Node>(2000 + i);
    }
    {
        for (int i = 0; i < 100; ++i) {
            auto p = ouro::make<Pair>();
            p->a = p;
            try {
                p->b = a_objects[static_cast<std::size_t>(i)];
            } catch (const std::logic_error&) {
                ++refused;
            }
        }
    }
    (void)refused;
    EXPECT_EQ(ouro::gc::collect(), 100u);
    EXPECT_EQ(Pair::destroyed, 100);
    EXPECT_EQ(Node::destroyed, 0);
    for (int i = 0; i < 100; ++i) {
        EXPECT_EQ(b_objects[static_cast<std::size_t>(i)]->value, 1000 + i);
        ASSERT_TRUE(b_objects[static_cast<std::size_t>(i)]->next) << i;
        EXPECT_EQ(a_objects[static_cast<std::size_t>(i)]->value, i);
    }
}

#if OURO_CHECKS
struct Holder : ouro::Object {
    Ref<Node> held;
    explicit Holder(const Ref<Node>& r) : held(r) {}
    void trace(ouro::Visitor& visit) override { visit(held); }
};

TEST(HeapTest, CheckedBuildsRefuseStoringAReferenceIntoAnotherHeap) {
    reset_counters();
    ouro::Heap a_heap;
    ouro::Heap b_heap;
    Ref<Node> a0;
    {
        ouro::Heap::Scope s(a_heap);
        a0 = ouro::make<Node>(1);
    }
    ouro::Heap::Scope s(b_heap);
    EXPECT_THROW(ouro::make<Holder>(a0), std::logic_error);  // copy-constructed inside a B object
    auto b1 = ouro::make<Node>(2);
    try {
        b1->next = a0;  // copy-assigned into a B object
        ADD_FAILURE() << "a reference into heap A was stored in an object of heap B";
    } catch (const std::logic_error& e) {
        EXPECT_NE(std::string(e.what()).find("heap"), std::string::npos) << e.what();
    }
    auto p = ouro::make<Pair>();
    EXPECT_THROW(p->a = a0, std::logic_error);  // converting assignment
    b1->next = nullptr;
    p->a = nullptr;
    EXPECT_EQ(ouro::sys::getrefcount(*a0), 1u);
    // Local variables of any heap may hold it: that is not a store into an object.
    Ref<Node> local = a0;
    EXPECT_EQ(local->value, 1);
}
#endif

// --- sys::getsizeof / sys::getrefcount ---------------------------------------------------------

struct Small : ouro::Object {
    int x = 0;
};
struct Medium : ouro::Object {
    char bytes[100] = {};
    Ref<Medium> next;
    void trace(ouro::Visitor& visit) override { visit(next); }
};
struct Huge : ouro::Object {
    char bytes[10000] = {};
};
struct Owning : ouro::Object {
    std::vector<int> items;
    std::size_t owned_bytes() const noexcept override { return items.capacity() * sizeof(int); }
};

using SysTest = support::HeapTest;

TEST_F(SysTest, GetsizeofIsTheBlockIncludingTheHeader) {
    // The header (count and collector word) lives inside the object, so the block is sizeof(T)
    // rounded up to the allocator's size class; the per-object overhead budget is 16 bytes.
    auto s = ouro::make<Small>();
    auto m = ouro::make<Medium>();
    EXPECT_GE(ouro::sys::getsizeof(*s), sizeof(Small));
    EXPECT_LT(ouro::sys::getsizeof(*s), sizeof(Small) + 16);
    EXPECT_GE(ouro::sys::getsizeof(*m), sizeof(Medium));
    EXPECT_LT(ouro::sys::getsizeof(*m), sizeof(Medium) + 16);
    EXPECT_GE(ouro::sys::getsizeof(*s), sizeof(void*) + 8);  // vptr + count + collector word
    // The same for every object of a type.
    auto s2 = ouro::make<Small>();
    EXPECT_EQ(ouro::sys::getsizeof(*s), ouro::sys::getsizeof(*s2));
}

TEST_F(SysTest, GetsizeofOfALargeObject) {
    auto h = ouro::make<Huge>();
    EXPECT_GE(ouro::sys::getsizeof(*h), sizeof(Huge));
    EXPECT_LT(ouro::sys::getsizeof(*h), sizeof(Huge) + 128);
}

TEST_F(SysTest, GetsizeofAddsOwnedBytes) {
    auto empty = ouro::make<Owning>();
    auto full = ouro::make<Owning>();
    full->items.reserve(1000);
    std::size_t base = ouro::sys::getsizeof(*empty);
    EXPECT_EQ(ouro::sys::getsizeof(*full), base + full->items.capacity() * sizeof(int));
    EXPECT_GE(ouro::sys::getsizeof(*full), base + 4000);
    full->items.clear();
    full->items.shrink_to_fit();
    EXPECT_EQ(ouro::sys::getsizeof(*full), base);
}

TEST_F(SysTest, GetrefcountIsExact) {
    auto n = ouro::make<Medium>();
    EXPECT_EQ(ouro::sys::getrefcount(*n), 1u);  // no temporary reference for the argument
    {
        Ref<Medium> a = n;
        Ref<ouro::Object> b = n;
        EXPECT_EQ(ouro::sys::getrefcount(*n), 3u);
        std::vector<Ref<Medium>> many(10, n);
        EXPECT_EQ(ouro::sys::getrefcount(*n), 13u);
    }
    EXPECT_EQ(ouro::sys::getrefcount(*n), 1u);
    auto m = ouro::make<Medium>();
    m->next = n;  // references from other objects count
    n->next = n;  // and from itself
    EXPECT_EQ(ouro::sys::getrefcount(*n), 3u);
    n->next = nullptr;
    m = nullptr;
    EXPECT_EQ(ouro::sys::getrefcount(*n), 1u);
    auto leaf = ouro::make<Small>();
    EXPECT_EQ(ouro::sys::getrefcount(*leaf), 1u);
}

TEST_F(SysTest, GetsizeofOfAnUnmanagedObjectThrows) {
    Small on_stack;
    EXPECT_THROW((void)ouro::sys::getsizeof(on_stack), std::invalid_argument);
}

}  // namespace
