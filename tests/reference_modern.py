"""Slow, pure-Python reference models of LRU-K, ARC, S3-FIFO and W-TinyLFU, one object
per cache set, registered in :data:`reference.SET_MODELS` on import.

Written from the algorithms' descriptions (the papers and libCacheSim's
``cache/eviction/*.c``, as summarised in each ``policies/*.py`` docstring) with plain
Python containers (``OrderedDict`` queues, dicts), independent of the Numba modules'
intrusive lists and flat arrays. The engine calls ``victim`` only when a set is full and
evicts what it returns right away, then fills; the models follow the same protocol
(``victim`` may update ghost state; ``evict`` and ``fill`` apply the decision).
A prefetch fill is modelled as a demand insertion.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from recsim.policies.wtinylfu import SEED0, SEED1, sketch_size, xxh64_u64
from reference import SET_MODELS


class _Base:
    def __contains__(self, v):
        return v in self.where

    def __len__(self):
        return len(self.where)

    def residents(self):
        return list(self.where)


# -- LRU-K ------------------------------------------------------------------------------

class LRUKModel(_Base):
    """History (last K event numbers) only while resident; < K accesses: FIFO first."""

    def __init__(self, k, seq):
        self.k = k
        self.seq = seq  # shared event counter (one-element list)
        self.where = {}  # vid -> list of its last K event numbers, oldest first
        self.young = OrderedDict()  # fewer than K accesses, in insertion order

    def _tick(self):
        self.seq[0] += 1
        return self.seq[0]

    def hit(self, v, t):
        h = self.where[v]
        h.append(self._tick())
        del h[:-self.k]
        if v in self.young and len(h) >= self.k:
            del self.young[v]

    def fill(self, v, t, now=None, prefetch=False):
        self.where[v] = [self._tick()]
        if self.k > 1:
            self.young[v] = None

    def victim(self, v, t, prefetch=False):
        if self.young:
            return next(iter(self.young))
        return min(self.where, key=lambda u: self.where[u][0])

    def evict(self, v):
        del self.where[v]
        self.young.pop(v, None)


# -- ARC --------------------------------------------------------------------------------

class ARCModel(_Base):
    def __init__(self, c):
        self.c = c
        self.p = 0.0
        self.t1, self.t2 = OrderedDict(), OrderedDict()  # LRU first
        self.b1, self.b2 = OrderedDict(), OrderedDict()
        self.where = {}
        self.to_t2 = False
        self.keep_ghost = True

    def hit(self, v, t):
        if v in self.t1:
            del self.t1[v]
        else:
            del self.t2[v]
        self.t2[v] = None

    def _replace(self, in_b2):
        n1 = len(self.t1)
        if (n1 > 0 and (n1 > self.p or (n1 == self.p and in_b2))) or not self.t2:
            return next(iter(self.t1))
        return next(iter(self.t2))

    def victim(self, v, t, prefetch=False):
        c = self.c
        self.keep_ghost = True
        if v in self.b1 or v in self.b2:
            n1, n2 = len(self.b1), len(self.b2)
            in_b2 = v in self.b2
            if not in_b2:
                self.p = min(self.p + max(n2 / n1, 1.0), float(c))
                del self.b1[v]
            else:
                self.p = max(self.p - max(n1 / n2, 1.0), 0.0)
                del self.b2[v]
            self.to_t2 = True
            return self._replace(in_b2)
        if len(self.t1) + len(self.b1) + 1 > c:
            if self.b1:
                self.b1.popitem(last=False)
                return self._replace(False)
            self.keep_ghost = False
            return next(iter(self.t1))
        total = len(self.t1) + len(self.t2) + len(self.b1) + len(self.b2)
        if total >= 2 * c and self.b2:
            self.b2.popitem(last=False)
        return self._replace(False)

    def evict(self, v):
        del self.where[v]
        if v in self.t1:
            del self.t1[v]
            if self.keep_ghost:
                self.b1[v] = None
        else:
            del self.t2[v]
            if self.keep_ghost:
                self.b2[v] = None

    def fill(self, v, t, now=None, prefetch=False):
        self.where[v] = None
        (self.t2 if self.to_t2 else self.t1)[v] = None
        self.to_t2 = False


# -- S3-FIFO ----------------------------------------------------------------------------

class S3FIFOModel(_Base):
    def __init__(self, c, small_ratio, ghost_ratio, threshold):
        self.small_cap = max(1, int(c * small_ratio))
        self.main_cap = c - self.small_cap
        self.ghost_cap = int(c * ghost_ratio)
        self.threshold = threshold
        self.small, self.main, self.ghost = OrderedDict(), OrderedDict(), OrderedDict()
        self.where = {}  # vid -> frequency
        self.has_evicted = False
        self.to_main = False
        self.to_ghost = False

    def hit(self, v, t):
        self.where[v] += 1

    def fill(self, v, t, now=None, prefetch=False):
        self.where[v] = 0
        if self.to_main or (not self.has_evicted and len(self.small) >= self.small_cap):
            self.main[v] = None
        else:
            self.small[v] = None
        self.to_main = False

    def victim(self, v, t, prefetch=False):
        self.has_evicted = True
        if v in self.ghost:
            del self.ghost[v]
            self.to_main = True
        while True:
            if len(self.main) > self.main_cap or not self.small:
                while True:
                    u = next(iter(self.main))
                    f = self.where[u]
                    if f == 0:
                        self.to_ghost = False
                        return u
                    self.main.move_to_end(u)
                    self.where[u] = min(f, 3) - 1
            while self.small:
                u = next(iter(self.small))
                if self.where[u] < self.threshold:
                    self.to_ghost = True
                    return u
                del self.small[u]
                self.main[u] = None
                self.where[u] = 0

    def evict(self, v):
        del self.where[v]
        if v in self.small:
            del self.small[v]
        else:
            del self.main[v]
        if self.to_ghost and self.ghost_cap > 0:
            if len(self.ghost) >= self.ghost_cap:
                self.ghost.popitem(last=False)
            self.ghost[v] = None


# -- W-TinyLFU ----------------------------------------------------------------------------

# The sketch hashes the vectors' global keys, which ModelContext does not carry:
# :func:`wtinylfu_replay` sets their hash pairs here before a replay. DOOMED_HITS[0] counts hits on
# vectors that libCacheSim would already have evicted (see policies/wtinylfu.py).
KEYS = {"pairs": None}
DOOMED_HITS = [0]


class WTinyLFUModel(_Base):
    def __init__(self, c, window_size, hash_pairs):
        window = max(1, int(c * window_size))
        self.m = c - window
        self.max0, self.max1 = int(1 / 5 * self.m), int(4 / 5 * self.m)
        self.hashes, self.n = sketch_size(self.m)
        self.a, self.b = hash_pairs
        self.cbf = [0] * self.n
        self.hits_in_main = 0
        self.window, self.prob, self.prot = OrderedDict(), OrderedDict(), OrderedDict()
        self.doomed = OrderedDict()  # evicted by libCacheSim, slot not yet reused
        self.where = {}

    def _idx(self, v):
        a, b = self.a[v], self.b[v]
        return [((a + i * b) & 0xFFFFFFFF) % self.n for i in range(self.hashes)]

    def _add(self, v):
        for x in self._idx(v):
            self.cbf[x] += 1

    def _est(self, v):
        return min(self.cbf[x] for x in self._idx(v))

    def _main_n(self):
        return len(self.prob) + len(self.prot)

    def _main_insert(self, v):
        if len(self.prob) + 1 <= self.max0:
            self.prob[v] = None
        elif len(self.prot) + 1 <= self.max1:
            self.prot[v] = None
        else:
            self.prob[v] = None

    def _main_victim(self):
        return next(iter(self.prob)) if self.prob else next(iter(self.prot))

    def _doom(self, v):
        for q in (self.window, self.prob, self.prot):
            q.pop(v, None)
        self.doomed[v] = None

    def fill(self, v, t, now=None, prefetch=False):
        self.where[v] = None
        self.window[v] = None
        self._add(v)

    def hit(self, v, t):
        if v in self.window:
            self.window.move_to_end(v)
            return
        if v in self.doomed:
            DOOMED_HITS[0] += 1
            del self.doomed[v]
            self.window[v] = None
            self._add(v)
            return
        if v in self.prot:
            self.prot.move_to_end(v)
        else:
            del self.prob[v]
            self.prot[v] = None
            while len(self.prot) > self.max1:
                u = next(iter(self.prot))
                del self.prot[u]
                self.prob[u] = None
                while len(self.prob) > self.max0:
                    self._doom(next(iter(self.prob)))
        self._add(v)
        self.hits_in_main += 1
        if self.hits_in_main >= 32 * self.m:
            self.hits_in_main = 0
            self.cbf = [x >> 1 for x in self.cbf]

    def victim(self, v, t, prefetch=False):
        if self.doomed:
            return next(iter(self.doomed))
        evicted = []
        while True:
            if self.window:
                w = next(iter(self.window))
                if self._main_n() + 1 <= self.m:
                    del self.window[w]
                    self._main_insert(w)
                    self._add(w)
                    continue
                if self.m > 0:
                    u = self._main_victim()
                    if self._est(w) > self._est(u):
                        evicted.append(u)
                        self._doom(u)
                        del self.window[w]
                        self._main_insert(w)
                        self._add(w)
                        break
                evicted.append(w)
                self._doom(w)
                self._add(w)
                break
            u = self._main_victim()
            evicted.append(u)
            self._doom(u)
            break
        return evicted[0]

    def evict(self, v):
        del self.where[v]
        del self.doomed[v]


def wtinylfu_replay(trace, *args, **kw):
    """:func:`reference.reference_replay` of W-TinyLFU; also returns the number of hits on
    doomed vectors (libCacheSim's misses minus the engine's, without prefetching)."""
    from reference import reference_replay

    keys = np.asarray(trace.dense().keys)
    KEYS["pairs"] = ([int(x) & 0xFFFFFFFF for x in xxh64_u64(keys, SEED0)],
                     [int(x) & 0xFFFFFFFF for x in xxh64_u64(keys, SEED1)])
    DOOMED_HITS[0] = 0
    ref = reference_replay(trace, "wtinylfu", *args, **kw)
    return ref, DOOMED_HITS[0]


SET_MODELS["wtinylfu"] = lambda ctx, s: WTinyLFUModel(ctx.ways, ctx.params["window_size"],
                                                      KEYS["pairs"])
SET_MODELS["lruk"] = lambda ctx, s: LRUKModel(ctx.params["k"],
                                              ctx.shared.setdefault("lruk_seq", [0]))
SET_MODELS["arc"] = lambda ctx, s: ARCModel(ctx.ways)
SET_MODELS["s3fifo"] = lambda ctx, s: S3FIFOModel(
    ctx.ways, ctx.params["small_size_ratio"], ctx.params["ghost_size_ratio"],
    ctx.params["move_to_main_threshold"])
