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

void ExitStack::unwind(bool may_throw) {
    std::exception_ptr first;
    while (!exits_.empty()) {
        std::unique_ptr<Exit> exit = std::move(exits_.back());
        exits_.pop_back();
        try {
            exit->run();
        } catch (...) {
            if (may_throw && !first) first = std::current_exception();
            else report_unraisable("an ExitStack exit");
        }
    }
    if (first) std::rethrow_exception(first);
}

}  // namespace ouro
