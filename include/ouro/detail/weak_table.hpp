// The table behind WeakValueDictionary, WeakKeyDictionary and WeakSet: entries that each hold one
// WeakRef whose callback removes the entry when the referent dies.
//
// Why it is shaped this way:
// - The callbacks capture a counted pointer to the table, not to the container, so a container
//   destroyed before its referents is safe (a callback then finds nothing to remove).
// - Entries live in slots with stable ids and stable addresses (a deque that only grows), so a
//   callback names its entry by id, and an iterator can hand out references into a slot.
// - While any iteration is active, a removed entry only leaves the index; its slot is destroyed
//   and its id reused once the last iteration ends (CPython's _IterationGuard and
//   _pending_removals). So entries dying mid-loop, even in a collection the loop body triggers,
//   never invalidate an iterator, and no entry is yielded twice.
// - User code (K and V destructors, the deaths they cause and the callbacks those run) only runs
//   once the table is consistent again, and never with a reference into the table held across it.
// - The three containers differ only in their entries and keys: the iterator (WeakIterator) and
//   the members that do not depend on the key (WeakContainer) are written once, here.
#pragma once

#include <ouro/detail/open_table.hpp>
#include <ouro/weakref.hpp>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

namespace ouro::detail {

inline constexpr std::uint32_t kNoId = UINT32_MAX;

// 32 well-mixed bits of a hash: std::hash of a pointer is the address, whose low bits are zero.
inline std::uint32_t mix_hash(std::size_t h) noexcept { return static_cast<std::uint32_t>(mix(h)); }

// From a hash to entry ids, over OpenTable. Buckets keep the hash (as id + 1, so that zero is
// empty), so growing never calls user code; a lookup allocates nothing.
class WeakIndex {
public:
    template <class Eq>
    std::uint32_t find(std::uint32_t h, Eq&& eq) const {
        const Bucket* b = table_.find(h, [&](const Bucket& x) { return x.hash_ == h && eq(x.id_plus_one - 1); });
        return b ? b->id_plus_one - 1 : kNoId;
    }
    // Room for one more entry, so the insert that follows cannot fail.
    void reserve_one() { table_.reserve_one(); }
    void insert(std::uint32_t h, std::uint32_t id) noexcept { table_.place(Bucket{id + 1, h}); }
    void erase(std::uint32_t h, std::uint32_t id) noexcept {
        if (Bucket* b = table_.find(h, [&](const Bucket& x) { return x.id_plus_one == id + 1; })) table_.erase(b);
    }
    void reset() noexcept { table_.clear(); }

private:
    struct Bucket {
        std::uint32_t id_plus_one;  // 0: empty
        std::uint32_t hash_;
        bool empty() const noexcept { return id_plus_one == 0; }
        std::size_t hash() const noexcept { return hash_; }
    };
    OpenTable<Bucket> table_;
};

// Entry is the container's payload; it has a member `weak` (the WeakRef whose death removes it).
template <class Entry>
class WeakTable {
public:
    enum class State : std::uint8_t {
        Free,   // no entry; `hash` links the free list
        Live,   // in the index
        Dead,   // removed during an iteration: out of the index, destroyed when iterations end
        Dying,  // its entry is being destroyed
    };
    struct Slot {
        std::optional<Entry> entry;
        std::uint32_t hash = 0;
        State state = State::Free;
    };

    // Counted: the container holds one reference, each armed callback another.
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

    // The callback each entry's WeakRef carries: it names the entry by id and checks that the
    // slot still holds this very weak reference (ids are reused once their entry is gone).
    template <class T>
    class Callback {
    public:
        Callback(WeakTable* t, std::uint32_t id) noexcept : t_(t), id_(id) { t_->acquire(); }
        Callback(const Callback& o) noexcept : t_(o.t_), id_(o.id_) {
            if (t_) t_->acquire();
        }
        Callback(Callback&& o) noexcept : t_(std::exchange(o.t_, nullptr)), id_(o.id_) {}
        Callback& operator=(const Callback&) = delete;
        ~Callback() {
            if (t_) release(t_);
        }
        void operator()(const WeakRef<T>& self) const { t_->on_death(id_, self); }

    private:
        WeakTable* t_;
        std::uint32_t id_;
    };

    std::size_t live() const noexcept { return live_; }
    Slot& slot(std::uint32_t id) noexcept { return slots_[id]; }
    const Slot& slot(std::uint32_t id) const noexcept { return slots_[id]; }
    std::size_t slot_count() const noexcept { return slots_.size(); }

    template <class Eq>
    std::uint32_t find(std::uint32_t h, Eq&& eq) const {
        return index_.find(h, [&](std::uint32_t id) { return eq(*slots_[id].entry); });
    }

    // Adds the entry make(id) under hash h and returns its id. Nothing changes if make throws.
    template <class Make>
    std::uint32_t insert(std::uint32_t h, Make&& make) {
        index_.reserve_one();
        if (free_head_ == kNoId) {
            if (slots_.size() >= kNoId) throw std::length_error("ouro: weak container is full");
            slots_.emplace_back();
            slots_.back().hash = kNoId;
            free_head_ = static_cast<std::uint32_t>(slots_.size() - 1);
        }
        std::uint32_t id = free_head_;
        Slot& s = slots_[id];
        s.entry.emplace(make(id));
        free_head_ = s.hash;
        s.hash = h;
        s.state = State::Live;
        index_.insert(h, id);
        ++live_;
        return id;
    }

    // Removes a Live entry: now, or when the last iteration ends.
    void remove(std::uint32_t id) {
        Slot& s = slots_[id];
        index_.erase(s.hash, id);
        --live_;
        if (iterating_ == 0) return destroy(id);
        s.state = State::Dead;
        s.entry->weak.reset();  // nothing will look at it again: let the record go now
        ++deferred_;
    }

    void clear() {
        if (iterating_ != 0) {
            for (std::uint32_t id = 0; id < slots_.size(); ++id)
                if (slots_[id].state == State::Live) remove(id);
            return;
        }
        Pin pin(this);
        std::deque<Slot> doomed;
        doomed.swap(slots_);
        index_.reset();
        free_head_ = kNoId;
        live_ = 0;
        deferred_ = 0;
    }  // doomed's entries die here, on an empty, consistent table

    // --- iteration ---
    void begin_iteration() noexcept { ++iterating_; }
    void end_iteration() noexcept {
        if (--iterating_ == 0 && deferred_ != 0) commit();
    }

    // For trace(): calls f(entry) for every entry the table still owns.
    template <class F>
    void for_each_owned(F&& f) {
        for (Slot& s : slots_)
            if (s.state == State::Live || s.state == State::Dead) f(*s.entry);
    }

private:
    WeakTable() = default;
    ~WeakTable() = default;

    template <class T>
    void on_death(std::uint32_t id, const WeakRef<T>& self) {
        if (id >= slots_.size()) return;  // the container was cleared since
        Slot& s = slots_[id];
        if (s.state == State::Live && s.entry->weak == self) remove(id);
    }

    // The entry leaves its slot before it is destroyed: its destructor may run any code,
    // including code that inserts into this table or destroys its container.
    void destroy(std::uint32_t id) {
        Pin pin(this);
        std::optional<Entry> doomed(std::move(slots_[id].entry));
        Slot& s = slots_[id];
        s.state = State::Dying;
        s.entry.reset();
        s.state = State::Free;
        s.hash = free_head_;
        free_head_ = id;
    }

    // Destroys the entries removed during the iterations that just ended.
    void commit() noexcept {
        Pin pin(this);
        deferred_ = 0;
        for (std::uint32_t id = 0; id < slots_.size(); ++id) {
            if (iterating_ != 0) {  // user code started a new iteration: it commits the rest
                deferred_ = 1;
                return;
            }
            if (slots_[id].state == State::Dead) destroy(id);
        }
    }

    std::size_t refs_ = 1;
    std::deque<Slot> slots_;  // grows only: ids and addresses stay valid
    WeakIndex index_;         // Live entries only
    std::uint32_t free_head_ = kNoId;
    std::size_t live_ = 0;       // Live entries, including any whose callback has yet to run
    std::size_t iterating_ = 0;  // active iterators
    std::size_t deferred_ = 0;   // Dead slots waiting for iterations to end
};

// A position in a table that counts as an active iteration until it reaches the end.
template <class Table>
class WeakCursor {
public:
    using Slot = typename Table::Slot;

    WeakCursor() noexcept = default;
    explicit WeakCursor(Table* t) noexcept : t_(t) {
        if (t_) t_->begin_iteration();
    }
    WeakCursor(const WeakCursor& o) noexcept : t_(o.t_), pos_(o.pos_) {
        if (t_) t_->begin_iteration();
    }
    WeakCursor(WeakCursor&& o) noexcept : t_(std::exchange(o.t_, nullptr)), pos_(o.pos_) {}
    WeakCursor& operator=(WeakCursor o) noexcept {
        std::swap(t_, o.t_);
        std::swap(pos_, o.pos_);
        return *this;
    }
    ~WeakCursor() { finish(); }

    // The next Live slot, or null (and the iteration is over).
    Slot* next() noexcept {
        while (t_ && ++pos_ < t_->slot_count()) {
            Slot& s = t_->slot(static_cast<std::uint32_t>(pos_));
            if (s.state == Table::State::Live) return &s;
        }
        finish();
        return nullptr;
    }
    Slot& slot() const noexcept { return t_->slot(static_cast<std::uint32_t>(pos_)); }
    void finish() noexcept {
        if (Table* t = std::exchange(t_, nullptr)) t->end_iteration();
    }
    bool operator==(const WeakCursor& o) const noexcept { return t_ == o.t_ && (!t_ || pos_ == o.pos_); }

private:
    Table* t_ = nullptr;
    std::size_t pos_ = SIZE_MAX;  // ++ wraps it to the first slot
};

// A container's handle on its table: created on first insert, so an empty container costs a
// null pointer and default construction cannot throw.
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
        if (Table* t = std::exchange(t_, nullptr)) {
            t->clear();
            Table::release(t);
        }
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

// A container keyed by identity (WeakKeyDictionary, WeakSet) hashes and compares the address of
// the object an entry is for; the entry keeps it in `identity`, valid while the object lives.
inline std::uint32_t identity_hash(const Object* identity) noexcept {
    return mix_hash(std::hash<const void*>()(identity));
}
inline auto identity_is(const Object* identity) noexcept {
    return [identity](const auto& entry) { return entry.identity == identity; };
}

template <class Derived>
class WeakContainer;

// A weak container's iterator. It holds a strong reference to the referent of the entry it is
// on, so that entry cannot die while the loop body uses it; entries dying elsewhere are skipped.
// Yield says what it yields: value_type, reference, pointer (void: no operator->) and
// `static reference get(Entry&, const Ref<X>& held) noexcept`.
template <class Owner, class Entry, class Yield>
class WeakIterator {
    using Table = WeakTable<Entry>;
    using Held = decltype(std::declval<const Entry&>().weak());  // Ref<X>

public:
    using iterator_category = std::input_iterator_tag;
    using value_type = typename Yield::value_type;
    using reference = typename Yield::reference;
    using pointer = typename Yield::pointer;
    using difference_type = std::ptrdiff_t;

    WeakIterator() noexcept = default;
    reference operator*() const noexcept { return Yield::get(*cursor_.slot().entry, held_); }
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
            if (Held h = slot->entry->weak()) {
                held_ = std::move(h);
                return;
            }
        held_ = nullptr;  // may end the last loop's grip on an object: do it last
    }
    WeakCursor<Table> cursor_;  // declared first: destroyed after held_
    Held held_;
};

// The members the weak containers share, over Derived's `table_` (a WeakTableHandle) and its
// iterator types. CRTP, so each container keeps its Entry private and its layout unchanged.
template <class Derived>
class WeakContainer {
public:
    // Live entries. One whose referent has died counts until its callback has run, which is
    // before the death completes (unless the container is itself garbage: see trace).
    std::size_t size() const noexcept {
        auto* t = table();
        return t ? t->live() : 0;
    }
    bool empty() const noexcept { return size() == 0; }
    void clear() {
        if (auto* t = table()) t->clear();
    }

    auto begin() { return typename Derived::iterator(table()); }
    auto end() noexcept { return typename Derived::iterator(); }
    auto begin() const { return typename Derived::const_iterator(table()); }
    auto end() const noexcept { return typename Derived::const_iterator(); }

    // For a managed object that holds this container: call it from the object's trace(), so the
    // collector knows these weak references belong to the object. When the object is garbage,
    // their callbacks then do not run (CPython's rule); the container dies with it. An entry's
    // `value` (WeakKeyDictionary's) is visited too, so a cycle through the values can be collected.
    void trace(Visitor& visit) {
        if (auto* t = table())
            t->for_each_owned([&](auto& e) {
                visit(e.weak);
                if constexpr (requires { e.value; })
                    if constexpr (holds_refs<decltype(e.value)>) visit(e.value);
            });
    }

protected:
    auto* table() const noexcept { return static_cast<const Derived&>(*this).table_.get(); }

    // The id of the entry under hash h that eq accepts, or kNoId.
    template <class Eq>
    std::uint32_t lookup(std::uint32_t h, Eq&& eq) const {
        auto* t = table();
        return t ? t->find(h, eq) : kNoId;
    }
    // For a container keyed by identity: the id of the entry for the object at `identity`.
    std::uint32_t find_identity(const Object* identity) const {
        if (!identity) return kNoId;
        return lookup(identity_hash(identity), identity_is(identity));
    }
    auto& entry(std::uint32_t id) const noexcept { return *table()->slot(id).entry; }
    // The entry when there is one (id is not kNoId) and its referent is alive, else null.
    auto* live_entry(std::uint32_t id) const noexcept {
        auto* e = id == kNoId ? nullptr : &entry(id);
        return e && e->weak.alive() ? e : nullptr;
    }

    // Removes entry id (none for kNoId); returns 1 when its referent was alive, else 0.
    std::size_t erase_id(std::uint32_t id) {
        if (id == kNoId) return 0;
        bool was_alive = entry(id).weak.alive();
        table()->remove(id);
        return was_alive ? 1 : 0;
    }
};

}  // namespace ouro::detail
