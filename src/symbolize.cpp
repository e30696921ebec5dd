// Symbolization (symbolize.hpp): the ELF symbol tables of the loaded modules, read once, and
// libdw, loaded at the first report when the system has libdw.so.1.
#include "symbolize.hpp"

#include <cxxabi.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if OURO_HAVE_LIBDW_HEADERS
#  include <dlfcn.h>
#  include <dwarf.h>
#  include <elfutils/libdwfl.h>
#endif

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace ouro::detail {

namespace {

std::string demangle(const char* name) {
    if (!name) return {};
    int status = 0;
    char* d = abi::__cxa_demangle(name, nullptr, nullptr, &status);
    std::string out = status == 0 && d ? d : name;
    std::free(d);
    return out;
}

// By mangled name: ouroboros (namespace ouro), the standard library, operator new and delete.
bool library_symbol(const char* m) noexcept {
    static constexpr const char* prefixes[] = {"_ZN4ouro", "_ZNK4ouro", "_ZZN4ouro", "_ZNSt", "_ZNKSt", "_ZSt", "_ZN9__gnu_cxx",
                                               "_ZNK9__gnu_cxx", "_Znw", "_Zna", "_Zdl", "_Zda", "_ZNSt3pmr"};
    for (const char* p : prefixes)
        if (std::strncmp(m, p, std::strlen(p)) == 0) return true;
    return false;
}
#if OURO_HAVE_LIBDW_HEADERS
// The same test on a demangled name, as libdw gives it.
bool library_function(const std::string& demangled) noexcept {
    return demangled.starts_with("ouro::") || demangled.starts_with("std::") || demangled.starts_with("__gnu_cxx::") ||
           demangled.starts_with("operator new") || demangled.starts_with("operator delete");
}
#endif

struct Symbol {
    std::uintptr_t lo, hi;
    const char* name;  // in the module's mapped file
    std::uint32_t module;
    bool library;
};
struct Module {
    std::string path;
    std::uintptr_t bias;
};
struct Symbols {
    std::vector<Symbol> by_address;
    std::vector<Module> modules;
    unsigned long long adds = 0;  // dl_iterate_phdr's count of loads when read
};
std::atomic<const Symbols*> g_symbols{nullptr};
std::mutex g_symbols_mutex;

// A module's function symbols: .symtab when present (every non-stripped program), else .dynsym.
void read_module(Symbols& s, const char* path, std::uintptr_t bias) {
    const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    struct stat st{};
    void* map = MAP_FAILED;
    if (::fstat(fd, &st) == 0 && st.st_size > static_cast<off_t>(sizeof(Elf64_Ehdr)))
        map = ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
    ::close(fd);
    if (map == MAP_FAILED) return;  // kept mapped for the names, for the life of the process
    const auto* base = static_cast<const char*>(map);
    const auto size = static_cast<std::size_t>(st.st_size);
    const auto* eh = reinterpret_cast<const Elf64_Ehdr*>(base);
    if (std::memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_shoff == 0 ||
        eh->e_shoff + std::size_t{eh->e_shnum} * sizeof(Elf64_Shdr) > size)
        return;
    const auto* sh = reinterpret_cast<const Elf64_Shdr*>(base + eh->e_shoff);
    const Elf64_Shdr* table = nullptr;
    for (int want : {SHT_SYMTAB, SHT_DYNSYM}) {
        for (unsigned i = 0; i < eh->e_shnum && !table; ++i)
            if (sh[i].sh_type == static_cast<Elf64_Word>(want) && sh[i].sh_link < eh->e_shnum) table = &sh[i];
        if (table) break;
    }
    if (!table) return;
    const Elf64_Shdr& strtab = sh[table->sh_link];
    if (table->sh_offset + table->sh_size > size || strtab.sh_offset + strtab.sh_size > size) return;
    const auto module = static_cast<std::uint32_t>(s.modules.size());
    s.modules.push_back({path, bias});
    const auto* syms = reinterpret_cast<const Elf64_Sym*>(base + table->sh_offset);
    const std::size_t n = table->sh_size / sizeof(Elf64_Sym);
    for (std::size_t i = 0; i < n; ++i) {
        const Elf64_Sym& y = syms[i];
        const unsigned type = ELF64_ST_TYPE(y.st_info);
        if ((type != STT_FUNC && type != STT_GNU_IFUNC) || y.st_shndx == SHN_UNDEF || y.st_size == 0 ||
            y.st_name >= strtab.sh_size)
            continue;
        const char* name = base + strtab.sh_offset + y.st_name;
        s.by_address.push_back({bias + y.st_value, bias + y.st_value + y.st_size, name, module, library_symbol(name)});
    }
}

const Symbols* load_symbols() {
    const Symbols* have = g_symbols.load(std::memory_order_acquire);
    struct Count {
        unsigned long long adds = 0;
    } count;
    dl_iterate_phdr([](dl_phdr_info* info, std::size_t, void* c) {
        static_cast<Count*>(c)->adds = info->dlpi_adds;
        return 1;
    }, &count);
    if (have && have->adds == count.adds) return have;
    std::lock_guard lock(g_symbols_mutex);
    have = g_symbols.load(std::memory_order_acquire);
    if (have && have->adds == count.adds) return have;
    auto fresh = std::make_unique<Symbols>();
    fresh->adds = count.adds;
    dl_iterate_phdr([](dl_phdr_info* info, std::size_t, void* arg) {
        auto* s = static_cast<Symbols*>(arg);
        const char* name = info->dlpi_name;
        if (!name || !*name) {
            if (s->modules.empty()) read_module(*s, "/proc/self/exe", info->dlpi_addr);
        } else if (name[0] == '/') {
            read_module(*s, name, info->dlpi_addr);
        }
        return 0;
    }, fresh.get());
    std::sort(fresh->by_address.begin(), fresh->by_address.end(), [](const Symbol& a, const Symbol& b) { return a.lo < b.lo; });
    // Superseded tables are kept (a walk on another thread may still be reading one), reachable
    // from here so that they are not leaks; they go at exit.
    static std::vector<std::unique_ptr<Symbols>> retired;
    Symbols* out = fresh.get();
    retired.push_back(std::move(fresh));
    g_symbols.store(out, std::memory_order_release);
    return out;
}

const Symbol* find_symbol(const Symbols* s, std::uintptr_t pc) noexcept {
    if (!s) return nullptr;
    auto it = std::upper_bound(s->by_address.begin(), s->by_address.end(), pc, [](std::uintptr_t x, const Symbol& y) { return x < y.lo; });
    if (it == s->by_address.begin()) return nullptr;
    --it;
    return pc < it->hi ? &*it : nullptr;
}

// Without debug information: the function's name, and as "line" the call site's offset in its
// module, which keeps call sites apart.
std::vector<SymbolFrame> from_symbols(std::uintptr_t pc) {
    const Symbols* s = load_symbols();
    const Symbol* y = find_symbol(s, pc);
    SymbolFrame f{{}, false};
    if (y) {
        const Module& m = s->modules[y->module];
        f.frame.filename = m.path;
        f.frame.lineno = static_cast<int>(pc - m.bias);
        f.frame.function = demangle(y->name);
        f.library = y->library;
    } else {
        Dl_info info{};
        if (dladdr(reinterpret_cast<void*>(pc), &info) && info.dli_fname) {
            f.frame.filename = info.dli_fname;
            f.frame.lineno = static_cast<int>(pc - reinterpret_cast<std::uintptr_t>(info.dli_fbase));
            f.frame.function = demangle(info.dli_sname);
            f.library = info.dli_sname && library_symbol(info.dli_sname);
        } else {
            f.frame.filename = "<unknown>";
        }
    }
    return {f};
}

#if OURO_HAVE_LIBDW_HEADERS
// libdw's entry points, from dlopen("libdw.so.1"): the library links nothing, and works without it.
struct Dw {
    decltype(&dwfl_begin) begin;
    decltype(&dwfl_linux_proc_report) proc_report;
    decltype(&dwfl_report_end) report_end;
    decltype(&dwfl_addrmodule) addrmodule;
    decltype(&dwfl_module_addrdie) addrdie;
    decltype(&dwfl_module_getsrc) getsrc;
    decltype(&dwfl_lineinfo) lineinfo;
    decltype(&dwarf_getscopes) getscopes;
    decltype(&dwarf_tag) tag;
    decltype(&dwarf_attr_integrate) attr_integrate;
    decltype(&dwarf_attr) attr;
    decltype(&dwarf_formstring) formstring;
    decltype(&dwarf_formudata) formudata;
    decltype(&dwarf_getsrcfiles) getsrcfiles;
    decltype(&dwarf_filesrc) filesrc;
    Dwfl_Callbacks callbacks{};
    Dwfl* dwfl = nullptr;
};

Dw* load_libdw() {
    static Dw* dw = []() -> Dw* {
        void* h = dlopen("libdw.so.1", RTLD_NOW | RTLD_LOCAL);
        if (!h) return nullptr;
        auto* d = new Dw{};
        bool ok = true;
        auto sym = [&](auto& f, const char* name) {
            f = reinterpret_cast<std::remove_reference_t<decltype(f)>>(dlsym(h, name));
            ok &= f != nullptr;
        };
        sym(d->begin, "dwfl_begin");
        sym(d->proc_report, "dwfl_linux_proc_report");
        sym(d->report_end, "dwfl_report_end");
        sym(d->addrmodule, "dwfl_addrmodule");
        sym(d->addrdie, "dwfl_module_addrdie");
        sym(d->getsrc, "dwfl_module_getsrc");
        sym(d->lineinfo, "dwfl_lineinfo");
        sym(d->getscopes, "dwarf_getscopes");
        sym(d->tag, "dwarf_tag");
        sym(d->attr_integrate, "dwarf_attr_integrate");
        sym(d->attr, "dwarf_attr");
        sym(d->formstring, "dwarf_formstring");
        sym(d->formudata, "dwarf_formudata");
        sym(d->getsrcfiles, "dwarf_getsrcfiles");
        sym(d->filesrc, "dwarf_filesrc");
        sym(d->callbacks.find_elf, "dwfl_linux_proc_find_elf");
        sym(d->callbacks.find_debuginfo, "dwfl_standard_find_debuginfo");
        if (!ok || !(d->dwfl = d->begin(&d->callbacks)) || d->proc_report(d->dwfl, getpid()) != 0 ||
            d->report_end(d->dwfl, nullptr, nullptr) != 0) {
            delete d;
            return nullptr;
        }
        return d;
    }();
    return dw;
}

std::string die_name(Dw& dw, Dwarf_Die* die, bool& library) {
    Dwarf_Attribute a;
    if (dw.attr_integrate(die, DW_AT_linkage_name, &a) || dw.attr_integrate(die, DW_AT_MIPS_linkage_name, &a)) {
        const char* m = dw.formstring(&a);
        if (m) {
            library = library_symbol(m);
            return demangle(m);
        }
    }
    const char* n = dw.attr_integrate(die, DW_AT_name, &a) ? dw.formstring(&a) : nullptr;
    std::string out = n ? n : "";
    library = library_function(out);
    return out;
}

// The innermost frame's file and line come from the line table; each inlined call's site (its
// DW_AT_call_file and DW_AT_call_line) is the line of the frame around it.
bool from_dwarf(Dw& dw, std::uintptr_t pc, std::vector<SymbolFrame>& out) {
    Dwfl_Module* mod = dw.addrmodule(dw.dwfl, pc);
    if (!mod) return false;
    Dwarf_Addr bias = 0;
    Dwarf_Die* cu = dw.addrdie(mod, pc, &bias);
    Dwfl_Line* line = dw.getsrc(mod, pc);
    if (!cu || !line) return false;
    int lineno = 0;
    const char* file = dw.lineinfo(line, nullptr, &lineno, nullptr, nullptr, nullptr);
    Dwarf_Die* scopes = nullptr;
    const int n = dw.getscopes(cu, pc - bias, &scopes);
    Dwarf_Files* files = nullptr;
    std::size_t nfiles = 0;
    if (dw.getsrcfiles(cu, &files, &nfiles) != 0) files = nullptr;
    std::string cur_file = file ? file : "<unknown>";
    int cur_line = lineno;
    for (int i = 0; i < n; ++i) {
        const int tag = dw.tag(&scopes[i]);
        if (tag != DW_TAG_subprogram && tag != DW_TAG_inlined_subroutine) continue;
        SymbolFrame f{{cur_file, cur_line, {}}, false};
        f.frame.function = die_name(dw, &scopes[i], f.library);
        out.push_back(std::move(f));
        if (tag == DW_TAG_subprogram) break;
        Dwarf_Attribute a;
        Dwarf_Word v = 0;
        cur_line = dw.attr(&scopes[i], DW_AT_call_line, &a) && dw.formudata(&a, &v) == 0 ? static_cast<int>(v) : 0;
        const char* cf = nullptr;
        if (files && dw.attr(&scopes[i], DW_AT_call_file, &a) && dw.formudata(&a, &v) == 0 && v < nfiles)
            cf = dw.filesrc(files, v, nullptr, nullptr);
        cur_file = cf ? cf : "<unknown>";
    }
    std::free(scopes);
    if (out.empty()) out.push_back({{cur_file, cur_line, {}}, false});
    return true;
}
#endif

struct Cache {
    std::mutex mutex;
    std::unordered_map<std::uintptr_t, std::unique_ptr<std::vector<SymbolFrame>>> frames;
};
Cache& cache() {
    static auto* c = new Cache;  // never destroyed: reports may run during static destruction
    return *c;
}

}  // namespace

void warm_library_ranges() { load_symbols(); }

bool is_library_code(std::uintptr_t pc) noexcept {
    const Symbol* s = find_symbol(g_symbols.load(std::memory_order_acquire), pc);
    return s && s->library;
}

bool have_line_numbers() {
#if OURO_HAVE_LIBDW_HEADERS
    return load_libdw() != nullptr;
#else
    return false;
#endif
}

const std::vector<SymbolFrame>& symbolize(std::uintptr_t return_address) {
    Cache& c = cache();
    std::lock_guard lock(c.mutex);
    auto& slot = c.frames[return_address];
    if (slot) return *slot;
    const std::uintptr_t pc = return_address - 1;  // inside the call instruction
    auto frames = std::make_unique<std::vector<SymbolFrame>>();
#if OURO_HAVE_LIBDW_HEADERS
    if (Dw* dw = load_libdw()) from_dwarf(*dw, pc, *frames);
#endif
    if (frames->empty()) *frames = from_symbols(pc);
    slot = std::move(frames);
    return *slot;
}

}  // namespace ouro::detail
