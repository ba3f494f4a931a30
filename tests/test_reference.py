"""The Numba engine against the pure-Python reference (tests/reference.py) and against
hand-computed textbook answers.

Exact comparisons cover LRU, FIFO, LFU and Belady (with and without bypass), fully and
set-associative (including a capacity that is not a multiple of the ways), without
prefetching and with the ``next_n`` and ``oracle`` prefetchers, prefetch latency and a
per-batch budget, with advice prefetch lists (the RecMG path: per chunk, with a lag) and
advice priorities; also per-table and per-window hits, and the residents at the end.
Random is left to tests/test_properties.py (its generator is not reproducible here).

Belady with ``next_n``: several never-reused vectors tie for eviction (next use =
infinity); ``next_n`` may name such a vector, so which of them is resident changes the
redundant/issued/unused/eviction/bypass counts. The engine fixes the rule (the one
touched earliest, then the smallest vid, goes first; see policies/belady.py) and the
reference follows it, so all counts are compared; a test also checks, on the reference
itself with two other tie rules, which counts do not depend on the rule at all.
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recsim.engine.metrics import COUNTER_NAMES
from recsim.engine.replay import simulate
from recsim.traces.trace import Trace

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference import reference_replay, reference_simulate  # noqa: E402

TIE_INDEPENDENT = ("accesses", "cache_hits", "prefetch_hits", "late_prefetches",
                   "on_demand_fetches", "compulsory_misses", "prefetches_useful")


# -- traces ---------------------------------------------------------------------------------

def _batches(n, rng, mean=64):
    cuts = np.cumsum(rng.integers(0, 2 * mean, size=n // mean + 2))
    cuts = cuts[cuts < n]
    return np.concatenate(([0], cuts, [n])).astype(np.int64)


@cache
def make_trace(kind: str) -> Trace:
    """Small random traces of a few shapes (fixed seeds)."""
    if kind == "zipf3":  # Zipf-ish skew, 3 tables of different sizes, 5k accesses
        rng = np.random.default_rng(1)
        n = 5000
        table = rng.integers(0, 3, n)
        row = (rng.zipf(1.2, n) - 1) % np.array([400, 150, 60])[table]
    elif kind == "zipf20k":  # milder skew, 4 tables, 20k accesses
        rng = np.random.default_rng(2)
        n = 20000
        table = rng.choice(4, n, p=[0.4, 0.3, 0.2, 0.1])
        row = (rng.zipf(1.05, n) - 1) % 2000
        row = (row * 7919) % 2000  # hot rows scattered over the table
    elif kind == "uniform":  # no locality, heavy eviction
        rng = np.random.default_rng(3)
        n = 2000
        table = rng.integers(0, 2, n)
        row = rng.integers(0, 250, n)
    elif kind == "runs":  # sequential runs of rows (next_n territory) with reuse
        rng = np.random.default_rng(4)
        table, row = [], []
        while len(row) < 8000:
            tb = int(rng.integers(0, 3))
            start = int(rng.zipf(1.3) - 1) % 900
            length = int(rng.integers(1, 12))
            step = int(rng.choice([1, 1, 1, 2]))
            table += [tb] * length
            row += [min(start + step * i, 999) for i in range(length)]
        n = len(row)
        table, row = np.array(table), np.array(row)
    else:
        raise ValueError(kind)
    return Trace.from_arrays(table, row, batch_offsets=_batches(n, rng))


def run_engine(trace, policy, bypass=False, **kw):
    params = {"bypass": bypass} if policy == "belady" else None
    return simulate(trace, policy, policy_params=params, **kw)


TRACES = ["zipf3", "zipf20k", "uniform", "runs"]
# (capacity, ways): fully associative; 32-way; odd ways with capacity not a multiple of
# them (150 = 37 x 4 + 2, 100 = 33 x 3 + 1); a capacity given as a fraction.
GEOMETRIES = [(150, 0), (200, 32), (150, 4), (100, 3), ("10%", 4)]
POLICIES = [("lru", False), ("fifo", False), ("lfu", False), ("belady", False),
            ("belady", True)]


def _pid(p):
    return f"{p[0]}-bypass" if p[1] else p[0]


# -- no prefetching -------------------------------------------------------------------------

@pytest.mark.parametrize("kind", TRACES)
@pytest.mark.parametrize("geometry", GEOMETRIES, ids=str)
@pytest.mark.parametrize("pol", POLICIES, ids=_pid)
def test_engine_matches_reference_without_prefetch(kind, geometry, pol):
    policy, bypass = pol
    capacity, ways = geometry
    trace = make_trace(kind)
    res = run_engine(trace, policy, bypass, capacity=capacity, ways=ways, per_table=True,
                     window=700)
    ref = reference_replay(trace, policy, capacity, ways, bypass=bypass, window=700)
    assert (res.capacity, res.sets, res.ways) == (ref.capacity, ref.sets, ref.ways)
    assert res.counts == ref.counts
    assert set(res.counts) == {*COUNTER_NAMES, "prefetches_pending"}
    # the loop compiled without per-table/per-window statistics counts the same
    assert run_engine(trace, policy, bypass, capacity=capacity, ways=ways).counts == ref.counts
    assert res.occupancy == ref.occupancy
    if policy != "belady":  # Belady's never-reused residents tie; see the module docstring
        assert res.resident.tolist() == ref.resident
    assert res.per_table["accesses"] == ref.table_accesses
    assert res.per_table["hits"] == ref.table_hits
    sizes = [min(700, trace.n_accesses - 700 * i) for i in range(len(ref.window_hits))]
    assert res.window_hit_rate == [h / s for h, s in zip(ref.window_hits, sizes)]
    if not bypass:
        assert res.bypasses == 0


# -- with prefetching -----------------------------------------------------------------------

# (prefetcher, params, latency, budget per batch)
PREFETCH = [
    ("next_n", {}, 0, None),
    ("next_n", {"n": 2, "trigger": "access"}, 3, 4),
    ("next_n", {"n": 8}, 5, None),
    ("next_n", {"n": 3}, 2, 0),
    ("oracle", {"n": 4, "window": 64}, 0, None),
    ("oracle", {}, 6, 2),
    ("oracle", {"n": 16, "window": 200}, 1, 7),
]
PF_GEOMETRIES = [(150, 0), (200, 32), (150, 4)]


def _pfid(cfg):
    name, params, latency, budget = cfg
    extra = ",".join(f"{k}={v}" for k, v in params.items())
    return f"{name}[{extra}]-lat{latency}-budget{budget}"


def prefetch_case(kind, geometry, cfg):
    """The trace and the simulate/reference keyword arguments of one prefetch case."""
    prefetcher, params, latency, budget = cfg
    capacity, ways = geometry
    return make_trace(kind), dict(capacity=capacity, ways=ways, prefetcher=prefetcher,
                                  prefetcher_params=params, prefetch_latency=latency,
                                  prefetch_budget=budget)


@pytest.mark.parametrize("kind", ["zipf3", "runs"])
@pytest.mark.parametrize("geometry", PF_GEOMETRIES, ids=str)
@pytest.mark.parametrize("cfg", PREFETCH, ids=_pfid)
@pytest.mark.parametrize("policy", ["lru", "fifo", "lfu"])
def test_engine_matches_reference_with_prefetch(kind, geometry, cfg, policy):
    trace, kw = prefetch_case(kind, geometry, cfg)
    prefetcher, budget = cfg[0], cfg[3]
    res = run_engine(trace, policy, per_table=True, **kw)
    ref = reference_replay(trace, policy, **kw)
    assert res.counts == ref.counts
    assert res.resident.tolist() == ref.resident
    assert res.per_table["hits"] == ref.table_hits
    assert res.prefetches_pending == ref.pending_prefetches
    if prefetcher == "next_n":
        assert res.prefetches_issued > 0 or budget == 0


@pytest.mark.parametrize("kind", ["zipf3", "runs"])
@pytest.mark.parametrize("geometry", PF_GEOMETRIES, ids=str)
@pytest.mark.parametrize("cfg", PREFETCH, ids=_pfid)
@pytest.mark.parametrize("bypass", [False, True], ids=["nobypass", "bypass"])
def test_belady_with_prefetch_matches_reference(kind, geometry, cfg, bypass):
    trace, kw = prefetch_case(kind, geometry, cfg)
    prefetcher, budget = cfg[0], cfg[3]
    res = run_engine(trace, "belady", bypass, **kw)
    ref = reference_replay(trace, "belady", bypass=bypass, **kw)
    assert res.counts == ref.counts
    assert res.occupancy == ref.occupancy
    if prefetcher == "next_n" and budget is None:
        # next_n may name never-reused vectors, so Belady's tie rule matters; without a
        # budget the demand-side counts do not depend on it at all.
        refs = [reference_replay(trace, "belady", bypass=bypass, belady_ties=ties, **kw).counts
                for ties in ("max_vid", "min_vid")]
        independent = [{k: c[k] for k in TIE_INDEPENDENT} for c in (*refs, res.counts)]
        assert independent[0] == independent[1] == independent[2]


# -- random tiny cases ----------------------------------------------------------------------

@st.composite
def tiny_case(draw):
    n = draw(st.integers(1, 120))
    n_tables = draw(st.integers(1, 3))
    n_rows = draw(st.integers(1, 25))
    table = draw(st.lists(st.integers(0, n_tables - 1), min_size=n, max_size=n))
    row = draw(st.lists(st.integers(0, n_rows - 1), min_size=n, max_size=n))
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=6)))
    trace = Trace.from_arrays(table, row, batch_offsets=[0, *cuts, n])
    capacity = draw(st.integers(1, 20))
    ways = draw(st.sampled_from([0, 1, 2, 3, 4, 5, 8]))
    prefetcher = draw(st.sampled_from(["none", "next_n", "oracle"]))
    if prefetcher == "next_n":
        params = {"n": draw(st.integers(1, 4)),
                  "trigger": draw(st.sampled_from(["miss", "access"]))}
    elif prefetcher == "oracle":
        params = {"n": draw(st.integers(1, 4)), "window": draw(st.integers(1, 20))}
    else:
        params = {}
    latency = draw(st.integers(0, 4))
    budget = draw(st.one_of(st.none(), st.integers(0, 3)))
    return trace, dict(capacity=capacity, ways=ways, prefetcher=prefetcher,
                       prefetcher_params=params, prefetch_latency=latency,
                       prefetch_budget=budget, fetch_latency=draw(st.integers(0, 3)),
                       max_outstanding=draw(st.one_of(st.none(), st.integers(1, 3))))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=tiny_case(), pol=st.sampled_from(POLICIES))
def test_engine_matches_reference_on_tiny_random_cases(case, pol):
    trace, kw = case
    policy, bypass = pol
    # window=1: the engine's per-window hit rates are its per-access hit/miss outcomes
    res = run_engine(trace, policy, bypass, window=1, per_table=True, **kw)
    ref = reference_replay(trace, policy, bypass=bypass, window=1, **kw)
    assert res.window_hit_rate == ref.window_hits
    assert res.counts == ref.counts
    assert res.occupancy == ref.occupancy
    assert res.resident.tolist() == ref.resident


# -- hand-computed answers ------------------------------------------------------------------

# Silberschatz et al., Operating System Concepts, the reference string of the
# page-replacement chapter: 3 frames give FIFO 15, LRU 12 and OPT 9 page faults.
TEXTBOOK = [7, 0, 1, 2, 0, 3, 0, 4, 2, 3, 0, 3, 2, 1, 2, 0, 1, 7, 0, 1]


def _seq(pages):
    return Trace.from_arrays(np.zeros(len(pages), np.int32), np.array(pages, np.int64))


def _both(trace, policy, capacity, bypass=False, **kw):
    """Counts from the engine and from the reference (they must agree)."""
    res = run_engine(trace, policy, bypass, capacity=capacity, ways=0, **kw)
    ref = reference_simulate(trace, policy, capacity, 0, bypass=bypass, **kw)
    assert res.counts == ref
    return res


@pytest.mark.parametrize("policy, bypass, misses, evictions, bypasses", [
    ("fifo", False, 15, 12, 0),
    ("lru", False, 12, 9, 0),
    ("belady", False, 9, 6, 0),
    # bypassing OPT refuses 4 (t=7, never reused) and 7 (t=17, never reused): 8 misses
    ("belady", True, 8, 3, 2),
    # LFU, counts reset on insert, FIFO among equal counts (worked by hand)
    ("lfu", False, 11, 8, 0),
])
def test_textbook_reference_string(policy, bypass, misses, evictions, bypasses):
    res = _both(_seq(TEXTBOOK), policy, 3, bypass)
    assert res.misses == res.on_demand_fetches == misses
    assert res.hits == res.cache_hits == 20 - misses
    assert res.evictions == evictions
    assert res.bypasses == bypasses
    assert res.compulsory_misses == 6  # pages 7, 0, 1, 2, 3, 4
    assert res.occupancy == 3


@pytest.mark.parametrize("policy, bypass, misses", [
    ("lru", False, 9), ("fifo", False, 10), ("belady", False, 7), ("belady", True, 6),
    ("lfu", False, 8)])
def test_textbook_prefix(policy, bypass, misses):
    res = _both(_seq(TEXTBOOK[:13]), policy, 3, bypass)
    assert res.misses == misses


def test_bypassed_vector_is_a_compulsory_miss_once():
    # Belady with bypass, one vector of room. t0: A fills. t1: B (next use 3) is refused
    # because A's next use (2) is sooner. t2: A hits. t3: B (never used again) is refused
    # again: a miss, but not a compulsory one (B was accessed at t1). t4: A hits.
    a, b = 3, 8
    res = _both(_seq([a, b, a, b, a]), "belady", 1, bypass=True)
    assert _counts(res, "on_demand_fetches", "compulsory_misses", "bypasses", "cache_hits",
                   "evictions") == (3, 2, 2, 2, 0)


def test_fifo_belady_anomaly_and_lru_stack():
    pages = _seq([1, 2, 3, 4, 1, 2, 5, 1, 2, 3, 4, 5])
    assert _both(pages, "fifo", 3).misses == 9
    assert _both(pages, "fifo", 4).misses == 10  # more frames, more faults
    assert _both(pages, "lru", 3).misses == 10
    assert _both(pages, "lru", 4).misses == 8


def test_lfu_ties_go_to_the_first_to_reach_the_count():
    # a, b, c fill (count 1 each); a then c are hit (count 2); d evicts b (count 1) and
    # is hit (count 2). e finds a, c, d all at count 2 and must evict a, which reached 2
    # first; then c and d hit. Evicting c instead would miss on c, evicting d on d.
    a, b, c, d, e = 10, 11, 12, 13, 14
    res = _both(_seq([a, b, c, a, c, d, d, e, c, d]), "lfu", 3)
    assert (res.on_demand_fetches, res.cache_hits, res.evictions) == (5, 5, 2)
    assert sorted(res.resident.tolist()) == [2, 3, 4]  # vids of c, d, e


def test_set_associative_sets_are_independent():
    # Two vectors per set, 1 way per set: every alternation between two vectors of the
    # same set misses, between vectors of different sets hits after the first touches.
    from recsim.engine.settings import set_index

    trace = _seq(list(range(64)))
    keys = trace.dense().keys
    sets = set_index(keys, 8)
    same = [int(k) for k in keys if sets[k] == sets[0]][:2]
    other = next(int(k) for k in keys if sets[k] != sets[0])
    assert len(same) == 2
    pattern = _seq([same[0], same[1]] * 5 + [same[0], other] * 5)
    res = run_engine(pattern, "lru", capacity=8, ways=1)
    ref = reference_simulate(pattern, "lru", 8, 1)
    assert res.counts == ref
    # 10 alternating misses in one set; then same[0] misses once (it was evicted by
    # same[1]), other misses once, and the remaining 8 accesses hit
    assert (res.on_demand_fetches, res.cache_hits) == (12, 8)


def _rows(rows, batch_offsets=None, cardinality=None):
    rows = np.array(rows, np.int64)
    card = None if cardinality is None else [cardinality]
    return Trace.from_arrays(np.zeros(len(rows), np.int32), rows,
                             batch_offsets=batch_offsets, cardinalities=card)


def _counts(res, *names):
    return tuple(res.counts[k] for k in names)


PF_NAMES = ("on_demand_fetches", "late_prefetches", "prefetch_hits", "cache_hits",
            "prefetches_issued", "prefetches_useful", "prefetches_redundant",
            "prefetches_dropped", "compulsory_misses")


def test_next_n_sequential_scan_latency_0():
    # rows 0..8, next 2 on a miss: misses at 0, 3, 6 each prefetch the next two rows
    trace = _rows(range(9))
    for policy in ("lru", "fifo", "lfu"):
        res = _both(trace, policy, 16, prefetcher="next_n", prefetcher_params={"n": 2})
        assert _counts(res, *PF_NAMES) == (3, 0, 6, 0, 6, 6, 0, 0, 3)


def test_next_n_sequential_scan_latency_1_is_not_late():
    # a prefetch issued while serving access t is ready at t + latency: with latency 1
    # it is usable by access t + 1, so nothing is late
    trace = _rows(range(9))
    res = _both(trace, "lru", 16, prefetcher="next_n", prefetcher_params={"n": 2},
                prefetch_latency=1)
    assert _counts(res, *PF_NAMES) == (3, 0, 6, 0, 6, 6, 0, 0, 3)


def test_next_n_sequential_scan_latency_2():
    # t0 miss: issue 1, 2 (ready 2). t1: 1 late (a miss: triggers; 2 redundant, issue 3,
    # ready 3). t2: 2 prefetch hit. t3: 3 prefetch hit. t4 miss: issue 5, 6 (ready 6).
    # t5: late (6 redundant, issue 7). t6, t7: prefetch hits. t8 miss (no row 9, 10).
    trace = _rows(range(9))
    res = _both(trace, "lru", 16, prefetcher="next_n", prefetcher_params={"n": 2},
                prefetch_latency=2)
    assert _counts(res, *PF_NAMES) == (3, 2, 4, 0, 6, 6, 2, 0, 3)
    assert res.misses == 5 and res.hits == 4


def test_next_n_budget_per_batch():
    # budget 1 per batch of 3. t0 miss: issue 1, drop 2. t1 pf hit. t2 miss: drop 3, 4.
    # t3 (batch 2) miss: issue 4, drop 5. t4 pf hit. t5 miss: drop 6, 7.
    # t6 (batch 3) miss: issue 7, drop 8. t7 pf hit. t8 miss: no candidates.
    trace = _rows(range(9), batch_offsets=[0, 3, 6, 9])
    res = _both(trace, "lru", 16, prefetcher="next_n", prefetcher_params={"n": 2},
                prefetch_budget=1)
    assert _counts(res, *PF_NAMES) == (6, 0, 3, 0, 3, 3, 0, 7, 6)


def test_next_n_stays_inside_the_table_and_skips_absent_rows():
    # table 0 has rows 0..9 (cardinality 10), table 1 rows 0..4; rows 3, 9 of table 0
    # and 0 of table 1 occur. A miss on row 9 of table 0 must not prefetch table 1.
    trace = Trace.from_arrays([0, 0, 1, 0], [9, 3, 0, 3], cardinalities=[10, 5])
    res = _both(trace, "lru", 8, prefetcher="next_n", prefetcher_params={"n": 8})
    # row 9: nothing after it in table 0. row 3: rows 4..9 exist only as 9 -> redundant.
    # table 1 row 0: nothing else in table 1. row 3 again: cache hit.
    assert _counts(res, "on_demand_fetches", "cache_hits", "prefetches_issued",
                   "prefetches_redundant") == (3, 1, 0, 1)


def test_unused_prefetch_evicted():
    # LRU, 2 vectors, next 1. t0: 0 misses, prefetch 1. t1: 5 misses (evicts 0), its
    # prefetch of 6 evicts 1 unused. t2: 6 prefetch hit. t3: 1 misses (evicts 5); it is
    # not a compulsory miss: 1 has been in the buffer (recsim/plugin.py's definition).
    trace = _rows([0, 5, 6, 1], cardinality=100)
    res = _both(trace, "lru", 2, prefetcher="next_n", prefetcher_params={"n": 1})
    assert _counts(res, "on_demand_fetches", "compulsory_misses", "prefetch_hits",
                   "prefetches_issued", "prefetches_useful", "prefetches_unused",
                   "evictions") == (3, 2, 1, 2, 1, 1, 3)
    assert res.occupancy == 2


@pytest.mark.parametrize("window, expected", [
    # t0 5 misses: scan 3, (5), 9 -> issue 3, 9. t5 7 misses: scan 1, (9 resident).
    (3, (2, 3, 3, 3, 3)),
    # window 1: t0 -> 3. t3 9 misses -> scan 3 (resident). t5 7 misses -> 1.
    (1, (3, 2, 3, 2, 2)),
])
def test_oracle_by_hand(window, expected):
    trace = _rows([5, 3, 5, 9, 3, 7, 1, 9])
    res = _both(trace, "lru", 16, prefetcher="oracle",
                prefetcher_params={"n": 2, "window": window})
    assert _counts(res, "on_demand_fetches", "prefetch_hits", "cache_hits",
                   "prefetches_issued", "prefetches_useful") == expected
    assert res.prefetches_redundant == 0


# -- advice (prefetch lists from a model, issued per chunk with a lag) -----------------------

def _advice_lists(trace, chunk, lag, kind, rng, priority=False):
    """CSR prefetch lists per chunk: random vids, or the vids chunk ``k + lag`` will use;
    with ``priority``, also a random priority per access (which no modelled policy reads)."""
    from recsim.engine.replay import Advice

    vid = trace.dense().vid
    n_chunks = -(-trace.n_accesses // chunk)
    lists = []
    for k in range(n_chunks):
        if kind == "random":
            lists.append(rng.integers(0, trace.n_unique, rng.integers(0, 12)))
        else:
            lo = (k + lag) * chunk
            lists.append(np.unique(vid[lo:lo + chunk])[: rng.integers(0, 12)])
    ptr = np.concatenate(([0], np.cumsum([len(x) for x in lists])))
    prio = rng.random(trace.n_accesses) if priority else None
    return Advice(prefetch_ptr=ptr, prefetch_vids=np.concatenate(lists).astype(np.int64),
                  chunk=chunk, lag=lag, priority=prio)


@pytest.mark.parametrize("geometry", PF_GEOMETRIES, ids=str)
@pytest.mark.parametrize("chunk, lag, latency, budget, prefetcher, priority", [
    (16, 1, 0, None, "none", False), (50, 0, 3, None, "none", True),
    (32, 2, 1, 5, "none", False), (16, 1, 2, 3, "next_n", True),
    (64, 1, 0, None, "oracle", False)])
@pytest.mark.parametrize("kind", ["random", "future"])
@pytest.mark.parametrize("pol", POLICIES, ids=_pid)
def test_advice_prefetch_matches_reference(geometry, chunk, lag, latency, budget, prefetcher,
                                           priority, kind, pol):
    policy, bypass = pol
    capacity, ways = geometry
    trace = make_trace("zipf3")
    advice = _advice_lists(trace, chunk, lag, kind, np.random.default_rng(chunk + lag),
                           priority)
    kw = dict(capacity=capacity, ways=ways, prefetcher=prefetcher, prefetch_latency=latency,
              prefetch_budget=budget)
    res = run_engine(trace, policy, bypass, advice=advice, **kw)
    ref = reference_replay(trace, policy, bypass=bypass, advice=advice, **kw)
    assert res.counts == ref.counts
    assert res.prefetches_issued > 0
    if policy != "belady":
        assert res.resident.tolist() == ref.resident


@pytest.mark.parametrize("lag, latency, expected", [
    # lists: chunk 0 -> rows 2, 3; chunk 1 -> rows 4, 5; chunk 2 -> row 0 (chunks of 2).
    # lag 1: [2, 3] at t2, [4, 5] at t4; the list of chunk 2 would start at t6 (none).
    (1, 0, (2, 0, 4, 4, 0)),
    # an advised prefetch is issued before the access of its time: latency 1 makes the
    # first access of each list late
    (1, 1, (2, 2, 2, 4, 0)),
    # lag 0: [2, 3] at t0, [4, 5] at t2, [0] at t4 (resident: redundant)
    (0, 0, (2, 0, 4, 4, 1)),
])
def test_advice_by_hand(lag, latency, expected):
    from recsim.engine.replay import Advice

    trace = _rows(range(6))
    advice = Advice(prefetch_ptr=np.array([0, 2, 4, 5]),
                    prefetch_vids=np.array([2, 3, 4, 5, 0]), chunk=2, lag=lag)
    res = run_engine(trace, "lru", capacity=16, ways=0, advice=advice,
                     prefetch_latency=latency)
    ref = reference_simulate(trace, "lru", 16, 0, prefetch_latency=latency)
    assert _counts(res, "on_demand_fetches", "late_prefetches", "prefetch_hits",
                   "prefetches_issued", "prefetches_redundant") == expected
    assert reference_replay(trace, "lru", 16, 0, prefetch_latency=latency,
                            advice=advice).counts == res.counts
    assert ref["on_demand_fetches"] == 6  # and without advice, everything misses
