"""Hawkeye (policies/hawkeye.py): hand-computed rules on the hooks, and exact agreement
with the pure-Python model of tests/reference_hawkeye.py through tests/reference.py's
replay (random traces with a few tables as PCs, 32-way and few-set geometries, with and
without the next_n prefetcher, plus hypothesis cases).

The rule tests build a state with ``make_state`` on a tiny geometry and call the hooks
(Numba functions) directly, then read the state arrays back.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import recsim
from recsim.engine.replay import ReplayContext
from recsim.errors import ConfigError
from recsim.registry import get_policy, resolve_params
from recsim.traces.trace import Trace

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reference_hawkeye  # noqa: E402,F401  (registers the model)
from pc_cases import TRACES, check, pc_trace, tiny_case  # noqa: E402

from recsim.policies import hawkeye as hk  # noqa: E402



def _pcs(state):
    """Predictor index of each vid: CRC(table) % 2048."""
    return state.crc_of_table[state.table_of]


def _state(sets, ways, tables, **params):
    """State for a ``sets x ways`` buffer; ``tables[v]`` is the table ("PC") of vid v."""
    pol = get_policy("hawkeye")
    tables = np.asarray(tables, np.int32)
    ctx = ReplayContext(None, np.zeros(0, np.int64), np.arange(len(tables)), sets * ways,
                        sets, ways)
    ctx.table_of_vid = lambda: tables
    return pol, pol.make_state(ctx, resolve_params("policy", pol, params))


# -- OPTgen ---------------------------------------------------------------------------------

def test_optgen_should_cache_by_hand():
    live = np.zeros(8, np.int32)
    sc = hk.should_cache.py_func
    # [0, 3) all below capacity 2: cached, each slot +1
    assert sc(live, 0, 8, 2, 3, 0) is True
    assert live.tolist() == [1, 1, 1, 0, 0, 0, 0, 0]
    # [1, 3): slots 1, 2 reach 2
    assert sc(live, 0, 8, 2, 3, 1) is True
    assert live.tolist() == [1, 2, 2, 0, 0, 0, 0, 0]
    # [2, 4): slot 2 is at capacity: not cached, nothing changes
    assert sc(live, 0, 8, 2, 4, 2) is False
    assert live.tolist() == [1, 2, 2, 0, 0, 0, 0, 0]
    # circular interval [6, 1) = slots 6, 7, 0
    assert sc(live, 0, 8, 2, 1, 6) is True
    assert live.tolist() == [2, 2, 2, 0, 0, 0, 1, 1]
    # empty interval (the gap equals the vector size): cached, nothing changes
    assert sc(live, 0, 8, 2, 5, 5) is True
    assert live.tolist() == [2, 2, 2, 0, 0, 0, 1, 1]


DEFAULTS = resolve_params("policy", get_policy("hawkeye"), {})


def test_geometry_rule():
    g = hk.geometry(2048, 16, DEFAULTS)  # ChampSim's LLC
    assert (g["sampled_sets"], g["optgen_size"], g["optgen_capacity"], g["timer_size"],
            g["sampler_sets"], g["sampler_ways"]) == (64, 128, 14, 1024, 350, 8)
    g = hk.geometry(3125, 32, DEFAULTS)  # 100k slots, 32-way
    # 3125 // 32 = 97 sampled sets; 2800 * 97 * 32 / 1024 = 8487.5 -> 8488 = 1061 x 8
    assert (g["sampled_sets"], g["optgen_size"], g["optgen_capacity"], g["timer_size"],
            g["sampler_sets"]) == (97, 256, 30, 1024, 1061)
    g = hk.geometry(1, 100, DEFAULTS)  # fully associative, 100 slots
    # 800-slot OPTgen: the timer wraps at 1600, the first multiple of 800 >= 1024;
    # 2800 * 100 / 1024 = 273.4 -> 280 = 35 x 8
    assert (g["sampled_sets"], g["optgen_size"], g["optgen_capacity"], g["timer_size"],
            g["sampler_sets"]) == (1, 800, 98, 1600, 35)


def test_bad_parameters():
    with pytest.raises(ConfigError, match="policy 'hawkeye': parameter 'counter_bits'"):
        _state(1, 4, [0], counter_bits=0)
    with pytest.raises(ConfigError, match="parameter 'sampled_sets'"):
        _state(2, 4, [0], sampled_sets=3)
    with pytest.raises(ConfigError, match="parameter 'timer_size'"):
        _state(1, 4, [0], optgen_size=32, timer_size=100)
    with pytest.raises(ConfigError, match="unknown parameter"):
        recsim.simulate(Trace.from_arrays([0], [0]), "hawkeye", policy_params={"x": 1})


# -- predictor training in a sampled set ----------------------------------------------------

def test_first_touch_and_training_up():
    # one sampled set of 4 ways (OPTgen: 32 slots, capacity 2). vid 0 of table 0.
    pol, state = _state(1, 4, [0, 1])
    pc0 = _pcs(state)[0]
    assert pc0 == hk.crc(0) % 2048 == 0
    assert state.shct[pc0] == 16  # untouched counters start at 16 (friendly)
    pol.on_fill(state, 0, 0, 0, 0, 0.0, False)  # t0: sampler miss, no training
    assert state.shct[pc0] == 16 and state.timer[0] == 1 and state.rrpv[0] == 0
    pol.on_hit(state, 0, 0, 0, 1, 0.0)  # t1: interval [0, 1) fits: +1
    assert state.shct[pc0] == 17
    assert state.liveness[:3].tolist() == [1, 0, 0]
    assert state.timer[0] == 2


def test_training_down_when_optgen_would_not_cache():
    # a (table 0) t0, b (table 1) t1, c (table 2) t2, then hits b t3, c t4, a t5.
    # b's interval [1, 3) and c's [2, 4) take slot 2 to capacity 2, so a's [0, 5) is
    # refused: a's PC -1, b's and c's +1.
    pol, state = _state(1, 4, [0, 1, 2])
    pcs = _pcs(state)
    for slot, v in enumerate([0, 1, 2]):
        pol.on_fill(state, 0, slot, v, slot, 0.0, False)
    for t, v in [(3, 1), (4, 2), (5, 0)]:
        pol.on_hit(state, 0, v, v, t, 0.0)
    assert [state.shct[p] for p in pcs] == [15, 17, 17]
    # liveness: t3 adds 1 to [1, 3) then clears slot 3; t4 adds 1 to [2, 4) then clears
    # slot 4; t5 (refused) only clears slot 5
    assert state.liveness[:6].tolist() == [0, 1, 2, 1, 0, 0]
    # a hit of an averse PC is inserted at RRPV 7, the friendly ones at 0
    assert state.rrpv.tolist() == [7, 0, 0, 7]


def test_training_down_when_the_gap_exceeds_the_vector():
    # optgen_size 4: vid 0 at t0 and again after 5 other accesses (gap 6 > 4): -1
    pol, state = _state(1, 8, [0] + [1] * 5, optgen_size=4)
    pc0, pc1 = _pcs(state)[:2]
    for v in range(6):
        pol.on_fill(state, 0, v, v, v, 0.0, False)
    pol.on_hit(state, 0, 0, 0, 6, 0.0)
    assert state.shct[pc0] == 15 and state.shct[pc1] == 16


def test_prefetch_training_and_prefetch_predictor():
    # a prefetch fill first: the sampler entry is marked prefetched; a demand reuse that
    # fits trains the *prefetch* counter of its PC up
    pol, state = _state(1, 4, [3])
    pc = _pcs(state)[0]
    pol.on_fill(state, 0, 0, 0, 0, 0.0, True)
    assert state.pref[0] == 1
    pol.on_hit(state, 0, 0, 0, 1, 0.0)
    assert state.shct[2048 + pc] == 17 and state.shct[pc] == 16
    assert state.pref[0] == 0  # a demand hit clears the line's prefetch bit
    # the prefetch table decides prefetch fills: make it averse for this PC
    state.shct[2048 + pc] = 15
    _, state2 = _state(2, 4, [3, 3], sampled_sets=1)  # set 1 is not sampled
    state2.shct[2048 + pc] = 15
    pol.on_fill(state2, 1, 4, 0, 0, 0.0, True)
    pol.on_fill(state2, 1, 5, 1, 1, 0.0, False)
    assert state2.rrpv[4:6].tolist() == [7, 0]


# -- insertion, ageing, victim ---------------------------------------------------------------

def test_insertion_ageing_and_victim_in_an_unsampled_set():
    # 2 sets x 4 ways, only set 0 sampled; work in set 1 (slots 4..7): no training.
    # vids 0, 1, 3 of table 0 (friendly), vid 2 of table 5 made averse.
    pol, state = _state(2, 4, [0, 0, 5, 0, 0], sampled_sets=1)
    assert state.sampled.tolist() == [0, -1]
    rrpv = state.rrpv
    state.shct[_pcs(state)[2]] = 15
    pol.on_fill(state, 1, 4, 0, 0, 0.0, False)  # friendly: 0 (others unused at 7)
    pol.on_fill(state, 1, 5, 1, 1, 0.0, False)  # friendly: no line at 6 -> age slot 4
    assert rrpv[4:8].tolist() == [1, 0, 7, 7]
    pol.on_fill(state, 1, 6, 2, 2, 0.0, False)  # averse: 7, no ageing
    assert rrpv[4:8].tolist() == [1, 0, 7, 7]
    pol.on_fill(state, 1, 7, 3, 3, 0.0, False)  # friendly: lines below 6 age
    assert rrpv[4:8].tolist() == [2, 1, 7, 0]
    assert pol.victim(state, 1, 4, 4, 4, 4, False) == 6  # the first line at 7
    rrpv[4:8] = [5, 6, 6, 2]
    # no line at 7: the highest RRPV, the last of the ties (ChampSim's >= scan)
    assert pol.victim(state, 1, 4, 4, 4, 4, False) == 6
    shct_before = state.shct.copy()
    pol.on_evict(state, 1, 6, 2, 4)
    pol.on_fill(state, 1, 6, 4, 4, 0.0, False)  # a line at 6 exists: no ageing
    assert rrpv[4:8].tolist() == [5, 6, 0, 2]
    rrpv[5] = 3
    pol.on_hit(state, 1, 4, 0, 5, 0.0)  # a friendly hit: 0, never ages
    assert rrpv[4:8].tolist() == [0, 3, 0, 2]
    pol.on_hit(state, 1, 6, 2, 6, 0.0)  # an averse hit: 7
    assert rrpv[4:8].tolist() == [0, 3, 7, 2]
    assert (state.shct == shct_before).all()  # nothing trained in an unsampled set


def test_friendly_eviction_detrains_in_a_sampled_set():
    # set 0 sampled, 4 ways, each line of its own table; line 2 was prefetched
    pol, state = _state(1, 4, [0, 1, 2, 3, 4])
    pcs = _pcs(state)
    for slot in range(4):
        pol.on_fill(state, 0, slot, slot, slot, 0.0, slot == 2)
    state.rrpv[:4] = [1, 2, 3, 0]
    before = state.shct.copy()
    assert pol.victim(state, 0, 0, 4, 4, 4, False) == 2
    # the friendly victim was prefetched: its prefetch counter drops by one
    assert state.shct[2048 + pcs[2]] == before[2048 + pcs[2]] - 1
    assert (np.delete(state.shct, 2048 + pcs[2]) == np.delete(before, 2048 + pcs[2])).all()
    state.rrpv[1] = 7  # an averse victim: no detraining
    before = state.shct.copy()
    assert pol.victim(state, 0, 0, 4, 4, 4, False) == 1
    assert (state.shct == before).all()


def test_counters_saturate():
    pol, state = _state(1, 4, [0, 1])
    pc0 = _pcs(state)[0]
    state.shct[pc0] = 31
    pol.on_fill(state, 0, 0, 0, 0, 0.0, False)
    pol.on_hit(state, 0, 0, 0, 1, 0.0)  # would be +1: stays at 31
    assert state.shct[pc0] == 31
    state.shct[pc0] = 0
    state.rrpv[:1] = 3
    pol.on_fill(state, 0, 1, 1, 2, 0.0, False)
    state.rrpv[:2] = [5, 1]
    pol.victim(state, 0, 0, 4, 2, 3, False)  # unused ways at 7: the victim is way 2
    state.rrpv[:4] = [5, 1, 0, 0]
    assert pol.victim(state, 0, 0, 4, 2, 3, False) == 0  # friendly evict of vid 0: -1
    assert state.shct[pc0] == 0


# -- the engine against the reference model ------------------------------------------------

# 32-way with 8 and 3 sets; 70 sets x 4 ways (64 of 70 sets sampled); fully associative
GEOMETRIES = [(256, 32), (96, 32), (280, 4), (64, 0)]


def _check(trace, capacity, ways, **kw):
    return check("hawkeye", trace, capacity, ways, **kw)


@pytest.mark.parametrize("kind", sorted(TRACES))
@pytest.mark.parametrize("geometry", GEOMETRIES, ids=str)
def test_engine_matches_reference(kind, geometry):
    res = _check(pc_trace(*TRACES[kind]), *geometry)
    assert res.evictions > 0


@pytest.mark.parametrize("geometry", [(256, 32), (64, 0)], ids=str)
@pytest.mark.parametrize("pf", [({"n": 2}, 0, None), ({"n": 4, "trigger": "access"}, 2, 3)],
                         ids=["n2", "n4-access-lat2-budget3"])
def test_engine_matches_reference_with_next_n(geometry, pf):
    params, latency, budget = pf
    res = _check(pc_trace(*TRACES["a"]), *geometry, prefetcher="next_n",
                 prefetcher_params=params, prefetch_latency=latency, prefetch_budget=budget)
    assert res.prefetches_issued > 0


def test_engine_matches_reference_with_small_structures():
    # tiny OPTgen and sampler, 2 sampled sets of 3, timer wrapping every 16 set accesses
    params = {"sampled_sets": 2, "optgen_size": 8, "optgen_capacity": 3, "timer_size": 16,
              "sampler_entries": 16, "predictor_size": 2, "counter_bits": 3}
    _check(pc_trace(*TRACES["a"]), 96, 32, policy_params=params)
    _check(pc_trace(*TRACES["a"]), 96, 32, policy_params=params, prefetcher="next_n")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=tiny_case({"optgen_size": 4, "sampler_entries": 8}))
def test_engine_matches_reference_on_tiny_random_cases(case):
    trace, capacity, ways, kw = case
    _check(trace, capacity, ways, **kw)
