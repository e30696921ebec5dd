// ouro::finalize and Finalizer (weakref.finalize, docs/cpython.md §5).
#include <ouro/ouro.hpp>

#include <gtest/gtest.h>

#include "support.hpp"

#include <string>
#include <vector>

namespace {

struct Item : ouro::Object {
    ouro::Ref<Item> next;
    void trace(ouro::Visitor& visit) override { visit(next); }
};

using FinalizeApi = support::HeapTest;

TEST_F(FinalizeApi, RunsOnceWhenTheObjectDiesByCount) {
    int calls = 0;
    auto obj = ouro::make<Item>();
    auto f = ouro::finalize(obj, [&] { ++calls; });
    EXPECT_TRUE(f.alive());
    obj = nullptr;
    EXPECT_EQ(calls, 1);
    EXPECT_FALSE(f.alive());
    f();  // dead: does nothing
    EXPECT_EQ(calls, 1);
}

TEST_F(FinalizeApi, RunsWhenTheObjectDiesInACollection) {
    int calls = 0;
    {
        auto obj = ouro::make<Item>();
        obj->next = obj;
        ouro::finalize(obj, [&] { ++calls; });  // the handle is dropped: the heap keeps it registered
    }
    EXPECT_EQ(calls, 0);
    EXPECT_EQ(ouro::gc::collect(), 1u);
    EXPECT_EQ(calls, 1);
}

TEST_F(FinalizeApi, CallRunsItNowAndOnlyOnce) {
    int calls = 0;
    auto obj = ouro::make<Item>();
    auto f = ouro::finalize(obj, [&] { ++calls; });
    auto copy = f;
    f();
    EXPECT_EQ(calls, 1);
    EXPECT_FALSE(copy.alive());
    copy();
    obj = nullptr;
    EXPECT_EQ(calls, 1);
}

TEST_F(FinalizeApi, DetachAndPeek) {
    int calls = 0;
    auto obj = ouro::make<Item>();
    auto f = ouro::finalize(obj, [&] { ++calls; });
    auto peeked = f.peek();
    ASSERT_TRUE(peeked);
    EXPECT_EQ(peeked->first, obj);
    EXPECT_TRUE(f.alive());
    auto detached = f.detach();
    ASSERT_TRUE(detached);
    EXPECT_EQ(detached->first, obj);
    EXPECT_FALSE(f.alive());
    EXPECT_FALSE(f.peek());
    EXPECT_FALSE(f.detach());
    peeked.reset();
    detached->second();  // the function is handed back, callable
    EXPECT_EQ(calls, 1);
    detached.reset();
    obj = nullptr;
    EXPECT_EQ(calls, 1);  // detached: not run at death
}

TEST_F(FinalizeApi, ExceptionFromTheFunctionIsReported) {
    std::vector<std::string> where;
    auto previous = ouro::set_unraisable_hook([&](std::exception_ptr, std::string_view w) { where.emplace_back(w); });
    auto obj = ouro::make<Item>();
    ouro::finalize(obj, [] { throw std::runtime_error("boom"); });
    obj = nullptr;
    ouro::set_unraisable_hook(previous);
    ASSERT_EQ(where.size(), 1u);
}

TEST_F(FinalizeApi, CallPropagatesExceptions) {
    auto obj = ouro::make<Item>();
    auto f = ouro::finalize(obj, [] { throw std::runtime_error("boom"); });
    EXPECT_THROW(f(), std::runtime_error);
    EXPECT_FALSE(f.alive());
}

TEST_F(FinalizeApi, InvalidArguments) {
    EXPECT_THROW(ouro::finalize(nullptr, [] {}), std::invalid_argument);
    EXPECT_THROW(ouro::finalize(ouro::make<Item>(), nullptr), std::invalid_argument);
    ouro::Finalizer empty;
    EXPECT_FALSE(empty.alive());
    empty();
}

TEST(FinalizeAtExit, AliveAtexitFinalizersRunNewestFirstWhenTheHeapDies) {
    std::vector<int> order;
    ouro::Ref<Item> outlives;
    {
        ouro::Heap heap;
        ouro::Heap::Scope scope(heap);
        outlives = ouro::make<Item>();
        ouro::finalize(outlives, [&] { order.push_back(1); });
        ouro::finalize(outlives, [&] { order.push_back(2); });
        auto quiet = ouro::finalize(outlives, [&] { order.push_back(3); });
        quiet.set_atexit(false);
        EXPECT_FALSE(quiet.atexit());
        auto dies_later = ouro::make<Item>();
        dies_later->next = dies_later;
        ouro::finalize(dies_later, [&] { order.push_back(4); });
    }
    // atexit ones first, newest first; the non-atexit one never runs.
    ASSERT_EQ(order.size(), 3u);
    EXPECT_EQ(order[0], 4);
    EXPECT_EQ(order[1], 2);
    EXPECT_EQ(order[2], 1);
    outlives = nullptr;  // an orphan now: its death runs nothing more
    EXPECT_EQ(order.size(), 3u);
}

TEST_F(FinalizeApi, MayAllocateAndCollectInsideTheCallback) {
    int calls = 0;
    {
        auto obj = ouro::make<Item>();
        obj->next = obj;
        ouro::finalize(obj, [&] {
            auto fresh = ouro::make<Item>();
            fresh->next = fresh;
            EXPECT_EQ(ouro::gc::collect(), 0u);  // inside a collection
            ++calls;
        });
    }
    EXPECT_EQ(ouro::gc::collect(), 1u);
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(ouro::gc::collect(), 1u);  // the object the callback made
}

}  // namespace
