// The per-thread default PoolResource, and the list of resources by the thread that made them
// (tracemalloc::start traces the calling thread's).
#include "heap_state.hpp"

#include <ouro/pool_resource.hpp>

#include <algorithm>
#include <mutex>
#include <thread>
#include <vector>

namespace ouro {
namespace detail {
struct ResourceAccess {
    static BlockAllocator& allocator(PoolResource& r) noexcept { return r.alloc_; }
};
namespace {
struct Listed {
    PoolResource* resource;
    std::thread::id thread;
};
struct Resources {
    std::mutex mutex;
    std::vector<Listed> list;
};
Resources& resources() {
    static auto* r = new Resources;  // never destroyed: resources may outlive static destruction
    return *r;
}
}  // namespace

void for_each_thread_resource(const std::function<void(BlockAllocator&)>& f) {
    Resources& r = resources();
    std::lock_guard lock(r.mutex);
    const auto me = std::this_thread::get_id();
    for (const Listed& l : r.list)
        if (l.thread == me) f(ResourceAccess::allocator(*l.resource));
}
}  // namespace detail

PoolResource::PoolResource() {
    detail::Resources& r = detail::resources();
    {
        std::lock_guard lock(r.mutex);
        r.list.push_back({this, std::this_thread::get_id()});
    }
    // Made while this thread's heap is tracing: traced from the start.
    if (Heap* h = detail::t_current_heap) {
        detail::Tracer& t = detail::HeapAccess::state(*h).tracer;
        if (t.tracing()) {
            try {
                t.attach(alloc_, false);
            } catch (const std::bad_alloc&) {
                // not traced
            }
        }
    }
}

PoolResource::~PoolResource() {
    detail::Resources& r = detail::resources();
    std::lock_guard lock(r.mutex);
    std::erase_if(r.list, [this](const detail::Listed& l) { return l.resource == this; });
}

namespace {
// Destroyed at thread exit only if nothing is allocated from it any more: containers with a
// default PoolAllocator may outlive the thread (a static one outlives main's thread-locals).
struct DefaultResource {
    PoolResource* resource = nullptr;
    ~DefaultResource() {
        if (resource && resource->stats().bytes_in_use == 0 && resource->stats().large_blocks == 0) delete resource;
    }
};
thread_local DefaultResource t_default_resource;
}  // namespace

PoolResource& PoolResource::thread_default() {
    DefaultResource& d = t_default_resource;
    if (!d.resource) d.resource = new PoolResource;
    return *d.resource;
}

}  // namespace ouro
