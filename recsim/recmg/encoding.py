"""What the RecMG models read and write: per-access input features and vector coordinates.

Both are defined by a :class:`Vocabulary` learnt from the *training* part of a trace only,
so evaluation never peeks at the future. It holds, for every vector seen in training
(keyed by ``(table, row)``), its access count, its *popularity rank* inside its table (0 =
the table's most accessed vector) and its *order*: its position among its table's vectors
in the order in which they first appear in the training accesses (0 = seen first). Its
size is the number of distinct vectors of the training accesses, never a table's
cardinality, so tables of billions of rows cost nothing.

Input of one access (:meth:`Vocabulary.features`): the table id, which the models embed
(``table % table_buckets``, 1024 buckets by default), and four numbers in [0, 1]:

- ``table / n_tables`` (the table coordinate);
- the rank coordinate ``rank / n_seen(table)`` (1.0 for a vector unseen in training);
- ``log1p(count) / log1p(max count)`` (0.0 when unseen);
- the order coordinate ``order / n_seen(table)`` (1.0 when unseen), which only the
  prefetch model reads (:data:`CACHING_FEATURES`).

The paper's models read the raw vector id (the authors encode ``row * 1000 + table``);
raw row ids of real traces are hashes with no order, so we replace the row by two orders
that have a meaning: popularity, which the caching label mostly depends on (the optimum
keeps popular vectors), and first appearance, which puts vectors that are looked up
together (a bag's members, an interest's items) next to each other: on the meta-like
trace 72% of the vectors that most often follow a vector in its table sit right after it
in this order, 2.5% in popularity order.

Vector coordinates, the points the prefetch model predicts and is trained against
(:meth:`Vocabulary.points`), are in *vector units*: ``(table, order)`` as floats, a
distance of 1 being the next table or the next vector of the table in first-appearance
order (a vector unseen in training stands at ``order = n_seen(table)``: it appeared after
all of them). A point *snaps* to a real vector (:meth:`Vocabulary.snap`): the table
``round(x)`` (clipped to the tables), then the vector of that table at order ``round(y)``
(clipped to its seen vectors). Every snapped vector is one seen in training; a table seen
in no training access yields nothing.

:class:`RowIds` is the paper's encoding (``encoding: ids``, the paper configuration): the
inputs are the table and the raw row id (``table / n_tables`` and ``row / row_scale``,
``row_scale`` = 1 + the largest training row, as the authors scale ids by a constant), and
points are ``(table, row)`` in id units; a point snaps to the row ``round(y)`` of table
``round(x)`` when that row exists (below the table's cardinality). :func:`fit_encoding`
builds either from the training accesses; :func:`load_encoding` rebuilds it from a
checkpoint's payload.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ROW_BITS = 40  # vkey = table << ROW_BITS | row: rows below 2**40, tables below 2**23
N_FEATURES = 4
# The caching model reads the first three features: with the order coordinate as well, its
# hit rate on the meta-like evaluation (recmg_quick) fell from 0.660 to 0.647 at the same
# accuracy, as it overfit (the validation loss rose from the second epoch on).
CACHING_FEATURES = 3
ENCODINGS = ("vocab", "ids")
# (features the caching model reads, features the prefetch model reads) per encoding
N_INPUTS = {"vocab": (CACHING_FEATURES, N_FEATURES), "ids": (2, 2)}


def vkeys(table: np.ndarray, row: np.ndarray) -> np.ndarray:
    """One int64 per ``(table, row)``, independent of the trace's table layout."""
    return (table.astype(np.int64) << ROW_BITS) | row.astype(np.int64)


def _positions(tables: np.ndarray, sort_keys: tuple, table_start: np.ndarray):
    """``(position inside its table, keys in that order)`` for the keys sorted by
    ``(tables, *sort_keys)`` (``np.lexsort`` order: the last key sorts first)."""
    order = np.lexsort((*sort_keys, tables)).astype(np.int64)
    position = np.empty(tables.shape[0], np.int64)
    position[order] = np.arange(tables.shape[0]) - table_start[tables[order]]
    return position, order


@dataclass
class Vocabulary:
    """Vectors seen in training, sorted by ``vkey``, with counts, ranks and orders (see
    module)."""

    n_tables: int
    keys: np.ndarray  # int64, sorted
    counts: np.ndarray  # int64 per key
    first: np.ndarray  # int64 per key: index of its first training access
    table_start: np.ndarray  # int64 [n_tables + 1]: keys of table t are [start[t], start[t+1])
    rank: np.ndarray  # int64 per key: 0 = most accessed of its table
    order: np.ndarray  # int64 per key: 0 = first seen of its table
    by_order: np.ndarray  # int64: positions into keys, table by table, in order

    @classmethod
    def fit(cls, table: np.ndarray, row: np.ndarray, n_tables: int) -> "Vocabulary":
        """The vocabulary of the accesses ``(table, row)`` of a trace with ``n_tables``."""
        keys, first, counts = np.unique(vkeys(table, row), return_index=True,
                                        return_counts=True)
        return cls.from_counts(int(n_tables), keys, counts, first)

    @classmethod
    def from_counts(cls, n_tables: int, keys: np.ndarray, counts: np.ndarray,
                    first: np.ndarray) -> "Vocabulary":
        """The vocabulary of sorted distinct ``keys`` (vkeys) with their access ``counts``
        and the index of their ``first`` access."""
        keys, counts, first = (np.asarray(a, np.int64) for a in (keys, counts, first))
        tables = keys >> ROW_BITS
        table_start = np.searchsorted(tables, np.arange(n_tables + 1)).astype(np.int64)
        rank, _ = _positions(tables, (keys, -counts), table_start)  # ties: by key
        order, by_order = _positions(tables, (first,), table_start)
        return cls(n_tables, keys, counts, first, table_start, rank, order, by_order)

    def to_dict(self) -> dict:
        """What a checkpoint stores; :meth:`from_counts` rebuilds the rest."""
        return {"n_tables": self.n_tables, "keys": self.keys, "counts": self.counts,
                "first": self.first}

    def _seen(self, tables: np.ndarray) -> np.ndarray:
        return self.table_start[tables + 1] - self.table_start[tables]

    def _lookup(self, table, row):
        """``(position in keys, found)`` of each ``(table, row)``, and each one's table's
        number of seen vectors."""
        table = np.asarray(table, np.int64)
        k = vkeys(table, np.asarray(row, np.int64))
        pos = np.minimum(np.searchsorted(self.keys, k), max(self.keys.shape[0] - 1, 0))
        found = (self.keys[pos] == k) if self.keys.size else np.zeros(k.shape, bool)
        return pos, found, self._seen(np.clip(table, 0, self.n_tables - 1))

    def points(self, table: np.ndarray, row: np.ndarray) -> np.ndarray:
        """``[n, 2]`` float32 vector coordinates ``(table, order)`` of each access, in vector
        units (see module)."""
        pos, found, seen = self._lookup(table, row)
        return np.column_stack([np.asarray(table, np.float32),
                                np.where(found, self.order[pos], seen).astype(np.float32)])

    def point_scale(self) -> np.ndarray:
        """The span of the points: tables, and the most vectors seen in one table."""
        seen = self._seen(np.arange(self.n_tables))
        return np.array([self.n_tables, max(int(seen.max(initial=0)), 1)], np.float32)

    def features(self, table: np.ndarray, row: np.ndarray) -> np.ndarray:
        """``[n, N_FEATURES]`` float32 input features of each access (see module)."""
        pos, found, seen = self._lookup(table, row)
        seen = np.maximum(seen, 1)
        scale = np.log1p(self.counts.max()) if self.counts.size else 1.0
        columns = [(np.asarray(table, np.int64) + 0.5) / self.n_tables,
                   np.where(found, (self.rank[pos] + 0.5) / seen, 1.0),
                   np.where(found, np.log1p(self.counts[pos]) / scale, 0.0),
                   np.where(found, (self.order[pos] + 0.5) / seen, 1.0)]
        return np.column_stack(columns).astype(np.float32)

    def snap(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Nearest real vectors of ``[n, 2]`` points in vector units: ``(table, row)``
        arrays and a mask of the points that snapped (their table has vectors seen in
        training)."""
        points = np.asarray(points, np.float64).reshape(-1, 2)
        table = np.clip(np.rint(points[:, 0]), 0, self.n_tables - 1).astype(np.int64)
        seen = self._seen(table)
        ok = seen > 0
        table = table[ok]
        at = np.clip(np.rint(points[ok, 1]), 0, seen[ok] - 1).astype(np.int64)
        key = self.keys[self.by_order[self.table_start[table] + at]]
        return table, key & ((1 << ROW_BITS) - 1), ok


@dataclass
class RowIds:
    """The paper's encoding: table and raw row id (see module)."""

    n_tables: int
    row_scale: int  # 1 + the largest row of the training accesses
    cardinalities: np.ndarray  # int64 rows per table

    @classmethod
    def fit(cls, table: np.ndarray, row: np.ndarray, cardinalities) -> "RowIds":
        return cls(len(cardinalities), int(row.max(initial=0)) + 1,
                   np.asarray(cardinalities, np.int64))

    def to_dict(self) -> dict:
        return {"n_tables": self.n_tables, "row_scale": self.row_scale,
                "cardinalities": self.cardinalities}

    def features(self, table: np.ndarray, row: np.ndarray) -> np.ndarray:
        return np.column_stack([(np.asarray(table, np.float64) + 0.5) / self.n_tables,
                                np.asarray(row, np.float64) / self.row_scale]
                               ).astype(np.float32)

    def points(self, table: np.ndarray, row: np.ndarray) -> np.ndarray:
        return np.column_stack([table, row]).astype(np.float32)

    def point_scale(self) -> np.ndarray:
        return np.array([self.n_tables, self.row_scale], np.float32)

    def snap(self, points: np.ndarray):
        points = np.asarray(points, np.float64).reshape(-1, 2)
        table = np.clip(np.rint(points[:, 0]), 0, self.n_tables - 1).astype(np.int64)
        row = np.rint(points[:, 1])
        ok = (row >= 0) & (row < self.cardinalities[table])
        return table[ok], row[ok].astype(np.int64), ok


def fit_encoding(name: str, trace):
    """The encoding ``name`` (:data:`ENCODINGS`) of the accesses of ``trace``."""
    if name == "ids":
        return RowIds.fit(trace.table, trace.row, trace.cardinalities)
    return Vocabulary.fit(trace.table, trace.row, trace.n_tables)


def load_encoding(saved: dict):
    """The encoding saved by ``{"kind": name, **encoding.to_dict()}`` (tensors or arrays)."""
    v = {k: (x.numpy() if hasattr(x, "numpy") else x) for k, x in saved.items()}
    if v["kind"] == "ids":
        return RowIds(int(v["n_tables"]), int(v["row_scale"]), v["cardinalities"])
    return Vocabulary.from_counts(int(v["n_tables"]), v["keys"], v["counts"], v["first"])
