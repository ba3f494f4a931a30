"""Micro-Armed Bandit: a discounted-UCB bandit that turns simple prefetchers on and off.

G. Gerogiannis and J. Torrellas, "Micro-Armed Bandit: Lightweight & Reusable
Reinforcement Learning for Microarchitecture Decision-Making", MICRO 2023. Public
reference: CMU-SAFARI/Athena (github.com/CMU-SAFARI/Athena, commit
1cf9be66d1e9449a040ea2dda944af36fdae3f28), ``src/oogway.cc`` (the MAB branch of
``train_and_take_action``) and ``inc/knobs.def`` (MAB knobs).

Arms: every on/off combination of two sub-prefetchers, bit 0 = ``next_n`` (next 4 rows of
the table on a miss, prefetchers/next_n.py) and bit 1 = ``stride`` (per-table stride,
prefetchers/stride.py), each with its own default parameters: arm 0 = none, 1 = next_n,
2 = stride, 3 = both (as Athena's four-action two-prefetcher mode). Stride sees every
access whatever the arm: it keeps training, as Athena's prefetchers keep running and only
their prefetches are dropped; next_n keeps no state, so it runs only when its arm is on.
Only the enabled sub-prefetchers' candidates are issued, without duplicates.

Rules:

* A step is ``step`` demand accesses; its reward is its hit rate (cache hits + prefetch
  hits) / ``step``. A trailing partial step is not rewarded.
* At the end of every step, all arms' discounted pick counts ``n_i`` and reward sums
  ``s_i`` are multiplied by ``gamma``; the arm that ran gets ``n += 1``, ``s += reward``.
* The next arm: round-robin first (arm 0 runs the first step, then 1, 2, ...: each arm
  once); then, with probability ``restart_prob``, the round-robin starts again from arm
  0; otherwise ``argmax_i s_i / n_i + c * sqrt(ln(sum_j n_j) / n_i)``, the lowest index
  on ties (``std::max_element``). The arm picked at the end of a step already decides the
  prefetches of that step's last access.

Defaults: ``gamma`` = 0.999 (knobs.def ``mab_gamma``), ``c`` = 0.04 (oogway.cc),
``restart_prob`` = 0.001 (knobs.def ``mab_rr_restart_prob``), ``step`` = 1000 (Athena's
``config/oogway.ini`` ``og_instr_epoch_len``, with accesses for instructions; its
knobs.def default is 10000). The
restart draws come from a generator seeded by the replay's ``seed``.

Deviations from Athena's code, which follows discounted UCB loosely: the reward is the
step's hit rate (Athena: the epoch's IPC; in round-robin, its RL agent's reward). Here a
step first credits its reward to the arm that ran, updating that arm's count and sum
together, then picks the next arm; round-robin steps update the statistics like any
other. Athena picks the next arm before crediting the finished epoch, adds the count to
the arm just picked rather than to the one that ran, starts every count at 1, and in
round-robin overwrites the mean of the arm about to run. A restart runs every arm again
from arm 0 (Athena takes that step's UCB pick and resumes round-robin at arm 1).
``sum_j n_j`` is the discounted number of steps, Athena's ``n_total = gamma * n_total +
1``. Candidates that are not vectors of the trace are dropped by the sub-prefetchers,
so pollution is a lower bound.
"""

import math

from collections import namedtuple

import numpy as np

from recsim.plugin import Float, Int, Prefetcher, defaults, hook, is_hit
from recsim.prefetchers.next_n import PREFETCHER as NEXT_N
from recsim.prefetchers.next_n import make_state as next_n_state
from recsim.prefetchers.next_n import on_access as next_n_access
from recsim.prefetchers.stride import PREFETCHER as STRIDE
from recsim.prefetchers.stride import make_state as stride_state
from recsim.prefetchers.stride import on_access as stride_access

N_ARMS = 4  # on/off combinations of next_n (bit 0) and stride (bit 1)
NEXT_N_ON, STRIDE_ON = 1, 2

# ctrl[]: the arm running, the next round-robin arm (N_ARMS: round-robin over), accesses
# and hits so far in this step, step length, generator state.
ARM, ROUND, POS, HITS, STEP, RNG = range(6)
# the states of next_n and stride; each arm's discounted pick count and reward sum; ctrl; the
# parameters; a sampled replay's count of candidates outside the sample (else None)
State = namedtuple("State", "next_n stride counts sums ctrl gamma c restart_prob unsampled")


def make_state(ctx, params):
    ctrl = np.array([0, 1, 0, 0, params["step"], int(ctx.seed) % (1 << 63)], np.int64)
    stride = stride_state(ctx, defaults(STRIDE.params))
    if ctx.unsampled is not None:  # stride runs on every access: it counts apart (keep_unsampled)
        stride = stride._replace(unsampled=ctx.unsampled._replace(count=np.zeros(1, np.int64)))
    return State(next_n_state(ctx, defaults(NEXT_N.params)), stride, np.zeros(N_ARMS),
                 np.zeros(N_ARMS), ctrl, params["gamma"], params["c"], params["restart_prob"],
                 ctx.unsampled)


@hook
def keep_unsampled(mine, total, keep):
    """In a sampled replay, add stride's count of the candidates it dropped (``mine``) to
    the replay's (``total``) when its arm is on (``keep``), as its candidates are issued
    only then; reset it. Nothing for ``mine`` None (other replays)."""
    if mine is not None:
        if keep:
            total.count[0] += mine.count[0]
        mine.count[0] = 0


@hook
def uniform(ctrl):
    """Next draw in [0, 1) of a 64-bit LCG (Knuth's MMIX constants) kept in ctrl[RNG]."""
    x = ctrl[RNG] * 6364136223846793005 + 1442695040888963407  # wraps modulo 2**64
    ctrl[RNG] = x
    return ((x >> 11) & ((1 << 53) - 1)) / float(1 << 53)


@hook
def bandit_step(counts, sums, ctrl, reward, gamma, c, restart_prob, draw):
    """End a step of arm ``ctrl[ARM]`` with ``reward``; choose, store and return the next
    arm (``draw`` in [0, 1) decides a round-robin restart)."""
    k = counts.shape[0]
    ran = ctrl[ARM]
    for i in range(k):
        counts[i] *= gamma
        sums[i] *= gamma
    counts[ran] += 1.0
    sums[ran] += reward
    if ctrl[ROUND] < k:
        arm = ctrl[ROUND]
        ctrl[ROUND] += 1
    elif draw < restart_prob:
        arm = 0
        ctrl[ROUND] = 1
    else:
        log_total = math.log(counts.sum())
        arm = 0
        best = -math.inf
        for i in range(k):
            if counts[i] == 0.0:  # its discounted count underflowed: an unbounded UCB
                arm = i
                break
            ucb = sums[i] / counts[i] + c * math.sqrt(log_total / counts[i])
            if ucb > best:
                best = ucb
                arm = i
    ctrl[ARM] = arm
    return arm


@hook
def on_access(state, vid, table, outcome, t, slot_of, out):
    ctrl = state.ctrl
    ctrl[HITS] += is_hit(outcome)
    ctrl[POS] += 1
    if ctrl[POS] == ctrl[STEP]:
        draw = uniform(ctrl)
        bandit_step(state.counts, state.sums, ctrl, ctrl[HITS] / ctrl[STEP], state.gamma,
                    state.c, state.restart_prob, draw)
        ctrl[POS] = 0
        ctrl[HITS] = 0
    arm = ctrl[ARM]
    m = 0
    if arm & NEXT_N_ON:
        m = next_n_access(state.next_n, vid, table, outcome, t, slot_of, out)
    n = stride_access(state.stride, vid, table, outcome, t, slot_of, out[m:])  # always trains
    keep_unsampled(state.stride.unsampled, state.unsampled, arm & STRIDE_ON)
    if arm & STRIDE_ON:
        first = m
        for j in range(first, first + n):
            w = out[j]
            fresh = True
            for i in range(first):
                if out[i] == w:
                    fresh = False
                    break
            if fresh:
                out[m] = w
                m += 1
    return m


PREFETCHER = Prefetcher("mab", "discounted-UCB bandit over next_n and stride on/off "
                        "(Micro-Armed Bandit, MICRO 2023)", make_state, on_access=on_access,
                        params={"step": Int(1000, lo=1, unit="accesses",
                                            help="demand accesses per bandit step"),
                                "gamma": Float(0.999, lo=0, hi=1, open_lo=True,
                                               help="discount of the arms' statistics per "
                                               "step"),
                                "c": Float(0.04, lo=0, help="weight of the UCB exploration "
                                           "term"),
                                "restart_prob": Float(0.001, lo=0, hi=1, help="chance per "
                                                      "step of a new round-robin")})
