"""Slow, pure-Python reference models of the adaptive baselines LeCaR, CACHEUS and LHD,
one object per cache set, registered in :data:`reference.SET_MODELS` on import.

Written from the papers' rules as summarised in each ``policies/*.py`` docstring, with
plain Python containers (``OrderedDict`` queues, dicts, lists), independent of the Numba
modules' intrusive lists, ghost rings and flat arrays. The random draws come from the
same xorshift64* stream as the policy's (one stream per replay, shared by the sets, in
``ctx.shared``), so the counts must be equal. The engine calls ``victim`` only when a set
is full and evicts what it returns right away, then fills; a prefetch fill is modelled as
a demand insertion.
"""

from __future__ import annotations

import math
from collections import OrderedDict

from reference import SET_MODELS

MASK = (1 << 64) - 1


class XorShift:
    """xorshift64* as ``policies/random.py`` seeds and steps it."""

    def __init__(self, seed):
        self.x = (seed * 0x9E3779B97F4A7C15 + 0xD1B54A32D192ED03) % (1 << 64) or 1

    def next(self):
        x = self.x
        x ^= x >> 12
        x ^= (x << 25) & MASK
        x ^= x >> 27
        self.x = x
        return (x * 0x2545F4914F6CDD1D) & MASK

    def uniform(self):
        return (self.next() >> 11) / 9007199254740992.0


def _rng(ctx):
    return ctx.shared.setdefault("rng", XorShift(ctx.seed))


# -- LeCaR --------------------------------------------------------------------------------

class LeCaRModel:
    def __init__(self, ways, rng):
        self.c = ways
        self.rng = rng
        self.lru = OrderedDict()  # residents, least recent first
        self.freq = {}
        self.stamp = {}  # when the vid reached its count (LFU ties: earliest first)
        self.events = 0
        self.clock = 0  # accesses of this set
        self.w = [0.5, 0.5]  # LRU, LFU
        self.history = [OrderedDict(), OrderedDict()]  # vid -> eviction time, oldest first
        self.chose = None

    def __contains__(self, v):
        return v in self.lru

    def __len__(self):
        return len(self.lru)

    def residents(self):
        return list(self.lru)

    def _count(self, v, f):
        self.events += 1
        self.freq[v] = f
        self.stamp[v] = self.events

    def hit(self, v, t):
        self.clock += 1
        self.lru.move_to_end(v)
        self._count(v, self.freq[v] + 1)

    def fill(self, v, t, now=None, prefetch=False):
        self.clock += 1
        self.lru[v] = None
        self._count(v, 1)

    def victim(self, v, t, prefetch=False):
        now = self.clock + 1
        for e in (0, 1):
            if v in self.history[e]:
                elapsed = now - self.history[e].pop(v)
                d = 0.005 ** (1.0 / self.c)
                w = self.w
                w[e] = w[e] * math.exp(-0.45 * d ** elapsed) + 1e-10
                s = w[e] + w[1 - e] + 2e-10
                w[e] = w[e] / s
                w[1 - e] = (w[1 - e] + 1e-10) / s
        by_lru = next(iter(self.lru))
        by_lfu = min(self.lru, key=lambda u: (self.freq[u], self.stamp[u]))
        if by_lru == by_lfu:
            self.chose = None
            return by_lru
        self.chose = 0 if self.rng.uniform() < self.w[0] else 1
        return (by_lru, by_lfu)[self.chose]

    def evict(self, v):
        del self.lru[v], self.freq[v], self.stamp[v]
        if self.chose is not None and self.c // 2 > 0:
            h = self.history[self.chose]
            if len(h) >= self.c // 2:
                h.popitem(last=False)
            h[v] = self.clock + 1


SET_MODELS["lecar"] = lambda ctx, s: LeCaRModel(ctx.ways, _rng(ctx))
