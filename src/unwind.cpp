// The native stack walker (unwind.hpp). On x86-64 it reads the DWARF call frame information
// itself: libgcc's _Unwind_Find_FDE (part of the C++ runtime) finds a function's FDE, a small
// interpreter runs its CFA program up to the address, and the result — where the canonical frame
// address is (rsp or rbp plus an offset) and where rbp and the return address were saved — is
// cached by address, so a known frame costs a hash probe and two loads. libgcc's own
// _Unwind_Backtrace costs over a microsecond per call, which is what this avoids. Elsewhere, and
// for what the interpreter does not handle, _Unwind_Backtrace is the fallback.
#include "unwind.hpp"

#include "symbolize.hpp"

#include <pthread.h>
#include <unwind.h>

#include <cstdlib>
#include <cstring>

namespace ouro::detail {

namespace {

// The walk reads only this thread's stack: its bounds, found once per thread.
struct StackBounds {
    std::uintptr_t lo = 0, hi = 0;
};
StackBounds& stack_bounds() noexcept {
    thread_local StackBounds b;
    if (b.hi == 0) {
        pthread_attr_t attr;
        if (pthread_getattr_np(pthread_self(), &attr) == 0) {
            void* addr = nullptr;
            std::size_t size = 0;
            if (pthread_attr_getstack(&attr, &addr, &size) == 0) {
                b.lo = reinterpret_cast<std::uintptr_t>(addr);
                b.hi = b.lo + size;
            }
            pthread_attr_destroy(&attr);
        }
        if (b.hi == 0) b.hi = 1;  // unknown: walks stop at the first frame
    }
    return b;
}

struct Fallback {
    NativeFrame* out;
    std::size_t n, max;
    std::uintptr_t start;
    bool started;
};
_Unwind_Reason_Code fallback_step(_Unwind_Context* ctx, void* arg) {
    auto* f = static_cast<Fallback*>(arg);
    const auto pc = static_cast<std::uintptr_t>(_Unwind_GetIP(ctx));
    if (!f->started && pc == f->start) f->started = true;
    if (f->started) {
        if (f->n == f->max) return _URC_END_OF_STACK;
        f->out[f->n++] = {pc, static_cast<std::uintptr_t>(_Unwind_GetCFA(ctx)), is_library_code(pc)};
    }
    return _URC_NO_REASON;
}
std::size_t fallback_unwind(const void* start, NativeFrame* out, std::size_t max) noexcept {
    Fallback f{out, 0, max, reinterpret_cast<std::uintptr_t>(start), start == nullptr};
    _Unwind_Backtrace(fallback_step, &f);
    if (!f.started) {  // start not found: from the top
        f.started = true;
        f.start = 0;
        f.n = 0;
        _Unwind_Backtrace(fallback_step, &f);
    }
    return f.n;
}

}  // namespace

}  // namespace ouro::detail

#if defined(__x86_64__)

extern "C" {
struct dwarf_eh_bases {
    void* tbase;
    void* dbase;
    void* func;
};
// libgcc's (exported since GCC 3.0): the FDE that covers pc, and the bases its pointers are relative to.
const void* _Unwind_Find_FDE(void* pc, struct dwarf_eh_bases* bases);
}

namespace ouro::detail {
namespace {

constexpr int kRbp = 6, kRsp = 7, kRa = 16;  // DWARF register numbers on x86-64

// How to step from a frame at some pc to its caller.
struct Rule {
    std::uintptr_t pc = 0;       // the key (0: empty slot)
    std::int32_t cfa_offset = 0;
    std::int16_t rbp_offset = 0;  // where the caller's rbp is saved, from the CFA; 0: rbp unchanged
    std::int16_t ra_offset = 0;   // where the return address is, from the CFA
    std::uint8_t cfa_reg = 0;     // kRsp or kRbp; 0: unknown (the walk stops)
    bool library = false;         // is_library_code(pc)
};

class Reader {
public:
    Reader(const std::uint8_t* p, const std::uint8_t* end) : p_(p), end_(end) {}
    bool ok() const noexcept { return ok_; }
    bool done() const noexcept { return p_ >= end_; }
    const std::uint8_t* pos() const noexcept { return p_; }
    void skip(std::size_t n) noexcept { n <= static_cast<std::size_t>(end_ - p_) ? void(p_ += n) : fail(); }
    template <class T>
    T fixed() noexcept {
        T v{};
        if (static_cast<std::size_t>(end_ - p_) < sizeof(T)) return fail(), v;
        std::memcpy(&v, p_, sizeof(T));
        p_ += sizeof(T);
        return v;
    }
    std::uint64_t uleb() noexcept {
        std::uint64_t v = 0;
        for (unsigned shift = 0; shift < 64; shift += 7) {
            if (p_ >= end_) return fail(), 0;
            const std::uint8_t b = *p_++;
            v |= std::uint64_t{b & 0x7fu} << shift;
            if (!(b & 0x80)) return v;
        }
        return fail(), 0;
    }
    std::int64_t sleb() noexcept {
        std::int64_t v = 0;
        unsigned shift = 0;
        std::uint8_t b = 0;
        do {
            if (p_ >= end_ || shift >= 64) return fail(), 0;
            b = *p_++;
            v |= static_cast<std::int64_t>(std::uint64_t{b & 0x7fu} << shift);
            shift += 7;
        } while (b & 0x80);
        if (shift < 64 && (b & 0x40)) v |= -(std::int64_t{1} << shift);
        return v;
    }
    // A pointer in DW_EH_PE encoding `enc`; only its value format matters here (relative
    // encodings are applied by the caller where it needs an address).
    std::uint64_t encoded(std::uint8_t enc) noexcept {
        if (enc == 0xff) return 0;  // DW_EH_PE_omit
        const std::uint8_t* at = p_;
        std::uint64_t v = 0;
        switch (enc & 0x0f) {
            case 0x00: v = fixed<std::uint64_t>(); break;  // absptr
            case 0x01: v = uleb(); break;
            case 0x02: v = fixed<std::uint16_t>(); break;
            case 0x03: v = fixed<std::uint32_t>(); break;
            case 0x04: v = fixed<std::uint64_t>(); break;
            case 0x09: v = static_cast<std::uint64_t>(sleb()); break;
            case 0x0a: v = static_cast<std::uint64_t>(static_cast<std::int64_t>(fixed<std::int16_t>())); break;
            case 0x0b: v = static_cast<std::uint64_t>(static_cast<std::int64_t>(fixed<std::int32_t>())); break;
            case 0x0c: v = fixed<std::uint64_t>(); break;
            default: fail(); return 0;
        }
        if ((enc & 0x70) == 0x10) v += reinterpret_cast<std::uintptr_t>(at);  // pcrel
        return v;
    }
    void fail() noexcept {
        ok_ = false;
        p_ = end_;
    }

private:
    const std::uint8_t* p_;
    const std::uint8_t* end_;
    bool ok_ = true;
};

// The registers' rules while a CFA program runs: where the CFA is, and where rbp and the return
// address were saved (0: not saved; INT32_MIN: in a way this walker does not follow).
struct Row {
    int cfa_reg = kRsp;
    std::int64_t cfa_offset = 8;
    std::int64_t saved[2] = {0, 0};  // rbp, return address
    bool unsupported = false;
};
constexpr std::int64_t kOther = INT32_MIN;

std::int64_t* slot(Row& r, std::uint64_t reg, std::uint64_t ra_reg) noexcept {
    if (reg == kRbp) return &r.saved[0];
    if (reg == ra_reg) return &r.saved[1];
    return nullptr;
}

// Runs CFA instructions [p, end) from location `loc` until it passes `target`.
bool run_cfa(Reader in, std::uintptr_t& loc, std::uintptr_t target, Row& row, const Row& initial, std::uint64_t code_align,
             std::int64_t data_align, std::uint64_t ra_reg, std::uint8_t fde_enc) noexcept {
    Row stack[8];
    int depth = 0;
    while (!in.done()) {
        const std::uint8_t op = in.fixed<std::uint8_t>();
        const std::uint8_t high = op & 0xc0, low = op & 0x3f;
        std::uint64_t reg = 0;
        if (high == 0x40) {  // advance_loc
            loc += low * code_align;
            if (loc > target) return true;
            continue;
        }
        if (high == 0x80) {  // offset
            if (auto* s = slot(row, low, ra_reg)) *s = static_cast<std::int64_t>(in.uleb()) * data_align;
            else in.uleb();
            continue;
        }
        if (high == 0xc0) {  // restore
            if (auto* s = slot(row, low, ra_reg)) *s = *slot(const_cast<Row&>(initial), low, ra_reg);
            continue;
        }
        switch (op) {
            case 0x00: break;  // nop
            case 0x01: loc = in.encoded(fde_enc); if (loc > target) return true; break;  // set_loc
            case 0x02: loc += in.fixed<std::uint8_t>() * code_align; if (loc > target) return true; break;
            case 0x03: loc += in.fixed<std::uint16_t>() * code_align; if (loc > target) return true; break;
            case 0x04: loc += in.fixed<std::uint32_t>() * code_align; if (loc > target) return true; break;
            case 0x05:  // offset_extended
                reg = in.uleb();
                if (auto* s = slot(row, reg, ra_reg)) *s = static_cast<std::int64_t>(in.uleb()) * data_align;
                else in.uleb();
                break;
            case 0x06:  // restore_extended
                reg = in.uleb();
                if (auto* s = slot(row, reg, ra_reg)) *s = *slot(const_cast<Row&>(initial), reg, ra_reg);
                break;
            case 0x07:  // undefined
            case 0x08:  // same_value
                reg = in.uleb();
                if (auto* s = slot(row, reg, ra_reg)) *s = (op == 0x07 && reg == ra_reg) ? kOther : 0;
                break;
            case 0x09:  // register
                reg = in.uleb();
                in.uleb();
                if (auto* s = slot(row, reg, ra_reg)) *s = kOther;
                break;
            case 0x0a:  // remember_state
                if (depth == 8) return false;
                stack[depth++] = row;
                break;
            case 0x0b:  // restore_state
                if (depth == 0) return false;
                row = stack[--depth];
                break;
            case 0x0c:  // def_cfa
                row.cfa_reg = static_cast<int>(in.uleb());
                row.cfa_offset = static_cast<std::int64_t>(in.uleb());
                break;
            case 0x0d: row.cfa_reg = static_cast<int>(in.uleb()); break;            // def_cfa_register
            case 0x0e: row.cfa_offset = static_cast<std::int64_t>(in.uleb()); break;  // def_cfa_offset
            case 0x0f:  // def_cfa_expression
                row.unsupported = true;
                in.skip(in.uleb());
                break;
            case 0x10:  // expression
            case 0x16:  // val_expression
                reg = in.uleb();
                if (auto* s = slot(row, reg, ra_reg)) *s = kOther;
                in.skip(in.uleb());
                break;
            case 0x11:  // offset_extended_sf
                reg = in.uleb();
                if (auto* s = slot(row, reg, ra_reg)) *s = in.sleb() * data_align;
                else in.sleb();
                break;
            case 0x12:  // def_cfa_sf
                row.cfa_reg = static_cast<int>(in.uleb());
                row.cfa_offset = in.sleb() * data_align;
                break;
            case 0x13: row.cfa_offset = in.sleb() * data_align; break;  // def_cfa_offset_sf
            case 0x14:  // val_offset
            case 0x15:  // val_offset_sf
                reg = in.uleb();
                if (op == 0x14) in.uleb();
                else in.sleb();
                if (auto* s = slot(row, reg, ra_reg)) *s = kOther;
                break;
            case 0x2e: in.uleb(); break;  // GNU_args_size
            case 0x2f:                    // GNU_negative_offset_extended
                reg = in.uleb();
                if (auto* s = slot(row, reg, ra_reg)) *s = -static_cast<std::int64_t>(in.uleb()) * data_align;
                else in.uleb();
                break;
            default: return false;
        }
        if (!in.ok()) return false;
    }
    return in.ok();
}

// The rule at pc from its FDE; cfa_reg 0 when there is none this walker can follow.
Rule compute_rule(std::uintptr_t pc) noexcept {
    Rule rule;
    rule.pc = pc;
    dwarf_eh_bases bases{};
    const auto* fde = static_cast<const std::uint8_t*>(_Unwind_Find_FDE(reinterpret_cast<void*>(pc), &bases));
    if (!fde) return rule;
    std::uint32_t len32;
    std::memcpy(&len32, fde, 4);
    if (len32 == 0 || len32 == 0xffffffffu) return rule;  // 64-bit .eh_frame entries are not emitted on x86-64
    const std::uint8_t* fde_end = fde + 4 + len32;
    std::int32_t cie_delta;
    std::memcpy(&cie_delta, fde + 4, 4);
    const std::uint8_t* cie = fde + 4 - cie_delta;
    std::uint32_t cie_len;
    std::memcpy(&cie_len, cie, 4);
    if (cie_len == 0 || cie_len == 0xffffffffu) return rule;
    Reader c(cie + 8, cie + 4 + cie_len);  // past length and CIE id
    const std::uint8_t version = c.fixed<std::uint8_t>();
    const char* aug = reinterpret_cast<const char*>(c.pos());
    const std::size_t aug_len = strnlen(aug, static_cast<std::size_t>(cie + 4 + cie_len - c.pos()));
    c.skip(aug_len + 1);
    if (std::strstr(aug, "eh")) return rule;  // the obsolete GCC 2 layout
    const std::uint64_t code_align = c.uleb();
    const std::int64_t data_align = c.sleb();
    const std::uint64_t ra_reg = version == 1 ? c.fixed<std::uint8_t>() : c.uleb();
    std::uint8_t fde_enc = 0, lsda_enc = 0xff;
    bool has_z = aug[0] == 'z';
    if (has_z) {
        const std::uint64_t n = c.uleb();
        const std::uint8_t* after = c.pos() + n;
        for (const char* a = aug + 1; *a; ++a) {
            if (*a == 'R') fde_enc = c.fixed<std::uint8_t>();
            else if (*a == 'L') lsda_enc = c.fixed<std::uint8_t>();
            else if (*a == 'P') c.encoded(c.fixed<std::uint8_t>());
            else if (*a == 'S') return rule;  // a signal frame: stop there
            else if (*a != 'B') break;
        }
        Reader skipper(c.pos(), cie + 4 + cie_len);
        skipper.skip(static_cast<std::size_t>(after - c.pos()));
        c = skipper;
    }
    if (!c.ok() || ra_reg != kRa) return rule;
    Row initial;
    std::uintptr_t loc = reinterpret_cast<std::uintptr_t>(bases.func);
    if (!run_cfa(c, loc, ~std::uintptr_t{0}, initial, initial, code_align, data_align, ra_reg, fde_enc)) return rule;
    Reader f(fde + 8, fde_end);
    f.encoded(static_cast<std::uint8_t>(fde_enc & 0x0f));  // pc_begin (bases.func has its value)
    f.encoded(static_cast<std::uint8_t>(fde_enc & 0x0f));  // pc_range
    if (has_z) f.skip(f.uleb());
    (void)lsda_enc;
    Row row = initial;
    loc = reinterpret_cast<std::uintptr_t>(bases.func);
    if (!f.ok() || !run_cfa(f, loc, pc, row, initial, code_align, data_align, ra_reg, fde_enc)) return rule;
    if (row.unsupported || (row.cfa_reg != kRsp && row.cfa_reg != kRbp)) return rule;
    if (row.saved[0] == kOther || row.saved[1] == kOther || row.saved[1] == 0) return rule;
    if (row.cfa_offset < INT32_MIN / 2 || row.cfa_offset > INT32_MAX / 2) return rule;
    if (row.saved[0] < INT16_MIN || row.saved[0] > INT16_MAX || row.saved[1] < INT16_MIN || row.saved[1] > INT16_MAX)
        return rule;
    rule.cfa_offset = static_cast<std::int32_t>(row.cfa_offset);
    rule.rbp_offset = static_cast<std::int16_t>(row.saved[0]);
    rule.ra_offset = static_cast<std::int16_t>(row.saved[1]);
    rule.cfa_reg = static_cast<std::uint8_t>(row.cfa_reg);
    return rule;
}

// The rules this thread has seen, by address (direct-mapped; a collision recomputes).
constexpr std::size_t kRuleSlots = 4096;
struct RuleCache {
    Rule* slots = nullptr;
    ~RuleCache() { std::free(slots); }
};
thread_local RuleCache t_rules;

const Rule* rule_for(std::uintptr_t pc) noexcept {
    RuleCache& c = t_rules;
    if (!c.slots) {
        c.slots = static_cast<Rule*>(std::calloc(kRuleSlots, sizeof(Rule)));
        if (!c.slots) return nullptr;
    }
    Rule& r = c.slots[(pc * 0x9E3779B97F4A7C15ull) >> 52];
    if (r.pc != pc) {
        r = compute_rule(pc);
        r.library = is_library_code(pc);
    }
    return &r;
}

bool read_word(std::uintptr_t addr, std::uintptr_t lo, std::uintptr_t hi, std::uintptr_t& out) noexcept {
    if (addr < lo || addr + sizeof(std::uintptr_t) > hi || addr % alignof(std::uintptr_t) != 0) return false;
    out = *reinterpret_cast<const std::uintptr_t*>(addr);
    return true;
}


// Steps from (pc, sp, bp) outward. `own`: the first frame is unwind_stack's, not recorded;
// `want`: frames before the one returning to it are skipped (0: none). Without `bp_known`, a
// frame whose CFA is rbp-based ends the walk with needs_bp.
struct Walk {
    NativeFrame* out;
    std::size_t max, max_user;
    std::uintptr_t lo, hi, want;
    std::size_t n = 0, user = 0;
    bool needs_bp = false;

    std::size_t run(std::uintptr_t pc, std::uintptr_t sp, std::uintptr_t bp, bool own, bool bp_known) noexcept {
        constexpr int kMaxSkip = 12;
        NativeFrame skipped[kMaxSkip];
        int nskipped = 0;
        bool started = want == 0;
        auto record = [&](NativeFrame f) {
            if (!started && f.pc == want) started = true;
            if (started) {
                out[n++] = f;
                user += !f.library;
            } else if (nskipped < kMaxSkip) {
                skipped[nskipped++] = f;
            }
        };
        for (; n < max && user < max_user && nskipped < kMaxSkip; own = false) {
            // A return address is one past its call: its rule is looked up inside the call.
            const Rule* r = rule_for(own ? pc : pc - 1);
            if (!r || r->cfa_reg == 0) {
                if (!own) record({pc, ~std::uintptr_t{0}, r && r->library});
                break;
            }
            if (r->cfa_reg == kRbp && !bp_known) {
                needs_bp = true;
                return 0;
            }
            const std::uintptr_t cfa = (r->cfa_reg == kRsp ? sp : bp) + static_cast<std::uintptr_t>(static_cast<std::intptr_t>(r->cfa_offset));
            if (!own) record({pc, cfa, r->library});
            std::uintptr_t ra, saved_bp = bp;
            if (!read_word(cfa + static_cast<std::uintptr_t>(static_cast<std::intptr_t>(r->ra_offset)), lo, hi, ra)) break;
            if (r->rbp_offset != 0) {
                if (!read_word(cfa + static_cast<std::uintptr_t>(static_cast<std::intptr_t>(r->rbp_offset)), lo, hi, saved_bp)) break;
                bp_known = true;
            }
            if (ra == 0 || cfa <= sp) break;
            pc = ra;
            sp = cfa;
            bp = saved_bp;
        }
        if (!started) {  // start not found: from unwind_stack's caller
            n = 0;
            for (int i = 0; i < nskipped && n < max; ++i) out[n++] = skipped[i];
        }
        return n;
    }
};

}  // namespace

bool frame_step(std::uintptr_t pc, std::int32_t& cfa_offset, std::int16_t& ra_offset) noexcept {
    const Rule* r = rule_for(pc - 1);
    if (!r || r->cfa_reg != kRsp) return false;
    cfa_offset = r->cfa_offset;
    ra_offset = r->ra_offset;
    return true;
}

__attribute__((noinline)) std::size_t unwind_stack(const void* start, const void* start_sp, NativeFrame* out, std::size_t max,
                                                   std::size_t max_user) noexcept {
    std::uintptr_t pc, sp, bp;
    asm volatile("lea 0(%%rip), %0\n\tmov %%rsp, %1\n\tmov %%rbp, %2" : "=r"(pc), "=r"(sp), "=r"(bp));
    const StackBounds& bounds = stack_bounds();
    if (sp < bounds.lo || sp >= bounds.hi) return fallback_unwind(start, out, max);
    if (start_sp) {  // the caller's frame is known: no need to walk the tracer's own
        Walk w{out, max, max_user, sp, bounds.hi, 0};
        const std::size_t n = w.run(reinterpret_cast<std::uintptr_t>(start), reinterpret_cast<std::uintptr_t>(start_sp), 0, false, false);
        if (!w.needs_bp) return n;
    }
    Walk w{out, max, max_user, sp, bounds.hi, reinterpret_cast<std::uintptr_t>(start)};
    return w.run(pc, sp, bp, true, true);
}

}  // namespace ouro::detail

#else

namespace ouro::detail {
std::size_t unwind_stack(const void* start, const void*, NativeFrame* out, std::size_t max, std::size_t) noexcept {
    std::size_t n = fallback_unwind(start, out, max);
    for (std::size_t i = 0; i < n; ++i) out[i].library = is_library_code(out[i].pc);
    return n;
}
bool frame_step(std::uintptr_t, std::int32_t&, std::int16_t&) noexcept { return false; }
}  // namespace ouro::detail

#endif
