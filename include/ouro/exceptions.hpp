// Python's built-in exceptions that the library raises, as C++ exception types that derive from
// the standard ones a C++ programmer would catch.
//
//   KeyError        a missing key or member: WeakSet::remove and pop, the dictionaries' pop and
//                   popitem (a std::out_of_range, like std::map::at's)
//   ReferenceError  a Proxy used after its referent died ("weakly-referenced object no longer
//                   exists", CPython's message)
//   StopIteration   next(gen), send() or throw_() of a Generator that finished (its return value
//                   is gen.value(): the exception carries no typed value)
//   GeneratorExit   what Generator::close() raises at the co_yield where the generator stopped. As
//                   Python's derives from BaseException, not Exception, this one derives from no
//                   standard exception: `catch (const std::exception&)` does not swallow it.
//
// Changing a weak container while iterating over it throws std::runtime_error, as Python raises
// RuntimeError.
#pragma once

#include <stdexcept>

namespace ouro {

class KeyError : public std::out_of_range {
public:
    using std::out_of_range::out_of_range;
};

class ReferenceError : public std::runtime_error {
public:
    ReferenceError() : std::runtime_error("weakly-referenced object no longer exists") {}
    using std::runtime_error::runtime_error;
};

class StopIteration : public std::runtime_error {
public:
    StopIteration() : std::runtime_error("StopIteration") {}
};

class GeneratorExit {
public:
    const char* what() const noexcept { return "GeneratorExit"; }
};

}  // namespace ouro
