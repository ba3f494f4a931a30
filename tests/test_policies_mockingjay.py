"""Mockingjay (policies/mockingjay.py): hand-computed rules on the hooks (16 ways, so the
published constants INF_RD 127, INF_ETR 15, MAX_RD 105 apply), and exact agreement with
the pure-Python model of tests/reference_mockingjay.py through tests/reference.py's replay
(random traces with a few tables as PCs, 32-way and few-set geometries, with and without
the next_n prefetcher, plus hypothesis cases).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from recsim.engine.replay import ReplayContext
from recsim.errors import ConfigError
from recsim.registry import get_policy, resolve_params

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reference_mockingjay  # noqa: E402,F401  (registers the model)
from pc_cases import TRACES, check, pc_trace, tiny_case  # noqa: E402

from recsim.policies import mockingjay as mj  # noqa: E402



def _state(sets, ways, tables, **params):
    pol = get_policy("mockingjay")
    tables = np.asarray(tables, np.int32)
    ctx = ReplayContext(None, np.zeros(0, np.int64), np.arange(len(tables)), sets * ways,
                        sets, ways)
    ctx.table_of_vid = lambda: tables
    return pol, pol.make_state(ctx, resolve_params("policy", pol, params))


def _sig(state, table, hit, prefetch):
    return state.sig_of[4 * table + 2 * hit + prefetch]


def test_constants_and_geometry_rule():
    dflt = resolve_params("policy", get_policy("mockingjay"), {})
    g = mj.geometry(2048, 16, dflt)  # the paper's 2 MB 16-way LLC
    assert (g["sampled_sets"], g["inf_rd"], g["inf_etr"], g["max_rd"], g["timestamp_size"],
            g["sampled_cache_sets"], g["sampled_cache_ways"]) == (32, 127, 15, 105, 256, 16, 5)
    g = mj.geometry(3125, 32, dflt)  # 100k slots: 97 sampled sets, INF_RD 255
    assert (g["sampled_sets"], g["inf_rd"], g["inf_etr"], g["max_rd"],
            g["timestamp_size"]) == (97, 255, 31, 233, 512)
    g = mj.geometry(1, 100, dflt)  # fully associative
    assert (g["sampled_sets"], g["inf_rd"], g["inf_etr"], g["sampled_cache_sets"]) == (
        1, 799, 99, 100)
    # signature: 3-round CRC of (pc << 2 | hit << 1 | prefetch), low 11 bits
    assert mj.signature(0, False, False, 11) == 0
    # 4 -> 2 -> 1 -> 0 ^ 0xEDB88320 (the polynomial), whose low 11 bits are 0x320 = 800
    assert mj.signature(1, False, False, 11) == mj.crc_hash(4) % 2048 == 800
    with pytest.raises(ConfigError, match="policy 'mockingjay': parameter 'signature_bits'"):
        _state(1, 4, [0], signature_bits=0)
    with pytest.raises(ConfigError, match="parameter 'timestamp_size'"):
        _state(1, 4, [0], timestamp_size=31)  # must exceed INF_RD = 31


def test_temporal_difference():
    td = mj.temporal_difference.py_func
    assert td(40, 3, 127) == 39  # 37 below: -1
    assert td(40, 24, 127) == 39  # exactly 16 below: -1
    assert td(40, 25, 127) == 40  # 15 below: unchanged
    assert td(40, 55, 127) == 40  # 15 above: unchanged
    assert td(40, 56, 127) == 41  # 16 above: +1
    assert td(40, 250, 127) == 41  # far above: still +1
    assert td(127, 254, 127) == 127  # capped at INF_RD
    assert td(0, 0, 127) == 0


def test_rdp_first_observation_and_update():
    # 1 sampled set of 16 ways; v0 (table 0) at now 0, v1, v2, then a hit of v0 at now 3
    pol, state = _state(1, 16, [0, 1, 2])
    for slot in range(3):
        pol.on_fill(state, 0, slot, slot, slot, 0.0, False)
    s_fill0 = _sig(state, 0, 0, 0)
    assert state.rdp[s_fill0] == -1
    pol.on_hit(state, 0, 0, 0, 3, 0.0)
    assert state.rdp[s_fill0] == 3  # the first observation is taken as is
    # the hit's signature (hit bit set) is a different one and untrained: ETR 0
    assert state.rdp[_sig(state, 0, 1, 0)] == -1 and state.etr[0] == 0
    # v0 was re-recorded at now 3 under the hit signature; reuse at now 40: sample 37
    s_hit0 = _sig(state, 0, 1, 0)
    state.rdp[s_hit0] = 60
    state.now[0] = 40
    pol.on_hit(state, 0, 0, 0, 40, 0.0)
    assert state.rdp[s_hit0] == 59  # 37 is >= 16 below 60: -1
    state.now[0] = 60  # recorded at 40; sample 20, 39 below 59: -1 again
    pol.on_hit(state, 0, 0, 0, 60, 0.0)
    assert state.rdp[s_hit0] == 58
    state.now[0] = 110  # sample 50: 8 below 58: unchanged
    pol.on_hit(state, 0, 0, 0, 110, 0.0)
    assert state.rdp[s_hit0] == 58


def test_prefetch_sample_is_doubled():
    pol, state = _state(1, 16, [0, 1, 2])
    pol.on_fill(state, 0, 0, 0, 0, 0.0, False)  # v0 at now 0 (signature: fill, demand)
    for t in range(1, 6):
        pol.on_hit(state, 0, 1, 1, t, 0.0)
    # v0 arrives again as a prefetch at now 6 (say it had left): sample 6 x 2
    pol.on_fill(state, 0, 2, 0, 6, 0.0, True)
    assert state.rdp[_sig(state, 0, 0, 0)] == 12


def test_detraining_lru_and_aged_entries():
    # one sampled-cache set of 5 ways shared by all vids
    pol, state = _state(1, 16, [0, 1, 2, 3, 4, 5, 6], sampled_cache_sets=1)
    for v in range(5):
        pol.on_fill(state, 0, v, v, v, 0.0, False)
    # v5 at now 5: no free way, none aged: the oldest (v0's, table 0) is detrained:
    # unseen signature -> INF_RD
    pol.on_fill(state, 0, 5, 5, 5, 0.0, False)
    assert state.rdp[_sig(state, 0, 0, 0)] == 127
    assert sorted(state.sc_tag.tolist()) == [1, 2, 3, 4, 5]
    # a seen signature: v1's (table 1) RDP is 50; 200 accesses later every entry is
    # past INF_RD: v6's access detrains them all (+1 for v1's)
    state.rdp[_sig(state, 1, 0, 0)] = 50
    state.now[0] = 205
    pol.on_fill(state, 0, 6, 6, 206, 0.0, False)
    assert state.rdp[_sig(state, 1, 0, 0)] == 51
    assert [state.rdp[_sig(state, tb, 0, 0)] for tb in (2, 3, 4, 5)] == [127] * 4
    assert sorted(state.sc_tag.tolist()) == [-1, -1, -1, -1, 6]


def test_etr_on_fill_and_ageing_every_8_accesses():
    # 2 sets x 16 ways, only set 0 sampled: work in set 1 (slots 16..31)
    pol, state = _state(2, 16, [0, 1, 2, 3], sampled_sets=1)
    assert state.sampled.tolist() == [0, -1]
    etr, rdp = state.etr, state.rdp
    rdp[_sig(state, 1, 0, 0)] = 100  # 100 // 8 = 12
    rdp[_sig(state, 2, 0, 0)] = 106  # > MAX_RD 105: INF_ETR 15
    rdp[_sig(state, 3, 0, 0)] = 105  # 105 // 8 = 13
    # the clock starts at 8: the first access ages the (empty) set, then every 8th
    for slot, v in enumerate([0, 1, 2, 3]):
        pol.on_fill(state, 1, 16 + slot, v, slot, 0.0, False)
    assert etr[16:20].tolist() == [0, 12, 15, 13]  # unseen signature: 0
    assert state.clock[1] == 4
    for t in range(4, 8):  # hits of v3 (hit signature unseen: ETR 0), no ageing
        pol.on_hit(state, 1, 19, 3, t, 0.0)
    assert etr[16:20].tolist() == [0, 12, 15, 0] and state.clock[1] == 8
    pol.on_hit(state, 1, 19, 3, 8, 0.0)  # the 9th access ages the others (|ETR| < 15)
    assert etr[16:20].tolist() == [-1, 11, 15, 0]
    assert state.clock[1] == 1


def test_victim_largest_abs_etr_negative_ties_and_bypass():
    pol, state = _state(1, 4, [0, 1, 2, 3])  # 4 ways: INF_RD 31, MAX_RD 9
    etr = state.etr
    etr[:] = [3, -5, 5, 2]
    assert pol.victim(state, 0, 0, 4, 0, 0, False) == 1  # |5| tie: the negative one
    etr[:] = [5, -5, 5, -5]
    assert pol.victim(state, 0, 0, 4, 0, 0, False) == 3  # ChampSim's scan: last negative
    etr[:] = [4, 4, 1, 0]
    assert pol.victim(state, 0, 0, 4, 0, 0, False) == 0  # positive ties: the first
    etr[:] = [0, 0, 0, 0]
    assert pol.victim(state, 0, 0, 4, 0, 0, False) == 0
    # bypass, at 16 ways (MAX_RD 105): the newcomer's (fill, demand) signature predicts
    # a reuse after every resident's
    pol, state = _state(1, 16, [0, 1, 2, 3])
    etr, rdp = state.etr, state.rdp
    etr[:] = 0
    etr[:3] = [1, 0, -1]  # the largest |ETR| is 1, the victim the negative way 2
    rdp[_sig(state, 1, 0, 0)] = 15  # 15 // 8 = 1, not above 1: evict way 2
    assert pol.victim(state, 0, 0, 16, 1, 0, False) == 2
    rdp[_sig(state, 1, 0, 0)] = 16  # 16 // 8 = 2 > 1: bypass
    clock, now = state.clock[0], state.now[0]
    assert pol.victim(state, 0, 0, 16, 1, 0, False) == -1
    # a bypass still counts as a set access (ChampSim updates with way == LLC_WAY): the
    # clock was at 8, so every line aged (|ETR| < 15), and the sampler recorded it
    assert state.now[0] == now + 1 and clock == 8 and state.clock[0] == 1
    assert etr[:4].tolist() == [0, -1, -2, -1]
    etr[:] = 15
    rdp[_sig(state, 2, 0, 0)] = 106  # 13 is not above 15, but 106 > MAX_RD 105: bypass
    assert pol.victim(state, 0, 0, 16, 2, 0, False) == -1
    rdp[_sig(state, 2, 0, 0)] = 105  # 13, not above 15: evict the first of the 15s
    assert pol.victim(state, 0, 0, 16, 2, 0, False) == 0
    # a prefetch uses the prefetch signature: unseen, so no bypass
    rdp[_sig(state, 2, 0, 0)] = 106
    assert pol.victim(state, 0, 0, 16, 2, 0, True) == 0


# -- the engine against the reference model ------------------------------------------------

# 32-way with 8 and 3 sets; 70 sets x 4 ways (the 32-set rule samples 32 of 70; at 4
# ways INF_RD is 31 and MAX_RD 9); fully associative
GEOMETRIES = [(256, 32), (96, 32), (280, 4), (64, 0)]


def _check(trace, capacity, ways, **kw):
    return check("mockingjay", trace, capacity, ways, **kw)


@pytest.mark.parametrize("kind", sorted(TRACES))
@pytest.mark.parametrize("geometry", GEOMETRIES, ids=str)
def test_engine_matches_reference(kind, geometry):
    res = _check(pc_trace(*TRACES[kind]), *geometry)
    assert res.evictions > 0 and res.bypasses > 0


@pytest.mark.parametrize("geometry", [(256, 32), (64, 0)], ids=str)
@pytest.mark.parametrize("pf", [({"n": 2}, 0, None), ({"n": 4, "trigger": "access"}, 2, 3)],
                         ids=["n2", "n4-access-lat2-budget3"])
def test_engine_matches_reference_with_next_n(geometry, pf):
    params, latency, budget = pf
    res = _check(pc_trace(*TRACES["a"]), *geometry, prefetcher="next_n",
                 prefetcher_params=params, prefetch_latency=latency, prefetch_budget=budget)
    assert res.prefetches_issued > 0


def test_engine_matches_reference_with_small_structures():
    params = {"sampled_sets": 2, "inf_rd": 40, "inf_etr": 4, "max_rd": 30,
              "timestamp_size": 48, "sampled_cache_sets": 2, "signature_bits": 2}
    _check(pc_trace(*TRACES["a"]), 96, 32, policy_params=params)
    _check(pc_trace(*TRACES["a"]), 96, 32, policy_params=params, prefetcher="next_n")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=tiny_case({"inf_rd": 7, "sampled_cache_sets": 1}))
def test_engine_matches_reference_on_tiny_random_cases(case):
    trace, capacity, ways, kw = case
    _check(trace, capacity, ways, **kw)
