"""``meta-like``: synthetic traces with the statistics of Meta's 2021 embedding-lookup files.

Meta's released ``fbgemm_t856_bs65536_{0..3}.pt`` traces (468M lookups over 856 tables,
``../shared/data/real/locality_stats.json``) are not reachable here; this generator makes
traces that share their published statistics and adds the temporal structure that
learned caching and prefetching feed on. A trace is a pure function of its parameters.

Construction (each knob is a parameter of :func:`generate`):

1. **Access counts.** Every vector's number of accesses is fixed up front so that the
   reuse-count histograms (reuse count = accesses - 1, in Meta's log2 bins) are those of
   the 2021 ``_N`` files: :data:`META_2021` holds their share of *accesses* per bin
   (:func:`access_counts` takes another profile). Inside a bin the counts follow
   ``P(c) ∝ c**-2`` (an access share flat in log c, i.e. a Zipf rank-frequency law of
   exponent 1, as the flat middle of the profile shows; this law reproduces the files'
   unique-vector shares in every bin to within 0.005). The top bin is capped at 4 x its
   lower edge. Counts are assigned by quantiles, not drawn, so the histograms hold at every
   scale; the largest counts absorb the rounding so the trace has exactly ``accesses``
   lookups. The unique fraction follows (13.2% for the default profile).
2. **Tables.** ``tables`` tables (default 856, as the files) get lognormal shares of the
   vectors (``table_sigma``, heavy-tailed cardinalities); counts are shuffled across
   tables, so popularity inside each table is the same power law. A table touches a
   random ``row_fill`` share of its rows.
3. **Pooling and recurring order.** Each table has a pooling factor, lognormal with median
   ``pooling_median`` and log-sd ``pooling_sigma``, clipped to ``[1, pooling_max]``. A
   table's vectors, sorted by access count, are cut into *motifs* of that many vectors
   (vectors of like popularity: items users of one interest look at together). The
   ``j``-th occurrence of a motif is one bag that looks its members up in a fixed order,
   keeping those with more than ``j`` accesses; so bags recur in the same order, and a
   vector's successor in its table is mostly predictable.
4. **Interests, visits and drift.** Motifs of ``interest_tables`` different-table
   neighbours in popularity form an *interest*: their bags occur at the interest's shared
   times, so related vectors of several tables are looked up in the same batches. An
   interest with ``M`` bags is visited ``S = min(M, visits)`` times, one visit in each of
   ``S`` equal slots of its lifetime; its bags are spread evenly over the visits, those of
   one visit within ``visit_span`` of the trace. The lifetime is ``min(1, S / visits x
   lognormal(0, visit_sigma))`` of the trace, placed uniformly: popular interests are
   revisited steadily all along, rare ones live briefly (popularity drifts), and every
   interest comes back about every ``1 / visits`` of the trace. These regular revisits
   are what separates Belady from LRU: most reuse lands a little beyond an LRU buffer of
   10% of the vectors, where an oracle can keep a part of it and LRU keeps none.
5. **Batches.** Bags are ordered by time and cut into inference batches of about
   ``batch_size`` lookups (a bag is never split); inside a batch the bags are table-major
   (all of table 0's bags in time order, then table 1, ...), as FBGEMM's table-batched
   lookup and Meta's files order them.

Calibration (``benchmarks/trace_realism.py``, docs/traces.md): at the defaults the histograms match
the 2021 files to 0.003, about 35% of accesses have a reuse distance beyond the scaled
``2**20`` (the paper reports about 20% on the real traces; Belady can lead LRU by 30% at
a 10% buffer only if at least ``0.87 - 0.87 / 1.3 = 20%`` of accesses miss LRU beyond the
compulsory 13.2%, which forces at least that share of long reuse), Belady leads LRU by
about 35%, and a most-frequent-successor table predicts about half of the next lookups
of a table. ``visits`` trades the two: 12 gives 31% far reuse and a 29% lead, 24 gives
38% and 36%.

Scale rule: counts are absolute and lifetimes are shares of the trace, so unique fraction
and both reuse-count histograms hold at any size with more than a few million lookups
(below that the top bins hold less than one vector each), while reuse *distances* grow in
proportion to the trace: the share of accesses with distance above ``2**20 * accesses /
FULL_SCALE`` is the scale-free version of the files' share above ``2**20``.

Memory: bag occurrences (about 0.45 per access) take about 40 bytes each at the peak, on
top of the output's 12 bytes per access (memory-mapped with ``path``); measured 1.5 GB
resident at 32M accesses and 24 GB at 400M, mapped output pages included.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from recsim.plugin import Float, Int, check_params
from recsim.traces import native

NAME = "meta-like"
FULL_SCALE = 468_084_223  # lookups in fbgemm_t856_bs65536_0.pt, the first 2021 _N file

# Share of accesses by reuse count of fbgemm_t856_bs65536_{0..3}.pt (the 2021 _N files),
# bins "0, 1", "1, 2", "2, 4", ..., "16384, 32768", "32768+" (locality_stats.json).
META_2021 = (0.056, 0.043, 0.075, 0.099, 0.112, 0.091, 0.064, 0.052, 0.049, 0.05, 0.054,
             0.058, 0.061, 0.052, 0.038, 0.026, 0.02)
TOP_BIN_SPAN = 4  # the open top bin holds reuse counts in [lo, TOP_BIN_SPAN * lo)


def _positive(default, help, hi=None):
    return Float(default, lo=0, hi=hi, open_lo=True, help=help)


PARAMS = {
    "accesses": Int(None, lo=1, help="lookups in the trace"),
    "seed": Int(0, lo=0, help="random seed"),
    "tables": Int(856, lo=1, help="embedding tables"),
    "batch_size": Int(4096, lo=1, help="lookups per inference batch (about)"),
    "table_sigma": _positive(2.0, "log-sd of the tables' lognormal shares of the vectors"),
    "row_fill": _positive(0.5, "share of a table's rows that are touched", hi=1.0),
    "pooling_median": _positive(4.0, "median pooling factor (vectors per motif)"),
    "pooling_sigma": _positive(1.0, "log-sd of the pooling factor"),
    "pooling_max": Int(256, lo=1, help="largest pooling factor"),
    "interest_tables": Int(4, lo=1, help="tables whose motifs form one interest"),
    "visits": Int(16, lo=1, help="visits of a popular interest over the trace"),
    "visit_sigma": _positive(0.5, "log-sd of an interest's lifetime"),
    "visit_span": _positive(1e-4, "share of the trace that one visit spans", hi=1.0),
}


def _bin_counts(k: int) -> np.ndarray:
    """Access counts in reuse-count bin ``k`` (count = reuse + 1)."""
    lo = 0 if k == 0 else 1 << (k - 1)
    hi = 1 if k == 0 else (lo * TOP_BIN_SPAN if k == len(META_2021) - 1 else 2 * lo)
    return np.arange(lo + 1, hi + 1, dtype=np.float64)


def access_counts(accesses: int, profile=META_2021) -> np.ndarray:
    """Per-vector access counts (int64, descending) summing to ``accesses`` whose shares of
    accesses per reuse-count bin are ``profile`` (step 1 of the module docstring)."""
    profile = np.asarray(profile, dtype=np.float64) / np.sum(profile)
    parts = []
    for k, share in enumerate(profile):
        c = _bin_counts(k)
        pmf = c ** -2.0 / np.sum(c ** -2.0)
        n = share * accesses / np.dot(pmf, c)  # vectors in this bin
        cut = np.cumsum(pmf)
        cut[-1] = 1.0
        q = (np.arange(int(round(n))) + 0.5) / max(int(round(n)), 1)
        parts.append(c[np.searchsorted(cut, q, side="left")].astype(np.int64))
    counts = np.sort(np.concatenate(parts + [np.ones(1, np.int64)]))[::-1]
    extra = accesses - int(counts.sum())  # rounding: the largest counts absorb it
    while extra < 0 and counts[0] + extra < counts[0] // 2:
        extra += int(counts[0])
        counts = counts[1:]
    top = max(1, int(np.count_nonzero(counts >= counts[0] // 2)))
    counts[:top] += extra // top
    counts[: extra % top] += 1
    return counts


@njit(cache=True)
def _interest_times(start, life, n_occ, visits, span, u_visit, u_occ):
    """Occurrence times of every interest (concatenated, ``n_occ[g]`` each): ``S =
    min(M, visits)`` visits, one uniform in each of ``S`` equal slots of the interest's
    window; occurrence ``i`` of ``M`` falls in visit ``i * S // M``, uniform within
    ``span`` of the visit's time."""
    out = np.empty(u_occ.shape[0], np.float64)
    k, v = 0, 0
    for g in range(start.shape[0]):
        m = n_occ[g]
        s = min(m, visits)
        for i in range(m):
            c = start[g] + life[g] * ((i * s) // m + u_visit[v + (i * s) // m]) / s
            out[k + i] = c + span * (u_occ[k + i] - 0.5) if m > s else c
        k += m
        v += s
    return out


@njit(cache=True)
def _occurrences(group_first, group_occ, group_time, motif_group, motif_occ):
    """(time, motif, j) of every bag: motif ``mo`` of ``m`` occurrences in an interest of
    ``M`` takes the interest's occurrence times ``floor(j * M / m)``, j < m."""
    n = 0
    for mo in range(motif_occ.shape[0]):
        n += motif_occ[mo]
    time = np.empty(n, np.float64)
    motif = np.empty(n, np.int32)
    occ = np.empty(n, np.int32)
    k = 0
    for mo in range(motif_occ.shape[0]):
        g, m = motif_group[mo], motif_occ[mo]
        for j in range(m):
            time[k] = group_time[group_first[g] + (j * group_occ[g]) // m]
            motif[k] = mo
            occ[k] = j
            k += 1
    return time, motif, occ


@njit(cache=True)
def _bag_sizes(motif, occ, motif_first, member_count):
    """Lookups in each occurrence: members (sorted by count, descending) with count > j."""
    out = np.empty(motif.shape[0], np.int32)
    for i in range(motif.shape[0]):
        a, b, j = motif_first[motif[i]], motif_first[motif[i] + 1], occ[i]
        n = 0
        while a + n < b and member_count[a + n] > j:
            n += 1
        out[i] = n
    return out


@njit(cache=True)
def _emit(order, motif, occ, motif_first, member_count, member_table, member_row,
          out_table, out_row):
    """Write the lookups of the bags ``order[0], order[1], ...``."""
    k = 0
    for i in order:
        a, b, j = motif_first[motif[i]], motif_first[motif[i] + 1], occ[i]
        while a < b and member_count[a] > j:
            out_table[k] = member_table[a]
            out_row[k] = member_row[a]
            k += 1
            a += 1


def check(**params) -> dict:
    """The parameters (:data:`PARAMS`) with their defaults, checked and typed."""
    return check_params(f"generator '{NAME}'", PARAMS, params)


def generate(accesses: int, path=None, **params):
    """A meta-like trace of ``accesses`` lookups (parameters: :func:`check`, meanings: the
    module docstring); written to the native directory ``path`` and opened from there
    when ``path`` is given, else returned in memory."""
    p = check(accesses=accesses, **params)
    rng = np.random.default_rng(p["seed"])
    T = p["tables"]

    counts = access_counts(p["accesses"])
    U = counts.shape[0]
    rng.shuffle(counts)
    share = rng.lognormal(0.0, p["table_sigma"], T)
    per_table = np.floor(share / share.sum() * U).astype(np.int64)
    per_table[np.argsort(-share)[: U - per_table.sum()]] += 1
    table_of = np.repeat(np.arange(T, dtype=np.int32), per_table)
    cardinalities = np.maximum(1, np.ceil(per_table / p["row_fill"])).astype(np.int64)
    row_of = np.concatenate([rng.choice(c, n, replace=False) for c, n in
                             zip(cardinalities.tolist(), per_table.tolist())]).astype(np.int64)

    # motifs: a table's vectors by descending count, cut into pooling-factor runs
    pooling = np.clip(np.rint(p["pooling_median"] * rng.lognormal(0.0, p["pooling_sigma"], T)),
                      1, p["pooling_max"]).astype(np.int64)
    order = np.lexsort((-counts, table_of))
    counts, table_of, row_of = counts[order], table_of[order], row_of[order]
    first = np.concatenate(([0], np.cumsum(per_table)[:-1]))
    rank = np.arange(U) - np.repeat(first, per_table)
    motif_key = np.repeat(np.arange(T), per_table) * U + rank // np.repeat(pooling, per_table)
    new_motif = np.concatenate(([True], motif_key[1:] != motif_key[:-1]))
    motif_first = np.append(np.flatnonzero(new_motif), U)
    motif_occ = counts[motif_first[:-1]]
    motif_table = table_of[motif_first[:-1]]
    n_motifs = motif_occ.shape[0]

    # interests: motifs of similar popularity from different tables share times
    by_pop = np.lexsort((rng.random(n_motifs), -motif_occ))
    motif_group = np.empty(n_motifs, np.int64)
    motif_group[by_pop] = np.arange(n_motifs) // p["interest_tables"]
    n_groups = int(motif_group.max()) + 1
    gmax = np.zeros(n_groups, np.int64)
    np.maximum.at(gmax, motif_group, motif_occ)
    visits = np.minimum(gmax, p["visits"])
    life = np.minimum(1.0, visits / p["visits"] * rng.lognormal(0.0, p["visit_sigma"], n_groups))
    start = rng.random(n_groups) * (1.0 - life)
    group_time = _interest_times(start, life, gmax, p["visits"], p["visit_span"],
                                 rng.random(int(visits.sum())), rng.random(int(gmax.sum())))
    group_first = np.concatenate(([0], np.cumsum(gmax)[:-1]))
    time, motif, occ = _occurrences(group_first, gmax, group_time, motif_group, motif_occ)

    by_time = np.argsort(time, kind="stable")
    del time
    motif, occ = motif[by_time], occ[by_time]  # bags in time order
    del by_time
    sizes = _bag_sizes(motif, occ, motif_first, counts)
    batch = (np.cumsum(sizes) - sizes) // p["batch_size"]
    n_batches = int(batch[-1]) + 1
    batch_offsets = np.concatenate(([0], np.cumsum(np.bincount(
        batch, weights=sizes, minlength=n_batches)))).astype(np.int64)
    del sizes
    order = np.argsort(batch * T + motif_table[motif], kind="stable")  # table-major batches
    del batch

    def fill(out_table, out_row):
        _emit(order, motif, occ, motif_first, counts, table_of, row_of, out_table, out_row)

    meta = {"name": NAME, "provenance": {"generator": NAME, **p}}
    return native.generated(fill, p["accesses"], batch_offsets, cardinalities, meta, path)
