"""Past-only features and next-use labels of every access, in one compiled pass each.

The inputs follow LRB (Song, Berger, Li and Lloyd, "Learning Relaxed Belady for Content
Distribution Network Caching", NSDI'20; github.com/sunnyszy/lrb, ``src/caches/lrb.h``:
the last 32 inter-arrival deltas and 10 exponentially decayed counters, half-lives
``2^(9+i)``) cut to what an embedding buffer can keep per vector, plus what a DLRM trace
adds: the table (the analogue of the PC that Hawkeye and Mockingjay key on) and the batch.
Per access ``t`` of vector ``v`` (columns :data:`NAMES`):

* ``age``: ``log2(t - previous access of v)``, NaN at the first appearance;
* ``gap1`` .. ``gap4``: ``log2`` of the four inter-arrival gaps before that (NaN where
  the vector has fewer accesses);
* ``count_h8`` .. ``count_h20``: decayed access counts of ``v`` up to and including
  ``t``, half-lives ``2^8``, ``2^12``, ``2^16``, ``2^20`` accesses (LRB's EDCs, whose
  half-lives run ``2^9`` .. ``2^18``; the longest stands for a frequency count);
* ``table``: the table id (a categorical feature);
* ``table_reuse``: the share of the table's recent accesses (an average that halves
  every ``2^12`` accesses of the table) that re-used a vector seen within
  ``RECENT = 2^16`` accesses;
* ``prev_batch``: 1 if ``v`` was accessed in the previous batch;
* ``batch_recent``: the share of this batch's accesses before ``t`` (``t`` included) whose
  vector was seen within ``RECENT`` accesses (a prefix of the batch: strictly the past);
* ``first``: 1 at the vector's first appearance.

No vector identity is an input, so a model transfers to vectors it never saw. Every
feature of access ``t`` reads only accesses ``0 .. t`` (tested by changing the future).

Labels (:func:`labels`): ``log2`` of the distance to the next use, clipped at the horizon
``H`` (LRB's regression target; a vector never used again gets ``log2 H``).
:func:`opt_hits`: whether Belady's MIN, fully associative at a given capacity, keeps the
vector until its next use (OPTgen's label, Hawkeye and Mockingjay).
"""

from __future__ import annotations

import numpy as np
from numba import njit

NAMES = ("age", "gap1", "gap2", "gap3", "gap4", "count_h8", "count_h12", "count_h16",
         "count_h20", "table", "table_reuse", "prev_batch", "batch_recent", "first")
TABLE = NAMES.index("table")
GAPS = 4
HALF_LIVES = (2.0 ** 8, 2.0 ** 12, 2.0 ** 16, 2.0 ** 20)
RECENT = 1 << 16
TABLE_HALF_LIFE = 2.0 ** 12


@njit(cache=True)
def _compute(vids, tables, batch_offsets, n_vids, n_tables):
    n = vids.shape[0]
    out = np.full((n, len(NAMES)), np.nan, np.float32)
    last = np.full(n_vids, -1, np.int64)
    gaps = np.zeros((n_vids, GAPS), np.int64)  # the vector's last gaps, newest first
    n_gaps = np.zeros(n_vids, np.int64)
    counts = np.zeros((n_vids, len(HALF_LIVES)), np.float64)
    last_batch = np.full(n_vids, -1, np.int64)
    reuse = np.zeros(n_tables, np.float64)
    half = np.array(HALF_LIVES)
    keep_table = 0.5 ** (1.0 / TABLE_HALF_LIFE)
    batch = 0
    recent_in_batch = 0
    for t in range(n):
        while batch_offsets[batch + 1] <= t:
            batch += 1
            recent_in_batch = 0
        v, tb = vids[t], tables[t]
        prev = last[v]
        age = t - prev
        recent = prev >= 0 and age <= RECENT
        if prev >= 0:
            out[t, 0] = np.log2(age)
            for k in range(n_gaps[v]):
                out[t, 1 + k] = np.log2(gaps[v, k])
            for k in range(GAPS - 1, 0, -1):
                gaps[v, k] = gaps[v, k - 1]
            gaps[v, 0] = age
            n_gaps[v] = min(n_gaps[v] + 1, GAPS)
        for k in range(len(HALF_LIVES)):
            decay = 0.5 ** (age / half[k]) if prev >= 0 else 0.0
            counts[v, k] = counts[v, k] * decay + 1.0
            out[t, 5 + k] = counts[v, k]
        out[t, TABLE] = tb
        reuse[tb] = reuse[tb] * keep_table + (1.0 - keep_table) * (1.0 if recent else 0.0)
        out[t, TABLE + 1] = reuse[tb]
        out[t, TABLE + 2] = 1.0 if last_batch[v] == batch - 1 and batch > 0 else 0.0
        recent_in_batch += 1 if recent else 0
        out[t, TABLE + 3] = recent_in_batch / (t - batch_offsets[batch] + 1)
        out[t, TABLE + 4] = 1.0 if prev < 0 else 0.0
        last[v] = t
        last_batch[v] = batch
    return out


def features(vids, tables, batch_offsets, n_vids: int, n_tables: int) -> np.ndarray:
    """The ``(accesses, len(NAMES))`` float32 feature matrix (see module)."""
    return _compute(np.asarray(vids, np.int64), np.asarray(tables, np.int64),
                    np.asarray(batch_offsets, np.int64), int(n_vids), int(max(n_tables, 1)))


def labels(next_use: np.ndarray, horizon: int) -> np.ndarray:
    """``log2(min(next use - t, horizon))`` per access ``t`` (float32), from the trace's
    next-use times (:func:`recsim.traces.nextuse.next_use`; never used again: the
    horizon)."""
    distance = np.minimum(next_use - np.arange(next_use.shape[0]), horizon)
    return np.log2(distance).astype(np.float32)


@njit(cache=True)
def _opt_hits(vids, n_vids, capacity):
    n = vids.shape[0]
    size = 1
    while size < max(n, 1):
        size *= 2
    top = np.zeros(2 * size, np.int64)  # max occupancy under a node, its pending adds included
    add = np.zeros(2 * size, np.int64)  # an add pending over a node's whole range
    hit = np.zeros(n, np.uint8)
    last = np.full(n_vids, -1, np.int64)
    for t in range(n):
        prev = last[vids[t]]
        last[vids[t]] = t
        if prev < 0:
            continue
        lo, hi, best = prev + size, t + size, np.int64(0)
        while lo < hi:  # max over [prev, t): the nodes covering it, then their ancestors' adds
            if lo & 1:
                best = max(best, _above(top, add, lo, size))
                lo += 1
            if hi & 1:
                hi -= 1
                best = max(best, _above(top, add, hi, size))
            lo >>= 1
            hi >>= 1
        if best >= capacity:
            continue
        hit[prev] = 1
        lo, hi = prev + size, t + size
        left, right = lo, hi - 1
        while lo < hi:
            if lo & 1:
                top[lo] += 1
                add[lo] += 1
                lo += 1
            if hi & 1:
                hi -= 1
                top[hi] += 1
                add[hi] += 1
            lo >>= 1
            hi >>= 1
        for p in (left, right):
            p >>= 1
            while p >= 1:
                top[p] = max(top[2 * p], top[2 * p + 1]) + add[p]
                p >>= 1
    return hit


@njit(cache=True)
def _above(top, add, node, size):
    """A node's maximum with the adds pending at its ancestors."""
    value = top[node]
    node >>= 1
    while node >= 1:
        value += add[node]
        node >>= 1
    return value


def opt_hits(vids, n_vids: int, capacity: int) -> np.ndarray:
    """Per access ``t``: 1 if Belady's MIN with ``capacity`` vectors, fully associative and
    demand only, keeps the vector from ``t`` to its next use (a hit there), else 0 (no
    next use included). OPTgen (Jain and Lin, ISCA'16; ``policies/hawkeye.py`` runs it
    per sampled set with a bounded history): at each reuse ``t'`` of a vector last used
    at ``t``, MIN hits iff fewer than ``capacity`` of the intervals it kept overlap every
    point of ``[t, t')``; then it keeps this one. Here the history is unbounded and the
    occupancy a segment tree (range add, range max: O(log n) per access), so the hits
    total Belady's. The label of ``t`` is known at ``t'``, strictly from the past then."""
    return _opt_hits(np.asarray(vids, np.int64), int(n_vids), int(capacity))
