"""2Q: a FIFO for newcomers (A1in), a ghost FIFO of the ids it evicted (A1out) and an LRU
for vectors seen again (Am).

Paper: T. Johnson and D. Shasha, "2Q: A Low Overhead High Performance Buffer Management
Replacement Algorithm", VLDB 1994 (full version; the paper suggests Kin = 25% of the
buffer and Kout = 50%). Reference implementation: libCacheSim
``libCacheSim/cache/eviction/TwoQ.c`` (read at commit 6cecdd854fec; PyPI ``libcachesim``
0.3.5, ``lcs.TwoQ``; defaults ``Ain-size-ratio=0.25``, ``Aout-size-ratio=0.5``),
reproduced exactly for unit-size objects:

* sizes ``Kin = floor(c * a_in_size_ratio)``, ``Kout = floor(c * a_out_size_ratio)``;
* a hit in A1in changes nothing; a hit in Am moves the vector to Am's MRU end;
* a miss whose vid is in A1out removes it there (before any eviction) and enters Am's MRU
  end; any other miss enters A1in;
* eviction: A1in's oldest when A1in holds more than Kin (its id joins A1out, which drops
  its oldest id when it holds Kout), else Am's LRU (no ghost).

Semantic difference (documented and tested): libCacheSim refuses an object larger than
A1in, so with ``Kin = 0`` (caches, or sets, of fewer than 4 vectors at the default ratio)
it caches nothing. Here Kin is ``max(1, floor(c * a_in_size_ratio))`` and A1in also
evicts while Am is empty (only possible when Kin = c), so every missing vector enters.

A prefetch fill is handled as a demand miss (ghost check included). O(1) per access:
intrusive lists over slots for A1in and Am, the per-set FIFO rings of
:mod:`recsim.policies._ghosts` for A1out. Fully associative by design; with ``sets > 1``
every set runs its own 2Q with c = ways. Ghost ids exist in a set only after it has been
full, and a full set stays full, so ``victim`` does the ghost check.
"""

from collections import namedtuple

import numpy as np

from recsim.plugin import Float, Policy, hook
from recsim.policies._ghosts import ghost_tag, make_rings, push_bounded, remove
from recsim.policies._lists import push_back, push_front, unlink

K_IN, K_OUT = range(2)  # conf: the sizes of A1in and A1out
A1IN, AM, A1OUT = range(3)  # a set's queues: counts [3*s + i], list links [2*s + i]
F_TO_AM, F_TO_GHOST = range(2)  # per-set flags [2*s + i]: fill into Am, victim to A1out

State = namedtuple("State", "conf count q_of prev next head tail ring ends code mask flags")


def make_state(ctx, params):
    cap, sets, ways = ctx.capacity, ctx.sets, ctx.ways
    k_in = max(1, int(ways * params["a_in_size_ratio"]))
    k_out = int(ways * params["a_out_size_ratio"])
    ring, ends, code, mask = make_rings(sets, k_out, ctx.n_vids)
    return State(
        conf=np.array([k_in, k_out], dtype=np.int64),  # [K_IN, K_OUT]
        count=np.zeros(3 * sets, dtype=np.int64),  # [3*s + A1IN/AM/A1OUT]: sizes
        q_of=np.zeros(cap, dtype=np.int8),  # A1IN or AM
        prev=np.full(cap, -1, dtype=np.int32), next=np.full(cap, -1, dtype=np.int32),
        head=np.full(2 * sets, -1, dtype=np.int64),  # [2*s + q]: A1IN oldest, AM MRU
        tail=np.full(2 * sets, -1, dtype=np.int64),
        ring=ring, ends=ends, code=code, mask=mask,
        flags=np.zeros(2 * sets, dtype=np.int8))  # [2*s + F_*]


@hook
def on_hit(state, set_, slot, vid, t, prio):
    lst = 2 * set_ + AM
    if state.q_of[slot] == AM and state.head[lst] != slot:
        unlink(state.prev, state.next, state.head, state.tail, lst, slot)
        push_front(state.prev, state.next, state.head, state.tail, lst, slot)


@hook
def on_fill(state, set_, slot, vid, t, prio, prefetch):
    q = AM if state.flags[2 * set_ + F_TO_AM] else A1IN
    state.flags[2 * set_ + F_TO_AM] = 0
    state.q_of[slot] = q
    state.count[3 * set_ + q] += 1
    if q == AM:
        push_front(state.prev, state.next, state.head, state.tail, 2 * set_ + AM, slot)
    else:
        push_back(state.prev, state.next, state.head, state.tail, 2 * set_ + A1IN, slot)


@hook
def victim(state, set_, base, ways, vid, t, prefetch):
    count, flags = state.count, state.flags
    if ghost_tag(state.code, vid) >= 0:
        remove(state.ring, state.code, state.mask, set_, vid)
        count[3 * set_ + A1OUT] -= 1
        flags[2 * set_ + F_TO_AM] = 1
    if count[3 * set_ + A1IN] > state.conf[K_IN] or count[3 * set_ + AM] == 0:
        flags[2 * set_ + F_TO_GHOST] = 1
        return state.head[2 * set_ + A1IN]
    flags[2 * set_ + F_TO_GHOST] = 0
    return state.tail[2 * set_ + AM]


@hook
def on_evict(state, set_, slot, vid, t):
    count = state.count
    q = state.q_of[slot]
    unlink(state.prev, state.next, state.head, state.tail, 2 * set_ + q, slot)
    count[3 * set_ + q] -= 1
    if state.flags[2 * set_ + F_TO_GHOST] and state.conf[K_OUT] > 0:
        push_bounded(state.ring, state.ends, state.code, state.mask, count, 3 * set_ + A1OUT,
                     state.conf[K_OUT], set_, 0, vid)


POLICY = Policy("twoq", "2Q: A1in FIFO, A1out ghosts, Am LRU (Johnson & Shasha 1994; "
                "libCacheSim TwoQ)", make_state, victim, on_hit=on_hit, on_fill=on_fill,
                on_evict=on_evict,
                params={"a_in_size_ratio": Float(0.25, lo=0, hi=1, open_lo=True, open_hi=True,
                                                 help="share of the ways for the A1in FIFO"),
                        "a_out_size_ratio": Float(0.5, lo=0, help="A1out ghost ids per set, "
                                                  "as a share of the ways")})
