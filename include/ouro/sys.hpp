// ouro::sys — the parts of Python's sys module that concern memory.
#pragma once

#include <ouro/malloc_stats.hpp>
#include <ouro/object.hpp>

#include <cstddef>
#include <iostream>
#include <string>
#include <vector>

namespace ouro::sys {

// Bytes the object occupies: its whole block (header, fields and allocator rounding; for a
// large object the system allocation with its prefix) plus Object::owned_bytes().
std::size_t getsizeof(const Object& obj);

// pympler's asizeof: getsizeof of obj and of every object reachable from it through trace(),
// each counted once. Iterative (a chain of any length is fine); objects of another heap are not
// followed. trace() exceptions propagate.
std::size_t getsizeof_deep(const Object& obj);

// One row of getsizeof_members: objects first reached through one reference.
struct MemberSize {
    std::string name;          // "self", then the attribute name (DynObject) or "[i]": the i-th
                               // reference obj's trace() visits
    std::string type;          // the dynamic type of the object the reference names
    std::size_t objects = 0;   // objects counted in this row
    std::size_t bytes = 0;     // their getsizeof
};

// pandas' memory_usage(deep=True) for one object: "self" (its getsizeof), then one row per
// reference its trace() visits, in that order, with the deep size of what that reference reaches
// that no earlier row reached (a reference to something already counted has 0 bytes). The bytes
// add up to getsizeof_deep(obj).
std::vector<MemberSize> getsizeof_members(const Object& obj);

// The exact reference count (C++ adds no temporary reference for the argument).
std::size_t getrefcount(const Object& obj);

// The current heap's allocator figures (the struct behind debugmallocstats).
MallocStats mallocstats();

// Python's sys._debugmallocstats: per size class pools, blocks in use and free, then arenas
// (allocated in total, reclaimed, high-water, current) and where the mapped bytes go.
void debugmallocstats(std::ostream& out = std::cerr);

}  // namespace ouro::sys
