// How messages name an object (see describe.hpp).
#include "describe.hpp"

#include <cstdlib>
#include <cxxabi.h>
#include <sstream>
#include <typeinfo>

namespace ouro::detail {

std::string describe(const Object& o) {
    std::ostringstream out;
    const std::uint32_t w = ObjectAccess::gcword(o);
    // A dead block has no type left to ask for; a zombie's is a placeholder.
    if (!(w & kLive) || (w & kZombie)) {
        out << "<" << ((w & kLive) ? "dead object (its constructor threw)" : "dead or unmanaged object") << " at "
            << static_cast<const void*>(&o) << '>';
        return out.str();
    }
    out << '<' << type_name(o) << " at " << static_cast<const void*>(&o) << '>';
    return out.str();
}

std::string type_name(const Object& o) {
    const char* mangled = typeid(o).name();
    int status = 0;
    char* name = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
    std::string out = status == 0 && name ? name : mangled;
    std::free(name);
    return out;
}

}  // namespace ouro::detail
