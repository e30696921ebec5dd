// Storage that several owners share through std::shared_ptr (visitor.hpp): what it holds is the
// garbage's only when every owner is garbage. A live owner — another managed object, in the
// collection or older than it, or a std::shared_ptr no managed object holds — keeps it whole.
// Each test is a case that once freed a live object or emptied its storage.
#include <ouro/ouro.hpp>

#include <gtest/gtest.h>

#include "support.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace {

using ouro::Ref;

class SharedStorage : public support::LeakCheckedHeapTest {};

struct Item : ouro::Object {
    static inline int destroyed = 0;
    int value = 7;
    Ref<ouro::Object> back;  // closes cycles through the shared storage
    ~Item() override { ++destroyed; }
    OURO_TRACE(back)
};

struct Inner {
    Ref<Item> item;
    void trace(ouro::Visitor& visit) { visit(item); }
};

// A holder of shared storage, with a Ref of its own that can close a cycle.
struct Holder : ouro::Object {
    static inline int destroyed = 0;
    std::shared_ptr<Inner> inner;
    Ref<ouro::Object> self;
    ~Holder() override { ++destroyed; }
    OURO_TRACE(inner, self)
};

void reset_counts() { Item::destroyed = Holder::destroyed = 0; }

// Two holders share the storage; one becomes a garbage cycle, the other is held by a local.
TEST_F(SharedStorage, AGarbageOwnerLeavesTheLiveOwnersStorageWhole) {
    reset_counts();
    auto live = ouro::make<Holder>();
    {
        auto dead = ouro::make<Holder>();
        live->inner = std::make_shared<Inner>();
        live->inner->item = ouro::make<Item>();
        dead->inner = live->inner;
        dead->self = dead;  // a cycle: only the collector frees it
    }
    EXPECT_EQ(ouro::gc::collect(), 1u);
    EXPECT_EQ(Holder::destroyed, 1);
    EXPECT_EQ(Item::destroyed, 0);
    ASSERT_TRUE(live->inner->item);
    EXPECT_EQ(live->inner->item->value, 7);
    EXPECT_EQ(live->inner.use_count(), 1);
}

// The same with the live owner older than the collection: a young collection does not see it,
// only the use_count() it leaves.
TEST_F(SharedStorage, AnOwnerOutsideAYoungCollectionKeepsTheStorage) {
    reset_counts();
    auto live = ouro::make<Holder>();
    live->inner = std::make_shared<Inner>();
    ouro::gc::collect();  // `live` is old now
    {
        auto dead = ouro::make<Holder>();
        dead->inner = live->inner;
        dead->inner->item = ouro::make<Item>();  // young, held only through the shared storage
        dead->self = dead;
    }
    EXPECT_EQ(ouro::gc::collect(0), 1u);
    EXPECT_EQ(Item::destroyed, 0);
    ASSERT_TRUE(live->inner->item);
    EXPECT_EQ(live->inner->item->value, 7);
}

// Copy-on-write snapshots: documents share an immutable vector of items.
struct Doc : ouro::Object {
    std::shared_ptr<const std::vector<Ref<Item>>> items;
    Ref<Doc> self;
    OURO_TRACE(items, self)
};

TEST_F(SharedStorage, ASharedSnapshotSurvivesAGarbageDocument) {
    reset_counts();
    auto kept = ouro::make<Doc>();
    {
        auto snapshot = std::make_shared<std::vector<Ref<Item>>>();
        for (int i = 0; i < 3; ++i) snapshot->push_back(ouro::make<Item>());
        kept->items = snapshot;
        auto copy = ouro::make<Doc>();
        copy->items = snapshot;
        copy->self = copy;
    }
    EXPECT_EQ(ouro::gc::collect(), 1u);
    EXPECT_EQ(Item::destroyed, 0);
    for (const auto& item : *kept->items) {
        ASSERT_TRUE(item);
        EXPECT_EQ(item->value, 7);
    }
}

// A std::shared_ptr on the stack is an owner no trace() reports: the storage is held from outside.
TEST_F(SharedStorage, AnOwnerOnTheStackKeepsACycleThroughTheStorage) {
    reset_counts();
    std::shared_ptr<Inner> local = std::make_shared<Inner>();
    {
        auto h = ouro::make<Holder>();
        h->inner = local;
        local->item = ouro::make<Item>();
        local->item->back = h;  // h -> storage -> item -> h
    }
    EXPECT_EQ(ouro::gc::collect(), 0u);
    EXPECT_EQ(Holder::destroyed, 0);
    ASSERT_TRUE(local->item);
    ASSERT_TRUE(local->item->back);
    local.reset();  // now the managed holder is the storage's only owner
    EXPECT_EQ(ouro::gc::collect(), 2u);
    EXPECT_EQ(Holder::destroyed, 1);
    EXPECT_EQ(Item::destroyed, 1);
}

// Every owner garbage: the storage is theirs, counted once, and the cycle through it is freed.
TEST_F(SharedStorage, ACycleWhoseOwnersAreAllGarbageIsCollected) {
    reset_counts();
    {
        auto a = ouro::make<Holder>();
        auto b = ouro::make<Holder>();
        a->inner = std::make_shared<Inner>();
        b->inner = a->inner;
        a->inner->item = ouro::make<Item>();
        a->inner->item->back = a;  // a -> storage -> item -> a, and a <-> b; b -> storage
        a->self = b;
        b->self = a;
    }
    EXPECT_EQ(ouro::gc::collect(), 3u);
    EXPECT_EQ(Holder::destroyed, 2);
    EXPECT_EQ(Item::destroyed, 1);
}

// Shared storage that holds a shared_ptr to itself is visited once, not for ever.
struct Loop {
    Ref<Item> item;
    std::shared_ptr<Loop> again;
    void trace(ouro::Visitor& visit) { visit(item, again); }
};
struct LoopHolder : ouro::Object {
    std::shared_ptr<Loop> loop;
    Ref<LoopHolder> self;
    OURO_TRACE(loop, self)
};

TEST_F(SharedStorage, ACycleOfSharedPtrsIsVisitedOnceAndIsTheGarbages) {
    reset_counts();
    std::weak_ptr<Loop> watch;
    {
        auto h = ouro::make<LoopHolder>();
        h->loop = std::make_shared<Loop>();
        h->loop->again = h->loop;  // a std::shared_ptr cycle: it leaks by itself, as in any C++ program
        h->loop->item = ouro::make<Item>();
        h->self = h;
        watch = h->loop;
        EXPECT_EQ(ouro::gc::get_referents(*h).size(), 2u);  // the item, and h itself
    }
    // h and the item: the storage's owners are h's shared_ptr and its own, both reached only
    // from the garbage. The storage itself leaks, as any shared_ptr cycle does in C++.
    EXPECT_EQ(ouro::gc::collect(), 2u);
    EXPECT_EQ(Item::destroyed, 1);
    auto loop = watch.lock();
    ASSERT_TRUE(loop);
    EXPECT_FALSE(loop->item);  // cleared with the garbage
    loop->again.reset();       // (breaks the C++ cycle)
}


// An alias that owns nothing (std::shared_ptr<T>(std::shared_ptr<void>(), p): use_count() 0),
// a borrowed view, is never its holder's storage.
struct Viewer : ouro::Object {
    std::shared_ptr<Inner> view;
    Ref<Viewer> self;
    OURO_TRACE(view, self)
};

TEST_F(SharedStorage, ANonOwningAliasNeverMakesTheStorageTheGarbages) {
    reset_counts();
    auto live = ouro::make<Holder>();
    live->inner = std::make_shared<Inner>();
    ouro::gc::collect();  // `live` is old
    {
        live->inner->item = ouro::make<Item>();
        auto viewer = ouro::make<Viewer>();
        viewer->view = std::shared_ptr<Inner>(std::shared_ptr<void>(), live->inner.get());
        viewer->self = viewer;
        live->inner->item->back = viewer;  // item -> viewer -> (view) -> storage -> item
    }
    EXPECT_EQ(ouro::gc::collect(0), 0u);
    EXPECT_EQ(Item::destroyed, 0);
    ASSERT_TRUE(live->inner->item);
    EXPECT_EQ(live->inner->item->value, 7);
    live->inner->item->back = nullptr;
    EXPECT_EQ(ouro::gc::collect(), 1u);  // the viewer's own cycle
}

// Storage reached only through storage a live object shares is not the garbage's either, however
// many of its owners the garbage holds: the live owner reaches it.
struct Outer {
    std::shared_ptr<Inner> inner;  // the only owner of its storage...
    void trace(ouro::Visitor& visit) { visit(inner); }
};
struct OuterHolder : ouro::Object {
    std::shared_ptr<Outer> outer;
    std::shared_ptr<Inner> inner;
    Ref<OuterHolder> self;
    OURO_TRACE(outer, inner, self)
};

TEST_F(SharedStorage, StorageALiveOwnerReachesThroughOtherStorageIsKept) {
    reset_counts();
    auto live = ouro::make<OuterHolder>();
    live->outer = std::make_shared<Outer>();
    live->outer->inner = std::make_shared<Inner>();
    live->outer->inner->item = ouro::make<Item>();
    {
        auto dead = ouro::make<OuterHolder>();
        dead->outer = live->outer;         // Outer: live's and dead's
        dead->inner = live->outer->inner;  // Inner: Outer's and dead's — both reached from dead
        dead->self = dead;
    }
    EXPECT_EQ(ouro::gc::collect(), 1u);
    EXPECT_EQ(Item::destroyed, 0);
    ASSERT_TRUE(live->outer->inner->item);
}

// A persistent list whose tail is shared (Cell{head, shared_ptr<const Cell> tail}), 200,000
// cells long: visited from a worklist, not by recursion, and each cell once.
struct Cell {
    Ref<Item> head;
    mutable std::shared_ptr<const Cell> tail;
    void trace(ouro::Visitor& visit) { visit(head, tail); }
    ~Cell() {  // iterative: 200,000 shared_ptr destructors, each in the last, would overflow
        std::shared_ptr<const Cell> next = std::move(tail);
        while (next && next.use_count() == 1) next = std::move(next->tail);
    }
};
struct ListHolder : ouro::Object {
    std::shared_ptr<const Cell> list;
    Ref<ListHolder> self;
    OURO_TRACE(list, self)
};

TEST_F(SharedStorage, ALongSharedListIsVisitedWithoutRecursion) {
    reset_counts();
    constexpr int kCells = 200000;  // far deeper than a recursion could go on an 8 MiB stack
    std::shared_ptr<const Cell> list;
    for (int i = 0; i < kCells; ++i) {
        auto cell = std::make_shared<Cell>();
        cell->head = ouro::make<Item>();
        cell->tail = std::move(list);
        list = std::move(cell);
    }
    auto kept = ouro::make<ListHolder>();
    kept->list = list;
    {
        auto dropped = ouro::make<ListHolder>();
        dropped->list = list;  // shares every cell with `kept`
        dropped->self = dropped;
    }
    list.reset();
    EXPECT_EQ(ouro::gc::collect(), 1u);
    EXPECT_EQ(Item::destroyed, 0);
    kept->self = kept;  // now the whole list is only the garbage's
    kept = nullptr;
    EXPECT_EQ(ouro::gc::collect(), 1u + kCells);
    EXPECT_EQ(Item::destroyed, kCells);
}

// A trace() that visits, besides its own shared_ptr, one it does not own (a global, another
// object's member): the storage is not the garbage's, and stays whole.
using Items = std::vector<Ref<Item>>;
std::shared_ptr<Items> g_items;
struct Peer : ouro::Object {
    std::shared_ptr<Items> items;
    OURO_TRACE(items)
};
struct Overreach : ouro::Object {
    std::shared_ptr<Items> mine;
    Ref<Overreach> self;
    Peer* peer = nullptr;
    void trace(ouro::Visitor& visit) override {
        visit(mine, self);
        if (peer) visit(peer->items);  // the mistake: another object's member
        else visit(g_items);           // or a global
    }
};

TEST_F(SharedStorage, AnOwnerTheGarbageCannotOwnKeepsTheStorage) {
    reset_counts();
    for (int mode = 0; mode < 4; ++mode) {  // 2, 3: the storage's only owner is the foreign one
        auto peer = ouro::make<Peer>();
        {
            auto storage = std::make_shared<Items>();
            storage->push_back(ouro::make<Item>());
            auto bad = ouro::make<Overreach>();
            bad->self = bad;
            if (mode < 2) bad->mine = storage;
            if (mode % 2 == 1) bad->peer = peer.get(), peer->items = storage;
            else g_items = storage;
        }
        EXPECT_EQ(ouro::gc::collect(), 1u);
        const Items& kept = mode % 2 == 1 ? *peer->items : *g_items;
        ASSERT_TRUE(kept[0]) << "mode " << mode;
        EXPECT_EQ(kept[0]->value, 7);
        g_items.reset();
        peer->items.reset();
    }
    EXPECT_EQ(Item::destroyed, 4);
}

// Two members pointing to one storage: one trace() visits what it holds once.
struct TwoPointers : ouro::Object {
    std::shared_ptr<Items> a, b;
    OURO_TRACE(a, b)
};

TEST_F(SharedStorage, OneTraceVisitsAStorageOnceHoweverManyMembersPointToIt) {
    support::HookCapture reports;
    auto t = ouro::make<TwoPointers>();
    t->a = std::make_shared<Items>();
    t->a->push_back(ouro::make<Item>());
    t->b = t->a;
    EXPECT_EQ(ouro::gc::get_referents(*t).size(), 1u);
    EXPECT_EQ(ouro::gc::collect(), 0u);
    EXPECT_TRUE(reports.reports.empty());  // (checked builds reported a Ref visited twice)
}

// A weak reference with a callback in storage the garbage owns whole is garbage itself: cleared
// without its callback, never called while the garbage is being cleared.
struct WeakSharer : ouro::Object {
    static inline int called = 0;
    Ref<WeakSharer> other;
    Ref<Item> referent;
    std::shared_ptr<ouro::WeakRef<Item>> w;
    OURO_TRACE(other, referent, w)
};

TEST_F(SharedStorage, AWeakReferenceInStorageTheGarbageOwnsRunsNoCallback) {
    WeakSharer::called = 0;
    {
        auto g1 = ouro::make<WeakSharer>();
        auto g2 = ouro::make<WeakSharer>();
        g1->other = g2;
        g2->other = g1;
        g1->referent = ouro::make<Item>();  // dies with the garbage
        g1->w = std::make_shared<ouro::WeakRef<Item>>(g1->referent, [](const ouro::WeakRef<Item>&) { ++WeakSharer::called; });
        g2->w = g1->w;
    }
    EXPECT_EQ(ouro::gc::collect(), 3u);
    EXPECT_EQ(WeakSharer::called, 0);
}

// --- Randomized, against an independent model ---------------------------------------------------
// Nodes keep references of their own and a bag of references shared with other nodes through a
// std::shared_ptr; bags are also held from outside (a std::vector of shared_ptrs: the program's
// locals). Mutations, moves of bags and collections of every generation interleave. The model
// mirrors every edge and every bag's ownership and computes reachability on its own: after each
// collection each reachable node must be alive with its edges as the model has them, and after a
// full collection each unreachable node must be gone.
namespace model {

struct Bag;
struct RNode : ouro::Object {
    static inline std::vector<char>* alive = nullptr;
    static constexpr std::uint64_t kCanary = 0x5eed5eed5eed5eedull;
    std::uint64_t canary = kCanary;
    int id;
    std::vector<Ref<RNode>> own;
    std::shared_ptr<Bag> bag;
    explicit RNode(int i) : id(i) {}
    ~RNode() override {
        (*alive)[static_cast<std::size_t>(id)] = 0;
        canary = 0;
    }
    OURO_TRACE(own, bag)
};
struct Bag {
    int id;
    std::vector<Ref<RNode>> edges;
    void trace(ouro::Visitor& visit) { visit(edges); }
};

struct Mirror {
    std::vector<std::vector<int>> own;      // by node
    std::vector<int> bag_of;                // by node: its bag's id, or -1
    std::vector<std::vector<int>> bag_edges;  // by bag
    std::vector<RNode*> ptr;                // by node (valid while alive)

    std::vector<char> reachable(const std::vector<Ref<RNode>>& roots, const std::vector<std::shared_ptr<Bag>>& outside) const {
        std::vector<char> seen(own.size(), 0);
        std::vector<int> stack;
        for (const auto& r : roots) stack.push_back(r->id);
        for (const auto& b : outside)
            for (int t : bag_edges[static_cast<std::size_t>(b->id)]) stack.push_back(t);
        while (!stack.empty()) {
            const auto x = static_cast<std::size_t>(stack.back());
            stack.pop_back();
            if (seen[x]) continue;
            seen[x] = 1;
            for (int t : own[x]) stack.push_back(t);
            if (bag_of[x] >= 0)
                for (int t : bag_edges[static_cast<std::size_t>(bag_of[x])]) stack.push_back(t);
        }
        return seen;
    }
};

// What the model says, checked against the heap. Returns an empty string when they agree.
std::string check(const Mirror& m, const std::vector<char>& reach, const std::vector<char>& alive, bool full) {
    for (std::size_t x = 0; x < m.own.size(); ++x) {
        const std::string who = "node " + std::to_string(x);
        if (!reach[x]) {
            if (full && alive[x]) return who + ": unreachable, not freed by a full collection";
            continue;
        }
        if (!alive[x]) return who + ": reachable, freed";
        const RNode* n = m.ptr[x];
        if (n->canary != RNode::kCanary) return who + ": reachable, corrupted";
        if (n->own.size() != m.own[x].size()) return who + ": own edges changed";
        for (std::size_t k = 0; k < n->own.size(); ++k)
            if (!n->own[k] || n->own[k]->id != m.own[x][k]) return who + ": own edge " + std::to_string(k) + " changed";
        if ((n->bag ? n->bag->id : -1) != m.bag_of[x]) return who + ": bag changed";
        if (n->bag) {
            const auto& want = m.bag_edges[static_cast<std::size_t>(n->bag->id)];
            if (n->bag->edges.size() != want.size()) return who + ": bag emptied";
            for (std::size_t k = 0; k < want.size(); ++k)
                if (!n->bag->edges[k] || n->bag->edges[k]->id != want[k]) return who + ": bag edge changed";
        }
    }
    return {};
}

std::string run(std::uint64_t seed, int ops) {
    std::vector<char> alive;
    RNode::alive = &alive;
    Mirror m;
    std::vector<Ref<RNode>> roots;
    std::vector<std::shared_ptr<Bag>> outside;
    std::uint64_t state = seed * 0x9E3779B97F4A7C15ull + 1;
    auto below = [&](std::size_t n) {
        state ^= state << 13, state ^= state >> 7, state ^= state << 17;
        return static_cast<std::size_t>(state % n);
    };
    auto node = [&]() -> RNode* {  // a node the program can reach: from a root, one step on
        if (roots.empty()) return nullptr;
        RNode* n = roots[below(roots.size())].get();
        for (int hops = static_cast<int>(below(3)); hops > 0; --hops) {
            const auto& own = n->own;
            if (own.empty()) break;
            n = own[below(own.size())].get();
        }
        return n;
    };
    for (int op = 0; op < ops; ++op) {
        RNode* a = node();
        RNode* b = node();
        const auto ia = a ? static_cast<std::size_t>(a->id) : 0, ib = b ? static_cast<std::size_t>(b->id) : 0;
        switch (below(12)) {
            case 0:
            case 1: {
                const int id = static_cast<int>(m.own.size());
                alive.push_back(1);
                m.own.emplace_back();
                m.bag_of.push_back(-1);
                roots.push_back(ouro::make<RNode>(id));
                m.ptr.push_back(roots.back().get());
                break;
            }
            case 2:
                if (roots.size() > 2) roots.erase(roots.begin() + static_cast<std::ptrdiff_t>(below(roots.size())));
                break;
            case 3:
                if (a && b) a->own.emplace_back(b), m.own[ia].push_back(b->id);
                break;
            case 4:
                if (a && !a->own.empty()) a->own.pop_back(), m.own[ia].pop_back();
                break;
            case 5:  // a fresh bag, or b's shared
                if (!a) break;
                if (b && b->bag && below(3)) {
                    a->bag = b->bag;
                    m.bag_of[ia] = m.bag_of[ib];
                } else {
                    const int bid = static_cast<int>(m.bag_edges.size());
                    m.bag_edges.emplace_back();
                    a->bag = std::make_shared<Bag>(Bag{bid, {}});
                    m.bag_of[ia] = bid;
                }
                break;
            case 6:
                if (a) a->bag.reset(), m.bag_of[ia] = -1;
                break;
            case 7:
                if (a && b && a->bag) a->bag->edges.emplace_back(b), m.bag_edges[static_cast<std::size_t>(a->bag->id)].push_back(b->id);
                break;
            case 8:
                if (a && a->bag && !a->bag->edges.empty())
                    a->bag->edges.pop_back(), m.bag_edges[static_cast<std::size_t>(a->bag->id)].pop_back();
                break;
            case 9:  // a bag held from outside, or let go
                if (a && a->bag && below(2)) outside.push_back(a->bag);
                else if (!outside.empty()) outside.erase(outside.begin() + static_cast<std::ptrdiff_t>(below(outside.size())));
                break;
            case 10:  // a bag changes hands: no count changes
                if (a && b && a != b) {
                    a->bag = std::move(b->bag);
                    m.bag_of[ia] = m.bag_of[ib];
                    m.bag_of[ib] = -1;
                }
                break;
            case 11: {
                const int gen = static_cast<int>(below(3));
                ouro::gc::collect(gen);
                const std::string bad = check(m, m.reachable(roots, outside), alive, gen == 2);
                if (!bad.empty()) return "seed " + std::to_string(seed) + ", op " + std::to_string(op) + ": " + bad;
                break;
            }
        }
    }
    roots.clear();
    outside.clear();
    ouro::gc::collect();
    for (std::size_t x = 0; x < alive.size(); ++x)
        if (alive[x]) return "seed " + std::to_string(seed) + ": node " + std::to_string(x) + " left after everything was dropped";
    return {};
}

}  // namespace model

TEST_F(SharedStorage, RandomizedAgainstAReachabilityModel) {
    ouro::gc::enable();  // automatic collections too, between the checked ones
    ouro::gc::set_threshold(7, 3, 3);
    for (std::uint64_t seed = 1; seed <= 40; ++seed) {
        const std::string bad = model::run(seed, 3000);
        ASSERT_TRUE(bad.empty()) << bad;
    }
}

}  // namespace
