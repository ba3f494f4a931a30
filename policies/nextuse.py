"""nextuse: evict the vector whose predicted next use is furthest, learned online, with set
dueling against heuristics as the guarantee (issue 29; docs/recmg.md).

Sources: the estimate per way is Mockingjay's (Shah, Jain and Lin, HPCA'22: one
prediction per access stored per way as an estimated time of next use, evict the
furthest, an overdue line counting by how far it is overdue; ChampSim's
``replacement/mockingjay``); the prediction is LRB's (NSDI'20: LightGBM regression of the
log next-use distance, retrained online, 64 sampled candidates fully associative); the
guarantee is set dueling (Qureshi et al., ISCA'07, DIP: leader sets fixed to each policy,
followers take the winner) over several competitors, as in the multi-policy duels of
LeCaR/CACHEUS's spirit but with per-set leaders.

Per slot: ``est`` (estimated access time of its next use), ``last`` (last access),
``count`` (accesses since it entered) and ``irr`` (the gap between its last two accesses,
LIRS's inter-reference recency, kept per vector across evictions). A demand access with
advice ``prio > 0`` sets ``est = t + 2^(prio - 1)`` (``prio`` = 1 + log2 of the predicted
distance, :mod:`recsim.nextuse.learn`); without advice (the warm-up) the estimate is the
last gap, ``t + irr``. The competitors rank the ways of a set (the largest key is
evicted, ties to the least recently used):

* ``learned``: ``|est - t|`` (Mockingjay's overdue rule);
* ``lru``: ``t - last``;
* ``lfu``: fewest accesses since entering;
* ``irr``: ``max(irr, t - last)`` (LIRS's ordering of a vector by recency and IRR).

``duel: all`` makes 1/64 of the sets (at least one) leaders of each competitor; their
demand accesses and misses are counted, halved every 2^14 leader misses, and every other
set evicts by the competitor with the lowest miss ratio. ``duel: none`` always evicts by
``learned``; ``duel: lru`` duels only ``learned`` and ``lru``. A fully associative
buffer (one set) has no leaders, so it always ranks by ``learned``, and ranks ``sample``
random ways (LRB's 64) rather than all. The predicted next use beyond what the set holds
needs no bypass: such a vector enters with the furthest estimate, so it is the next
victim (insertion at the lowest priority).
"""

from collections import namedtuple

import numpy as np
from numba import uint64

from recsim.plugin import Choice, File, Int, Policy, hook

LEARNED, LRU, LFU, IRR = 0, 1, 2, 3
DUELS = {"all": 4, "lru": 2, "none": 1}  # competitors 0 .. n-1
NO_GAP = 1 << 40
LEADER_SHARE = 64  # 1 in 64 sets leads for each competitor
HALVE_AFTER = 1 << 14  # leader misses between halvings of the duel's counters
M_ACC, M_MISS = 0, 1

State = namedtuple("State", "est last count irr vlast vgap leader score since rng sample")


def leaders(sets: int, competitors: int) -> np.ndarray:
    """Per set the competitor it leads for, or -1 (a follower): every
    ``LEADER_SHARE``-th set from set ``k`` on leads for competitor ``k``, spread by a
    multiplicative hash so leaders are not neighbours; none with one competitor or set."""
    lead = np.full(sets, -1, np.int64)
    if competitors < 2 or sets < 2:
        return lead
    order = np.argsort((np.arange(sets, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15))
                       % np.uint64(1 << 61), kind="stable")
    per = max(1, sets // LEADER_SHARE)
    for k in range(competitors):
        lead[order[k * per:(k + 1) * per]] = k
    return lead


def make_state(ctx, params):
    cap, n = ctx.capacity, ctx.n_vids
    competitors = DUELS[params["duel"]]
    mixed = (ctx.seed * 0x9E3779B97F4A7C15 + 0xD1B54A32D192ED03) % (1 << 64)
    return State(np.zeros(cap, np.int64), np.zeros(cap, np.int64), np.zeros(cap, np.int64),
                 np.zeros(cap, np.int64), np.full(n, -1, np.int64),
                 np.full(n, NO_GAP, np.int64), leaders(ctx.sets, competitors),
                 np.zeros((max(competitors, 1), 2), np.float64), np.zeros(1, np.int64),
                 np.array([mixed or 1], np.uint64), params["sample"])


@hook
def on_access(state, vid, t):
    if state.vlast[vid] >= 0:
        state.vgap[vid] = t - state.vlast[vid]
    state.vlast[vid] = t


@hook
def _touch(state, slot, vid, t, prio):
    if prio > 0:
        state.est[slot] = t + np.int64(2.0 ** (prio - 1.0))
    else:
        state.est[slot] = t + state.vgap[vid]
    state.last[slot] = t
    state.irr[slot] = state.vgap[vid]


@hook
def _count(state, set_, miss):
    k = state.leader[set_]
    if k >= 0:
        state.score[k, M_ACC] += 1.0
        if miss:
            state.score[k, M_MISS] += 1.0
            state.since[0] += 1
            if state.since[0] >= HALVE_AFTER:
                state.since[0] = 0
                for k in range(state.score.shape[0]):
                    state.score[k, M_ACC] *= 0.5
                    state.score[k, M_MISS] *= 0.5


@hook
def on_hit(state, set_, slot, vid, t, prio):
    _touch(state, slot, vid, t, prio)
    state.count[slot] += 1
    _count(state, set_, False)


@hook
def on_fill(state, set_, slot, vid, t, prio, prefetch):
    if prefetch:  # no demand access: keep LRU's order, estimate from the last gap
        state.est[slot] = t + state.vgap[vid]
        state.last[slot] = t
        state.irr[slot] = state.vgap[vid]
    else:
        _touch(state, slot, vid, t, prio)
        _count(state, set_, True)
    state.count[slot] = 0 if prefetch else 1


@hook
def _key(state, competitor, slot, t):
    age = t - state.last[slot]
    if competitor == LEARNED:
        d = state.est[slot] - t
        return d if d >= 0 else -d
    if competitor == LRU:
        return age
    if competitor == LFU:
        return -state.count[slot]
    return max(state.irr[slot], age)


@hook
def _winner(state):
    best, best_ratio = 0, 2.0
    for k in range(state.score.shape[0]):
        ratio = (state.score[k, M_MISS] + 1.0) / (state.score[k, M_ACC] + 2.0)
        if ratio < best_ratio:
            best, best_ratio = k, ratio
    return best


@hook
def _random_way(state, ways):
    x = state.rng[0]
    x ^= x >> uint64(12)
    x ^= x << uint64(25)
    x ^= x >> uint64(27)
    state.rng[0] = x
    return np.int64((x * uint64(0x2545F4914F6CDD1D)) % uint64(ways))


@hook
def victim(state, set_, base, ways, vid, t, prefetch):
    k = state.leader[set_]
    competitor = k if k >= 0 else _winner(state)
    sampled = ways > state.sample
    tries = state.sample if sampled else ways
    best, best_key, best_last = base, np.int64(-(1 << 62)), np.int64(1 << 62)
    for i in range(tries):
        slot = base + (_random_way(state, ways) if sampled else i)
        key = _key(state, competitor, slot, t)
        if key > best_key or (key == best_key and state.last[slot] < best_last):
            best, best_key, best_last = slot, key, state.last[slot]
    return best


POLICY = Policy("nextuse", "furthest predicted next use, learned online (LightGBM), set "
                "dueling against LRU, LFU and IRR", make_state, victim, on_access=on_access,
                on_hit=on_hit, on_fill=on_fill, cross_set=True,  # the duel's counters
                advise="recsim.nextuse.learn:advise", advise_always=True,
                params={
                    "model": File("", "nextuse-model", help="a saved model to start from "
                                  "(predicts the warm-up too; '': learn from the trace)"),
                    "warmup": Int(1 << 17, lo=1, help="accesses before the first training"),
                    "retrain": Int(1 << 17, lo=1, help="accesses between trainings"),
                    "window": Int(1 << 17, lo=16, help="most recent labelled accesses a "
                                  "training reads"),
                    "horizon": Int(1 << 18, lo=2, help="next-use distance the label is "
                                   "clipped at (accesses)"),
                    "trees": Int(32, lo=1, help="boosting rounds per training"),
                    "leaves": Int(32, lo=2, help="leaves per tree"),
                    "threads": Int(1, lo=1, help="LightGBM threads"),
                    "seed": Int(0, lo=0, help="LightGBM's seed"),
                    "duel": Choice("all", tuple(DUELS), help="competitors of the learned "
                                   "ranking in the set duel"),
                    "sample": Int(64, lo=1, help="ways ranked per eviction when a set has "
                                  "more (fully associative)")})
