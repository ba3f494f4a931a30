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
a ghost hit, from anywhere), so B1 and B2 are the per-set FIFO rings of
:mod:`recsim.policies._ghosts` (one int32 per vid answers the ghost check), with room for c entries
each (``|B1| + |B2| <= c`` once the set is full, as ``|T1| + |T2| + |B1| + |B2| <= 2c``).
Fully associative by design; with ``sets > 1`` every set runs its own ARC with c = ways
(per-set lists, rings, sizes and ``p``).

The engine calls ``victim`` only when the set is full; ghosts exist in a set only after
it has been full, so a miss in a set that is not full is never a ghost hit, as in
libCacheSim. ``victim`` does the ghost bookkeeping and decides where the evicted vector
goes; ``on_evict`` and ``on_fill`` apply it.
"""

from collections import namedtuple

import numpy as np

from recsim.plugin import Policy, hook
from recsim.policies._ghosts import ghost_tag, make_rings, pop_oldest, push, remove
from recsim.policies._lists import push_front, unlink


T1, T2, B1, B2 = range(4)  # a set's lists: sizes [4*s + i]; T1, T2 links [2*s + i]
F_INTO_T2, F_TO_GHOST = range(2)  # per-set flags [2*s + i]: fill into T2, victim to a ghost


# per set: ARC's target p; the sizes [4*s + T1/T2/B1/B2]; per slot: its list (T1 or T2)
# and links of T1 and T2 ([2*s + i] heads and tails); the ghosts B1, B2 (recsim.ghosts
# rings, list 2*s + g, tag g: 0 for B1, 1 for B2); flags [2*s + F_*]
State = namedtuple("State", "p size lst_of r_prev r_next r_head r_tail ring ends code mask flags")


def make_state(ctx, params):
    cap, sets, ways, n = ctx.capacity, ctx.sets, ctx.ways, ctx.n_vids
    p = np.zeros(sets, dtype=np.float64)
    size = np.zeros(4 * sets, dtype=np.int64)  # [4*s + T1/T2/B1/B2]
    lst_of = np.zeros(cap, dtype=np.int8)  # T1 or T2
    r_prev = np.full(cap, -1, dtype=np.int32)
    r_next = np.full(cap, -1, dtype=np.int32)
    r_head = np.full(2 * sets, -1, dtype=np.int64)  # [2*s + T1/T2]
    r_tail = np.full(2 * sets, -1, dtype=np.int64)
    ring, ends, code, mask = make_rings(2 * sets, ways, n)  # list 2*s + g: B1, B2 (tag g)
    flags = np.zeros(2 * sets, dtype=np.int8)  # [2*s + F_*]
    return State(p, size, lst_of, r_prev, r_next, r_head, r_tail, ring, ends, code, mask, flags)


@hook
def on_hit(state, set_, slot, vid, t, prio):
    size, lst_of, r_prev, r_next, r_head, r_tail = (
        state.size, state.lst_of, state.r_prev, state.r_next, state.r_head, state.r_tail)
    lst = lst_of[slot]
    if lst == T1:
        unlink(r_prev, r_next, r_head, r_tail, 2 * set_ + T1, slot)
        size[4 * set_ + T1] -= 1
        size[4 * set_ + T2] += 1
        lst_of[slot] = T2
        push_front(r_prev, r_next, r_head, r_tail, 2 * set_ + T2, slot)
    elif r_head[2 * set_ + T2] != slot:
        unlink(r_prev, r_next, r_head, r_tail, 2 * set_ + T2, slot)
        push_front(r_prev, r_next, r_head, r_tail, 2 * set_ + T2, slot)


@hook
def on_fill(state, set_, slot, vid, t, prio, prefetch):
    size, lst_of, r_prev, r_next, r_head, r_tail = (
        state.size, state.lst_of, state.r_prev, state.r_next, state.r_head, state.r_tail)
    flags = state.flags
    lst = T2 if flags[2 * set_ + F_INTO_T2] else T1
    flags[2 * set_ + F_INTO_T2] = 0
    lst_of[slot] = lst
    size[4 * set_ + lst] += 1
    push_front(r_prev, r_next, r_head, r_tail, 2 * set_ + lst, slot)


@hook
def _drop_ghost_tail(state, set_, g):
    """Forget the LRU entry of ghost list ``g`` (0: B1, 1: B2) of the set."""
    pop_oldest(state.ring, state.ends, state.code, state.mask, 2 * set_ + g)
    state.size[4 * set_ + B1 + g] -= 1


@hook
def _replace(state, set_, in_b2):
    p, size, r_tail = state.p, state.size, state.r_tail
    t1 = size[4 * set_ + T1]
    ps = p[set_]
    if (t1 > 0 and (t1 > ps or (t1 == ps and in_b2))) or size[4 * set_ + T2] == 0:
        return r_tail[2 * set_ + T1]
    return r_tail[2 * set_ + T2]


@hook
def victim(state, set_, base, ways, vid, t, prefetch):
    p, size, flags = state.p, state.size, state.flags
    b = 4 * set_
    g = ghost_tag(state.code, vid)
    flags[2 * set_ + F_TO_GHOST] = 1
    if g >= 0:
        b1 = size[b + B1]
        b2 = size[b + B2]
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
        remove(state.ring, state.code, state.mask, 2 * set_ + g, vid)
        size[b + B1 + g] -= 1
        flags[2 * set_ + F_INTO_T2] = 1
        return _replace(state, set_, g == 1)
    if size[b + T1] + size[b + B1] + 1 > ways:
        if size[b + B1] > 0:
            _drop_ghost_tail(state, set_, 0)
            return _replace(state, set_, False)
        flags[2 * set_ + F_TO_GHOST] = 0
        return state.r_tail[2 * set_ + T1]
    if size[b + B2] > 0 and size[b + T1] + size[b + T2] + size[b + B1] + size[b + B2] >= 2 * ways:
        _drop_ghost_tail(state, set_, 1)
    return _replace(state, set_, False)


@hook
def on_evict(state, set_, slot, vid, t):
    size, lst_of, r_prev, r_next, r_head, r_tail = (
        state.size, state.lst_of, state.r_prev, state.r_next, state.r_head, state.r_tail)
    lst = lst_of[slot]
    unlink(r_prev, r_next, r_head, r_tail, 2 * set_ + lst, slot)
    size[4 * set_ + lst] -= 1
    if state.flags[2 * set_ + F_TO_GHOST]:
        push(state.ring, state.ends, state.code, state.mask, 2 * set_ + lst, lst, vid)
        size[4 * set_ + B1 + lst] += 1


POLICY = Policy("arc", "adaptive replacement cache (Megiddo & Modha 2003; libCacheSim ARC)",
                make_state, victim, on_hit=on_hit, on_fill=on_fill, on_evict=on_evict)
