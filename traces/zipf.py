"""Synthetic Zipf traces (a generator, not a file format).

For each access the table is uniform over ``tables`` and the row follows a bounded
Zipf law over ``rows`` ranks, ``P(rank k) ∝ k**-alpha`` for ``k = 1..rows`` (``alpha >= 0``;
0 is uniform, values <= 1 are allowed since the support is finite), drawn by inverse-CDF
sampling over a precomputed float64 CDF. Ranks become row ids through a seeded random
permutation per table, so the popular rows are scattered rather than 0, 1, 2...
Accesses are grouped into batches of ``batch_size``. The trace is a pure function of
the parameters (``numpy.random.default_rng(seed)``), generated in chunks of 4M
accesses; with ``path`` the chunks stream into a native trace directory (memory-mapped
``.npy`` files), so traces larger than RAM can be made. Memory: the CDF (8 bytes per
row) and the permutations (4 or 8 bytes per row and table).
"""

from __future__ import annotations

import numpy as np

from recsim.plugin import Float, Int, check_params
from recsim.traces import native
from recsim.traces.common import fixed_batches

NAME = "zipf"
CHUNK = 1 << 22


PARAMS = {"accesses": Int(None, lo=1, help="lookups in the trace"),
          "tables": Int(1, lo=1, help="tables, each drawn with equal chance"),
          "rows": Int(1_000_000, lo=1, help="rows of each table"),
          "alpha": Float(1.0, lo=0, help="Zipf exponent (0: uniform)"),
          "seed": Int(0, lo=0, help="random seed"),
          "batch_size": Int(1024, lo=1, help="lookups per inference batch")}


def check(**params) -> dict:
    """The parameters (:data:`PARAMS`) with their defaults, checked and typed."""
    return check_params(f"generator '{NAME}'", PARAMS, params)


def generate(accesses: int, path=None, **params):
    """A Zipf trace (parameters: :func:`check`); written to the native directory ``path``
    and opened from there when ``path`` is given, else returned in memory."""
    p = check(accesses=accesses, **params)
    return native.generated(
        lambda table, row: _fill(table, row, p["tables"], p["rows"], p["alpha"], p["seed"]),
        p["accesses"], fixed_batches(p["accesses"], p["batch_size"]),
        np.full(p["tables"], p["rows"], dtype=np.int64),
        {"name": NAME, "provenance": {"generator": NAME, **p}}, path)


def _fill(table, row, tables: int, rows: int, alpha: float, seed: int) -> None:
    """Fill ``table`` and ``row`` (one entry per access) chunk by chunk."""
    accesses = table.shape[0]
    rng = np.random.default_rng(seed)
    cdf = np.cumsum(np.arange(1, rows + 1, dtype=np.float64) ** -alpha)
    cdf /= cdf[-1]
    dtype = np.int32 if rows <= np.iinfo(np.int32).max else np.int64
    perm = np.empty((tables, rows), dtype=dtype)
    for t in range(tables):
        perm[t] = rng.permutation(rows)
    for start in range(0, accesses, CHUNK):
        m = min(CHUNK, accesses - start)
        rank = np.minimum(np.searchsorted(cdf, rng.random(m), side="right"), rows - 1)
        t = rng.integers(0, tables, size=m, dtype=np.int32)
        table[start:start + m] = t
        row[start:start + m] = perm[t, rank]
