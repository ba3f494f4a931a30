"""Trace statistics: reuse distances, reuse counts, skew, pooling and the LRU miss-ratio curve.

:func:`trace_stats` gathers everything below into one JSON-serialisable dict (what
``recsim trace stats`` prints) and :func:`plot_stats` draws it. Definitions and decisions:

- Reuse (LRU stack) distance of an access: the number of distinct *other* vectors
  accessed since the previous access of the same vector; -1 for a first access. Exact,
  O(N log N) time (:func:`reuse_distances`, an int32 Fenwick tree over access times, so
  fewer than 2**31 unique vectors), 12 bytes per access and 8 per vector of memory.
- Reuse-distance histogram (the RecMG paper's Fig. 3): bucket 0 holds distance 0 and
  bucket k >= 1 the distances in ``[2**(k-1), 2**k)``; labels ``"lo, hi"`` mean
  ``[lo, hi)``. First accesses are counted apart. ``frac_distance_above_2^20`` is the
  share of *all* accesses (first accesses included in the denominator, not in the
  numerator) whose distance is > 2**20.
- Reuse-count histograms follow Meta's ``locality_stats.json`` (dlrm_datasets): the
  reuse count of a vector is its number of accesses - 1, binned ``"0, 1"``, ``"1, 2"``,
  ``"2, 4"`` ... ``"16384, 32768"`` (each ``[lo, hi)``) and ``"32768+"``;
  ``frac_of_unique_by_reuse_count`` is the share of unique vectors per bin,
  ``frac_of_accesses_by_reuse_count`` the share of all accesses made to those vectors.
  As in that file, ``avg_reuse_per_unique`` is accesses / unique vectors (the mean number
  of accesses per vector, not the mean reuse count, which is one less).
- Zipf skew: ``alpha`` = minus the least-squares slope of log(access count) against
  log(rank) over ranks 1..min(U, 10000) of the vectors sorted by access count (rank 1 =
  the most accessed vector), all tables pooled; None when fewer than 2 vectors.
- Pooling factor at batch granularity: the number of lookups of each (inference batch,
  table) pair, over all ``batches x tables`` pairs (pairs with no lookup count as 0);
  quartiles by the inverted-CDF rule (numpy's ``method="inverted_cdf"``), so they are
  actual lookup counts; mean = accesses / (batches x tables).
- LRU miss-ratio curve, fully associative: an access hits a buffer of C vectors iff its
  distance is < C, so ``misses(C) = first accesses + accesses with distance >= C``
  (:func:`lru_misses`). The default grid is 1%, 2%, ..., 100% of unique vectors, a
  fraction f giving ``max(1, round(f * U))`` vectors as ``recsim simulate`` resolves it.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from recsim.files import atomic_output
from recsim.traces.tables import table_names

REUSE_COUNT_BINS = 17  # "0, 1", "1, 2", "2, 4", ..., "16384, 32768", "32768+"
ZIPF_FIT_RANKS = 10_000
FAR_DISTANCE = 1 << 20


@njit(cache=True)
def _reuse_distances(vids, n_vids):
    n = vids.shape[0]
    tree = np.zeros(n + 1, np.int32)  # Fenwick tree: 1 at each vector's latest access time
    last = np.full(n_vids, -1, np.int64)
    out = np.empty(n, np.int64)
    seen = 0  # distinct vectors so far = ones in the tree, all at times < t
    for t in range(n):
        v = vids[t]
        p = last[v]
        if p < 0:
            out[t] = -1
            seen += 1
        else:
            ones = 0  # ones at times <= p (p's own included)
            i = p + 1
            while i > 0:
                ones += tree[i]
                i -= i & -i
            out[t] = seen - ones
            i = p + 1
            while i <= n:
                tree[i] -= 1
                i += i & -i
        i = t + 1
        while i <= n:
            tree[i] += 1
            i += i & -i
        last[v] = t
    return out


def reuse_distances(vids, n_vids: int) -> np.ndarray:
    """Exact reuse (LRU stack) distance of every access of ``vids`` (dense ids in
    ``[0, n_vids)``): distinct other vectors accessed since the previous access of the
    same vector, -1 for a first access. int64, O(N log N) time, O(N) memory."""
    vids = np.ascontiguousarray(vids, dtype=np.int64)
    if vids.size and (vids.min() < 0 or vids.max() >= n_vids):
        raise ValueError(f"vids must lie in [0, {n_vids})")
    return _reuse_distances(vids, np.int64(n_vids))


def _bin_label(k: int) -> str:
    """``"lo, hi"`` of log2 bin k: ``[0, 1)`` for k = 0, ``[2**(k-1), 2**k)`` above."""
    return f"{0 if k == 0 else 1 << (k - 1)}, {1 << k}"


def _log2_bin(values: np.ndarray) -> np.ndarray:
    """Log2 bin of non-negative integers below 2**53: 0 for 0, k for ``[2**(k-1), 2**k)``."""
    return np.frexp(values.astype(np.float64))[1].astype(np.int64)


def reuse_distance_histogram(distances: np.ndarray) -> dict:
    """Log2-bucketed histogram of reuse distances (labels ``"lo, hi"`` = ``[lo, hi)``, up to
    the bucket of the largest distance), the number of first accesses, and the share of
    all accesses with distance > 2**20."""
    reused = distances[distances >= 0]
    counts = np.bincount(_log2_bin(reused))
    n = max(distances.shape[0], 1)
    return {
        "first_accesses": int(distances.shape[0] - reused.shape[0]),
        "counts": {_bin_label(k): int(c) for k, c in enumerate(counts)},
        "frac_distance_above_2^20": int(np.count_nonzero(reused > FAR_DISTANCE)) / n,
    }


def reuse_count_histograms(vids, n_vids: int) -> dict:
    """Meta's locality statistics (``locality_stats.json``): num_indices, num_unique,
    avg_reuse_per_unique (accesses / unique), unique_fraction, and the shares of unique
    vectors and of accesses by reuse count (accesses - 1) in the file's bins and labels.
    Vectors in ``[0, n_vids)`` that are never accessed are not counted."""
    counts = np.bincount(np.asarray(vids), minlength=n_vids)
    counts = counts[counts > 0]
    n, u = int(counts.sum()), int(counts.shape[0])
    bins = np.minimum(_log2_bin(counts - 1), REUSE_COUNT_BINS - 1)
    per_unique = np.bincount(bins, minlength=REUSE_COUNT_BINS) / max(u, 1)
    per_access = np.bincount(bins, weights=counts, minlength=REUSE_COUNT_BINS) / max(n, 1)
    labels = [_bin_label(k) for k in range(REUSE_COUNT_BINS - 1)]
    labels.append(f"{1 << (REUSE_COUNT_BINS - 2)}+")
    return {
        "num_indices": n,
        "num_unique": u,
        "avg_reuse_per_unique": n / max(u, 1),
        "unique_fraction": u / max(n, 1),
        "frac_of_unique_by_reuse_count": dict(zip(labels, per_unique.tolist())),
        "frac_of_accesses_by_reuse_count": dict(zip(labels, per_access.tolist())),
    }


def zipf_alpha(vids, n_vids: int, ranks: int = ZIPF_FIT_RANKS) -> float | None:
    """Zipf exponent: minus the least-squares slope of log(count) vs log(rank) over ranks
    1..min(U, ``ranks``) of the accessed vectors' counts, sorted in decreasing order.
    None when fewer than 2 vectors are accessed."""
    counts = np.bincount(np.asarray(vids), minlength=n_vids)
    top = np.sort(counts[counts > 0])[::-1][:ranks]
    if top.shape[0] < 2:
        return None
    slope = np.polyfit(np.log(np.arange(1, top.shape[0] + 1)), np.log(top), 1)[0]
    return float(-slope)


@njit(cache=True)
def _pair_lookups(table, batch_offsets, n_tables):
    """Histogram over (batch, table) pairs with >= 1 lookup of their lookup count."""
    count = np.zeros(n_tables, np.int64)
    longest = 0
    for b in range(batch_offsets.shape[0] - 1):
        longest = max(longest, batch_offsets[b + 1] - batch_offsets[b])
    hist = np.zeros(longest + 1, np.int64)
    for b in range(batch_offsets.shape[0] - 1):
        for i in range(batch_offsets[b], batch_offsets[b + 1]):
            count[table[i]] += 1
        for i in range(batch_offsets[b], batch_offsets[b + 1]):
            if count[table[i]] > 0:
                hist[count[table[i]]] += 1
                count[table[i]] = 0
    return hist


def lookups_per_batch_table(table, batch_offsets, n_tables: int) -> dict:
    """Pooling factor at batch granularity: min, quartiles (inverted-CDF rule), max and mean
    of the lookups of every (batch, table) pair, pairs without lookups counted as 0."""
    hist = _pair_lookups(np.ascontiguousarray(table, dtype=np.int64),
                         np.ascontiguousarray(batch_offsets, dtype=np.int64),
                         np.int64(n_tables))
    pairs = (len(batch_offsets) - 1) * n_tables
    hist[0] = pairs - hist[1:].sum()
    cum = np.cumsum(hist)
    q1, median, q3 = np.searchsorted(cum, np.array([0.25, 0.5, 0.75]) * pairs).tolist()
    nonzero = np.flatnonzero(hist)
    return {"min": int(nonzero[0]), "q1": q1, "median": median, "q3": q3,
            "max": int(nonzero[-1]), "mean": int(np.dot(hist, np.arange(hist.shape[0]))) / pairs}


def lru_misses(distances: np.ndarray, capacities) -> np.ndarray:
    """Misses of a fully associative LRU buffer of each of ``capacities`` vectors, from
    reuse distances: first accesses + accesses with distance >= C. int64 per capacity."""
    capacities = np.asarray(capacities, dtype=np.int64)
    if capacities.size and capacities.min() < 1:
        raise ValueError("capacities must be >= 1")
    cum = np.cumsum(np.bincount(distances + 1))  # cum[j]: accesses with distance < j
    hits = cum[np.minimum(capacities, cum.shape[0] - 1)] - cum[0]
    return distances.shape[0] - hits


def fraction_capacity(fraction: float, n_unique: int) -> int:
    """The vectors of a buffer of ``fraction`` of ``n_unique`` unique vectors (at least
    one): how every capacity given as a fraction or a percent is resolved."""
    return max(1, int(round(fraction * n_unique)))


def default_capacities(n_unique: int) -> tuple[list[float], list[int]]:
    """Fractions 1%, 2%, ..., 100% of unique vectors and their capacities."""
    fractions = [p / 100 for p in range(1, 101)]
    return fractions, [fraction_capacity(f, n_unique) for f in fractions]


def lru_miss_ratio_curve(distances: np.ndarray, n_unique: int) -> dict:
    """The fully associative LRU miss-ratio curve on the default capacity grid."""
    fractions, capacities = default_capacities(n_unique)
    misses = lru_misses(distances, capacities)
    return {"fraction": fractions, "capacity": capacities, "misses": misses.tolist(),
            "miss_ratio": (misses / max(distances.shape[0], 1)).tolist()}


def successor_accuracy(vids, table, n_vids: int) -> float | None:
    """Learnable order: a most-frequent-successor table is fitted on the first half of the
    trace (for each vector, the vector most often accessed next *in the same table*; ties
    go to the smaller id) and used to predict the exact next vector of the same table for
    each access of the second half; the share predicted right, over the second-half
    accesses that have a successor. None when none has."""
    vids, table = np.asarray(vids), np.asarray(table)
    order = np.argsort(table, kind="stable")
    same = table[order[1:]] == table[order[:-1]]
    src, dst, pos = vids[order[:-1]][same], vids[order[1:]][same], order[:-1][same]
    half = vids.shape[0] // 2
    test = pos >= half
    if not test.any():
        return None
    pairs, freq = np.unique(src[~test] * np.int64(n_vids) + dst[~test], return_counts=True)
    ranked = pairs[np.lexsort((pairs, -freq, pairs // n_vids))]  # most frequent first
    best = ranked[np.diff(ranked // n_vids, prepend=-1) != 0]
    predict = np.full(n_vids, -1, np.int64)
    predict[best // n_vids] = best % n_vids
    return float(np.mean(predict[src[test]] == dst[test]))


def per_table(trace) -> list[dict]:
    """Per table: its name (:func:`recsim.traces.tables.table_names`), declared
    cardinality, unique vectors touched and share of accesses."""
    dense = trace.dense()
    unique = np.bincount(np.searchsorted(trace.table_base, dense.keys, side="right") - 1,
                         minlength=trace.n_tables)
    share = np.bincount(trace.table, minlength=trace.n_tables) / trace.n_accesses
    return [{"table": t, "name": name, "cardinality": c, "unique": u, "access_share": s}
            for t, (name, c, u, s) in enumerate(zip(table_names(trace),
                                                    trace.cardinalities.tolist(),
                                                    unique.tolist(), share.tolist()))]


def trace_stats(trace) -> dict:
    """All statistics of ``trace`` (a :class:`~recsim.traces.Trace`) as plain Python types."""
    vid, n_unique = trace.vid, trace.n_unique
    distances = reuse_distances(vid, n_unique)
    return {
        "name": trace.name,
        "batches": trace.n_batches,
        "tables": trace.n_tables,
        **reuse_count_histograms(vid, n_unique),
        "zipf_alpha": zipf_alpha(vid, n_unique),
        "successor_accuracy": successor_accuracy(vid, trace.table, n_unique),
        "lookups_per_batch_table": lookups_per_batch_table(trace.table, trace.batch_offsets,
                                                           trace.n_tables),
        "reuse_distance": reuse_distance_histogram(distances),
        "lru_mrc": lru_miss_ratio_curve(distances, n_unique),
        "per_table": per_table(trace),
    }


def plot_stats(stats: dict, path) -> None:
    """One PNG of :func:`trace_stats` output: reuse-distance histogram, reuse-count
    histograms and the fully associative LRU miss-ratio curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_d, ax_r, ax_m) = plt.subplots(1, 3, figsize=(16, 4.5), dpi=110)
    rd = stats["reuse_distance"]
    labels = ["first"] + [label.split(",")[0] for label in rd["counts"]]
    counts = np.array([rd["first_accesses"], *rd["counts"].values()]) / stats["num_indices"]
    ax_d.bar(range(len(labels)), 100 * counts, color=["grey"] + ["C0"] * (len(labels) - 1))
    ax_d.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
    ax_d.set(xlabel="reuse distance (bucket lo = [lo, 2 lo); 0 = 0)", ylabel="accesses (%)",
             title="reuse distance")
    bins = list(stats["frac_of_unique_by_reuse_count"])
    x = np.arange(len(bins))
    ax_r.bar(x - 0.2, [100 * v for v in stats["frac_of_unique_by_reuse_count"].values()], 0.4,
             label="unique vectors")
    ax_r.bar(x + 0.2, [100 * v for v in stats["frac_of_accesses_by_reuse_count"].values()],
             0.4, label="accesses")
    ax_r.set_xticks(x, [b.split(",")[0] for b in bins], rotation=90, fontsize=7)
    ax_r.set(xlabel="reuse count = accesses - 1 (bin lo = [lo, 2 lo); 0 = 0)",
             ylabel="share (%)", title="reuse count")
    ax_r.legend()
    mrc = stats["lru_mrc"]
    ax_m.plot([100 * f for f in mrc["fraction"]], mrc["miss_ratio"])
    ax_m.set(xlabel="buffer size (% of unique vectors)", ylabel="miss ratio", ylim=(0, 1),
             title="LRU miss ratio (fully associative)")
    for ax in (ax_d, ax_r, ax_m):
        ax.grid(alpha=0.3)
    fig.suptitle(f"{stats['name']}: {stats['num_indices']:,} accesses, "
                 f"{stats['num_unique']:,} unique vectors")
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
