// WeakValueDictionary, WeakKeyDictionary and WeakSet: in the spirit of CPython's
// test_weakref.py (MappingTestCase) and test_weakset.py, plus the C++ hazards: callbacks that run
// while the container is being changed, iterated or destroyed.
#include <ouro/detail/invariants.hpp>
#include <ouro/ouro.hpp>
#include <ouro/weak_key_dictionary.hpp>
#include <ouro/weak_set.hpp>
#include <ouro/weak_value_dictionary.hpp>
#include <ouro/weakref.hpp>

#include <gtest/gtest.h>

#include "support.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <unordered_set>
#include <vector>

#if defined(__GLIBC__)
#include <malloc.h>
#endif
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define OURO_TEST_ASAN 1
#endif
#endif
#ifndef OURO_TEST_ASAN
#define OURO_TEST_ASAN 0
#endif

namespace {

std::vector<std::string> g_log;

struct CachedObject : ouro::Object {
    std::string name;
    explicit CachedObject(std::string n = "") : name(std::move(n)) {}
    ~CachedObject() override { g_log.push_back("dtor " + name); }
};

struct Node : ouro::Object {
    std::string name;
    ouro::Ref<Node> next;
    std::function<void()> on_destroy;  // run by the destructor, to provoke re-entrancy
    explicit Node(std::string n = "") : name(std::move(n)) {}
    ~Node() override {
        g_log.push_back("dtor " + name);
        if (on_destroy) on_destroy();
    }
    void trace(ouro::Visitor& visit) override { visit(next); }
};

// An ordinary value whose destructor runs code: a hook into the middle of container operations.
struct Noisy {
    std::string name;
    std::function<void()> on_destroy;
    Noisy(std::string n = "", std::function<void()> f = {}) : name(std::move(n)), on_destroy(std::move(f)) {}
    Noisy(const Noisy&) = default;
    Noisy(Noisy&& o) noexcept : name(std::move(o.name)), on_destroy(std::exchange(o.on_destroy, nullptr)) {}
    Noisy& operator=(const Noisy&) = default;
    Noisy& operator=(Noisy&& o) noexcept {
        name = std::move(o.name);
        on_destroy = std::exchange(o.on_destroy, nullptr);
        return *this;
    }
    ~Noisy() {
        if (on_destroy) std::exchange(on_destroy, nullptr)();
    }
};

std::vector<ouro::Ref<Node>> make_nodes(int n, const std::string& prefix = "n") {
    std::vector<ouro::Ref<Node>> v;
    for (int i = 0; i < n; ++i) v.push_back(ouro::make<Node>(prefix + std::to_string(i)));
    return v;
}

// Each test starts with a heap of its own and an empty log; one fixture under each suite's name.
class WeakContainerTest : public support::HeapTest {
protected:
    void SetUp() override { g_log.clear(); }
};
using WeakValueDictionary = WeakContainerTest;
using WeakKeyDictionary = WeakContainerTest;
using WeakSet = WeakContainerTest;

}  // namespace

// --- WeakValueDictionary ----------------------------------------------------------------------

TEST_F(WeakValueDictionary, SeedCacheExample) {
    ouro::WeakValueDictionary<std::string, CachedObject> cache;
    auto obj = ouro::make<CachedObject>("obj");
    cache.insert_or_assign("obj", obj);  // cache['obj'] = obj
    EXPECT_EQ(cache.get("obj"), obj);    // print(cache['obj'])
    EXPECT_EQ(cache.size(), 1u);
    obj = nullptr;                          // del obj
    EXPECT_EQ(cache.get("obj"), nullptr);  // print(cache.get('obj')) -> None
    EXPECT_FALSE(cache.contains("obj"));
    EXPECT_EQ(cache.size(), 0u);
    EXPECT_TRUE(cache.empty());
    EXPECT_EQ(g_log, (std::vector<std::string>{"dtor obj"}));
}

TEST_F(WeakValueDictionary, InsertGetContainsEraseClear) {
    ouro::WeakValueDictionary<std::string, CachedObject> d;
    EXPECT_TRUE(d.empty());
    EXPECT_EQ(d.get("a"), nullptr);
    EXPECT_FALSE(d.contains("a"));
    EXPECT_EQ(d.erase("a"), 0u);
    auto a = ouro::make<CachedObject>("a");
    auto b = ouro::make<CachedObject>("b");
    EXPECT_TRUE(d.insert_or_assign("a", a));
    EXPECT_TRUE(d.insert_or_assign("b", b));
    EXPECT_FALSE(d.insert_or_assign("a", b));  // replaced: "a" now maps to b
    EXPECT_EQ(d.get("a"), b);
    EXPECT_EQ(d.size(), 2u);
    EXPECT_EQ(d.erase("a"), 1u);
    EXPECT_EQ(d.erase("a"), 0u);
    EXPECT_FALSE(d.contains("a"));
    EXPECT_TRUE(d.contains("b"));
    EXPECT_EQ(d.size(), 1u);
    d.clear();
    EXPECT_TRUE(d.empty());
    EXPECT_EQ(d.get("b"), nullptr);
    EXPECT_TRUE(d.insert_or_assign("b", b));  // usable after clear
    EXPECT_EQ(d.get("b"), b);
    EXPECT_THROW(d.insert_or_assign("null", ouro::Ref<CachedObject>()), std::invalid_argument);
    EXPECT_EQ(d.size(), 1u);
}

TEST_F(WeakValueDictionary, OneValueUnderSeveralKeys) {
    ouro::WeakValueDictionary<int, CachedObject> d;
    auto v = ouro::make<CachedObject>("v");
    for (int k = 0; k < 5; ++k) d.insert_or_assign(k, v);
    EXPECT_EQ(d.size(), 5u);
    EXPECT_EQ(ouro::getweakrefcount(*v), 5u);
    v = nullptr;
    EXPECT_TRUE(d.empty());
    for (int k = 0; k < 5; ++k) EXPECT_FALSE(d.contains(k));
}

TEST_F(WeakValueDictionary, ReplacedValueDyingLeavesTheNewEntry) {
    ouro::WeakValueDictionary<std::string, CachedObject> d;
    auto old_value = ouro::make<CachedObject>("old");
    auto new_value = ouro::make<CachedObject>("new");
    d.insert_or_assign("k", old_value);
    // Someone else keeps a handle to the entry's weak reference, so its callback stays armed.
    std::vector<ouro::WeakRef<ouro::Object>> outside = ouro::getweakrefs(*old_value);
    ASSERT_EQ(outside.size(), 1u);
    d.insert_or_assign("k", new_value);
    old_value = nullptr;  // the old entry's callback runs and must not remove "k"
    EXPECT_EQ(d.get("k"), new_value);
    EXPECT_EQ(d.size(), 1u);
    // The same after an erase and a re-insert under the same key (the slot is reused).
    auto third = ouro::make<CachedObject>("third");
    outside = ouro::getweakrefs(*new_value);
    d.erase("k");
    d.insert_or_assign("k", third);
    new_value = nullptr;
    EXPECT_EQ(d.get("k"), third);
}

TEST_F(WeakValueDictionary, KeyReusedAfterTheValueDied) {
    ouro::WeakValueDictionary<std::string, CachedObject> d;
    for (int round = 0; round < 100; ++round) {
        auto v = ouro::make<CachedObject>("v");
        EXPECT_TRUE(d.insert_or_assign("k", v));
        EXPECT_EQ(d.get("k"), v);
    }
    EXPECT_TRUE(d.empty());
}

TEST_F(WeakValueDictionary, EntryVanishesInACyclicCollection) {
    ouro::WeakValueDictionary<std::string, Node> d;
    auto a = ouro::make<Node>("a");
    a->next = ouro::make<Node>("b");
    a->next->next = a;
    d.insert_or_assign("a", a);
    d.insert_or_assign("b", a->next);
    a = nullptr;
    EXPECT_EQ(d.size(), 2u);  // a cycle: alive until collected
    EXPECT_TRUE(d.contains("a"));
    EXPECT_EQ(ouro::gc::collect(), 2u);
    EXPECT_TRUE(d.empty());
    EXPECT_EQ(d.get("b"), nullptr);
}

TEST_F(WeakValueDictionary, IterationYieldsLiveEntries) {
    ouro::WeakValueDictionary<int, Node> d;
    auto nodes = make_nodes(10);
    for (int i = 0; i < 10; ++i) d.insert_or_assign(i, nodes[i]);
    for (int i = 0; i < 10; i += 2) nodes[i] = nullptr;
    std::map<int, std::string> seen;
    for (auto [key, value] : d) seen[key] = value->name;
    EXPECT_EQ(seen, (std::map<int, std::string>{{1, "n1"}, {3, "n3"}, {5, "n5"}, {7, "n7"}, {9, "n9"}}));
    std::size_t n = 0;
    for (const auto& [key, value] : std::as_const(d)) n += key >= 0 && value ? 1 : 0;
    EXPECT_EQ(n, 5u);
    EXPECT_EQ(std::distance(d.begin(), d.end()), 5);
}

TEST_F(WeakValueDictionary, IteratorHoldsTheYieldedValue) {
    ouro::WeakValueDictionary<std::string, CachedObject> d;
    auto v = ouro::make<CachedObject>("v");
    d.insert_or_assign("k", v);
    for (auto [key, value] : d) {
        v = nullptr;  // the loop still holds it
        EXPECT_EQ(value->name, "v");
        EXPECT_TRUE(g_log.empty());
        EXPECT_EQ(key, "k");
    }
    EXPECT_EQ(g_log, (std::vector<std::string>{"dtor v"}));
    EXPECT_TRUE(d.empty());
}

TEST_F(WeakValueDictionary, EntriesDyingDuringIteration) {
    ouro::WeakValueDictionary<int, Node> d;
    auto nodes = make_nodes(100);
    for (int i = 0; i < 100; ++i) d.insert_or_assign(i, nodes[i]);
    std::set<int> seen;
    for (auto [key, value] : d) {
        EXPECT_TRUE(seen.insert(key).second) << "yielded twice: " << key;
        EXPECT_EQ(value->name, "n" + std::to_string(key));
        // Kill the next few entries (and this one, once the iterator lets go of it).
        for (int j = key; j < std::min(key + 3, 100); ++j) nodes[j] = nullptr;
        EXPECT_TRUE(d.contains(key));  // still held by the loop
        EXPECT_FALSE(d.contains(key + 1));
    }
    EXPECT_EQ(seen, (std::set<int>{0, 3, 6, 9, 12, 15, 18, 21, 24, 27, 30, 33, 36, 39, 42, 45, 48, 51, 54, 57, 60,
                                   63, 66, 69, 72, 75, 78, 81, 84, 87, 90, 93, 96, 99}));
    EXPECT_TRUE(d.empty());
    // After the loop the deferred removals are done: slots are reused by new entries.
    auto fresh = ouro::make<Node>("fresh");
    d.insert_or_assign(1000, fresh);
    EXPECT_EQ(d.size(), 1u);
}

TEST_F(WeakValueDictionary, CollectionInsideTheLoop) {
    ouro::WeakValueDictionary<int, Node> d;
    std::vector<ouro::Ref<Node>> loops = make_nodes(50);
    for (int i = 0; i < 50; ++i) {
        loops[i]->next = loops[i];  // each its own cycle
        d.insert_or_assign(i, loops[i]);
    }
    auto survivor = ouro::make<Node>("survivor");
    d.insert_or_assign(-1, survivor);
    loops.clear();  // cyclic garbage, but the loop holds whichever node it yields
    std::vector<int> seen;
    std::size_t collected = 0;
    for (auto [key, value] : d) {
        seen.push_back(key);
        collected += ouro::gc::collect();
    }
    // The first node and the survivor; the first collection frees the 49 others, a later one
    // the first node, once the loop has let go of it.
    std::sort(seen.begin(), seen.end());
    EXPECT_EQ(seen.size(), 2u);
    EXPECT_EQ(seen.front(), -1);
    EXPECT_EQ(collected, 50u);
    EXPECT_EQ(d.size(), 1u);
    EXPECT_EQ(d.get(-1), survivor);
}

TEST_F(WeakValueDictionary, AllocationTriggeredCollectionsInsideTheLoop) {
    ouro::gc::set_threshold(5);
    ouro::WeakValueDictionary<int, Node> d;
    std::vector<ouro::Ref<Node>> keep;
    for (int i = 0; i < 200; ++i) {
        auto n = ouro::make<Node>("n" + std::to_string(i));
        if (i % 2) {
            keep.push_back(n);
        } else {
            n->next = n;  // collectable only by the collector
        }
        d.insert_or_assign(i, n);
    }
    std::set<int> seen;
    for (auto [key, value] : d) {
        EXPECT_TRUE(seen.insert(key).second);
        for (int j = 0; j < 20; ++j) {
            auto garbage = ouro::make<Node>("g");
            garbage->next = garbage;
        }
        auto temp = ouro::make<Node>("temp");
        d.insert_or_assign(key, temp);  // replacing a value is no change of size: allowed
        d.insert_or_assign(key, value);
    }
    ouro::gc::collect();
    for (int i = 1; i < 200; i += 2) EXPECT_TRUE(seen.count(i)) << i;  // every survivor was seen
    EXPECT_EQ(d.size(), keep.size());
    for (auto [key, value] : d) EXPECT_EQ(key % 2, 1);
}

TEST_F(WeakValueDictionary, ChangingItDuringIterationThrowsAtTheNextStep) {
    // Python: "RuntimeError: dictionary changed size during iteration". Deaths are not changes,
    // and replacing a key's value is none either.
    ouro::WeakValueDictionary<int, Node> d;
    auto nodes = make_nodes(5);
    for (int i = 0; i < 5; ++i) d.insert_or_assign(i, nodes[i]);
    auto extra = ouro::make<Node>("x");
    for (auto change : {0, 1, 2}) {
        auto it = d.begin();
        ASSERT_NE(it, d.end());
        const int key = (*it).first;
        if (change == 0) {
            EXPECT_EQ(d.erase(key), 1u);
        } else if (change == 1) {
            d.insert_or_assign(100 + change, extra);
        } else {
            d.clear();
        }
        // The yielded key and value stay valid after their entry went.
        EXPECT_EQ((*it).second->name, key < 100 ? "n" + std::to_string(key) : "x");
        EXPECT_THROW(++it, std::runtime_error);
        EXPECT_THROW(++it, std::runtime_error);  // and again: the iterator stays where it was
    }
    EXPECT_TRUE(d.empty());
    for (int i = 0; i < 5; ++i) d.insert_or_assign(i, nodes[i]);
    int yielded = 0;
    for (auto [key, value] : d) {
        ++yielded;
        d.insert_or_assign(key, extra);  // a new value for a key already there
        d.insert_or_assign(key, value);
        if (key == 0) nodes[4] = nullptr;  // a death
    }
    EXPECT_GE(yielded, 4);
    EXPECT_EQ(d.size(), 4u);
}

TEST_F(WeakValueDictionary, NestedAndAbandonedIterators) {
    ouro::WeakValueDictionary<int, Node> d;
    auto nodes = make_nodes(10);
    for (int i = 0; i < 10; ++i) d.insert_or_assign(i, nodes[i]);
    int pairs = 0;
    for (auto [k1, v1] : d)
        for (auto [k2, v2] : d) {
            ++pairs;
            if (k1 == 0 && k2 == 0) nodes[5] = nullptr;  // dies during both loops
        }
    EXPECT_GE(pairs, 9 * 9);
    EXPECT_EQ(d.size(), 9u);
    {
        auto it = d.begin();  // abandoned mid-way: removals wait for it
        auto copy = it;
        nodes[1] = nullptr;
        nodes[2] = nullptr;
        EXPECT_EQ(d.size(), 7u);
    }
    EXPECT_EQ(d.size(), 7u);
    auto n = ouro::make<Node>("new");
    d.insert_or_assign(42, n);
    EXPECT_EQ(d.size(), 8u);
}

TEST_F(WeakValueDictionary, DestroyedBeforeItsValues) {
    auto nodes = make_nodes(10);
    std::vector<ouro::WeakRef<ouro::Object>> outside;
    {
        ouro::WeakValueDictionary<int, Node> d;
        for (int i = 0; i < 10; ++i) d.insert_or_assign(i, nodes[i]);
        // Handles to the entries' own weak references outlive the dictionary: their callbacks
        // stay armed and will run after it is gone.
        for (auto& n : nodes)
            for (auto& w : ouro::getweakrefs(*n)) outside.push_back(w);
    }
    nodes.clear();  // the callbacks find their table empty
    EXPECT_EQ(ouro::gc::collect(), 0u);
    for (auto& w : outside) EXPECT_FALSE(w.alive());
}

// Its heap ends inside the test, so it cannot have the fixture's, nor share the
// WeakValueDictionary suite (gtest allows one fixture per suite).
TEST(WeakValueDictionaryOutlivingItsHeap, DeclaredBeforeTheHeap) {
    ouro::WeakValueDictionary<int, Node> d;
    {
        ouro::Heap heap;
        ouro::Heap::Scope scope(heap);
        auto a = ouro::make<Node>("a");
        a->next = a;
        d.insert_or_assign(1, a);
        auto b = ouro::make<Node>("b");
        d.insert_or_assign(2, b);
        b = nullptr;
        EXPECT_EQ(d.size(), 1u);
    }  // the heap's final collection frees `a`: its entry goes too
    EXPECT_TRUE(d.empty());
}

TEST_F(WeakValueDictionary, CopyAndMove) {
    auto a = ouro::make<Node>("a");
    auto b = ouro::make<Node>("b");
    ouro::WeakValueDictionary<std::string, Node> d;
    d.insert_or_assign("a", a);
    d.insert_or_assign("b", b);
    ouro::WeakValueDictionary<std::string, Node> copy = d;
    EXPECT_EQ(copy.size(), 2u);
    copy.erase("a");
    EXPECT_TRUE(d.contains("a"));
    ouro::WeakValueDictionary<std::string, Node> moved = std::move(d);
    EXPECT_EQ(moved.size(), 2u);
    EXPECT_TRUE(d.empty());                      // NOLINT(bugprone-use-after-move): valid, empty
    EXPECT_TRUE(d.insert_or_assign("a", a));     // and usable
    b = nullptr;
    EXPECT_EQ(copy.size(), 0u);
    EXPECT_EQ(moved.size(), 1u);
    copy = moved;
    EXPECT_EQ(copy.get("a"), a);
    moved = std::move(copy);
    EXPECT_EQ(moved.get("a"), a);
    a = nullptr;
    EXPECT_TRUE(moved.empty());
    EXPECT_TRUE(d.empty());
}

TEST_F(WeakValueDictionary, HeldByAManagedObject) {
    // A cache owned by an object in a cycle, declared in its trace(): when the owner is garbage,
    // the entries' callbacks do not run, and everything is freed.
    struct Owner : Node {
        ouro::WeakValueDictionary<int, Node> cache;
        using Node::Node;
        void trace(ouro::Visitor& visit) override {
            Node::trace(visit);
            cache.trace(visit);
        }
    };
    auto owner = ouro::make<Owner>("owner");
    auto item = ouro::make<Node>("item");
    owner->next = item;
    item->next = owner;  // item <-> owner, item in the cache
    owner->cache.insert_or_assign(1, item);
    auto live = ouro::make<Node>("live");
    owner->cache.insert_or_assign(2, live);
    item = nullptr;
    owner = nullptr;
    EXPECT_EQ(ouro::gc::collect(), 2u);
    EXPECT_EQ(ouro::getweakrefcount(*live), 0u);
}

TEST_F(WeakValueDictionary, HeldByGarbageWhoseClearingFreesAValue) {
    // The owner is garbage; its cache holds the only weak reference to an older object that only
    // the owner keeps alive. Clearing the owner frees that object, whose entry's callback may
    // then reach the cache of a half-cleared owner: the cache must stay consistent either way.
    struct Owner : Node {
        ouro::WeakValueDictionary<int, Node> cache;
        ouro::WeakSet<Node> set;
        using Node::Node;
        void trace(ouro::Visitor& visit) override {
            Node::trace(visit);
            cache.trace(visit);
            set.trace(visit);
        }
    };
    {
        auto old = ouro::make<Node>("old");
        ouro::gc::collect(0);  // `old` moves to generation 1
        auto owner = ouro::make<Owner>("owner");
        auto young = ouro::make<Node>("young");
        owner->next = young;
        young->next = owner;
        young->on_destroy = [old] {};  // keeps `old` alive until `young` is destroyed
        owner->cache.insert_or_assign(1, old);
        owner->cache.insert_or_assign(2, young);
        owner->set.insert(old);
        owner->set.insert(young);
    }
    EXPECT_EQ(ouro::gc::collect(0), 2u);
    EXPECT_EQ(std::count(g_log.begin(), g_log.end(), "dtor old"), 1);
    EXPECT_EQ(std::count(g_log.begin(), g_log.end(), "dtor owner"), 1);
}

TEST_F(WeakValueDictionary, LookupsDoNotAllocate) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33) && !defined(__SANITIZE_ADDRESS__) && \
    !OURO_TEST_ASAN
    ouro::WeakValueDictionary<std::string, Node> d;
    auto nodes = make_nodes(100);
    std::vector<std::string> keys;
    for (int i = 0; i < 100; ++i) {
        keys.push_back("key number " + std::to_string(i) + " long enough to be on the heap");
        d.insert_or_assign(keys.back(), nodes[i]);
    }
    std::size_t before = mallinfo2().uordblks;
    std::size_t found = 0;
    for (int round = 0; round < 100; ++round)
        for (const auto& k : keys) found += d.contains(k) + (d.get(k) != nullptr);
    EXPECT_EQ(mallinfo2().uordblks, before);
    EXPECT_EQ(found, 2u * 100 * 100);
#else
    GTEST_SKIP() << "needs glibc's mallinfo2 and no sanitizer";
#endif
}

TEST_F(WeakValueDictionary, ChurnKeepsCountsExact) {
    ouro::WeakValueDictionary<int, Node> d;
    std::vector<ouro::Ref<Node>> alive;
    unsigned seed = 12345;
    auto rnd = [&] { return (seed = seed * 1103515245u + 12345u) >> 8; };
    for (int step = 0; step < 20000; ++step) {
        int key = static_cast<int>(rnd() % 500);
        switch (rnd() % 4) {
            case 0:
            case 1: {
                auto n = ouro::make<Node>("n");
                alive.push_back(n);
                d.insert_or_assign(key, n);
                break;
            }
            case 2:
                if (!alive.empty()) {
                    std::size_t i = rnd() % alive.size();
                    alive[i] = alive.back();
                    alive.pop_back();
                }
                break;
            case 3:
                d.erase(key);
                break;
        }
    }
    std::size_t live = 0;
    for (int key = 0; key < 500; ++key) live += d.contains(key);
    EXPECT_EQ(d.size(), live);
    EXPECT_EQ(static_cast<std::size_t>(std::distance(d.begin(), d.end())), live);
    alive.clear();
    EXPECT_TRUE(d.empty());
}

// --- WeakKeyDictionary --------------------------------------------------------------------------

TEST_F(WeakKeyDictionary, AttachesDataToObjects) {
    ouro::WeakKeyDictionary<Node, std::string> notes;
    auto a = ouro::make<Node>("a");
    auto b = ouro::make<Node>("b");
    EXPECT_FALSE(notes.get(a).has_value());
    EXPECT_TRUE(notes.insert_or_assign(a, "about a"));
    EXPECT_TRUE(notes.insert_or_assign(b, "about b"));
    EXPECT_FALSE(notes.insert_or_assign(a, "more about a"));
    EXPECT_EQ(notes.get(a), "more about a");
    EXPECT_TRUE(notes.contains(b));
    EXPECT_EQ(notes.size(), 2u);
    EXPECT_EQ(notes.erase(b), 1u);
    EXPECT_EQ(notes.erase(b), 0u);
    EXPECT_FALSE(notes.contains(b));
    EXPECT_FALSE(notes.contains(ouro::Ref<Node>()));
    EXPECT_THROW(notes.insert_or_assign(ouro::Ref<Node>(), "x"), std::invalid_argument);
    notes.clear();
    EXPECT_TRUE(notes.empty());
}

TEST_F(WeakKeyDictionary, KeysAreComparedByIdentity) {
    ouro::WeakKeyDictionary<Node, int> d;
    auto x = ouro::make<Node>("same");
    auto y = ouro::make<Node>("same");
    d.insert_or_assign(x, 1);
    d.insert_or_assign(y, 2);
    EXPECT_EQ(d.size(), 2u);
    EXPECT_EQ(d.get(x), 1);
    EXPECT_EQ(d.get(y), 2);
    ouro::Ref<ouro::Object> as_base = x;  // the same object through another type
    ouro::WeakKeyDictionary<ouro::Object, int> by_base;
    by_base.insert_or_assign(as_base, 3);
    EXPECT_TRUE(by_base.contains(x));
}

TEST_F(WeakKeyDictionary, KeyDeathDestroysTheValue) {
    ouro::WeakKeyDictionary<Node, ouro::Ref<CachedObject>> d;
    auto key = ouro::make<Node>("key");
    d.insert_or_assign(key, ouro::make<CachedObject>("value"));
    key = nullptr;
    EXPECT_TRUE(d.empty());
    EXPECT_EQ(g_log, (std::vector<std::string>{"dtor value", "dtor key"}));  // in the key's callback

    auto cyclic = ouro::make<Node>("cyclic");
    cyclic->next = cyclic;
    d.insert_or_assign(cyclic, ouro::make<CachedObject>("value2"));
    cyclic = nullptr;
    EXPECT_EQ(d.size(), 1u);
    EXPECT_EQ(ouro::gc::collect(), 1u);
    EXPECT_TRUE(d.empty());
    EXPECT_EQ(std::count(g_log.begin(), g_log.end(), "dtor value2"), 1);
}

TEST_F(WeakKeyDictionary, IterationYieldsKeysAndMutableValues) {
    ouro::WeakKeyDictionary<Node, int> d;
    auto nodes = make_nodes(10);
    for (int i = 0; i < 10; ++i) d.insert_or_assign(nodes[i], i);
    nodes[3] = nullptr;
    for (auto [key, value] : d) value *= 10;
    int sum = 0;
    std::set<std::string> names;
    for (const auto& [key, value] : std::as_const(d)) {
        sum += value;
        names.insert(key->name);
    }
    EXPECT_EQ(sum, (45 - 3) * 10);
    EXPECT_EQ(names.size(), 9u);
    EXPECT_FALSE(names.count("n3"));
}

TEST_F(WeakKeyDictionary, KeysDyingDuringIterationAndCollections) {
    ouro::WeakKeyDictionary<Node, Noisy> d;
    auto nodes = make_nodes(60);
    for (int i = 0; i < 60; ++i) {
        nodes[i]->next = nodes[i];  // each dies only in a collection
        d.insert_or_assign(nodes[i], Noisy("v" + std::to_string(i)));
    }
    std::set<const Node*> seen;
    int step = 0;
    for (auto [key, value] : d) {
        EXPECT_TRUE(seen.insert(key.get()).second);
        EXPECT_EQ(value.name, "v" + key->name.substr(1));
        if (step++ == 3) nodes.clear();  // garbage, except the key the loop holds
        ouro::gc::collect();
        EXPECT_EQ(value.name, "v" + key->name.substr(1));  // the value outlives its entry's removal
    }
    EXPECT_EQ(seen.size(), 4u);
    ouro::gc::collect();
    EXPECT_TRUE(d.empty());
}

TEST_F(WeakKeyDictionary, ValueDestructorReentersTheDictionary) {
    // A value's destructor runs when its entry goes (erase, replacement, clear, death of the
    // key): it may insert, erase, or kill other keys, and the dictionary stays consistent.
    ouro::WeakKeyDictionary<Node, Noisy> d;
    auto a = ouro::make<Node>("a");
    auto b = ouro::make<Node>("b");
    auto c = ouro::make<Node>("c");
    auto late = ouro::make<Node>("late");

    // Replacement: the old value's destructor erases another entry and inserts a new one.
    d.insert_or_assign(b, Noisy("b"));
    d.insert_or_assign(a, Noisy("a1", [&] {
                           d.erase(b);
                           d.insert_or_assign(late, Noisy("late"));
                       }));
    d.insert_or_assign(a, Noisy("a2"));
    EXPECT_EQ(d.get(a)->name, "a2");
    EXPECT_FALSE(d.contains(b));
    EXPECT_EQ(d.get(late)->name, "late");

    // Erase: the value's destructor drops the last reference to another key.
    ouro::Ref<Node> c_keeper = c;
    c = nullptr;
    d.insert_or_assign(c_keeper, Noisy("c"));
    d.insert_or_assign(b, Noisy("b2", [&] { c_keeper = nullptr; }));
    EXPECT_EQ(d.size(), 4u);
    EXPECT_EQ(d.erase(b), 1u);
    EXPECT_EQ(d.size(), 2u);  // b erased, c died

    // Key death: the value's destructor kills the next key, which kills the next...
    std::vector<ouro::Ref<Node>> chain = make_nodes(10, "chain");
    for (int i = 0; i < 10; ++i) {
        std::function<void()> kill_next;
        if (i + 1 < 10) kill_next = [&chain, i] { chain[i + 1] = nullptr; };
        d.insert_or_assign(chain[i], Noisy("c" + std::to_string(i), kill_next));
    }
    EXPECT_EQ(d.size(), 12u);
    chain[0] = nullptr;
    EXPECT_EQ(d.size(), 2u);

    // Clear: destructors that insert into the dictionary being cleared.
    d.insert_or_assign(b, Noisy("b3", [&] { d.insert_or_assign(b, Noisy("after clear")); }));
    d.clear();
    EXPECT_EQ(d.size(), 1u);
    EXPECT_EQ(d.get(b)->name, "after clear");
}

TEST_F(WeakKeyDictionary, DestroyedByItsOwnValue) {
    // Removing an entry destroys its value, whose destructor destroys the dictionary itself.
    std::optional<ouro::WeakKeyDictionary<Node, Noisy>> d(std::in_place);
    auto a = ouro::make<Node>("a");
    auto b = ouro::make<Node>("b");
    d->insert_or_assign(b, Noisy("b"));
    d->insert_or_assign(a, Noisy("a", [&] { d.reset(); }));
    a = nullptr;  // a's callback removes its entry; its value destroys the dictionary
    EXPECT_FALSE(d.has_value());
    b = nullptr;  // b's record went with the dictionary: nothing calls back
}

TEST_F(WeakKeyDictionary, TraceLetsValueCyclesBeCollected) {
    struct Owner : Node {
        ouro::WeakKeyDictionary<Node, std::vector<ouro::Ref<Node>>> extra;
        using Node::Node;
        void trace(ouro::Visitor& visit) override {
            Node::trace(visit);
            extra.trace(visit);
        }
    };
    auto key = ouro::make<Node>("key");
    auto owner = ouro::make<Owner>("owner");
    auto payload = ouro::make<Node>("payload");
    payload->next = owner;  // owner -> (value) payload -> owner
    owner->extra.insert_or_assign(key, {payload});
    payload = nullptr;
    owner = nullptr;
    EXPECT_EQ(ouro::gc::collect(), 2u);
    EXPECT_EQ(std::count(g_log.begin(), g_log.end(), "dtor owner"), 1);
    EXPECT_EQ(std::count(g_log.begin(), g_log.end(), "dtor payload"), 1);
    EXPECT_EQ(ouro::getweakrefcount(*key), 0u);
}

TEST_F(WeakKeyDictionary, TraceSkipsValuesItCannotVisit) {
    // Values the collector cannot walk (a set yields const elements, a map yields pairs) are not
    // visited: their references act as roots. It compiles, and nothing is freed too early.
    struct Owner : Node {
        ouro::WeakKeyDictionary<Node, std::unordered_set<ouro::Ref<Node>>> sets;
        ouro::WeakKeyDictionary<Node, std::map<int, ouro::Ref<Node>>> maps;
        ouro::WeakKeyDictionary<Node, std::string> strings;
        using Node::Node;
        void trace(ouro::Visitor& visit) override {
            sets.trace(visit);
            maps.trace(visit);
            strings.trace(visit);
        }
    };
    auto key = ouro::make<Node>("key");
    auto owner = ouro::make<Owner>("owner");
    auto held = ouro::make<Node>("held");
    held->next = held;
    owner->sets.insert_or_assign(key, {held});
    owner->maps.insert_or_assign(key, {{1, held}});
    owner->strings.insert_or_assign(key, "text");
    held = nullptr;
    EXPECT_EQ(ouro::gc::collect(), 0u);
    EXPECT_EQ(owner->sets.get(key)->begin()->get()->name, "held");
    EXPECT_EQ(owner->maps.get(key)->at(1)->name, "held");
}

TEST_F(WeakKeyDictionary, CopyAndMove) {
    auto a = ouro::make<Node>("a");
    ouro::WeakKeyDictionary<Node, std::string> d;
    d.insert_or_assign(a, "x");
    auto copy = d;
    copy.insert_or_assign(a, "y");
    EXPECT_EQ(d.get(a), "x");
    EXPECT_EQ(copy.get(a), "y");
    auto moved = std::move(d);
    EXPECT_EQ(moved.get(a), "x");
    EXPECT_TRUE(d.empty());  // NOLINT(bugprone-use-after-move)
    a = nullptr;
    EXPECT_TRUE(copy.empty());
    EXPECT_TRUE(moved.empty());
}

// --- WeakSet ----------------------------------------------------------------------------------------

TEST_F(WeakSet, AddContainsDiscard) {
    ouro::WeakSet<Node> s;
    auto a = ouro::make<Node>("a");
    auto b = ouro::make<Node>("b");
    EXPECT_TRUE(s.insert(a));
    EXPECT_FALSE(s.insert(a));
    EXPECT_TRUE(s.insert(b));
    EXPECT_EQ(s.size(), 2u);
    EXPECT_TRUE(s.contains(a));
    EXPECT_EQ(s.erase(a), 1u);
    EXPECT_EQ(s.erase(a), 0u);
    EXPECT_FALSE(s.contains(a));
    EXPECT_FALSE(s.contains(ouro::Ref<Node>()));
    EXPECT_THROW(s.insert(ouro::Ref<Node>()), std::invalid_argument);
    b = nullptr;
    EXPECT_TRUE(s.empty());
    s.insert(a);
    s.clear();
    EXPECT_TRUE(s.empty());
    EXPECT_EQ(ouro::getweakrefcount(*a), 0u);
}

TEST_F(WeakSet, TracksLiveInstances) {
    ouro::WeakSet<Node> instances;
    auto nodes = make_nodes(100);
    for (auto& n : nodes) instances.insert(n);
    for (std::size_t i = 0; i < nodes.size(); i += 3) nodes[i] = nullptr;
    std::set<std::string> names;
    for (const ouro::Ref<Node>& n : instances) names.insert(n->name);
    EXPECT_EQ(names.size(), 66u);
    EXPECT_EQ(instances.size(), 66u);
    EXPECT_FALSE(names.count("n0"));
    EXPECT_TRUE(names.count("n1"));
    auto it = instances.begin();
    EXPECT_FALSE(it->get()->name.empty());
}

TEST_F(WeakSet, MembersDyingWhileIteratingWithCollectionsAndAllocations) {
    ouro::gc::set_threshold(3);
    ouro::WeakSet<Node> s;
    std::vector<ouro::Ref<Node>> nodes = make_nodes(300);
    for (std::size_t i = 0; i < nodes.size(); ++i) {
        if (i % 3 == 0) nodes[i]->next = nodes[i];  // some die only in collections
        s.insert(nodes[i]);
    }
    unsigned seed = 7;
    auto rnd = [&] { return (seed = seed * 1103515245u + 12345u) >> 8; };
    std::set<const Node*> seen;
    for (const ouro::Ref<Node>& member : s) {
        EXPECT_TRUE(seen.insert(member.get()).second) << "yielded twice";
        EXPECT_FALSE(member->name.empty());  // alive while yielded
        for (int k = 0; k < 3; ++k) nodes[rnd() % nodes.size()] = nullptr;
        for (int k = 0; k < 5; ++k) ouro::make<Node>("temp");  // allocates: collections run
        EXPECT_FALSE(s.insert(member));                        // already there: no change
        if (rnd() % 10 == 0) ouro::gc::collect();
    }
    ouro::gc::collect();
    std::size_t alive = 0;
    for (auto& n : nodes) alive += n != nullptr;
    EXPECT_EQ(s.size(), alive);
    for (auto& n : nodes)
        if (n) {
            EXPECT_TRUE(s.contains(n));
        }
}

TEST_F(WeakSet, CallbackOfAnotherWeakrefChangesTheSetDuringIteration) {
    // A weak reference's callback that changes the set while a loop runs over it: the loop's
    // next step throws (Python: "RuntimeError: Set changed size during iteration"); the set is as
    // the callback left it.
    ouro::WeakSet<Node> s;
    auto nodes = make_nodes(10);
    for (auto& n : nodes) s.insert(n);
    auto trigger = ouro::make<Node>("trigger");
    ouro::WeakRef<Node> w(trigger, [&](const ouro::WeakRef<Node>&) {
        s.clear();
        s.insert(nodes[9]);
        nodes[8] = nullptr;
    });
    int count = 0;
    EXPECT_THROW(
        for (const auto& m : s) {
            ++count;
            trigger = nullptr;
            EXPECT_TRUE(m);  // still held
        },
        std::runtime_error);
    EXPECT_EQ(count, 1);
    EXPECT_EQ(s.size(), 1u);
    EXPECT_TRUE(s.contains(nodes[9]));
}

TEST_F(WeakSet, HeldByAManagedObject) {
    struct Subject : Node {
        ouro::WeakSet<Node> observers;
        using Node::Node;
        void trace(ouro::Visitor& visit) override {
            Node::trace(visit);
            observers.trace(visit);
        }
    };
    auto subject = ouro::make<Subject>("subject");
    auto observer = ouro::make<Node>("observer");
    observer->next = subject;
    subject->observers.insert(observer);
    subject->observers.insert(subject);
    subject->next = observer;
    observer = nullptr;
    subject = nullptr;
    EXPECT_EQ(ouro::gc::collect(), 2u);
    EXPECT_EQ(g_log.size(), 2u);
}

TEST_F(WeakSet, CopyMoveAndOutlivingMembers) {
    auto a = ouro::make<Node>("a");
    auto b = ouro::make<Node>("b");
    std::optional<ouro::WeakSet<Node>> s(std::in_place);
    s->insert(a);
    s->insert(b);
    ouro::WeakSet<Node> copy = *s;
    ouro::WeakSet<Node> moved = std::move(*s);
    EXPECT_TRUE(s->empty());
    s.reset();
    EXPECT_EQ(copy.size(), 2u);
    EXPECT_EQ(moved.size(), 2u);
    a = nullptr;
    EXPECT_EQ(copy.size(), 1u);
    EXPECT_EQ(moved.size(), 1u);
    EXPECT_EQ(ouro::getweakrefcount(*b), 2u);
}

// --- the hazards of entries that are weak reference records -----------------------------------

namespace {
// A key whose moves throw on demand: removing an entry must not need to move it.
struct FragileKey {
    static inline bool throw_on_move = false;
    int v;
    explicit FragileKey(int x) : v(x) {}
    FragileKey(const FragileKey&) = default;
    FragileKey(FragileKey&& o) : v(o.v) {
        if (throw_on_move) throw std::runtime_error("FragileKey moved");
    }
    FragileKey& operator=(const FragileKey&) = default;
    bool operator==(const FragileKey&) const = default;
};
struct FragileHash {
    std::size_t operator()(const FragileKey& k) const noexcept { return static_cast<std::size_t>(k.v); }
};
// A move-only key compared through its pointer.
struct DerefHash {
    std::size_t operator()(const std::unique_ptr<int>& p) const noexcept { return p ? static_cast<std::size_t>(*p) : 0; }
};
struct DerefEq {
    bool operator()(const std::unique_ptr<int>& a, const std::unique_ptr<int>& b) const noexcept {
        return a && b && *a == *b;
    }
};
// A managed object that holds a weak container and a cycle through itself.
template <class Container>
struct Holder : ouro::Object {
    Container c;
    ouro::WeakRef<ouro::Object> watch;
    ouro::Ref<ouro::Object> self;
    void trace(ouro::Visitor& visit) override { visit(c, watch, self); }
};
// Collects with DEBUG_SAVEALL: the garbage is kept in gc::garbage(), its weak references cleared.
void collect_saving_garbage() {
    ouro::gc::set_debug(ouro::gc::DEBUG_SAVEALL);
    ouro::gc::collect();
    ouro::gc::set_debug(0);
}
}  // namespace

TEST_F(WeakSet, MemberClearedWhileTheSetWasGarbageIsAddedBack) {
    // The set's owner was garbage (its entry's record cleared), then revived; adding the member
    // again takes its entry back, in place or (when another handle holds the old record, here a
    // WeakRef of the garbage) as a new entry.
    auto member = ouro::make<Node>("member");
    for (bool second_handle : {false, true}) {
        {
            auto h = ouro::make<Holder<ouro::WeakSet<Node>>>();
            h->self = h;
            h->c.insert(member);
            if (second_handle) h->watch = ouro::getweakrefs(*member).front();
        }
        collect_saving_garbage();
        ASSERT_EQ(ouro::gc::garbage().size(), 1u);
        auto& revived = static_cast<Holder<ouro::WeakSet<Node>>&>(*ouro::gc::garbage()[0]);
        EXPECT_FALSE(revived.c.contains(member));
        EXPECT_EQ(revived.c.size(), 1u);
        EXPECT_EQ(ouro::getweakrefcount(*member), 0u);
        EXPECT_TRUE(revived.c.insert(member));
        EXPECT_FALSE(revived.c.insert(member));
        EXPECT_EQ(revived.c.size(), 1u);
        EXPECT_TRUE(revived.c.contains(member));
        EXPECT_FALSE(revived.watch.alive());
        EXPECT_EQ(ouro::getweakrefcount(*member), 1u);
        revived.self = nullptr;
        ouro::gc::garbage().clear();
        EXPECT_EQ(ouro::getweakrefcount(*member), 0u);
        EXPECT_EQ(ouro::detail::invariant_violation(heap), "");
    }
}

TEST_F(WeakValueDictionary, DestroyedWhileAnIteratorIsActive) {
    // Misuse made safe: the iteration holds the table, so the dictionary may go (here with an
    // entry that was removed mid-loop while a WeakRef from getweakrefs still holds its record).
    auto nodes = make_nodes(4);
    auto d = std::make_unique<ouro::WeakValueDictionary<int, Node>>();
    for (int i = 0; i < 4; ++i) d->insert_or_assign(i, nodes[i]);
    std::vector<ouro::WeakRef<ouro::Object>> held = ouro::getweakrefs(*nodes[1]);
    auto it = d->begin();
    EXPECT_EQ(d->erase(1), 1u);  // Dead until the iteration ends
    d.reset();
    EXPECT_THROW(++it, std::runtime_error);  // the dictionary changed
    it = {};                                 // the iteration ends: the table goes
    ASSERT_EQ(held.size(), 1u);
    EXPECT_TRUE(held[0].alive());
    nodes[1] = nullptr;
    EXPECT_FALSE(held[0].alive());
    held.clear();
    EXPECT_EQ(ouro::detail::invariant_violation(heap), "");
}

TEST_F(WeakKeyDictionary, AddingToItWhileItIsDestroyedIsAnError) {
    auto a = ouro::make<Node>("a");
    auto late = ouro::make<Node>("late");
    bool refused = false;
    auto d = std::make_unique<ouro::WeakKeyDictionary<Node, Noisy>>();
    auto* raw = d.get();
    d->insert_or_assign(a, Noisy("a", [&] {
                            try {
                                raw->insert_or_assign(late, Noisy("late"));
                            } catch (const std::logic_error&) {
                                refused = true;
                            }
                        }));
    d.reset();
    EXPECT_TRUE(refused);
    EXPECT_EQ(ouro::getweakrefcount(*late), 0u);  // nothing left linked to it by a lost table
}

TEST_F(WeakKeyDictionary, ValueDestructorsClearAndEraseDuringClear) {
    // Payloads are destroyed in place: a destructor that clears or erases again must neither
    // destroy a value twice nor touch the one being destroyed.
    auto keys = make_nodes(6);
    ouro::WeakKeyDictionary<Node, Noisy> d;
    int destroyed = 0;
    for (int i = 0; i < 6; ++i)
        d.insert_or_assign(keys[i], Noisy("v" + std::to_string(i), [&, i] {
                               ++destroyed;
                               d.clear();
                               d.erase(keys[(i + 3) % 6]);
                               if (i == 5) d.insert_or_assign(keys[0], Noisy("again"));
                           }));
    d.clear();
    EXPECT_EQ(destroyed, 6);
    EXPECT_EQ(d.size(), 1u);
    EXPECT_EQ(d.get(keys[0])->name, "again");
    d.clear();
    EXPECT_TRUE(d.empty());
    EXPECT_EQ(ouro::detail::invariant_violation(heap), "");
}

TEST_F(WeakValueDictionary, RemovalNeverMovesAKey) {
    // A key whose move throws: entries die, are erased and cleared without moving it.
    support::HookCapture hook;
    FragileKey::throw_on_move = false;
    auto nodes = make_nodes(4);
    ouro::WeakValueDictionary<FragileKey, Node, FragileHash> d;
    for (int i = 0; i < 4; ++i) d.insert_or_assign(FragileKey(i), nodes[i]);
    FragileKey::throw_on_move = true;
    nodes[0] = nullptr;  // death by count removes its entry
    EXPECT_EQ(d.erase(FragileKey(1)), 1u);
    EXPECT_EQ(d.size(), 2u);
    std::size_t yielded = 0;
    for (auto [k, v] : d) yielded += k.v >= 2;
    EXPECT_EQ(yielded, 2u);
    d.clear();
    EXPECT_TRUE(d.empty());
    FragileKey::throw_on_move = false;
    EXPECT_TRUE(hook.reports.empty());
    EXPECT_EQ(ouro::detail::invariant_violation(heap), "");
}

#ifdef OURO_FAULT_INJECTION
TEST_F(WeakValueDictionary, FailedReplacementLeavesTheOldEntry) {
    // The entry's record has a second holder, so a new value makes a new entry; when linking it
    // fails, the old entry (and its key, which is not moved) is untouched.
    auto a = ouro::make<Node>("a");
    auto b = ouro::make<Node>("b");
    ouro::WeakValueDictionary<std::unique_ptr<int>, Node, DerefHash, DerefEq> d;
    d.insert_or_assign(std::make_unique<int>(1), a);
    std::vector<ouro::WeakRef<ouro::Object>> held = ouro::getweakrefs(*a);
    ouro::detail::t_fault_countdown = 1;
    EXPECT_THROW(d.insert_or_assign(std::make_unique<int>(1), b), std::bad_alloc);
    ouro::detail::t_fault_countdown = 0;
    EXPECT_EQ(d.get(std::make_unique<int>(1)).get(), a.get());
    EXPECT_EQ(d.size(), 1u);
    EXPECT_EQ(ouro::getweakrefcount(*b), 0u);
    EXPECT_FALSE(d.insert_or_assign(std::make_unique<int>(1), b));  // now it works
    EXPECT_EQ(d.get(std::make_unique<int>(1)).get(), b.get());
    EXPECT_TRUE(held[0].alive());  // the old record stays a's
    a = nullptr;
    EXPECT_EQ(d.size(), 1u);
    EXPECT_EQ(ouro::detail::invariant_violation(heap), "");
}
#endif
