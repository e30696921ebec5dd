// What make<T> does when T's constructor throws (docs/design.md §3): give the block back, or
// keep it as a zombie while references the constructor handed out are still held.
#include "heap_state.hpp"

#include <ouro/unraisable.hpp>

#include <cstdlib>
#include <cstring>
#include <cxxabi.h>
#include <new>
#include <stdexcept>
#include <string>
#include <typeinfo>

namespace ouro {

void Heap::free_unconstructed(void* mem, bool large, bool tracked) noexcept {
    if (tracked && count0_ > 0) --count0_;
    auto* o = static_cast<Object*>(mem);
    if (large) {
        detail::gcword(o) = detail::kLarge;
        state_->large.free(alloc_, o);
    } else {
        std::memset(mem, 0, sizeof(Object));
        alloc_.deallocate(mem);
    }
}

namespace detail {
namespace {
// What is left in a block when T's constructor threw after Object's had run and references to
// the object are still held: a managed object with no fields, no finalizer and no references.
struct Zombie final : Object {};

void report_zombie(const std::type_info& type, const Object* o, std::uint32_t strays) noexcept {
    try {
        int status = 0;
        char* name = abi::__cxa_demangle(type.name(), nullptr, nullptr, &status);
        std::string t = status == 0 && name ? name : type.name();
        std::free(name);
        throw std::logic_error("the constructor of " + t + " threw after " + std::to_string(strays) +
                               " reference(s) to its object were taken and kept (Ref(this)); the block at " +
                               std::to_string(reinterpret_cast<std::uintptr_t>(o)) +
                               " stays allocated, dead, until they are dropped");
    } catch (...) {
        report_unraisable("ouro::make");
    }
}
}  // namespace
}  // namespace detail

void Heap::constructor_threw(void* mem, bool built, bool large, bool tracked, const std::type_info& type) noexcept {
    if (!built) {
        free_unconstructed(mem, large, tracked);
        return;
    }
    // T's members and bases have been destroyed; what the header's words say is read as plain
    // memory (the compiler must not reason about the object that was there).
    asm volatile("" : : "r"(mem) : "memory");
    std::uint32_t words[2];
    std::memcpy(words, static_cast<char*>(mem) + sizeof(void*), sizeof(words));
    const std::uint32_t count = words[0];  // make's own reference, and any the constructor handed out
    const std::uint32_t flags = words[1];
    auto* z = ::new (mem) detail::Zombie();
    detail::refcnt(z) = count;
    detail::gcword(z) = detail::kLive | detail::kZombie | (flags & (detail::kHasWeakrefs | detail::kLarge));
    if (tracked && count0_ > 0) --count0_;  // never tracked after all
    // Weak references taken in the constructor die with the object (their callbacks may drop
    // the stray references; ours keeps the block until the end).
    if (flags & detail::kHasWeakrefs) detail::clear_weakrefs(this, z);
    if constexpr (OURO_CHECKS)
        if (detail::refcnt(z) > 1) detail::report_zombie(type, z, detail::refcnt(z) - 1);
    detail::decref(z);  // frees the block unless stray references remain
}

}  // namespace ouro
