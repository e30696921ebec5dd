// Problems a trace() showed during a collection (docs/design.md §5, "Mistaken traces").
#pragma once

#include "describe.hpp"
#include "heap_state.hpp"

#include <ouro/unraisable.hpp>

#include <exception>
#include <stdexcept>
#include <string>
#include <typeinfo>
#include <utility>
#include <vector>

namespace ouro::detail {

// Problems a trace() showed: kept while the collector walks the heap (no user code may run then)
// and reported through the unraisable hook once the walk is over, once per type and problem
// for the life of the heap.
class TraceErrors {
public:
    void record(const Object& x, const char* problem) noexcept { add(x, problem, nullptr); }
    // A trace() that threw: reported every time, with its own exception (as CPython reports
    // every exception a tp_traverse-driven callback raises).
    void record_exception(const Object& x) noexcept { add(x, nullptr, std::current_exception()); }
    // Reports what was recorded; true when user code (the hook) ran.
    bool flush(HeapState& s) noexcept {
        bool reported = false;
        for (Found& f : found_) {
            try {
                if (f.error) {
                    std::rethrow_exception(f.error);
                } else {
                    if (!s.collector.reported.emplace(f.type, f.problem).second) continue;
                    throw std::logic_error(std::string("it ") + f.problem);
                }
            } catch (...) {
                report_unraisable(f.where);
                reported = true;
            }
        }
        found_.clear();
        return reported;
    }

private:
    struct Found {
        std::string type;
        std::string problem;
        std::string where;
        std::exception_ptr error;
    };
    void add(const Object& x, const char* problem, std::exception_ptr error) noexcept {
        try {
            std::string where = (error ? "trace() during a collection (nothing was freed), of " : "trace() of ") + describe(x);
            found_.push_back({typeid(x).name(), problem ? problem : "", std::move(where), std::move(error)});
        } catch (...) {
        }
    }
    std::vector<Found> found_;
};

}  // namespace ouro::detail
