// Deep and wide structures (docs/reliability.md §4): released or collected on the default 8 MB stack.
// Time per object as the heap grows is the collect benchmark's (bench/collect.cpp), not a test's.
#include <ouro/ouro.hpp>

#include <gtest/gtest.h>

#include "support.hpp"

#include <vector>

namespace {

std::size_t g_alive = 0;

struct Link : ouro::Object {
    ouro::Ref<Link> next;
    Link() { ++g_alive; }
    ~Link() override { --g_alive; }
    void trace(ouro::Visitor& visit) override { visit(next); }
};

struct Fan : ouro::Object {
    std::vector<ouro::Ref<ouro::Object>> children;
    Fan() { ++g_alive; }
    ~Fan() override { --g_alive; }
    void trace(ouro::Visitor& visit) override { visit(children); }
};

struct Tree : ouro::Object {
    ouro::Ref<Tree> left, right, up;  // `up` makes every node part of a cycle
    Tree() { ++g_alive; }
    ~Tree() override { --g_alive; }
    void trace(ouro::Visitor& visit) override {
        visit(left);
        visit(right);
        visit(up);
    }
};

// No automatic collections: a structure goes only in the release or collection the test makes.
class Deep : public support::QuietHeapTest {
protected:
    void SetUp() override { support::reset(g_alive); }
};

ouro::Ref<Link> chain(std::size_t n) {
    auto head = ouro::make<Link>();
    Link* tail = head.get();
    for (std::size_t i = 1; i < n; ++i) {
        tail->next = ouro::make<Link>();
        tail = tail->next.get();
    }
    return head;
}

TEST_F(Deep, LongChainIsReleasedByCount) {
    auto head = chain(support::kLongChain);
    ASSERT_EQ(g_alive, support::kLongChain);
    head = nullptr;  // one destructor call would recurse that deep without the trashcan
    EXPECT_EQ(g_alive, 0u);
}

TEST_F(Deep, LongCycleIsCollected) {
    {
        auto head = chain(support::kLongChain);
        Link* tail = head.get();
        while (tail->next) tail = tail->next.get();
        tail->next = head;
    }
    ASSERT_EQ(g_alive, support::kLongChain);
    EXPECT_EQ(ouro::gc::collect(), support::kLongChain);
    EXPECT_EQ(g_alive, 0u);
}

TEST_F(Deep, MillionFanOutIsCollected) {
    {
        auto hub = ouro::make<Fan>();
        hub->children.reserve(1'000'000);
        for (int i = 0; i < 1'000'000; ++i) {
            auto leaf = ouro::make<Fan>();
            leaf->children.push_back(hub);  // every leaf points back: one big cycle
            hub->children.push_back(std::move(leaf));
        }
    }
    ASSERT_EQ(g_alive, 1'000'001u);
    EXPECT_EQ(ouro::gc::collect(), 1'000'001u);
    EXPECT_EQ(g_alive, 0u);
}

TEST_F(Deep, MillionDeepTreeIsCollectedAndReleased) {
    // A tree one million levels deep: each node has one deep child and one leaf, and knows its
    // parent. Collected as garbage once, released by count once.
    auto build = [] {
        auto root = ouro::make<Tree>();
        Tree* node = root.get();
        for (int depth = 0; depth < 1'000'000; ++depth) {
            node->right = ouro::make<Tree>();
            node->right->up = ouro::Ref<Tree>(node);
            node->left = ouro::make<Tree>();
            node = node->left.get();
        }
        return root;
    };
    build();
    ASSERT_EQ(g_alive, 2'000'001u);
    EXPECT_EQ(ouro::gc::collect(), 2'000'001u);
    EXPECT_EQ(g_alive, 0u);

    auto root = build();
    ouro::Ref<Tree> keep = root->left;  // a live subtree: nothing reachable may go
    root = nullptr;
    EXPECT_EQ(ouro::gc::collect(), 2u);  // the old root and its leaf child
    EXPECT_EQ(g_alive, 1'999'999u);
    keep = nullptr;
    ouro::gc::collect();
    EXPECT_EQ(g_alive, 0u);
}

}  // namespace
