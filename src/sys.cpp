// sys.getsizeof and sys.getrefcount.
#include "heap_state.hpp"

#include <ouro/sys.hpp>

#include <stdexcept>

namespace ouro::sys {

std::size_t getsizeof(const Object& obj) {
    auto* o = const_cast<Object*>(&obj);
    if (!(detail::gcword(o) & detail::kLive))
        throw std::invalid_argument("ouro::sys::getsizeof: the object was not made by ouro::make");
    std::size_t block = (detail::gcword(o) & detail::kLarge) ? detail::large_prefix(o)->size
                                                             : detail::pool_of(o)->block_size;
    return block + obj.owned_bytes();
}

std::size_t getrefcount(const Object& obj) { return detail::ObjectAccess::refcnt(obj); }

}  // namespace ouro::sys

namespace ouro::sys {

MallocStats mallocstats() { return detail::HeapAccess::allocator(Heap::current()).stats(); }

void debugmallocstats(std::ostream& out) { print_mallocstats(out, mallocstats()); }

}  // namespace ouro::sys
