// Container buffers of detail::kMapMin bytes and more live in mappings of their own (grown and
// shrunk with mremap, docs/design.md §11): contents survive every crossing between malloc or the
// pools and a mapping, buffers handed between containers go back where they came from, sizes are
// still CPython's, and every mapping is gone when its container is (LeakSanitizer and valgrind do
// not see mappings: detail::mapped_buffer_bytes() does).
#include "support.hpp"

#include <ouro/array.hpp>
#include <ouro/deque.hpp>
#include <ouro/dict.hpp>
#include <ouro/list.hpp>

#include <gtest/gtest.h>

#include <string>
#include <utility>

namespace {

struct Item : ouro::Object {
    long value;
    explicit Item(long v) : value(v) {}
};

class BigBuffers : public support::QuietHeapTest {
protected:
    void SetUp() override { mapped_at_start_ = ouro::detail::mapped_buffer_bytes(); }
    void TearDown() override {
        ouro::gc::collect();
        EXPECT_EQ(ouro::detail::mapped_buffer_bytes(), mapped_at_start_) << "a mapping outlived its container";
    }
    std::size_t mapped() const { return ouro::detail::mapped_buffer_bytes() - mapped_at_start_; }

private:
    std::size_t mapped_at_start_ = 0;
};

constexpr long kBig = 200'000;  // 1.6 MB of pointers: well past kMapMin

TEST_F(BigBuffers, AListGrowsIntoAMappingAndShrinksOutOfIt) {
    auto l = ouro::make<ouro::List<Item>>();
    const std::size_t empty = ouro::sys::getsizeof(*l);
    for (long i = 0; i < kBig; ++i) {
        l->append(ouro::make<Item>(i));
        if (i % 9973 == 0) {
            ASSERT_EQ(ouro::sys::getsizeof(*l), empty + 8 * l->capacity());  // CPython's figure
        }
    }
    EXPECT_GE(mapped(), kBig * sizeof(void*));
    for (long i = 0; i < kBig; i += 7) ASSERT_EQ((*l)[i]->value, i);
    // Down past half of each capacity again and again: back to malloc, then to the pools.
    while (l->size() > 3) l->pop();
    EXPECT_EQ(mapped(), 0u);
    EXPECT_EQ((*l)[2]->value, 2);
    EXPECT_EQ(ouro::sys::getsizeof(*l), empty + 8 * l->capacity());
}

TEST_F(BigBuffers, ValuesThatAreNotPlainMoveIntoAndOutOfMappings) {
    ouro::List<std::string> l;  // a local: malloc below kMapMin
    for (long i = 0; i < kBig / 4; ++i) l.append(std::to_string(i) + std::string(20, 'x'));
    EXPECT_GT(mapped(), 0u);
    for (long i = 0; i < kBig / 4; i += 11) ASSERT_EQ(l[i], std::to_string(i) + std::string(20, 'x'));
    l.clear();
    EXPECT_EQ(mapped(), 0u);
}

TEST_F(BigBuffers, HandedOverBuffersGoBackWhereTheyCameFrom) {
    // A managed list (pooled while small), a member, a local: swapped and moved both ways while
    // one side is mapped and the other is not.
    struct Holder : ouro::Object {
        ouro::List<long> items;
        OURO_TRACE(items)
    };
    auto h = ouro::make<Holder>();
    h->items.extend(std::vector<long>(10, 1));  // a pool block
    ouro::List<long> local;
    for (long i = 0; i < kBig; ++i) local.append(i);  // a mapping
    swap(h->items, local);
    EXPECT_EQ(h->items.size(), static_cast<std::size_t>(kBig));
    EXPECT_EQ(local.size(), 10u);
    h->items.append(-1);  // grows the mapping the member now holds
    local = std::move(h->items);
    EXPECT_EQ(local[kBig], -1);
    h = nullptr;
    ouro::Array<int> a;
    for (int i = 0; i < kBig; ++i) a.append(i);
    ouro::Array<int> b = std::move(a);
    EXPECT_EQ(b.nbytes(), kBig * sizeof(int));
    EXPECT_EQ(b[kBig - 1], kBig - 1);
}

TEST_F(BigBuffers, ADictsTablesMoveIntoMappings) {
    auto d = ouro::make<ouro::Dict<long, long>>();
    for (long i = 0; i < kBig; ++i) d->insert_or_assign(i * 7919 % kBig, i);
    EXPECT_GT(mapped(), 0u);
    EXPECT_EQ(d->size(), static_cast<std::size_t>(kBig));
    long sum = 0;
    for (long i = 0; i < kBig; ++i) sum += d->at(i);
    EXPECT_EQ(sum, kBig * (kBig - 1) / 2);
    ouro::Dict<long, long> copy = *d;
    d->clear();
    EXPECT_EQ(copy.at(7919 % kBig), 1);
}

TEST_F(BigBuffers, ADequesRingMovesIntoAMapping) {
    // The ring holds a pointer per 64-item block: 32,768 blocks make it kMapMin bytes.
    auto q = ouro::make<ouro::Deque<int>>();
    constexpr int n = 64 * 40'000;
    for (int i = 0; i < n; ++i) q->append(i);
    EXPECT_GT(mapped(), 0u);
    EXPECT_EQ(q->popleft(), 0);
    EXPECT_EQ(q->pop(), n - 1);
    q = nullptr;
}

#ifdef OURO_FAULT_INJECTION
TEST_F(BigBuffers, AFailingMappingLeavesTheContainerAsItWas) {
    ouro::List<long> l;
    while (l.capacity() * sizeof(long) < ouro::detail::kMapMin) l.append(static_cast<long>(l.size()));
    l.pop();
    while (l.size() < l.capacity()) l.append(static_cast<long>(l.size()));  // full: the next append maps
    const std::size_t n = l.size();
    ouro::detail::t_fault_countdown = 1;
    EXPECT_THROW(l.append(-1), std::bad_alloc);
    ouro::detail::t_fault_countdown = 0;
    ASSERT_EQ(l.size(), n);
    for (std::size_t i = 0; i < n; i += 101) ASSERT_EQ(l[i], static_cast<long>(i));
    l.append(-1);  // now it maps, then a failing remap
    while (l.size() < l.capacity()) l.append(0);
    ouro::detail::t_fault_countdown = 1;
    EXPECT_THROW(l.append(-2), std::bad_alloc);
    ouro::detail::t_fault_countdown = 0;
    EXPECT_EQ(l[n], -1);
}
#endif

}  // namespace
