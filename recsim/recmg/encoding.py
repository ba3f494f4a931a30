"""What the RecMG models read and write: per-access input features and vector coordinates.

Both are defined by a :class:`Vocabulary` learnt from the *training* part of a trace only,
so evaluation never peeks at the future. It holds, for every vector seen in training
(keyed by ``(table, row)``), its access count and its *popularity rank* inside its table
(0 = the table's most accessed vector). Its size is the number of distinct vectors of the
training accesses, never a table's cardinality, so tables of billions of rows cost nothing.

Input of one access (:meth:`Vocabulary.features`): the table id, which the models embed
(``table % table_buckets``, 1024 buckets by default), and three numbers in [0, 1]:

- ``table / n_tables`` (the table coordinate);
- the rank coordinate ``rank / n_seen(table)`` (1.0 for a vector unseen in training);
- ``log1p(count) / log1p(max count)`` (0.0 when unseen).

The paper's models read the raw vector id (the authors encode ``row * 1000 + table``);
raw row ids of real traces are hashes with no order, so we replace the row by where the
vector stands in its table's popularity. That is what the caching label mostly depends on
(the optimum keeps popular vectors) and it gives nearby coordinates to vectors of like
popularity, which real and meta-like traces look up together.

Output of the prefetch model: points ``(table coordinate, rank coordinate)``. A point
*snaps* to a real vector (:meth:`Vocabulary.snap`): the table ``floor(x * n_tables)``
(clipped), then the vector of that table whose rank is nearest ``y * n_seen(table)``.
Every snapped vector is one seen in training; a table seen in no training access yields
nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ROW_BITS = 40  # vkey = table << ROW_BITS | row: rows below 2**40, tables below 2**23
N_FEATURES = 3


def vkeys(table: np.ndarray, row: np.ndarray) -> np.ndarray:
    """One int64 per ``(table, row)``, independent of the trace's table layout."""
    return (table.astype(np.int64) << ROW_BITS) | row.astype(np.int64)


@dataclass
class Vocabulary:
    """Vectors seen in training, sorted by ``vkey``, with counts and ranks (see module)."""

    n_tables: int
    keys: np.ndarray  # int64, sorted
    counts: np.ndarray  # int64 per key
    rank: np.ndarray  # int64 per key: 0 = most accessed of its table
    table_start: np.ndarray  # int64 [n_tables + 1]: keys of table t are [start[t], start[t+1])
    by_rank: np.ndarray  # int64: positions into keys, table by table, in rank order

    @classmethod
    def fit(cls, table: np.ndarray, row: np.ndarray, n_tables: int) -> "Vocabulary":
        """The vocabulary of the accesses ``(table, row)`` of a trace with ``n_tables``."""
        keys, counts = np.unique(vkeys(table, row), return_counts=True)
        return cls.from_counts(int(n_tables), keys, counts)

    @classmethod
    def from_counts(cls, n_tables: int, keys: np.ndarray, counts: np.ndarray) -> "Vocabulary":
        """The vocabulary of sorted distinct ``keys`` (vkeys) with their access ``counts``."""
        keys, counts = np.asarray(keys, np.int64), np.asarray(counts, np.int64)
        tables = keys >> ROW_BITS
        # rank inside the table: by count descending, then by key (np.lexsort: last key first)
        by_rank = np.lexsort((keys, -counts, tables)).astype(np.int64)
        table_start = np.searchsorted(tables, np.arange(n_tables + 1)).astype(np.int64)
        rank = np.empty(keys.shape[0], np.int64)
        rank[by_rank] = np.arange(keys.shape[0]) - table_start[tables[by_rank]]
        return cls(n_tables, keys, counts, rank, table_start, by_rank)

    def to_dict(self) -> dict:
        """What a checkpoint stores; :meth:`from_counts` rebuilds the rest."""
        return {"n_tables": self.n_tables, "keys": self.keys, "counts": self.counts}

    def _seen(self, tables: np.ndarray) -> np.ndarray:
        return self.table_start[tables + 1] - self.table_start[tables]

    def coordinates(self, table: np.ndarray, row: np.ndarray) -> np.ndarray:
        """``[n, 2]`` float32 (table coordinate, rank coordinate) of each access."""
        table = np.asarray(table, np.int64)
        out = np.empty((table.shape[0], 2), np.float32)
        out[:, 0] = (table + 0.5) / self.n_tables
        pos, found = self._lookup(table, row)
        seen = np.maximum(self._seen(np.clip(table, 0, self.n_tables - 1)), 1)
        out[:, 1] = np.where(found, (self.rank[pos] + 0.5) / seen, 1.0)
        return out

    def features(self, table: np.ndarray, row: np.ndarray) -> np.ndarray:
        """``[n, N_FEATURES]`` float32 input features of each access (see module)."""
        coords = self.coordinates(table, row)
        pos, found = self._lookup(np.asarray(table, np.int64), row)
        scale = np.log1p(self.counts.max()) if self.counts.size else 1.0
        count = np.where(found, np.log1p(self.counts[pos]) / scale, 0.0)
        return np.column_stack([coords, count.astype(np.float32)])

    def _lookup(self, table, row):
        k = vkeys(table, np.asarray(row, np.int64))
        pos = np.minimum(np.searchsorted(self.keys, k), max(self.keys.shape[0] - 1, 0))
        found = (self.keys[pos] == k) if self.keys.size else np.zeros(k.shape, bool)
        return pos, found

    def snap(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Nearest real vectors of ``[n, 2]`` points: ``(table, row)`` arrays and a mask of
        the points that snapped (their table has vectors seen in training)."""
        points = np.asarray(points, np.float64).reshape(-1, 2)
        table = np.clip(np.floor(points[:, 0] * self.n_tables), 0, self.n_tables - 1
                        ).astype(np.int64)
        seen = self._seen(table)
        ok = seen > 0
        r = np.clip(np.floor(points[:, 1] * seen), 0, np.maximum(seen - 1, 0)).astype(np.int64)
        pos = self.by_rank[np.minimum(self.table_start[table] + r, len(self.by_rank) - 1)]
        key = self.keys[pos] if self.keys.size else np.zeros(0, np.int64)
        return table[ok], (key & ((1 << ROW_BITS) - 1))[ok], ok
