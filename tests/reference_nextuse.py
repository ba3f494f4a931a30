"""Slow, pure-Python reference model of the ``nextuse`` policy (policies/nextuse.py) for
tests/reference.py's ``reference_replay``; importing this module registers it.

Written from the module's definition, not its hooks: per set a dict of residents with
their estimated next use, last access, accesses since entering and last gap; per vector
the last access and gap; the duel's accesses and misses per competitor, halved every
``HALVE_AFTER`` leader misses. Which set leads for which competitor is the policy's own
definition (``leaders``), reused. Fully associative sampling is not modelled: tests use
``sample`` >= ways.
"""

from __future__ import annotations

from reference import SET_MODELS

from recsim.policies.nextuse import DUELS, HALVE_AFTER, NO_GAP, leaders


class _Shared:
    def __init__(self, ctx):
        self.advice = ctx.shared["priority"]
        n = DUELS[ctx.params["duel"]]
        self.lead = list(leaders(ctx.sets, n))
        self.acc, self.miss, self.since = [0.0] * n, [0.0] * n, 0
        self.vlast, self.vgap = {}, {}


class _NextUseSet:
    def __init__(self, ctx, s):
        self.g = ctx.shared.setdefault("nextuse", _Shared(ctx))
        self.lead = self.g.lead[s]
        self.res = {}  # vid -> [est, last, count, irr]

    def __contains__(self, v):
        return v in self.res

    def __len__(self):
        return len(self.res)

    def residents(self):
        return list(self.res)

    def _access(self, v, t, miss):
        g = self.g
        if v in g.vlast:
            g.vgap[v] = t - g.vlast[v]
        g.vlast[v] = t
        gap = g.vgap.get(v, NO_GAP)
        prio = 0.0 if g.advice is None or len(g.advice) == 0 else float(g.advice[t])
        est = t + int(2.0 ** (prio - 1.0)) if prio > 0 else t + gap
        count = 1 if miss else self.res[v][2] + 1
        self.res[v] = [est, t, count, gap]
        if self.lead >= 0:
            g.acc[self.lead] += 1
            if miss:
                g.miss[self.lead] += 1
                g.since += 1
                if g.since >= HALVE_AFTER:
                    g.since = 0
                    g.acc = [a / 2 for a in g.acc]
                    g.miss = [m / 2 for m in g.miss]

    def hit(self, v, t):
        self._access(v, t, False)

    def fill(self, v, t, now=None, prefetch=False):
        if prefetch:
            gap = self.g.vgap.get(v, NO_GAP)
            self.res[v] = [t + gap, t, 0, gap]
        else:
            self._access(v, t, True)

    def victim(self, v, t, prefetch=False):
        g = self.g
        k = self.lead
        if k < 0:
            ratios = [(g.miss[i] + 1) / (g.acc[i] + 2) for i in range(len(g.acc))]
            k = ratios.index(min(ratios))

        def key(u):
            est, last, count, irr = self.res[u]
            rank = [abs(est - t), t - last, -count, max(irr, t - last)][k]
            return (rank, -last)
        return max(self.res, key=key)

    def evict(self, v):
        del self.res[v]


SET_MODELS["nextuse"] = _NextUseSet
