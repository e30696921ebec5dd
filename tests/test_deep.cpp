// Deep and wide structures (docs/reliability.md §4): released or collected on the default 8 MB stack, in time
// linear in their size.
#include <ouro/ouro.hpp>

#include <gtest/gtest.h>

#include "support.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
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

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

TEST_F(Deep, TenMillionChainIsReleasedByCount) {
    auto head = chain(10'000'000);
    ASSERT_EQ(g_alive, 10'000'000u);
    head = nullptr;  // one destructor call would recurse 10 M deep without the trashcan
    EXPECT_EQ(g_alive, 0u);
}

TEST_F(Deep, TenMillionCycleIsCollected) {
    {
        auto head = chain(10'000'000);
        Link* tail = head.get();
        while (tail->next) tail = tail->next.get();
        tail->next = head;
    }
    ASSERT_EQ(g_alive, 10'000'000u);
    EXPECT_EQ(ouro::gc::collect(), 10'000'000u);
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

// Linear time: 10x the objects costs about 10x the time, to release by count and to collect.
TEST_F(Deep, TimeIsLinearInSize) {
    auto measure = [](std::size_t n) {
        double release = 1e9, collect = 1e9;
        for (int round = 0; round < (n < 5'000'000 ? 3 : 1); ++round) {
            auto head = chain(n);
            auto t0 = std::chrono::steady_clock::now();
            head = nullptr;
            release = std::min(release, seconds_since(t0));
            {
                auto ring = chain(n);
                Link* tail = ring.get();
                while (tail->next) tail = tail->next.get();
                tail->next = ring;
            }
            t0 = std::chrono::steady_clock::now();
            EXPECT_EQ(ouro::gc::collect(), n);
            collect = std::min(collect, seconds_since(t0));
        }
        return std::pair{release, collect};
    };
    auto [release1, collect1] = measure(1'000'000);
    auto [release10, collect10] = measure(10'000'000);
    std::printf("[ linear   ] release: 1 M %.1f ms, 10 M %.1f ms (x%.1f); collect: 1 M %.1f ms, 10 M %.1f ms (x%.1f)\n",
                release1 * 1e3, release10 * 1e3, release10 / release1, collect1 * 1e3, collect10 * 1e3,
                collect10 / collect1);
    // Near 10; the bounds leave room for a shared, noisy machine and sanitizer builds.
    EXPECT_GT(release10 / release1, 4.0);
    EXPECT_LT(release10 / release1, 25.0);
    EXPECT_GT(collect10 / collect1, 4.0);
    EXPECT_LT(collect10 / collect1, 25.0);
}

}  // namespace
