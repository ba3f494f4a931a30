"""The trace data model: embedding-vector accesses grouped into inference batches.

A :class:`Trace` holds, for N accesses, ``table`` (int32) and ``row`` (int64), and
``batch_offsets`` (int64, B+1 entries, ``batch_offsets[0] == 0`` and
``batch_offsets[-1] == N``), plus per-table cardinalities and a provenance ``meta`` dict.

A vector is ``(table, row)``. A row id may be any int64, or any uint64 stored as its
int64 bits (``meta["row_ids"] == "uint64"``: hashed ids of production logs). A table's
cardinality is declared by the format or the user, or inferred as ``max(row) + 1``;
``UNKNOWN`` (0) where that is not a positive int64 (negative or >= 2**63 ids). Known
cardinalities bound the rows: ``0 <= row < cardinality``.

Global vector ids ("keys") lay the tables out one after another, every ``table_base`` a
multiple of 64 rows, so that spatial prefetchers' regions (Bingo: 32 rows, BOP pages: 64
rows) never straddle two tables. Two layouts, chosen per trace (:attr:`Trace.ranked`):

- *row ids* (every cardinality known and the aligned key space below ``RAW_KEY_LIMIT`` =
  2**62): ``key = table_base[table] + row``, tables sized by their cardinalities;
- *ranked* (otherwise, e.g. 64-bit hashed ids): ``key = table_base[table] + rank``, where
  ``rank`` is the row's rank among the table's distinct rows (in numeric order, unsigned
  for uint64 ids) and tables are sized by their distinct rows (at least one). Keys then
  never overflow, and a replay equals that of the trace with each table's rows
  renumbered densely (the same keys, hence the same sets and prefetch addresses);
  adjacent keys are adjacent distinct ids, which is all the spatial meaning hashed ids
  have.

The replay engine works on a dense remap ``vid`` in ``[0, U)`` of the keys, in increasing
key order (``(table, row)`` order in both layouts), so that all per-vector state is a flat
array. The remap is computed once, lazily, and cached beside an on-disk trace
(``vid.npy``/``keys.npy``, and ``table_rows.npy`` in the ranked layout).

The remap streams: where the key space is dense enough for a bitmap (see
``_DIRECT_REMAP_FACTOR``), two compiled passes over chunks of ``REMAP_CHUNK`` accesses
mark the keys present and then write each access's rank, straight into the ``vid.npy``
being written for an on-disk trace; the pages of every memory-mapped array are released
after each chunk, so its memory is the key-space bitmap and ranks (5 bytes per key) and
one chunk, not the trace. Sparse key spaces fall back to an in-memory sort of the keys,
and the ranked layout to a sort of the ``(table, row)`` pairs (:func:`_ranked_dense`:
about 37 bytes per access at its peak, plus 16 per distinct vector; docs/traces.md).
"""

from __future__ import annotations

import mmap
import operator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
from numba import njit

from recsim.errors import TraceFormatError
from recsim.files import atomic_output, write_npy_atomic

TABLE_ALIGN = 64
# Direct-address remap (a bitmap over the key space) is used while the key space is at
# most this many times the number of accesses; beyond that a sort (np.unique) is cheaper.
_DIRECT_REMAP_FACTOR = 2
REMAP_CHUNK = 1 << 24  # accesses per chunk of the streaming remap
# The row-id layout is kept while its key space is below this: keys, and the prefetch
# candidates a few pages around them, then stay far from int64 overflow.
RAW_KEY_LIMIT = 1 << 62
UNKNOWN = 0  # the cardinality of a table whose row ids have no positive int64 bound


@dataclass(frozen=True)
class DenseIds:
    """Dense remap of a trace: ``vid`` per access and ``keys[vid]`` (sorted) per vector;
    ``table_rows``: distinct rows per table (the ranked layout's table sizes), else None."""

    vid: np.ndarray
    keys: np.ndarray
    table_rows: np.ndarray | None = None

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
        table (:func:`infer_cardinalities`). Integer inputs of any width are accepted; rows
        of an unsigned 64-bit array (or a decimal/hex string array) with values of 2**63
        and more are kept as their int64 bits and the trace is marked
        ``meta["row_ids"] = "uint64"``; anything else is an error.
        """
        table = _as_int_array(table, np.int32, source, "table")
        row, unsigned = row_ids(row, source)
        meta = dict(meta or {})
        if unsigned:
            meta["row_ids"] = "uint64"
        if batch_offsets is None:
            batch_offsets = np.array([0, table.shape[0]], dtype=np.int64)
        batch_offsets = _as_int_array(batch_offsets, np.int64, source, "batch_offsets")
        if cardinalities is None:
            cardinalities = infer_cardinalities(table, row, unsigned)
        cardinalities = _as_int_array(cardinalities, np.int64, source, "cardinalities")
        trace = cls(table, row, batch_offsets, cardinalities, meta)
        trace.validate(source)
        return trace

    def with_cardinalities(self, cardinalities, source) -> "Trace":
        """This trace with declared cardinalities (one for every table, or one each;
        ``UNKNOWN`` = 0), checked against its rows; ``source`` names them in errors."""
        card = np.asarray(cardinalities, dtype=np.int64).reshape(-1)
        if card.shape[0] not in (1, self.n_tables):
            raise TraceFormatError(source, "cardinalities", f"1 or {self.n_tables} values "
                                   "(one per table)", f"{card.shape[0]}")
        trace = Trace(self.table, self.row, self.batch_offsets,
                      np.broadcast_to(card, (self.n_tables,)).copy(), dict(self.meta))
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
    def unsigned_rows(self) -> bool:
        """Whether ``row`` holds uint64 ids as their int64 bits."""
        return self.meta.get("row_ids") == "uint64"

    def row_values(self) -> np.ndarray:
        """The row ids as given: ``row``, or its uint64 view for uint64 ids."""
        row = np.asarray(self.row)
        return row.view(np.uint64) if self.unsigned_rows else row

    @cached_property
    def ranked(self) -> bool:
        """Whether keys use each row's rank within its table rather than its id (see the
        module docstring): some cardinality is unknown or the id layout would not fit."""
        return bool((self.cardinalities <= UNKNOWN).any()
                    or _aligned_total(self.cardinalities) >= RAW_KEY_LIMIT)

    @property
    def table_rows(self) -> np.ndarray:
        """Rows of each table in the key layout: its cardinality, or (ranked) its
        distinct rows."""
        return self.dense().table_rows if self.ranked else self.cardinalities

    @property
    def table_base(self) -> np.ndarray:
        """First key of each table; tables are laid out contiguously, 64-row aligned."""
        sizes = -(-self.table_rows // TABLE_ALIGN) * TABLE_ALIGN
        return np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64)

    @property
    def key_space(self) -> int:
        return _aligned_total(self.table_rows)

    def key_rows(self) -> np.ndarray:
        """Each access's row in the key layout (``keys() - table_base[table]``): ``row``
        itself in the row-id layout (no copy), its rank within its table if ranked."""
        if not self.ranked:
            return self.row
        dense = self.dense()
        return dense.keys[dense.vid] - self.table_base[self.table]

    def keys(self) -> np.ndarray:
        """Global vector id of every access (``table_base[table] + row``, or ``+ rank``
        in the ranked layout)."""
        if self.ranked:
            dense = self.dense()
            return np.asarray(dense.keys)[dense.vid]
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
        if self.cardinalities.min() < 0:
            raise TraceFormatError(source, "cardinalities",
                                   f"row counts >= 0 ({UNKNOWN}: unknown)",
                                   f"min {self.cardinalities.min()}")
        tmin, tmax, i = _scan(self.table, self.row, self.cardinalities)
        if tmin < 0 or tmax >= self.n_tables:
            raise TraceFormatError(source, "table", f"table ids in [0, {self.n_tables})",
                                   f"range [{tmin}, {tmax}]")
        if i >= 0:
            raise TraceFormatError(
                source, "row", "row ids in [0, the table's cardinality)",
                f"row {self.row_id(i)} in table {self.table[i]} of "
                f"{self.cardinalities[self.table[i]]} rows (access {i})")
        bo = self.batch_offsets
        if bo.shape[0] < 2 or bo[0] != 0 or bo[-1] != n or (np.diff(bo) < 0).any():
            raise TraceFormatError(source, "batch_offsets",
                                   f"non-decreasing offsets from 0 to {n}",
                                   f"{bo.shape[0]} offsets from {bo[0] if bo.size else '-'} "
                                   f"to {bo[-1] if bo.size else '-'}")

    def row_id(self, i: int) -> int:
        """The row id of access ``i`` as given (unsigned for uint64 ids)."""
        return int(self.row_values()[i])

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
            "cardinalities": [c or "unknown" for c in self.cardinalities.tolist()],
            "row_ids": "uint64" if self.unsigned_rows else "int64",
            "key_layout": "ranked" if self.ranked else "row ids",
            "provenance": self.meta.get("provenance", {}),
        }


def infer_cardinalities(table: np.ndarray, row: np.ndarray, unsigned: bool = False
                        ) -> np.ndarray:
    """``max(row) + 1`` per table id (tables absent from the trace get one row);
    ``UNKNOWN`` for a table with a negative row id, or one of 2**63 - 1 or more (``+ 1``
    would overflow), or a uint64 id of 2**63 or more (negative as int64 bits)."""
    if table.shape[0] == 0:
        return np.ones(1, dtype=np.int64)
    n_tables = int(table.max()) + 1 if table.min() >= 0 else 1
    if row.shape[0] != table.shape[0] or table.min() < 0:
        return np.ones(n_tables, dtype=np.int64)  # validation reports the mismatch
    top = np.full(n_tables, -1, dtype=np.int64)
    low = np.zeros(n_tables, dtype=np.int64)
    np.maximum.at(top, table, row)
    np.minimum.at(low, table, row)
    known = (low >= 0) & (top < np.iinfo(np.int64).max)
    return np.where(known, np.maximum(top + known, 1), UNKNOWN).astype(np.int64)


def row_ids(values, source) -> tuple[np.ndarray, bool]:
    """Row ids as int64 and whether they are uint64 ids kept as their int64 bits: any
    integer array, strings of decimal or ``0x`` hex integers, or a list of Python ints;
    a value outside both int64 and uint64, or a mix of negative and >= 2**63 values, is
    an error."""
    arr = np.asarray(values)
    if arr.size and arr.dtype.kind == "f" and not isinstance(values, np.ndarray):
        as_objects = np.asarray(values, dtype=object)
        if all(isinstance(v, int) for v in as_objects.reshape(-1).tolist()):
            arr = as_objects  # Python ints that numpy could only hold as floats
    if arr.size and arr.dtype.kind in "USO":
        arr = _parse_ids(arr.reshape(-1), source)
    if arr.dtype == np.uint64 and arr.size and int(arr.max()) >= 1 << 63:
        return np.ascontiguousarray(arr).view(np.int64), True
    return _as_int_array(arr, np.int64, source, "row"), False


def parse_id(text) -> int:
    """One id string: decimal, or hex with a ``0x`` prefix (either with a leading '-')."""
    text = (text.decode() if isinstance(text, bytes) else str(text)).strip()
    return int(text, 16 if text.lower().lstrip("-").startswith("0x") else 10)


def _parse_ids(values: np.ndarray, source) -> np.ndarray:
    """Ids given as text (decimal or ``0x`` hex) or Python integers, as int64 (or uint64
    if one is >= 2**63)."""
    parsed = []
    for i, value in enumerate(values.tolist()):
        try:
            parsed.append(parse_id(value) if isinstance(value, (str, bytes)) else
                          operator.index(value))
        except (TypeError, ValueError):
            raise TraceFormatError(source, "row", "integer ids (decimal or 0x hex text)",
                                   f"{str(value)[:40]!r} (row {i})") from None
    lo, hi = min(parsed), max(parsed)
    if lo < -(1 << 63) or hi >= 1 << 64 or (lo < 0 and hi >= 1 << 63):
        raise TraceFormatError(source, "row", "ids that fit int64 or uint64",
                               f"range [{lo}, {hi}]")
    return np.array(parsed, dtype=np.uint64 if hi >= 1 << 63 else np.int64)


def _aligned_total(rows: np.ndarray) -> int:
    """The key space of tables of ``rows`` rows each, laid out 64-aligned (a Python int:
    no overflow whatever the sizes)."""
    return sum(-(-c // TABLE_ALIGN) * TABLE_ALIGN for c in np.asarray(rows).tolist())


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
    """Fold one chunk into ``found = [min table, max table, first access whose row is
    outside [0, its (valid) table's known cardinality) or -1]``."""
    for i in range(table.shape[0]):
        t = table[i]
        r = row[i]
        found[0] = min(found[0], t)
        found[1] = max(found[1], t)
        if (found[2] < 0 and 0 <= t < cardinalities.shape[0] and cardinalities[t] > 0
                and (r < 0 or r >= cardinalities[t])):
            found[2] = lo + i


def _scan(table, row, cardinalities) -> tuple[int, int, int]:
    """The ranges :meth:`Trace.validate` checks, in one compiled pass over chunks."""
    found = np.array([np.iinfo(np.int64).max, -1, -1], np.int64)
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


def _firsts(trace: Trace):
    dense = trace.dense()
    return _first_in_batch(np.asarray(dense.vid), np.asarray(trace.batch_offsets, np.int64),
                           dense.n_unique)


def batch_distinct(trace: Trace) -> int:
    """The lookups :func:`dedup_batches` keeps (each batch's distinct vectors), counted."""
    return int(_firsts(trace)[1][-1])


def dedup_batches(trace: Trace) -> Trace:
    """``trace`` with each batch's repeated lookups of a vector dropped (the first kept):
    in memory, the same vectors and dense ids."""
    dense = trace.dense()
    keep, offsets = _firsts(trace)
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
    if trace.ranked:
        return _ranked_dense(trace, out)
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


@njit(cache=True)
def _slot(table, row, mask):
    """Home slot of ``(table, row)``: splitmix64's finaliser of the pair, masked."""
    z = np.uint64(row) ^ (np.uint64(table) * np.uint64(0x9E3779B97F4A7C15))
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return np.int64((z ^ (z >> np.uint64(31))) & np.uint64(mask))


@njit(cache=True)
def _intern(table, row, slots, n, out):
    """Write each access's first-appearance id into ``out``, adding new pairs to the
    open-addressing table ``slots`` (slot ``h`` is ``slots[2h:2h+2]`` = ``[row id,
    table << 32 | id + 1]``, zero when empty: one cache line a probe) that holds ``n``
    ids. Stops before the table is half full: returns (ids, accesses done)."""
    size = slots.shape[0] >> 1
    mask = size - 1
    m = table.shape[0]
    for i in range(m):
        if 2 * (n + 1) > size:
            return n, i
        r = row[i]
        tag = np.int64(table[i]) << 32
        h = _slot(table[i], r, mask)
        while slots[2 * h + 1] != 0 and (slots[2 * h] != r or slots[2 * h + 1] >> 32 << 32 != tag):
            h = (h + 1) & mask
        if slots[2 * h + 1] == 0:
            n += 1
            slots[2 * h] = r
            slots[2 * h + 1] = tag | n
        out[i] = (slots[2 * h + 1] & 0xFFFFFFFF) - 1
    return n, m


@njit(cache=True)
def _pairs(slots, n):
    """``(table, row)`` of each id of the hash table ``slots`` holding ``n`` ids."""
    table_of = np.empty(n, np.int32)
    row_of = np.empty(n, np.int64)
    for h in range(slots.shape[0] >> 1):
        meta = slots[2 * h + 1]
        if meta != 0:
            i = (meta & 0xFFFFFFFF) - 1
            table_of[i] = meta >> 32
            row_of[i] = slots[2 * h]
    return table_of, row_of


@njit(cache=True)
def _relabel(out, new_id):
    for i in range(out.shape[0]):
        out[i] = new_id[out[i]]


def _ranked_dense(trace: Trace, out: np.ndarray | None) -> DenseIds:
    """The remap of the ranked layout, in memory proportional to the distinct vectors
    (never to the id space; docs/traces.md): a compiled pass over chunks interns each
    ``(table, row)`` in a hash table (first-appearance ids, written into ``out``), the
    distinct pairs are sorted (rows in numeric order, unsigned for uint64 ids), and a
    second pass rewrites ``out`` to those ranks. At most 2**32 - 1 distinct vectors."""
    if out is None:
        out = np.empty(trace.n_accesses, np.int64)
    slots, n = np.zeros(0, np.int64), 0
    for lo, table, row in chunks(trace.table, trace.row, out):
        done = 0
        while done < table.shape[0]:
            if n + 1 > slots.shape[0] >> 2:
                if n >= (1 << 32) - 1:
                    raise TraceFormatError(trace.path or "<arrays>", "row",
                                           "fewer than 2**32 distinct vectors", f"{n}+")
                slots = _grown(slots, n)
            n, step = _intern(table[done:], row[done:], slots, n, out[lo + done:])
            done += step
    table_of, row_of = _pairs(slots, n)
    del slots
    order = np.lexsort((row_of.view(np.uint64) if trace.unsigned_rows else row_of, table_of))
    del row_of
    new_id = np.empty(n, np.int64)
    new_id[order] = np.arange(n)
    for lo, table, _ in chunks(trace.table, trace.row, out):
        _relabel(out[lo:lo + table.shape[0]], new_id)
    vector_table = table_of[order]
    vectors = np.bincount(vector_table, minlength=trace.n_tables)
    first_vid = np.concatenate(([0], np.cumsum(vectors)[:-1]))
    # a table without accesses keeps one row, as its inferred cardinality would
    table_rows = np.maximum(vectors, 1)
    base = np.concatenate(([0], np.cumsum(-(-table_rows // TABLE_ALIGN) * TABLE_ALIGN)[:-1]))
    keys = base[vector_table] + np.arange(n) - first_vid[vector_table]
    return DenseIds(out, keys.astype(np.int64), table_rows.astype(np.int64))


def _grown(slots, n: int):
    """The hash table ``slots`` at four times the size (at least 2**16 slots), its ``n``
    pairs re-interned (their ids kept: ids are given in first-appearance order)."""
    bigger = np.zeros(max(1 << 17, 4 * slots.shape[0]), np.int64)
    table_of, row_of = _pairs(slots, n)
    _intern(table_of, row_of, bigger, 0, np.empty(n, np.int64))
    return bigger


def _compute_cached_dense(trace: Trace) -> DenseIds:
    """Compute the remap; for an on-disk trace, write ``vid.npy`` as it is computed and
    ``keys.npy`` after, each atomically (a read-only directory: just compute it)."""
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
        if dense.table_rows is not None:
            write_npy_atomic(paths[2], dense.table_rows)
    except OSError:
        return compute_dense(trace)
    return _load_cached_dense(trace) or dense


def _dense_paths(trace: Trace):
    if trace.path is None or not trace.path.is_dir():
        return None
    names = ("vid", "keys", "table_rows") if trace.ranked else ("vid", "keys")
    return tuple(trace.path / f"{name}.npy" for name in names)


def _load_cached_dense(trace: Trace) -> DenseIds | None:
    paths = _dense_paths(trace)
    if paths is None or not all(p.exists() for p in paths):
        return None
    arrays = [np.load(p, mmap_mode="r") for p in paths]
    if arrays[0].shape[0] != trace.n_accesses or any(a.dtype != np.int64 for a in arrays):
        return None
    return DenseIds(*arrays)


