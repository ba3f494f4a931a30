"""SRRIP, DRRIP, CLOCK and SIEVE (policies/srrip.py, drrip.py, clock.py, sieve.py).

* Rules by hand: the hooks are plain Numba functions, so tests call them on a state from
  ``make_state`` and read the arrays back (SRRIP insertion at 2, hit 0, ageing by
  3 - max and the first way at 3, on both the byte-scan and the 64-bit-word victim
  paths; DRRIP's LCG leader sets and their scaling to few sets, PSEL saturating moves
  in BIP/SRRIP leaders, followers switching above 511, BIP's every-32nd insertion at 2
  on one global counter; CLOCK's counter and hand; SIEVE's hand and head insertion), and
  short sequences through the engine whose counts are worked out in comments.
* The engine against the pure-Python models of tests/reference_rrip.py through
  tests/reference.py's ``reference_replay`` (every counter and the final residents):
  fixed traces at 32-way, 4-way (37 sets: 9 DRRIP leaders per policy), 8-way and fully
  associative, without and with the next_n prefetcher (latency 2); and a hypothesis
  test over random traces and geometries (small PSEL widths so that followers switch).
* libCacheSim (PyPI ``libcachesim``): exact miss counts of ``Clock`` (default 1-bit and
  2-bit counters) and ``Sieve``, fully associative, on a 1M-access Zipf trace and on the
  Amazon Video trace.
"""

from __future__ import annotations

import sys
from pathlib import Path

import libcachesim as lcs
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import recsim
from recsim.engine.replay import ReplayContext
from recsim.engine.settings import set_index
from recsim.errors import ConfigError
from recsim.registry import get_policy, resolve_params
from recsim.traces.trace import Trace

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reference_rrip  # noqa: E402,F401  (registers the models)
from conftest import libcachesim_misses  # noqa: E402
from reference import reference_replay  # noqa: E402
from test_reference import make_trace  # noqa: E402

POLICIES = ["srrip", "drrip", "clock", "sieve"]


def _seq(rows):
    return Trace.from_arrays(np.zeros(len(rows), np.int32), np.array(rows, np.int64))


def _state(policy, sets, ways, **params):
    pol = get_policy(policy)
    ctx = ReplayContext(None, np.zeros(0, np.int64), np.arange(100), sets * ways, sets, ways)
    return pol, pol.make_state(ctx, resolve_params("policy", pol, params))


def _both(trace, policy, capacity, ways, **kw):
    """Engine result; asserts the reference model agrees on every count and resident."""
    res = recsim.simulate(trace, policy, capacity=capacity, ways=ways, **kw)
    ref = reference_replay(trace, policy, capacity, ways, **kw)
    assert res.counts == ref.counts
    assert res.resident.tolist() == ref.resident
    return res


# -- SRRIP rules ---------------------------------------------------------------------------

def test_srrip_hooks_by_hand():
    pol, state = _state("srrip", 1, 4)
    rrpv = state.rrpv
    for way in range(4):
        pol.on_fill(state, 0, way, way, way, 0.0, False)
    assert rrpv.tolist() == [2, 2, 2, 2]  # insertion at maxRRPV - 1
    pol.on_hit(state, 0, 1, 1, 4, 0.0)
    assert rrpv.tolist() == [2, 0, 2, 2]  # a hit sets 0
    # no way at 3: age everyone by 3 - 2 = 1 -> [3, 1, 3, 3]; the first way at 3 is 0
    assert pol.victim(state, 0, 0, 4, 9, 5, False) == 0
    assert rrpv.tolist() == [3, 1, 3, 3]
    pol.on_fill(state, 0, 0, 9, 5, 0.0, True)  # a prefetch fill inserts at 2 as well
    assert rrpv.tolist() == [2, 1, 3, 3]
    # a way already at 3: no ageing, the first one (way 2) is the victim
    assert pol.victim(state, 0, 0, 4, 10, 6, False) == 2
    assert rrpv.tolist() == [2, 1, 3, 3]
    pol.on_hit(state, 0, 0, 9, 7, 0.0)
    pol.on_hit(state, 0, 1, 1, 7, 0.0)
    pol.on_hit(state, 0, 2, 1, 7, 0.0)
    pol.on_hit(state, 0, 3, 1, 7, 0.0)
    # all at 0: age by 3, way 0 first
    assert pol.victim(state, 0, 0, 4, 10, 8, False) == 0
    assert rrpv.tolist() == [3, 3, 3, 3]
    # the second set of a 2-set state: slots 4..7, victim is a slot of that set
    pol2, st2 = _state("srrip", 2, 4)
    for slot in range(4, 8):
        pol2.on_fill(st2, 1, slot, slot, slot, 0.0, False)
    pol2.on_hit(st2, 1, 4, 4, 9, 0.0)
    assert pol2.victim(st2, 1, 4, 4, 20, 10, False) == 5
    assert st2[0].tolist() == [3, 3, 3, 3, 1, 3, 3, 3]  # set 0 untouched (its init 3)


def test_srrip_word_victim_by_hand():
    # multiples of 8 ways take the 64-bit-word path (8 RRPVs a word)
    pol, state = _state("srrip", 2, 8)
    rrpv = state.rrpv
    rrpv[8:16] = [1, 0, 1, 0, 1, 0, 1, 0]
    # set 1 (slots 8..15): max 1 -> age by 2 -> [3 2 3 2 3 2 3 2]; first 3 at slot 8
    assert pol.victim(state, 1, 8, 8, 0, 0, False) == 8
    assert rrpv.tolist() == [3] * 8 + [3, 2, 3, 2, 3, 2, 3, 2]  # set 0 untouched
    rrpv[8:16] = [0, 0, 0, 0, 0, 0, 0, 1]  # max 1 at the last way: age 2 -> slot 15
    assert pol.victim(state, 1, 8, 8, 0, 0, False) == 15
    assert rrpv[8:16].tolist() == [2, 2, 2, 2, 2, 2, 2, 3]
    pol, state = _state("srrip", 1, 16)
    rrpv = state.rrpv
    rrpv[:] = [1] + [0] * 11 + [0, 2, 0, 2]  # max 2 in the second word: age 1 -> slot 13
    assert pol.victim(state, 0, 0, 16, 0, 0, False) == 13
    assert rrpv.tolist() == [2] + [1] * 11 + [1, 3, 1, 3]
    rrpv[:] = [2] * 10 + [3] + [0] * 5  # a 3 already (slot 10): no ageing
    assert pol.victim(state, 0, 0, 16, 0, 0, False) == 10
    assert rrpv.tolist() == [2] * 10 + [3] + [0] * 5
    rrpv[:] = 0  # all 0: age by 3, slot 0
    assert pol.victim(state, 0, 0, 16, 0, 0, False) == 0
    assert rrpv.tolist() == [3] * 16


def test_srrip_sequence_by_hand():
    # 4 ways, one set. a b c d fill ways 0..3 at RRPV 2; a hits (0).
    # e: no 3 -> age 1: a1 b3 c3 d3 -> evict b (way 1), e2.   [a1 e2 c3 d3]
    # b: c (way 2) is at 3 -> b2.                              [a1 e2 b2 d3]
    # c: d (way 3) -> c2.                                      [a1 e2 b2 c2]
    # d: age 1: a2 e3 b3 c3 -> evict e (way 1), d2.            [a2 d2 b3 c3]
    # a hits (0). e: b (way 2) at 3 -> e2.                     [a0 d2 e2 c3]
    a, b, c, d, e = range(5)
    res = _both(_seq([a, b, c, d, a, e, b, c, d, a, e]), "srrip", 4, 0)
    assert (res.misses, res.hits, res.evictions) == (9, 2, 5)
    assert res.resident.tolist() == [a, c, d, e]


def test_srrip_rrpv_bits():
    # 1-bit RRPV (max 1): insertion at 0, so SRRIP-1 is "not recently used" (NRU)
    pol, state = _state("srrip", 1, 3, rrpv_bits=1)
    for way in range(3):
        pol.on_fill(state, 0, way, way, way, 0.0, False)
    assert state.rrpv.tolist() == [0, 0, 0]
    assert pol.victim(state, 0, 0, 3, 7, 3, False) == 0
    assert state.rrpv.tolist() == [1, 1, 1]


# -- DRRIP rules ---------------------------------------------------------------------------

def test_drrip_leader_sets_follow_the_lcg():
    from recsim.policies.drrip import leader_count

    # x1 = 1 * 1103515245 + 12345 = 1103527590; x1 / 65536 = 16838 (16838 * 65536 =
    # 1103495168, remainder 32422); 16838 % 1048576 = 16838; 16838 % 2048 = 454.
    # x2 = 1217759518843121895 (no 64-bit wrap yet), / 65536 = 18581535626878,
    # % 1048576 = 300670, % 2048 = 1662; then 1921, 1131, 331, 1531.
    leader = _state("drrip", 2048, 16)[1].leader
    bip = np.flatnonzero(leader == 0)
    srrip = np.flatnonzero(leader == 1)
    assert len(bip) == len(srrip) == 32
    assert {454, 1662, 1921, 1131, 331}.issubset(bip)  # the first draws are BIP leaders
    assert 1531 in bip
    # scaled-down leader counts: min(32, sets // 4)
    assert [leader_count(s, 32) for s in (1, 3, 4, 7, 8, 100, 128, 2048)] == \
        [0, 0, 1, 1, 2, 25, 32, 32]
    # 4 sets: draws 16838 % 4 = 2 (BIP), 300670 % 4 = 2 (duplicate, redrawn),
    # 403329 % 4 = 1 (SRRIP); sets 0 and 3 follow
    leader4 = _state("drrip", 4, 2)[1].leader
    assert leader4.tolist() == [-1, 1, 0, -1]
    # one set (fully associative): no leaders
    leader1 = _state("drrip", 1, 64)[1].leader
    assert leader1.tolist() == [-1]
    # leader_sets parameter: 2 per policy of 37 sets: draws % 37 = 3, 8, 29, 35
    leader37 = _state("drrip", 37, 4, leader_sets=2)[1].leader
    assert np.flatnonzero(leader37 == 0).tolist() == [3, 8]
    assert np.flatnonzero(leader37 == 1).tolist() == [29, 35]


def test_drrip_psel_and_insertion_by_hand():
    # 4 sets x 2 ways: BIP leader = set 2 (slots 4, 5), SRRIP leader = set 1 (slots 2, 3),
    # followers 0 and 3. conf = [max, psel, bip counter, psel max, threshold, bip max].
    pol, state = _state("drrip", 4, 2)
    rrpv, conf = state.rrpv, state.conf
    assert conf.tolist() == [3, 0, 0, 1023, 511, 32]

    def fill(set_, slot):
        pol.on_fill(state, set_, slot, 0, 0, 0.0, False)
        return int(rrpv[slot])

    assert fill(2, 4) == 3 and conf[1] == 0  # BIP leader: PSEL saturates at 0, insert 3
    assert conf[2] == 1  # one BIP insertion counted
    assert fill(0, 0) == 2 and conf[2] == 1  # follower at PSEL 0 <= 511: SRRIP
    assert fill(1, 2) == 2 and conf[1] == 1  # SRRIP leader: PSEL + 1, insert 2
    for _ in range(510):
        fill(1, 3)
    assert conf[1] == 511
    assert fill(0, 1) == 2 and conf[2] == 1  # 511 is not above the threshold: SRRIP
    fill(1, 3)
    assert conf[1] == 512
    assert fill(0, 1) == 3 and conf[2] == 2  # 512 > 511: the follower uses BIP
    assert fill(3, 6) == 3 and conf[2] == 3  # every follower does
    assert fill(2, 5) == 3 and conf[1] == 511 and conf[2] == 4  # BIP leader: PSEL - 1
    assert fill(0, 0) == 2  # back to SRRIP at 511
    for _ in range(600):
        fill(1, 3)
    assert conf[1] == 1023  # saturates at 2^10 - 1
    # prefetch fills take the same path
    pol.on_fill(state, 2, 4, 0, 0, 0.0, True)
    assert conf[1] == 1022 and conf[2] == 5
    # hits set 0; victims as in SRRIP
    pol.on_hit(state, 0, 0, 0, 0, 0.0)
    assert rrpv[0] == 0 and rrpv[1] == 3
    assert pol.victim(state, 0, 0, 2, 9, 0, False) == 1


def test_drrip_bip_inserts_at_2_every_32nd():
    pol, state = _state("drrip", 4, 2)
    rrpv, conf = state.rrpv, state.conf
    got = []
    for i in range(70):
        # alternate a BIP leader fill and, once PSEL is above the threshold, a follower's
        # BIP fill: both advance the one global counter
        pol.on_fill(state, 2, 4 + i % 2, 0, 0, 0.0, False)
        got.append(int(rrpv[4 + i % 2]))
    # insertions 32 and 64 (1-based) are at 2, all others at 3
    assert [i + 1 for i, r in enumerate(got) if r == 2] == [32, 64]
    assert conf[2] == 70 % 32
    conf[1] = 600  # followers now use BIP and share the counter (at 6)
    seen = []
    for i in range(30):
        pol.on_fill(state, 3, 6, 0, 0, 0.0, False)
        seen.append(int(rrpv[6]))
    # counter 6 -> the 26th follower fill brings it to 32 -> 0: inserted at 2
    assert [i + 1 for i, r in enumerate(seen) if r == 2] == [26]


def test_drrip_engine_followers_switch_at_psel_threshold():
    # 4 sets x 2 ways (rows from set_index: set 0 follower, 1 SRRIP leader, 3 follower).
    # In a follower set, p q r p r hits once under SRRIP (insert 2: r evicts p, then p
    # evicts q, r hits) and never under BIP (insert 3: r evicts p, p evicts r, r misses).
    sets = set_index(np.arange(64), 4)
    in_set = {k: [int(i) for i in np.flatnonzero(sets == k)] for k in range(4)}
    p, q, r = in_set[0][:3]
    a, b = in_set[1][:2]
    u, v, w = in_set[3][:3]
    trace = _seq([p, q, r, p, r, a, b, u, v, w, u, w])
    # psel_bits 2: PSEL max 3, threshold 1. Two SRRIP-leader misses (a, b) take PSEL to
    # 2 > 1, so set 3 then follows BIP: 11 misses, 1 hit.
    res = _both(trace, "drrip", 8, 2, policy_params={"psel_bits": 2})
    assert (res.misses, res.hits) == (11, 1)
    # with the published 10 bits PSEL (2) stays below 511: both followers use SRRIP
    res = _both(trace, "drrip", 8, 2)
    assert (res.misses, res.hits) == (10, 2)
    assert recsim.simulate(trace, "srrip", capacity=8, ways=2).counts == res.counts


def test_drrip_fully_associative_is_srrip():
    trace = make_trace("zipf3")
    d = recsim.simulate(trace, "drrip", capacity=150, ways=0)
    s = recsim.simulate(trace, "srrip", capacity=150, ways=0)
    assert d.counts == s.counts and d.sets == 1


# -- CLOCK and SIEVE rules -------------------------------------------------------------------

def test_clock_and_sieve_by_hand():
    # 3 slots; a b c fill, a hits.
    # d: CLOCK moves a (count 1 -> 0) to the head and evicts b: queue c a d.
    #    SIEVE clears a, evicts b, hand -> c: queue a c d (a stays put).
    # f: both evict c. CLOCK: queue a d f. SIEVE: hand -> d, queue a d f.
    # g: CLOCK evicts the tail a; SIEVE evicts d at its hand. a: SIEVE hits, CLOCK misses.
    a, b, c, d, f, g = range(6)
    trace = _seq([a, b, c, a, d, f, g, a])
    clock = _both(trace, "clock", 3, 0)
    sieve = _both(trace, "sieve", 3, 0)
    assert (clock.misses, clock.hits) == (7, 1)
    assert (sieve.misses, sieve.hits) == (6, 2)
    assert clock.resident.tolist() == [a, f, g]  # a came back, evicting d
    assert sieve.resident.tolist() == [a, f, g]


def test_clock_hooks_by_hand():
    pol, state = _state("clock", 1, 4, n_bit_counter=2)
    freq, hand = state.freq, state.hand
    for way in range(4):
        pol.on_fill(state, 0, way, way, way, 0.0, False)
    for _ in range(5):
        pol.on_hit(state, 0, 0, 0, 0, 0.0)  # saturates at 3
    pol.on_hit(state, 0, 2, 2, 0, 0.0)
    assert freq.tolist() == [3, 0, 1, 0]
    assert pol.victim(state, 0, 0, 4, 9, 0, False) == 1  # way 0 -> 2, way 1 evicted
    assert freq.tolist() == [2, 0, 1, 0] and hand[0] == 2
    pol.on_fill(state, 0, 1, 9, 0, 0.0, False)
    assert pol.victim(state, 0, 0, 4, 9, 0, False) == 3  # way 2 -> 0, way 3 evicted
    assert hand[0] == 0  # wrapped
    # init_freq: newcomers start with a count
    pol, state = _state("clock", 1, 2, init_freq=1)
    pol.on_fill(state, 0, 0, 0, 0, 0.0, False)
    assert state.freq[0] == 1


def test_sieve_hooks_by_hand():
    pol, state = _state("sieve", 1, 4)
    head, tail, hand, visited = state.head, state.tail, state.hand, state.visited
    for way in range(4):
        pol.on_fill(state, 0, way, way, way, 0.0, False)
    pol.on_hit(state, 0, 0, 0, 0, 0.0)
    pol.on_hit(state, 0, 1, 1, 0, 0.0)
    pol.on_hit(state, 0, 3, 3, 0, 0.0)
    # tail is way 0: clear 0, clear 1, evict 2; the hand rests on 3
    assert pol.victim(state, 0, 0, 4, 9, 0, False) == 2
    assert hand[0] == 3 and visited.tolist() == [0, 0, 0, 1]
    pol.on_evict(state, 0, 2, 2, 0)
    pol.on_fill(state, 0, 2, 9, 0, 0.0, False)  # the newcomer goes to the head
    assert head[0] == 2 and tail[0] == 0
    # clear 3, then the newcomer (way 2, unvisited) is next towards the head: evicted;
    # it was the head, so the hand is unset
    assert pol.victim(state, 0, 0, 4, 10, 0, False) == 2
    assert hand[0] == -1


def test_parameter_errors():
    for policy, params in [("srrip", {"rrpv_bits": 0}), ("drrip", {"psel_bits": 0}),
                           ("drrip", {"leader_sets": -1}), ("drrip", {"bip_max": 1.5}),
                           ("clock", {"n_bit_counter": 9}), ("clock", {"init_freq": 2})]:
        with pytest.raises(ConfigError, match=f"policy '{policy}': parameter"):
            recsim.simulate(_seq([1, 2, 3]), policy, capacity=2, ways=0,
                            policy_params=params)


# -- the engine against the reference models --------------------------------------------------

CASES = [("srrip", None), ("drrip", None), ("drrip", {"psel_bits": 4}), ("clock", None),
         ("clock", {"n_bit_counter": 2}), ("sieve", None)]
GEOMETRIES = [(200, 32), (150, 4), (160, 8), (60, 0)]


@pytest.mark.parametrize("kind", ["zipf3", "runs"])
@pytest.mark.parametrize("geometry", GEOMETRIES, ids=str)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0] + ("-" + "-".join(
    f"{k}{v}" for k, v in c[1].items()) if c[1] else ""))
@pytest.mark.parametrize("prefetcher", ["none", "next_n"])
def test_engine_matches_reference(kind, geometry, case, prefetcher):
    policy, params = case
    capacity, ways = geometry
    trace = make_trace(kind)
    kw = dict(prefetcher=prefetcher, policy_params=params)
    if prefetcher == "next_n":
        kw.update(prefetcher_params={"n": 3}, prefetch_latency=2)
    _both(trace, policy, capacity, ways, **kw)


@st.composite
def traces(draw, max_len=250, max_rows=40):
    n = draw(st.integers(1, max_len))
    n_rows = draw(st.integers(1, max_rows))
    u = draw(st.lists(st.integers(0, n_rows * n_rows - 1), min_size=n, max_size=n))
    rows = [n_rows - 1 - int(np.sqrt(x)) for x in u]  # skewed towards low rows
    tables = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
    return Trace.from_arrays(tables, rows)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trace=traces(), capacity=st.integers(1, 24), ways=st.sampled_from([0, 1, 2, 4, 32]),
       policy=st.sampled_from(POLICIES), prefetch=st.booleans(),
       psel_bits=st.integers(1, 3), n_bit_counter=st.integers(1, 2))
def test_engine_matches_reference_hypothesis(trace, capacity, ways, policy, prefetch,
                                             psel_bits, n_bit_counter):
    params = ({"psel_bits": psel_bits, "bip_max": 4} if policy == "drrip" else
              {"n_bit_counter": n_bit_counter} if policy == "clock" else None)
    kw = dict(policy_params=params)
    if prefetch:
        kw.update(prefetcher="next_n", prefetcher_params={"n": 2})
    _both(trace, policy, capacity, ways, **kw)


# -- libCacheSim: exact miss counts, fully associative ---------------------------------------

ORACLES = {"clock": lcs.Clock, "sieve": lcs.Sieve}


def _lcs_misses(path, policy, capacity, n, **params):
    return libcachesim_misses(path, ORACLES[policy], capacity, n, **params)


@pytest.mark.parametrize("policy, params", [("clock", {}), ("clock", {"n_bit_counter": 2}),
                                            ("sieve", {})], ids=str)
@pytest.mark.parametrize("fraction", [0.01, 0.1])
def test_zipf_matches_libcachesim(zipf_1m, policy, params, fraction):
    trace, path = zipf_1m
    res = recsim.simulate(trace, policy, capacity=fraction, ways=0, policy_params=params)
    assert res.misses == _lcs_misses(path, policy, res.capacity, trace.n_accesses, **params)


@pytest.mark.parametrize("policy", sorted(ORACLES))
@pytest.mark.parametrize("fraction", [0.02, 0.2])
def test_amazon_video_matches_libcachesim(amazon, policy, fraction):
    trace, path = amazon
    res = recsim.simulate(trace, policy, capacity=fraction, ways=0)
    assert res.misses == _lcs_misses(path, policy, res.capacity, trace.n_accesses)
