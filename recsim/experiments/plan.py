"""``recsim plan``: split an HBM budget across per-table embedding caches to minimise
total misses, as TorchRec's planner picks a cache load factor per table.

Each table ``t`` gets its own fully associative LRU buffer of ``c_t`` rows of
``row_bytes[t]`` bytes, ``sum c_t * row_bytes[t] <= budget``. Its misses ``m_t(c)`` come
from one pass (:func:`recsim.engine.mrc.table_curves`, exact). The split is the greedy walk on
the upper concave hulls of the hit curves (Fox, "Discrete optimization via marginal
analysis", 1966): every hull segment of every table is a step of ``dc`` rows gaining
``dh`` hits, taken whole in order of hits per byte while it fits; a step that does not fit
closes its table (its later steps need it), and cheaper steps of other tables may still
fill the rest. Hull vertices keep collinear points, so where a curve is concave each
step is one row and the walk is the optimal marginal allocation; a longer step spans a
non-concave stretch (say a loop of k rows that gains only once all k fit), where a part
would gain less than its share, hence whole steps only. Exact optimisation (a knapsack
over 856 curves) is not attempted.

It is compared with one shared buffer of the whole budget (one LRU over all tables, from
the trace's reuse distances) and with TorchRec's default, one load factor for every table
(``clf = budget / sum(height_t * row_bytes[t])``, at most 1: a budget beyond every
table, ``budget_holds_all``, caches every row). Each miss rate gets an estimated
latency from a calibration (:mod:`recsim.latency`). Then the plan is replayed table by
table through the engine: fully associative buffers must give the predicted misses
(they do: the curves are exact), and 32-way buffers of the same capacities (recsim's
set hash; a table under 32 rows is one set) show the set-associative deviation.

``--policy NAME`` (any policy) or ``--sample R``: each table's curve is instead the
policy's, from sampled replays of the table alone (:func:`sampled_hits`; miniature
simulations, :mod:`recsim.engine.sample`), planned on as on LRU's exact curves; the
replay (in full) then reports the prediction's error (replayed minus predicted fully
associative misses, over the accesses). The shared buffer is then a sampled replay of
the policy too.

Row sizes: ``dim`` values of ``dtype`` (fp32 4 bytes, fp16 2, int8 1, int4 1/2, int2
1/4), rounded up to whole bytes; FBGEMM's row padding and quantisation parameters are
not modelled. Each table's dim and dtype come from the trace's ``table_info``
(:mod:`recsim.traces.tables`: a capture or a TorchRec import) where it has them, else
from ``--dim``/``--dtype`` (:func:`table_row_bytes`). With mixed row sizes the shared
buffer's slots are as wide as the widest row (FBGEMM's one cache for a table-batched
module keeps slots of its largest dimension), so it holds ``budget // max row`` rows.
"""

from __future__ import annotations

import time

import numpy as np
from numba import njit

from recsim.engine.mrc import table_curves
from recsim.engine.replay import replay, simulate
from recsim.engine.sample import sampled_mrc
from recsim.engine.settings import check_rate
from recsim.errors import ConfigError
from recsim.experiments.latency import estimate_ms
from recsim.traces import Trace
from recsim.traces.stats import lru_misses, reuse_distances
from recsim.traces.tables import table_names
from recsim.traces.trace import DenseIds

DTYPE_BITS = {"fp32": 32, "fp16": 16, "int8": 8, "int4": 4, "int2": 2}


def row_bytes(dim: int, dtype: str) -> int:
    """Bytes of one row of ``dim`` values of ``dtype``."""
    if dtype not in DTYPE_BITS:
        raise ConfigError(f"dtype: expected one of {', '.join(DTYPE_BITS)}, got {dtype!r}")
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
        raise ConfigError(f"dim: expected a positive integer, got {dim!r}")
    return -(-dim * DTYPE_BITS[dtype] // 8)


def table_row_bytes(trace, dim: int | None, dtype: str) -> np.ndarray:
    """Bytes of a row of each table: its ``table_info`` dim and dtype where the trace
    has them, else ``dim`` and ``dtype`` (a table with neither is a ConfigError)."""
    info = trace.meta.get("table_info") or [{}] * trace.n_tables
    sizes = []
    for name, t in zip(table_names(trace), info):
        if t.get("dim") is None and dim is None:
            raise ConfigError(f"dim: table {name!r} has no dimension in the trace's "
                              "metadata; expected --dim")
        sizes.append(row_bytes(t.get("dim") or dim, t.get("dtype") or dtype))
    return np.array(sizes, np.int64)


@njit(cache=True)
def _upper_hull(h, out):
    """Vertices (as x = 0..len(h)-1) of the upper concave hull of ``(x, h[x])`` into
    ``out``; returns how many (Andrew's monotone chain, upper half)."""
    n = 0
    for x in range(h.shape[0]):
        while n >= 2:
            a, b = out[n - 2], out[n - 1]
            # drop b if it lies below the line from a to x (collinear points stay)
            if (h[b] - h[a]) * (x - a) < (h[x] - h[a]) * (b - a):
                n -= 1
            else:
                break
        out[n] = x
        n += 1
    return n


def greedy_split(hits: list, row_size: np.ndarray, budget: int) -> np.ndarray:
    """Rows per table from the greedy walk on the hulls of ``hits`` (module docstring)."""
    seg_table, seg_rows, seg_gain = [], [], []
    for t, h in enumerate(hits):
        if h.shape[0] < 2:
            continue
        out = np.empty(h.shape[0], np.int64)
        v = out[:_upper_hull(h, out)]
        seg_table.append(np.full(v.shape[0] - 1, t))
        seg_rows.append(np.diff(v))
        seg_gain.append(np.diff(h[v]))
    rows = np.zeros(len(hits), np.int64)
    if not seg_table:
        return rows
    table, dc = np.concatenate(seg_table), np.concatenate(seg_rows)
    dh = np.concatenate(seg_gain)
    rate = dh / (dc * row_size[table])
    order = np.lexsort((np.arange(rate.shape[0]), -rate))  # a table's segments stay in order
    closed = np.zeros(len(hits), np.bool_)
    left = budget
    for i in order:
        t = table[i]
        cost = dc[i] * row_size[t]
        if closed[t] or dh[i] <= 0 or cost > left:
            closed[t] = True
            continue
        rows[t] += dc[i]
        left -= cost
    return rows


def _table_trace(trace, curves, keys, t) -> Trace:
    """Table ``t``'s accesses alone, with their dense ids (no remap)."""
    lo, hi = curves.starts[t], curves.starts[t + 1]
    base = trace.table_base
    first, last = np.searchsorted(keys, [base[t], base[t] + trace.table_rows[t]])
    idx = curves.order[lo:hi]
    return Trace(np.zeros(hi - lo, np.int32), np.asarray(trace.key_rows())[idx],
                 np.array([0, hi - lo]), trace.table_rows[t:t + 1],
                 _dense=DenseIds(np.asarray(trace.dense().vid)[idx] - first,
                                 keys[first:last] - base[t]))


# Sizes (fractions of a table's rows) of the sampled curves of ``plan --policy``, between
# which hits are interpolated linearly; a table whose sample would hold fewer than
# MIN_SAMPLED accesses is replayed in full at them instead.
PLAN_SIZES = (0.005, 0.01, 0.02, 0.03, 0.05, 0.07, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.7, 1.0)
MIN_SAMPLED = 1_000


def sampled_hits(trace, curves, policy: str, rate: float, salt: int = 0,
                 params: dict | None = None) -> None:
    """Replace each table's exact LRU hit curve in ``curves`` by ``policy``'s, from
    sampled replays of the table alone (a fully associative buffer;
    :func:`recsim.engine.sample.sampled_mrc`) at :data:`PLAN_SIZES`, interpolated."""
    keys = np.asarray(trace.dense().keys)
    for t in range(trace.n_tables):
        unique, accesses = int(curves.unique[t]), int(curves.accesses[t])
        if accesses == 0:
            continue
        caps = sorted({max(1, round(f * unique)) for f in PLAN_SIZES})
        r = rate if accesses * rate >= MIN_SAMPLED else 1.0
        curve = sampled_mrc(replay, _table_trace(trace, curves, keys, t), policy, caps, r, 0,
                            salt=salt, policy_params=params)
        hits = accesses * (1 - np.asarray(curve["miss_ratio"]))
        curves.hits[t] = np.round(np.interp(np.arange(unique + 1), [0, *caps], [0, *hits])
                                  ).astype(np.int64)


def plan(trace, budget: int, row_size: int, calibration: dict | None = None,
         ways: int = 32, verify: bool = True, policy: str = "lru", sample: float = 1.0,
         salt: int = 0, policy_params: dict | None = None) -> dict:
    """The per-table split, its comparison with a shared and a uniform buffer, and the
    replay check (module docstring); ``row_size``: bytes of a row, one for every table or
    one each (:func:`table_row_bytes`). With another ``policy`` or a ``sample`` rate below
    1, the curves are the policy's from sampled replays (:func:`sampled_hits`)."""
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget < 1:
        raise ConfigError(f"budget: expected a positive number of bytes, got {budget!r}")
    timings = {}
    start = time.perf_counter()
    curves = table_curves(trace)
    sampled = policy != "lru" or check_rate(sample) < 1
    if sampled:
        sampled_hits(trace, curves, policy, sample, salt, policy_params)
    n, heights = trace.n_accesses, trace.table_rows.astype(np.int64)
    sizes = np.broadcast_to(np.asarray(row_size, np.int64), (trace.n_tables,)).copy()
    timings["curves_s"] = time.perf_counter() - start

    start = time.perf_counter()
    rows = greedy_split(curves.hits, sizes, int(budget))
    total = int((heights * sizes).sum())
    clf = min(budget / float(total), 1.0)  # a load factor past 1 holds nothing more
    uniform = np.minimum(np.floor(clf * heights).astype(np.int64), heights)
    shared_rows = int(budget // sizes.max())
    shared = _shared_misses(trace, shared_rows, sampled and (policy, sample, salt,
                                                             policy_params))
    timings["split_s"] = time.perf_counter() - start

    def summary(misses, bytes_used):
        out = {"misses": int(misses), "miss_ratio": misses / n, "bytes": int(bytes_used)}
        if calibration is not None:
            out["est_latency_ms"] = estimate_ms(calibration, misses / n)
        return out

    predicted = [round(curves.misses(t, int(rows[t]))) for t in range(trace.n_tables)]
    result = {
        "accesses": n, "tables": trace.n_tables, "budget_bytes": int(budget),
        "row_bytes": sizes.tolist() if np.ndim(row_size) else int(row_size),
        "table_names": table_names(trace), "table_bytes": total,
        "budget_holds_all": budget >= total,
        "plan": {**summary(sum(predicted), (rows * sizes).sum()),
                 "rows": rows.tolist(), "load_factor": (rows / heights).tolist(),
                 "table_misses": predicted},
        "uniform": {**summary(sum(curves.misses(t, int(uniform[t]))
                                  for t in range(trace.n_tables)), (uniform * sizes).sum()),
                    "load_factor": clf},
        "shared": summary(shared, shared_rows * sizes.max()),
        "policy": policy, "sample": float(sample),
    }
    if verify:
        start = time.perf_counter()
        result["replay"] = replay_plan(trace, curves, rows, ways, policy, policy_params)
        result["replay"]["prediction_error"] = (
            result["replay"]["fully_associative_misses"] - sum(predicted)) / n
        timings["replay_s"] = time.perf_counter() - start
    result["timings"] = timings
    return result


def _shared_misses(trace, rows: int, sampled) -> int:
    """Misses of one shared fully associative buffer of ``rows`` rows: LRU's from the
    exact reuse distances, or (``sampled``: policy, rate, salt, parameters) the policy's
    from a sampled replay."""
    n = trace.n_accesses
    if not rows:
        return n
    if sampled:
        policy, sample, salt, params = sampled
        return round(n * simulate(trace, policy, rows, 0, policy_params=params, sample=sample,
                                  salt=salt).miss_ratio)
    dense = trace.dense()
    return int(lru_misses(reuse_distances(dense.vid, dense.n_unique), [rows])[0])


def replay_plan(trace, curves, rows, ways: int, policy: str = "lru",
                params: dict | None = None) -> dict:
    """Misses of the plan replayed (in full) as per-table buffers of ``policy``: fully
    associative and ``ways``-way (tables with no rows miss every access)."""
    keys = np.asarray(trace.dense().keys)
    full = assoc = 0
    for t in range(trace.n_tables):
        if rows[t] == 0 or curves.accesses[t] == 0:
            full += int(curves.accesses[t])
            assoc += int(curves.accesses[t])
            continue
        alone = _table_trace(trace, curves, keys, t)
        full += simulate(alone, policy, int(rows[t]), 0, policy_params=params).misses
        assoc += simulate(alone, policy, int(rows[t]), ways, policy_params=params).misses
    n = trace.n_accesses
    return {"fully_associative_misses": full, "fully_associative_miss_ratio": full / n,
            "set_associative_ways": ways, "set_associative_misses": assoc,
            "set_associative_miss_ratio": assoc / n}
