// ouro::List: references and values, Python's operations and errors, CPython's growth, cycles
// through lists, hand-overs of their buffers, pins against changes during iteration, user code
// that re-enters the list, allocation failures. (Python's own list is checked against it, operation
// by operation, in test_containers_python.cpp.)
#include "support.hpp"

#include <ouro/list.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

namespace {

using support::HookCapture;

struct Item : ouro::Object {
    static inline int made = 0, destroyed = 0;
    int value;
    explicit Item(int v = 0) : value(v) { ++made; }
    ~Item() override { ++destroyed; }
    bool operator<(const Item& other) const { return value < other.value; }
};

// A node whose children are a List member.
struct Tree : ouro::Object {
    static inline int destroyed = 0;
    int value;
    ouro::List<Tree> children;
    ouro::Ref<Tree> parent;
    explicit Tree(int v = 0) : value(v) {}
    ~Tree() override { ++destroyed; }
    OURO_TRACE(children, parent)
};

class ListTest : public support::QuietHeapTest {
protected:
    void SetUp() override { support::reset(Item::made, Item::destroyed, Tree::destroyed); }
};

std::vector<int> values(const ouro::List<Item>& l) {
    std::vector<int> v;
    for (const auto& x : l) v.push_back(x ? x->value : -1);
    return v;
}

TEST_F(ListTest, HoldsReferencesAndCountsThem) {
    auto l = ouro::make<ouro::List<Item>>();
    auto a = ouro::make<Item>(1);
    l->append(a);
    l->append(a);
    EXPECT_EQ(ouro::sys::getrefcount(*a), 3u);
    EXPECT_EQ(ouro::len(*l), 2u);
    EXPECT_EQ((*l)[-1], a);
    EXPECT_EQ(l->count(a), 2u);
    l->remove(a);
    EXPECT_EQ(ouro::sys::getrefcount(*a), 2u);
    ouro::Ref<Item> popped = l->pop();
    EXPECT_EQ(popped, a);
    EXPECT_TRUE(l->empty());
    popped = nullptr;
    a = nullptr;
    EXPECT_EQ(Item::destroyed, 1);
    EXPECT_TRUE(ouro::gc::is_tracked(*l));
    EXPECT_FALSE(ouro::gc::is_tracked(*ouro::make<ouro::List<int>>()));
}

TEST_F(ListTest, GrowsInCPythonsStepsAndReportsItsBuffer) {
    auto l = ouro::make<ouro::List<Item>>();
    const std::size_t empty = ouro::sys::getsizeof(*l);
    EXPECT_LE(empty, 56u);  // CPython 3.11: sys.getsizeof([]) == 56
    std::vector<std::size_t> steps;
    auto item = ouro::make<Item>();
    for (int i = 0; i < 100; ++i) {
        if (steps.empty() || steps.back() != l->capacity()) steps.push_back(l->capacity());
        EXPECT_EQ(ouro::sys::getsizeof(*l), empty + 8 * l->capacity());
        l->append(item);
    }
    EXPECT_EQ(steps, (std::vector<std::size_t>{0, 4, 8, 16, 24, 32, 40, 52, 64, 76, 92, 108}));
    // list(seq) and list.extend(seq) on an empty list allocate exactly (rounded up to even).
    ouro::List<int> three{1, 2, 3};
    EXPECT_EQ(three.capacity(), 4u);
    // Popping shrinks the buffer once the size falls below half of it.
    while (l->size() > 10) l->pop();
    EXPECT_LT(l->capacity(), 24u);
}

TEST_F(ListTest, BuffersComeFromTheHeapsPoolsForManagedListsAndMembers) {
    auto before = ouro::sys::mallocstats();
    auto l = ouro::make<ouro::List<int>>();
    l->extend(std::vector<int>(50, 7));  // 400 bytes: a pool block
    auto t = ouro::make<Tree>();
    t->children.append(ouro::make<Tree>());
    ouro::List<int> local{1, 2, 3};  // a local: malloc, so it may go to another thread
    auto after = ouro::sys::mallocstats();
    std::size_t blocks_before = 0, blocks_after = 0;
    for (const auto& c : before.classes) blocks_before += c.blocks_in_use;
    for (const auto& c : after.classes) blocks_after += c.blocks_in_use;
    // make<List>, make<Tree> x 2, and two buffers from the pools; the local's is not.
    EXPECT_EQ(blocks_after - blocks_before, 5u);
}

TEST_F(ListTest, ASelfReferencingListIsCollected) {
    {
        auto l = ouro::make<ouro::List<ouro::Object>>();
        ouro::Ref<ouro::List<ouro::Object>> self(l.get());
        l->append(self);
        l->append(self);
    }
    EXPECT_EQ(ouro::gc::collect(), 1u);
}

TEST_F(ListTest, CyclesThroughMemberListsAreCollected) {
    {
        auto root = ouro::make<Tree>(0);
        for (int i = 1; i <= 100; ++i) {
            auto child = ouro::make<Tree>(i);
            child->parent = root;
            root->children.append(child);
        }
    }
    EXPECT_EQ(Tree::destroyed, 0);
    EXPECT_EQ(ouro::gc::collect(), 101u);
    EXPECT_EQ(Tree::destroyed, 101);
}

TEST_F(ListTest, LiveItemsSurviveCollections) {
    auto root = ouro::make<Tree>(0);
    for (int i = 1; i <= 200; ++i) {
        auto child = ouro::make<Tree>(i);
        child->parent = root;
        root->children.append(child);
    }
    EXPECT_EQ(ouro::gc::collect(), 0u);
    ASSERT_EQ(root->children.size(), 200u);
    for (int i = 0; i < 200; ++i) EXPECT_EQ(root->children[i]->value, i + 1);
    EXPECT_EQ(Tree::destroyed, 0);
}

// Buffers change hands with no count changing: moves, swaps and extend(std::move(...)). The
// collector must see the references where they are now (docs/design.md §5).
TEST_F(ListTest, HandOversOfBuffersAreSeenByTheCollector) {
    auto a = ouro::make<Tree>(1);
    auto b = ouro::make<Tree>(2);
    a->children.append(b);
    // swap: b's children now hold b (a self-cycle), a's are empty.
    swap(a->children, b->children);
    b = nullptr;
    EXPECT_EQ(ouro::gc::collect(), 1u);  // b, through its own list
    EXPECT_EQ(Tree::destroyed, 1);

    // A buffer moved out to a local keeps its items alive through collections...
    auto c = ouro::make<Tree>(3);
    c->children.append(ouro::make<Tree>(4));
    c->children[0]->parent = c;
    ouro::List<Tree> held(std::move(c->children));
    c = nullptr;
    EXPECT_EQ(ouro::gc::collect(), 0u);
    EXPECT_EQ(held[0]->parent->value, 3);
    // ...and moved back into an object, closes the cycle: garbage once the local is gone.
    held[0]->children = std::move(held);
    EXPECT_EQ(ouro::gc::collect(), 2u);

    // extend(std::move(other)) splices: references move, other is left empty.
    auto d = ouro::make<Tree>(5);
    auto e = ouro::make<Tree>(6);
    e->children.append(d);
    e->children.append(e);
    d->children.append(ouro::make<Tree>(7));
    d->children.extend(std::move(e->children));
    EXPECT_TRUE(e->children.empty());
    EXPECT_EQ(d->children.size(), 3u);
    e = nullptr;
    EXPECT_EQ(ouro::gc::collect(), 0u);  // d holds everything and is held
    d = nullptr;
    EXPECT_EQ(ouro::gc::collect(), 3u);
}

TEST_F(ListTest, PythonsErrors) {
    ouro::List<Item> l;
    auto expect_what = [](auto&& f, const char* what) {
        try {
            f();
            ADD_FAILURE() << "no exception, expected: " << what;
        } catch (const std::exception& e) {
            EXPECT_STREQ(e.what(), what);
        }
    };
    EXPECT_THROW(l.pop(), std::out_of_range);
    expect_what([&] { l.pop(); }, "pop from empty list");
    expect_what([&] { (void)l[0]; }, "list index out of range");
    l.append(ouro::make<Item>(1));
    expect_what([&] { l.pop(5); }, "pop index out of range");
    expect_what([&] { (void)l[-2]; }, "list index out of range");
    expect_what([&] { l.del_item(3); }, "list assignment index out of range");
    auto other = ouro::make<Item>(2);
    EXPECT_THROW(l.remove(other), std::invalid_argument);
    expect_what([&] { l.remove(other); }, "list.remove(x): x not in list");
    expect_what([&] { (void)l.index(other); }, "list.index(x): x not in list");
    expect_what([&] { (void)l.slice({}, {}, 0); }, "slice step cannot be zero");
    expect_what([&] { l.set_slice({}, {}, 2, std::vector<ouro::Ref<Item>>{other, other}); },
                "attempt to assign sequence of size 2 to extended slice of size 1");
    EXPECT_EQ(l.size(), 1u);  // nothing changed
}

TEST_F(ListTest, ChangingSizeDuringIterationThrowsAndChangesNothing) {
    auto l = ouro::make<ouro::List<Item>>();
    for (int i = 0; i < 5; ++i) l->append(ouro::make<Item>(i));
    int seen = 0;
    for (auto& x : *l) {
        EXPECT_THROW(l->append(x), std::runtime_error);
        EXPECT_THROW(l->pop(), std::runtime_error);
        EXPECT_THROW(l->clear(), std::runtime_error);
        EXPECT_THROW(l->insert(0, x), std::runtime_error);
        EXPECT_THROW(*l = ouro::List<Item>(), std::runtime_error);
        x = ouro::make<Item>(x->value + 10);  // assignment is allowed
        ++seen;
    }
    EXPECT_EQ(seen, 5);
    EXPECT_EQ(values(*l), (std::vector<int>{10, 11, 12, 13, 14}));
    l->append(ouro::make<Item>(5));  // the iterators are gone
    // An index loop may change the list, as Python's for loop over a list may.
    for (std::size_t i = 0; i < l->size(); ++i)
        if ((*l)[i]->value == 12) l->pop(i);
    EXPECT_EQ(values(*l), (std::vector<int>{10, 11, 13, 14, 5}));
}

TEST_F(ListTest, AnIteratorKeepsAManagedListAlive) {
    auto l = ouro::make<ouro::List<Item>>();
    for (int i = 0; i < 3; ++i) l->append(ouro::make<Item>(i));
    int sum = 0;
    for (auto& x : *l) {
        l = nullptr;  // the loop's iterators still hold it, as Python's iterator holds its list
        sum += x->value;
    }
    EXPECT_EQ(sum, 3);
    EXPECT_EQ(Item::destroyed, 3);
}

TEST(ListDeathTest, DestroyingAMemberListUnderAnIteratorStops) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_DEATH(
        {
            auto t = ouro::make<Tree>();
            t->children.append(ouro::make<Tree>());
            for ([[maybe_unused]] auto& c : t->children) t = nullptr;
        },
        "destroyed while an iterator");
}

TEST_F(ListTest, SortIsStableWithKeysAndReverse) {
    ouro::List<Item> l;
    for (int v : {3, 1, 2, 1, 3, 0}) l.append(ouro::make<Item>(v));
    std::vector<const Item*> before;
    for (auto& x : l) before.push_back(x.get());
    l.sort();
    EXPECT_EQ(values(l), (std::vector<int>{0, 1, 1, 2, 3, 3}));
    EXPECT_EQ(l[1].get(), before[1]);  // equal items keep their order
    EXPECT_EQ(l[2].get(), before[3]);
    l.sort(true);
    EXPECT_EQ(values(l), (std::vector<int>{3, 3, 2, 1, 1, 0}));
    EXPECT_EQ(l[0].get(), before[0]);  // reverse keeps stability, as Python's
    l.sort([](const ouro::Ref<Item>& x) { return x->value % 2; });
    EXPECT_EQ(values(l), (std::vector<int>{2, 0, 3, 3, 1, 1}));
    l.append(nullptr);
    EXPECT_THROW(l.sort(), std::invalid_argument);  // None cannot be ordered
    EXPECT_EQ(l.size(), 7u);
    EXPECT_EQ(l[-1], nullptr);
}

TEST_F(ListTest, AKeyThatThrowsOrChangesTheListLeavesItAsItWas) {
    auto l = ouro::make<ouro::List<Item>>();
    for (int v : {5, 4, 3, 2, 1}) l->append(ouro::make<Item>(v));
    int calls = 0;
    EXPECT_THROW(l->sort([&](const ouro::Ref<Item>& x) {
        if (++calls == 3) throw std::runtime_error("key");
        return x->value;
    }),
                 std::runtime_error);
    EXPECT_EQ(values(*l), (std::vector<int>{5, 4, 3, 2, 1}));
    // Python raises "list modified during sort"; here the change itself is refused.
    EXPECT_THROW(l->sort([&](const ouro::Ref<Item>& x) {
        l->append(x);
        return x->value;
    }),
                 std::runtime_error);
    EXPECT_EQ(values(*l), (std::vector<int>{5, 4, 3, 2, 1}));
}

// Values whose == is user code: a comparison that tries to change the list is refused.
struct Evil {
    int v;
    ouro::List<Evil>* list = nullptr;
    bool operator==(const Evil& o) const {
        if (list) list->append(Evil{99});
        return v == o.v;
    }
};

TEST_F(ListTest, UserComparisonsCannotChangeTheListUnderASearch) {
    ouro::List<Evil> l;
    l.append(Evil{1});
    l.append(Evil{2});
    l[0].list = &l;
    EXPECT_THROW((void)l.index(Evil{2}), std::runtime_error);
    EXPECT_THROW(l.remove(Evil{2}), std::runtime_error);
    EXPECT_EQ(l.size(), 2u);
    l[0].list = nullptr;
    l.remove(Evil{2});
    EXPECT_EQ(l.size(), 1u);
}

// An item whose destructor changes the list it was in.
struct Meddler : ouro::Object {
    static inline ouro::List<Meddler>* list = nullptr;
    ~Meddler() override {
        if (list && !list->empty()) list->pop();
        if (list) list->append(nullptr);
    }
};

TEST_F(ListTest, DestructorsOfDroppedItemsMayChangeTheList) {
    ouro::List<Meddler> l;
    for (int i = 0; i < 6; ++i) l.append(ouro::make<Meddler>());
    Meddler::list = &l;
    l.pop(0);        // the item dies after the list is consistent; its destructor pops another
    l.del_item(-1);
    l.del_slice(0, 2);
    l.set_slice(0, 1, std::vector<ouro::Ref<Meddler>>{});
    l.clear();       // the items are detached first: the destructors see an empty list
    Meddler::list = nullptr;
    for (auto& x : l) EXPECT_EQ(x, nullptr);
}

TEST_F(ListTest, SlicesAndCopies) {
    ouro::List<int> l{0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    EXPECT_EQ(l.slice(2, 5), (ouro::List<int>{2, 3, 4}));
    EXPECT_EQ(l.slice({}, {}, -3), (ouro::List<int>{9, 6, 3, 0}));
    EXPECT_EQ(l.slice(-3, {}), (ouro::List<int>{7, 8, 9}));
    auto m = l.copy();
    m.del_slice({}, {}, 2);
    EXPECT_EQ(m, (ouro::List<int>{1, 3, 5, 7, 9}));
    m.set_slice(1, 3, std::vector<int>{20, 21, 22, 23});
    EXPECT_EQ(m, (ouro::List<int>{1, 20, 21, 22, 23, 7, 9}));
    m.set_slice({}, {}, -2, std::vector<int>{0, 0, 0, 0});
    EXPECT_EQ(m, (ouro::List<int>{0, 20, 0, 22, 0, 7, 0}));
    m.set_slice(0, {}, m);  // from itself
    EXPECT_EQ(m.size(), 7u);
    m.extend(m);
    EXPECT_EQ(m.size(), 14u);
    ouro::List<std::string> s{"b", "a"};
    s.sort();
    EXPECT_EQ(s[0], "a");
    s.insert(-100, "z");
    EXPECT_EQ(s[0], "z");
}

// Items that are not plain (moved by their own constructors, not memcpy) against std::vector.
TEST_F(ListTest, NonPlainItemsAgreeWithStdVector) {
    ouro::List<std::string> l;
    std::vector<std::string> model;
    for (int i = 0; i < 300; ++i) {
        std::string s(static_cast<std::size_t>(i % 40), static_cast<char>('a' + i % 26));  // long ones allocate
        switch (i % 6) {
            case 0:
            case 1: l.append(s); model.push_back(s); break;
            case 2: l.insert(i % 7, s); model.insert(model.begin() + std::min<std::size_t>(i % 7, model.size()), s); break;
            case 3: if (!model.empty()) { EXPECT_EQ(l.pop(0), model.front()); model.erase(model.begin()); } break;
            case 4:
                l.set_slice(1, 3, std::vector<std::string>{s, s, s});
                model.erase(model.begin() + std::min<std::size_t>(1, model.size()), model.begin() + std::min<std::size_t>(3, model.size()));
                model.insert(model.begin() + std::min<std::size_t>(1, model.size()), 3, s);
                break;
            default:
                l.del_slice(0, {}, 5);
                for (std::size_t k = (model.size() + 4) / 5; k-- > 0;) model.erase(model.begin() + static_cast<std::ptrdiff_t>(5 * k));
                break;
        }
        ASSERT_EQ(std::vector<std::string>(l.begin(), l.end()), model) << i;
    }
    l.sort();
    std::stable_sort(model.begin(), model.end());
    EXPECT_EQ(std::vector<std::string>(l.begin(), l.end()), model);
}

TEST_F(ListTest, DeepNestingIsFreedWithoutRecursion) {
    using Nested = ouro::List<ouro::Object>;
    ouro::Ref<Nested> top = ouro::make<Nested>();
    for (int i = 0; i < 100000; ++i) {
        auto next = ouro::make<Nested>();
        next->append(std::move(top));
        top = std::move(next);
    }
    top = nullptr;  // a 100,000-deep chain of lists dies by its counts
    SUCCEED();
}

TEST_F(ListTest, TracesAreComplete) {
    HookCapture hook;
    auto t = ouro::make<Tree>();
    t->children.append(ouro::make<Tree>());
    auto l = ouro::make<ouro::List<Tree>>(std::vector<ouro::Ref<Tree>>{t, t});
    EXPECT_EQ(ouro::gc::get_referents(*l).size(), 2u);
    EXPECT_EQ(ouro::gc::get_referents(*t).size(), 1u);
    ouro::gc::collect();
    EXPECT_TRUE(hook.reports.empty());  // checked builds: no member left out, no slot visited twice
}

#ifdef OURO_FAULT_INJECTION
// Every operation either completes or throws std::bad_alloc having changed nothing (pops and
// removals never allocate), and nothing leaks.
TEST_F(ListTest, AllocationFailuresLeaveTheListConsistent) {
    for (std::uint64_t fail_at = 1; fail_at < 60; ++fail_at) {
        auto l = ouro::make<ouro::List<Item>>();
        std::vector<int> model;
        ouro::detail::t_fault_countdown = fail_at;
        for (int i = 0; i < 40; ++i) {
            try {
                auto x = ouro::make<Item>(i);
                switch (i % 4) {
                    case 0:
                    case 1:
                        l->append(x);
                        model.push_back(i);
                        break;
                    case 2:
                        l->insert(0, x);
                        model.insert(model.begin(), i);
                        break;
                    default:
                        l->extend(std::vector<ouro::Ref<Item>>(3, x));
                        model.insert(model.end(), 3, i);
                        break;
                }
            } catch (const std::bad_alloc&) {
            }
        }
        ouro::detail::t_fault_countdown = 0;
        EXPECT_EQ(values(*l), model) << "failure at allocation " << fail_at;
        while (!l->empty()) l->pop();
        l = nullptr;
    }
    EXPECT_EQ(Item::made, Item::destroyed);  // nothing leaked
}
#endif

}  // namespace
