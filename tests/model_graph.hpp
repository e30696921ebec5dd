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
// After every collection, after operations that ran one, and periodically, it checks:
//   - every object reachable from the roots is alive, its canary and payload intact, its edges
//     exactly as the model says, and sys::getrefcount equals the references the model knows of
//     (so no acyclic dead object lingers and no reachable one is freed);
//   - no collection frees an object that garbage does not support (reachable, or frozen and kept
//     by references from outside the unreachable set);
//   - after a full collection nothing unreachable survives (except what frozen objects keep),
//     and collect() returned the unreachable objects found minus the resurrected ones;
//   - every finalizer runs exactly once, before its object's destructor; is_finalized agrees;
//   - weak references (and dictionary entries) are alive exactly when their referent is (cleared
//     by the collection that found the referent unreachable, as CPython), callbacks run exactly
//     once when the weak reference is reachable, never after it was dropped, never for one held by
//     garbage during a full collection, and a weak reference never yields an object whose count
//     already reached 0;
//   - collect() inside a collection returns 0; exceptions from user code reach the unraisable hook;
//   - get_objects, get_referents, get_referrers, get_freeze_count, get_threshold, isenabled and
//     get_stats agree with the model.
//
// Deterministic for a given op source (a seeded std::mt19937_64, or fuzzer bytes: Source(data,
// size)) and a given binary: finalizers run in address order, so another build or allocator may
// take a different path from the same seed.
#pragma once

#include <ouro/ouro.hpp>
#include <ouro/sys.hpp>
#include <ouro/unraisable.hpp>
#include <ouro/weak_value_dictionary.hpp>
#include <ouro/weakref.hpp>

#include <algorithm>
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
enum class State : std::uint8_t { Unborn, Alive, Dying, Dead };

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

// Tracked: overrides trace().
struct Node : Base {
    std::vector<ouro::Ref<Base>> edges;
    ouro::WeakRef<Base> watch;  // declared after edges: destroyed first, so it never calls back mid-destruction
    Node(int i, Fin f) : Base(i, f) {}
    ~Node() override;
    void trace(ouro::Visitor& visit) override;
};

struct BigNode : Node {
    unsigned char payload[kPayload];
    BigNode(int i, Fin f);
    ~BigNode() override;
    bool payload_ok() const noexcept;
};

// Untracked: keeps Object's trace(), holds no references.
struct Leaf : Base {
    Leaf(int i, Fin f) : Base(i, f) {}
    ~Leaf() override;
};

struct BigLeaf : Leaf {
    unsigned char payload[kPayload];
    BigLeaf(int i, Fin f);
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

    explicit Model(std::uint64_t seed_for_messages = 0) : seed_(seed_for_messages) {
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
    // Creates an object; the caller must put the returned reference where the model expects it.
    ouro::Ref<Base> create(Kind kind, Fin fin) {
        int id = static_cast<int>(info_.size());
        info_.push_back(Info{});
        Info& in = info_.back();
        in.kind = kind;
        in.fin = fin;
        in.tracked = kind == Kind::Node || kind == Kind::BigNode;
        ++stats_.objects;
        switch (kind) {
            case Kind::Node: return ouro::make<Node>(id, fin);
            case Kind::BigNode: return ouro::make<BigNode>(id, fin);
            case Kind::Leaf: return ouro::make<Leaf>(id, fin);
            case Kind::BigLeaf: return ouro::make<BigLeaf>(id, fin);
        }
        return nullptr;
    }

    int add_root(ouro::Ref<Base> r) {
        int id = r->id;
        root_ids_.push_back(id);
        roots_.push_back(std::move(r));
        return id;
    }

    int new_root(Kind kind, Fin fin) { return add_root(create(kind, fin)); }

    // Appends an edge a -> b (both alive, a a node).
    void link(int a, int b) {
        if (!require_alive(a, "link source") || !require_alive(b, "link target")) return;
        ouro::Ref<Base> rb(info_[b].obj);
        node(a)->edges.push_back(std::move(rb));
        info_[a].edges.push_back(b);
    }

    int new_child(int parent, Kind kind, Fin fin) {
        ouro::Ref<Base> c = create(kind, fin);
        int id = c->id;
        if (!require_alive(parent, "parent")) return id;  // a collection during create() killed it: a bug
        node(parent)->edges.push_back(std::move(c));
        info_[parent].edges.push_back(id);
        return id;
    }

    // Removes edge i of a. The model is updated before the reference is dropped, so user code that
    // runs in the resulting cascade sees a consistent model.
    void unlink(int a, std::size_t i) {
        if (!require_alive(a, "unlink source")) return;
        auto& e = node(a)->edges;
        ouro::Ref<Base> t = std::move(e[i]);
        e.erase(e.begin() + static_cast<std::ptrdiff_t>(i));
        info_[a].edges.erase(info_[a].edges.begin() + static_cast<std::ptrdiff_t>(i));
        t.reset();
    }

    void replace(int a, std::size_t i, int b) {
        if (!require_alive(a, "replace source") || !require_alive(b, "replace target")) return;
        auto& e = node(a)->edges;
        ouro::Ref<Base> old = std::move(e[i]);
        e[i] = ouro::Ref<Base>(info_[b].obj);
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
        node(a)->edges.push_back(std::move(roots_[i]));
        info_[a].edges.push_back(id);
        roots_[i] = std::move(roots_.back());
        roots_.pop_back();
        root_ids_[i] = root_ids_.back();
        root_ids_.pop_back();
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
        // The unreachable set as the model sees it: tracked, not frozen, not reachable.
        mark_reachable(false);
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
            for (std::size_t k = saved_before; k < g.size(); ++k) saved[static_cast<Base*>(g[k].get())->id] = 1;
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
        check(gen == 2);
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
        if (!finalizing_.empty() || !dying_.empty()) violation("finalizing/dying stacks not empty between operations");
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
        for (int id : alive_list_)
            if (info_[id].watch_rec >= 0) apply(recs_[info_[id].watch_rec]);
    }

    // The full check. `exact`: a full collection has just completed, so nothing unreachable may be alive.
    void check(bool exact) {
        ++stats_.full_checks;
        if (exact) ++stats_.exact_checks;
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
            if (n->edges.size() != in.edges.size()) {
                violation("object " + std::to_string(id) + ": " + std::to_string(n->edges.size()) + " edges, model " +
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
                if (n->edges[k].get() != info_[t].obj)
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
                if (info_[id].mark != epoch_)
                    violation("object " + std::to_string(id) + " (" + kind_name(id) + ", finalizer " + fin_name(info_[id].fin) +
                              ") is unreachable but survived a full collection");
        }
        std::size_t frozen = 0;
        for (int id : alive_list_) frozen += info_[id].frozen;
        if (ouro::gc::get_freeze_count() != frozen)
            violation("get_freeze_count() " + std::to_string(ouro::gc::get_freeze_count()) + ", model " + std::to_string(frozen));
        if ((stats_.full_checks & 63) == 0) check_get_objects();
        check_weak();
        check_dict();
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
        for (int round = 0; round < 64 && (alive_count() != 0 || !roots_.empty()); ++round) {
            while (!roots_.empty()) drop_root(roots_.size() - 1);
            ouro::gc::collect(2);
            after_op();
        }
        if (alive_count() != 0) violation(std::to_string(alive_count()) + " objects still alive after the heap was emptied");
        for (std::size_t id = 0; id < info_.size(); ++id)
            if (info_[id].state == State::Dead && info_[id].fin_calls != 1)
                violation("object " + std::to_string(id) + " finalized " + std::to_string(info_[id].fin_calls) + " times");
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
        if (in.watch_rec >= 0) detach(in.watch_rec, static_cast<Node*>(b)->watch);
        in.watch_rec = -1;
        in.state = State::Dying;
        int pos = in.alive_pos;
        int last = alive_list_.back();
        alive_list_[pos] = last;
        info_[last].alive_pos = pos;
        alive_list_.pop_back();
        in.alive_pos = -1;
        dying_.push_back(b->id);
        if (dying_.size() + finalizing_.size() >= kDeep) deep_ = true;
        stats_.max_depth = std::max(stats_.max_depth, dying_.size());
    }

    // Drops a dying node's edges one at a time, keeping the model exact for user code that runs
    // in the cascade.
    void release_edges(Node* n) {
        auto& model_edges = info_[n->id].edges;
        while (!n->edges.empty()) {
            ouro::Ref<Base> t = std::move(n->edges.back());
            n->edges.pop_back();
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
                static_cast<Node*>(n.get())->edges.push_back(ouro::Ref<Base>(b));
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
        if (info_[r.target].state != State::Alive) violation(who() + ": callback after the referent was destroyed");
        bool in_gc = gc_depth_ > 0;
        if (!in_gc && info_[r.target].fin_calls != 1)
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
        if (what.rfind("model ", 0) != 0) violation("unexpected unraisable error: " + last_unraisable_);
    }

    // ----- reachability -----------------------------------------------------------------------------
    // Marks (with the current epoch) everything reachable from the roots, garbage(), live frozen
    // objects, and — during a collection started inside a death by count — the objects being
    // finalized or torn down right now (the collector sees their references as external).
    void mark_reachable(bool include_transient) {
        ++epoch_;
        std::vector<int> stack;
        for (int id : root_ids_) push_mark(id, stack);
        for (const auto& g : ouro::gc::garbage()) push_mark(static_cast<Base*>(g.get())->id, stack);
        for (int id : alive_list_)
            if (info_[id].frozen) push_mark(id, stack);
        if (include_transient) {
            for (int id : finalizing_) push_mark(id, stack);
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

    std::string kind_name(int id) const {
        static const char* const names[] = {"Node", "BigNode", "Leaf", "BigLeaf"};
        std::string s = names[static_cast<int>(info_[id].kind)];
        if (info_[id].frozen) s += ", frozen";
        return s;
    }

private:
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
inline Node::~Node() {
    if (!g_model) return;
    g_model->on_destroy(this);
    watch.reset();
    g_model->release_edges(this);
}
inline void Node::trace(ouro::Visitor& visit) {
    if (g_model) g_model->on_trace(this);
    visit(edges);
    visit(watch);
}
inline BigNode::BigNode(int i, Fin f) : Node(i, f) {
    std::memset(payload, payload_byte(i), kPayload);
}
inline BigNode::~BigNode() {
    if (g_model && !payload_ok()) g_model->violation("BigNode " + std::to_string(id) + ": payload overwritten at destruction");
}
inline bool BigNode::payload_ok() const noexcept {
    // Every byte equal to the first, and the first right.
    return payload[0] == payload_byte(id) && std::memcmp(payload, payload + 1, kPayload - 1) == 0;
}
inline Leaf::~Leaf() {
    if (g_model) g_model->on_destroy(this);
}
inline BigLeaf::BigLeaf(int i, Fin f) : Leaf(i, f) {
    std::memset(payload, payload_byte(i), kPayload);
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

// One random operation. Returns false once the model has seen a violation.
inline bool step(Model& m, Source& src, std::size_t op_index, const Options& opt = {}) {
    enum Op {
        AllocRoot, AllocChild, Link, Unlink, Replace, DropRoot, DropMany, Collect, Threshold, Toggle, Freeze, Unfreeze,
        WeakAdd, WeakDrop, Watch, SaveAll, ClearGarbage, Check, CbMode, Referents, AllocChain, MoveIn, DictPut, DictErase, DictIterate, kOps
    };
    static const char* const names[] = {"alloc-root", "alloc-child", "link",      "unlink",     "replace",
                                        "drop-root",  "drop-many",   "collect",   "threshold",  "toggle",
                                        "freeze",     "unfreeze",    "weak-add",  "weak-drop",  "watch",
                                        "saveall",    "clear-garbage", "check",   "cb-mode",    "referents",
                                        "alloc-chain", "move-in",    "dict-put",  "dict-erase", "dict-iterate"};
    unsigned weight[kOps] = {};
    // Waves: grow to max_alive, then shrink to a quarter of it, so big structures die together.
    if (m.alive_count() > opt.max_alive) m.shrinking = true;
    if (m.alive_count() < opt.max_alive / 4) m.shrinking = false;
    bool shrink = m.shrinking;
    bool few_roots = m.root_count() < 4;
    weight[AllocRoot] = few_roots ? 60 : shrink ? 2 : 8;
    weight[AllocChild] = shrink ? 3 : 22;
    weight[Link] = shrink ? 10 : 20;
    weight[Unlink] = shrink ? 12 : 5;
    weight[Replace] = 5;
    weight[DropRoot] = shrink ? 20 : 5;
    weight[DropMany] = shrink ? 2 : 0;
    weight[Collect] = shrink ? 8 : 3;
    weight[Threshold] = 1;
    weight[Toggle] = 1;
    weight[Freeze] = 1;  // and 3 in 4 of these draws become a check: rare
    weight[Unfreeze] = 2;
    weight[WeakAdd] = 5;
    weight[WeakDrop] = m.weak_count() > 60 ? 8 : 2;
    weight[Watch] = 5;
    weight[SaveAll] = 1;
    weight[ClearGarbage] = ouro::gc::garbage().empty() ? 0 : 3;
    weight[Check] = 1;
    weight[CbMode] = 1;
    weight[Referents] = 1;
    weight[AllocChain] = shrink ? 0 : 1;  // deep structures: their release goes through the trashcan
    weight[MoveIn] = 2;
    weight[DictPut] = 4;
    weight[DictErase] = m.dict_keys() > 0 ? (m.dict_keys() > 80 ? 8 : 1) : 0;
    weight[DictIterate] = 1;
    unsigned total = 0;
    for (unsigned w : weight) total += w;
    auto x = static_cast<unsigned>(src.below(total));
    int op = 0;
    while (x >= weight[op]) x -= weight[op++];
    // Freeze is rarer still: most draws of it become a check.
    if (op == Freeze && !src.percent(25)) op = Check;

    m.set_context(op_index, names[op]);
    std::size_t collections_before = m.stats().collections;
    m.count_op();
    Logged log{names[op], {0, 0, 0}, 0};
    switch (op) {
        case AllocRoot: {
            Kind k = draw_kind(src);
            Fin f = draw_fin(src);
            int id = m.new_root(k, f);
            log.set(id);
            break;
        }
        case AllocChild: {
            int a = m.pick(src, true);
            if (a < 0) break;
            Kind k = draw_kind(src);
            Fin f = draw_fin(src);
            int id = m.new_child(a, k, f);
            log.set(a, id);
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
    }
    m.log_op(log);
    m.after_op();
    bool auto_collected = m.stats().collections != collections_before;
    if (op == Check || op_index % opt.check_every == 0 || (opt.check_after_auto && auto_collected)) m.check(false);
    return !m.failed();
}

}  // namespace ouro_model
