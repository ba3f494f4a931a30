"""A slow, pure-Python reference replay, written from the policy definitions.

It is deliberately independent of the Numba engine: no shared state arrays, no linked
lists or heaps over slots, just plain Python containers per set, one event at a time.
Only the *definitions* are shared with the engine: capacity/geometry resolution and the
set of each vector (:func:`recsim.engine.resolve_capacity`, :func:`resolve_geometry`,
:func:`set_index`), the dense vector ids of the trace, and the counter names.

Semantics reproduced (see ``recsim/engine/loop.py`` and ``recsim/engine/metrics.py``):

* Every access ``t`` is exactly one of: *cache hit* (resident, not the first use of a
  prefetched vector), *prefetch hit* (first use of a prefetched vector that had arrived),
  *late prefetch* (first use of a prefetched vector still in flight: a miss), or
  *on-demand fetch* (not resident). A late prefetch is still resident: the policy sees
  a hit (LRU moves it to MRU, LFU counts it) but the prefetcher sees a miss.
* A prefetch issued while handling access ``t`` is usable from access ``t + latency`` on:
  its first use at ``t' < t + latency`` is late. Likewise a demand miss at ``t`` is usable
  from ``t + fetch_latency`` on. Any other access to a vector before it is usable (after a
  late first use, or after a demand miss) is a *merged miss*. With
  ``max_outstanding``, a candidate is dropped (with the rest of its list) while that many
  issued prefetches have not arrived.
* A *pollution miss* is an on-demand fetch of a vector whose last eviction was caused by a
  prefetch fill.
* Compulsory miss (``recsim/plugin.py``): a vector's first miss, when it has never been
  in the buffer. A prefetch that brought it in earlier, even one evicted unused, counts
  as having been there; a demand miss that was bypassed (Belady) is still its first miss,
  so a later miss of the same vector is not compulsory.
* The prefetcher observes each access after it has been served and names candidates;
  candidates are issued in order. Per inference batch at most ``prefetch_budget`` are
  *issued*; once the budget is spent, all remaining candidates of that list are
  *dropped* (resident ones included). A resident candidate is *redundant* (not issued).
  An issued prefetch is *useful* at its first use, *unused* if evicted before it.
* A fill (demand or prefetch) takes a free way of its set if there is one, else the
  policy's victim is evicted (or, for Belady with bypass, the newcomer is refused:
  a *bypass*, no eviction, no fill).

Policies (per set):

* LRU: an ``OrderedDict`` in recency order; hits and fills (prefetch too) go to the MRU end.
* FIFO: an ``OrderedDict`` in insertion order; hits change nothing.
* LFU: count per resident (1 on insert, +1 per hit), victim = the lowest count, ties to
  the vector that reached its count first (a global event sequence number orders events
  that happen at the same access time).
* Belady: victim = the resident whose next use (computed by bisecting the list of its
  access times) is furthest; never used again = infinity. ``bypass=True``: refuse the
  newcomer when its own next use is >= the furthest resident's. Ties (which only occur
  among never-reused vectors) go to the one filled or last used earliest, then to the
  smallest vector id, as the engine
  documents (``belady_ties="first_touched"``), or for tests of tie independence to the
  largest (``"max_vid"``) or smallest (``"min_vid"``) vector id.

Prefetchers: ``none``, ``next_n`` (rows ``row+1 .. row+n`` of the same table that occur
in the trace, in row order, on a miss or on every access), ``oracle`` (on a miss, the
first ``n`` distinct vectors among the next ``window`` accesses that are neither resident
nor the current vector, in order of first occurrence).
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from sortedcontainers import SortedList

from recsim.engine.metrics import COUNTER_NAMES
from recsim.engine.settings import set_index
from recsim.engine.settings import resolve_capacity, resolve_geometry
from recsim.plugin import QUEUE_SIZE
from recsim.registry import get_policy, resolve_params

INF = float("inf")


# -- policies: one object per set -------------------------------------------------------

class _LRU:
    def __init__(self):
        self.order = OrderedDict()  # least recent first

    def __contains__(self, v):
        return v in self.order

    def __len__(self):
        return len(self.order)

    def hit(self, v, t):
        self.order.move_to_end(v)

    def fill(self, v, t, now=None, prefetch=False):
        self.order[v] = None

    def victim(self, v, t, prefetch=False):
        return next(iter(self.order))

    def evict(self, v):
        del self.order[v]

    def residents(self):
        return list(self.order)


class _FIFO(_LRU):
    def hit(self, v, t):
        pass


class _LFU:
    def __init__(self, sequence):
        self.seq = sequence  # shared itertools-like counter: a one-element list
        self.state = {}  # vid -> (count, sequence number when it reached that count)
        self.order = SortedList()  # (count, seq, vid)

    def __contains__(self, v):
        return v in self.state

    def __len__(self):
        return len(self.state)

    def _set(self, v, count):
        self.seq[0] += 1
        self.state[v] = (count, self.seq[0])
        self.order.add((count, self.seq[0], v))

    def hit(self, v, t):
        count, seq = self.state[v]
        self.order.remove((count, seq, v))
        self._set(v, count + 1)

    def fill(self, v, t, now=None, prefetch=False):
        self._set(v, 1)

    def victim(self, v, t, prefetch=False):
        return self.order[0][2]

    def evict(self, v):
        count, seq = self.state.pop(v)
        self.order.remove((count, seq, v))

    def residents(self):
        return list(self.state)


class _Belady:
    def __init__(self, next_after, bypass, ties):
        self.next_after = next_after
        self.bypass = bypass
        self.ties = ties
        self.key = {}  # vid -> (next use after the latest event, tie-breaker)
        self.order = SortedList()  # (next use, tie-breaker, vid)

    def __contains__(self, v):
        return v in self.key

    def __len__(self):
        return len(self.key)

    def _set(self, v, t, now=None):
        """Key ``v`` by its next use after ``t``; ``now`` (default ``t``) is the access
        at which this happens, for the tie rule."""
        now = t if now is None else now
        tie = {"first_touched": (-now, -v), "max_vid": v, "min_vid": -v}[self.ties]
        self.key[v] = (self.next_after(v, t), tie)
        self.order.add((*self.key[v], v))

    def hit(self, v, t):
        self.order.remove((*self.key[v], v))
        self._set(v, t)

    def fill(self, v, t, now=None, prefetch=False):
        self._set(v, t, now)

    def victim(self, v, t, prefetch=False):
        far_key, _, far = self.order[-1]
        if self.bypass and self.next_after(v, t) >= far_key:
            return None
        return far

    def evict(self, v):
        self.order.remove((*self.key.pop(v), v))

    def residents(self):
        return list(self.key)


# -- the registry of per-set models ----------------------------------------------------

@dataclass
class ModelContext:
    """What a per-set policy model may use. A model object holds one set's residents and
    answers ``v in m``, ``len(m)``, ``hit(v, t)``, ``fill(v, t, now=None, prefetch=False)``,
    ``victim(v, t, prefetch=False)`` (a resident vid, or None to bypass), ``evict(v)`` and
    ``residents()``; ``t`` is the access being served (``t - 1`` for advice prefetches
    issued before access ``t``, with ``now = t``)."""

    sets: int
    ways: int
    params: dict  # the policy's parameters, defaults filled in as the engine does
    next_after: Callable  # next access of vid v strictly after time t (INF if none)
    table_of: list  # table id ("PC") of each vid
    seed: int
    shared: dict = field(default_factory=dict)  # state shared by the sets of one replay


# name -> factory(ctx, set index) -> model of that set. Policy references in other test
# modules add themselves here.
SET_MODELS: dict[str, Callable] = {
    "lru": lambda ctx, s: _LRU(),
    "fifo": lambda ctx, s: _FIFO(),
    "lfu": lambda ctx, s: _LFU(ctx.shared.setdefault("sequence", [0])),
    "belady": lambda ctx, s: _Belady(ctx.next_after, ctx.params["bypass"],
                                     ctx.shared["belady_ties"]),
}


# -- the replay ---------------------------------------------------------------------------

@dataclass
class RefResult:
    counts: dict
    resident: list  # sorted vids resident at the end
    pending_prefetches: int  # resident vectors prefetched and not yet used
    capacity: int
    sets: int
    ways: int
    table_accesses: list = field(default_factory=list)
    table_hits: list = field(default_factory=list)
    window_hits: list = field(default_factory=list)

    @property
    def occupancy(self):
        return len(self.resident)


def reference_replay(trace, policy, capacity, ways, prefetcher="none",
                     prefetcher_params=None, prefetch_latency=0, prefetch_budget=None,
                     bypass=False, window=0, seed=0, belady_ties="first_touched",
                     advice=None, policy_params=None, fetch_latency=0,
                     max_outstanding=None) -> RefResult:
    """Replay ``trace`` one access at a time; see the module docstring.

    ``advice``: a :class:`recsim.engine.Advice` whose prefetch lists are replayed; its
    ``priority`` is in ``ctx.shared["priority"]`` for the models that read it (RecMG). The
    list of chunk ``k`` is issued at the start of chunk ``k + lag``, before that chunk's
    first access, under the same per-batch budget; such a prefetch is usable at once with
    latency 0.

    ``belady_ties``: which never-reused resident Belady evicts: ``"first_touched"`` (the
    engine's documented rule), ``"max_vid"`` or ``"min_vid"``.
    """
    if belady_ties not in ("first_touched", "max_vid", "min_vid"):
        raise ValueError("reference: belady_ties must be 'first_touched', 'max_vid' or "
                         "'min_vid'")
    if policy not in SET_MODELS:
        raise ValueError(f"reference: no exact model of policy {policy!r}")
    dense = trace.dense()
    vids = [int(v) for v in dense.vid]
    tables = [int(x) for x in trace.table]
    rows = [int(x) for x in trace.row]
    n = len(vids)
    cap, sets, ways = resolve_geometry(resolve_capacity(capacity, dense.n_unique), ways)
    set_of = [int(s) for s in set_index(np.asarray(dense.keys), sets)]

    # Next use, from the sorted list of each vector's access times.
    times = {}
    for t, v in enumerate(vids):
        times.setdefault(v, []).append(t)

    def next_after(v, t):
        ts = times[v]
        i = bisect.bisect_right(ts, t)
        return ts[i] if i < len(ts) else INF

    params = {"bypass": bypass} if policy == "belady" else {}
    params = resolve_params("policy", get_policy(policy), {**params, **(policy_params or {})})
    ctx = ModelContext(sets, ways, params, next_after, [0] * dense.n_unique, seed,
                       {"belady_ties": belady_ties,
                        "priority": getattr(advice, "priority", None), "keys": dense.keys})
    for tb, v in zip(tables, vids):
        ctx.table_of[v] = tb
    cache = [SET_MODELS[policy](ctx, s) for s in range(sets)]

    # Prefetcher.
    params = dict(prefetcher_params or {})
    if prefetcher == "next_n":
        pf_n = int(params.get("n", 4))
        trigger = params.get("trigger", "miss")
        vid_of_row = {(tb, r): v for tb, r, v in zip(tables, rows, vids)}
        card = [int(c) for c in trace.cardinalities]
    elif prefetcher == "oracle":
        pf_n = int(params.get("n", 1))
        pf_window = int(params.get("window", 1))
    elif prefetcher != "none":
        raise ValueError(f"reference: no model of prefetcher {prefetcher!r}")

    def candidates(t, v, hit):
        if prefetcher == "next_n":
            if hit and trigger != "access":
                return []
            out = []
            tb, r = tables[t], rows[t]
            for row in range(r + 1, r + pf_n + 1):
                if row >= card[tb]:
                    break
                if (tb, row) in vid_of_row:
                    out.append(vid_of_row[(tb, row)])
            return out[:QUEUE_SIZE]
        if prefetcher == "oracle":
            if hit:
                return []
            out = []
            want = min(pf_n, QUEUE_SIZE)
            for j in range(t + 1, min(n, t + 1 + pf_window)):
                w = vids[j]
                if w == v or w in cache[set_of[w]] or w in out:
                    continue
                out.append(w)
                if len(out) == want:
                    break
            return out
        return []

    c = dict.fromkeys(COUNTER_NAMES, 0)
    pending = {}  # vid -> time its prefetch is usable, while prefetched and unused
    arriving = {}  # vid -> time it is usable, while resident
    in_flight = []  # arrival times of the issued prefetches, oldest first
    polluted = set()  # vectors whose last eviction was caused by a prefetch fill
    known = set()  # vectors that have missed or been in the buffer (not compulsory)
    table_acc = [0] * trace.n_tables
    table_hits = [0] * trace.n_tables
    window_hits = [0] * (-(-n // window) if window else 0)

    # Advice: chunk index -> list of vids to prefetch at its start.
    advised = {}
    if advice is not None and advice.prefetch_ptr is not None:
        ptr = [int(x) for x in advice.prefetch_ptr]
        avids = [int(x) for x in advice.prefetch_vids]
        for k in range(len(ptr) - 1):
            advised[k + int(advice.lag)] = avids[ptr[k]:ptr[k + 1]]

    def place(v, t, now=None, prefetch=False):
        """Make room for ``v`` in its set and insert it; False if bypassed.

        ``t`` is the time after which next uses count (Belady): the current access for
        fills made while serving it, ``t - 1`` for advice issued before access ``t``;
        ``now`` is the access it happens at (default ``t``)."""
        st = cache[set_of[v]]
        if len(st) >= ways:
            old = st.victim(v, t, prefetch=prefetch)
            if old is None:
                c["bypasses"] += 1
                return False
            st.evict(old)
            c["evictions"] += 1
            arriving.pop(old, None)
            if prefetch:
                polluted.add(old)
            else:
                polluted.discard(old)
            if old in pending:
                del pending[old]
                c["prefetches_unused"] += 1
        st.fill(v, t, now, prefetch=prefetch)
        return True

    def issue(cands, t, issued, when):
        """Issue ``cands`` at access ``t``; returns the batch's new issued count."""
        for j, w in enumerate(cands):
            if prefetch_budget is not None and issued >= prefetch_budget:
                c["prefetches_dropped"] += len(cands) - j
                break
            while in_flight and in_flight[0] <= t:
                in_flight.pop(0)
            if max_outstanding is not None and len(in_flight) >= max_outstanding:
                c["prefetches_dropped"] += len(cands) - j
                break
            if w in cache[set_of[w]]:
                c["prefetches_redundant"] += 1
                continue
            if place(w, when, t, prefetch=True):
                known.add(w)
                pending[w] = arriving[w] = t + prefetch_latency
                in_flight.append(t + prefetch_latency)
                c["prefetches_issued"] += 1
                issued += 1
        return issued

    offsets = [int(x) for x in trace.batch_offsets]
    for b in range(len(offsets) - 1):
        issued = 0  # prefetches issued in this batch
        for t in range(offsets[b], offsets[b + 1]):
            if advised and t % advice.chunk == 0 and t // advice.chunk in advised:
                issued = issue(advised[t // advice.chunk], t, issued, t - 1)
            v = vids[t]
            st = cache[set_of[v]]
            if v in st:
                if v in pending:
                    ready = pending.pop(v)
                    c["prefetches_useful"] += 1
                    if t < ready:
                        c["late_prefetches"] += 1
                        hit = False
                    else:
                        c["prefetch_hits"] += 1
                        hit = True
                elif arriving.get(v, t) > t:
                    c["merged_misses"] += 1
                    hit = False
                else:
                    c["cache_hits"] += 1
                    hit = True
                st.hit(v, t)
            else:
                hit = False
                c["on_demand_fetches"] += 1
                if v not in known:
                    known.add(v)
                    c["compulsory_misses"] += 1
                if v in polluted:
                    polluted.discard(v)
                    c["pollution_misses"] += 1
                if place(v, t):
                    arriving[v] = t + fetch_latency
            table_acc[tables[t]] += 1
            if hit:
                table_hits[tables[t]] += 1
                if window:
                    window_hits[t // window] += 1
            issued = issue(candidates(t, v, hit), t, issued, t)
    c["accesses"] = n
    c["prefetches_pending"] = len(pending)
    resident = sorted(v for st in cache for v in st.residents())
    return RefResult(c, resident, len(pending), cap, sets, ways, table_acc, table_hits,
                     window_hits)


def reference_simulate(trace, policy, capacity, ways, prefetcher="none",
                       prefetcher_params=None, prefetch_latency=0, prefetch_budget=None,
                       bypass=False, seed=0, policy_params=None, fetch_latency=0,
                       max_outstanding=None) -> dict:
    """The counts dict (:data:`recsim.engine.metrics.COUNTER_NAMES` and ``prefetches_pending``)
    of a reference replay."""
    return reference_replay(trace, policy, capacity, ways, prefetcher, prefetcher_params,
                            prefetch_latency, prefetch_budget, bypass, seed=seed,
                            policy_params=policy_params, fetch_latency=fetch_latency,
                            max_outstanding=max_outstanding).counts
