// ouro::sys — the parts of Python's sys module that concern memory.
#pragma once

#include <ouro/object.hpp>

#include <cstddef>

namespace ouro::sys {

// Bytes the object occupies: its whole block (header, fields and allocator rounding; for a
// large object the system allocation with its prefix) plus Object::owned_bytes().
std::size_t getsizeof(const Object& obj);

// The exact reference count (C++ adds no temporary reference for the argument).
std::size_t getrefcount(const Object& obj);

}  // namespace ouro::sys
