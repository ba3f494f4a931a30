"""Micro-Armed Bandit (prefetchers/mab.py).

* The bandit (``bandit_step``, a pure function): round-robin warm-up (arms 0, 1, 2, 3),
  then discounted UCB; the picked arms on a fixed reward sequence equal a hand
  computation (gamma 0.5, c 0.5, worked out below) and an independent model over 300
  steps with the defaults; a restart draw below ``restart_prob`` runs the round-robin
  again from arm 0.
* The hook: a step's reward is its hit rate, credited to the arm that ran; arm bits gate
  next_n (bit 0) and stride (bit 1), the union has no duplicates, and stride trains while
  its arm is off.
* Through the engine: exact counts on a sequential walk where the warm-up arms are
  visible step by step; a hypothesis test of the accounting identities.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import recsim
from recsim.errors import ConfigError
from recsim.plugin import HIT, MISS, PREFETCH_HIT
from recsim.prefetchers import mab
from recsim.registry import resolve_params
from recsim.traces import Trace

DEFAULTS = resolve_params("prefetcher", mab.PREFETCHER, {})


def _bandit():
    return np.zeros(4), np.zeros(4), np.array([0, 1, 0, 0, 1, 0], np.int64)


def _arms(rewards, gamma, c, restart_prob=0.0, draws=None):
    counts, sums, ctrl = _bandit()
    draws = [1.0] * len(rewards) if draws is None else draws
    return [mab.bandit_step(counts, sums, ctrl, r, gamma, c, restart_prob, u)
            for r, u in zip(rewards, draws)]


def test_warm_up_then_discounted_ucb_by_hand():
    # gamma 0.5, c 0.5. Arms 0..3 run the first four steps (rewards .5 .2 .8 .4); after
    # the 4th, n = (.125, .25, .5, 1), means = rewards, sum n = 1.875, ln = 0.6286:
    # UCB = .5 + .5*sqrt(.6286/.125) = 1.6213, .2 + .5*sqrt(.6286/.25) = 0.9928,
    # .8 + .5*sqrt(.6286/.5) = 1.3606, .4 + .5*sqrt(.6286) = 0.7964 -> arm 0 (rarely
    # tried). Arm 0 earns .3: n0 = 1.0625, mean (.5*.0625 + .3) / 1.0625 = 0.3118;
    # UCB = 0.7063, 1.3501, 1.6133, 0.9751 -> arm 2. Then .9 -> arm 1 (n1 = .0625),
    # .1 -> arm 3, .6 -> arm 2.
    arms = _arms([0.5, 0.2, 0.8, 0.4, 0.3, 0.9, 0.1, 0.6], 0.5, 0.5)
    assert arms == [1, 2, 3, 0, 2, 1, 3, 2]


def _model(rewards, draws, gamma, c, restart_prob):
    """Discounted UCB written out independently: the arm to run after each step."""
    n, s, ran, rr, picks = [0.0] * 4, [0.0] * 4, 0, 1, []
    for r, u in zip(rewards, draws):
        n = [gamma * v for v in n]
        s = [gamma * v for v in s]
        n[ran] += 1
        s[ran] += r
        if rr < 4:
            ran, rr = rr, rr + 1
        elif u < restart_prob:
            ran, rr = 0, 1
        else:
            total = sum(n)
            ucb = [s[i] / n[i] + c * math.sqrt(math.log(total) / n[i]) for i in range(4)]
            ran = ucb.index(max(ucb))
        picks.append(ran)
    return picks


def test_defaults_match_a_model_over_300_steps():
    rng = np.random.default_rng(3)
    # arm 2 pays best on average, arm 3 second: the bandit exploits them
    means = [0.3, 0.5, 0.7, 0.6]
    picks = []
    counts, sums, ctrl = _bandit()
    rewards, draws = [], rng.random(300)
    for u in draws:
        r = float(np.clip(means[ctrl[mab.ARM]] + rng.normal(0, 0.05), 0, 1))
        rewards.append(r)
        picks.append(mab.bandit_step(counts, sums, ctrl, r, DEFAULTS["gamma"], DEFAULTS["c"],
                                     0.01, u))
    assert picks == _model(rewards, draws, DEFAULTS["gamma"], DEFAULTS["c"], 0.01)
    assert picks[:3] == [1, 2, 3] and picks.count(2) > 200
    assert draws[20] < 0.01 and picks[20:24] == [0, 1, 2, 3]  # a restart


def test_restart_runs_every_arm_again():
    # after the warm-up, a draw below restart_prob starts round-robin at arm 0
    rewards = [0.5, 0.2, 0.8, 0.4, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9]
    draws = [1, 1, 1, 1, 0.05, 0.0, 0.0, 0.0, 0.5, 1]
    # steps 5-7 draw 0.0 but are round-robin (draws ignored); then 0.5 and 1 >= 0.1: UCB
    # picks arm 2 (mean about 0.87 over its three steps, the others 0.7 and less)
    assert _arms(rewards, 0.999, 0.04, 0.1, draws) == [1, 2, 3, 2, 0, 1, 2, 3, 2, 2]


def test_an_arm_whose_count_underflowed_is_picked():
    counts, sums, ctrl = _bandit()
    ctrl[mab.ROUND] = 4  # past the warm-up
    counts[:] = [1.0, 0.0, 1.0, 1.0]
    sums[:] = [1.0, 0.0, 1.0, 1.0]
    assert mab.bandit_step(counts, sums, ctrl, 1.0, 1.0, 0.04, 0.0, 1.0) == 1


def test_uniform_is_the_seeded_lcg():
    ctrl = np.array([0, 1, 0, 0, 1, 7], np.int64)
    x = (7 * 6364136223846793005 + 1442695040888963407) % 2**64
    assert mab.uniform(ctrl) == (x >> 11) / 2**53
    assert ctrl[mab.RNG] == x - 2**64 * (x >= 2**63)


# -- the hook --------------------------------------------------------------------------------

def _hook_state(step=10**9, arm=0):
    trace = Trace.from_arrays(np.zeros(100, np.int32), np.arange(100))
    dense = trace.dense()
    ctx = SimpleNamespace(trace=trace, keys=dense.keys, n_vids=dense.n_unique, seed=0,
                          unsampled=None)
    state = mab.make_state(ctx, {**DEFAULTS, "step": step})
    state.ctrl[mab.ARM] = arm
    return state


def _feed(state, accesses):
    """Accesses ``(vid, outcome)`` of the trace rows 0..99 (access t is row t)."""
    slot_of, out = np.full(100, -1, np.int64), np.zeros(1024, np.int64)
    res = []
    for vid, outcome in accesses:
        m = mab.on_access(state, vid, 0, outcome, vid, slot_of, out)
        res.append(out[:m].tolist())
    return res


@pytest.mark.parametrize("arm, expect", [(0, []), (1, [3, 4, 5, 6]), (2, [3, 4, 5]),
                                         (3, [3, 4, 5, 6])])
def test_arm_bits_gate_next_n_and_stride(arm, expect):
    # stride 1 is confirmed at vid 2 (strides 1, 1); next_n prefetches 4 rows on a miss
    res = _feed(_hook_state(arm=arm), [(0, MISS), (1, MISS), (2, MISS)])
    assert res[2] == expect


def test_union_has_no_duplicates_and_stride_trains_while_off():
    state = _hook_state(arm=1)
    res = _feed(state, [(0, MISS), (1, MISS), (2, HIT), (3, HIT)])
    assert res[2:] == [[], []]  # next_n fires on misses only; stride is off
    state.ctrl[mab.ARM] = 3
    # stride learned while off: at vid 4 it adds 5, 6, 7 to next_n's 5..8 (no duplicates)
    assert _feed(state, [(4, MISS)])[0] == [5, 6, 7, 8]
    state.ctrl[mab.ARM] = 2
    res = _feed(state, [(5, HIT)])
    assert res[0] == [6, 7, 8]


def test_step_reward_is_its_hit_rate():
    state = _hook_state(step=4)
    counts, sums, ctrl = state.counts, state.sums, state.ctrl
    _feed(state, [(0, MISS), (1, HIT), (2, PREFETCH_HIT), (3, MISS)])
    assert counts.tolist() == [1, 0, 0, 0] and sums.tolist() == [0.5, 0, 0, 0]
    assert (ctrl[mab.ARM], ctrl[mab.POS], ctrl[mab.HITS]) == (1, 0, 0)
    _feed(state, [(4, HIT)] * 3)  # a partial step: nothing credited yet
    assert counts[1] == 0 and ctrl[mab.HITS] == 3


# -- through the engine ----------------------------------------------------------------------

def test_engine_counts_on_a_sequential_walk():
    # rows 0..39, steps of 10. Step 0 (arm 0, off): 10 misses. At t=9 arm 1 (next_n):
    # 10..13; step 1: t=14 and t=19 miss, 15..18 prefetched at 14; 8 hits. At t=19 arm 2
    # (stride, confirmed): 20..22, then one new row (t+3) per access up to 39, with two
    # redundant candidates each (t = 20..36), then 2 and 1 (t = 37, 38). At t=29 arm 3
    # (next_n fires on misses only). At t=39 UCB picks stride again: nothing left.
    n = 40
    trace = Trace.from_arrays(np.zeros(n, np.int32), np.arange(n))
    r = recsim.simulate(trace, "lru", 64, 0, prefetcher="mab",
                        prefetcher_params={"step": 10, "restart_prob": 0.0})
    assert (r.on_demand_fetches, r.prefetch_hits, r.cache_hits) == (12, 28, 0)
    assert (r.prefetches_issued, r.prefetches_useful, r.prefetches_redundant) == (28, 28, 37)
    r = recsim.simulate(trace, "lru", 64, 0, prefetcher="mab")  # step 1000: arm 0 only
    assert (r.on_demand_fetches, r.prefetches_issued) == (n, 0)


@pytest.mark.parametrize("name, value", [("step", 0), ("step", 2.5), ("gamma", 1.5),
                                         ("gamma", 0), ("c", -1), ("c", math.inf),
                                         ("restart_prob", "x"), ("restart_prob", True)])
def test_bad_parameters(name, value):
    trace = Trace.from_arrays([0, 0], [0, 1])
    with pytest.raises(ConfigError, match=f"prefetcher 'mab': parameter '{name}'"):
        recsim.simulate(trace, "lru", 2, prefetcher="mab", prefetcher_params={name: value})


@st.composite
def _traces(draw):
    n = draw(st.integers(1, 300))
    tables = draw(st.lists(st.integers(0, 2), min_size=n, max_size=n))
    noise = draw(st.lists(st.integers(0, 5), min_size=n, max_size=n))
    return Trace.from_arrays(tables, [(i + r) % 61 for i, r in enumerate(noise)])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trace=_traces(), capacity=st.integers(1, 40), ways=st.sampled_from([0, 2, 4]),
       step=st.integers(1, 20), restart=st.sampled_from([0.0, 0.3]),
       latency=st.integers(0, 3), seed=st.integers(0, 2**32))
def test_accounting_identities(trace, capacity, ways, step, restart, latency, seed):
    r = recsim.simulate(trace, "lru", capacity, ways, prefetcher="mab", seed=seed,
                        prefetcher_params={"step": step, "restart_prob": restart},
                        prefetch_latency=latency)
    assert r.hits + r.misses == trace.n_accesses
    assert r.prefetches_issued == (r.prefetches_useful + r.prefetches_unused
                                   + r.prefetches_pending)
