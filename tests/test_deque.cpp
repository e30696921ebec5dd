// ouro::Deque: both ends, maxlen, rotation, O(1) indexing over blocks of 64, cycles through
// deques, changes during iteration, allocation failures. (Python's deque is checked against it in
// test_containers_python.cpp, blocks included.)
#include "support.hpp"

#include <ouro/deque.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <string>
#include <vector>

namespace {

struct Job : ouro::Object {
    static inline int made = 0, destroyed = 0;
    int id;
    ouro::Deque<Job> waiting;  // a member deque of the same class
    ouro::Ref<ouro::Object> owner;
    explicit Job(int i = 0) : id(i) { ++made; }
    ~Job() override { ++destroyed; }
    OURO_TRACE(waiting, owner)
};

class DequeTest : public support::QuietHeapTest {
protected:
    void SetUp() override { support::reset(Job::made, Job::destroyed); }
};

template <class D>
std::vector<long> items(const D& d) {
    return std::vector<long>(d.begin(), d.end());
}

TEST_F(DequeTest, BothEndsAgreeWithStdDeque) {
    ouro::Deque<long> d;
    std::deque<long> model;
    for (long i = 0; i < 20000; ++i) {
        switch (i * 7919 % 5) {
            case 0:
            case 1: d.append(i); model.push_back(i); break;
            case 2: d.appendleft(i); model.push_front(i); break;
            case 3: if (!model.empty()) { ASSERT_EQ(d.pop(), model.back()); model.pop_back(); } break;
            default: if (!model.empty()) { ASSERT_EQ(d.popleft(), model.front()); model.pop_front(); } break;
        }
        ASSERT_EQ(d.size(), model.size());
    }
    for (std::size_t i = 0; i < model.size(); i += 97) ASSERT_EQ(d[static_cast<std::ptrdiff_t>(i)], model[i]);
    EXPECT_EQ(d[-1], model.back());
    EXPECT_EQ(items(d), std::vector<long>(model.begin(), model.end()));
}

TEST_F(DequeTest, NonPlainItemsAgreeWithStdDeque) {
    ouro::Deque<std::string> d;
    std::deque<std::string> model;
    for (int i = 0; i < 3000; ++i) {
        std::string s(static_cast<std::size_t>(i % 30), static_cast<char>('a' + i % 26));
        switch (i % 7) {
            case 0: d.append(s); model.push_back(s); break;
            case 1: d.appendleft(s); model.push_front(s); break;
            case 2: d.insert(i % 11, s); model.insert(model.begin() + std::min<std::size_t>(i % 11, model.size()), s); break;
            case 3:
                if (!model.empty()) {
                    d.del_item(static_cast<std::ptrdiff_t>(i % model.size()));
                    model.erase(model.begin() + static_cast<std::ptrdiff_t>(i % model.size()));
                }
                break;
            case 4: {
                d.rotate(i % 100 - 50);
                if (!model.empty()) {
                    const long n = static_cast<long>(model.size()), r = ((i % 100 - 50) % n + n) % n;
                    std::rotate(model.begin(), model.end() - r, model.end());
                }
                break;
            }
            default: d.append(s); model.push_back(s); break;
        }
        if (i % 97 == 0 || i == 2999) {
            ASSERT_EQ(std::vector<std::string>(d.begin(), d.end()), std::vector<std::string>(model.begin(), model.end())) << i;
        }
    }
}

TEST_F(DequeTest, MaxlenDropsFromTheOtherEnd) {
    ouro::Deque<long> d({1, 2, 3}, 3);
    d.append(4);
    EXPECT_EQ(items(d), (std::vector<long>{2, 3, 4}));
    d.appendleft(0);
    EXPECT_EQ(items(d), (std::vector<long>{0, 2, 3}));
    d.extend(std::vector<long>{7, 8, 9, 10});
    EXPECT_EQ(items(d), (std::vector<long>{8, 9, 10}));
    d.extendleft(std::vector<long>{1, 2});
    EXPECT_EQ(items(d), (std::vector<long>{2, 1, 8}));
    EXPECT_EQ(d.maxlen(), 3u);
    EXPECT_THROW(d.insert(1, 5), std::out_of_range);
    ouro::Deque<long> none(0);
    none.append(1);
    EXPECT_TRUE(none.empty());
    EXPECT_EQ(ouro::Deque<long>().maxlen(), std::nullopt);
}

TEST_F(DequeTest, RotateInsertRemove) {
    ouro::Deque<long> d({0, 1, 2, 3, 4, 5, 6});
    d.rotate(2);
    EXPECT_EQ(items(d), (std::vector<long>{5, 6, 0, 1, 2, 3, 4}));
    d.rotate(-3);
    EXPECT_EQ(items(d), (std::vector<long>{1, 2, 3, 4, 5, 6, 0}));
    d.rotate(700);  // modulo the length
    EXPECT_EQ(items(d), (std::vector<long>{1, 2, 3, 4, 5, 6, 0}));
    d.insert(2, 9);
    d.insert(-1, 8);
    d.insert(100, 7);
    EXPECT_EQ(items(d), (std::vector<long>{1, 2, 9, 3, 4, 5, 6, 8, 0, 7}));
    d.remove(9);
    d.del_item(-2);
    EXPECT_EQ(items(d), (std::vector<long>{1, 2, 3, 4, 5, 6, 8, 7}));
    EXPECT_EQ(d.index(5), 4u);
    EXPECT_EQ(d.count(8), 1u);
    d.reverse();
    EXPECT_EQ(items(d), (std::vector<long>{7, 8, 6, 5, 4, 3, 2, 1}));
    // Big rotations cross many blocks.
    ouro::Deque<long> big;
    for (long i = 0; i < 1000; ++i) big.append(i);
    big.rotate(333);
    EXPECT_EQ(big[0], 667);
    big.rotate(-333);
    EXPECT_EQ(big[999], 999);
}

TEST_F(DequeTest, PythonsErrors) {
    ouro::Deque<long> d;
    auto what = [](auto&& f) -> std::string {
        try {
            f();
        } catch (const std::exception& e) {
            return e.what();
        }
        return "none";
    };
    EXPECT_EQ(what([&] { d.pop(); }), "pop from an empty deque");
    EXPECT_EQ(what([&] { d.popleft(); }), "pop from an empty deque");
    EXPECT_EQ(what([&] { (void)d[0]; }), "deque index out of range");
    EXPECT_EQ(what([&] { d.remove(1); }), "deque.remove(x): x not in deque");
    EXPECT_THROW(d.remove(1), std::invalid_argument);
    EXPECT_THROW(d.del_item(0), std::out_of_range);
}

TEST_F(DequeTest, MutationDuringIterationThrows) {
    auto d = ouro::make<ouro::Deque<long>>(std::vector<long>{1, 2, 3});
    long sum = 0;
    for (long& x : *d) {
        EXPECT_THROW(d->append(x), std::runtime_error);
        EXPECT_THROW(d->popleft(), std::runtime_error);
        EXPECT_THROW(d->rotate(1), std::runtime_error);
        x *= 2;
        sum += x;
    }
    EXPECT_EQ(sum, 12);
    d->rotate(1);
    EXPECT_EQ((*d)[0], 6);
}

TEST_F(DequeTest, CyclesThroughDequesAreCollected) {
    {
        auto q = ouro::make<ouro::Deque<Job>>();
        for (int i = 0; i < 500; ++i) {
            auto j = ouro::make<Job>(i);
            j->owner = q;  // every job references the queue that holds it
            if (i % 2) q->append(j);
            else q->appendleft(j);
        }
        auto a = ouro::make<Job>(1000), b = ouro::make<Job>(1001);
        a->waiting.append(b);  // through member deques
        b->waiting.append(a);
    }
    EXPECT_EQ(ouro::gc::collect(), 503u);
    EXPECT_EQ(Job::destroyed, 502);
}

TEST_F(DequeTest, HandOversAreSeenByTheCollector) {
    auto a = ouro::make<Job>(1), b = ouro::make<Job>(2);
    a->waiting.append(b);
    swap(a->waiting, b->waiting);  // b now waits for itself
    b = nullptr;
    EXPECT_EQ(ouro::gc::collect(), 1u);
    auto c = ouro::make<Job>(3);
    c->waiting.append(c);
    ouro::Deque<Job> local(std::move(c->waiting));
    c = nullptr;
    EXPECT_EQ(ouro::gc::collect(), 0u);
    local[0]->waiting = std::move(local);
    EXPECT_EQ(ouro::gc::collect(), 1u);
    a = nullptr;
    EXPECT_EQ(Job::made, Job::destroyed);
}

TEST_F(DequeTest, BlocksAreCountedAsCPythonsAre) {
    auto d = ouro::make<ouro::Deque<Job>>();
    EXPECT_EQ(d->owned_bytes(), 0u);  // no block until the first item (CPython allocates one at once)
    auto j = ouro::make<Job>();
    std::vector<std::size_t> changes;
    std::size_t last = ouro::sys::getsizeof(*d);
    for (int i = 0; i < 300; ++i) {
        d->append(j);
        if (ouro::sys::getsizeof(*d) != last) changes.push_back(static_cast<std::size_t>(i));
        last = ouro::sys::getsizeof(*d);
    }
    // CPython 3.11: a new block at 0 (here), 32, 96, 160, 224, 288 appended items (the first
    // starts in the middle of its block); the ring of block pointers grows at 4 and 8 blocks.
    for (std::size_t c : {0u, 32u, 96u, 160u, 224u, 288u}) EXPECT_NE(std::find(changes.begin(), changes.end(), c), changes.end()) << c;
    EXPECT_LT(ouro::sys::getsizeof(*d), 760u + 5 * 528u);  // CPython: 3400 bytes
}

#ifdef OURO_FAULT_INJECTION
TEST_F(DequeTest, AllocationFailuresLoseNothing) {
    for (std::uint64_t fail_at = 1; fail_at < 30; ++fail_at) {
        ouro::Deque<Job> d;
        std::size_t expected = 0;
        ouro::detail::t_fault_countdown = fail_at;
        for (int i = 0; i < 300; ++i) {
            try {
                auto j = ouro::make<Job>(i);
                if (i % 3 == 0) d.appendleft(j);
                else d.append(j);
                ++expected;
                if (i % 7 == 0) d.rotate(static_cast<std::ptrdiff_t>(i % 130));
                if (i % 11 == 0) d.insert(static_cast<std::ptrdiff_t>(i % 17), j), ++expected;
            } catch (const std::bad_alloc&) {
            }
        }
        ouro::detail::t_fault_countdown = 0;
        EXPECT_EQ(d.size(), expected) << "failure at allocation " << fail_at;
        std::size_t n = 0;
        for (auto& j : d) n += j != nullptr;
        EXPECT_EQ(n, expected);
    }
    EXPECT_EQ(Job::made, Job::destroyed);
}
#endif

}  // namespace
