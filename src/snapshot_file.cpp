// Snapshot::dump / load: a little-endian binary file. Strings and tracebacks are stored once;
// every count and index is checked against what is left of the input, so a truncated or
// corrupted file is reported, never trusted.
//
//   "OUROTMS1"  u32 version (1)  u32 traceback_limit  u64 sample_mean_bytes
//   u64 strings      { u32 length, bytes }
//   u64 tracebacks   { u32 frames, { u32 filename, i32 lineno, u32 function } }   (oldest first)
//   u64 traces       { u32 domain, u64 size, u32 traceback }
#include <ouro/tracemalloc.hpp>

#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <stdexcept>
#include <unordered_map>

namespace ouro::tracemalloc {

namespace {
constexpr char kMagic[8] = {'O', 'U', 'R', 'O', 'T', 'M', 'S', '1'};
constexpr std::uint32_t kVersion = 1;

template <class T>
void put(std::string& out, T v) {
    char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    out.append(b, sizeof(T));
}

class Input {
public:
    explicit Input(std::string_view bytes) : in_(bytes) {}
    template <class T>
    T get(const char* what) {
        if (in_.size() - pos_ < sizeof(T)) fail(std::string("truncated in ") + what);
        T v;
        std::memcpy(&v, in_.data() + pos_, sizeof(T));
        pos_ += sizeof(T);
        return v;
    }
    std::string_view bytes(std::size_t n, const char* what) {
        if (in_.size() - pos_ < n) fail(std::string("truncated in ") + what);
        auto v = in_.substr(pos_, n);
        pos_ += n;
        return v;
    }
    // A count of records of at least `each` bytes: no more than the input can hold.
    std::size_t count(std::size_t each, const char* what) {
        const auto n = get<std::uint64_t>(what);
        if (n > (in_.size() - pos_) / each) fail(std::string("corrupted: impossible number of ") + what);
        return static_cast<std::size_t>(n);
    }
    [[noreturn]] void fail(const std::string& why) const {
        throw std::runtime_error("ouro::tracemalloc::Snapshot::load: " + why + " (at byte " + std::to_string(pos_) + ")");
    }
    bool done() const noexcept { return pos_ == in_.size(); }

private:
    std::string_view in_;
    std::size_t pos_ = 0;
};
}  // namespace

std::string Snapshot::dumps() const {
    std::string out(kMagic, sizeof kMagic);
    put(out, kVersion);
    put(out, static_cast<std::uint32_t>(traceback_limit));
    put(out, static_cast<std::uint64_t>(sample_mean_bytes));
    std::unordered_map<std::string, std::uint32_t> string_ids;
    std::vector<const std::string*> strings;
    auto string_id = [&](const std::string& s) {
        auto [it, added] = string_ids.try_emplace(s, static_cast<std::uint32_t>(strings.size()));
        if (added) strings.push_back(&it->first);
        return it->second;
    };
    // Tracebacks share their frames: one record per distinct frame vector.
    std::map<const std::vector<Frame>*, std::uint32_t> traceback_ids;
    std::vector<const std::vector<Frame>*> tracebacks;
    std::vector<std::uint32_t> trace_tb;
    trace_tb.reserve(traces.size());
    for (const Trace& t : traces) {
        auto [it, added] = traceback_ids.try_emplace(&t.traceback.frames(), static_cast<std::uint32_t>(tracebacks.size()));
        if (added) tracebacks.push_back(it->first);
        trace_tb.push_back(it->second);
    }
    std::string body;
    put(body, static_cast<std::uint64_t>(tracebacks.size()));
    for (const auto* frames : tracebacks) {
        put(body, static_cast<std::uint32_t>(frames->size()));
        for (const Frame& f : *frames) {
            put(body, string_id(f.filename));
            put(body, static_cast<std::int32_t>(f.lineno));
            put(body, string_id(f.function));
        }
    }
    put(body, static_cast<std::uint64_t>(traces.size()));
    for (std::size_t i = 0; i < traces.size(); ++i) {
        put(body, static_cast<std::uint32_t>(traces[i].domain));
        put(body, static_cast<std::uint64_t>(traces[i].size));
        put(body, trace_tb[i]);
    }
    put(out, static_cast<std::uint64_t>(strings.size()));
    for (const std::string* s : strings) {
        put(out, static_cast<std::uint32_t>(s->size()));
        out += *s;
    }
    return out + body;
}

Snapshot Snapshot::loads(std::string_view bytes) {
    Input in(bytes);
    if (in.bytes(sizeof kMagic, "the header") != std::string_view(kMagic, sizeof kMagic)) in.fail("not a snapshot dump");
    if (in.get<std::uint32_t>("the header") != kVersion) in.fail("unsupported dump version");
    Snapshot s;
    const auto limit = in.get<std::uint32_t>("the header");
    if (limit < 1 || limit > static_cast<std::uint32_t>(MAX_NFRAME)) in.fail("corrupted: bad traceback limit");
    s.traceback_limit = static_cast<int>(limit);
    s.sample_mean_bytes = static_cast<std::size_t>(in.get<std::uint64_t>("the header"));
    std::vector<std::string> strings(in.count(4, "strings"));
    for (auto& str : strings) str = std::string(in.bytes(in.get<std::uint32_t>("a string"), "a string"));
    auto string_at = [&](std::uint32_t i) -> const std::string& {
        if (i >= strings.size()) in.fail("corrupted: string index out of range");
        return strings[i];
    };
    std::vector<Traceback> tracebacks(in.count(4, "tracebacks"));
    for (auto& tb : tracebacks) {
        const auto n = in.get<std::uint32_t>("a traceback");
        if (n > (1u << 20)) in.fail("corrupted: impossible number of frames");
        std::vector<Frame> frames;
        frames.reserve(n);
        for (std::uint32_t i = 0; i < n; ++i) {
            Frame f;
            f.filename = string_at(in.get<std::uint32_t>("a frame"));
            f.lineno = in.get<std::int32_t>("a frame");
            f.function = string_at(in.get<std::uint32_t>("a frame"));
            frames.push_back(std::move(f));
        }
        tb = Traceback(std::move(frames));
    }
    s.traces.resize(in.count(16, "traces"));
    for (Trace& t : s.traces) {
        t.domain = in.get<std::uint32_t>("a trace");
        t.size = static_cast<std::size_t>(in.get<std::uint64_t>("a trace"));
        const auto tb = in.get<std::uint32_t>("a trace");
        if (tb >= tracebacks.size()) in.fail("corrupted: traceback index out of range");
        t.traceback = tracebacks[tb];
    }
    if (!in.done()) in.fail("corrupted: bytes after the last trace");
    return s;
}

void Snapshot::dump(const std::string& path) const {
    const std::string bytes = dumps();
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) throw std::runtime_error("ouro::tracemalloc::Snapshot::dump: cannot write " + path);
}

Snapshot Snapshot::load(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("ouro::tracemalloc::Snapshot::load: cannot open " + path);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    try {
        return loads(bytes);
    } catch (const std::runtime_error& e) {
        throw std::runtime_error(std::string(e.what()) + " in " + path);
    }
}

}  // namespace ouro::tracemalloc
