// Soundness: the collector never frees a live object and frees every unreachable cycle after a
// full collection, whatever C++ does with the references — containers moved or swapped, smart
// pointers and type-erased holders, memory resources on the stack, constructors that throw,
// and trace()s that visit too much. Each test is a case that once went wrong (docs/design.md §5
// has the argument they check).
#include <ouro/ouro.hpp>

#include <gtest/gtest.h>

#include "support.hpp"

#include <any>
#include <compare>
#include <functional>
#include <array>
#include <cstddef>
#include <list>
#include <map>
#include <memory>
#include <memory_resource>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <variant>
#include <vector>

namespace {

using ouro::Ref;
using support::HookCapture;

class Soundness : public support::LeakCheckedHeapTest {};

// Counts its own destructions.
struct Kid : ouro::Object {
    static inline int destroyed = 0;
    std::vector<Ref<Kid>> kids;
    ~Kid() override { ++destroyed; }
    OURO_TRACE(kids)
};

// --- Containers handed over without a Ref operation ----------------------------------------------

TEST_F(Soundness, ACycleClosedByMovingAVectorIsCollected) {
    Kid::destroyed = 0;
    auto root = ouro::make<Kid>();
    root->kids.push_back(ouro::make<Kid>());
    EXPECT_EQ(ouro::gc::collect(), 0u);
    root->kids[0]->kids = std::move(root->kids);  // b -> b; root -> nothing; no count changed
    EXPECT_EQ(ouro::gc::collect(), 1u);
    EXPECT_EQ(Kid::destroyed, 1);
}

TEST_F(Soundness, ACycleClosedBySwappingVectorsIsCollected) {
    Kid::destroyed = 0;
    auto root = ouro::make<Kid>();
    root->kids.push_back(ouro::make<Kid>());
    root->kids.push_back(ouro::make<Kid>());
    ouro::gc::collect();
    Kid* b = root->kids[0].get();
    std::swap(root->kids, b->kids);  // b holds itself and its sibling; root holds nothing
    EXPECT_EQ(ouro::gc::collect(), 2u);
    EXPECT_EQ(Kid::destroyed, 2);
    EXPECT_TRUE(root->kids.empty());
}

TEST_F(Soundness, ACycleClosedBySplicingAListIsCollected) {
    struct Spliced : ouro::Object {
        std::list<Ref<Spliced>> items;
        OURO_TRACE(items)
    };
    auto root = ouro::make<Spliced>();
    root->items.push_back(ouro::make<Spliced>());
    ouro::gc::collect();
    Spliced* b = root->items.front().get();
    b->items.splice(b->items.end(), root->items);
    EXPECT_EQ(ouro::gc::collect(), 1u);
}

TEST_F(Soundness, ACycleClosedByExtractingAMapNodeIsCollected) {
    struct Mapped : ouro::Object {
        std::map<int, Ref<Mapped>> by_id;
        OURO_TRACE(by_id)
    };
    auto root = ouro::make<Mapped>();
    root->by_id.emplace(1, ouro::make<Mapped>());
    ouro::gc::collect();
    Mapped* b = root->by_id.at(1).get();
    b->by_id.insert(root->by_id.extract(1));
    EXPECT_EQ(ouro::gc::collect(), 1u);
}

// Refs in storage a unique_ptr owns: moving the pointer hands them all over.
struct Inner {
    std::vector<Ref<ouro::Object>> refs;
    void trace(ouro::Visitor& visit) { visit(refs); }
};
struct Boxed : ouro::Object {
    std::unique_ptr<Inner> inner = std::make_unique<Inner>();
    OURO_TRACE(inner)
};

TEST_F(Soundness, ACycleClosedByMovingAUniquePtrIsCollected) {
    auto root = ouro::make<Boxed>();
    auto b = ouro::make<Boxed>();
    root->inner->refs.push_back(b);
    b = nullptr;
    ouro::gc::collect();
    auto* raw = static_cast<Boxed*>(root->inner->refs[0].get());
    raw->inner = std::move(root->inner);  // b's Inner holds b
    EXPECT_EQ(ouro::gc::collect(), 1u);
}

// Type-erased storage: the type's trace() knows what its std::any may hold.
struct Erased : ouro::Object {
    std::any payload;
    void trace(ouro::Visitor& visit) override {
        if (auto* refs = std::any_cast<std::vector<Ref<Erased>>>(&payload)) visit(*refs);
    }
};

TEST_F(Soundness, ACycleClosedByMovingAnAnyIsCollected) {
    auto root = ouro::make<Erased>();
    root->payload = std::vector<Ref<Erased>>{ouro::make<Erased>()};
    ouro::gc::collect();
    Erased* b = std::any_cast<std::vector<Ref<Erased>>&>(root->payload)[0].get();
    b->payload = std::move(root->payload);
    root->payload.reset();
    EXPECT_EQ(ouro::gc::collect(), 1u);
}

// Refs an object owns that live on the stack (a pmr vector over a stack buffer).
struct OnStack : ouro::Object {
    std::pmr::vector<Ref<OnStack>> refs;
    explicit OnStack(std::pmr::memory_resource* r) : refs(r) {}
    OURO_TRACE(refs)
};

TEST_F(Soundness, ACycleThroughAPmrBufferOnTheStackIsCollected) {
    alignas(64) std::byte buffer[4096];
    std::pmr::monotonic_buffer_resource arena(buffer, sizeof buffer, std::pmr::null_memory_resource());
    {
        auto a = ouro::make<OnStack>(&arena);
        auto b = ouro::make<OnStack>(&arena);
        a->refs.push_back(b);
        b->refs.push_back(std::move(a));  // moved onto a stack buffer, into a cycle
    }
    EXPECT_EQ(ouro::gc::collect(), 2u);
}

// The library's own weak containers holding strong values.
TEST_F(Soundness, ACycleClosedByMovingAWeakKeyDictionaryIsCollected) {
    struct Owner : ouro::Object {
        ouro::WeakKeyDictionary<ouro::Object, Ref<Owner>> values;
        OURO_TRACE(values)
    };
    auto key = ouro::make<support::Node>();  // held by the test: the entry lives
    auto root = ouro::make<Owner>();
    auto b = ouro::make<Owner>();
    root->values.insert_or_assign(key, b);
    b = nullptr;
    ouro::gc::collect();
    Owner* raw = root->values.get(key)->get();
    raw->values = std::move(root->values);  // b's dictionary holds b
    EXPECT_EQ(ouro::gc::collect(), 1u);
}

// --- make<T> keeps its object's identity whatever the arguments construct -----------------------

struct Token : ouro::Object {  // by value: a plain, unmanaged Object
    int value = 3;
};
struct WithDefault : ouro::Object {
    static inline int finalized = 0;
    Ref<ouro::Object> side;
    Ref<WithDefault> self;
    int token;
    // Both arguments are built inside make's new-expression, before this object's Object().
    explicit WithDefault(Ref<ouro::Object> s = ouro::make<Kid>(), Token t = Token{}) : side(std::move(s)), token(t.value) {}
    void finalize() override { ++finalized; }
    OURO_TRACE(side, self)
};
struct BigWithDefault : WithDefault {
    unsigned char payload[2000] = {};
    BigWithDefault() = default;
};

TEST_F(Soundness, ObjectsBuiltWhileArgumentsAreEvaluatedKeepTheirOwnIdentity) {
    WithDefault::finalized = 0;
    Kid::destroyed = 0;
    {
        auto w = ouro::make<WithDefault>();
        EXPECT_TRUE(ouro::gc::is_tracked(*w));
        EXPECT_TRUE(ouro::gc::is_tracked(*w->side));
        EXPECT_EQ(w->token, 3);
        EXPECT_EQ(ouro::sys::getrefcount(*w->side), 1u);
        w->self = w;
        auto big = ouro::make<BigWithDefault>();
        EXPECT_TRUE(ouro::gc::is_tracked(*big));
        EXPECT_GT(ouro::sys::getsizeof(*big), 2000u);
        big->self = big;
    }
    EXPECT_EQ(ouro::gc::collect(), 4u);  // two cycles and their two side objects
    EXPECT_EQ(WithDefault::finalized, 2);
    EXPECT_EQ(Kid::destroyed, 2);
}

// --- Constructors that throw -------------------------------------------------------------------

// Stray references are kept as Ref<Object>: once the constructor has thrown, the block is no
// longer a Leaky, and a Ref<Leaky>'s get() would be a bad downcast.
struct Leaky : ouro::Object {
    static inline std::vector<Ref<ouro::Object>>* strays = nullptr;
    static inline ouro::WeakSet<Leaky>* watchers = nullptr;
    static inline std::vector<ouro::WeakRef<Leaky>>* weaks = nullptr;
    static inline int callbacks = 0;
    Ref<Leaky> next;
    std::uint64_t fill[4] = {1, 2, 3, 4};
    explicit Leaky(bool fail, int keep = 1) {
        for (int i = 0; i < keep; ++i) strays->push_back(Ref<ouro::Object>(this));
        if (watchers) watchers->insert(Ref<Leaky>(this));
        if (weaks) weaks->emplace_back(Ref<Leaky>(this), [](const ouro::WeakRef<Leaky>&) { ++callbacks; });
        if (fail) throw std::runtime_error("constructor failed");
    }
    OURO_TRACE(next)
};

TEST_F(Soundness, AConstructorThatThrowsAfterHandingOutThisLeavesADeadBlockUntilItsReferencesGo) {
    HookCapture hook;
    std::vector<Ref<ouro::Object>> strays;
    Leaky::strays = &strays;
    EXPECT_THROW(ouro::make<Leaky>(true, 2), std::runtime_error);
    ASSERT_EQ(strays.size(), 2u);
    const void* dead = strays[0].get();
    EXPECT_EQ(ouro::sys::getrefcount(*strays[0]), 2u);
    EXPECT_FALSE(ouro::gc::is_tracked(*strays[0]));
    EXPECT_EQ(ouro::gc::collect(), 0u);  // never tracked, never garbage: held
    // The block is not reused while it is held: new objects of the same size land elsewhere.
    std::vector<Ref<Leaky>> others;
    for (int i = 0; i < 100; ++i) {
        others.push_back(ouro::make<Leaky>(false));
        EXPECT_NE(others.back().get(), dead);
    }
    strays.clear();  // the dead block goes; it may be reused now
    others.clear();
    EXPECT_EQ(ouro::gc::collect(), 0u);
    if (OURO_CHECKS) {
        ASSERT_EQ(hook.reports.size(), 1u);
        EXPECT_NE(hook.reports[0].what.find("threw after 2 reference(s)"), std::string::npos) << hook.reports[0].what;
    } else {
        EXPECT_TRUE(hook.reports.empty());
    }
    Leaky::strays = nullptr;
}

TEST_F(Soundness, AConstructorThatThrowsWithoutStraysGivesItsBlockBackAtOnce) {
    std::vector<Ref<ouro::Object>> strays;
    Leaky::strays = &strays;
    EXPECT_THROW(ouro::make<Leaky>(true, 0), std::runtime_error);
    auto before = ouro::sys::mallocstats().bytes_in_use;
    EXPECT_THROW(ouro::make<Leaky>(true, 0), std::runtime_error);
    EXPECT_EQ(ouro::sys::mallocstats().bytes_in_use, before);
    Leaky::strays = nullptr;
}

TEST_F(Soundness, WeakReferencesTakenInAThrowingConstructorDieWithIt) {
    std::vector<Ref<ouro::Object>> strays;
    ouro::WeakSet<Leaky> watchers;
    std::vector<ouro::WeakRef<Leaky>> weaks;
    Leaky::strays = &strays;
    Leaky::watchers = &watchers;
    Leaky::weaks = &weaks;
    Leaky::callbacks = 0;
    HookCapture hook;  // the checked builds' report of the strays
    EXPECT_THROW(ouro::make<Leaky>(true, 1), std::runtime_error);
    ASSERT_EQ(weaks.size(), 1u);
    EXPECT_FALSE(weaks[0].alive());
    EXPECT_EQ(Leaky::callbacks, 1);  // as at a death
    EXPECT_EQ(watchers.size(), 0u);
    for (const auto& member : watchers) ADD_FAILURE() << "a phantom member " << member.get();
    strays.clear();
    // A new object in the same block is not what the old weak references name.
    auto fresh = ouro::make<Leaky>(false, 0);
    EXPECT_FALSE(weaks[0].alive());
    EXPECT_FALSE(weaks[0]());
    EXPECT_EQ(watchers.size(), 1u);  // the new one only
    Leaky::strays = nullptr;
    Leaky::watchers = nullptr;
    Leaky::weaks = nullptr;
}

// --- collect() counts as CPython does when finalizers break cycles --------------------------------

struct Breaker : ouro::Object {
    Ref<ouro::Object> link;
    void finalize() override { link = nullptr; }
    OURO_TRACE(link)
};

TEST_F(Soundness, ACycleItsFinalizerBreaksIsNotCountedAsCollected) {
    {
        auto a = ouro::make<Breaker>();
        auto b = ouro::make<support::Pair>();
        a->link = b;
        b->a = a;
    }
    EXPECT_EQ(ouro::gc::collect(), 0u);  // Python 3.11: 0 (both die by their counts)
    {
        auto self = ouro::make<Breaker>();
        self->link = self;
    }
    EXPECT_EQ(ouro::gc::collect(), 0u);  // Python 3.11: 0
    {
        // Garbage that a finalizer breaks beside garbage that it does not: the rest is counted.
        auto a = ouro::make<Breaker>();
        auto b = ouro::make<support::Pair>();
        a->link = b;
        b->a = a;
        auto c = ouro::make<support::Pair>();
        auto d = ouro::make<support::Pair>();
        c->a = d;
        d->a = c;
        d->b = a;  // a hangs from c <-> d as well: it stays garbage
        auto e = ouro::make<Breaker>();
        auto f = ouro::make<support::Pair>();
        e->link = f;
        f->a = e;
    }
    EXPECT_EQ(ouro::gc::collect(), 3u);  // a, c, d; b, e and f die by their counts (Python 3.11: 3)
}

// --- Mistaken traces never free a live object ---------------------------------------------------

Ref<support::Node> g_global;

// Visits a global it does not own.
struct ClaimsAGlobal : ouro::Object {
    Ref<ClaimsAGlobal> self;
    void trace(ouro::Visitor& visit) override { visit(self, g_global); }
};

TEST_F(Soundness, ATraceThatVisitsAGlobalNeitherClearsItNorFreesItsObject) {
    HookCapture hook;
    support::Node::destroyed = 0;
    g_global = ouro::make<support::Node>(7);
    support::Node* held = g_global.get();
    {
        auto liar = ouro::make<ClaimsAGlobal>();
        liar->self = liar;
    }
    EXPECT_EQ(ouro::gc::collect(), 1u);  // the liar only
    EXPECT_EQ(g_global.get(), held);
    EXPECT_EQ(held->value, 7);
    EXPECT_EQ(support::Node::destroyed, 0);
    EXPECT_EQ(ouro::sys::getrefcount(*held), 1u);
    ASSERT_FALSE(hook.reports.empty());
    EXPECT_NE(hook.reports[0].where.find("ClaimsAGlobal"), std::string::npos) << hook.reports[0].where;
    EXPECT_NE(hook.reports[0].what.find("a global"), std::string::npos) << hook.reports[0].what;
    g_global = nullptr;
}

// Visits a member of another object.
struct ClaimsAMember : ouro::Object {
    Ref<ClaimsAMember> self;
    support::Node* victim = nullptr;
    void trace(ouro::Visitor& visit) override {
        visit(self);
        if (victim) visit(victim->next);
    }
};

TEST_F(Soundness, ATraceThatVisitsAnotherObjectsMemberLeavesThatMemberAlone) {
    HookCapture hook;
    auto victim = ouro::make<support::Node>(1);
    victim->next = ouro::make<support::Node>(2);
    support::Node* next = victim->next.get();
    {
        auto thief = ouro::make<ClaimsAMember>();
        thief->self = thief;
        thief->victim = victim.get();
    }
    EXPECT_EQ(ouro::gc::collect(), 1u);
    EXPECT_EQ(victim->next.get(), next);
    EXPECT_EQ(next->value, 2);
    ASSERT_FALSE(hook.reports.empty());
    EXPECT_NE(hook.reports[0].what.find("another managed object"), std::string::npos) << hook.reports[0].what;
}

// Visits its vector whole and element by element: every element twice.
struct VisitsTwice : ouro::Object {
    std::vector<Ref<ouro::Object>> items;
    Ref<ouro::Object> back;
    void trace(ouro::Visitor& visit) override {
        visit(items, back);
        for (auto& item : items) visit(item);
    }
};

TEST_F(Soundness, ATraceThatVisitsItsElementsTwiceNeitherClearsNorFreesALiveObject) {
    HookCapture hook;
    auto held = ouro::make<support::Pair>();  // live: the test holds it
    {
        auto x = ouro::make<VisitsTwice>();
        x->items.push_back(held);
        held->a = x;  // x <-> held, and held is referenced from here too
    }
    EXPECT_EQ(ouro::gc::collect(), 0u);
    ASSERT_TRUE(held->a);  // not cleared
    auto* x = static_cast<VisitsTwice*>(held->a.get());
    ASSERT_EQ(x->items.size(), 1u);
    EXPECT_EQ(x->items[0].get(), held.get());
    ASSERT_FALSE(hook.reports.empty());
    EXPECT_NE(hook.reports[0].what.find("twice"), std::string::npos) << hook.reports[0].what;
    held->a = nullptr;  // x goes by its count
}

// Visits a member of its own twice.
struct MemberTwice : ouro::Object {
    Ref<ouro::Object> a;
    void trace(ouro::Visitor& visit) override { visit(a, a); }
};

TEST_F(Soundness, ATraceThatVisitsAMemberTwiceCountsItOnce) {
    HookCapture hook;
    auto held = ouro::make<support::Pair>();
    {
        auto m = ouro::make<MemberTwice>();
        m->a = held;
        held->a = m;
    }
    EXPECT_EQ(ouro::gc::collect(), 0u);  // held is the test's: both live
    ASSERT_TRUE(held->a);
    EXPECT_EQ(static_cast<MemberTwice*>(held->a.get())->a.get(), held.get());
    ASSERT_FALSE(hook.reports.empty());
    held->a = nullptr;
    EXPECT_EQ(ouro::gc::collect(), 0u);
}

TEST_F(Soundness, ADanglingRawReferenceIsReportedWithoutCrashing) {
    if (!OURO_CHECKS) GTEST_SKIP() << "checked builds only";
    support::Node* raw;
    {
        auto n = ouro::make<support::Node>();
        raw = n.get();
    }
    try {
        Ref<support::Node> dangling(raw);
        ADD_FAILURE() << "a Ref to a freed object was made";
    } catch (const std::logic_error& e) {
        EXPECT_NE(std::string(e.what()).find("dead or unmanaged"), std::string::npos) << e.what();
    }
}

// --- Under-visiting is reported where it can be (checked builds) -----------------------------------

struct ForgetsAMember : ouro::Object {
    Ref<ouro::Object> a, b;
    void trace(ouro::Visitor& visit) override { visit(a); }
};
struct NeverTraces : ouro::Object {
    Ref<ouro::Object> a;
};
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverloaded-virtual"  // the mistake under test
struct ConstTrace : ouro::Object {
    Ref<ouro::Object> a;
    void trace(ouro::Visitor&) const {}  // not an override: never called
};
#pragma GCC diagnostic pop

TEST_F(Soundness, RefMembersATraceDoesNotVisitAreReported) {
    if (!OURO_CHECKS) GTEST_SKIP() << "checked builds only";
    HookCapture hook;
    auto f = ouro::make<ForgetsAMember>();
    auto n = ouro::make<NeverTraces>();
    auto c = ouro::make<ConstTrace>();
    auto again = ouro::make<ForgetsAMember>();  // once per type
    ASSERT_EQ(hook.reports.size(), 3u);
    EXPECT_NE(hook.reports[0].where.find("ForgetsAMember"), std::string::npos);
    EXPECT_NE(hook.reports[0].what.find("visits 1"), std::string::npos) << hook.reports[0].what;
    EXPECT_NE(hook.reports[1].what.find("does not override trace"), std::string::npos) << hook.reports[1].what;
    EXPECT_NE(hook.reports[2].where.find("ConstTrace"), std::string::npos);
}

// --- What visit() accepts ---------------------------------------------------------------------------

struct Everything : ouro::Object {
    std::set<Ref<Everything>> set;                    // const Refs
    std::optional<Ref<Everything>> maybe;
    std::pair<int, Ref<Everything>> pair;
    std::map<std::string, Ref<Everything>> by_name;   // string keys are skipped
    std::map<Ref<Everything>, std::vector<Ref<Everything>>> nested;
    std::tuple<Ref<Everything>, double, std::optional<Ref<Everything>>> tuple;
    std::variant<int, Ref<Everything>> variant;
    std::array<Ref<Everything>, 2> array;
    Ref<Everything> c_array[2];
    std::unique_ptr<Inner> boxed = std::make_unique<Inner>();
    ouro::WeakRef<Everything> weak;
    OURO_TRACE(set, maybe, pair, by_name, nested, tuple, variant, array, c_array, boxed, weak)
};

TEST_F(Soundness, VisitAcceptsCompositesOfReferences) {
    auto hub = ouro::make<Everything>();
    auto nodes = std::vector<Ref<Everything>>();
    for (int i = 0; i < 13; ++i) nodes.push_back(ouro::make<Everything>());
    hub->set.insert(nodes[0]);
    hub->maybe = nodes[1];
    hub->pair = {1, nodes[2]};
    hub->by_name["three"] = nodes[3];
    hub->nested[nodes[4]].push_back(nodes[5]);
    hub->tuple = {nodes[6], 1.0, nodes[7]};
    hub->variant = nodes[8];
    hub->array = {nodes[9], nodes[10]};
    hub->c_array[0] = nodes[11];
    hub->boxed->refs.push_back(nodes[12]);
    hub->weak = ouro::WeakRef<Everything>(nodes[0]);
    auto referents = ouro::gc::get_referents(*hub);
    EXPECT_EQ(referents.size(), 13u);
    for (auto& n : nodes) EXPECT_TRUE(support::contains(referents, n.get()));
    referents.clear();
    // Every one of them points back: one cycle through every kind of holder.
    for (auto& n : nodes) n->maybe = hub;
    nodes.clear();
    hub = nullptr;
    EXPECT_EQ(ouro::gc::collect(), 14u);
}

TEST_F(Soundness, RefsAreOrderedByIdentity) {
    auto a = ouro::make<support::Node>();
    auto b = ouro::make<support::Node>();
    std::set<Ref<support::Node>> s{a, b, a};
    EXPECT_EQ(s.size(), 2u);
    EXPECT_EQ(a < b, std::less<>()(a.get(), b.get()));
    EXPECT_TRUE(a <= a);
    EXPECT_EQ(a <=> a, std::strong_ordering::equal);
}

}  // namespace
