// tracemalloc: exact traces of every kind of block, Python's statistics, diffs, filters and
// dump format, sampling estimates, and user code that allocates while the tracer runs.
#include "support.hpp"

#include <ouro/tracemalloc.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory_resource>

namespace tmc = ouro::tracemalloc;

namespace {

struct Blob64 : ouro::Object {  // exactly one 64-byte block
    char pad[48];
};
struct Blob128 : ouro::Object {
    char pad[112];
};
struct Huge : ouro::Object {  // a large object
    char data[4000];
};
static_assert(sizeof(Blob64) == 64 && sizeof(Blob128) == 128);

class Tracemalloc : public support::QuietHeapTest {
protected:
    ~Tracemalloc() override { tmc::stop(); }
};

bool ends_with(const std::string& s, std::string_view tail) { return s.size() >= tail.size() && s.ends_with(tail); }

// The statistic whose (single-frame) traceback is file:line, or null.
const tmc::Statistic* find_stat(const std::vector<tmc::Statistic>& stats, std::string_view file, int line) {
    for (const auto& s : stats)
        if (s.traceback.size() && ends_with(s.traceback[0].filename, file) && s.traceback[0].lineno == line) return &s;
    return nullptr;
}

std::size_t domain_bytes(const tmc::Snapshot& s, unsigned domain) {
    std::size_t n = 0;
    for (const auto& t : s.traces)
        if (t.domain == domain) n += t.size;
    return n;
}

TEST_F(Tracemalloc, OffByDefault) {
    EXPECT_FALSE(tmc::is_tracing());
    EXPECT_EQ(tmc::get_traced_memory().current, 0u);
    EXPECT_THROW(tmc::take_snapshot(), std::runtime_error);
    EXPECT_THROW(tmc::start(0), std::invalid_argument);
    EXPECT_THROW(tmc::start(tmc::MAX_NFRAME + 1), std::invalid_argument);
    EXPECT_FALSE(tmc::track(42, this, 8));
}

// Script frames give known lines on every build: known sizes from known lines, to the byte.
TEST_F(Tracemalloc, StatisticsByLineAreExact) {
    tmc::start(1, {}, tmc::Frames::script_only);
    std::vector<ouro::Ref<ouro::Object>> keep;
    {
        tmc::FrameScope f("script.py", 10, "main");
        for (int i = 0; i < 100; ++i) keep.push_back(ouro::make<Blob64>());
        f.set_lineno(11);
        for (int i = 0; i < 30; ++i) keep.push_back(ouro::make<Blob128>());
    }
    {
        tmc::FrameScope f("other.py", 3);
        for (int i = 0; i < 5; ++i) keep.push_back(ouro::make<Blob64>());
    }
    auto stats = tmc::take_snapshot().statistics("lineno");
    ASSERT_EQ(stats.size(), 3u);
    EXPECT_EQ(stats[0].traceback[0], (tmc::Frame{"script.py", 10, {}}));
    EXPECT_EQ(stats[0].size, 6400u);
    EXPECT_EQ(stats[0].count, 100u);
    EXPECT_EQ(stats[1].traceback[0], (tmc::Frame{"script.py", 11, {}}));
    EXPECT_EQ(stats[1].size, 3840u);
    EXPECT_EQ(stats[1].count, 30u);
    EXPECT_EQ(stats[2].traceback[0], (tmc::Frame{"other.py", 3, {}}));
    EXPECT_EQ(stats[2].size, 320u);
    EXPECT_EQ(stats[0].str(), "script.py:10: size=6400 B, count=100, average=64 B");

    auto files = tmc::take_snapshot().statistics("filename");
    ASSERT_EQ(files.size(), 2u);
    EXPECT_EQ(files[0].traceback[0], (tmc::Frame{"script.py", 0, {}}));
    EXPECT_EQ(files[0].size, 6400u + 3840u);
    EXPECT_EQ(tmc::get_traced_memory().current, 6400u + 3840u + 320u);
    EXPECT_THROW(tmc::take_snapshot().statistics("line"), std::invalid_argument);
    EXPECT_THROW(tmc::take_snapshot().statistics("traceback", true), std::invalid_argument);
}

TEST_F(Tracemalloc, NativeFramesNameTheAllocatingLine) {
    tmc::start();
    std::vector<ouro::Ref<Blob64>> keep;
    const int line = __LINE__ + 1;
    for (int i = 0; i < 50; ++i) keep.push_back(ouro::make<Blob64>());
    auto snap = tmc::take_snapshot();
    auto stats = snap.statistics("lineno");
    ASSERT_FALSE(stats.empty());
    EXPECT_EQ(stats[0].size, 50u * 64);
    EXPECT_EQ(stats[0].count, 50u);
    if (!ends_with(stats[0].traceback[0].filename, "test_tracemalloc.cpp"))
        GTEST_SKIP() << "no line numbers in this build (no debug information or no libdw): " << stats[0].str();
    EXPECT_EQ(stats[0].traceback[0].lineno, line) << stats[0].str();
    // The frame and the source line it names.
    auto lines = stats[0].traceback.format();
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_TRUE(lines[0].starts_with("  File \"") && lines[0].ends_with("test_tracemalloc.cpp\", line " + std::to_string(line)));
    EXPECT_EQ(lines[1], "    for (int i = 0; i < 50; ++i) keep.push_back(ouro::make<Blob64>());");
    auto tb = tmc::get_object_traceback(*keep[7]);
    ASSERT_TRUE(tb);
    EXPECT_EQ((*tb)[0].lineno, line);
}

TEST_F(Tracemalloc, DeeperTracebacksHoldTheCallers) {
    tmc::start(4, {}, tmc::Frames::script_only);
    std::vector<ouro::Ref<ouro::Object>> keep;
    tmc::FrameScope a("app.py", 1, "<module>");
    tmc::FrameScope b("app.py", 7, "build");
    keep.push_back(ouro::make<Blob64>());
    auto stats = tmc::take_snapshot().statistics("traceback");
    ASSERT_EQ(stats.size(), 1u);
    const tmc::Traceback& tb = stats[0].traceback;
    ASSERT_EQ(tb.size(), 2u);  // oldest first
    EXPECT_EQ(tb[0], (tmc::Frame{"app.py", 1, {}}));
    EXPECT_EQ(tb[1], (tmc::Frame{"app.py", 7, {}}));
    EXPECT_EQ(tb[1].function, "build");
    EXPECT_EQ(tb.format(), (std::vector<std::string>{"  File \"app.py\", line 1", "  File \"app.py\", line 7"}));
    EXPECT_EQ(tb.format(1), (std::vector<std::string>{"  File \"app.py\", line 7"}));
    EXPECT_EQ(tb.format(-1), (std::vector<std::string>{"  File \"app.py\", line 1"}));
    EXPECT_EQ(tb.format(std::nullopt, true), (std::vector<std::string>{"  File \"app.py\", line 7", "  File \"app.py\", line 1"}));
    auto cumulative = tmc::take_snapshot().statistics("lineno", true);
    EXPECT_EQ(cumulative.size(), 2u);
    EXPECT_EQ(tmc::get_traceback_limit(), 4);
}

// Native and script frames together: the script frame sits where it was pushed.
TEST_F(Tracemalloc, MixedStacksPutScriptFramesAmongNativeOnes) {
    tmc::start(3);
    ouro::Ref<ouro::Object> keep;
    {
        tmc::FrameScope f("script.py", 5, "run");
        keep = ouro::make<Blob64>();
    }
    auto tb = tmc::get_object_traceback(*keep);
    ASSERT_TRUE(tb);
    ASSERT_GE(tb->size(), 2u);
    // Most recent first: the script frame, then the native frame that pushed it (this test).
    EXPECT_EQ((*tb)[tb->size() - 1], (tmc::Frame{"script.py", 5, {}}));
    EXPECT_NE((*tb)[tb->size() - 2].filename, "script.py");
}

TEST_F(Tracemalloc, CompareToGivesTheDiffs) {
    tmc::start(1, {}, tmc::Frames::script_only);
    std::vector<ouro::Ref<ouro::Object>> a, b;
    tmc::FrameScope f("s.py", 1);
    for (int i = 0; i < 10; ++i) a.push_back(ouro::make<Blob64>());
    f.set_lineno(2);
    for (int i = 0; i < 4; ++i) b.push_back(ouro::make<Blob128>());
    auto before = tmc::take_snapshot();
    a.resize(3);                                                         // line 1: -7 blocks
    f.set_lineno(2);
    for (int i = 0; i < 2; ++i) b.push_back(ouro::make<Blob128>());    // line 2: +2
    f.set_lineno(3);
    for (int i = 0; i < 5; ++i) a.push_back(ouro::make<Blob64>());     // line 3: new
    auto diff = tmc::take_snapshot().compare_to(before, "lineno");
    ASSERT_EQ(diff.size(), 3u);
    // Sorted by |size_diff|: line 1 (-448), line 3 (+320), line 2 (+256).
    EXPECT_EQ(diff[0].traceback[0].lineno, 1);
    EXPECT_EQ(diff[0].size, 192u);
    EXPECT_EQ(diff[0].size_diff, -448);
    EXPECT_EQ(diff[0].count, 3u);
    EXPECT_EQ(diff[0].count_diff, -7);
    EXPECT_EQ(diff[1].traceback[0].lineno, 3);
    EXPECT_EQ(diff[1].size_diff, 320);
    EXPECT_EQ(diff[1].count_diff, 5);
    EXPECT_EQ(diff[2].traceback[0].lineno, 2);
    EXPECT_EQ(diff[2].size, 768u);
    EXPECT_EQ(diff[2].size_diff, 256);
    EXPECT_EQ(diff[2].str(), "s.py:2: size=768 B (+256 B), count=6 (+2), average=128 B");
    a.clear();
    auto gone = tmc::take_snapshot().compare_to(before, "lineno");
    EXPECT_EQ(gone[0].size, 0u);
    EXPECT_EQ(gone[0].size_diff, -640);
}

TEST_F(Tracemalloc, PeakAndReset) {
    tmc::start();
    {
        std::vector<ouro::Ref<Blob64>> v;
        for (int i = 0; i < 100; ++i) v.push_back(ouro::make<Blob64>());
        EXPECT_EQ(tmc::get_traced_memory().current, 6400u);
    }
    auto m = tmc::get_traced_memory();
    EXPECT_EQ(m.current, 0u);
    EXPECT_EQ(m.peak, 6400u);
    tmc::reset_peak();
    EXPECT_EQ(tmc::get_traced_memory().peak, 0u);
    auto x = ouro::make<Blob128>();
    EXPECT_EQ(tmc::get_traced_memory().peak, 128u);
}

TEST_F(Tracemalloc, FreesOfEarlierBlocksAreIgnoredAndStopClears) {
    std::vector<ouro::Ref<Blob64>> before;
    for (int i = 0; i < 20; ++i) before.push_back(ouro::make<Blob64>());
    tmc::start();
    auto kept = ouro::make<Blob64>();
    before.clear();
    EXPECT_EQ(tmc::get_traced_memory().current, 64u);
    EXPECT_EQ(tmc::take_snapshot().traces.size(), 1u);
    tmc::clear_traces();
    EXPECT_EQ(tmc::get_traced_memory().current, 0u);
    EXPECT_TRUE(tmc::take_snapshot().traces.empty());
    auto again = ouro::make<Blob64>();
    tmc::stop();
    EXPECT_FALSE(tmc::is_tracing());
    EXPECT_EQ(tmc::get_traced_memory().current, 0u);
    tmc::start();
    EXPECT_TRUE(tmc::take_snapshot().traces.empty());
    kept.reset();  // traced before the restart: ignored
    EXPECT_EQ(tmc::get_traced_memory().current, 0u);
}

TEST_F(Tracemalloc, EveryKindOfBlockHasItsDomain) {
    tmc::start();
    auto small = ouro::make<Blob64>();
    auto large = ouro::make<Huge>();
    ouro::WeakRef<Blob64> weak(small);
    ouro::PoolResource resource;
    std::vector<int, ouro::PoolAllocator<int>> v{ouro::PoolAllocator<int>(resource)};
    v.reserve(100);
    std::vector<int, ouro::PoolAllocator<int>> d;  // the thread's default resource
    d.reserve(10);
    int user_block = 0;
    EXPECT_TRUE(tmc::track(77, &user_block, 1000));
    auto snap = tmc::take_snapshot();
    EXPECT_EQ(domain_bytes(snap, tmc::DOMAIN_OBJECTS), 64 + ouro::sys::getsizeof(*large));
    EXPECT_GT(domain_bytes(snap, tmc::DOMAIN_WEAKREFS), 0u);
    EXPECT_EQ(domain_bytes(snap, tmc::DOMAIN_POOL), 400u + 40u);
    EXPECT_EQ(domain_bytes(snap, 77), 1000u);
    auto only_pool = snap.filter_traces({tmc::DomainFilter(true, tmc::DOMAIN_POOL)});
    EXPECT_EQ(only_pool.traces.size(), 2u);
    auto no_pool = snap.filter_traces({tmc::DomainFilter(false, tmc::DOMAIN_POOL)});
    EXPECT_EQ(no_pool.traces.size(), snap.traces.size() - 2);
    const std::size_t with_user = tmc::get_traced_memory().current;
    EXPECT_TRUE(tmc::untrack(5, &user_block));   // wrong domain: ignored
    EXPECT_TRUE(tmc::untrack(77, &with_user));   // unknown pointer: ignored
    EXPECT_EQ(tmc::get_traced_memory().current, with_user);
    EXPECT_TRUE(tmc::track(77, &user_block, 10));  // again: replaced
    EXPECT_EQ(tmc::get_traced_memory().current, with_user - 990);
    EXPECT_TRUE(tmc::untrack(77, &user_block));
    EXPECT_EQ(tmc::get_traced_memory().current, with_user - 1000);
    large.reset();
    v = decltype(v){ouro::PoolAllocator<int>(resource)};
    EXPECT_EQ(domain_bytes(tmc::take_snapshot(), tmc::DOMAIN_OBJECTS), 64u);
    EXPECT_EQ(domain_bytes(tmc::take_snapshot(), tmc::DOMAIN_POOL), 40u);
    EXPECT_GT(tmc::get_tracemalloc_memory(), 0u);
}

TEST_F(Tracemalloc, AResourceDestroyedWhileTracedTakesItsTracesAlong) {
    tmc::start();
    auto resource = std::make_unique<ouro::PoolResource>();
    void* p = resource->allocate(48);
    EXPECT_EQ(tmc::get_traced_memory().current, 48u);
    (void)p;
    resource.reset();
    EXPECT_EQ(tmc::get_traced_memory().current, 0u);
    EXPECT_TRUE(tmc::take_snapshot().traces.empty());
}

TEST_F(Tracemalloc, FiltersMatchAsPythons) {
    tmc::start(2, {}, tmc::Frames::script_only);
    std::vector<ouro::Ref<ouro::Object>> keep;
    {
        tmc::FrameScope outer("lib/util.py", 4);
        tmc::FrameScope inner("app/main.py", 9);
        keep.push_back(ouro::make<Blob64>());
    }
    {
        tmc::FrameScope f("app/other.py", 2);
        keep.push_back(ouro::make<Blob128>());
    }
    auto snap = tmc::take_snapshot();
    EXPECT_EQ(snap.filter_traces({tmc::Filter(true, "app/*")}).traces.size(), 2u);
    EXPECT_EQ(snap.filter_traces({tmc::Filter(true, "*main.py", 9)}).traces.size(), 1u);
    EXPECT_EQ(snap.filter_traces({tmc::Filter(true, "*main.py", 8)}).traces.size(), 0u);
    EXPECT_EQ(snap.filter_traces({tmc::Filter(false, "app/main.py")}).traces.size(), 1u);
    // The most recent frame only, unless all_frames.
    EXPECT_EQ(snap.filter_traces({tmc::Filter(true, "lib/*")}).traces.size(), 0u);
    EXPECT_EQ(snap.filter_traces({tmc::Filter(true, "lib/*", std::nullopt, true)}).traces.size(), 1u);
    EXPECT_EQ(snap.filter_traces({tmc::Filter(false, "lib/*", std::nullopt, true)}).traces.size(), 1u);
    EXPECT_EQ(snap.filter_traces({tmc::Filter(true, "app/[mo]*.py")}).traces.size(), 2u);
    EXPECT_EQ(snap.filter_traces({tmc::Filter(true, "app/?ain.py")}).traces.size(), 1u);
    // Domain restriction: inclusive needs the domain, exclusive spares other domains.
    EXPECT_EQ(snap.filter_traces({tmc::Filter(true, "*", std::nullopt, false, 9u)}).traces.size(), 0u);
    EXPECT_EQ(snap.filter_traces({tmc::Filter(false, "*", std::nullopt, false, 9u)}).traces.size(), 2u);
    // Inclusive filters: any; exclusive: all.
    EXPECT_EQ(snap.filter_traces({tmc::Filter(true, "*main.py"), tmc::Filter(true, "*other.py")}).traces.size(), 2u);
    EXPECT_EQ(snap.filter_traces({tmc::Filter(true, "app/*"), tmc::Filter(false, "*other.py")}).traces.size(), 1u);
    EXPECT_EQ(snap.filter_traces({}).traces.size(), 2u);
}

TEST_F(Tracemalloc, DumpLoadRoundTripAndBadFiles) {
    tmc::start(3, {}, tmc::Frames::script_only);
    std::vector<ouro::Ref<ouro::Object>> keep;
    tmc::FrameScope a("x.py", 1, "f");
    for (int i = 0; i < 3; ++i) keep.push_back(ouro::make<Blob64>());
    tmc::FrameScope b("y.py", 2, "g");
    keep.push_back(ouro::make<Blob128>());
    auto snap = tmc::take_snapshot();
    const auto path = (std::filesystem::temp_directory_path() / "ouro_tracemalloc_test.dump").string();
    snap.dump(path);
    auto back = tmc::Snapshot::load(path);
    EXPECT_EQ(back.traceback_limit, 3);
    ASSERT_EQ(back.traces.size(), snap.traces.size());
    auto s1 = snap.statistics("traceback"), s2 = back.statistics("traceback");
    ASSERT_EQ(s1.size(), s2.size());
    for (std::size_t i = 0; i < s1.size(); ++i) {
        EXPECT_EQ(s1[i].traceback, s2[i].traceback);
        EXPECT_EQ(s1[i].size, s2[i].size);
        EXPECT_EQ(s1[i].count, s2[i].count);
    }
    EXPECT_EQ(back.traces[0].traceback[0].function, snap.traces[0].traceback[0].function);
    const std::string bytes = snap.dumps();
    for (std::size_t cut : {std::size_t{0}, std::size_t{5}, std::size_t{20}, bytes.size() / 2, bytes.size() - 1})
        EXPECT_THROW(tmc::Snapshot::loads(std::string_view(bytes).substr(0, cut)), std::runtime_error) << cut;
    std::string corrupt = bytes;
    corrupt[corrupt.size() - 1] = '\x7f';  // the last trace's traceback index
    EXPECT_THROW(tmc::Snapshot::loads(corrupt), std::runtime_error);
    EXPECT_THROW(tmc::Snapshot::loads(bytes + "x"), std::runtime_error);
    try {
        tmc::Snapshot::loads(bytes.substr(0, 30));
        FAIL();
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
    }
    EXPECT_THROW(tmc::Snapshot::load(path + ".missing"), std::runtime_error);
    std::filesystem::remove(path);
}

// User code that runs while tracing (a finalizer, a weak reference callback, a collection)
// allocates through the same hooks: traced, without re-entering the tracer.
TEST_F(Tracemalloc, UserCodeAllocatingDuringCollectionsIsTraced) {
    struct Phoenix : ouro::Object {
        ouro::Ref<Phoenix> self;
        std::vector<ouro::Ref<ouro::Object>>* out = nullptr;
        void trace(ouro::Visitor& visit) override { visit(self); }
        void finalize() override {
            for (int i = 0; i < 3; ++i) out->push_back(ouro::make<Blob64>());
        }
    };
    std::vector<ouro::Ref<ouro::Object>> made;
    tmc::start(1, {}, tmc::Frames::script_only);
    tmc::FrameScope f("gc.py", 1);
    auto p = ouro::make<Phoenix>();
    p->out = &made;
    p->self = p;
    auto target = ouro::make<Blob128>();
    f.set_lineno(2);
    ouro::WeakRef<Blob128> w(target, [&](const ouro::WeakRef<Blob128>&) { made.push_back(ouro::make<Blob128>()); });
    f.set_lineno(3);
    p.reset();
    target.reset();
    ouro::gc::collect();
    auto stats = tmc::take_snapshot().statistics("lineno");
    EXPECT_EQ(made.size(), 4u);
    // The callback's and the finalizer's blocks are attributed to the lines running then.
    const tmc::Statistic* line3 = find_stat(stats, "gc.py", 3);
    ASSERT_TRUE(line3);
    EXPECT_EQ(line3->size, 3u * 64 + 128);
}

TEST_F(Tracemalloc, SampledEstimatesAreCloseToTheExactFigures) {
    tmc::start(1, {4096, 12345}, tmc::Frames::script_only);
    std::vector<ouro::Ref<ouro::Object>> keep;
    keep.reserve(60000);
    tmc::FrameScope f("s.py", 1);
    for (int i = 0; i < 40000; ++i) keep.push_back(ouro::make<Blob64>());
    f.set_lineno(2);
    for (int i = 0; i < 20000; ++i) keep.push_back(ouro::make<Blob128>());
    auto snap = tmc::take_snapshot();
    EXPECT_EQ(snap.sample_mean_bytes, 4096u);
    EXPECT_LT(snap.traces.size(), 2000u);  // ~1250 samples expected
    auto stats = snap.statistics("lineno");
    const tmc::Statistic* l1 = find_stat(stats, "s.py", 1);
    const tmc::Statistic* l2 = find_stat(stats, "s.py", 2);
    ASSERT_TRUE(l1 && l2);
    // ~600 and ~600 samples: a standard error of about 4%; the bound is 3 of them.
    EXPECT_NEAR(static_cast<double>(l1->size), 40000.0 * 64, 40000.0 * 64 * 0.12);
    EXPECT_NEAR(static_cast<double>(l1->count), 40000.0, 40000.0 * 0.12);
    EXPECT_NEAR(static_cast<double>(l2->size), 20000.0 * 128, 20000.0 * 128 * 0.12);
    EXPECT_NEAR(static_cast<double>(tmc::get_traced_memory().current), 40000.0 * 64 + 20000.0 * 128,
                (40000.0 * 64 + 20000.0 * 128) * 0.1);
    keep.clear();
    EXPECT_EQ(tmc::get_traced_memory().current, 0u);
    EXPECT_TRUE(tmc::take_snapshot().traces.empty());
}

TEST_F(Tracemalloc, EachHeapHasItsOwnTracer) {
    tmc::start();
    auto here = ouro::make<Blob64>();
    {
        ouro::Heap other;
        ouro::Heap::Scope s(other);
        EXPECT_FALSE(tmc::is_tracing());
        auto there = ouro::make<Blob64>();
    }
    EXPECT_EQ(tmc::get_traced_memory().current, 64u);
}

}  // namespace
