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

from numbers import Real
from pathlib import Path

import numpy as np

from recsim.errors import ConfigError
from recsim.traces import native
from recsim.traces.common import atomic_directory, fixed_batches
from recsim.traces.trace import Trace

NAME = "zipf"
CHUNK = 1 << 22


def generate(accesses: int, tables: int = 1, rows: int = 1_000_000, alpha: float = 1.0,
             seed: int = 0, batch_size: int = 1024, path=None) -> Trace:
    """A Zipf trace; written to the native directory ``path`` and opened from there
    when ``path`` is given, else returned in memory."""
    params = {"accesses": accesses, "tables": tables, "rows": rows, "batch_size": batch_size}
    for name, value in params.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
            raise ConfigError(f"zipf: parameter '{name}': expected a positive integer, "
                              f"got {value!r}")
    if isinstance(alpha, bool) or not isinstance(alpha, Real) or not 0 <= alpha < np.inf:
        raise ConfigError(f"zipf: parameter 'alpha': expected a finite number >= 0, "
                          f"got {alpha!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"zipf: parameter 'seed': expected a non-negative integer, "
                          f"got {seed!r}")
    params = {**{k: int(v) for k, v in params.items()}, "alpha": float(alpha), "seed": int(seed)}
    meta = {"provenance": {"generator": NAME, **params}}
    batch_offsets = fixed_batches(accesses, batch_size)
    cardinalities = np.full(tables, rows, dtype=np.int64)
    if path is None:
        table = np.empty(accesses, dtype=np.int32)
        row = np.empty(accesses, dtype=np.int64)
        _fill(table, row, tables, rows, float(alpha), int(seed))
        return Trace.from_arrays(table, row, batch_offsets, cardinalities,
                                 {"name": NAME, **meta})
    path = Path(path)
    with atomic_directory(path) as tmp:
        table = np.lib.format.open_memmap(tmp / "table.npy", "w+", np.int32, (accesses,))
        row = np.lib.format.open_memmap(tmp / "row.npy", "w+", np.int64, (accesses,))
        _fill(table, row, tables, rows, float(alpha), int(seed))
        table.flush()
        row.flush()
        np.save(tmp / "batch_offsets.npy", batch_offsets)
        native.write_meta(Trace(table, row, batch_offsets, cardinalities, meta), tmp,
                          path.name.removesuffix(".trace"))
        del table, row
    return native.read(path)


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
