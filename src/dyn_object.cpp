// DynObject's attribute tables (include/ouro/dyn_object.hpp) and AttrValue's str storage.
#include "describe.hpp"
#include "heap_state.hpp"

#include <ouro/dyn_object.hpp>

#include <algorithm>
#include <cstring>
#include <functional>
#include <memory>
#include <typeinfo>

namespace ouro::detail {

// A table of attribute names in the order they were first set: shared by the instances of one
// type (PEP 412's split table) or one instance's own (a combined table).
struct DynKeys {
    static constexpr std::size_t kSharedMax = 30;  // CPython's SHARED_KEYS_MAX_SIZE
    static constexpr std::size_t kLinear = 8;      // up to this many names a lookup compares them all

    std::uint32_t refs = 1;  // instances, and the heap's registry for a shared table
    bool shared = false;
    std::vector<std::string> names;
    std::vector<std::uint32_t> index;  // above kLinear names: open addressing of position + 1 (0: empty)

    static std::size_t hash(std::string_view s) noexcept { return std::hash<std::string_view>{}(s); }
    // Lengths and first bytes first: attribute names are short, and most differ there.
    static bool same(const std::string& a, std::string_view b) noexcept {
        return a.size() == b.size() && (b.empty() || (a[0] == b[0] && std::memcmp(a.data() + 1, b.data() + 1, b.size() - 1) == 0));
    }

    int find(std::string_view name) const noexcept {
        if (index.empty()) {
            for (std::size_t i = 0; i < names.size(); ++i)
                if (same(names[i], name)) return static_cast<int>(i);
            return -1;
        }
        const std::size_t mask = index.size() - 1;
        for (std::size_t i = hash(name) & mask;; i = (i + 1) & mask) {
            const std::uint32_t e = index[i];
            if (e == 0) return -1;
            if (same(names[e - 1], name)) return static_cast<int>(e - 1);
        }
    }
    void place(std::size_t pos) noexcept {
        const std::size_t mask = index.size() - 1;
        std::size_t i = hash(names[pos]) & mask;
        while (index[i] != 0) i = (i + 1) & mask;
        index[i] = static_cast<std::uint32_t>(pos + 1);
    }
    // Rebuilds the index at most half full. Without memory for it, lookups compare every name,
    // which is always correct.
    void reindex() noexcept {
        index.clear();
        if (names.size() <= kLinear) return;
        std::size_t cap = 32;
        while (cap < names.size() * 2) cap *= 2;
        try {
            index.assign(cap, 0);
        } catch (const std::bad_alloc&) {
            index.clear();
            return;
        }
        for (std::size_t i = 0; i < names.size(); ++i) place(i);
    }
    void append(std::string_view name) {
        names.emplace_back(name);
        if (names.size() <= kLinear) return;
        if (index.size() < names.size() * 2) reindex();
        else place(names.size() - 1);
    }
    void erase(std::size_t pos) noexcept {
        names.erase(names.begin() + static_cast<std::ptrdiff_t>(pos));
        reindex();
    }
    std::size_t bytes() const noexcept {
        std::size_t n = sizeof(DynKeys) + names.capacity() * sizeof(std::string) + index.capacity() * sizeof(std::uint32_t);
        for (const std::string& s : names)
            if (s.capacity() > std::string().capacity()) n += s.capacity() + 1;  // beyond the inline buffer
        return n;
    }
};

namespace {
void release(DynKeys* k) noexcept {
    if (k && --k->refs == 0) delete k;
}

// A value array: from the pools of its object's heap (DynObjectState::values) when it fits a
// block, else (or for an object no heap owns) from operator new. *pooled says which. Its pools
// are of the untracked kind, so that tracemalloc reports them with the objects (domain 0).
AttrValue* allocate_values(Heap* heap, std::size_t n, bool* pooled) {
    const std::size_t bytes = n * sizeof(AttrValue);
    *pooled = heap && bytes <= kMaxSmall;
    void* p = *pooled ? HeapAccess::state(*heap).dyn.values.allocate(size_class(bytes), kUntrackedPool) : ::operator new(bytes);
    return static_cast<AttrValue*>(p);
}
void free_values(AttrValue* v, bool pooled) noexcept {
    if (!pooled) {
        ::operator delete(v);
        return;
    }
    // A heap destroyed while the object lived left the pool in place, never to be reused.
    if (BlockAllocator* owner = pool_of(v)->owner) owner->deallocate(v);
}
}  // namespace

DynObjectState::~DynObjectState() {
    shared_keys.for_each([](const void*, DynKeys* k) { release(k); });
    values.orphan_live_pools();
}

char* new_str(std::string_view s) {
    const std::size_t n = s.size();
    auto* p = static_cast<char*>(::operator new(sizeof n + n));
    std::memcpy(p, &n, sizeof n);
    if (n) std::memcpy(p + sizeof n, s.data(), n);
    return p;
}
void free_str(char* s) noexcept { ::operator delete(s); }
std::string_view str_of(const char* s) noexcept {
    std::size_t n;
    std::memcpy(&n, s, sizeof n);
    return {s + sizeof n, n};
}
std::size_t str_bytes(const char* s) noexcept { return sizeof(std::size_t) + str_of(s).size(); }

void wrong_kind(int held, const char* wanted) {
    static constexpr const char* kNames[] = {"None", "an int", "a float", "a str", "an object reference"};
    throw std::invalid_argument(std::string("ouro::AttrValue: holds ") + kNames[held] + ", not " + wanted);
}

}  // namespace ouro::detail

namespace ouro {

using detail::DynKeys;

DynObject::~DynObject() {
    // Released detached: a destructor a value runs sees an object with no attributes.
    AttrValue* values = std::exchange(values_, nullptr);
    const std::uint32_t n = std::exchange(size_, 0);
    capacity_ = 0;
    for (std::uint32_t i = 0; i < n; ++i) values[i].~AttrValue();
    if (values) detail::free_values(values, pooled_);
    detail::release(std::exchange(keys_, nullptr));
}

int DynObject::find(std::string_view name) const noexcept {
    if (!keys_) return -1;
    const int pos = keys_->find(name);
    return pos >= 0 && static_cast<std::uint32_t>(pos) < size_ ? pos : -1;
}

Heap* DynObject::heap() noexcept { return (detail::gcword(this) & detail::kLive) ? detail::heap_of(this) : nullptr; }

void DynObject::attach_keys() {
    Heap* heap = this->heap();
    if (!heap) {  // not made by make<T> (or its heap is gone): names of its own
        keys_ = new DynKeys;
        return;
    }
    DynKeys*& slot = detail::HeapAccess::state(*heap).dyn.shared_keys[&typeid(*this)];
    if (!slot) {
        slot = new DynKeys;
        slot->shared = true;
    }
    ++slot->refs;
    keys_ = slot;
}

void DynObject::unshare() {
    auto own = std::make_unique<DynKeys>();
    own->names.assign(keys_->names.begin(), keys_->names.begin() + size_);
    own->reindex();
    detail::release(std::exchange(keys_, own.release()));
}

void DynObject::reserve_one() {
    if (size_ < capacity_) return;
    // A new instance of a type whose shared keys are known gets room for all of them at once.
    std::size_t cap = capacity_ ? std::size_t{capacity_} * 2 : keys_->shared ? std::max<std::size_t>(keys_->names.size(), 1) : 2;
    if (cap > kMaxCapacity) throw std::length_error("ouro::DynObject: too many attributes");
    bool pooled;
    AttrValue* grown = detail::allocate_values(heap(), cap, &pooled);
    for (std::uint32_t i = 0; i < size_; ++i) {
        ::new (grown + i) AttrValue(std::move(values_[i]));
        values_[i].~AttrValue();
    }
    if (values_) detail::free_values(values_, pooled_);
    values_ = grown;
    pooled_ = pooled;
    capacity_ = static_cast<std::uint32_t>(cap);
}

void DynObject::setattr(std::string_view name, AttrValue value) {
    if (!keys_) attach_keys();
    const int pos = keys_->find(name);
    if (pos >= 0 && static_cast<std::uint32_t>(pos) < size_) {
        AttrValue old = std::exchange(values_[pos], std::move(value));
        return;  // the old value goes now, with the object consistent
    }
    reserve_one();
    if (keys_->shared) {
        // Split tables hold the first size_ shared names: the next one, or a new name at the end
        // of a table with room, keeps sharing; any other order takes a table of its own.
        const bool next = pos == static_cast<int>(size_);
        const bool at_end = pos < 0 && size_ == keys_->names.size() && size_ < DynKeys::kSharedMax;
        if (at_end) keys_->append(name);
        else if (!next) {
            unshare();
            keys_->append(name);
        }
    } else {
        keys_->append(name);
    }
    ::new (values_ + size_) AttrValue(std::move(value));
    ++size_;
}

AttrValue DynObject::getattr(std::string_view name) const {
    const int pos = find(name);
    if (pos < 0)
        throw AttributeError("'" + detail::type_name(*this) + "' object has no attribute '" + std::string(name) + "'");
    return values_[pos];
}

AttrValue DynObject::getattr(std::string_view name, AttrValue fallback) const {
    const int pos = find(name);
    return pos < 0 ? std::move(fallback) : values_[pos];
}

bool DynObject::hasattr(std::string_view name) const noexcept { return find(name) >= 0; }

void DynObject::delattr(std::string_view name) {
    const int pos = find(name);
    if (pos < 0) throw AttributeError("'" + detail::type_name(*this) + "' object has no attribute '" + std::string(name) + "'");
    if (keys_->shared) unshare();
    AttrValue old = std::move(values_[pos]);
    for (std::uint32_t i = static_cast<std::uint32_t>(pos); i + 1 < size_; ++i) values_[i] = std::move(values_[i + 1]);
    values_[--size_].~AttrValue();
    keys_->erase(static_cast<std::size_t>(pos));
}

std::vector<std::pair<std::string, AttrValue>> DynObject::vars() const {
    std::vector<std::pair<std::string, AttrValue>> out;
    out.reserve(size_);
    for (std::uint32_t i = 0; i < size_; ++i) out.emplace_back(keys_->names[i], values_[i]);
    return out;
}

bool DynObject::shares_keys() const noexcept { return keys_ && keys_->shared; }

void DynObject::trace(Visitor& visit) {
    for (std::uint32_t i = 0; i < size_; ++i) visit(values_[i]);
}

std::size_t DynObject::owned_bytes() const noexcept {
    std::size_t n = std::size_t{capacity_} * sizeof(AttrValue);
    for (std::uint32_t i = 0; i < size_; ++i) n += values_[i].owned_bytes();
    if (keys_ && !keys_->shared) n += keys_->bytes();  // a shared table is the type's, as in CPython
    return n;
}

}  // namespace ouro
