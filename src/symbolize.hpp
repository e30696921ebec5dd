// From return addresses to C++ call sites, at report time only (tracemalloc's snapshots):
// function, file and line, one frame per inlined call, from the DWARF debug information through
// elfutils' libdw when the system has it (loaded with dlopen: the library links nothing), else
// function names from the ELF symbol tables (docs/design.md §10).
#pragma once

#include <ouro/tracemalloc.hpp>

#include <cstdint>
#include <vector>

namespace ouro::detail {

struct SymbolFrame {
    tracemalloc::Frame frame;
    bool library;  // ouroboros' or the standard library's own code
};

// The frames at a return address, the innermost (most recent) first. Never empty.
const std::vector<SymbolFrame>& symbolize(std::uintptr_t return_address);

// Whether the function holding pc is ouroboros' or the standard library's, by the ELF symbol
// tables, loaded by warm_library_ranges() (tracemalloc::start) so that the allocation path only
// searches them. Unknown addresses are not library code.
void warm_library_ranges();
bool is_library_code(std::uintptr_t pc) noexcept;

// Whether libdw could be loaded (file and line numbers are available).
bool have_line_numbers();

}  // namespace ouro::detail
