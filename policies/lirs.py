"""LIRS: Low Inter-reference Recency Set replacement.

Paper: S. Jiang and X. Zhang, "LIRS: An Efficient Low Inter-reference Recency Set
Replacement Policy to Improve Buffer Cache Performance", SIGMETRICS 2002 (HIR share of
the buffer 1%). Reference implementation: libCacheSim
``libCacheSim/cache/eviction/LIRS.c`` (read at commit 214804cff439; PyPI ``libcachesim``
0.3.5, ``lcs.LIRS``, no parameters: ``Lhirs = max(1, floor(0.01 c))``, ``Llirs = c -
Lhirs``), whose unit-size semantics are reproduced:

* stack S (LIR vectors, resident and non-resident HIR entries, most recent on top), list
  Q (resident HIR vectors, MRU first) and list NH (non-resident HIR entries of S, newest
  first); an access first moves its S entry to the top of S and its Q entry to Q's MRU;
* LIR hit: prune S (drop HIR entries from its bottom up to the first LIR one; never its
  top). Hit on a resident HIR in S: it leaves Q, ``demote`` while ``|LIR| = Llirs``, and
  becomes LIR. Hit on a resident HIR not in S: ``demote`` while ``|LIR| = Llirs``, then it
  enters S's top as a resident HIR (and stays in Q);
* ``demote``: the LIR at S's bottom leaves S and enters Q's MRU end as a resident HIR,
  after ``evict HIR`` while Q holds Lhirs; then prune. ``evict HIR``: Q's LRU vector leaves
  the buffer; if it has an S entry, that entry turns non-resident and joins NH;
* miss on a non-resident HIR in S: ``demote`` while ``|LIR| = Llirs``; then, while the
  buffer is full, ``evict HIR`` while Q holds Lhirs and ``demote``; it becomes LIR.
  Any other miss: when both sets are full, ``evict HIR`` until Q has room (and again while
  the buffer is full); it enters S as LIR while ``|LIR| < Llirs``, else S and Q as HIR;
* after every access, while S holds more than 2c entries, NH's oldest entry leaves S.

libCacheSim evicts during hits (a hit on a resident HIR not in S with ``|LIR| = Llirs``
and a full Q evicts Q's LRU vector) and caches then fewer than c vectors until the next
miss. The engine cannot free a slot on a hit, so the evicted vector stays in its slot,
*doomed*: the policy counts it out, the next miss that needs room takes a doomed slot, and
an access to a doomed vector before that is a hit here and a miss in libCacheSim
(``State.stats[0]`` counts them; the policy then handles the access as libCacheSim's miss,
in the same slot). Hence ``misses + stats[0]`` equals libCacheSim's misses (tested).
Deviation (documented and tested): when Q holds one vector (``Lhirs = 1``: caches, or sets,
under 200 vectors) such a hit evicts the accessed vector itself; libCacheSim then still
hits it from S without counting it (it holds c + 1 vectors); here it stays resident and
counted, back at Q's MRU end (Q then holds one vector more than Lhirs until its next
eviction); and as S's bottom may then be an HIR entry (libCacheSim would demote it, a
non-resident one included, into Q), S is pruned before each demotion (15 more misses
than libCacheSim in 1M Zipf accesses at c = 149). With c = 1 (``Llirs = 0``) libCacheSim
caches nothing; here the set holds its last vector.

A prefetch fill is handled as a demand miss. Per-vid state (S, Q and NH entries outlive
residency): flags, three intrusive lists over vids, the vector's slot; per-set counters
and a stack of doomed slots. Amortised O(1) per access (pruning and NH trimming remove
what earlier accesses added). Fully associative by design; with ``sets > 1`` every set
runs its own LIRS with c = ways.
"""

from collections import namedtuple

import numpy as np

from recsim.plugin import Policy, hook
from recsim.policies._lists import push_front, unlink

IN_S, IN_Q, LIR, IN_CACHE, IN_NH = 1, 2, 4, 8, 16
LIRS_N, HIRS_N, OCC, S_N, FREE_N, READY = range(6)  # per-set counters, ``6 * set + i``

State = namedtuple("State", "conf cnt flag slot_of s_prev s_next s_head s_tail q_prev q_next "
                   "q_head q_tail nh_prev nh_next nh_head nh_tail free free_pos stats")


def make_state(ctx, params):
    cap, sets, ways, n = ctx.capacity, ctx.sets, ctx.ways, ctx.n_vids
    hirs = max(1, int(0.01 * ways))

    def links(size):
        return np.full(size, -1, dtype=np.int32), np.full(size, -1, dtype=np.int32)

    def ends():
        return np.full(sets, -1, dtype=np.int64), np.full(sets, -1, dtype=np.int64)

    return State(np.array([hirs, ways - hirs, ways], dtype=np.int64),
                 np.zeros(6 * sets, dtype=np.int64), np.zeros(n, dtype=np.int8),
                 np.full(n, -1, dtype=np.int32), *links(n), *ends(), *links(n), *ends(),
                 *links(n), *ends(), np.zeros(cap, dtype=np.int64),
                 np.full(cap, -1, dtype=np.int64), np.zeros(1, dtype=np.int64))


# -- lists and doomed slots ---------------------------------------------------------------

@hook
def _to_front(flag, bit, cnt, at, prev, nxt, head, tail, s, v):
    """Put ``v`` first in list ``s`` of ``prev``/``nxt``/``head``/``tail``: membership in
    flag ``bit``, the list's length in ``cnt[at]``."""
    if flag[v] & bit:
        unlink(prev, nxt, head, tail, s, v)
    else:
        flag[v] |= bit
        cnt[at] += 1
    push_front(prev, nxt, head, tail, s, v)


@hook
def _take_out(flag, bit, cnt, at, prev, nxt, head, tail, s, v):
    unlink(prev, nxt, head, tail, s, v)
    flag[v] &= ~bit
    cnt[at] -= 1


@hook
def _s_top(st, s, v):
    _to_front(st.flag, IN_S, st.cnt, 6 * s + S_N, st.s_prev, st.s_next, st.s_head, st.s_tail,
              s, v)


@hook
def _s_drop(st, s, v):
    _take_out(st.flag, IN_S, st.cnt, 6 * s + S_N, st.s_prev, st.s_next, st.s_head, st.s_tail,
              s, v)
    if st.flag[v] & IN_NH:
        unlink(st.nh_prev, st.nh_next, st.nh_head, st.nh_tail, s, v)
        st.flag[v] &= ~IN_NH


@hook
def _q_mru(st, s, v):
    _to_front(st.flag, IN_Q, st.cnt, 6 * s + HIRS_N, st.q_prev, st.q_next, st.q_head,
              st.q_tail, s, v)


@hook
def _q_drop(st, s, v):
    _take_out(st.flag, IN_Q, st.cnt, 6 * s + HIRS_N, st.q_prev, st.q_next, st.q_head,
              st.q_tail, s, v)


@hook
def _doom(st, s, v):
    """``v`` left the buffer (by libCacheSim's count) but keeps its slot for now."""
    slot = st.slot_of[v]
    k = st.cnt[6 * s + FREE_N]
    base = s * st.conf[2]
    st.free[base + k] = slot
    st.free_pos[slot] = k
    st.cnt[6 * s + FREE_N] = k + 1


@hook
def _undoom(st, s, slot):
    k = st.free_pos[slot]
    if k < 0:
        return
    base = s * st.conf[2]
    last = st.cnt[6 * s + FREE_N] - 1
    moved = st.free[base + last]
    st.free[base + k] = moved
    st.free_pos[moved] = k
    st.free_pos[slot] = -1
    st.cnt[6 * s + FREE_N] = last


# -- libCacheSim's LIRS steps -------------------------------------------------------------

@hook
def _evict_hir(st, s):
    v = st.q_tail[s]
    _q_drop(st, s, v)
    st.cnt[6 * s + OCC] -= 1
    st.flag[v] &= ~IN_CACHE
    if st.flag[v] & IN_S:
        st.flag[v] |= IN_NH
        push_front(st.nh_prev, st.nh_next, st.nh_head, st.nh_tail, s, v)
    _doom(st, s, v)


@hook
def _prune(st, s):
    v = st.s_tail[s]
    while v != st.s_head[s] and not st.flag[v] & LIR:
        _s_drop(st, s, v)
        v = st.s_tail[s]


@hook
def _demote(st, s):
    _prune(st, s)  # a no-op but after the small-cache deviation below
    v = st.s_tail[s]
    _s_drop(st, s, v)
    st.flag[v] &= ~LIR
    st.cnt[6 * s + LIRS_N] -= 1
    while st.cnt[6 * s + HIRS_N] >= st.conf[0]:
        _evict_hir(st, s)
    _q_mru(st, s, v)
    _prune(st, s)


@hook
def _make_lir_room(st, s):
    while st.cnt[6 * s + LIRS_N] >= st.conf[1]:
        _demote(st, s)


@hook(inline=False)
def _miss(st, s, v):
    """libCacheSim's miss on ``v``: find, can-insert, evict while full, insert."""
    lhirs, llirs, c = st.conf[0], st.conf[1], st.conf[2]
    b = 6 * s
    in_s = st.flag[v] & IN_S
    if in_s:  # a non-resident HIR entry of S
        _s_top(st, s, v)
        _make_lir_room(st, s)
        if st.flag[v] & IN_NH:
            unlink(st.nh_prev, st.nh_next, st.nh_head, st.nh_tail, s, v)
            st.flag[v] &= ~IN_NH
        while st.cnt[b + OCC] >= c:
            while st.cnt[b + HIRS_N] >= lhirs:
                _evict_hir(st, s)
            _demote(st, s)
        st.flag[v] |= LIR | IN_CACHE
        st.cnt[b + LIRS_N] += 1
    else:
        full = st.cnt[b + LIRS_N] >= llirs and st.cnt[b + HIRS_N] >= lhirs
        if full:
            while st.cnt[b + HIRS_N] >= lhirs:
                _evict_hir(st, s)
        while st.cnt[b + OCC] >= c and st.cnt[b + HIRS_N] > 0:
            _evict_hir(st, s)
        _s_top(st, s, v)
        if st.cnt[b + LIRS_N] < llirs:
            st.flag[v] |= LIR | IN_CACHE
            st.cnt[b + LIRS_N] += 1
        else:
            st.flag[v] |= IN_CACHE
            _q_mru(st, s, v)
    st.cnt[b + OCC] += 1


@hook(inline=False)
def _hit(st, s, v):
    f = st.flag[v]
    if f & IN_Q:
        _q_mru(st, s, v)
    if f & IN_S:
        _s_top(st, s, v)
        if f & LIR:
            _prune(st, s)
            return
        _q_drop(st, s, v)  # (leaves the count and re-enters it as LIR: no net change)
        _make_lir_room(st, s)
        st.flag[v] |= LIR
        st.cnt[6 * s + LIRS_N] += 1
        return
    _make_lir_room(st, s)
    if not st.flag[v] & IN_CACHE:  # Q's only vector, evicted by its own hit: keep it
        st.flag[v] |= IN_CACHE
        st.cnt[6 * s + OCC] += 1
        _undoom(st, s, st.slot_of[v])
        _q_mru(st, s, v)
    _s_top(st, s, v)


@hook
def _limit_stack(st, s):
    while st.cnt[6 * s + S_N] > 2 * st.conf[2] and st.nh_tail[s] >= 0:
        _s_drop(st, s, st.nh_tail[s])


@hook
def _resident(st, v):
    f = st.flag[v]
    return (f & IN_CACHE) != 0 and (f & (IN_S | IN_Q)) != 0


# -- hooks --------------------------------------------------------------------------------

@hook
def on_hit(st, set_, slot, vid, t, prio):
    if st.conf[1] == 0:
        return
    if _resident(st, vid):
        _hit(st, set_, vid)
    else:  # doomed: libCacheSim misses here
        st.stats[0] += 1
        _undoom(st, set_, slot)
        _miss(st, set_, vid)
    _limit_stack(st, set_)


@hook
def victim(st, set_, base, ways, vid, t, prefetch):
    if st.conf[1] == 0:
        return base
    _miss(st, set_, vid)
    st.cnt[6 * set_ + READY] = 1
    k = st.cnt[6 * set_ + FREE_N] - 1
    return st.free[set_ * ways + k]


@hook
def on_evict(st, set_, slot, vid, t):
    _undoom(st, set_, slot)
    st.slot_of[vid] = -1


@hook
def on_fill(st, set_, slot, vid, t, prio, prefetch):
    st.slot_of[vid] = slot
    if st.conf[1] == 0:
        return
    if st.cnt[6 * set_ + READY]:
        st.cnt[6 * set_ + READY] = 0
    else:
        _miss(st, set_, vid)
    _limit_stack(st, set_)


POLICY = Policy("lirs", "LIRS: low inter-reference recency set (Jiang & Zhang 2002; "
                "libCacheSim LIRS)", make_state, victim, on_hit=on_hit, on_fill=on_fill,
                on_evict=on_evict)
