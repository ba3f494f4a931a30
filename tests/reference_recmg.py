"""Slow, pure-Python reference model of the ``recmg`` policy (RecMG's Algorithm 2) for
tests/reference.py's ``reference_replay``; importing this module registers it.

Written from the definition, not from the Numba hooks: a dict of the set's residents with
their explicit priorities, every other resident's priority lowered by one (floor 0) on each
eviction, and a count of touches (accesses and fills) for ties. The caching decisions are
read from the advice's ``priority`` array (``ctx.shared["priority"]``) at the access's
index.
"""

from __future__ import annotations

from reference import SET_MODELS


class _RecMGSet:
    def __init__(self, ctx):
        self.speed = ctx.params["eviction_speed"]
        self.keep = ctx.params["keep"]
        self.advice = ctx.shared["priority"]
        self.priority = {}
        self.touched = {}
        self.clock = ctx.shared.setdefault("touches", [0])  # one counter for all sets

    def __contains__(self, v):
        return v in self.priority

    def __len__(self):
        return len(self.priority)

    def _decision(self, t):
        return 0 if self.advice is None or len(self.advice) == 0 else round(
            float(self.advice[t]) * self.keep)

    def hit(self, v, t):
        self.priority[v] = self.speed + self._decision(t)
        self._touch(v)

    def fill(self, v, t, now=None, prefetch=False):
        self.priority[v] = self.speed + (0 if prefetch else self._decision(t))
        self._touch(v)

    def _touch(self, v):
        self.clock[0] += 1
        self.touched[v] = self.clock[0]

    def victim(self, v, t, prefetch=False):
        return min(self.priority, key=lambda u: (self.priority[u], self.touched[u]))

    def evict(self, v):
        del self.priority[v], self.touched[v]
        for u in self.priority:
            self.priority[u] = max(0, self.priority[u] - 1)

    def residents(self):
        return list(self.priority)


SET_MODELS["recmg"] = lambda ctx, s: _RecMGSet(ctx)
