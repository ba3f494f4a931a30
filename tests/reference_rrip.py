"""Slow, pure-Python reference models of SRRIP, DRRIP, CLOCK and SIEVE for
tests/reference.py's ``reference_replay``; importing this module registers them in
``reference.SET_MODELS``.

Written from the definitions, independently of the Numba hooks (no slot arrays, no hands
over rings, no linked lists of slots):

* SRRIP / DRRIP: a list of the set's ways, each ``[vid, rrpv]`` (a filled way keeps its
  position; a newcomer takes the evicted way's position), victim found exactly as
  ChampSim's loop does it: look for the first way at maxRRPV, else add 1 to every way
  and look again. DRRIP's PSEL, BIP counter and leader sets live in ``ctx.shared`` and
  the leader sets are drawn here with the legacy ChampSim LCG.
* CLOCK: libCacheSim's queue, literally: an ``OrderedDict`` from tail (oldest) to head,
  counts; evicting moves counted tail entries to the head (count - 1).
* SIEVE: libCacheSim's queue as a Python list from tail to head, the hand as the vid it
  points at (None = unset), stepping by list index.
"""

from __future__ import annotations

from collections import OrderedDict

from reference import SET_MODELS


class _RRIPSet:
    def __init__(self, ways, max_rrpv):
        self.ways = ways
        self.max = max_rrpv
        self.lines = []  # [vid, rrpv] per way, None when evicted and not yet refilled
        self.where = {}

    def __contains__(self, v):
        return v in self.where

    def __len__(self):
        return len(self.where)

    def hit(self, v, t):
        self.lines[self.where[v]][1] = 0

    def insertion(self, prefetch):
        return self.max - 1

    def fill(self, v, t, now=None, prefetch=False):
        line = [v, self.insertion(prefetch)]
        if None in self.lines:
            i = self.lines.index(None)
            self.lines[i] = line
        else:
            i = len(self.lines)
            self.lines.append(line)
        self.where[v] = i

    def victim(self, v, t, prefetch=False):
        while True:
            for line in self.lines:
                if line[1] == self.max:
                    return line[0]
            for line in self.lines:
                line[1] += 1

    def evict(self, v):
        self.lines[self.where.pop(v)] = None

    def residents(self):
        return list(self.where)


def lcg_leaders(sets, count):
    """The legacy ChampSim DRRIP draws (unsigned 64-bit arithmetic), duplicates skipped."""
    seed, out = 1, []
    while len(out) < count:
        seed = (seed * 1103515245 + 12345) % 2**64
        s = (seed // 65536 % 1048576) % sets
        if s not in out:
            out.append(s)
    return out


class _DRRIPSet(_RRIPSet):
    def __init__(self, ctx, s):
        super().__init__(ctx.ways, 2 ** ctx.params["rrpv_bits"] - 1)
        sh = ctx.shared
        if "drrip" not in sh:
            k = min(ctx.params["leader_sets"], min(ctx.sets, 1048576) // 4)
            drawn = lcg_leaders(ctx.sets, 2 * k)
            sh["drrip"] = {"bip": set(drawn[:k]), "srrip": set(drawn[k:]), "psel": 0,
                           "bip_count": 0, "psel_max": 2 ** ctx.params["psel_bits"] - 1,
                           "bip_max": ctx.params["bip_max"]}
        self.g = sh["drrip"]
        self.kind = ("bip" if s in self.g["bip"] else "srrip" if s in self.g["srrip"]
                     else "follower")

    def _bip(self):
        g = self.g
        g["bip_count"] = (g["bip_count"] + 1) % g["bip_max"]
        return self.max - 1 if g["bip_count"] == 0 else self.max

    def insertion(self, prefetch):
        g = self.g
        if self.kind == "bip":
            g["psel"] = max(0, g["psel"] - 1)
            return self._bip()
        if self.kind == "srrip":
            g["psel"] = min(g["psel_max"], g["psel"] + 1)
            return self.max - 1
        if g["psel"] > g["psel_max"] // 2:
            return self._bip()
        return self.max - 1


class _Clock:
    def __init__(self, max_freq, init_freq):
        self.max = max_freq
        self.init = init_freq
        self.q = OrderedDict()  # tail (oldest) first -> count

    def __contains__(self, v):
        return v in self.q

    def __len__(self):
        return len(self.q)

    def hit(self, v, t):
        self.q[v] = min(self.q[v] + 1, self.max)

    def fill(self, v, t, now=None, prefetch=False):
        self.q[v] = self.init

    def victim(self, v, t, prefetch=False):
        while True:
            old, count = next(iter(self.q.items()))
            if count == 0:
                return old
            del self.q[old]
            self.q[old] = count - 1

    def evict(self, v):
        del self.q[v]

    def residents(self):
        return list(self.q)


class _Sieve:
    def __init__(self):
        self.q = []  # tail (oldest) first
        self.visited = {}
        self.hand = None

    def __contains__(self, v):
        return v in self.visited

    def __len__(self):
        return len(self.q)

    def hit(self, v, t):
        self.visited[v] = True

    def fill(self, v, t, now=None, prefetch=False):
        self.q.append(v)
        self.visited[v] = False

    def victim(self, v, t, prefetch=False):
        i = 0 if self.hand is None else self.q.index(self.hand)
        while self.visited[self.q[i]]:
            self.visited[self.q[i]] = False
            i = i + 1 if i + 1 < len(self.q) else 0
        self.hand = self.q[i + 1] if i + 1 < len(self.q) else None
        return self.q[i]

    def evict(self, v):
        self.q.remove(v)
        del self.visited[v]

    def residents(self):
        return list(self.q)


SET_MODELS.update({
    "srrip": lambda ctx, s: _RRIPSet(ctx.ways, 2 ** ctx.params["rrpv_bits"] - 1),
    "drrip": lambda ctx, s: _DRRIPSet(ctx, s),
    "clock": lambda ctx, s: _Clock(2 ** ctx.params["n_bit_counter"] - 1,
                                   ctx.params["init_freq"]),
    "sieve": lambda ctx, s: _Sieve(),
})
