"""S3-FIFO: a small FIFO, a main FIFO (2-bit CLOCK) and a ghost FIFO.

Paper: J. Yang, Y. Zhang, Z. Qiu, Y. Yue and R. Vinayak, "FIFO queues are all you need
for cache eviction", SOSP 2023. Published defaults (and libCacheSim's): small queue 10%
of the cache, ghost queue 90% (in entries), move to main at frequency >= 2
(``small_size_ratio=0.1``, ``ghost_size_ratio=0.9``, ``move_to_main_threshold=2``).
Reference implementation: libCacheSim ``libCacheSim/cache/eviction/S3FIFO.c`` (PyPI
``libcachesim`` 0.3.5, ``lcs.S3FIFO``), reproduced exactly for unit-size objects:

* sizes: small ``S = floor(c * small_size_ratio)``, main ``M = c - S``, ghost
  ``G = floor(c * ghost_size_ratio)`` entries (no ghost when G = 0);
* a hit adds 1 to the vector's frequency (uncapped until main's CLOCK clamps it);
* a miss whose vid is in the ghost removes it from the ghost and inserts it into main;
  any other miss goes to small, except before the set's first eviction, when a full
  small queue sends newcomers to main;
* eviction: from main when main holds more than M or small is empty, else from small.
  Small: the oldest with frequency >= threshold moves to main's tail (frequency 0) and
  the scan goes on; the first one below the threshold is evicted into the ghost (the
  ghost drops its oldest entry when it holds G). If small empties without an eviction,
  main evicts. Main: the oldest with frequency >= 1 is reinserted at the tail with
  frequency ``min(f, 3) - 1``; the first with frequency 0 is evicted (no ghost).

Semantic difference (documented and tested): libCacheSim never inserts an object whose
size is >= the small queue's size, which for unit-size objects means that with
``S <= 1`` (caches, or sets, of fewer than 20 vectors at the default ratio) nothing is
ever cached. Here the engine owns residency and always fills free ways, so S is taken as
``max(1, floor(c * small_size_ratio))`` and every missing vector enters.

A prefetch fill is handled as a demand miss (ghost check included). O(1) amortised per
access: intrusive lists over slots (small and main queues, int32 links) and the per-set
FIFO rings of :mod:`recsim.policies._ghosts` for the ghost (once a linked list over vids: 30 -> 39 M
accesses/s on the 32-way benchmark, same counts); each CLOCK reinsertion consumes
frequency that a hit added. Fully associative by design; with ``sets > 1`` every set runs
its own S3-FIFO with c = ways.
"""

from collections import namedtuple

import numpy as np

from recsim.plugin import Float, Int, Policy, hook
from recsim.policies._ghosts import ghost_tag, make_rings, push_bounded, remove
from recsim.policies._lists import push_back, unlink

SMALL, MAIN, GHOST = range(3)  # a set's queues: counts [3*s + i], FIFO links [2*s + i]
# per-set flags [3*s + i]: the set has evicted, the next fill goes to main, the victim's
# vid goes to the ghost
F_EVICTED, F_TO_MAIN, F_TO_GHOST = range(3)


# the sizes of a set's small and main FIFOs and its ghost, and the promotion threshold; per
# set the small, main and ghost counts [3*s + SMALL/MAIN/GHOST]; per slot its FIFO (SMALL
# or MAIN), access count and links ([2*s + q]: oldest and newest of FIFO q); the ghosts
# (recsim.ghosts rings); flags per set [3*s + F_*]
State = namedtuple("State", "small main ghost threshold count q_of freq r_prev r_next r_head "
                            "r_tail ring ends code mask flags")


def make_state(ctx, params):
    r, g, thr = (params["small_size_ratio"], params["ghost_size_ratio"],
                 params["move_to_main_threshold"])
    cap, sets, ways, n = ctx.capacity, ctx.sets, ctx.ways, ctx.n_vids
    small = max(1, int(ways * r))
    ghost = int(ways * g)
    count = np.zeros(3 * sets, dtype=np.int64)  # [3*s + SMALL/MAIN/GHOST]: sizes
    q_of = np.zeros(cap, dtype=np.int8)  # SMALL or MAIN
    freq = np.zeros(cap, dtype=np.int32)
    r_prev = np.full(cap, -1, dtype=np.int32)
    r_next = np.full(cap, -1, dtype=np.int32)
    r_head = np.full(2 * sets, -1, dtype=np.int64)  # oldest of [2*s + q]
    r_tail = np.full(2 * sets, -1, dtype=np.int64)
    ring, ends, code, mask = make_rings(sets, ghost, n)  # the ghost of each set
    flags = np.zeros(3 * sets, dtype=np.int8)  # [3*s + F_*]
    return State(small, ways - small, ghost, thr, count, q_of, freq, r_prev, r_next, r_head, r_tail,
                 ring, ends, code, mask, flags)


@hook
def on_hit(state, set_, slot, vid, t, prio):
    state.freq[slot] += 1


@hook
def on_fill(state, set_, slot, vid, t, prio, prefetch):
    count, q_of, freq, r_prev, r_next, r_head, r_tail = (
        state.count, state.q_of, state.freq, state.r_prev, state.r_next, state.r_head, state.r_tail)
    flags = state.flags
    if flags[3 * set_ + F_TO_MAIN]:
        q = MAIN
        flags[3 * set_ + F_TO_MAIN] = 0
    elif not flags[3 * set_ + F_EVICTED] and count[3 * set_ + SMALL] >= state.small:
        q = MAIN
    else:
        q = SMALL
    q_of[slot] = q
    freq[slot] = 0
    count[3 * set_ + q] += 1
    push_back(r_prev, r_next, r_head, r_tail, 2 * set_ + q, slot)


@hook
def victim(state, set_, base, ways, vid, t, prefetch):
    count, q_of, freq, r_prev, r_next, r_head, r_tail = (
        state.count, state.q_of, state.freq, state.r_prev, state.r_next, state.r_head, state.r_tail)
    ring, code, mask, flags = state.ring, state.code, state.mask, state.flags
    flags[3 * set_ + F_EVICTED] = 1
    if ghost_tag(code, vid) >= 0:
        remove(ring, code, mask, set_, vid)
        count[3 * set_ + GHOST] -= 1
        flags[3 * set_ + F_TO_MAIN] = 1
    sm, mn = 2 * set_ + SMALL, 2 * set_ + MAIN
    while True:
        if count[3 * set_ + MAIN] > state.main or count[3 * set_ + SMALL] == 0:
            while True:  # main: 2-bit CLOCK over a FIFO
                slot = r_head[mn]
                f = freq[slot]
                if f == 0:
                    flags[3 * set_ + F_TO_GHOST] = 0
                    return slot
                unlink(r_prev, r_next, r_head, r_tail, mn, slot)
                push_back(r_prev, r_next, r_head, r_tail, mn, slot)
                freq[slot] = (f if f < 3 else 3) - 1
        while count[3 * set_ + SMALL] > 0:  # small
            slot = r_head[sm]
            if freq[slot] < state.threshold:
                flags[3 * set_ + F_TO_GHOST] = 1
                return slot
            unlink(r_prev, r_next, r_head, r_tail, sm, slot)
            count[3 * set_ + SMALL] -= 1
            push_back(r_prev, r_next, r_head, r_tail, mn, slot)
            count[3 * set_ + MAIN] += 1
            q_of[slot] = MAIN
            freq[slot] = 0


@hook
def on_evict(state, set_, slot, vid, t):
    count, q_of, r_prev, r_next, r_head, r_tail = (
        state.count, state.q_of, state.r_prev, state.r_next, state.r_head, state.r_tail)
    ring, ends, code, mask, flags = state.ring, state.ends, state.code, state.mask, state.flags
    q = q_of[slot]
    unlink(r_prev, r_next, r_head, r_tail, 2 * set_ + q, slot)
    count[3 * set_ + q] -= 1
    if flags[3 * set_ + F_TO_GHOST] and state.ghost > 0:
        push_bounded(ring, ends, code, mask, count, 3 * set_ + GHOST, state.ghost, set_, 0, vid)


POLICY = Policy("s3fifo", "S3-FIFO: small, main and ghost FIFOs (Yang et al. 2023; "
                "libCacheSim S3FIFO)", make_state, victim, on_hit=on_hit, on_fill=on_fill,
                on_evict=on_evict,
                params={"small_size_ratio": Float(0.1, lo=0, hi=1, open_lo=True, open_hi=True,
                                                  help="share of the ways for the small FIFO"),
                        "ghost_size_ratio": Float(0.9, lo=0, help="ghost entries per set, "
                                                  "as a share of the ways"),
                        "move_to_main_threshold": Int(2, lo=1, help="accesses in the small "
                                                      "FIFO that promote to main")})
