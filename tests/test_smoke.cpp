#include <ouro/ouro.hpp>
#include <ouro/weakref.hpp>

#include <gtest/gtest.h>

namespace {
int g_destroyed = 0;
struct Node : ouro::Object {
    int value;
    ouro::Ref<Node> next;
    explicit Node(int v) : value(v) {}
    ~Node() override { ++g_destroyed; }
    void trace(ouro::Visitor& visit) override { visit(next); }
};
}  // namespace

TEST(Smoke, SeedCycle) {
    ouro::Heap heap;
    ouro::Heap::Scope scope(heap);
    g_destroyed = 0;
    auto node1 = ouro::make<Node>(1);
    auto node2 = ouro::make<Node>(2);
    node1->next = node2;
    node2->next = node1;
    node1 = nullptr;
    node2 = nullptr;
    EXPECT_EQ(g_destroyed, 0);
    EXPECT_EQ(ouro::gc::collect(), 2u);
    EXPECT_EQ(g_destroyed, 2);
}
