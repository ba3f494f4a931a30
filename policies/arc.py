"""ARC: Adaptive Replacement Cache.

Paper: N. Megiddo and D. S. Modha, "ARC: A Self-Tuning, Low Overhead Replacement Cache",
FAST 2003 (no parameters: the target size ``p`` of T1 starts at 0 and adapts).
Reference implementation: libCacheSim ``libCacheSim/cache/eviction/ARC.c`` (PyPI
``libcachesim`` 0.3.5, ``lcs.ARC``), whose unit-size semantics are reproduced exactly:

* T1 (seen once recently) and T2 (seen at least twice) are LRU lists of residents; B1 and
  B2 are their ghost lists (vids only), all most recent first.
* A hit moves the vector to the head of T2.
* A miss on a ghost: ``p += max(|B2|/|B1|, 1)`` capped at c (B1) or
  ``p -= max(|B1|/|B2|, 1)`` floored at 0 (B2), sizes taken before the ghost entry is
  dropped; ``p`` is a real number as in libCacheSim. Then REPLACE and insert at the head
  of T2. REPLACE evicts T1's LRU into B1 when ``|T1| > 0 and (|T1| > p or (|T1| == p and
  the miss was in B2))`` or T2 is empty, else T2's LRU into B2.
* Any other miss (case IV): if ``|T1| + |B1| + 1 > c``: drop B1's LRU and REPLACE when B1
  is not empty, else evict T1's LRU with no ghost; otherwise drop B2's LRU when
  ``|T1|+|B1|+|T2|+|B2| >= 2c`` and B2 is not empty, then REPLACE. Insert at T1's head.

A prefetch fill is handled exactly like a demand miss (ghost adaptation included). All
operations are O(1) (amortised): intrusive lists over slots (int32 links) for T1 and T2;
a ghost list never reorders (an entry joins at its MRU end, leaves from its LRU end or, on
a ghost hit, from anywhere), so B1 and B2 are FIFO rings of vids per set with holes left
by ghost hits, and one int32 per vid (its list and place, 0: no ghost) answers the ghost
check with one load and is the only per-vid write of a push. A ring has the power of two
of places above ``2 * ways + 1``, more than twice the entries a ghost list can hold (c, as
``|B1| + |B2| <= c`` once the set is full), and is compacted when it fills. (The former
doubly-linked ghost lists over vids, 17 bytes a vid, cost five or six random loads and
stores per miss: the rings took the 32-way benchmark from 25.8 to 29-30.5 M accesses/s
with the same counts.) Fully associative by design; with ``sets > 1`` every set runs its
own ARC with c = ways (per-set lists, rings, sizes and ``p``).

The engine calls ``victim`` only when the set is full; ghosts exist in a set only after
it has been full, so a miss in a set that is not full is never a ghost hit, as in
libCacheSim. ``victim`` does the ghost bookkeeping and decides where the evicted vector
goes; ``on_evict`` and ``on_fill`` apply it.
"""

import numpy as np
from numba import njit

from recsim.lists import push_front, unlink
from recsim.plugin import Policy


def make_state(ctx, params):
    cap, sets, ways, n = ctx.capacity, ctx.sets, ctx.ways, ctx.n_vids
    p = np.zeros(sets, dtype=np.float64)
    size = np.zeros(4 * sets, dtype=np.int64)  # [4*s + i]: |T1|, |T2|, |B1|, |B2|
    lst_of = np.zeros(cap, dtype=np.int8)  # 0: T1, 1: T2
    r_prev = np.full(cap, -1, dtype=np.int32)
    r_next = np.full(cap, -1, dtype=np.int32)
    r_head = np.full(2 * sets, -1, dtype=np.int64)  # [2*s + i]: T1, T2
    r_tail = np.full(2 * sets, -1, dtype=np.int64)
    width = 1 << (2 * ways + 1).bit_length()  # places of a ring: > 2 x a list's entries
    ring = np.full(2 * sets * width, -1, dtype=np.int64)  # [(2*s + g) * width + place]
    ends = np.zeros(4 * sets, dtype=np.int64)  # [2 * (2*s + g) + k]: oldest, next place
    # per vid: 0 if no ghost, else 1 + g + 2 * (its place mod width) in ring g of its set
    ghost = np.zeros(n, dtype=np.int32 if 2 * width < 2**31 else np.int64)
    flags = np.zeros(2 * sets, dtype=np.int8)  # [2*s]: insert into T2; [2*s+1]: to ghost
    return (p, size, lst_of, r_prev, r_next, r_head, r_tail, ring, ends, ghost, flags,
            np.array([width - 1], dtype=np.int64))


@njit(cache=True, inline="always")
def _at(state, lst, place):
    """The index in ``ring`` of absolute ``place`` of ghost ring ``lst`` (= 2*set + g)."""
    mask = state[11][0]
    return lst * (mask + 1) + (place & mask)


@njit(cache=True, inline="always")
def _ghost_push(state, set_, g, vid):
    """Put ``vid`` at the MRU end of ghost list ``g`` (0: B1, 1: B2) of the set."""
    ring, ends, ghost, mask = state[7], state[8], state[9], state[11][0]
    lst = 2 * set_ + g
    if ends[2 * lst + 1] - ends[2 * lst] > mask:  # full of entries and holes: compact
        to = ends[2 * lst]
        for place in range(ends[2 * lst], ends[2 * lst + 1]):
            v = ring[_at(state, lst, place)]
            if v >= 0:
                ring[_at(state, lst, to)] = v
                ghost[v] = 1 + g + 2 * (to & mask)
                to += 1
        for place in range(to, ends[2 * lst + 1]):
            ring[_at(state, lst, place)] = -1
        ends[2 * lst + 1] = to
    place = ends[2 * lst + 1]
    ring[_at(state, lst, place)] = vid
    ghost[vid] = 1 + g + 2 * (place & mask)
    ends[2 * lst + 1] = place + 1
    state[1][4 * set_ + 2 + g] += 1


@njit(cache=True, inline="always")
def _ghost_drop(state, set_, g, vid, place):
    """Take ``vid``, at ``place`` of ghost list ``g`` of the set, out of it, leaving a hole
    in its ring."""
    state[7][_at(state, 2 * set_ + g, place)] = -1
    state[9][vid] = 0
    state[1][4 * set_ + 2 + g] -= 1


@njit(cache=True, inline="always")
def on_hit(state, set_, slot, vid, t, prio):
    size, lst_of, r_prev, r_next, r_head, r_tail = state[1:7]
    lst = lst_of[slot]
    if lst == 0:
        unlink(r_prev, r_next, r_head, r_tail, 2 * set_, slot)
        size[4 * set_] -= 1
        size[4 * set_ + 1] += 1
        lst_of[slot] = 1
        push_front(r_prev, r_next, r_head, r_tail, 2 * set_ + 1, slot)
    elif r_head[2 * set_ + 1] != slot:
        unlink(r_prev, r_next, r_head, r_tail, 2 * set_ + 1, slot)
        push_front(r_prev, r_next, r_head, r_tail, 2 * set_ + 1, slot)


@njit(cache=True, inline="always")
def on_fill(state, set_, slot, vid, t, prio, prefetch):
    size, lst_of, r_prev, r_next, r_head, r_tail = state[1:7]
    flags = state[10]
    lst = 1 if flags[2 * set_] else 0
    flags[2 * set_] = 0
    lst_of[slot] = lst
    size[4 * set_ + lst] += 1
    push_front(r_prev, r_next, r_head, r_tail, 2 * set_ + lst, slot)


@njit(cache=True, inline="always")
def _drop_ghost_tail(state, set_, g):
    """Forget the LRU entry of ghost list ``g`` (0: B1, 1: B2) of the set."""
    ring, ends = state[7], state[8]
    lst = 2 * set_ + g
    while ring[_at(state, lst, ends[2 * lst])] < 0:  # skip the holes
        ends[2 * lst] += 1
    _ghost_drop(state, set_, g, ring[_at(state, lst, ends[2 * lst])], ends[2 * lst])
    ends[2 * lst] += 1


@njit(cache=True, inline="always")
def _replace(state, set_, in_b2):
    p, size, r_tail = state[0], state[1], state[6]
    t1 = size[4 * set_]
    ps = p[set_]
    if (t1 > 0 and (t1 > ps or (t1 == ps and in_b2))) or size[4 * set_ + 1] == 0:
        return r_tail[2 * set_]
    return r_tail[2 * set_ + 1]


@njit(cache=True, inline="always")
def victim(state, set_, base, ways, vid, t, prefetch):
    p, size, flags = state[0], state[1], state[10]
    b = 4 * set_
    code = state[9][vid] - 1
    g = code & 1
    flags[2 * set_ + 1] = 1
    if code >= 0:
        b1 = size[b + 2]
        b2 = size[b + 3]
        if g == 0:
            delta = b2 / b1
            if delta < 1.0:
                delta = 1.0
            p[set_] = min(p[set_] + delta, float(ways))
        else:
            delta = b1 / b2
            if delta < 1.0:
                delta = 1.0
            p[set_] = max(p[set_] - delta, 0.0)
        _ghost_drop(state, set_, g, vid, code >> 1)
        flags[2 * set_] = 1
        return _replace(state, set_, g == 1)
    if size[b] + size[b + 2] + 1 > ways:
        if size[b + 2] > 0:
            _drop_ghost_tail(state, set_, 0)
            return _replace(state, set_, False)
        flags[2 * set_ + 1] = 0
        return state[6][2 * set_]
    if size[b + 3] > 0 and size[b] + size[b + 1] + size[b + 2] + size[b + 3] >= 2 * ways:
        _drop_ghost_tail(state, set_, 1)
    return _replace(state, set_, False)


@njit(cache=True, inline="always")
def on_evict(state, set_, slot, vid, t):
    size, lst_of, r_prev, r_next, r_head, r_tail = state[1:7]
    lst = lst_of[slot]
    unlink(r_prev, r_next, r_head, r_tail, 2 * set_ + lst, slot)
    size[4 * set_ + lst] -= 1
    if state[10][2 * set_ + 1]:
        _ghost_push(state, set_, lst, vid)


POLICY = Policy("arc", "adaptive replacement cache (Megiddo & Modha 2003; libCacheSim ARC)",
                make_state, victim, on_hit=on_hit, on_fill=on_fill, on_evict=on_evict)
