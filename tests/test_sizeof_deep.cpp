// sys::getsizeof_deep (pympler's asizeof) and sys::getsizeof_members (pandas'
// memory_usage(deep=True)): each reachable object once, iteratively.
#include <ouro/ouro.hpp>

#include <gtest/gtest.h>

#include "support.hpp"

#include <array>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using support::Node;
using support::Pair;

struct Leaf : ouro::Object {
    long value = 0;
};
struct Bag : ouro::Object {
    std::vector<ouro::Ref<ouro::Object>> items;
    OURO_TRACE(items)
    std::size_t owned_bytes() const noexcept override { return items.capacity() * sizeof(items[0]); }
};
struct Big : ouro::Object {  // a large object: outside the pools
    std::array<char, 2000> data{};
    ouro::Ref<ouro::Object> next;
    OURO_TRACE(next)
};
struct Throws : ouro::Object {
    ouro::Ref<ouro::Object> next;
    void trace(ouro::Visitor& visit) override {
        visit(next);
        if (armed) throw std::runtime_error("trace failed");
    }
    static inline bool armed = false;
};

using SizeofDeep = support::QuietHeapTest;

std::size_t size(const ouro::Object& o) { return ouro::sys::getsizeof(o); }

TEST_F(SizeofDeep, OneObjectIsItsOwnSize) {
    auto leaf = ouro::make<Leaf>();
    EXPECT_EQ(ouro::sys::getsizeof_deep(*leaf), size(*leaf));
    auto node = ouro::make<Node>(1);
    EXPECT_EQ(ouro::sys::getsizeof_deep(*node), size(*node));
}

TEST_F(SizeofDeep, FollowsReferencesAndCountsEachObjectOnce) {
    auto shared = ouro::make<Leaf>();
    auto a = ouro::make<Pair>();
    auto b = ouro::make<Pair>();
    a->a = b;
    a->b = shared;
    b->a = shared;  // a diamond: shared counted once
    b->b = a;       // and a cycle back to the root
    EXPECT_EQ(ouro::sys::getsizeof_deep(*a), size(*a) + size(*b) + size(*shared));
    EXPECT_EQ(ouro::sys::getsizeof_deep(*b), ouro::sys::getsizeof_deep(*a));
    EXPECT_EQ(ouro::sys::getsizeof_deep(*shared), size(*shared));
    a->b = nullptr;
    b->b = nullptr;
}

TEST_F(SizeofDeep, CountsOwnedBytesAndLargeObjects) {
    auto bag = ouro::make<Bag>();
    auto big = ouro::make<Big>();
    big->next = ouro::make<Leaf>();
    for (int i = 0; i < 10; ++i) bag->items.push_back(ouro::make<Leaf>());
    bag->items.push_back(big);
    bag->items.push_back(big);  // twice: once
    EXPECT_GT(size(*big), 2000u);
    EXPECT_EQ(ouro::sys::getsizeof_deep(*bag), size(*bag) + 11 * size(*big->next) + size(*big));
    EXPECT_GE(size(*bag), 12 * sizeof(ouro::Ref<ouro::Object>));
}

TEST_F(SizeofDeep, AChainOfTenMillionIsWalkedWithoutRecursion) {
    const std::size_t n = support::kLongChain;
    auto head = ouro::make<Node>(0);
    Node* tail = head.get();
    for (std::size_t i = 1; i < n; ++i) {
        tail->next = ouro::make<Node>(static_cast<int>(i));
        tail = tail->next.get();
    }
    EXPECT_EQ(ouro::sys::getsizeof_deep(*head), n * size(*head));
    auto rows = ouro::sys::getsizeof_members(*head);
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[1].objects, n - 1);
}

TEST_F(SizeofDeep, ObjectsOfAnotherHeapAreNotFollowed) {
    ouro::Heap other;
    ouro::Ref<Leaf> foreign;
    {
        ouro::Heap::Scope in(other);
        foreign = ouro::make<Leaf>();
    }
    std::vector<ouro::Ref<ouro::Object>> holder;  // a Bag's vector may hold a reference into another heap
    auto bag = ouro::make<Bag>();
    bag->items.emplace_back(foreign);
    EXPECT_EQ(ouro::sys::getsizeof_deep(*bag), size(*bag));
    {
        ouro::Heap::Scope in(other);
        EXPECT_EQ(ouro::sys::getsizeof_deep(*foreign), size(*foreign));  // walked in its own heap
    }
    bag = nullptr;
    foreign = nullptr;
}

TEST_F(SizeofDeep, MembersBreakTheSizeDownByReference) {
    auto bag = ouro::make<Bag>();
    auto chain = ouro::make<Node>(1);
    chain->next = ouro::make<Node>(2);
    auto leaf = ouro::make<Leaf>();
    bag->items = {chain, leaf, chain->next, leaf};
    auto rows = ouro::sys::getsizeof_members(*bag);
    ASSERT_EQ(rows.size(), 5u);
    EXPECT_EQ(rows[0].name, "self");
    EXPECT_EQ(rows[0].bytes, size(*bag));
    EXPECT_EQ(rows[1].name, "[0]");
    EXPECT_EQ(rows[1].type, "(anonymous namespace)::support::Node");
    EXPECT_EQ(rows[1].objects, 2u);
    EXPECT_EQ(rows[1].bytes, 2 * size(*chain));
    EXPECT_EQ(rows[2].type, "(anonymous namespace)::Leaf");
    EXPECT_EQ(rows[2].bytes, size(*leaf));
    EXPECT_EQ(rows[3].bytes, 0u) << "reached through [0] already";
    EXPECT_EQ(rows[4].bytes, 0u);
    std::size_t total = 0;
    for (auto& r : rows) total += r.bytes;
    EXPECT_EQ(total, ouro::sys::getsizeof_deep(*bag));
}

struct Record : ouro::DynObject {};

TEST_F(SizeofDeep, MembersOfADynObjectAreNamedByAttribute) {
    auto r = ouro::make<Record>();
    r->setattr("id", 7);
    r->setattr("left", ouro::make<Leaf>());
    r->setattr("name", "seven");
    r->setattr("right", ouro::make<Node>(3));
    auto rows = ouro::sys::getsizeof_members(*r);
    ASSERT_EQ(rows.size(), 3u);
    EXPECT_EQ(rows[1].name, "left");
    EXPECT_EQ(rows[2].name, "right");
    EXPECT_EQ(rows[2].type, "(anonymous namespace)::support::Node");
}

TEST_F(SizeofDeep, MisuseAndFailingTraces) {
    Leaf local;
    EXPECT_THROW(ouro::sys::getsizeof_deep(local), std::invalid_argument);
    EXPECT_THROW(ouro::sys::getsizeof_members(local), std::invalid_argument);
    auto t = ouro::make<Throws>();
    t->next = ouro::make<Node>(1);
    Throws::armed = true;
    EXPECT_THROW(ouro::sys::getsizeof_deep(*t), std::runtime_error);
    Throws::armed = false;
    EXPECT_EQ(ouro::sys::getrefcount(*t->next), 1u) << "the walk let go of what it held";
    EXPECT_EQ(ouro::sys::getsizeof_deep(*t), size(*t) + size(*t->next));
}

}  // namespace
