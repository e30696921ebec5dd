// Scaffolding that several test files share. It sits in an unnamed namespace, as it did in each
// file, so every test file keeps its own copy and its own counters; the inner namespace keeps
// these names apart from a file's own (test_weakref.cpp has a different Node).
#pragma once

#include <ouro/ouro.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <exception>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {
namespace support {

// The length of the chains that prove release and collection iterative: 10 million, as the
// brief's "a 10-million-long list never overflows the stack", in the Release pass; 1 million in
// Debug and under the sanitizers, deep enough that recursing would overflow the 8 MB stack
// (8 bytes a level; their frames are bigger than Release's) in a tenth of the time.
#if defined(NDEBUG) && !defined(OURO_ASAN)
inline constexpr std::size_t kLongChain = 10'000'000;
#else
inline constexpr std::size_t kLongChain = 1'000'000;
#endif

// A test with a fresh heap of its own, current for the whole test, so that nothing a test
// allocates or sets (thresholds, debug flags, frozen objects) reaches the next. As members, the
// heap and its scope outlive the test's locals: the heap's final collection runs after them.
class HeapTest : public ::testing::Test {
protected:
    ouro::Heap heap;
    ouro::Heap::Scope scope{heap};
};

// A HeapTest without automatic collections: the only collections are those the test asks for.
class QuietHeapTest : public HeapTest {
protected:
    QuietHeapTest() { ouro::gc::disable(); }
};

// A QuietHeapTest that leaves no garbage and no object behind: each test ends with a heap whose
// next full collection finds nothing.
class LeakCheckedHeapTest : public QuietHeapTest {
protected:
    void TearDown() override {
        EXPECT_EQ(ouro::gc::collect(), 0u) << "garbage left behind";
        EXPECT_TRUE(ouro::gc::get_objects().empty());
    }
};

// Gives each variable its zero value (0, nullptr, empty): a fixture's SetUp() resets with it the
// static counters and hooks of its file's types, which outlive every test.
template <class... T>
void reset(T&... vars) {
    ((vars = T{}), ...);
}

// A tracked node that counts its destructions.
struct Node : ouro::Object {
    static inline int destroyed = 0;
    int value;
    ouro::Ref<Node> next;
    explicit Node(int v = 0) : value(v) {}
    ~Node() override { ++destroyed; }
    void trace(ouro::Visitor& visit) override { visit(next); }
};

// Two traced edges, counting its destructions.
struct Pair : ouro::Object {
    static inline int destroyed = 0;
    ouro::Ref<ouro::Object> a, b;
    ~Pair() override { ++destroyed; }
    void trace(ouro::Visitor& visit) override {
        visit(a);
        visit(b);
    }
};

// Whether a list of objects (gc::get_objects, get_referrers...) holds o.
inline bool contains(const std::vector<ouro::Ref<ouro::Object>>& v, const ouro::Object* o) {
    return std::any_of(v.begin(), v.end(), [&](const ouro::Ref<ouro::Object>& r) { return r.get() == o; });
}

// The message of an exception an unraisable hook receives; "?" when it is not a std::exception.
inline std::string what_of(std::exception_ptr e) {
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        return ex.what();
    } catch (...) {
        return "?";
    }
}

// Installs an unraisable hook for the test and restores the previous one.
struct HookCapture {
    struct Report {
        std::string where;
        std::string what;
    };
    std::vector<Report> reports;
    ouro::UnraisableHook previous;
    HookCapture() {
        previous = ouro::set_unraisable_hook([this](std::exception_ptr e, std::string_view where) {
            reports.push_back({std::string(where), what_of(e)});
        });
    }
    ~HookCapture() { ouro::set_unraisable_hook(std::move(previous)); }
};

}  // namespace support
}  // namespace
