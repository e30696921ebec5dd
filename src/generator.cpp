// Generator frames (include/ouro/generator.hpp): blocks of the current heap's pools.
#include "heap_state.hpp"

#include <ouro/generator.hpp>
#include <ouro/unraisable.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>

namespace ouro::detail {

namespace {
// Before every frame: its block's size, and a check word that lets frame_bytes() tell that a
// coroutine handle's address() is the address operator new returned (GCC and Clang place the
// frame there; the standard does not promise it).
struct FramePrefix {
    std::size_t bytes;
    std::uintptr_t check;
};
constexpr std::size_t kPrefix = 16;
static_assert(sizeof(FramePrefix) == kPrefix);
constexpr std::uintptr_t kFrameMagic = 0x6f75726f6672616dull;  // "ouroframe"

// A multiple of 16, so that a pool block is 16-byte aligned, as operator new's memory is.
constexpr std::size_t block_bytes(std::size_t frame) noexcept { return (frame + kPrefix + 15) & ~std::size_t{15}; }
std::uintptr_t check_word(const void* base, std::size_t bytes) noexcept {
    return reinterpret_cast<std::uintptr_t>(base) ^ bytes ^ kFrameMagic;
}
}  // namespace

void* allocate_frame(std::size_t size) {
    const std::size_t bytes = block_bytes(size);
    void* base = bytes <= kMaxSmall ? HeapAccess::allocator(Heap::current()).allocate(size_class(bytes), kRawPool)
                                    : ::operator new(bytes);
    ::new (base) FramePrefix{bytes, check_word(base, bytes)};
    return static_cast<char*>(base) + kPrefix;
}

namespace {
void free_block(void* base, std::size_t bytes) noexcept {
    if (bytes > kMaxSmall) {
        ::operator delete(base);
        return;
    }
    // A heap destroyed while the generator lived left its pool in place, never to be reused.
    if (BlockAllocator* owner = pool_of(base)->owner) owner->deallocate(base);
}
const FramePrefix* prefix_of(const void* frame) noexcept {
    return reinterpret_cast<const FramePrefix*>(static_cast<const char*>(frame) - kPrefix);
}
}  // namespace

void deallocate_frame(void* frame, std::size_t size) noexcept {
    free_block(static_cast<char*>(frame) - kPrefix, block_bytes(size));
}

void free_params(FrameTraced* traced) noexcept {
    while (traced->next) traced = traced->next;
    free_block(reinterpret_cast<char*>(traced) - kPrefix, prefix_of(traced)->bytes);
}

bool frame_holds(const void* address, const void* p) noexcept {
    const FramePrefix* prefix = prefix_of(address);
    if (prefix->check != check_word(prefix, prefix->bytes)) return false;
    const auto* begin = static_cast<const char*>(address);
    const auto* at = static_cast<const char*>(p);
    // std::less: a total order over unrelated pointers.
    return !std::less<const char*>()(at, begin) && std::less<const char*>()(at, begin + (prefix->bytes - kPrefix));
}

std::size_t frame_bytes(const void* address) {
    const FramePrefix* prefix = prefix_of(address);
    if (prefix->check != check_word(prefix, prefix->bytes))
        throw std::logic_error("ouro::sys::getsizeof: this compiler does not place a coroutine frame where its "
                               "operator new put it; the generator's size is unknown");
    return prefix->bytes;
}

void generator_misuse(const char* what) { throw std::logic_error(std::string("ouro::Generator: ") + what); }

void rethrow_pending(std::exception_ptr& pending) { std::rethrow_exception(std::exchange(pending, nullptr)); }

std::exception_ptr make_generator_exit() noexcept {
    try {
        return std::make_exception_ptr(GeneratorExit());
    } catch (...) {
        return nullptr;
    }
}

bool is_generator_exit(const std::exception_ptr& e) noexcept {
    try {
        std::rethrow_exception(e);
    } catch (const GeneratorExit&) {
        return true;
    } catch (...) {
        return false;
    }
}

std::exception_ptr body_exception() noexcept {
    try {
        throw;
    } catch (const StopIteration&) {  // PEP 479: a StopIteration never ends a generator silently
        try {
            throw std::runtime_error("generator raised StopIteration");
        } catch (...) {
            return std::current_exception();
        }
    } catch (...) {
        return std::current_exception();
    }
}

void generator_ignored_exit() { throw std::runtime_error("generator ignored GeneratorExit"); }

void report_close_failure() noexcept { report_unraisable("ouro::Generator: closing the generator being destroyed"); }

void generator_destroyed_while_running() noexcept {
    std::fprintf(stderr, "ouro::Generator: destroyed by its own body while running\n");
    std::abort();
}

}  // namespace ouro::detail
