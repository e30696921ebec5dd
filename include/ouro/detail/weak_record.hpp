// The record behind weak references (weakref.hpp, docs/design.md §7), on its own so that the
// Visitor can see into a callback that holds references.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace ouro {
class Object;
class Visitor;
}  // namespace ouro

namespace ouro::detail {

// What a record is (docs/design.md §7):
//   Basic       a WeakRef without a callback; one per referent, shared by all such WeakRefs
//   BasicProxy  a Proxy without a callback (proxy.hpp); one per referent, shared likewise
//   Callback    a WeakRef or Proxy with a callback: a record of its own (WeakCallbackRecord)
//   Entry       an entry of a weak container (weak_table.hpp): the entry is the record, and the
//               referent's death removes it from its container without a type-erased callback
enum class WeakKind : std::uint8_t { Basic, BasicProxy, Callback, Entry };
inline constexpr std::uint8_t kWeakPooled = 1u << 0;  // memory from the referent's heap (else operator new)
inline constexpr std::uint8_t kWeakArmed = 1u << 1;   // its callback (an entry: its removal) is still due
inline constexpr std::uint8_t kWeakTraced = 1u << 2;  // its callback holds references: trace() visits them

struct WeakRecord {
    Object* referent;        // null once cleared (the referent died, or the record left its list)
    WeakRecord* prev;        // the referent's records: the basic ref, the basic proxy, then the
    WeakRecord* next;        // others newest first (CPython's order)
    std::uint32_t handles;   // WeakRefs sharing it, pins while callbacks run, an entry's container
    WeakKind kind;
    std::uint8_t flags;
    std::uint16_t state;     // an entry's, kept by its container
};
static_assert(sizeof(WeakRecord) == 32);

// Records with kWeakTraced alive in the process: while there are none (nearly always), visiting a
// weak reference does not read its record (in a big heap, a cache miss per weak reference).
inline std::atomic<std::size_t> g_traced_callbacks{0};

// A record with a callback: the std::function is type-erased by hand into the record, so that a
// record is one allocation (72 bytes).
struct WeakCallbackRecord;
struct WeakCallbackVtbl {
    void (*call)(WeakCallbackRecord* r, Object* referent);  // runs it (once)
    void (*drop)(WeakCallbackRecord* r) noexcept;           // destroys it, run or not
    void (*trace)(WeakCallbackRecord* r, Visitor& v);       // visits its references (kWeakTraced)
};
struct WeakCallbackRecord : WeakRecord {
    const WeakCallbackVtbl* vtbl;  // null when there is no function (any more)
    alignas(void*) unsigned char storage[32];  // the function, or a pointer to it when larger
};

}  // namespace ouro::detail
