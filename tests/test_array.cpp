// ouro::Array: array.array's operations on raw values, type codes and sizes, bytes in and out,
// memoryview pins. (Python's array is checked against it in test_containers_python.cpp.)
#include "support.hpp"

#include <ouro/array.hpp>

#include <gtest/gtest.h>

#include <cstring>
#include <numeric>
#include <vector>

namespace {

using ArrayTest = support::QuietHeapTest;

TEST_F(ArrayTest, ValuesTypeCodesAndSizes) {
    auto a = ouro::make<ouro::Array<int>>(std::initializer_list<int>{1, 2, 3, 4});
    EXPECT_FALSE(ouro::gc::is_tracked(*a));  // no references: never a candidate
    EXPECT_EQ(a->typecode(), 'i');
    EXPECT_EQ(a->itemsize(), 4u);
    EXPECT_EQ(a->nbytes(), 16u);  // numpy's ndarray.nbytes
    EXPECT_EQ(a->capacity(), 4u); // array('i', [1, 2, 3, 4]) allocates exactly
    // CPython 3.11: sys.getsizeof(array.array('i', [1, 2, 3, 4])) == 96.
    EXPECT_EQ(ouro::sys::getsizeof(*a), ouro::sys::getsizeof(*ouro::make<ouro::Array<int>>()) + 16);
    EXPECT_LT(ouro::sys::getsizeof(*a), 96u);
    auto [address, length] = a->buffer_info();
    EXPECT_EQ(address, a->span().data());
    EXPECT_EQ(length, 4u);
    EXPECT_EQ(ouro::Array<double>::typecode(), 'd');
    EXPECT_EQ(ouro::Array<float>::typecode(), 'f');
    EXPECT_EQ(ouro::Array<unsigned char>::typecode(), 'B');
    EXPECT_EQ(ouro::Array<long long>::typecode(), 'q');
    a->append(5);
    EXPECT_EQ(a->capacity(), 8u);  // array_resize: 5 + 5/16 + 3
    EXPECT_EQ(std::accumulate(a->begin(), a->end(), 0), 15);
}

TEST_F(ArrayTest, BytesInAndOut) {
    ouro::Array<std::uint16_t> a{0x0102, 0x0304};
    auto bytes = a.tobytes();
    ASSERT_EQ(bytes.size(), 4u);
    ouro::Array<std::uint16_t> b;
    b.frombytes(bytes);
    EXPECT_EQ(a, b);
    b.byteswap();
    EXPECT_EQ(b[0], 0x0201);
    EXPECT_EQ(b[1], 0x0403);
    std::vector<std::byte> odd(3);
    try {
        b.frombytes(odd);
        ADD_FAILURE();
    } catch (const std::invalid_argument& e) {
        EXPECT_STREQ(e.what(), "bytes length not a multiple of item size");
    }
    b.frombytes(std::as_bytes(b.span()));  // from its own buffer
    EXPECT_EQ(b.size(), 4u);
    EXPECT_EQ(b.tolist(), (std::vector<std::uint16_t>{0x0201, 0x0403, 0x0201, 0x0403}));
    b.extend(b.span());
    EXPECT_EQ(b.size(), 8u);
}

TEST_F(ArrayTest, AMemoryviewStopsResizes) {
    ouro::Array<double> a{1.0, 2.0, 3.0};
    {
        auto view = a.memoryview();
        std::span<double> s = view;
        s[1] = 20.0;
        EXPECT_EQ(view.nbytes(), 24u);
        try {
            a.append(4.0);
            ADD_FAILURE();
        } catch (const std::runtime_error& e) {
            EXPECT_STREQ(e.what(), "cannot resize an array that is exporting buffers or being iterated");
        }
        EXPECT_THROW(a.pop(), std::runtime_error);
        a[0] = 10.0;  // writing values is fine
        a.reverse();
        EXPECT_EQ(view[-1], 10.0);
    }
    a.append(4.0);  // the view is gone
    EXPECT_EQ(a.tolist(), (std::vector<double>{3.0, 20.0, 10.0, 4.0}));
}

TEST_F(ArrayTest, SequenceErrorsNameTheArray) {
    ouro::Array<int> a;
    auto what = [](auto&& f) -> std::string {
        try {
            f();
        } catch (const std::exception& e) {
            return e.what();
        }
        return "none";
    };
    EXPECT_EQ(what([&] { a.pop(); }), "pop from empty array");
    EXPECT_EQ(what([&] { (void)a[0]; }), "array index out of range");
    EXPECT_EQ(what([&] { a.remove(1); }), "array.remove(x): x not in array");
    EXPECT_EQ(what([&] { (void)a.index(1); }), "array.index(x): x not in array");
}

}  // namespace
