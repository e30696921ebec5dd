// Misuse checks (OURO_CHECKS builds, docs/api.md "Misuse"): a Ref to a dead or unmanaged
// object, a count overflow, a Ref touched from the wrong thread or stored across heaps — and,
// after make<T>, a type whose trace() does not visit all its Ref members.
#include "describe.hpp"
#include "heap_state.hpp"

#include <ouro/unraisable.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <typeinfo>
#include <utility>
#include <vector>

namespace ouro::detail {

namespace {
[[noreturn]] void fail(const std::string& message, bool can_throw) {
    if (can_throw) throw std::logic_error(message);
    std::fprintf(stderr, "%s\n", message.c_str());
    std::abort();
}
}  // namespace

void check_managed(const Object* o) {
    if (!(ObjectAccess::gcword(*o) & kLive))
        throw std::logic_error("ouro::Ref: " + describe(*o) + " is not managed (create objects with ouro::make<T>)");
}

void check_store(const void* slot, const Object* o) {
    Heap* current = t_current_heap;
    Heap* h = heap_of(const_cast<Object*>(o));
    if (!current || !h || h == current || !HeapAccess::allocator(*current).owns(slot)) return;
    throw std::logic_error("ouro::Ref: " + describe(*o) +
                           " belongs to another heap and cannot be referenced from an object of the current "
                           "heap (a cycle through two heaps could never be collected)");
}

void check_access(const Object* o, bool can_throw) {
    auto* obj = const_cast<Object*>(o);
    const std::uint32_t w = gcword(obj);
    if (!(w & kLive)) fail("ouro::Ref: reference to " + describe(*o), can_throw);
    // The references a throwing constructor handed out may still be dropped, never copied.
    if ((w & kZombie) && can_throw)
        fail("ouro::Ref: new reference to " + describe(*o) + ", which references taken before the throw keep allocated",
             can_throw);
    if (refcnt(obj) >= 0x7fffffffu) fail("ouro::Ref: reference count overflow on " + describe(*o), can_throw);
    Heap* h = heap_of(obj);
    if (!h) return;
    auto owner = HeapAccess::state(*h).owner.thread.load(std::memory_order_relaxed);
    if (owner != std::this_thread::get_id()) {
        std::ostringstream msg;
        msg << "ouro::Ref: " << describe(*o) << " belongs to a heap owned by thread " << owner
            << " but was touched from thread " << std::this_thread::get_id()
            << " (a heap and its objects are used by one thread at a time)";
        fail(msg.str(), can_throw);
    }
}


#if OURO_CHECKS
namespace {
// Checked builds: each type's trace() mistakes are reported once per process.
void report_type_once(const Object& o, const std::string& problem) noexcept {
    static std::mutex mutex;
    static auto* reported = new std::set<std::pair<std::string, std::string>>;
    try {
        {
            std::lock_guard lock(mutex);
            if (!reported->emplace(typeid(o).name(), problem).second) return;
        }
        throw std::logic_error(problem);
    } catch (const std::logic_error&) {
        report_unraisable("ouro::make: the type of", o);
    } catch (...) {
    }
}

// Counts the Ref slots of the object's own block that one trace() visits, null ones included.
struct MemberCounter final : Visitor {
    const char* base;
    std::size_t size;
    std::size_t inside = 0;
    bool twice = false;
    std::vector<std::size_t> offsets;
    void visit(Object*&) override {}
    void visit_any(const void* slot) override {
        const auto off = static_cast<std::size_t>(static_cast<const char*>(slot) - base);
        if (off >= size) return;
        ++inside;
        twice |= std::find(offsets.begin(), offsets.end(), off) != offsets.end();
        offsets.push_back(off);
    }
};
}  // namespace

void check_members(Object* o, std::size_t size, bool tracked, std::size_t members) noexcept {
    if (!tracked) {
        if (members)
            report_type_once(*o, "holds " + std::to_string(members) +
                                     " Ref member(s) but does not override trace(Visitor&) (a trace() const, or a "
                                     "missing override?): it is never tracked, and cycles through it are never "
                                     "collected");
        return;
    }
    MemberCounter count;
    count.base = reinterpret_cast<const char*>(o);
    count.size = size;
    try {
        o->trace(count);
    } catch (...) {
        return;  // collections report a trace() that throws
    }
    if (count.inside < members)
        report_type_once(*o, "has " + std::to_string(members) + " Ref member(s) but its trace() visits " +
                                 std::to_string(count.inside) +
                                 ": a reference it does not visit keeps its referent alive forever if it is part "
                                 "of a cycle (visit every member, or write OURO_TRACE(...))");
    if (count.twice)
        report_type_once(*o, "has a trace() that visits one of its Ref members twice (the collector counts it once)");
}
#endif

}  // namespace ouro::detail
