"""FIFO: evict the vector that entered the set first.

Reference: libCacheSim ``cache/eviction/FIFO.c``. Slots of a set fill in order and a
victim's slot takes the newcomer, so a per-set round-robin pointer names the oldest
vector: O(1) state, one integer per set. Hits do not change the order.
"""

from collections import namedtuple

import numpy as np

from recsim.plugin import Policy, hook

State = namedtuple("State", "next_way")  # per set: the way the next fill replaces


def make_state(ctx, params):
    return State(np.zeros(ctx.sets, dtype=np.int64))


@hook
def victim(state, set_, base, ways, vid, t, prefetch):
    ptr = state.next_way
    way = ptr[set_]
    ptr[set_] = way + 1 if way + 1 < ways else 0
    return base + way


POLICY = Policy("fifo", "first in, first out (libCacheSim FIFO)", make_state, victim)
