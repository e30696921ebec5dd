// The 16-byte header of a managed object — a vtable pointer, a 32-bit count, a 32-bit GC word —
// and the word's layout (docs/design.md §1). Object (object.hpp) holds the two fields; everything
// that reads or writes them goes through ObjectAccess.
#pragma once

#include <ouro/config.hpp>

#include <cstddef>
#include <cstdint>

namespace ouro {
class Object;
}

namespace ouro::detail {

// The GC word. The low 10 bits hold flags and the generation; the upper 22 bits hold the object's
// position in the young list (generations 0 and 1) or, in generation 2, its epoch (see kPendingBase).
inline constexpr std::uint32_t kLive = 1u << 0;          // constructed by make<T>, not yet destroyed
inline constexpr std::uint32_t kTracked = 1u << 1;       // type has references: the collector sees it
inline constexpr std::uint32_t kHasFinalizer = 1u << 2;  // type overrides finalize()
inline constexpr std::uint32_t kFinalized = 1u << 3;     // finalize() has run (PEP 442: at most once)
inline constexpr std::uint32_t kHasWeakrefs = 1u << 4;   // weak references to it exist (weakref.hpp)
inline constexpr std::uint32_t kLarge = 1u << 5;         // lives outside the pools, behind a LargePrefix
inline constexpr std::uint32_t kUnreachable = 1u << 6;   // found unreachable by the running collection
// Its constructor threw after references to it were taken (Ref(this)): the block stays allocated,
// as a plain dead Object, until the last of those references goes (make<T>, docs/design.md §3).
inline constexpr std::uint32_t kZombie = 1u << 7;
inline constexpr std::uint32_t kGenShift = 8;            // two bits: 0 (young: 0 or 1 by list position),
inline constexpr std::uint32_t kGenMask = 3u << kGenShift;  // 2, or 3 (= permanent, after gc::freeze)
inline constexpr std::uint32_t kIndexShift = 10;
inline constexpr std::uint32_t kPermanent = 3;
inline constexpr std::uint32_t kNoIndex = (1u << (32 - kIndexShift)) - 1;  // 4,194,303
inline constexpr std::uint32_t kYoungListLimit = 1u << 21;  // young list positions are below it
// In generation 2 the index bits are free: an object promoted there by a young collection holds
// the number of the full collections' epoch it was promoted in, from kPendingBase up (it counts
// in long_lived_pending while it lives and the epoch is current; see Schedule::pending_index).
inline constexpr std::uint32_t kPendingBase = kYoungListLimit;
inline constexpr std::uint32_t kFlagBits = (1u << kIndexShift) - 1;

struct ObjectAccess;
std::uint32_t& gcword(Object* o) noexcept;
std::uint32_t& refcnt(Object* o) noexcept;

inline std::uint32_t generation(std::uint32_t w) noexcept { return (w & kGenMask) >> kGenShift; }

// The object make<T> is placing: Object's constructor gives the header word to the object built
// at `block` and to no other, so objects constructed while T's constructor arguments are
// evaluated (a default argument that calls make<U>, a by-value parameter of an Object type)
// neither take T's identity nor lose their own. make<T> nests (a constructor may call make<U>):
// each level saves the one it replaces.
struct Construction {
    const void* block = nullptr;
    std::uint32_t word = 0;
#if OURO_CHECKS
    std::size_t size = 0;   // of the block: Refs constructed inside it are T's members
    std::size_t refs = 0;   // Ref members constructed so far
#endif
};
inline thread_local Construction t_construction;

}  // namespace ouro::detail
