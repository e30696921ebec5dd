// This thread's stack of script frames (tracemalloc::FrameScope), which an interpreter pushes so
// that its users see their script's lines.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ouro::detail {

struct ScriptFrame {
    std::string_view filename, function;
    int lineno;
    std::uint32_t code;       // intern_code(filename, function), 0 until a capture needs it
    std::uintptr_t position;  // where on the native stack it was pushed (for mixed stacks)
};

struct ScriptStack {
    ScriptFrame* frames = nullptr;  // oldest first
    std::size_t size = 0, capacity = 0;
};
// Constant-initialized and trivially destructible, so that the tracer's check for script frames,
// on every traced allocation, is one thread-local load (no TLS wrapper call); the frames' memory
// is freed at thread exit by an owner in script_frames.cpp.
extern thread_local constinit ScriptStack t_script_stack;
inline ScriptStack& script_stack() noexcept { return t_script_stack; }

}  // namespace ouro::detail
