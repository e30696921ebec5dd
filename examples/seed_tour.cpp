// The seed tour: every example of the seed article on Python's memory model
// (shared/reference/seed-python-memory-model.txt), done with ouroboros. Each step prints what it
// does, the Python it mirrors, and the numbers it observed.
#include <ouro/ouro.hpp>
#include <ouro/weak_value_dictionary.hpp>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <string>
#include <vector>

namespace {

int g_step = 0;
void step(const char* title, const char* python) {
    std::printf("\n[%d] %s\n    python: %s\n", ++g_step, title, python);
}
__attribute__((format(printf, 1, 2))) void say(const char* fmt, ...) {
    std::va_list args;
    va_start(args, fmt);
    std::printf("    ");
    std::vprintf(fmt, args);
    std::printf("\n");
    va_end(args);
}

bool g_quiet = false;  // the deep-size step frees a thousand nodes without a line each

// The seed's Node: a value and a reference to the next node. trace() declares the edge.
struct Node : ouro::Object {
    int value;
    ouro::Ref<Node> next;
    explicit Node(int v) : value(v) {}
    ~Node() override {
        if (!g_quiet) say("~Node(%d): freed", value);
    }
    void trace(ouro::Visitor& visit) override { visit(next); }
};

// A node that only counts its deaths, for the bulk steps.
int g_leaves_freed = 0;
struct Leaf : ouro::Object {
    ouro::Ref<Leaf> other;
    ~Leaf() override { ++g_leaves_freed; }
    void trace(ouro::Visitor& visit) override { visit(other); }
};

// Python's list of ints versus array.array('i'): a list holds a reference per item (each item a
// separate object), an array holds the raw values.
struct Int : ouro::Object {
    long value;
    explicit Int(long v) : value(v) {}
};

// A file-like resource (io.IOBase's protocol): close() releases it once; one that dies open is
// closed by its finalizer with a ResourceWarning.
struct File : ouro::Resource {
    std::string name;
    explicit File(std::string n) : name(std::move(n)) { say("open(%s)", name.c_str()); }
    std::string read() const { return "the contents of " + name; }
    void do_close() override { say("close(%s)", name.c_str()); }
};

// The seed's MyClass twice: attributes in a per-instance dictionary (an ordinary Python class),
// and in fixed members (__slots__ = ['name', 'value']).
struct MyDictClass : ouro::DynObject {
    MyDictClass(std::string_view name, long value) {
        setattr("name", name);
        setattr("value", value);
    }
};
struct MySlotsClass : ouro::Object {
    std::string name;
    long value;
    MySlotsClass(std::string_view n, long v) : name(n), value(v) {}
};

// def count_up_to(n): for i in range(n): yield i
ouro::Generator<long> count_up_to(long n) {
    for (long i = 0; i < n; ++i) co_yield i;
}

struct MyClass : ouro::Object {};
struct CachedObject : ouro::Object {
    ~CachedObject() override { say("~CachedObject: freed"); }
};

// A finalizer (__del__) that resurrects its object once (PEP 442).
ouro::Ref<ouro::Object> g_lazarus;
struct Phoenix : ouro::Object {
    ouro::Ref<Phoenix> self_cycle;
    void trace(ouro::Visitor& visit) override { visit(self_cycle); }
    void finalize() override {
        say("Phoenix.finalize(): storing a reference to itself in a global");
        g_lazarus = ouro::Ref<Phoenix>(this);
    }
    ~Phoenix() override { say("~Phoenix: freed at last"); }
};

}  // namespace

// tracemalloc: where the memory came from. The top lines by size, then a snapshot diff after a
// leak (a cache that is never emptied). Self-contained: the step's types and helpers are its own.
namespace tracemalloc_step {
struct Record : ouro::Object {
    char payload[112];  // a 128-byte block
};
std::vector<ouro::Ref<Record>> g_leaky_cache;
void load_records(std::vector<ouro::Ref<Record>>& out, int n) {
    for (int i = 0; i < n; ++i) out.push_back(ouro::make<Record>());
}
void handle_request() {
    g_leaky_cache.push_back(ouro::make<Record>());  // never removed: the leak
    auto scratch = ouro::make<Record>();            // freed at return: no leak
}
void run() {
    step("tracemalloc: which lines allocated what, and a snapshot diff after a leak",
         "tracemalloc.start(); snapshot.statistics('lineno')[:3]; snapshot2.compare_to(snapshot1, 'lineno')");
    namespace tm = ouro::tracemalloc;
    tm::start();
    std::vector<ouro::Ref<Record>> records;
    load_records(records, 500);
    std::vector<ouro::Ref<Leaf>> leaves;
    for (int i = 0; i < 300; ++i) leaves.push_back(ouro::make<Leaf>());
    const tm::Snapshot before = tm::take_snapshot();
    say("top 3 lines by size:");
    const auto top = before.filter_traces({tm::DomainFilter(true, tm::DOMAIN_OBJECTS)}).statistics("lineno");
    for (std::size_t i = 0; i < top.size() && i < 3; ++i) say("  %s", top[i].str().c_str());
    for (int i = 0; i < 200; ++i) handle_request();
    const auto diff = tm::take_snapshot().compare_to(before, "lineno");
    say("after 200 requests, the biggest growth:");
    for (std::size_t i = 0; i < diff.size() && i < 3; ++i) say("  %s", diff[i].str().c_str());
    const auto mem = tm::get_traced_memory();
    say("traced: %zu bytes now, %zu at the peak; the tracer's own memory: %zu bytes", mem.current, mem.peak,
        tm::get_tracemalloc_memory());
    tm::stop();
    g_leaky_cache.clear();
}
}  // namespace tracemalloc_step

int main() {
    std::printf("ouroboros seed tour: Python's memory model, in C++\n");

    step("Reference counting: an object dies the moment its last reference goes",
         "x = Node(0); y = x; del x; del y");
    {
        auto x = ouro::make<Node>(0);
        say("make<Node>(0): sys::getrefcount = %zu", ouro::sys::getrefcount(*x));
        auto y = x;
        say("y = x:          sys::getrefcount = %zu", ouro::sys::getrefcount(*x));
        x = nullptr;
        say("x = nullptr:    sys::getrefcount = %zu (still alive through y)", ouro::sys::getrefcount(*y));
        say("y = nullptr:");
        y = nullptr;
    }

    step("A circular reference: counts never reach zero on their own",
         "node1.next = node2; node2.next = node1  # Circular reference");
    {
        auto node1 = ouro::make<Node>(1);
        auto node2 = ouro::make<Node>(2);
        node1->next = node2;
        node2->next = node1;
        node1 = nullptr;
        node2 = nullptr;
        say("dropped both names: nothing freed, %zu tracked objects remain", ouro::gc::get_objects().size());
    }

    step("The cycle collector finds them", "import gc; gc.collect()");
    {
        std::size_t found = ouro::gc::collect();
        say("gc::collect() returned %zu (unreachable objects found and freed)", found);
        say("gc::is_tracked: a Node (has references) is tracked, an Int (none) is not: %d %d",
            ouro::gc::is_tracked(*ouro::make<Node>(-1)), ouro::gc::is_tracked(*ouro::make<Int>(7)));
    }

    step("Generations and thresholds", "gc.set_threshold(700, 10, 10)  # the seed says gc.set_stats");
    {
        ouro::gc::set_threshold(700, 10, 10);
        auto t = ouro::gc::get_threshold();
        say("get_threshold() = (%zu, %zu, %zu)", t[0], t[1], t[2]);
        auto before = ouro::gc::get_stats();
        g_leaves_freed = 0;
        std::vector<ouro::Ref<Leaf>> survivors;
        for (int i = 0; i < 100000; ++i) {
            auto a = ouro::make<Leaf>();
            auto b = ouro::make<Leaf>();
            a->other = b;
            b->other = a;  // a garbage cycle each iteration
            if (i % 100 == 0) survivors.push_back(a);
        }
        auto after = ouro::gc::get_stats();
        say("100,000 garbage cycles allocated: %zu automatic collections of generation 0, %zu of 1, %zu of 2",
            after[0].collections - before[0].collections, after[1].collections - before[1].collections,
            after[2].collections - before[2].collections);
        say("%d leaves freed by them; the 1,000 kept cycles (2,000 objects) were promoted as they survived:",
            g_leaves_freed);
        say("objects in generations 0 / 1 / 2: %zu / %zu / %zu (the newest garbage waits for the next collection)",
            ouro::gc::get_objects(0).size(), ouro::gc::get_objects(1).size(),
            ouro::gc::get_objects(2).size());
        auto c = ouro::gc::get_count();
        say("get_count() = (%zu, %zu, %zu)", c[0], c[1], c[2]);
    }

    step("Disabling the collector around a critical section", "gc.disable(); ...; gc.enable()");
    {
        ouro::gc::disable();
        auto before = ouro::gc::get_stats()[0].collections;
        for (int i = 0; i < 50000; ++i) {
            auto a = ouro::make<Leaf>();
            a->other = a;
        }
        say("gc::isenabled() = %d; 50,000 self-cycles allocated, automatic collections: %zu",
            ouro::gc::isenabled(), ouro::gc::get_stats()[0].collections - before);
        ouro::gc::enable();
        say("gc::enable(); gc::collect() freed %zu", ouro::gc::collect());
    }

    step("Looking at what was unreachable", "gc.set_debug(gc.DEBUG_SAVEALL); gc.collect(); print(gc.garbage)");
    {
        ouro::gc::set_debug(ouro::gc::DEBUG_SAVEALL);
        {
            auto a = ouro::make<Node>(10);
            a->next = ouro::make<Node>(11);
            a->next->next = a;
        }
        std::size_t found = ouro::gc::collect();
        say("collect() found %zu; gc::garbage() holds %zu objects instead of freeing them:", found,
            ouro::gc::garbage().size());
        for (auto& obj : ouro::gc::garbage())
            if (auto n = ouro::ref_cast<Node>(obj)) say("  Node(%d)", n->value);
        ouro::gc::set_debug(0);
        for (auto& obj : ouro::gc::garbage())
            if (auto n = ouro::ref_cast<Node>(obj)) n->next = nullptr;  // break the cycle by hand
        say("breaking the cycle by hand and clearing garbage():");
        ouro::gc::garbage().clear();
    }

    step("Context managers release resources deterministically", "with closing(open('file.txt')) as f: data = f.read()");
    {
        {
            auto f = ouro::closing(ouro::make<File>("file.txt"));
            say("read: %s", f->read().c_str());
            say("leaving the scope:");
        }
        say("without closing(): a File that dies open is closed by its finalizer, which reports it:");
        auto previous = ouro::set_unraisable_hook([](std::exception_ptr e, std::string_view) {
            try {
                std::rethrow_exception(e);
            } catch (const ouro::ResourceWarning& w) {
                say("unraisable hook: %s", w.what());
            } catch (...) {
            }
        });
        ouro::make<File>("forgotten.txt");
        ouro::set_unraisable_hook(std::move(previous));
        ouro::ExitStack stack;  // contextlib.ExitStack: exits run last-in first-out
        stack.enter_context(ouro::closing(ouro::make<File>("a.txt")));
        stack.enter_context(ouro::closing(ouro::make<File>("b.txt")));
        say("ExitStack with a.txt, then b.txt; closing it:");
        stack.close();
    }

    step("Weak references do not keep objects alive",
         "obj = MyClass(); weak_obj = weakref.ref(obj); print(weak_obj())");
    {
        auto obj = ouro::make<MyClass>();
        bool called = false;
        ouro::WeakRef<MyClass> weak_obj(obj, [&](const ouro::WeakRef<MyClass>&) { called = true; });
        std::size_t strong = ouro::sys::getrefcount(*obj);
        bool same = weak_obj() == obj;
        say("weak_obj() is the object: %d; getweakrefcount = %zu; getrefcount = %zu (the weak one adds none)", same,
            ouro::getweakrefcount(*obj), strong);
        obj = nullptr;
        say("del obj: weak_obj() is now null: %d; its callback ran: %d", !weak_obj(), called);
    }

    step("A cache that lets go of what nobody else uses",
         "cache = weakref.WeakValueDictionary(); cache['obj'] = obj; del obj; cache.get('obj')");
    {
        ouro::WeakValueDictionary<std::string, CachedObject> cache;
        auto obj = ouro::make<CachedObject>();
        cache.insert_or_assign("obj", obj);
        bool cached = cache.get("obj") == obj;
        say("cache.get(\"obj\") is the object: %d; len(cache) = %zu", cached, cache.size());
        say("del obj:");
        obj = nullptr;
        say("cache.get(\"obj\") is null: %d; len(cache) = %zu", !cache.get("obj"), cache.size());
    }

    step("weakref.finalize: a callback when an object dies", "weakref.finalize(obj, print, 'gone')");
    {
        auto obj = ouro::make<Node>(99);
        obj->next = obj;  // in a cycle: it dies in a collection
        auto f = ouro::finalize(obj, [] { say("finalize callback: gone"); });
        obj = nullptr;
        say("alive before the collection: %d", f.alive());
        std::size_t found = ouro::gc::collect();
        say("collect() = %zu; alive after: %d", found, f.alive());
    }

    step("Finalizers may resurrect, once (PEP 442)", "def __del__(self): global lazarus; lazarus = self");
    {
        {
            auto p = ouro::make<Phoenix>();
            p->self_cycle = p;
        }
        std::size_t found = ouro::gc::collect();
        say("collect() = %zu: the phoenix resurrected itself, is_finalized = %d", found,
            ouro::gc::is_finalized(*g_lazarus));
        ouro::ref_cast<Phoenix>(g_lazarus)->self_cycle = nullptr;
        say("dropping the global: the finalizer does not run again");
        g_lazarus = nullptr;
    }

    step("sys.getsizeof: a list of ints versus array.array('i'), and numpy's nbytes",
         "sys.getsizeof([1, 2, 3, 4]); sys.getsizeof(array.array('i', [1, 2, 3, 4])); np.array([1, 2, 3, 4]).nbytes");
    {
        auto list = ouro::make<ouro::List<Int>>();
        for (long v : {1, 2, 3, 4}) list->append(ouro::make<Int>(v));
        auto array = ouro::make<ouro::Array<int>>(std::initializer_list<int>{1, 2, 3, 4});
        std::size_t items = 0;
        for (auto& i : *list) items += ouro::sys::getsizeof(*i);
        say("getsizeof(list) = %zu bytes (capacity %zu, as CPython's), plus %zu for its four Int objects",
            ouro::sys::getsizeof(*list), list->capacity(), items);
        say("getsizeof(array) = %zu bytes: the values inline, no object per item; nbytes = %zu",
            ouro::sys::getsizeof(*array), array->nbytes());
        say("CPython 3.11 on this machine: 88 bytes for the list + 112 for its ints; 96 for the array; nbytes 32 (int64)");
        std::size_t before = ouro::sys::getsizeof(*list);
        for (long v = 5; v <= 9; ++v) list->append(ouro::make<Int>(v));
        say("after five more appends: capacity %zu, getsizeof %zu (+%zu): the growth steps of list_resize",
            list->capacity(), ouro::sys::getsizeof(*list), ouro::sys::getsizeof(*list) - before);
    }

    step("deque: fast appends and pops at both ends", "my_deque = deque(); my_deque.append(1); my_deque.append(2); my_deque.appendleft(0)");
    {
        auto my_deque = ouro::make<ouro::Deque<int>>();
        my_deque->append(1);
        my_deque->append(2);
        my_deque->appendleft(0);
        say("deque = [%d, %d, %d]", (*my_deque)[0], (*my_deque)[1], (*my_deque)[2]);
        const int left = my_deque->popleft();
        const int right = my_deque->pop();
        say("popleft() = %d, pop() = %d; %zu left", left, right, my_deque->size());
        auto window = ouro::Deque<int>(std::initializer_list<int>{}, 3);  // deque(maxlen=3)
        for (int i = 0; i < 10; ++i) window.append(i);
        say("deque(maxlen=3) after appending 0..9: [%d, %d, %d]", window[0], window[1], window[2]);
    }

    step("A dict of objects, and a cycle through it", "d = {}; d['self'] = d  # the dict references itself; gc.collect()");
    {
        {
            auto d = ouro::make<ouro::Dict<std::string, ouro::Object>>();
            d->insert_or_assign("self", d);
            say("len(d) = %zu; getrefcount(d) = %zu (the local and its own value)", d->size(), ouro::sys::getrefcount(*d));
        }
        say("the local is gone; gc::collect() = %zu (the dict, through its own value)", ouro::gc::collect());
    }

    step("__slots__ against a per-instance __dict__",
         "class MyClass: __slots__ = ['name', 'value']  # vs. the same class without __slots__");
    {
        auto a = ouro::make<MyDictClass>("widget", 42);
        auto b = ouro::make<MyDictClass>("gadget", 7);
        auto fixed = ouro::make<MySlotsClass>("widget", 42);
        say("DynObject (__dict__): getsizeof = %zu bytes: 40 of object, 2 x 16 of values, %zu of str; keys shared: %d %d",
            ouro::sys::getsizeof(*a), ouro::sys::getsizeof(*a) - 72, a->shares_keys(), b->shares_keys());
        say("fixed layout (__slots__): getsizeof = %zu bytes: 16 of header, a std::string and a long",
            ouro::sys::getsizeof(*fixed));
        say("name = %s, value = %lld", std::string(a->getattr("name").as_str()).c_str(),
            static_cast<long long>(a->getattr("value").as_int()));
        say("CPython 3.11 on this machine (tracemalloc per instance): 88 bytes with __dict__, 48 with __slots__, "
            "both pointing to a 55-byte str object");
    }

    step("Generators yield one value at a time", "for number in count_up_to(10_000_000): total += number");
    {
        auto gen = count_up_to(10'000'000);
        std::size_t frame = ouro::sys::getsizeof(gen);
        std::size_t before = ouro::sys::mallocstats().bytes_in_use, most = before;
        long total = 0;
        for (long number : gen) {
            total += number;
            if (number % 1'000'000 == 0) most = std::max(most, ouro::sys::mallocstats().bytes_in_use);
        }
        say("total = %ld; the generator's frame is one %zu-byte block of the heap; heap bytes in use never grew "
            "(%zu extra)", total, frame, most - before);
        say("CPython 3.11: sys.getsizeof(count_up_to(10)) = 208 bytes");
    }

    step("Deep sizes: everything an object reaches, each object once", "df.memory_usage(deep=True); pympler.asizeof(obj)");
    {
        auto record = ouro::make<MyDictClass>("root", 0);
        auto head = ouro::make<Node>(0);
        Node* tail = head.get();
        for (int i = 1; i < 1000; ++i) {
            tail->next = ouro::make<Node>(i);
            tail = tail->next.get();
        }
        record->setattr("chain", head);
        record->setattr("again", head);  // the same chain: counted once
        record->setattr("child", ouro::make<MyDictClass>("child", 1));
        say("getsizeof(record) = %zu; getsizeof_deep(record) = %zu", ouro::sys::getsizeof(*record),
            ouro::sys::getsizeof_deep(*record));
        for (const auto& m : ouro::sys::getsizeof_members(*record))
            say("  %-6s %-22s %5zu objects %8zu bytes", m.name.c_str(), m.type.c_str(), m.objects, m.bytes);
        g_quiet = true;  // ~Node prints: free the chain without a line per node
        record = nullptr;
        head = nullptr;
        g_quiet = false;
    }

    step("Freezing long-lived objects out of the collector's way", "gc.freeze()");
    {
        std::vector<ouro::Ref<Leaf>> config;
        for (int i = 0; i < 1000; ++i) config.push_back(ouro::make<Leaf>());
        ouro::gc::freeze();
        say("gc::freeze(): %zu objects in the permanent generation; get_objects() now lists %zu",
            ouro::gc::get_freeze_count(), ouro::gc::get_objects().size());
        ouro::gc::unfreeze();
        say("gc::unfreeze(): back in generation 2 (%zu objects)", ouro::gc::get_objects(2).size());
    }

    tracemalloc_step::run();

    std::printf("\nend of the tour\n");
    return 0;
}
