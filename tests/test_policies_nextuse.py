"""The ``nextuse`` policy (policies/nextuse.py) and its online learning (recsim.nextuse):

* features are past-only: changing the future leaves every earlier row unchanged;
* labels equal a brute-force next use, OPTgen's labels a brute-force OPTgen (and total
  MIN's hits); Che's reach is the span of ``capacity`` distinct vectors;
* the engine equals the pure-Python model of tests/reference_nextuse.py given the same
  advice (every counter and the final buffer), for every duel;
* the guarantee: with noise for advice, set dueling falls back to LRU within 0.002, where
  the learned ranking alone falls far below it;
* the whole path (online LightGBM, cached advice, a saved model) and the one-line errors.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import recsim
from recsim.engine.replay import Advice
from recsim.errors import ConfigError, RecsimWarning
from recsim.nextuse import features as F
from recsim.nextuse import learn
from recsim.traces import generate_trace
from recsim.traces.nextuse import next_use
from recsim.traces.trace import Trace

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reference_nextuse  # noqa: E402,F401  (registers the model)
from reference import reference_replay  # noqa: E402

SMALL = {"warmup": 2000, "retrain": 2000, "window": 2000, "horizon": 4096, "trees": 8}


def _trace(rows, tables, cuts):
    n = len(rows)
    return Trace.from_arrays(np.array(tables, np.int32), np.array(rows),
                             batch_offsets=[0, *sorted(c for c in cuts if 0 < c < n), n])


def _features(trace):
    d = trace.dense()
    return F.features(d.vid, trace.table, trace.batch_offsets, d.n_unique, trace.n_tables)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.integers(0, 15), min_size=2, max_size=150), data=st.data())
def test_features_are_past_only(rows, data):
    n = len(rows)
    tables = data.draw(st.lists(st.integers(0, 2), min_size=n, max_size=n))
    cuts = data.draw(st.lists(st.integers(1, n - 1), max_size=5))
    k = data.draw(st.integers(1, n - 1))
    future = data.draw(st.lists(st.integers(0, 40), min_size=n - k, max_size=n - k))
    # the changed trace keeps every row and table of the past; its dense ids may differ
    # (a vector first seen in the future), so row rather than vid identity is compared
    a = _features(_trace(rows, tables, cuts))
    b = _features(_trace(rows[:k] + future, tables, cuts))
    np.testing.assert_array_equal(a[:k], b[:k])


def test_features_by_hand():
    x = _features(_trace([1, 2, 1, 1, 2], [0, 0, 0, 0, 0], [2]))
    age, gap1, first = (F.NAMES.index(c) for c in ("age", "gap1", "first"))
    assert np.isnan(x[0, age]) and x[0, first] == 1
    assert x[2, age] == 1.0 and np.isnan(x[2, gap1])  # log2(2 - 0)
    assert x[3, age] == 0.0 and x[3, gap1] == 1.0     # gaps 1, then 2
    prev = F.NAMES.index("prev_batch")  # batches [0, 2) and [2, 5)
    assert x[:, prev].tolist() == [0, 0, 1, 0, 1]  # 3: last seen in its own batch


@settings(max_examples=40, deadline=None)
@given(rows=st.lists(st.integers(0, 9), min_size=1, max_size=120),
       horizon=st.integers(2, 64))
def test_labels_equal_brute_force_next_use(rows, horizon):
    trace = _trace(rows, [0] * len(rows), [])
    y = F.labels(next_use(np.asarray(trace.dense().vid, np.int64), trace.n_unique)[0], horizon)
    for t, r in enumerate(rows):
        later = [u for u in range(t + 1, len(rows)) if rows[u] == r]
        distance = min(later[0] - t if later else horizon, horizon)
        assert y[t] == np.float32(np.log2(distance))


def _min_with_bypass(rows, capacity):
    """Belady's MIN allowed to bypass: on a miss the resident (or newcomer) used furthest
    ahead is the one left out."""
    nxt, seen = [0] * len(rows), {}
    for t in range(len(rows) - 1, -1, -1):
        nxt[t], seen[rows[t]] = seen.get(rows[t], 1 << 40), t
    res, hits = {}, 0
    for t, r in enumerate(rows):
        if r in res:
            hits += 1
        elif len(res) >= capacity:
            far = max(res, key=res.get)
            if res[far] <= nxt[t]:
                continue
            del res[far]
        res[r] = nxt[t]
    return hits


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.integers(0, 12), min_size=1, max_size=120),
       capacity=st.integers(1, 8))
def test_opt_labels_equal_optgen_by_brute_force(rows, capacity):
    hit = F.opt_hits(np.array(rows), 13, capacity)
    occupancy, last, expected = [0] * len(rows), {}, [0] * len(rows)
    for t, r in enumerate(rows):  # OPTgen over a plain list
        if r in last and max(occupancy[last[r]:t]) < capacity:
            expected[last[r]] = 1
            for u in range(last[r], t):
                occupancy[u] += 1
        last[r] = t
    assert hit.tolist() == expected
    assert hit.sum() == _min_with_bypass(rows, capacity)  # and they total MIN's hits


def test_reach_is_the_span_of_capacity_distinct_vectors():
    rows = [1, 2, 1, 3, 1, 2, 4, 4]
    nxt = next_use(np.array(rows, np.int64) - 1, 4)[0]
    assert learn.reach(8, nxt, 2, 100) == 3  # accesses 5..7 touch 2 and 4
    assert learn.reach(8, nxt, 3, 100) == 4  # 4..7 touch 1, 2 and 4
    assert learn.reach(8, nxt, 5, 100) == 100  # never 5 distinct: the horizon
    assert learn.reach(8, nxt, 3, 3) == 3  # only the last 3 accesses are looked at


def test_training_reads_only_labelled_accesses():
    nxt = np.array([5, 3, 9, 100, 6, 200, 8, 300, 400, 500])
    idx = learn.known(7, nxt, horizon=4, window=7)
    # labelled at min(next use + 1, t + 4): 4, 4, 6, 7, 7 (known by 7), 9, 9, ...
    assert idx.tolist() == [0, 1, 2, 3, 4]
    assert learn.known(7, nxt, horizon=4, window=2).tolist() == [2, 3, 4]  # labelled at 6, 7


@pytest.fixture
def given_advice(monkeypatch):
    """Replace the online learning by the advice the test sets (``given_advice[0]``)."""
    box = [None]
    monkeypatch.setattr(learn, "advise", lambda trace, params, capacity: Advice(priority=box[0]))
    return box


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.integers(0, 40), min_size=1, max_size=200),
       capacity=st.integers(1, 24), ways=st.sampled_from([1, 2, 4, 0]),
       duel=st.sampled_from(["all", "lru", "none"]), data=st.data())
def test_engine_equals_reference(given_advice, rows, capacity, ways, duel, data):
    trace = _trace(rows, np.array(rows) % 3, [])
    n = trace.n_accesses
    given_advice[0] = np.array(data.draw(st.lists(
        st.sampled_from([0.0, 1.0, 2.5, 8.0, 64.0]), min_size=n, max_size=n)))
    params = {"duel": duel, "warmup": 1, "sample": 64,  # sample >= ways: no sampling
              "freq_epoch": data.draw(st.integers(1, 20))}
    res = recsim.simulate(trace, "nextuse", capacity, ways, policy_params=params)
    ref = reference_replay(trace, "nextuse", capacity, ways, policy_params=params,
                           advice=Advice(priority=given_advice[0]))
    assert res.counts == ref.counts
    assert res.resident.tolist() == ref.resident


@pytest.mark.parametrize("ways", [8, 0])
def test_engine_equals_reference_past_a_halving(given_advice, ways):
    # 24K shadowed accesses: the shadow misses are halved once (HALVE_AFTER = 16K), the
    # decayed counts every 2^9 accesses
    rng = np.random.default_rng(1)
    rows = (rng.zipf(1.3, 24_000) % 3000).tolist()
    trace = _trace(rows, np.array(rows) % 4, list(range(0, 24_000, 100)))
    given_advice[0] = rng.choice([0.0, 4.0, 256.0, 8192.0], trace.n_accesses)
    params = {"duel": "all", "warmup": 1, "sample": 256, "freq_epoch": 9}
    res = recsim.simulate(trace, "nextuse", 256, ways, policy_params=params)
    ref = reference_replay(trace, "nextuse", 256, ways, policy_params=params,
                           advice=Advice(priority=given_advice[0]))
    assert res.counts == ref.counts
    assert res.resident.tolist() == ref.resident


def _sessions():
    return generate_trace("sessions", accesses=120_000, seed=3)


def test_dueling_falls_back_to_lru_under_noise(given_advice):
    trace = _sessions()
    given_advice[0] = 2.0 ** np.random.default_rng(0).uniform(0, 24, trace.n_accesses)
    lru = recsim.simulate(trace, "lru", 4096, 32).hit_rate
    duel = recsim.simulate(trace, "nextuse", 4096, 32, policy_params={"duel": "lru"}).hit_rate
    alone = recsim.simulate(trace, "nextuse", 4096, 32, policy_params={"duel": "none"}).hit_rate
    assert abs(duel - lru) <= 0.002
    assert alone < lru - 0.01  # the noise alone is far worse: the duel is what saves it


def test_online_learning_end_to_end(tmp_path):
    trace = generate_trace("meta-like", path=tmp_path / "t.trace", accesses=12_000, seed=0)
    params = {**SMALL, "seed": 1}
    res = recsim.simulate(trace, "nextuse", 0.1, 8, policy_params=params)
    again = recsim.simulate(trace, "nextuse", 0.1, 8, policy_params=params)
    assert res.counts == again.counts  # seeded and deterministic (the second is cached)
    cached = sorted((tmp_path / "t.trace" / "advice").glob("nextuse-*"))
    assert [p.suffix for p in cached] == [".model", ".npz"]
    with np.load(cached[1]) as saved:
        prio = saved["priority"]
        assert (prio[:2000] == 0).all() and (prio[2000:] >= 1).all()
        assert saved["importance"].sum() == pytest.approx(1.0)
    started = recsim.simulate(trace, "nextuse", 0.1, 8,
                              policy_params={**params, "model": str(cached[0])})
    assert started.hits > 0
    with pytest.warns(RecsimWarning, match=r"^eval_after: 1,000 is inside the first 2,000 "
                      r"accesses, which policy 'nextuse' learns from without advice"):
        recsim.simulate(trace, "nextuse", 0.1, 8, policy_params=params, eval_after=1000)


@pytest.mark.parametrize("label", ["reach", "opt"])
def test_buffer_relative_labels_are_learned_per_capacity(tmp_path, label):
    trace = generate_trace("meta-like", path=tmp_path / "t.trace", accesses=12_000, seed=0)
    params = {**SMALL, "label": label}
    for capacity in (0.05, 0.1):
        assert recsim.simulate(trace, "nextuse", capacity, 8, policy_params=params).hits > 0
    cached = sorted((tmp_path / "t.trace" / "advice").glob("nextuse-*.npz"))
    assert len(cached) == 2  # one advice per capacity: the label depends on it
    for path in cached:
        with np.load(path) as saved:
            assert (saved["priority"][:2000] == 0).all()
            assert (saved["priority"][2000:] >= 1).all()


def test_bad_input(tmp_path):
    trace = _trace(list(range(50)), [0] * 50, [])
    with pytest.raises(ConfigError, match=r"^policy 'nextuse': parameter 'warmup': expected "
                       r"fewer accesses than trace .* \(50\), got 131,072"):
        recsim.simulate(trace, "nextuse", 4, 4)
    other = tmp_path / "cm.pt"
    other.write_bytes(b"\x80\x04not json")
    with pytest.raises(ConfigError, match=r"cm.pt: not a model file; expected a nextuse-model"):
        recsim.simulate(trace, "nextuse", 4, 4, policy_params={"model": str(other)})
    other.write_text(json.dumps({"kind": "recmg-cache"}))
    with pytest.raises(ConfigError, match=r"cm.pt: a recmg-cache model file; expected a "
                                          r"nextuse-model"):
        recsim.simulate(trace, "nextuse", 4, 4, policy_params={"model": str(other)})
    with pytest.raises(ConfigError, match=r"absent.json: cannot read the model"):
        recsim.simulate(trace, "nextuse", 4, 4,
                        policy_params={"model": str(tmp_path / "absent.json")})
    with pytest.raises(ConfigError, match=r"parameter 'duel': expected one of"):
        recsim.simulate(trace, "nextuse", 4, 4, policy_params={"duel": "arc"})
