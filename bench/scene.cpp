// A scene tree under edits (peer: bench/python/scene.py), built once per implementation:
//   BENCH_IMPL_OURO    ouro::make / ouro::Ref children, the parent link chosen by --parent:
//                        ref   Ref<Node>: every parent<->child pair is a cycle, so a detached
//                              subtree is garbage that only the cycle collector frees
//                        weak  WeakRef<Node>: a detached subtree dies by its counts at once
//   BENCH_IMPL_SHARED  std::make_shared / std::shared_ptr children, std::weak_ptr parent (a
//                      shared_ptr parent would leak every detached subtree); --parent is ignored
//                      and the figures are reported as scene_weak, the peer of both ouro modes
//
// Each node has an id, a position, its children and a parent link; the scene keeps an index
// id -> node that holds its nodes weakly (ouro::WeakValueDictionary / an unordered_map of
// weak_ptr whose expired entries are erased when looked up and swept when the map has grown to
// twice the scene / weakref.WeakValueDictionary), the way a program finds nodes by name.
//
// Workload (deterministic: the same xorshift stream and the same decisions in every
// implementation): build a random tree of --nodes N (each node under a uniformly random earlier
// one), then --rounds times:
//   (a) detach random subtrees (a random id looked up in the index; skipped when dead, the root,
//       already detached, or bigger than what is left of the round's budget) until 0.5% of the
//       nodes have gone; every other one also has its parent link reset, the rest keep a stale
//       one, as programs do both. Without the size limit a pick near the root takes a tenth of
//       the scene now and then, and rounds detached 3.4x the budget on average;
//   (b) move 0.5% of N random subtrees under random new parents (skipped when the new parent is
//       dead, detached, or inside the moved subtree and, with the default --moves shallow, deeper
//       than the old parent). Unrestricted moves (--moves any) stack subtrees into chains: the
//       mean depth passed 160 by round 100 at N = 1M, and the walks up the parent links then
//       cost more than everything the benchmark is meant to measure;
//   (c) refill: new nodes under random live parents until the scene is back to N.
//
// "Detached" is decided by walking up the parent links and checking that each node is among its
// parent's children: the index alone cannot tell, because with --parent ref a detached subtree
// stays alive (and in the index) until the collector finds it, and its top node may keep a
// stale link into the tree. That walk keeps the decisions identical whatever the collector has
// or has not freed yet, so the refill counts the scene's nodes (what (a) removed and (c) added),
// not the live objects; the constructor/destructor counter measures the garbage still alive
// ("zombies") at the end of each round instead.
//
// Verified: a walk from the root finds N nodes, each child's parent link names its parent, and
// (after a full collection with --parent ref) exactly N nodes are alive.
//
// Usage: scene_<impl> [--nodes 1000000] [--rounds 200] [--parent ref|weak] [--moves shallow|any]
//                     [--no-gc (ouro only)]
#include "common.hpp"

#include <algorithm>
#include <array>
#include <memory>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <vector>

#if defined(BENCH_IMPL_OURO)
#  include <ouro/weak_value_dictionary.hpp>
#  include <ouro/weakref.hpp>
#endif

namespace {

long g_live = 0;  // nodes constructed and not yet destroyed

#if defined(BENCH_IMPL_OURO)
template <bool kStrongParent>
struct Node : ouro::Object {
    int id;
    float pos[3];
    std::vector<ouro::Ref<Node>> children;
    std::conditional_t<kStrongParent, ouro::Ref<Node>, ouro::WeakRef<Node>> parent;

    explicit Node(int i) : id(i), pos{static_cast<float>(i), 0.5f * static_cast<float>(i), 1.0f} { ++g_live; }
    ~Node() override { --g_live; }
    void trace(ouro::Visitor& visit) override {
        visit(children);
        visit(parent);
    }
};

template <bool kStrongParent>
struct Impl {
    using N = Node<kStrongParent>;
    using Ptr = ouro::Ref<N>;
    static Ptr make(int id) { return ouro::make<N>(id); }
    static Ptr parent_of(const N& n) {
        if constexpr (kStrongParent) return n.parent;
        else return n.parent();
    }
    static void set_parent(N& n, const Ptr& p) {
        if constexpr (kStrongParent) n.parent = p;
        else n.parent = ouro::WeakRef<N>(p);
    }
    static void clear_parent(N& n) { n.parent.reset(); }

    class Index {
    public:
        void put(int id, const Ptr& n) { map_.insert_or_assign(id, n); }
        Ptr get(int id) { return map_.get(id); }
        std::size_t size() const { return map_.size(); }

    private:
        ouro::WeakValueDictionary<int, N> map_;
    };
};
#else
struct Node {
    int id;
    float pos[3];
    std::vector<std::shared_ptr<Node>> children;
    std::weak_ptr<Node> parent;

    explicit Node(int i) : id(i), pos{static_cast<float>(i), 0.5f * static_cast<float>(i), 1.0f} { ++g_live; }
    ~Node() { --g_live; }
};

struct Impl {
    using N = Node;
    using Ptr = std::shared_ptr<Node>;
    static Ptr make(int id) { return std::make_shared<Node>(id); }
    static Ptr parent_of(const N& n) { return n.parent.lock(); }
    static void set_parent(N& n, const Ptr& p) { n.parent = p; }
    static void clear_parent(N& n) { n.parent.reset(); }

    // Nothing tells the map that a node died: an expired entry goes when a lookup finds it, and
    // the rest in a sweep once the map has grown to twice the scene (an amortised O(1) per node).
    // Until then each entry's weak_ptr also keeps its node's make_shared block allocated.
    class Index {
    public:
        explicit Index(std::size_t scene) : sweep_at_(2 * scene) {}
        void put(int id, const Ptr& n) {
            map_.insert_or_assign(id, n);
            if (map_.size() > sweep_at_) std::erase_if(map_, [](const auto& kv) { return kv.second.expired(); });
        }
        Ptr get(int id) {
            auto it = map_.find(id);
            if (it == map_.end()) return nullptr;
            Ptr n = it->second.lock();
            if (!n) map_.erase(it);
            return n;
        }
        std::size_t size() const { return map_.size(); }

    private:
        std::unordered_map<int, std::weak_ptr<Node>> map_;
        std::size_t sweep_at_;
    };
};
#endif

struct Result {
    double build_s = 0, rounds_s = 0;
    double bytes_per_node = 0;
    long detached = 0, moved = 0, created = 0, max_zombies = 0;
    long final_nodes = 0;
    bool links_ok = true;
    std::uint64_t tree_checksum = 0;
    long live_after = 0;  // the constructor/destructor counter after the final check
#if defined(BENCH_IMPL_OURO)
    std::array<ouro::gc::GenerationStats, 3> gc{};  // the collections of the timed part
#endif
};

template <class I>
class Scene {
    using N = typename I::N;
    using Ptr = typename I::Ptr;

public:
    Scene(long n, bool shallow_moves, bench::Rng& rng)
        : n_(n), shallow_(shallow_moves), rng_(rng)
#if defined(BENCH_IMPL_SHARED)
          , index_(static_cast<std::size_t>(n))
#endif
    {
    }

    void build() {
        root_ = I::make(0);
        index_.put(0, root_);
        next_id_ = 1;
        // Every id drawn here is alive and attached: nothing has been detached yet.
        while (next_id_ < n_) add_child(index_.get(draw_id()));
        size_ = n_;
    }

    // (a) Detach random subtrees until `budget` nodes have left the scene.
    long detach(long budget, long& detached_subtrees) {
        long gone = 0;
        for (long attempt = 0; gone < budget && attempt < 100 * budget; ++attempt) {
            Ptr n = index_.get(draw_id());
            if (!n || n == root_ || depth(n, nullptr) < 0) continue;
            long size = subtree_size(*n, budget - gone);
            if (size > budget - gone) continue;
            gone += size;
            remove_from_parent(n);
            if (detached_subtrees++ % 2 == 0) I::clear_parent(*n);
            // With a weak parent link `n` dies here; with a strong one its subtree is a cycle.
        }
        size_ -= gone;
        return gone;
    }

    // (b) Move `count` random subtrees under random new parents.
    long move(long count) {
        long moved = 0;
        for (long attempt = 0; moved < count && attempt < 100 * count; ++attempt) {
            // Both ids are drawn before anything is checked, so every implementation draws alike.
            int id = draw_id(), to = draw_id();
            Ptr n = index_.get(id);
            Ptr p = index_.get(to);
            if (!n || !p || n == root_) continue;
            int from = depth(n, nullptr) - 1, onto = depth(p, n.get());
            if (from < 0 || onto < 0 || (shallow_ && onto > from)) continue;
            remove_from_parent(n);
            p->children.push_back(n);
            I::set_parent(*n, p);
            ++moved;
        }
        return moved;
    }

    // (c) New nodes under random live parents until the scene is back to N.
    long refill() {
        long created = 0;
        while (size_ < n_) {
            Ptr p = index_.get(draw_id());
            if (!p || depth(p, nullptr) < 0) continue;
            add_child(p);
            ++size_;
            ++created;
        }
        return created;
    }

    long size() const { return size_; }
    void drop() { root_ = nullptr; }

    // Counts the nodes reachable from the root and checks every child's parent link. The
    // checksum (the sum of id * (depth + 1), independent of the order of children) is the same
    // in every implementation when they made the same decisions.
    long verify(bool& links_ok, std::uint64_t& checksum) const {
        long count = 0;
        std::vector<std::pair<N*, std::uint64_t>> stack{{root_.get(), 0}};
        while (!stack.empty()) {
            auto [n, depth] = stack.back();
            stack.pop_back();
            ++count;
            checksum += static_cast<std::uint64_t>(n->id) * (depth + 1);
            for (auto& c : n->children) {
                if (I::parent_of(*c).get() != n) links_ok = false;
                stack.push_back({c.get(), depth + 1});
            }
        }
        return count;
    }

private:
    int draw_id() { return static_cast<int>(rng_.below(static_cast<std::uint64_t>(next_id_))); }

    // Create-then-link, as the README's example does.
    void add_child(const Ptr& parent) {
        Ptr n = I::make(next_id_);
        parent->children.push_back(n);
        I::set_parent(*n, parent);
        index_.put(next_id_, n);
        ++next_id_;
    }

    // n's depth when the parent links lead from it up to the root and each node on the way is
    // among its parent's children (and `avoid`, when given, is not on the way: n is not inside
    // it); -1 otherwise (n is detached).
    int depth(Ptr n, const N* avoid) const {
        int steps = 0;
        while (n != root_) {
            if (n.get() == avoid) return -1;
            Ptr p = I::parent_of(*n);
            if (!p || std::find(p->children.begin(), p->children.end(), n) == p->children.end()) return -1;
            n = std::move(p);
            ++steps;
        }
        return steps;  // the root is never moved, so it is never `avoid`
    }

    // The subtree's node count, or limit + 1 once it is known to be bigger than limit.
    static long subtree_size(N& top, long limit) {
        long count = 0;
        std::vector<N*> stack{&top};
        while (!stack.empty() && count <= limit) {
            N* n = stack.back();
            stack.pop_back();
            ++count;
            for (auto& c : n->children) stack.push_back(c.get());
        }
        return count;
    }

    // Swap with the last child and pop: the order of children does not matter here.
    static void remove_from_parent(const Ptr& n) {
        Ptr p = I::parent_of(*n);
        auto& kids = p->children;
        auto it = std::find(kids.begin(), kids.end(), n);
        *it = std::move(kids.back());
        kids.pop_back();
    }

    long n_;
    bool shallow_;
    bench::Rng& rng_;
    typename I::Index index_;
    Ptr root_;
    int next_id_ = 0;
    long size_ = 0;  // nodes in the scene (reachable from the root)
};

template <class I>
Result run(long n, long rounds, bool shallow_moves, bool strong_parent) {
    Result r;
    bench::Rng rng(42);
    Scene<I> scene(n, shallow_moves, rng);
    const long budget = std::max(1L, n / 200);  // 0.5% of the scene per round, for (a) and (b)

    std::size_t rss0 = bench::rss_bytes();
    double t0 = bench::now();
    scene.build();
    double t1 = bench::now();
    r.bytes_per_node = static_cast<double>(bench::rss_bytes() - rss0) / static_cast<double>(n);
    r.build_s = t1 - t0;

    long subtrees = 0;
    for (long round = 0; round < rounds; ++round) {
        r.detached += scene.detach(budget, subtrees);
        r.moved += scene.move(budget);
        r.created += scene.refill();
        r.max_zombies = std::max(r.max_zombies, g_live - scene.size());
    }
    r.rounds_s = bench::now() - t1;
#if defined(BENCH_IMPL_OURO)
    r.gc = ouro::gc::get_stats();  // before the final check's collection, which is not timed
#endif

    r.final_nodes = scene.verify(r.links_ok, r.tree_checksum);
#if defined(BENCH_IMPL_OURO)
    // Only garbage is left beyond the scene: with a strong parent link, the collector's to free.
    if (strong_parent) ouro::gc::collect();
#else
    (void)strong_parent;
#endif
    r.live_after = g_live;
    scene.drop();
    return r;
}

}  // namespace

int main(int argc, char** argv) {
    bench::Args args(argc, argv);
    const long n = std::max(2L, args.num("--nodes", 1000000));
    const long rounds = std::max(0L, args.num("--rounds", 200));
    const std::string moves = args.str("--moves", "shallow");
    if (moves != "shallow" && moves != "any") {
        std::fprintf(stderr, "--moves must be shallow or any\n");
        return 2;
    }
    const bool shallow = moves == "shallow";
    std::string impl = bench::kImpl;
#if defined(BENCH_IMPL_OURO)
    const std::string parent = args.str("--parent", "ref");
    if (parent != "ref" && parent != "weak") {
        std::fprintf(stderr, "--parent must be ref or weak\n");
        return 2;
    }
    const bool strong = parent == "ref";
    // Diagnostic only: --no-gc disables automatic collection to show what the collector costs.
    if (args.flag("--no-gc")) {
        ouro::gc::disable();
        impl += " (gc disabled)";
    }
    Result r = strong ? run<Impl<true>>(n, rounds, shallow, true) : run<Impl<false>>(n, rounds, shallow, false);
#else
    const std::string parent = "weak";
    const bool strong = false;
    Result r = run<Impl>(n, rounds, shallow, strong);
#endif

    bool ok = bench::all(bench::check(r.final_nodes == n, "scene: nodes reachable from the root"),
                         bench::check(r.links_ok, "scene: every child's parent link names its parent"),
                         bench::check(r.live_after == n, "scene: live nodes after the final check"));
    const double peak_mb = static_cast<double>(bench::peak_rss_bytes()) / 1e6;
    const std::string bench_name = "scene_" + parent + (shallow ? "" : "_anymoves");
    bench::Extra extra{{"nodes", bench::jint(n)},
                       {"rounds", bench::jint(rounds)},
                       {"moves", bench::jstr(moves)},
                       {"build_s", bench::jnum(r.build_s)},
                       {"rounds_s", bench::jnum(r.rounds_s)},
                       {"peak_rss_MB", bench::jnum(peak_mb)},
                       {"bytes_per_node", bench::jnum(r.bytes_per_node)},
                       {"detached", bench::jint(r.detached)},
                       {"moved", bench::jint(r.moved)},
                       {"created", bench::jint(r.created)},
                       {"max_zombies", bench::jint(r.max_zombies)},
                       {"tree_checksum", std::to_string(r.tree_checksum)}};
#if defined(BENCH_IMPL_OURO)
    const auto& stats = r.gc;
    double pause = 0;
    std::string collections = "[", pauses = "[";
    for (int g = 0; g < 3; ++g) {
        pause += stats[g].pause_seconds;
        collections += (g ? ", " : "") + bench::jint(static_cast<long long>(stats[g].collections));
        pauses += (g ? ", " : "") + bench::jnum(stats[g].pause_seconds);
    }
    extra.push_back({"collections", collections + "]"});
    extra.push_back({"gc_pause_by_generation_s", pauses + "]"});
    extra.push_back({"gc_pause_s", bench::jnum(pause)});
#endif
    bench::emit(bench_name, impl, "time_s", r.build_s + r.rounds_s, "s", 0, ok, extra);
    bench::emit(bench_name, impl, "peak_rss_MB", peak_mb, "MB", 0, ok);
    bench::emit(bench_name, impl, "bytes_per_node", r.bytes_per_node, "B", 0, ok);
    return bench::g_failures ? 1 : 0;
}
