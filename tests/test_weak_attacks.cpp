// Adversarial user code against the weak containers, Proxy and WeakMethod: a Hash or KeyEqual
// that throws, collects, kills the referent it is given, mutates or replaces the container it is
// called from; keys and values whose moves and destructors do the same; set algebra and updates
// of a container with itself while members die. Each case must end in a clear exception or a
// defined result, with the container consistent (no lost, leaked or doubled entry).
#include <ouro/detail/invariants.hpp>
#include <ouro/ouro.hpp>

#include <gtest/gtest.h>

#include "support.hpp"

#include <functional>
#include <set>
#include <stdexcept>
#include <string>
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
    void drop(ouro::Ref<Item>& last) {
        last = nullptr;  // the caller's last reference to this very object
        value += 1;      // still valid: the bound method / proxy holds it
    }
};

// A hook run by the hash or the equality, at most `budget` times (so that code that changes the
// container converges), the hook set to nothing while it runs (no recursion).
std::function<void()> g_hook;
int g_budget = 0;
int g_hash_calls = 0;
void run_hook() {
    if (g_budget <= 0 || !g_hook) return;
    --g_budget;
    auto f = std::exchange(g_hook, nullptr);
    f();
    g_hook = std::move(f);
}
struct HookHash {
    std::size_t operator()(const Item& i) const {
        ++g_hash_calls;
        run_hook();
        return std::hash<int>()(i.value);
    }
};
struct HookEqual {
    bool operator()(const Item& a, const Item& b) const {
        run_hook();
        return a.value == b.value;
    }
};
using HookSet = ouro::WeakSet<Item, HookHash, HookEqual>;
template <class V>
using HookKeyDict = ouro::WeakKeyDictionary<Item, V, HookHash, HookEqual>;

// A key for WeakValueDictionary whose hash and equality run the hook.
struct Key {
    int k;
    bool operator==(const Key& o) const {
        run_hook();
        return k == o.k;
    }
};
struct KeyHash {
    std::size_t operator()(const Key& key) const {
        run_hook();
        return std::hash<int>()(key.k);
    }
};
using HookValueDict = ouro::WeakValueDictionary<Key, Item, KeyHash>;

// A value (or key) whose move constructor runs a hook once.
std::function<void()> g_on_move;
struct MoveHook {
    int k = 0;
    MoveHook(int key = 0) : k(key) {}
    MoveHook(const MoveHook&) = default;
    MoveHook(MoveHook&& o) : k(o.k) {
        if (g_on_move) std::exchange(g_on_move, nullptr)();
    }
    MoveHook& operator=(const MoveHook&) = default;
    MoveHook& operator=(MoveHook&&) = default;
    bool operator==(const MoveHook& o) const noexcept { return k == o.k; }
};
struct MoveHookHash {
    std::size_t operator()(const MoveHook& m) const noexcept { return std::hash<int>()(m.k); }
};

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

class WeakAttack : public support::QuietHeapTest {
protected:
    void SetUp() override {
        support::reset(g_destroyed, g_hook, g_budget, g_hash_calls, g_on_move);
    }
    void TearDown() override {
        support::reset(g_hook, g_budget, g_on_move);
        EXPECT_EQ(ouro::detail::invariant_violation(heap), "");
    }
    // Arms the hook for the next `n` calls of the hash or the equality.
    static void arm(std::function<void()> f, int n = 1) {
        g_hook = std::move(f);
        g_budget = n;
    }
};

}  // namespace

// --- Hash and KeyEqual --------------------------------------------------------------------------

// A KeyEqual that throws reaches the caller (the index's probe must not be noexcept around it),
// and the set is unchanged.
TEST_F(WeakAttack, EqualityThatThrowsIsTheCallersException) {
    auto v = items(3);
    HookSet s{v[0], v[1], v[2]};
    auto twin = ouro::make<Item>(1);
    arm([] { throw std::runtime_error("eq"); });
    EXPECT_THROW(s.contains(twin), std::runtime_error);
    arm([] { throw std::runtime_error("eq"); });
    EXPECT_THROW(s.insert(twin), std::runtime_error);
    arm([] { throw std::runtime_error("eq"); });
    EXPECT_THROW(s.erase(twin), std::runtime_error);
    EXPECT_EQ(values(s), (std::multiset<int>{0, 1, 2}));

    HookValueDict d;
    d.insert_or_assign(Key{1}, v[1]);
    // The hash runs the hook first: let it pass; the equality throws.
    arm([n = 0]() mutable {
        if (n++ == 1) throw std::runtime_error("eq");
    }, 2);
    EXPECT_THROW(d.get(Key{1}), std::runtime_error);
    EXPECT_EQ(d.get(Key{1}), v[1]);
}

// The equality erases the very entry it is comparing and says "equal": the lookup must not hand
// back that slot, nor the bucket that moved into its place in the index (another member, which
// erasing would then lose). Every member in turn, so that some erase shifts a neighbour back.
TEST_F(WeakAttack, EqualityThatErasesTheEntryItMatches) {
    auto v = items(12);
    for (int target = 0; target < 12; ++target) {
        HookSet s(v);
        auto twin = ouro::make<Item>(target);
        int calls = 0;
        g_hook = [&] {
            if (++calls == 2) s.erase(v[target]);  // the first call is the hash's (no probe yet)
        };
        g_budget = 2;
        EXPECT_EQ(s.erase(twin), 0u);  // the member left while being compared: twin matches nothing now
        std::multiset<int> rest;
        for (int i = 0; i < 12; ++i)
            if (i != target) rest.insert(i);
        EXPECT_EQ(values(s), rest) << "target " << target;
        EXPECT_EQ(s.size(), 11u);
        EXPECT_TRUE(s.insert(v[target]));
        EXPECT_EQ(s.size(), 12u);
    }
}

// The equality adds many members: the index grows (is reallocated) under the probe.
TEST_F(WeakAttack, EqualityThatGrowsTheIndexMidProbe) {
    auto v = items(4);
    HookSet s{v[0], v[1], v[2], v[3]};
    auto more = items(200, 100);
    int calls = 0;
    g_hook = [&] {
        if (++calls == 2)
            for (auto& m : more) s.insert(m);
    };
    g_budget = 2;
    auto twin = ouro::make<Item>(2);
    EXPECT_TRUE(s.contains(twin));
    EXPECT_EQ(s.size(), 204u);
    g_hook = nullptr;
    // Erasing many shrinks the index under the probe.
    calls = 0;
    g_hook = [&] {
        if (++calls == 2)
            for (auto& m : more) s.erase(m);
    };
    g_budget = 2;
    EXPECT_TRUE(s.contains(twin));
    EXPECT_EQ(s.size(), 4u);
}

// The equality drops the last reference to the member it is being compared with: the lookup holds
// the referent for the comparison (Python's weakref __eq__ holds both referents).
TEST_F(WeakAttack, EqualityThatKillsTheMemberItCompares) {
    std::vector<ouro::Ref<Item>> v = items(2);
    HookSet s{v[0], v[1]};
    auto twin = ouro::make<Item>(1);
    int calls = 0;
    g_hook = [&] {
        if (++calls == 2) v.clear();  // both members die, mid-comparison
    };
    g_budget = 2;
    EXPECT_FALSE(s.contains(twin));  // the member died: a dead entry equals nothing
    EXPECT_TRUE(s.empty());
    EXPECT_EQ(g_destroyed, 2);
}

// gc::collect() from inside the hash and the equality, with members that are cycle garbage.
TEST_F(WeakAttack, CollectionInsideHashAndEquality) {
    auto v = items(6);
    HookSet s(v);
    for (int i = 0; i < 3; ++i) v[i]->next = v[i];  // 0..2 in self-cycles
    v[0] = v[1] = v[2] = nullptr;
    auto twin = ouro::make<Item>(4);
    arm([] { ouro::gc::collect(); }, 100);
    EXPECT_TRUE(s.contains(twin));
    EXPECT_FALSE(s.insert(twin));
    EXPECT_EQ(s.size(), 3u);
    auto c = ouro::make<Item>(7);
    c->next = c;
    s.insert(c);
    c = nullptr;
    EXPECT_EQ(s.erase(twin), 1u);
    EXPECT_EQ(values(s), (std::multiset<int>{3, 5}));
}

// Hash is asked once per insert (Python hashes a key once); the entry keeps that hash.
TEST_F(WeakAttack, HashIsAskedOncePerInsert) {
    auto a = ouro::make<Item>(1);
    HookSet s;
    g_hash_calls = 0;
    s.insert(a);
    EXPECT_EQ(g_hash_calls, 1);
    g_hash_calls = 0;
    s.insert(a);
    EXPECT_EQ(g_hash_calls, 1);
}

// The hash replaces the container's table (move-assigns a fresh set into it): the insert goes
// into the container as it is then, nothing dangles.
TEST_F(WeakAttack, HashThatReplacesTheContainer) {
    auto v = items(3);
    HookSet s{v[0], v[1]};
    arm([&] { s = HookSet{}; });
    EXPECT_TRUE(s.insert(v[2]));
    EXPECT_EQ(values(s), (std::multiset<int>{2}));
    v.clear();
    EXPECT_TRUE(s.empty());

    auto a = ouro::make<Item>(1);
    HookValueDict d;
    d.insert_or_assign(Key{0}, a);
    arm([&] { d = HookValueDict{}; });
    EXPECT_TRUE(d.insert_or_assign(Key{1}, a));
    EXPECT_EQ(d.size(), 1u);
    EXPECT_EQ(d.get(Key{1}), a);
    a = nullptr;
    EXPECT_TRUE(d.empty());
}

// The equality replaces the container's table while a lookup is probing it: a clear exception.
TEST_F(WeakAttack, EqualityThatReplacesTheContainer) {
    auto v = items(3);
    HookSet s{v[0], v[1], v[2]};
    auto twin = ouro::make<Item>(1);
    int calls = 0;
    g_hook = [&] {
        if (++calls == 2) s = HookSet{};
    };
    g_budget = 2;
    EXPECT_THROW(s.erase(twin), std::runtime_error);
    EXPECT_TRUE(s.empty());
    EXPECT_TRUE(s.insert(twin));
    EXPECT_EQ(s.size(), 1u);
}

// A value's move constructor destroys the dictionary (its table) while the entry is being made:
// the entry must not be linked into a table that is gone.
TEST_F(WeakAttack, ValueMoveThatDestroysTheDictionary) {
    auto a = ouro::make<Item>(1);
    auto d = std::make_unique<ouro::WeakKeyDictionary<Item, MoveHook>>();
    d->insert_or_assign(ouro::make<Item>(0), MoveHook(0));
    g_on_move = [&] { *d = ouro::WeakKeyDictionary<Item, MoveHook>{}; };
    EXPECT_THROW(d->insert_or_assign(a, MoveHook(1)), std::logic_error);
    EXPECT_TRUE(d->empty());
    a = nullptr;  // its death must not reach a freed entry
    d.reset();
}

// The entry an insert replaces (its record shared, so a new one is made) is erased and its slot
// reused by another key while the new entry's key is being moved in: the other key's entry must
// not be the one removed.
TEST_F(WeakAttack, ReplacedSlotReusedDuringTheInsert) {
    auto a = ouro::make<Item>(1), b = ouro::make<Item>(2), c = ouro::make<Item>(3);
    ouro::WeakValueDictionary<MoveHook, Item, MoveHookHash> d;
    d.insert_or_assign(MoveHook(1), a);
    std::vector<ouro::WeakRef<Item>> refs = d.valuerefs();  // a second handle: repoint makes a new entry
    g_on_move = [&] {
        refs.clear();
        d.erase(MoveHook(1));
        d.insert_or_assign(MoveHook(2), c);  // takes the slot key 1 just freed
    };
    d.insert_or_assign(MoveHook(1), b);
    EXPECT_EQ(d.get(MoveHook(1)), b);
    EXPECT_EQ(d.get(MoveHook(2)), c);
    EXPECT_EQ(d.size(), 2u);
}

// A key whose comparison erases (or clears) the entry whose key it is reading: the key being
// compared stays until the lookup ends (Python holds the key it compares). Long strings, so that a
// destroyed key's buffer is freed memory.
struct NamedKey {
    std::string name;
    bool operator==(const NamedKey& o) const {
        run_hook();
        return name == o.name;  // reads both after the hook
    }
};
struct NamedKeyHash {
    std::size_t operator()(const NamedKey& k) const noexcept { return std::hash<std::string>()(k.name); }
};
TEST_F(WeakAttack, EqualityThatDestroysTheKeyItReads) {
    const std::string a_name(40, 'a'), b_name(40, 'b');
    auto a = ouro::make<Item>(1), b = ouro::make<Item>(2);
    ouro::WeakValueDictionary<NamedKey, Item, NamedKeyHash> d;
    d.insert_or_assign(NamedKey{a_name}, a);
    d.insert_or_assign(NamedKey{b_name}, b);
    arm([&] { d.erase(NamedKey{a_name}); });
    EXPECT_FALSE(d.contains(NamedKey{a_name}));  // gone once the comparison returned
    EXPECT_EQ(d.size(), 1u);
    arm([&] { d.clear(); });
    EXPECT_EQ(d.get(NamedKey{b_name}), nullptr);
    EXPECT_TRUE(d.empty());
    d.insert_or_assign(NamedKey{a_name}, a);
    arm([&] { a = nullptr; });  // the value dies mid-comparison: its entry goes
    EXPECT_FALSE(d.contains(NamedKey{a_name}));
    EXPECT_TRUE(d.empty());
}

// pop() and popitem() of a value whose move throws: the exception reaches the caller and the
// entry stays (the value is taken before the entry is removed).
struct ThrowingMove {
    static inline bool armed = false;
    int v = 0;
    ThrowingMove(int x = 0) : v(x) {}
    ThrowingMove(const ThrowingMove&) = default;
    ThrowingMove(ThrowingMove&& o) : v(o.v) {
        if (armed) throw std::runtime_error("move");
    }
    ThrowingMove& operator=(const ThrowingMove&) = default;
    ThrowingMove& operator=(ThrowingMove&&) = default;
};
TEST_F(WeakAttack, PopWhoseValueMoveThrows) {
    auto a = ouro::make<Item>(1), b = ouro::make<Item>(2);
    ouro::WeakKeyDictionary<Item, ThrowingMove> d;
    d.insert_or_assign(a, ThrowingMove(1));
    d.insert_or_assign(b, ThrowingMove(2));
    ThrowingMove::armed = true;
    EXPECT_THROW(d.pop(a), std::runtime_error);
    EXPECT_THROW(d.popitem(), std::runtime_error);
    ThrowingMove::armed = false;
    EXPECT_EQ(d.size(), 2u);
    for (auto [k, v] : d) EXPECT_EQ(v.v, k->value);
    EXPECT_EQ(d.pop(a).v, 1);
    EXPECT_EQ(d.popitem().second.v, 2);
    EXPECT_TRUE(d.empty());
}

// A key whose destructor puts another key in (and takes one out of) the same dictionary, run by
// erase, clear, popitem and the deaths of values.
std::function<void()> g_on_key_destroyed;
struct DtorKey {
    int k = 0;
    DtorKey(int key = 0) : k(key) {}
    DtorKey(const DtorKey&) = default;
    DtorKey& operator=(const DtorKey&) = default;
    ~DtorKey() {
        if (g_on_key_destroyed) std::exchange(g_on_key_destroyed, nullptr)();
    }
    bool operator==(const DtorKey& o) const noexcept { return k == o.k; }
};
struct DtorKeyHash {
    std::size_t operator()(const DtorKey& d) const noexcept { return std::hash<int>()(d.k); }
};
TEST_F(WeakAttack, KeyDestructorThatInsertsAndErases) {
    auto v = items(8);
    using D = ouro::WeakValueDictionary<DtorKey, Item, DtorKeyHash>;
    D d;
    for (int i = 0; i < 4; ++i) d.insert_or_assign(DtorKey(i), v[i]);
    auto rearm = [&](int add, int drop) {
        g_on_key_destroyed = [&d, &v, add, drop] {
            d.insert_or_assign(DtorKey(add), v[add]);
            d.erase(DtorKey(drop));
        };
    };
    rearm(4, 1);
    EXPECT_EQ(d.erase(DtorKey(0)), 1u);  // key 0's destructor adds 4, erases 1
    g_on_key_destroyed = nullptr;
    EXPECT_FALSE(d.contains(DtorKey(0)));
    EXPECT_FALSE(d.contains(DtorKey(1)));
    EXPECT_TRUE(d.contains(DtorKey(4)));
    rearm(5, 2);
    v[3] = nullptr;  // a death: key 3's destructor adds 5, erases 2
    g_on_key_destroyed = nullptr;
    EXPECT_EQ(d.size(), 2u);  // 4 and 5
    rearm(6, 4);
    auto [k, val] = d.popitem();
    g_on_key_destroyed = nullptr;
    EXPECT_TRUE(val);
    rearm(7, 6);
    d.clear();  // every key's destructor runs; the first adds 7 (which stays) and erases 6
    g_on_key_destroyed = nullptr;
    std::set<int> keys;
    for (auto [key, value] : d) keys.insert(key.k);
    EXPECT_EQ(keys, (std::set<int>{7}));
    EXPECT_EQ(d.size(), 1u);
}

// A WeakRef callback, run by a member's death inside set algebra, that changes the sets.
TEST_F(WeakAttack, CallbackChangesTheSetsDuringAlgebra) {
    auto v = items(6);
    HookSet s(v), t(v);
    std::vector<ouro::WeakRef<Item>> refs;
    for (auto& m : v)
        refs.emplace_back(m, [&](const ouro::WeakRef<Item>&) {
            s.insert(ouro::make<Item>(100));  // dies at once
            if (!v.empty()) t.erase(v.back());
        });
    int victim = 0;
    arm([&] {
        if (victim < 5) v[victim++] = nullptr;
    }, 6);
    // Each either completes or stops with Python's RuntimeError (t changed while being read).
    auto attempt = [](auto&& op) {
        try {
            op();
        } catch (const std::runtime_error&) {
        }
    };
    attempt([&] { s ^= t; });
    attempt([&] { s -= t; });
    attempt([&] { s &= t; });
    attempt([&] { s |= t; });
    // Both sets consistent: their sizes are their live members, each alive.
    for (HookSet* x : {&s, &t}) {
        std::size_t n = 0;
        for (const auto& m : *x) n += static_cast<bool>(m);
        EXPECT_EQ(n, x->size());
    }
}

// --- set algebra and updates with itself, members dying on the way ------------------------------

TEST_F(WeakAttack, SelfAlgebraWhileMembersDie) {
    auto v = items(6);
    HookSet s(v);
    // Each hash/equality call may kill a member.
    int victim = 0;
    auto kill = [&] {
        if (victim < 6) v[victim++] = nullptr;
    };
    HookSet& same = s;  // (an alias: the compiler rejects `s |= s` as a self-assignment)
    arm(kill, 2);
    s.update(same);
    EXPECT_EQ(s.size(), static_cast<std::size_t>(6 - victim));
    arm(kill, 2);
    s |= same;
    arm(kill, 2);
    s &= same;
    arm(kill, 1);
    EXPECT_TRUE(s == same);
    EXPECT_TRUE(s <= same);
    EXPECT_FALSE(s < same);
    HookSet t = s | same;
    EXPECT_EQ(values(t), values(s));
    arm(kill, 1);
    s ^= same;
    EXPECT_TRUE(s.empty());
    HookSet& also_t = t;
    t -= also_t;
    EXPECT_TRUE(t.empty());
}

TEST_F(WeakAttack, DictionaryUpdateWithItselfWhileKeysDie) {
    auto v = items(4);
    HookKeyDict<int> d;
    for (auto& k : v) d.insert_or_assign(k, k->value);
    int victim = 0;
    HookKeyDict<int>& same = d;
    arm([&] { v[victim++] = nullptr; }, 2);
    d |= same;
    d.update(same);
    auto e = d | same;
    EXPECT_EQ(e.size(), d.size());
    EXPECT_EQ(d.size(), static_cast<std::size_t>(4 - victim));
    while (!d.empty()) d.popitem();
    EXPECT_THROW(d.popitem(), ouro::KeyError);
}

// popitem/pop while the popped value's destructor changes the dictionary.
TEST_F(WeakAttack, PopWhoseValueDestructorMutates) {
    auto v = items(4);
    ouro::WeakKeyDictionary<Item, std::shared_ptr<int>> d;
    std::vector<std::shared_ptr<int>> hold;
    for (auto& k : v) d.insert_or_assign(k, std::make_shared<int>(k->value));
    // A dead entry met by popitem: its value's destructor is plain; kill two keys first.
    v[0] = nullptr;
    v[1] = nullptr;
    EXPECT_EQ(d.size(), 2u);
    auto [k, val] = d.popitem();
    EXPECT_TRUE(k);
    EXPECT_EQ(d.size(), 1u);
    EXPECT_EQ(*d.pop(k == v[2] ? v[3] : v[2]), k == v[2] ? 3 : 2);
    EXPECT_TRUE(d.empty());
}

// --- iteration: moves and swaps of the container mid-loop ---------------------------------------

TEST_F(WeakAttack, MoveAndSwapDuringIteration) {
    auto v = items(5);
    ouro::WeakSet<Item> s(v), t;
    std::multiset<int> seen;
    for (auto it = s.begin(); it != s.end(); ++it) {
        seen.insert((*it)->value);
        if (seen.size() == 2) {
            t = std::move(s);  // the loop keeps its table, now t's
            s.insert(ouro::make<Item>(9));
            s.swap(t);
            s.swap(t);
        }
    }
    EXPECT_EQ(seen, (std::multiset<int>{0, 1, 2, 3, 4}));
    EXPECT_EQ(t.size(), 5u);
    EXPECT_TRUE(s.empty());  // its new member died at once
}

// --- weak containers inside managed objects, in cycles ------------------------------------------

struct Registry : ouro::Object {
    ouro::WeakKeyDictionary<Item, ouro::Ref<ouro::Object>> by_key;
    ouro::WeakSet<Item> members;
    void trace(ouro::Visitor& visit) override {
        by_key.trace(visit);
        members.trace(visit);
    }
};

TEST_F(WeakAttack, ContainerInACycleCollectedWhileIterated) {
    auto r = ouro::make<Registry>();
    auto v = items(4);
    for (auto& k : v) {
        r->by_key.insert_or_assign(k, r);  // value -> the registry: a cycle through the values
        r->members.insert(k);
        k->next = r;  // key -> the registry
    }
    // Iterate the set while dropping everything and collecting: the loop holds the member it is on.
    int n = 0;
    for (const auto& m : r->members) {
        ++n;
        if (n == 1) {
            auto keep = r;  // the loop's own container stays reachable through `keep`
            v.clear();
            ouro::gc::collect();
            EXPECT_GE(r->members.size(), 1u);
        }
        EXPECT_TRUE(m);
    }
    r = nullptr;
    ouro::gc::collect();
    EXPECT_EQ(g_destroyed, 4);
}

// --- Proxy and WeakMethod: the referent dies in the middle of a call ----------------------------

TEST_F(WeakAttack, ProxyReferentDiesMidExpression) {
    auto a = ouro::make<Item>(1);
    auto p = ouro::proxy(a);
    p->drop(a);  // the proxy's -> holds the referent until the call returns
    EXPECT_FALSE(p.alive());
    EXPECT_EQ(g_destroyed, 1);
    EXPECT_THROW(p->drop(a), ouro::ReferenceError);
}

TEST_F(WeakAttack, WeakMethodObjectDiesDuringTheCall) {
    auto a = ouro::make<Item>(1);
    int callbacks = 0;
    ouro::WeakMethod<void(ouro::Ref<Item>&)> m(a, &Item::drop, [&] { ++callbacks; });
    if (auto bound = m()) bound(a);
    EXPECT_FALSE(m.alive());
    EXPECT_EQ(callbacks, 1);
    EXPECT_FALSE(m());
}

// A WeakMethod whose object and function die together in one collection: one callback.
struct Fn : ouro::Object {
    ouro::Ref<ouro::Object> next;
    void operator()(Item&) const {}
    void trace(ouro::Visitor& visit) override { visit(next); }
};
TEST_F(WeakAttack, WeakMethodCallbackOnceWhenBothDieInOneCollection) {
    auto a = ouro::make<Item>(1);
    auto f = ouro::make<Fn>();
    a->next = f;
    f->next = a;
    int callbacks = 0;
    ouro::WeakMethod<void()> m(a, f, [&] {
        ++callbacks;
        ouro::gc::collect();  // a collection inside the callback
    });
    a = nullptr;
    f = nullptr;
    ouro::gc::collect();
    EXPECT_EQ(callbacks, 1);
    EXPECT_FALSE(m.alive());
}

// --- a container that outlives its referents' heap ----------------------------------------------

TEST(WeakAttackOrphans, ContainersOutlivingTheHeap) {
    ouro::WeakKeyDictionary<Item, int> d;
    ouro::WeakSet<Item> s;
    ouro::Ref<Item> survivor;
    {
        ouro::Heap heap;
        ouro::Heap::Scope scope(heap);
        auto cyc = ouro::make<Item>(1);
        cyc->next = cyc;
        survivor = ouro::make<Item>(2);
        d.insert_or_assign(cyc, 1);
        d.insert_or_assign(survivor, 2);
        s.insert(cyc);
        s.insert(survivor);
    }  // the cycle is freed by the heap's final collection; survivor is an orphan now
    EXPECT_EQ(d.size(), 1u);
    EXPECT_EQ(s.size(), 1u);
    EXPECT_TRUE(s.contains(survivor));
    EXPECT_EQ(d.get(survivor), 2);
    s.erase(survivor);  // an orphan's record leaves the orphans' table
    EXPECT_TRUE(s.empty());
    survivor = nullptr;  // dies after its heap: its entry goes
    EXPECT_TRUE(d.empty());
}
