"""Replay a trace against a buffer: geometry, plug-in state, the compiled loop, results.

The buffer's size, geometry, latencies, prefetch limits and per-batch deduplication are a
:class:`ReplaySettings` (:mod:`recsim.engine.settings`). A vector's set is a 64-bit mix
(splitmix64's finaliser) of its global key modulo ``sets``, as FBGEMM hashes rows into its
32-way cache sets (with MurmurHash3's finaliser of its own linear index: the
``fbgemm_lru`` / ``fbgemm_lfu`` policies use that, and size their sets as FBGEMM does). A
prefetcher whose metadata is charged against the buffer (``Prefetcher.metadata_vectors``)
takes that many vectors off the capacity before the geometry is formed.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numba
import numpy as np

from recsim.engine import metrics
from recsim.engine.kernels import compile_kernel
from recsim.engine.settings import ReplaySettings, resolve_capacity, resolve_geometry
from recsim.errors import ConfigError, RecsimWarning
from recsim.plugin import PREFETCHED, QUEUE_SIZE, advice_of, readonly
from recsim.registry import get_policy, get_prefetcher, resolve_params
from recsim.traces import Trace, load_trace
from recsim.traces.nextuse import next_use
from recsim.traces.trace import dedup_batches, release


@numba.vectorize(["uint64(uint64)"], cache=True)
def mix64(z):
    """splitmix64's finaliser: a well-mixed 64-bit hash (a ufunc, also callable from
    compiled code on one value)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def set_index(keys: np.ndarray, sets: int) -> np.ndarray:
    """Set of each vector: :func:`mix64` of its key, modulo ``sets``."""
    if sets == 1:
        return np.zeros(keys.shape[0], dtype=np.int64)
    return (mix64(keys.astype(np.uint64)) % np.uint64(sets)).astype(np.int64)


@dataclass
class ReplayContext:
    """What plug-ins see when they build their state."""

    trace: Trace
    vids: np.ndarray
    keys: np.ndarray
    capacity: int
    sets: int
    ways: int
    seed: int = 0
    prefetching: bool = False  # whether a prefetcher or prefetch advice may fill the buffer
    prefetch_latency: int = 0  # accesses from issuing a prefetch to its arrival
    fetch_latency: int = 0  # accesses from a demand miss to its arrival
    _next_use: tuple | None = field(default=None, repr=False)

    @property
    def n_vids(self) -> int:
        return int(self.keys.shape[0])

    def table_of_vid(self) -> np.ndarray:
        """Table id of each vector (int32): the "PC" of CPU-cache policies."""
        return (np.searchsorted(self.trace.table_base, self.keys, side="right") - 1
                ).astype(np.int32)

    def next_use(self) -> tuple[np.ndarray, np.ndarray]:
        """``(next use per access, first use per vector)``; NEVER where there is none."""
        if self._next_use is None:
            self._next_use = next_use(self.vids, self.n_vids)
        return self._next_use


@dataclass
class Advice:
    """Inputs from machine-learned models, computed outside the loop.

    ``priority``: one float per access, passed to the policy's hooks as ``prio``.
    ``prefetch_ptr``/``prefetch_vids``: CSR lists of vids to prefetch per chunk of
    ``chunk`` accesses; the list of chunk ``k`` is issued at the start of chunk ``k + lag``
    (the model's inference for chunk k overlaps the replay of chunk k, as in RecMG).
    """

    priority: np.ndarray | None = None
    prefetch_ptr: np.ndarray | None = None
    prefetch_vids: np.ndarray | None = None
    chunk: int = 0
    lag: int = 1

    def arrays(self, n: int, n_vids: int):
        """Checked ``(priority, prefetch_ptr, prefetch_vids, chunk, lag)`` for the loop."""
        prio = np.zeros(0) if self.priority is None else np.asarray(self.priority, np.float64)
        if prio.ndim != 1 or prio.shape[0] not in (0, n):
            raise ConfigError(f"advice.priority: expected {n} values (one per access), "
                              f"got shape {prio.shape}")
        if self.prefetch_ptr is None:
            return prio, np.zeros(1, np.int64), np.zeros(0, np.int64), 0, 0
        ptr = np.asarray(self.prefetch_ptr, np.int64)
        vids = np.asarray(self.prefetch_vids, np.int64)
        if (self.chunk <= 0 or self.lag < 0 or ptr.ndim != 1 or ptr.shape[0] < 1 or ptr[0] != 0
                or ptr[-1] != vids.shape[0] or (np.diff(ptr) < 0).any()):
            raise ConfigError("advice: expected chunk > 0, lag >= 0 and prefetch_ptr rising "
                              f"from 0 to len(prefetch_vids) = {vids.shape[0]}")
        if vids.size and (vids.min() < 0 or vids.max() >= n_vids):
            raise ConfigError(f"advice.prefetch_vids: expected vids in [0, {n_vids})")
        return prio, ptr, vids, int(self.chunk), int(self.lag)


def merged_advice(*parts: Advice | None) -> Advice | None:
    """One advice from several (the caller's, a learned policy's, a learned
    prefetcher's), each giving priorities or prefetch lists, no part given twice."""
    parts = [a for a in parts if a is not None]
    priority = [a.priority for a in parts if a.priority is not None]
    prefetch = [a for a in parts if a.prefetch_ptr is not None]
    if len(priority) > 1 or len(prefetch) > 1:
        raise ConfigError("advice: priorities or prefetch lists given twice (by the advice "
                          "argument and a learned plug-in's model, or by two models)")
    if len(parts) < 2:
        return parts[0] if parts else None
    lists = prefetch[0] if prefetch else Advice()
    return Advice(priority[0] if priority else None, lists.prefetch_ptr, lists.prefetch_vids,
                  lists.chunk, lists.lag)


def simulate(trace, policy: str = "lru", capacity=0.1, ways: int = 32,
             prefetcher: str = "none", policy_params: dict | None = None,
             prefetcher_params: dict | None = None, prefetch_latency: int = 0,
             prefetch_budget: int | None = None, advice: Advice | None = None, seed: int = 0,
             per_table: bool = False, window: int = 0, fetch_latency: int = 0,
             max_outstanding: int | None = None, log_hits: bool = False,
             chunk: int | None = None, dedup: str | None = None,
             eval_after: int = 0, sample: float | None = None,
             salt: int = 0) -> metrics.SimResult:
    """Replay ``trace`` (a :class:`Trace` or a path) and return exact counts: :func:`replay`
    with the settings given by keyword (see :class:`ReplaySettings`)."""
    settings = ReplaySettings(capacity, ways, prefetch_latency, fetch_latency, prefetch_budget,
                              max_outstanding, seed, dedup, eval_after, sample, salt)
    return replay(trace, settings, policy, prefetcher, policy_params, prefetcher_params,
                  advice=advice, per_table=per_table, window=window, log_hits=log_hits,
                  chunk=chunk)


def replay(trace, settings: ReplaySettings, policy: str = "lru", prefetcher: str = "none",
           policy_params: dict | None = None, prefetcher_params: dict | None = None, *,
           advice: Advice | None = None, per_table: bool = False, window: int = 0,
           log_hits: bool = False, chunk: int | None = None) -> metrics.SimResult:
    """Replay ``trace`` (a :class:`Trace` or a path) under ``settings`` and return exact
    counts.

    ``per_table``: also count accesses and hits per table. ``window``: also report the
    hit rate of every window of that many accesses. ``log_hits``: also return ``hit_log``, a
    uint8 array with 1 for every access that hit (from caching or a prefetch).
    ``chunk``: stream the trace through the loop ``chunk`` accesses at a time, releasing
    the memory-mapped pages of each chunk after it (a trace larger than memory); the
    counts equal a single-shot replay's. Only for plain replays (none of advice, hit log,
    per-table or window statistics, budget, fetch latency, bound on prefetches in flight).

    With ``settings.eval_after = N`` every count, per-table and window statistic is of the
    accesses from ``N`` on (the replay still starts at access 0; ``hit_log`` stays whole).
    A prefetch issued before ``N`` and used or evicted after it counts as useful or unused.
    """
    timings = {}
    if not isinstance(trace, Trace):
        trace = load_trace(Path(trace))
    if settings.sample is not None and settings.sample < 1:
        from recsim.engine.sample import sampled_replay  # it builds on this module

        return sampled_replay(trace, settings, policy, prefetcher, policy_params,
                              prefetcher_params, advice=advice, per_table=per_table,
                              window=window, log_hits=log_hits, chunk=chunk)
    pol, pf = get_policy(policy), get_prefetcher(prefetcher)
    pol_params = resolve_params("policy", pol, policy_params)
    pf_params = resolve_params("prefetcher", pf, prefetcher_params)
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 0:
        raise ConfigError(f"window: expected an integer >= 0, got {window!r}")
    if chunk is not None and (isinstance(chunk, bool) or not isinstance(chunk, (int, np.integer))
                              or chunk < 1):
        raise ConfigError(f"chunk: expected a positive number of accesses, got {chunk!r}")

    start = time.perf_counter()
    if settings.dedup:
        trace = dedup_batches(trace)
    dense = trace.dense()
    timings["remap_s"] = time.perf_counter() - start
    start = time.perf_counter()
    learned = [advice_of(pol, trace, pol_params), advice_of(pf, trace, pf_params)]
    if any(learned):  # a learned plug-in's model inference (or its cached predictions)
        advice = merged_advice(advice, *learned)
        timings["advice_s"] = time.perf_counter() - start
    cap = resolve_capacity(settings.capacity, dense.n_unique)
    if settings.eval_after >= max(trace.n_accesses, 1):
        raise ConfigError(f"eval_after: expected fewer than the trace's {trace.n_accesses:,} "
                          f"accesses, got {settings.eval_after:,}")
    if pol.replay is not None:
        if (pf.name != "none" or advice is not None or per_table or window or log_hits
                or chunk or settings.prefetch_latency or settings.fetch_latency
                or settings.eval_after
                or settings.prefetch_budget is not None or settings.max_outstanding is not None):
            raise ConfigError(f"policy {pol.name}: it replays whole batches, so it takes no "
                              "prefetcher, advice, per-table or window statistics, hit log, "
                              "chunk, latencies, prefetch budget, bound or eval_after")
        return _replay_batches(pol, pol_params, trace, dense, cap, settings, timings)
    if pf.metadata_vectors is not None:
        charged = int(pf.metadata_vectors(dense.n_unique, pf_params))
        if charged >= cap:
            raise ConfigError(f"prefetcher {pf.name}: its metadata ({charged:,} vectors) "
                              f"does not fit in the buffer of {cap:,} vectors")
        cap -= charged
    cap, sets, ways = resolve_geometry(cap, settings.ways)
    _warn_capacity(cap, settings.ways, dense.n_unique)
    ctx = ReplayContext(trace, readonly(dense.vid), readonly(dense.keys), cap, sets, ways,
                        settings.seed,
                        prefetching=pf.name != "none" or (advice is not None
                                                          and advice.prefetch_ptr is not None),
                        prefetch_latency=int(settings.prefetch_latency),
                        fetch_latency=int(settings.fetch_latency))

    start = time.perf_counter()
    features, args = _loop_inputs(ctx, pol.make_state(ctx, pol_params),
                                  pf.make_state(ctx, pf_params), advice or Advice(), settings,
                                  per_table or window > 0 or log_hits)
    setup_s = time.perf_counter() - start

    if chunk and "GENERAL" in features:
        raise ConfigError("chunk: chunked replay is for plain replays only (no advice, hit "
                          "log, per-table or window statistics, prefetch budget, fetch "
                          "latency or bound on prefetches in flight)")
    start = time.perf_counter()
    kernel = compile_kernel(pol, pf, features, tuple(numba.typeof(a) for a in args))
    timings["compile_s"] = time.perf_counter() - start

    start = time.perf_counter()
    n, mark = trace.n_accesses, settings.eval_after
    bounds = sorted({*range(0, n, chunk or max(n, 1)), n}
                    | ({mark} if args.mark < 0 else set()))  # a plain loop splits at it
    for lo, hi in zip(bounds, bounds[1:]):
        if lo == mark and args.mark < 0:
            args.marked[:] = args.counts
        kernel(*args._replace(vids=args.vids[lo:hi], tables=args.tables[lo:hi],
                              t0=np.int64(lo)))
        if chunk:
            release(args.vids)
            release(args.tables)
    timings["replay_s"] = setup_s + time.perf_counter() - start
    timings["accesses_per_s"] = trace.n_accesses / timings["replay_s"]
    slot_of, vid_of, n_used, _ = args.buf
    evaluated = args.hit_log[mark:]  # the accesses counted (all but the first eval_after)
    return metrics.SimResult(
        policy=pol.name, prefetcher=pf.name, capacity=cap, ways=ways, sets=sets,
        counts=metrics.counts_dict(args.counts - args.marked,
                                   np.count_nonzero(slot_of >= PREFETCHED)),
        occupancy=int(n_used.sum()),
        params={"policy": pol_params, "prefetcher": pf_params, **settings.recorded()},
        timings=timings,
        per_table=(metrics.per_table(trace.table[mark:], evaluated, trace.n_tables)
                   if per_table else None),
        window=window,
        window_hit_rate=metrics.window_rates(evaluated, window) if window else None,
        resident=np.flatnonzero(slot_of >= 0),
        slots=np.where(vid_of >= 0, vid_of & ~PREFETCHED, -1),
        hit_log=args.hit_log if log_hits else None)


def _replay_batches(pol, params, trace, dense, cap, settings, timings) -> metrics.SimResult:
    """A policy that replaces the replay loop (``Policy.replay``); its first call in a
    process includes loading (or compiling) its kernel."""
    timings["compile_s"] = 0.0
    start = time.perf_counter()
    ctx = ReplayContext(trace, readonly(dense.vid), readonly(dense.keys), cap, 0,
                        settings.ways, settings.seed)
    out = pol.replay(ctx, pol.make_state(ctx, params))
    timings["replay_s"] = time.perf_counter() - start
    timings["accesses_per_s"] = trace.n_accesses / timings["replay_s"]
    return metrics.SimResult(
        policy=pol.name, prefetcher="none", capacity=out.capacity, ways=out.ways,
        sets=out.sets, counts=metrics.counts_dict(out.counts, 0),
        occupancy=int(out.resident.shape[0]),
        params={"policy": params, "dedup": settings.dedup, "seed": settings.seed},
        timings=timings, resident=out.resident, batch_counters=out.batch_counters)


def _warn_capacity(capacity: int, ways: int, n_unique: int) -> None:
    """Warn of a buffer below its ways (replayed fully associative) or one that holds every
    unique vector (only compulsory misses remain)."""
    if 0 < capacity < ways:
        warnings.warn(f"capacity {capacity:,} vectors is below ways {ways}: the buffer is one "
                      "fully associative set", RecsimWarning, stacklevel=3)
    if capacity >= n_unique:
        warnings.warn(f"capacity {capacity:,} vectors holds every unique vector of the trace "
                      f"({n_unique:,}): only compulsory misses remain", RecsimWarning,
                      stacklevel=3)


class LoopArgs(NamedTuple):
    """The arguments of the replay loop, :func:`recsim.engine.loop.replay`, in its order
    (described there)."""

    vids: np.ndarray
    tables: np.ndarray
    batch_offsets: np.ndarray
    prio: np.ndarray
    adv_ptr: np.ndarray
    adv_vids: np.ndarray
    adv_chunk: int
    adv_lag: int
    ways: int
    latency: int
    fetch_latency: int
    budget: int
    inflight: np.ndarray
    pstate: tuple
    fstate: tuple
    buf: tuple
    counts: np.ndarray
    queue: np.ndarray
    hit_log: np.ndarray
    t0: np.int64
    mark: np.int64
    marked: np.ndarray


def _loop_inputs(ctx, pstate, fstate, advice, settings, log_hits):
    """The kind of replay loop (see :mod:`recsim.engine.kernels`) and its arguments."""
    n = ctx.trace.n_accesses
    prio, adv_ptr, adv_vids, adv_chunk, adv_lag = advice.arrays(n, ctx.n_vids)
    budget = -1 if settings.prefetch_budget is None else int(settings.prefetch_budget)
    bound = settings.max_outstanding or 0
    features = loop_features(settings, ctx.sets, bool(prio.size or log_hits or adv_chunk))
    slot_of = -3 * set_index(ctx.keys, ctx.sets) - 1  # each vector absent, in its set
    buf = (slot_of, np.full(ctx.capacity, -1, np.int64),
           np.zeros(ctx.sets, np.int64), np.zeros(ctx.capacity, np.int64))
    args = LoopArgs(
        ctx.vids, readonly(ctx.trace.table), readonly(ctx.trace.batch_offsets),
        readonly(prio), readonly(adv_ptr), readonly(adv_vids), adv_chunk, adv_lag, ctx.ways,
        ctx.prefetch_latency, ctx.fetch_latency, budget,
        np.zeros(bound + 2 if bound else 0, np.int64), pstate, fstate, buf,
        np.zeros(metrics.N_COUNTERS, np.int64), np.zeros(QUEUE_SIZE, np.int64),
        np.zeros(n if log_hits else 0, np.uint8), np.int64(0),
        np.int64(settings.eval_after if "GENERAL" in features else -1),
        np.zeros(metrics.N_COUNTERS, np.int64))
    return features, args


def loop_features(settings: ReplaySettings, sets: int, extras: bool = False) -> frozenset:
    """The kind of loop a replay needs (:mod:`recsim.engine.kernels`): the general one for
    advice or statistics (``extras``), a prefetch budget, fetch latency or a bound on
    prefetches in flight; else the plain fully associative one for one set; else plain."""
    if (extras or settings.prefetch_budget is not None or settings.fetch_latency
            or settings.max_outstanding):
        return frozenset({"GENERAL"})
    return frozenset({"ONE_SET"} if sets == 1 else ())
