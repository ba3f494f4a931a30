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
from itertools import accumulate

from reference import SET_MODELS
from reference_modern import _Base

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

class LeCaRModel(_Base):
    def __init__(self, ways, rng):
        self.c = ways
        self.rng = rng
        self.where = OrderedDict()  # residents, least recent first
        self.freq = {}
        self.stamp = {}  # when the vid reached its count (LFU ties: earliest first)
        self.events = 0
        self.clock = 0  # accesses of this set
        self.w = [0.5, 0.5]  # LRU, LFU
        self.history = [OrderedDict(), OrderedDict()]  # vid -> eviction time, oldest first
        self.chose = None

    def _count(self, v, f):
        self.events += 1
        self.freq[v] = f
        self.stamp[v] = self.events

    def hit(self, v, t):
        self.clock += 1
        self.where.move_to_end(v)
        self._count(v, self.freq[v] + 1)

    def fill(self, v, t, now=None, prefetch=False):
        self.clock += 1
        self.where[v] = None
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
        by_lru = next(iter(self.where))
        by_lfu = min(self.where, key=lambda u: (self.freq[u], self.stamp[u]))
        if by_lru == by_lfu:
            self.chose = None
            return by_lru
        self.chose = 0 if self.rng.uniform() < self.w[0] else 1
        return (by_lru, by_lfu)[self.chose]

    def evict(self, v):
        del self.where[v], self.freq[v], self.stamp[v]
        if self.chose is not None and self.c // 2 > 0:
            h = self.history[self.chose]
            if len(h) >= self.c // 2:
                h.popitem(last=False)
            h[v] = self.clock + 1


SET_MODELS["lecar"] = lambda ctx, s: LeCaRModel(ctx.ways, _rng(ctx))


# -- CACHEUS ------------------------------------------------------------------------------

class _Entry:
    def __init__(self, v, freq, time, new):
        self.v, self.freq, self.time, self.new, self.demoted = v, freq, time, new, False


class CacheusModel:
    """The authors' ``cacheus.py`` request logic, split at the engine's protocol."""

    def __init__(self, ways, rng):
        self.c = ways
        self.rng = rng
        self.time = 0
        self.s, self.q = OrderedDict(), OrderedDict()  # R and SR, least recent first
        self.hist = [OrderedDict(), OrderedDict()]  # LRU's, LFU's: vid -> entry
        self.w = [0.5, 0.5]
        self.q_limit = max(1, int(0.01 * ways + 0.5))
        self.s_limit = ways - self.q_limit
        self.dem = self.nor = 0
        self.lr = self.lr_curr = math.sqrt(2.0 * math.log(2) / ways)
        self.lr_reset = min(max(self.lr, 0.001), 1.0)
        self.lr_prev = self.hr_prev = 0.0
        self.hits = self.zero = self.nega = 0
        self.pending = None

    def __contains__(self, v):
        return v in self.s or v in self.q

    def __len__(self):
        return len(self.s) + len(self.q)

    def residents(self):
        return list(self.s) + list(self.q)

    def _tick(self):
        self.time += 1
        if self.time % self.c:
            return
        r3 = lambda x: round(x * 1000.0) / 1000.0  # noqa: E731  (rint: half to even)
        hr = r3(self.hits / self.c)
        hr_diff = r3(hr - self.hr_prev)
        lr_diff = r3(self.lr_curr) - r3(self.lr_prev)
        delta = lr_diff * hr_diff
        if delta > 0:
            self.lr = min(self.lr + abs(self.lr * lr_diff), 1.0)
            self.nega = self.zero = 0
        elif delta < 0:
            self.lr = max(self.lr - abs(self.lr * lr_diff), 0.001)
            self.nega = self.zero = 0
        elif hr_diff <= 0:
            if hr <= 0 and hr_diff == 0:
                self.zero += 1
            if hr_diff < 0:
                self.nega += 1
                self.zero += 1
            if self.zero >= 10:
                self.lr, self.zero = self.lr_reset, 0
            elif hr_diff < 0:
                if self.nega >= 10:
                    self.lr, self.nega = self.lr_reset, 0
                elif self.lr >= 1:
                    self.lr = 0.9
                elif self.lr <= 0.001:
                    self.lr = 0.005
                elif self.rng.uniform() < 0.5:
                    self.lr = min(self.lr * 1.25, 1.0)
                else:
                    self.lr = max(self.lr * 0.75, 0.001)
        self.lr_prev, self.lr_curr, self.hr_prev, self.hits = self.lr_curr, self.lr, hr, 0

    def _grow(self, protected):
        if protected:
            self.s_limit = min(self.c - 1, self.s_limit + max(1, int(
                self.nor / max(1, self.dem) + 0.5)))
            self.q_limit = self.c - self.s_limit
        else:
            self.q_limit = min(self.c - 1, self.q_limit + max(1, int(
                self.dem / max(1, self.nor) + 0.5)))
            self.s_limit = self.c - self.q_limit

    def _demote(self):
        if self.s:
            v, x = self.s.popitem(last=False)
            x.demoted = True
            self.dem += 1
            self.q[v] = x

    def _limit(self):
        while len(self.s) >= self.s_limit and self.s:
            self._demote()

    def hit(self, v, t):
        self._tick()
        self.hits += 1
        if v in self.s:
            x = self.s.pop(v)
        else:
            x = self.q.pop(v)
            if x.demoted:
                self._grow(True)
                x.demoted = False
                self.dem -= 1
            if len(self.s) >= self.s_limit:
                self._demote()
        x.freq += 1
        x.time = self.time
        self.s[v] = x

    def victim(self, v, t, prefetch=False):
        self._tick()
        self.pending = "miss"
        for e in (0, 1):
            if v in self.hist[e]:
                x = self.hist[e].pop(v)
                if e == 0 and x.new:
                    self.nor -= 1
                    self._grow(False)
                self.w[e] *= math.exp(-self.lr)
                total = self.w[0] + self.w[1]
                self.w = [self.w[0] / total, self.w[1] / total]
                if self.w[0] >= 0.99:
                    self.w = [0.99, 0.01]
                elif self.w[1] >= 0.99:
                    self.w = [0.01, 0.99]
                self.pending = x
        by_lru = next(iter(self.q or self.s))
        entries = {**self.s, **self.q}
        by_lfu = min(entries, key=lambda u: (entries[u].freq, -entries[u].time))
        to_lfu = self.rng.uniform() >= self.w[0]
        self.chose = None if by_lru == by_lfu else int(to_lfu)
        return by_lfu if to_lfu else by_lru

    def evict(self, v):
        x = self.s.pop(v) if v in self.s else self.q.pop(v)
        if x.demoted:
            self.dem -= 1
            x.demoted = False
        e = self.chose
        if e is None or self.c // 2 == 0:
            return
        h = self.hist[e]
        if e == 0 and x.new:
            self.nor += 1
        if len(h) == self.c // 2:
            old = h.pop(next(iter(h)))
            if e == 0 and old.new:
                self.nor -= 1
        h[v] = x

    def fill(self, v, t, now=None, prefetch=False):
        pending, self.pending = self.pending, None
        if pending is None:
            self._tick()
        if isinstance(pending, _Entry):
            self.s[v] = _Entry(v, pending.freq, self.time, False)
            self._limit()
        elif pending is None and len(self.s) < self.s_limit and not self.q:
            self.s[v] = _Entry(v, 1, self.time, False)
        elif pending is None and len(self.q) < self.q_limit:
            self.q[v] = _Entry(v, 1, self.time, False)
        else:
            self.q[v] = _Entry(v, 1, self.time, True)
            self._limit()


SET_MODELS["cacheus"] = lambda ctx, s: CacheusModel(ctx.ways, _rng(ctx))


# -- LHD ----------------------------------------------------------------------------------

class LHDShared:
    """LHD's one model of the whole buffer (the authors' ``lhd.cpp``)."""

    def __init__(self, ctx):
        self.m = ctx.params["max_age"]
        self.every = ctx.params["reconfigure_every"]
        self.rng = _rng(ctx)
        self.hits = [[0.0] * self.m for _ in range(16)]
        self.evictions = [[0.0] * self.m for _ in range(16)]
        self.density = [[(16 + c + 1.0) / (a + 1.0) for a in range(self.m)]
                        for c in range(16)]
        self.time = 0
        self.next = self.every
        self.reconfigurations = 0
        self.shift = ctx.params["age_coarsening"]  # the code's 10
        self.budget = int(ctx.sets * ctx.ways * 0.01)
        self.admitted = [None] * 8
        self.head = 0
        self.residents = 0
        self.ewma_victim = self.ewma_objects = self.ewma_mass = 0.0
        self.tags = {}  # vid -> [stamp, last hit age, the one before, explorer]

    def age(self, v):
        return min((self.time - self.tags[v][0]) >> self.shift, self.m - 1)

    def klass(self, v):
        age = self.tags[v][1] + self.tags[v][2]
        if age == 0:
            return 15
        log = 0
        while age < self.m and log < 15:
            age <<= 1
            log += 1
        return log

    def rank(self, v):
        age = self.age(v)
        if age == self.m - 1:
            return -3.4028234663852886e38
        return self.density[self.klass(v)][age] + (1.0 if self.tags[v][3] else 0.0)

    def access(self, v, insert):
        if insert:
            self.tags[v] = [0, 0, self.m, False]
        else:
            tag = self.tags[v]
            age = self.age(v)
            self.hits[self.klass(v)][age] += 1.0
            self.budget += tag[3]
            tag[2], tag[1] = tag[1], age
        tag = self.tags[v]
        tag[0] = self.time
        explore = self.rng.next() % 32 == 0
        tag[3] = explore and self.budget > 0 and self.reconfigurations < 50
        self.budget -= tag[3]
        if insert and not explore and self.rank(v) < self.ewma_victim:
            self.admitted[self.head % 8] = v
            self.head += 1
        self.time += 1
        self.next -= 1
        if self.next == 0:
            self.reconfigure()
            self.next = self.every
            self.reconfigurations += 1

    def reconfigure(self):
        for counts in (self.hits, self.evictions):
            for row in counts:
                row[:] = [x * 0.9 for x in row]
        self.ewma_objects = self.ewma_objects * 0.9 + self.residents
        self.ewma_mass = self.ewma_mass * 0.9 + 1.0
        if self.reconfigurations in (5, 25):
            optimal = self.ewma_objects / self.ewma_mass / (0.01 * self.m)
            shift = 1
            while (1 << shift) < optimal:
                shift += 1
            delta, self.shift = shift - self.shift, shift
            self.ewma_objects *= 8
            self.ewma_mass *= 8
            for counts in (self.hits, self.evictions):
                for row in counts:
                    rescale(row, delta, self.m)
        for c in range(16):
            events = [h + e for h, e in zip(self.hits[c], self.evictions[c])][::-1]
            suffix_events = list(accumulate(events))
            suffix_hits = list(accumulate(self.hits[c][::-1]))
            lifetimes = list(accumulate(suffix_events))
            for i in range(1, self.m):  # age m - 1 - i
                self.density[c][self.m - 1 - i] = (suffix_hits[i] / lifetimes[i]
                                                   if suffix_events[i] > 1e-5 else 0.0)


def rescale(row, delta, m):
    if delta < 0:
        d = -delta
        for a in range(m >> d, m - 1):
            row[m - 1] += row[a]
        for a in range(m - 2, -1, -1):
            row[a] = row[a >> d] / (1 << d)
    elif delta > 0:
        for a in range(m >> delta):
            row[a] = sum(row[(a << delta):(a << delta) + (1 << delta)])
        for a in range(m >> delta, m - 1):
            row[a] = 0.0


class LHDModel(_Base):
    def __init__(self, ways, shared):
        self.ways = ways
        self.lhd = shared
        self.where = []  # the vid in each way, in the engine's way order

    def hit(self, v, t):
        self.lhd.access(v, False)

    def fill(self, v, t, now=None, prefetch=False):
        if self.evicted is not None:
            self.where[self.evicted] = v
        else:
            self.where.append(v)
        self.evicted = None
        self.lhd.residents += 1
        self.lhd.access(v, True)

    evicted = None

    def victim(self, v, t, prefetch=False):
        lhd = self.lhd
        k = 32 if lhd.reconfigurations > 50 else 8
        if self.ways <= k:
            candidates = list(self.where)
        else:
            candidates = [self.where[lhd.rng.next() % self.ways] for _ in range(k)]
        candidates += [u for u in lhd.admitted if u in self.where]
        best = min(candidates, key=lhd.rank)  # the first of the least dense
        lhd.ewma_victim = 0.9 * lhd.ewma_victim + (1.0 - 0.9) * lhd.rank(best)
        return best

    def evict(self, v):
        lhd = self.lhd
        lhd.evictions[lhd.klass(v)][lhd.age(v)] += 1.0
        lhd.budget += lhd.tags[v][3]
        lhd.residents -= 1
        self.evicted = self.where.index(v)


def _lhd(ctx, s):
    if "lhd" not in ctx.shared:
        ctx.shared["lhd"] = LHDShared(ctx)
    return LHDModel(ctx.ways, ctx.shared["lhd"])


SET_MODELS["lhd"] = _lhd
