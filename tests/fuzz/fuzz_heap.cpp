// libFuzzer target (docs/reliability.md §2): the randomized heap interpreter of tests/model_graph.hpp, driven
// by fuzzer bytes instead of a seeded generator, and checked against the same reachability model.
//
// Each input runs on a fresh heap. The first bytes pick the thresholds, then every operation
// draws its choices two bytes at a time (Source(data, size)); the run stops when the bytes are
// used up, then finish() drops everything, collects, and checks that nothing is left. A model
// violation prints the model's report (the operations that led to it) and aborts, so libFuzzer
// saves the input as a crash; ASan and UBSan catch memory errors on the way.
//
// Build and run: scripts/fuzz.sh [seconds]. Replay one input: build/h-rel-fuzz/tests/fuzz/fuzz_heap FILE
// (OURO_MODEL_TRACE=1 prints every operation).
#include "../model_graph.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory_resource>

namespace {

// An upper bound on the operations one input runs (an input draws at least two bytes per
// operation, so the usual -max_len keeps runs well below it).
constexpr std::size_t kMaxOps = 20000;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // Some nodes keep their edges in a pool over this stack buffer (it outlives the heap).
    alignas(64) std::byte stack_buffer[256 * 1024];
    std::pmr::monotonic_buffer_resource arena(stack_buffer, sizeof stack_buffer, std::pmr::new_delete_resource());
    std::pmr::unsynchronized_pool_resource stack_pool(std::pmr::pool_options{0, 16384}, &arena);
    ouro::Heap heap;
    ouro::Heap::Scope scope(heap);
    bool ok = true;
    std::string report;
    {
        ouro_model::Model m(0);
        m.set_edge_resource(&stack_pool);
        ouro_model::Source src(data, size);
        ouro::gc::set_threshold(1 + src.below(30), 1 + src.below(6), 1 + src.below(6));
        ouro_model::Options opt;
        opt.max_alive = 200;  // smaller waves than the seeded test: more of them per input
        for (std::size_t i = 0; i < kMaxOps && !src.exhausted(); ++i)
            if (!ouro_model::step(m, src, i, opt)) break;
        if (!m.failed()) m.finish();
        ok = !m.failed();
        if (!ok) report = m.report();
    }
    if (!ok) {
        std::fprintf(stderr, "fuzz_heap: model violation (input of %zu bytes)\n%s\n", size, report.c_str());
        std::abort();
    }
    return 0;
}
