// ouro::Array<T> — Python's array.array for one arithmetic type: the values themselves, contiguous,
// with no object per item. Never tracked by the collector (it holds no references). A managed
// object (ouro::make<Array<int>>()), a member, or a local.
//
// Python -> C++: array('i', xs) -> Array<int>{...} or Array<int>(xs); a.typecode, a.itemsize,
// a.buffer_info(), a.append(x), a.extend(xs), a.fromlist(xs), a.tolist(), a.frombytes(b),
// a.tobytes(), a.byteswap(), a.insert(i, x), a.pop(i), a.remove(x), a.index(x), a.count(x),
// a.reverse(), a[i], a[a:b:c] -> a.slice(a, b, c), memoryview(a) -> a.memoryview(); numpy's
// a.nbytes. The sequence operations and their errors are List's (list.hpp), with "array" in the
// messages.
//
// span() is the values as a std::span: valid until the array next changes size, like
// std::vector::data(). memoryview() is the checked form: while the view lives, a size change
// throws std::runtime_error (Python's BufferError "cannot resize an array that is exporting
// buffers"). The buffer grows as CPython's (Modules/arraymodule.c, array_resize).
#pragma once

#include <ouro/detail/sequence.hpp>

#include <bit>
#include <cstddef>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

namespace ouro {

namespace detail {
// array.array's type code for T (on LP64 Linux: 'l' is 8 bytes, 'q' too).
template <class T>
constexpr char typecode_of() noexcept {
    if constexpr (std::is_floating_point_v<T>) return sizeof(T) == 4 ? 'f' : 'd';
    else if constexpr (std::is_same_v<T, char>) return std::is_signed_v<char> ? 'b' : 'B';
    else if constexpr (std::is_same_v<T, signed char>) return 'b';
    else if constexpr (std::is_same_v<T, unsigned char>) return 'B';
    else if constexpr (std::is_same_v<T, short>) return 'h';
    else if constexpr (std::is_same_v<T, unsigned short>) return 'H';
    else if constexpr (std::is_same_v<T, int>) return 'i';
    else if constexpr (std::is_same_v<T, unsigned>) return 'I';
    else if constexpr (std::is_same_v<T, long>) return 'l';
    else if constexpr (std::is_same_v<T, unsigned long>) return 'L';
    else if constexpr (std::is_same_v<T, long long>) return 'q';
    else if constexpr (std::is_same_v<T, unsigned long long>) return 'Q';
    else return '?';
}
}  // namespace detail

template <class T>
class Array : public detail::Sequence<Array<T>, T, detail::ArrayGrowth> {
    static_assert(std::is_arithmetic_v<T> && !std::is_same_v<T, bool> && detail::typecode_of<T>() != '?' &&
                      sizeof(T) <= 8,
                  "ouro::Array<T>: T must be one of array.array's types (an integer type, float or double)");
    using Base = detail::Sequence<Array<T>, T, detail::ArrayGrowth>;
    friend Base;
    static constexpr const char* kName = "array";
    static constexpr bool kEmptySliceDeletes = true;
    static constexpr const char* kPinned = "cannot resize an array that is exporting buffers or being iterated";

public:
    Array() noexcept = default;
    Array(std::initializer_list<T> items) { this->init(std::span<const T>(items.begin(), items.size())); }
    template <class R>
        requires std::ranges::input_range<R> && std::constructible_from<T, std::ranges::range_reference_t<R>> &&
                 (!std::is_same_v<std::remove_cvref_t<R>, Array>)
    explicit Array(R&& items) {
        this->init(std::forward<R>(items));
    }
    Array(const Array&) = default;
    Array(Array&&) = default;  // throws std::runtime_error when `other` is pinned
    Array& operator=(const Array&) = default;
    Array& operator=(Array&&) = default;
    ~Array() override = default;

    void swap(Array& other) { this->swap_storage(other); }
    friend void swap(Array& a, Array& b) { a.swap(b); }

    static constexpr char typecode() noexcept { return detail::typecode_of<T>(); }
    static constexpr std::size_t itemsize() noexcept { return sizeof(T); }
    // numpy's ndarray.nbytes: the values' bytes (sys::getsizeof adds the object and the spare room).
    std::size_t nbytes() const noexcept { return this->size_ * sizeof(T); }
    // (address, length), valid until the array next changes size.
    std::pair<T*, std::size_t> buffer_info() noexcept { return {this->data_, this->size_}; }
    std::pair<const T*, std::size_t> buffer_info() const noexcept { return {this->data_, this->size_}; }

    std::span<T> span() noexcept { return {this->data_, this->size_}; }
    std::span<const T> span() const noexcept { return {this->data_, this->size_}; }

    // memoryview(a): the values, and a pin that stops the array from changing size meanwhile.
    template <bool Const>
    class View {
        using Elem = std::conditional_t<Const, const T, T>;

    public:
        std::span<Elem> span() const noexcept { return values_; }
        operator std::span<Elem>() const noexcept { return values_; }
        std::size_t size() const noexcept { return values_.size(); }
        std::size_t nbytes() const noexcept { return values_.size_bytes(); }
        Elem& operator[](std::ptrdiff_t i) const {
            return values_[detail::item_index(i, values_.size(), "index out of bounds on dimension 1")];
        }
        Elem* begin() const noexcept { return values_.data(); }
        Elem* end() const noexcept { return values_.data() + values_.size(); }

    private:
        friend Array;
        View(const Array* a, std::span<Elem> values) noexcept : pin_(a), values_(values) {}
        detail::Pin pin_;
        std::span<Elem> values_;
    };
    View<false> memoryview() noexcept { return {this, span()}; }
    View<true> memoryview() const noexcept { return {this, span()}; }

    // a.fromlist(xs) (any range of values) and a.tolist() (a std::vector).
    template <class R>
    void fromlist(R&& items) {
        this->extend(std::forward<R>(items));
    }
    std::vector<T> tolist() const { return {this->data_, this->data_ + this->size_}; }

    // a.frombytes(b): appends the values whose machine representation b holds; ValueError
    // (std::invalid_argument) when its length is not a multiple of the item size.
    void frombytes(std::span<const std::byte> bytes) {
        if (bytes.size() % sizeof(T) != 0) detail::value_error("bytes length not a multiple of item size");
        const std::size_t n = bytes.size() / sizeof(T);
        if (n == 0) return;
        this->check_unpinned(kPinned);
        const std::size_t at = this->size_;
        std::vector<std::byte> copy(bytes.begin(), bytes.end());  // bytes may be a view of this array
        this->reserve_for(at + n);
        std::memcpy(static_cast<void*>(this->data_ + at), copy.data(), copy.size());
        this->size_ = at + n;
    }
    std::vector<std::byte> tobytes() const {
        const auto* p = reinterpret_cast<const std::byte*>(this->data_);
        return {p, p + nbytes()};
    }
    // a.byteswap(): every value's bytes reversed (for data from a machine of the other byte order).
    void byteswap() noexcept {
        for (std::size_t i = 0; i < this->size_; ++i) {
            auto* b = reinterpret_cast<unsigned char*>(this->data_ + i);
            std::reverse(b, b + sizeof(T));
        }
    }
};

}  // namespace ouro
