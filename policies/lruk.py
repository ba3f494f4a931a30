"""LRU-K: evict the vector with the largest backward K-distance (K = 2 by default).

Paper: E. O'Neil, P. O'Neil and G. Weikum, "The LRU-K Page Replacement Algorithm for
Database Disk Buffering", SIGMOD 1993 (K = 2 is the published recommendation).
Reference implementation: libCacheSim ``libCacheSim/cache/eviction/cpp/LRU_K.cpp``
(PyPI ``libcachesim`` 0.3.5, ``lcs.LRUK(k=2)``), whose semantics are reproduced exactly:

* history is kept only while a vector is resident (reset to the insertion access on a
  fill, dropped on eviction: no retained information period / ghost history);
* vectors with fewer than K accesses since insertion have infinite backward K-distance
  and are evicted first, in FIFO order of insertion;
* otherwise the victim is the vector whose K-th most recent access is oldest.

A prefetch fill is treated as an insertion (one access in the history); the first use of
a prefetch is a hit, as in the engine.

O(1) per operation, no heap: each set keeps one time-ordered list of *events* (the last
K accesses of each resident vector; node ``slot*K + j``). New events are appended at the
tail and a vector's oldest event is dropped when it gets a (K+1)-th, so a vector's
events in the list are exactly its last K accesses and the head of the list is the oldest
K-th-most-recent access of any vector. When the FIFO of vectors with < K accesses is
empty, every event in the list belongs to a vector with K accesses, so the head event's
owner is the LRU-K victim. Fully associative by design; with ``sets > 1`` every set runs
its own LRU-K (per-set FIFO and event list).
"""

from collections import namedtuple

import numpy as np

from recsim.plugin import Int, Policy, hook
from recsim.policies._lists import push_back, unlink


# K; per slot: the events (accesses) it holds, at most K, and the ring index of the oldest;
# the K event nodes of each slot (slot * K + j) in one list per set, oldest first; the FIFO
# of slots with fewer than K events, per set; whether a slot is in that FIFO
State = namedtuple("State", "k count oldest ev_prev ev_next ev_head ev_tail f_prev f_next f_head "
                            "f_tail in_fifo")


def make_state(ctx, params):
    k = params["k"]
    cap, sets = ctx.capacity, ctx.sets
    count = np.zeros(cap, dtype=np.int64)  # events held (<= K)
    oldest = np.zeros(cap, dtype=np.int64)  # ring index of the oldest event
    ev_prev = np.full(cap * k, -1, dtype=np.int64)
    ev_next = np.full(cap * k, -1, dtype=np.int64)
    ev_head = np.full(sets, -1, dtype=np.int64)
    ev_tail = np.full(sets, -1, dtype=np.int64)
    f_prev = np.full(cap, -1, dtype=np.int64)
    f_next = np.full(cap, -1, dtype=np.int64)
    f_head = np.full(sets, -1, dtype=np.int64)
    f_tail = np.full(sets, -1, dtype=np.int64)
    in_fifo = np.zeros(cap, dtype=np.uint8)
    return State(k, count, oldest, ev_prev, ev_next, ev_head, ev_tail, f_prev, f_next, f_head,
                 f_tail, in_fifo)


@hook
def on_fill(state, set_, slot, vid, t, prio, prefetch):
    k = state.k
    state.count[slot] = 1
    state.oldest[slot] = 0
    push_back(state.ev_prev, state.ev_next, state.ev_head, state.ev_tail, set_, slot * k)
    if k > 1:
        push_back(state.f_prev, state.f_next, state.f_head, state.f_tail, set_, slot)
        state.in_fifo[slot] = 1


@hook
def on_hit(state, set_, slot, vid, t, prio):
    k = state.k
    count = state.count
    c = count[slot]
    if c < k:
        node = slot * k + c
        count[slot] = c + 1
        push_back(state.ev_prev, state.ev_next, state.ev_head, state.ev_tail, set_, node)
        if c + 1 >= k and state.in_fifo[slot]:
            unlink(state.f_prev, state.f_next, state.f_head, state.f_tail, set_, slot)
            state.in_fifo[slot] = 0
    else:
        o = state.oldest[slot]
        node = slot * k + o
        unlink(state.ev_prev, state.ev_next, state.ev_head, state.ev_tail, set_, node)
        push_back(state.ev_prev, state.ev_next, state.ev_head, state.ev_tail, set_, node)
        state.oldest[slot] = o + 1 if o + 1 < k else 0


@hook
def victim(state, set_, base, ways, vid, t, prefetch):
    f = state.f_head[set_]
    if f >= 0:
        return f
    return state.ev_head[set_] // state.k


@hook
def on_evict(state, set_, slot, vid, t):
    k = state.k
    for j in range(state.count[slot]):
        unlink(state.ev_prev, state.ev_next, state.ev_head, state.ev_tail, set_, slot * k + j)
    state.count[slot] = 0
    if state.in_fifo[slot]:
        unlink(state.f_prev, state.f_next, state.f_head, state.f_tail, set_, slot)
        state.in_fifo[slot] = 0


POLICY = Policy("lruk", "LRU-K, K=2 by default (O'Neil et al. 1993; libCacheSim LRU_K)",
                make_state, victim, on_hit=on_hit, on_fill=on_fill, on_evict=on_evict,
                params={"k": Int(2, lo=1, help="K, the accesses remembered per vector")})
