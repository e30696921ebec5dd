// Snapshots, tracebacks and statistics: CPython's Lib/tracemalloc.py, in C++ (the grouping, the
// sort keys, the filters and the formatting are its).
#include <ouro/tracemalloc.hpp>

#include <fnmatch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>

namespace ouro::tracemalloc {

namespace {
const std::vector<Frame>& no_frames() {
    static const std::vector<Frame> none;
    return none;
}

// Python's _format_size.
std::string format_size(double size, bool sign) {
    static const char* const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    char buf[64];
    for (const char* unit : units) {
        const bool bytes = unit == units[0];
        if (std::fabs(size) < 100 && !bytes) {
            std::snprintf(buf, sizeof buf, sign ? "%+.1f %s" : "%.1f %s", size, unit);
            return buf;
        }
        if (std::fabs(size) < 10 * 1024 || unit == units[4]) {
            std::snprintf(buf, sizeof buf, sign ? "%+.0f %s" : "%.0f %s", size, unit);
            return buf;
        }
        size /= 1024;
    }
    return buf;
}

std::string with_average(std::string text, std::size_t size, std::size_t count) {
    if (count) text += ", average=" + format_size(static_cast<double>(size) / static_cast<double>(count), false);
    return text;
}

// Python's linecache.getline(filename, lineno).strip(), with the files read kept.
std::string source_line(const std::string& filename, int lineno) {
    static std::mutex mutex;
    static std::map<std::string, std::vector<std::string>> files;  // a report's files, read once
    if (lineno < 1) return {};
    std::lock_guard lock(mutex);
    auto it = files.find(filename);
    if (it == files.end()) {
        std::vector<std::string> lines;
        std::ifstream in(filename);
        for (std::string l; std::getline(in, l);) lines.push_back(std::move(l));
        it = files.emplace(filename, std::move(lines)).first;
    }
    if (static_cast<std::size_t>(lineno) > it->second.size()) return {};
    const std::string& l = it->second[static_cast<std::size_t>(lineno) - 1];
    const auto b = l.find_first_not_of(" \t\r\f\v");
    if (b == std::string::npos) return {};
    return l.substr(b, l.find_last_not_of(" \t\r\f\v") - b + 1);
}

bool match_frame(const Filter& f, const Frame& frame) {
    if (fnmatch(f.filename_pattern.c_str(), frame.filename.c_str(), FNM_NOESCAPE) != 0) return false;
    return !f.lineno || *f.lineno == frame.lineno;
}

// Python's Filter._match / DomainFilter._match. trace.traceback is oldest first: its most recent
// frame (Python's traceback[0] in the raw trace) is the last.
bool matches(const AnyFilter& any, const Trace& t) {
    if (const auto* d = std::get_if<DomainFilter>(&any)) return (t.domain == d->domain) != !d->inclusive;
    const Filter& f = std::get<Filter>(any);
    bool res;
    if (f.all_frames) {
        const bool any_frame = std::any_of(t.traceback.begin(), t.traceback.end(), [&](const Frame& fr) { return match_frame(f, fr); });
        res = any_frame ? f.inclusive : !f.inclusive;
    } else {
        res = t.traceback.size() && (match_frame(f, t.traceback[t.traceback.size() - 1]) != !f.inclusive);
    }
    if (f.domain) return f.inclusive ? res && t.domain == *f.domain : res || t.domain != *f.domain;
    return res;
}
bool inclusive(const AnyFilter& f) {
    return std::visit([](const auto& x) { return x.inclusive; }, f);
}

struct Group {
    double size = 0, count = 0;
};
struct TracebackLess {
    bool operator()(const Traceback& a, const Traceback& b) const noexcept { return a < b; }
};
using Grouped = std::map<Traceback, Group, TracebackLess>;

// Python's Snapshot._group_by. A sampled trace counts for the allocations it stands for.
Grouped group_by(const Snapshot& s, std::string_view key_type, bool cumulative) {
    if (key_type != "traceback" && key_type != "filename" && key_type != "lineno")
        throw std::invalid_argument("ouro::tracemalloc: unknown key_type: '" + std::string(key_type) + "'");
    if (cumulative && key_type == "traceback")
        throw std::invalid_argument("ouro::tracemalloc: cumulative mode cannot be used with key type 'traceback'");
    Grouped out;
    const auto key_of = [&](const Frame& f) {
        return Traceback({key_type == "filename" ? Frame{f.filename, 0, {}} : Frame{f.filename, f.lineno, f.function}});
    };
    for (const Trace& t : s.traces) {
        double weight = 1;
        if (s.sample_mean_bytes)
            weight = 1 / -std::expm1(-static_cast<double>(t.size) / static_cast<double>(s.sample_mean_bytes));
        auto add = [&](const Traceback& key) {
            Group& g = out[key];
            g.size += static_cast<double>(t.size) * weight;
            g.count += weight;
        };
        if (!cumulative) {
            if (key_type == "traceback") add(t.traceback);
            else add(t.traceback.size() ? key_of(t.traceback[t.traceback.size() - 1]) : Traceback());
        } else {
            for (const Frame& f : t.traceback) add(key_of(f));
        }
    }
    return out;
}

std::size_t whole(double x) { return static_cast<std::size_t>(std::llround(x)); }
std::size_t magnitude(std::ptrdiff_t x) { return static_cast<std::size_t>(x < 0 ? -x : x); }
}  // namespace

std::string Frame::str() const { return filename + ":" + std::to_string(lineno); }

Traceback::Traceback(std::vector<Frame> oldest_first)
    : frames_(std::make_shared<const std::vector<Frame>>(std::move(oldest_first))) {}
const std::vector<Frame>& Traceback::frames() const noexcept { return frames_ ? *frames_ : no_frames(); }
std::vector<Frame>::const_iterator Traceback::begin() const noexcept { return frames().begin(); }
std::vector<Frame>::const_iterator Traceback::end() const noexcept { return frames().end(); }
std::strong_ordering operator<=>(const Traceback& a, const Traceback& b) noexcept {
    return std::lexicographical_compare_three_way(a.begin(), a.end(), b.begin(), b.end());
}
std::string Traceback::str() const { return size() ? (*this)[0].str() : std::string(); }

std::vector<std::string> Traceback::format(std::optional<int> limit, bool most_recent_first) const {
    std::size_t lo = 0, hi = size();
    if (limit) {
        const auto n = static_cast<std::size_t>(std::abs(*limit));
        if (*limit > 0) lo = hi > n ? hi - n : 0;
        else hi -= std::min(hi, n == 0 ? hi : n);  // Python's self[:limit]
    }
    std::vector<std::string> lines;
    auto emit = [&](const Frame& f) {
        lines.push_back("  File \"" + f.filename + "\", line " + std::to_string(f.lineno));
        if (std::string src = source_line(f.filename, f.lineno); !src.empty()) lines.push_back("    " + src);
    };
    if (most_recent_first)
        for (std::size_t i = hi; i > lo; --i) emit((*this)[i - 1]);
    else
        for (std::size_t i = lo; i < hi; ++i) emit((*this)[i]);
    return lines;
}

std::string Statistic::str() const {
    return with_average(traceback.str() + ": size=" + format_size(static_cast<double>(size), false) +
                            ", count=" + std::to_string(count),
                        size, count);
}

std::string StatisticDiff::str() const {
    char diff[32];
    std::snprintf(diff, sizeof diff, "%+td", count_diff);
    return with_average(traceback.str() + ": size=" + format_size(static_cast<double>(size), false) + " (" +
                            format_size(static_cast<double>(size_diff), true) + "), count=" + std::to_string(count) +
                            " (" + diff + ")",
                        size, count);
}

std::vector<Statistic> Snapshot::statistics(std::string_view key_type, bool cumulative) const {
    std::vector<Statistic> out;
    for (auto& [tb, g] : group_by(*this, key_type, cumulative)) out.push_back({tb, whole(g.size), whole(g.count)});
    // Python: sort(reverse=True, key=(size, count, traceback)).
    std::stable_sort(out.begin(), out.end(), [](const Statistic& a, const Statistic& b) {
        if (a.size != b.size) return a.size > b.size;
        if (a.count != b.count) return a.count > b.count;
        return b.traceback < a.traceback;
    });
    return out;
}

std::vector<StatisticDiff> Snapshot::compare_to(const Snapshot& old, std::string_view key_type, bool cumulative) const {
    Grouped now = group_by(*this, key_type, cumulative);
    Grouped before = group_by(old, key_type, cumulative);
    std::vector<StatisticDiff> out;
    for (auto& [tb, g] : now) {
        const std::size_t size = whole(g.size), count = whole(g.count);
        std::size_t old_size = 0, old_count = 0;
        if (auto it = before.find(tb); it != before.end()) {
            old_size = whole(it->second.size);
            old_count = whole(it->second.count);
            before.erase(it);
        }
        out.push_back({tb, size, static_cast<std::ptrdiff_t>(size) - static_cast<std::ptrdiff_t>(old_size), count,
                       static_cast<std::ptrdiff_t>(count) - static_cast<std::ptrdiff_t>(old_count)});
    }
    for (auto& [tb, g] : before)
        out.push_back({tb, 0, -static_cast<std::ptrdiff_t>(whole(g.size)), 0, -static_cast<std::ptrdiff_t>(whole(g.count))});
    // Python: sort(reverse=True, key=(abs(size_diff), size, abs(count_diff), count, traceback)).
    std::stable_sort(out.begin(), out.end(), [](const StatisticDiff& a, const StatisticDiff& b) {
        if (magnitude(a.size_diff) != magnitude(b.size_diff)) return magnitude(a.size_diff) > magnitude(b.size_diff);
        if (a.size != b.size) return a.size > b.size;
        if (magnitude(a.count_diff) != magnitude(b.count_diff)) return magnitude(a.count_diff) > magnitude(b.count_diff);
        if (a.count != b.count) return a.count > b.count;
        return b.traceback < a.traceback;
    });
    return out;
}

Snapshot Snapshot::filter_traces(const std::vector<AnyFilter>& filters) const {
    Snapshot out;
    out.traceback_limit = traceback_limit;
    out.sample_mean_bytes = sample_mean_bytes;
    for (const Trace& t : traces) {
        bool any_include = false, included = false, excluded = false;
        for (const AnyFilter& f : filters) {
            if (inclusive(f)) {
                any_include = true;
                included = included || matches(f, t);
            } else {
                excluded = excluded || !matches(f, t);
            }
        }
        if ((!any_include || included) && !excluded) out.traces.push_back(t);
    }
    return out;
}

}  // namespace ouro::tracemalloc
