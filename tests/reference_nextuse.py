"""Slow, pure-Python reference model of the ``nextuse`` policy (policies/nextuse.py) for
tests/reference.py's ``reference_replay``; importing this module registers it.

Written from the module's definition, not its hooks: per set a dict of residents with
their estimated next use, last access, accesses since entering, last gap and decayed
count; per vector its last access, gap and decayed count; per shadowed set and
competitor a dict of the same, replayed on every demand access of that set; the shadow
misses per competitor, halved every ``HALVE_AFTER`` shadow accesses. Which sets are
shadowed is the policy's own definition (``shadowed``), reused. Fully associative
sampling is not modelled: tests use ``sample`` >= ways. Demand accesses only (no
prefetch, no latencies).
"""

from __future__ import annotations


from reference import SET_MODELS
from reference_modern import _Base

from recsim.policies.nextuse import (DUELS, FREQ, GHOST, HALVE_AFTER, IRR, ONE,
                                     LEARNED, NO_GAP, PROBATION, shadowed)


def _decayed(count, last, t, epoch):
    """``count`` halved once per multiple of ``2^epoch`` in ``(last, t]``."""
    return count >> min(t // (1 << epoch) - last // (1 << epoch), 63)


def _rank(k, r, t, epoch):
    est, last, count, irr, freq = r
    age = t - last
    if k == LEARNED or k > PROBATION:
        return abs(est - t)
    if k == FREQ:
        return -_decayed(freq, last, t, epoch)
    if k == IRR:
        return max(irr, age)
    return age


def _pick(k, res, t, ghost, epoch):
    """The resident competitor ``k`` evicts from ``res`` (vid -> record)."""
    if k >= PROBATION:
        new = [v for v, r in res.items() if r[2] == 1 and r[3] > ghost]
        rest = [v for v in res if v not in new]
        if new and (len(new) > len(res) // 8 or not rest):
            return min(new, key=lambda v: res[v][1])
        return max(rest, key=lambda v: (_rank(k, res[v], t, epoch), -res[v][1]))
    return max(res, key=lambda v: (_rank(k, res[v], t, epoch), -res[v][1]))


class _Shared:
    def __init__(self, ctx):
        self.advice = ctx.shared["priority"]
        self.n = DUELS[ctx.params["duel"]]
        self.ghost = GHOST * ctx.sets * ctx.ways
        self.epoch = ctx.params["freq_epoch"]
        self.vlast, self.vgap, self.vfreq = {}, {}, {}
        self.shadow_of = None  # per vector, set on first use (needs the keys)
        self.shadows, self.misses, self.since, self.winner = {}, [0.0] * self.n, 0, 0

    def access(self, v, t):
        """Per-vector state after demand access ``t``; the way's record."""
        if v in self.vlast:
            self.vgap[v] = t - self.vlast[v]
        gap = self.vgap.get(v, NO_GAP)
        self.vfreq[v] = _decayed(self.vfreq.get(v, 0), self.vlast.get(v, -1), t,
                                 self.epoch) + ONE
        self.vlast[v] = t
        prio = 0.0 if self.advice is None or len(self.advice) == 0 else float(self.advice[t])
        est = t + int(prio) if prio > 0 else t + gap
        return [est, t, 1, gap, self.vfreq[v]]

    def duel(self, v, t, record, ways):
        sh = self.shadow_of[v] if self.n > 1 else -1
        if sh < 0:
            return
        for k in range(self.n):
            res = self.shadows.setdefault((sh, k), {})
            if v in res:
                res[v] = record[:2] + [res[v][2] + 1] + record[3:]
                continue
            self.misses[k] += 1
            if len(res) >= ways:
                del res[_pick(k, res, t, self.ghost, self.epoch)]
            res[v] = list(record)
        self.since += 1
        if self.since >= HALVE_AFTER:
            self.since = 0
            self.misses = [m / 2 for m in self.misses]
        self.winner = self.misses.index(min(self.misses))


class _NextUseSet(_Base):
    def __init__(self, ctx, s):
        self.g = ctx.shared.setdefault("nextuse", _Shared(ctx))
        self.ctx = ctx
        self.res = self.where = {}  # vid -> [est, last, count, irr, freq]

    def _access(self, v, t, miss):
        g = self.g
        if g.shadow_of is None:
            keys = self.ctx.shared["keys"]
            g.shadow_of, g.ways = shadowed(keys, self.ctx.sets * self.ctx.ways, self.ctx.ways)
        record = g.access(v, t)
        if not miss:
            record[2] = self.res[v][2] + 1
        self.res[v] = record
        g.duel(v, t, record, g.ways)

    def hit(self, v, t):
        self._access(v, t, False)

    def fill(self, v, t, now=None, prefetch=False):
        assert not prefetch, "reference_nextuse models demand accesses only"
        self._access(v, t, True)

    def victim(self, v, t, prefetch=False):
        return _pick(self.g.winner, self.res, t, self.g.ghost, self.g.epoch)

    def evict(self, v):
        del self.res[v]


SET_MODELS["nextuse"] = _NextUseSet
