"""MQ: Multi-Queue replacement, LRU queues by access frequency with lifetime demotion.

Paper: Y. Zhou, J. Philbin and K. Li, "The Multi-Queue Replacement Algorithm for Second
Level Buffer Caches", USENIX ATC 2001 (m queues, an object with frequency f in queue
``min(floor(log2 f), m-1)``; a history buffer Qout of evicted ids and their frequencies).
Reference implementation: libCacheSim ``libCacheSim/cache/eviction/MQ.c`` (read at commit
1c162e2c21fd; PyPI ``libcachesim`` 0.3.5, ``lcs.MQ``; defaults ``n-queue=8``,
``lifetime=10000``, ``Qout-size-ratio=4.00``), reproduced exactly for unit-size objects:

* every hit and every insertion ends with ``Adjust``: the set's virtual time goes up by
  one, then for k = 1 .. m-1 the LRU vector of queue k, if its expiry time is below the
  virtual time, moves to the MRU end of queue k-1 with expiry ``vtime + lifetime``;
* a hit adds 1 to the frequency and moves the vector to the MRU end of its (new) queue,
  expiry ``vtime + lifetime`` (the virtual time before this access's Adjust);
* a miss whose id is in Qout takes it out of Qout (before any eviction) and enters with
  its remembered frequency + 1; any other miss enters with frequency 1;
* the victim is the LRU vector of the lowest non-empty queue; its id and frequency join
  Qout, a FIFO of ``floor(c * qout_size_ratio)`` ids that drops its oldest when full.

A prefetch fill is handled as a demand miss. O(m) per access (Adjust looks at m-1 queue
ends): intrusive lists over slots for the queues, the FIFO rings of
:mod:`recsim.policies._ghosts` for Qout plus a per-vid remembered frequency. Fully
associative by design; with ``sets > 1`` every set runs its own MQ with c = ways and its
own virtual time. Qout ids exist in a set only after it has been full, and a full set
stays full, so ``victim`` does the Qout check. Frequencies are int64 where libCacheSim
caps them at 2^31 - 1 (never reached by a trace that fits in memory).
"""

from collections import namedtuple

import numpy as np

from recsim.plugin import Float, Int, Policy, hook
from recsim.policies._ghosts import ghost_tag, make_rings, pop_oldest, push, remove
from recsim.policies._lists import push_front, unlink

State = namedtuple("State", "conf count vtime queue freq expire prev next head tail ghost_freq "
                   "enter ring ends code mask")


def make_state(ctx, params):
    cap, sets, ways = ctx.capacity, ctx.sets, ctx.ways
    m = params["n_queue"]
    q_out = int(ways * params["qout_size_ratio"])
    ring, ends, code, mask = make_rings(sets, q_out, ctx.n_vids)
    return State(
        conf=np.array([m, params["lifetime"], q_out], dtype=np.int64),
        count=np.zeros(sets, dtype=np.int64),  # |Qout| per set
        vtime=np.zeros(sets, dtype=np.int64),
        queue=np.zeros(cap, dtype=np.int8), freq=np.zeros(cap, dtype=np.int64),
        expire=np.zeros(cap, dtype=np.int64),
        prev=np.full(cap, -1, dtype=np.int32), next=np.full(cap, -1, dtype=np.int32),
        head=np.full(m * sets, -1, dtype=np.int64),  # [m*s + k]: MRU of queue k
        tail=np.full(m * sets, -1, dtype=np.int64),
        ghost_freq=np.zeros(ctx.n_vids, dtype=np.int64),  # remembered while in Qout
        enter=np.ones(sets, dtype=np.int64),  # frequency the set's next fill enters with
        ring=ring, ends=ends, code=code, mask=mask)


@hook
def _queue_of(m, f):
    k = 0
    while f > 1 and k < m - 1:
        f >>= 1
        k += 1
    return k


@hook
def _link(state, set_, slot, k):
    push_front(state.prev, state.next, state.head, state.tail, state.conf[0] * set_ + k, slot)
    state.queue[slot] = k
    state.expire[slot] = state.vtime[set_] + state.conf[1]


@hook
def _adjust(state, set_):
    m = state.conf[0]
    state.vtime[set_] += 1
    now = state.vtime[set_]
    for k in range(1, m):
        slot = state.tail[m * set_ + k]
        if slot >= 0 and state.expire[slot] < now:
            unlink(state.prev, state.next, state.head, state.tail, m * set_ + k, slot)
            _link(state, set_, slot, k - 1)


@hook
def on_hit(state, set_, slot, vid, t, prio):
    m = state.conf[0]
    unlink(state.prev, state.next, state.head, state.tail, m * set_ + state.queue[slot], slot)
    state.freq[slot] += 1
    _link(state, set_, slot, _queue_of(m, state.freq[slot]))
    _adjust(state, set_)


@hook
def on_fill(state, set_, slot, vid, t, prio, prefetch):
    f = state.enter[set_]
    state.enter[set_] = 1
    state.freq[slot] = f
    _link(state, set_, slot, _queue_of(state.conf[0], f))
    _adjust(state, set_)


@hook
def victim(state, set_, base, ways, vid, t, prefetch):
    if ghost_tag(state.code, vid) >= 0:
        remove(state.ring, state.code, state.mask, set_, vid)
        state.count[set_] -= 1
        state.enter[set_] = state.ghost_freq[vid] + 1
    m = state.conf[0]
    for k in range(m):
        slot = state.tail[m * set_ + k]
        if slot >= 0:
            return slot
    return -1


@hook
def on_evict(state, set_, slot, vid, t):
    m, q_out = state.conf[0], state.conf[2]
    unlink(state.prev, state.next, state.head, state.tail, m * set_ + state.queue[slot], slot)
    if q_out > 0:
        if state.count[set_] >= q_out:
            pop_oldest(state.ring, state.ends, state.code, state.mask, set_)
            state.count[set_] -= 1
        push(state.ring, state.ends, state.code, state.mask, set_, 0, vid)
        state.count[set_] += 1
        state.ghost_freq[vid] = state.freq[slot]


POLICY = Policy("mq", "MQ: multi-queue LRU by frequency with lifetime demotion (Zhou et al. "
                "2001; libCacheSim MQ)", make_state, victim, on_hit=on_hit, on_fill=on_fill,
                on_evict=on_evict,
                params={"n_queue": Int(8, lo=1, hi=64, help="number of LRU queues"),
                        "lifetime": Int(10000, lo=1, unit="set accesses",
                                        help="accesses (per set) a vector may "
                                        "stay unaccessed before it drops one queue"),
                        "qout_size_ratio": Float(4.0, lo=0, hi=64, open_lo=True,
                                                 help="Qout history ids per set, as a "
                                                 "share of the ways")})
