"""SIEVE: a FIFO queue with a "visited" bit and a hand that sweeps from the oldest entry
towards the newest, evicting the first unvisited entry.

Paper: Zhang, Yang, Yue, Vigfusson and Rashmi, "SIEVE is Simpler than LRU: an Efficient
Turn-Key Eviction Algorithm for Web Caches", NSDI 2024. Reference implementation:
libCacheSim ``libCacheSim/cache/eviction/Sieve.c`` (PyPI ``libcachesim``'s ``Sieve``). No
parameters (one visited bit per entry, as published).

Per set: a doubly-linked queue over its slots (head = newest, tail = oldest) and a hand.
A newcomer (demand or prefetch alike) is linked at the head, unvisited; a hit sets its
visited bit; entries never move. To evict: start at the hand (at the tail when the hand
is unset), clear visited entries while stepping towards the head (wrapping to the tail),
evict the first unvisited entry, and leave the hand on the entry just newer than the
victim (unset if the victim was the head). This is libCacheSim's ``Sieve_evict``
step for step, so the eviction order is the same at any associativity, fully associative
(one set of ``capacity`` ways) included; every hand step clears a bit that a hit set, so
the work is O(1) amortised per access.
"""

from collections import namedtuple

import numpy as np

from recsim.errors import ConfigError
from recsim.plugin import Policy, hook
from recsim.policies._lists import push_front, unlink

# a FIFO list per set (newer / older: a slot's neighbours towards the head / the tail),
# the hand of each set and a visited bit per slot
State = namedtuple("State", "newer older head tail hand visited")


def make_state(ctx, params):
    if ctx.capacity >= 2**31:
        raise ConfigError(f"policy sieve: capacity: expected fewer than 2^31 slots, got "
                          f"{ctx.capacity}")
    # newer[s] / older[s]: the neighbours of slot s towards the head / the tail
    newer = np.full(ctx.capacity, -1, dtype=np.int32)
    older = np.full(ctx.capacity, -1, dtype=np.int32)
    head = np.full(ctx.sets, -1, dtype=np.int64)
    tail = np.full(ctx.sets, -1, dtype=np.int64)
    hand = np.full(ctx.sets, -1, dtype=np.int64)
    visited = np.zeros(ctx.capacity, dtype=np.uint8)
    return State(newer, older, head, tail, hand, visited)


@hook
def on_hit(state, set_, slot, vid, t, prio):
    state.visited[slot] = 1


@hook
def on_fill(state, set_, slot, vid, t, prio, prefetch):
    state.visited[slot] = 0
    push_front(state.newer, state.older, state.head, state.tail, set_, slot)


@hook
def victim(state, set_, base, ways, vid, t, prefetch):
    newer, tail, hand, visited = state.newer, state.tail, state.hand, state.visited
    s = hand[set_]
    if s < 0:
        s = tail[set_]
    while visited[s]:
        visited[s] = 0
        s = newer[s]
        if s < 0:
            s = tail[set_]
    hand[set_] = newer[s]
    return s


@hook
def on_evict(state, set_, slot, vid, t):
    unlink(state.newer, state.older, state.head, state.tail, set_, slot)


POLICY = Policy("sieve", "SIEVE: FIFO queue with visited bits and a sweeping hand "
                "(Zhang et al. NSDI 2024; libCacheSim Sieve)", make_state, victim,
                on_hit=on_hit, on_fill=on_fill, on_evict=on_evict)
