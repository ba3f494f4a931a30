"""``hitrate``: controlled traces that hit a requested LRU hit rate (latency calibration).

The RecMG paper calibrates its latency model on traces that reorder a fixed set of
10,000 unique vectors so that the GPU buffer hits a chosen rate. This generator builds
such a trace for a buffer of ``capacity`` vectors and a requested ``hit_rate`` in
[0, 1]:

- a *hot* set of ``H = floor(hit_rate * capacity * slack)`` vectors (at least 1 when
  ``hit_rate > 0``) is looked up round-robin, so between two uses of a hot vector there
  are fewer than ``H / hit_rate <= slack * capacity`` distinct vectors: after its first
  use every hot lookup hits LRU;
- the other ``unique - H`` *cold* vectors are looked up round-robin too, so each cold
  lookup has ``unique - 1 >= capacity`` distinct vectors since its last use and misses;
- hot lookups are spread evenly (Bresenham) among the ``accesses``, ``round(hit_rate *
  accesses) + H`` of them (at most ``accesses``), so hits = hot lookups - H compulsory
  misses = ``round(hit_rate * accesses)`` exactly for fully associative LRU, and 1.0 can
  only be approached (the hot set's first touches miss).

``slack`` (default 0.5) leaves room for set-associative buffers: with 32 ways the hot set
fills half of each set on average, so FBGEMM-style hashing rarely overflows a set. The
achieved fully associative LRU hit rate is computed exactly (from reuse distances) and
stored in the trace's provenance beside the request. One table; the vectors are
``unique`` distinct random rows of ``rows``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from recsim.errors import ConfigError
from recsim.plugin import Float, Int, check_params
from recsim.traces import native
from recsim.traces.common import fixed_batches
from recsim.traces.stats import lru_misses, reuse_distances

NAME = "hitrate"


@njit(cache=True)
def _fill(table, row, hot_rows, cold_rows, hot_accesses):
    n = row.shape[0]
    h = c = 0
    for t in range(n):
        table[t] = 0
        if ((t + 1) * hot_accesses) // n > (t * hot_accesses) // n:
            row[t] = hot_rows[h % hot_rows.shape[0]]
            h += 1
        else:
            row[t] = cold_rows[c % cold_rows.shape[0]]
            c += 1


PARAMS = {"accesses": Int(None, lo=1, help="lookups in the trace"),
          "hit_rate": Float(None, lo=0, hi=1, help="the fully associative LRU hit rate asked"),
          "capacity": Int(None, lo=1, help="the buffer's vectors (< unique)"),
          "unique": Int(10_000, lo=1, help="distinct vectors (<= rows)"),
          "rows": Int(1_000_000, lo=1, help="rows of the one table"),
          "slack": Float(0.5, lo=0, hi=1, open_lo=True, help="the hot set's share of "
                         "hit_rate x capacity"),
          "seed": Int(0, lo=0, help="random seed"),
          "batch_size": Int(1024, lo=1, help="lookups per inference batch")}


def check(**params) -> dict:
    """The parameters (:data:`PARAMS`) with their defaults, checked and typed."""
    p = check_params(f"generator '{NAME}'", PARAMS, params)
    if not p["capacity"] < p["unique"] <= p["rows"]:
        raise ConfigError(f"generator '{NAME}': expected capacity < unique <= rows (cold "
                          f"lookups must miss), got capacity {p['capacity']}, unique "
                          f"{p['unique']}, rows {p['rows']}")
    return p


def generate(accesses: int, path=None, **params):
    """A trace of ``accesses`` lookups over ``unique`` vectors that a fully associative LRU
    buffer of ``capacity`` vectors hits at ``hit_rate`` (parameters: :func:`check`; see
    the module docstring)."""
    p = check(accesses=accesses, **params)
    accesses, hit_rate, capacity, unique = (p[k] for k in ("accesses", "hit_rate", "capacity",
                                                           "unique"))
    hot = int(hit_rate * capacity * p["slack"])
    hot = min(unique - 1, max(hot, 1 if hit_rate > 0 else 0))
    hot_accesses = min(accesses, round(hit_rate * accesses) + hot) if hot else 0
    picked = np.random.default_rng(p["seed"]).choice(p["rows"], unique, replace=False)

    def fill(table, row):
        _fill(table, row, picked[:hot] if hot else picked[:1], picked[hot:], hot_accesses)

    meta = {"name": NAME, "provenance": {"generator": NAME, **p, "hot_vectors": hot}}
    trace = native.generated(fill, accesses, fixed_batches(accesses, p["batch_size"]),
                             np.array([p["rows"]], np.int64), meta, None)
    misses = int(lru_misses(reuse_distances(trace.vid, trace.n_unique), [capacity])[0])
    trace.meta["provenance"]["lru_hit_rate"] = (accesses - misses) / accesses
    if path is None:
        return trace
    native.write(trace, path)
    return native.read(path)
