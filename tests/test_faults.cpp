// Fault injection (docs/reliability.md §3): std::bad_alloc at every Nth allocation the library makes —
// inside make, inside collections, inside weak reference registration. The failing operation
// reports the error; nothing leaks; the heap stays consistent and keeps working.
#include <ouro/ouro.hpp>

#include <gtest/gtest.h>

#include <vector>

#ifdef OURO_FAULT_INJECTION

namespace {

int g_alive = 0;  // constructed minus destroyed

struct Node : ouro::Object {
    std::vector<ouro::Ref<Node>> edges;
    ouro::WeakRef<Node> weak;
    int canary = 0x5a5a;
    Node() { ++g_alive; }
    ~Node() override {
        EXPECT_EQ(canary, 0x5a5a);
        canary = 0;
        --g_alive;
    }
    void trace(ouro::Visitor& visit) override {
        visit(edges);
        visit(weak);
    }
};

struct Finalizing : Node {
    static inline ouro::Ref<Node> lazarus;
    void finalize() override {
        // Allocates (may fail) and resurrects once.
        auto fresh = ouro::make<Node>();
        fresh->edges.emplace_back(this);
        lazarus = fresh;
    }
};

struct Big : ouro::Object {
    char payload[2000];
    ouro::Ref<Node> other;
    void trace(ouro::Visitor& visit) override { visit(other); }
};

// One round of work that touches every allocating path; any step may throw std::bad_alloc.
void scenario(std::vector<ouro::Ref<Node>>& roots, int& callbacks) {
    for (int i = 0; i < 40; ++i) {
        auto a = ouro::make<Node>();
        auto b = ouro::make<Node>();
        a->edges.push_back(b);
        b->edges.push_back(a);  // a garbage cycle once a and b go
        if (i % 3 == 0) roots.push_back(a);
        if (i % 4 == 0) a->weak = ouro::WeakRef<Node>(b, [&callbacks](const ouro::WeakRef<Node>&) { ++callbacks; });
        if (i % 5 == 0) {
            auto f = ouro::make<Finalizing>();
            f->edges.push_back(f);
        }
        if (i % 7 == 0) {
            auto big = ouro::make<Big>();
            big->other = a;
        }
        if (i % 8 == 0) ouro::finalize(b, [&callbacks] { ++callbacks; });
        if (i % 10 == 0) ouro::gc::collect(i % 3);
    }
    ouro::gc::collect();
}

}  // namespace

TEST(Faults, EveryAllocationFailingOnceLeavesAConsistentHeap) {
    // How many fault points one clean run passes.
    std::uint64_t points;
    int callbacks = 0;
    {
        ouro::Heap heap;
        ouro::Heap::Scope scope(heap);
        ouro::gc::set_threshold(50, 3, 3);
        std::vector<ouro::Ref<Node>> roots;
        std::uint64_t before = ouro::detail::t_fault_points;
        scenario(roots, callbacks);
        points = ouro::detail::t_fault_points - before;
        roots.clear();
        Finalizing::lazarus = nullptr;
    }
    ASSERT_EQ(g_alive, 0);
    ASSERT_GT(points, 150u);

    std::size_t failures = 0;
    for (std::uint64_t n = 1; n <= points; ++n) {
        int callbacks = 0;  // outlives the heap: its finalizers run at the heap's end
        {
            ouro::Heap heap;
            ouro::Heap::Scope scope(heap);
            ouro::gc::set_threshold(50, 3, 3);
            std::vector<ouro::Ref<Node>> roots;
            ouro::detail::t_fault_countdown = n;
            try {
                scenario(roots, callbacks);
            } catch (const std::bad_alloc&) {
                ++failures;
            }
            ouro::detail::t_fault_countdown = 0;
            // The heap keeps working: more work, then everything is reclaimable.
            scenario(roots, callbacks);
            for (auto& r : roots) ASSERT_EQ(r->canary, 0x5a5a);
            roots.clear();
            Finalizing::lazarus = nullptr;
            ouro::gc::collect();
            ouro::gc::collect();
            EXPECT_EQ(ouro::gc::get_objects().size(), 0u) << "fault at allocation " << n;
            EXPECT_EQ(ouro::sys::mallocstats().bytes_in_use, 0u) << "fault at allocation " << n;
        }
        ASSERT_EQ(g_alive, 0) << "fault at allocation " << n << " leaked objects";
    }
    EXPECT_GT(failures, points / 2);
    std::printf("[ faults   ] %llu fault points, %zu injected failures reported as std::bad_alloc\n",
                static_cast<unsigned long long>(points), failures);
}

#else
TEST(Faults, EveryAllocationFailingOnceLeavesAConsistentHeap) {
    GTEST_SKIP() << "built without OURO_FAULT_INJECTION";
}
#endif
