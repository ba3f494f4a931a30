"""Belady's MIN (OPT): evict the vector whose next use is furthest in the future.

Reference: libCacheSim ``cache/eviction/Belady.c`` (key each resident object by its next
use, never reused = +inf; always insert; evict the furthest next use). Next-use times come
from one O(N) backward pass (:func:`recsim.traces.nextuse.next_use`); each set keeps an indexed
max-heap of its slots keyed by next use, so every hook is O(log ways).

``bypass=True`` also refuses to insert a vector that is never used again or whose next
use is at least as far as the furthest resident's (the bypassing optimum).

Ties: residents that are never used again are keyed ``NEVER - 1 - (t * U + vid)`` (``t``
= when they were filled or last used, ``U`` = number of vectors), so among them the one
touched earliest, then the smallest vid, is evicted first. The miss
count does not depend on this rule (such vectors never hit again), but with prefetching
the eviction and prefetch counts do, so the rule is fixed for reproducibility.

With prefetching, a prefetched vector is keyed by its next use after the current access;
Belady is then no longer optimal, but stays well defined.
"""

import numpy as np
from numba import njit

from recsim.plugin import Bool, Policy
from recsim.policies import _heap as heap
from recsim.traces.nextuse import NEVER


def make_state(ctx, params):
    nxt, first = ctx.next_use()
    cap = ctx.capacity
    hkey = np.zeros(cap, dtype=np.int64)
    hslot = np.zeros(cap, dtype=np.int64)
    pos = np.zeros(cap, dtype=np.int64)
    size = np.zeros(ctx.sets, dtype=np.int64)
    # Next use of each vector after the latest access: needed to key prefetched vectors only.
    cursor = first.copy()
    conf = np.array([ctx.ways, params["bypass"], ctx.prefetching, ctx.n_vids],
                    dtype=np.int64)
    return nxt, cursor, hkey, hslot, pos, size, conf


@njit(cache=True, inline="always")
def on_access(state, vid, t):
    if state[6][2]:
        state[1][vid] = state[0][t]


@njit(cache=True, inline="always")
def _key(next_use, t, vid, conf):
    return NEVER - 1 - (t * conf[3] + vid) if next_use == NEVER else next_use


@njit(cache=True, inline="always")
def on_hit(state, set_, slot, vid, t, prio):
    nxt, cursor, hkey, hslot, pos, size, conf = state
    heap.increase(hkey, hslot, pos, set_ * conf[0], slot, _key(nxt[t], t, vid, conf))


@njit(cache=True, inline="always")
def on_fill(state, set_, slot, vid, t, prio, prefetch):
    nxt, cursor, hkey, hslot, pos, size, conf = state
    heap.push(hkey, hslot, pos, size, set_, set_ * conf[0], slot,
              _key(cursor[vid] if prefetch else nxt[t], t, vid, conf))


@njit(cache=True, inline="always")
def victim(state, set_, base, ways, vid, t, prefetch):
    nxt, cursor, hkey, hslot, pos, size, conf = state
    if conf[1]:
        incoming = cursor[vid] if prefetch else nxt[t]
        if incoming == NEVER or incoming >= hkey[base]:
            return -1
    return hslot[base]


@njit(cache=True, inline="always")
def on_evict(state, set_, slot, vid, t):
    nxt, cursor, hkey, hslot, pos, size, conf = state
    heap.remove(hkey, hslot, pos, size, set_, set_ * conf[0], slot)


POLICY = Policy("belady", "offline optimum: evict the furthest next use (libCacheSim Belady)",
                make_state, victim, on_access=on_access, on_hit=on_hit, on_fill=on_fill,
                on_evict=on_evict,
                params={"bypass": Bool(False, help="do not insert a vector whose next use is "
                                       "the furthest (the bypassing optimum)")})
