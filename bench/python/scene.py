"""A scene tree under edits: the CPython peer of bench/scene.cpp (same stream, same decisions).

Each node has an id, a position, its children and a parent link (--parent ref: a plain attribute,
so every parent<->child pair is a cycle and a detached subtree waits for the cycle collector;
--parent weak: a weakref.ref, so it dies by its counts at once). The scene keeps an index
id -> node in a weakref.WeakValueDictionary. Build a random tree of --nodes N, then --rounds
times: (a) detach random subtrees no bigger than what is left of the round's budget until 0.5% of
the nodes have gone (every other one also has its parent link reset), (b) move 0.5% of N random
subtrees under random new parents (with --moves shallow, only onto parents no deeper than the old
one), (c) refill with new nodes under random live parents until the scene has N nodes again.
bench/scene.cpp says why "detached" is decided by walking up the parent links rather than by the
index alone, and why moves and detaches are limited.

Usage: scene.py [--nodes 1000000] [--rounds 200] [--parent ref|weak] [--moves shallow|any]
"""
import gc
import time
import weakref

from common import IMPL, Rng, arg, check, done, emit, peak_rss_bytes, rss_bytes

LIVE = 0  # nodes constructed and not yet destroyed


class Node:
    __slots__ = ("id", "x", "y", "z", "children", "parent", "__weakref__")

    def __init__(self, i):
        global LIVE
        LIVE += 1
        self.id = i
        self.x = float(i)
        self.y = 0.5 * i
        self.z = 1.0
        self.children = []
        self.parent = None

    def __del__(self):
        global LIVE
        LIVE -= 1


class Scene:
    def __init__(self, n, rng, strong, shallow):
        self.n = n
        self.shallow = shallow
        self.rng = rng
        self.strong = strong
        self.index = weakref.WeakValueDictionary()
        self.root = None
        self.next_id = 0
        self.size = 0  # nodes in the scene (reachable from the root)

    def parent_of(self, node):
        p = node.parent
        if self.strong or p is None:
            return p
        return p()

    def set_parent(self, node, parent):
        node.parent = parent if self.strong else weakref.ref(parent)

    def draw_id(self):
        return self.rng.below(self.next_id)

    def add_child(self, parent):
        # Create-then-link, as bench/scene.cpp does.
        node = Node(self.next_id)
        parent.children.append(node)
        self.set_parent(node, parent)
        self.index[self.next_id] = node
        self.next_id += 1

    def build(self):
        self.root = Node(0)
        self.index[0] = self.root
        self.next_id = 1
        get = self.index.get
        while self.next_id < self.n:
            self.add_child(get(self.draw_id()))
        self.size = self.n

    def depth(self, node, avoid):
        """node's depth when the parent links lead from it up to the root, each node on the way is
        among its parent's children and avoid (when given) is not on the way; else -1."""
        root = self.root
        steps = 0
        while node is not root:
            if node is avoid:
                return -1
            p = self.parent_of(node)
            if p is None or node not in p.children:
                return -1
            node = p
            steps += 1
        return steps

    @staticmethod
    def subtree_size(top, limit):
        """The subtree's node count, or limit + 1 once it is known to be bigger than limit."""
        count = 0
        stack = [top]
        while stack and count <= limit:
            node = stack.pop()
            count += 1
            stack.extend(node.children)
        return count

    def remove_from_parent(self, node):
        kids = self.parent_of(node).children
        i = kids.index(node)
        kids[i] = kids[-1]
        kids.pop()

    def detach(self, budget, counter):
        gone = 0
        attempt = 0
        get = self.index.get
        while gone < budget and attempt < 100 * budget:
            attempt += 1
            node = get(self.draw_id())
            if node is None or node is self.root or self.depth(node, None) < 0:
                continue
            size = self.subtree_size(node, budget - gone)
            if size > budget - gone:
                continue
            gone += size
            self.remove_from_parent(node)
            if counter[0] % 2 == 0:
                node.parent = None
            counter[0] += 1
            del node
        self.size -= gone
        return gone

    def move(self, count):
        moved = 0
        attempt = 0
        get = self.index.get
        while moved < count and attempt < 100 * count:
            attempt += 1
            i = self.draw_id()
            to = self.draw_id()
            node = get(i)
            p = get(to)
            if node is None or p is None or node is self.root:
                continue
            old = self.depth(node, None) - 1
            onto = self.depth(p, node)
            if old < 0 or onto < 0 or (self.shallow and onto > old):
                continue
            self.remove_from_parent(node)
            p.children.append(node)
            self.set_parent(node, p)
            moved += 1
        return moved

    def refill(self):
        created = 0
        get = self.index.get
        while self.size < self.n:
            p = get(self.draw_id())
            if p is None or self.depth(p, None) < 0:
                continue
            self.add_child(p)
            self.size += 1
            created += 1
        return created

    def verify(self):
        """Node count, parent links correct, and the checksum of bench/scene.cpp (the sum of
        id * (depth + 1), mod 2**64)."""
        count = 0
        links_ok = True
        checksum = 0
        stack = [(self.root, 0)]
        while stack:
            node, depth = stack.pop()
            count += 1
            checksum += node.id * (depth + 1)
            for c in node.children:
                if self.parent_of(c) is not node:
                    links_ok = False
                stack.append((c, depth + 1))
        return count, links_ok, checksum & ((1 << 64) - 1)


def main():
    n = max(2, arg("--nodes", 1000000))
    rounds = max(0, arg("--rounds", 200))
    parent = arg("--parent", "ref")
    if parent not in ("ref", "weak"):
        raise SystemExit("--parent must be ref or weak")
    strong = parent == "ref"
    moves = arg("--moves", "shallow")
    if moves not in ("shallow", "any"):
        raise SystemExit("--moves must be shallow or any")
    shallow = moves == "shallow"

    pauses = []
    started = []

    def on_gc(phase, info):
        if phase == "start":
            started.append(time.perf_counter())
        else:
            pauses.append(time.perf_counter() - started.pop())

    gc.callbacks.append(on_gc)

    rng = Rng(42)
    scene = Scene(n, rng, strong, shallow)
    budget = max(1, n // 200)

    rss0 = rss_bytes()
    t0 = time.perf_counter()
    scene.build()
    t1 = time.perf_counter()
    bytes_per_node = (rss_bytes() - rss0) / n
    build_s = t1 - t0

    detached = moved = created = max_zombies = 0
    counter = [0]
    for _ in range(rounds):
        detached += scene.detach(budget, counter)
        moved += scene.move(budget)
        created += scene.refill()
        max_zombies = max(max_zombies, LIVE - scene.size)
    rounds_s = time.perf_counter() - t1
    gc.callbacks.remove(on_gc)
    stats = gc.get_stats()

    final_nodes, links_ok, tree_checksum = scene.verify()
    if strong:
        gc.collect()
    live_after = LIVE
    ok = all([check(final_nodes == n, "scene: nodes reachable from the root"),
              check(links_ok, "scene: every child's parent link names its parent"),
              check(live_after == n, "scene: live nodes after the final check")])
    peak_mb = peak_rss_bytes() / 1e6
    name = "scene_" + parent + ("" if shallow else "_anymoves")
    emit(name, IMPL, "time_s", build_s + rounds_s, "s", 0, ok, nodes=n, rounds=rounds, moves=moves, build_s=build_s,
         rounds_s=rounds_s, peak_rss_MB=peak_mb, bytes_per_node=bytes_per_node, detached=detached, moved=moved,
         created=created, max_zombies=max_zombies, tree_checksum=tree_checksum, collections=[s["collections"] for s in stats],
         gc_pause_s=sum(pauses))
    emit(name, IMPL, "peak_rss_MB", peak_mb, "MB", 0, ok)
    emit(name, IMPL, "bytes_per_node", bytes_per_node, "B", 0, ok)


main()
done()
