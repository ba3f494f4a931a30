"""Inference requests built from a trace, in the layout TorchRec and FBGEMM use, and the
FBGEMM bookkeeping that can be checked without a GPU.

A trace batch holds lookups of several tables but no sample boundaries. A request turns
it into ``T x samples`` bags, table-major as FBGEMM's table-batched embedding expects
(bag ``t * samples + s`` is sample ``s`` of table ``t``; ``offsets`` has ``T * samples +
1`` entries, the layout of a TorchRec ``KeyedJaggedTensor``): the batch's lookups are
sorted by table (stably, so each table keeps its order) and each table's lookups are
dealt into ``samples`` contiguous bags whose sizes differ by at most one, the first bags
taking the extra lookup. Lookups are replayed in that table-major order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recsim.errors import ConfigError
from recsim.policies._fbgemm import COUNTERS

# FBGEMM's get_cache_miss_counter() and get_uvm_cache_stats(), entry by entry.
MISS_COUNTER_FIELDS = ("forwards_with_misses", "unique_misses", "unique_accesses", "accesses")
UVM_STATS_FIELDS = COUNTERS  # UVMCacheStatsIndex, as recsim's fbgemm_lru reports them


@dataclass
class Request:
    """One inference batch: ``rows`` (row id within its table, per lookup), ``keys``
    (global key, ``table_base[table] + row``), ``offsets`` (``T * samples + 1`` bag
    boundaries) and ``samples``."""

    rows: np.ndarray
    keys: np.ndarray
    offsets: np.ndarray
    samples: int


def build_request(table: np.ndarray, row: np.ndarray, table_base: np.ndarray,
                  samples: int) -> Request:
    """The request of one batch's lookups (``table``, ``row``) over ``len(table_base)``
    tables (see the module docstring)."""
    n_tables = table_base.shape[0]
    order = np.argsort(table, kind="stable")
    table, row = table[order], row[order]
    counts = np.bincount(table, minlength=n_tables)
    lengths = (counts[:, None] // samples
               + (np.arange(samples)[None, :] < (counts % samples)[:, None]))
    offsets = np.concatenate(([0], np.cumsum(lengths.ravel()))).astype(np.int64)
    return Request(row.astype(np.int64), table_base[table] + row, offsets, samples)


def trace_requests(trace, samples: int) -> list[Request]:
    """One request per batch of ``trace``."""
    if samples < 1:
        raise ConfigError(f"samples: expected a positive number of samples per batch, "
                          f"got {samples}")
    base, rows = trace.table_base, trace.key_rows()
    bo = trace.batch_offsets
    return [build_request(np.asarray(trace.table[lo:hi]), np.asarray(rows[lo:hi]), base,
                          samples) for lo, hi in zip(bo[:-1], bo[1:])]


def linearize(rows: np.ndarray, offsets: np.ndarray, hash_size_cumsum: np.ndarray,
              samples: int) -> np.ndarray:
    """FBGEMM's ``linearize_cache_indices`` (its CPU build is a stub): the cache key of
    each lookup is ``hash_size_cumsum[table] + row``; lookups of tables that are not
    cached (``hash_size_cumsum[table] < 0``) or with a negative (pruned) row map to
    ``hash_size_cumsum[-1]``, the total cache hash size, which the cache never holds."""
    cumsum = np.asarray(hash_size_cumsum, np.int64)
    n_tables = cumsum.shape[0] - 1
    if offsets.shape[0] != n_tables * samples + 1:
        raise ConfigError(f"offsets: expected {n_tables} tables x {samples} samples + 1 = "
                          f"{n_tables * samples + 1} entries, got {offsets.shape[0]}")
    table = np.repeat(np.arange(n_tables * samples) // samples, np.diff(offsets))
    base = cumsum[table]
    return np.where((base >= 0) & (rows >= 0), base + rows, cumsum[-1])


def _parse(values, fields: tuple[str, ...], name: str) -> dict:
    values = [int(v) for v in np.asarray(values).ravel()]
    if len(values) != len(fields):
        raise ConfigError(f"{name}: expected {len(fields)} counters ({', '.join(fields)}), "
                          f"got {len(values)}")
    return dict(zip(fields, values))


def parse_miss_counter(counter) -> dict:
    """``get_cache_miss_counter()`` by name, with ``miss_rate`` = unique misses / accesses
    (FBGEMM counts a row missed by several lookups of one batch once)."""
    out = _parse(counter, MISS_COUNTER_FIELDS, "cache miss counter")
    out["miss_rate"] = out["unique_misses"] / out["accesses"] if out["accesses"] else 0.0
    return out


def parse_uvm_stats(stats) -> dict:
    """``get_uvm_cache_stats()`` (LRU only) by name."""
    return _parse(stats, UVM_STATS_FIELDS, "uvm cache stats")
