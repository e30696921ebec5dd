// ouro::Deque<T> — Python's collections.deque: O(1) appends and pops at both ends, an optional
// maxlen, over fixed blocks of 64 items as CPython's (Modules/_collectionsmodule.c). References to
// managed objects (Deque<Node> holds Ref<Node>s) or values. A managed object itself —
// ouro::make<Deque<Node>>() —, traced when its items hold references; also a member or a local.
//
// Python -> C++: d.append(x), d.appendleft(x), d.pop(), d.popleft(), d.extend(xs),
// d.extendleft(xs), d.rotate(n), d.maxlen (std::nullopt for None), d.insert(i, x), d.remove(x),
// d.index(x), d.count(x), x in d -> d.contains(x), d.reverse(), d.clear(), d.copy(), d[i],
// del d[i] -> d.del_item(i), len(d), `for x in d` -> `for (auto& x : d)`;
// deque(xs, maxlen=n) -> Deque<T>(xs, n) or Deque<T>({...}, n).
//
// Errors: IndexError is std::out_of_range ("pop from an empty deque", "deque index out of
// range"), ValueError std::invalid_argument ("deque.remove(x): x not in deque"). While an
// iterator exists, any change of size or rotation throws std::runtime_error ("deque mutated
// during iteration", which Python raises at the iterator's next step).
//
// CPython links its blocks to each other; here a ring of block pointers finds them, so d[i] is
// O(1) (CPython walks the links: O(n)) and a block of 64 references is 512 bytes, one pool block.
// The blocks in use are CPython's — the same first-item offset in the first block (a new deque
// starts in the middle of its block; extend() into an empty deque starts at its left, extendleft()
// at its right) — so sys::getsizeof counts the same blocks, except that a deque that never held an
// item has none yet (CPython allocates one at once).
#pragma once

#include <ouro/detail/container.hpp>

#include <algorithm>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <optional>
#include <ranges>
#include <span>
#include <vector>

namespace ouro {

template <class T>
class Deque : public detail::Traced<Deque<T>, holds_refs<detail::element_t<T>>> {
    using E = detail::element_t<T>;
    static_assert(detail::storable<E>, "ouro::Deque: items need a noexcept move constructor and destructor");
    using Base = detail::Traced<Deque, holds_refs<E>>;
    friend detail::Traced<Deque, true>;
    static constexpr const char* kPinned = "deque mutated during iteration";
    static constexpr std::size_t kBlock = 64;              // BLOCKLEN
    static constexpr std::size_t kCenter = (kBlock - 1) / 2;  // CENTER: an empty deque's first item goes at kCenter + 1
    static constexpr std::size_t kBlockBytes = kBlock * sizeof(E);
    static constexpr std::size_t kUnbounded = ~std::size_t{0};
    using PinMoves = detail::PinIf<!detail::plain<E>>;

    template <bool Const>
    class Iter {
        using Ptr = std::conditional_t<Const, const E*, E*>;

    public:
        using iterator_category = std::forward_iterator_tag;
        using difference_type = std::ptrdiff_t;
        using value_type = E;
        using pointer = Ptr;
        using reference = std::conditional_t<Const, const E&, E&>;

        Iter() noexcept = default;
        reference operator*() const noexcept { return *cur_; }
        pointer operator->() const noexcept { return cur_; }
        Iter& operator++() noexcept {
            if (++cur_ == block_end_ && k_ + 1 < d_->nblocks_) {
                cur_ = d_->block(++k_);
                block_end_ = cur_ + kBlock;
            }
            return *this;
        }
        Iter operator++(int) noexcept {
            Iter t(*this);
            ++*this;
            return t;
        }
        friend bool operator==(const Iter& a, const Iter& b) noexcept { return a.cur_ == b.cur_; }

    private:
        friend Deque;
        Iter(const Deque* d, Ptr cur, Ptr block_end) noexcept : pin_(d), d_(d), cur_(cur), block_end_(block_end) {}
        detail::Pin pin_;
        const Deque* d_ = nullptr;
        Ptr cur_ = nullptr;
        Ptr block_end_ = nullptr;
        std::size_t k_ = 0;
    };

public:
    using value_type = E;
    using reference = E&;
    using const_reference = const E&;
    using size_type = std::size_t;
    using iterator = Iter<false>;
    using const_iterator = Iter<true>;

    Deque() noexcept = default;
    // deque(maxlen=n); std::nullopt: unbounded.
    explicit Deque(std::optional<std::size_t> maxlen) noexcept : maxlen_(maxlen ? *maxlen : kUnbounded) {}
    Deque(std::initializer_list<E> items, std::optional<std::size_t> maxlen = std::nullopt) : Deque(maxlen) {
        extend(items);
    }
    template <class R>
        requires std::ranges::input_range<R> && std::constructible_from<E, std::ranges::range_reference_t<R>> &&
                 (!std::is_same_v<std::remove_cvref_t<R>, Deque>)
    explicit Deque(R&& items, std::optional<std::size_t> maxlen = std::nullopt) : Deque(maxlen) {
        extend(std::forward<R>(items));
    }
    Deque(const Deque& other) : Base(other), maxlen_(other.maxlen_) {
        detail::PinIf<!detail::plain<E>> pin(&other);
        extend(other);
    }
    Deque(Deque&& other) : Base(other) {
        other.check_unpinned(kPinned);
        take(other);
    }
    Deque& operator=(const Deque& other) {
        if (this != &other) *this = Deque(other);
        return *this;
    }
    Deque& operator=(Deque&& other) {
        if (this == &other) return *this;
        this->check_unpinned(kPinned);
        other.check_unpinned(kPinned);
        Deque old;
        old.take(*this);  // the old items are dropped after the new ones are in place
        take(other);
        return *this;
    }
    ~Deque() override {
        detail::check_element<E>();
        drop(detach());
    }

    void swap(Deque& other) {
        this->check_unpinned(kPinned);
        other.check_unpinned(kPinned);
        Deque t;
        t.take(*this);
        take(other);
        other.take(t);
    }
    friend void swap(Deque& a, Deque& b) { a.swap(b); }

    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    std::optional<std::size_t> maxlen() const noexcept {
        return maxlen_ == kUnbounded ? std::nullopt : std::optional<std::size_t>(maxlen_);
    }

    iterator begin() noexcept { return {this, left_, left_block_ ? left_block_ + kBlock : nullptr}; }
    iterator end() noexcept { return {this, right_, nullptr}; }
    const_iterator begin() const noexcept { return {this, left_, left_block_ ? left_block_ + kBlock : nullptr}; }
    const_iterator end() const noexcept { return {this, right_, nullptr}; }

    // d[i], i < 0 counting from the end; IndexError outside. O(1).
    E& operator[](std::ptrdiff_t i) { return at(detail::item_index(i, size_, "deque index out of range")); }
    const E& operator[](std::ptrdiff_t i) const {
        return const_cast<Deque*>(this)->at(detail::item_index(i, size_, "deque index out of range"));
    }

    // At the right end; with a maxlen reached, the leftmost item is dropped (after the append).
    void append(const E& x) {
        this->check_unpinned(kPinned);
        push_back(x);
    }
    void append(E&& x) {
        this->check_unpinned(kPinned);
        push_back(std::move(x));
    }
    void appendleft(const E& x) {
        this->check_unpinned(kPinned);
        push_front(x);
    }
    void appendleft(E&& x) {
        this->check_unpinned(kPinned);
        push_front(std::move(x));
    }

    E pop() {
        this->check_unpinned(kPinned);
        if (size_ == 0) detail::index_error("pop from an empty deque");
        return take_back();
    }
    E popleft() {
        this->check_unpinned(kPinned);
        if (size_ == 0) detail::index_error("pop from an empty deque");
        return take_front();
    }

    // d.extend(xs) / d.extendleft(xs) (the latter reverses them: each is appended on the left).
    template <class R>
        requires std::ranges::input_range<R> && std::constructible_from<E, std::ranges::range_reference_t<R>>
    void extend(R&& items) {
        if (is_self(items)) return extend(copy_items());
        this->check_unpinned(kPinned);
        if (maxlen_ == 0) return;
        if (size_ == 0) start_at(1);  // CPython's heuristic: an empty deque fills from the left
        for (auto&& x : items) push_back(std::forward<decltype(x)>(x));
    }
    void extend(std::initializer_list<E> items) { extend(std::span<const E>(items.begin(), items.size())); }
    template <class R>
        requires std::ranges::input_range<R> && std::constructible_from<E, std::ranges::range_reference_t<R>>
    void extendleft(R&& items) {
        if (is_self(items)) return extendleft(copy_items());
        this->check_unpinned(kPinned);
        if (maxlen_ == 0) return;
        if (size_ == 0) start_at(kBlock - 1);  // and from the right for extendleft
        for (auto&& x : items) push_front(std::forward<decltype(x)>(x));
    }
    void extendleft(std::initializer_list<E> items) { extendleft(std::span<const E>(items.begin(), items.size())); }

    // d.rotate(n): n steps to the right (n < 0: to the left). Items move; no count changes. As
    // CPython's, a rotation that runs out of memory stops part way (consistent, nothing lost).
    void rotate(std::ptrdiff_t n = 1) {
        this->check_unpinned(kPinned);
        rotate_by(n);
    }

    // d.insert(i, x): before item i (clamped as list.insert); IndexError when at maxlen. As
    // CPython's: rotate(-i), append on the near side, rotate(i).
    void insert(std::ptrdiff_t i, E x) {
        this->check_unpinned(kPinned);
        if (size_ == maxlen_) detail::index_error("deque already at its maximum size");
        const auto n = static_cast<std::ptrdiff_t>(size_);
        if (i >= n) return push_back(std::move(x));
        if (i <= -n || i == 0) return push_front(std::move(x));
        rotate_by(-i);
        if (i < 0) push_back(std::move(x));
        else push_front(std::move(x));
        rotate_by(i);
    }
    // del d[i]: IndexError outside.
    void del_item(std::ptrdiff_t i) {
        this->check_unpinned(kPinned);
        erase_at(detail::item_index(i, size_, "deque index out of range"));
    }
    // d.remove(x): the first item equal to x; ValueError when there is none.
    void remove(const E& x) {
        const std::size_t at = find(x, 0, size_);
        if (at == size_) detail::value_error("deque.remove(x): x not in deque");
        this->check_unpinned(kPinned);
        erase_at(at);
    }
    std::size_t index(const E& x, std::optional<std::ptrdiff_t> start = {}, std::optional<std::ptrdiff_t> stop = {}) const {
        const std::size_t at = find(x, detail::bound_index(start, size_, 0), detail::bound_index(stop, size_, size_));
        if (at == size_) detail::value_error("deque.index(x): x not in deque");
        return at;
    }
    std::size_t count(const E& x) const {
        detail::PinIf<!detail::plain_eq<E>> pin(this);
        std::size_t n = 0;
        for (std::size_t i = 0; i < size_; ++i) n += const_cast<Deque*>(this)->at(i) == x;
        return n;
    }
    bool contains(const E& x) const { return find(x, 0, size_) != size_; }
    // In place; allowed during iteration (CPython's does not count as a mutation either).
    void reverse() {
        PinMoves pin(this);
        for (std::size_t i = 0, j = size_; i + 1 < j; ++i, --j) std::swap(at(i), at(j - 1));
    }
    // The items are detached first: what their destructors run sees an empty deque.
    void clear() {
        this->check_unpinned(kPinned);
        drop(detach());
    }
    Deque copy() const { return *this; }

    friend bool operator==(const Deque& a, const Deque& b) {
        if (a.size_ != b.size_) return false;
        detail::PinIf<!detail::plain_eq<E>> pa(&a), pb(&b);
        for (std::size_t i = 0; i < a.size_; ++i)
            if (!(const_cast<Deque&>(a).at(i) == const_cast<Deque&>(b).at(i))) return false;
        return true;
    }

    // The blocks in use and the ring (sys::getsizeof adds the object's block).
    std::size_t owned_bytes() const noexcept override {
        std::size_t n = ring_ ? detail::storage_size(ring_cap_ * sizeof(std::uintptr_t), this->origin_) : 0;
        for (std::size_t k = 0; k < nblocks_; ++k) n += detail::storage_size(kBlockBytes, block_origin(ring_[slot(k)]));
        return n;
    }

private:
    // The ring of blocks: each entry a block's address, bit 0 set when it came from the pools.
    std::uintptr_t* ring_ = nullptr;
    std::size_t ring_cap_ = 0;  // a power of two
    std::size_t first_ = 0;     // the ring entry of the leftmost block
    std::size_t nblocks_ = 0;
    E* left_ = nullptr;         // the first item (CPython's leftblock[leftindex])
    E* right_ = nullptr;        // one past the last item
    E* left_block_ = nullptr;   // the leftmost block
    E* right_end_ = nullptr;    // the end of the rightmost block
    std::size_t size_ = 0;
    std::size_t maxlen_ = kUnbounded;

    std::size_t slot(std::size_t k) const noexcept { return (first_ + k) & (ring_cap_ - 1); }
    E* block(std::size_t k) const noexcept { return reinterpret_cast<E*>(ring_[slot(k)] & ~std::uintptr_t{1}); }
    E& at(std::size_t i) noexcept {
        const std::size_t p = static_cast<std::size_t>(left_ - left_block_) + i;
        return block(p / kBlock)[p % kBlock];
    }

    // The items, copied out (the iterators' pins end with this call).
    std::vector<E> copy_items() const { return std::vector<E>(begin(), end()); }
    template <class R>
    bool is_self(const R& items) const noexcept {
        if constexpr (std::is_same_v<std::remove_cvref_t<R>, Deque>) return &items == this;
        else return false;
    }

    // ----- blocks ---------------------------------------------------------------------------------
    // A block is too small for a mapping of its own: the ring's tag bit says pool or malloc.
    static_assert(kBlockBytes < detail::kMapMin);
    struct Block {
        E* p;
        detail::Origin origin;
    };
    Block new_block() {
        detail::Origin origin;
        void* p = detail::storage_allocate(detail::pools_for(this), kBlockBytes, alignof(E), origin);
        return {static_cast<E*>(p), origin};
    }
    static std::uintptr_t tag(Block b) noexcept {
        return reinterpret_cast<std::uintptr_t>(b.p) | (b.origin == detail::Origin::pool);
    }
    static detail::Origin block_origin(std::uintptr_t t) noexcept { return t & 1 ? detail::Origin::pool : detail::Origin::system; }
    static void free_block(std::uintptr_t t) noexcept {
        detail::storage_free(reinterpret_cast<void*>(t & ~std::uintptr_t{1}), block_origin(t));
    }
    // Room for n blocks in the ring (doubling; the ring is unrolled into the new one).
    void reserve_ring(std::size_t n) {
        if (n <= ring_cap_) return;
        std::size_t cap = ring_cap_ ? ring_cap_ : 4;
        while (cap < n) cap *= 2;
        detail::Origin origin;
        auto* ring = static_cast<std::uintptr_t*>(
            detail::storage_allocate(detail::pools_for(this), detail::buffer_bytes(cap, sizeof(std::uintptr_t)),
                                     alignof(std::uintptr_t), origin));
        for (std::size_t k = 0; k < nblocks_; ++k) ring[k] = ring_[slot(k)];
        detail::storage_free(ring_, this->origin_);
        ring_ = ring;
        ring_cap_ = cap;
        first_ = 0;
        this->origin_ = origin;
    }
    // A new leftmost / rightmost block (the ring has room); left_ / right_ at its free end.
    void add_left(Block b) noexcept {
        first_ = (first_ - 1) & (ring_cap_ - 1);
        ring_[first_] = tag(b);
        ++nblocks_;
        left_block_ = b.p;
        left_ = b.p + kBlock;
    }
    void add_right(Block b) noexcept {
        ring_[slot(nblocks_)] = tag(b);
        ++nblocks_;
        right_ = b.p;
        right_end_ = b.p + kBlock;
    }
    // Takes the (empty) leftmost / rightmost block out; the deque keeps at least one other.
    std::uintptr_t remove_left() noexcept {
        const std::uintptr_t t = ring_[first_];
        first_ = (first_ + 1) & (ring_cap_ - 1);
        --nblocks_;
        left_block_ = left_ = block(0);
        return t;
    }
    std::uintptr_t remove_right() noexcept {
        const std::uintptr_t t = ring_[slot(nblocks_ - 1)];
        --nblocks_;
        right_end_ = block(nblocks_ - 1) + kBlock;
        right_ = right_end_;
        return t;
    }
    // An empty deque's one block, its items to start at start_ (CPython's deque_new: the middle).
    void first_block() {
        reserve_ring(1);
        const Block b = new_block();
        ring_[first_] = tag(b);
        nblocks_ = 1;
        left_block_ = b.p;
        right_end_ = b.p + kBlock;
        left_ = right_ = b.p + start_;
    }
    // Where the items of this empty deque start (in its block, or in its first one to come).
    void start_at(std::size_t i) noexcept {
        if (left_block_) left_ = right_ = left_block_ + i;
        else start_ = static_cast<std::uint8_t>(i);
    }
    void recenter() noexcept { left_ = right_ = left_block_ + kCenter + 1; }
    std::uint8_t start_ = kCenter + 1;

    // A block for rotate(): taken when a side needs one, given back when a side empties one.
    struct Spare {
        std::uintptr_t b = 0;
        Spare() = default;
        Spare(const Spare&) = delete;
        ~Spare() {
            if (b) free_block(b);
        }
        void give(std::uintptr_t t) noexcept {
            if (b) free_block(b);
            b = t;
        }
    };
    // CPython's _deque_rotate, one item at a time: n normalised into [-len/2, len/2]; a side that
    // needs a block reuses the one the other side last emptied, else allocates.
    void rotate_by(std::ptrdiff_t n) {
        if (size_ <= 1) return;
        const auto len = static_cast<std::ptrdiff_t>(size_), half = len >> 1;
        if (n > half || n < -half) {
            n %= len;
            if (n > half) n -= len;
            else if (n < -half) n += len;
        }
        Spare spare;
        auto block_for = [&]() -> Block {
            reserve_ring(nblocks_ + 1);
            if (!spare.b) return new_block();
            const std::uintptr_t t = std::exchange(spare.b, 0);
            return {reinterpret_cast<E*>(t & ~std::uintptr_t{1}), block_origin(t)};
        };
        PinMoves pin(this);
        for (; n > 0; --n) {
            if (left_ == left_block_) add_left(block_for());
            ::new (static_cast<void*>(left_ - 1)) E(std::move(right_[-1]));
            --left_;
            std::destroy_at(--right_);
            if (right_ == right_end_ - kBlock) spare.give(remove_right());
        }
        for (; n < 0; ++n) {
            if (right_ == right_end_) add_right(block_for());
            ::new (static_cast<void*>(right_)) E(std::move(*left_));
            ++right_;
            std::destroy_at(left_++);
            if (left_ == left_block_ + kBlock) spare.give(remove_left());
        }
    }

    // ----- the ends -------------------------------------------------------------------------------
    // A new item is built before it is counted; when it needs a new block, it is built first
    // (x may be one of this deque's items), then the block is found, then the item moves in.
    template <class A>
    void push_back(A&& x) {
        if (maxlen_ == 0) return;
        if (OURO_LIKELY(right_ != right_end_)) {
            construct(right_, std::forward<A>(x));
            ++right_;
        } else {
            E item(std::forward<A>(x));
            if (!left_block_) {
                first_block();
            } else {
                reserve_ring(nblocks_ + 1);
                add_right(new_block());
            }
            ::new (static_cast<void*>(right_)) E(std::move(item));
            ++right_;
        }
        ++size_;
        if (size_ > maxlen_) [[maybe_unused]] E gone = take_front();
    }
    template <class A>
    void push_front(A&& x) {
        if (maxlen_ == 0) return;
        if (OURO_LIKELY(left_ != left_block_)) {
            construct(left_ - 1, std::forward<A>(x));
            --left_;
        } else {
            E item(std::forward<A>(x));
            if (!left_block_) {
                first_block();
            } else {
                reserve_ring(nblocks_ + 1);
                add_left(new_block());
            }
            ::new (static_cast<void*>(left_ - 1)) E(std::move(item));
            --left_;
        }
        ++size_;
        if (size_ > maxlen_) [[maybe_unused]] E gone = take_back();
    }
    template <class A>
    void construct(E* at, A&& x) {
        detail::PinIf<!detail::plain<E> && !std::is_nothrow_constructible_v<E, A&&>> pin(this);
        ::new (static_cast<void*>(at)) E(std::forward<A>(x));
    }
    // The item at an end, moved out and uncounted; an emptied end block is freed, or, when the
    // deque is now empty, its last block is kept and its items start again in the middle.
    E take_front() noexcept {
        E out(std::move(*left_));
        std::destroy_at(left_++);
        --size_;
        if (left_ == left_block_ + kBlock) {
            if (size_ > 0) free_block(remove_left());
            else recenter();
        }
        return out;
    }
    E take_back() noexcept {
        --right_;
        E out(std::move(*right_));
        std::destroy_at(right_);
        --size_;
        if (right_ == right_end_ - kBlock) {
            if (size_ > 0) free_block(remove_right());
            else recenter();
        }
        return out;
    }
    // CPython's deque_del_item: rotate(-i), popleft, rotate(i).
    void erase_at(std::size_t i) {
        rotate_by(-static_cast<std::ptrdiff_t>(i));
        [[maybe_unused]] E gone = take_front();  // dropped once the deque is consistent
        rotate_by(static_cast<std::ptrdiff_t>(i));
    }
    std::size_t find(const E& x, std::size_t lo, std::size_t hi) const {
        detail::PinIf<!detail::plain_eq<E>> pin(this);
        for (std::size_t i = lo; i < hi; ++i)
            if (const_cast<Deque*>(this)->at(i) == x) return i;
        return size_;
    }

    void take(Deque& other) noexcept {
        ring_ = std::exchange(other.ring_, nullptr);
        ring_cap_ = std::exchange(other.ring_cap_, 0);
        first_ = std::exchange(other.first_, 0);
        nblocks_ = std::exchange(other.nblocks_, 0);
        left_ = std::exchange(other.left_, nullptr);
        right_ = std::exchange(other.right_, nullptr);
        left_block_ = std::exchange(other.left_block_, nullptr);
        right_end_ = std::exchange(other.right_end_, nullptr);
        size_ = std::exchange(other.size_, 0);
        start_ = std::exchange(other.start_, static_cast<std::uint8_t>(kCenter + 1));
        maxlen_ = other.maxlen_;
        this->origin_ = std::exchange(other.origin_, detail::Origin::system);
    }
    // The storage, taken out of the deque (which is left empty).
    struct Parts {
        std::uintptr_t* ring;
        std::size_t mask, first, nblocks, offset, size;
        detail::Origin origin;
        E* block(std::size_t k) const noexcept {
            return reinterpret_cast<E*>(ring[(first + k) & mask] & ~std::uintptr_t{1});
        }
    };
    Parts detach() noexcept {
        Parts p{ring_, ring_cap_ - 1, first_, nblocks_, static_cast<std::size_t>(left_ - left_block_), size_, this->origin_};
        ring_ = nullptr;
        ring_cap_ = first_ = nblocks_ = size_ = 0;
        left_ = right_ = left_block_ = right_end_ = nullptr;
        start_ = kCenter + 1;  // CPython's clear() leaves a fresh block
        this->origin_ = detail::Origin::system;
        return p;
    }
    // Drops detached items, then their blocks and ring.
    static void drop(const Parts& p) noexcept {
        for (std::size_t i = 0; i < p.size; ++i) {
            const std::size_t at = p.offset + i;
            std::destroy_at(p.block(at / kBlock) + at % kBlock);
        }
        for (std::size_t k = 0; k < p.nblocks; ++k) free_block(p.ring[(p.first + k) & p.mask]);
        detail::storage_free(p.ring, p.origin);
    }

    void visit_items(Visitor& visit) {
        if (size_ == 0) return;
        E* p = left_;
        E* end = left_block_ + kBlock;
        for (std::size_t left = size_, k = 0;;) {
            const std::size_t n = std::min(left, static_cast<std::size_t>(end - p));
            for (std::size_t j = 0; j < n; ++j) visit(p[j]);
            if ((left -= n) == 0) return;
            p = block(++k);
            end = p + kBlock;
        }
    }
};

}  // namespace ouro
