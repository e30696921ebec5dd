// The platform layer (Linux, glibc).
#include "os.hpp"

#include <link.h>
#include <sys/mman.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <mutex>

namespace ouro::os {

void* map(std::size_t bytes) noexcept {
    void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? nullptr : p;
}

void unmap(void* p, std::size_t bytes) noexcept { ::munmap(p, bytes); }

void* remap(void* p, std::size_t old_bytes, std::size_t new_bytes) noexcept {
    void* q = ::mremap(p, old_bytes, new_bytes, MREMAP_MAYMOVE);
    return q == MAP_FAILED ? nullptr : q;
}

void* map_aligned(std::size_t bytes, std::size_t align) noexcept {
    void* raw = map(bytes + align);
    if (!raw) return nullptr;
    const auto addr = reinterpret_cast<std::uintptr_t>(raw);
    const auto aligned = (addr + align - 1) & ~(align - 1);
    if (aligned > addr) unmap(raw, aligned - addr);
    if (const auto tail = addr + bytes + align - (aligned + bytes)) unmap(reinterpret_cast<void*>(aligned + bytes), tail);
    return reinterpret_cast<void*>(aligned);
}

void discard(void* p, std::size_t bytes) noexcept { ::madvise(p, bytes, MADV_DONTNEED); }

void prefer_huge_pages(void* p, std::size_t bytes) noexcept { ::madvise(p, bytes, MADV_HUGEPAGE); }

void populate(void* p, std::size_t bytes) noexcept {
#ifdef MADV_POPULATE_WRITE
    ::madvise(p, bytes, MADV_POPULATE_WRITE);
#else
    (void)p, (void)bytes;
#endif
}

std::int64_t coarse_now_ns() noexcept {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

double precise_now_s() noexcept {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

namespace {
struct StaticStorage {
    unsigned long long adds = ~0ull;  // dl_iterate_phdr's load and unload counters when last read
    unsigned long long subs = ~0ull;
    std::vector<Range> ranges;
};
}  // namespace

std::vector<Range> static_storage() {
    // Process-wide and never destroyed: a heap may be torn down during thread or process exit.
    static auto* shared = new StaticStorage;
    static std::mutex mutex;
    std::lock_guard lock(mutex);
    StaticStorage& cache = *shared;
    struct Seen {
        unsigned long long adds = 0, subs = 0;
        bool counters = false;
    } seen;
    // The counters come with every module; reading them costs one call per module.
    dl_iterate_phdr(
        [](dl_phdr_info* info, std::size_t size, void* data) {
            auto* s = static_cast<Seen*>(data);
            if (size >= offsetof(dl_phdr_info, dlpi_subs) + sizeof(info->dlpi_subs)) {
                s->adds = info->dlpi_adds;
                s->subs = info->dlpi_subs;
                s->counters = true;
            }
            return 1;  // the first module is enough
        },
        &seen);
    if (seen.counters && seen.adds == cache.adds && seen.subs == cache.subs) return cache.ranges;
    // No exception may cross dl_iterate_phdr (it holds the loader's lock): a failure is noted.
    struct Collect {
        std::vector<Range> ranges;
        bool failed = false;
    } collect;
    dl_iterate_phdr(
        [](dl_phdr_info* info, std::size_t, void* data) {
            auto* c = static_cast<Collect*>(data);
            try {
                for (int i = 0; i < info->dlpi_phnum; ++i) {
                    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
                    if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_W)) continue;
                    const std::uintptr_t begin = info->dlpi_addr + ph.p_vaddr;
                    c->ranges.push_back(Range{begin, begin + ph.p_memsz});
                }
            } catch (...) {
                c->failed = true;
                return 1;
            }
            return 0;
        },
        &collect);
    if (collect.failed) {
        cache.ranges.clear();  // no memory: nothing is known to be static (the checks then trust more)
        cache.adds = cache.subs = ~0ull;
        return cache.ranges;
    }
    std::sort(collect.ranges.begin(), collect.ranges.end(),
              [](const Range& a, const Range& b) { return a.begin < b.begin; });
    cache.ranges = std::move(collect.ranges);
    cache.adds = seen.counters ? seen.adds : ~0ull;
    cache.subs = seen.counters ? seen.subs : ~0ull;
    return cache.ranges;
}

}  // namespace ouro::os
