// The platform layer: every call into the operating system the library makes goes through here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ouro::os {

struct Range {
    std::uintptr_t begin;
    std::uintptr_t end;
    bool contains(const void* p) const noexcept {
        const auto a = reinterpret_cast<std::uintptr_t>(p);
        return a >= begin && a < end;
    }
};

// The writable segments of every loaded module (.data, .bss: where globals and statics live),
// sorted by address (a copy: read again only when a module was loaded or unloaded since the last
// call). Empty where the platform cannot tell, or without memory.
std::vector<Range> static_storage();

}  // namespace ouro::os
