// ouro::Dict: insertion order, Python's operations and errors, CPython's table sizes, keys by
// identity, cycles through values, changes during iteration, user hash and equality that re-enter,
// allocation failures. (Python's dict is checked against it in test_containers_python.cpp.)
#include "support.hpp"

#include <ouro/dict.hpp>
#include <ouro/list.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

struct Value : ouro::Object {
    static inline int made = 0, destroyed = 0;
    int v;
    ouro::Ref<ouro::Object> back;  // e.g. the dictionary that holds it
    explicit Value(int x = 0) : v(x) { ++made; }
    ~Value() override { ++destroyed; }
    OURO_TRACE(back)
};

class DictTest : public support::QuietHeapTest {
protected:
    void SetUp() override { support::reset(Value::made, Value::destroyed); }
};

template <class D>
std::vector<typename D::key_type> keys_of(const D& d) {
    std::vector<typename D::key_type> out;
    for (const auto& k : d.keys()) out.push_back(k);
    return out;
}

TEST_F(DictTest, KeepsInsertionOrder) {
    ouro::Dict<std::string, int> d{{"b", 1}, {"a", 2}};
    d["c"] = 3;
    d.insert_or_assign("b", 10);  // an existing key keeps its place
    EXPECT_EQ(keys_of(d), (std::vector<std::string>{"b", "a", "c"}));
    EXPECT_EQ(d.pop("a"), 2);
    d.insert_or_assign("a", 4);  // a removed key comes back at the end
    EXPECT_EQ(keys_of(d), (std::vector<std::string>{"b", "c", "a"}));
    auto [k, v] = d.popitem();  // the newest
    EXPECT_EQ(k, "a");
    EXPECT_EQ(v, 4);
    int sum = 0;
    for (auto [key, value] : d) sum += value;
    EXPECT_EQ(sum, 13);
    for (auto [key, value] : d) value += 1;  // the pair holds references into the entry
    EXPECT_EQ(d.at("c"), 4);
    EXPECT_EQ(d.setdefault("c", 99), 4);
    EXPECT_EQ(d.setdefault("z", 99), 99);
    EXPECT_EQ(ouro::len(d), 3u);
    EXPECT_EQ(d.get("nope"), std::nullopt);
    EXPECT_EQ(d.get("nope", 7), 7);
    EXPECT_FALSE(ouro::gc::is_tracked(*ouro::make<ouro::Dict<std::string, int>>()));
}

TEST_F(DictTest, PythonsErrors) {
    ouro::Dict<int, int> d;
    auto what = [](auto&& f) -> std::string {
        try {
            f();
        } catch (const std::out_of_range& e) {
            return e.what();
        }
        return "no KeyError";
    };
    EXPECT_EQ(what([&] { (void)d.at(5); }), "5");
    EXPECT_EQ(what([&] { d.pop(5); }), "5");
    EXPECT_EQ(what([&] { d.del_item(5); }), "5");
    EXPECT_EQ(what([&] { d.popitem(); }), "popitem(): dictionary is empty");
    ouro::Dict<std::string, int> s;
    EXPECT_EQ(what([&] { (void)s.at("k"); }), "'k'");
    EXPECT_EQ(d.erase(5), 0u);
    EXPECT_EQ(d.pop(5, 1), 1);
}

TEST_F(DictTest, TableSizesAreCPythons) {
    // CPython 3.11: sys.getsizeof of a dict of ints after n insertions changes at 1, 6, 11, 22,
    // 43, 86 (table sizes 8, 16, 32, 64, 128, 256).
    auto d = ouro::make<ouro::Dict<long, long>>();
    std::vector<long> changes;
    std::size_t last = ouro::sys::getsizeof(*d);
    EXPECT_LE(last, 64u);  // CPython: sys.getsizeof({}) == 64
    for (long i = 0; i < 100; ++i) {
        d->insert_or_assign(i, i);
        if (ouro::sys::getsizeof(*d) != last) changes.push_back(i + 1);
        last = ouro::sys::getsizeof(*d);
    }
    EXPECT_EQ(changes, (std::vector<long>{1, 6, 11, 22, 43, 86}));
    // Entries are 24 bytes as CPython's (hash, key, value) here; the table has no header.
    const std::size_t python = 64 + 32 + 512 + 170 * 24;  // sys.getsizeof({i: i for i in range(100)})
    EXPECT_LT(ouro::sys::getsizeof(*d), python);
    d->clear();
    EXPECT_EQ(d->owned_bytes(), 0u);
}

TEST_F(DictTest, ObjectKeysAreIdentities) {
    ouro::Dict<Value, int> d;
    auto a = ouro::make<Value>(1), b = ouro::make<Value>(1);
    d[a] = 1;
    d[b] = 2;
    EXPECT_EQ(d.size(), 2u);
    EXPECT_EQ(d.at(a), 1);
    EXPECT_EQ(d.at(b), 2);
    EXPECT_EQ(ouro::sys::getrefcount(*a), 2u);
    std::vector<ouro::Ref<Value>> many;
    for (int i = 0; i < 5000; ++i) {
        many.push_back(ouro::make<Value>(i));
        d[many.back()] = i;
    }
    for (int i = 0; i < 5000; ++i) ASSERT_EQ(d.at(many[i]), i);
    for (int i = 0; i < 5000; i += 2) d.del_item(many[i]);
    EXPECT_EQ(d.size(), 2502u);
    EXPECT_FALSE(d.contains(many[0]));
    EXPECT_TRUE(d.contains(many[1]));
}

TEST_F(DictTest, AValueThatReferencesItsDictionaryIsCollected) {
    {
        auto d = ouro::make<ouro::Dict<std::string, Value>>();
        auto v = ouro::make<Value>(1);
        v->back = d;
        d->insert_or_assign("v", v);
        auto k = ouro::make<ouro::Dict<Value, int>>();  // and a key that does
        auto key = ouro::make<Value>(2);
        key->back = k;
        (*k)[key] = 1;
    }
    EXPECT_EQ(Value::destroyed, 0);
    EXPECT_EQ(ouro::gc::collect(), 4u);
    EXPECT_EQ(Value::destroyed, 2);
}

TEST_F(DictTest, HandOversAreSeenByTheCollector) {
    struct Holder : ouro::Object {
        ouro::Dict<int, ouro::Object> d;
        OURO_TRACE(d)
    };
    auto a = ouro::make<Holder>(), b = ouro::make<Holder>();
    a->d[1] = b;
    swap(a->d, b->d);  // b now holds itself
    b = nullptr;
    EXPECT_EQ(ouro::gc::collect(), 1u);
    auto c = ouro::make<Holder>();
    c->d[1] = c;
    ouro::Dict<int, ouro::Object> local(std::move(c->d));  // out to a local: c is live through it
    c = nullptr;
    EXPECT_EQ(ouro::gc::collect(), 0u);
    ouro::ref_cast<Holder>(local.at(1))->d = std::move(local);  // back in: a cycle with no owner
    EXPECT_EQ(ouro::gc::collect(), 1u);
}

TEST_F(DictTest, AddingOrRemovingKeysDuringIterationThrows) {
    auto d = ouro::make<ouro::Dict<int, int>>(std::vector<std::pair<int, int>>{{1, 1}, {2, 2}});
    for (auto [k, v] : *d) {
        EXPECT_THROW(d->insert_or_assign(k + 10, 0), std::runtime_error);
        EXPECT_THROW(d->pop(k), std::runtime_error);
        EXPECT_THROW(d->popitem(), std::runtime_error);
        EXPECT_THROW(d->clear(), std::runtime_error);
        d->insert_or_assign(k, v * 10);  // an existing key: allowed
        EXPECT_EQ(d->erase(99), 0u);     // nothing to remove: allowed
    }
    EXPECT_EQ(d->at(2), 20);
    try {
        for ([[maybe_unused]] auto& k : d->keys()) (*d)[100] = 1;
        ADD_FAILURE();
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "dictionary changed size during iteration");
    }
    d->insert_or_assign(3, 3);
    EXPECT_EQ(d->size(), 3u);
}

// A key whose == changes the dictionary it is looked up in. (Its operator== is defined below
// the dictionary type: naming Dict<Meddling> inside Meddling, still incomplete, would make it a
// dictionary of Ref<Meddling> — see detail::ElementOf.)
struct Meddling {
    int k;
    bool operator==(const Meddling& o) const;
};
struct MeddlingHash {
    std::size_t operator()(const Meddling& m) const noexcept { return static_cast<std::size_t>(m.k % 2); }
};
ouro::Dict<Meddling, int, MeddlingHash>* g_meddled = nullptr;
bool Meddling::operator==(const Meddling& o) const {
    if (auto* d = std::exchange(g_meddled, nullptr)) {  // once: the insertion's own lookup compares too
        try {
            d->insert_or_assign(Meddling{1000 + k}, 0);
        } catch (...) {
            g_meddled = d;
            throw;
        }
        g_meddled = d;
    }
    return k == o.k;
}

TEST_F(DictTest, UserEqualityCannotChangeTheDictionaryUnderALookup) {
    ouro::Dict<Meddling, int, MeddlingHash> d;
    for (int i = 0; i < 6; ++i) d.insert_or_assign(Meddling{i}, i);  // two hash values: long probes
    g_meddled = &d;
    EXPECT_THROW((void)d.find(Meddling{4}), std::runtime_error);
    EXPECT_THROW(d.insert_or_assign(Meddling{8}, 8), std::runtime_error);
    g_meddled = nullptr;
    EXPECT_EQ(d.size(), 6u);
    EXPECT_EQ(d.at(Meddling{4}), 4);
}

// A value whose destructor changes the dictionary it was in.
struct Dropper : ouro::Object {
    static inline ouro::Dict<int, Dropper>* dict = nullptr;
    ~Dropper() override {
        if (dict && !dict->empty()) (void)dict->popitem();
    }
};

TEST_F(DictTest, DestructorsOfDroppedValuesMayChangeTheDictionary) {
    ouro::Dict<int, Dropper> d;
    for (int i = 0; i < 8; ++i) d[i] = ouro::make<Dropper>();
    Dropper::dict = &d;
    d.pop(0);                                   // its destructor pops the newest, which pops the next...
    d.insert_or_assign(7, ouro::make<Dropper>());  // the old value dies after the new one is in
    d.clear();
    Dropper::dict = nullptr;
    EXPECT_TRUE(d.empty());
}

TEST_F(DictTest, CopiesUpdatesAndEquality) {
    ouro::Dict<int, std::string> a{{1, "a"}, {2, "b"}};
    auto b = a.copy();
    EXPECT_EQ(a, b);
    b.update({{3, "c"}, {1, "z"}});
    EXPECT_NE(a, b);
    EXPECT_EQ(b.at(1), "z");
    a.update(b);
    EXPECT_EQ(a, b);
    a.update(a);
    EXPECT_EQ(a.size(), 3u);
    std::vector<std::string> vals;
    for (auto& v : a.values()) vals.push_back(v);
    EXPECT_EQ(vals, (std::vector<std::string>{"z", "b", "c"}));
}

TEST_F(DictTest, ManyInsertionsAndRemovals) {
    ouro::Dict<long, long> d;
    for (long round = 0; round < 3; ++round) {
        for (long i = 0; i < 20000; ++i) d[i * 7919 % 100003] = i;
        for (long i = 0; i < 20000; i += 3) d.erase(i * 7919 % 100003);
        long n = 0;
        for (auto [k, v] : d) {
            ASSERT_EQ(k, v * 7919 % 100003);
            ++n;
        }
        ASSERT_EQ(static_cast<std::size_t>(n), d.size());
        while (d.size() > 100) d.popitem();
    }
}

TEST_F(DictTest, NonPlainKeysAndValuesSurviveResizes) {
    ouro::Dict<std::string, std::string> d;
    for (int i = 0; i < 3000; ++i) d[std::to_string(i)] = std::string(static_cast<std::size_t>(i % 50), 'x');
    for (int i = 0; i < 3000; i += 2) d.del_item(std::to_string(i));
    for (int i = 0; i < 1000; ++i) d.insert_or_assign(std::to_string(i) + "!", "y");
    std::size_t n = 0;
    for (auto [k, v] : d) n += k.back() == '!' ? v == "y" : v.size() == static_cast<std::size_t>(std::stoi(k) % 50);
    EXPECT_EQ(n, d.size());
    EXPECT_EQ(d.size(), 2500u);
}

#ifdef OURO_FAULT_INJECTION
TEST_F(DictTest, AllocationFailuresLeaveTheDictionaryConsistent) {
    for (std::uint64_t fail_at = 1; fail_at < 40; ++fail_at) {
        auto d = ouro::make<ouro::Dict<int, Value>>();
        std::vector<int> model;
        ouro::detail::t_fault_countdown = fail_at;
        for (int i = 0; i < 30; ++i) {
            try {
                auto v = ouro::make<Value>(i);
                if (i % 5 == 4 && !model.empty()) {
                    d->pop(model.front());
                    model.erase(model.begin());
                }
                d->insert_or_assign(i, v);
                model.push_back(i);
            } catch (const std::bad_alloc&) {
            }
        }
        ouro::detail::t_fault_countdown = 0;
        ASSERT_EQ(keys_of(*d), model) << "failure at allocation " << fail_at;
        for (auto [k, v] : *d) EXPECT_EQ(v->v, k);
    }
    EXPECT_EQ(Value::made, Value::destroyed);
}
#endif

}  // namespace
