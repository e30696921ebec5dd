// The containers against Python itself: random sequences of operations run on ouro::List, Array,
// Dict and Deque here and on list, array.array('l'), dict and collections.deque by
// tests/containers_oracle.py, compared line by line — every result, every error's kind and, after
// each operation, the size of the storage as CPython would report it through sys.getsizeof (the
// list's and the array's capacity, the dict's table size, the deque's blocks). Skipped when
// python3 is not installed (scripts/deps.sh installs it).
#include <ouro/array.hpp>
#include <ouro/deque.hpp>
#include <ouro/dict.hpp>
#include <ouro/list.hpp>

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#ifndef OURO_TESTS_DIR
#  error "OURO_TESTS_DIR: tests/CMakeLists.txt defines it"
#endif

namespace {

bool have_python() {
    static const bool ok = std::system("python3 -c 'import array, collections' >/dev/null 2>&1") == 0;
    return ok;
}

// Runs the oracle on `ops` (one per line) and returns its output lines.
std::vector<std::string> run_python(const char* kind, const std::vector<std::string>& ops) {
    char path[] = "/tmp/ouro_ops_XXXXXX";
    const int fd = mkstemp(path);
    if (fd < 0) return {};
    {
        std::ofstream out(path);
        for (const auto& op : ops) out << op << '\n';
    }
    const std::string cmd = std::string("python3 " OURO_TESTS_DIR "/containers_oracle.py ") + kind + " < " + path;
    std::vector<std::string> lines;
    if (FILE* p = popen(cmd.c_str(), "r")) {
        char buf[1 << 16];
        std::string line;
        while (std::fgets(buf, sizeof buf, p)) {
            line += buf;
            if (!line.empty() && line.back() == '\n') {
                line.pop_back();
                lines.push_back(std::move(line));
                line.clear();
            }
        }
        pclose(p);
    }
    std::remove(path);
    return lines;
}

std::string show(long v) { return std::to_string(v); }
std::string show(bool v) { return v ? "True" : "False"; }
std::string show(std::size_t v) { return std::to_string(v); }
template <class C>
std::string show_items(const C& c) {
    std::string s = "[";
    for (const auto& x : c) s += (s.size() > 1 ? " " : "") + std::to_string(x);
    return s + "]";
}

// Runs one operation, turning Python's errors into their class names.
std::string guarded(const std::function<std::string()>& op, const char* lookup_error = "IndexError") {
    try {
        return op();
    } catch (const std::out_of_range&) {
        return lookup_error;
    } catch (const std::invalid_argument&) {
        return "ValueError";
    } catch (const std::runtime_error&) {
        return "RuntimeError";
    }
}

std::string csv(const std::vector<long>& v) {
    std::string s;
    for (long x : v) s += (s.empty() ? "" : ",") + std::to_string(x);
    return s;
}

// A stream of operations generated from the C++ container's own state, with the C++ results.
struct Stream {
    std::mt19937_64 rng;
    std::vector<std::string> ops, results;
    explicit Stream(std::uint64_t seed) : rng(seed) {}
    long below(long n) { return n <= 0 ? 0 : static_cast<long>(rng() % static_cast<std::uint64_t>(n)); }
    long value() { return below(10); }
    long index(std::size_t n) { return below(2 * static_cast<long>(n) + 5) - static_cast<long>(n) - 2; }
    std::string bound(std::size_t n) { return below(4) == 0 ? "N" : std::to_string(index(n)); }
    std::vector<long> values(long max) {
        std::vector<long> v(static_cast<std::size_t>(below(max + 1)));
        for (long& x : v) x = value();
        return v;
    }
    // Picks an operation by weight.
    std::size_t pick(const std::vector<int>& weights) {
        int total = 0;
        for (int w : weights) total += w;
        long r = below(total);
        for (std::size_t i = 0; i < weights.size(); ++i)
            if ((r -= weights[i]) < 0) return i;
        return 0;
    }
    void record(std::string op, std::string result) {
        ops.push_back(std::move(op));
        results.push_back(std::move(result));
    }
    void compare(const char* kind) {
        const std::vector<std::string> py = run_python(kind, ops);
        ASSERT_EQ(py.size(), results.size()) << kind << ": the oracle printed a different number of lines";
        const std::size_t header = ops.size() - results.size();  // a deque's "new" line
        for (std::size_t i = 0; i < py.size(); ++i) {
            if (results[i] == py[i]) continue;
            std::ofstream keep(std::string("/tmp/ouro_containers_") + kind + ".ops");
            for (std::size_t k = 0; k <= i + header; ++k) keep << ops[k] << '\n';
            FAIL() << kind << ", operation " << i << ": " << ops[i + header] << "\n  ouro:   " << results[i]
                   << "\n  python: " << py[i] << "\n  (the operations up to it: /tmp/ouro_containers_" << kind << ".ops)";
        }
    }
};

std::optional<std::ptrdiff_t> opt(const std::string& s) {
    if (s == "N") return std::nullopt;
    return std::stol(s);
}

// The operations List and Array share (Python's sequence protocol).
template <class S>
bool sequence_op(Stream& st, S& s, std::size_t which, std::string& op, std::string& out) {
    const std::size_t n = s.size();
    switch (which) {
        case 0: {
            long v = st.value();
            op = "append " + show(v);
            out = guarded([&] { s.append(v); return std::string("None"); });
            return true;
        }
        case 1: {
            auto v = st.values(6);
            op = "extend " + csv(v);
            out = guarded([&] { s.extend(v); return std::string("None"); });
            return true;
        }
        case 2: {
            op = "extend_self";
            out = guarded([&] { s.extend(s); return std::string("None"); });
            return true;
        }
        case 3: {
            long i = st.index(n), v = st.value();
            op = "insert " + show(i) + " " + show(v);
            out = guarded([&] { s.insert(i, v); return std::string("None"); });
            return true;
        }
        case 4: {
            if (st.below(2)) {
                op = "pop";
                out = guarded([&] { return show(static_cast<long>(s.pop())); });
            } else {
                long i = st.index(n);
                op = "pop " + show(i);
                out = guarded([&] { return show(static_cast<long>(s.pop(i))); });
            }
            return true;
        }
        case 5: {
            long v = st.value();
            op = "remove " + show(v);
            out = guarded([&] { s.remove(v); return std::string("None"); });
            return true;
        }
        case 6: {
            long v = st.value();
            if (st.below(2)) {
                op = "index " + show(v);
                out = guarded([&] { return show(s.index(v)); });
            } else {
                long a = st.index(n), b = st.index(n);
                op = "index " + show(v) + " " + show(a) + " " + show(b);
                out = guarded([&] { return show(s.index(v, a, b)); });
            }
            return true;
        }
        case 7: {
            long v = st.value();
            op = "count " + show(v);
            out = show(s.count(v));
            return true;
        }
        case 8: {
            long v = st.value();
            op = "contains " + show(v);
            out = show(s.contains(v));
            return true;
        }
        case 9:
            op = "reverse";
            s.reverse();
            out = "None";
            return true;
        case 10: {
            long i = st.index(n);
            op = "get " + show(i);
            out = guarded([&] { return show(static_cast<long>(s[i])); });
            return true;
        }
        case 11: {
            long i = st.index(n), v = st.value();
            op = "set " + show(i) + " " + show(v);
            out = guarded([&] { s[i] = v; return std::string("None"); });
            return true;
        }
        case 12: {
            long i = st.index(n);
            op = "del " + show(i);
            out = guarded([&] { s.del_item(i); return std::string("None"); });
            return true;
        }
        case 13:
            op = "len";
            out = show(s.size());
            return true;
        case 14:
            op = "dump";
            out = show_items(s);
            return true;
        case 15: {
            std::string a = st.bound(n), b = st.bound(n);
            long c = st.below(6) == 0 ? 0 : st.index(2) + (st.below(2) ? 0 : 1);
            if (c == 0 && st.below(3)) c = 1;
            op = "slice " + a + " " + b + " " + show(c);
            out = guarded([&] { return show_items(s.slice(opt(a), opt(b), c)); });
            return true;
        }
        case 16: {
            std::string a = st.bound(n), b = st.bound(n);
            long c = st.below(3) ? 1 : st.index(1);
            op = "delslice " + a + " " + b + " " + show(c);
            out = guarded([&] { s.del_slice(opt(a), opt(b), c); return std::string("None"); });
            return true;
        }
        case 17: {
            std::string a = st.bound(n), b = st.bound(n);
            long c = st.below(3) ? 1 : st.index(1);
            auto v = st.values(5);
            op = "setslice " + a + " " + b + " " + show(c) + " " + csv(v);
            out = guarded([&] {
                if (c == 1) s.set_slice(opt(a), opt(b), v);
                else s.set_slice(opt(a), opt(b), c, v);
                return std::string("None");
            });
            return true;
        }
    }
    return false;
}

TEST(ContainersPython, ListMatchesPythonList) {
    if (!have_python()) GTEST_SKIP() << "python3 is not installed";
    for (std::uint64_t seed : {1u, 2u, 3u}) {
        Stream st(seed);
        ouro::List<long> l;
        // The sequence operations (0-17), then sort, sort by key, clear.
        const std::vector<int> weights{30, 5, 1, 8, 10, 5, 5, 3, 3, 2, 5, 3, 4, 1, 2, 4, 3, 4, 2, 2, 1};
        for (int k = 0; k < 1500; ++k) {
            std::string op, out;
            const std::size_t which = st.pick(weights);
            if (which == 18 || which == 19) {
                bool rev = st.below(2);
                op = std::string(which == 18 ? "sort " : "sortkey ") + (rev ? "1" : "0");
                if (which == 18) l.sort(rev);
                else l.sort([](long x) { return x % 3; }, rev);
                out = "None";
            } else if (which == 20) {
                op = "clear";
                l.clear();
                out = "None";
            } else {
                sequence_op(st, l, which, op, out);
            }
            st.record(op, out + " | " + std::to_string(l.capacity()));
        }
        st.compare("list");
    }
}

TEST(ContainersPython, ArrayMatchesPythonArray) {
    if (!have_python()) GTEST_SKIP() << "python3 is not installed";
    for (std::uint64_t seed : {4u, 5u, 6u}) {
        Stream st(seed);
        ouro::Array<long> a;
        // The sequence operations (0-17), then frombytes (good and bad), byteswap, extend by an array, clear.
        const std::vector<int> weights{30, 5, 1, 8, 10, 5, 5, 3, 3, 2, 5, 3, 4, 1, 2, 4, 3, 4, 3, 1, 1, 3, 1};
        for (int k = 0; k < 1500; ++k) {
            std::string op, out;
            const std::size_t which = st.pick(weights);
            if (which == 18) {
                auto v = st.values(5);
                op = "frombytes " + csv(v);
                ouro::Array<long> src(v);
                auto bytes = src.tobytes();
                out = guarded([&] { a.frombytes(bytes); return std::string("None"); });
            } else if (which == 19) {
                long n = st.below(20);
                op = "frombytes_bad " + show(n);
                std::vector<std::byte> bytes(static_cast<std::size_t>(n));
                out = guarded([&] { a.frombytes(bytes); return std::string("None"); });
            } else if (which == 20) {
                op = "byteswap";
                a.byteswap();
                out = a.empty() ? "None" : show(a[0]);
                a.byteswap();
            } else if (which == 21) {
                auto v = st.values(6);
                op = "extend_array " + csv(v);
                const ouro::Array<long> other(v);
                a.extend(other);
                out = "None";
            } else if (which == 22) {
                op = "clear";  // del a[:]
                a.del_slice({}, {});
                out = "None";
            } else {
                sequence_op(st, a, which, op, out);
            }
            st.record(op, out + " | " + std::to_string(a.capacity()));
        }
        st.compare("array");
    }
}

// The table's log2 size from what the dictionary owns: 1 << log2 index slots of 1, 2, 4 or 8 bytes
// and (2 << log2) / 3 entries of 24 bytes (hash, key, value: CPython's entry size too).
int dict_log2(const ouro::Dict<long, long>& d) {
    const std::size_t owned = d.owned_bytes();
    if (owned == 0) return 0;
    for (int log2 = 3; log2 < 40; ++log2) {
        const std::size_t ix = log2 < 8 ? 1 : log2 < 16 ? 2 : log2 < 32 ? 4 : 8;
        if ((ix << log2) + ((std::size_t{2} << log2) / 3) * 24 == owned) return log2;
    }
    return -1;
}

TEST(ContainersPython, DictMatchesPythonDict) {
    if (!have_python()) GTEST_SKIP() << "python3 is not installed";
    for (std::uint64_t seed : {7u, 8u, 9u}) {
        Stream st(seed);
        ouro::Dict<long, long> d;
        const std::vector<int> weights{30, 8, 5, 3, 8, 3, 4, 5, 5, 4, 3, 1, 1, 2};
        for (int k = 0; k < 2000; ++k) {
            // Small key ranges give collisions and reused keys; wider ones grow the table.
            const long keys = k % 500 < 250 ? 40 : 400;
            std::string op, out;
            long key = st.below(keys), v = st.value();
            switch (st.pick(weights)) {
                case 0:
                    op = "set " + show(key) + " " + show(v);
                    d.insert_or_assign(key, v);
                    out = "None";
                    break;
                case 1:
                    op = "at " + show(key);
                    out = guarded([&] { return show(d.at(key)); }, "KeyError");
                    break;
                case 2: {
                    op = "get " + show(key);
                    auto got = d.get(key);
                    out = got ? show(*got) : "None";
                    break;
                }
                case 3:
                    op = "getd " + show(key) + " " + show(v);
                    out = show(d.get(key, v));
                    break;
                case 4:
                    op = "pop " + show(key);
                    out = guarded([&] { return show(d.pop(key)); }, "KeyError");
                    break;
                case 5:
                    op = "popd " + show(key) + " " + show(v);
                    out = show(d.pop(key, v));
                    break;
                case 6:
                    op = "popitem";
                    out = guarded([&] {
                        auto [pk, pv] = d.popitem();
                        return show(pk) + " " + show(pv);
                    }, "KeyError");
                    break;
                case 7:
                    op = "setdefault " + show(key) + " " + show(v);
                    out = show(d.setdefault(key, v));
                    break;
                case 8:
                    op = "del " + show(key);
                    out = guarded([&] { d.del_item(key); return std::string("None"); }, "KeyError");
                    break;
                case 9:
                    op = "contains " + show(key);
                    out = show(d.contains(key));
                    break;
                case 10: {
                    std::vector<std::pair<long, long>> items;
                    std::string text;
                    for (long i = 0, m = 1 + st.below(12); i < m; ++i) {
                        items.emplace_back(st.below(keys), st.value());
                        text += (text.empty() ? "" : ",") + show(items.back().first) + ":" + show(items.back().second);
                    }
                    op = "update " + text;
                    ouro::Dict<long, long> other(items);  // Python updates from a dict
                    d.update(other);
                    out = "None";
                    break;
                }
                case 11:
                    op = "clear";
                    d.clear();
                    out = "None";
                    break;
                case 12:
                    op = "len";
                    out = show(d.size());
                    break;
                default: {
                    op = "dump";
                    std::string s;
                    for (auto [dk, dv] : d) s += (s.empty() ? "" : " ") + show(dk) + ":" + show(dv);
                    out = s;
                    break;
                }
            }
            st.record(op, out + " | " + std::to_string(dict_log2(d)));
        }
        st.compare("dict");
    }
}

// The blocks in use, from what the deque owns: 512-byte blocks and a ring of 8-byte pointers
// smaller than a block while the deque holds fewer than ~1900 items; at least one, as CPython's.
std::size_t deque_blocks(const ouro::Deque<long>& d) { return std::max<std::size_t>(1, d.owned_bytes() / 512); }

TEST(ContainersPython, DequeMatchesPythonDeque) {
    if (!have_python()) GTEST_SKIP() << "python3 is not installed";
    for (std::uint64_t seed : {10u, 11u, 12u, 13u}) {
        Stream st(seed);
        const bool bounded = seed % 2 == 1;
        const long maxlen = bounded ? st.below(150) : -1;
        ouro::Deque<long> d = bounded ? ouro::Deque<long>(static_cast<std::size_t>(maxlen)) : ouro::Deque<long>();
        st.record(std::string("new ") + (bounded ? show(maxlen) : "N"), "");
        st.results.pop_back();
        const std::vector<int> weights{20, 15, 8, 8, 5, 5, 5, 3, 3, 3, 2, 2, 1, 4, 2, 2, 1, 1, 2, 1};
        for (int k = 0; k < 2000; ++k) {
            const std::size_t n = d.size();
            std::string op, out;
            std::size_t which = st.pick(weights);
            if (n > 1200 && (which == 0 || which == 1 || which == 4 || which == 5)) which = 2 + st.below(2);
            if (n > 600 && which == 17) which = 19;  // deque_blocks() would count a bigger ring as a block
            long v = st.value();
            switch (which) {
                case 0:
                    op = "append " + show(v);
                    d.append(v);
                    out = "None";
                    break;
                case 1:
                    op = "appendleft " + show(v);
                    d.appendleft(v);
                    out = "None";
                    break;
                case 2:
                    op = "pop";
                    out = guarded([&] { return show(d.pop()); });
                    break;
                case 3:
                    op = "popleft";
                    out = guarded([&] { return show(d.popleft()); });
                    break;
                case 4: {
                    auto xs = st.values(70);
                    op = "extend " + csv(xs);
                    d.extend(xs);
                    out = "None";
                    break;
                }
                case 5: {
                    auto xs = st.values(70);
                    op = "extendleft " + csv(xs);
                    d.extendleft(xs);
                    out = "None";
                    break;
                }
                case 6: {
                    long r = st.below(3) ? st.index(4) : st.index(n * 2 + 200);
                    op = "rotate " + show(r);
                    d.rotate(r);
                    out = "None";
                    break;
                }
                case 7: {
                    long i = st.index(n);
                    op = "insert " + show(i) + " " + show(v);
                    out = guarded([&] { d.insert(i, v); return std::string("None"); });
                    break;
                }
                case 8:
                    op = "remove " + show(v);
                    out = guarded([&] { d.remove(v); return std::string("None"); });
                    break;
                case 9:
                    if (st.below(2)) {
                        op = "index " + show(v);
                        out = guarded([&] { return show(d.index(v)); });
                    } else {
                        long a = st.index(n), b = st.index(n);
                        op = "index " + show(v) + " " + show(a) + " " + show(b);
                        out = guarded([&] { return show(d.index(v, a, b)); });
                    }
                    break;
                case 10:
                    op = "count " + show(v);
                    out = show(d.count(v));
                    break;
                case 11:
                    op = "contains " + show(v);
                    out = show(d.contains(v));
                    break;
                case 12:
                    op = "reverse";
                    d.reverse();
                    out = "None";
                    break;
                case 13: {
                    long i = st.index(n);
                    op = "get " + show(i);
                    out = guarded([&] { return show(d[i]); });
                    break;
                }
                case 14: {
                    long i = st.index(n);
                    op = "set " + show(i) + " " + show(v);
                    out = guarded([&] { d[i] = v; return std::string("None"); });
                    break;
                }
                case 15: {
                    long i = st.index(n);
                    op = "del " + show(i);
                    out = guarded([&] { d.del_item(i); return std::string("None"); });
                    break;
                }
                case 16:
                    op = "clear";
                    d.clear();
                    out = "None";
                    break;
                case 17:
                    op = "extend_self";
                    d.extend(d);
                    out = "None";
                    break;
                case 18:
                    op = "dump";
                    out = show_items(d);
                    break;
                default:
                    op = "len";
                    out = show(d.size());
                    break;
            }
            st.record(op, out + " | " + std::to_string(deque_blocks(d)));
        }
        st.compare("deque");
    }
}

}  // namespace
