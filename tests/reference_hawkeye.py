"""A slow, pure-Python model of Hawkeye (policies/hawkeye.py), written from ChampSim's
CRC-2 code (commit 025fb6f6) with plain Python containers: a dict per predictor (an
unseen PC is friendly; first touch starts its counter at 16, as ChampSim's ``map``), a
list of ``OrderedDict`` sampler sets in LRU order, a list of liveness counters per
sampled set. Registers ``"hawkeye"`` in ``reference.SET_MODELS``.

Only the geometry rule is repeated here (from the module docstring), not the code.
"""

from __future__ import annotations

from collections import OrderedDict

from reference import SET_MODELS

MAX_RRPV = 7


def champsim_crc(x):
    for _ in range(32):
        x = (x >> 1) ^ 3988292384 if x & 1 else x >> 1
    return x


class HawkeyeShared:
    """State shared by all sets: predictors, sampler, OPTgen per sampled set."""

    def __init__(self, sets, ways, params):
        p = params
        self.ways = ways
        n = p["sampled_sets"] or (sets if sets <= 64 else max(64, sets // 32))
        self.sampled = {(i * sets) // n: i for i in range(n)}
        self.vec = p["optgen_size"] or 8 * ways
        self.cap = p["optgen_capacity"] or max(1, ways - 2)
        timer = p["timer_size"]
        if not timer:
            timer = self.vec
            while timer < 1024:
                timer += self.vec
        self.timer_size = timer
        entries = p["sampler_entries"] or -(-2800 * n * ways // 1024)
        self.sampler_sets = -(-entries // 8)
        self.sampler = [OrderedDict() for _ in range(self.sampler_sets)]  # LRU first
        self.timer = [0] * n
        self.liveness = [[0] * self.vec for _ in range(n)]
        self.pred_size = p["predictor_size"]
        self.max = (1 << p["counter_bits"]) - 1
        self.half = (self.max + 1) // 2
        self.tables = {"demand": {}, "prefetch": {}}

    def _counter(self, kind, pc):
        table = self.tables[kind]
        key = champsim_crc(pc) % self.pred_size
        if key not in table:
            table[key] = self.half
        return table, key

    def increment(self, kind, pc):
        table, key = self._counter(kind, pc)
        table[key] = min(table[key] + 1, self.max)

    def decrement(self, kind, pc):
        table, key = self._counter(kind, pc)
        table[key] = max(table[key] - 1, 0)

    def friendly(self, kind, pc):
        key = champsim_crc(pc) % self.pred_size
        return self.tables[kind].get(key, self.half) >= self.half

    def should_cache(self, i, cur, last):
        live = self.liveness[i]
        span = []
        j = last
        while j != cur:
            span.append(j)
            j = (j + 1) % self.vec
        if any(live[j] >= self.cap for j in span):
            return False
        for j in span:
            live[j] += 1
        return True

    def sample(self, i, v, pc, prefetch):
        now = self.timer[i]
        cur = now % self.vec
        sset = self.sampler[v % self.sampler_sets]
        entry = sset.get(v)
        if entry is not None and not prefetch:
            gap = (now - entry["last"]) % self.timer_size
            kind = "prefetch" if entry["prefetched"] else "demand"
            if gap <= self.vec and self.should_cache(i, cur, entry["last"] % self.vec):
                self.increment(kind, entry["pc"])
            else:
                self.decrement(kind, entry["pc"])
            entry["prefetched"] = False
        elif entry is None:
            if len(sset) == 8:
                sset.popitem(last=False)
            entry = {"last": 0, "pc": 0, "prefetched": prefetch}
            sset[v] = entry
        else:
            if 0 <= now - entry["last"] < 5:
                if self.should_cache(i, cur, entry["last"] % self.vec):
                    kind = "prefetch" if entry["prefetched"] else "demand"
                    self.increment(kind, entry["pc"])
            entry["prefetched"] = True
        self.liveness[i][cur] = 0
        entry["last"] = now
        entry["pc"] = pc
        sset.move_to_end(v)
        self.timer[i] = (now + 1) % self.timer_size


class HawkeyeSet:
    """One set: its ways in engine order (a free way is the lowest unused one; a
    newcomer takes its victim's way)."""

    def __init__(self, ctx, s):
        key = ("hawkeye", ctx.sets, ctx.ways)
        if key not in ctx.shared:
            ctx.shared[key] = HawkeyeShared(ctx.sets, ctx.ways, ctx.params)
        self.sh = ctx.shared[key]
        self.table_of = ctx.table_of
        self.sample_index = self.sh.sampled.get(s)
        self.way = {}  # vid -> way
        self.lines = [None] * ctx.ways  # way -> dict(vid, rrpv, pc, prefetched) or None
        self.free = None

    def __contains__(self, v):
        return v in self.way

    def __len__(self):
        return len(self.way)

    def residents(self):
        return list(self.way)

    def _update(self, v, hit, prefetch):
        pc = self.table_of[v]
        sh = self.sh
        if self.sample_index is not None:
            sh.sample(self.sample_index, v, pc, prefetch)
        line = self.lines[self.way[v]]
        line["pc"] = pc
        line["prefetched"] = prefetch
        if not sh.friendly("prefetch" if prefetch else "demand", pc):
            line["rrpv"] = MAX_RRPV
            return
        line["rrpv"] = 0
        if not hit and not any(x is not None and x["rrpv"] == MAX_RRPV - 1
                               for x in self.lines):
            for x in self.lines:
                if x is not None and x["rrpv"] < MAX_RRPV - 1:
                    x["rrpv"] += 1
        line["rrpv"] = 0

    def hit(self, v, t):
        self._update(v, True, False)

    def fill(self, v, t, now=None, prefetch=False):
        w = self.free if self.free is not None else self.lines.index(None)
        self.free = None
        self.way[v] = w
        self.lines[w] = {"vid": v}
        self._update(v, False, prefetch)

    def victim(self, v, t, prefetch=False):
        for x in self.lines:
            if x["rrpv"] == MAX_RRPV:
                return x["vid"]
        top = max(x["rrpv"] for x in self.lines)
        x = [x for x in self.lines if x["rrpv"] == top][-1]  # ChampSim's >= scan: last
        if self.sample_index is not None:
            self.sh.decrement("prefetch" if x["prefetched"] else "demand", x["pc"])
        return x["vid"]

    def evict(self, v):
        w = self.way.pop(v)
        self.lines[w] = None
        self.free = w


SET_MODELS["hawkeye"] = HawkeyeSet
