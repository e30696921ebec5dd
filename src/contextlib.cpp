// Resource, ExitStack and closing (include/ouro/contextlib.hpp): the parts that need no template.
#include "describe.hpp"

#include <ouro/contextlib.hpp>
#include <ouro/unraisable.hpp>

#include <string>

namespace ouro {

void Resource::close() {
    if (closed_) return;
    closed_ = true;
    do_close();
}

void Resource::finalize() {
    if (closed_) return;
    try {
        throw ResourceWarning("ResourceWarning: unclosed " + detail::describe(*this));
    } catch (...) {
        report_unraisable("the finalizer of", *this);
    }
    close();  // an exception goes to the hook, as from any finalizer
}

// As in Python, the exception that propagates is the last one raised; the earlier ones, which
// Python chains to it as its __context__, go to the hook as they are replaced.
void ExitStack::unwind(bool may_throw) {
    std::exception_ptr last;
    while (!exits_.empty()) {
        std::unique_ptr<Exit> exit = std::move(exits_.back());
        exits_.pop_back();
        try {
            exit->run();
        } catch (...) {
            if (!may_throw) {
                report_unraisable("an ExitStack exit");
                continue;
            }
            if (last) {
                std::exception_ptr now = std::current_exception();
                try {
                    std::rethrow_exception(std::exchange(last, now));
                } catch (...) {
                    report_unraisable("an ExitStack exit");
                }
            } else {
                last = std::current_exception();
            }
        }
    }
    if (last) std::rethrow_exception(last);
}

}  // namespace ouro
