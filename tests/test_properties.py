"""Property tests of the replay engine (hypothesis): accounting identities, geometry,
determinism, Belady's optimality, LRU's stack property, and the prefetch budget. The
invariants every policy and prefetcher meets live in :mod:`recsim.testing` (its
conformance list runs over the whole registry in test_conformance.py); these tests call
them over prefetch configurations and keep the engine-specific properties.

These hold for every policy, Random included (which tests/test_reference.py cannot
compare exactly).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recsim import testing
from recsim.engine.replay import simulate
from recsim.traces.trace import Trace

POLICIES = [("lru", False), ("fifo", False), ("lfu", False), ("random", False),
            ("belady", False), ("belady", True)]
ONLINE = ["lru", "fifo", "lfu", "random"]

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def run(trace, policy, bypass=False, **kw):
    params = {"bypass": bypass} if policy == "belady" else None
    return simulate(trace, policy, policy_params=params, **kw)


# -- strategies (recsim.testing's traces, as plain lists; these geometries) --------------

def traces(max_len=200, max_rows=30):
    return testing.traces(max_len=max_len, max_rows=max_rows, max_tables=3).map(
        lambda case: case.trace())


geometries = st.tuples(st.integers(1, 24), st.sampled_from([0, 1, 2, 3, 4, 5, 8, 32]))


@st.composite
def prefetch_configs(draw):
    prefetcher = draw(st.sampled_from(["none", "next_n", "oracle"]))
    if prefetcher == "next_n":
        params = {"n": draw(st.integers(1, 4)),
                  "trigger": draw(st.sampled_from(["miss", "access"]))}
    elif prefetcher == "oracle":
        params = {"n": draw(st.integers(1, 5)), "window": draw(st.integers(1, 30))}
    else:
        params = {}
    return dict(prefetcher=prefetcher, prefetcher_params=params,
                prefetch_latency=draw(st.integers(0, 5)),
                prefetch_budget=draw(st.one_of(st.none(), st.integers(0, 4))),
                fetch_latency=draw(st.integers(0, 3)),
                max_outstanding=draw(st.one_of(st.none(), st.integers(1, 4))))


# -- accounting identities --------------------------------------------------------------------

@settings(max_examples=60, **SETTINGS)
@given(trace=traces(), geometry=geometries, pf=prefetch_configs(),
       pol=st.sampled_from(POLICIES), seed=st.integers(0, 2**32), window=st.integers(1, 50))
def test_accounting_identities(trace, geometry, pf, pol, seed, window):
    policy, bypass = pol
    capacity, ways = geometry
    res = run(trace, policy, bypass, capacity=capacity, ways=ways, seed=seed,
              per_table=True, window=window, **pf)
    testing.check_buffer(res, trace)
    testing.check_counts(res, trace, pf)
    c = res.counts
    distinct = int(np.unique(trace.dense().vid).shape[0])
    if pf["prefetcher"] == "oracle":
        assert c["prefetches_redundant"] == 0  # it names only non-resident vectors
    if not bypass:
        assert c["bypasses"] == 0
    if ways == 0 and capacity >= distinct:
        assert c["evictions"] == 0 and c["bypasses"] == 0


# -- determinism ----------------------------------------------------------------------------

@settings(max_examples=30, **SETTINGS)
@given(trace=traces(), geometry=geometries, pf=prefetch_configs(),
       pol=st.sampled_from(POLICIES), seed=st.integers(0, 2**32))
def test_same_seed_same_result(trace, geometry, pf, pol, seed):
    policy, bypass = pol
    capacity, ways = geometry
    a = run(trace, policy, bypass, capacity=capacity, ways=ways, seed=seed, **pf)
    b = run(trace, policy, bypass, capacity=capacity, ways=ways, seed=seed, **pf)
    assert a.counts == b.counts
    assert a.resident.tolist() == b.resident.tolist()


def _churn_trace():
    rng = np.random.default_rng(7)
    n = 3000
    return Trace.from_arrays(rng.integers(0, 2, n), rng.integers(0, 200, n))


@pytest.mark.parametrize("ways", [0, 8])
def test_random_depends_on_seed(ways):
    trace = _churn_trace()
    base = run(trace, "random", capacity=50, ways=ways, seed=0)
    assert base.evictions > 1000
    others = [run(trace, "random", capacity=50, ways=ways, seed=s).counts
              for s in (1, 2, 3, 12345)]
    assert any(o != base.counts for o in others)
    # and the other policies ignore the seed
    for policy in ("lru", "fifo", "lfu", "belady"):
        assert run(trace, policy, capacity=50, ways=ways, seed=0).counts == \
            run(trace, policy, capacity=50, ways=ways, seed=99).counts


# -- Belady is optimal ------------------------------------------------------------------------

@settings(max_examples=60, **SETTINGS)
@given(trace=traces(max_len=300), geometry=geometries, seed=st.integers(0, 1000))
def test_belady_has_fewest_misses(trace, geometry, seed):
    capacity, ways = geometry
    kw = dict(capacity=capacity, ways=ways, seed=seed)
    opt = run(trace, "belady", **kw)
    opt_bypass = run(trace, "belady", True, **kw)
    assert opt_bypass.misses <= opt.misses
    for policy in ONLINE:
        res = run(trace, policy, **kw)
        assert (res.sets, res.ways) == (opt.sets, opt.ways)
        assert opt.misses <= res.misses, policy


@settings(max_examples=30, **SETTINGS)
@given(trace=traces(), capacity=st.integers(1, 12), seed=st.integers(0, 1000))
def test_direct_mapped_policies_agree(trace, capacity, seed):
    # one way per set (or a one-vector buffer): every policy must evict the only resident
    base = run(trace, "lru", capacity=capacity, ways=1).counts
    for policy in ("fifo", "lfu", "random", "belady"):
        assert run(trace, policy, capacity=capacity, ways=1, seed=seed).counts == base


# -- stack property ---------------------------------------------------------------------------

@settings(max_examples=40, **SETTINGS)
@given(trace=traces(max_len=300), small=st.integers(1, 20), extra=st.integers(1, 10))
def test_lru_stack_property(trace, small, extra):
    a = run(trace, "lru", capacity=small, ways=0)
    b = run(trace, "lru", capacity=small + extra, ways=0)
    assert b.misses <= a.misses
    assert set(a.resident.tolist()) <= set(b.resident.tolist())  # inclusion
    for bypass in (False, True):  # the optimum cannot get worse with more room either
        assert run(trace, "belady", bypass, capacity=small + extra, ways=0).misses <= \
            run(trace, "belady", bypass, capacity=small, ways=0).misses


# -- prefetch budget 0 ------------------------------------------------------------------------

@settings(max_examples=40, **SETTINGS)
@given(trace=traces(), geometry=geometries, pol=st.sampled_from(POLICIES),
       prefetcher=st.sampled_from(["next_n", "oracle"]), seed=st.integers(0, 1000),
       latency=st.integers(0, 4))
def test_zero_budget_is_no_prefetching(trace, geometry, pol, prefetcher, seed, latency):
    policy, bypass = pol
    capacity, ways = geometry
    kw = dict(capacity=capacity, ways=ways, seed=seed)
    none = run(trace, policy, bypass, **kw)
    zero = run(trace, policy, bypass, prefetcher=prefetcher, prefetch_budget=0,
               prefetch_latency=latency, **kw)
    dropped = zero.counts.pop("prefetches_dropped")
    assert none.counts.pop("prefetches_dropped") == 0
    assert zero.counts == none.counts
    assert zero.resident.tolist() == none.resident.tolist()
    # both prefetchers (defaults: n = 4) name at most 4 candidates per miss
    assert dropped <= 4 * none.misses


@settings(max_examples=60, **SETTINGS)
@given(trace=traces(), geometry=geometries, latency=st.integers(0, 4))
def test_oracle_never_lowers_lru_hit_rate(trace, geometry, latency):
    """The default oracle (the next access's vector, on a miss) takes the slot that miss
    would take: LRU's state, and so its final contents, are those without prefetching.
    With a latency, a demand fetch takes as long as a prefetch (the timing model's
    premise), so the prefetched vector is ready one access earlier than it would be."""
    capacity, ways = geometry
    kw = dict(capacity=capacity, ways=ways, fetch_latency=latency)
    none = run(trace, "lru", **kw)
    oracle = run(trace, "lru", prefetcher="oracle", prefetch_latency=latency, **kw)
    assert oracle.hit_rate >= none.hit_rate
    assert oracle.resident.tolist() == none.resident.tolist()
    # every prefetch is used by the next access, which would have missed
    assert oracle.prefetches_useful == oracle.prefetches_issued
    assert oracle.on_demand_fetches + oracle.prefetches_useful == none.on_demand_fetches
    if latency == 0:  # nothing else changes
        assert oracle.cache_hits == none.cache_hits
        assert oracle.prefetch_hits == oracle.prefetches_issued


def test_oracle_can_lower_lru_hit_rate_when_it_reads_further_ahead():
    """Cap 1, rows 0 0 0 1: reading 3 ahead on the first miss prefetches 1, which evicts
    0 before its two hits; the default reads one ahead and prefetches nothing here."""
    trace = Trace.from_arrays(np.zeros(4, np.int32), [0, 0, 0, 1])
    none = run(trace, "lru", capacity=1, ways=0)
    ahead = run(trace, "lru", capacity=1, ways=0, prefetcher="oracle",
                prefetcher_params={"n": 1, "window": 3})
    default = run(trace, "lru", capacity=1, ways=0, prefetcher="oracle")
    assert (none.hit_rate, ahead.hit_rate, default.hit_rate) == (0.5, 0.25, 0.5)


def test_zero_budget_drops_something():
    trace = Trace.from_arrays(np.zeros(100, np.int32), np.arange(100) % 37)
    res = run(trace, "lru", capacity=10, ways=0, prefetcher="next_n", prefetch_budget=0)
    assert res.prefetches_dropped > 0 and res.prefetches_issued == 0
