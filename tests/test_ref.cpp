// ouro::Ref<T>, ouro::make<T>, ref_cast, std::hash, destruction at count zero, tracked vs
// untracked types, and the iterative release of very long chains (docs/design.md §4).
#include <ouro/ouro.hpp>

#include <gtest/gtest.h>

#include "support.hpp"

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <vector>

namespace {

using ouro::Ref;

// An untracked type: holds no references, keeps the default trace().
struct Atom : ouro::Object {
    static inline int live = 0;
    static inline int destroyed = 0;
    int value;
    explicit Atom(int v = 0) : value(v) { ++live; }
    ~Atom() override {
        --live;
        ++destroyed;
    }
};

using support::Node;  // a tracked type

// A class hierarchy for upcasts and ref_cast.
struct Base : ouro::Object {
    static inline int destroyed = 0;
    int base_value = 1;
    ~Base() override { ++destroyed; }
    virtual int kind() const { return 1; }
};
struct Derived : Base {
    int derived_value = 2;
    int kind() const override { return 2; }
};
struct MoreDerived : Derived {
    int kind() const override { return 3; }
};
struct Other : ouro::Object {
    int other_value = 3;
};

// A type derived from a tracked type without overriding trace() again: still tracked.
struct NodeSub : Node {
    using Node::Node;
};

// Ref<Self>(this) inside member functions.
struct SelfAware : ouro::Object {
    Ref<SelfAware> self() { return Ref<SelfAware>(this); }
    std::size_t count_while_held() {
        Ref<SelfAware> me(this);
        return ouro::sys::getrefcount(*this);
    }
};

// A constructor that already takes Ref(this): the object is managed from its first instruction.
struct Registers : ouro::Object {
    static inline std::vector<Ref<Registers>>* registry = nullptr;
    Registers() { registry->push_back(Ref<Registers>(this)); }
};

// Py_SETREF order: when a Ref's old referent dies, the Ref already holds its new value.
struct Watcher : ouro::Object {
    static inline Ref<ouro::Object>* slot = nullptr;
    static inline ouro::Object* seen_in_destructor = nullptr;
    ~Watcher() override { seen_in_destructor = slot->get(); }
};

// A traced std::vector of refs.
struct Bag : ouro::Object {
    static inline int destroyed = 0;
    std::vector<Ref<Bag>> items;
    ~Bag() override { ++destroyed; }
    void trace(ouro::Visitor& visit) override { visit(items); }
};
// The same, written as the issue shows: for (auto& r : items) visit(r);
struct LoopBag : ouro::Object {
    static inline int destroyed = 0;
    std::vector<Ref<LoopBag>> items;
    ~LoopBag() override { ++destroyed; }
    void trace(ouro::Visitor& visit) override {
        for (auto& r : items) visit(r);
    }
};

struct Throws : ouro::Object {
    Ref<Node> held;
    explicit Throws(bool do_throw) {
        held = ouro::make<Node>(5);
        if (do_throw) throw std::runtime_error("constructor failed");
    }
    void trace(ouro::Visitor& visit) override { visit(held); }
};

struct Mixin {
    virtual ~Mixin() = default;
    long long payload = 0;
};
struct ObjectNotFirst : Mixin, ouro::Object {};

struct Big : ouro::Object {
    static inline int destroyed = 0;
    char bytes[2000] = {};
    Ref<Big> next;
    ~Big() override { ++destroyed; }
    void trace(ouro::Visitor& visit) override { visit(next); }
};
struct Tree : ouro::Object {
    static inline int destroyed = 0;
    Ref<Tree> left, right;
    ~Tree() override { ++destroyed; }
    void trace(ouro::Visitor& visit) override {
        visit(left);
        visit(right);
    }
};
struct alignas(64) Aligned : ouro::Object {
    int value = 42;
};

// Chain links for the long-chain tests: an untracked one (no trace override, so the Ref member
// is invisible to the collector) and a tracked one.
struct Link : ouro::Object {
    Ref<Link> next;
    static inline int destroyed = 0;
    explicit Link(Ref<Link>&& n) : next(std::move(n)) {}
    ~Link() override { ++destroyed; }
};
struct TrackedLink : ouro::Object {
    Ref<TrackedLink> next;
    void trace(ouro::Visitor& visit) override { visit(next); }
};

class RefTest : public support::HeapTest {
protected:
    void SetUp() override {
        support::reset(Atom::live, Atom::destroyed, Node::destroyed, Base::destroyed, Bag::destroyed,
                       LoopBag::destroyed, Big::destroyed);
    }
};

// --- static shape of the API -------------------------------------------------------------------
static_assert(std::is_same_v<Ref<Node>::element_type, Node>);
static_assert(std::is_nothrow_move_constructible_v<Ref<Node>>);
static_assert(std::is_nothrow_move_assignable_v<Ref<Node>>);
static_assert(std::is_copy_constructible_v<Ref<Node>> && std::is_copy_assignable_v<Ref<Node>>);
// Ref(T*) is explicit: a raw pointer never silently becomes a reference.
static_assert(std::is_constructible_v<Ref<Node>, Node*>);
static_assert(!std::is_convertible_v<Node*, Ref<Node>>);
// nullptr converts implicitly.
static_assert(std::is_convertible_v<std::nullptr_t, Ref<Node>>);
// operator bool is explicit.
static_assert(std::is_constructible_v<bool, Ref<Node>>);
static_assert(!std::is_convertible_v<Ref<Node>, bool>);
// Implicit upcasts, never implicit downcasts or sideways casts.
static_assert(std::is_convertible_v<Ref<Derived>, Ref<Base>>);
static_assert(std::is_convertible_v<Ref<Derived>, Ref<ouro::Object>>);
static_assert(std::is_convertible_v<Ref<MoreDerived>, Ref<Base>>);
static_assert(!std::is_convertible_v<Ref<Base>, Ref<Derived>>);
static_assert(!std::is_constructible_v<Ref<Derived>, Ref<Base>>);
static_assert(!std::is_convertible_v<Ref<Other>, Ref<Base>>);
static_assert(std::is_assignable_v<Ref<Base>&, Ref<Derived>>);
static_assert(!std::is_assignable_v<Ref<Derived>&, Ref<Base>>);
// A Ref is one pointer.
static_assert(sizeof(Ref<Node>) == sizeof(void*));
// make<T> returns Ref<T>.
static_assert(std::is_same_v<decltype(ouro::make<Node>(1)), Ref<Node>>);

TEST_F(RefTest, DefaultAndNullRefs) {
    Ref<Node> a;
    Ref<Node> b(nullptr);
    Ref<Node> c = nullptr;
    EXPECT_FALSE(a);
    EXPECT_FALSE(b);
    EXPECT_FALSE(c);
    EXPECT_EQ(a.get(), nullptr);
    EXPECT_TRUE(a == nullptr);
    EXPECT_TRUE(a == b);
    Ref<Node> d(static_cast<Node*>(nullptr));  // explicit Ref(T*) with null is fine
    EXPECT_FALSE(d);
    Ref<Node> e = a;  // copying null
    Ref<Node> f = std::move(b);
    EXPECT_FALSE(e);
    EXPECT_FALSE(f);
    a.reset();  // resetting null
    a = nullptr;
    EXPECT_FALSE(a);
}

TEST_F(RefTest, MakeReturnsTheOnlyReference) {
    auto n = ouro::make<Node>(7);
    ASSERT_TRUE(n);
    EXPECT_EQ(ouro::sys::getrefcount(*n), 1u);
    EXPECT_EQ(n->value, 7);
    EXPECT_EQ((*n).value, 7);
    EXPECT_EQ(n.get()->value, 7);
    EXPECT_EQ(&*n, n.get());
    n->value = 9;
    EXPECT_EQ((*n).value, 9);
    EXPECT_FALSE(n == nullptr);
}

TEST_F(RefTest, MakeForwardsConstructorArguments) {
    struct Pair : ouro::Object {
        std::string s;
        std::vector<int> v;
        Pair(std::string a, std::vector<int>&& b) : s(std::move(a)), v(std::move(b)) {}
    };
    std::vector<int> v{1, 2, 3};
    auto p = ouro::make<Pair>("hello", std::move(v));
    EXPECT_EQ(p->s, "hello");
    EXPECT_EQ(p->v, (std::vector<int>{1, 2, 3}));
}

TEST_F(RefTest, CopyConstructAndCopyAssignAddReferences) {
    auto a = ouro::make<Atom>(1);
    Ref<Atom> b = a;
    EXPECT_EQ(ouro::sys::getrefcount(*a), 2u);
    EXPECT_TRUE(a == b);
    Ref<Atom> c;
    c = a;
    EXPECT_EQ(ouro::sys::getrefcount(*a), 3u);
    const Ref<Atom>& alias = c;
    c = alias;  // self-assignment keeps the count
    EXPECT_EQ(ouro::sys::getrefcount(*a), 3u);
    b = nullptr;
    c.reset();
    EXPECT_EQ(ouro::sys::getrefcount(*a), 1u);
    EXPECT_EQ(Atom::live, 1);
}

TEST_F(RefTest, MoveConstructAndMoveAssignTransferTheReference) {
    auto a = ouro::make<Atom>(1);
    Atom* raw = a.get();
    Ref<Atom> b = std::move(a);
    EXPECT_FALSE(a);  // NOLINT(bugprone-use-after-move): moved-from Refs are null
    EXPECT_EQ(b.get(), raw);
    EXPECT_EQ(ouro::sys::getrefcount(*raw), 1u);
    Ref<Atom> c;
    c = std::move(b);
    EXPECT_FALSE(b);  // NOLINT(bugprone-use-after-move)
    EXPECT_EQ(c.get(), raw);
    EXPECT_EQ(ouro::sys::getrefcount(*raw), 1u);
    Ref<Atom>& alias = c;
    c = std::move(alias);  // self-move keeps the object
    EXPECT_EQ(c.get(), raw);
    EXPECT_EQ(ouro::sys::getrefcount(*raw), 1u);
    EXPECT_EQ(Atom::live, 1);
}

TEST_F(RefTest, MoveAssignReleasesTheOldReferent) {
    auto a = ouro::make<Atom>(1);
    auto b = ouro::make<Atom>(2);
    a = std::move(b);
    EXPECT_EQ(Atom::destroyed, 1);
    EXPECT_EQ(a->value, 2);
    EXPECT_EQ(Atom::live, 1);
}

TEST_F(RefTest, SwapExchangesReferents) {
    auto a = ouro::make<Atom>(1);
    auto b = ouro::make<Atom>(2);
    a.swap(b);
    EXPECT_EQ(a->value, 2);
    EXPECT_EQ(b->value, 1);
    EXPECT_EQ(ouro::sys::getrefcount(*a), 1u);
}

TEST_F(RefTest, DestroyedTheMomentTheCountReachesZero) {
    auto a = ouro::make<Atom>(1);
    Ref<Atom> b = a;
    a = nullptr;
    EXPECT_EQ(Atom::destroyed, 0);
    b = nullptr;
    EXPECT_EQ(Atom::destroyed, 1);

    auto n = ouro::make<Node>(1);
    n->next = ouro::make<Node>(2);
    n->next->next = ouro::make<Node>(3);
    n.reset();
    EXPECT_EQ(Node::destroyed, 3);  // the whole chain, immediately, no collection needed

    {
        auto scoped = ouro::make<Atom>(3);
        EXPECT_EQ(Atom::live, 1);
    }
    EXPECT_EQ(Atom::live, 0);
    EXPECT_EQ(ouro::gc::get_stats()[2].collections, 0u);
}

TEST_F(RefTest, MemoryGoesBackToTheHeapAllocator) {
    // A freed block is handed out again by the heap's allocator.
    std::unordered_set<void*> first;
    std::vector<Ref<Atom>> keep;
    for (int i = 0; i < 100; ++i) keep.push_back(ouro::make<Atom>(i));
    for (auto& r : keep) first.insert(r.get());
    keep.clear();
    EXPECT_EQ(Atom::live, 0);
    int reused = 0;
    for (int i = 0; i < 100; ++i) {
        keep.push_back(ouro::make<Atom>(i));
        reused += first.count(keep.back().get()) ? 1 : 0;
    }
    EXPECT_EQ(reused, 100);
}

TEST_F(RefTest, AssignmentDropsTheOldReferentLast) {
    Ref<ouro::Object> slot = ouro::make<Watcher>();
    Watcher::slot = &slot;
    Watcher::seen_in_destructor = nullptr;
    auto replacement = ouro::make<Atom>(5);
    slot = replacement;
    EXPECT_EQ(Watcher::seen_in_destructor, replacement.get());
    slot = ouro::make<Watcher>();
    slot = nullptr;
    EXPECT_EQ(Watcher::seen_in_destructor, nullptr);
    Watcher::slot = nullptr;
}

TEST_F(RefTest, Equality) {
    auto a = ouro::make<Derived>();
    auto b = ouro::make<Derived>();
    Ref<Derived> a2 = a;
    Ref<Base> a_base = a;
    Ref<ouro::Object> a_obj = a;
    EXPECT_TRUE(a == a2);
    EXPECT_FALSE(a == b);
    EXPECT_TRUE(a != b);
    EXPECT_TRUE(a_base == a);  // across types
    EXPECT_TRUE(a == a_obj);
    EXPECT_FALSE(a_obj == b);
    Ref<Derived> null;
    EXPECT_TRUE(null == nullptr);
    EXPECT_FALSE(a == nullptr);
    EXPECT_TRUE(a != nullptr);
    EXPECT_FALSE(a == null);
}

TEST_F(RefTest, StdHashFollowsIdentity) {
    auto a = ouro::make<Atom>(1);
    auto b = ouro::make<Atom>(1);
    Ref<Atom> a2 = a;
    std::hash<Ref<Atom>> h;
    EXPECT_EQ(h(a), h(a2));
    EXPECT_EQ(h(Ref<Atom>()), h(Ref<Atom>()));
    std::unordered_set<Ref<Atom>> set;
    set.insert(a);
    set.insert(a2);
    set.insert(b);
    EXPECT_EQ(set.size(), 2u);
    EXPECT_EQ(set.count(a), 1u);
    EXPECT_EQ(set.count(b), 1u);
    EXPECT_EQ(ouro::sys::getrefcount(*a), 3u);  // a, a2, the set's copy
    set.clear();
    EXPECT_EQ(ouro::sys::getrefcount(*a), 2u);
    // Upcast refs to the same object hash alike.
    Ref<ouro::Object> up = a;
    EXPECT_EQ(std::hash<Ref<ouro::Object>>()(up), h(a));
}

TEST_F(RefTest, ImplicitUpcast) {
    auto d = ouro::make<MoreDerived>();
    Ref<Base> base = d;  // copy
    EXPECT_EQ(ouro::sys::getrefcount(*d), 2u);
    EXPECT_EQ(base->kind(), 3);
    Ref<ouro::Object> obj = std::move(base);  // move: no count change
    EXPECT_FALSE(base);                        // NOLINT(bugprone-use-after-move)
    EXPECT_EQ(ouro::sys::getrefcount(*d), 2u);
    EXPECT_EQ(obj.get(), static_cast<ouro::Object*>(d.get()));
    Ref<Base> assigned;
    assigned = d;  // converting copy assignment
    EXPECT_EQ(ouro::sys::getrefcount(*d), 3u);
    Ref<Derived> d2 = d;
    assigned = std::move(d2);  // converting move assignment
    EXPECT_EQ(ouro::sys::getrefcount(*d), 3u);
    // A function taking Ref<Base> accepts Ref<Derived>.
    auto kind = [](const Ref<Base>& r) { return r->kind(); };
    EXPECT_EQ(kind(d), 3);
    EXPECT_EQ(kind(ouro::make<Derived>()), 2);
    EXPECT_EQ(Base::destroyed, 1);
}

TEST_F(RefTest, RefCastSucceeds) {
    Ref<ouro::Object> obj = ouro::make<MoreDerived>();
    EXPECT_EQ(ouro::sys::getrefcount(*obj), 1u);
    Ref<Derived> d = ouro::ref_cast<Derived>(obj);
    ASSERT_TRUE(d);
    EXPECT_EQ(d.get(), obj.get());
    EXPECT_EQ(ouro::sys::getrefcount(*obj), 2u);
    EXPECT_EQ(d->derived_value, 2);
    Ref<MoreDerived> md = ouro::ref_cast<MoreDerived>(d);
    ASSERT_TRUE(md);
    EXPECT_EQ(md->kind(), 3);
    EXPECT_EQ(ouro::sys::getrefcount(*obj), 3u);
    // Casting to a base works too.
    Ref<Base> b = ouro::ref_cast<Base>(md);
    EXPECT_TRUE(b);
    static_assert(std::is_same_v<decltype(ouro::ref_cast<Derived>(obj)), Ref<Derived>>);
}

TEST_F(RefTest, RefCastFailureIsNull) {
    Ref<ouro::Object> obj = ouro::make<Derived>();
    Ref<Other> o = ouro::ref_cast<Other>(obj);
    EXPECT_FALSE(o);
    Ref<MoreDerived> md = ouro::ref_cast<MoreDerived>(obj);
    EXPECT_FALSE(md);
    EXPECT_EQ(ouro::sys::getrefcount(*obj), 1u);  // a failed cast adds no reference
    Ref<ouro::Object> null;
    EXPECT_FALSE(ouro::ref_cast<Derived>(null));
    Ref<Base> base_of_base = ouro::make<Base>();
    EXPECT_FALSE(ouro::ref_cast<Derived>(base_of_base));
}

TEST_F(RefTest, RefOfThisInsideMemberFunctions) {
    auto s = ouro::make<SelfAware>();
    EXPECT_EQ(s->count_while_held(), 2u);
    EXPECT_EQ(ouro::sys::getrefcount(*s), 1u);
    Ref<SelfAware> again = s->self();
    EXPECT_TRUE(again == s);
    EXPECT_EQ(ouro::sys::getrefcount(*s), 2u);
    SelfAware* raw = s.get();
    s = nullptr;
    EXPECT_EQ(ouro::sys::getrefcount(*raw), 1u);  // `again` keeps it alive
    // A Ref made from a raw pointer of a managed object keeps it alive after the original goes.
    Ref<SelfAware> from_raw(raw);
    again = nullptr;
    EXPECT_EQ(ouro::sys::getrefcount(*from_raw), 1u);
}

TEST_F(RefTest, RefOfThisInsideTheConstructor) {
    std::vector<Ref<Registers>> registry;
    Registers::registry = &registry;
    auto r = ouro::make<Registers>();
    ASSERT_EQ(registry.size(), 1u);
    EXPECT_TRUE(registry[0] == r);
    EXPECT_EQ(ouro::sys::getrefcount(*r), 2u);
    registry.clear();
    EXPECT_EQ(ouro::sys::getrefcount(*r), 1u);
    Registers::registry = nullptr;
}

#if OURO_CHECKS
TEST_F(RefTest, RefOfAnUnmanagedObjectThrowsInCheckedBuilds) {
    Atom on_stack(1);
    try {
        Ref<Atom> r(&on_stack);
        ADD_FAILURE() << "Ref(T*) accepted an object that make<T> did not create";
    } catch (const std::logic_error& e) {
        EXPECT_NE(std::string(e.what()).find("make"), std::string::npos) << e.what();
    }
}
#endif

// A managed object has one identity and one count: copying it would copy neither correctly.
static_assert(!std::is_copy_constructible_v<Atom> && !std::is_copy_assignable_v<Atom>);
static_assert(!std::is_copy_constructible_v<ouro::Object> && !std::is_copy_assignable_v<ouro::Object>);

TEST_F(RefTest, UntrackedAndTrackedTypes) {
    auto atom = ouro::make<Atom>(1);
    auto link = ouro::make<Link>(Ref<Link>());  // holds a Ref but does not declare it: untracked
    auto node = ouro::make<Node>(1);
    auto sub = ouro::make<NodeSub>(2);  // inherits Node::trace
    auto bag = ouro::make<Bag>();
    auto base = ouro::make<Base>();
    EXPECT_FALSE(ouro::gc::is_tracked(*atom));
    EXPECT_FALSE(ouro::gc::is_tracked(*link));
    EXPECT_FALSE(ouro::gc::is_tracked(*base));
    EXPECT_TRUE(ouro::gc::is_tracked(*node));
    EXPECT_TRUE(ouro::gc::is_tracked(*sub));
    EXPECT_TRUE(ouro::gc::is_tracked(*bag));
    // Only tracked objects are counted and listed.
    EXPECT_EQ(ouro::gc::get_count()[0], 3u);
    auto objects = ouro::gc::get_objects();
    EXPECT_EQ(objects.size(), 3u);
    for (auto& o : objects) EXPECT_TRUE(ouro::gc::is_tracked(*o));
}

TEST_F(RefTest, TracedVectorOfRefs) {
    {
        auto a = ouro::make<Bag>();
        auto b = ouro::make<Bag>();
        auto c = ouro::make<Bag>();
        a->items = {b, c, a};
        b->items = {a};
        c->items = {b, b};
    }
    {
        auto a = ouro::make<LoopBag>();
        auto b = ouro::make<LoopBag>();
        a->items = {b};
        b->items = {a, a};
    }
    EXPECT_EQ(Bag::destroyed, 0);
    EXPECT_EQ(LoopBag::destroyed, 0);
    EXPECT_EQ(ouro::gc::collect(), 5u);
    EXPECT_EQ(Bag::destroyed, 3);
    EXPECT_EQ(LoopBag::destroyed, 2);
}

TEST_F(RefTest, ConstructorThatThrowsLeavesNothingBehind) {
    auto before = ouro::gc::get_count()[0];
    EXPECT_THROW(ouro::make<Throws>(true), std::runtime_error);
    EXPECT_EQ(Node::destroyed, 1);  // the member made inside the constructor was released
    EXPECT_EQ(ouro::gc::get_count()[0], before);
    EXPECT_TRUE(ouro::gc::get_objects().empty());
    auto ok = ouro::make<Throws>(false);
    EXPECT_EQ(ok->held->value, 5);
    EXPECT_EQ(ouro::gc::get_objects().size(), 2u);
}

TEST_F(RefTest, MakeRejectsObjectThatIsNotTheFirstBase) {
    EXPECT_THROW(ouro::make<ObjectNotFirst>(), std::logic_error);
    EXPECT_EQ(ouro::gc::get_count()[0], 0u);
}

TEST_F(RefTest, LargeAndOverAlignedObjects) {
    {
        auto a = ouro::make<Big>();
        auto b = ouro::make<Big>();
        a->bytes[1999] = 'x';
        a->next = b;
        b->next = a;
        EXPECT_TRUE(ouro::gc::is_tracked(*a));
        EXPECT_GE(ouro::sys::getsizeof(*a), sizeof(Big));
    }
    EXPECT_EQ(ouro::gc::collect(), 2u);
    EXPECT_EQ(Big::destroyed, 2);
    {
        auto c = ouro::make<Big>();
        c = nullptr;
        EXPECT_EQ(Big::destroyed, 3);
    }
    std::vector<Ref<Aligned>> v;
    for (int i = 0; i < 10; ++i) {
        v.push_back(ouro::make<Aligned>());
        EXPECT_EQ(reinterpret_cast<std::uintptr_t>(v.back().get()) % 64, 0u);
        EXPECT_EQ(v.back()->value, 42);
    }
}

TEST_F(RefTest, LongChainIsReleasedIteratively) {
    // Runs on the main thread's default 8 MB stack: a recursive release would overflow it.
    constexpr int kNodes = static_cast<int>(support::kLongChain);
    Ref<Link> head;
    for (int i = 0; i < kNodes; ++i) head = ouro::make<Link>(std::move(head));
    Link* second = head->next.get();
    EXPECT_EQ(ouro::sys::getrefcount(*second), 1u);
    Link::destroyed = 0;
    head = nullptr;
    EXPECT_EQ(Link::destroyed, kNodes);
}

TEST_F(RefTest, LongTrackedChainIsReleasedIteratively) {
    ouro::gc::disable();
    constexpr int kNodes = 300'000;
    Ref<TrackedLink> head;
    for (int i = 0; i < kNodes; ++i) {
        auto n = ouro::make<TrackedLink>();
        n->next = std::move(head);
        head = std::move(n);
    }
    EXPECT_EQ(ouro::gc::get_count()[0], static_cast<std::size_t>(kNodes));
    head = nullptr;
    EXPECT_EQ(ouro::gc::get_count()[0], 0u);
    EXPECT_TRUE(ouro::gc::get_objects().empty());
}

TEST_F(RefTest, DeepTreeIsReleasedIteratively) {
    // Not a chain: each node has two children, one leaf and one that continues (a "comb").
    Tree::destroyed = 0;
    constexpr int kDepth = 100'000;
    Ref<Tree> root;
    for (int i = 0; i < kDepth; ++i) {
        auto n = ouro::make<Tree>();
        n->left = std::move(root);
        n->right = ouro::make<Tree>();
        root = std::move(n);
    }
    root = nullptr;
    EXPECT_EQ(Tree::destroyed, 2 * kDepth);
}

}  // namespace
