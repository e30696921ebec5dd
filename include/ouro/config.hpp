// Build-wide switches and the few compiler helpers the inline fast paths need.
#pragma once

// OURO_CHECKS turns on misuse detection (wrong thread, unmanaged pointer, refcount overflow,
// double free). It changes inline code, so the library and its users must agree: the CMake
// target exports the value as a compile definition. Default: on in Debug, off otherwise.
#ifndef OURO_CHECKS
#  ifdef NDEBUG
#    define OURO_CHECKS 0
#  else
#    define OURO_CHECKS 1
#  endif
#endif

#define OURO_LIKELY(x) __builtin_expect(!!(x), 1)
#define OURO_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define OURO_ALWAYS_INLINE inline __attribute__((always_inline))
#define OURO_NOINLINE __attribute__((noinline))
