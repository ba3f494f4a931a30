"""Sampled replays and miss-ratio curves of any policy: miniature simulations and set
sampling (``simulate(..., sample=R)``, ``recsim simulate --sample R``, ``recsim mrc
--policy NAME --sample R``).

Two ways to sample, picked by the buffer's geometry:

- **Set sampling** (a set-associative buffer, ``ways`` > 0 and below the capacity): a
  seeded random choice of ``k = max(1, round(R x sets))`` sets is replayed: the accesses
  of the vectors that hash (:func:`recsim.engine.settings.set_index`) into them, with
  their keys. For a policy whose state is per set (``Policy.cross_set`` False) the
  buffer replayed is those k sets alone (``k x ways`` slots, the sets numbered 0..k-1 in
  their order: ``replay(..., set_sample=...)``), so its state is R times the full
  buffer's, and each sampled set sees exactly what it sees in the full replay: their
  misses are exactly the full replay's misses in those sets (tested over every such
  plug-in of the registry), and only the share of accesses falling in them varies.
  A cross-set policy keeps the full geometry (its global state may read set numbers or
  the count of sets), with only the sampled sets' vectors, unless it declares training
  sets (below).
  This is Qureshi et al.'s set dueling idea turned into an estimator, and the sampled-set
  simulation of CPU caches (Kessler, Hill and Wood, "A Comparison of Trace-Sampling
  Techniques for Multi-Megabyte Caches", IEEE TC 43(6), 1994).
- **Spatial sampling** (a fully associative buffer, or a policy that replays whole batches
  itself: ``fbgemm_lru``/``fbgemm_lfu`` size their sets their own way): a miniature
  simulation (Waldspurger, Saemundsson, Ahmad and Park, "Cache Modeling and Optimization
  using Miniature Simulations", USENIX ATC 2017), built on SHARDS' spatial hashing
  (Waldspurger, Park, Garthwaite and Ahmad, "Efficient MRC Construction with SHARDS",
  FAST 2015): a vector is kept iff a salted 64-bit hash of its key falls below R of the
  hash range (so a kept vector keeps all its accesses), and the buffer is scaled to
  ``max(1, round(R x capacity))`` vectors, fully associative. The papers report
  "extremely accurate" scaled-down curves for ARC, LIRS, 2Q, OPT and others over more
  than a hundred storage traces at R around 0.001-0.01 (ATC'17 abstract and sec. 4);
  their per-policy error tables could not be read from this workplace, so recsim's own
  errors are measured instead (``benchmarks/sampling.py``, docs/sampling.md). Belady
  (OPT) works unchanged: its next uses are those of the sampled trace (libCacheSim's
  MINISIM had to remap them).

**Global state trained on a few sets** (``Policy.training_sets``: DRRIP's leader sets,
Hawkeye's and Mockingjay's sampled sets): a set sample holds about R of those, so the
global state would learn from almost nothing (at R = 0.01 on a 32-way meta-like buffer,
0 or 1 of DRRIP's 64 leader sets). Set sampling therefore replays them too (their
accesses are in the sub-trace, in trace order) and counts only the drawn sets, from the
replay's hit log (:func:`_drawn_only`; a plain replay only: with a prefetcher or a fetch
latency the sample is the drawn sets alone). Such a policy reads set numbers as the full
buffer's and vector ids as the trace's (``ctx.full_sets``, ``ctx.per_set``,
``ctx.trace_vids()``: DRRIP's leaders, Hawkeye's sampler), so its sample is compact too:
the replayed sets alone, the sample's vectors numbered anew. With
``Policy.training_only`` (the global state changes on the training sets' accesses only,
and they replace as the other sets do: Hawkeye, Mockingjay; not DRRIP, whose leader sets
run fixed policies) every replayed set is exact and counted, with no hit log. The cost:
the training sets' accesses (for Hawkeye and Mockingjay about 3% of the sets at any
size).

**Durations** (``Int(..., unit=...)``, :data:`recsim.plugin.DURATION_UNITS`): a sample's
clock runs slower, so a miniature simulation scales every duration by R (a log2 one by
adding log2 R); set sampling keeps per-set durations (exact) and scales the trace-clock
ones by the share of the sets it replays (:func:`scaled_durations`).

Every sampled result is approximate except set sampling of a per-set policy (or of a
``training_only`` one with its training sets), and says so:
the result's capacity, sets and ways are the full buffer's (whose rates it estimates);
``result.params["sample"]`` holds the requested ``rate``, the ``effective`` rate (sets
kept / sets, or the nominal rate for spatial sampling), the ``salt``, the sampled
replay's ``capacity``, ``sets`` and ``ways``, the ``method``
(``"sets"`` or ``"spatial"``), ``exact``, the accesses kept, ``training_sets`` (the
sets replayed beyond the drawn ones), the full trace's accesses and ``adjusted``. The
counts are the sampled replay's own (not scaled up; of the drawn sets), but for
SHARDS-adj: ``adjusted`` = (effective rate x the accesses the full replay counts) - the
accesses counted is added to the accesses and the cache hits (:func:`_adjust`),
so the rates (miss ratio, hit rate) estimate the full replay's as sampled misses /
expected sampled accesses. Without it, whether a few hot vectors fall in the sample
moves the estimate by far more than the buffer does (a Zipf(1) trace at R = 0.1 and 10%
of its vectors: 0.62 against a full 0.45; adjusted, 0.45). The misses stay the sampled
replay's: under set sampling of a per-set policy, exactly the full replay's misses in
the sampled sets.

A prefetcher sees the sampled stream: a candidate that is a vector of the full trace but
not of the sample has no vid there and is dropped, an approximation (in the full replay it
might take a slot), so the result is not exact; the drops are counted,
``counts["prefetches_unsampled"]`` (:class:`recsim.plugin.Unsampled`: the full trace's
keys, shared, and a counter; :func:`_inner`).
Learned plug-ins with a model (a File parameter set) are refused: their advice is per
access of the full trace.

**Many sizes** (:func:`sampled_mrc`): the sampled traces for all sizes are built in one
compiled pass over the trace (a per-vector bitmask of the samples that keep it: one
sample for spatial sampling, one per distinct set count for set sampling), kept in
memory (and shared with further policies through a ``cache``), then the policy's one
compiled loop replays each size over its sample. Decision:
a loop per size over the in-memory sample rather than K caches in one loop: the loop,
its hooks and their state stay those of a plain replay (no plug-in change, the same
exactness), and the cost is K x R x N accesses (plus K states of the scaled capacity),
against K x N for the full replays; the trace itself is read twice (count, fill) for all
K sizes. The sizes replay :data:`THREADS` at a time (one per core, as libCacheSim runs
one cache per thread: the loop releases the GIL), the first alone (its loop compiled or
loaded once), and the two passes and the samples are built in as many threads.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

from recsim.engine import metrics
from recsim.engine.settings import (ReplaySettings, check_rate, mix64, resolve_capacity,
                                    resolve_geometry, set_index)
from recsim.errors import ConfigError, RecsimWarning
from recsim.plugin import (DURATION_UNITS, TRACE_CLOCK, File, Int, SetSample, Unsampled,
                           readonly)
from recsim.registry import get_policy, get_prefetcher, resolve_params
from recsim.traces.trace import REMAP_CHUNK, DenseIds, Trace, batch_distinct, dedup_batches

GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # splitmix64's increment: spreads the salts apart
THREADS = os.cpu_count() or 1  # sizes replayed at once (the loop releases the GIL)
HASH_BITS = 53  # the hash's top bits compared with R x 2**53
# 1%, 2%, ..., 10%, 12%, ..., 30% of unique vectors: ``recsim mrc --policy``'s 20 sizes
DEFAULT_SIZES = tuple(f"{p}%" for p in (*range(1, 11), *range(12, 31, 2)))


def check_salts(salts, where: str = "salts") -> int:
    """A count of salts >= 1, or a one-line ConfigError."""
    if isinstance(salts, bool) or not isinstance(salts, (int, np.integer)) or salts < 1:
        raise ConfigError(f"{where}: expected a number of salts >= 1, got {salts!r}")
    return int(salts)


def key_hash(keys: np.ndarray, salt: int) -> np.ndarray:
    """The salted 64-bit hash of each key: splitmix64's finaliser of the key xor the
    finalised salt (salts 0, 1, ... give unrelated samples)."""
    mask = mix64(np.uint64(salt & 0xFFFFFFFFFFFFFFFF) + GOLDEN)
    return mix64(np.asarray(keys).astype(np.uint64) ^ mask)


def spatial_keep(keys: np.ndarray, rate: float, salt: int) -> np.ndarray:
    """Whether each vector is kept by spatial sampling at ``rate``."""
    return key_hash(keys, salt) >> np.uint64(64 - HASH_BITS) < np.uint64(rate * 2 ** HASH_BITS)


def sampled_sets(sets: int, rate: float, salt: int) -> np.ndarray:
    """The sets set sampling replays: ``max(1, round(rate x sets))`` of them, drawn
    without replacement by a generator seeded with ``salt``, ascending."""
    k = max(1, round(rate * sets))
    return np.sort(np.random.default_rng(salt).choice(sets, k, replace=False))


def in_threads(fn, items) -> list:
    """``[fn(x) for x in items]``, :data:`THREADS` at a time (``fn``'s work releases the
    GIL: compiled with ``nogil``); on an error (or Ctrl-C) the items not yet started are
    dropped, the running ones finished."""
    pool = ThreadPoolExecutor(max(1, min(THREADS, len(items))))
    try:
        return list(pool.map(fn, items))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def sampleable(pol, pf, pol_params: dict, pf_params: dict) -> None:
    """Raise a one-line ConfigError if the pair cannot be sampled (a learned model)."""
    for kind, plugin, params in (("policy", pol, pol_params), ("prefetcher", pf, pf_params)):
        if any(isinstance(s, File) and params.get(n) for n, s in plugin.params.items()):
            raise ConfigError(f"sample: {kind} {plugin.name} with a model cannot be sampled "
                              "(its advice is per access of the full trace); drop sample")


@njit(cache=True, nogil=True)
def _select(vid, lo, bits, n_groups, filled, pos):
    """Positions (``lo`` + index) of the accesses each group keeps, written at
    ``pos[filled[g]]`` (``pos`` empty: only count into ``filled``)."""
    for i in range(vid.shape[0]):
        m = bits[vid[i]]
        if m:
            for g in range(n_groups):
                if (m >> g) & 1:
                    if pos.shape[0]:
                        pos[filled[g]] = lo + i
                    filled[g] += 1


def sub_traces(trace: Trace, keeps: list[np.ndarray]) -> list[tuple[Trace, np.ndarray]]:
    """For each boolean mask over the trace's vectors, the trace of the accesses of the
    kept vectors (same keys and layout, dense ids renumbered in key order) and those
    accesses' positions in ``trace``; all from two compiled passes over the trace (count,
    then fill), each in :data:`THREADS` threads over its chunks."""
    if len(keeps) > 63:
        raise ConfigError(f"sizes: expected at most 63 distinct samples, got {len(keeps)}")
    dense, groups = trace.dense(), len(keeps)
    bits = np.zeros(dense.n_unique, np.uint64)
    for g, keep in enumerate(keeps):
        bits[keep] |= np.uint64(1 << g)
    vid, los = dense.vid, range(0, trace.n_accesses, REMAP_CHUNK)

    def select(lo, filled, pos):
        _select(vid[lo:lo + REMAP_CHUNK], lo, bits, groups, filled, pos)
        return filled

    local = threading.local()  # each thread's vector -> id in its sample, made once

    def build(g):
        p, kept = pos[starts[g]:starts[g + 1]], np.flatnonzero(keeps[g])
        if not hasattr(local, "rank"):
            local.rank = np.empty(dense.n_unique, np.int64)
        rank = local.rank
        rank[kept] = np.arange(kept.shape[0])
        ids = DenseIds(rank[vid[p]], np.asarray(dense.keys)[kept], dense.table_rows)
        return Trace(np.asarray(trace.table[p]), np.asarray(trace.row[p]),
                     np.searchsorted(p, trace.batch_offsets).astype(np.int64),
                     trace.cardinalities, {**trace.meta, "sampled_from": trace.name},
                     _dense=ids), p

    per_chunk = np.array(in_threads(lambda lo: select(lo, np.zeros(groups, np.int64),
                                                      np.empty(0, np.int64)), los))
    starts = np.concatenate(([0], np.cumsum(per_chunk.sum(axis=0))))
    at = starts[:-1] + np.cumsum(per_chunk, axis=0) - per_chunk  # each chunk's, in ``pos``
    pos = np.empty(starts[-1], np.int64)
    in_threads(lambda k: select(los[k], at[k].copy(), pos), range(len(los)))
    return in_threads(build, range(groups))


def scaled_durations(plugin, params: dict, factor: float, units: tuple) -> dict:
    """``params`` with every duration of ``plugin`` counted in one of ``units``
    (``Int(..., unit=...)``, :data:`recsim.plugin.DURATION_UNITS`) multiplied by
    ``factor`` (a log2 one: ``log2(factor)`` added): rounded, kept within the
    parameter's bounds and a linear one at least 1 (a value of 0, "derive it", stays 0)."""
    out = dict(params)
    for name, spec in plugin.params.items():
        if not isinstance(spec, Int) or spec.unit not in units:
            continue
        if spec.unit == "log2 accesses":
            value = round(out[name] + np.log2(factor))
        elif out[name] > 0:
            value = max(1, round(factor * out[name]))
        else:
            continue
        value = max(value, spec.lo) if spec.lo is not None else value
        out[name] = value if spec.hi is None else min(spec.hi, value)
    return out


def training_sets(pol, sets: int, ways: int, params: dict) -> np.ndarray:
    """The policy's training sets (``Policy.training_sets``), distinct and ascending, or a
    one-line ConfigError naming the policy if one is no set of the buffer."""
    chosen = np.unique(np.asarray(pol.training_sets(sets, ways, params), dtype=np.int64))
    if chosen.shape[0] and (chosen[0] < 0 or chosen[-1] >= sets):
        raise ConfigError(f"policy {pol.name} ({pol.module}): training_sets gave set "
                          f"{chosen[0] if chosen[0] < 0 else chosen[-1]}, outside the "
                          f"{sets:,} sets")
    return chosen


@dataclasses.dataclass(frozen=True)
class _Plan:
    """How one size is sampled: the key of its sample (``("spatial",)`` or ``("sets",
    sets, ...)``), the inner replay's capacity and ways, the effective rate, the full
    buffer's ``(capacity, sets, ways)``, the replayed sets, the sets counted when not all
    replayed sets are (a policy's training sets that replace unlike the others: else
    None), the policy's and the prefetcher's parameters as replayed (durations scaled),
    whether the counted sets' misses are exactly the full replay's, and the training sets
    added."""

    key: tuple
    capacity: int
    ways: int
    rate: float
    full: tuple
    sets: np.ndarray | None = None
    drawn: np.ndarray | None = None
    params: tuple = ({}, {})
    exact: bool = False
    added: int = 0  # training sets replayed beyond the drawn ones
    compact: bool = False  # the replayed sets as a buffer of those sets alone


def _plan(plugins, params: tuple, capacity: int, ways: int, rate: float, salt: int,
          plain: bool, train: bool = True) -> _Plan:
    """The plan of one size (module docstring): ``plugins`` and ``params``, the policy and
    the prefetcher and their parameters; ``plain``: a replay without prefetcher or fetch
    latency, whose hit log can restrict the counts to the drawn sets; ``train``: replay
    the policy's training sets (the ``training_sets`` setting)."""
    full = resolve_geometry(capacity, ways)
    cap, sets, ways = full
    pol = plugins[0]
    if sets == 1 or pol.replay is not None:
        # a batch-replaying policy sizes its sets itself from the (scaled) capacity
        return _Plan(("spatial",), max(1, round(rate * capacity)), 0 if sets == 1 else ways,
                     rate, full, params=tuple(scaled_durations(p, q, rate, DURATION_UNITS)
                                              for p, q in zip(plugins, params)))
    chosen = sampled_sets(sets, rate, salt)
    drawn, key, replayed = None, ("sets", sets), chosen
    if train and pol.training_sets and (pol.training_only or plain):
        extra = training_sets(pol, sets, ways, params[0])
        key, replayed = ("sets", sets, extra.tobytes()), np.union1d(chosen, extra)
        # training sets that replace as the others do count too; else the drawn sets only
        drawn = None if pol.training_only else chosen
    counted = replayed if drawn is None else drawn
    # a per-set clock runs as in the full replay; the trace's, over the replayed sets only
    factor = replayed.shape[0] / sets
    # per-set state, or global state reading set numbers as the full buffer's (a policy
    # with training sets): the replayed sets alone make the buffer; another cross-set
    # policy's global state may read the set count, so it keeps the full geometry
    compact = not pol.cross_set or pol.training_sets is not None
    return _Plan(key, replayed.shape[0] * ways if compact else cap, ways,
                 counted.shape[0] / sets, full, replayed, drawn,
                 tuple(scaled_durations(p, q, factor, TRACE_CLOCK)
                       for p, q in zip(plugins, params)),
                 not pol.cross_set or (len(key) == 3 and pol.training_only),
                 replayed.shape[0] - chosen.shape[0], compact)


def _drawn_only(result, sub: Trace, positions: np.ndarray, plan: _Plan, mark: int,
                per_table: bool) -> np.ndarray:
    """Restrict the counts of a replay of the drawn and the training sets to the drawn
    sets, from its hit log; returns the positions in the full trace of the drawn sets'
    accesses. Replays with no prefetcher and no fetch latency only: there every miss is an
    on-demand fetch and a vector's first access its compulsory miss. Evictions and
    bypasses, which a hit log does not tell apart by set, are those of all replayed sets
    scaled by the drawn sets' share of their misses (an approximation)."""
    dense = sub.dense()
    vid = np.asarray(dense.vid)
    chosen = np.zeros(plan.full[1], bool)
    chosen[plan.drawn] = True
    drawn = chosen[set_index(np.asarray(dense.keys)[vid], plan.full[1])]
    start = int(np.searchsorted(positions, mark))
    span = drawn.copy()
    span[:start] = False
    log, counts = result.hit_log, result.counts
    accesses, hits = int(span.sum()), int(log[span].sum())
    share = (accesses - hits) / max(result.misses, 1)
    result.counts = {**dict.fromkeys(counts, 0), "accesses": accesses, "cache_hits": hits,
                     "on_demand_fetches": accesses - hits,
                     "compulsory_misses": _first_uses(vid, span, dense.n_unique),
                     "evictions": round(share * counts["evictions"]),
                     "bypasses": round(share * counts["bypasses"])}
    if per_table:
        result.per_table = metrics.per_table(sub.table[span], log[span], sub.n_tables)
    result.hit_log = None
    return positions[drawn]


@njit(cache=True)
def _first_uses(vid, span, n_vids):
    """How many vectors' first access is one of the accesses ``span`` marks."""
    seen = np.zeros(n_vids, np.bool_)
    n = 0
    for i in range(vid.shape[0]):
        if not seen[vid[i]]:
            seen[vid[i]] = True
            n += span[i]
    return n


def _samples(trace, plans: list[_Plan], rate: float, salt: int, cache: dict) -> dict:
    """The sampled trace (and kept positions) of each distinct sample key of ``plans``,
    those not in ``cache`` (keyed by rate, salt and sample key) built in one pass and
    added to it. Training-set samples (a sample key of 3) are kept for the next policy
    with the same training sets (Hawkeye's and Mockingjay's are the same from 2,048 sets
    on) until a policy needs others: those are dropped first, so the memory of a curve of
    many policies is that of the shared samples plus one policy's training-set samples."""
    keys = np.asarray(trace.dense().keys)
    found = {p.key: cache[rate, salt, p.key] for p in plans if (rate, salt, p.key) in cache}
    todo = {p.key: p for p in plans if p.key not in found}
    if any(len(key) == 3 for key in todo):  # another policy's training sets: dropped
        for old in [k for k in cache if len(k[2]) == 3]:
            del cache[old]
    keeps, hashed = [], None
    for key, p in todo.items():
        if key[0] == "spatial":
            keeps.append(spatial_keep(keys, rate, salt))
        else:
            chosen = np.zeros(key[1], bool)
            chosen[p.sets] = True
            hashed = mix64(keys.astype(np.uint64)) if hashed is None else hashed
            keeps.append(chosen[set_index(keys, key[1], hashed)])
    for key, sample in zip(todo, sub_traces(trace, keeps) if keeps else ()):
        cache[rate, salt, key] = found[key] = sample
    return found


def _inner(run, sub, positions, plan, settings, policy, prefetcher, pol_params, pf_params,
           per_table: bool, full_keys: np.ndarray):
    """Replay one sample with ``run``; ``params["sample"]`` filled in by the caller. A
    compact plan numbers the sampled sets 0..k-1 in their order (each vector's set by the
    full geometry's hash, then its rank among them). The prefetcher's candidates that are
    vectors of the full trace (``full_keys``) but not of the sample are dropped and
    counted: ``counts["prefetches_unsampled"]``."""
    inner = dataclasses.replace(settings, capacity=plan.capacity, ways=plan.ways,
                                eval_after=int(np.searchsorted(positions, settings.eval_after)),
                                sample=None)
    sets = SetSample(np.searchsorted(plan.sets, set_index(np.asarray(sub.dense().keys),
                                                          plan.full[1])),
                     plan.sets, plan.full[1]) if plan.compact else None
    unsampled = Unsampled(full_keys, np.zeros(1, np.int64), inner.eval_after)
    result = run(sub, inner, policy, prefetcher, pol_params, pf_params, per_table=per_table,
                 set_sample=sets, log_hits=plan.drawn is not None, unsampled=unsampled)
    result.counts["prefetches_unsampled"] = int(unsampled.count[0])
    return result


def _adjust(counts: dict, expected: float) -> int:
    """SHARDS-adj (FAST'15 sec. 3.3): the difference between the expected (``rate x`` the
    accesses the full replay counts) and the sampled replay's counted accesses counts as
    hits (mostly the accesses of hot vectors, kept or missed by the sample as a whole), so
    rates estimate the full replay's; a shortfall of hits leaves them at 0. Both are in
    what the replay counts: ``dedup`` is applied before sampling, and FBGEMM's policies
    count each batch's distinct rows (the caller's ``batch_distinct``). Scaling the
    difference in raw accesses by the share the policy counted instead left sampled
    FBGEMM curves 0.1-0.2 off (docs/sampling.md): the difference is mostly hot vectors'
    repeats within a batch, which FBGEMM counts once. Returns the accesses added."""
    d = max(round(expected - counts["accesses"]), -counts["cache_hits"])
    counts["accesses"] += d
    counts["cache_hits"] += d
    return d


def sampled_results(run, trace: Trace, settings: ReplaySettings, capacities: list,
                    policy: str = "lru", prefetcher: str = "none",
                    policy_params: dict | None = None, prefetcher_params: dict | None = None,
                    per_table: bool = False, cache: dict | None = None) -> list:
    """One sampled replay (module docstring) per capacity of ``capacities`` (counts,
    fractions or percents of the full trace's unique vectors), at ``settings.sample`` and
    ``settings.salt``, from one pass building the samples; ``cache`` (a dict, for this
    trace only) keeps them for further calls (other policies of the same sizes). ``run``
    replays one sample: :func:`recsim.engine.replay.replay`, passed in because the replay
    driver dispatches a sampled setting here (this module sits below it, no cycle)."""
    rate, dedup = check_rate(settings.sample), settings.dedup
    pol, pf = get_policy(policy), get_prefetcher(prefetcher)
    pol_params = resolve_params("policy", pol, policy_params)
    pf_params = resolve_params("prefetcher", pf, prefetcher_params)
    sampleable(pol, pf, pol_params, pf_params)
    start = time.perf_counter()
    if settings.dedup:  # it commutes with sampling; first, so SHARDS-adj counts its accesses
        trace, settings = dedup_batches(trace), dataclasses.replace(settings, dedup=None)
        cache = None  # the samples of another trace
    unique = trace.dense().n_unique
    # the drawn sets' counts come from a hit log: plain replays only (_drawn_only)
    plain = pf.name == "none" and not settings.fetch_latency
    plans = [_plan((pol, pf), (pol_params, pf_params), resolve_capacity(c, unique),
                   settings.ways, rate, settings.salt, plain, settings.training_sets)
             for c in capacities]
    samples = _samples(trace, plans, rate, settings.salt, {} if cache is None else cache)
    # what the full replay counts (_adjust): every access from eval_after on, or each
    # batch's distinct rows (a batch-replaying policy: FBGEMM's cache)
    counted = (batch_distinct(trace) if pol.replay is not None
               else trace.n_accesses - settings.eval_after)
    full_keys = readonly(trace.dense().keys)  # shared by the sizes: nothing per vector
    sample_s = (time.perf_counter() - start) / len(plans)

    def one(plan):
        sub, positions = samples[plan.key]
        result = _inner(run, sub, positions, plan, settings, policy, prefetcher, *plan.params,
                        per_table, full_keys)
        kept = positions if plan.drawn is None else _drawn_only(
            result, sub, positions, plan, settings.eval_after, per_table)
        result.params["sample"] = {
            "rate": rate, "effective": plan.rate, "salt": settings.salt,
            "capacity": result.capacity, "ways": result.ways, "sets": result.sets,
            "method": plan.key[0],  # a prefetcher sees the sample only: approximate
            "exact": plan.exact and pf.name == "none",
            "kept_accesses": kept.shape[0], "accesses": trace.n_accesses,
            "training_sets": plan.added,
            "adjusted": _adjust(result.counts, plan.rate * counted)}
        result.params["dedup"] = dedup
        result.timings["sample_s"] = sample_s
        result.capacity, result.sets, result.ways = plan.full  # the buffer estimated
        return result

    with warnings.catch_warnings():  # a sample's buffer may well hold all its vectors
        warnings.simplefilter("ignore", RecsimWarning)
        first = one(plans[0])  # the loop compiled (or loaded) once, before the threads
        return [first, *in_threads(one, plans[1:])]


def sampled_replay(run, trace: Trace, settings: ReplaySettings, policy: str = "lru",
                   prefetcher: str = "none", policy_params: dict | None = None,
                   prefetcher_params: dict | None = None, *, advice=None,
                   per_table: bool = False, window: int = 0, log_hits: bool = False,
                   chunk: int | None = None):
    """:func:`recsim.engine.replay.replay` of a sample (``settings.sample`` < 1): one
    size of :func:`sampled_results`. ``chunk`` is ignored (the sample is in memory);
    advice, window statistics and the hit log are per access of the full trace, so they
    are refused."""
    if advice is not None or window or log_hits:
        raise ConfigError("sample: a sampled replay takes no advice, window statistics or "
                          "hit log (they are per access of the full trace)")
    return sampled_results(run, trace, settings, [settings.capacity], policy, prefetcher,
                           policy_params, prefetcher_params, per_table)[0]


def sampled_mrc(run, trace: Trace, policy: str = "lru", sizes=DEFAULT_SIZES, rate: float = 0.01,
                ways: int = 0, salts: int = 1, salt: int = 0,
                policy_params: dict | None = None, cache: dict | None = None,
                training_sets: bool = True) -> dict:
    """The miss-ratio curve of ``policy`` at ``sizes`` (counts, fractions or percents of
    unique vectors) from sampled replays at ``rate`` (a full replay per size at rate 1),
    averaged over ``salts`` salts ``salt``, ``salt + 1``, ...: ``capacity`` (the full
    buffers'), ``miss_ratio`` (the mean), ``low``/``high`` (the spread over salts),
    ``per_salt``, ``rate``, ``effective`` (per size, the first salt's), ``method``,
    ``exact`` and ``seconds``. ``cache``: as for :func:`sampled_results`; the curves of
    several policies of one trace then share their samples (``recsim mrc --policy
    a,b,c``); ``run``: as there; ``training_sets``: the replay setting (set sampling
    also replays a global-state policy's training sets)."""
    rate, salts = check_rate(rate), check_salts(salts)
    start = time.perf_counter()
    unique = trace.dense().n_unique
    capacities = [resolve_capacity(c, unique) for c in sizes]
    per_salt, results = [], []
    for s in range(salt, salt + salts):
        if rate == 1:
            results = [run(trace, ReplaySettings(capacity=c, ways=ways), policy, "none",
                           policy_params) for c in capacities]
        else:
            settings = ReplaySettings(capacity=1, ways=ways, sample=rate, salt=s,
                                      training_sets=training_sets)
            results = sampled_results(run, trace, settings, capacities, policy,
                                      policy_params=policy_params, cache=cache)
        per_salt.append([r.miss_ratio for r in results])
    ratios = np.asarray(per_salt)
    info = [r.params.get("sample", {}) for r in results]
    return {"policy": policy, "capacity": capacities, "ways": ways,
            "miss_ratio": ratios.mean(axis=0).tolist(), "low": ratios.min(axis=0).tolist(),
            "high": ratios.max(axis=0).tolist(), "per_salt": ratios.tolist(),
            "rate": rate, "salts": salts, "effective": [i.get("effective", 1.0) for i in info],
            "method": info[0].get("method", "full"),
            "exact": all(i.get("exact", True) for i in info),
            "seconds": time.perf_counter() - start}
