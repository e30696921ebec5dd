// The library's own invariants, checked on demand: the allocator's lists, buckets and counts, the
// young list, the large objects and the weak reference registry of a heap. The randomized model
// and the fuzzer call it at each of their checks; checked builds also check a contract at every
// phase boundary of every collection (src/collector.cpp). In every build.
#pragma once

#include <string>

namespace ouro {
class Heap;
}

namespace ouro::detail {

// The first broken invariant of h, described, or an empty string. Walks the whole heap.
std::string invariant_violation(Heap& h);

}  // namespace ouro::detail
