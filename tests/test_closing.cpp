// ouro::closing, ouro::ExitStack and ouro::Resource (Python's contextlib and io.IOBase.close()).
#include <ouro/ouro.hpp>

#include <gtest/gtest.h>

#include "support.hpp"

#include <algorithm>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

std::vector<std::string> g_log;

// A file-like resource: logs its close, may be told to fail it.
struct File : ouro::Resource {
    std::string name;
    bool fail = false;
    ouro::Ref<ouro::Object> other;
    explicit File(std::string n) : name(std::move(n)) {}
    std::string read() const { return "data of " + name; }
    void do_close() override {
        g_log.push_back("close " + name);
        if (fail) throw std::runtime_error("close failed: " + name);
    }
    OURO_TRACE(other)
};

// Not managed: anything with close() will do for closing().
struct Plain {
    std::string name;
    void close() { g_log.push_back("close " + name); }
};

std::runtime_error boom("boom");

class ClosingTest : public support::QuietHeapTest {
protected:
    void SetUp() override { support::reset(g_log); }
    support::HookCapture hook;
};

bool is_resource_warning(std::exception_ptr e) {
    try {
        std::rethrow_exception(e);
    } catch (const ouro::ResourceWarning&) {
        return true;
    } catch (...) {
        return false;
    }
}

TEST_F(ClosingTest, ClosesWhenTheScopeEnds) {
    // with closing(open('file.txt')) as f: data = f.read()
    ouro::Ref<File> kept;
    {
        auto f = ouro::closing(ouro::make<File>("file.txt"));
        EXPECT_EQ(f->read(), "data of file.txt");
        EXPECT_FALSE(f->closed());
        kept = f.get();
    }
    EXPECT_EQ(g_log, (std::vector<std::string>{"close file.txt"}));
    EXPECT_TRUE(kept->closed());
    kept->close();  // closing again does nothing
    EXPECT_EQ(g_log.size(), 1u);
    kept = nullptr;  // closed: no warning when it dies
    EXPECT_TRUE(hook.reports.empty());
}

TEST_F(ClosingTest, ClosesWhenTheScopeEndsByAnException) {
    EXPECT_THROW(
        {
            auto f = ouro::closing(ouro::make<File>("a"));
            throw boom;
        },
        std::runtime_error);
    EXPECT_EQ(g_log, (std::vector<std::string>{"close a"}));
    EXPECT_TRUE(hook.reports.empty());
}

TEST_F(ClosingTest, WorksWithAnyObjectThatHasClose) {
    {
        auto p = ouro::closing(Plain{"plain"});
        EXPECT_EQ(p->name, "plain");
        EXPECT_EQ((*p).name, "plain");
    }
    Plain by_pointer{"pointer"};
    { auto q = ouro::closing(&by_pointer); }
    EXPECT_EQ(g_log, (std::vector<std::string>{"close plain", "close pointer"}));
}

TEST_F(ClosingTest, ANullResourceIsRefusedAtOnce) {
    EXPECT_THROW(ouro::closing(ouro::Ref<File>()), std::invalid_argument);
    EXPECT_THROW(ouro::closing(static_cast<Plain*>(nullptr)), std::invalid_argument);
}

TEST_F(ClosingTest, ACloseThatThrowsPropagatesWhenNothingElseDoes) {
    try {
        auto f = ouro::closing(ouro::make<File>("bad"));
        f->fail = true;
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "close failed: bad");
        EXPECT_TRUE(hook.reports.empty());
        return;
    }
    FAIL() << "close()'s exception did not propagate";
}

TEST_F(ClosingTest, ACloseThatThrowsDuringAnExceptionGoesToTheHook) {
    try {
        auto f = ouro::closing(ouro::make<File>("bad"));
        f->fail = true;
        throw boom;
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "boom");  // the body's exception wins; Python chains the other to it
    }
    ASSERT_EQ(hook.reports.size(), 1u);
    EXPECT_EQ(hook.reports[0].where, "closing()");
    EXPECT_EQ(hook.reports[0].what, "close failed: bad");
}

TEST_F(ClosingTest, ClosingTwiceByMoveClosesOnce) {
    {
        auto a = ouro::closing(ouro::make<File>("moved"));
        auto b = std::move(a);
    }
    EXPECT_EQ(g_log, (std::vector<std::string>{"close moved"}));
}

TEST_F(ClosingTest, AResourceThatDiesOpenIsClosedWithAResourceWarning) {
    ouro::set_unraisable_hook([&](std::exception_ptr e, std::string_view where) {
        hook.reports.push_back({std::string(where), support::what_of(e)});
        EXPECT_TRUE(is_resource_warning(e));
    });
    ouro::make<File>("leaked");  // dies by its count
    ASSERT_EQ(hook.reports.size(), 1u);
    EXPECT_NE(hook.reports[0].where.find("the finalizer of <"), std::string::npos);
    EXPECT_NE(hook.reports[0].what.find("ResourceWarning: unclosed <"), std::string::npos);
    EXPECT_NE(hook.reports[0].what.find("File at 0x"), std::string::npos);
    EXPECT_EQ(g_log, (std::vector<std::string>{"close leaked"}));
}

TEST_F(ClosingTest, AnUnclosedResourceInACycleIsClosedByTheCollector) {
    {
        auto a = ouro::make<File>("a");
        auto b = ouro::make<File>("b");
        a->other = b;
        b->other = a;
    }
    EXPECT_TRUE(g_log.empty());
    EXPECT_EQ(ouro::gc::collect(), 2u);
    EXPECT_EQ(hook.reports.size(), 2u);
    std::sort(g_log.begin(), g_log.end());
    EXPECT_EQ(g_log, (std::vector<std::string>{"close a", "close b"}));
}

TEST_F(ClosingTest, AFailingCloseInTheFinalizerIsReported) {
    {
        auto f = ouro::make<File>("bad");
        f->fail = true;
    }
    ASSERT_EQ(hook.reports.size(), 2u);
    EXPECT_NE(hook.reports[0].what.find("ResourceWarning"), std::string::npos);
    EXPECT_EQ(hook.reports[1].what, "close failed: bad");
}

TEST_F(ClosingTest, ADoCloseThatThrowsStillLeavesItClosed) {
    auto f = ouro::make<File>("bad");
    f->fail = true;
    EXPECT_THROW(f->close(), std::runtime_error);
    EXPECT_TRUE(f->closed());
    EXPECT_NO_THROW(f->close());
    f = nullptr;
    EXPECT_TRUE(hook.reports.empty());
}

TEST_F(ClosingTest, ExitStackRunsExitsLastInFirstOut) {
    {
        ouro::ExitStack stack;
        stack.callback([] { g_log.push_back("first registered"); });
        auto& f = stack.enter_context(ouro::closing(ouro::make<File>("f")));
        EXPECT_EQ(f->read(), "data of f");
        stack.callback([] { g_log.push_back("last registered"); });
        EXPECT_EQ(stack.size(), 3u);
    }
    EXPECT_EQ(g_log, (std::vector<std::string>{"last registered", "close f", "first registered"}));
}

TEST_F(ClosingTest, ExitStackRunsEveryExitAndPropagatesTheLastException) {
    try {
        ouro::ExitStack stack;
        stack.callback([] { g_log.push_back("a"); });
        stack.callback([] { throw std::runtime_error("from b"); });
        stack.callback([] { g_log.push_back("c"); });
        stack.callback([] { throw std::runtime_error("from d"); });
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "from b");  // the last raised, as Python's (d is its __context__)
    }
    EXPECT_EQ(g_log, (std::vector<std::string>{"c", "a"}));
    ASSERT_EQ(hook.reports.size(), 1u);
    EXPECT_EQ(hook.reports[0].where, "an ExitStack exit");
    EXPECT_EQ(hook.reports[0].what, "from d");
}

TEST_F(ClosingTest, ExitStackLeftByAnExceptionReportsEveryExitError) {
    try {
        ouro::ExitStack stack;
        stack.callback([] { throw std::runtime_error("exit 1"); });
        auto& f = stack.enter_context(ouro::closing(ouro::make<File>("f")));
        f->fail = true;
        throw boom;
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "boom");
    }
    EXPECT_EQ(g_log, (std::vector<std::string>{"close f"}));
    ASSERT_EQ(hook.reports.size(), 2u);
    EXPECT_EQ(hook.reports[0].what, "close failed: f");
    EXPECT_EQ(hook.reports[1].what, "exit 1");
}

TEST_F(ClosingTest, ExitStackCloseRunsNowAndPopAllHandsOver) {
    ouro::ExitStack stack;
    stack.callback([] { g_log.push_back("one"); });
    stack.close();
    EXPECT_EQ(g_log, (std::vector<std::string>{"one"}));
    EXPECT_EQ(stack.size(), 0u);
    stack.close();
    stack.callback([] { throw std::runtime_error("at close"); });
    EXPECT_THROW(stack.close(), std::runtime_error);
    EXPECT_EQ(stack.size(), 0u);

    // with ExitStack() as s: ...; kept = s.pop_all()  -- keep what was opened only on success
    std::optional<ouro::ExitStack> kept;
    {
        ouro::ExitStack s;
        s.callback([] { g_log.push_back("handed over"); });
        kept.emplace(s.pop_all());
        EXPECT_EQ(s.size(), 0u);
    }
    EXPECT_EQ(g_log.size(), 1u);
    kept.reset();
    EXPECT_EQ(g_log.back(), "handed over");
}

TEST_F(ClosingTest, AnExitMayRegisterMoreExits) {
    {
        ouro::ExitStack stack;
        stack.callback([&stack] {
            g_log.push_back("outer");
            stack.callback([] { g_log.push_back("registered while unwinding"); });
        });
    }
    EXPECT_EQ(g_log, (std::vector<std::string>{"outer", "registered while unwinding"}));
}

}  // namespace
