// ouro::DynObject and ouro::AttrValue: attributes in a per-instance dictionary with PEP 412's key
// sharing, against a fixed-layout class (Python's __slots__).
#include <ouro/ouro.hpp>

#include <gtest/gtest.h>

#include "support.hpp"

#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

// class Point: def __init__(self, x, y): self.x = x; self.y = y
struct Point : ouro::DynObject {
    static inline int destroyed = 0;
    Point(long x, long y) {
        setattr("x", x);
        setattr("y", y);
    }
    ~Point() override { ++destroyed; }
};
// The same attributes set the other way round.
struct Other : ouro::DynObject {};
// class Slotted: __slots__ = ("x", "y")
struct Slotted : ouro::Object {
    std::int64_t x = 0, y = 0;
};

using Kind = ouro::AttrValue::Kind;

// An Other with int attributes set in the order given.
ouro::Ref<Other> other_with(std::initializer_list<const char*> names) {
    auto o = ouro::make<Other>();
    int value = 0;
    for (const char* name : names) o->setattr(name, ++value);
    return o;
}

class DynObjectTest : public support::QuietHeapTest {
protected:
    void SetUp() override { support::reset(Point::destroyed); }
};

TEST_F(DynObjectTest, AttributesBehaveAsPythons) {
    auto p = ouro::make<Point>(1, 2);
    EXPECT_EQ(p->getattr("x").as_int(), 1);
    EXPECT_EQ(p->getattr("y").as_int(), 2);
    EXPECT_TRUE(p->hasattr("x"));
    EXPECT_FALSE(p->hasattr("z"));
    p->setattr("x", 10);  // p.x = 10
    EXPECT_EQ(p->getattr("x").as_int(), 10);
    p->setattr("label", "origin");
    EXPECT_EQ(p->getattr("label").as_str(), "origin");
    EXPECT_EQ(p->getattr("z", -1).as_int(), -1);  // getattr(p, "z", -1)
    EXPECT_EQ(p->attribute_count(), 3u);
    p->delattr("y");
    EXPECT_FALSE(p->hasattr("y"));
    EXPECT_EQ(p->attribute_count(), 2u);
    auto vars = p->vars();
    ASSERT_EQ(vars.size(), 2u);
    EXPECT_EQ(vars[0].first, "x");
    EXPECT_EQ(vars[1].first, "label");
}

TEST_F(DynObjectTest, AMissingAttributeIsAnAttributeError) {
    auto p = ouro::make<Point>(1, 2);
    try {
        p->getattr("z");
        FAIL();
    } catch (const ouro::AttributeError& e) {
        EXPECT_STREQ(e.what(), "'(anonymous namespace)::Point' object has no attribute 'z'");
    }
    EXPECT_THROW(p->delattr("z"), ouro::AttributeError);
    EXPECT_THROW(p->getattr("z"), std::out_of_range);
}

TEST_F(DynObjectTest, ValuesOfEveryKind) {
    auto target = ouro::make<Point>(0, 0);
    auto o = ouro::make<Other>();
    o->setattr("none", nullptr);
    o->setattr("int", std::int64_t{1} << 40);
    o->setattr("float", 2.5);
    o->setattr("str", std::string("text"));
    o->setattr("ref", target);
    o->setattr("null", ouro::Ref<Point>());
    EXPECT_EQ(o->getattr("none").kind(), Kind::None);
    EXPECT_EQ(o->getattr("int").as_int(), std::int64_t{1} << 40);
    EXPECT_EQ(o->getattr("float").as_float(), 2.5);
    EXPECT_EQ(o->getattr("int").as_float(), static_cast<double>(std::int64_t{1} << 40));
    EXPECT_EQ(o->getattr("str").as_str(), "text");
    EXPECT_EQ(o->getattr("ref").as_ref(), target);
    EXPECT_TRUE(o->getattr("null").is_none());
    EXPECT_EQ(o->getattr("none").as_ref(), nullptr);
    // A wrong kind is Python's TypeError.
    EXPECT_THROW(o->getattr("str").as_int(), std::invalid_argument);
    EXPECT_THROW(o->getattr("int").as_str(), std::invalid_argument);
    EXPECT_THROW(o->getattr("float").as_ref(), std::invalid_argument);
    EXPECT_THROW(o->getattr("none").as_float(), std::invalid_argument);
}

TEST_F(DynObjectTest, ValuesCompareAsPythonsDo) {
    auto a = ouro::make<Other>();
    EXPECT_EQ(ouro::AttrValue(1), ouro::AttrValue(1.0));  // 1 == 1.0
    EXPECT_NE(ouro::AttrValue(1), ouro::AttrValue("1"));
    EXPECT_EQ(ouro::AttrValue("ab"), ouro::AttrValue(std::string("ab")));
    EXPECT_EQ(ouro::AttrValue(), ouro::AttrValue(nullptr));
    EXPECT_EQ(ouro::AttrValue(a), ouro::AttrValue(a));
    EXPECT_NE(ouro::AttrValue(a), ouro::AttrValue(ouro::make<Other>()));
    ouro::AttrValue s("copied");
    ouro::AttrValue t = s;
    s = 3;
    EXPECT_EQ(t.as_str(), "copied");
    ouro::AttrValue u = std::move(t);
    EXPECT_TRUE(t.is_none());
    EXPECT_EQ(u.as_str(), "copied");
}

TEST_F(DynObjectTest, InstancesSettingTheSameNamesInOrderShareKeys) {
    auto a = ouro::make<Point>(1, 2);
    auto b = ouro::make<Point>(3, 4);
    EXPECT_TRUE(a->shares_keys());
    EXPECT_TRUE(b->shares_keys());
    a->setattr("z", 5);  // a new name at the end of the shared table: still shared
    EXPECT_TRUE(a->shares_keys());
    b->setattr("z", 6);  // the table's next name, in order
    EXPECT_TRUE(b->shares_keys());
    auto c = ouro::make<Point>(7, 8);
    c->setattr("w", 0);  // the table's third name is z: another order
    EXPECT_FALSE(c->shares_keys());
    EXPECT_EQ(c->getattr("w").as_int(), 0);
    EXPECT_FALSE(c->hasattr("z"));
    EXPECT_TRUE(a->shares_keys());
    a->delattr("x");  // deleting takes a table of its own
    EXPECT_FALSE(a->shares_keys());
    EXPECT_EQ(a->vars().size(), 2u);
    EXPECT_EQ(a->getattr("z").as_int(), 5);
}

TEST_F(DynObjectTest, AnotherOrderGetsATableOfItsOwnInThatOrder) {
    auto p = other_with({"x", "y"});
    auto q = other_with({"y", "x"});
    EXPECT_TRUE(p->shares_keys());
    EXPECT_FALSE(q->shares_keys());
    auto vars = q->vars();
    EXPECT_EQ(vars[0].first, "y");  // vars(q) keeps q's insertion order
    EXPECT_EQ(vars[1].first, "x");
}

TEST_F(DynObjectTest, SharedKeysStopAtThirty) {
    auto o = ouro::make<Other>();
    for (int i = 0; i < 30; ++i) o->setattr("a" + std::to_string(i), i);
    EXPECT_TRUE(o->shares_keys());
    o->setattr("a30", 30);
    EXPECT_FALSE(o->shares_keys());
    for (int i = 0; i <= 30; ++i) EXPECT_EQ(o->getattr("a" + std::to_string(i)).as_int(), i);
}

TEST_F(DynObjectTest, ManyAttributesAreFoundByHash) {
    auto o = ouro::make<Other>();
    o->setattr("first", 0);
    auto p = ouro::make<Other>();
    p->setattr("other", 0);  // unshared from the start
    for (int i = 0; i < 200; ++i) p->setattr("k" + std::to_string(i), i);
    for (int i = 0; i < 200; i += 2) p->delattr("k" + std::to_string(i));
    EXPECT_EQ(p->attribute_count(), 101u);
    for (int i = 0; i < 200; ++i) EXPECT_EQ(p->hasattr("k" + std::to_string(i)), i % 2 == 1) << i;
    EXPECT_EQ(p->getattr("k199").as_int(), 199);
    auto vars = p->vars();
    EXPECT_EQ(vars[1].first, "k1");
}

TEST_F(DynObjectTest, SizesShowDictAgainstSlots) {
    auto dyn = ouro::make<Point>(1, 2);
    auto slotted = ouro::make<Slotted>();
    // 40-byte object (header, keys, values pointer, counts) + two 16-byte values; the shared
    // names belong to the type. With __slots__: the 16-byte header and two 8-byte fields.
    EXPECT_EQ(ouro::sys::getsizeof(*dyn), 40u + 2 * sizeof(ouro::AttrValue));
    EXPECT_EQ(ouro::sys::getsizeof(*slotted), 32u);
    auto first = other_with({"y", "x"});  // the type's shared keys: y, x
    auto shared = other_with({"y", "x"});
    auto unshared = other_with({"x", "y"});
    ASSERT_TRUE(shared->shares_keys());
    ASSERT_FALSE(unshared->shares_keys());
    EXPECT_GT(ouro::sys::getsizeof(*unshared), ouro::sys::getsizeof(*shared) + 64) << "its own table of names";
    shared->setattr("name", std::string(100, 'n'));
    EXPECT_GE(ouro::sys::getsizeof(*shared), 40u + 4 * sizeof(ouro::AttrValue) + 100);
}

TEST_F(DynObjectTest, TracemallocSeesTheObjectAndItsValues) {
    ouro::tracemalloc::start();
    const std::size_t before = ouro::tracemalloc::get_traced_memory().current;
    auto p = ouro::make<Point>(1, 2);
    EXPECT_EQ(ouro::tracemalloc::get_traced_memory().current - before, ouro::sys::getsizeof(*p));
    ouro::tracemalloc::stop();
}

TEST_F(DynObjectTest, RefAttributesAreTracedAndCyclesCollected) {
    {
        auto a = ouro::make<Point>(1, 2);
        auto b = ouro::make<Point>(3, 4);
        a->setattr("peer", b);
        b->setattr("peer", a);
        auto self = ouro::make<Point>(5, 6);
        self->setattr("me", self);
        EXPECT_EQ(ouro::gc::get_referents(*a).size(), 1u);
    }
    EXPECT_EQ(Point::destroyed, 0);
    EXPECT_EQ(ouro::gc::collect(), 3u);
    EXPECT_EQ(Point::destroyed, 3);
}

TEST_F(DynObjectTest, ARefAttributeKeepsItsObjectAliveUntilReplaced) {
    auto holder = ouro::make<Other>();
    holder->setattr("p", ouro::make<Point>(1, 1));
    EXPECT_EQ(ouro::gc::collect(), 0u);
    EXPECT_EQ(Point::destroyed, 0);
    holder->setattr("p", 0);
    EXPECT_EQ(Point::destroyed, 1);
}

// Its destructor writes to the object that held it, while that object replaces the value.
struct Reentrant : ouro::Object {
    ouro::DynObject* owner;
    explicit Reentrant(ouro::DynObject* o) : owner(o) {}
    ~Reentrant() override {
        for (int i = 0; i < 20; ++i) owner->setattr("added" + std::to_string(i), i);
    }
};

TEST_F(DynObjectTest, AReleasedValueMayChangeTheObject) {
    auto o = ouro::make<Other>();
    o->setattr("victim", ouro::make<Reentrant>(o.get()));
    o->setattr("victim", 1);  // the destructor grows the values array while it runs
    EXPECT_EQ(o->getattr("victim").as_int(), 1);
    EXPECT_EQ(o->getattr("added19").as_int(), 19);
    o->setattr("victim2", ouro::make<Reentrant>(o.get()));
    o->delattr("victim2");
    EXPECT_FALSE(o->hasattr("victim2"));
    EXPECT_EQ(o->attribute_count(), 21u);
}

TEST_F(DynObjectTest, AnUnmanagedInstanceKeepsItsOwnNames) {
    Other local;  // not made by make<T>: no heap to share keys in
    local.setattr("x", 1);
    EXPECT_FALSE(local.shares_keys());
    EXPECT_EQ(local.getattr("x").as_int(), 1);
}

TEST_F(DynObjectTest, AnInstanceMayOutliveItsHeap) {
    ouro::Ref<Point> kept;
    {
        auto doomed = std::make_unique<ouro::Heap>();
        {
            ouro::Heap::Scope in(*doomed);
            kept = ouro::make<Point>(1, 2);
            auto sibling = ouro::make<Point>(3, 4);
        }
        doomed.reset();  // the shared keys stay while an instance holds them
    }
    EXPECT_EQ(kept->getattr("y").as_int(), 2);
    kept->setattr("z", 3);
    EXPECT_EQ(kept->getattr("z").as_int(), 3);
    kept = nullptr;
    EXPECT_EQ(Point::destroyed, 2);
}

}  // namespace
