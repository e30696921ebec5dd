// The README's example, as a user would build it.
#include <ouro/ouro.hpp>

#include <cstdio>

struct Node : ouro::Object {
    int value;
    ouro::Ref<Node> next;
    explicit Node(int v) : value(v) {}
    void trace(ouro::Visitor& visit) override { visit(next); }
};

int main() {
    auto node1 = ouro::make<Node>(1);
    auto node2 = ouro::make<Node>(2);
    node1->next = node2;
    node2->next = node1;
    node1 = nullptr;
    node2 = nullptr;
    std::size_t found = ouro::gc::collect();
    std::printf("consumer: gc::collect() = %zu\n", found);
    return found == 2 ? 0 : 1;
}
