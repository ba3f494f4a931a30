"""LRU: evict the least recently used vector of the set.

Reference: ChampSim ``replacement/lru/lru.cc`` (per-line last-used stamp set on fill and
hit; evict the smallest stamp) and libCacheSim ``cache/eviction/LRU.c``. Implemented as
one intrusive doubly-linked list per set (most recent at the head), so a victim is O(1)
at any associativity, fully associative included. Prefetch fills enter at the MRU end.
"""

from collections import namedtuple

import numpy as np

from recsim.plugin import Policy, hook
from recsim.policies._lists import push_front, unlink

# one doubly-linked list per set: slot links, and each set's most and least recent slot
State = namedtuple("State", "prev next head tail")


def make_state(ctx, params):
    prev = np.full(ctx.capacity, -1, dtype=np.int64)
    nxt = np.full(ctx.capacity, -1, dtype=np.int64)
    head = np.full(ctx.sets, -1, dtype=np.int64)
    tail = np.full(ctx.sets, -1, dtype=np.int64)
    return State(prev, nxt, head, tail)


@hook
def on_hit(state, set_, slot, vid, t, prio):
    if state.head[set_] != slot:
        unlink(state.prev, state.next, state.head, state.tail, set_, slot)
        push_front(state.prev, state.next, state.head, state.tail, set_, slot)


@hook
def on_fill(state, set_, slot, vid, t, prio, prefetch):
    push_front(state.prev, state.next, state.head, state.tail, set_, slot)


@hook
def victim(state, set_, base, ways, vid, t, prefetch):
    return state.tail[set_]


@hook
def on_evict(state, set_, slot, vid, t):
    unlink(state.prev, state.next, state.head, state.tail, set_, slot)


POLICY = Policy("lru", "least recently used (ChampSim lru, libCacheSim LRU)", make_state,
                victim, on_hit=on_hit, on_fill=on_fill, on_evict=on_evict)
