// Script frames: the thread's stack (script_frames.hpp) and the process's interned code names.
#include "script_frames.hpp"

#include "tracebacks.hpp"

#include <ouro/tracemalloc.hpp>

#include <cstdlib>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>
#include <vector>

namespace ouro::detail {

thread_local constinit ScriptStack t_script_stack;

namespace {
struct StackOwner {  // frees the thread's frames when the thread ends (armed by their first allocation)
    bool armed = false;
    ~StackOwner() {
        std::free(t_script_stack.frames);
        t_script_stack = {};
    }
};
thread_local StackOwner t_stack_owner;

struct Codes {
    std::mutex mutex;
    std::unordered_map<std::string, std::uint32_t> ids;  // filename '\0' function -> id
    std::vector<std::pair<std::string, std::string>> names;  // id - 1 -> names
};
Codes& codes() {
    static auto* c = new Codes;  // never destroyed: tracers of other threads' heaps may outlive statics
    return *c;
}
}  // namespace

std::uint32_t intern_code(std::string_view filename, std::string_view function) {
    Codes& c = codes();
    std::string key;
    key.reserve(filename.size() + 1 + function.size());
    key.append(filename).push_back('\0');
    key.append(function);
    std::lock_guard lock(c.mutex);
    auto [it, added] = c.ids.try_emplace(std::move(key), 0);
    if (added) {
        try {
            c.names.emplace_back(std::string(filename), std::string(function));
        } catch (...) {
            c.ids.erase(it);
            throw;
        }
        it->second = static_cast<std::uint32_t>(c.names.size());
    }
    return it->second;
}

std::pair<std::string, std::string> code_names(std::uint32_t code) {
    Codes& c = codes();
    std::lock_guard lock(c.mutex);
    return c.names.at(code - 1);
}

namespace {
void push(std::string_view filename, int lineno, std::string_view function, std::uintptr_t position) {
    ScriptStack& s = script_stack();
    if (s.size == s.capacity) {
        const std::size_t cap = s.capacity ? s.capacity * 2 : 64;
        auto* grown = static_cast<ScriptFrame*>(std::realloc(s.frames, cap * sizeof(ScriptFrame)));
        if (!grown) throw std::bad_alloc();
        s.frames = grown;
        s.capacity = cap;
        t_stack_owner.armed = true;  // registers the owner's destructor for this thread
    }
    s.frames[s.size++] = ScriptFrame{filename, function, lineno, 0, position};
}
}  // namespace

}  // namespace ouro::detail

namespace ouro::tracemalloc {

// A frame is placed among native frames by where it was pushed: the scope object lives in the
// pushing function's frame.
FrameScope::FrameScope(std::string_view filename, int lineno, std::string_view function)
    : depth_(detail::script_stack().size) {
    detail::push(filename, lineno, function, reinterpret_cast<std::uintptr_t>(this));
}

FrameScope::~FrameScope() { detail::script_stack().size = depth_; }

void FrameScope::set_lineno(int lineno) noexcept { detail::script_stack().frames[depth_].lineno = lineno; }

// Without a scope, the caller's stack pointer at the call stands for its frame.
__attribute__((noinline)) void push_frame(std::string_view filename, int lineno, std::string_view function) {
    detail::push(filename, lineno, function, reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0)) + 2 * sizeof(void*));
}

void pop_frame() noexcept {
    detail::ScriptStack& s = detail::script_stack();
    if (s.size) --s.size;
}

}  // namespace ouro::tracemalloc
