"""The trace data model: embedding-vector accesses grouped into inference batches.

A :class:`Trace` holds, for N accesses, ``table`` (int32) and ``row`` (int64), and
``batch_offsets`` (int64, B+1 entries, ``batch_offsets[0] == 0`` and
``batch_offsets[-1] == N``), plus per-table cardinalities and a provenance ``meta`` dict.

Global vector ids ("keys") lay the tables out one after another:
``key = table_base[table] + row`` with every ``table_base`` a multiple of 64 rows, so
that spatial prefetchers' regions (Bingo: 32 rows, BOP pages: 64 rows) never straddle
two tables. The replay engine works on a dense remap ``vid`` in ``[0, U)`` of the keys,
in increasing key order, so that all per-vector state is a flat array. The remap is
computed once, lazily, and cached beside an on-disk trace (``vid.npy``/``keys.npy``).

The remap streams: where the key space is dense enough for a bitmap (see
``_DIRECT_REMAP_FACTOR``), two compiled passes over chunks of ``REMAP_CHUNK`` accesses
mark the keys present and then write each access's rank, straight into the ``vid.npy``
being written for an on-disk trace; the pages of every memory-mapped array are released
after each chunk, so its memory is the key-space bitmap and ranks (5 bytes per key) and
one chunk, not the trace. Sparse key spaces fall back to an in-memory sort.
"""

from __future__ import annotations

import mmap
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numba import njit

from recsim.errors import TraceFormatError

TABLE_ALIGN = 64
# Direct-address remap (a bitmap over the key space) is used while the key space is at
# most this many times the number of accesses; beyond that a sort (np.unique) is cheaper.
_DIRECT_REMAP_FACTOR = 2
REMAP_CHUNK = 1 << 24  # accesses per chunk of the streaming remap


@dataclass(frozen=True)
class DenseIds:
    """Dense remap of a trace: ``vid`` per access and ``keys[vid]`` (sorted) per vector."""

    vid: np.ndarray
    keys: np.ndarray

    @property
    def n_unique(self) -> int:
        return int(self.keys.shape[0])


@dataclass
class Trace:
    table: np.ndarray
    row: np.ndarray
    batch_offsets: np.ndarray
    cardinalities: np.ndarray
    meta: dict = field(default_factory=dict)
    path: Path | None = None
    _dense: DenseIds | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_arrays(cls, table, row, batch_offsets=None, cardinalities=None, meta=None,
                    source="<arrays>") -> "Trace":
        """Build a trace from array-likes, casting to the model's dtypes and validating.

        ``batch_offsets`` defaults to one batch; ``cardinalities`` to ``max(row) + 1`` per
        table. Integer inputs of any width are accepted; anything else is an error.
        """
        table = _as_int_array(table, np.int32, source, "table")
        row = _as_int_array(row, np.int64, source, "row")
        if batch_offsets is None:
            batch_offsets = np.array([0, table.shape[0]], dtype=np.int64)
        batch_offsets = _as_int_array(batch_offsets, np.int64, source, "batch_offsets")
        if cardinalities is None:
            cardinalities = infer_cardinalities(table, row)
        cardinalities = _as_int_array(cardinalities, np.int64, source, "cardinalities")
        trace = cls(table, row, batch_offsets, cardinalities, dict(meta or {}))
        trace.validate(source)
        return trace

    # -- sizes ---------------------------------------------------------------------
    @property
    def n_accesses(self) -> int:
        return int(self.table.shape[0])

    @property
    def n_batches(self) -> int:
        return int(self.batch_offsets.shape[0] - 1)

    @property
    def n_tables(self) -> int:
        return int(self.cardinalities.shape[0])

    @property
    def name(self) -> str:
        return str(self.meta.get("name") or (self.path.stem if self.path else "trace"))

    # -- keys and dense ids ----------------------------------------------------------
    @property
    def table_base(self) -> np.ndarray:
        """First key of each table; tables are laid out contiguously, 64-row aligned."""
        sizes = -(-self.cardinalities // TABLE_ALIGN) * TABLE_ALIGN
        return np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64)

    @property
    def key_space(self) -> int:
        sizes = -(-self.cardinalities // TABLE_ALIGN) * TABLE_ALIGN
        return int(sizes.sum())

    def keys(self) -> np.ndarray:
        """Global vector id of every access (``table_base[table] + row``)."""
        return self.table_base[self.table] + self.row

    def dense(self) -> DenseIds:
        """The dense remap, computed once and cached (in memory and beside the trace)."""
        if self._dense is None:
            self._dense = _load_cached_dense(self) or _compute_cached_dense(self)
        return self._dense

    @property
    def vid(self) -> np.ndarray:
        return self.dense().vid

    @property
    def n_unique(self) -> int:
        return self.dense().n_unique

    # -- validation -----------------------------------------------------------------
    def validate(self, source) -> None:
        """Check shapes, dtypes and ranges; raise :class:`TraceFormatError` on the first problem."""
        for name, dtype in (("table", np.int32), ("row", np.int64),
                            ("batch_offsets", np.int64), ("cardinalities", np.int64)):
            arr = getattr(self, name)
            if arr.dtype != dtype or arr.ndim != 1:
                raise TraceFormatError(source, name, f"a 1-D {np.dtype(dtype).name} array",
                                       f"{arr.ndim}-D {arr.dtype}")
        n = self.table.shape[0]
        if n == 0:
            raise TraceFormatError(source, "table", "at least one access", "an empty trace")
        if self.row.shape[0] != n:
            raise TraceFormatError(source, "row", f"{n} entries (one per access)",
                                   f"{self.row.shape[0]}")
        if self.cardinalities.shape[0] == 0:
            raise TraceFormatError(source, "cardinalities", "at least one table", "none")
        if self.cardinalities.min() <= 0:
            raise TraceFormatError(source, "cardinalities", "positive row counts",
                                   f"min {self.cardinalities.min()}")
        tmin, tmax, rmin, i = _scan(self.table, self.row, self.cardinalities)
        if tmin < 0 or tmax >= self.n_tables:
            raise TraceFormatError(source, "table", f"table ids in [0, {self.n_tables})",
                                   f"range [{tmin}, {tmax}]")
        if rmin < 0:
            raise TraceFormatError(source, "row", "non-negative row ids", f"min {rmin}")
        if i >= 0:
            raise TraceFormatError(
                source, "row", "row ids below the table's cardinality",
                f"row {self.row[i]} in table {self.table[i]} of "
                f"{self.cardinalities[self.table[i]]} rows (access {i})")
        bo = self.batch_offsets
        if bo.shape[0] < 2 or bo[0] != 0 or bo[-1] != n or (np.diff(bo) < 0).any():
            raise TraceFormatError(source, "batch_offsets",
                                   f"non-decreasing offsets from 0 to {n}",
                                   f"{bo.shape[0]} offsets from {bo[0] if bo.size else '-'} "
                                   f"to {bo[-1] if bo.size else '-'}")

    def batch_of_access(self) -> np.ndarray:
        """Batch index of every access (int64)."""
        return np.repeat(np.arange(self.n_batches, dtype=np.int64), np.diff(self.batch_offsets))

    def info(self) -> dict:
        """Summary counts and provenance, as ``recsim trace info`` prints them."""
        return {
            "name": self.name,
            "path": str(self.path) if self.path else None,
            "accesses": self.n_accesses,
            "batches": self.n_batches,
            "tables": self.n_tables,
            "unique_vectors": self.n_unique,
            "unique_fraction": self.n_unique / self.n_accesses,
            "cardinalities": self.cardinalities.tolist()[:32],
            "provenance": self.meta.get("provenance", {}),
        }


def infer_cardinalities(table: np.ndarray, row: np.ndarray) -> np.ndarray:
    """``max(row) + 1`` per table id (tables absent from the trace get one row)."""
    if table.shape[0] == 0:
        return np.ones(1, dtype=np.int64)
    n_tables = int(table.max()) + 1 if table.min() >= 0 else 1
    card = np.zeros(n_tables, dtype=np.int64)
    if row.shape[0] == table.shape[0] and (row.shape[0] == 0 or row.min() >= 0):
        np.maximum.at(card, table, row + 1)
    return np.maximum(card, 1)


def _as_int_array(values, dtype, source, name) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise TraceFormatError(source, name, "a 1-D array", f"shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
            pass  # integral floats (e.g. from CSV readers) are accepted
        else:
            raise TraceFormatError(source, name, "integers", f"dtype {arr.dtype}")
    if arr.size and np.issubdtype(arr.dtype, np.integer) and arr.dtype != dtype:
        info = np.iinfo(dtype)
        lo, hi = arr.min(), arr.max()
        if lo < info.min or hi > info.max:
            raise TraceFormatError(source, name, f"values that fit {np.dtype(dtype).name}",
                                   f"range [{lo}, {hi}]")
    return np.ascontiguousarray(arr, dtype=dtype)


@njit(cache=True)
def _mark(table, row, table_base, present):
    for i in range(table.shape[0]):
        present[table_base[table[i]] + row[i]] = True


@njit(cache=True)
def _rank(table, row, table_base, rank, out):
    for i in range(table.shape[0]):
        out[i] = rank[table_base[table[i]] + row[i]] - 1


@njit(cache=True)
def _scan_chunk(table, row, cardinalities, lo, found):
    """Fold one chunk into ``found = [min table, max table, min row, first access whose row
    is not below its (valid) table's cardinality or -1]``."""
    for i in range(table.shape[0]):
        t = table[i]
        r = row[i]
        found[0] = min(found[0], t)
        found[1] = max(found[1], t)
        found[2] = min(found[2], r)
        if found[3] < 0 and 0 <= t < cardinalities.shape[0] and r >= cardinalities[t]:
            found[3] = lo + i


def _scan(table, row, cardinalities) -> tuple[int, int, int, int]:
    """The ranges :meth:`Trace.validate` checks, in one compiled pass over chunks."""
    found = np.array([np.iinfo(np.int64).max, -1, np.iinfo(np.int64).max, -1], np.int64)
    for lo, table_chunk, row_chunk in chunks(table, row):
        _scan_chunk(table_chunk, row_chunk, cardinalities, lo, found)
    return tuple(int(x) for x in found)


def chunks(table, row, *also):
    """``(first access, table chunk, row chunk)`` over chunks of ``REMAP_CHUNK`` accesses;
    after each chunk the pages of ``table``, ``row`` and the arrays ``also`` (e.g. an
    output being written) are released (:func:`release`)."""
    for lo in range(0, table.shape[0], REMAP_CHUNK):
        yield lo, table[lo:lo + REMAP_CHUNK], row[lo:lo + REMAP_CHUNK]
        for arr in (table, row, *also):
            release(arr)


@njit(cache=True)
def _first_in_batch(vid, batch_offsets, n_vids):
    """Positions of each batch's first lookup of each vector, and the new batch offsets."""
    last = np.full(n_vids, -1, np.int64)
    keep = np.empty(vid.shape[0], np.int64)
    offsets = np.zeros(batch_offsets.shape[0], np.int64)
    n = 0
    for b in range(batch_offsets.shape[0] - 1):
        for i in range(batch_offsets[b], batch_offsets[b + 1]):
            v = vid[i]
            if last[v] != b:
                last[v] = b
                keep[n] = i
                n += 1
        offsets[b + 1] = n
    return keep[:n], offsets


def dedup_batches(trace: Trace) -> Trace:
    """``trace`` with each batch's repeated lookups of a vector dropped (the first kept):
    in memory, the same vectors and dense ids."""
    dense = trace.dense()
    keep, offsets = _first_in_batch(np.asarray(dense.vid), np.asarray(trace.batch_offsets,
                                                                      np.int64), dense.n_unique)
    return Trace(np.asarray(trace.table)[keep], np.asarray(trace.row)[keep], offsets,
                 trace.cardinalities, {**trace.meta, "dedup": "batch"},
                 _dense=DenseIds(np.asarray(dense.vid)[keep], dense.keys))


def release(arr) -> None:
    """Drop the pages of a memory-mapped array from this process (they stay in the page
    cache; an access later maps them again): reading a trace larger than memory chunk by
    chunk then keeps one chunk resident. No-op for an in-memory array."""
    mapping = getattr(arr, "_mmap", None)
    if mapping is not None:
        if arr.flags.writeable:
            arr.flush()
        mapping.madvise(mmap.MADV_DONTNEED)


def compute_dense(trace: Trace, out: np.ndarray | None = None) -> DenseIds:
    """The dense remap of ``trace`` (see the module docstring); ``vid`` is written into
    ``out`` (an int64 array of one entry per access, e.g. a memory-mapped file) if given."""
    n, space, base = trace.n_accesses, trace.key_space, trace.table_base
    if space > _DIRECT_REMAP_FACTOR * max(n, 1 << 20):
        uniq, vid = np.unique(trace.keys(), return_inverse=True)
        if out is None:
            out = np.empty(n, np.int64)
        out[:] = vid.reshape(-1)
        return DenseIds(out, uniq.astype(np.int64))
    present = np.zeros(space, dtype=np.bool_)
    for _, table, row in chunks(trace.table, trace.row):
        _mark(table, row, base, present)
    uniq = np.flatnonzero(present).astype(np.int64)
    rank = np.cumsum(present, dtype=np.int32 if uniq.shape[0] < 2**31 else np.int64)
    del present
    if out is None:
        out = np.empty(n, np.int64)
    for lo, table, row in chunks(trace.table, trace.row, out):
        _rank(table, row, base, rank, out[lo:lo + table.shape[0]])
    return DenseIds(out, uniq)


def _compute_cached_dense(trace: Trace) -> DenseIds:
    """Compute the remap; for an on-disk trace, write ``vid.npy`` as it is computed and
    ``keys.npy`` after, each atomically (a read-only directory: just compute it)."""
    from recsim.traces.common import atomic_output
    from recsim.traces.native import write_npy_atomic

    paths = _dense_paths(trace)
    if paths is None:
        return compute_dense(trace)
    try:
        with atomic_output(paths[0]) as tmp:
            out = np.lib.format.open_memmap(tmp, "w+", np.int64, (trace.n_accesses,))
            dense = compute_dense(trace, out)
            out.flush()
            del out
        write_npy_atomic(paths[1], dense.keys)
    except OSError:
        return compute_dense(trace)
    return _load_cached_dense(trace) or dense


def _dense_paths(trace: Trace):
    if trace.path is None or not trace.path.is_dir():
        return None
    return trace.path / "vid.npy", trace.path / "keys.npy"


def _load_cached_dense(trace: Trace) -> DenseIds | None:
    paths = _dense_paths(trace)
    if paths is None or not all(p.exists() for p in paths):
        return None
    vid = np.load(paths[0], mmap_mode="r")
    keys = np.load(paths[1], mmap_mode="r")
    if vid.shape[0] != trace.n_accesses or vid.dtype != np.int64 or keys.dtype != np.int64:
        return None
    return DenseIds(vid, keys)


