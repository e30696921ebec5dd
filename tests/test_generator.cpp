// ouro::Generator<T>: Python's generators as coroutines whose frames live in the heap's pools.
#include <ouro/ouro.hpp>

#include <gtest/gtest.h>

#include "support.hpp"

#include <algorithm>
#include <array>
#include <iterator>
#include <numeric>
#include <ranges>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using support::Node;

ouro::Generator<long> count_up_to(long n) {
    for (long i = 0; i < n; ++i) co_yield i;
}

ouro::Generator<ouro::Ref<Node>> walk(ouro::Ref<Node> head) {
    for (ouro::Ref<Node> n = std::move(head); n; n = n->next) co_yield n;
}

static_assert(std::ranges::input_range<ouro::Generator<long>>);
static_assert(std::ranges::view<ouro::Generator<long>>);
static_assert(!std::ranges::forward_range<ouro::Generator<long>>);
static_assert(ouro::holds_refs<ouro::Generator<ouro::Ref<Node>>>, "an object's trace() visits a generator's frame");

template <class R>
std::vector<std::ranges::range_value_t<R>> to_vector(R&& r) {
    std::vector<std::ranges::range_value_t<R>> out;
    std::ranges::copy(r, std::back_inserter(out));
    return out;
}

std::size_t bytes_in_use() { return ouro::sys::mallocstats().bytes_in_use; }

// Counts its destructions: a local of a generator's frame.
struct Guard {
    static inline int destroyed = 0;
    ~Guard() { ++destroyed; }
};

class GeneratorTest : public support::QuietHeapTest {
protected:
    void SetUp() override { support::reset(Guard::destroyed, Node::destroyed); }
};

TEST_F(GeneratorTest, YieldsValuesInOrderLikePython) {
    // list(count_up_to(5)) == [0, 1, 2, 3, 4]
    EXPECT_EQ(to_vector(count_up_to(5)), (std::vector<long>{0, 1, 2, 3, 4}));
    EXPECT_TRUE(to_vector(count_up_to(0)).empty());
    long sum = 0;
    for (long v : count_up_to(101)) sum += v;
    EXPECT_EQ(sum, 5050);
}

// Clang 14 cannot instantiate libstdc++ 12's view adaptors at all (a std::vector's neither).
#if !defined(__clang__) || __clang_major__ >= 15
TEST_F(GeneratorTest, ComposesWithRangesViews) {
    auto squares = count_up_to(1'000'000) | std::views::transform([](long v) { return v * v; }) | std::views::take(4);
    EXPECT_EQ(to_vector(squares), (std::vector<long>{0, 1, 4, 9}));
    // A named generator is a move-only view: pipe it by std::move, or lend it with ref_view.
    auto gen = count_up_to(10);
    auto evens = std::ranges::ref_view(gen) | std::views::filter([](long v) { return v % 2 == 0; });
    EXPECT_EQ(to_vector(evens), (std::vector<long>{0, 2, 4, 6, 8}));
    EXPECT_TRUE(gen.done());
}
#endif

TEST_F(GeneratorTest, ExtendsTheLibrarysContainers) {
    // l = [100]; l.extend(count_up_to(3)); d = deque(); d.extendleft(count_up_to(3))
    auto l = ouro::make<ouro::List<long>>();
    l->append(100);
    l->extend(count_up_to(3));
    EXPECT_EQ(to_vector(*l), (std::vector<long>{100, 0, 1, 2}));
    auto d = ouro::make<ouro::Deque<long>>();
    d->extendleft(count_up_to(3));
    EXPECT_EQ(to_vector(*d), (std::vector<long>{2, 1, 0}));
    auto nodes = ouro::make<ouro::List<Node>>();  // references: the List holds them, traced
    auto head = ouro::make<Node>(1);
    head->next = ouro::make<Node>(2);
    nodes->extend(walk(head));
    EXPECT_EQ(nodes->size(), 2u);
    EXPECT_EQ(ouro::sys::getrefcount(*head), 2u);
}

TEST_F(GeneratorTest, ASecondLoopContinuesWhereTheFirstBrokeOff) {
    // g = count_up_to(6); for x in g: if x == 2: break  ->  list(g) == [3, 4, 5]
    auto g = count_up_to(6);
    for (long v : g)
        if (v == 2) break;
    EXPECT_EQ(to_vector(g), (std::vector<long>{3, 4, 5}));
    EXPECT_TRUE(g.done());
    EXPECT_TRUE(to_vector(g).empty());  // exhausted, as in Python
}

TEST_F(GeneratorTest, BeginWithoutReadingKeepsTheValue) {
    auto g = count_up_to(3);
    EXPECT_FALSE(g.begin() == g.end());  // started, first value not read
    EXPECT_EQ(to_vector(g), (std::vector<long>{0, 1, 2}));
}

TEST_F(GeneratorTest, TheFrameIsABlockOfTheCurrentHeap) {
    const std::size_t before = bytes_in_use();
    {
        auto g = count_up_to(3);
        const std::size_t size = ouro::sys::getsizeof(g);
        EXPECT_GT(size, 16u);
        EXPECT_LE(size, 512u);
        EXPECT_EQ(size % 16, 0u);
        EXPECT_EQ(bytes_in_use(), before + size);
        EXPECT_EQ(to_vector(g).size(), 3u);
        EXPECT_EQ(ouro::sys::getsizeof(g), size) << "a finished generator keeps its frame until destroyed";
    }
    EXPECT_EQ(bytes_in_use(), before);
}

TEST_F(GeneratorTest, RunsInConstantMemory) {
    // for number in count_up_to(10_000_000): only one number is in memory at a time (a million in
    // Debug builds, as the long chains)
    constexpr long n = static_cast<long>(support::kLongChain);
    std::size_t at_start = 0, in_use_max = 0;
    long sum = 0;
    for (long v : count_up_to(n)) {
        sum += v;
        if (v == 0) at_start = bytes_in_use();
        if (v % 100'000 == 0) in_use_max = std::max(in_use_max, bytes_in_use());
    }
    EXPECT_EQ(sum, n * (n - 1) / 2);
    EXPECT_EQ(in_use_max, at_start);
}

ouro::Generator<int> raises_after(int good) {
    for (int i = 0; i < good; ++i) co_yield i;
    throw std::runtime_error("boom");
}

TEST_F(GeneratorTest, AnExceptionReachesTheConsumerWhereItResumed) {
    auto g = raises_after(2);
    auto it = g.begin();
    EXPECT_EQ(*it, 0);
    ++it;
    EXPECT_EQ(*it, 1);
    EXPECT_THROW(++it, std::runtime_error);
    // Python: next(g) after the exception raises StopIteration.
    EXPECT_TRUE(g.done());
    EXPECT_TRUE(it == g.end());
    EXPECT_TRUE(g.begin() == g.end());
}

TEST_F(GeneratorTest, AnExceptionBeforeTheFirstYieldComesFromBegin) {
    auto g = raises_after(0);
    EXPECT_THROW(g.begin(), std::runtime_error);
    EXPECT_TRUE(g.done());
}

ouro::Generator<int> guarded(int* after_yield) {
    Guard guard;
    co_yield 1;
    ++*after_yield;
    co_yield 2;
    ++*after_yield;
}

TEST_F(GeneratorTest, DestroyingAnUnfinishedGeneratorRunsItsLocalsDestructors) {
    int after = 0;
    {
        auto g = guarded(&after);
        for (int v : g) {
            EXPECT_EQ(v, 1);
            break;
        }
        EXPECT_EQ(Guard::destroyed, 0);
    }
    EXPECT_EQ(Guard::destroyed, 1);  // Python's close(): the `finally` ran
    EXPECT_EQ(after, 0);             // and nothing after the yield
}

TEST_F(GeneratorTest, NeverStartedGeneratorHasNoLocalsToDestroy) {
    int after = 0;
    { auto g = guarded(&after); }
    EXPECT_EQ(Guard::destroyed, 0);
}

TEST_F(GeneratorTest, CloseDestroysTheFrameNow) {
    int after = 0;
    const std::size_t before = bytes_in_use();
    auto g = guarded(&after);
    EXPECT_EQ(*g.begin(), 1);
    g.close();
    EXPECT_EQ(Guard::destroyed, 1);
    EXPECT_EQ(after, 0);
    EXPECT_EQ(bytes_in_use(), before);
    EXPECT_EQ(ouro::sys::getsizeof(g), 0u);
    EXPECT_TRUE(g.done());
    EXPECT_TRUE(g.begin() == g.end());
    g.close();  // again: nothing
}

TEST_F(GeneratorTest, AnExceptionInTheLoopBodyClosesTheGenerator) {
    int after = 0;
    EXPECT_THROW(
        {
            for (int v : guarded(&after)) {
                (void)v;
                throw std::runtime_error("consumer failed");
            }
        },
        std::runtime_error);
    EXPECT_EQ(Guard::destroyed, 1);
    EXPECT_EQ(after, 0);
}

TEST_F(GeneratorTest, MoveHandsOverTheFrame) {
    int after = 0;
    auto a = guarded(&after);
    EXPECT_EQ(*a.begin(), 1);
    auto b = std::move(a);
    EXPECT_TRUE(a.done());
    EXPECT_EQ(ouro::sys::getsizeof(a), 0u);
    auto it = b.begin();  // moves on past the value read through a
    EXPECT_EQ(*it, 2);
    b = guarded(&after);  // the old frame is destroyed
    EXPECT_EQ(Guard::destroyed, 1);
    EXPECT_EQ(after, 1);
}

TEST_F(GeneratorTest, MisuseThrowsLogicError) {
    auto g = count_up_to(1);
    auto it = g.begin();
    ++it;
    EXPECT_TRUE(it == g.end());
    EXPECT_THROW(*it, std::logic_error);
    EXPECT_THROW(++it, std::logic_error);
    ouro::Generator<long>::iterator none;
    EXPECT_THROW(*none, std::logic_error);
    EXPECT_TRUE(none == g.end());
}

ouro::Generator<int> resumes_itself(ouro::Generator<int>* self) {
    co_yield 1;
    self->begin();  // next(self) inside self: Python's "generator already executing"
    co_yield 2;
}
ouro::Generator<int> closes_itself(ouro::Generator<int>* self) {
    co_yield 1;
    self->close();
}

TEST_F(GeneratorTest, ResumingOrClosingItselfIsRefused) {
    ouro::Generator<int> g;
    g = resumes_itself(&g);
    auto it = g.begin();
    EXPECT_EQ(*it, 1);
    EXPECT_THROW(++it, std::logic_error);  // thrown in the body, it reaches the consumer
    EXPECT_TRUE(g.done());

    ouro::Generator<int> h;
    h = closes_itself(&h);
    auto jt = h.begin();
    EXPECT_THROW(++jt, std::logic_error);
    EXPECT_TRUE(h.done());
}

TEST_F(GeneratorTest, YieldsRefsAndItsLocalsAreRoots) {
    auto head = ouro::make<Node>(0);
    head->next = ouro::make<Node>(1);
    head->next->next = ouro::make<Node>(2);
    head->next->next->next = head;  // a cycle, held only by the generator's locals below
    auto g = walk(head);
    head = nullptr;
    std::vector<int> seen;
    for (auto& n : g) {
        seen.push_back(n->value);
        EXPECT_EQ(ouro::gc::collect(), 0u) << "references in a suspended frame count as roots";
        if (seen.size() == 5) break;
    }
    EXPECT_EQ(seen, (std::vector<int>{0, 1, 2, 0, 1}));
    EXPECT_EQ(Node::destroyed, 0);
    g.close();
    EXPECT_EQ(ouro::gc::collect(), 3u);
    EXPECT_EQ(Node::destroyed, 3);
}

TEST_F(GeneratorTest, RefsCollectedIntoAContainerKeepExactCounts) {
    auto a = ouro::make<Node>(1);
    auto b = ouro::make<Node>(2);
    a->next = b;
    std::vector<ouro::Ref<Node>> out;
    std::ranges::copy(walk(a), std::back_inserter(out));
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(ouro::sys::getrefcount(*a), 2u);  // a, out[0]: the generator is gone
    EXPECT_EQ(ouro::sys::getrefcount(*b), 3u);  // b, a->next, out[1]
}

ouro::Generator<std::string> names() {
    const std::string fixed = "const lvalue";
    co_yield fixed;               // copied: the consumer may move from what it gets
    std::string local = "lvalue";
    co_yield local;               // the local itself
    co_yield std::string("temporary");
    co_yield "converted";
}

TEST_F(GeneratorTest, YieldsLvaluesConstLvaluesAndTemporaries) {
    EXPECT_EQ(to_vector(names()), (std::vector<std::string>{"const lvalue", "lvalue", "temporary", "converted"}));
}

ouro::Generator<int> big_frame() {
    std::array<int, 256> table{};  // 1 KiB of locals: more than a pool block
    std::iota(table.begin(), table.end(), 0);
    for (int v : table) co_yield v;
}

TEST_F(GeneratorTest, AFrameLargerThanABlockComesFromOperatorNew) {
    const std::size_t before = bytes_in_use();
    auto g = big_frame();
    EXPECT_GT(ouro::sys::getsizeof(g), 1024u);
    EXPECT_EQ(bytes_in_use(), before);
    long sum = 0;
    for (int v : g) sum += v;
    EXPECT_EQ(sum, 255 * 256 / 2);
}

TEST_F(GeneratorTest, TheFrameGoesBackToTheHeapItCameFrom) {
    ouro::Heap other;
    ouro::Generator<long> g;
    std::size_t other_before;
    {
        ouro::Heap::Scope in_other(other);
        other_before = bytes_in_use();
        g = count_up_to(5);
        EXPECT_GT(bytes_in_use(), other_before);
    }
    EXPECT_EQ(to_vector(g).size(), 5u);
    g.close();  // here, with this test's heap current
    ouro::Heap::Scope in_other(other);
    EXPECT_EQ(bytes_in_use(), other_before);
}

TEST_F(GeneratorTest, AGeneratorMayOutliveItsHeap) {
    ouro::Generator<long> g;
    auto doomed = std::make_unique<ouro::Heap>();
    {
        ouro::Heap::Scope in(*doomed);
        g = count_up_to(4);
        EXPECT_EQ(*g.begin(), 0);
    }
    doomed.reset();  // its pool with the frame stays mapped, never reused
    EXPECT_EQ(to_vector(g), (std::vector<long>{1, 2, 3}));
}

}  // namespace
