"""A slow, pure-Python model of CLOCK-Pro, one object per cache set, registered in
:data:`reference.SET_MODELS` on import.

Written from the rules in ``policies/clockpro.py``'s docstring with plain Python
containers: the clock is a list of vids (the list head is just before ``HAND_hot``), the
hands are vids, the page states are sets. The engine calls ``victim`` only when a set is
full and evicts what it returns right away; here ``victim`` does the whole eviction.
"""

from __future__ import annotations

from reference import SET_MODELS
from reference_modern import _Base


class ClockProModel(_Base):
    def __init__(self, c, init_ratio_cold):
        self.c, self.m_c = c, max(1, int(c * init_ratio_cold))
        self.clock, self.hands = [], {"hot": None, "cold": None, "test": None}
        self.where = {}  # the residents
        self.hot, self.ref, self.test = set(), set(), set()

    def _after(self, v):
        return self.clock[(self.clock.index(v) + 1) % len(self.clock)]

    def _at_head(self, v):
        if self.clock:
            self.clock.insert(self.clock.index(self.hands["hot"]), v)
        else:
            self.clock.append(v)
            self.hands = dict.fromkeys(self.hands, v)

    def _unlist(self, v):
        n = self._after(v)
        for hand, at in self.hands.items():
            if at == v:
                self.hands[hand] = None if n == v else n
        self.clock.remove(v)

    def _to_head(self, v):
        self._unlist(v)
        self._at_head(v)

    def _nonresident(self):
        return len(self.clock) - len(self.where)

    def _end_test(self, v):
        self.test.discard(v)
        self.m_c = max(1, self.m_c - 1)
        if v not in self.where:
            self._unlist(v)

    def _run_hot(self):
        while True:
            v = self.hands["hot"]
            self.hands["hot"] = self._after(v)
            if v in self.hot:
                if v not in self.ref:
                    self.hot.discard(v)
                    return
                self.ref.discard(v)
            elif v in self.test:
                self._end_test(v)

    def _balance(self):
        while len(self.hot) > self.c - self.m_c:
            self._run_hot()

    def _run_test(self):
        before = self._nonresident()
        while self._nonresident() == before:
            v = self.hands["test"]
            self.hands["test"] = self._after(v)
            if v in self.test:
                self._end_test(v)

    def _make_hot(self, v):
        self.test.discard(v)
        self.hot.add(v)
        self._to_head(v)
        self._balance()

    def hit(self, v, t):
        self.ref.add(v)

    def victim(self, v, t, prefetch=False):
        while True:
            u = self.hands["cold"]
            if u in self.hot or u not in self.where:
                self.hands["cold"] = self._after(u)
            elif u in self.ref:
                self.ref.discard(u)
                if u in self.test:
                    self._make_hot(u)
                else:
                    self.test.add(u)
                    self._to_head(u)
            else:
                self.hands["cold"] = self._after(u)
                del self.where[u]
                if u not in self.test:
                    self._unlist(u)
                elif self._nonresident() > self.c:
                    self._run_test()
                return u

    def evict(self, v):
        pass  # done by victim

    def fill(self, v, t, now=None, prefetch=False):
        self.where[v] = None
        if v in self.clock:  # non-resident, in its test period
            self.m_c = min(self.c, self.m_c + 1)
            self._make_hot(v)
        else:
            self.test.add(v)
            self._at_head(v)


SET_MODELS["clockpro"] = lambda ctx, s: ClockProModel(ctx.ways, ctx.params["init_ratio_cold"])
