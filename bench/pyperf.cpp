// The pyperformance collector benchmarks, ported shape for shape (peer: bench/python/pyperf.py):
//   gc_collect    100 rings of 21 nodes (next/prev), dropped, then one timed gc::collect()
//                 (verified: >= 2100 collected); repeated --loops times
//   gc_traversal  1001 lists, list k holds k references to list k-1 (499,500 references), all
//                 alive; one timed gc::collect() (verified: 0 collected); repeated --loops times,
//                 with one reference dropped before it (gc_traversal) and without
//                 (gc_traversal_unchanged, pyperformance's protocol)
//   btree_gc      a B-tree (minimum degree 16) of --n records (6 fields each; items are (key, record)
//                 pairs as in Python), keys inserted in shuffled order, the lowest 20% deleted and
//                 inserted again; one timed gc::collect() (verified: 0 collected, in-order keys
//                 0..n-1, sum of a field); build_s reported beside it
//
// Usage: pyperf_ouro --bench gc_collect|gc_traversal|btree_gc [--loops L] [--n N] [--reps R]
#include "common.hpp"

#include <ouro/ouro.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace {

// ---- gc_collect ------------------------------------------------------------------------------
struct RingNode : ouro::Object {
    ouro::Ref<RingNode> next, prev;
    void trace(ouro::Visitor& visit) override {
        visit(next);
        visit(prev);
    }
    void link_next(const ouro::Ref<RingNode>& n) {
        next = n;
        n->prev = ouro::Ref<RingNode>(this);
    }
};

void gc_collect(long loops) {
    const int cycles = 100, links = 20;
    for (long loop = 0; loop < loops; ++loop) {
        ouro::gc::collect();
        {
            std::vector<ouro::Ref<RingNode>> all;
            for (int c = 0; c < cycles; ++c) {
                auto node = ouro::make<RingNode>();
                all.push_back(node);
                auto current = node;
                for (int i = 0; i < links; ++i) {
                    auto nxt = ouro::make<RingNode>();
                    current->link_next(nxt);
                    current = nxt;
                }
                current->link_next(node);
            }
        }
        double t0 = bench::now();
        std::size_t found = ouro::gc::collect();
        double elapsed = bench::now() - t0;
        bool ok = bench::check(found >= static_cast<std::size_t>(cycles * (links + 1)), "gc_collect: collected");
        bench::emit("gc_collect", "ouro", "collect_s", elapsed, "s", loop, ok,
                    {{"collected", bench::jint(static_cast<long long>(found))}});
    }
}

// ---- gc_traversal ----------------------------------------------------------------------------
struct List : ouro::Object {
    std::vector<ouro::Ref<List>> items;
    void trace(ouro::Visitor& visit) override { visit(items); }
    std::size_t owned_bytes() const noexcept override { return items.capacity() * sizeof(items[0]); }
};

void gc_traversal(long loops) {
    const int levels = 1000;
    auto current = ouro::make<List>();
    for (int n = 0; n < levels; ++n) {
        auto next = ouro::make<List>();
        next->items.assign(static_cast<std::size_t>(n), current);
        current = std::move(next);
    }
    // Two protocols: pyperformance's (collect, then time a collect: nothing changed in between,
    // which ouroboros notices and skips: gc_traversal_unchanged), and the same after dropping
    // one reference that leaves its object alive, which forces the whole traversal (gc_traversal).
    for (int touched = 0; touched < 2; ++touched) {
        const char* name = touched ? "gc_traversal" : "gc_traversal_unchanged";
        for (long loop = 0; loop < loops; ++loop) {
            ouro::gc::collect();
            if (touched) {
                ouro::Ref<List> touch = current;
            }
            double t0 = bench::now();
            std::size_t found = ouro::gc::collect();
            double elapsed = bench::now() - t0;
            bool ok = bench::all(bench::check(found == 0, "gc_traversal: nothing collected"),
                                 bench::check(current->items.size() == levels - 1, "gc_traversal: structure"));
            bench::emit(name, "ouro", "collect_s", elapsed, "s", loop, ok,
                        {{"objects", bench::jint(levels + 1)}, {"references", bench::jint(levels * (levels - 1) / 2)}});
        }
    }
}

// ---- btree_gc --------------------------------------------------------------------------------
// A record with six fields, as pyperformance's: an int, a string, some bytes, a float, an interned
// short string and a tri-state. It holds no Ref, so it is not tracked (Python's Record is).
struct Record : ouro::Object {
    long a;
    std::string b;
    std::vector<unsigned char> c;
    double d;
    const std::string* e;
    signed char f;  // -1 = None, 0 = False, 1 = True
    Record(long a_, std::string b_, std::vector<unsigned char> c_, double d_, const std::string* e_, signed char f_)
        : a(a_), b(std::move(b_)), c(std::move(c_)), d(d_), e(e_), f(f_) {}
    std::size_t owned_bytes() const noexcept override { return b.capacity() + c.capacity(); }
};

// (key, record): a tracked pair, like Python's tuple.
struct Item : ouro::Object {
    long key;
    ouro::Ref<Record> value;
    Item(long k, ouro::Ref<Record> v) : key(k), value(std::move(v)) {}
    void trace(ouro::Visitor& visit) override { visit(value); }
};
using ItemRef = ouro::Ref<Item>;

struct BNode : ouro::Object {
    static constexpr std::size_t t = 16;  // minimum degree
    std::vector<ItemRef> items;
    std::vector<ouro::Ref<BNode>> nodes;  // empty for a leaf
    void trace(ouro::Visitor& visit) override {
        visit(items);
        visit(nodes);
    }
    bool leaf() const { return nodes.empty(); }
    bool full() const { return items.size() == 2 * t - 1; }
    std::size_t position(long key) const {
        std::size_t p = 0;
        while (p < items.size() && items[p]->key < key) ++p;
        return p;
    }
    void split_child(std::size_t p) {
        BNode& child = *nodes[p];
        auto bigger = ouro::make<BNode>();
        const std::size_t middle = t - 1;
        ItemRef median = child.items[middle];
        bigger->items.assign(child.items.begin() + middle + 1, child.items.end());
        child.items.resize(middle);
        if (!child.leaf()) {
            bigger->nodes.assign(child.nodes.begin() + middle + 1, child.nodes.end());
            child.nodes.resize(middle + 1);
        }
        items.insert(items.begin() + static_cast<long>(p), std::move(median));
        nodes.insert(nodes.begin() + static_cast<long>(p) + 1, std::move(bigger));
    }
    void insert(ItemRef item) {
        std::size_t p = position(item->key);
        if (p < items.size() && items[p]->key == item->key) {
            items[p] = std::move(item);
        } else if (leaf()) {
            items.insert(items.begin() + static_cast<long>(p), std::move(item));
        } else {
            if (nodes[p]->full()) {
                split_child(p);
                if (items[p]->key == item->key) {
                    items[p] = std::move(item);
                    return;
                }
                if (item->key > items[p]->key) ++p;
            }
            nodes[p]->insert(std::move(item));
        }
    }
    ItemRef max_item() const { return leaf() ? items.back() : nodes.back()->max_item(); }
    ItemRef min_item() const { return leaf() ? items.front() : nodes.front()->min_item(); }
    // CLRS 18.3: every node we descend into has at least t items first.
    void remove(long key) {
        std::size_t p = position(key);
        bool here = p < items.size() && items[p]->key == key;
        if (leaf()) {
            if (!here) throw std::logic_error("btree: missing key");
            items.erase(items.begin() + static_cast<long>(p));
            return;
        }
        if (here) {
            if (nodes[p]->items.size() >= t) {
                ItemRef pred = nodes[p]->max_item();
                nodes[p]->remove(pred->key);
                items[p] = std::move(pred);
            } else if (nodes[p + 1]->items.size() >= t) {
                ItemRef succ = nodes[p + 1]->min_item();
                nodes[p + 1]->remove(succ->key);
                items[p] = std::move(succ);
            } else {
                merge(p);
                nodes[p]->remove(key);
            }
        } else {
            if (nodes[p]->items.size() < t) p = grow_child(p);
            nodes[p]->remove(key);
        }
    }
    // Merges nodes[p], items[p] and nodes[p+1] into nodes[p].
    void merge(std::size_t p) {
        BNode& left = *nodes[p];
        ouro::Ref<BNode> right = nodes[p + 1];
        left.items.push_back(items[p]);
        left.items.insert(left.items.end(), right->items.begin(), right->items.end());
        left.nodes.insert(left.nodes.end(), right->nodes.begin(), right->nodes.end());
        items.erase(items.begin() + static_cast<long>(p));
        nodes.erase(nodes.begin() + static_cast<long>(p) + 1);
    }
    // Gives nodes[p] a t-th item, by rotation from a sibling or a merge; returns its new index.
    std::size_t grow_child(std::size_t p) {
        BNode& child = *nodes[p];
        if (p > 0 && nodes[p - 1]->items.size() >= t) {
            BNode& left = *nodes[p - 1];
            child.items.insert(child.items.begin(), items[p - 1]);
            items[p - 1] = left.items.back();
            left.items.pop_back();
            if (!left.leaf()) {
                child.nodes.insert(child.nodes.begin(), left.nodes.back());
                left.nodes.pop_back();
            }
            return p;
        }
        if (p + 1 < nodes.size() && nodes[p + 1]->items.size() >= t) {
            BNode& right = *nodes[p + 1];
            child.items.push_back(items[p]);
            items[p] = right.items.front();
            right.items.erase(right.items.begin());
            if (!right.leaf()) {
                child.nodes.push_back(right.nodes.front());
                right.nodes.erase(right.nodes.begin());
            }
            return p;
        }
        if (p + 1 < nodes.size()) {
            merge(p);
            return p;
        }
        merge(p - 1);
        return p - 1;
    }
    template <class F>
    void for_each(F& f) const {
        for (std::size_t i = 0; i < items.size(); ++i) {
            if (!leaf()) nodes[i]->for_each(f);
            f(*items[i]);
        }
        if (!leaf()) nodes.back()->for_each(f);
    }
    void count_nodes(long& n) const {
        ++n;
        for (auto& c : nodes) c->count_nodes(n);
    }
};

struct BTree {
    ouro::Ref<BNode> root = ouro::make<BNode>();
    void add(long key, ouro::Ref<Record> value) {
        if (root->full()) {
            auto node = ouro::make<BNode>();
            node->nodes.push_back(root);
            node->split_child(0);
            root = node;
        }
        root->insert(ouro::make<Item>(key, std::move(value)));
    }
    void remove(long key) {
        root->remove(key);
        if (root->items.empty() && !root->leaf()) {
            auto only = root->nodes[0];
            root = only;
        }
    }
};

void btree_gc(long n, long reps) {
    std::vector<std::string> interned;
    for (int i = 0; i <= 30; ++i) interned.push_back(std::to_string(i));
    bench::Rng rng(0);
    std::vector<ouro::Ref<Record>> records;
    records.reserve(static_cast<std::size_t>(n));
    double d_expected = 0;
    for (long id = 0; id < n; ++id) {
        std::vector<unsigned char> bytes(static_cast<std::size_t>(id % 100));
        for (auto& byte : bytes) byte = static_cast<unsigned char>(rng.next());
        double d = static_cast<double>(rng.next() >> 11) * 0x1.0p-53;
        d_expected += d;
        records.push_back(ouro::make<Record>(id, "node " + std::to_string(id), std::move(bytes), d,
                                             &interned[rng.below(31)], static_cast<signed char>(rng.below(3)) - 1));
    }
    for (long rep = 0; rep < reps; ++rep) {
        ouro::gc::collect();
        double t0 = bench::now();
        BTree tree;
        std::vector<long> ids(static_cast<std::size_t>(n));
        for (long i = 0; i < n; ++i) ids[static_cast<std::size_t>(i)] = i;
        bench::Rng shuffle_rng(1 + static_cast<std::uint64_t>(rep));
        bench::shuffle(ids, shuffle_rng);
        for (long id : ids) tree.add(id, records[static_cast<std::size_t>(id)]);
        long remake = n / 5;
        for (long id = 0; id < remake; ++id) tree.remove(id);
        for (long id = 0; id < remake; ++id) tree.add(id, records[static_cast<std::size_t>(id)]);
        double build = bench::now() - t0;
        t0 = bench::now();
        std::size_t found = ouro::gc::collect();
        double elapsed = bench::now() - t0;
        long next_key = 0;
        double d_total = 0;
        bool in_order = true;
        auto visit = [&](const Item& item) {
            in_order &= item.key == next_key++;
            d_total += item.value->d;
        };
        tree.root->for_each(visit);
        long bnodes = 0;
        tree.root->count_nodes(bnodes);
        bool ok = bench::all(bench::check(found == 0, "btree_gc: nothing collected"),
                  bench::check(in_order && next_key == n, "btree_gc: keys in order"),
                  bench::check(std::fabs(d_total - d_expected) < 1e-6 * static_cast<double>(n), "btree_gc: sum"));
        bench::emit("btree_gc", "ouro", "collect_s", elapsed, "s", rep, ok,
                    {{"records", bench::jint(n)}, {"bnodes", bench::jint(bnodes)}, {"build_s", bench::jnum(build)},
                     {"tracked", bench::jint(static_cast<long long>(ouro::gc::get_objects().size()))}});
        bench::emit("btree_build", "ouro", "time_s", build, "s", rep, ok);
    }
}

}  // namespace

int main(int argc, char** argv) {
    bench::Args args(argc, argv);
    std::string which = args.str("--bench", "gc_collect");
    long loops = args.num("--loops", 50);
    if (which == "gc_collect") gc_collect(loops);
    else if (which == "gc_traversal") gc_traversal(loops);
    else if (which == "btree_gc") btree_gc(args.num("--n", 200000), args.num("--reps", 3));
    else {
        std::fprintf(stderr, "unknown benchmark %s\n", which.c_str());
        return 2;
    }
    return bench::g_failures ? 1 : 0;
}
