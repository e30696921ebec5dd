// WeakRef, getweakrefcount and getweakrefs: CPython's rules (docs/cpython.md §5), in the spirit of CPython's
// test_weakref.py and the weakref parts of test_gc.py.
#include <ouro/ouro.hpp>
#include <ouro/weakref.hpp>

#include <gtest/gtest.h>

#include "support.hpp"

#include <algorithm>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_set>
#include <vector>

namespace {

std::vector<std::string> g_log;  // what happened, in order

// A node of a graph, with a name for the log.
struct Node : ouro::Object {
    std::string name;
    ouro::Ref<Node> next;
    ouro::Ref<Node> other;
    explicit Node(std::string n) : name(std::move(n)) {}
    ~Node() override { g_log.push_back("dtor " + name); }
    void trace(ouro::Visitor& visit) override {
        visit(next);
        visit(other);
    }
};

// A node whose finalizer logs whether given weak references are still alive.
struct Finalized : Node {
    using Node::Node;
    std::vector<const ouro::WeakRef<Node>*> watched;  // weak references to check in finalize()
    ouro::Ref<Node>* resurrect_into = nullptr;        // where finalize() stores `this`, if set
    void finalize() override {
        std::string line = "fin " + name;
        for (const auto* w : watched) line += w->alive() ? " alive" : " cleared";
        g_log.push_back(line);
        if (resurrect_into) *resurrect_into = ouro::Ref<Node>(this);
    }
};

// A node that holds a weak reference as a member and declares it in trace().
struct Holder : Node {
    using Node::Node;
    ouro::WeakRef<Node> weak;
    void trace(ouro::Visitor& visit) override {
        Node::trace(visit);
        visit(weak);
    }
};

ouro::WeakRef<Node>::Callback logger(std::string label) {
    return [label](const ouro::WeakRef<Node>& self) {
        g_log.push_back("cb " + label + (self.alive() ? " alive" : " cleared"));
    };
}

// Collects the unraisable reports for the duration of a test.
struct CaptureUnraisable {
    std::vector<std::string> reports;
    ouro::UnraisableHook previous;
    CaptureUnraisable() {
        previous = ouro::set_unraisable_hook([this](std::exception_ptr e, std::string_view where) {
            reports.push_back(std::string(where) + ": " + support::what_of(e));
        });
    }
    ~CaptureUnraisable() { ouro::set_unraisable_hook(previous); }
};

// Each test starts with a heap of its own and an empty log (the class is named after the suite).
class WeakRef : public support::HeapTest {
protected:
    void SetUp() override { g_log.clear(); }
};

}  // namespace

// --- the basics: weakref.ref(obj) -------------------------------------------------------------

TEST_F(WeakRef, SeedExampleCallReturnsReferentThenNull) {
    auto obj = ouro::make<Node>("obj");
    ouro::WeakRef<Node> weak_obj(obj);
    EXPECT_EQ(weak_obj(), obj);  // print(weak_obj()) shows the object
    EXPECT_TRUE(weak_obj.alive());
    obj = nullptr;
    EXPECT_EQ(weak_obj(), nullptr);  // ...and None once it is gone
    EXPECT_FALSE(weak_obj.alive());
    EXPECT_EQ(g_log, (std::vector<std::string>{"dtor obj"}));
}

TEST_F(WeakRef, DefaultConstructedIsEmptyAndNullReferentThrows) {
    ouro::WeakRef<Node> empty;
    EXPECT_EQ(empty(), nullptr);
    EXPECT_FALSE(empty.alive());
    EXPECT_THROW(ouro::WeakRef<Node>(ouro::Ref<Node>()), std::invalid_argument);
    EXPECT_THROW(ouro::WeakRef<Node>(ouro::Ref<Node>(), logger("x")), std::invalid_argument);
}

// Rule 1: no per-object field; an object never weakly referenced has no weak reference records.
TEST_F(WeakRef, NeverWeaklyReferencedPaysNothing) {
    EXPECT_EQ(sizeof(ouro::Object), sizeof(void*) + 8);  // vtable, count, gc word: nothing else
    auto obj = ouro::make<Node>("obj");
    EXPECT_EQ(ouro::getweakrefcount(*obj), 0u);
    EXPECT_TRUE(ouro::getweakrefs(*obj).empty());
    {
        ouro::WeakRef<Node> w(obj);
        EXPECT_EQ(ouro::getweakrefcount(*obj), 1u);
    }
    EXPECT_EQ(ouro::getweakrefcount(*obj), 0u);  // the record went with its last handle
    EXPECT_TRUE(ouro::getweakrefs(*obj).empty());
}

TEST_F(WeakRef, CountsRecordsNotHandles) {
    auto obj = ouro::make<Node>("obj");
    ouro::WeakRef<Node> plain1(obj);
    ouro::WeakRef<Node> plain2(obj);  // shares plain1's record, as weakref.ref(o) is ref(o)
    ouro::WeakRef<Node> copy = plain1;
    EXPECT_EQ(ouro::getweakrefcount(*obj), 1u);
    ouro::WeakRef<Node> with_cb1(obj, logger("1"));
    ouro::WeakRef<Node> with_cb2(obj, logger("2"));  // a callback makes a record of its own
    ouro::WeakRef<Node> cb_copy = with_cb1;
    EXPECT_EQ(ouro::getweakrefcount(*obj), 3u);
    with_cb1.reset();
    EXPECT_EQ(ouro::getweakrefcount(*obj), 3u);  // cb_copy still holds that record
    cb_copy.reset();
    EXPECT_EQ(ouro::getweakrefcount(*obj), 2u);
}

TEST_F(WeakRef, GetweakrefsNewestFirst) {
    auto obj = ouro::make<Node>("obj");
    ouro::WeakRef<Node> a(obj, logger("a"));
    ouro::WeakRef<Node> b(obj, logger("b"));
    ouro::WeakRef<Node> c(obj, logger("c"));
    std::vector<ouro::WeakRef<ouro::Object>> refs = ouro::getweakrefs(*obj);
    ASSERT_EQ(refs.size(), 3u);
    for (const auto& r : refs) EXPECT_EQ(r(), obj);
    obj = nullptr;
    // Once the referent is dead, == is identity of the record: tells which is which.
    EXPECT_TRUE(refs[0] == c);
    EXPECT_TRUE(refs[1] == b);
    EXPECT_TRUE(refs[2] == a);
    EXPECT_FALSE(refs[0] == a);
}

// --- equality, hashing, copies -----------------------------------------------------------------

TEST_F(WeakRef, EqualityFollowsReferentWhileAliveThenIdentity) {
    auto x = ouro::make<Node>("x");
    auto y = ouro::make<Node>("y");
    ouro::WeakRef<Node> x1(x, logger("x1"));
    ouro::WeakRef<Node> x2(x, logger("x2"));  // a different record, same referent
    ouro::WeakRef<Node> x1_copy = x1;
    ouro::WeakRef<Node> y1(y);
    EXPECT_TRUE(x1 == x2);
    EXPECT_FALSE(x1 == y1);
    std::size_t hx = std::hash<ouro::WeakRef<Node>>()(x1);
    EXPECT_EQ(hx, std::hash<ouro::WeakRef<Node>>()(x2));
    x = nullptr;
    EXPECT_FALSE(x1 == x2);     // dead: only the same record is equal
    EXPECT_TRUE(x1 == x1_copy);
    EXPECT_FALSE(x1 == y1);
    EXPECT_EQ(std::hash<ouro::WeakRef<Node>>()(x1), hx);  // the hash survives the death
    EXPECT_EQ(std::hash<ouro::WeakRef<Node>>()(x2), hx);

    // Usable as a key after death, like a Python weakref in a set.
    std::unordered_set<ouro::WeakRef<Node>> set{x1, x2, x1_copy, y1};
    EXPECT_EQ(set.size(), 3u);
    EXPECT_EQ(set.count(x1_copy), 1u);
}

TEST_F(WeakRef, ConvertsToBaseSharingTheRecord) {
    auto f = ouro::make<Finalized>("f");
    ouro::WeakRef<Finalized> derived(f, [](const ouro::WeakRef<Finalized>&) { g_log.push_back("cb"); });
    ouro::WeakRef<Node> base = derived;
    ouro::WeakRef<ouro::Object> object = derived;
    EXPECT_EQ(ouro::getweakrefcount(*f), 1u);
    EXPECT_EQ(base().get(), f.get());
    f = nullptr;
    EXPECT_TRUE(base == derived);
    EXPECT_TRUE(object == base);
    EXPECT_EQ(g_log, (std::vector<std::string>{"fin f", "cb", "dtor f"}));
}

TEST_F(WeakRef, CopiesShareOneCallbackThatRunsOnce) {
    auto obj = ouro::make<Node>("obj");
    ouro::WeakRef<Node> w(obj, logger("w"));
    std::vector<ouro::WeakRef<Node>> copies(10, w);
    ouro::WeakRef<Node> moved = std::move(copies.back());
    copies.pop_back();
    obj = nullptr;
    EXPECT_EQ(g_log, (std::vector<std::string>{"cb w cleared", "dtor obj"}));
    for (const auto& c : copies) EXPECT_TRUE(c == w);
}

TEST_F(WeakRef, CallbackRunsOnlyWhileAHandleExists) {
    auto obj = ouro::make<Node>("obj");
    std::optional<ouro::WeakRef<Node>> w(std::in_place, obj, logger("dropped"));
    ouro::WeakRef<Node> kept(obj, logger("kept"));
    w.reset();  // like `del r` in Python: the callback goes with the weakref
    obj = nullptr;
    EXPECT_EQ(g_log, (std::vector<std::string>{"cb kept cleared", "dtor obj"}));
}

// --- rule 2: death by count ----------------------------------------------------------------------

TEST_F(WeakRef, DeathByCountFinalizeThenClearThenCallbacksNewestFirstThenFree) {
    auto f = ouro::make<Finalized>("f");
    ouro::WeakRef<Node> plain(f);
    ouro::WeakRef<Node> first(f, logger("first"));
    ouro::WeakRef<Node> second(f, [&](const ouro::WeakRef<Node>&) {
        // Every weak reference is cleared before the first callback runs.
        g_log.push_back(std::string("cb second sees") + (plain.alive() || first.alive() ? " alive" : " cleared"));
    });
    ouro::WeakRef<Node> third(f, logger("third"));
    f->watched = {&plain, &first};
    f = nullptr;
    EXPECT_EQ(g_log, (std::vector<std::string>{
                         "fin f alive alive",  // finalize() runs first, with the weakrefs intact
                         "cb third cleared",   // then all are cleared and the callbacks run, newest first
                         "cb second sees cleared",
                         "cb first cleared",
                         "dtor f",  // then the memory is freed
                     }));
    EXPECT_FALSE(plain.alive());
}

TEST_F(WeakRef, ResurrectionByCountKeepsWeakrefs) {
    // CPython's subtype_dealloc: a __del__ that resurrects returns before weakrefs are cleared.
    ouro::Ref<Node> saved;
    auto f = ouro::make<Finalized>("f");
    ouro::WeakRef<Node> w(f, logger("w"));
    f->resurrect_into = &saved;
    f = nullptr;
    EXPECT_EQ(g_log, (std::vector<std::string>{"fin f"}));
    EXPECT_TRUE(w.alive());
    EXPECT_EQ(w(), saved);
    saved = nullptr;  // second death: finalize() does not run again
    EXPECT_EQ(g_log, (std::vector<std::string>{"fin f", "cb w cleared", "dtor f"}));
}

// --- rule 3: death in a cyclic collection --------------------------------------------------------

TEST_F(WeakRef, CollectionClearsEveryWeakrefBeforeAnyFinalizer) {
    auto a = ouro::make<Finalized>("a");
    auto b = ouro::make<Finalized>("b");
    a->next = b;
    b->next = a;
    ouro::WeakRef<Node> wa(a);
    ouro::WeakRef<Node> wb(b);
    ouro::WeakRef<Node> wa_cb(a, [&](const ouro::WeakRef<Node>&) {
        g_log.push_back(std::string("cb a sees b ") + (wb.alive() ? "alive" : "cleared"));
    });
    ouro::WeakRef<Node> wb_cb(b, logger("b"));
    a->watched = {&wa, &wb};
    b->watched = {&wa, &wb};
    a = nullptr;
    b = nullptr;
    EXPECT_TRUE(wa.alive());  // a cycle: only the collector can free it
    EXPECT_EQ(ouro::gc::collect(), 2u);
    ASSERT_EQ(g_log.size(), 6u);
    // Callbacks first (weakrefs to every unreachable object already cleared), then finalizers,
    // which see every weakref cleared, then the memory. Order within each phase is not a rule.
    std::sort(g_log.begin(), g_log.begin() + 2);
    std::sort(g_log.begin() + 2, g_log.begin() + 4);
    EXPECT_EQ(g_log[0], "cb a sees b cleared");
    EXPECT_EQ(g_log[1], "cb b cleared");
    EXPECT_EQ(g_log[2], "fin a cleared cleared");
    EXPECT_EQ(g_log[3], "fin b cleared cleared");
    EXPECT_EQ(std::string(g_log[4], 0, 5), "dtor ");
    EXPECT_EQ(std::string(g_log[5], 0, 5), "dtor ");
    EXPECT_FALSE(wa.alive());
    EXPECT_FALSE(wb.alive());
}

TEST_F(WeakRef, CollectionRunsCallbacksNewestFirst) {
    auto a = ouro::make<Node>("a");
    a->next = a;
    ouro::WeakRef<Node> w1(a, logger("1"));
    ouro::WeakRef<Node> w2(a, logger("2"));
    ouro::WeakRef<Node> w3(a, logger("3"));
    a = nullptr;
    EXPECT_EQ(ouro::gc::collect(), 1u);
    EXPECT_EQ(g_log, (std::vector<std::string>{"cb 3 cleared", "cb 2 cleared", "cb 1 cleared", "dtor a"}));
}

TEST_F(WeakRef, GarbageWeakrefNeverCallsBack) {
    // test_gc.py's test_bug1055820c shape: a weakref held only by the garbage does not call back;
    // one held from outside does.
    auto h = ouro::make<Holder>("h");
    auto x = ouro::make<Node>("x");
    h->next = x;
    x->next = h;  // h <-> x: garbage together
    h->weak = ouro::WeakRef<Node>(x, logger("member"));
    ouro::WeakRef<Node> outside(x, logger("outside"));
    h = nullptr;
    x = nullptr;
    EXPECT_EQ(ouro::gc::collect(), 2u);
    ASSERT_EQ(g_log.size(), 3u);
    EXPECT_EQ(g_log[0], "cb outside cleared");
    EXPECT_EQ(std::string(g_log[1], 0, 5), "dtor ");
    EXPECT_FALSE(outside.alive());
}

TEST_F(WeakRef, GarbageWeakrefToAnObjectTheGarbageFreesNeverCallsBack) {
    // The referent is not in the unreachable set (untracked, or older than the generation being
    // collected), but dies when clearing the garbage drops its last reference: the weakref held by
    // the garbage still must not call back (its holder is half torn down by then).
    struct Plain : ouro::Object {  // no trace(): never tracked
        ~Plain() override { g_log.push_back("dtor plain"); }
    };
    struct PlainHolder : Node {
        using Node::Node;
        ouro::Ref<Plain> strong;
        ouro::WeakRef<Plain> weak;
        void trace(ouro::Visitor& visit) override {
            Node::trace(visit);
            visit(strong);
            visit(weak);
        }
    };
    {
        auto h = ouro::make<PlainHolder>("h");
        h->next = h;
        h->strong = ouro::make<Plain>();
        h->weak = ouro::WeakRef<Plain>(h->strong, [](const ouro::WeakRef<Plain>&) { g_log.push_back("cb plain"); });
    }
    EXPECT_EQ(ouro::gc::collect(), 1u);
    EXPECT_EQ(std::count(g_log.begin(), g_log.end(), "cb plain"), 0) << "untracked referent";
    EXPECT_EQ(std::count(g_log.begin(), g_log.end(), "dtor plain"), 1);

    g_log.clear();
    {
        auto old = ouro::make<Node>("old");
        ouro::gc::collect(0);  // `old` moves to generation 1
        auto h = ouro::make<Holder>("h");
        h->next = h;
        h->other = old;
        h->weak = ouro::WeakRef<Node>(old, logger("old"));
    }
    EXPECT_EQ(ouro::gc::collect(0), 1u);
    EXPECT_EQ(std::count(g_log.begin(), g_log.end(), "cb old cleared"), 0) << "older-generation referent";
    EXPECT_EQ(std::count(g_log.begin(), g_log.end(), "dtor old"), 1);
}

TEST_F(WeakRef, GarbageWeakrefToItsOwnHolderNeverCallsBack) {
    auto h = ouro::make<Holder>("h");
    h->next = h;
    h->weak = ouro::WeakRef<Node>(h, logger("self"));
    h = nullptr;
    EXPECT_EQ(ouro::gc::collect(), 1u);
    EXPECT_EQ(g_log, (std::vector<std::string>{"dtor h"}));
}

TEST_F(WeakRef, GarbageWeakrefWithAHandleOutsideCallsBack) {
    // The record is reachable through a copy held outside the garbage: it is not garbage.
    auto h = ouro::make<Holder>("h");
    h->next = h;
    h->weak = ouro::WeakRef<Node>(h, logger("shared"));
    ouro::WeakRef<Node> copy = h->weak;
    h = nullptr;
    EXPECT_EQ(ouro::gc::collect(), 1u);
    EXPECT_EQ(g_log, (std::vector<std::string>{"cb shared cleared", "dtor h"}));
}

TEST_F(WeakRef, GarbageWeakrefToALiveObjectStaysQuiet) {
    auto live = ouro::make<Node>("live");
    auto h = ouro::make<Holder>("h");
    h->next = h;
    h->weak = ouro::WeakRef<Node>(live, logger("member"));
    h = nullptr;
    EXPECT_EQ(ouro::gc::collect(), 1u);
    EXPECT_EQ(g_log, (std::vector<std::string>{"dtor h"}));
    EXPECT_EQ(ouro::getweakrefcount(*live), 0u);  // the member's record went with h
    live = nullptr;
    EXPECT_EQ(g_log, (std::vector<std::string>{"dtor h", "dtor live"}));
}

TEST_F(WeakRef, ResurrectingFinalizerStillSeesWeakrefsCleared) {
    ouro::Ref<Node> saved;
    auto f = ouro::make<Finalized>("f");
    f->next = f;
    ouro::WeakRef<Node> w(f, logger("w"));
    f->watched = {&w};
    f->resurrect_into = &saved;
    f = nullptr;
    EXPECT_EQ(ouro::gc::collect(), 0u);  // resurrected: not counted
    EXPECT_EQ(g_log, (std::vector<std::string>{"cb w cleared", "fin f cleared"}));
    ASSERT_TRUE(saved);
    EXPECT_FALSE(w.alive());  // stays cleared although the object lives on
    EXPECT_EQ(ouro::getweakrefcount(*saved), 0u);
    // The survivor works as before and can be weakly referenced again.
    ouro::WeakRef<Node> again(saved, logger("again"));
    EXPECT_EQ(again(), saved);
    Node* raw = saved.get();
    saved = nullptr;  // still a cycle
    EXPECT_TRUE(again.alive());
    EXPECT_EQ(again().get(), raw);
    EXPECT_EQ(ouro::gc::collect(), 1u);  // finalize() does not run twice
    EXPECT_EQ(g_log, (std::vector<std::string>{"cb w cleared", "fin f cleared", "cb again cleared", "dtor f"}));
}

TEST_F(WeakRef, SurvivingCycleKeepsItsWeakrefs) {
    auto a = ouro::make<Node>("a");
    a->next = ouro::make<Node>("b");
    a->next->next = a;
    ouro::WeakRef<Node> wb(a->next, logger("b"));
    EXPECT_EQ(ouro::gc::collect(), 0u);
    EXPECT_TRUE(wb.alive());
    EXPECT_TRUE(g_log.empty());
}

// Its heap ends inside the test, so it cannot have the fixture's, nor share the WeakRef suite
// (gtest allows one fixture per suite).
TEST(WeakRefOutlivingItsHeap, HeapDestructionCollectsAndCallsBack) {
    g_log.clear();
    ouro::WeakRef<Node> cyclic;  // handles that outlive their heap
    ouro::WeakRef<Node> early;
    {
        ouro::Heap heap;
        ouro::Heap::Scope scope(heap);
        auto a = ouro::make<Node>("a");
        a->next = a;
        cyclic = ouro::WeakRef<Node>(a, logger("a"));
        auto b = ouro::make<Node>("b");
        early = ouro::WeakRef<Node>(b, logger("b"));
        b = nullptr;  // dies before the heap
    }  // the heap's final collection frees `a`
    EXPECT_FALSE(cyclic.alive());
    EXPECT_FALSE(early.alive());
    EXPECT_EQ(cyclic(), nullptr);
    EXPECT_FALSE(cyclic == early);
    EXPECT_EQ(g_log, (std::vector<std::string>{"cb b cleared", "dtor b", "cb a cleared", "dtor a"}));
}

// --- rule 4: what a callback may do --------------------------------------------------------------

TEST_F(WeakRef, CallbackMayAllocate) {
    std::vector<ouro::Ref<Node>> made;
    auto allocate = [&](const ouro::WeakRef<Node>&) {
        for (int i = 0; i < 100; ++i) {
            auto n = ouro::make<Node>("made");
            n->next = n;  // garbage cycles
        }
        made.push_back(ouro::make<Node>("kept"));
    };
    auto by_count = ouro::make<Node>("count");
    ouro::WeakRef<Node> w1(by_count, allocate);
    by_count = nullptr;
    ouro::gc::set_threshold(10);  // from here on, allocations in callbacks would trigger collections
    auto cyclic = ouro::make<Node>("cycle");
    cyclic->next = cyclic;
    ouro::WeakRef<Node> w2(cyclic, allocate);
    cyclic = nullptr;
    ouro::gc::collect();
    ASSERT_EQ(made.size(), 2u);
    for (auto& m : made) EXPECT_EQ(m->name, "kept");
    ouro::gc::collect();  // the cycles the callbacks made
    EXPECT_EQ(ouro::gc::collect(), 0u);
    EXPECT_EQ(std::count(g_log.begin(), g_log.end(), "dtor made"), 200);
}

// Death by count with a callback that makes a collection run (by allocating past the threshold,
// or by calling gc::collect()) while the dying object, at count 0, is still allocated.
TEST_F(WeakRef, CallbackMayAllocateIntoACollectionDuringDeathByCount) {
    ouro::gc::set_threshold(1);
    auto a = ouro::make<Node>("a");
    ouro::WeakRef<Node> w(a, [](const ouro::WeakRef<Node>&) {
        for (int i = 0; i < 10; ++i) ouro::make<Node>("made");  // automatic collections
    });
    a = nullptr;
    EXPECT_EQ(std::count(g_log.begin(), g_log.end(), "dtor a"), 1);
}

TEST_F(WeakRef, CallbackMayCallCollectDuringDeathByCount) {
    std::vector<std::size_t> results;
    auto garbage = ouro::make<Node>("garbage");
    garbage->next = garbage;
    garbage = nullptr;
    auto a = ouro::make<Node>("a");
    ouro::WeakRef<Node> wa(a, [&](const ouro::WeakRef<Node>&) { results.push_back(ouro::gc::collect()); });
    a = nullptr;  // no collection is running, so the callback's is a real one
    ASSERT_EQ(results.size(), 1u);
    EXPECT_EQ(results[0], 1u);
    EXPECT_EQ(g_log, (std::vector<std::string>{"dtor garbage", "dtor a"}));
}

TEST_F(WeakRef, CallbackMayCallCollectDuringACollection) {
    std::vector<std::size_t> results;
    auto c = ouro::make<Node>("c");
    c->next = c;
    ouro::WeakRef<Node> wc(c, [&](const ouro::WeakRef<Node>&) { results.push_back(ouro::gc::collect()); });
    c = nullptr;
    EXPECT_EQ(ouro::gc::collect(), 1u);
    ASSERT_EQ(results.size(), 1u);
    EXPECT_EQ(results[0], 0u);  // re-entrant: does nothing
    EXPECT_EQ(g_log, (std::vector<std::string>{"dtor c"}));
    EXPECT_EQ(ouro::gc::collect(), 0u);
}

TEST_F(WeakRef, CallbackMayResurrectOtherGarbage) {
    // A callback reaches a member of the garbage through a raw pointer and keeps it: the
    // collector must notice (as for a resurrecting finalizer) and free nothing it reaches.
    ouro::Ref<Node> saved;
    auto a = ouro::make<Node>("a");
    auto b = ouro::make<Node>("b");
    a->next = b;
    b->next = a;
    Node* raw_b = b.get();
    ouro::WeakRef<Node> wa(a, [&](const ouro::WeakRef<Node>&) {
        saved = ouro::Ref<Node>(raw_b);
        g_log.push_back("cb a");
    });
    a = nullptr;
    b = nullptr;
    EXPECT_EQ(ouro::gc::collect(), 0u);
    EXPECT_EQ(g_log, (std::vector<std::string>{"cb a"}));
    ASSERT_TRUE(saved);
    EXPECT_EQ(saved->name, "b");
    ASSERT_TRUE(saved->next);
    EXPECT_EQ(saved->next->name, "a");  // b reaches a: a survives too
    EXPECT_EQ(saved->next->next, saved);
    saved = nullptr;
    EXPECT_EQ(ouro::gc::collect(), 2u);
    EXPECT_EQ(g_log.size(), 3u);
}

TEST_F(WeakRef, CallbackMayResurrectOtherObjectsByCount) {
    ouro::Ref<Node> saved;
    auto a = ouro::make<Node>("a");
    a->next = ouro::make<Node>("b");
    Node* raw_b = a->next.get();
    ouro::WeakRef<Node> wa(a, [&](const ouro::WeakRef<Node>&) { saved = ouro::Ref<Node>(raw_b); });
    a = nullptr;  // b, only held by a, is kept by the callback before a's destructor drops it
    EXPECT_EQ(g_log, (std::vector<std::string>{"dtor a"}));
    ASSERT_TRUE(saved);
    EXPECT_EQ(saved->name, "b");
    saved = nullptr;
    EXPECT_EQ(g_log, (std::vector<std::string>{"dtor a", "dtor b"}));
}

TEST_F(WeakRef, CallbackMayCreateNewWeakrefs) {
    auto target = ouro::make<Node>("target");
    std::vector<ouro::WeakRef<Node>> created;
    auto create = [&](const ouro::WeakRef<Node>&) {
        created.emplace_back(target, logger("created"));
        created.emplace_back(target);
    };
    auto a = ouro::make<Node>("a");
    ouro::WeakRef<Node> wa(a, create);
    a = nullptr;
    auto c = ouro::make<Node>("c");
    c->next = c;
    ouro::WeakRef<Node> wc(c, create);
    c = nullptr;
    EXPECT_EQ(ouro::gc::collect(), 1u);
    ASSERT_EQ(created.size(), 4u);
    EXPECT_EQ(ouro::getweakrefcount(*target), 3u);  // two with callbacks, one shared plain record
    target = nullptr;
    EXPECT_EQ(g_log, (std::vector<std::string>{"dtor a", "dtor c", "cb created cleared", "cb created cleared",
                                               "dtor target"}));
    for (const auto& w : created) EXPECT_FALSE(w.alive());
}

TEST_F(WeakRef, CallbackMayWeaklyReferenceOtherGarbage) {
    // A weakref made during the collection to a member of the garbage (reached by a raw
    // pointer) is not among those the weakref phase cleared: it is cleared when the member is
    // freed, and its callback then runs, with the heap still consistent.
    auto a = ouro::make<Node>("a");
    auto b = ouro::make<Node>("b");
    a->next = b;
    b->next = a;
    Node* raw_b = b.get();
    std::vector<ouro::WeakRef<Node>> created;
    ouro::WeakRef<Node> wa(a, [&](const ouro::WeakRef<Node>&) {
        created.emplace_back(ouro::Ref<Node>(raw_b), [](const ouro::WeakRef<Node>& self) {
            g_log.push_back(std::string("cb late ") + (self.alive() ? "alive" : "cleared"));
            ouro::make<Node>("during free");  // allocate while the garbage is being freed
        });
    });
    a = nullptr;
    b = nullptr;
    EXPECT_EQ(ouro::gc::collect(), 2u);
    ASSERT_EQ(created.size(), 1u);
    EXPECT_FALSE(created[0].alive());
    EXPECT_EQ(std::count(g_log.begin(), g_log.end(), "cb late cleared"), 1);
    EXPECT_EQ(std::count(g_log.begin(), g_log.end(), "dtor during free"), 1);
    EXPECT_EQ(ouro::gc::collect(), 0u);
}

TEST_F(WeakRef, CallbackMayDropTheLastHandleToItsOwnWeakref) {
    std::optional<ouro::WeakRef<Node>> only;
    auto drop_self = [&](const ouro::WeakRef<Node>& self) {
        only.reset();  // `self` is still usable: the callback is handed a handle of its own
        g_log.push_back(std::string("cb ") + (self.alive() ? "alive" : "cleared"));
        ouro::WeakRef<Node> copy = self;  // and may even be copied
        EXPECT_TRUE(copy == self);
    };
    auto a = ouro::make<Node>("a");
    only.emplace(a, drop_self);
    a = nullptr;
    EXPECT_FALSE(only.has_value());
    auto c = ouro::make<Node>("c");
    c->next = c;
    only.emplace(c, drop_self);
    c = nullptr;
    EXPECT_EQ(ouro::gc::collect(), 1u);
    EXPECT_FALSE(only.has_value());
    EXPECT_EQ(g_log, (std::vector<std::string>{"cb cleared", "dtor a", "cb cleared", "dtor c"}));
}

TEST_F(WeakRef, CallbackCapturesAreReleasedAfterItRuns) {
    auto captured = ouro::make<Node>("captured");
    auto a = ouro::make<Node>("a");
    ouro::WeakRef<Node> w(a, [keep = captured](const ouro::WeakRef<Node>&) { g_log.push_back("cb"); });
    captured = nullptr;  // the callback's copy keeps it
    EXPECT_TRUE(g_log.empty());
    a = nullptr;
    EXPECT_EQ(g_log, (std::vector<std::string>{"cb", "dtor captured", "dtor a"}));
}

TEST_F(WeakRef, ThrowingCallbackIsReportedAndOthersStillRun) {
    CaptureUnraisable capture;
    auto thrower = [](const ouro::WeakRef<Node>&) {
        g_log.push_back("cb throws");
        throw std::runtime_error("boom");
    };
    auto a = ouro::make<Node>("a");
    ouro::WeakRef<Node> w1(a, logger("older"));
    ouro::WeakRef<Node> w2(a, thrower);
    ouro::WeakRef<Node> w3(a, logger("newer"));
    a = nullptr;
    EXPECT_EQ(g_log, (std::vector<std::string>{"cb newer cleared", "cb throws", "cb older cleared", "dtor a"}));
    ASSERT_EQ(capture.reports.size(), 1u);
    EXPECT_NE(capture.reports[0].find("callback of a weak reference"), std::string::npos) << capture.reports[0];
    EXPECT_NE(capture.reports[0].find("boom"), std::string::npos);

    g_log.clear();
    auto c = ouro::make<Node>("c");
    c->next = c;
    ouro::WeakRef<Node> v1(c, logger("older"));
    ouro::WeakRef<Node> v2(c, thrower);
    c = nullptr;
    EXPECT_EQ(ouro::gc::collect(), 1u);
    EXPECT_EQ(g_log, (std::vector<std::string>{"cb throws", "cb older cleared", "dtor c"}));
    EXPECT_EQ(capture.reports.size(), 2u);
}

TEST_F(WeakRef, ManyObjectsManyCallbacksInOneCollection) {
    int calls = 0;
    std::vector<ouro::WeakRef<Node>> refs;
    {
        std::vector<ouro::Ref<Node>> ring;
        for (int i = 0; i < 1000; ++i) ring.push_back(ouro::make<Node>("n"));
        for (int i = 0; i < 1000; ++i) {
            ring[i]->next = ring[(i + 1) % 1000];
            refs.emplace_back(ring[i], [&](const ouro::WeakRef<Node>&) { ++calls; });
            if (i % 3 == 0) refs.emplace_back(ring[i]);
        }
    }
    EXPECT_EQ(ouro::gc::collect(), 1000u);
    EXPECT_EQ(calls, 1000);
    for (const auto& w : refs) EXPECT_FALSE(w.alive());
}
