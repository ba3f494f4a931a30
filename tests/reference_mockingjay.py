"""A slow, pure-Python model of Mockingjay (policies/mockingjay.py), written from
ishanashah/Mockingjay ``mockingjay.llc_repl`` with plain Python containers: a dict for the
reuse distance predictor (absent = unseen), lists of entry dicts for the sampled caches,
a list of ETRs per set. Registers ``"mockingjay"`` in ``reference.SET_MODELS``.

Only the geometry rule is repeated (from the module docstring), not the code.
"""

from __future__ import annotations

from reference import SET_MODELS

GRANULARITY = 8
SC_WAYS = 5


def crc_hash3(x):
    for _ in range(3):
        x = (x >> 1) ^ 3988292384 if x & 1 else x >> 1
    return x


class MockingjayShared:
    def __init__(self, sets, ways, p):
        n = p["sampled_sets"] or (sets if sets <= 32 else max(32, sets * ways // 1024))
        self.sampled = {(i * sets) // n: i for i in range(n)}
        self.inf_rd = p["inf_rd"] or 8 * ways - 1
        self.inf_etr = p["inf_etr"] or max(1, (self.inf_rd + 1) // 8 - 1)
        self.max_rd = max(0, self.inf_rd - 22) if p["max_rd"] == -1 else p["max_rd"]
        self.ts_size = p["timestamp_size"] or 2 * (self.inf_rd + 1)
        self.sc_sets = p["sampled_cache_sets"] or ways
        self.bits = p["signature_bits"]
        self.rdp = {}
        self.now = [0] * n
        # sampled cache: [sampled set][sampled-cache set] -> 5 ways (None = invalid)
        self.cache = [[[None] * SC_WAYS for _ in range(self.sc_sets)] for _ in range(n)]

    def signature(self, pc, hit, prefetch):
        return crc_hash3(pc * 4 + 2 * hit + prefetch) % (1 << self.bits)

    def detrain(self, ways, w):
        entry = ways[w]
        if entry is None:
            return
        s = entry["sig"]
        self.rdp[s] = min(self.rdp[s] + 1, self.inf_rd) if s in self.rdp else self.inf_rd
        ways[w] = None

    def elapsed(self, i, entry):
        return (self.now[i] - entry["ts"]) % self.ts_size

    def sample(self, i, v, sig, prefetch):
        ways = self.cache[i][v % self.sc_sets]
        for w, entry in enumerate(ways):
            if entry is not None and entry["tag"] == v:
                sample = self.elapsed(i, entry)
                if sample <= self.inf_rd:
                    if prefetch:
                        sample *= 2
                    old = self.rdp.get(entry["sig"])
                    if old is None:
                        self.rdp[entry["sig"]] = sample
                    elif abs(sample - old) >= 16:
                        step = 1 if sample > old else -1
                        self.rdp[entry["sig"]] = min(max(old + step, 0), self.inf_rd)
                    ways[w] = None
                break
        lru, lru_rd = -1, -1
        for w, entry in enumerate(ways):
            if entry is None:
                lru, lru_rd = w, self.inf_rd + 1
                continue
            e = self.elapsed(i, entry)
            if e > self.inf_rd:
                lru, lru_rd = w, self.inf_rd + 1
                self.detrain(ways, w)
            elif e > lru_rd:
                lru, lru_rd = w, e
        self.detrain(ways, lru)
        w = ways.index(None)
        ways[w] = {"tag": v, "sig": sig, "ts": self.now[i]}
        self.now[i] = (self.now[i] + 1) % self.ts_size


class MockingjaySet:
    def __init__(self, ctx, s):
        key = ("mockingjay", ctx.sets, ctx.ways)
        if key not in ctx.shared:
            ctx.shared[key] = MockingjayShared(ctx.sets, ctx.ways, ctx.params)
        self.sh = ctx.shared[key]
        self.sample_index = self.sh.sampled.get(s)
        self.table_of = ctx.table_of
        self.vids = [None] * ctx.ways  # way -> vid
        self.etr = [0] * ctx.ways
        self.way = {}
        self.clock = GRANULARITY
        self.free = None

    def __contains__(self, v):
        return v in self.way

    def __len__(self):
        return len(self.way)

    def residents(self):
        return list(self.way)

    def _update(self, v, way, hit, prefetch):
        sh = self.sh
        sig = sh.signature(self.table_of[v], hit, prefetch)
        if self.sample_index is not None:
            sh.sample(self.sample_index, v, sig, prefetch)
        if self.clock == GRANULARITY:
            for w in range(len(self.etr)):
                if w != way and abs(self.etr[w]) < sh.inf_etr:
                    self.etr[w] -= 1
            self.clock = 0
        self.clock += 1
        if way is not None:
            if sig not in sh.rdp:
                self.etr[way] = 0
            elif sh.rdp[sig] > sh.max_rd:
                self.etr[way] = sh.inf_etr
            else:
                self.etr[way] = sh.rdp[sig] // GRANULARITY

    def hit(self, v, t):
        self._update(v, self.way[v], True, False)

    def fill(self, v, t, now=None, prefetch=False):
        w = self.free if self.free is not None else self.vids.index(None)
        self.free = None
        self.vids[w] = v
        self.way[v] = w
        self._update(v, w, False, prefetch)

    def victim(self, v, t, prefetch=False):
        top = max(abs(e) for e in self.etr)
        ties = [w for w, e in enumerate(self.etr) if abs(e) == top]
        negative = [w for w in ties if self.etr[w] < 0]
        # ChampSim's scan: among negative ties the last wins, else the first tie
        w = negative[-1] if negative else ties[0]
        rdp = self.sh.rdp.get(self.sh.signature(self.table_of[v], False, prefetch))
        if rdp is not None and (rdp > self.sh.max_rd or rdp // GRANULARITY > top):
            self._update(v, None, False, prefetch)
            return None
        return self.vids[w]

    def evict(self, v):
        w = self.way.pop(v)
        self.vids[w] = None
        self.free = w


SET_MODELS["mockingjay"] = MockingjaySet
