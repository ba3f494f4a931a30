"""The ``recmg`` policy (policies/recmg.py, RecMG's Algorithm 2).

* The engine against the pure-Python model of tests/reference_recmg.py (every counter and
  the final residents): hypothesis over random traces, geometries, keep/not-keep advice
  and parameters, without and with prefetch advice lists, and a fixed trace with the
  next_n prefetcher.
* A perfect-advice stub: the OPT caching labels as advice turn a thrashing loop into
  Belady's hit count.
* Parameter errors.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import recsim
from recsim.engine.replay import Advice
from recsim.errors import ConfigError
from recsim.recmg.labels import opt_labels
from recsim.traces.trace import Trace

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reference_recmg  # noqa: E402,F401  (registers the model)
from reference import reference_replay  # noqa: E402
from test_reference import make_trace  # noqa: E402


def _both(trace, capacity, ways, **kw):
    res = recsim.simulate(trace, "recmg", capacity=capacity, ways=ways, **kw)
    ref = reference_replay(trace, "recmg", capacity, ways, **kw)
    assert res.counts == ref.counts
    assert res.resident.tolist() == ref.resident
    return res


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.integers(0, 11), min_size=1, max_size=120),
       capacity=st.integers(1, 8), ways=st.sampled_from([1, 2, 4, 0]),
       speed=st.integers(0, 5), keep=st.integers(0, 6), data=st.data())
def test_engine_equals_reference(rows, capacity, ways, speed, keep, data):
    trace = Trace.from_arrays(np.array(rows) % 2, np.array(rows))
    n = trace.n_accesses
    prio = np.array(data.draw(st.lists(st.sampled_from([0.0, 1.0]), min_size=n, max_size=n)))
    ptr = vids = None
    if data.draw(st.booleans()):  # prefetch lists for chunks of 4 accesses
        chunks = -(-n // 4)
        lists = [data.draw(st.lists(st.integers(0, trace.n_unique - 1), max_size=3))
                 for _ in range(chunks)]
        ptr = np.concatenate([[0], np.cumsum([len(x) for x in lists])])
        vids = np.array([v for x in lists for v in x], np.int64)
    advice = Advice(priority=prio, prefetch_ptr=ptr, prefetch_vids=vids, chunk=4, lag=1)
    res = _both(trace, capacity, ways, advice=advice,
                policy_params={"eviction_speed": speed, "keep": keep})
    assert res.occupancy <= res.capacity


@pytest.mark.parametrize("ways", [4, 0])
def test_engine_equals_reference_with_a_prefetcher(ways):
    trace = make_trace("zipf3")
    rng = np.random.default_rng(0)
    advice = Advice(priority=rng.integers(0, 2, trace.n_accesses).astype(float))
    _both(trace, 64, ways, advice=advice, prefetcher="next_n", prefetch_latency=2)


def test_perfect_advice_reaches_belady_on_a_thrashing_loop():
    # A loop over 6 vectors with 4 slots: LRU misses every access. With the OPT labels
    # (label_fraction 1: Belady at the same 4 slots) as advice, the kept vectors outlive
    # the others and recmg hits exactly where Belady does.
    rows = np.tile(np.arange(6), 50)
    trace = Trace.from_arrays(np.zeros(rows.shape[0], np.int32), rows)
    labels = opt_labels(trace, 4, label_fraction=1.0, ways=0)
    belady = recsim.simulate(trace, "belady", 4, ways=0)
    lru = recsim.simulate(trace, "lru", 4, ways=0)
    recmg = recsim.simulate(trace, "recmg", 4, ways=0,
                            advice=Advice(priority=labels.cache.astype(float)))
    assert lru.hits == 0
    assert recmg.hits == belady.hits > 150
    no_advice = recsim.simulate(trace, "recmg", 4, ways=0)
    assert no_advice.hits == 0  # without advice it is LRU here


@pytest.mark.parametrize("params, match", [
    ({"eviction_speed": -1}, "'eviction_speed': expected an integer >= 0"),
    ({"keep": 1.5}, "'keep': expected an integer >= 0"),
    ({"speed": 4}, "unknown parameter"),
])
def test_parameter_errors(params, match):
    with pytest.raises(ConfigError, match=match):
        recsim.simulate(make_trace("zipf3"), "recmg", 16, policy_params=params)
