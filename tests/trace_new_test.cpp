// The ouro::trace_new target (its own test program: it replaces operator new for the whole
// program): what managed objects own through operator new is traced in DOMAIN_NEW.
#include <ouro/ouro.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tmc = ouro::tracemalloc;

namespace {

struct Owner : ouro::Object {
    std::vector<char> buffer;
    std::size_t owned_bytes() const noexcept override { return buffer.capacity(); }
};

std::size_t new_bytes(const tmc::Snapshot& s) {
    std::size_t n = 0;
    for (const auto& t : s.filter_traces({tmc::DomainFilter(true, tmc::DOMAIN_NEW)}).traces) n += t.size;
    return n;
}

TEST(TraceNew, OwnedBuffersAreTracedWhereTheyGrow) {
    ouro::Heap heap;
    ouro::Heap::Scope scope(heap);
    auto before = std::make_unique<std::string>(100, 'x');  // before start(): its free is ignored
    tmc::start();
    auto o = ouro::make<Owner>();
    const int line = __LINE__ + 1;
    o->buffer.reserve(1000);
    auto snap = tmc::take_snapshot();
    EXPECT_GE(new_bytes(snap), 1000u);  // with what the library's own first use allocates
    auto stats = snap.filter_traces({tmc::DomainFilter(true, tmc::DOMAIN_NEW)}).statistics("lineno");
    ASSERT_FALSE(stats.empty());
    EXPECT_EQ(stats[0].size, 1000u);
    EXPECT_EQ(stats[0].count, 1u);
    if (stats[0].traceback[0].filename.ends_with("trace_new_test.cpp")) {
        EXPECT_EQ(stats[0].traceback[0].lineno, line);
    }
    before.reset();
    o.reset();
    ouro::gc::collect();
    EXPECT_LT(tmc::get_traced_memory().current, 1000u) << "the buffer's delete was seen";
    tmc::stop();
}

TEST(TraceNew, OffWhenNotTracing) {
    ouro::Heap heap;
    ouro::Heap::Scope scope(heap);
    std::vector<int> v(1000);
    EXPECT_FALSE(tmc::is_tracing());
    EXPECT_EQ(tmc::get_traced_memory().current, 0u);
}

}  // namespace
