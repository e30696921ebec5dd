// ouro::sys — the parts of Python's sys module that concern memory.
#pragma once

#include <ouro/malloc_stats.hpp>
#include <ouro/object.hpp>

#include <cstddef>
#include <iostream>

namespace ouro::sys {

// Bytes the object occupies: its whole block (header, fields and allocator rounding; for a
// large object the system allocation with its prefix) plus Object::owned_bytes().
std::size_t getsizeof(const Object& obj);

// The exact reference count (C++ adds no temporary reference for the argument).
std::size_t getrefcount(const Object& obj);

// The current heap's allocator figures (the struct behind debugmallocstats).
MallocStats mallocstats();

// Python's sys._debugmallocstats: per size class pools, blocks in use and free, then arenas
// (allocated in total, reclaimed, high-water, current) and where the mapped bytes go.
void debugmallocstats(std::ostream& out = std::cerr);

}  // namespace ouro::sys
