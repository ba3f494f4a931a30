"""Engine contract: geometry, capacity forms, advice inputs, timing, errors."""

import numpy as np
import pytest

import recsim
from recsim.engine.kernels import cache_dir, kernel_files
from recsim.engine.replay import Advice
from recsim.engine.settings import resolve_capacity, resolve_geometry
from recsim.errors import ConfigError
from recsim.traces import Trace


def seq(rows, tables=None, batch_offsets=None):
    rows = np.asarray(rows)
    tables = np.zeros(len(rows), np.int32) if tables is None else tables
    return Trace.from_arrays(tables, rows, batch_offsets)


@pytest.mark.parametrize("given, expected", [(100, 100), (0.1, 50), ("10%", 50), ("0.5", 250),
                                             ("7", 7), (1.0, 500), (1e-9, 1)])
def test_capacity_forms(given, expected):
    assert resolve_capacity(given, 500) == expected


@pytest.mark.parametrize("bad", [0, -3, 1.5, 0.0, "abc", True, None, "-1%"])
def test_bad_capacity_is_a_clear_error(bad):
    with pytest.raises(ConfigError, match="capacity"):
        resolve_capacity(bad, 500)


def test_geometry():
    assert resolve_geometry(100, 0) == (100, 1, 100)
    assert resolve_geometry(100, 100) == (100, 1, 100)
    assert resolve_geometry(100, 32) == (96, 3, 32)
    assert resolve_geometry(10, 32) == (10, 1, 10)
    with pytest.raises(ConfigError, match="ways"):
        resolve_geometry(100, -1)


def test_textbook_sequence_fully_associative():
    # 7 0 1 2 0 3 0 4 2 3 0 3 2 with 3 frames (Silberschatz): LRU 10 faults... without
    # the trailing "1 2 0 1 7 0 1" tail: 9 misses for LRU, 7 for OPT, 10 for FIFO.
    t = seq([7, 0, 1, 2, 0, 3, 0, 4, 2, 3, 0, 3, 2])
    assert recsim.simulate(t, "lru", 3, ways=0).misses == 9
    assert recsim.simulate(t, "fifo", 3, ways=0).misses == 10
    assert recsim.simulate(t, "belady", 3, ways=0).misses == 7


def test_unknown_policy_and_parameter():
    t = seq([1, 2, 3])
    with pytest.raises(ConfigError, match="unknown policy 'lruu'; valid: .*lru"):
        recsim.simulate(t, "lruu", 2)
    with pytest.raises(ConfigError, match="unknown prefetcher 'nope'"):
        recsim.simulate(t, "lru", 2, prefetcher="nope")
    with pytest.raises(ConfigError, match="unknown parameter 'bypas'; valid: bypass"):
        recsim.simulate(t, "belady", 2, policy_params={"bypas": True})
    with pytest.raises(ConfigError, match="prefetch_latency"):
        recsim.simulate(t, "lru", 2, prefetch_latency=-1)
    with pytest.raises(ConfigError, match="parameter 'n'"):
        recsim.simulate(t, "lru", 2, prefetcher="next_n", prefetcher_params={"n": 0})


def test_prefetch_advice_is_applied_with_its_lag():
    # Accesses 0..7 of distinct vectors; chunks of 2 accesses. Advice for chunk 0 names
    # the vector of access 5; with lag 1 it is issued at t=2 and access 5 hits.
    t = seq(np.arange(8))
    advice = Advice(prefetch_ptr=[0, 1, 1, 1, 1], prefetch_vids=[5], chunk=2, lag=1)
    r = recsim.simulate(t, "lru", 8, ways=0, advice=advice)
    assert (r.prefetch_hits, r.prefetches_issued, r.on_demand_fetches) == (1, 1, 7)
    # With lag 3 it is issued at t=6, after access 5: no hit, the prefetch is redundant? No:
    # vector 5 is resident since t=5, so the prefetch is redundant and nothing is issued.
    r = recsim.simulate(t, "lru", 8, ways=0, advice=Advice(**{**advice.__dict__, "lag": 3}))
    assert (r.prefetch_hits, r.prefetches_issued, r.prefetches_redundant) == (0, 0, 1)


def test_bad_advice_is_a_clear_error():
    t = seq(np.arange(8))
    with pytest.raises(ConfigError, match="advice.priority"):
        recsim.simulate(t, "lru", 4, advice=Advice(priority=np.zeros(3)))
    with pytest.raises(ConfigError, match="prefetch_vids"):
        recsim.simulate(t, "lru", 4, advice=Advice(prefetch_ptr=[0, 1], prefetch_vids=[99],
                                                   chunk=4))


def test_late_prefetches_with_latency():
    # Sequential rows; next_n (n=2) prefetches rows r+1, r+2 on each miss. Without latency
    # every third access misses (0, 3, 6, ...). With latency 10 each prefetched row is
    # still in flight when used: a late prefetch, a miss, which triggers the next prefetch.
    t = seq(np.arange(100))
    fast = recsim.simulate(t, "lru", 50, ways=0, prefetcher="next_n",
                           prefetcher_params={"n": 2})
    slow = recsim.simulate(t, "lru", 50, ways=0, prefetcher="next_n",
                           prefetcher_params={"n": 2}, prefetch_latency=10)
    assert (fast.misses, fast.prefetch_hits, fast.late_prefetches) == (34, 66, 0)
    assert (slow.misses, slow.prefetch_hits, slow.late_prefetches) == (100, 0, 99)
    assert slow.on_demand_fetches == 1 and slow.prefetches_useful == 99


def test_merged_misses_wait_for_the_demand_fetch():
    # A misses at 0 and arrives at 2: the access at 1 is a merged miss, the one at 2 a hit.
    t = seq([5, 5, 5, 7, 7])
    r = recsim.simulate(t, "lru", 4, ways=0, fetch_latency=2)
    assert (r.on_demand_fetches, r.merged_misses, r.cache_hits, r.misses) == (2, 2, 1, 4)
    assert recsim.simulate(t, "lru", 4, ways=0).merged_misses == 0


def test_pollution_miss_is_a_refetch_of_a_vector_a_prefetch_evicted():
    # LRU, 2 slots, next_n n=1 on misses. t2: row 0 misses; prefetching row 1 evicts row 5
    # (a prefetch fill), so row 5's miss at t3 is a pollution miss. Row 0's miss at t2 is
    # not: a demand fill evicted it at t1.
    t = seq([0, 5, 0, 5, 1])
    r = recsim.simulate(t, "lru", 2, ways=0, prefetcher="next_n", prefetcher_params={"n": 1})
    assert r.pollution_misses == 1
    assert r.on_demand_fetches - r.compulsory_misses == 2


def test_max_outstanding_drops_prefetches_in_flight_over_the_bound():
    # At most 2 prefetches in flight (latency 10). t0: row 0 misses, next_n names rows 1-4:
    # 2 issued, 2 dropped. Rows 51-54 and 61-64 are not in the trace. t3, t4: rows 1 and 2
    # are late prefetches (misses) naming rows 2-4 and 3-4, all dropped while the first two
    # are in flight; t5: row 3 misses and names row 4, dropped.
    t = seq([0, 50, 60, 1, 2, 3, 4])
    r = recsim.simulate(t, "lru", 20, ways=0, prefetcher="next_n",
                        prefetcher_params={"n": 4}, prefetch_latency=10, max_outstanding=2)
    assert (r.prefetches_issued, r.prefetches_dropped) == (2, 2 + 3 + 2 + 1)
    assert (r.late_prefetches, r.on_demand_fetches) == (2, 5)
    free = recsim.simulate(t, "lru", 20, ways=0, prefetcher="next_n",
                           prefetcher_params={"n": 4}, prefetch_latency=10)
    assert (free.prefetches_issued, free.prefetches_dropped) == (4, 0)


def test_prefetch_budget_per_batch():
    t = seq(np.arange(100), batch_offsets=np.arange(0, 101, 10))
    capped = recsim.simulate(t, "lru", 50, ways=0, prefetcher="next_n",
                             prefetcher_params={"n": 4}, prefetch_budget=3)
    assert capped.prefetches_issued <= 3 * 10
    assert capped.prefetches_dropped > 0


def test_per_table_and_window_series():
    rows = np.array([0, 1, 0, 1, 0, 1, 5, 6])
    t = seq(rows, tables=np.array([0, 0, 0, 0, 1, 1, 1, 1], np.int32))
    r = recsim.simulate(t, "lru", 4, ways=0, per_table=True, window=4)
    assert r.per_table["accesses"] == [4, 4]
    assert r.per_table["hits"] == [2, 0]
    assert r.window_hit_rate == [0.5, 0.0]


def test_replay_loop_is_generated_and_cached(tmp_path, monkeypatch):
    t = seq([1, 2, 1])
    r = recsim.simulate(t, "fifo", 2)
    assert list(cache_dir().glob("replay_fifo__none_*.py"))
    assert r.timings["compile_s"] >= 0 and r.timings["replay_s"] > 0
    assert recsim.simulate(t, "fifo", 2).timings["compile_s"] < 0.5


def test_kernel_fingerprint_covers_the_files_a_loop_is_built_from():
    names = {f"{p.parent.name}/{p.name}"
             for p in kernel_files("recsim.policies.arc", "recsim.prefetchers.mab")}
    assert {"engine/loop.py", "recsim/plugin.py", "engine/metrics.py", "engine/preload.py",
            "policies/arc.py", "policies/_ghosts.py", "policies/_lists.py",
            "prefetchers/mab.py", "prefetchers/next_n.py", "prefetchers/stride.py"} <= names
    assert not names & {"engine/replay.py", "engine/kernels.py", "policies/lru.py",
                        "prefetchers/none.py", "recsim/cli.py"}


def test_simulate_accepts_a_path(tmp_path):
    path = recsim.save_trace(seq([3, 1, 3, 2, 3]), tmp_path / "t.trace")
    r = recsim.simulate(path, "lru", 2, ways=0)
    assert (r.hits, r.misses, r.compulsory_misses) == (2, 3, 3)
    assert r.to_dict()["hit_rate"] == pytest.approx(0.4)


def test_table_of_vid():
    from recsim.engine.replay import ReplayContext

    t = seq(np.array([5, 0, 2, 5]), tables=np.array([1, 0, 1, 0], np.int32))
    d = t.dense()
    ctx = ReplayContext(t, d.vid, d.keys, 2, 1, 2)
    assert ctx.table_of_vid()[d.vid].tolist() == [1, 0, 1, 0]


def test_chunked_replay_equals_single_shot_on_10m_accesses(tmp_path):
    """Streaming a 10M-access on-disk trace through the loop 1M accesses at a time gives
    the counts and final contents of one call."""
    from recsim.traces import zipf

    trace = zipf.generate(10_000_000, tables=4, rows=250_000, alpha=0.9, seed=5,
                          path=tmp_path / "z.trace")
    one = recsim.simulate(trace, "lru", 0.1, 32)
    streamed = recsim.simulate(trace, "lru", 0.1, 32, chunk=1_000_000)
    assert streamed.counts == one.counts and streamed.hit_rate == one.hit_rate
    assert streamed.resident.tolist() == one.resident.tolist()


@pytest.mark.parametrize("policy, prefetcher, ways", [
    ("srrip", "none", 8), ("belady", "next_n", 0), ("lru", "bingo", 4), ("arc", "oracle", 0)])
def test_chunked_replay_with_time_reading_plugins(policy, prefetcher, ways):
    """Odd chunk sizes, policies and prefetchers that read the trace by time (Belady's next
    use, the oracle's lookahead, Bingo's preloads): the same counts."""
    rng = np.random.default_rng(6)
    trace = Trace.from_arrays(rng.integers(0, 2, 20_000), rng.zipf(1.2, 20_000) % 3000)
    kw = dict(capacity=0.05, ways=ways, prefetcher=prefetcher, prefetch_latency=2)
    one = recsim.simulate(trace, policy, **kw)
    for chunk in (1, 37, 19_999):
        assert recsim.simulate(trace, policy, chunk=chunk, **kw).counts == one.counts


def test_chunked_replay_refuses_what_needs_one_pass():
    trace = Trace.from_arrays([0, 0, 0], [1, 2, 1])
    for bad in (0, -3, 1.5, True):
        with pytest.raises(ConfigError, match="chunk: expected a positive number"):
            recsim.simulate(trace, "lru", 2, 0, chunk=bad)
    with pytest.raises(ConfigError, match="chunked replay is for plain replays only"):
        recsim.simulate(trace, "lru", 2, 0, chunk=2, log_hits=True)


@pytest.mark.parametrize("policy", ["lru", "belady", "fbgemm_lru"])
def test_dedup_batch_counts_a_repeated_row_once(policy):
    rng = np.random.default_rng(5)
    n, batch = 2000, 50
    table, row = rng.integers(0, 2, n).astype(np.int32), rng.integers(0, 60, n)
    trace = Trace.from_arrays(table, row, np.arange(0, n + 1, batch), [60, 60])
    keep = []  # each batch's first lookup of each (table, row), by hand
    for lo in range(0, n, batch):
        seen = set()
        for i in range(lo, lo + batch):
            if (table[i], row[i]) not in seen:
                seen.add((table[i], row[i]))
                keep.append(i)
    sizes = np.bincount(np.array(keep) // batch)
    by_hand = Trace.from_arrays(table[keep], row[keep],
                                np.concatenate(([0], np.cumsum(sizes))), [60, 60])
    got = recsim.simulate(trace, policy, capacity=40, ways=8 if policy != "fbgemm_lru" else 32,
                   dedup="batch")
    want = recsim.simulate(by_hand, policy, capacity=40, ways=8 if policy != "fbgemm_lru" else 32)
    assert got.counts == want.counts and got.counts["accesses"] == len(keep) < n
    with pytest.raises(ConfigError, match="dedup"):
        recsim.simulate(trace, policy, capacity=40, dedup="table")


@pytest.mark.parametrize("policy, prefetcher, ways", [("lru", "none", 4), ("srrip", "next_n", 0),
                                                      ("lru", "stride", 4)])
def test_eval_after_counts_only_the_accesses_after_it(policy, prefetcher, ways):
    """The counts from access N on equal the whole replay's less those of its first N (a
    plain loop split at N, a general one marking N, in chunks too), and hits agree with
    the hit log."""
    rng = np.random.default_rng(4)
    trace = Trace.from_arrays(rng.integers(0, 3, 3000), rng.zipf(1.3, 3000) % 400,
                              np.arange(0, 3001, 100))
    kw = dict(policy=policy, capacity=40, ways=ways, prefetcher=prefetcher)
    whole = recsim.simulate(trace, log_hits=True, **kw)
    plain = recsim.simulate(trace, eval_after=1234, **kw)
    general = recsim.simulate(trace, eval_after=1234, log_hits=True, per_table=True,
                              window=1000, **kw)
    chunked = recsim.simulate(trace, eval_after=1234, chunk=500, **kw)
    assert plain.counts == general.counts == chunked.counts
    assert plain.accesses == 3000 - 1234 and plain.hits == whole.hit_log[1234:].sum()
    assert plain.hits + plain.misses == plain.accesses
    assert general.per_table["accesses"] == np.bincount(trace.table[1234:], minlength=3).tolist()
    assert len(general.window_hit_rate) == 2 and plain.params["eval_after"] == 1234
    assert recsim.simulate(trace, eval_after=0, **kw).counts == whole.counts
    with pytest.raises(ConfigError, match="eval_after: expected fewer than the trace's 3,000"):
        recsim.simulate(trace, eval_after=3000, **kw)
