"""The replay loop: one pass over the trace, no Python per access.

This file is a template. :mod:`recsim.engine.kernels` copies it into the kernel cache with the
``hooks`` block below rewritten for one (policy, prefetcher) pair and the ``features``
block for the kind of replay, so that Numba compiles, inlines and caches on disk a loop
specialised to both. (Numba cannot cache a function that receives jitted functions as
arguments or closure variables: their cache key holds object addresses that change every
process.) Three kinds per pair at most: two *plain* loops (no advice, no per-access
statistics, no prefetch budget), fully associative or set-associative, and one *general*
loop that checks those options at run time; which one a replay needs is decided in one
place, :func:`recsim.engine.replay.loop_options`. Every per-access check of an unused option
costs: together they halved the speed of plain LRU. As shipped, the blocks name LRU
without prefetching in a plain set-associative loop, so the module also imports and runs.
"""

import numpy as np
from numba import njit

from recsim.engine.metrics import (
    ACCESSES,
    BYPASSES,
    CACHE_HITS,
    COMPULSORY_MISSES,
    EVICTIONS,
    LATE_PREFETCHES,
    MERGED_MISSES,
    ON_DEMAND_FETCHES,
    POLLUTION_MISSES,
    PREFETCH_HITS,
    PREFETCHES_DROPPED,
    PREFETCHES_ISSUED,
    PREFETCHES_REDUNDANT,
    PREFETCHES_UNUSED,
    PREFETCHES_USEFUL,
)
from recsim.engine.preload import preload
from recsim.plugin import (
    GONE,
    HIT,
    LATE_PREFETCH,
    MISS,
    NEW,
    POLLUTED,
    PREFETCH_HIT,
    PREFETCHED,
    absent_set,
    absent_state,
    not_resident,
    resident_set,
)

# >>> hooks
from recsim.policies.lru import POLICY as _policy
from recsim.prefetchers.none import PREFETCHER as _prefetcher

# <<< hooks

# >>> features
ONE_SET = False  # plain, fully associative: every vector is in set 0
GENERAL = False  # advice, hit log, budget, fetch latency, bound on prefetches in flight
# <<< features

LOOKAHEAD = 16  # accesses ahead whose slot_of entry is preloaded

policy_on_access = _policy.on_access
policy_on_hit = _policy.on_hit
policy_on_fill = _policy.on_fill
policy_victim = _policy.victim
policy_on_evict = _policy.on_evict
prefetcher_on_access = _prefetcher.on_access
prefetcher_on_evict = _prefetcher.on_evict
# A victim outside its set is checked for plug-in policies only (docs/speed.md, "Issue 31"):
# recsim's own are proven by tests/test_reference.py, and the check, whose extra live
# values the loop's registers cannot hold, cost 7-27% of the instructions of their replays.
CHECK_VICTIM = not getattr(policy_victim, "py_func", policy_victim).__module__.startswith(
    "recsim.policies.")  # (a plain function under RECSIM_DEBUG=1)


@njit(cache=True, inline="always")
def _make_room(pstate, fstate, buf, stats, set_, vid, t, prefetch, span_ready):
    """A slot of ``set_`` for ``vid``: a free one, else the policy's victim, evicted.
    Returns -1 when the policy bypasses, or when its victim is outside the set (checked
    where :data:`CHECK_VICTIM`): that is recorded in ``stats.fault``, replayed as a bypass
    (nothing is written out of bounds) and reported by the driver after the call. (The
    loop does not return early on it: a return inside the loop cost 15% of the
    instructions of a fully associative LRU replay.)"""
    counts, ways, n_used, vid_of = stats.counts, buf.ways, buf.n_used, buf.vid_of
    used = n_used[set_]
    base = set_ * ways
    if used < ways:
        n_used[set_] = used + 1
        return base + used
    slot = policy_victim(pstate, set_, base, ways, vid, t, prefetch)
    if slot < 0:
        counts[BYPASSES] += 1
        return -1
    if CHECK_VICTIM:  # a constant: pruned before LLVM for recsim's own policies
        if slot < base or slot >= base + ways:  # once per eviction
            if stats.fault[0] == 0:
                stats.fault[0], stats.fault[1], stats.fault[2], stats.fault[3] = 1, slot, t, set_
            return -1
    old = vid_of[slot]
    if old >= PREFETCHED:
        old -= PREFETCHED
        if buf.ready_at[slot] >= span_ready:  # issued in the counted span
            counts[PREFETCHES_UNUSED] += 1
    buf.slot_of[old] = not_resident(set_, POLLUTED if prefetch else GONE)
    counts[EVICTIONS] += 1
    policy_on_evict(pstate, set_, slot, old, t)
    prefetcher_on_evict(fstate, old, t)
    return slot


@njit(cache=True, inline="always")
def _prefetch(pstate, fstate, buf, stats, vid, t, latency, span_ready):
    """Issue a prefetch of ``vid`` at time ``t``; returns 1 if it was issued."""
    slot_of, vid_of, counts = buf.slot_of, buf.vid_of, stats.counts
    code = slot_of[vid]
    if code >= 0:
        counts[PREFETCHES_REDUNDANT] += 1
        return 0
    s = 0 if ONE_SET else absent_set(code)
    slot = _make_room(pstate, fstate, buf, stats, s, vid, t, True, span_ready)
    if slot < 0:
        return 0
    slot_of[vid] = PREFETCHED + slot
    vid_of[slot] = PREFETCHED + vid
    buf.ready_at[slot] = t + latency
    counts[PREFETCHES_ISSUED] += 1
    policy_on_fill(pstate, s, slot, vid, t, 0.0, True)
    return 1


@njit(cache=True, _nrt=False)
def _issue(pstate, fstate, buf, stats, limits, cands, n, t, issued):
    """Issue candidates ``cands[:n]`` within the batch budget and the bound on prefetches
    in flight; returns the new issued count. ``limits.inflight`` (length 0: no bound) is
    ``[head, count, ring of the arrival times of the prefetches in flight...]``.
    Not inlined: keeping this cold path out of the loop body keeps the loop fast."""
    counts, inflight, budget, latency = (stats.counts, limits.inflight, limits.budget,
                                         limits.latency)
    bound = inflight.shape[0] - 2
    span_ready = stats.span + latency
    for j in range(n):
        if GENERAL and budget >= 0 and issued >= budget:
            counts[PREFETCHES_DROPPED] += n - j
            break
        if GENERAL and bound > 0:
            while inflight[1] > 0 and inflight[2 + inflight[0]] <= t:  # arrived
                inflight[0] = inflight[0] + 1 if inflight[0] + 1 < bound else 0
                inflight[1] -= 1
            if inflight[1] >= bound:
                counts[PREFETCHES_DROPPED] += n - j
                break
        done = _prefetch(pstate, fstate, buf, stats, cands[j], t, latency, span_ready)
        if GENERAL and bound > 0 and done:
            end = inflight[0] + inflight[1]
            inflight[2 + (end if end < bound else end - bound)] = t + latency
            inflight[1] += 1
        issued += done
    return issued


@njit(cache=True, _nrt=False, nogil=True)
def replay(accesses, advice, limits, stats, buf, pstate, fstate):
    """Replay ``accesses.vids``, the accesses at times ``t = t0 .. t0 + n - 1``, and add
    the outcome to ``stats.counts``. A plain loop may be called chunk by chunk with the
    same state (``t0`` the time of the chunk's first access): the counts are those of one
    call. A general loop replays the whole trace in one call (``t0 = 0``). The arguments
    are the named tuples of :mod:`recsim.engine.replay` (``LoopArgs``), read by name:

    ``buf`` (:class:`~recsim.engine.replay.Buffer`) is the buffer's residency (``slot_of``
    encoded as described in :mod:`recsim.plugin`, so it also gives each vector's set),
    its ``ways`` and the prefetcher's candidate ``queue``; ``advice.prio`` is per-access
    advice; ``advice.ptr``/``advice.vids`` list the vids to prefetch for each chunk of
    ``advice.chunk`` accesses, issued at the start of chunk ``k + advice.lag``;
    ``limits.latency``/``limits.fetch_latency``: accesses until a prefetch / a demand
    fetch arrives (an access before then is a late prefetch if it is the first use of a
    prefetch, else a merged miss); ``limits.budget`` caps prefetches issued per batch
    (-1: no cap); ``limits.inflight`` bounds the prefetches in flight (see ``_issue``);
    ``stats.hit_log`` (length n, or 0) receives 1 for each access that hit;
    ``stats.marked`` receives the counts before access ``stats.mark`` (-1: none; for
    ``eval_after``); a prefetch counts as useful or unused only when issued from access
    ``stats.span`` on (``eval_after``), so that useful <= issued in the counted span. A
    plain loop ignores advice, fetch latency, budget, bound, log and mark (the driver
    splits its calls at the mark instead).
    """
    vids, tables, t0 = accesses.vids, accesses.tables, accesses.t0
    slot_of, vid_of, n_used, ready_at = buf.slot_of, buf.vid_of, buf.n_used, buf.ready_at
    counts, hit_log, mark, ways = stats.counts, stats.hit_log, stats.mark, buf.ways
    latency, fetch_latency, queue = limits.latency, limits.fetch_latency, buf.queue
    n = vids.shape[0]
    one_set = ONE_SET or (GENERAL and n_used.shape[0] == 1)
    has_prio = GENERAL and advice.prio.shape[0] == n
    log_hits = GENERAL and hit_log.shape[0] == n
    has_budget = GENERAL and limits.budget >= 0
    wait = latency > 0 or (GENERAL and fetch_latency > 0)  # a fill can be in flight
    span_ready = stats.span + latency  # a prefetch arriving from then on was issued in span
    batch = 0
    batch_end = accesses.batch_offsets[1]
    issued = np.int64(0)  # not the constant 0: _issue would compile once more for it
    chunk = advice.lag  # the next chunk whose advice is due
    next_advice = advice.lag * advice.chunk if GENERAL and advice.chunk > 0 else n
    for i in range(n):
        t = t0 + i
        if GENERAL and t == mark:
            for c in range(counts.shape[0]):
                stats.marked[c] = counts[c]
            stats.marked[ACCESSES] += i
        if has_budget:
            while t >= batch_end:
                batch += 1
                batch_end = accesses.batch_offsets[batch + 1]
                issued = np.int64(0)
        if GENERAL and t == next_advice:
            k = chunk - advice.lag
            if k < advice.ptr.shape[0] - 1:
                lo = advice.ptr[k]
                issued = _issue(pstate, fstate, buf, stats, limits, advice.vids[lo:],
                                advice.ptr[k + 1] - lo, t, issued)
            chunk += 1
            next_advice += advice.chunk
        if i + LOOKAHEAD < n:
            preload(slot_of, vids[i + LOOKAHEAD])
        v = vids[i]
        p = advice.prio[i] if has_prio else 0.0
        policy_on_access(pstate, v, t)
        slot = slot_of[v]
        if slot >= 0:
            s = 0 if one_set else resident_set(slot, ways)
            outcome = HIT
            if slot >= PREFETCHED:
                slot -= PREFETCHED
                slot_of[v] = slot
                vid_of[slot] = v
                if ready_at[slot] >= span_ready:  # issued in the counted span
                    counts[PREFETCHES_USEFUL] += 1
                if ready_at[slot] > t:
                    counts[LATE_PREFETCHES] += 1
                    outcome = LATE_PREFETCH
                else:
                    counts[PREFETCH_HITS] += 1
                    outcome = PREFETCH_HIT
            elif wait and ready_at[slot] > t:  # its fetch (or late prefetch) in flight
                counts[MERGED_MISSES] += 1
                outcome = MISS
            else:
                counts[CACHE_HITS] += 1
            policy_on_hit(pstate, s, slot, v, t, p)
        else:
            s = 0 if one_set else absent_set(slot)
            state = absent_state(slot, s)
            outcome = MISS
            counts[ON_DEMAND_FETCHES] += 1
            if state == NEW:
                counts[COMPULSORY_MISSES] += 1
            elif state == POLLUTED:
                counts[POLLUTION_MISSES] += 1
            slot = _make_room(pstate, fstate, buf, stats, s, v, t, False, span_ready)
            if slot >= 0:
                slot_of[v] = slot
                vid_of[slot] = v
                if wait:
                    ready_at[slot] = t + fetch_latency
                policy_on_fill(pstate, s, slot, v, t, p, False)
            else:
                slot_of[v] = not_resident(s, GONE)  # bypassed: its next miss is not compulsory
        if log_hits:
            hit_log[i] = outcome == HIT or outcome == PREFETCH_HIT
        m = prefetcher_on_access(fstate, v, tables[i], outcome, t, slot_of, queue)
        if m > 0:
            issued = _issue(pstate, fstate, buf, stats, limits, queue, m, t, issued)
    counts[ACCESSES] += n
