// The table behind WeakValueDictionary, WeakKeyDictionary and WeakSet: entries that are each a
// weak reference record (WeakKind::Entry) linked into its referent's list, so that the referent's
// death removes the entry directly, with no type-erased callback (docs/design.md §7).
//
// Why it is shaped this way:
// - An entry is 32 bytes of record, 4 of offset to its chunk (where its table is named) and the
//   container's payload (a key, a value, a key's address, a stored hash): 40 bytes for an int key.
//   The index holds 8-byte buckets (id + hash). Nothing is allocated per entry: entries live in
//   chunks of slots with stable addresses and stable ids (chunks are only freed when the table
//   is empty).
// - The container holds one handle on each of its entries. Other handles come from getweakrefs
//   (a WeakRef to an entry works like any other) and from the pins that death takes while it
//   runs removals. When the container lets go of an entry that has other handles, the slot is
//   retired: it stays (and keeps its table alive) until the last handle goes, and the record,
//   still linked while its referent lives, acts as a weak reference without a callback.
// - The table is counted: the container holds one reference, each retired slot and each active
//   iteration another, and code that runs user code holds a pin. So a container destroyed before
//   its referents, inside a callback, by a destructor its own removal runs, or under an active
//   iterator, is safe.
// - While any iteration is active, a removed entry only leaves the index; its payload is destroyed
//   and its slot reused once the last iteration ends (CPython's _IterationGuard and
//   _pending_removals). So entries dying mid-loop, even in a collection the loop body triggers,
//   never invalidate an iterator, and no entry is yielded twice.
// - User code (payload constructors and destructors, the deaths they cause and the callbacks those
//   run) only runs once the table is consistent, with the slot it concerns in limbo (reached by
//   no lookup, iteration, trace or clear, its chunk kept). Payloads are destroyed in place, never
//   moved, so a throwing move cannot leave an entry half removed.
// - The three containers differ only in their payloads and keys: the iterator (WeakIterator) and
//   the members that do not depend on the key (WeakContainer) are written once, here.
#pragma once

#include <ouro/detail/open_table.hpp>
#include <ouro/exceptions.hpp>
#include <ouro/weakref.hpp>

#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <new>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

namespace ouro::detail {

inline constexpr std::uint32_t kNoId = UINT32_MAX;

// 32 well-mixed bits of a hash: std::hash of a pointer is the address, whose low bits are zero.
inline std::uint32_t mix_hash(std::size_t h) noexcept { return static_cast<std::uint32_t>(mix(h)); }

// What src/weakref.cpp calls on the table of an entry (WeakKind::Entry).
class WeakTableCore {
public:
    // The entry's referent died and its removal is due: remove it. Returns whether user code ran
    // (a payload's destructor), which may throw.
    virtual bool entry_died(WeakRecord* entry) = 0;
    // The last handle to an entry its container no longer holds went away (its record is out of
    // its referent's list): the slot is free.
    virtual void entry_released(WeakRecord* entry) noexcept = 0;

protected:
    WeakTableCore() = default;
    ~WeakTableCore() = default;
};

// The start of a chunk of slots.
struct WeakChunk {
    WeakTableCore* table;
    std::uint32_t first_id;
};

// What every slot starts with: the record, and the way back to its table.
struct WeakEntryHead : WeakRecord {
    std::uint32_t chunk_offset;  // bytes from its chunk's WeakChunk
};
inline WeakChunk* chunk_of(const WeakRecord* entry) noexcept {
    const auto* e = static_cast<const WeakEntryHead*>(entry);
    return reinterpret_cast<WeakChunk*>(const_cast<char*>(reinterpret_cast<const char*>(e)) - e->chunk_offset);
}
inline WeakTableCore* table_of(const WeakRecord* entry) noexcept { return chunk_of(entry)->table; }

// A slot's state (WeakRecord::state).
enum WeakSlotState : std::uint16_t {
    kSlotFree,     // on the free list (`next` links it), or being filled by insert(); no handles
    kSlotLive,     // in the index, with its payload; the container holds one handle
    kSlotDead,     // removed during an iteration: out of the index, payload kept until the last
                   // iteration ends; the container holds no handle (linked while others do)
    kSlotDoomed,   // let go of by clear(), its payload not destroyed yet
    kSlotDying,    // its payload is being destroyed (user code runs); then free or retired
    kSlotRetired,  // let go of by the container with other handles left: no payload; it holds
                   // one reference to the table until the last handle goes
};

// A slot: the record's head, then the payload (right after the 4-byte offset when it is 4-byte
// aligned: WeakEntryHead is not standard-layout, so its tail padding is reused).
template <class Payload>
struct WeakSlot : WeakEntryHead {
    alignas(Payload) unsigned char storage[sizeof(Payload)];
    Payload& payload() noexcept { return *std::launder(reinterpret_cast<Payload*>(storage)); }
    const Payload& payload() const noexcept { return *std::launder(reinterpret_cast<const Payload*>(storage)); }
    // Its referent lives (a referent whose count is 0 is dying and counts as dead).
    bool alive() const noexcept { return referent && ObjectAccess::refcnt(*referent) != 0; }
};

// From a hash to entry ids. Buckets keep the hash (id + 1, so that zero is empty), so growing never
// calls user code; a lookup allocates nothing.
class WeakIndex {
public:
    // The id under hash h that eq(id) accepts, or kNoId. eq may be user code (a KeyEqual) that
    // throws, or changes this index: adds or removes entries, or kills referents whose entries
    // then go. When the index changed during a call, the probe stops there (its buckets may have
    // moved or been freed) and the lookup starts over, as CPython's set and dict lookups restart
    // when a comparison mutated the table (Objects/setobject.c set_do_lookup, Objects/dictobject.c).
    template <class Eq>
    std::uint32_t find(std::uint32_t h, Eq&& eq) const {
        for (;;) {
            const std::uint64_t epoch = epoch_;
            bool changed = false;
            std::uint32_t found = kNoId;
            table_.find(h, [&](const Bucket& x) {
                if (x.hash_ != h) return false;
                const std::uint32_t id = x.id_plus_one - 1;  // x may not survive eq
                const bool equal = eq(id);
                if (epoch_ != epoch) {
                    changed = true;
                    return true;
                }
                if (equal) found = id;
                return equal;
            });
            if (!changed) return found;
        }
    }
    // Room for one more entry, so the insert that follows cannot fail.
    void reserve_one() {
        ++epoch_;  // may move the buckets
        table_.reserve_one();
    }
    void insert(std::uint32_t h, std::uint32_t id) noexcept {
        ++epoch_;
        table_.place(Bucket{id + 1, h});
    }
    void erase(std::uint32_t h, std::uint32_t id) noexcept {
        ++epoch_;
        if (Bucket* b = table_.find(h, [&](const Bucket& x) { return x.id_plus_one == id + 1; })) table_.erase(b);
    }
    void reset() noexcept {
        ++epoch_;
        table_.clear();
    }
    std::uint64_t epoch() const noexcept { return epoch_; }

private:
    struct Bucket {
        std::uint32_t id_plus_one;  // 0: empty
        std::uint32_t hash_;
        bool empty() const noexcept { return id_plus_one == 0; }
        std::size_t hash() const noexcept { return hash_; }
    };
    WeakHash<Bucket> table_;
    std::uint64_t epoch_ = 0;  // changes with every change of table_ (find's restarts)
};

// Traits: `Payload`, and `static std::uint32_t hash(const WeakSlot<Payload>&) noexcept` (the
// hash the entry is indexed under: stored in the payload, or recomputed from it).
template <class Traits>
class WeakTable final : public WeakTableCore {
public:
    using Payload = typename Traits::Payload;
    using Slot = WeakSlot<Payload>;
    static_assert(std::is_nothrow_destructible_v<Payload>, "ouro: a weak container's keys and values must not throw from their destructors");
    // Making, moving and destroying such a payload runs no user code: no pin is needed around it.
    static constexpr bool kTrivialPayload = std::is_trivially_copyable_v<Payload>;

    // Counted: the container holds one reference, each retired slot another, each active
    // iteration another.
    static WeakTable* create() { return new WeakTable; }
    void acquire() noexcept { ++refs_; }
    // Out of line: inlined next to a second release of the same table (a pin inside clear(),
    // then the container's own reference), GCC 12 at -O2 and above reports a use after free
    // that the count rules out.
    OURO_NOINLINE static void release(WeakTable* t) noexcept {
        if (--t->refs_ == 0) delete t;
    }
    // Holds a table across user code that might destroy its container.
    struct Pin {
        WeakTable* t;
        explicit Pin(WeakTable* table) noexcept : t(table) { t->acquire(); }
        ~Pin() { release(t); }
        Pin(const Pin&) = delete;
        Pin& operator=(const Pin&) = delete;
    };
    // An iteration while it lives (CPython's _IterationGuard): removals only take entries out of
    // the index, so references into payloads stay valid across user code.
    class Guard {
    public:
        explicit Guard(WeakTable* t) noexcept : t_(t) {
            if (t_) t_->begin_iteration();
        }
        Guard(Guard&& o) noexcept : t_(std::exchange(o.t_, nullptr)) {}
        Guard& operator=(Guard&& o) noexcept {
            std::swap(t_, o.t_);
            return *this;
        }
        ~Guard() { end(); }
        void end() noexcept {
            if (WeakTable* t = std::exchange(t_, nullptr)) end_iteration(t);
        }
        WeakTable* table() const noexcept { return t_; }

    private:
        WeakTable* t_ = nullptr;
    };

    std::size_t live() const noexcept { return live_; }
    std::uint64_t index_epoch() const noexcept { return index_.epoch(); }
    std::uint32_t slot_count() const noexcept { return count_; }
    Slot& slot(std::uint32_t id) const noexcept {
        if (id < kGeometricIds) {
            const unsigned k = static_cast<unsigned>(std::bit_width((id >> kFirstLog) + 1u)) - 1;
            return slots_of(chunks_[k])[id - ((1u << (k + kFirstLog)) - (1u << kFirstLog))];
        }
        const std::uint32_t rest = id - kGeometricIds;
        return slots_of(chunks_[kGeometricChunks + (rest >> kLastLog)])[rest & ((1u << kLastLog) - 1)];
    }
    static std::uint32_t id_of(const Slot& s) noexcept {
        return chunk_of(&s)->first_id + static_cast<std::uint32_t>((s.chunk_offset - kHeader) / sizeof(Slot));
    }

    // The Live slot under hash h that eq(slot) accepts, or null.
    template <class Eq>
    Slot* find(std::uint32_t h, Eq&& eq) const {
        const std::uint32_t id = index_.find(h, [&](std::uint32_t i) { return eq(static_cast<const Slot&>(slot(i))); });
        return id == kNoId ? nullptr : &slot(id);
    }

    // Adds an entry under hash h for referent, its payload made by make(void* storage) (a
    // placement new, which may run user code). When `replaced` (a Live slot) is given, it is
    // removed once the new entry is in, so the key is never missing. Nothing changes if make,
    // the index or the linking throws.
    template <class Make>
    void insert(std::uint32_t h, Object* referent, Make&& make, Slot* replaced = nullptr) {
        if (closed_) throw std::logic_error("ouro: a weak container was added to while it was being destroyed");
        std::conditional_t<kTrivialPayload, NoPin, Pin> pin(this);
        // While make runs user code, `replaced` may be removed: as in an iteration, its slot then
        // stays out of reuse (Dead) rather than come back as another key's entry, which the
        // removal below would take.
        Guard keep_replaced(replaced && !kTrivialPayload ? this : nullptr);
        Slot& s = take_slot();  // in limbo: no one else reaches it, and clear() keeps its chunk
        ++limbo_;
        try {
            make(static_cast<void*>(s.storage));
        } catch (...) {
            --limbo_;
            put_back(s);
            throw;
        }
        s.handles = 1;
        s.kind = WeakKind::Entry;
        s.flags = kWeakArmed;
        try {
            // make's user code may have destroyed the container (closing this table, which
            // would then be freed with the entry still linked into its referent's list).
            if (closed_) throw std::logic_error("ouro: a weak container was destroyed while being added to");
            index_.reserve_one();  // after make: user code there may have shrunk the index
            weak_link(&s, referent);
        } catch (...) {
            s.handles = 0;
            s.payload().~Payload();
            --limbo_;
            put_back(s);
            throw;
        }
        --limbo_;
        s.state = kSlotLive;
        index_.insert(h, id_of(s));
        ++live_;
        if (!replaced) changed();
        else if (replaced->state == kSlotLive) remove(*replaced);
    }

    // Points Live entry s (under hash h) at another referent: in place when only the container
    // holds its record; otherwise that record stays with its other holders (a WeakRef from
    // getweakrefs, or a death running its removal) and a new entry from make replaces it.
    // Returns whether make made a new entry.
    template <class Make>
    bool repoint(std::uint32_t h, Slot& s, Object* referent, Make&& make) {
        if (s.handles != 1) {
            insert(h, referent, make, &s);
            return true;
        }
        weak_relink(&s, referent);
        s.flags |= kWeakArmed;
        return false;
    }

    // Removes a Live entry: now, or (its payload) when the last iteration ends.
    void remove(Slot& s) noexcept {
        index_.erase(Traits::hash(s), id_of(s));
        --live_;
        s.flags &= static_cast<std::uint8_t>(~kWeakArmed);
        let_go(s);
        if (iterating_ != 0) {
            s.state = kSlotDead;
            ++deferred_;
            return;
        }
        finish(s);
    }

    // Every entry goes: during an iteration, as remove(); otherwise all leave the table first,
    // then their payloads are destroyed one by one (user code, which may use the container).
    void clear() noexcept {
        if (iterating_ != 0) {
            for (std::uint32_t id = 0; id < count_; ++id)
                if (slot(id).state == kSlotLive) remove(slot(id));
            return;
        }
        std::conditional_t<kTrivialPayload, NoPin, Pin> pin(this);
        for (std::uint32_t id = 0; id < count_; ++id) {
            Slot& s = slot(id);
            if (s.state == kSlotLive) {
                s.flags &= static_cast<std::uint8_t>(~kWeakArmed);
                let_go(s);
            } else if (s.state != kSlotDead) {
                continue;
            }
            if constexpr (kTrivialPayload) {
                settle(s);
            } else {
                s.state = kSlotDoomed;
                ++limbo_;
            }
        }
        index_.reset();
        live_ = 0;
        deferred_ = 0;
        if constexpr (!kTrivialPayload)
            for (std::uint32_t id = 0; id < count_; ++id)
                if (slot(id).state == kSlotDoomed) {
                    --limbo_;
                    destroy_payload(slot(id));
                }
        // Nothing left in the chunks (nor anything user code just added): give them back.
        if (live_ == 0 && retired_ == 0 && deferred_ == 0 && iterating_ == 0 && limbo_ == 0) release_chunks();
    }
    // The container is being destroyed: adding to it from now on is an error.
    void close() noexcept { closed_ = true; }
    // An entry was added or removed other than by a death: the active iterations are invalid.
    void changed() noexcept { ++version_; }
    std::uint32_t version() const noexcept { return version_; }
    // A Live slot (alive or not), scanning on from where the last one was found (a pop loop then
    // costs one pass, as Python's set.pop keeps a finger); null when there is none.
    Slot* next_live() noexcept {
        for (std::uint32_t n = 0; live_ != 0 && n < count_; ++n) {
            if (finger_ >= count_) finger_ = 0;
            Slot& s = slot(finger_++);
            if (s.state == kSlotLive) return &s;
        }
        return nullptr;
    }

    // For trace(): f(slot) for every slot the container still owns (Live and Dead).
    template <class F>
    void for_each_owned(F&& f) {
        for (std::uint32_t id = 0; id < count_; ++id) {
            Slot& s = slot(id);
            if (s.state == kSlotLive || s.state == kSlotDead) f(s);
        }
    }

private:
    struct NoPin {
        explicit NoPin(WeakTable*) noexcept {}
    };
    // Chunks hold 8, 16, ..., 512 slots, then 512 each: a small container stays small, and a
    // big one wastes at most one chunk.
    static constexpr unsigned kFirstLog = 3;
    static constexpr unsigned kLastLog = 9;
    static constexpr unsigned kGeometricChunks = kLastLog - kFirstLog;  // 8 .. 256
    static constexpr std::uint32_t kGeometricIds = (1u << kLastLog) - (1u << kFirstLog);  // 504
    static constexpr std::size_t kHeader = (sizeof(WeakChunk) + alignof(Slot) - 1) / alignof(Slot) * alignof(Slot);
    static std::uint32_t chunk_capacity(std::size_t k) noexcept {
        return k < kGeometricChunks ? 1u << (k + kFirstLog) : 1u << kLastLog;
    }
    static Slot* slots_of(WeakChunk* c) noexcept {
        return std::launder(reinterpret_cast<Slot*>(reinterpret_cast<char*>(c) + kHeader));
    }

    WeakTable() = default;
    ~WeakTable() { release_chunks(); }

    bool entry_died(WeakRecord* entry) noexcept override {
        Slot& s = static_cast<Slot&>(*static_cast<WeakEntryHead*>(entry));
        if (s.state != kSlotLive) return false;
        const bool user_code = !kTrivialPayload && iterating_ == 0;
        remove(s);
        return user_code;
    }
    void entry_released(WeakRecord* entry) noexcept override {
        Slot& s = static_cast<Slot&>(*static_cast<WeakEntryHead*>(entry));
        if (s.state != kSlotRetired) return;  // Dead, Doomed or Dying: settled when its payload goes
        --retired_;
        put_back(s);
        release(this);  // the retired slot's reference; may destroy the table: last
    }

    // An iteration begins (a Guard, or an iterator) and holds the table until it ends.
    void begin_iteration() noexcept {
        ++iterating_;
        acquire();
    }
    static void end_iteration(WeakTable* t) noexcept {
        if (--t->iterating_ == 0 && t->deferred_ != 0) t->commit();
        release(t);
    }

    // The container drops its handle on s. When that was the last, nothing else can see the
    // record (no one is running its callback: they pin it): it leaves its referent's list now.
    void let_go(Slot& s) noexcept {
        if (--s.handles == 0 && s.referent) weak_unlink(&s);
    }
    // s is out of the index and let go of: its payload goes now.
    void finish(Slot& s) noexcept {
        if constexpr (kTrivialPayload) {
            settle(s);
        } else {
            Pin pin(this);
            destroy_payload(s);
        }
    }
    // Destroys s's payload in place, s in limbo meanwhile (the destructor is user code, which may
    // use the container but cannot reach s), then settles s.
    void destroy_payload(Slot& s) noexcept {
        s.state = kSlotDying;
        ++limbo_;
        s.payload().~Payload();
        --limbo_;
        settle(s);
    }
    // s has no payload any more: free, or retired while others hold handles.
    void settle(Slot& s) noexcept {
        if (s.handles == 0) {
            put_back(s);
        } else {
            s.state = kSlotRetired;
            ++retired_;
            acquire();
        }
    }

    // A slot off the free list (made when there is none): no payload, no handles, linked nowhere.
    Slot& take_slot() {
        Slot* s = free_head_;
        if (s) {
            free_head_ = static_cast<Slot*>(static_cast<WeakEntryHead*>(s->next));
        } else {
            if (count_ == capacity_) {
                if (count_ >= kNoId - (1u << kLastLog)) throw std::length_error("ouro: weak container is full");
                grow();
            }
            s = &slot(count_++);
        }
        s->state = kSlotFree;
        s->handles = 0;
        s->referent = nullptr;
        s->prev = s->next = nullptr;
        return *s;
    }
    void put_back(Slot& s) noexcept {
        s.state = kSlotFree;
        s.referent = nullptr;
        s.prev = nullptr;
        s.next = free_head_;
        free_head_ = &s;
    }
    void grow() {
        const std::size_t k = chunks_.size();
        const std::uint32_t cap = chunk_capacity(k);
        chunks_.reserve(k + 1);
        fault_point();
        void* mem = ::operator new(kHeader + std::size_t{cap} * sizeof(Slot), std::align_val_t{alignof(Slot)});
        auto* c = ::new (mem) WeakChunk{this, capacity_};
        Slot* slots = slots_of(c);
        for (std::uint32_t i = 0; i < cap; ++i) {
            Slot* s = ::new (static_cast<void*>(slots + i)) Slot;
            s->chunk_offset = static_cast<std::uint32_t>(kHeader + std::size_t{i} * sizeof(Slot));
        }
        chunks_.push_back(c);
        capacity_ += cap;
    }
    void release_chunks() noexcept {
        for (WeakChunk* c : chunks_) ::operator delete(static_cast<void*>(c), std::align_val_t{alignof(Slot)});
        chunks_.clear();
        chunks_.shrink_to_fit();
        count_ = capacity_ = 0;
        free_head_ = nullptr;
    }

    // Finishes the entries removed during the iterations that just ended (the ending iteration
    // still holds the table).
    void commit() noexcept {
        deferred_ = 0;
        for (std::uint32_t id = 0; id < count_; ++id) {
            if (iterating_ != 0) {  // user code started a new iteration: it commits the rest
                deferred_ = 1;
                return;
            }
            if (slot(id).state == kSlotDead) finish(slot(id));
        }
    }

    std::size_t refs_ = 1;
    std::vector<WeakChunk*> chunks_;
    std::uint32_t count_ = 0;     // slots handed out at least once (ids below it)
    std::uint32_t capacity_ = 0;  // slots in the chunks
    Slot* free_head_ = nullptr;
    WeakIndex index_;             // Live entries only
    std::size_t live_ = 0;        // Live entries, including any whose removal is still due
    std::size_t retired_ = 0;
    std::size_t iterating_ = 0;   // active iterations
    std::size_t deferred_ = 0;    // Dead slots waiting for iterations to end
    std::size_t limbo_ = 0;       // slots being filled, Doomed or Dying: their chunks must stay
    std::uint32_t version_ = 0;   // changes by the container's users (not by deaths)
    std::uint32_t finger_ = 0;    // where next_live() goes on
    bool closed_ = false;
};

// A position in a table that counts as an active iteration until it reaches the end.
template <class Table>
class WeakCursor {
public:
    using Slot = typename Table::Slot;

    WeakCursor() noexcept = default;
    explicit WeakCursor(Table* t) noexcept : guard_(t), version_(t ? t->version() : 0) {}
    WeakCursor(const WeakCursor& o) noexcept : guard_(o.guard_.table()), pos_(o.pos_), version_(o.version_) {}
    WeakCursor(WeakCursor&& o) noexcept = default;
    WeakCursor& operator=(WeakCursor o) noexcept {
        std::swap(guard_, o.guard_);
        std::swap(pos_, o.pos_);
        std::swap(version_, o.version_);
        return *this;
    }

    // The next Live slot, or null (and the iteration is over). Throws std::runtime_error when
    // the container was changed since the iteration began.
    Slot* next() {
        if (Table* t = guard_.table(); t && t->version() != version_)
            throw std::runtime_error("ouro: weak container changed size during iteration");
        while (Table* t = guard_.table()) {
            if (++pos_ >= t->slot_count()) break;
            Slot& s = t->slot(static_cast<std::uint32_t>(pos_));
            if (s.state == kSlotLive) return &s;
        }
        guard_.end();
        return nullptr;
    }
    Slot& slot() const noexcept { return guard_.table()->slot(static_cast<std::uint32_t>(pos_)); }
    bool operator==(const WeakCursor& o) const noexcept {
        return guard_.table() == o.guard_.table() && (!guard_.table() || pos_ == o.pos_);
    }

private:
    typename Table::Guard guard_{nullptr};
    std::size_t pos_ = SIZE_MAX;  // ++ wraps it to the first slot
    std::uint32_t version_ = 0;   // the table's when the iteration began
};

// A container's handle on its table: created on first insert, so an empty container costs a
// null pointer and default construction cannot throw. Destroying it clears the table (closed
// first: user code that runs then may use the container, but not add to it).
template <class Table>
class WeakTableHandle {
public:
    WeakTableHandle() noexcept = default;
    WeakTableHandle(WeakTableHandle&& o) noexcept : t_(std::exchange(o.t_, nullptr)) {}
    WeakTableHandle& operator=(WeakTableHandle&& o) noexcept {
        WeakTableHandle(std::move(o)).swap(*this);
        return *this;
    }
    ~WeakTableHandle() {
        if (!t_) return;
        t_->close();
        t_->clear();
        Table::release(std::exchange(t_, nullptr));
    }
    void swap(WeakTableHandle& o) noexcept { std::swap(t_, o.t_); }
    Table* get() const noexcept { return t_; }
    Table& make() {
        if (!t_) t_ = Table::create();
        return *t_;
    }

private:
    Table* t_ = nullptr;
};

}  // namespace ouro::detail

namespace ouro {

// How WeakSet and WeakKeyDictionary compare their members and keys by default: by identity, the
// object's address (Python compares weak references by their referents' __eq__, which for most
// objects is identity). A Hash/KeyEqual pair over the referents' values (called with `const T&`)
// compares them by value instead.
struct IdentityHash {
    std::size_t operator()(const Object& o) const noexcept { return std::hash<const void*>()(&o); }
};
struct IdentityEqual {
    bool operator()(const Object& a, const Object& b) const noexcept { return &a == &b; }
};

}  // namespace ouro

namespace ouro::detail {

inline std::uint32_t identity_hash(const Object* identity) noexcept {
    return mix_hash(std::hash<const void*>()(identity));
}

// What an entry keyed by its referent keeps of the key: its address (by identity), or the hash of
// its value (by value: Python's weak references cache their referent's hash, so an entry can be
// removed after its referent died). By identity, an entry whose record was cleared without its
// removal (its container was garbage, then revived) is still found by the address, and the object
// at that address takes the entry back; by value, a dead entry equals nothing, as in Python.
template <class Hash, class KeyEqual>
inline constexpr bool kIdentityKeys = std::is_same_v<Hash, IdentityHash> && std::is_same_v<KeyEqual, IdentityEqual>;
template <class Hash, class KeyEqual>
using StoredKey = std::conditional_t<kIdentityKeys<Hash, KeyEqual>, const Object*, std::uint32_t>;
template <class Stored>
struct ReferentTraits {
    template <class Slot>
    static std::uint32_t hash(const Slot& s) noexcept {
        if constexpr (std::is_pointer_v<Stored>) return identity_hash(s.payload().key);
        else return s.payload().key;
    }
};

template <class Derived>
class WeakContainer;

// A weak container's iterator. It holds a strong reference to the referent of the entry it is
// on, so that entry cannot die while the loop body uses it; entries dying elsewhere are skipped.
// Adding to the container or removing from it (other than by deaths) while it runs makes the next
// step throw std::runtime_error, as Python raises RuntimeError.
// Yield says what it yields: value_type, reference, pointer (void: no operator->), `Held` (the
// Ref<X> it holds) and `static reference get(Slot&, const Held&) noexcept`.
template <class Owner, class Table, class Yield>
class WeakIterator {
    using Held = typename Yield::Held;
    using X = typename Held::element_type;

public:
    using iterator_category = std::input_iterator_tag;
    using value_type = typename Yield::value_type;
    using reference = typename Yield::reference;
    using pointer = typename Yield::pointer;
    using difference_type = std::ptrdiff_t;

    WeakIterator() noexcept = default;
    reference operator*() const noexcept { return Yield::get(cursor_.slot(), held_); }
    pointer operator->() const noexcept
        requires(!std::is_void_v<pointer>)
    {
        return std::addressof(**this);
    }
    WeakIterator& operator++() {
        advance();
        return *this;
    }
    void operator++(int) { advance(); }
    bool operator==(const WeakIterator& o) const noexcept { return cursor_ == o.cursor_; }

private:
    friend WeakContainer<Owner>;  // begin() makes them
    explicit WeakIterator(Table* t) : cursor_(t) { advance(); }
    void advance() {
        while (auto* slot = cursor_.next())
            if (slot->alive()) {
                held_ = Held(static_cast<X*>(slot->referent));
                return;
            }
        held_ = nullptr;  // may end the last loop's grip on an object: do it last
    }
    WeakCursor<Table> cursor_;  // declared first: destroyed after held_
    Held held_;
};

// The members the weak containers share, over Derived's `table_` (a WeakTableHandle) and its
// iterator types. CRTP, so each container keeps its payload private and its layout unchanged.
template <class Derived>
class WeakContainer {
public:
    // Live entries. One whose referent has died counts until its removal has run, which is
    // before the death completes (unless the container is itself garbage: see trace).
    std::size_t size() const noexcept {
        auto* t = table();
        return t ? t->live() : 0;
    }
    bool empty() const noexcept { return size() == 0; }
    void clear() {
        if (auto* t = table(); t && t->live() != 0) {
            t->changed();
            t->clear();
        }
    }

    auto begin() { return typename Derived::iterator(table()); }
    auto end() noexcept { return typename Derived::iterator(); }
    auto begin() const { return typename Derived::const_iterator(table()); }
    auto end() const noexcept { return typename Derived::const_iterator(); }

    // For a managed object that holds this container: call it from the object's trace(), so the
    // collector knows these weak references belong to the object. When the object is garbage,
    // their removals then do not run (CPython's rule); the container dies with it. An entry's
    // `value` (WeakKeyDictionary's) is visited too, so a cycle through the values can be collected.
    void trace(Visitor& visit) {
        if (auto* t = table())
            t->for_each_owned([&](auto& s) {
                if (s.state == kSlotLive) {
                    WeakRecord* r = &s;  // the container's handle on it
                    visit.visit_weak(r);
                }
                if constexpr (requires { s.payload().value; })
                    if constexpr (holds_refs<decltype(s.payload().value)>) visit(s.payload().value);
            });
    }

protected:
    auto* table() const noexcept { return static_cast<const Derived&>(*this).table_.get(); }
    auto& make_table() { return static_cast<Derived&>(*this).table_.make(); }

    // The Live slot under hash h that eq accepts, or null. When eq is user code (kUserCode), it
    // may remove entries, whose payloads it may be comparing (a key of a WeakValueDictionary),
    // and may replace or destroy this container's table (assign another container to this one).
    // So the lookup counts as an iteration (removals keep their payloads until it ends; Python
    // holds the key it compares), holds the table, and throws std::runtime_error when the table
    // is no longer the container's rather than hand back a slot of a table that may be gone.
    // When the removals finished at its end (user code again) changed the index, it looks again.
    template <bool kUserCode, class Eq>
    auto* lookup(std::uint32_t h, Eq&& eq) const {
        auto* t = table();
        using Table = std::remove_pointer_t<decltype(t)>;
        if (!t) return static_cast<typename Table::Slot*>(nullptr);
        if constexpr (kUserCode) {
            typename Table::Pin pin(t);
            for (;;) {
                typename Table::Guard guard(t);
                auto* s = t->find(h, eq);
                const std::uint64_t epoch = t->index_epoch();
                guard.end();
                if (table() != t) throw std::runtime_error("ouro: weak container replaced during a lookup");
                if (t->index_epoch() == epoch) return s;
            }
        } else {
            return t->find(h, eq);
        }
    }
    // The slot when there is one and its referent is alive, else null.
    template <class Slot>
    static Slot* live_slot(Slot* s) noexcept {
        return s && s->alive() ? s : nullptr;
    }
    // Removes the entry (none for null); returns 1 when its referent was alive, else 0.
    template <class Slot>
    std::size_t erase_slot(Slot* s) {
        if (!s) return 0;
        const bool was_alive = s->alive();
        table()->changed();
        table()->remove(*s);
        return was_alive ? 1 : 0;
    }
    // Removes the entry s and returns take(s, referent) (its payload still there, its referent
    // held), or KeyError(missing) when it is absent or its referent has died (it is removed then).
    // The payload is taken before the entry is removed, so that a take that throws (a value's
    // move) leaves the entry in place rather than lose it; user code in the take that removed
    // the entry itself is not undone (its slot stays Dead under the guard meanwhile).
    template <class Slot, class Take>
    auto take_slot(Slot* s, const char* missing, Take&& take) {
        if (!s) throw KeyError(missing);
        auto* t = table();
        Ref<Object> referent = s->alive() ? Ref<Object>(s->referent) : Ref<Object>();
        typename std::remove_pointer_t<decltype(t)>::Guard guard(t);  // the payload stays meanwhile
        if (!referent) {
            t->changed();
            t->remove(*s);
            throw KeyError(missing);
        }
        auto taken = take(*s, referent);  // returned by NRVO: no move after the removal
        if (s->state == kSlotLive) {
            t->changed();
            t->remove(*s);
        }
        return taken;
    }
    // Python's popitem(): takes some live entry, removing the dead ones it meets on the way.
    template <class Take>
    auto pop_any(const char* empty, Take&& take) {
        for (;;) {
            auto* t = table();
            auto* s = t ? t->next_live() : nullptr;
            if (!s) throw KeyError(empty);
            if (s->alive()) return take_slot(s, empty, take);
            erase_slot(s);
        }
    }
    // WeakRefs to the entries' records (Python's keyrefs(), valuerefs()): dead ones included.
    template <class X>
    std::vector<WeakRef<X>> entry_refs() const {
        std::vector<WeakRef<X>> refs;
        if (auto* t = table()) {
            refs.reserve(t->live());
            t->for_each_owned([&](auto& s) {
                if (s.state == kSlotLive) refs.push_back(WeakAccess::share<WeakRef<X>>(&s, s.referent));
            });
        }
        return refs;
    }
};

// The dictionaries' update, |= and | (Python's update(), and its | and |= of 3.9), over Derived's
// insert_or_assign.
template <class Derived>
class WeakMapping {
public:
    // d.update(other), d |= other: each (key, value) of a range of pairs (another dictionary of
    // the same kind, a std::map, a vector of pairs).
    template <class R>
        requires requires(const R& r) { std::begin(r) != std::end(r); }  // anything a range-for takes
    void update(const R& items) {
        if constexpr (std::same_as<R, Derived>)
            if (&items == this) return;
        for (auto&& [k, v] : items) static_cast<Derived&>(*this).insert_or_assign(k, v);
    }
    template <class R>
    Derived& operator|=(const R& items) {
        update(items);
        return static_cast<Derived&>(*this);
    }
    friend Derived operator|(const Derived& a, const Derived& b) {
        Derived d(a);
        d.update(b);
        return d;
    }
};

// The members of the containers keyed by their referents (WeakSet, WeakKeyDictionary): hashing,
// lookup and insertion of a key, by identity or through Hash and KeyEqual.
template <class Derived, class T, class Hash, class KeyEqual>
class ReferentKeyed : public WeakContainer<Derived> {
protected:
    static constexpr bool kIdentity = kIdentityKeys<Hash, KeyEqual>;
    using Stored = StoredKey<Hash, KeyEqual>;

    ReferentKeyed() = default;
    ReferentKeyed(Hash hash, KeyEqual eq) : hash_(std::move(hash)), eq_(std::move(eq)) {}

    std::uint32_t hash_of(const T& key) const {
        if constexpr (kIdentity) return identity_hash(&key);
        else return mix_hash(hash_(key));
    }
    // The entry for key (null: none); by value, only a live entry matches.
    auto* find_key(const T* key) const {
        using Slot = typename std::remove_pointer_t<decltype(this->table())>::Slot;
        if (!key) return static_cast<Slot*>(nullptr);
        return find_key(key, hash_of(*key));
    }
    // The same, with key's hash h already taken (Hash is asked once per operation).
    auto* find_key(const T* key, std::uint32_t h) const {
        using Slot = typename std::remove_pointer_t<decltype(this->table())>::Slot;
        return this->template lookup<!kIdentity>(h, [&](const Slot& s) {
            if constexpr (kIdentity) {
                return s.payload().key == static_cast<const Object*>(key);
            } else {
                if (!s.alive()) return false;
                // Held for the comparison, which may drop every other reference to it (Python's
                // weakref __eq__ holds both referents); letting go may kill it, which the index
                // notices (a restart).
                const Ref<Object> held(s.referent);
                return static_cast<bool>(eq_(static_cast<const T&>(*held), *key));
            }
        });
    }
    // Makes key (not null) a key, a new entry's payload made by make(void*, Stored). Returns the
    // entry that was found and is now key's (null when make made one), and whether key was not a
    // live key before.
    template <class Make>
    auto insert_key(const Ref<T>& key, Make&& make) {
        auto* referent = const_cast<Object*>(static_cast<const Object*>(key.get()));
        const std::uint32_t h = hash_of(*key);
        Stored stored;
        if constexpr (kIdentity) stored = referent;
        else stored = h;
        auto fill = [&](void* p) { make(p, stored); };
        auto* s = find_key(key.get(), h);
        // After Hash and KeyEqual: they may have replaced the container's table.
        auto& t = this->make_table();
        using Found = std::pair<decltype(s), bool>;
        if (!s) {
            t.insert(h, referent, fill);
            return Found{nullptr, true};
        }
        if (s->alive()) return Found{s, false};
        return Found{t.repoint(h, *s, referent, fill) ? nullptr : s, true};  // identity: a dead entry revived
    }
    void swap_keys(ReferentKeyed& o) noexcept {
        using std::swap;
        swap(hash_, o.hash_);
        swap(eq_, o.eq_);
    }

    [[no_unique_address]] Hash hash_;
    [[no_unique_address]] KeyEqual eq_;
};

}  // namespace ouro::detail
