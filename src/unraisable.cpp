// The unraisable hook: where errors from finalizers, callbacks and collector-invoked user code go.
#include "describe.hpp"

#include <ouro/unraisable.hpp>

#include <cstdio>
#include <mutex>
#include <string>
#include <utility>

namespace ouro {
namespace {
std::mutex g_hook_mutex;
UnraisableHook& hook_slot() {
    static auto* hook = new UnraisableHook;  // never destroyed: errors can happen during exit
    return *hook;
}

void print_default(std::exception_ptr error, std::string_view where) noexcept {
    std::string what = "unknown exception";
    try {
        std::rethrow_exception(error);
    } catch (const std::exception& e) {
        what = e.what();
    } catch (...) {
    }
    std::fprintf(stderr, "Exception ignored in %.*s: %s\n", static_cast<int>(where.size()), where.data(), what.c_str());
}
}  // namespace

UnraisableHook set_unraisable_hook(UnraisableHook hook) {
    std::lock_guard lock(g_hook_mutex);
    return std::exchange(hook_slot(), std::move(hook));
}

void report_unraisable(std::string_view where) noexcept {
    std::exception_ptr error = std::current_exception();
    UnraisableHook hook;
    try {
        std::lock_guard lock(g_hook_mutex);
        hook = hook_slot();
    } catch (...) {
    }
    if (!hook) {
        print_default(error, where);
        return;
    }
    try {
        hook(error, where);
    } catch (...) {
        // A hook that throws is itself reported the default way, along with the original error.
        print_default(error, where);
        print_default(std::current_exception(), "the unraisable hook");
    }
}

void report_unraisable(const char* what, const Object& object) noexcept {
    std::string where;
    try {
        where = std::string(what) + " " + detail::describe(object);
    } catch (...) {
        report_unraisable(what);
        return;
    }
    report_unraisable(where);
}

}  // namespace ouro
