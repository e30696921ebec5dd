// A randomized graph interpreter checked against an independent reachability model.
//
// The interpreter mutates a graph of managed objects — tracked nodes and untracked leaves, small
// and large (> 512 bytes) — by allocating, linking, unlinking, replacing edges, dropping roots,
// moving roots into the graph, growing deep chains, weak references with callbacks (held by the
// driver or by nodes), a WeakValueDictionary, finalizers with side effects (resurrect, allocate,
// throw, collect, read weak references), collections of each generation, thresholds, enable /
// disable, freeze / unfreeze, DEBUG_SAVEALL and gc callbacks that collect or throw. A model kept
// outside the heap records what the graph should be: the roots, the ordered edge list of every
// object, which objects are frozen, and every weak reference. The model never asks the heap what
// is reachable.
//
// References also change hands the C++ way, with no Ref operation. A node's edges are a
// std::pmr::vector (for ~15% of the nodes over a pool whose memory is a buffer on the driver's
// stack) held in one of four stores: inline, in a std::unique_ptr, in a std::any, or as the value
// of the one entry of a WeakKeyDictionary (under a key the model holds for its whole life) — or,
// a fifth store, an ouro::List member (its buffer in the heap's raw pools). The operations:
// hand-move (`d->edges() = std::move(s->edges())`; between two Listed nodes the List is moved,
// buffer and all), hand-swap (the stores' holders, or the containers: member swap for equal
// allocators, three moves otherwise; two Lists swap buffers), hand-store (the unique_ptr, the
// std::any, the dictionary or the List itself moved to another node), list-splice (one List's
// references appended to another's with `extend(std::move(...))`) — with the partner
// node half the time on the path to the first, so a hand-over can close a cycle with no count
// going down, and sometimes between two full collections — and restore (a node's container moved
// to another of its stores). The old references of the receiving node are moved out to a local
// and dropped after the model is updated.
//
// Constructors: sometimes through a constructor whose default argument allocates a side object
// (kept as the node's first edge) and whose by-value Token parameter, an Object, is built in
// place; and alloc-throw, a constructor that keeps Ref(this) 0–2 times (strays the model holds),
// takes a driver weak reference, a WeakValueDictionary entry and a node's watch to itself, may
// allocate a child only it holds, and throws. States Failing -> Zombie (strays held) -> Failed
// (block gone); drop-stray drops strays.
//
// After every collection, after operations that ran one, and periodically, it checks:
//   - every object reachable from the roots is alive, its canary and payload intact, its edges
//     exactly as the model says, and sys::getrefcount equals the references the model knows of
//     (so no acyclic dead object lingers and no reachable one is freed);
//   - no collection frees an object that garbage does not support (reachable, or frozen and kept
//     by references from outside the unreachable set);
//   - after a full collection nothing unreachable survives (except what frozen objects keep, or
//     kept until a frozen object died by its count in the collection), and collect() returned
//     the unreachable objects found minus the resurrected ones;
//   - every finalizer runs exactly once, before its object's destructor; is_finalized agrees;
//   - weak references (and dictionary entries) are alive exactly when their referent is (cleared
//     by the collection that found the referent unreachable, as CPython), callbacks run exactly
//     once when the weak reference is reachable, never after it was dropped, never for one held by
//     garbage during a full collection, and a weak reference never yields an object whose count
//     already reached 0;
//   - collect() inside a collection returns 0; exceptions from user code reach the unraisable hook;
//   - get_objects, get_referents, get_referrers, get_freeze_count, get_threshold, isenabled and
//     get_stats agree with the model;
//   - every node's edges are in the store the model says, the other stores hold no reference, and
//     a Keyed store's entry is yielded (with the same value) unless the node was possibly garbage;
//     references moved out by a hand-over are the ones the model says;
//   - a node built through the default-argument constructor is itself (its side object has its
//     own block and id, its Token holds its value), tracked, with exact counts;
//   - a throwing constructor: make<T> throws its exception; the object never becomes alive, is
//     never finalized, never destroyed twice; its weak references are dead and their callbacks ran
//     exactly once, inside its make<T> and after its teardown; its dictionary entry is gone; a
//     child only it held is dead; while strays are held, getrefcount equals them, the zombie is
//     untracked and no live object has its address; the last stray frees its block (mallocstats);
//     checked builds report it once, through the unraisable hook.
//
// Deterministic for a given op source (a seeded std::mt19937_64, or fuzzer bytes: Source(data,
// size)) and a given binary: finalizers run in address order, so another build or allocator may
// take a different path from the same seed.
#pragma once

#include <ouro/detail/invariants.hpp>
#include <ouro/ouro.hpp>
#include <ouro/sys.hpp>
#include <ouro/unraisable.hpp>
#include <ouro/weak_key_dictionary.hpp>
#include <ouro/weak_value_dictionary.hpp>
#include <ouro/weakref.hpp>

#include <algorithm>
#include <any>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <deque>
#include <exception>
#include <iterator>
#include <map>
#include <memory_resource>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ouro_model {

inline constexpr std::uint64_t kCanary = 0x6f75726f63616e61ull;
inline constexpr std::uint64_t kPoison = 0xdeadbeefdeadbeefull;
inline constexpr std::size_t kPayload = 600;  // > 512 bytes: the large-object path

// What a finalizer does (decided at allocation, so runs do not depend on finalization order).
enum class Fin : std::uint8_t {
    None,
    Resurrect,  // stores Ref(this) among the roots
    Spawn,      // allocates a new root
    SpawnLink,  // allocates a new root that references this (resurrection through another object)
    SpawnDrop,  // allocates an object and drops it at once (it must die at once)
    Throw,      // throws: the unraisable hook must see it
    Collect,    // gc::collect(): 0 inside a collection, a real nested collection otherwise
    Peek,       // reads weak references: a live one must never yield an object whose count is 0
};
inline constexpr int kFinKinds = 8;
enum class Kind : std::uint8_t { Node, BigNode, Leaf, BigLeaf };
enum class Cb : std::uint8_t { Count, Collect, Spawn, Throw };
enum class State : std::uint8_t {
    Unborn,
    Alive,
    Dying,
    Dead,
    Failing,  // its constructor leaked `this` and is about to throw
    Zombie,   // its constructor threw; stray references (Ref(this)) keep the dead block allocated
    Failed,   // its constructor threw; the block is gone
};
// Where a node keeps its edges: one std::pmr::vector, held in one of five ways (the fifth: as the
// by-value parameter of a suspended generator, whose frame the node's trace() visits), or an
// ouro::List.
enum class Where : std::uint8_t { Inline, Boxed, Erased, Keyed, Listed, Framed };
inline constexpr int kWheres = 6;

inline const char* where_name(Where w) {
    static const char* const names[] = {"inline", "boxed", "erased", "keyed", "listed", "framed"};
    return names[static_cast<int>(w)];
}
inline const char* fin_name(Fin f) {
    static const char* const names[] = {"none", "resurrect", "spawn", "spawn-link", "spawn-drop", "throw", "collect", "peek"};
    return names[static_cast<int>(f)];
}

class Model;
inline Model* g_model = nullptr;

// One interpreter operation, for the failure report (formatted only when needed).
struct Logged {
    const char* name;
    long long args[3];
    int nargs;
    void set(long long a) { *this = Logged{name, {a, 0, 0}, 1}; }
    void set(long long a, long long b) { *this = Logged{name, {a, b, 0}, 2}; }
    void set(long long a, long long b, long long c) { *this = Logged{name, {a, b, c}, 3}; }
    std::string str() const {
        std::string s = name;
        for (int k = 0; k < nargs; ++k) s += " " + std::to_string(args[k]);
        return s;
    }
};

// --- Managed types ------------------------------------------------------------------------------
struct Base : ouro::Object {
    std::uint64_t canary = kCanary;
    int id;
    Fin fin;
    Base(int i, Fin f);
    ~Base() override;
    void finalize() override;
    bool intact() const noexcept { return canary == kCanary; }
};

// A node's edges. Its allocator is the default resource, or for some nodes a pool whose memory is
// a buffer on the driver's stack (Model::set_edge_resource): moving the container between nodes
// then either steals its buffer (equal allocators) or moves the references one by one.
using Edges = std::pmr::vector<ouro::Ref<Base>>;

// Where::Framed: the edges are the parameter of a generator suspended at its first co_yield, which
// yields their address (the frame's copy, registered for the generator's trace()). Static, not
// inline: Clang 14 at -O2 -g fails on an inline coroutine here ("Cannot represent a difference
// across sections").
static ouro::Generator<Edges*> hold_edges(Edges edges) {
    co_yield &edges;
}

struct WithSide {};  // selects the constructor whose default argument allocates a side object
struct Throwing {};  // selects the constructor that leaks `this` and throws (Model::alloc_throwing)
inline constexpr int kTokenValue = 0x70c;
// A by-value parameter of an Object type, built in place by a default argument inside
// make<Node>'s new-expression: an unmanaged Object, which must not take the node's identity.
struct Token : ouro::Object {
    int value;
    explicit Token(int v = kTokenValue) : value(v) {}
};
// The key of the nodes' WeakKeyDictionary stores: one object, held by the model for its whole life.
struct Key : ouro::Object {};
// The default argument: allocates the side object the model armed (Model::create).
ouro::Ref<Base> spawn_side();

// Tracked: overrides trace(). Its edges live in the active store (`where`); the other stores hold
// no reference (they may hold empty containers: a spare unique_ptr, std::any or dictionary entry,
// which the next use of that store assigns into). trace() visits all five. The edge accessors
// (edge_count ... pop_edge) work on whichever store is active; edges() is the pmr stores' vector.
struct Node : Base {
    Edges inline_edges;
    std::unique_ptr<Edges> boxed;
    std::any erased;                              // an Edges when used
    ouro::WeakKeyDictionary<Key, Edges> keyed;    // one entry, under the model's key, when used
    Edges* keyed_edges = nullptr;                 // that entry's value (slots have stable addresses)
    ouro::List<Base> listed;                      // Where::Listed
    ouro::Generator<Edges*> framed;               // Where::Framed: a suspended hold_edges()
    Edges* framed_edges = nullptr;                // its parameter, in its frame
    Where where = Where::Inline;
    int token = 0;              // kTokenValue when built through the WithSide constructor
    ouro::WeakRef<Base> watch;  // declared last: destroyed first, so it never calls back mid-destruction
    Node(int i, Fin f);
    Node(int i, Fin f, WithSide, ouro::Ref<Base> side = spawn_side(), Token t = Token{});
    Node(int i, Fin f, Throwing);
    ~Node() override;
    void trace(ouro::Visitor& visit) override;
    Edges& edges() noexcept {
        switch (where) {
            case Where::Inline:
            case Where::Listed: break;  // (callers check: a Listed node's edges are `listed`)
            case Where::Boxed: return *boxed;
            case Where::Erased: return *std::any_cast<Edges>(&erased);
            case Where::Keyed: return *keyed_edges;
            case Where::Framed: return *framed_edges;
        }
        return inline_edges;
    }
    std::size_t edge_count() noexcept { return where == Where::Listed ? listed.size() : edges().size(); }
    Base* edge_at(std::size_t k) noexcept {
        return (where == Where::Listed ? listed[static_cast<std::ptrdiff_t>(k)] : edges()[k]).get();
    }
    void push_edge(ouro::Ref<Base> r) {
        if (where == Where::Listed) listed.append(std::move(r));
        else edges().push_back(std::move(r));
    }
    // Edge k moved out and removed; edge k replaced (the old one returned); the last one removed.
    ouro::Ref<Base> take_edge(std::size_t k) {
        if (where == Where::Listed) return listed.pop(static_cast<std::ptrdiff_t>(k));
        Edges& e = edges();
        ouro::Ref<Base> t = std::move(e[k]);
        e.erase(e.begin() + static_cast<std::ptrdiff_t>(k));
        return t;
    }
    ouro::Ref<Base> replace_edge(std::size_t k, ouro::Ref<Base> r) {
        ouro::Ref<Base>& slot = where == Where::Listed ? listed[static_cast<std::ptrdiff_t>(k)] : edges()[k];
        std::swap(slot, r);
        return r;
    }
    ouro::Ref<Base> pop_edge() { return take_edge(edge_count() - 1); }
    // The active store exists and the others hold no reference.
    bool store_ok() const noexcept;
    // Moves the container out of the active store (move construction: it keeps its allocator and
    // its buffer) and drops that store's holder, or with `keep_spare` leaves it holding an empty
    // container; the node is left Inline and empty.
    Edges take_edges(bool keep_spare = false);
    // Makes `w` the active store, holding `e` (the node must be Inline and empty): by move
    // construction into a new holder, or by move assignment into the inline container or a spare
    // (element by element when the allocators differ; a spare dictionary entry is updated by
    // insert_or_assign).
    void put_edges(Where w, Edges&& e);

private:
    std::pmr::memory_resource* resource() const noexcept { return inline_edges.get_allocator().resource(); }
    void open_store();  // the store the model chose for this id
};

struct BigNode : Node {
    unsigned char payload[kPayload];
    BigNode(int i, Fin f);
    BigNode(int i, Fin f, WithSide w, ouro::Ref<Base> side = spawn_side(), Token t = Token{});
    BigNode(int i, Fin f, Throwing t);
    ~BigNode() override;
    bool payload_ok() const noexcept;
};

// Untracked: keeps Object's trace(), holds no references.
struct Leaf : Base {
    Leaf(int i, Fin f) : Base(i, f) {}
    Leaf(int i, Fin f, Throwing);
    ~Leaf() override;
};

struct BigLeaf : Leaf {
    unsigned char payload[kPayload];
    BigLeaf(int i, Fin f);
    BigLeaf(int i, Fin f, Throwing t);
    ~BigLeaf() override;
    bool payload_ok() const noexcept;
};

inline unsigned char payload_byte(int id) { return static_cast<unsigned char>(id * 131 + 7); }

// --- The source of decisions ----------------------------------------------------------------------
class Source {
public:
    explicit Source(std::uint64_t seed) : rng_(seed) {}
    Source(const std::uint8_t* data, std::size_t size) : data_(data), size_(size), bytes_(true) {}
    // A number in [0, n); 0 when n <= 1. Fuzzer bytes run out into zeros.
    std::uint64_t below(std::uint64_t n) {
        if (n <= 1) return 0;
        std::uint64_t x;
        if (bytes_) {
            x = 0;
            for (int k = 0; k < 2; ++k) x = x << 8 | (pos_ < size_ ? data_[pos_++] : 0);
        } else {
            x = rng_();
        }
        return x % n;
    }
    bool percent(unsigned p) { return below(100) < p; }
    bool exhausted() const { return bytes_ && pos_ >= size_; }

private:
    std::mt19937_64 rng_;
    const std::uint8_t* data_ = nullptr;
    std::size_t size_ = 0;
    std::size_t pos_ = 0;
    bool bytes_ = false;
};

struct Stats {
    std::size_t ops = 0, objects = 0, collections = 0, manual_collections = 0, full_checks = 0, exact_checks = 0;
    std::size_t finalizers = 0, resurrections = 0, weak_callbacks = 0, unraisable = 0, nested_collect_zero = 0;
    std::size_t nested_real_collections = 0, freezes = 0, saveall = 0, max_alive = 0, found = 0, max_depth = 0,
                dict_ops = 0;
    std::size_t handovers = 0, restores = 0, side_objects = 0, throws = 0, zombies = 0;
};

// What a throwing constructor does before it throws (Model::alloc_throwing).
struct ThrowSpec {
    int strays = 0;         // Ref(this) kept by the model, 0..2
    bool weak = false;      // a driver weak reference to it...
    bool weak_cb = false;   // ...with a callback
    Cb cb = Cb::Count;
    bool dict = false;      // a WeakValueDictionary entry for it
    int watch_holder = -1;  // a reachable node whose `watch` it becomes
    Cb watch_cb = Cb::Count;
    int child = -1;         // (nodes) a new object of this Kind held only by it, dropped by the unwinding
    Fin child_fin = Fin::None;
};

// --- The model ------------------------------------------------------------------------------------
class Model {
public:
    struct Info {
        Kind kind = Kind::Node;
        Fin fin = Fin::None;
        bool tracked = false;
        bool frozen = false;
        State state = State::Unborn;
        int fin_calls = 0;
        int watch_rec = -1;  // the model's idea of the node's `watch`
        int alive_pos = -1;
        Base* obj = nullptr;
        std::vector<int> edges;  // the model's copy of the node's edges, in order
        std::uint32_t mark = 0;
        std::uint32_t cnt = 0;
        Where where = Where::Inline;  // the node's active store
        bool with_side = false;       // built through the WithSide constructor
        bool keyed_revived = false;   // its Keyed store's entry may have been cleared: the node was
                                      // (possibly) garbage and revived or saved, and a collection clears
                                      // the weak references garbage holds
        int strays = 0;               // Zombie: the stray references the model holds
        std::uint32_t orphan_stamp = 0;  // = orphan_epoch_: kept only by a frozen object that died in this collection
    };
    struct WeakRec {
        int target = -1;
        int holder = -1;  // -1: held by the driver; else the node whose `watch` it is
        bool has_cb = false;
        Cb cb = Cb::Count;
        int calls = 0;
        bool detached = false;        // its handle was dropped: a callback now would be a bug...
        bool detached_late = false;   // ...unless its referent was already dying (CPython keeps
                                      // the weakrefs of a dying object alive until their callbacks ran)
        bool expect_cleared = false;  // its referent went to garbage() under DEBUG_SAVEALL
        bool may_be_cleared = false;  // its referent was (possibly) in a collection's unreachable set and revived
        bool holder_revived = false;  // its holder was (possibly) garbage and revived (or saved)
    };
    struct DriverWeak {
        ouro::WeakRef<Base> w;
        int rec;
    };

    explicit Model(std::uint64_t seed_for_messages = 0) : seed_(seed_for_messages), key_(ouro::make<Key>()) {
        previous_model_ = g_model;
        g_model = this;
        previous_hook_ = ouro::set_unraisable_hook(
            [](std::exception_ptr e, std::string_view where) { if (g_model) g_model->on_unraisable(e, where); });
        ouro::gc::callbacks().push_back(
            [](std::string_view phase, const ouro::gc::Info& info) { if (g_model) g_model->on_gc(phase, info); });
    }

    ~Model() {
        // Normally finish() has emptied the heap. After a failure, let go of everything quietly.
        ouro::gc::set_debug(0);
        strays_.clear();
        weaks_.clear();
        dict_.clear();
        while (!roots_.empty()) {
            ouro::Ref<Base> t = std::move(roots_.back());
            roots_.pop_back();
            root_ids_.pop_back();
            t.reset();
        }
        ouro::gc::garbage().clear();
        ouro::gc::callbacks().clear();
        ouro::set_unraisable_hook(std::move(previous_hook_));
        g_model = previous_model_;
    }
    Model(const Model&) = delete;
    Model& operator=(const Model&) = delete;

    // ----- state queries ----------------------------------------------------------------------------
    bool alive(int id) const { return id >= 0 && id < static_cast<int>(info_.size()) && info_[id].state == State::Alive; }
    bool is_node(int id) const { return info_[id].kind == Kind::Node || info_[id].kind == Kind::BigNode; }
    Node* node(int id) { return static_cast<Node*>(info_[id].obj); }
    std::size_t alive_count() const { return alive_list_.size(); }
    const Stats& stats() const { return stats_; }
    void count_op() { ++stats_.ops; }
    bool shrinking = false;  // the interpreter's phase
    const std::vector<int>& root_ids() const { return root_ids_; }
    std::size_t root_count() const { return roots_.size(); }
    const std::vector<int>& edges(int id) const { return info_[id].edges; }
    bool failed() const { return !violations_.empty(); }
    const std::vector<std::string>& violations() const { return violations_; }
    std::size_t stray_count() const { return strays_.size(); }
    Where where(int id) const { return info_[id].where; }
    // The resource for the edges of a node: for about 15% of the nodes, the driver's stack pool.
    void set_edge_resource(std::pmr::memory_resource* r) { stack_resource_ = r; }
    std::pmr::memory_resource* edge_resource(int id) const {
        return stack_resource_ && (id_hash(id) >> 8) % 100 < 15 ? stack_resource_ : std::pmr::get_default_resource();
    }
    // Puts `e` in the one entry of a node's Keyed store (a new one, or the spare updated); returns
    // the entry's value.
    Edges* key_insert(ouro::WeakKeyDictionary<Key, Edges>& d, Edges&& e) {
        if (d.size() > 1) violation("a Keyed store holds " + std::to_string(d.size()) + " entries");
        d.insert_or_assign(key_, std::move(e));
        Edges* value = nullptr;
        for (auto [k, v] : d) value = &v;
        if (!value) violation("WeakKeyDictionary: the entry just inserted is not yielded");
        return value;
    }
    void set_context(std::size_t op, const char* name) {
        op_ = op;
        op_name_ = name;
    }

    void violation(const std::string& what) {
        if (violations_.size() < 20)
            violations_.push_back("seed " + std::to_string(seed_) + ", op " + std::to_string(op_) + " (" + op_name_ +
                                  "): " + what);
    }

    // A report of the failures and the ops that led to them.
    std::string report() const {
        std::string s;
        for (const auto& v : violations_) s += v + "\n";
        s += "recent ops:";
        for (const auto& o : recent_) s += " [" + o.str() + "]";
        return s;
    }
    void log_op(const Logged& what) {
        static const bool trace = std::getenv("OURO_MODEL_TRACE") != nullptr;
        if (trace) std::fprintf(stderr, "op %zu: %s\n", op_, what.str().c_str());
        if (recent_.size() == 24) recent_.pop_front();
        recent_.push_back(what);
    }

    // ----- allocation -------------------------------------------------------------------------------
    // A side object for the WithSide constructor's default argument (Kind and Fin).
    struct Side {
        Kind kind;
        Fin fin;
    };

    // Creates an object; the caller must put the returned reference where the model expects it.
    // With `side` (a node kind only), through the constructor whose default argument allocates the
    // side object, which the node keeps as its first edge.
    ouro::Ref<Base> create(Kind kind, Fin fin, const Side* side = nullptr) {
        int id = new_info(kind, fin);
        if (side && (kind == Kind::Node || kind == Kind::BigNode)) {
            side_ = *side;
            side_armed_ = true;
            side_made_ = -1;
            info_[id].with_side = true;
            ouro::Ref<Base> r = kind == Kind::Node ? ouro::Ref<Base>(ouro::make<Node>(id, fin, WithSide{}))
                                                   : ouro::Ref<Base>(ouro::make<BigNode>(id, fin, WithSide{}));
            if (side_armed_) violation("the WithSide constructor's default argument did not run");
            side_armed_ = false;
            return r;
        }
        switch (kind) {
            case Kind::Node: return ouro::make<Node>(id, fin);
            case Kind::BigNode: return ouro::make<BigNode>(id, fin);
            case Kind::Leaf: return ouro::make<Leaf>(id, fin);
            case Kind::BigLeaf: return ouro::make<BigLeaf>(id, fin);
        }
        return nullptr;
    }

    // The default argument of the WithSide constructor: runs inside make<Node>'s new-expression,
    // after the node's block was allocated and before its Object() ran.
    ouro::Ref<Base> make_side() {
        if (!side_armed_) {
            violation("a WithSide default argument ran with no side object armed");
            return nullptr;
        }
        side_armed_ = false;
        ++stats_.side_objects;
        ouro::Ref<Base> r = create(side_.kind, side_.fin);
        side_made_ = r->id;
        return r;
    }

    // The WithSide constructor's body: the side object becomes the node's first edge.
    void on_side(Node* n, ouro::Ref<Base> side, const Token& t) {
        n->token = t.value;
        if (t.value != kTokenValue) violation("node " + std::to_string(n->id) + ": its Token parameter holds " + std::to_string(t.value));
        if (!side || !side->intact() || side->id != side_made_) {
            violation("node " + std::to_string(n->id) + ": the side object from its default argument is not the one made");
            return;
        }
        int sid = side->id;
        if (static_cast<const ouro::Object*>(side.get()) == static_cast<const ouro::Object*>(n))
            violation("node " + std::to_string(n->id) + " and its side object " + std::to_string(sid) + " share one block");
        if (!require_alive(sid, "side object")) return;
        n->push_edge(std::move(side));
        info_[n->id].edges.push_back(sid);
    }

    int add_root(ouro::Ref<Base> r) {
        int id = r->id;
        root_ids_.push_back(id);
        roots_.push_back(std::move(r));
        return id;
    }

    int new_root(Kind kind, Fin fin, const Side* side = nullptr) { return add_root(create(kind, fin, side)); }

    // Appends an edge a -> b (both alive, a a node).
    void link(int a, int b) {
        if (!require_alive(a, "link source") || !require_alive(b, "link target")) return;
        ouro::Ref<Base> rb(info_[b].obj);
        node(a)->push_edge(std::move(rb));
        info_[a].edges.push_back(b);
    }

    int new_child(int parent, Kind kind, Fin fin, const Side* side = nullptr) {
        ouro::Ref<Base> c = create(kind, fin, side);
        int id = c->id;
        if (!require_alive(parent, "parent")) return id;  // a collection during create() killed it: a bug
        node(parent)->push_edge(std::move(c));
        info_[parent].edges.push_back(id);
        return id;
    }

    // Removes edge i of a. The model is updated before the reference is dropped, so user code that
    // runs in the resulting cascade sees a consistent model.
    void unlink(int a, std::size_t i) {
        if (!require_alive(a, "unlink source")) return;
        ouro::Ref<Base> t = node(a)->take_edge(i);
        info_[a].edges.erase(info_[a].edges.begin() + static_cast<std::ptrdiff_t>(i));
        t.reset();
    }

    void replace(int a, std::size_t i, int b) {
        if (!require_alive(a, "replace source") || !require_alive(b, "replace target")) return;
        ouro::Ref<Base> old = node(a)->replace_edge(i, ouro::Ref<Base>(info_[b].obj));
        info_[a].edges[i] = b;
        old.reset();
    }

    void drop_root(std::size_t i) {
        ouro::Ref<Base> t = std::move(roots_[i]);
        roots_[i] = std::move(roots_.back());
        roots_.pop_back();
        root_ids_[i] = root_ids_.back();
        root_ids_.pop_back();
        t.reset();
    }

    // Moves root i into the edges of node a (no reference is dropped). When a is reachable only
    // through that root, the two become garbage without any count going down.
    void move_root_into(std::size_t i, int a) {
        if (!require_alive(a, "move target")) return;
        int id = root_ids_[i];
        node(a)->push_edge(std::move(roots_[i]));
        info_[a].edges.push_back(id);
        roots_[i] = std::move(roots_.back());
        roots_.pop_back();
        root_ids_[i] = root_ids_.back();
        root_ids_.pop_back();
    }

    // ----- hand-overs: references that change hands without a Ref operation ------------------------
    // Node `s`'s edges become node `d`'s, by moving the container: `d->edges() = std::move(s->edges())`.
    // d's old references are moved out to a local first, the model is updated, then they are dropped
    // (user code run by the drops sees a consistent model).
    void hand_move(int s, int d) {
        if (!hand_ok(s, d)) return;
        ++stats_.handovers;
        Node* ns = node(s);
        Node* nd = node(d);
        std::vector<int> old_ids = std::move(info_[d].edges);
        info_[d].edges = std::move(info_[s].edges);
        info_[s].edges.clear();
        if (ns->where == Where::Listed && nd->where == Where::Listed) {
            ouro::List<Base> old(std::move(nd->listed));  // buffers change hands
            nd->listed = std::move(ns->listed);
            drop_held(old, old_ids, "hand-move");
            return;
        }
        if (ns->where == Where::Listed || nd->where == Where::Listed) {
            // Element by element into d's store, which each node keeps.
            const Where ws = ns->where, wd = nd->where;
            Edges old = nd->take_edges(true);
            nd->put_edges(wd, ns->take_edges(true));
            ns->put_edges(ws, Edges(ns->inline_edges.get_allocator().resource()));
            drop_held(old, old_ids, "hand-move");
            return;
        }
        Edges old(std::move(nd->edges()));
        nd->edges() = std::move(ns->edges());
        ns->edges().clear();  // after an element-wise move (unequal allocators) it holds null references
        drop_held(old, old_ids, "hand-move");
    }

    // Swaps the edges of a and b: the stores' holders when both use the same non-inline store (the
    // unique_ptrs, the std::anys, the dictionaries), else the containers — by member swap when
    // their allocators are equal, else by three moves (a pmr member swap would be undefined).
    void hand_swap(int a, int b, bool holders) {
        if (!hand_ok(a, b)) return;
        ++stats_.handovers;
        Node* na = node(a);
        Node* nb = node(b);
        if (na->where == Where::Listed && nb->where == Where::Listed) {
            if (holders) na->listed.swap(nb->listed);  // buffers change hands
            else std::swap(na->listed, nb->listed);
        } else if (na->where == Where::Listed || nb->where == Where::Listed) {
            const Where wa = na->where, wb = nb->where;
            Edges x = na->take_edges(true);
            Edges y = nb->take_edges(true);
            na->put_edges(wa, std::move(y));
            nb->put_edges(wb, std::move(x));
        } else if (holders && na->where == nb->where && na->where != Where::Inline) {
            switch (na->where) {
                case Where::Inline:
                case Where::Listed: break;
                case Where::Boxed: std::swap(na->boxed, nb->boxed); break;
                case Where::Erased: na->erased.swap(nb->erased); break;
                case Where::Keyed:
                    na->keyed.swap(nb->keyed);
                    std::swap(na->keyed_edges, nb->keyed_edges);
                    std::swap(info_[a].keyed_revived, info_[b].keyed_revived);
                    break;
                case Where::Framed:  // the generators (their frames) change hands
                    std::swap(na->framed, nb->framed);
                    std::swap(na->framed_edges, nb->framed_edges);
                    break;
            }
        } else {
            Edges& x = na->edges();
            Edges& y = nb->edges();
            if (x.get_allocator() == y.get_allocator()) {
                std::swap(x, y);
            } else {
                Edges t(std::move(x));
                x = std::move(y);
                y.clear();
                y = std::move(t);
            }
        }
        std::swap(info_[a].edges, info_[b].edges);
    }

    // Node `s`'s store holder itself goes to `d`: `d->boxed = std::move(s->boxed)`, the same for the
    // std::any and the WeakKeyDictionary. When s's edges are inline they are first re-stored in `w`.
    // d's old references are moved out to a local first and dropped last.
    void hand_store(int s, int d, Where w) {
        if (!hand_ok(s, d)) return;
        ++stats_.handovers;
        Node* ns = node(s);
        Node* nd = node(d);
        if (ns->where == Where::Inline) restore(s, w == Where::Inline ? Where::Boxed : w);
        Edges old = nd->take_edges();
        Where ws = ns->where;
        switch (ws) {
            case Where::Inline: break;
            case Where::Listed: nd->listed = std::move(ns->listed); break;
            case Where::Boxed: nd->boxed = std::move(ns->boxed); break;
            case Where::Erased:
                nd->erased = std::move(ns->erased);
                ns->erased.reset();
                break;
            case Where::Keyed:
                nd->keyed = std::move(ns->keyed);
                nd->keyed_edges = std::exchange(ns->keyed_edges, nullptr);
                info_[d].keyed_revived = std::exchange(info_[s].keyed_revived, false);
                break;
            case Where::Framed:
                nd->framed = std::move(ns->framed);
                nd->framed_edges = std::exchange(ns->framed_edges, nullptr);
                break;
        }
        nd->where = ws;
        ns->where = Where::Inline;
        info_[d].where = ws;
        info_[s].where = Where::Inline;
        std::vector<int> old_ids = std::move(info_[d].edges);
        info_[d].edges = std::move(info_[s].edges);
        info_[s].edges.clear();
        drop_held(old, old_ids, "hand-store");
    }

    // Node s's references appended to node d's by `d->listed.extend(std::move(s->listed))` (each
    // node first re-stored in its List if it is not there): references change hands, no count changes.
    void list_splice(int s, int d) {
        if (!hand_ok(s, d)) return;
        ++stats_.handovers;
        if (info_[s].where != Where::Listed) restore(s, Where::Listed);
        if (info_[d].where != Where::Listed) restore(d, Where::Listed);
        node(d)->listed.extend(std::move(node(s)->listed));
        std::vector<int>& to = info_[d].edges;
        to.insert(to.end(), info_[s].edges.begin(), info_[s].edges.end());
        info_[s].edges.clear();
    }

    // Moves node a's edges to another store of its own (the container moves; no reference is dropped).
    void restore(int a, Where w, bool keep_spare = false) {
        if (!require_alive(a, "restore node")) return;
        ++stats_.restores;
        Node* n = node(a);
        Edges e = n->take_edges(keep_spare);
        n->put_edges(w, std::move(e));
        info_[a].where = w;
        if (w == Where::Keyed) info_[a].keyed_revived = false;  // a fresh entry
    }

    // ----- constructors that throw after leaking `this` --------------------------------------------
    // Allocates an object whose constructor leaks `this` as `spec` says, then throws. make<T> must
    // throw; the object never becomes alive; its weak references are dead, their callbacks ran
    // once; its dictionary entry is gone; the stray references keep the block (a zombie: count =
    // strays, untracked, its address not reused) until drop_stray drops them. Returns the id.
    int alloc_throwing(Kind kind, Fin fin, const ThrowSpec& spec) {
        int id = new_info(kind, fin);
        ++stats_.throws;
        throw_ = spec;
        throw_armed_ = true;
        failing_ = id;
        failing_weak_rec_ = failing_watch_rec_ = failing_child_ = -1;
        bool threw = false;
        try {
            ouro::Ref<Base> r;
            switch (kind) {
                case Kind::Node: r = ouro::make<Node>(id, fin, Throwing{}); break;
                case Kind::BigNode: r = ouro::make<BigNode>(id, fin, Throwing{}); break;
                case Kind::Leaf: r = ouro::make<Leaf>(id, fin, Throwing{}); break;
                case Kind::BigLeaf: r = ouro::make<BigLeaf>(id, fin, Throwing{}); break;
            }
            violation("make<T> returned although the constructor of object " + std::to_string(id) + " threw");
            (void)new ouro::Ref<Base>(std::move(r));  // leak it: the model cannot place it
        } catch (const std::runtime_error& e) {
            threw = true;
            if (std::string_view(e.what()) != "model constructor")
                violation("make<T> threw \"" + std::string(e.what()) + "\" instead of the constructor's exception");
        } catch (...) {
            violation("make<T> threw something other than the constructor's exception");
        }
        failing_ = -1;
        if (throw_armed_) violation("the throwing constructor of object " + std::to_string(id) + " did not run");
        throw_armed_ = false;
        if (!threw) return id;
        Info& in = info_[id];
        auto who = [&] { return "object " + std::to_string(id) + " (" + kind_name(id) + ", constructor threw)"; };
        State want = in.strays > 0 ? State::Zombie : State::Failed;
        if (in.state != want) violation(who() + ": its base destructor did not run, or ran twice");
        if (in.fin_calls != 0) violation(who() + ": finalized");
        if (failing_weak_rec_ >= 0) {
            const WeakRec& r = recs_[failing_weak_rec_];
            for (auto it = weaks_.rbegin(); it != weaks_.rend(); ++it)
                if (it->rec == failing_weak_rec_) {
                    if (it->w.alive() || it->w()) violation(who() + ": a weak reference taken in its constructor is alive");
                    break;
                }
            if (r.calls != (r.has_cb ? 1 : 0))
                violation(who() + ": the callback of a weak reference taken in its constructor ran " + std::to_string(r.calls) + " times");
        }
        if (failing_watch_rec_ >= 0) {
            const WeakRec& r = recs_[failing_watch_rec_];
            if (alive(r.holder) && info_[r.holder].watch_rec == failing_watch_rec_ && node(r.holder)->watch.alive())
                violation(who() + ": the watch of node " + std::to_string(r.holder) + " on it is alive");
            if (r.calls != 1) violation(who() + ": the watch callback ran " + std::to_string(r.calls) + " times");
        }
        if (spec.dict && (dict_.contains(id) || dict_.get(id))) violation(who() + ": its WeakValueDictionary entry is alive");
        if (failing_child_ >= 0 && alive(failing_child_))
            violation("object " + std::to_string(failing_child_) + ", held only by the constructor of " + std::to_string(id) +
                      " that threw, is alive");
        if (in.strays > 0) {
            const ouro::Object* z = nullptr;
            for (const auto& st : strays_)
                if (st.id == id) {
                    z = st.ref.get();
                    if (ouro::sys::getrefcount(*st.ref) != static_cast<std::size_t>(in.strays))
                        violation(who() + ": refcount " + std::to_string(ouro::sys::getrefcount(*st.ref)) + ", strays held " +
                                  std::to_string(in.strays));
                    if (ouro::gc::is_tracked(*st.ref)) violation(who() + ": the zombie is tracked");
                }
            // What callbacks allocated meanwhile must not have landed in its block.
            for (std::size_t k = static_cast<std::size_t>(id) + 1; k < info_.size(); ++k)
                if (alive(static_cast<int>(k)) && static_cast<const ouro::Object*>(info_[k].obj) == z)
                    violation("object " + std::to_string(k) + " was allocated in the block of zombie " + std::to_string(id));
        }
        return id;
    }

    // The throwing constructor's body, before it throws.
    void on_throwing_construct(Base* b) {
        int id = b->id;
        if (!throw_armed_ || id != failing_) {
            violation("an unexpected throwing constructor ran (object " + std::to_string(id) + ")");
            return;
        }
        throw_armed_ = false;
        const ThrowSpec spec = throw_;
        Info& in = info_[id];
        for (int k = 0; k < spec.strays; ++k) strays_.push_back(Stray{id, ouro::Ref<ouro::Object>(static_cast<ouro::Object*>(b))});
        in.strays = spec.strays;
        if (spec.strays > 0) {
            ++stats_.zombies;
            if constexpr (OURO_CHECKS) {  // checked builds report a zombie through the unraisable hook
                ++expected_unraisable_;
                ++zombie_reports_;
                zombie_report_ = "the constructor of ouro_model::" + std::string(kind_str(in.kind)) + " threw after " +
                                 std::to_string(spec.strays) + " reference(s)";
            }
        }
        if (spec.weak) {
            failing_weak_rec_ = static_cast<int>(recs_.size());
            add_weak(id, spec.weak_cb, spec.cb);
        }
        if (spec.dict) dict_put(id);
        if (spec.watch_holder >= 0 && alive(spec.watch_holder) && is_node(spec.watch_holder)) {
            failing_watch_rec_ = static_cast<int>(recs_.size());
            set_watch(spec.watch_holder, id, spec.watch_cb);
        }
        remove_alive(id);
        in.state = State::Failing;
        if (spec.child >= 0 && is_node(id)) {
            static constexpr Kind kinds[] = {Kind::Node, Kind::BigNode, Kind::Leaf, Kind::BigLeaf};
            ouro::Ref<Base> c = create(kinds[spec.child % 4], spec.child_fin);
            failing_child_ = c->id;
            static_cast<Node*>(b)->push_edge(std::move(c));  // dropped when the unwinding destroys the store
        }
    }

    // Drops stray reference i; the last one of a zombie frees its block.
    void drop_stray(std::size_t i) {
        Stray st = std::move(strays_[i]);
        strays_[i] = std::move(strays_.back());
        strays_.pop_back();
        Info& in = info_[st.id];
        if (in.state != State::Zombie) violation("stray reference to object " + std::to_string(st.id) + ", which is not a zombie");
        else if (ouro::sys::getrefcount(*st.ref) != static_cast<std::size_t>(in.strays))
            violation("zombie " + std::to_string(st.id) + ": refcount " + std::to_string(ouro::sys::getrefcount(*st.ref)) +
                      ", strays held " + std::to_string(in.strays));
        const bool last = in.strays == 1;
        auto in_use = [] {
            auto ms = ouro::sys::mallocstats();
            return ms.bytes_in_use + ms.large_bytes;
        };
        const std::size_t before = last ? in_use() : 0;
        if (--in.strays == 0) in.state = State::Failed;
        st.ref.reset();
        if (last && in_use() >= before) violation("zombie " + std::to_string(st.id) + ": its last stray reference went but its block stays");
    }

    // ----- weak references --------------------------------------------------------------------------
    ouro::WeakRef<Base>::Callback make_callback(int rec) {
        return [rec](const ouro::WeakRef<Base>& self) {
            if (g_model) g_model->on_weak_callback(rec, self);
        };
    }

    void add_weak(int target, bool with_cb, Cb cb) {
        if (!require_alive(target, "weak target")) return;
        int rec = static_cast<int>(recs_.size());
        recs_.push_back(WeakRec{target, -1, with_cb, cb});
        ouro::Ref<Base> t(info_[target].obj);
        weaks_.push_back(DriverWeak{with_cb ? ouro::WeakRef<Base>(t, make_callback(rec)) : ouro::WeakRef<Base>(t), rec});
    }

    void drop_weak(std::size_t i) {
        detach(weaks_[i].rec, weaks_[i].w);
        weaks_[i] = std::move(weaks_.back());
        weaks_.pop_back();
    }
    std::size_t weak_count() const { return weaks_.size(); }
    void detach(int rec, const ouro::WeakRef<Base>& w) {
        recs_[rec].detached = true;
        recs_[rec].detached_late = !w.alive();
    }

    // Sets (target >= 0) or clears (target < 0) the `watch` weak reference of node `holder`.
    void set_watch(int holder, int target, Cb cb) {
        if (!require_alive(holder, "watch holder")) return;
        Info& h = info_[holder];
        if (h.watch_rec >= 0) detach(h.watch_rec, node(holder)->watch);
        h.watch_rec = -1;
        if (target < 0) {
            node(holder)->watch.reset();
            return;
        }
        if (!require_alive(target, "watch target")) return;
        int rec = static_cast<int>(recs_.size());
        recs_.push_back(WeakRec{target, holder, true, cb});
        info_[holder].watch_rec = rec;
        ouro::Ref<Base> t(info_[target].obj);
        node(holder)->watch = ouro::WeakRef<Base>(t, make_callback(rec));
    }

    // ----- a WeakValueDictionary keyed by object id -------------------------------------------------
    void dict_put(int target) {
        ++stats_.dict_ops;
        if (!require_alive(target, "dictionary value")) return;
        auto it = dict_recs_.find(target);
        if (it != dict_recs_.end()) recs_[it->second].detached = true;
        int rec = static_cast<int>(recs_.size());
        recs_.push_back(WeakRec{target, -1, false, Cb::Count});
        dict_recs_[target] = rec;
        dict_.insert_or_assign(target, ouro::Ref<Base>(info_[target].obj));
    }
    void dict_erase(int key) {
        ++stats_.dict_ops;
        auto it = dict_recs_.find(key);
        bool live = dict_.contains(key);
        std::size_t n = dict_.erase(key);
        if (n != (live ? 1u : 0u)) violation("WeakValueDictionary::erase() returned " + std::to_string(n));
        if (it != dict_recs_.end()) {
            recs_[it->second].detached = true;
            dict_recs_.erase(it);
        }
    }
    std::size_t dict_keys() const { return dict_recs_.size(); }
    int dict_key(std::size_t i) const {
        auto it = dict_recs_.begin();
        std::advance(it, static_cast<std::ptrdiff_t>(i % dict_recs_.size()));
        return it->first;
    }
    // Iterates the dictionary; `body(k)` may kill entries or start collections. No entry may be
    // yielded twice, and each yielded value must be alive and stored under its own id.
    template <class Body>
    void dict_iterate(Body&& body) {
        std::vector<char> seen(info_.size() + 1024, 0);
        // The iterator holds the entry it is on from the moment it advances, before the body
        // sees it, and the step to the next entry drops the last one's hold (a death, user code,
        // a collection): meanwhile any live value may be held.
        struct Iterating {
            int& n;
            explicit Iterating(int& c) : n(c) { ++n; }
            ~Iterating() { --n; }
            Iterating(const Iterating&) = delete;
            Iterating& operator=(const Iterating&) = delete;
        } iterating(dict_iterating_);
        for (auto [key, value] : dict_) {
            if (key < 0 || static_cast<std::size_t>(key) >= seen.size() || seen[key]) {
                violation("WeakValueDictionary iteration yielded key " + std::to_string(key) + " twice");
                break;
            }
            seen[key] = 1;
            if (!alive(key) || !value->intact() || value->id != key)
                violation("WeakValueDictionary iteration yielded a dead or wrong value for " + std::to_string(key));
            finalizing_.push_back(key);  // the iterator holds it: a transient root
            body(key);
            finalizing_.pop_back();
        }
    }
    void check_dict() {
        std::size_t live = 0;
        for (const auto& kv : dict_recs_) {
            const int key = kv.first;
            const WeakRec& r = recs_[kv.second];
            bool c = dict_.contains(key);
            bool t_alive = alive(key);
            auto who = [&] { return "WeakValueDictionary entry " + std::to_string(key); };
            if (c && !t_alive) violation(who() + ": present but the value is dead");
            if (c && r.expect_cleared) violation(who() + ": present but the value went to garbage()");
            if (!c && t_alive && !r.expect_cleared && !r.may_be_cleared) violation(who() + ": gone while the value is alive");
            if (c) {
                ++live;
                if (dict_.get(key).get() != info_[key].obj) violation(who() + ": get() returns the wrong object");
            } else if (dict_.get(key)) {
                violation(who() + ": get() returns an object although contains() is false");
            }
        }
        if (dict_.size() != live)
            violation("WeakValueDictionary::size() " + std::to_string(dict_.size()) + ", live entries " + std::to_string(live));
        std::size_t n = 0;
        dict_iterate([&](int) { ++n; });
        if (n != live) violation("WeakValueDictionary iteration yielded " + std::to_string(n) + " entries, live " + std::to_string(live));
    }

    // ----- collector settings -----------------------------------------------------------------------
    void freeze() {
        ouro::gc::freeze();
        ++stats_.freezes;
        std::size_t n = 0;
        for (int id : alive_list_)
            if (info_[id].tracked) {
                info_[id].frozen = true;
                ++n;
            }
        if (ouro::gc::get_freeze_count() != n)
            violation("freeze(): get_freeze_count() " + std::to_string(ouro::gc::get_freeze_count()) + ", model " +
                      std::to_string(n));
    }
    void unfreeze() {
        ouro::gc::unfreeze();
        for (int id : alive_list_) info_[id].frozen = false;
        if (ouro::gc::get_freeze_count() != 0) violation("unfreeze(): get_freeze_count() != 0");
    }
    bool any_frozen() const {
        for (int id : alive_list_)
            if (info_[id].frozen) return true;
        return false;
    }
    static constexpr std::size_t kDeep = 40;  // nested deallocations; the trashcan defers past 64

    void set_gc_callback_mode(int mode) { cb_mode_ = mode; }  // 0 quiet, 1 collect() at start, 2 throw at stop

    void clear_garbage() {
        auto& g = ouro::gc::garbage();
        while (!g.empty()) {
            ouro::Ref<ouro::Object> t = std::move(g.back());
            g.pop_back();
            t.reset();
        }
    }

    // A manual collection with every check the model can make about it.
    std::size_t collect(int gen, bool saveall = false) {
        ++stats_.manual_collections;
        // What only frozen objects keep: a frozen object that garbage alone references dies by its
        // count when the garbage is cleared, and what it kept becomes garbage after the
        // collection has looked (CPython's order too): the next collection frees it.
        std::vector<int> via_frozen;
        if (any_frozen()) {
            mark_reachable(false, false);
            std::vector<char> plain(info_.size(), 0);
            for (int id : alive_list_) plain[id] = info_[id].mark == epoch_;
            mark_reachable(false);
            for (int id : alive_list_)
                if (info_[id].mark == epoch_ && !plain[id]) via_frozen.push_back(id);
        } else {
            mark_reachable(false);
        }
        const std::size_t frozen_deaths = frozen_deaths_;
        // The unreachable set as the model sees it: tracked, not frozen, not reachable.
        std::vector<int> garbage_before;
        for (int id : alive_list_) {
            const Info& in = info_[id];
            if (in.tracked && !in.frozen && in.mark != epoch_) garbage_before.push_back(id);
        }
        std::vector<int> must_survive = supported(garbage_before);
        std::size_t saved_before = ouro::gc::garbage().size();
        std::size_t recs_before = recs_.size();
        auto stats_before = ouro::gc::get_stats();
        std::size_t collections_before = stats_.collections;
        if (saveall) {
            ouro::gc::set_debug(ouro::gc::DEBUG_SAVEALL);
            ++stats_.saveall;
        }
        std::size_t found = ouro::gc::collect(gen);
        if (saveall) ouro::gc::set_debug(0);
        stats_.found += found;
        if (stats_.collections != collections_before + 1)
            violation("collect(" + std::to_string(gen) + ") ran " + std::to_string(stats_.collections - collections_before) +
                      " collections (callbacks)");
        if (found != last_found_)
            violation("collect() returned " + std::to_string(found) + ", the stop callback said " +
                      std::to_string(last_found_));
        auto stats_after = ouro::gc::get_stats();
        if (stats_after[gen].collected != stats_before[gen].collected + found ||
            stats_after[gen].collections != stats_before[gen].collections + 1)
            violation("get_stats() did not count collect(" + std::to_string(gen) + ")");
        for (int id : must_survive)
            if (!alive(id))
                violation("object " + std::to_string(id) + " (" + kind_name(id) +
                          ") died in a collection although no garbage supported it (freed while reachable or frozen)");
        if (found > garbage_before.size())
            violation("collect(" + std::to_string(gen) + ") found " + std::to_string(found) + " but only " +
                      std::to_string(garbage_before.size()) + " tracked objects were unreachable");
        if (saveall) {
            // What went to garbage() had its weak references cleared (CPython: handle_weakrefs first).
            auto& g = ouro::gc::garbage();
            std::vector<char> saved(info_.size(), 0);
            for (std::size_t k = saved_before; k < g.size(); ++k) {
                int id = static_cast<Base*>(g[k].get())->id;
                saved[id] = 1;
                info_[id].keyed_revived = true;  // the weak reference its Keyed store holds was cleared
            }
            for (std::size_t r = 0; r < recs_before; ++r) {
                if (recs_[r].detached) continue;
                if (saved[recs_[r].target]) recs_[r].expect_cleared = true;
                // A weak reference held by garbage is cleared too (CPython clears the weakrefs
                // in the unreachable set), so a saved holder's watch may be dead.
                if (recs_[r].holder >= 0 && saved[recs_[r].holder]) recs_[r].holder_revived = true;
            }
            if (g.size() - saved_before != found)
                violation("DEBUG_SAVEALL: " + std::to_string(g.size() - saved_before) + " objects saved, collect() returned " +
                          std::to_string(found));
        } else if (gen == 2) {
            std::size_t died = 0;
            for (int id : garbage_before) died += info_[id].state != State::Alive;
            if (found != died)
                violation("collect(2) returned " + std::to_string(found) + "; of the " + std::to_string(garbage_before.size()) +
                          " unreachable objects " + std::to_string(died) + " died (the rest were resurrected)");
        }
        after_op();
        if (frozen_deaths_ != frozen_deaths) {
            ++orphan_epoch_;
            for (int id : via_frozen) info_[id].orphan_stamp = orphan_epoch_;
        }
        check(gen == 2);
        ++orphan_epoch_;
        return found;
    }

    // The objects no collection may free: the live objects outside the unreachable set `u` that
    // keep a reference from a root or from another such object once everything in `u` and
    // everything only `u` supports is gone (reference counting's view: a frozen garbage cycle
    // supports itself). Computed as a greatest fixpoint with counts, like a cascade of deaths.
    std::vector<int> supported(const std::vector<int>& u) {
        ++epoch_;
        const std::uint32_t gone = epoch_;
        for (int id : u) info_[id].mark = gone;
        for (int id : alive_list_) info_[id].cnt = 0;
        for (int id : root_ids_) ++info_[id].cnt;
        for (const auto& g : ouro::gc::garbage()) ++info_[static_cast<Base*>(g.get())->id].cnt;
        for (int id : alive_list_)
            if (info_[id].mark != gone)
                for (int t : info_[id].edges) ++info_[t].cnt;
        std::vector<int> stack;
        for (int id : alive_list_)
            if (info_[id].mark != gone && info_[id].cnt == 0) {
                info_[id].mark = gone;
                stack.push_back(id);
            }
        while (!stack.empty()) {
            int id = stack.back();
            stack.pop_back();
            for (int t : info_[id].edges)
                if (info_[t].mark != gone && --info_[t].cnt == 0) {
                    info_[t].mark = gone;
                    stack.push_back(t);
                }
        }
        std::vector<int> out;
        for (int id : alive_list_)
            if (info_[id].mark != gone) out.push_back(id);
        return out;
    }

    // ----- the checks -------------------------------------------------------------------------------
    // Called at the end of every operation: bookkeeping that must happen even without a full check.
    void after_op() {
        deep_ = false;
        for (int id : must_die_)
            if (alive(id)) violation("object " + std::to_string(id) + " dropped in a finalizer is still alive");
        must_die_.clear();
        stats_.max_alive = std::max(stats_.max_alive, alive_list_.size());
        if (gc_depth_ != 0) violation("gc callbacks: start/stop unbalanced (depth " + std::to_string(gc_depth_) + ")");
        if (!finalizing_.empty() || !dying_.empty() || !held_.empty())
            violation("finalizing/dying/held stacks not empty between operations");
        if (failing_ >= 0 || throw_armed_ || side_armed_) violation("a construction is still armed between operations");
        if (unraisable_ != expected_unraisable_) {
            violation("unraisable hook called " + std::to_string(unraisable_) + " times, expected " +
                      std::to_string(expected_unraisable_) + (last_unraisable_.empty() ? "" : "; last: " + last_unraisable_));
            unraisable_ = expected_unraisable_;
        }
        apply_revivals();
    }

    // Objects a finalizer revived during a collection (and all they reach) may have been in its
    // unreachable set: their weak references were then cleared, as CPython does. Called when the
    // collection ends, while the revived objects are still held as roots.
    void apply_revivals() {
        if (revive_seeds_.empty()) return;
        ++epoch_;
        std::vector<int> stack;
        for (int s : revive_seeds_) push_mark(s, stack);
        drain_marks(stack);
        revive_seeds_.clear();
        auto apply = [&](WeakRec& r) {
            if (r.target >= 0 && info_[r.target].mark == epoch_) r.may_be_cleared = true;
            if (r.holder >= 0 && info_[r.holder].mark == epoch_) r.holder_revived = true;
        };
        for (auto& dw : weaks_) apply(recs_[dw.rec]);
        for (const auto& kv : dict_recs_) apply(recs_[kv.second]);
        for (int id : alive_list_) {
            if (info_[id].watch_rec >= 0) apply(recs_[info_[id].watch_rec]);
            if (info_[id].mark == epoch_) info_[id].keyed_revived = true;
        }
    }

    // The full check. `exact`: a full collection has just completed, so nothing unreachable may be alive.
    void check(bool exact) {
        ++stats_.full_checks;
        if (exact) ++stats_.exact_checks;
        // The library's own invariants first: a broken list or count explains what follows.
        if (std::string v = ouro::detail::invariant_violation(ouro::Heap::current()); !v.empty())
            violation("heap invariant: " + v);
        // Roots.
        for (std::size_t i = 0; i < roots_.size(); ++i) {
            int id = root_ids_[i];
            if (!alive(id)) {
                violation("root " + std::to_string(id) + " is not alive (use after free)");
                continue;
            }
            if (roots_[i].get() != info_[id].obj) violation("root slot " + std::to_string(i) + " does not hold object " + std::to_string(id));
        }
        // Integrity of every live object; reset the counts.
        for (int id : alive_list_) {
            Info& in = info_[id];
            in.cnt = 0;
            Base* b = in.obj;
            if (!b->intact() || b->id != id) {
                violation("object " + std::to_string(id) + ": canary or id overwritten");
                continue;
            }
            if (in.kind == Kind::BigNode && !static_cast<BigNode*>(b)->payload_ok())
                violation("object " + std::to_string(id) + ": payload overwritten");
            if (in.kind == Kind::BigLeaf && !static_cast<BigLeaf*>(b)->payload_ok())
                violation("object " + std::to_string(id) + ": payload overwritten");
            if (ouro::gc::is_tracked(*b) != in.tracked) violation("object " + std::to_string(id) + ": is_tracked wrong");
            if (ouro::gc::is_finalized(*b) != (in.fin_calls == 1))
                violation("object " + std::to_string(id) + ": is_finalized() disagrees with " + std::to_string(in.fin_calls) +
                          " finalizer runs");
            if (in.fin_calls > 1) violation("object " + std::to_string(id) + ": finalized " + std::to_string(in.fin_calls) + " times");
        }
        // Edges and reference counts.
        for (int id : root_ids_)
            if (alive(id)) ++info_[id].cnt;
        for (const auto& g : ouro::gc::garbage()) {
            int id = static_cast<Base*>(g.get())->id;
            if (alive(id)) ++info_[id].cnt;
            else violation("garbage() holds dead object " + std::to_string(id));
        }
        for (int id : alive_list_) {
            Info& in = info_[id];
            if (!in.tracked) continue;
            Node* n = node(id);
            if (n->where != in.where || !n->store_ok()) {
                violation("node " + std::to_string(id) + ": edges in store " + where_name(n->where) + ", model " +
                          where_name(in.where) + (n->store_ok() ? "" : "; a store is missing or another holds references"));
                continue;
            }
            if (n->token != (in.with_side ? kTokenValue : 0)) violation("node " + std::to_string(id) + ": token overwritten");
            if (in.where == Where::Keyed) check_keyed(id);
            if (n->edge_count() != in.edges.size()) {
                violation("object " + std::to_string(id) + ": " + std::to_string(n->edge_count()) + " edges, model " +
                          std::to_string(in.edges.size()));
                continue;
            }
            for (std::size_t k = 0; k < in.edges.size(); ++k) {
                int t = in.edges[k];
                if (!alive(t)) {
                    violation("object " + std::to_string(id) + " references dead object " + std::to_string(t) +
                              " (freed while reachable)");
                    continue;
                }
                if (n->edge_at(k) != info_[t].obj)
                    violation("object " + std::to_string(id) + ": edge " + std::to_string(k) + " should be object " +
                              std::to_string(t));
                ++info_[t].cnt;
            }
        }
        for (int id : alive_list_) {
            std::size_t actual = ouro::sys::getrefcount(*info_[id].obj);
            if (actual != info_[id].cnt)
                violation("object " + std::to_string(id) + " (" + kind_name(id) + "): refcount " + std::to_string(actual) +
                          ", the model knows " + std::to_string(info_[id].cnt) + " references");
        }
        // Reachability. (Without `exact`, the edge and count checks above already cover it: no
        // root and no edge of a live object may lead to a dead object.)
        if (exact) {
            mark_reachable(false);
            for (int id : alive_list_)
                if (info_[id].mark != epoch_ && info_[id].orphan_stamp != orphan_epoch_)
                    violation("object " + std::to_string(id) + " (" + kind_name(id) + ", finalizer " + fin_name(info_[id].fin) +
                              ") is unreachable but survived a full collection");
        }
        check_zombies();
        std::size_t frozen = 0;
        for (int id : alive_list_) frozen += info_[id].frozen;
        if (ouro::gc::get_freeze_count() != frozen)
            violation("get_freeze_count() " + std::to_string(ouro::gc::get_freeze_count()) + ", model " + std::to_string(frozen));
        if ((stats_.full_checks & 63) == 0) check_get_objects();
        check_weak();
        check_dict();
    }

    // A node's Keyed store: one entry, under the model's key, whose value is the node's edges. A
    // collection that found the node garbage cleared the entry's weak reference (the node held
    // it); only then may iteration skip the entry.
    void check_keyed(int id) {
        Node* n = node(id);
        auto who = [&] { return "node " + std::to_string(id) + ": Keyed store"; };
        if (n->keyed.size() != 1) violation(who() + ": size() " + std::to_string(n->keyed.size()));
        const Edges* yielded = nullptr;
        std::size_t entries = 0;
        for (auto [k, v] : n->keyed) {
            ++entries;
            if (k.get() != key_.get()) violation(who() + ": yields a key that is not the model's");
            yielded = &v;
        }
        if (entries > 1) violation(who() + ": iteration yields " + std::to_string(entries) + " entries");
        if (yielded && yielded != n->keyed_edges) violation(who() + ": the entry's value moved");
        if (!yielded && !info_[id].keyed_revived) violation(who() + ": its entry is dead although the node was never garbage");
        if (!yielded != !n->keyed.contains(key_)) violation(who() + ": contains() disagrees with iteration");
    }

    // Zombies: count = the strays held, untracked, and no live object in their blocks.
    void check_zombies() {
        if (strays_.empty()) return;
        std::vector<const void*> blocks;
        for (const auto& st : strays_) {
            const Info& in = info_[st.id];
            if (in.state != State::Zombie) {
                violation("a stray reference to object " + std::to_string(st.id) + ", which is not a zombie");
                continue;
            }
            std::size_t c = ouro::sys::getrefcount(*st.ref);
            if (c != static_cast<std::size_t>(in.strays))
                violation("zombie " + std::to_string(st.id) + ": refcount " + std::to_string(c) + ", strays held " +
                          std::to_string(in.strays));
            if (ouro::gc::is_tracked(*st.ref)) violation("zombie " + std::to_string(st.id) + " is tracked");
            blocks.push_back(st.ref.get());
        }
        std::sort(blocks.begin(), blocks.end());
        for (int id : alive_list_)
            if (std::binary_search(blocks.begin(), blocks.end(), static_cast<const void*>(static_cast<ouro::Object*>(info_[id].obj))))
                violation("object " + std::to_string(id) + " lives in the block of a zombie (reused while held)");
    }

    void check_get_objects() {
        std::vector<int> expect, got;
        for (int id : alive_list_)
            if (info_[id].tracked && !info_[id].frozen) expect.push_back(id);
        for (const auto& o : ouro::gc::get_objects()) got.push_back(static_cast<Base*>(o.get())->id);
        std::sort(expect.begin(), expect.end());
        std::sort(got.begin(), got.end());
        if (expect != got)
            violation("get_objects(): " + std::to_string(got.size()) + " objects, model " + std::to_string(expect.size()));
    }

    void check_referents(int id) {
        if (!alive(id) || !info_[id].tracked) return;
        std::vector<int> got;
        for (const auto& o : ouro::gc::get_referents(*info_[id].obj)) got.push_back(static_cast<Base*>(o.get())->id);
        if (got != info_[id].edges) violation("get_referents(" + std::to_string(id) + ") differs from the model");
        std::vector<int> referrers, expect;
        for (const auto& o : ouro::gc::get_referrers(*info_[id].obj)) referrers.push_back(static_cast<Base*>(o.get())->id);
        for (int a : alive_list_)  // frozen objects are not searched, as CPython
            if (info_[a].tracked && !info_[a].frozen && std::find(info_[a].edges.begin(), info_[a].edges.end(), id) != info_[a].edges.end())
                expect.push_back(a);
        std::sort(referrers.begin(), referrers.end());
        std::sort(expect.begin(), expect.end());
        if (referrers != expect) violation("get_referrers(" + std::to_string(id) + ") differs from the model");
    }

    void check_weak() {
        for (auto& dw : weaks_) {
            WeakRec& r = recs_[dw.rec];
            bool t_alive = alive(r.target);
            bool w_alive = dw.w.alive();
            auto who = [&] { return "driver weakref " + std::to_string(dw.rec) + " to " + std::to_string(r.target); };
            if (w_alive && !t_alive) violation(who() + ": alive() but the referent is dead");
            if (w_alive && r.expect_cleared) violation(who() + ": alive() but the referent went to garbage()");
            if (!w_alive && t_alive && !r.expect_cleared && !r.may_be_cleared) violation(who() + ": cleared while the referent is alive");
            if (w_alive) {
                ouro::Ref<Base> got = dw.w();
                if (got.get() != info_[r.target].obj) violation(who() + ": returns the wrong object");
            }
            int expected_calls = r.has_cb && !w_alive ? 1 : 0;
            if (r.calls != expected_calls)
                violation(who() + ": callback ran " + std::to_string(r.calls) + " times, expected " + std::to_string(expected_calls));
        }
        for (int id : alive_list_) {
            const Info& in = info_[id];
            if (!in.tracked) continue;
            Node* n = node(id);
            if (in.watch_rec < 0) {
                if (n->watch.alive()) violation("node " + std::to_string(id) + ": watch alive but the model has none");
                continue;
            }
            WeakRec& r = recs_[in.watch_rec];
            bool t_alive = alive(r.target);
            bool w_alive = n->watch.alive();
            auto who = [&] { return "watch of node " + std::to_string(id) + " on " + std::to_string(r.target); };
            if (w_alive && !t_alive) violation(who() + ": alive() but the referent is dead");
            if (w_alive && r.expect_cleared) violation(who() + ": alive() but the referent went to garbage()");
            // Cleared early only when its referent or its holder was garbage (then revived).
            if (!w_alive && t_alive && !r.expect_cleared && !r.may_be_cleared && !r.holder_revived)
                violation(who() + ": cleared while the referent is alive");
            if (r.calls > 1) violation(who() + ": callback ran " + std::to_string(r.calls) + " times");
            if (w_alive && r.calls != 0) violation(who() + ": callback ran while the referent is alive");
            if (!t_alive && r.calls == 0 && !r.expect_cleared && !r.may_be_cleared && !r.holder_revived)
                violation(who() + ": the referent died while the holder lived, but the callback never ran");
        }
    }

    // Empties the heap and checks that everything died, each finalizer exactly once and each
    // callback of a driver-held weak reference exactly once.
    void finish() {
        set_context(op_, "finish");
        cb_mode_ = 0;
        ouro::gc::set_debug(0);
        ouro::gc::enable();
        if (any_frozen()) unfreeze();
        clear_garbage();
        while (!strays_.empty()) drop_stray(strays_.size() - 1);
        for (int round = 0; round < 64 && (alive_count() != 0 || !roots_.empty()); ++round) {
            while (!roots_.empty()) drop_root(roots_.size() - 1);
            ouro::gc::collect(2);
            after_op();
        }
        if (alive_count() != 0) violation(std::to_string(alive_count()) + " objects still alive after the heap was emptied");
        for (std::size_t id = 0; id < info_.size(); ++id) {
            if (info_[id].state == State::Dead && info_[id].fin_calls != 1)
                violation("object " + std::to_string(id) + " finalized " + std::to_string(info_[id].fin_calls) + " times");
            if (info_[id].state == State::Zombie || info_[id].state == State::Failing)
                violation("object " + std::to_string(id) + ", whose constructor threw, is still a zombie");
        }
        for (auto& dw : weaks_) {
            WeakRec& r = recs_[dw.rec];
            if (dw.w.alive()) violation("driver weakref alive after every object died");
            if (r.calls != (r.has_cb ? 1 : 0))
                violation("driver weakref " + std::to_string(dw.rec) + ": callback ran " + std::to_string(r.calls) + " times");
        }
        weaks_.clear();
        if (dict_.size() != 0 || dict_.begin() != dict_.end())
            violation("WeakValueDictionary has live entries after every object died");
        dict_.clear();
        dict_recs_.clear();
        for (std::size_t i = 0; i < recs_.size(); ++i)
            if (recs_[i].calls > 1) violation("weakref callback " + std::to_string(i) + " ran more than once");
    }

    // ----- hooks called by the managed objects and the library -------------------------------------
    void on_construct(Base* b) {
        if (b->id < 0 || b->id >= static_cast<int>(info_.size()) || info_[b->id].state != State::Unborn) {
            violation("constructed an object with an unexpected id");
            return;
        }
        Info& in = info_[b->id];
        in.state = State::Alive;
        in.obj = b;
        in.alive_pos = static_cast<int>(alive_list_.size());
        alive_list_.push_back(b->id);
    }

    // First thing in the most-derived destructor that has work to do.
    void on_destroy(Base* b) {
        if (!b->intact()) {
            violation("destructor ran on an object whose canary is gone (double destruction?)");
            return;
        }
        Info& in = info_[b->id];
        if (in.state != State::Alive) {
            violation("object " + std::to_string(b->id) + " destroyed twice");
            return;
        }
        if (in.fin_calls != 1)
            violation("object " + std::to_string(b->id) + " destroyed after " + std::to_string(in.fin_calls) + " finalizer runs");
        if (in.frozen) ++frozen_deaths_;
        if (in.watch_rec >= 0) detach(in.watch_rec, static_cast<Node*>(b)->watch);
        in.watch_rec = -1;
        in.state = State::Dying;
        remove_alive(b->id);
        dying_.push_back(b->id);
        if (dying_.size() + finalizing_.size() >= kDeep) deep_ = true;
        stats_.max_depth = std::max(stats_.max_depth, dying_.size());
    }

    // Drops a dying node's edges one at a time, keeping the model exact for user code that runs
    // in the cascade.
    void release_edges(Node* n) {
        auto& model_edges = info_[n->id].edges;
        if (!n->store_ok()) {
            violation("dying node " + std::to_string(n->id) + ": its stores are inconsistent");
            return;
        }
        while (n->edge_count() != 0) {
            ouro::Ref<Base> t = n->pop_edge();
            int expect = model_edges.empty() ? -1 : model_edges.back();
            if (!model_edges.empty()) model_edges.pop_back();
            // A null slot: the collector cleared it (tp_clear) before the node died.
            if (t && (!t->intact() || t->id != expect))
                violation("dying node " + std::to_string(n->id) + " held a reference the model does not know");
            t.reset();
        }
        model_edges.clear();
    }

    void on_base_destroyed(Base* b) {
        if (!b->intact()) return;  // already reported
        Info& in = info_[b->id];
        if (in.state == State::Failing) {  // the unwinding of a throwing constructor
            in.state = in.strays > 0 ? State::Zombie : State::Failed;
            in.obj = nullptr;
            return;
        }
        if (in.state == State::Alive) violation("object " + std::to_string(b->id) + " destroyed without its destructor (a constructor threw?)");
        in.state = State::Dead;
        in.obj = nullptr;
        auto it = std::find(dying_.begin(), dying_.end(), b->id);
        if (it != dying_.end()) dying_.erase(it);
    }

    void on_trace(Base* b) {
        if (!b->intact()) violation("trace() called on a destroyed object (use after free)");
    }

    void on_finalize(Base* b) {
        ++stats_.finalizers;
        if (!b->intact()) {
            violation("finalize() called on a destroyed object");
            return;
        }
        int id = b->id;
        if (info_[id].state != State::Alive) violation("finalize() of object " + std::to_string(id) + " that is not alive");
        if (++info_[id].fin_calls != 1) violation("object " + std::to_string(id) + " finalized twice");
        if (!ouro::gc::is_finalized(*b)) violation("is_finalized() false inside finalize()");
        bool in_gc = gc_depth_ > 0;
        struct Guard {
            Model* m;
            bool pushed;
            ~Guard() {
                if (pushed) m->finalizing_.pop_back();
            }
        } guard{this, !in_gc};
        if (!in_gc) finalizing_.push_back(id);
        switch (b->fin) {
            case Fin::None: break;
            case Fin::Resurrect:
                add_root(ouro::Ref<Base>(b));
                ++stats_.resurrections;
                if (in_gc) revive_seeds_.push_back(id);
                break;
            case Fin::Spawn: {
                static constexpr Fin spawned[] = {Fin::None, Fin::Resurrect, Fin::Throw, Fin::Collect, Fin::Peek};
                add_root(create(id % 3 == 0 ? Kind::Leaf : Kind::Node, spawned[id % 5]));
                break;
            }
            case Fin::SpawnLink: {
                ouro::Ref<Base> n = create(Kind::Node, Fin::None);
                int nid = n->id;
                static_cast<Node*>(n.get())->push_edge(ouro::Ref<Base>(b));
                info_[nid].edges.push_back(id);
                add_root(std::move(n));
                ++stats_.resurrections;
                if (in_gc) revive_seeds_.push_back(id);
                break;
            }
            case Fin::SpawnDrop: {
                int nid;
                {
                    ouro::Ref<Base> n = create(id % 2 ? Kind::Node : Kind::BigLeaf, Fin::None);
                    nid = n->id;
                }
                // Deep in a release the trashcan defers its death to the end of the release.
                if (alive(nid) && deep_) must_die_.push_back(nid);
                else if (alive(nid)) violation("an object allocated and dropped in a finalizer did not die");
                break;
            }
            case Fin::Throw:
                ++expected_unraisable_;
                throw std::runtime_error("model finalizer " + std::to_string(id));
            case Fin::Collect: {
                std::size_t r = ouro::gc::collect(id % 3);
                if (in_gc) {
                    ++stats_.nested_collect_zero;
                    if (r != 0) violation("collect() inside a collection (from a finalizer) returned " + std::to_string(r));
                } else {
                    ++stats_.nested_real_collections;
                }
                break;
            }
            case Fin::Peek: peek_weakrefs(id); break;
        }
    }

    // A live weak reference must never hand out an object whose count already reached zero.
    void peek_weakrefs(int salt) {
        // The newest dozen (those on a chain being released, typically) and a few others.
        std::size_t n = weaks_.size();
        for (std::size_t k = 0; k < std::min<std::size_t>(n, 16); ++k) {
            std::size_t i = k < 12 ? n - 1 - k : (static_cast<std::size_t>(salt) + k * 7) % n;
            DriverWeak& dw = weaks_[i];
            if (!dw.w.alive()) continue;
            ouro::Ref<Base> r = dw.w();
            if (!r->intact()) violation("a weak reference yields a destroyed object");
            if (ouro::sys::getrefcount(*r) == 1) {
                violation("weakref to object " + std::to_string(r->id) + " yields it although its count reached zero");
                (void)new ouro::Ref<Base>(std::move(r));  // leak it rather than destroy it twice
            }
        }
    }

    void on_weak_callback(int rec, const ouro::WeakRef<Base>& self) {
        ++stats_.weak_callbacks;
        WeakRec& r = recs_[rec];
        auto who = [&] {
            return "weakref " + std::to_string(rec) + " (to " + std::to_string(r.target) +
                   (r.holder >= 0 ? ", held by node " + std::to_string(r.holder) : ", held by the driver") + ")";
        };
        if (r.detached && !r.detached_late) violation(who() + ": callback after the weak reference was dropped");
        if (++r.calls > 1) violation(who() + ": callback ran twice");
        if (self.alive()) violation(who() + ": callback sees its referent alive");
        // A constructor that threw: the callbacks run once it is torn down, inside its make<T>.
        const State ts = info_[r.target].state;
        const bool failed = ts == State::Zombie || ts == State::Failed || ts == State::Failing;
        if (failed) {
            if (r.target != failing_) violation(who() + ": callback for an object whose constructor threw, outside its make<T>");
            else if (ts == State::Failing) violation(who() + ": callback before the throwing constructor's object was torn down");
        } else if (ts != State::Alive) {
            violation(who() + ": callback after the referent was destroyed");
        }
        bool in_gc = gc_depth_ > 0;
        if (!in_gc && !failed && info_[r.target].fin_calls != 1)
            violation(who() + ": death by count must run the finalizer before the callbacks");
        if (r.holder >= 0) {
            int h = r.holder;
            if (info_[h].state != State::Alive) {
                if (!r.detached_late) violation(who() + ": callback although its holder is not alive");
            }
            else if (in_gc && gc_gen_ == 2 && !info_[h].frozen && !reachable_now(h))
                violation(who() + ": a weak reference held by garbage called back during a full collection (referent " +
                          kind_name(r.target) + ")");
        }
        // At death by count the referent is untracked but still holds its references: a
        // collection started from here sees them as external (transient roots).
        struct Guard {
            Model* m;
            bool pushed;
            ~Guard() {
                if (pushed) m->finalizing_.pop_back();
            }
        } guard{this, !in_gc};
        if (!in_gc) finalizing_.push_back(r.target);
        Cb cb = r.cb;
        switch (cb) {
            case Cb::Count: break;
            case Cb::Collect: {
                std::size_t n = ouro::gc::collect(2);
                if (in_gc) {
                    ++stats_.nested_collect_zero;
                    if (n != 0) violation(who() + ": collect() inside a collection (from a callback) returned " + std::to_string(n));
                } else {
                    ++stats_.nested_real_collections;
                }
                break;
            }
            case Cb::Spawn: add_root(create(Kind::Node, Fin::None)); break;
            case Cb::Throw: ++expected_unraisable_; throw std::runtime_error("model weakref callback");
        }
    }

    void on_gc(std::string_view phase, const ouro::gc::Info& info) {
        if (phase == "start") {
            ++gc_depth_;
            gc_gen_ = info.generation;
            if (cb_mode_ == 1) {
                std::size_t n = ouro::gc::collect(2);
                ++stats_.nested_collect_zero;
                if (n != 0) violation("collect() from a gc callback returned " + std::to_string(n));
            }
        } else if (phase == "stop") {
            --gc_depth_;
            apply_revivals();
            ++stats_.collections;
            last_found_ = info.collected;
            if (cb_mode_ == 2) {
                ++expected_unraisable_;
                throw std::runtime_error("model gc callback");
            }
        } else {
            violation("gc callback phase " + std::string(phase));
        }
    }

    void on_unraisable(std::exception_ptr e, std::string_view where) {
        ++unraisable_;
        ++stats_.unraisable;
        std::string what = "?";
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& ex) {
            what = ex.what();
        } catch (...) {
        }
        last_unraisable_ = std::string(where) + ": " + what;
        if (where.empty()) violation("unraisable hook called with an empty `where`");
        if (what.rfind("the constructor of ", 0) == 0) {  // checked builds: a zombie's report
            if (zombie_reports_ == 0 || what.rfind(zombie_report_, 0) != 0)
                violation("unexpected report of a throwing constructor: " + last_unraisable_ + " (expected: " +
                          (zombie_reports_ ? zombie_report_ : std::string("none")) + ")");
            else
                --zombie_reports_;
        } else if (what.rfind("model ", 0) != 0) {
            violation("unexpected unraisable error: " + last_unraisable_);
        }
    }

    // ----- reachability -----------------------------------------------------------------------------
    // Marks (with the current epoch) everything reachable from the roots, garbage(), live frozen
    // objects, and — during a collection started inside a death by count — the objects being
    // finalized or torn down right now (the collector sees their references as external).
    void mark_reachable(bool include_transient, bool from_frozen = true) {
        ++epoch_;
        std::vector<int> stack;
        for (int id : root_ids_) push_mark(id, stack);
        for (const auto& g : ouro::gc::garbage()) push_mark(static_cast<Base*>(g.get())->id, stack);
        if (from_frozen)
            for (int id : alive_list_)
                if (info_[id].frozen) push_mark(id, stack);
        if (include_transient) {
            for (int id : finalizing_) push_mark(id, stack);
            for (int id : held_) push_mark(id, stack);
            if (dict_iterating_ > 0)
                for (const auto& kv : dict_recs_)
                    if (alive(kv.first)) push_mark(kv.first, stack);
            for (int id : dying_)
                for (int t : info_[id].edges) push_mark(t, stack);
            // Objects no one references (count 0) that are not destroyed yet: the trashcan
            // defers them during a deep release. The collector treats them as roots.
            for (int id : alive_list_) info_[id].cnt = 0;
            for (int id : root_ids_) ++info_[id].cnt;
            for (const auto& g : ouro::gc::garbage()) ++info_[static_cast<Base*>(g.get())->id].cnt;
            for (int id : alive_list_)
                for (int t : info_[id].edges)
                    if (alive(t)) ++info_[t].cnt;
            for (int id : dying_)
                for (int t : info_[id].edges)
                    if (alive(t)) ++info_[t].cnt;
            for (int id : alive_list_)
                if (info_[id].cnt == 0) push_mark(id, stack);
        }
        drain_marks(stack);
    }
    bool reachable_now(int id) {
        mark_reachable(true);
        return info_[id].mark == epoch_;
    }

    // Picks a reachable object by a short random walk from a root; -1 when there is none. The
    // objects passed on the way are left in path() (a link back to one of them makes a cycle).
    int pick(Source& src, bool want_node) {
        path_.clear();
        if (root_ids_.empty()) return -1;
        int cur = root_ids_[src.below(root_ids_.size())];
        int best = !want_node || is_node(cur) ? cur : -1;
        std::uint64_t steps = src.below(8);
        for (std::uint64_t s = 0; s < steps; ++s) {
            if (!alive(cur)) break;
            path_.push_back(cur);
            const auto& e = info_[cur].edges;
            if (e.empty()) break;
            cur = e[src.below(e.size())];
            if (!want_node || is_node(cur)) best = cur;
        }
        if (best >= 0 && !alive(best)) {
            violation("reachable object " + std::to_string(best) + " is dead (use after free)");
            return -1;
        }
        return best;
    }
    const std::vector<int>& path() const { return path_; }

    static const char* kind_str(Kind k) {
        static const char* const names[] = {"Node", "BigNode", "Leaf", "BigLeaf"};
        return names[static_cast<int>(k)];
    }
    std::string kind_name(int id) const {
        std::string s = kind_str(info_[id].kind);
        if (info_[id].frozen) s += ", frozen";
        return s;
    }

private:
    int new_info(Kind kind, Fin fin) {
        int id = static_cast<int>(info_.size());
        info_.push_back(Info{});
        Info& in = info_.back();
        in.kind = kind;
        in.fin = fin;
        in.tracked = kind == Kind::Node || kind == Kind::BigNode;
        in.where = in.tracked ? initial_where(id) : Where::Inline;
        ++stats_.objects;
        return id;
    }
    static std::uint32_t id_hash(int id) {
        std::uint32_t x = static_cast<std::uint32_t>(id) * 0x9E3779B1u;
        x ^= x >> 15;
        x *= 0x85EBCA77u;
        x ^= x >> 13;
        return x;
    }
    // A node starts with its edges in a store chosen by its id.
    static Where initial_where(int id) {
        std::uint32_t h = id_hash(id) % 100;
        return h < 70   ? Where::Inline
               : h < 78 ? Where::Boxed
               : h < 85 ? Where::Erased
               : h < 91 ? Where::Keyed
               : h < 96 ? Where::Listed
                        : Where::Framed;
    }
    void remove_alive(int id) {
        Info& in = info_[id];
        int pos = in.alive_pos;
        int last = alive_list_.back();
        alive_list_[pos] = last;
        info_[last].alive_pos = pos;
        alive_list_.pop_back();
        in.alive_pos = -1;
    }
    // Both alive, distinct nodes.
    bool hand_ok(int a, int b) {
        if (!require_alive(a, "hand-over node") || !require_alive(b, "hand-over node")) return false;
        if (a == b || !is_node(a) || !is_node(b)) {
            violation("hand-over between " + std::to_string(a) + " and " + std::to_string(b) + ": not two nodes");
            return false;
        }
        return true;
    }
    // Drops references the interpreter moved out to a local (`old`, whose targets the model lists
    // in `ids`), last first; the ones not dropped yet are transient roots meanwhile (held_).
    template <class Held>  // Edges or an ouro::List
    void drop_held(Held& old, std::vector<int>& ids, const char* what) {
        if (old.size() != ids.size())
            violation(std::string(what) + ": " + std::to_string(old.size()) + " references moved out, model " +
                      std::to_string(ids.size()));
        std::size_t base = held_.size();
        held_.insert(held_.end(), ids.begin(), ids.end());
        while (!old.empty()) {
            ouro::Ref<Base> t;
            if constexpr (std::is_same_v<Held, Edges>) {
                t = std::move(old.back());
                old.pop_back();
            } else {
                t = old.pop();
            }
            int expect = -1;
            if (!ids.empty()) {
                expect = ids.back();
                ids.pop_back();
                held_.pop_back();
            }
            if (!t || !t->intact() || t->id != expect)
                violation(std::string(what) + ": a reference moved out is not object " + std::to_string(expect));
            t.reset();
        }
        held_.resize(base);
    }

    bool require_alive(int id, const char* what) {
        if (alive(id) && info_[id].obj->intact()) return true;
        violation(std::string(what) + " " + std::to_string(id) + " is not alive (use after free)");
        return false;
    }
    void push_mark(int id, std::vector<int>& stack) {
        if (id < 0 || info_[id].mark == epoch_) return;
        info_[id].mark = epoch_;
        stack.push_back(id);
    }
    void drain_marks(std::vector<int>& stack) {
        while (!stack.empty()) {
            int id = stack.back();
            stack.pop_back();
            if (info_[id].state == State::Dead) continue;
            for (int t : info_[id].edges) push_mark(t, stack);
        }
    }

    std::uint64_t seed_;
    ouro::Ref<Key> key_;  // declared early: destroyed after everything else the model holds
    Model* previous_model_ = nullptr;
    ouro::UnraisableHook previous_hook_;

    // By id, in chunks, so user code that allocates (and so adds entries) never moves one.
    template <class T>
    class Store {
    public:
        Store() = default;
        Store(const Store&) = delete;
        Store& operator=(const Store&) = delete;
        ~Store() {
            for (T* c : chunks_) delete[] c;
        }
        T& operator[](std::size_t id) { return table_[id >> kShift][id & kMask]; }
        const T& operator[](std::size_t id) const { return table_[id >> kShift][id & kMask]; }
        std::size_t size() const { return size_; }
        T& back() { return (*this)[size_ - 1]; }
        void push_back(T value) {
            if ((size_ & kMask) == 0) {
                chunks_.reserve(chunks_.size() + 1);
                chunks_.push_back(new T[kMask + 1]);
                table_ = chunks_.data();
            }
            (*this)[size_++] = std::move(value);
        }

    private:
        static constexpr std::size_t kShift = 10, kMask = (1u << kShift) - 1;
        std::vector<T*> chunks_;
        T* const* table_ = nullptr;  // chunks_.data(): raw, so Debug builds stay quick
        std::size_t size_ = 0;
    };
    Store<Info> info_;
    std::vector<int> alive_list_;
    std::vector<ouro::Ref<Base>> roots_;
    std::vector<int> root_ids_;
    Store<WeakRec> recs_;
    std::vector<DriverWeak> weaks_;
    ouro::WeakValueDictionary<int, Base> dict_;
    std::map<int, int> dict_recs_;  // key (= the value's id) -> its record in recs_

    std::vector<int> finalizing_;    // objects dying by count whose finalizer or weakref callbacks run now
    std::vector<int> dying_;         // nodes whose destructor is running
    std::vector<int> path_;          // the last pick's walk
    std::vector<int> must_die_;      // dropped during a deep release: dead by the end of the op
    std::vector<int> revive_seeds_;  // objects a finalizer revived during a collection, this op
    std::vector<int> held_;          // references the interpreter moved out to a local, not dropped yet
    int dict_iterating_ = 0;         // WeakValueDictionary iterations under way
    std::size_t frozen_deaths_ = 0;
    std::uint32_t orphan_epoch_ = 1;
    std::pmr::memory_resource* stack_resource_ = nullptr;
    // The WithSide constructor's side object, armed by create().
    Side side_{Kind::Leaf, Fin::None};
    bool side_armed_ = false;
    int side_made_ = -1;
    // The throwing constructor, armed by alloc_throwing().
    struct Stray {
        int id;
        ouro::Ref<ouro::Object> ref;  // to a zombie: a plain Object now
    };
    std::vector<Stray> strays_;
    ThrowSpec throw_;
    bool throw_armed_ = false;
    int failing_ = -1;  // the object whose make<T> is failing now
    int failing_weak_rec_ = -1, failing_watch_rec_ = -1, failing_child_ = -1;
    std::size_t zombie_reports_ = 0;  // checked builds' reports of zombies, expected
    std::string zombie_report_;
    int gc_depth_ = 0;
    bool deep_ = false;  // this op released a structure deep enough for the trashcan to defer objects
    int gc_gen_ = -1;
    int cb_mode_ = 0;
    std::size_t last_found_ = 0;
    std::size_t unraisable_ = 0;
    std::size_t expected_unraisable_ = 0;
    std::string last_unraisable_;
    std::uint32_t epoch_ = 0;

    std::vector<std::string> violations_;
    std::deque<Logged> recent_;
    std::size_t op_ = 0;
    const char* op_name_ = "setup";
    Stats stats_;
};

// --- Managed types: bodies ------------------------------------------------------------------------
inline Base::Base(int i, Fin f) : id(i), fin(f) {
    if (g_model) g_model->on_construct(this);
}
inline Base::~Base() {
    if (g_model) g_model->on_base_destroyed(this);
    canary = kPoison;
}
inline void Base::finalize() {
    if (g_model) g_model->on_finalize(this);
}
inline ouro::Ref<Base> spawn_side() { return g_model ? g_model->make_side() : nullptr; }

inline std::pmr::memory_resource* edge_resource_for(int id) {
    return g_model ? g_model->edge_resource(id) : std::pmr::get_default_resource();
}
inline Node::Node(int i, Fin f) : Base(i, f), inline_edges(edge_resource_for(i)) { open_store(); }
inline Node::Node(int i, Fin f, WithSide, ouro::Ref<Base> side, Token t) : Base(i, f), inline_edges(edge_resource_for(i)) {
    open_store();
    if (g_model) g_model->on_side(this, std::move(side), t);
}
// Not delegating: a delegating constructor that throws runs the destructor, and the case under
// test is a constructor that throws with only its members and bases to unwind.
inline Node::Node(int i, Fin f, Throwing) : Base(i, f), inline_edges(edge_resource_for(i)) {
    open_store();
    if (g_model) g_model->on_throwing_construct(this);
    throw std::runtime_error("model constructor");
}
inline void Node::open_store() {
    if (g_model && g_model->where(id) != Where::Inline) put_edges(g_model->where(id), Edges(resource()));
}
inline Node::~Node() {
    if (!g_model) return;
    g_model->on_destroy(this);
    watch.reset();
    g_model->release_edges(this);
}
inline void Node::trace(ouro::Visitor& visit) {
    if (g_model) g_model->on_trace(this);
    visit(inline_edges, boxed, keyed, listed, framed);
    // has_value() first: any_cast on an empty std::any compares type_info (slow under UBSan).
    if (erased.has_value())
        if (auto* e = std::any_cast<Edges>(&erased)) visit(*e);
    visit(watch);
}
inline bool Node::store_ok() const noexcept {
    const Edges* any = erased.has_value() ? std::any_cast<Edges>(&erased) : nullptr;
    bool in = where == Where::Inline || inline_edges.empty();
    bool box = where == Where::Boxed ? boxed != nullptr : !boxed || boxed->empty();
    bool era = where == Where::Erased ? any != nullptr : !erased.has_value() || (any && any->empty());
    bool key = where == Where::Keyed ? keyed_edges != nullptr
               : keyed.empty()       ? keyed_edges == nullptr
                                     : keyed.size() == 1 && keyed_edges && keyed_edges->empty();
    bool lis = where == Where::Listed || listed.empty();
    bool fra = where == Where::Framed ? framed_edges != nullptr : !framed_edges || framed_edges->empty();
    return in && box && era && key && lis && fra;
}
inline Edges Node::take_edges(bool keep_spare) {
    if (where == Where::Listed) {  // the references move one by one
        Edges e(resource());
        e.reserve(listed.size());
        for (auto& r : listed) e.push_back(std::move(r));
        listed.clear();
        where = Where::Inline;
        return e;
    }
    Edges e(std::move(edges()));
    if (!keep_spare) {
        switch (where) {
            case Where::Inline: break;
            case Where::Boxed: boxed.reset(); break;
            case Where::Erased: erased.reset(); break;
            case Where::Listed: break;
            case Where::Keyed:
                keyed.clear();
                keyed_edges = nullptr;
                break;
            case Where::Framed:
                framed.close();  // GeneratorExit at its co_yield: the emptied parameter dies
                framed_edges = nullptr;
                break;
        }
    }
    where = Where::Inline;
    return e;
}
inline void Node::put_edges(Where w, Edges&& e) {
    switch (w) {
        case Where::Inline:
            inline_edges = std::move(e);
            e.clear();
            break;
        case Where::Boxed:
            if (boxed) {
                *boxed = std::move(e);
                e.clear();
            } else {
                boxed = std::make_unique<Edges>(std::move(e));
            }
            break;
        case Where::Erased:
            if (erased.has_value()) {
                *std::any_cast<Edges>(&erased) = std::move(e);
                e.clear();
            } else {
                erased = std::move(e);
            }
            break;
        case Where::Keyed: keyed_edges = g_model->key_insert(keyed, std::move(e)); break;
        case Where::Listed:
            for (auto& r : e) listed.append(std::move(r));
            e.clear();
            break;
        case Where::Framed:
            if (framed_edges) {
                *framed_edges = std::move(e);
                e.clear();
            } else {
                framed = hold_edges(std::move(e));
                framed_edges = framed.next();
            }
            break;
    }
    where = w;
}
inline BigNode::BigNode(int i, Fin f) : Node(i, f) {
    std::memset(payload, payload_byte(i), kPayload);
}
inline BigNode::BigNode(int i, Fin f, WithSide w, ouro::Ref<Base> side, Token t)
    : Node(i, f, w, std::move(side), Token{t.value}) {
    std::memset(payload, payload_byte(i), kPayload);
}
inline BigNode::BigNode(int i, Fin f, Throwing t) : Node(i, f, t) {
    std::memset(payload, payload_byte(i), kPayload);  // not reached
}
inline BigNode::~BigNode() {
    if (g_model && !payload_ok()) g_model->violation("BigNode " + std::to_string(id) + ": payload overwritten at destruction");
}
inline bool BigNode::payload_ok() const noexcept {
    // Every byte equal to the first, and the first right.
    return payload[0] == payload_byte(id) && std::memcmp(payload, payload + 1, kPayload - 1) == 0;
}
inline Leaf::Leaf(int i, Fin f, Throwing) : Base(i, f) {
    if (g_model) g_model->on_throwing_construct(this);
    throw std::runtime_error("model constructor");
}
inline Leaf::~Leaf() {
    if (g_model) g_model->on_destroy(this);
}
inline BigLeaf::BigLeaf(int i, Fin f) : Leaf(i, f) {
    std::memset(payload, payload_byte(i), kPayload);
}
inline BigLeaf::BigLeaf(int i, Fin f, Throwing t) : Leaf(i, f, t) {
    std::memset(payload, payload_byte(i), kPayload);  // not reached
}
inline BigLeaf::~BigLeaf() {
    if (g_model && !payload_ok()) g_model->violation("BigLeaf " + std::to_string(id) + ": payload overwritten at destruction");
}
inline bool BigLeaf::payload_ok() const noexcept {
    // Every byte equal to the first, and the first right.
    return payload[0] == payload_byte(id) && std::memcmp(payload, payload + 1, kPayload - 1) == 0;
}

// --- The interpreter ------------------------------------------------------------------------------
struct Options {
    std::size_t max_alive = 400;    // above this, the interpreter prefers drops and collections
    unsigned check_every = 16;      // a full check at least every this many operations
    bool check_after_auto = true;   // a full check after an operation that ran an automatic collection
};

inline Kind draw_kind(Source& s) {
    auto k = s.below(100);
    return k < 55 ? Kind::Node : k < 65 ? Kind::BigNode : k < 90 ? Kind::Leaf : Kind::BigLeaf;
}
inline Fin draw_fin(Source& s) {
    static constexpr struct {
        Fin f;
        unsigned weight;
    } table[] = {{Fin::None, 46}, {Fin::Resurrect, 9}, {Fin::Spawn, 5},   {Fin::SpawnLink, 5},
                 {Fin::SpawnDrop, 5}, {Fin::Throw, 10},    {Fin::Collect, 10}, {Fin::Peek, 10}};
    auto x = s.below(100);
    for (const auto& e : table) {
        if (x < e.weight) return e.f;
        x -= e.weight;
    }
    return Fin::None;
}
inline Cb draw_cb(Source& s) {
    auto x = s.below(100);
    return x < 55 ? Cb::Count : x < 70 ? Cb::Collect : x < 85 ? Cb::Spawn : Cb::Throw;
}
// Sometimes (nodes only) through the constructor whose default argument allocates a side object.
inline const Model::Side* draw_side(Source& s, Kind k, Model::Side& out) {
    if ((k != Kind::Node && k != Kind::BigNode) || !s.percent(8)) return nullptr;
    out = Model::Side{draw_kind(s), draw_fin(s)};
    return &out;
}
// For a hand-over with `a`: half the time a node on the way to it (so the hand-over can close a
// cycle with no count going down; *on_path is set), else any reachable node; -1 when there is
// none but `a`.
inline int pick_partner(Model& m, Source& src, int a, bool* on_path) {
    *on_path = false;
    if (src.percent(50)) {
        int cand[8];
        int n = 0;
        for (int id : m.path())
            if (id != a && m.alive(id) && m.is_node(id) && n < 8) cand[n++] = id;
        if (n > 0) {
            *on_path = true;
            return cand[src.below(static_cast<std::uint64_t>(n))];
        }
    }
    int b = m.pick(src, true);
    return b == a ? -1 : b;
}

// One random operation. Returns false once the model has seen a violation.
inline bool step(Model& m, Source& src, std::size_t op_index, const Options& opt = {}) {
    enum Op {
        AllocRoot, AllocChild, Link, Unlink, Replace, DropRoot, DropMany, Collect, Threshold, Toggle, Freeze, Unfreeze,
        WeakAdd, WeakDrop, Watch, SaveAll, ClearGarbage, Check, CbMode, Referents, AllocChain, MoveIn, DictPut, DictErase, DictIterate,
        HandMove, HandSwap, HandStore, Restore, AllocThrow, DropStray, ListSplice, kOps
    };
    // The operations: name and weight, one row each in the order of Op. A weight reads the
    // state: waves grow to max_alive, then shrink to a quarter of it, so big structures die together.
    if (m.alive_count() > opt.max_alive) m.shrinking = true;
    if (m.alive_count() < opt.max_alive / 4) m.shrinking = false;
    struct Row {
        Op op;
        const char* name;
        unsigned (*weight)(const Model& m, bool shrink);
    };
    static constexpr Row rows[] = {
        {AllocRoot, "alloc-root", [](const Model& m, bool shrink) -> unsigned { return m.root_count() < 4 ? 60 : shrink ? 2 : 8; }},
        {AllocChild, "alloc-child", [](const Model&, bool shrink) -> unsigned { return shrink ? 3 : 22; }},
        {Link, "link", [](const Model&, bool shrink) -> unsigned { return shrink ? 10 : 20; }},
        {Unlink, "unlink", [](const Model&, bool shrink) -> unsigned { return shrink ? 12 : 5; }},
        {Replace, "replace", [](const Model&, bool) -> unsigned { return 5; }},
        {DropRoot, "drop-root", [](const Model&, bool shrink) -> unsigned { return shrink ? 20 : 5; }},
        {DropMany, "drop-many", [](const Model&, bool shrink) -> unsigned { return shrink ? 2 : 0; }},
        {Collect, "collect", [](const Model&, bool shrink) -> unsigned { return shrink ? 8 : 3; }},
        {Threshold, "threshold", [](const Model&, bool) -> unsigned { return 1; }},
        {Toggle, "toggle", [](const Model&, bool) -> unsigned { return 1; }},
        // And 3 in 4 of these draws become a check: rare.
        {Freeze, "freeze", [](const Model&, bool) -> unsigned { return 1; }},
        {Unfreeze, "unfreeze", [](const Model&, bool) -> unsigned { return 2; }},
        {WeakAdd, "weak-add", [](const Model&, bool) -> unsigned { return 5; }},
        {WeakDrop, "weak-drop", [](const Model& m, bool) -> unsigned { return m.weak_count() > 60 ? 8 : 2; }},
        {Watch, "watch", [](const Model&, bool) -> unsigned { return 5; }},
        {SaveAll, "saveall", [](const Model&, bool) -> unsigned { return 1; }},
        {ClearGarbage, "clear-garbage", [](const Model&, bool) -> unsigned { return ouro::gc::garbage().empty() ? 0 : 3; }},
        {Check, "check", [](const Model&, bool) -> unsigned { return 1; }},
        {CbMode, "cb-mode", [](const Model&, bool) -> unsigned { return 1; }},
        {Referents, "referents", [](const Model&, bool) -> unsigned { return 1; }},
        // Deep structures: their release goes through the trashcan.
        {AllocChain, "alloc-chain", [](const Model&, bool shrink) -> unsigned { return shrink ? 0 : 1; }},
        {MoveIn, "move-in", [](const Model&, bool) -> unsigned { return 2; }},
        {DictPut, "dict-put", [](const Model&, bool) -> unsigned { return 4; }},
        {DictErase, "dict-erase", [](const Model& m, bool) -> unsigned { return m.dict_keys() == 0 ? 0 : m.dict_keys() > 80 ? 8 : 1; }},
        {DictIterate, "dict-iterate", [](const Model&, bool) -> unsigned { return 1; }},
        {HandMove, "hand-move", [](const Model&, bool) -> unsigned { return 2; }},
        {HandSwap, "hand-swap", [](const Model&, bool) -> unsigned { return 2; }},
        {HandStore, "hand-store", [](const Model&, bool) -> unsigned { return 2; }},
        {Restore, "restore", [](const Model&, bool) -> unsigned { return 2; }},
        {AllocThrow, "alloc-throw", [](const Model&, bool shrink) -> unsigned { return shrink ? 1 : 2; }},
        {DropStray, "drop-stray", [](const Model& m, bool) -> unsigned { return m.stray_count() == 0 ? 0 : m.stray_count() > 6 ? 6 : 2; }},
        {ListSplice, "list-splice", [](const Model&, bool) -> unsigned { return 2; }},
    };
    static_assert(std::size(rows) == kOps);
    static_assert([] {
        for (int i = 0; i < kOps; ++i)
            if (rows[i].op != i) return false;
        return true;
    }(), "rows follow the order of Op");
    unsigned weight[kOps];
    for (const Row& r : rows) weight[r.op] = r.weight(m, m.shrinking);
    unsigned total = 0;
    for (unsigned w : weight) total += w;
    auto x = static_cast<unsigned>(src.below(total));
    int op = 0;
    while (x >= weight[op]) x -= weight[op++];
    // Freeze is rarer still: most draws of it become a check.
    if (op == Freeze && !src.percent(25)) op = Check;

    m.set_context(op_index, rows[op].name);
    std::size_t collections_before = m.stats().collections;
    m.count_op();
    Logged log{rows[op].name, {0, 0, 0}, 0};
    switch (op) {
        case AllocRoot: {
            Kind k = draw_kind(src);
            Fin f = draw_fin(src);
            Model::Side side;
            const Model::Side* with = draw_side(src, k, side);
            int id = m.new_root(k, f, with);
            log.set(id, with != nullptr);
            break;
        }
        case AllocChild: {
            int a = m.pick(src, true);
            if (a < 0) break;
            Kind k = draw_kind(src);
            Fin f = draw_fin(src);
            Model::Side side;
            const Model::Side* with = draw_side(src, k, side);
            int id = m.new_child(a, k, f, with);
            log.set(a, id, with != nullptr);
            break;
        }
        case Link: {
            int a = m.pick(src, true);
            // Half the time, back to an object on the way to `a`: a cycle.
            int b = a >= 0 && !m.path().empty() && src.percent(50) ? m.path()[src.below(m.path().size())]
                                                                  : m.pick(src, false);
            if (a < 0 || b < 0) break;
            m.link(a, b);
            log.set(a, b);
            break;
        }
        case Unlink: {
            int a = m.pick(src, true);
            if (a < 0 || m.edges(a).empty()) break;
            auto i = src.below(m.edges(a).size());
            log.set(a, m.edges(a)[i]);
            m.unlink(a, i);
            break;
        }
        case Replace: {
            int a = m.pick(src, true);
            int b = m.pick(src, false);
            if (a < 0 || b < 0 || m.edges(a).empty()) break;
            auto i = src.below(m.edges(a).size());
            log.set(a, static_cast<long long>(i), b);
            m.replace(a, i, b);
            break;
        }
        case DropRoot: {
            if (m.root_count() == 0) break;
            auto i = src.below(m.root_count());
            log.set(m.root_ids()[i]);
            m.drop_root(i);
            break;
        }
        case DropMany: {
            auto n = 1 + src.below(m.root_count() / 2 + 1);
            for (std::uint64_t k = 0; k < n && m.root_count() > 0; ++k) m.drop_root(src.below(m.root_count()));
            log.set(static_cast<long long>(n));
            break;
        }
        case Collect: {
            int gen = static_cast<int>(src.below(4));
            if (gen == 3) gen = 2;
            log.set(gen);
            m.log_op(log);
            m.collect(gen);  // checks included
            return !m.failed();
        }
        case Threshold: {
            std::size_t t0 = src.percent(8) ? 0 : 1 + src.below(25);
            std::size_t t1 = 1 + src.below(8), t2 = 1 + src.below(8);
            ouro::gc::set_threshold(t0, t1, t2);
            auto t = ouro::gc::get_threshold();
            if (t[0] != t0 || t[1] != t1 || t[2] != t2) m.violation("get_threshold() disagrees with set_threshold()");
            log.set(static_cast<long long>(t0), static_cast<long long>(t1), static_cast<long long>(t2));
            break;
        }
        case Toggle: {
            bool on = src.percent(75);
            on ? ouro::gc::enable() : ouro::gc::disable();
            if (ouro::gc::isenabled() != on) m.violation("isenabled() wrong");
            log.set(on);
            break;
        }
        case Freeze: m.freeze(); break;
        case Unfreeze: m.unfreeze(); break;
        case WeakAdd: {
            int t = m.pick(src, false);
            if (t < 0) break;
            bool cb = src.percent(70);
            m.add_weak(t, cb, draw_cb(src));
            log.set(t);
            break;
        }
        case WeakDrop: {
            if (m.weak_count() == 0) break;
            m.drop_weak(src.below(m.weak_count()));
            break;
        }
        case Watch: {
            int h = m.pick(src, true);
            int t = src.percent(15) ? -1 : m.pick(src, false);
            if (h < 0) break;
            m.set_watch(h, t, draw_cb(src));
            log.set(h, t);
            break;
        }
        case SaveAll: {
            int gen = static_cast<int>(src.below(3));
            log.set(gen);
            m.log_op(log);
            m.collect(gen, true);
            return !m.failed();
        }
        case ClearGarbage: m.clear_garbage(); break;
        case Check: break;
        case CbMode: {
            auto mode = src.below(4);
            m.set_gc_callback_mode(mode == 3 ? 0 : static_cast<int>(mode));
            log.set(static_cast<long long>(mode == 3 ? 0 : mode));
            break;
        }
        case AllocChain: {
            // A chain of 40..199 objects hung from a reachable node (or a new root), sometimes
            // closed into a cycle; side objects with finalizers along it.
            int a = src.percent(30) ? -1 : m.pick(src, true);
            int start = a >= 0 ? m.new_child(a, Kind::Node, Fin::None) : m.new_root(Kind::Node, Fin::None);
            int t = start;
            auto len = 40 + src.below(160);
            for (std::uint64_t k = 0; k < len && m.alive(t); ++k) {
                // A side object before `next` dies after it (edges are released last first), while
                // the trashcan may still hold deferred parts of the chain.
                bool side = src.percent(25);
                bool side_first = src.percent(50);
                if (side && side_first) m.new_child(t, draw_kind(src), draw_fin(src));
                int next = m.new_child(t, src.percent(10) ? Kind::BigNode : Kind::Node, src.percent(80) ? Fin::None : draw_fin(src));
                if (side && !side_first) m.new_child(t, draw_kind(src), draw_fin(src));
                if (src.percent(10)) m.add_weak(next, src.percent(50), Cb::Count);
                t = next;
            }
            if (m.alive(t) && m.alive(start) && src.percent(40)) m.link(t, start);
            log.set(a, start, static_cast<long long>(len));
            break;
        }
        case MoveIn: {
            // Move a root into a node reached from it (often making garbage with no drop), or
            // into any reachable node.
            if (m.root_count() == 0) break;
            auto i = src.below(m.root_count());
            int r = m.root_ids()[i];
            int a = -1;
            if (src.percent(60)) {
                a = m.is_node(r) ? r : -1;
                for (std::uint64_t k = 0, n = src.below(4); k < n && a >= 0; ++k) {
                    const auto& e = m.edges(a);
                    if (e.empty()) break;
                    int next = e[src.below(e.size())];
                    if (m.is_node(next)) a = next;
                }
            } else {
                a = m.pick(src, true);
            }
            if (a < 0 || !m.alive(a)) break;
            // Sometimes between two full collections with nothing else in between: the second
            // must find what the move made unreachable although no count went down.
            bool sandwich = src.percent(30);
            if (sandwich) ouro::gc::collect(2);
            if (i >= m.root_count() || m.root_ids()[i] != r || !m.alive(a)) break;
            m.move_root_into(i, a);
            log.set(r, a, sandwich);
            if (sandwich) {
                m.log_op(log);
                m.collect(2);  // checks included
                return !m.failed();
            }
            break;
        }
        case DictPut: {
            int t = m.pick(src, false);
            if (t < 0) break;
            m.dict_put(t);
            log.set(t);
            break;
        }
        case DictErase: {
            int k = m.dict_key(src.below(m.dict_keys()));
            m.dict_erase(k);
            log.set(k);
            break;
        }
        case DictIterate: {
            // Iterate while the loop body drops roots or collects.
            unsigned what = static_cast<unsigned>(src.below(3));
            m.dict_iterate([&](int) {
                if (what == 1 && m.root_count() > 0 && src.percent(30)) m.drop_root(src.below(m.root_count()));
                if (what == 2 && src.percent(20)) ouro::gc::collect(static_cast<int>(src.below(3)));
            });
            log.set(what);
            break;
        }
        case Referents: {
            int a = m.pick(src, false);
            if (a >= 0) m.check_referents(a);
            break;
        }
        case HandMove:
        case HandSwap:
        case HandStore:
        case ListSplice: {
            int a = m.pick(src, true);
            if (a < 0) break;
            bool on_path = false;
            int b = pick_partner(m, src, a, &on_path);
            if (b < 0) break;
            // From b, on the way to a, into a mostly: a then holds the way back to itself (a cycle
            // that the old way in no longer reaches). The other way round breaks cycles through a.
            int s = b, d = a;
            if (src.percent(on_path ? 20 : 50)) std::swap(s, d);
            bool holders = src.percent(50);
            auto w = static_cast<Where>(1 + src.below(kWheres - 1));
            // Sometimes between two full collections with nothing else in between: the second
            // must find what the hand-over made unreachable although no count went down.
            bool sandwich = src.percent(20);
            if (sandwich) ouro::gc::collect(2);
            if (!m.alive(s) || !m.alive(d)) break;
            if (op == HandMove) m.hand_move(s, d);
            else if (op == HandSwap) m.hand_swap(s, d, holders);
            else if (op == HandStore) m.hand_store(s, d, w);
            else m.list_splice(s, d);
            log.set(s, d, sandwich);
            if (sandwich) {
                m.log_op(log);
                m.collect(2);  // checks included
                return !m.failed();
            }
            break;
        }
        case Restore: {
            int a = m.pick(src, true);
            if (a < 0) break;
            auto w = static_cast<Where>((static_cast<int>(m.where(a)) + 1 + static_cast<int>(src.below(kWheres - 1))) % kWheres);
            bool keep_spare = src.percent(50);
            m.restore(a, w, keep_spare);
            log.set(a, static_cast<long long>(w), keep_spare);
            break;
        }
        case AllocThrow: {
            Kind k = draw_kind(src);
            Fin f = draw_fin(src);
            ThrowSpec spec;
            spec.strays = static_cast<int>(src.below(3));
            spec.weak = src.percent(50);
            spec.weak_cb = src.percent(70);
            spec.cb = draw_cb(src);
            spec.dict = src.percent(30);
            if (src.percent(30)) spec.watch_holder = m.pick(src, true);
            spec.watch_cb = draw_cb(src);
            if ((k == Kind::Node || k == Kind::BigNode) && src.percent(30)) {
                // A child only the failing node holds: it dies in the unwinding (never resurrecting).
                static constexpr Fin fins[] = {Fin::None, Fin::None, Fin::Spawn, Fin::SpawnDrop, Fin::Throw, Fin::Collect, Fin::Peek};
                spec.child = static_cast<int>(src.below(4));
                spec.child_fin = fins[src.below(std::size(fins))];
            }
            int id = m.alloc_throwing(k, f, spec);
            log.set(id, spec.strays, spec.child);
            break;
        }
        case DropStray: {
            m.drop_stray(src.below(m.stray_count()));
            break;
        }
    }
    m.log_op(log);
    m.after_op();
    bool auto_collected = m.stats().collections != collections_before;
    if (op == Check || op_index % opt.check_every == 0 || (opt.check_after_auto && auto_collected)) m.check(false);
    return !m.failed();
}

}  // namespace ouro_model
