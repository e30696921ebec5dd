// Errors from user code that runs where nobody can catch them — finalizers, weak reference
// callbacks, gc callbacks, trace() during a collection — go to the unraisable hook, like
// Python's sys.unraisablehook. They never propagate through the collector.
#pragma once

#include <exception>
#include <functional>
#include <string_view>

namespace ouro {

using UnraisableHook = std::function<void(std::exception_ptr error, std::string_view where)>;

// Installs `hook` for the whole process and returns the previous one. An empty hook restores
// the default, which prints "Exception ignored in <where>: <what()>" to stderr.
UnraisableHook set_unraisable_hook(UnraisableHook hook);

// Reports the current exception (call from a catch block) through the hook.
void report_unraisable(std::string_view where) noexcept;

class Object;
// The same, with `where` = what + " " + a description of the object ("<Node at 0x...>"). Never
// throws: without memory for the description, `what` alone is reported.
void report_unraisable(const char* what, const Object& object) noexcept;

}  // namespace ouro
