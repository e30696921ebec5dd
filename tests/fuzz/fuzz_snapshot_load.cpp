// libFuzzer target: tracemalloc::Snapshot::loads on arbitrary bytes must either load a snapshot
// (which then computes statistics and dumps back to the same bytes) or throw std::runtime_error.
#include <ouro/tracemalloc.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    ouro::tracemalloc::Snapshot s;
    try {
        s = ouro::tracemalloc::Snapshot::loads(bytes);
    } catch (const std::runtime_error&) {
        return 0;
    }
    for (const char* key : {"filename", "lineno", "traceback"}) (void)s.statistics(key);
    (void)s.compare_to(s, "lineno", true);
    (void)s.filter_traces({ouro::tracemalloc::Filter(true, "*a*"), ouro::tracemalloc::DomainFilter(false, 1)});
    // Loading and dumping again is stable (strings and tracebacks may be numbered anew).
    const std::string again = s.dumps();
    if (ouro::tracemalloc::Snapshot::loads(again).dumps() != again) {
        std::fprintf(stderr, "dump of a loaded snapshot does not load back to itself\n");
        std::abort();
    }
    return 0;
}
