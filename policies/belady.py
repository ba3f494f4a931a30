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

from collections import namedtuple

import numpy as np

from recsim.plugin import Bool, Policy, hook
from recsim.policies import _heap as heap
from recsim.traces.nextuse import NEVER

# next use of each access; of each vector after the latest access; a max-heap per set of
# slot keys (hkey, hslot, pos, size: recsim.heap); the geometry and switches
State = namedtuple("State", "next_use cursor hkey hslot pos size ways bypass prefetching n_vids")


def make_state(ctx, params):
    nxt, first = ctx.next_use()
    cap = ctx.capacity
    hkey = np.zeros(cap, dtype=np.int64)
    hslot = np.zeros(cap, dtype=np.int64)
    pos = np.zeros(cap, dtype=np.int64)
    size = np.zeros(ctx.sets, dtype=np.int64)
    # Next use of each vector after the latest access: needed to key prefetched vectors only.
    cursor = first.copy()
    return State(nxt, cursor, hkey, hslot, pos, size, ctx.ways, params["bypass"],
                 bool(ctx.prefetching), ctx.n_vids)


@hook
def on_access(state, vid, t):
    if state.prefetching:
        state.cursor[vid] = state.next_use[t]


@hook
def _key(next_use, t, vid, n_vids):
    return NEVER - 1 - (t * n_vids + vid) if next_use == NEVER else next_use


@hook
def on_hit(state, set_, slot, vid, t, prio):
    heap.increase(state.hkey, state.hslot, state.pos, set_ * state.ways, slot,
                  _key(state.next_use[t], t, vid, state.n_vids))


@hook
def on_fill(state, set_, slot, vid, t, prio, prefetch):
    heap.push(state.hkey, state.hslot, state.pos, state.size, set_, set_ * state.ways, slot,
              _key(state.cursor[vid] if prefetch else state.next_use[t], t, vid, state.n_vids))


@hook
def victim(state, set_, base, ways, vid, t, prefetch):
    if state.bypass:
        incoming = state.cursor[vid] if prefetch else state.next_use[t]
        if incoming == NEVER or incoming >= state.hkey[base]:
            return -1
    return state.hslot[base]


@hook
def on_evict(state, set_, slot, vid, t):
    heap.remove(state.hkey, state.hslot, state.pos, state.size, set_, set_ * state.ways, slot)


POLICY = Policy("belady", "offline optimum: evict the furthest next use (libCacheSim Belady)",
                make_state, victim, on_access=on_access, on_hit=on_hit, on_fill=on_fill,
                on_evict=on_evict,
                params={"bypass": Bool(False, help="do not insert a vector whose next use is "
                                       "the furthest (the bypassing optimum)")})
