// The ouro::trace_new target: global operator new and delete replaced by malloc and free, each
// block reported to the current heap's tracer (domain DOMAIN_NEW) while it traces, so the
// buffers that managed objects own (a std::vector member, a std::string) are attributed to
// their call sites too. Opt-in at link time: replacing operator new is the program's choice.
#include <cstddef>
#include <cstdlib>
#include <new>

namespace ouro::detail {
void traced_new(void* p, std::size_t size, const void* caller) noexcept;  // tracemalloc.cpp
void traced_delete(void* p) noexcept;
}  // namespace ouro::detail

namespace {
void* allocate(std::size_t size, std::size_t align, bool nothrow, const void* caller) {
    if (size == 0) size = 1;
    for (;;) {
        void* p = nullptr;
        if (align <= alignof(std::max_align_t)) p = std::malloc(size);
        else if (posix_memalign(&p, align, size) != 0) p = nullptr;
        if (p) {
            ouro::detail::traced_new(p, size, caller);
            return p;
        }
        std::new_handler h = std::get_new_handler();
        if (!h) {
            if (nothrow) return nullptr;
            throw std::bad_alloc();
        }
        if (nothrow) {
            try {
                h();
            } catch (...) {
                return nullptr;
            }
        } else {
            h();
        }
    }
}
void release(void* p) noexcept {
    if (!p) return;
    ouro::detail::traced_delete(p);
    std::free(p);
}
constexpr std::size_t kPlain = alignof(std::max_align_t);
#define OURO_CALLER __builtin_return_address(0)
}  // namespace

void* operator new(std::size_t n) { return allocate(n, kPlain, false, OURO_CALLER); }
void* operator new[](std::size_t n) { return allocate(n, kPlain, false, OURO_CALLER); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return allocate(n, kPlain, true, OURO_CALLER); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return allocate(n, kPlain, true, OURO_CALLER); }
void* operator new(std::size_t n, std::align_val_t a) { return allocate(n, static_cast<std::size_t>(a), false, OURO_CALLER); }
void* operator new[](std::size_t n, std::align_val_t a) { return allocate(n, static_cast<std::size_t>(a), false, OURO_CALLER); }
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
    return allocate(n, static_cast<std::size_t>(a), true, OURO_CALLER);
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
    return allocate(n, static_cast<std::size_t>(a), true, OURO_CALLER);
}
void operator delete(void* p) noexcept { release(p); }
void operator delete[](void* p) noexcept { release(p); }
void operator delete(void* p, std::size_t) noexcept { release(p); }
void operator delete[](void* p, std::size_t) noexcept { release(p); }
void operator delete(void* p, std::align_val_t) noexcept { release(p); }
void operator delete[](void* p, std::align_val_t) noexcept { release(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { release(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { release(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { release(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { release(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { release(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { release(p); }
