"""CACHEUS: LeCaR's regret-weighted experts, made scan-resistant (SR-LRU), churn-resistant
(CR-LFU) and free of hand-set learning rates.

Paper: L. V. Rodriguez, F. Yusuf, S. Lyons, E. Paz, R. Rangaswami, J. Liu, M. Zhao and
G. Narasimhan, "Learning Cache Replacement with CACHEUS", FAST 2021. Reference
implementation: the authors' ``code/algs/cacheus.py`` (github.com/sylab/cacheus at
08e7d99), whose rules are reproduced per set of c = ways slots:

* The residents are split into R (``s`` in the code: the recent, protected part) and SR
  (``q``: new and demoted vectors), both LRU lists, with targets ``q_limit =
  max(1, int(0.01 c + 0.5))`` and ``s_limit = c - q_limit``. A plain miss goes to SR's MRU
  end (to R while SR is empty and R below its target), marked *new* when the set is full
  or SR at its target, and then R demotes its LRU vectors into SR until it is below its
  target ("limitStack"); a hit in SR moves the vector to R, demoting R's LRU first when
  R is at its target.
* SR-LRU's sizing: a hit on a demoted vector grows R's target by
  ``max(1, int(new/demoted + 0.5))``; a history hit on a new vector grows SR's by
  ``max(1, int(demoted/new + 0.5))`` (``new``: new vectors in the LRU history,
  ``demoted``: demoted residents), each target at most c - 1.
* CR-LFU: the lowest count, the most recently used among equals; counts live on in the
  histories and come back on a history hit (without the +1, as the reference code does).
* Eviction (full set): draw u (on every eviction); the candidates are SR's LRU and
  CR-LFU's; the same vector is evicted into no history, else LRU's with probability
  ``w_lru`` (``u < w_lru``), and the victim joins its expert's history (a FIFO of
  ``c // 2`` vids).
* A miss on a vid in expert E's history: ``w_E *= exp(-lr)``, renormalise, clamp the
  weights to [0.01, 0.99]; the vid is filled into R with its old count, then R is
  trimmed as above.
* The learning rate starts at ``sqrt(2 ln 2 / c)`` and every c accesses of the set moves
  by the sign of (its last change x the hit rate's change), or after 10 periods without
  progress resets, or takes a random step of x1.25 / x0.75 (the code's rules).

Deviations: draws come from the policy's own xorshift64* stream (seeded from the replay
seed, one stream for all sets: ``cross_set``) where the code seeds NumPy with 123;
weights are float64 (the code's float32); ``round(x, 3)`` is ``rint(1000 x) / 1000``.
With c = 1 the code pops an empty list; here R's demotion is skipped when R is empty
and the LRU candidate is R's LRU when SR is empty. A prefetch fill is a demand miss.
libCacheSim's ``Cacheus.c`` departs from this code (its SR-LRU can evict beyond the one
victim per miss, its hit rate is an integer division, its learning rate starts at random
in (0.001, 1)); docs/policies.md compares the two.
"""

import math
from collections import namedtuple

import numpy as np

from recsim.plugin import Policy, hook
from recsim.policies import lfu
from recsim.policies._ghosts import ghost_tag, pop_oldest, push, remove
from recsim.policies._lists import insert_after, push_back, push_front, unlink
from recsim.policies.lecar import EXPERT_FIELDS, expert_arrays
from recsim.policies.random import make_state as make_rng, uniform

# per-set integer registers: reg[s, X]
CLOCK, HITS, ZERO, NEGA, S_SIZE, Q_SIZE, S_LIMIT, Q_LIMIT, DEM, NOR, CHOSE, PENDING = range(12)
# per-set float registers: fl[s, X] (weights of LRU and LFU; the learning rate's state)
W_LRU, W_LFU, LR, LR_RESET, LR_CURR, LR_PREV, HR_PREV = range(7)
# PENDING: 0 none, 1 the set's victim is being replaced by a history hit, 2 by a plain
# miss; the next fill was already counted (victim ticked the clock) when it is not 0

# lecar's EXPERT_FIELDS (lists [2*s]: SR, [2*s+1]: R; histories tagged e); per slot: its
# list (0: SR, 1: R), demoted and new flags; each vid's count and new flag while in a
# history; registers; the random stream; c and the history length
State = namedtuple("State", EXPERT_FIELDS + "lst_of demoted new g_freq g_new reg fl rng c half")


def make_state(ctx, params):
    cap, sets, ways = ctx.capacity, ctx.sets, ctx.ways
    reg = np.zeros((sets, 12), np.int64)
    reg[:, Q_LIMIT] = max(1, int(0.01 * ways + 0.5))
    reg[:, S_LIMIT] = ways - reg[:, Q_LIMIT]
    fl = np.zeros((sets, 7))
    fl[:, W_LRU] = fl[:, W_LFU] = 0.5
    fl[:, LR] = fl[:, LR_CURR] = math.sqrt(2.0 * math.log(2) / ways)
    fl[:, LR_RESET] = min(max(fl[0, LR], 0.001), 1.0)
    return State(*expert_arrays(ctx, params, 2 * sets),
                 np.zeros(cap, np.int8), np.zeros(cap, np.int8), np.zeros(cap, np.int8),
                 np.zeros(ctx.n_vids, np.int64), np.zeros(ctx.n_vids, np.int8), reg, fl,
                 make_rng(ctx, params).rng, ways, ways // 2)


@hook
def _round3(x):
    return np.rint(x * 1000.0) / 1000.0


@hook(inline=False)
def _update_lr(state, set_, ways):
    """The end of a period of ``ways`` accesses: move the learning rate (the code's
    ``Cacheus_Learning_Rate.update``)."""
    reg, fl = state.reg, state.fl
    hr = _round3(reg[set_, HITS] / ways)
    hr_diff = _round3(hr - fl[set_, HR_PREV])
    lr_diff = _round3(fl[set_, LR_CURR]) - _round3(fl[set_, LR_PREV])
    delta = lr_diff * hr_diff
    lr = fl[set_, LR]
    if delta > 0:
        lr = min(lr + abs(lr * lr_diff), 1.0)
        reg[set_, NEGA] = reg[set_, ZERO] = 0
    elif delta < 0:
        lr = max(lr - abs(lr * lr_diff), 0.001)
        reg[set_, NEGA] = reg[set_, ZERO] = 0
    elif hr_diff <= 0:
        if hr <= 0 and hr_diff == 0:
            reg[set_, ZERO] += 1
        if hr_diff < 0:
            reg[set_, NEGA] += 1
            reg[set_, ZERO] += 1
        if reg[set_, ZERO] >= 10:
            lr = fl[set_, LR_RESET]
            reg[set_, ZERO] = 0
        elif hr_diff < 0:
            if reg[set_, NEGA] >= 10:
                lr = fl[set_, LR_RESET]
                reg[set_, NEGA] = 0
            elif lr >= 1.0:
                lr = 0.9
            elif lr <= 0.001:
                lr = 0.005
            elif uniform(state.rng) < 0.5:
                lr = min(lr * 1.25, 1.0)
            else:
                lr = max(lr * 0.75, 0.001)
    fl[set_, LR] = lr
    fl[set_, LR_PREV] = fl[set_, LR_CURR]
    fl[set_, LR_CURR] = lr
    fl[set_, HR_PREV] = hr
    reg[set_, HITS] = 0


@hook
def _tick(state, set_, ways):
    state.reg[set_, CLOCK] += 1
    if state.reg[set_, CLOCK] % ways == 0:
        _update_lr(state, set_, ways)


@hook
def _blame(state, set_, e):
    """A miss on a vid in expert ``e``'s history (the code's ``adjustWeights``)."""
    fl = state.fl
    if e == 0:
        fl[set_, W_LRU] *= math.exp(-fl[set_, LR])
    else:
        fl[set_, W_LFU] *= math.exp(-fl[set_, LR])
    s = fl[set_, W_LRU] + fl[set_, W_LFU]
    fl[set_, W_LRU] /= s
    fl[set_, W_LFU] /= s
    if fl[set_, W_LRU] >= 0.99:
        fl[set_, W_LRU], fl[set_, W_LFU] = 0.99, 0.01
    elif fl[set_, W_LFU] >= 0.99:
        fl[set_, W_LRU], fl[set_, W_LFU] = 0.01, 0.99


@hook
def _grow(state, set_, ways, protected):
    """SR-LRU's ``adjustSize``: grow R's target (``protected``) or SR's."""
    reg = state.reg
    if protected:
        step = max(1, int(reg[set_, NOR] / max(1, reg[set_, DEM]) + 0.5))
        reg[set_, S_LIMIT] = min(ways - 1, reg[set_, S_LIMIT] + step)
        reg[set_, Q_LIMIT] = ways - reg[set_, S_LIMIT]
    else:
        step = max(1, int(reg[set_, DEM] / max(1, reg[set_, NOR]) + 0.5))
        reg[set_, Q_LIMIT] = min(ways - 1, reg[set_, Q_LIMIT] + step)
        reg[set_, S_LIMIT] = ways - reg[set_, Q_LIMIT]


@hook
def _join(state, set_, slot, lst):
    """Put ``slot`` at the MRU end of list ``lst`` (0: SR, 1: R)."""
    push_front(state.r_prev, state.r_next, state.r_head, state.r_tail, 2 * set_ + lst, slot)
    state.lst_of[slot] = lst
    state.reg[set_, S_SIZE if lst else Q_SIZE] += 1


@hook
def _leave(state, set_, slot):
    lst = state.lst_of[slot]
    unlink(state.r_prev, state.r_next, state.r_head, state.r_tail, 2 * set_ + lst, slot)
    state.reg[set_, S_SIZE if lst else Q_SIZE] -= 1


@hook
def _demote(state, set_):
    """Move R's LRU vector to SR's MRU end, marked demoted (skipped if R is empty)."""
    slot = state.r_tail[2 * set_ + 1]
    if slot >= 0:
        _leave(state, set_, slot)
        _join(state, set_, slot, 0)
        state.demoted[slot] = 1
        state.reg[set_, DEM] += 1


@hook
def _limit(state, set_):
    """The code's ``limitStack``: demote while R is at or above its target."""
    reg = state.reg
    while reg[set_, S_SIZE] >= reg[set_, S_LIMIT] and reg[set_, S_SIZE] > 0:
        _demote(state, set_)


@hook
def on_hit(state, set_, slot, vid, t, prio):
    _tick(state, set_, state.c)
    reg = state.reg
    reg[set_, HITS] += 1
    lfu.on_hit(state, set_, slot, vid, t, prio)
    if state.lst_of[slot] == 1:
        if state.r_head[2 * set_ + 1] != slot:
            _leave(state, set_, slot)
            _join(state, set_, slot, 1)
        return
    if state.demoted[slot]:
        _grow(state, set_, state.c, True)
        state.demoted[slot] = 0
        reg[set_, DEM] -= 1
    _leave(state, set_, slot)
    if reg[set_, S_SIZE] >= reg[set_, S_LIMIT]:
        _demote(state, set_)
    _join(state, set_, slot, 1)


@hook
def _count_in(state, set_, slot, f):
    """Enter ``slot`` into CR-LFU at count ``f``, the most recent at that count."""
    node_freq, node_next = state.node_freq, state.node_next
    prev = -1
    node = state.set_head[set_]
    while node >= 0 and node_freq[node] < f:
        prev = node
        node = node_next[node]
    if node < 0 or node_freq[node] != f:
        node = lfu._new_node(state, f)
        if prev < 0:
            push_front(state.node_prev, node_next, state.set_head, state.set_tail, set_, node)
        else:
            insert_after(state.node_prev, node_next, state.set_head, state.set_tail, set_,
                         prev, node)
    push_back(state.item_prev, state.item_next, state.node_head, state.node_tail, node, slot)
    state.item_node[slot] = node


@hook
def victim(state, set_, base, ways, vid, t, prefetch):
    _tick(state, set_, ways)
    reg = state.reg
    e = ghost_tag(state.code, vid)
    reg[set_, PENDING] = 2
    if e >= 0:
        if e == 0 and state.g_new[vid]:
            reg[set_, NOR] -= 1
            _grow(state, set_, ways, False)
        _blame(state, set_, e)
        remove(state.ring, state.code, state.mask, 2 * set_ + e, vid)
        state.count[2 * set_ + e] -= 1
        reg[set_, PENDING] = 1
    by_lru = state.r_tail[2 * set_]
    if by_lru < 0:  # c = 1: SR is empty
        by_lru = state.r_tail[2 * set_ + 1]
    by_lfu = state.node_tail[state.set_head[set_]]
    to_lfu = uniform(state.rng) >= state.fl[set_, W_LRU]
    if by_lru == by_lfu:
        reg[set_, CHOSE] = -1
        return by_lru
    reg[set_, CHOSE] = 1 if to_lfu else 0
    return by_lfu if to_lfu else by_lru


@hook
def _remember(state, set_, e, vid, new):
    """Add ``vid`` to expert ``e``'s history (the code's ``addToHistory``)."""
    at = 2 * set_ + e
    if e == 0 and new:
        state.reg[set_, NOR] += 1
    if state.count[at] >= state.half:
        old = pop_oldest(state.ring, state.ends, state.code, state.mask, at)
        state.count[at] -= 1
        if e == 0 and state.g_new[old]:
            state.reg[set_, NOR] -= 1
    push(state.ring, state.ends, state.code, state.mask, at, e, vid)
    state.count[at] += 1
    state.g_new[vid] = new


@hook
def on_evict(state, set_, slot, vid, t):
    _leave(state, set_, slot)
    if state.demoted[slot]:
        state.reg[set_, DEM] -= 1
        state.demoted[slot] = 0
    state.g_freq[vid] = state.node_freq[state.item_node[slot]]
    lfu._leave(state, set_, slot)
    e = state.reg[set_, CHOSE]
    if e >= 0 and state.half > 0:
        _remember(state, set_, e, vid, state.new[slot])


@hook
def on_fill(state, set_, slot, vid, t, prio, prefetch):
    reg = state.reg
    pending = reg[set_, PENDING]
    reg[set_, PENDING] = 0
    if pending == 0:
        _tick(state, set_, state.c)
    if pending == 1:  # a history hit: into R with its old count
        _count_in(state, set_, slot, state.g_freq[vid])
        state.new[slot] = 0
        lst, limit = 1, True
    else:
        _count_in(state, set_, slot, 1)
        if pending == 0 and reg[set_, S_SIZE] < reg[set_, S_LIMIT] and reg[set_, Q_SIZE] == 0:
            state.new[slot], lst, limit = 0, 1, False
        elif pending == 0 and reg[set_, Q_SIZE] < reg[set_, Q_LIMIT]:
            state.new[slot], lst, limit = 0, 0, False
        else:
            state.new[slot], lst, limit = 1, 0, True
    state.demoted[slot] = 0
    _join(state, set_, slot, lst)
    if limit:
        _limit(state, set_)


POLICY = Policy("cacheus", "SR-LRU and CR-LFU experts, adaptive learning rate (Rodriguez "
                "et al. 2021)", make_state, victim, on_hit=on_hit, on_fill=on_fill,
                on_evict=on_evict, cross_set=True)  # one random stream for all sets
