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
def _make_room(pstate, fstate, buf, counts, set_, ways, vid, t, prefetch, span_ready, fault):
    """A slot of ``set_`` for ``vid``: a free one, else the policy's victim, evicted.
    Returns -1 when the policy bypasses, or when its victim is outside the set (checked
    where :data:`CHECK_VICTIM`): that is recorded in ``fault``, replayed as a bypass
    (nothing is written out of bounds) and reported by the driver after the call. (The
    loop does not return early on it: a return inside the loop cost 15% of the
    instructions of a fully associative LRU replay.)"""
    slot_of, vid_of, n_used, ready_at = buf
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
            if fault[0] == 0:
                fault[0], fault[1], fault[2], fault[3] = 1, slot, t, set_
            return -1
    old = vid_of[slot]
    if old >= PREFETCHED:
        old -= PREFETCHED
        if ready_at[slot] >= span_ready:  # issued in the counted span
            counts[PREFETCHES_UNUSED] += 1
    slot_of[old] = not_resident(set_, POLLUTED if prefetch else GONE)
    counts[EVICTIONS] += 1
    policy_on_evict(pstate, set_, slot, old, t)
    prefetcher_on_evict(fstate, old, t)
    return slot


@njit(cache=True, inline="always")
def _prefetch(pstate, fstate, buf, counts, ways, vid, t, latency, span_ready, fault):
    """Issue a prefetch of ``vid`` at time ``t``; returns 1 if it was issued."""
    slot_of, vid_of, n_used, ready_at = buf
    code = slot_of[vid]
    if code >= 0:
        counts[PREFETCHES_REDUNDANT] += 1
        return 0
    s = 0 if ONE_SET else absent_set(code)
    slot = _make_room(pstate, fstate, buf, counts, s, ways, vid, t, True, span_ready, fault)
    if slot < 0:
        return 0
    slot_of[vid] = PREFETCHED + slot
    vid_of[slot] = PREFETCHED + vid
    ready_at[slot] = t + latency
    counts[PREFETCHES_ISSUED] += 1
    policy_on_fill(pstate, s, slot, vid, t, 0.0, True)
    return 1


@njit(cache=True, _nrt=False)
def _issue(pstate, fstate, buf, counts, ways, cands, n, t, latency, budget, issued, inflight,
           span, fault):
    """Issue candidates ``cands[:n]`` within the batch budget and the bound on prefetches
    in flight; returns the new issued count. ``inflight`` (length 0: no bound) is
    ``[head, count, ring of the arrival times of the prefetches in flight...]``.
    Not inlined: keeping this cold path out of the loop body keeps the loop fast."""
    bound = inflight.shape[0] - 2
    span_ready = span + latency
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
        done = _prefetch(pstate, fstate, buf, counts, ways, cands[j], t, latency, span_ready,
                         fault)
        if GENERAL and bound > 0 and done:
            end = inflight[0] + inflight[1]
            inflight[2 + (end if end < bound else end - bound)] = t + latency
            inflight[1] += 1
        issued += done
    return issued


@njit(cache=True, _nrt=False, nogil=True)
def replay(vids, tables, batch_offsets, prio, adv_ptr, adv_vids, adv_chunk, adv_lag, ways,
           latency, fetch_latency, budget, inflight, pstate, fstate, buf, counts, queue,
           hit_log, t0, mark, marked, span, fault):
    """Replay ``vids``, the accesses at times ``t = t0 .. t0 + n - 1``, and add the outcome
    to ``counts``. A plain loop may be called chunk by chunk with the same state (``t0`` the
    time of the chunk's first access): the counts are those of one call. A general loop
    replays the whole trace in one call (``t0 = 0``). The driver passes the fields of its
    named groups by keyword (:func:`recsim.engine.replay.loop_call`), so a swap is an
    error, not wrong counts; the body reads plain arrays, which ran 7-9% faster than
    reading the groups by field inside the loop (docs/speed.md, "Issue 31").

    ``buf = (slot_of, vid_of, n_used, ready_at)`` is the buffer's residency (``slot_of``
    encoded as described in :mod:`recsim.plugin`, so it also gives each vector's set),
    ``queue`` the prefetcher's candidates; ``prio`` is per-access advice;
    ``adv_ptr``/``adv_vids`` list the vids to prefetch for each chunk of ``adv_chunk``
    accesses, issued at the start of chunk ``k + adv_lag``; ``latency``/``fetch_latency``:
    accesses until a prefetch / a demand fetch arrives (an access before then is a late
    prefetch if it is the first use of a prefetch, else a merged miss); ``budget`` caps
    prefetches issued per batch (-1: no cap); ``inflight`` bounds the prefetches in flight
    (see ``_issue``); ``hit_log`` (length n, or 0) receives 1 for each access that hit;
    ``marked`` receives the counts before access ``mark`` (-1: none; for ``eval_after``); a
    prefetch counts as useful or unused only when issued from access ``span`` on
    (``eval_after``), so that useful <= issued in the counted span; ``fault`` receives
    ``[1, slot, t, set]`` when a plug-in's victim falls outside its set. A plain loop
    ignores advice, fetch latency, budget, bound, log and mark (the driver splits its calls
    at the mark instead).
    """
    slot_of, vid_of, n_used, ready_at = buf
    n = vids.shape[0]
    one_set = ONE_SET or (GENERAL and n_used.shape[0] == 1)
    has_prio = GENERAL and prio.shape[0] == n
    log_hits = GENERAL and hit_log.shape[0] == n
    has_budget = GENERAL and budget >= 0
    wait = latency > 0 or (GENERAL and fetch_latency > 0)  # a fill can be in flight
    span_ready = span + latency  # a prefetch arriving from then on was issued in span
    batch = 0
    batch_end = batch_offsets[1]
    issued = np.int64(0)  # not the constant 0: _issue would compile once more for it
    chunk = adv_lag  # the next chunk whose advice is due
    next_advice = adv_lag * adv_chunk if GENERAL and adv_chunk > 0 else n
    for i in range(n):
        t = t0 + i
        if GENERAL and t == mark:
            for c in range(counts.shape[0]):
                marked[c] = counts[c]
            marked[ACCESSES] += i
        if has_budget:
            while t >= batch_end:
                batch += 1
                batch_end = batch_offsets[batch + 1]
                issued = np.int64(0)
        if GENERAL and t == next_advice:
            k = chunk - adv_lag
            if k < adv_ptr.shape[0] - 1:
                lo = adv_ptr[k]
                issued = _issue(pstate, fstate, buf, counts, ways, adv_vids[lo:],
                                adv_ptr[k + 1] - lo, t, latency, budget, issued, inflight,
                                span, fault)
            chunk += 1
            next_advice += adv_chunk
        if i + LOOKAHEAD < n:
            preload(slot_of, vids[i + LOOKAHEAD])
        v = vids[i]
        p = prio[i] if has_prio else 0.0
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
            slot = _make_room(pstate, fstate, buf, counts, s, ways, v, t, False, span_ready,
                              fault)
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
            issued = _issue(pstate, fstate, buf, counts, ways, queue, m, t, latency, budget,
                            issued, inflight, span, fault)
    counts[ACCESSES] += n
