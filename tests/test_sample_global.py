"""Sampled replays of policies with global state (``Policy.training_sets``), of duration
parameters (``Int(..., unit=...)``) and of FBGEMM's batch replay (SHARDS-adj in each
batch's distinct rows): recsim.engine.sample's planning."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import recsim.engine.sample as sample
from recsim.engine.replay import replay, simulate
from recsim.engine.settings import ReplaySettings, set_index
from recsim.errors import ConfigError
from recsim.plugin import Int, Policy
from recsim.policies import lru
from recsim.registry import get_policy, get_prefetcher, policies, resolve_params
from recsim.traces.trace import Trace, batch_distinct

SETS = 64
# BIP never inserts at maxRRPV - 1 (its counter, shared by all sets, never wraps), and a
# 4-bit PSEL moves within a short trace: DRRIP's only other global state is PSEL
DRRIP = {"bip_max": 1 << 30, "psel_bits": 4}


def loop_trace(seed: int, n: int = 20_000, rows: int = 3 * 32 * SETS) -> Trace:
    """Half a loop over more rows than the buffer holds (where BRRIP beats SRRIP, so PSEL
    moves), half uniform."""
    rng = np.random.default_rng(seed)
    row = np.where(rng.random(n) < 0.5, np.arange(n) % rows, rng.integers(0, rows, n))
    return Trace.from_arrays(np.zeros(n, np.int64), row, np.append(np.arange(0, n, 16), n))


def drawn_misses(trace, full, rate, salt, mark: int = 0, sets: int = SETS,
                 extra=()) -> tuple[int, int]:
    """The full replay's misses and accesses from access ``mark`` on in the sets a set
    sample at (rate, salt) draws (and in the sets ``extra``)."""
    chosen = np.zeros(sets, bool)
    chosen[sample.sampled_sets(sets, rate, salt)] = True
    chosen[list(extra)] = True
    inside = chosen[set_index(trace.dense().keys, sets)][trace.dense().vid]
    inside[:mark] = False
    return int((full.hit_log[inside] == 0).sum()), int(inside.sum())


def quiet_simulate(*args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return simulate(*args, **kw)


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2 ** 32 - 1), rate=st.floats(0.03, 0.5),
       salt=st.integers(0, 2 ** 31), mark=st.sampled_from([0, 7_000]))
def test_drrip_set_sampling_is_exact_with_its_leader_sets(seed, rate, salt, mark):
    """The leader sets replayed too, PSEL moves as in the full replay, so the drawn sets
    miss exactly what they miss in the full replay; only they are counted (from
    ``eval_after`` on)."""
    trace = loop_trace(seed)
    full = quiet_simulate(trace, "drrip", 32 * SETS, 32, policy_params=DRRIP, log_hits=True,
                          eval_after=mark)
    sampled = quiet_simulate(trace, "drrip", 32 * SETS, 32, policy_params=DRRIP,
                             sample=rate, salt=salt, eval_after=mark)
    info = sampled.params["sample"]
    misses, accesses = drawn_misses(trace, full, rate, salt, mark)
    assert info["training_sets"] > 0 and not info["exact"]  # the BIP counter in general
    assert (sampled.misses, sampled.counts["accesses"] - info["adjusted"]) == (misses, accesses)
    # a vector's first access is its compulsory miss (no prefetcher)
    vid = np.asarray(trace.dense().vid)
    first = np.unique(vid, return_index=True)[1]
    counted = np.zeros(vid.shape[0], bool)
    counted[first[first >= mark]] = True
    chosen = np.zeros(SETS, bool)
    chosen[sample.sampled_sets(SETS, rate, salt)] = True
    inside = chosen[set_index(trace.dense().keys, SETS)][vid]
    assert sampled.counts["compulsory_misses"] == int((counted & inside).sum())


# every policy whose global state changes on its training sets' accesses only
TRAINING_ONLY = sorted(name for name, p in policies().items() if p.training_only)


def test_training_only_plugins_discovered():
    assert {"hawkeye", "mockingjay"} <= set(TRAINING_ONLY) and "drrip" not in TRAINING_ONLY


@pytest.mark.parametrize("policy", TRAINING_ONLY)
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2 ** 32 - 1), rate=st.floats(0.03, 0.5),
       salt=st.integers(0, 2 ** 31))
def test_training_only_policies_are_exact(policy, seed, rate, salt):
    """Hawkeye's and Mockingjay's predictors train on their sampled sets only
    (``training_only``; 64 and 32 of these 256 sets), which replace as the others do:
    replayed too, with the trace's own vids (their samplers are indexed by vid), the
    drawn and the training sets are exact, counted, and marked so."""
    sets = 4 * SETS
    trace = loop_trace(seed, rows=3 * 32 * sets)
    full = quiet_simulate(trace, policy, 32 * sets, 32, log_hits=True)
    result = quiet_simulate(trace, policy, 32 * sets, 32, sample=rate, salt=salt)
    pol = get_policy(policy)
    extra = sample.training_sets(pol, sets, 32, {n: p.default for n, p in pol.params.items()})
    union = np.union1d(sample.sampled_sets(sets, rate, salt), extra)
    info = result.params["sample"]
    assert info["exact"] and info["training_sets"] == union.shape[0] - round(rate * sets)
    assert info["effective"] == union.shape[0] / sets
    misses, accesses = drawn_misses(trace, full, rate, salt, sets=sets, extra=extra)
    assert (result.misses, info["kept_accesses"]) == (misses, accesses)


def test_without_the_leader_sets_drrip_is_not_exact(monkeypatch):
    """The exactness above rests on the leader sets: without them PSEL sees too little."""
    trace = loop_trace(0)
    full = quiet_simulate(trace, "drrip", 32 * SETS, 32, policy_params=DRRIP, log_hits=True)
    monkeypatch.setattr(sample, "training_sets", lambda *a: np.zeros(0, np.int64))
    sampled = quiet_simulate(trace, "drrip", 32 * SETS, 32, policy_params=DRRIP,
                             sample=0.2, salt=2)
    assert sampled.params["sample"]["training_sets"] == 0
    assert sampled.misses != drawn_misses(trace, full, 0.2, 2)[0]


@pytest.mark.parametrize("policy", ["drrip", "hawkeye", "mockingjay"])
def test_training_sets_are_the_policys(policy):
    """Each policy's training sets are the sets its state trains on, so a sample holds
    them all (here: more sets replayed than drawn, all counted accesses drawn)."""
    pol = get_policy(policy)
    params = {n: s.default for n, s in pol.params.items()}
    chosen = sample.training_sets(pol, 4096, 32, params)
    assert chosen.shape[0] == {"drrip": 64, "hawkeye": 128, "mockingjay": 128}[policy]
    sampled = quiet_simulate(loop_trace(1), policy, 32 * SETS, 32, sample=0.05)
    assert sampled.params["sample"]["training_sets"] > 0


def plan(policy: str, capacity: int, ways: int, rate: float, plain: bool = True,
         params: dict | None = None, train: bool = True):
    """The sample planner's plan for one size (no replay)."""
    pol, pf = get_policy(policy), get_prefetcher("none")
    checked = resolve_params("policy", pol, params)
    return sample._plan((pol, pf), (checked, {}), capacity, ways, rate, 0, plain, train)


def test_with_a_prefetcher_the_drawn_sets_alone():
    """With a prefetcher (not ``plain``) the counts cannot be split by set from a hit log:
    DRRIP's sample is the drawn sets alone, approximate; Hawkeye counts its training sets
    and needs no hit log."""
    drrip = plan("drrip", 32 * 4096, 32, 0.01, plain=False)
    assert (drrip.added, drrip.drawn, drrip.exact) == (0, None, False)
    assert plan("drrip", 32 * 4096, 32, 0.01).added == 64
    hawkeye = plan("hawkeye", 32 * 4096, 32, 0.01, plain=False)
    assert hawkeye.added > 0 and hawkeye.drawn is None and hawkeye.exact
    assert hawkeye.rate == hawkeye.sets.shape[0] / 4096 > 0.03


def test_training_sets_setting(monkeypatch):
    """``training_sets=False``: the drawn sets alone (as without a declaration), marked
    approximate; not a boolean: one line. A curve's shared samples keep the last
    policy's training-set samples for the next one with the same training sets
    (Mockingjay after Hawkeye), and drop them for a policy with others."""
    trace = loop_trace(2)
    on, off = (quiet_simulate(trace, "hawkeye", 32 * SETS, 32, sample=0.05,
                              training_sets=t).params["sample"] for t in (True, False))
    assert on["training_sets"] > 0 and on["exact"]
    assert off["training_sets"] == 0 and not off["exact"]
    assert plan("drrip", 32 * 4096, 32, 0.01, train=False).added == 0
    with pytest.raises(ConfigError, match="training_sets: expected true or false"):
        ReplaySettings(training_sets=1)
    cache, sizes = {}, ["5%", "10%"]

    def training_keys():
        return {key for key in cache if len(key[2]) == 3}

    alone = sample.sampled_mrc(replay, trace, "hawkeye", sizes, 0.05, 32)["miss_ratio"]
    assert sample.sampled_mrc(replay, trace, "hawkeye", sizes, 0.05, 32,
                              cache=cache)["miss_ratio"] == alone
    hawkeye = training_keys()
    sample.sampled_mrc(replay, trace, "lru", sizes, 0.05, 32, cache=cache)
    assert hawkeye and training_keys() == hawkeye  # kept through a per-set policy's curve
    # reused, not built again: the curve from the kept samples is the one built afresh
    built = []
    monkeypatch.setattr(sample, "sub_traces", lambda *a: built.append(a) or [])
    assert sample.sampled_mrc(replay, trace, "hawkeye", sizes, 0.05, 32,
                              cache=cache)["miss_ratio"] == alone and not built
    monkeypatch.undo()
    sample.sampled_mrc(replay, trace, "drrip", sizes, 0.05, 32, cache=cache)
    assert training_keys() and not training_keys() & hawkeye  # DRRIP's replaced them
    assert plan("hawkeye", 32 * 4096, 32, 0.01).key == plan("mockingjay", 32 * 4096, 32,
                                                               0.01).key


def test_bad_training_sets():
    def victim(state, set_, base, ways, vid, t, prefetch):
        return base

    bad = Policy("bad", "", lru.make_state, victim, cross_set=True,
                 training_sets=lambda sets, ways, params: [0, sets])
    with pytest.raises(ConfigError, match=r"^policy bad .*training_sets gave set 10, "
                                          r"outside the 10 sets$"):
        sample.training_sets(bad, 10, 4, {})
    with pytest.raises(TypeError, match="declare cross_set=True"):
        Policy("bad", "", lru.make_state, victim, training_sets=bad.training_sets)
    with pytest.raises(ConfigError, match="hook training_sets takes"):
        Policy("bad", "", lru.make_state, victim, cross_set=True,
               training_sets=lambda sets: [])


def test_durations_are_scaled():
    """MQ's lifetime counts its set's accesses: a miniature simulation scales it by R (a
    set sample keeps it: MQ's sets are exact); LHD's reconfiguration interval counts the
    trace's: a set sample scales it by the share of the sets replayed."""
    mini = quiet_simulate(loop_trace(2), "mq", 1000, 0, sample=0.1)  # what is replayed
    assert mini.params["policy"]["lifetime"] == 1000
    assert plan("mq", 32 * SETS, 32, 0.1).params[0]["lifetime"] == 10_000
    lhd = plan("lhd", 32 * SETS, 32, 0.25, params={"reconfigure_every": 1000}).params[0]
    assert lhd["reconfigure_every"] == 250  # 16 of 64 sets
    assert lhd["age_coarsening"] == 8  # 10 + log2(1/4)
    lhd = plan("lhd", 1000, 0, 0.01).params[0]
    assert (lhd["reconfigure_every"], lhd["age_coarsening"]) == (10_486, 3)  # 10 - 6.64
    spec = {"d": Int(0, lo=0, unit="accesses"), "h": Int(50, lo=20, hi=60, unit="accesses"),
            "n": Int(7), "e": Int(3, lo=1, unit="log2 accesses")}
    plugin = type("P", (), {"params": spec})
    assert sample.scaled_durations(plugin, {"d": 0, "h": 50, "n": 7, "e": 3}, 0.01,
                                   ("accesses", "log2 accesses")) \
        == {"d": 0, "h": 20, "n": 7, "e": 1}  # 0 ("derive") kept, bounds kept, others untouched


def test_bad_duration_unit():
    with pytest.raises(ConfigError, match=r"^Int\(unit='seconds'\): expected one of 'accesses', "
                                          r"'set accesses', 'log2 accesses' \(a duration\) or "
                                          r"none$"):
        Int(5, unit="seconds")


def test_fbgemm_adjusted_in_distinct_rows_per_batch():
    """FBGEMM counts each batch's distinct rows: SHARDS-adj adds hits up to rate x that
    count (scaling the raw accesses' difference instead was 0.1-0.2 off)."""
    rng = np.random.default_rng(4)
    n = 40_000
    row = np.minimum(rng.zipf(1.2, n), 4000) - 1
    trace = Trace.from_arrays(np.zeros(n, np.int64), row, np.append(np.arange(0, n, 256), n))
    full = quiet_simulate(trace, "fbgemm_lru", 640, 32)
    sampled = quiet_simulate(trace, "fbgemm_lru", 640, 32, sample=0.25, salt=1)
    assert full.counts["accesses"] == batch_distinct(trace) < n // 2
    assert sampled.counts["accesses"] == round(0.25 * batch_distinct(trace))
    assert abs(sampled.miss_ratio - full.miss_ratio) < 0.02
