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

import inspect
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numba
import numpy as np

from recsim.engine import loop, metrics
from recsim.engine.kernels import compile_kernel
from recsim.engine.sample import sampled_replay
from recsim.engine.settings import (
    ReplaySettings,
    make_settings,
    resolve_capacity,
    resolve_geometry,
    set_index,
)
from recsim.errors import ConfigError, RecsimWarning
from recsim.plugin import (NEW, PREFETCHED, QUEUE_SIZE, SetSample, Unsampled, advice_of,
                           hook_location, not_resident, readonly)
from recsim.registry import get_policy, get_prefetcher, resolve_params
from recsim.traces import Trace, load_trace
from recsim.traces.nextuse import next_use
from recsim.traces.trace import dedup_batches, release


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
    set_sample: SetSample | None = field(default=None, repr=False)  # a set sample's sets
    # a sampled replay's count of candidates outside the sample (recsim.plugin.Unsampled)
    unsampled: Unsampled | None = None
    _next_use: tuple | None = field(default=None, repr=False)

    @property
    def n_vids(self) -> int:
        return int(self.keys.shape[0])

    def vector_sets(self) -> np.ndarray:
        """The set of each vector: :func:`set_index` of its key, unless the replay is a
        set sample's (``replay(..., set_sample=...)``: its sets numbered 0..k-1 in the
        full buffer's order, :mod:`recsim.engine.sample`)."""
        sample = self.set_sample
        return set_index(self.keys, self.sets) if sample is None else sample.of_vector

    @property
    def full_sets(self) -> int:
        """The sets of the buffer this replay is of: ``sets``, or a set sample's full
        buffer's (a policy's sets chosen by number are chosen among these)."""
        return self.sets if self.set_sample is None else self.set_sample.full

    def per_set(self, numbers, values, fill: int = -1, dtype=np.int64) -> np.ndarray:
        """An array over this replay's sets holding ``values[i]`` at the set the full
        buffer numbers ``numbers[i]`` (in ``[0, full_sets)``), where this replay has it (a
        set sample replays a few), and ``fill`` elsewhere: how a policy marks the sets it
        picks by number (DRRIP's leader sets, Hawkeye's sampled sets)."""
        out = np.full(self.sets, fill, dtype)
        numbers, values = np.asarray(numbers, np.int64), np.asarray(values, dtype)
        if self.set_sample is None:
            out[numbers] = values
            return out
        mine = self.set_sample.numbers
        at = np.minimum(np.searchsorted(mine, numbers), mine.shape[0] - 1)
        here = mine[at] == numbers
        out[at[here]] = values[here]
        return out

    def trace_vids(self) -> np.ndarray:
        """Each vector's dense id in the trace a sample was drawn from (a sample numbers
        its vectors anew), or an empty array in a replay of the trace itself (its ids are
        the trace's): what a table indexed by vector id (Hawkeye's sampler) reads, so a
        set sample of it stays exact."""
        if self.unsampled is None:
            return np.zeros(0, np.int64)
        return np.searchsorted(self.unsampled.keys, self.keys).astype(np.int64)

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
    ``warmup``: the first accesses it gives no advice for (a policy that learns online);
    a replay judged from inside them (``0 < eval_after < warmup``) is warned about.
    """

    priority: np.ndarray | None = None
    prefetch_ptr: np.ndarray | None = None
    prefetch_vids: np.ndarray | None = None
    chunk: int = 0
    lag: int = 1
    warmup: int = 0

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
                  lists.chunk, lists.lag, max(a.warmup for a in parts))


def simulate(trace, policy: str = "lru", capacity=0.1, ways: int = 32,
             prefetcher: str = "none", policy_params: dict | None = None,
             prefetcher_params: dict | None = None, *, advice: Advice | None = None,
             per_table: bool = False, window: int = 0, log_hits: bool = False,
             chunk: int | None = None, **settings) -> metrics.SimResult:
    """Replay ``trace`` (a :class:`Trace` or a path) and return exact counts: :func:`replay`
    with the settings given by keyword: ``capacity``, ``ways`` and every other field of
    :class:`ReplaySettings` (``prefetch_latency=``, ``eval_after=``, ...)."""
    return replay(trace, make_settings("simulate", capacity=capacity, ways=ways, **settings),
                  policy, prefetcher, policy_params, prefetcher_params, advice=advice,
                  per_table=per_table, window=window, log_hits=log_hits, chunk=chunk)


def replay(trace, settings: ReplaySettings, policy: str = "lru", prefetcher: str = "none",
           policy_params: dict | None = None, prefetcher_params: dict | None = None, *,
           advice: Advice | None = None, per_table: bool = False, window: int = 0,
           log_hits: bool = False, chunk: int | None = None, set_sample: SetSample | None = None,
           unsampled: Unsampled | None = None) -> metrics.SimResult:
    """Replay ``trace`` (a :class:`Trace` or a path) under ``settings`` and return exact
    counts.

    ``per_table``: also count accesses and hits per table. ``window``: also report the
    hit rate of every window of that many accesses. ``log_hits``: also return ``hit_log``, a
    uint8 array with 1 for every access that hit (from caching or a prefetch).
    ``chunk``: stream the trace through the loop ``chunk`` accesses at a time, releasing
    the memory-mapped pages of each chunk after it (a trace larger than memory); the
    counts equal a single-shot replay's. Only for replays the plain loop runs
    (:func:`loop_options`). ``set_sample`` and ``unsampled``: a sample's replay
    (:mod:`recsim.engine.sample`): its sets, each vector's in place of its key's hash
    (:meth:`ReplayContext.vector_sets`), and its prefetcher's count of candidates outside it.

    With ``settings.eval_after = N`` every count, per-table and window statistic is of the
    accesses from ``N`` on (the replay still starts at access 0; ``hit_log`` stays whole).
    A prefetch is counted as issued, useful, unused or pending only when issued from
    access ``N`` on, so useful <= issued; a first use of an earlier prefetch still counts
    as a prefetch hit (or a late prefetch) of its access.
    """
    timings = {}
    if not isinstance(trace, Trace):
        trace = load_trace(Path(trace))
    if settings.sample is not None and settings.sample < 1:  # each sample replayed here
        return sampled_replay(replay, trace, settings, policy, prefetcher, policy_params,
                              prefetcher_params, advice=advice, per_table=per_table,
                              window=window, log_hits=log_hits, chunk=chunk)
    pol, pf = get_policy(policy), get_prefetcher(prefetcher)
    pol_params = resolve_params("policy", pol, policy_params)
    pf_params = resolve_params("prefetcher", pf, prefetcher_params)
    _check_extras(window, chunk)
    trace, dense, advice = _prepare(trace, settings, (pol, pol_params), (pf, pf_params),
                                    advice, timings)
    cap = resolve_capacity(settings.capacity, dense.n_unique)
    options = loop_options(settings, pf.name, advice, per_table or window > 0 or log_hits,
                           chunk)
    if pol.replay is not None:
        return _replay_batches(pol, pol_params, trace, dense, cap, settings, timings, options)
    ctx = _context(trace, dense, cap, settings, (pf, pf_params), advice, set_sample,
                   unsampled)
    features = loop_features(options, ctx.sets)
    if chunk and "GENERAL" in features:
        raise ConfigError("chunk: chunked replay is for plain replays only; this one has "
                          + ", ".join(general_options(options)))
    start = time.perf_counter()
    args = _loop_inputs(ctx, pol.make_state(ctx, pol_params), pf.make_state(ctx, pf_params),
                        advice or Advice(), settings, features, options["statistics"])
    _execute(pol, pf, features, args, (settings.eval_after, chunk), timings,
             time.perf_counter() - start)
    return _result(pol, pf, (pol_params, pf_params), ctx, args, settings, timings,
                   per_table, window, log_hits)


def _execute(pol, pf, features, args: LoopArgs, mark_chunk, timings, setup_s) -> None:
    """Compile (or load) the pair's loop and run it (:func:`_run`), timed; ``setup_s``:
    the time taken to build its inputs."""
    start = time.perf_counter()
    kernel = compile_kernel(pol, pf, features,
                            tuple(numba.typeof(a) for a in loop_call(args)))
    timings["compile_s"] = time.perf_counter() - start
    start = time.perf_counter()
    _run(kernel, args, *mark_chunk, pol)
    timings["replay_s"] = setup_s + time.perf_counter() - start
    timings["accesses_per_s"] = args.accesses.vids.shape[0] / timings["replay_s"]


def _check_extras(window, chunk) -> None:
    """``window`` and ``chunk``, checked before any work."""
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 0:
        raise ConfigError(f"window: expected an integer >= 0, got {window!r}")
    if chunk is not None and (isinstance(chunk, bool) or not isinstance(chunk, (int, np.integer))
                              or chunk < 1):
        raise ConfigError(f"chunk: expected a positive number of accesses, got {chunk!r}")


def _prepare(trace, settings, policy, prefetcher, advice, timings):
    """The trace as replayed (deduplicated per batch for ``dedup``), its dense ids, and
    the advice merged with the learned plug-ins' (their model inference, timed)."""
    start = time.perf_counter()
    if settings.dedup:
        trace = dedup_batches(trace)
    if settings.eval_after >= max(trace.n_accesses, 1):
        raise ConfigError(f"eval_after: expected fewer than the trace's {trace.n_accesses:,} "
                          f"accesses, got {settings.eval_after:,}")
    dense = trace.dense()
    timings["remap_s"] = time.perf_counter() - start
    start = time.perf_counter()
    cap = resolve_capacity(settings.capacity, dense.n_unique)
    learned = [advice_of(plugin, trace, params, cap) for plugin, params in (policy, prefetcher)]
    if any(learned):  # a learned plug-in's model inference (or its cached predictions)
        advice = merged_advice(advice, *learned)
        timings["advice_s"] = time.perf_counter() - start
        _warn_unadvised(settings.eval_after, advice.warmup, policy[0].name)
    return trace, dense, advice


def _context(trace, dense, cap: int, settings, prefetcher, advice,
             set_sample=None, unsampled=None) -> ReplayContext:
    """The geometry (a prefetcher's metadata charged against the buffer first) and what
    the plug-ins see when they build their state."""
    pf, pf_params = prefetcher
    if pf.metadata_vectors is not None:
        charged = int(pf.metadata_vectors(dense.n_unique, pf_params))
        if charged >= cap:
            raise ConfigError(f"prefetcher {pf.name}: its metadata ({charged:,} vectors) "
                              f"does not fit in the buffer of {cap:,} vectors")
        cap -= charged
    cap, sets, ways = resolve_geometry(cap, settings.ways)
    _warn_capacity(cap, settings.ways, dense.n_unique)
    return ReplayContext(trace, readonly(dense.vid), readonly(dense.keys), cap, sets, ways,
                         settings.seed,
                         prefetching=pf.name != "none" or (advice is not None
                                                           and advice.prefetch_ptr is not None),
                         prefetch_latency=int(settings.prefetch_latency),
                         fetch_latency=int(settings.fetch_latency),
                         set_sample=_checked_sample(set_sample, dense.n_unique, sets),
                         unsampled=unsampled)


def _checked_sample(sample: SetSample | None, n_vids: int, sets: int) -> SetSample | None:
    """``replay``'s ``set_sample``, checked: a set in ``[0, sets)`` per vector, and the
    full buffer's number of each of the ``sets`` sets, ascending, below its count."""
    if sample is None:
        return None
    of_vector, numbers = (np.asarray(a, np.int64) for a in sample[:2])
    if of_vector.shape != (n_vids,) or (n_vids and not 0 <= of_vector.min()
                                        <= of_vector.max() < sets):
        raise ValueError(f"set_sample.of_vector: expected {n_vids} sets in [0, {sets})")
    if numbers.shape != (sets,) or (sets and not (0 <= numbers[0] and numbers[-1] < sample.full
                                                  and (np.diff(numbers) > 0).all())):
        raise ValueError(f"set_sample.numbers: expected {sets} ascending sets in "
                         f"[0, {sample.full})")
    return SetSample(of_vector, numbers, int(sample.full))


def _run(kernel, args: LoopArgs, mark: int, chunk: int | None, policy) -> None:
    """Run the loop over the whole trace: in one call, or (a plain loop) in calls split
    at every ``chunk`` accesses and at the ``eval_after`` mark, where the counts so far
    are kept aside. A victim outside its set stops it (:func:`_victim_error`)."""
    acc, stats = args.accesses, args.stats
    n = acc.vids.shape[0]
    bounds = sorted({*range(0, n, chunk or max(n, 1)), n}
                    | ({mark} if stats.mark < 0 else set()))  # a plain loop splits at it
    for lo, hi in zip(bounds, bounds[1:]):
        if lo == mark and stats.mark < 0:
            stats.marked[:] = stats.counts
        kernel(*loop_call(args._replace(accesses=acc._replace(
            vids=acc.vids[lo:hi], tables=acc.tables[lo:hi], t0=np.int64(lo)))))
        if stats.fault[0]:
            raise _victim_error(policy, args)
        if chunk:
            release(acc.vids)
            release(acc.tables)


def _victim_error(policy, args: LoopArgs) -> ConfigError:
    """The one line for a policy whose victim hook chose a slot outside the set."""
    _, slot, t, set_ = (int(x) for x in args.stats.fault)
    base, ways = set_ * args.buf.ways, int(args.buf.ways)
    where = hook_location(policy.victim) or policy.module
    return ConfigError(f"policy {policy.name} ({where}): victim returned slot {slot} at "
                       f"access {t:,}, outside set {set_}'s slots {base}..{base + ways - 1} "
                       "(or -1 to bypass)")


def _result(pol, pf, params, ctx, args: LoopArgs, settings, timings, per_table, window,
            log_hits) -> metrics.SimResult:
    """The counts of the span (all but the first ``eval_after`` accesses) and what the
    replay was asked to record."""
    buf, stats, mark = args.buf, args.stats, settings.eval_after
    evaluated = stats.hit_log[mark:]  # the accesses counted (all but the first eval_after)
    prefetched = buf.vid_of >= PREFETCHED  # pending: issued in the span, still unused
    pending = np.count_nonzero(buf.ready_at[prefetched] >= mark + ctx.prefetch_latency)
    trace = ctx.trace
    return metrics.SimResult(
        policy=pol.name, prefetcher=pf.name, capacity=ctx.capacity, ways=ctx.ways,
        sets=ctx.sets, counts=metrics.counts_dict(stats.counts - stats.marked, pending),
        occupancy=int(buf.n_used.sum()),
        params={"policy": params[0], "prefetcher": params[1], **settings.recorded()},
        timings=timings,
        per_table=(metrics.per_table(trace.table[mark:], evaluated, trace.n_tables)
                   if per_table else None),
        window=window,
        window_hit_rate=metrics.window_rates(evaluated, window) if window else None,
        resident=np.flatnonzero(buf.slot_of >= 0),
        slots=np.where(buf.vid_of >= 0, buf.vid_of & ~PREFETCHED, -1),
        hit_log=stats.hit_log if log_hits else None)


def _replay_batches(pol, params, trace, dense, cap, settings, timings,
                    options) -> metrics.SimResult:
    """A policy that replaces the replay loop (``Policy.replay``), which takes none of
    ``options``; its first call in a process includes loading (or compiling) its kernel."""
    if any(options.values()):
        raise ConfigError(f"policy {pol.name}: it replays whole batches, so it takes no "
                          + ", ".join(name for name, used in options.items() if used))
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


def _warn_unadvised(eval_after: int, warmup: int, policy: str) -> None:
    """Warn of counts that start inside a learned policy's warm-up (see Advice)."""
    if 0 < eval_after < warmup:
        warnings.warn(f"eval_after: {eval_after:,} is inside the first {warmup:,} accesses, "
                      f"which policy '{policy}' learns from without advice: the counts "
                      "include them", RecsimWarning, stacklevel=3)


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


class Accesses(NamedTuple):
    """The accesses a loop call replays (a chunk of the trace from time ``t0``)."""

    vids: np.ndarray
    tables: np.ndarray
    batch_offsets: np.ndarray  # of the whole trace
    t0: np.int64


class LoopAdvice(NamedTuple):
    """:class:`Advice` as the loop reads it (:meth:`Advice.arrays`)."""

    prio: np.ndarray
    ptr: np.ndarray
    vids: np.ndarray
    chunk: int
    lag: int


class Limits(NamedTuple):
    """Latencies (accesses) and the bounds on prefetching."""

    latency: int  # of a prefetch
    fetch_latency: int  # of a demand miss
    budget: int  # prefetches per batch (-1: no cap)
    inflight: np.ndarray  # ring of arrival times (length 0: no bound on prefetches in flight)


class Stats(NamedTuple):
    """What the loop counts, and what it reports."""

    counts: np.ndarray  # metrics.N_COUNTERS
    hit_log: np.ndarray  # one per access, or length 0
    mark: np.int64  # the general loop copies counts into ``marked`` here (-1: the driver)
    marked: np.ndarray
    span: np.int64  # eval_after: a prefetch counts (issued, useful, ...) from here on
    fault: np.ndarray  # [1, slot, t, set] once a policy's victim fell outside its set


class Buffer(NamedTuple):
    """The buffer's residency (``slot_of`` encoded as :mod:`recsim.plugin` describes) and
    geometry, and the prefetcher's candidate queue."""

    slot_of: np.ndarray
    vid_of: np.ndarray
    n_used: np.ndarray
    ready_at: np.ndarray
    ways: int
    queue: np.ndarray


class LoopArgs(NamedTuple):
    """The arguments of the replay loop, :func:`recsim.engine.loop.replay`, grouped in
    named tuples, passed to it by name (:func:`loop_call`: a swap is an error, not wrong
    counts)."""

    accesses: Accesses
    advice: LoopAdvice
    limits: Limits
    stats: Stats
    buf: Buffer
    pstate: tuple
    fstate: tuple


LOOP_PARAMETERS = inspect.signature(getattr(loop.replay, "py_func", loop.replay))


def loop_call(args: LoopArgs) -> tuple:
    """The loop's positional arguments, bound by name from the groups' fields to its
    parameters (:data:`LOOP_PARAMETERS`; a missing or unknown name is a ``TypeError``).
    One flat call: a jitted wrapper taking the groups compiled and cached the loop twice
    (once linked into it), its cold compiles 10-22% slower (docs/speed.md, "Issue 31")."""
    acc, adv, lim, stats, buf = args.accesses, args.advice, args.limits, args.stats, args.buf
    return LOOP_PARAMETERS.bind(
        vids=acc.vids, tables=acc.tables, batch_offsets=acc.batch_offsets, t0=acc.t0,
        prio=adv.prio, adv_ptr=adv.ptr, adv_vids=adv.vids, adv_chunk=adv.chunk,
        adv_lag=adv.lag, latency=lim.latency, fetch_latency=lim.fetch_latency,
        budget=lim.budget, inflight=lim.inflight, counts=stats.counts, hit_log=stats.hit_log,
        mark=stats.mark, marked=stats.marked, span=stats.span, fault=stats.fault,
        buf=(buf.slot_of, buf.vid_of, buf.n_used, buf.ready_at), ways=buf.ways,
        queue=buf.queue, pstate=args.pstate, fstate=args.fstate).args


def _loop_inputs(ctx, pstate, fstate, advice, settings, features, log_hits) -> LoopArgs:
    """The loop's arguments for this replay, its state fresh."""
    n, bound = ctx.trace.n_accesses, settings.max_outstanding or 0
    budget = -1 if settings.prefetch_budget is None else int(settings.prefetch_budget)
    prio, ptr, vids, chunk, lag = advice.arrays(n, ctx.n_vids)
    encode = getattr(not_resident, "py_func", not_resident)  # on arrays, as NumPy
    absent = encode(ctx.vector_sets(), NEW)  # each vector new, in its set
    return LoopArgs(
        accesses=Accesses(vids=ctx.vids, tables=readonly(ctx.trace.table),
                          batch_offsets=readonly(ctx.trace.batch_offsets), t0=np.int64(0)),
        advice=LoopAdvice(prio=readonly(prio), ptr=readonly(ptr), vids=readonly(vids),
                          chunk=chunk, lag=lag),
        limits=Limits(latency=ctx.prefetch_latency, fetch_latency=ctx.fetch_latency,
                      budget=budget, inflight=np.zeros(bound + 2 if bound else 0, np.int64)),
        stats=Stats(counts=np.zeros(metrics.N_COUNTERS, np.int64),
                    hit_log=np.zeros(n if log_hits else 0, np.uint8),
                    mark=np.int64(settings.eval_after if "GENERAL" in features else -1),
                    marked=np.zeros(metrics.N_COUNTERS, np.int64),
                    span=np.int64(settings.eval_after), fault=np.zeros(4, np.int64)),
        buf=Buffer(slot_of=absent, vid_of=np.full(ctx.capacity, -1, np.int64),
                   n_used=np.zeros(ctx.sets, np.int64),
                   ready_at=np.zeros(ctx.capacity, np.int64), ways=ctx.ways,
                   queue=np.zeros(QUEUE_SIZE, np.int64)),
        pstate=pstate, fstate=fstate)


PLAIN_OPTIONS = ("prefetcher", "prefetch_latency", "eval_after", "chunk")


def loop_options(settings: ReplaySettings, prefetcher: str = "none", advice=None,
                 statistics: bool = False, chunk=None) -> dict[str, bool]:
    """Which options beyond a bare replay this one uses, by name: **the one place that
    decides the kind of loop** (:func:`loop_features`) and what a batch policy
    (``Policy.replay``: none) and chunked replay (:data:`PLAIN_OPTIONS` only) refuse.
    ``statistics``: a hit log, per-table or window statistics."""
    gives_advice = advice is not None and (advice.priority is not None
                                           or advice.prefetch_ptr is not None)
    return {"prefetcher": prefetcher != "none",
            "prefetch_latency": bool(settings.prefetch_latency),
            "eval_after": bool(settings.eval_after), "chunk": bool(chunk),
            "advice": gives_advice, "statistics": bool(statistics),
            "prefetch_budget": settings.prefetch_budget is not None,
            "fetch_latency": bool(settings.fetch_latency),
            "max_outstanding": settings.max_outstanding is not None}


def general_options(options: dict[str, bool]) -> list[str]:
    """The options used that only the general loop runs."""
    return [name for name, used in options.items() if used and name not in PLAIN_OPTIONS]


def loop_features(options: dict[str, bool], sets: int) -> frozenset:
    """The kind of loop (:mod:`recsim.engine.kernels`) for :func:`loop_options`: the
    general one for any option beyond :data:`PLAIN_OPTIONS`; else the plain fully
    associative one for one set; else plain set-associative."""
    if general_options(options):
        return frozenset({"GENERAL"})
    return frozenset({"ONE_SET"} if sets == 1 else ())
