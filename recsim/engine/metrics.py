"""Exact replay counts and the rates derived from them.

Every access is exactly one of: a *cache hit* (resident and usable, and not a first use
of a prefetched vector), a *prefetch hit* (first use of a prefetched vector that had
arrived), a *late prefetch* (first use of a prefetched vector still in flight: it waits,
so it is a miss), a *merged miss* (resident but still in flight, by its demand fetch or
by a prefetch whose first use was late: it waits and fetches nothing), or an *on-demand
fetch* (not resident). Hence::

    hits   = cache_hits + prefetch_hits
    misses = on_demand_fetches + late_prefetches + merged_misses
    hits + misses = accesses

With both latencies 0 there are no late prefetches nor merged misses and ``misses``
equals the on-demand fetches. ``pollution_misses`` counts the on-demand fetches of
vectors that a prefetch fill had evicted (their first miss after that eviction).

Prefetch accounting: every issued prefetch ends as *useful* (used at least once), *unused*
(evicted before any use) or *pending* (still resident and unused at the end):
``prefetches_issued = prefetches_useful + prefetches_unused + prefetches_pending``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

# Indices into the engine's int64 counter array.
ACCESSES = 0
CACHE_HITS = 1
PREFETCH_HITS = 2
LATE_PREFETCHES = 3
ON_DEMAND_FETCHES = 4
COMPULSORY_MISSES = 5
PREFETCHES_ISSUED = 6
PREFETCHES_USEFUL = 7
PREFETCHES_UNUSED = 8
PREFETCHES_REDUNDANT = 9
PREFETCHES_DROPPED = 10
EVICTIONS = 11
BYPASSES = 12
MERGED_MISSES = 13
POLLUTION_MISSES = 14
N_COUNTERS = 15

COUNTER_NAMES = ("accesses", "cache_hits", "prefetch_hits", "late_prefetches",
                 "on_demand_fetches", "compulsory_misses", "prefetches_issued",
                 "prefetches_useful", "prefetches_unused", "prefetches_redundant",
                 "prefetches_dropped", "evictions", "bypasses", "merged_misses",
                 "pollution_misses")


@dataclass
class SimResult:
    """Counts of one replay, with its configuration and timings."""

    policy: str
    prefetcher: str
    capacity: int
    ways: int
    sets: int
    counts: dict
    occupancy: int
    params: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    per_table: dict | None = None
    window: int = 0
    window_hit_rate: list | None = None
    resident: np.ndarray | None = field(default=None, repr=False)  # vids resident at the end
    # the buffer at the end: the vid in each slot (-1: empty); set s has slots s*ways ...
    slots: np.ndarray | None = field(default=None, repr=False)
    hit_log: np.ndarray | None = field(default=None, repr=False)  # per access, with log_hits
    # a policy's own counters, one int64 per batch (e.g. FBGEMM's); totals in to_dict
    batch_counters: dict | None = field(default=None, repr=False)

    def __getattr__(self, name):
        counts = self.__dict__.get("counts", {})
        if name in counts:
            return counts[name]
        raise AttributeError(name)

    @property
    def hits(self) -> int:
        return self.counts["cache_hits"] + self.counts["prefetch_hits"]

    @property
    def misses(self) -> int:
        c = self.counts
        return c["on_demand_fetches"] + c["late_prefetches"] + c["merged_misses"]

    @property
    def hit_rate(self) -> float:
        return self.hits / self.counts["accesses"]

    @property
    def miss_ratio(self) -> float:
        return self.misses / self.counts["accesses"]

    @property
    def utilization(self) -> float | None:
        """Useful prefetches per issued prefetch (None without prefetches)."""
        issued = self.counts["prefetches_issued"]
        return self.counts["prefetches_useful"] / issued if issued else None

    def to_dict(self) -> dict:
        out = {"policy": self.policy, "prefetcher": self.prefetcher, "capacity": self.capacity,
               "ways": self.ways, "sets": self.sets, **self.counts, "hits": self.hits,
               "misses": self.misses, "hit_rate": self.hit_rate, "miss_ratio": self.miss_ratio,
               "utilization": self.utilization,
               "occupancy": self.occupancy, "params": self.params, "timings": self.timings}
        if self.per_table is not None:
            out["per_table"] = self.per_table
        if self.batch_counters is not None:
            out["batch_counters"] = {k: int(v.sum()) for k, v in self.batch_counters.items()}
        if self.window_hit_rate is not None:
            out["window"] = self.window
            out["window_hit_rate"] = self.window_hit_rate
        return out

    def to_json(self, **kwargs) -> str:
        return json.dumps(self.to_dict(), **kwargs)


def counts_dict(counts: np.ndarray, pending: int) -> dict:
    """The counter array by name, plus the prefetches still pending at the end."""
    return {**{name: int(counts[i]) for i, name in enumerate(COUNTER_NAMES)},
            "prefetches_pending": int(pending)}


def per_table(tables: np.ndarray, hit_log: np.ndarray, n_tables: int) -> dict:
    """Accesses, hits and hit rate per table, from the per-access hit log."""
    accesses = np.bincount(tables, minlength=n_tables)
    hits = np.bincount(tables, weights=hit_log, minlength=n_tables).astype(np.int64)
    return {"accesses": accesses.tolist(), "hits": hits.tolist(),
            "hit_rate": [h / a if a else None for h, a in zip(hits.tolist(), accesses.tolist())]}


def window_rates(hit_log: np.ndarray, window: int) -> list:
    """Hit rate of each window of ``window`` accesses (the last one may be shorter)."""
    starts = np.arange(0, hit_log.shape[0], window)
    hits = np.add.reduceat(hit_log.astype(np.int64), starts)
    sizes = np.diff(np.append(starts, hit_log.shape[0]))
    return (hits / sizes).tolist()
