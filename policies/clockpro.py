"""CLOCK-Pro: CLOCK with hot and cold pages, test periods and an adaptive cold target.

Paper: S. Jiang, F. Chen and X. Zhang, "CLOCK-Pro: An Effective Improvement of the CLOCK
Replacement", USENIX ATC 2005 (section 3). Reference implementation read: libCacheSim
``libCacheSim/cache/eviction/ClockPro.c`` (commit 803344063f6b; PyPI ``libcachesim``
0.3.5, ``lcs.ClockPro``; C default ``init-ratio-cold=1``, the Python wrapper passes 0.5).
One clock per set holds hot pages, resident cold pages and non-resident cold pages in
their test period; a newcomer goes to the list head, just behind ``HAND_hot``; hands look
at their page before moving (libCacheSim's reading):

* a hit sets the page's reference bit, nothing else;
* a miss in a full set runs ``HAND_cold`` until it evicts: a referenced cold page in its
  test period turns hot (at the head, bit cleared; ``HAND_hot`` runs while hot pages
  exceed ``c - m_c``); a referenced one out of test starts a test period at the head; an
  unreferenced one leaves the buffer and stays listed, non-resident, if in test; hot and
  non-resident pages are passed;
* the missing page: listed non-resident (still in test) -> ``m_c + 1`` (at most c) and it
  enters hot at the head; else it enters cold, in test, at the head;
* ``HAND_hot``: a referenced hot page loses its bit; an unreferenced one turns cold (out
  of test) and the hand stops past it; a cold page passed ends its test period;
* an ended test period: ``m_c - 1`` (at least 1), and a non-resident page leaves the list.
  ``HAND_test`` ends test periods (passing hot pages) until a non-resident page leaves,
  whenever non-resident pages outnumber c.

``m_c`` starts at ``max(1, floor(c * init_ratio_cold))`` (default 1.0, libCacheSim's).

Deviation from libCacheSim (documented and tested, tests/test_policies_classic.py):
libCacheSim 0.3.5's ClockPro never evicts with unit-size objects. Its ``can_insert``
refuses a miss while the cold pages fill ``m_c``, and it evicts only when the cache is
full, which the refusal prevents (and a miss on a test page is promoted without entering
its hash table, so it would never hit): it caches the first ``floor(c * ratio)``
distinct objects for good. There is no libCacheSim count to match; this is the paper's
algorithm, checked against a plain-Python model of these rules
(tests/reference_clockpro.py).

A prefetch fill is handled as a demand miss. State: one circular doubly-linked list of
nodes per set, ``node[i] = (prev, next, vid)`` in one int32 array, and ``flag[i]`` in a
byte array apart (a hit writes only that: a large buffer's hits stay in cache); a
resident page's node is its slot, so hits and hands work within about twice the
capacity's nodes, not over every vid; a non-resident page in its test period moves to a
node of a pool (``sets * (ways + 1)`` nodes: a set lists at most ``ways + 1``
at once; free ones chained by ``next``), found again from its vid through
``nonres_of[vid]`` (valid while that node's vid is still ``vid``), which ``on_access``
preloads 16 accesses ahead, as policies/wtinylfu.py does its hashes; per set three hands
and four counters. Amortised O(1) per access (each hand step clears a bit a hit set, ends
a test period a fill started, or moves past a page once per rotation). Fully associative
by design; with ``sets > 1`` every set runs its own CLOCK-Pro with c = ways.
"""

from collections import namedtuple

import numpy as np

from recsim.engine.preload import preload
from recsim.plugin import Float, Policy, hook

HOT, REF, TEST = 1, 2, 4  # flags; a page is resident iff its node is a slot (< slots)
PREV, NEXT, KEY = range(3)  # columns of ``node``
HOT_N, COLD_N, NONRES_N, M_C = range(4)  # per-set counters, ``4 * set + i``
H_HOT, H_COLD, H_TEST = range(3)  # per-set hands, ``3 * set + i`` (a node, -1: empty)

# ways; sets * ways (the first pool node); counters; hands; the nodes; per vid its pool
# node (stale unless that node's KEY is the vid); the first free pool node; the trace's
# vids (for preloading); per node its flags
State = namedtuple("State", "ways slots cnt hand node nonres_of free vids flag")


def make_state(ctx, params):
    sets, ways = ctx.sets, ctx.ways
    slots = sets * ways
    cnt = np.zeros(4 * sets, dtype=np.int64)
    cnt[M_C::4] = max(1, int(ways * params["init_ratio_cold"]))
    node = np.zeros((slots + sets * (ways + 1), 3), dtype=np.int32)
    node[:, KEY] = -1
    node[slots:, NEXT] = np.arange(slots + 1, node.shape[0] + 1)
    node[-1, NEXT] = -1
    return State(ways, slots, cnt, np.full(3 * sets, -1, dtype=np.int64), node,
                 np.full(ctx.n_vids, -1, dtype=np.int32), np.array([slots], dtype=np.int64),
                 ctx.vids, np.zeros(node.shape[0], dtype=np.uint8))


# -- the clock ----------------------------------------------------------------------------

@hook
def _unlist(st, s, v):
    """Take node ``v`` off the clock; hands on it move on."""
    nd = st.node
    p = nd[v, PREV]
    n = nd[v, NEXT]
    nd[p, NEXT] = n
    nd[n, PREV] = p
    h = 3 * s
    for i in range(3):
        if st.hand[h + i] == v:
            st.hand[h + i] = -1 if n == v else n


@hook
def _at_head(st, s, v):
    """Put node ``v`` (not listed) just behind ``HAND_hot``: the list head."""
    nd = st.node
    h = st.hand[3 * s + H_HOT]
    if h < 0:
        nd[v, PREV] = v
        nd[v, NEXT] = v
        for i in range(3):
            st.hand[3 * s + i] = v
    else:
        p = nd[h, PREV]
        nd[v, PREV] = p
        nd[v, NEXT] = h
        nd[p, NEXT] = v
        nd[h, PREV] = v


@hook
def _to_pool(st, s, v):
    """The page of slot node ``v`` leaves the buffer in its test period: a free pool node
    takes its place in the clock (and its hands)."""
    nd = st.node
    w = st.free[0]
    st.free[0] = nd[w, NEXT]
    p = nd[v, PREV]
    n = nd[v, NEXT]
    if n == v:
        p = n = w
    nd[w, PREV] = p
    nd[w, NEXT] = n
    nd[p, NEXT] = w
    nd[n, PREV] = w
    vid = nd[v, KEY]
    nd[w, KEY] = vid
    st.flag[w] = TEST
    st.nonres_of[vid] = w
    for i in range(3):
        if st.hand[3 * s + i] == v:
            st.hand[3 * s + i] = w


@hook
def _free(st, v):
    """Pool node ``v`` leaves the clock (unlisted already)."""
    st.node[v, KEY] = -1
    st.node[v, NEXT] = st.free[0]
    st.free[0] = v


@hook
def _end_test(st, s, v):
    """Node ``v``'s test period ends (it is cold): ``m_c - 1``; a non-resident page leaves."""
    b = 4 * s
    st.flag[v] &= ~TEST
    st.cnt[b + M_C] = max(1, st.cnt[b + M_C] - 1)
    if v >= st.slots:
        _unlist(st, s, v)
        _free(st, v)
        st.cnt[b + NONRES_N] -= 1


# -- the hands ----------------------------------------------------------------------------

@hook
def _run_hot(st, s):
    """Turn the first unreferenced hot page at or past ``HAND_hot`` cold."""
    nd = st.node
    while True:
        v = st.hand[3 * s + H_HOT]
        f = st.flag[v]
        st.hand[3 * s + H_HOT] = nd[v, NEXT]
        if f & HOT:
            if f & REF:
                st.flag[v] = f & ~REF
            else:
                st.flag[v] = 0
                st.cnt[4 * s + HOT_N] -= 1
                st.cnt[4 * s + COLD_N] += 1
                return
        elif f & TEST:
            _end_test(st, s, v)


@hook
def _balance(st, s):
    b = 4 * s
    while st.cnt[b + HOT_N] > st.ways - st.cnt[b + M_C]:
        _run_hot(st, s)


@hook
def _run_test(st, s):
    """End test periods from ``HAND_test`` on until a non-resident page leaves."""
    b = 4 * s
    nd = st.node
    n = st.cnt[b + NONRES_N]
    while st.cnt[b + NONRES_N] == n:
        v = st.hand[3 * s + H_TEST]
        st.hand[3 * s + H_TEST] = nd[v, NEXT]
        if st.flag[v] & TEST:
            _end_test(st, s, v)


@hook
def _run_cold(st, s):
    """Move ``HAND_cold`` until it evicts a resident cold page; returns its slot."""
    b = 4 * s
    nd = st.node
    while True:
        v = st.hand[3 * s + H_COLD]
        f = st.flag[v]
        if f & HOT or v >= st.slots:
            st.hand[3 * s + H_COLD] = nd[v, NEXT]
        elif f & REF:
            _unlist(st, s, v)
            if f & TEST:
                st.flag[v] = HOT
                st.cnt[b + COLD_N] -= 1
                st.cnt[b + HOT_N] += 1
                _at_head(st, s, v)
                _balance(st, s)
            else:
                st.flag[v] = TEST
                _at_head(st, s, v)
        else:
            st.hand[3 * s + H_COLD] = nd[v, NEXT]
            st.cnt[b + COLD_N] -= 1
            if f & TEST:  # it stays listed, non-resident, on a pool node
                _to_pool(st, s, v)
                st.cnt[b + NONRES_N] += 1
                if st.cnt[b + NONRES_N] > st.ways:
                    _run_test(st, s)
            else:
                _unlist(st, s, v)
            return v


# -- hooks --------------------------------------------------------------------------------

@hook
def on_access(st, vid, t):
    if t + 16 < st.vids.shape[0]:
        preload(st.nonres_of, st.vids[t + 16])


@hook
def on_hit(st, set_, slot, vid, t, prio):
    st.flag[slot] |= REF


@hook
def victim(st, set_, base, ways, vid, t, prefetch):
    return _run_cold(st, set_)


@hook
def on_fill(st, set_, slot, vid, t, prio, prefetch):
    b = 4 * set_
    nd = st.node
    nd[slot, KEY] = vid
    w = st.nonres_of[vid]
    if w >= 0 and nd[w, KEY] == vid:  # listed, non-resident, in its test period
        st.cnt[b + M_C] = min(st.ways, st.cnt[b + M_C] + 1)
        st.cnt[b + NONRES_N] -= 1
        st.cnt[b + HOT_N] += 1
        st.flag[slot] = HOT
        _unlist(st, set_, w)
        _free(st, w)
        _at_head(st, set_, slot)
        _balance(st, set_)
    else:
        st.cnt[b + COLD_N] += 1
        st.flag[slot] = TEST
        _at_head(st, set_, slot)


POLICY = Policy("clockpro", "CLOCK-Pro: hot/cold pages, test periods, adaptive cold target "
                "(Jiang, Chen & Zhang 2005)", make_state, victim, on_access=on_access,
                on_hit=on_hit, on_fill=on_fill,
                params={"init_ratio_cold": Float(1.0, lo=0, hi=1, help="initial cold target "
                                                 "m_c as a share of the ways (at least 1)")})
