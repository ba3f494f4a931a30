"""LeCaR: learning cache replacement with two experts, LRU and LFU, weighted by regret.

Paper: G. Vietri, L. V. Rodriguez, W. A. Martinez, S. Lyons, J. Liu, R. Rangaswami,
M. Zhao and G. Narasimhan, "Driving Cache Replacement with ML-based LeCaR", HotStorage
2018. Reference implementation: libCacheSim ``libCacheSim/cache/eviction/LeCaR.c``
(github.com/1a1a11a/libCacheSim at aa0fc40; PyPI ``libcachesim`` 0.3.5, ``lcs.LeCaR``),
whose unit-size rules are reproduced:

* The experts: LRU (evict the least recently used) and LFU (evict the lowest count, the
  vector that reached it first among equals; counts only while resident, 1 on insert), as
  :mod:`recsim.policies.lfu`.
* On a miss with a full set, if the two candidates are the same vector it is evicted and
  remembered by neither history; else LRU's is evicted with probability ``w_lru``, LFU's
  otherwise, and the victim joins the history of the expert that chose it (each history a
  FIFO of ``c // 2`` vids, c the set's ways).
* A miss on a vid in expert E's history (checked before the eviction): E is blamed,
  ``w_E <- w_E * exp(-lr * d^t) + 1e-10`` and both weights are renormalised (with
  libCacheSim's 1e-10 terms), ``t`` the set's accesses since the eviction; the vid leaves
  the history. ``lr = 0.45`` and ``d = 0.005^(1/c)`` (the paper's defaults), weights start
  at 0.5.

Deviations: the draw is a uniform double from the policy's own xorshift64* stream (seeded
from the replay seed, one stream for all sets: ``cross_set``), where libCacheSim draws
``(rand() % 100) / 100`` from an unseeded process-wide generator, so counts match
libCacheSim statistically, not exactly. With ``sets > 1`` every set is its own LeCaR
(c = ways, its own weights, histories and access clock). A prefetch fill is a demand
insertion. The paper's LFU remembers a vector's count in its history; libCacheSim's (and
recsim's) restarts it at 1.
"""

import math
from collections import namedtuple

import numpy as np

from recsim.plugin import Policy, hook
from recsim.policies import lfu
from recsim.policies._ghosts import ghost_tag, make_rings, push_bounded, remove
from recsim.policies._lists import push_front, unlink
from recsim.policies.random import make_state as make_rng, uniform

LEARNING_RATE = 0.45
DISCOUNT_BASE = 0.005

# The arrays LeCaR and CACHEUS both keep: LFU (lfu.State's fields, driven by lfu's hooks);
# LRU links over slots and per list; two histories per set (recsim ghosts rings, list
# 2*s + e, e = 0 LRU, 1 LFU) of c // 2 vids, with their lengths
EXPERT_FIELDS = ("item_node item_prev item_next node_freq node_prev node_next node_head "
                 "node_tail set_head set_tail free n_free r_prev r_next r_head r_tail "
                 "ring ends code mask count ")

# then weights [2*s]: LRU, [2*s+1]: LFU; clock: accesses per set; each vid's eviction
# time; chose: the expert (0, 1; -1 none) that chose the set's pending victim; the random
# stream; the learning rate, discount and history length
State = namedtuple("State", EXPERT_FIELDS + "w clock evicted_at chose rng lr dr half")


def expert_arrays(ctx, params, lists):
    """The arrays of :data:`EXPERT_FIELDS`, with ``lists`` LRU lists."""
    cap, sets, ways = ctx.capacity, ctx.sets, ctx.ways
    return (*lfu.make_state(ctx, params),
            np.full(cap, -1, np.int32), np.full(cap, -1, np.int32),
            np.full(lists, -1, np.int64), np.full(lists, -1, np.int64),
            *make_rings(2 * sets, max(ways // 2, 1), ctx.n_vids),
            np.zeros(2 * sets, np.int64))


def make_state(ctx, params):
    sets, ways = ctx.sets, ctx.ways
    return State(*expert_arrays(ctx, params, sets), np.full(2 * sets, 0.5),
                 np.zeros(sets, np.int64), np.zeros(ctx.n_vids, np.int64),
                 np.full(sets, -1, np.int64), make_rng(ctx, params).rng, LEARNING_RATE,
                 DISCOUNT_BASE ** (1.0 / ways), ways // 2)


@hook
def on_hit(state, set_, slot, vid, t, prio):
    state.clock[set_] += 1
    if state.r_head[set_] != slot:
        unlink(state.r_prev, state.r_next, state.r_head, state.r_tail, set_, slot)
        push_front(state.r_prev, state.r_next, state.r_head, state.r_tail, set_, slot)
    lfu.on_hit(state, set_, slot, vid, t, prio)


@hook
def on_fill(state, set_, slot, vid, t, prio, prefetch):
    state.clock[set_] += 1
    push_front(state.r_prev, state.r_next, state.r_head, state.r_tail, set_, slot)
    lfu.on_fill(state, set_, slot, vid, t, prio, prefetch)


@hook
def _blame(state, set_, e, elapsed):
    """Expert ``e`` evicted what is asked for again ``elapsed`` accesses later."""
    w = state.w
    mine = 2 * set_ + e
    other = 2 * set_ + 1 - e
    w[mine] = w[mine] * math.exp(-state.lr * state.dr ** elapsed) + 1e-10
    s = w[mine] + w[other] + 2e-10
    w[mine] = w[mine] / s
    w[other] = (w[other] + 1e-10) / s


@hook
def victim(state, set_, base, ways, vid, t, prefetch):
    e = ghost_tag(state.code, vid)
    if e >= 0:
        _blame(state, set_, e, state.clock[set_] + 1 - state.evicted_at[vid])
        remove(state.ring, state.code, state.mask, 2 * set_ + e, vid)
        state.count[2 * set_ + e] -= 1
    by_lru = state.r_tail[set_]
    by_lfu = lfu.victim(state, set_, base, ways, vid, t, prefetch)
    if by_lru == by_lfu:
        state.chose[set_] = -1
        return by_lru
    if uniform(state.rng) < state.w[2 * set_]:
        state.chose[set_] = 0
        return by_lru
    state.chose[set_] = 1
    return by_lfu


@hook
def on_evict(state, set_, slot, vid, t):
    unlink(state.r_prev, state.r_next, state.r_head, state.r_tail, set_, slot)
    lfu.on_evict(state, set_, slot, vid, t)
    e = state.chose[set_]
    if e >= 0 and state.half > 0:
        push_bounded(state.ring, state.ends, state.code, state.mask, state.count,
                     2 * set_ + e, state.half, 2 * set_ + e, e, vid)
        state.evicted_at[vid] = state.clock[set_] + 1


POLICY = Policy("lecar", "LRU and LFU experts weighted by regret (Vietri et al. 2018; "
                "libCacheSim LeCaR)", make_state, victim, on_hit=on_hit, on_fill=on_fill,
                on_evict=on_evict, cross_set=True)  # one random stream for all sets
