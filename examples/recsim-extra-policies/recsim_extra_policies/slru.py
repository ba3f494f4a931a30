"""SLRU: segmented LRU with ``segments`` LRU lists of equal size, as libCacheSim's SLRU.

Source: Karedla, Love & Wherry, "Caching strategies to improve disk system performance",
IEEE Computer 1994; the rules follow libCacheSim ``cache/eviction/SLRU.c`` (commit
aa0fc40, the same in libcachesim 0.3.5's sources), read, not copied. A set's ways are split
into ``segments`` lists of ``ways // segments`` slots. A fill enters the head of the lowest
list with room; a victim is the tail of the lowest non-empty list; a hit in list ``k``
moves the vector to the head of list ``k + 1`` (in the top list: to its head), and while a
list is over its size its tail moves down to the head of the list below.

Deviation: libCacheSim's lists hold ``capacity // segments`` objects each, so when
``segments`` does not divide the capacity the lowest list overflows and libCacheSim evicts
at hit time, which the engine cannot express; here the remainder goes to the lowest list
(exact against libCacheSim when ``segments`` divides the capacity, tested).
"""

from collections import namedtuple

import numpy as np

from recsim.plugin import Int, Policy, hook

State = namedtuple("State", "prev nxt seg head tail count size n_seg")


def make_state(ctx, params):
    n_seg = params["segments"]
    size = np.full(n_seg, ctx.ways // n_seg, dtype=np.int64)
    size[0] += ctx.ways - size.sum()
    lists = ctx.sets * n_seg
    return State(prev=np.full(ctx.capacity, -1, np.int64),
                 nxt=np.full(ctx.capacity, -1, np.int64),
                 seg=np.zeros(ctx.capacity, np.int64),
                 head=np.full(lists, -1, np.int64), tail=np.full(lists, -1, np.int64),
                 count=np.zeros(lists, np.int64), size=size, n_seg=np.int64(n_seg))


@hook
def _unlink(s, lst, slot):
    p, n = s.prev[slot], s.nxt[slot]
    if p >= 0:
        s.nxt[p] = n
    else:
        s.head[lst] = n
    if n >= 0:
        s.prev[n] = p
    else:
        s.tail[lst] = p
    s.count[lst] -= 1


@hook
def _push_front(s, lst, slot, k):
    h = s.head[lst]
    s.prev[slot] = -1
    s.nxt[slot] = h
    if h >= 0:
        s.prev[h] = slot
    else:
        s.tail[lst] = slot
    s.head[lst] = slot
    s.count[lst] += 1
    s.seg[slot] = k


@hook
def on_fill(state, set_, slot, vid, t, prio, prefetch):
    base = set_ * state.n_seg
    k = 0
    while state.count[base + k] >= state.size[k]:
        k += 1
    _push_front(state, base + k, slot, k)


@hook
def victim(state, set_, base, ways, vid, t, prefetch):
    first = set_ * state.n_seg
    k = 0
    while state.count[first + k] == 0:
        k += 1
    return state.tail[first + k]


@hook
def on_evict(state, set_, slot, vid, t):
    _unlink(state, set_ * state.n_seg + state.seg[slot], slot)


@hook
def on_hit(state, set_, slot, vid, t, prio):
    base = set_ * state.n_seg
    k = state.seg[slot]
    up = min(k + 1, state.n_seg - 1)
    _unlink(state, base + k, slot)
    _push_front(state, base + up, slot, up)
    while up > k and state.count[base + up] > state.size[up]:  # cool down one list
        moved = state.tail[base + up]
        _unlink(state, base + up, moved)
        _push_front(state, base + up - 1, moved, up - 1)
        up -= 1


POLICY = Policy("slru", "segmented LRU, equal segments (libCacheSim SLRU)", make_state,
                victim, on_hit=on_hit, on_fill=on_fill, on_evict=on_evict,
                params={"segments": Int(4, lo=1, hi=16, help="LRU segments (libCacheSim: 4)")})
