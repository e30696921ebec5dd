// ouro::Dict<K, V> — Python's dict: insertion-ordered and compact as CPython's since 3.6
// (Objects/dictobject.c): a table of small indices (1, 2, 4 or 8 bytes each, by the table's size)
// over a dense array of (hash, key, value) entries in insertion order. Keys and values that are
// managed classes are held as Refs (Dict<std::string, Node> maps strings to Ref<Node>; keys that
// are objects hash and compare by identity, Python's default). A managed object itself —
// ouro::make<Dict<K, V>>() —, traced when its keys or values hold references, so a value that
// references its own dictionary is collected; also a member of a managed object, or a local.
//
// Python -> C++: d[k] = v -> d.insert_or_assign(k, v) (or d[k] = v, which first inserts a default
// value, as std::map does); d[k] (reading) -> d.at(k); d.get(k) -> d.get(k) (a null Ref, or an
// empty std::optional, when absent); d.get(k, x); k in d -> d.contains(k); del d[k] ->
// d.del_item(k) (or d.erase(k), 0 instead of KeyError); d.pop(k[, x]); d.popitem() (the newest
// entry, as a std::pair); d.setdefault(k, x); d.update(other); d.keys(), d.values(), d.items();
// `for k, v in d.items()` -> `for (auto [k, v] : d)`; d.copy(); d.clear(); len(d).
//
// KeyError is std::out_of_range. While an iterator exists, adding or removing a key throws
// std::runtime_error ("dictionary changed size during iteration" — raised at the change, where
// Python raises it at the next step); assigning to an existing key is allowed. The table grows
// and shrinks exactly when CPython's does, so sys::getsizeof changes at the same sizes.
#pragma once

#include <ouro/detail/container.hpp>

#include <bit>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <ranges>
#include <string>
#include <type_traits>
#include <utility>

namespace ouro {

namespace detail {
// The default hash: std::hash, except for Refs, whose addresses are rotated as CPython's
// _Py_HashPointer does (the low bits of an address are always zero; the table's index is the low
// bits of the hash).
template <class K>
struct DictHash : std::hash<K> {};
template <class U>
struct DictHash<Ref<U>> {
    std::size_t operator()(const Ref<U>& r) const noexcept {
        const auto y = reinterpret_cast<std::uintptr_t>(static_cast<const void*>(r.get()));
        return static_cast<std::size_t>((y >> 4) | (y << (8 * sizeof(y) - 4)));
    }
};

// KeyError's message: the key's repr where C++ can write one.
template <class K>
std::string key_repr(const K& key) {
    if constexpr (std::is_arithmetic_v<K>) return std::to_string(key);
    else if constexpr (std::is_convertible_v<const K&, std::string_view>) return "'" + std::string(std::string_view(key)) + "'";
    else return "key not found";
}
}  // namespace detail

template <class K, class V, class Hash = detail::DictHash<detail::element_t<K>>,
          class KeyEqual = std::equal_to<detail::element_t<K>>>
class Dict : public detail::Traced<Dict<K, V, Hash, KeyEqual>,
                                   holds_refs<detail::element_t<K>> || holds_refs<detail::element_t<V>>> {
public:
    using key_type = detail::element_t<K>;
    using mapped_type = detail::element_t<V>;
    using value_type = std::pair<key_type, mapped_type>;
    using size_type = std::size_t;

private:
    static_assert(detail::storable<key_type> && detail::storable<mapped_type>,
                  "ouro::Dict: keys and values need noexcept move constructors and destructors");
    using Base = detail::Traced<Dict, holds_refs<key_type> || holds_refs<mapped_type>>;
    friend detail::Traced<Dict, true>;
    static constexpr const char* kPinned = "dictionary changed size during iteration";
    static constexpr bool kPlain = detail::plain<key_type> && detail::plain<mapped_type>;
    // Key comparisons run user code unless the keys are plain and KeyEqual is std::equal_to.
    static constexpr bool kQuietEq = detail::plain_eq<key_type> && std::is_same_v<KeyEqual, std::equal_to<key_type>>;
    static constexpr std::size_t kDeleted = ~std::size_t{0};  // an entry's hash once it is removed
    static constexpr std::ptrdiff_t kEmpty = -1, kDummy = -2;
    static constexpr unsigned kMinLog2 = 3;  // PyDict_MINSIZE = 8
    static constexpr unsigned kPerturbShift = 5;

    // Key and value are constructed and destroyed by hand: a removed entry keeps only its hash.
    struct Entry {
        std::size_t hash;
        union {
            key_type key;
        };
        union {
            mapped_type value;
        };
        Entry() noexcept {}
        ~Entry() {}
    };

    template <class Proj, bool Const>
    class Iter {
        using EntryPtr = std::conditional_t<Const, const Entry*, Entry*>;
        using Mapped = std::conditional_t<Const, const mapped_type, mapped_type>;

    public:
        using iterator_category = std::forward_iterator_tag;
        using difference_type = std::ptrdiff_t;
        using value_type = typename Proj::template value<Mapped>;
        using reference = typename Proj::template reference<Mapped>;

        Iter() noexcept = default;
        reference operator*() const noexcept { return Proj::template get<Mapped>(*cur_); }
        Iter& operator++() noexcept {
            ++cur_;
            skip();
            return *this;
        }
        Iter operator++(int) noexcept {
            Iter t(*this);
            ++*this;
            return t;
        }
        friend bool operator==(const Iter& a, const Iter& b) noexcept { return a.cur_ == b.cur_; }

    private:
        friend Dict;
        Iter(const Dict* d, EntryPtr cur, EntryPtr end) noexcept : pin_(d), cur_(cur), end_(end) { skip(); }
        void skip() noexcept {
            while (cur_ != end_ && cur_->hash == kDeleted) ++cur_;
        }
        detail::Pin pin_;
        EntryPtr cur_ = nullptr;
        EntryPtr end_ = nullptr;
    };
    struct Items {
        template <class M>
        using value = std::pair<key_type, std::remove_const_t<M>>;
        template <class M>
        using reference = std::pair<const key_type&, M&>;
        template <class M, class En>
        static reference<M> get(En& e) noexcept {
            return {e.key, e.value};
        }
    };
    struct Keys {
        template <class M>
        using value = key_type;
        template <class M>
        using reference = const key_type&;
        template <class M, class En>
        static const key_type& get(En& e) noexcept {
            return e.key;
        }
    };
    struct Values {
        template <class M>
        using value = std::remove_const_t<M>;
        template <class M>
        using reference = M&;
        template <class M, class En>
        static M& get(En& e) noexcept {
            return e.value;
        }
    };
    template <class Proj, bool Const>
    class View {
        using D = std::conditional_t<Const, const Dict, Dict>;

    public:
        Iter<Proj, Const> begin() const noexcept { return d_->template iter<Proj, Const>(false); }
        Iter<Proj, Const> end() const noexcept { return d_->template iter<Proj, Const>(true); }
        std::size_t size() const noexcept { return d_->size(); }

    private:
        friend Dict;
        explicit View(D* d) noexcept : d_(d) {}
        D* d_;
    };

public:
    // Yield std::pair<const key_type&, mapped_type&>: write `for (auto [k, v] : d)` (k and v then
    // refer into the entry). While one exists the dictionary cannot gain or lose keys.
    using iterator = Iter<Items, false>;
    using const_iterator = Iter<Items, true>;

    Dict() noexcept = default;
    Dict(std::initializer_list<value_type> items) { update(items); }
    template <class R>
        requires std::ranges::input_range<R> && (!std::is_same_v<std::remove_cvref_t<R>, Dict>)
    explicit Dict(R&& items) {
        update(std::forward<R>(items));
    }
    // CPython's dict.copy(): the same table size for a dense dictionary, else one fitted to it.
    Dict(const Dict& other) : Base(other), hash_(other.hash_), eq_(other.eq_) {
        if (other.used_ == 0) return;
        const bool dense = other.used_ >= other.nentries_ * 2 / 3;
        allocate_table(dense ? other.log2_ : estimate_log2(other.used_));
        detail::PinIf<!kPlain> pin(&other);
        for (const Entry& e : other.entry_span())
            if (e.hash != kDeleted) append_entry(e.hash, e.key, e.value);
    }
    Dict(Dict&& other) : Base(other), hash_(other.hash_), eq_(other.eq_) {
        other.check_unpinned(kPinned);
        take(other);
    }
    Dict& operator=(const Dict& other) {
        if (this != &other) *this = Dict(other);
        return *this;
    }
    Dict& operator=(Dict&& other) {
        if (this == &other) return *this;
        this->check_unpinned(kPinned);
        other.check_unpinned(kPinned);
        Dict old;
        old.take(*this);  // the old entries are dropped after the new ones are in place
        take(other);
        hash_ = other.hash_;
        eq_ = other.eq_;
        return *this;
    }
    ~Dict() override {
        detail::check_element<key_type>();
        detail::check_element<mapped_type>();
        drop(detach());
    }

    void swap(Dict& other) {
        this->check_unpinned(kPinned);
        other.check_unpinned(kPinned);
        Dict t;
        t.take(*this);
        take(other);
        other.take(t);
        std::swap(hash_, other.hash_);
        std::swap(eq_, other.eq_);
    }
    friend void swap(Dict& a, Dict& b) { a.swap(b); }

    std::size_t size() const noexcept { return used_; }
    bool empty() const noexcept { return used_ == 0; }

    iterator begin() noexcept { return iter<Items, false>(false); }
    iterator end() noexcept { return iter<Items, false>(true); }
    const_iterator begin() const noexcept { return iter<Items, true>(false); }
    const_iterator end() const noexcept { return iter<Items, true>(true); }
    View<Items, false> items() noexcept { return View<Items, false>(this); }
    View<Items, true> items() const noexcept { return View<Items, true>(this); }
    View<Keys, true> keys() const noexcept { return View<Keys, true>(this); }
    View<Values, false> values() noexcept { return View<Values, false>(this); }
    View<Values, true> values() const noexcept { return View<Values, true>(this); }

    // d[key] = value. True when the key is new (it is then the newest entry).
    bool insert_or_assign(key_type key, mapped_type value) {
        auto [e, fresh] = emplace(std::move(key), [&] { return std::move(value); });
        if (!fresh) assign(e->value, std::move(value));
        return fresh;
    }
    // std::map's operator[]: the value for key, a default-constructed one inserted first when the
    // key is absent. Python's reading d[key] is at().
    mapped_type& operator[](key_type key) {
        return emplace(std::move(key), [] { return mapped_type(); }).first->value;
    }
    // d.setdefault(key, value): the value for key, `value` inserted first when the key is absent.
    mapped_type& setdefault(key_type key, mapped_type value = mapped_type()) {
        return emplace(std::move(key), [&] { return std::move(value); }).first->value;
    }

    // The value for key, or KeyError (std::out_of_range). The pointers and references returned
    // are valid until a key is next added or removed.
    mapped_type& at(const key_type& key) {
        if (mapped_type* v = find(key)) return *v;
        key_error(key);
    }
    const mapped_type& at(const key_type& key) const {
        if (const mapped_type* v = find(key)) return *v;
        key_error(key);
    }
    mapped_type* find(const key_type& key) {
        const std::ptrdiff_t k = lookup(key, hash_of(key));
        return k < 0 ? nullptr : &entries()[k].value;
    }
    const mapped_type* find(const key_type& key) const { return const_cast<Dict*>(this)->find(key); }
    bool contains(const key_type& key) const { return find(key) != nullptr; }
    // d.get(key): a copy of the value, or none (a null Ref for a dictionary of references).
    auto get(const key_type& key) const {
        const mapped_type* v = find(key);
        if constexpr (detail::is_ref<mapped_type>) return v ? *v : mapped_type();
        else return v ? std::optional<mapped_type>(*v) : std::optional<mapped_type>();
    }
    mapped_type get(const key_type& key, mapped_type fallback) const {
        const mapped_type* v = find(key);
        return v ? *v : std::move(fallback);
    }

    // d.pop(key): removes the entry and returns its value; KeyError when absent.
    mapped_type pop(const key_type& key) {
        const std::size_t h = hash_of(key);
        const std::ptrdiff_t k = lookup(key, h);
        if (k < 0) key_error(key);
        this->check_unpinned(kPinned);
        return remove(static_cast<std::size_t>(k)).second;
    }
    mapped_type pop(const key_type& key, mapped_type fallback) {
        const std::size_t h = hash_of(key);
        const std::ptrdiff_t k = lookup(key, h);
        if (k < 0) return fallback;
        this->check_unpinned(kPinned);
        return remove(static_cast<std::size_t>(k)).second;
    }
    // del d[key]: KeyError when absent.
    void del_item(const key_type& key) { (void)pop(key); }
    // Removes the entry if present: 1, else 0.
    std::size_t erase(const key_type& key) {
        const std::ptrdiff_t k = lookup(key, hash_of(key));
        if (k < 0) return 0;
        this->check_unpinned(kPinned);
        (void)remove(static_cast<std::size_t>(k));
        return 1;
    }
    // d.popitem(): removes and returns the newest entry; KeyError when empty.
    value_type popitem() {
        if (used_ == 0) throw std::out_of_range("popitem(): dictionary is empty");
        this->check_unpinned(kPinned);
        std::size_t i = nentries_ - 1;
        while (entries()[i].hash == kDeleted) --i;
        value_type item = remove(i);
        nentries_ = i;  // the entries from i on are free again (not usable_: dummies remain)
        return item;
    }
    // The entries are detached first: what their destructors run sees an empty dictionary.
    void clear() {
        this->check_unpinned(kPinned);
        drop(detach());
    }
    Dict copy() const { return *this; }

    // d.update(other): each entry inserted or assigned, in other's order.
    void update(const Dict& other) {
        if (&other == this) return;
        presize(other.used_);
        detail::PinIf<!kPlain> pin(&other);
        for (const Entry& e : other.entry_span())
            if (e.hash != kDeleted) insert_or_assign(e.key, e.value);
    }
    // d.update(pairs): any range of (key, value) pairs.
    template <class R>
        requires std::ranges::input_range<R> && (!std::is_same_v<std::remove_cvref_t<R>, Dict>)
    void update(R&& items) {
        for (auto&& [k, v] : items) insert_or_assign(key_type(k), mapped_type(v));
    }
    void update(std::initializer_list<value_type> items) {
        for (const auto& [k, v] : items) insert_or_assign(k, v);
    }

    friend bool operator==(const Dict& a, const Dict& b) {
        if (a.used_ != b.used_) return false;
        detail::PinIf<!detail::plain_eq<mapped_type> || !kQuietEq> pa(&a), pb(&b);
        for (const Entry& e : a.entry_span()) {
            if (e.hash == kDeleted) continue;
            const mapped_type* v = b.find(e.key);
            if (!v || !(*v == e.value)) return false;
        }
        return true;
    }

    // The index table and the entries (sys::getsizeof adds the object's block).
    std::size_t owned_bytes() const noexcept override {
        return table_ ? detail::storage_size(table_bytes(log2_), this->origin_) : 0;
    }

private:
    char* table_ = nullptr;     // the index table, then the entries
    std::size_t used_ = 0;      // live entries: len(d)
    std::size_t nentries_ = 0;  // entries written, removed ones included (dk_nentries)
    std::size_t usable_ = 0;    // entries that may still be written before the table grows (dk_usable)
    std::uint8_t log2_ = 0;     // the index table has 1 << log2_ slots (none without a table)
    std::uint8_t shift_ = 0;    // of 1 << shift_ bytes each
    [[no_unique_address]] Hash hash_;
    [[no_unique_address]] KeyEqual eq_;

    // ----- layout (CPython's PyDictKeysObject without its header) ---------------------------------
    static unsigned index_shift(unsigned log2) noexcept { return log2 < 8 ? 0 : log2 < 16 ? 1 : log2 < 32 ? 2 : 3; }
    static std::size_t usable_of(unsigned log2) noexcept { return (std::size_t{2} << log2) / 3; }  // USABLE_FRACTION
    static std::size_t index_bytes(unsigned log2) noexcept {
        const std::size_t b = std::size_t{1} << (log2 + index_shift(log2));
        return (b + alignof(Entry) - 1) & ~(alignof(Entry) - 1);
    }
    static std::size_t table_bytes(unsigned log2) {
        return index_bytes(log2) + detail::buffer_bytes(usable_of(log2), sizeof(Entry));
    }
    Entry* entries() const noexcept {
        if (!table_) return nullptr;  // no table yet: no entries (and no pointer arithmetic on null)
        const std::size_t b = std::size_t{1} << (log2_ + shift_);
        return reinterpret_cast<Entry*>(table_ + (alignof(Entry) <= 8 ? b : (b + alignof(Entry) - 1) & ~(alignof(Entry) - 1)));
    }
    std::span<Entry> entry_span() const noexcept { return {entries(), table_ ? nentries_ : 0}; }
    std::size_t mask() const noexcept { return (std::size_t{1} << log2_) - 1; }

    // Calls f with the index table as an array of its width.
    template <class F>
    OURO_ALWAYS_INLINE decltype(auto) with_indices(F&& f) const {
        switch (shift_) {
            case 0: return f(reinterpret_cast<std::int8_t*>(table_));
            case 1: return f(reinterpret_cast<std::int16_t*>(table_));
            case 2: return f(reinterpret_cast<std::int32_t*>(table_));
            default: return f(reinterpret_cast<std::int64_t*>(table_));
        }
    }
    // CPython's probe sequence: i = 5i + 1 + perturb, perturb shifted right 5 bits each step.
    template <class F>
    OURO_ALWAYS_INLINE std::size_t probe(std::size_t h, F&& stop) const {
        const std::size_t m = mask();
        std::size_t i = h & m;
        for (std::size_t perturb = h; !stop(i); i = (i * 5 + perturb + 1) & m) perturb >>= kPerturbShift;
        return i;
    }

    std::size_t hash_of(const key_type& key) const {
        const std::size_t h = hash_(key);
        return h == kDeleted ? h - 1 : h;
    }
    // The entry holding key, or -1 (and then, in *empty, the empty slot that ended the search: where
    // a new entry for key goes, as CPython's find_empty_slot would find it). Key comparisons that
    // run user code do so with the dictionary pinned.
    OURO_ALWAYS_INLINE std::ptrdiff_t lookup(const key_type& key, std::size_t h, std::size_t* empty = nullptr) const {
        if (!table_) return -1;
        detail::PinIf<!kQuietEq> pin(this);
        const Entry* es = entries();
        return with_indices([&](auto* ix) -> std::ptrdiff_t {
            std::ptrdiff_t found = -1;
            const std::size_t end = probe(h, [&](std::size_t i) {
                const std::ptrdiff_t k = ix[i];
                if (k == kEmpty) return true;
                if (k >= 0 && es[k].hash == h && eq_(es[k].key, key)) {
                    found = k;
                    return true;
                }
                return false;
            });
            if (empty) *empty = end;
            return found;
        });
    }
    // The index slot that holds entry k.
    std::size_t slot_of(std::size_t h, std::size_t k) const noexcept {
        return with_indices([&](auto* ix) { return probe(h, [&](std::size_t i) { return ix[i] == static_cast<std::ptrdiff_t>(k); }); });
    }
    // The first empty slot on hash h's probe sequence.
    std::size_t empty_slot(std::size_t h) const noexcept {
        return with_indices([&](auto* ix) { return probe(h, [&](std::size_t j) { return ix[j] == kEmpty; }); });
    }

    // ----- sizes (CPython's calculate_log2_keysize, GROWTH_RATE, ESTIMATE_SIZE) -------------------
    static unsigned log2_for(std::size_t minsize) noexcept {
        const std::size_t m = (minsize | (std::size_t{1} << kMinLog2)) - 1;
        return static_cast<unsigned>(std::bit_width(m | ((std::size_t{1} << kMinLog2) - 1)));
    }
    static unsigned estimate_log2(std::size_t n) noexcept { return log2_for((n * 3 + 1) >> 1); }

    void allocate_table(unsigned log2) {
        if (log2 >= 8 * sizeof(std::size_t) - 2) detail::length_error("ouro::Dict: too many entries");
        detail::Origin origin;
        table_ = static_cast<char*>(detail::storage_allocate(detail::pools_for(this), table_bytes(log2), alignof(Entry), origin));
        this->origin_ = origin;
        log2_ = static_cast<std::uint8_t>(log2);
        shift_ = static_cast<std::uint8_t>(index_shift(log2));
        std::memset(table_, 0xff, std::size_t{1} << (log2 + index_shift(log2)));  // every slot kEmpty
        nentries_ = used_ = 0;
        usable_ = usable_of(log2);
    }
    // CPython's dictresize: a fresh table of 1 << log2 slots, the live entries moved into it in
    // order (with their stored hashes: no user code but the moves of non-plain keys and values).
    void resize(unsigned log2) {
        char* const old = table_;
        const detail::Origin old_origin = this->origin_;
        const std::span<Entry> from = entry_span();
        allocate_table(log2);  // on failure, nothing has changed
        if (!old) return;
        {
            detail::PinIf<!kPlain> pin(this);
            Entry* to = entries();
            for (Entry& e : from) {
                if (e.hash == kDeleted) continue;
                if constexpr (kPlain) {
                    std::memcpy(static_cast<void*>(to + nentries_), static_cast<const void*>(&e), sizeof(Entry));
                } else {
                    Entry* n = ::new (static_cast<void*>(to + nentries_)) Entry;
                    ::new (static_cast<void*>(&n->key)) key_type(std::move(e.key));
                    ::new (static_cast<void*>(&n->value)) mapped_type(std::move(e.value));
                    n->hash = e.hash;
                }
                ++nentries_;
            }
            used_ = nentries_;
            usable_ -= nentries_;
        }
        index_all();
        if constexpr (!kPlain) {
            for (Entry& e : from)
                if (e.hash != kDeleted) destroy_entry(e);  // moved-from
        }
        detail::storage_free(old, old_origin);
    }
    // Indexes entries [0, nentries_) of a fresh table, in order. Their slots are scattered over
    // the index table: each is prefetched a few entries ahead.
    void index_all() noexcept {
        constexpr std::size_t kAhead = 8;
        const Entry* es = entries();
        const std::size_t n = nentries_, m = mask();
        with_indices([&](auto* ix) {
            for (std::size_t j = 0; j < n; ++j) {
                if (j + kAhead < n) __builtin_prefetch(&ix[es[j + kAhead].hash & m], 1);
                const std::size_t i = probe(es[j].hash, [&](std::size_t k) { return ix[k] == kEmpty; });
                ix[i] = static_cast<std::remove_pointer_t<decltype(ix)>>(j);
            }
        });
    }
    // Before an update from n entries: one resize instead of many (CPython's dict_merge).
    void presize(std::size_t n) {
        if (usable_of(log2_) < n || !table_) resize(estimate_log2(used_ + n));
    }

    // The entry for key, inserted with the value make() returns when absent; true when inserted.
    template <class Make>
    std::pair<Entry*, bool> emplace(key_type&& key, Make&& make) {
        const std::size_t h = hash_of(key);
        std::size_t slot = 0;
        const std::ptrdiff_t k = lookup(key, h, &slot);
        if (k >= 0) return {&entries()[k], false};
        this->check_unpinned(kPinned);
        if (usable_ == 0) {
            resize(table_ ? log2_for(used_ * 3) : kMinLog2);  // GROWTH_RATE: used * 3
            slot = empty_slot(h);
        }
        Entry* e = ::new (static_cast<void*>(entries() + nentries_)) Entry;
        {
            detail::PinIf<!kPlain> pin(this);  // user constructors may not change the table meanwhile
            ::new (static_cast<void*>(&e->key)) key_type(std::move(key));
            try {
                ::new (static_cast<void*>(&e->value)) mapped_type(make());
            } catch (...) {
                std::destroy_at(&e->key);
                throw;
            }
        }
        e->hash = h;
        publish(slot);
        return {e, true};
    }
    // A copy of an entry appended to a table that has room and holds no equal key (copying).
    void append_entry(std::size_t h, const key_type& key, const mapped_type& value) {
        Entry* e = ::new (static_cast<void*>(entries() + nentries_)) Entry;
        detail::PinIf<!kPlain> pin(this);
        ::new (static_cast<void*>(&e->key)) key_type(key);
        try {
            ::new (static_cast<void*>(&e->value)) mapped_type(value);
        } catch (...) {
            std::destroy_at(&e->key);
            throw;
        }
        e->hash = h;
        publish(empty_slot(h));
    }
    // The entry at nentries_, fully built, becomes part of the dictionary (and visible to trace())
    // through index slot `slot`.
    void publish(std::size_t slot) noexcept {
        with_indices([&](auto* ix) { ix[slot] = static_cast<std::remove_pointer_t<decltype(ix)>>(nentries_); });
        ++nentries_;
        ++used_;
        --usable_;
    }
    // Removes entry k and returns its key and value: the slot becomes a dummy, the entry keeps its
    // hash only. The caller drops what it returns once the dictionary is consistent.
    value_type remove(std::size_t k) {
        Entry& e = entries()[k];
        with_indices([&](auto* ix) { ix[slot_of(e.hash, k)] = kDummy; });
        detail::PinIf<!kPlain> pin(this);
        value_type out(std::move(e.key), std::move(e.value));
        destroy_entry(e);
        --used_;
        return out;
    }
    static void destroy_entry(Entry& e) noexcept {
        std::destroy_at(&e.key);
        std::destroy_at(&e.value);
        e.hash = kDeleted;
    }
    // Assigns onto an existing value: the old one is moved out and dropped last, once the entry
    // holds the new one (the Py_SETREF order).
    void assign(mapped_type& slot, mapped_type&& value) {
        [[maybe_unused]] mapped_type old = [&] {
            detail::PinIf<!detail::plain<mapped_type>> pin(this);
            mapped_type o(std::move(slot));
            slot = std::move(value);
            return o;
        }();
    }

    void take(Dict& other) noexcept {
        table_ = std::exchange(other.table_, nullptr);
        shift_ = std::exchange(other.shift_, 0);
        used_ = std::exchange(other.used_, 0);
        nentries_ = std::exchange(other.nentries_, 0);
        usable_ = std::exchange(other.usable_, 0);
        log2_ = std::exchange(other.log2_, 0);
        this->origin_ = std::exchange(other.origin_, detail::Origin::system);
    }
    struct Detached {
        char* table;
        Entry* entries;
        std::size_t n;
        detail::Origin origin;
    };
    Detached detach() noexcept {
        Detached d{table_, table_ ? entries() : nullptr, table_ ? nentries_ : 0, this->origin_};
        table_ = nullptr;
        shift_ = 0;
        used_ = nentries_ = usable_ = 0;
        log2_ = 0;
        this->origin_ = detail::Origin::system;
        return d;
    }
    static void drop(Detached d) noexcept {
        for (std::size_t i = 0; i < d.n; ++i)
            if (d.entries[i].hash != kDeleted) destroy_entry(d.entries[i]);
        detail::storage_free(d.table, d.origin);
    }

    template <class Proj, bool Const>
    Iter<Proj, Const> iter(bool at_end) const noexcept {
        Entry* b = table_ ? entries() : nullptr;
        Entry* e = b ? b + nentries_ : nullptr;
        return Iter<Proj, Const>(this, at_end ? e : b, e);
    }

    void visit_items(Visitor& visit) {
        for (Entry& e : entry_span()) {
            if (e.hash == kDeleted) continue;
            if constexpr (holds_refs<key_type>) visit(e.key);
            if constexpr (holds_refs<mapped_type>) visit(e.value);
        }
    }

    [[noreturn]] static void key_error(const key_type& key) { throw std::out_of_range(detail::key_repr(key)); }
};

}  // namespace ouro
