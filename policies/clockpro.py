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

A prefetch fill is handled as a demand miss. Per-vid state (a listed page outlives
residency): flags, a circular intrusive list over vids per set, the vector's slot; per
set three hands and four counters. Amortised O(1) per access (each hand step clears a
bit a hit set, ends a test period a fill started, or moves past a page once per
rotation). Fully associative by design; with ``sets > 1`` every set runs its own
CLOCK-Pro with c = ways.
"""

from collections import namedtuple

import numpy as np

from recsim.plugin import Float, Policy, hook
from recsim.policies._lists import insert_after, push_back, unlink

RES, HOT, REF, TEST = 1, 2, 4, 8
HOT_N, COLD_N, NONRES_N, M_C = range(4)  # per-set counters, ``4 * set + i``
H_HOT, H_COLD, H_TEST = range(3)  # per-set hands, ``3 * set + i`` (a vid, -1: empty)

State = namedtuple("State", "ways cnt hand flag slot_of prev next head tail")


def make_state(ctx, params):
    sets, ways, n = ctx.sets, ctx.ways, ctx.n_vids
    cnt = np.zeros(4 * sets, dtype=np.int64)
    cnt[M_C::4] = max(1, int(ways * params["init_ratio_cold"]))
    return State(ways, cnt, np.full(3 * sets, -1, dtype=np.int64), np.zeros(n, dtype=np.int8),
                 np.full(n, -1, dtype=np.int32), np.full(n, -1, dtype=np.int32),
                 np.full(n, -1, dtype=np.int32), np.full(sets, -1, dtype=np.int64),
                 np.full(sets, -1, dtype=np.int64))


# -- the clock ----------------------------------------------------------------------------

@hook
def _after(st, s, v):
    n = st.next[v]
    return st.head[s] if n < 0 else n


@hook
def _at_head(st, s, v):
    """Put ``v`` (not listed) just behind ``HAND_hot``: the list head."""
    h = st.hand[3 * s + H_HOT]
    if h < 0:
        push_back(st.prev, st.next, st.head, st.tail, s, v)
        for i in range(3):
            st.hand[3 * s + i] = v
    elif st.prev[h] < 0:
        push_back(st.prev, st.next, st.head, st.tail, s, v)
    else:
        insert_after(st.prev, st.next, st.head, st.tail, s, st.prev[h], v)


@hook
def _unlist(st, s, v):
    """Take ``v`` off the clock; hands on it move on."""
    n = _after(st, s, v)
    for i in range(3):
        if st.hand[3 * s + i] == v:
            st.hand[3 * s + i] = -1 if n == v else n
    unlink(st.prev, st.next, st.head, st.tail, s, v)


@hook
def _to_head(st, s, v):
    _unlist(st, s, v)
    _at_head(st, s, v)


@hook
def _end_test(st, s, v):
    """``v``'s test period ends (it is cold): ``m_c - 1``; a non-resident page leaves."""
    b = 4 * s
    st.flag[v] &= ~TEST
    st.cnt[b + M_C] = max(1, st.cnt[b + M_C] - 1)
    if not st.flag[v] & RES:
        _unlist(st, s, v)
        st.flag[v] = 0
        st.cnt[b + NONRES_N] -= 1


# -- the hands ----------------------------------------------------------------------------

@hook(inline=False)
def _run_hot(st, s):
    """Turn the first unreferenced hot page at or past ``HAND_hot`` cold."""
    while True:
        v = st.hand[3 * s + H_HOT]
        f = st.flag[v]
        st.hand[3 * s + H_HOT] = _after(st, s, v)
        if f & HOT:
            if f & REF:
                st.flag[v] = f & ~REF
            else:
                st.flag[v] = RES
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


@hook(inline=False)
def _run_test(st, s):
    """End test periods from ``HAND_test`` on until a non-resident page leaves."""
    b = 4 * s
    n = st.cnt[b + NONRES_N]
    while st.cnt[b + NONRES_N] == n:
        v = st.hand[3 * s + H_TEST]
        st.hand[3 * s + H_TEST] = _after(st, s, v)
        if st.flag[v] & TEST:
            _end_test(st, s, v)


@hook
def _run_cold(st, s):
    """Move ``HAND_cold`` until it evicts a resident cold page; returns that vid."""
    b = 4 * s
    while True:
        v = st.hand[3 * s + H_COLD]
        f = st.flag[v]
        if f & HOT or not f & RES:
            st.hand[3 * s + H_COLD] = _after(st, s, v)
        elif f & REF:
            if f & TEST:
                st.flag[v] = RES | HOT
                st.cnt[b + COLD_N] -= 1
                st.cnt[b + HOT_N] += 1
                _to_head(st, s, v)
                _balance(st, s)
            else:
                st.flag[v] = RES | TEST
                _to_head(st, s, v)
        else:
            st.hand[3 * s + H_COLD] = _after(st, s, v)
            st.cnt[b + COLD_N] -= 1
            if f & TEST:
                st.flag[v] = TEST
                st.cnt[b + NONRES_N] += 1
                if st.cnt[b + NONRES_N] > st.ways:
                    _run_test(st, s)
            else:
                _unlist(st, s, v)
                st.flag[v] = 0
            return v


# -- hooks --------------------------------------------------------------------------------

@hook
def on_hit(st, set_, slot, vid, t, prio):
    st.flag[vid] |= REF


@hook
def victim(st, set_, base, ways, vid, t, prefetch):
    return st.slot_of[_run_cold(st, set_)]


@hook
def on_evict(st, set_, slot, vid, t):
    st.slot_of[vid] = -1


@hook
def on_fill(st, set_, slot, vid, t, prio, prefetch):
    b = 4 * set_
    st.slot_of[vid] = slot
    if st.flag[vid] & TEST:  # listed, non-resident, in its test period
        st.cnt[b + M_C] = min(st.ways, st.cnt[b + M_C] + 1)
        st.cnt[b + NONRES_N] -= 1
        st.cnt[b + HOT_N] += 1
        st.flag[vid] = RES | HOT
        _to_head(st, set_, vid)
        _balance(st, set_)
    else:
        st.cnt[b + COLD_N] += 1
        st.flag[vid] = RES | TEST
        _at_head(st, set_, vid)


POLICY = Policy("clockpro", "CLOCK-Pro: hot/cold pages, test periods, adaptive cold target "
                "(Jiang, Chen & Zhang 2005)", make_state, victim, on_hit=on_hit,
                on_fill=on_fill, on_evict=on_evict,
                params={"init_ratio_cold": Float(1.0, lo=0, hi=1, help="initial cold target "
                                                 "m_c as a share of the ways (at least 1)")})
