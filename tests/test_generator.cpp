// ouro::Generator<T>: Python's generators as coroutines whose frames live in the heap's pools.
#include <ouro/ouro.hpp>

#include <gtest/gtest.h>

#include <ouro/detail/invariants.hpp>

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

// ---- The collector sees into frames: parameters and registered locals (CPython's gen_traverse) ----

// An object holding a generator, as a Python object whose attribute is a generator.
struct Holder : ouro::Object {
    static inline int destroyed = 0;
    ouro::Ref<ouro::Object> other;
    ouro::Generator<long> gen;
    ~Holder() override { ++destroyed; }
    OURO_TRACE(other, gen)
};

class GeneratorGcTest : public support::QuietHeapTest {
protected:
    void SetUp() override { support::reset(Guard::destroyed, Node::destroyed, Holder::destroyed); }
};

static_assert(ouro::holds_refs<std::vector<ouro::Generator<long>>>);

// def gen(holder): g = Guard(); yield 1; yield 2
ouro::Generator<long> through_parameter(ouro::Ref<Holder> holder) {
    Guard guard;
    co_yield 1;
    co_yield holder ? 2 : -2;
}

TEST_F(GeneratorGcTest, ACycleThroughAParameterIsCollected) {
    // h.gen = gen(h); next(h.gen); del h; gc.collect() -> the holder and the frame are freed
    auto h = ouro::make<Holder>();
    h->gen = through_parameter(h);
    EXPECT_EQ(h->gen.next(), 1);
    ouro::WeakRef<Holder> w(h);
    h = nullptr;
    EXPECT_EQ(Holder::destroyed, 0);  // the cycle holds it
    EXPECT_EQ(ouro::gc::collect(), 1u);
    EXPECT_EQ(Holder::destroyed, 1);
    EXPECT_FALSE(w.alive());
    EXPECT_EQ(Guard::destroyed, 1);  // the frame was closed: its locals' destructors ran
}

// def walk(b): node = b; try: while True: node.visits += 1; yield; finally: node.visits = -1
// A garbage generator is closed before anything of the garbage is cleared (CPython finalizes
// generator objects with the rest of the unreachable set): its cleanup code uses an ordinary C++
// alias of an object only its frame holds, which must still be alive.
struct Visited : ouro::Object {
    static inline int visits_at_cleanup = 0;
    int visits = 0;
    ouro::Ref<ouro::Object> back;
    OURO_TRACE(back)
};
ouro::Generator<long> walk(ouro::Ref<Visited> v) {
    Visited& node = *v;
    struct Cleanup {
        Visited& n;
        ~Cleanup() { Visited::visits_at_cleanup = n.visits; }
    } cleanup{node};
    for (long i = 0;; ++i) {
        ++node.visits;
        co_yield i;
    }
}

TEST_F(GeneratorGcTest, AGarbageGeneratorIsClosedWhileWhatItUsesIsIntact) {
    Visited::visits_at_cleanup = 0;
    {
        auto h = ouro::make<Holder>();
        auto v = ouro::make<Visited>();  // after h: freed first, in reverse address order
        v->back = h;
        h->gen = walk(v);
        for (long x : h->gen)
            if (x == 2) break;
    }
    EXPECT_EQ(ouro::gc::collect(), 2u);
    EXPECT_EQ(Holder::destroyed, 1);
    EXPECT_EQ(Visited::visits_at_cleanup, 3);  // read through the alias, the object intact
}

// A body that ignores the collector's GeneratorExit is never resumed again: Python runs a
// generator's finalizer once, and here the frame's objects are freed next.
ouro::Generator<long> stubborn(ouro::Ref<Visited> v, int* exits) {
    Visited* raw = v.get();
    struct Cleanup {  // a local's destructor: runs when the frame goes, and must see raw intact
        Visited* n;
        ~Cleanup() { Visited::visits_at_cleanup = n->visits; }
    } cleanup{raw};
    for (;;) {
        try {
            co_yield raw->visits;
        } catch (const ouro::GeneratorExit&) {
            if (++*exits == 1) continue;  // ignored the first time
            throw;
        }
    }
}

TEST_F(GeneratorGcTest, ABodyThatIgnoredTheCollectorsCloseIsNotResumed) {
    support::HookCapture unraisable;
    int exits = 0;
    Visited::visits_at_cleanup = -1;
    {
        auto h = ouro::make<Holder>();
        auto v = ouro::make<Visited>();
        v->visits = 5;
        v->back = h;
        h->gen = stubborn(v, &exits);
        h->gen.next();
    }
    // Closed once; the body, still suspended, is destroyed at once (its locals' destructors see
    // everything intact) and never resumed; the holder then dies by its count.
    EXPECT_EQ(ouro::gc::collect(), 0u);
    EXPECT_EQ(exits, 1);
    EXPECT_EQ(Visited::visits_at_cleanup, 5);
    EXPECT_EQ(Holder::destroyed, 1);
    EXPECT_GE(unraisable.reports.size(), 1u);  // "generator ignored GeneratorExit"
}

// A cleanup that moves its own Generator out of its holder (into a global: resurrected) or that
// makes the holder's vector of generators reallocate: the close must not touch the Generator
// object once the body ran.
struct Pack : ouro::Object {
    std::vector<ouro::Generator<long>> gens;
    ouro::Ref<Pack> self;
    int started = 0;
    OURO_TRACE(gens, self)
};
std::vector<ouro::Generator<long>> parked;
ouro::Generator<long> restless(ouro::Ref<Pack> p, int kind) {
    Pack* raw = p.get();
    try {
        co_yield 1;
    } catch (const ouro::GeneratorExit&) {
        if (kind == 0) parked.push_back(std::move(raw->gens.front()));
        if (kind == 1 && raw->started++ < 3) {
            raw->gens.push_back(restless(p, 1));  // may move the Generator being closed
            raw->gens.back().next();
        }
        throw;
    }
}

TEST_F(GeneratorGcTest, ACleanupMayMoveItsOwnGeneratorOrGrowItsHoldersVector) {
    for (int kind = 0; kind < 2; ++kind) {
        {
            auto p = ouro::make<Pack>();
            p->self = p;
            p->gens.push_back(restless(p, kind));
            p->gens.back().next();
        }
        ouro::gc::collect();
        parked.clear();  // the parked frame was closed already: destroyed without running
        ouro::gc::collect();
        EXPECT_TRUE(ouro::gc::get_objects().empty()) << "kind " << kind;
    }
}

// A generator in storage the garbage owns whole (two garbage holders share it), and a holder of
// more generators than one pass would have closed: every one is closed while its objects are
// intact.
struct SharingHolder : ouro::Object {
    std::shared_ptr<ouro::Generator<long>> gen;
    ouro::Ref<ouro::Object> other;
    OURO_TRACE(gen, other)
};

TEST_F(GeneratorGcTest, AGeneratorInSharedStorageTheGarbageOwnsIsClosedFirst) {
    Visited::visits_at_cleanup = 0;
    {
        auto h1 = ouro::make<SharingHolder>();
        auto h2 = ouro::make<SharingHolder>();
        auto v = ouro::make<Visited>();
        v->back = h1;
        h1->other = h2;
        h2->other = h1;
        h1->gen = std::make_shared<ouro::Generator<long>>(walk(v));
        h2->gen = h1->gen;
        for (int i = 0; i < 3; ++i) h1->gen->next();
    }
    EXPECT_EQ(ouro::gc::collect(), 3u);
    EXPECT_EQ(Visited::visits_at_cleanup, 3);
}

struct ManyHolder : ouro::Object {
    std::vector<ouro::Generator<long>> gens;
    OURO_TRACE(gens)
};
ouro::Generator<long> counted_cleanup(ouro::Ref<Visited> v, long* sum) {
    Visited& node = *v;
    struct Cleanup {
        Visited& n;
        long* sum;
        ~Cleanup() { *sum += n.visits; }
    } cleanup{node, sum};
    ++node.visits;
    co_yield 0;
}

TEST_F(GeneratorGcTest, EveryGeneratorOfAHolderWithThousandsIsClosedWhileIntact) {
    constexpr int kGenerators = 3000;
    long sum = 0;
    {
        auto h = ouro::make<ManyHolder>();
        for (int i = 0; i < kGenerators; ++i) {
            auto v = ouro::make<Visited>();
            v->back = h;
            h->gens.push_back(counted_cleanup(v, &sum));
            h->gens.back().next();
        }
    }
    EXPECT_EQ(ouro::gc::collect(), 1u + kGenerators);
    EXPECT_EQ(sum, kGenerators);  // each cleanup read its object intact (visits == 1)
}

// A generator that a finalizer starts during the collection, though the collection met none
// before: closed too, while intact.
struct StartsOne : ouro::Object {
    ouro::Generator<long> gen;
    ouro::Ref<Visited> v;
    ouro::Ref<ouro::Object> self;
    void finalize() override {
        gen = walk(v);
        gen.next();
    }
    OURO_TRACE(gen, v, self)
};

TEST_F(GeneratorGcTest, AGeneratorAFinalizerStartsIsClosedWhileIntact) {
    Visited::visits_at_cleanup = 0;
    {
        auto h = ouro::make<StartsOne>();
        h->self = h;
        h->v = ouro::make<Visited>();
        h->v->back = h;
    }
    ouro::gc::collect();
    ouro::gc::collect();
    EXPECT_EQ(Visited::visits_at_cleanup, 1);
    EXPECT_TRUE(ouro::gc::get_objects().empty());
}

// A mistaken trace() visiting a global Generator or another object's: never closed by the
// collector (it is not the garbage's).
ouro::Generator<long> counting() {
    for (long i = 0;; ++i) co_yield i;
}
ouro::Generator<long> g_counting;
struct LiveGen : ouro::Object {
    ouro::Generator<long> gen;
    OURO_TRACE(gen)
};
struct VisitsOthers : ouro::Object {
    ouro::Ref<VisitsOthers> self;
    LiveGen* peer = nullptr;
    void trace(ouro::Visitor& visit) override {
        visit(self);
        if (peer) visit(peer->gen);  // the mistake
        else visit(g_counting);
    }
};

TEST_F(GeneratorGcTest, AGeneratorTheGarbageCannotOwnIsNotClosed) {
    support::HookCapture reports;
    for (int mode = 0; mode < 2; ++mode) {
        auto live = ouro::make<LiveGen>();
        live->gen = counting();
        live->gen.next();
        g_counting = counting();
        g_counting.next();
        {
            auto bad = ouro::make<VisitsOthers>();
            bad->self = bad;
            if (mode == 1) bad->peer = live.get();
        }
        EXPECT_EQ(ouro::gc::collect(), 1u);
        ouro::Generator<long>& kept = mode == 1 ? live->gen : g_counting;
        EXPECT_FALSE(kept.done()) << "mode " << mode;
        EXPECT_EQ(kept.next(), 1);
        g_counting = ouro::Generator<long>();
    }
}

// A destructor the recount runs (a member that died by its count once a finalizer broke its
// cycle) starts a generator in another garbage object: that garbage survives this collection
// rather than free what the new generator's cleanup uses; the next one closes it intact.
struct LateHolder : ouro::Object {
    ouro::Generator<long> gen;
    ouro::Ref<ouro::Object> self;
    OURO_TRACE(gen, self)
};
struct StartsLate : ouro::Object {
    ouro::Ref<ouro::Object> self;
    ouro::Ref<LateHolder> holder;
    ouro::Ref<Visited> v;
    OURO_TRACE(self, holder, v)
    void finalize() override { self = nullptr; }
    ~StartsLate() override {
        holder->gen = walk(v);
        holder->gen.next();
    }
};

TEST_F(GeneratorGcTest, AGeneratorStartedAfterTheClosingIsNotLeftToRunOnFreedObjects) {
    Visited::visits_at_cleanup = 0;
    {
        auto h = ouro::make<LateHolder>();
        h->self = h;
        auto p = ouro::make<StartsLate>();
        p->self = p;
        p->holder = h;
        p->v = ouro::make<Visited>();
    }
    ouro::gc::collect();
    ouro::gc::collect();
    EXPECT_EQ(Visited::visits_at_cleanup, 1);
    EXPECT_TRUE(ouro::gc::get_objects().empty());
}

// A generator in a registered local of another's frame, both garbage: closing the outer destroys
// the inner's Generator, whose destructor closes it; the collector does not close it again.
int nested_exits = 0;
ouro::Generator<long> deaf(ouro::Ref<LateHolder>) {  // (the frame holds the holder: a cycle)
    for (;;) {
        try {
            co_yield 1;
        } catch (const ouro::GeneratorExit&) {
            ++nested_exits;
        }
    }
}
ouro::Generator<long> wraps(ouro::Generator<long> in) {
    ouro::Generator<long> local = std::move(in);
    auto scope = co_await ouro::trace_locals(local);
    local.next();
    for (;;) co_yield 3;
}

TEST_F(GeneratorGcTest, ANestedGeneratorGetsOneGeneratorExit) {
    support::HookCapture reports;
    nested_exits = 0;
    {
        auto h = ouro::make<LateHolder>();
        h->self = h;
        h->gen = wraps(deaf(h));
        h->gen.next();
    }
    ouro::gc::collect();
    ouro::gc::collect();
    EXPECT_EQ(nested_exits, 1);
    EXPECT_TRUE(ouro::gc::get_objects().empty());
}

TEST_F(GeneratorGcTest, ACycleThroughAGeneratorThatNeverStartedIsCollected) {
    auto h = ouro::make<Holder>();
    h->gen = through_parameter(h);
    h = nullptr;
    EXPECT_EQ(ouro::gc::collect(), 1u);
    EXPECT_EQ(Holder::destroyed, 1);
    EXPECT_EQ(Guard::destroyed, 0);  // the body never ran
}

// def gen(source): mine = source; g = Guard(); yield 1; yield 2  (mine registered)
ouro::Generator<long> through_local(ouro::Ref<Holder>* source, bool registered) {
    ouro::Ref<Holder> mine = std::exchange(*source, nullptr);
    Guard guard;
    if (registered) {
        auto scope = co_await ouro::trace_locals(mine);
        co_yield 1;
        co_yield 2;
    } else {
        co_yield 1;
        co_yield 2;
    }
}

TEST_F(GeneratorGcTest, ACycleThroughARegisteredLocalIsCollected) {
    auto h = ouro::make<Holder>();
    ouro::Ref<Holder> handed = h;
    h->gen = through_local(&handed, true);
    EXPECT_EQ(h->gen.next(), 1);  // the local now holds the only other reference
    ouro::WeakRef<Holder> w(h);
    h = nullptr;
    // 0, as CPython returns: the garbage generator is closed first, its local goes with its
    // body, and the holder then dies by its count.
    EXPECT_EQ(ouro::gc::collect(), 0u);
    EXPECT_FALSE(w.alive());
    EXPECT_EQ(Guard::destroyed, 1);
}

TEST_F(GeneratorGcTest, AnUnregisteredLocalIsARootItsObjectLives) {
    auto h = ouro::make<Holder>();
    ouro::Ref<Holder> handed = h;
    h->gen = through_local(&handed, false);
    EXPECT_EQ(h->gen.next(), 1);
    ouro::WeakRef<Holder> w(h);
    h = nullptr;
    EXPECT_EQ(ouro::gc::collect(), 0u);  // the collector cannot see `mine`: never freed while reachable
    ASSERT_TRUE(w.alive());
    auto strong = w();
    EXPECT_EQ(strong->gen.next(), 2);  // still usable
    EXPECT_EQ(Holder::destroyed, 0);
    strong->gen.close();  // breaks the cycle (hold a Ref: the frame held the other one)
    strong = nullptr;     // the count frees it
    EXPECT_FALSE(w.alive());
    EXPECT_EQ(Holder::destroyed, 1);
}

TEST_F(GeneratorGcTest, TheRegistrationEndsWithItsScope) {
    // After the scope, the local is a root again: the cycle through it is kept.
    auto h = ouro::make<Holder>();
    ouro::Ref<Holder> handed = h;
    h->gen = [](ouro::Ref<Holder>* source) -> ouro::Generator<long> {
        ouro::Ref<Holder> mine = std::exchange(*source, nullptr);
        {
            auto scope = co_await ouro::trace_locals(mine);
            co_yield 1;
        }
        co_yield 2;
    }(&handed);
    EXPECT_EQ(h->gen.next(), 1);
    EXPECT_EQ(h->gen.next(), 2);
    ouro::WeakRef<Holder> w(h);
    h = nullptr;
    EXPECT_EQ(ouro::gc::collect(), 0u);
    ASSERT_TRUE(w.alive());
    w()->gen.close();
    EXPECT_FALSE(w.alive());
}

// A parameter passed by reference is the caller's object, not the frame's: never visited.
ouro::Generator<long> by_reference(ouro::Ref<Node>& theirs, const ouro::Ref<Node>& also) {
    co_yield theirs->value + also->value;
    co_yield 0;
}

TEST_F(GeneratorGcTest, AReferenceParameterIsNotTheFramesToVisit) {
    // x is held only by this local; a garbage holder whose generator refers to the local must not
    // make the collector think the holder owns x's reference.
    auto x = ouro::make<Node>(20);
    {
        auto h = ouro::make<Holder>();
        h->other = h;  // garbage once dropped, with its generator
        h->gen = by_reference(x, x);
        EXPECT_EQ(h->gen.next(), 40);
    }
    EXPECT_EQ(ouro::gc::collect(), 1u);
    EXPECT_EQ(Holder::destroyed, 1);
    EXPECT_EQ(Node::destroyed, 0);
    EXPECT_EQ(x->value, 20);
    EXPECT_EQ(ouro::detail::ObjectAccess::refcnt(*x), 1u);
}

// Parameters that hold Refs in a visitable way: a vector of them, a pair; a const one is not.
ouro::Generator<long> containers(std::vector<ouro::Ref<Holder>> many, std::pair<int, ouro::Ref<Holder>> one) {
    co_yield static_cast<long>(many.size()) + one.first;
}
ouro::Generator<long> const_parameter(const ouro::Ref<Holder> kept) {
    co_yield kept ? 1 : 0;
}

TEST_F(GeneratorGcTest, VisitableParametersAreTracedConstOnesAreRoots) {
    auto a = ouro::make<Holder>();
    auto b = ouro::make<Holder>();
    a->gen = containers({a, b, a}, {1, b});
    b->other = a;
    EXPECT_EQ(a->gen.next(), 4);
    a = b = nullptr;
    EXPECT_EQ(ouro::gc::collect(), 2u);
    EXPECT_EQ(Holder::destroyed, 2);

    auto c = ouro::make<Holder>();
    c->gen = const_parameter(c);
    ouro::WeakRef<Holder> w(c);
    c = nullptr;
    EXPECT_EQ(ouro::gc::collect(), 0u);  // a const copy is never cleared: it stays a root
    ASSERT_TRUE(w.alive());
    w()->gen.close();
    EXPECT_FALSE(w.alive());
}

TEST_F(GeneratorGcTest, ARunningGeneratorsFrameIsARoot) {
    // A collection from inside the body (an allocation may start one) sees no frame reference.
    auto h = ouro::make<Holder>();
    ouro::WeakRef<Holder> w(h);
    h->gen = [](ouro::Ref<Holder> self) -> ouro::Generator<long> {
        co_yield 1;
        self->other = nullptr;
        co_yield static_cast<long>(ouro::gc::collect());  // self is referenced only by the cycle
        co_yield self ? 3 : -3;
    }(h);
    EXPECT_EQ(h->gen.next(), 1);
    Holder* raw = h.get();
    h = nullptr;  // now only the frame's parameter holds it
    EXPECT_EQ(raw->gen.next(), 0);
    EXPECT_EQ(raw->gen.next(), 3);
    EXPECT_EQ(ouro::gc::collect(), 1u);  // suspended again: collected
    EXPECT_FALSE(w.alive());
}

TEST_F(GeneratorGcTest, ALongChainThroughFramesIsCollected) {
    // n holders, each generator's parameter the next holder, the last one the first.
    constexpr int n = 10'000;
    auto first = ouro::make<Holder>();
    ouro::Ref<Holder> cur = first;
    for (int i = 1; i < n; ++i) {
        auto next = ouro::make<Holder>();
        cur->gen = through_parameter(next);
        cur = next;
    }
    cur->gen = through_parameter(first);
    first = cur = nullptr;
    EXPECT_EQ(ouro::gc::collect(), static_cast<std::size_t>(n));
    EXPECT_EQ(Holder::destroyed, n);
}

// ---- close(), GeneratorExit, and finalization's errors ----

ouro::Generator<long> sees_exit(int* seen) {
    Guard guard;
    try {
        co_yield 1;
        co_yield 2;
    } catch (const ouro::GeneratorExit&) {
        ++*seen;
        throw;
    }
}

TEST_F(GeneratorTest, CloseRaisesGeneratorExitAtTheYield) {
    int seen = 0;
    auto g = sees_exit(&seen);
    EXPECT_EQ(g.next(), 1);
    g.close();
    EXPECT_EQ(seen, 1);
    EXPECT_EQ(Guard::destroyed, 1);
    EXPECT_TRUE(g.done());
    EXPECT_THROW(g.next(), ouro::StopIteration);
    { auto unstarted = sees_exit(&seen); }  // never started: no GeneratorExit
    EXPECT_EQ(seen, 1);
    {
        auto midway = sees_exit(&seen);  // destroyed mid-iteration: closed
        for (long v : midway) {
            EXPECT_EQ(v, 1);
            break;
        }
    }
    EXPECT_EQ(seen, 2);
}

static_assert(!std::is_base_of_v<std::exception, ouro::GeneratorExit>, "like Python's BaseException");

ouro::Generator<long> ignores_exit() {
    Guard guard;
    for (;;) {
        try {
            co_yield 1;
        } catch (const ouro::GeneratorExit&) {
        }
    }
}
ouro::Generator<long> fails_on_exit() {
    try {
        co_yield 1;
    } catch (const ouro::GeneratorExit&) {
        throw std::runtime_error("cleanup failed");
    }
}

TEST_F(GeneratorTest, CloseReportsAnIgnoredExitAndRethrowsOtherErrors) {
    auto g = ignores_exit();
    g.next();
    try {
        g.close();
        ADD_FAILURE();
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "generator ignored GeneratorExit");  // Python's RuntimeError
    }
    EXPECT_TRUE(g.done());  // the frame is destroyed all the same
    EXPECT_EQ(Guard::destroyed, 1);

    auto f = fails_on_exit();
    f.next();
    EXPECT_THROW(f.close(), std::runtime_error);
    EXPECT_TRUE(f.done());
}

TEST_F(GeneratorTest, FinalizationErrorsGoToTheUnraisableHook) {
    support::HookCapture hook;
    {
        auto g = fails_on_exit();
        g.next();
    }
    {
        auto g = ignores_exit();
        g.next();
    }
    ASSERT_EQ(hook.reports.size(), 2u);
    EXPECT_EQ(hook.reports[0].what, "cleanup failed");
    EXPECT_EQ(hook.reports[1].what, "generator ignored GeneratorExit");
    EXPECT_NE(hook.reports[0].where.find("ouro::Generator"), std::string::npos);
}

TEST_F(GeneratorGcTest, ACollectedGeneratorsCleanupMayAllocateCollectAndThrow) {
    support::HookCapture hook;
    auto h = ouro::make<Holder>();
    h->gen = [](ouro::Ref<Holder> self) -> ouro::Generator<long> {
        Guard guard;
        try {
            co_yield 1;
        } catch (const ouro::GeneratorExit&) {
            // The collector cleared `self` (as tp_clear would) before the holder died.
            auto fresh = ouro::make<Node>(self ? 1 : 2);
            fresh->next = fresh;
            ouro::gc::collect();  // re-entrant: returns at once
            throw std::runtime_error("failed while collected");
        }
    }(h);
    h->gen.next();
    h = nullptr;
    EXPECT_EQ(ouro::gc::collect(), 1u);
    EXPECT_EQ(Holder::destroyed, 1);
    EXPECT_EQ(Guard::destroyed, 1);
    ASSERT_EQ(hook.reports.size(), 1u);
    EXPECT_EQ(hook.reports[0].what, "failed while collected");
    EXPECT_EQ(ouro::gc::collect(), 1u);  // the Node cycle the cleanup left
    EXPECT_EQ(ouro::detail::invariant_violation(heap), "");
}

// ---- send(), throw_(), next(), return values, yield_from ----

// def running_total(): total = 0; while True: x = yield total; if x is None: return total; total += x
ouro::Generator<long, long, long> running_total() {
    long total = 0;
    for (;;) {
        std::optional<long> x = co_yield total;
        if (!x) co_return total;
        total += *x;
    }
}

TEST_F(GeneratorTest, SendResumesWithAValue) {
    auto g = running_total();
    EXPECT_THROW(g.send(1), std::logic_error);  // can't send non-None to a just-started generator
    EXPECT_EQ(ouro::next(g), 0);
    EXPECT_EQ(g.send(5), 5);
    EXPECT_EQ(g.send(10), 15);
    EXPECT_THROW(g.value(), std::logic_error);  // not returned yet
    EXPECT_THROW(ouro::next(g), ouro::StopIteration);  // next() sends None: it returns
    EXPECT_EQ(g.value(), 15);                           // StopIteration.value
    EXPECT_THROW(g.send(1), ouro::StopIteration);
}

ouro::Generator<long> recovers(int* caught) {
    for (long i = 0;; ++i) {
        try {
            co_yield i;
        } catch (const std::invalid_argument&) {
            ++*caught;
        }
    }
}

TEST_F(GeneratorTest, ThrowRaisesAtTheYield) {
    int caught = 0;
    auto g = recovers(&caught);
    EXPECT_EQ(g.next(), 0);
    EXPECT_EQ(g.throw_(std::invalid_argument("x")), 1);  // handled: the next value
    EXPECT_EQ(caught, 1);
    EXPECT_THROW(g.throw_(std::out_of_range("y")), std::out_of_range);  // not handled: propagates
    EXPECT_TRUE(g.done());
    EXPECT_THROW(g.throw_(std::out_of_range("z")), std::out_of_range);  // finished: raised at once

    int after = 0;
    auto unstarted = guarded(&after);
    EXPECT_THROW(unstarted.throw_(std::out_of_range("first")), std::out_of_range);
    EXPECT_EQ(Guard::destroyed, 0);  // raised before the body's first statement
    EXPECT_TRUE(unstarted.done());
}

TEST_F(GeneratorTest, AStopIterationFromTheBodyBecomesRuntimeError) {
    // PEP 479: an exhausted next() inside a generator does not end it silently.
    auto g = []() -> ouro::Generator<long> {
        auto inner = count_up_to(0);
        co_yield ouro::next(inner);
    }();
    try {
        g.next();
        ADD_FAILURE();
    } catch (const ouro::StopIteration&) {
        ADD_FAILURE() << "a StopIteration escaped the generator";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "generator raised StopIteration");
    }
}

ouro::Generator<long, void, int> numbered(long from, long n) {
    Guard guard;
    for (long i = 0; i < n; ++i) co_yield from + i;
    co_return static_cast<int>(n);
}
ouro::Generator<long> delegating() {
    int a = co_yield ouro::yield_from(numbered(0, 3));
    int b = co_yield ouro::yield_from(numbered(10, 2));
    co_yield a * 100 + b;
}

TEST_F(GeneratorTest, YieldFromPassesValuesAndReturnsTheResult) {
    // def g(): a = yield from numbered(0, 3); b = yield from numbered(10, 2); yield a * 100 + b
    EXPECT_EQ(to_vector(delegating()), (std::vector<long>{0, 1, 2, 10, 11, 302}));
    EXPECT_EQ(Guard::destroyed, 2);
}

ouro::Generator<long, long> doubled_total() {
    long r = co_yield ouro::yield_from(running_total());
    co_yield r * 2;
}

TEST_F(GeneratorTest, YieldFromForwardsSendThrowAndClose) {
    auto g = doubled_total();
    EXPECT_EQ(g.next(), 0);
    EXPECT_EQ(g.send(4), 4);  // to the sub-generator
    EXPECT_EQ(g.send(6), 10);
    EXPECT_EQ(g.next(), 20);  // None ends the sub-generator; its result comes back
    EXPECT_THROW(g.next(), ouro::StopIteration);

    int caught = 0;
    auto h = [](int* c) -> ouro::Generator<long> { co_yield ouro::yield_from(recovers(c)); }(&caught);
    EXPECT_EQ(h.next(), 0);
    EXPECT_EQ(h.throw_(std::invalid_argument("to the sub-generator")), 1);
    EXPECT_EQ(caught, 1);

    int seen = 0;
    auto k = [](int* s) -> ouro::Generator<long> {
        try {
            co_yield ouro::yield_from(numbered(0, 5));
        } catch (const ouro::GeneratorExit&) {
            ++*s;
            throw;
        }
    }(&seen);
    EXPECT_EQ(k.next(), 0);
    k.close();  // GeneratorExit in the sub-generator first, then here
    EXPECT_EQ(Guard::destroyed, 1);
    EXPECT_EQ(seen, 1);
}

TEST_F(GeneratorTest, AnExceptionInTheSubGeneratorReachesTheYieldFrom) {
    auto g = []() -> ouro::Generator<long> {
        bool failed = false;
        try {
            co_yield ouro::yield_from([]() -> ouro::Generator<long> {
                co_yield 1;
                throw std::out_of_range("inner");
            }());
        } catch (const std::out_of_range&) {
            failed = true;  // (C++ cannot co_yield inside a handler)
        }
        if (failed) co_yield -1;
    }();
    EXPECT_EQ(to_vector(g), (std::vector<long>{1, -1}));
}

// A recursive tree walk: depth frames deep, resumed from a loop, not from each other.
ouro::Generator<long> nested(long depth) {
    if (depth == 0) {
        co_yield 0;
        co_return;
    }
    co_yield depth;
    co_yield ouro::yield_from(nested(depth - 1));
}

TEST_F(GeneratorTest, DeepYieldFromChainsDoNotRecurse) {
    constexpr long depth = 100'000;
    long count = 0, sum = 0;
    for (long v : nested(depth)) {
        ++count;
        sum += v;
    }
    EXPECT_EQ(count, depth + 1);
    EXPECT_EQ(sum, depth * (depth + 1) / 2);
}

TEST_F(GeneratorGcTest, ACycleThroughASubGeneratorIsCollected) {
    auto h = ouro::make<Holder>();
    h->gen = [](ouro::Ref<Holder> self) -> ouro::Generator<long> {
        co_yield ouro::yield_from(through_parameter(std::move(self)));  // the sub-generator's parameter
    }(h);
    EXPECT_EQ(h->gen.next(), 1);
    h = nullptr;
    // 0, as CPython returns: closing the garbage generator closes the sub-generator, whose frame
    // goes with it, and the holder then dies by its count.
    EXPECT_EQ(ouro::gc::collect(), 0u);
    EXPECT_EQ(Holder::destroyed, 1);
    EXPECT_EQ(Guard::destroyed, 1);
}
