// The per-thread default PoolResource.
#include <ouro/pool_resource.hpp>

namespace ouro {
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
