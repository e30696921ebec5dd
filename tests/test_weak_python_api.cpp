// The rest of CPython's weakref module, as test_weakref.py and test_weakset.py exercise it:
// WeakSet's set algebra, pop, remove and update; pop, popitem, setdefault, update, keyrefs and
// valuerefs on the weak dictionaries; members and keys compared by value; weakref.proxy
// (ouro::Proxy) and weakref.WeakMethod (ouro::WeakMethod). Hazards (deaths mid-iteration, user
// code inside container operations) are in test_weak_containers.cpp.
#include <ouro/detail/invariants.hpp>
#include <ouro/ouro.hpp>

#include <gtest/gtest.h>

#include "support.hpp"

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

namespace {

int g_destroyed = 0;

struct Item : ouro::Object {
    int value;
    ouro::Ref<ouro::Object> next;
    explicit Item(int v = 0) : value(v) {}
    ~Item() override { ++g_destroyed; }
    void trace(ouro::Visitor& visit) override { visit(next); }
    bool operator==(const Item& o) const noexcept { return value == o.value; }
    int add(int x) {
        value += x;
        return value;
    }
    int times(int x) const { return value * x; }
    int operator()(int x) const { return value + x; }
};
struct ItemHash {
    std::size_t operator()(const Item& i) const noexcept { return std::hash<int>()(i.value); }
};
using ValueSet = ouro::WeakSet<Item, ItemHash, std::equal_to<Item>>;
using Set = ouro::WeakSet<Item>;

std::vector<ouro::Ref<Item>> items(int n, int first = 0) {
    std::vector<ouro::Ref<Item>> v;
    for (int i = 0; i < n; ++i) v.push_back(ouro::make<Item>(first + i));
    return v;
}
template <class S>
std::multiset<int> values(const S& s) {
    std::multiset<int> v;
    for (const auto& m : s) v.insert(m->value);
    return v;
}

class WeakApi : public support::QuietHeapTest {
protected:
    void SetUp() override { support::reset(g_destroyed); }
    void TearDown() override { EXPECT_EQ(ouro::detail::invariant_violation(heap), ""); }
};
using WeakSetApi = WeakApi;
using WeakDictApi = WeakApi;
using ProxyApi = WeakApi;
using WeakMethodApi = WeakApi;

}  // namespace

// --- WeakSet ------------------------------------------------------------------------------------

TEST_F(WeakSetApi, ByValueMembersCompareThroughTheReference) {
    auto a = ouro::make<Item>(1), a2 = ouro::make<Item>(1), b = ouro::make<Item>(2);
    ValueSet s;
    EXPECT_TRUE(s.insert(a));
    EXPECT_FALSE(s.insert(a2));  // equal: already a member (Python: ref(a) == ref(a2))
    EXPECT_TRUE(s.contains(a2));
    EXPECT_TRUE(s.insert(b));
    EXPECT_EQ(s.size(), 2u);
    // As in Python, the member is the first one: it leaves when *it* dies, equal ones notwithstanding.
    a = nullptr;
    EXPECT_EQ(s.size(), 1u);
    EXPECT_FALSE(s.contains(a2));
    EXPECT_TRUE(s.insert(a2));
    EXPECT_EQ(s.erase(ouro::make<Item>(2)), 1u);  // erase by an equal value
    EXPECT_EQ(values(s), (std::multiset<int>{1}));

    Set by_identity;  // the default
    by_identity.insert(a2);
    EXPECT_FALSE(by_identity.contains(ouro::make<Item>(1)));
}

TEST_F(WeakSetApi, SetAlgebraAsPython) {
    auto v = items(6);  // values 0..5
    Set s{v[0], v[1], v[2], v[3]};
    Set t{v[2], v[3], v[4], v[5]};
    EXPECT_EQ(values(s | t), (std::multiset<int>{0, 1, 2, 3, 4, 5}));
    EXPECT_EQ(values(s & t), (std::multiset<int>{2, 3}));
    EXPECT_EQ(values(s - t), (std::multiset<int>{0, 1}));
    EXPECT_EQ(values(s ^ t), (std::multiset<int>{0, 1, 4, 5}));
    EXPECT_EQ(values(s.intersection(std::vector<ouro::Ref<Item>>{v[0], v[5]})), (std::multiset<int>{0}));
    EXPECT_EQ(values(s.difference(std::vector<ouro::Ref<Item>>{v[0]})), (std::multiset<int>{1, 2, 3}));
    // A range with repeats toggles each member once, as Python's set(iterable) first.
    EXPECT_EQ(values(s.symmetric_difference(std::vector<ouro::Ref<Item>>{v[0], v[0], v[5]})),
              (std::multiset<int>{1, 2, 3, 5}));

    EXPECT_TRUE((s & t) <= s);
    EXPECT_TRUE((s & t) < s);
    EXPECT_FALSE(s < s);
    EXPECT_TRUE(s <= s);
    EXPECT_TRUE((s | t) > s);
    EXPECT_TRUE((s | t) >= t);
    EXPECT_TRUE(s == Set(s));
    EXPECT_FALSE(s == t);
    EXPECT_TRUE(s.issubset(v));
    EXPECT_TRUE(s.issuperset(std::vector<ouro::Ref<Item>>{v[1], v[2]}));
    EXPECT_FALSE(s.isdisjoint(t));
    EXPECT_TRUE((s - t).isdisjoint(t));

    Set u(s);
    u |= t;
    EXPECT_EQ(u.size(), 6u);
    u -= s;
    EXPECT_EQ(values(u), (std::multiset<int>{4, 5}));
    u ^= t;
    EXPECT_EQ(values(u), (std::multiset<int>{2, 3}));
    u &= s;
    EXPECT_EQ(values(u), (std::multiset<int>{2, 3}));
    // With itself (Python special-cases `self is other`).
    Set& same = u;
    u &= same;
    u |= same;
    u.update(same);
    EXPECT_EQ(u.size(), 2u);
    u ^= same;
    EXPECT_TRUE(u.empty());
    s.difference_update(s);
    EXPECT_TRUE(s.empty());

    // Members die inside results too.
    Set w = t | t;
    v[4] = nullptr;
    EXPECT_EQ(values(w), (std::multiset<int>{2, 3, 5}));
    EXPECT_EQ(w.size(), 3u);
}

TEST_F(WeakSetApi, SetAlgebraByValue) {
    auto v = items(4);
    auto twin = ouro::make<Item>(1);
    ValueSet s{v[0], v[1]};
    ValueSet t{twin, v[2]};
    EXPECT_EQ(values(s & t), (std::multiset<int>{1}));
    EXPECT_EQ(values(s | t), (std::multiset<int>{0, 1, 2}));
    EXPECT_TRUE(ValueSet{twin} <= s);
}

TEST_F(WeakSetApi, PopRemoveUpdate) {
    auto v = items(5);
    Set s;
    s.update(v);
    s.update(std::vector<ouro::Ref<Item>>{v[0]});
    EXPECT_EQ(s.size(), 5u);
    EXPECT_THROW(s.remove(ouro::make<Item>(9)), ouro::KeyError);
    s.remove(v[4]);
    EXPECT_FALSE(s.contains(v[4]));
    std::unordered_set<int> popped;
    v[3] = nullptr;  // dies: pop never yields it
    while (!s.empty()) {
        ouro::Ref<Item> m = s.pop();
        ASSERT_TRUE(m);
        EXPECT_TRUE(popped.insert(m->value).second);
    }
    EXPECT_EQ(popped, (std::unordered_set<int>{0, 1, 2}));
    EXPECT_THROW(s.pop(), ouro::KeyError);
    try {
        s.pop();
    } catch (const std::out_of_range& e) {  // KeyError is a std::out_of_range
        EXPECT_STREQ(e.what(), "pop from empty WeakSet");
    }
    EXPECT_THROW(s.insert(nullptr), std::invalid_argument);
}

TEST_F(WeakSetApi, PoppingAThousandMembersIsOnePass) {
    auto v = items(1000);
    Set s(v);
    for (int i = 0; i < 1000; ++i) s.pop();
    EXPECT_TRUE(s.empty());
    s.update(v);  // the slots are reused
    EXPECT_EQ(s.size(), 1000u);
}

// --- the weak dictionaries ----------------------------------------------------------------------

TEST_F(WeakDictApi, ValueDictionaryPopPopitemSetdefaultUpdate) {
    auto v = items(4);
    ouro::WeakValueDictionary<std::string, Item> d;
    d.insert_or_assign("a", v[0]);
    d.insert_or_assign("b", v[1]);
    EXPECT_EQ(d.pop("a"), v[0]);
    EXPECT_FALSE(d.contains("a"));
    EXPECT_THROW(d.pop("a"), ouro::KeyError);
    EXPECT_EQ(d.pop("a", v[3]), v[3]);
    // A dead entry: pop removes it and raises, as Python's.
    auto doomed = ouro::make<Item>(7);
    d.insert_or_assign("dead", doomed);
    ouro::WeakRef<ouro::Object> keep_entry = ouro::getweakrefs(*doomed).front();  // holds its record...
    doomed = nullptr;                                               // ...which the death clears
    EXPECT_FALSE(keep_entry.alive());
    EXPECT_THROW(d.pop("dead"), ouro::KeyError);
    EXPECT_EQ(d.size(), 1u);

    EXPECT_EQ(d.setdefault("b", v[2]), v[1]);  // there: unchanged
    EXPECT_EQ(d.setdefault("c", v[2]), v[2]);  // absent: put there
    EXPECT_EQ(d.get("c"), v[2]);
    EXPECT_THROW(d.setdefault("z", nullptr), std::invalid_argument);

    d.update(std::map<std::string, ouro::Ref<Item>>{{"b", v[3]}, {"d", v[0]}});
    EXPECT_EQ(d.get("b"), v[3]);
    EXPECT_EQ(d.size(), 3u);
    ouro::WeakValueDictionary<std::string, Item> e;
    e.insert_or_assign("e", v[1]);
    auto merged = d | e;
    EXPECT_EQ(merged.size(), 4u);
    d |= e;
    d.update(d);  // itself: nothing changes
    EXPECT_EQ(d.size(), 4u);

    std::map<std::string, int> taken;
    while (!d.empty()) {
        auto [k, val] = d.popitem();
        taken[k] = val->value;
    }
    EXPECT_EQ(taken, (std::map<std::string, int>{{"b", 3}, {"c", 2}, {"d", 0}, {"e", 1}}));
    EXPECT_THROW(d.popitem(), ouro::KeyError);
}

TEST_F(WeakDictApi, ValuerefsAreTheEntriesOwnRecords) {
    auto v = items(3);
    ouro::WeakValueDictionary<int, Item> d;
    for (int i = 0; i < 3; ++i) d.insert_or_assign(i, v[i]);
    auto refs = d.valuerefs();
    ASSERT_EQ(refs.size(), 3u);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(ouro::getweakrefcount(*v[i]), 1u);  // no new records
    std::multiset<int> seen;
    for (auto& r : refs) seen.insert(r()->value);
    EXPECT_EQ(seen, (std::multiset<int>{0, 1, 2}));
    v[0] = nullptr;
    EXPECT_EQ(d.size(), 2u);
    int dead = 0;
    for (auto& r : refs) dead += !r.alive();
    EXPECT_EQ(dead, 1);
    // A key given a new value while its record is held elsewhere gets a new entry; the held one
    // keeps the old value.
    d.insert_or_assign(1, v[2]);
    EXPECT_EQ(d.get(1), v[2]);
    int on_v1 = 0;
    for (auto& r : refs) on_v1 += r.alive() && r()->value == 1;
    EXPECT_EQ(on_v1, 1);
}

TEST_F(WeakDictApi, KeyDictionaryPopPopitemSetdefaultUpdateKeyrefs) {
    auto k = items(4);
    ouro::WeakKeyDictionary<Item, std::string> d;
    d.insert_or_assign(k[0], "zero");
    EXPECT_EQ(d.setdefault(k[0], "other"), "zero");
    EXPECT_EQ(d.setdefault(k[1], "one"), "one");
    EXPECT_EQ(d.setdefault(k[2]), "");  // V() by default, as Python's None
    EXPECT_EQ(d.pop(k[2]), "");
    EXPECT_THROW(d.pop(k[2]), ouro::KeyError);
    EXPECT_EQ(d.pop(k[2], "none"), "none");
    d.update(std::vector<std::pair<ouro::Ref<Item>, std::string>>{{k[2], "two"}, {k[3], "three"}});
    EXPECT_EQ(d.size(), 4u);
    auto refs = d.keyrefs();
    EXPECT_EQ(refs.size(), 4u);
    k[3] = nullptr;
    EXPECT_EQ(d.size(), 3u);
    int dead = 0;
    for (auto& r : refs) dead += !r.alive();
    EXPECT_EQ(dead, 1);
    auto copy = d | ouro::WeakKeyDictionary<Item, std::string>{};
    EXPECT_EQ(copy.size(), 3u);
    std::map<int, std::string> taken;
    while (!d.empty()) {
        auto [key, value] = d.popitem();
        taken[key->value] = value;
    }
    EXPECT_EQ(taken, (std::map<int, std::string>{{0, "zero"}, {1, "one"}, {2, "two"}}));
    EXPECT_THROW(d.popitem(), ouro::KeyError);
    EXPECT_EQ(copy.size(), 3u);
}

TEST_F(WeakDictApi, KeyDictionaryByValue) {
    // Python's gotcha kept: setting an equal key updates the entry of the first one, which goes
    // when that one dies.
    auto a = ouro::make<Item>(1), a2 = ouro::make<Item>(1);
    ouro::WeakKeyDictionary<Item, int, ItemHash, std::equal_to<Item>> d;
    EXPECT_TRUE(d.insert_or_assign(a, 10));
    EXPECT_FALSE(d.insert_or_assign(a2, 20));
    EXPECT_EQ(d.get(a), 20);
    EXPECT_EQ(d.size(), 1u);
    a = nullptr;
    EXPECT_TRUE(d.empty());
    EXPECT_FALSE(d.contains(a2));
    d.insert_or_assign(a2, 30);
    EXPECT_EQ(d.pop(ouro::make<Item>(1)), 30);
}

TEST_F(WeakDictApi, CyclesThroughValues) {
    // A value that refers to its own key keeps it alive (as in Python); values that form a cycle
    // among themselves are collected, and their entries go.
    {
        auto key = ouro::make<Item>(1);
        ouro::WeakKeyDictionary<Item, ouro::Ref<Item>> d;
        d.insert_or_assign(key, key);
        key = nullptr;
        ouro::gc::collect();
        EXPECT_EQ(d.size(), 1u);
        EXPECT_EQ(g_destroyed, 0);
        d.clear();
        EXPECT_EQ(g_destroyed, 1);
    }
    ouro::WeakValueDictionary<int, Item> d;
    {
        auto a = ouro::make<Item>(1), b = ouro::make<Item>(2);
        a->next = b;
        b->next = a;
        d.insert_or_assign(1, a);
        d.insert_or_assign(2, b);
    }
    EXPECT_EQ(d.size(), 2u);
    EXPECT_EQ(ouro::gc::collect(), 2u);
    EXPECT_TRUE(d.empty());
    EXPECT_THROW(d.popitem(), ouro::KeyError);
}

// --- weakref.proxy ------------------------------------------------------------------------------

TEST_F(ProxyApi, ActsAsItsReferentUntilItDies) {
    auto obj = ouro::make<Item>(5);
    ouro::Proxy<Item> p = ouro::proxy(obj);
    EXPECT_TRUE(p.alive());
    EXPECT_EQ(p->add(1), 6);
    EXPECT_EQ(p->times(2), 12);
    EXPECT_EQ(p(4), 10);  // a proxy of a callable calls it
    EXPECT_TRUE(p == ouro::proxy(obj));
    EXPECT_TRUE(p == ouro::make<Item>(6));  // compares the referents' values
    obj = nullptr;
    EXPECT_FALSE(p.alive());
    EXPECT_THROW(p->add(1), ouro::ReferenceError);
    EXPECT_THROW(p(1), ouro::ReferenceError);
    try {
        (void)(p == p);
        ADD_FAILURE() << "comparing a dead proxy must raise";
    } catch (const ouro::ReferenceError& e) {
        EXPECT_STREQ(e.what(), "weakly-referenced object no longer exists");
    }
    EXPECT_THROW(ouro::Proxy<Item>()->add(1), ouro::ReferenceError);
    EXPECT_THROW(ouro::proxy(ouro::Ref<Item>()), std::invalid_argument);
}

TEST_F(ProxyApi, HoldsItsReferentForTheWholeExpression) {
    struct Selfish : ouro::Object {
        ouro::Ref<Selfish>* owner = nullptr;
        int drop_and_read() {
            *owner = nullptr;  // the last reference from outside goes...
            return 42;         // ...and this runs on a live object, held by the proxy's `->`
        }
    };
    ouro::Ref<Selfish> obj = ouro::make<Selfish>();
    obj->owner = &obj;
    auto p = ouro::proxy(obj);
    EXPECT_EQ(p->drop_and_read(), 42);
    EXPECT_FALSE(p.alive());
}

TEST_F(ProxyApi, SharedBasicProxyAndCPythonsListOrder) {
    auto obj = ouro::make<Item>(1);
    ouro::WeakRef<Item> ref(obj);
    auto p1 = ouro::proxy(obj), p2 = ouro::proxy(obj);  // one record, as proxy(o) is proxy(o)
    EXPECT_EQ(ouro::getweakrefcount(*obj), 2u);
    int calls = 0;
    ouro::Proxy<Item> cb1(obj, [&](const ouro::Proxy<Item>& self) {
        ++calls;
        EXPECT_FALSE(self.alive());
    });
    ouro::WeakRef<Item> cb2(obj, [&](const ouro::WeakRef<Item>&) { ++calls; });
    auto refs = ouro::getweakrefs(*obj);
    ASSERT_EQ(refs.size(), 4u);
    EXPECT_EQ(ouro::getweakrefcount(*obj), 4u);
    obj = nullptr;
    EXPECT_EQ(calls, 2);
    // Dead weak references are equal only to themselves: the list was the basic ref, the basic
    // proxy, then the others newest first.
    EXPECT_TRUE(refs[0] == ouro::WeakRef<ouro::Object>(ref));
    EXPECT_TRUE(refs[2] == ouro::WeakRef<ouro::Object>(cb2));
    EXPECT_FALSE(refs[1] == ouro::WeakRef<ouro::Object>(ref));
    EXPECT_FALSE(p1.alive());
    EXPECT_FALSE(p2.alive());
}

TEST_F(ProxyApi, MemberOfGarbageNeverCallsBack) {
    struct Owner : ouro::Object {
        ouro::Proxy<Owner> self_proxy;
        ouro::Ref<Owner> self;
        void trace(ouro::Visitor& visit) override { visit(self_proxy, self); }
    };
    int calls = 0;
    {
        auto o = ouro::make<Owner>();
        o->self_proxy = ouro::Proxy<Owner>(o, [&](const ouro::Proxy<Owner>&) { ++calls; });
        o->self = o;
    }
    EXPECT_EQ(ouro::gc::collect(), 1u);
    EXPECT_EQ(calls, 0);
}

// --- weakref.WeakMethod -------------------------------------------------------------------------

TEST_F(WeakMethodApi, BoundWhileItsObjectLives) {
    auto obj = ouro::make<Item>(1);
    ouro::WeakMethod<int(int)> add(obj, &Item::add);
    ouro::WeakMethod<int(int)> times(obj, &Item::times);  // a const member function
    EXPECT_TRUE(add.alive());
    auto bound = add();
    ASSERT_TRUE(bound);
    EXPECT_EQ(bound(2), 3);
    EXPECT_EQ(times()(10), 30);
    obj = nullptr;
    EXPECT_TRUE(add.alive());  // the bound method holds its object, as Python's does
    EXPECT_EQ(bound(1), 4);
    bound = {};
    EXPECT_EQ(g_destroyed, 1);
    EXPECT_FALSE(add.alive());
    EXPECT_FALSE(add());
    EXPECT_THROW(add()(1), std::bad_function_call);
    EXPECT_THROW(ouro::WeakMethod<int(int)>(ouro::Ref<Item>(), &Item::add), std::invalid_argument);
}

TEST_F(WeakMethodApi, DeadWhenEitherTheObjectOrTheFunctionDies) {
    struct Adder : ouro::Object {
        int operator()(Item& i, int x) const { return i.value + x; }
    };
    auto obj = ouro::make<Item>(1);
    auto fn = ouro::make<Adder>();
    int calls = 0;
    ouro::WeakMethod<int(int)> m(obj, fn, [&] { ++calls; });
    EXPECT_EQ(m()(5), 6);
    fn = nullptr;  // the function dies: the WeakMethod is dead, its object alive
    EXPECT_FALSE(m.alive());
    EXPECT_FALSE(m());
    EXPECT_EQ(calls, 1);
    obj = nullptr;  // the second death: the callback already ran
    EXPECT_EQ(calls, 1);
}

TEST_F(WeakMethodApi, CallbackOnceAndOnlyWhileAWeakMethodLives) {
    int calls = 0;
    auto obj = ouro::make<Item>(1);
    auto m = std::make_unique<ouro::WeakMethod<int(int)>>(obj, &Item::add, [&] { ++calls; });
    auto copy = *m;
    m.reset();  // a copy still holds the record
    obj = nullptr;
    EXPECT_EQ(calls, 1);
    auto obj2 = ouro::make<Item>(2);
    {
        ouro::WeakMethod<int(int)> dropped(obj2, &Item::add, [&] { ++calls; });
    }
    obj2 = nullptr;
    EXPECT_EQ(calls, 1);  // dropped first: no callback, as for a WeakRef
}

TEST_F(WeakMethodApi, EqualityAndHashAsPython) {
    auto a = ouro::make<Item>(1), b = ouro::make<Item>(2);
    ouro::WeakMethod<int(int)> m1(a, &Item::add), m2(a, &Item::add), m3(a, &Item::times), m4(b, &Item::add);
    EXPECT_TRUE(m1 == m2);  // alive: the same object and method
    EXPECT_FALSE(m1 == m3);
    EXPECT_FALSE(m1 == m4);
    EXPECT_EQ(m1.hash(), m2.hash());
    EXPECT_EQ(std::hash<ouro::WeakMethod<int(int)>>()(m1), m1.hash());
    auto copy = m1;
    const std::size_t h = m1.hash();
    a = nullptr;
    EXPECT_FALSE(m1 == m2);   // dead: only itself (and its copies)
    EXPECT_TRUE(m1 == copy);
    EXPECT_EQ(m1.hash(), h);  // the hash survives the death
}

TEST_F(WeakMethodApi, MemberOfAManagedObjectIsTraced) {
    // A listener that holds a weak callback to its own method: a cycle only through the
    // WeakMethod, which is weak, so the object dies by its count; held by garbage, it never calls
    // back.
    struct Listener : ouro::Object {
        ouro::WeakMethod<void(int)> on_event;
        ouro::Ref<Listener> self;
        int got = 0;
        void handle(int x) { got += x; }
        void trace(ouro::Visitor& visit) override { visit(on_event, self); }
    };
    int calls = 0;
    {
        auto l = ouro::make<Listener>();
        l->on_event = ouro::WeakMethod<void(int)>(l, &Listener::handle, [&] { ++calls; });
        l->on_event()(3);
        EXPECT_EQ(l->got, 3);
        l->self = l;  // garbage once dropped
    }
    EXPECT_EQ(ouro::gc::collect(), 1u);
    EXPECT_EQ(calls, 0);
}
