"""fbgemm_lru / fbgemm_lfu: FBGEMM's TBE cache batch by batch. Checked against FBGEMM's
CPU build where it has the piece (cache_hash_size_cumsum, get_unique_indices, the counter
layout, DEFAULT_ASSOC), against a kernel-by-kernel Python model of its source
(tests/reference_fbgemm.py) and against hand cases read from the source."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recsim import simulate
from recsim.errors import ConfigError
from recsim.policies._fbgemm import (ASSOC, COUNTERS, cache_slot, hash_size_cumsum,
                                     linear_indices, n_sets, sort_ways)
from recsim.traces import Trace
from recsim.traces.trace import dedup_batches
import reference_fbgemm as ref


def _trace(seed, n=3000, batch=60, tables=3, rows=300, alpha=1.3):
    rng = np.random.default_rng(seed)
    table = rng.integers(0, tables, n).astype(np.int32)
    row = (rng.zipf(alpha, n) - 1) % rows
    return Trace.from_arrays(table, row.astype(np.int64), np.arange(0, n + 1, batch),
                             [rows + 7 * t for t in range(tables)])


def _reference(trace, capacity, lfu):
    total = int(trace.cardinalities.sum())
    sets = (int(total * (capacity / total)) + 31) // 32 or 1  # _apply_cache_state
    cumsum = hash_size_cumsum(trace.cardinalities)
    linear = cumsum[np.asarray(trace.table)] + np.asarray(trace.row)
    cache = ref.FbgemmCache(sets, lfu)
    bo = trace.batch_offsets
    per_batch = [cache.prefetch(linear[lo:hi].tolist()) for lo, hi in zip(bo[:-1], bo[1:])]
    return sets, np.array(per_batch), cache.resident()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 4), min_size=32, max_size=32))
def test_sort_ways_is_the_warp_bitonic_network(costs):
    cost, way = np.array(costs, np.int64), np.arange(32, dtype=np.int64)
    sort_ways(cost, way)
    assert way.tolist() == ref.warp_bitonic_sort(costs)  # ties in the network's order
    assert cost.tolist() == sorted(costs)


def test_cache_slot_is_murmur3_finaliser_modulo_sets():
    rng = np.random.default_rng(1)
    values = np.concatenate(([0, 1, 2**31 - 1, 2**40 + 3], rng.integers(0, 2**62, 200)))
    for sets in (1, 7, 1000, 2**24 - 1):
        assert cache_slot(values, sets).tolist() == [ref.cache_slot(int(v), sets)
                                                     for v in values]
    assert cache_slot(np.array([0]), 5)[0] == 0  # the finaliser maps 0 to 0


def test_sets_as_fbgemm_sizes_them_from_the_load_factor():
    assert n_sets(1000, 0.1) == 4  # (int(100) + 31) // 32
    assert n_sets(1000, 0.001) == 1  # (1 + 31) // 32
    assert n_sets(10, 0.01) == 1  # 0 sets -> 1
    trace = _trace(0)
    r = simulate(trace, "fbgemm_lru", capacity=100, ways=32)
    assert (r.sets, r.capacity) == (4, 128)  # FBGEMM rounds up; recsim's own LRU down
    with pytest.raises(ConfigError, match="32-way"):
        simulate(trace, "fbgemm_lru", capacity=100, ways=16)
    with pytest.raises(ConfigError, match="whole batches"):
        simulate(trace, "fbgemm_lfu", capacity=100, prefetcher="next_n")


def test_layouts_equal_fbgemm_cpu_build():
    pytest.importorskip("fbgemm_gpu", reason="FBGEMM not installed (the torchrec extra)")
    import torch
    from fbgemm_gpu.split_table_batched_embeddings_ops_common import EmbeddingLocation
    from fbgemm_gpu.split_table_batched_embeddings_ops_training import DEFAULT_ASSOC
    from fbgemm_gpu.tbe.cache.cache_config import CacheState, UVMCacheStatsIndex

    rows = [300, 5, 1000, 64]
    state = CacheState.construct(rows, [EmbeddingLocation.MANAGED_CACHING] * 4, [0, 1, 2, 3])
    assert hash_size_cumsum(rows).tolist() == state.cache_hash_size_cumsum
    assert ASSOC == DEFAULT_ASSOC
    assert list(COUNTERS) == [i.name.removeprefix("num_") if i.name != "num_calls"
                              else i.name for i in UVMCacheStatsIndex]
    # A batch's unique indices and their counts, as get_unique_indices finds them.
    trace = _trace(2)
    dedup = dedup_batches(trace)
    dense = trace.dense()
    linear = linear_indices(dense.keys, trace.table_base, trace.cardinalities)
    for b in (0, 7):
        lo, hi = trace.batch_offsets[b], trace.batch_offsets[b + 1]
        got = linear[dense.vid[lo:hi]]
        uniq, length, count = torch.ops.fbgemm.get_unique_indices(
            torch.from_numpy(got), int(linear.max()) + 1, True)
        n = int(length[0])
        dlo, dhi = dedup.batch_offsets[b], dedup.batch_offsets[b + 1]
        mine = np.sort(linear[dedup.dense().vid[dlo:dhi]])
        assert uniq[:n].tolist() == mine.tolist()
        assert count[:n].tolist() == [int((got == i).sum()) for i in mine]


@pytest.mark.parametrize("policy", ["fbgemm_lru", "fbgemm_lfu"])
@pytest.mark.parametrize("seed,capacity,batch", [(0, 40, 60), (1, 100, 60), (2, 300, 60),
                                                (3, 40, 300)])
def test_replay_equals_kernel_by_kernel_reference(policy, seed, capacity, batch):
    trace = _trace(seed, batch=batch)
    sets, per_batch, resident = _reference(trace, capacity, policy == "fbgemm_lfu")
    r = simulate(trace, policy, capacity=capacity, ways=32)
    assert r.sets == sets
    got = np.stack([r.batch_counters[name] for name in COUNTERS], axis=1)
    np.testing.assert_array_equal(got, per_batch)
    linear = linear_indices(trace.dense().keys, trace.table_base, trace.cardinalities)
    assert set(linear[r.resident].tolist()) == resident
    c = r.counts
    assert c["accesses"] == per_batch[:, 2].sum() and r.misses == per_batch[:, 3].sum()
    assert c["bypasses"] == per_batch[:, 4].sum()
    if batch == 300:  # batches with more misses in a set than ways: conflicts
        assert per_batch[:, 4].sum() > 0 and per_batch[:, 5].sum() >= per_batch[:, 4].sum()


def _one_set(policy, batches):
    """Replay row ids of table 0 (1000 rows), one batch per list, in one set of 32 ways;
    returns the result and the rows resident at the end."""
    rows = np.concatenate(batches).astype(np.int64)
    offsets = np.concatenate(([0], np.cumsum([len(b) for b in batches])))
    trace = Trace.from_arrays(np.zeros(len(rows), np.int32), rows, offsets, [1000])
    r = simulate(trace, policy, capacity=32, ways=32)
    return r, set(trace.dense().keys[r.resident].tolist())


def test_lru_hand_cases_locked_rows_and_batch_timestamps():
    # One set of 32 ways (capacity 32 of 1000 rows). Batch 1 fills it; batch 2 looks up
    # all 32 again, twice, and a new row: every way carries batch 2's timestamp, so the
    # new row is a conflict miss and both its lookups miss (lru_cache_insert_byte_kernel).
    full = list(range(32))
    r, _ = _one_set("fbgemm_lru", [full, full + full + [500, 500]])
    assert [r.batch_counters[k].tolist() for k in COUNTERS] == [
        [1, 1], [32, 66], [32, 33], [32, 1], [0, 1], [0, 2]]
    # Batch 2 uses rows 0-15 only: the new row evicts one of 16-31 (stamped by batch 1),
    # never a row of the current batch; batch 3 finds rows 0-15 still there.
    r, resident = _one_set("fbgemm_lru", [full, full[:16] + [500], full[:16]])
    assert r.batch_counters["unique_misses"].tolist() == [32, 1, 0]
    assert r.counts["evictions"] == 1 and 500 in resident


def test_lfu_hand_cases_counts_and_ties():
    full = list(range(32))
    # Rows 0-31 looked up twice in batch 1 (count 2 each): row 500 with count 1 is not
    # inserted (a way's count 2 > 1); with count 2 in batch 3 (1 + 1) it is: equal counts
    # replace (lfu_cache_insert_byte_kernel inserts unless the way's count is greater).
    r, resident = _one_set("fbgemm_lfu", [full + full, [500], [500]])
    assert r.batch_counters["conflict_unique_misses"].tolist() == [0, 1, 0]
    assert r.batch_counters["unique_misses"].tolist() == [32, 1, 1]
    assert 500 in resident and r.counts["evictions"] == 1
    # Rows the batch uses are not locked: rows 0-31 have count 3 but row 5 count 1; batch
    # 2 finds row 5 (count 2) and misses row 700 (count 2), which takes row 5's way: row
    # 5's lookup is then a conflict miss.
    first = [i for i in full * 3 if i != 5] + [5]
    r, resident = _one_set("fbgemm_lfu", [first, [5, 700, 700]])
    assert [r.batch_counters[k].tolist()[1] for k in COUNTERS] == [1, 3, 2, 1, 0, 1]
    assert 700 in resident and 5 not in resident


def test_gpu_counter_check_bookkeeping_on_a_model_of_fbgemm(monkeypatch):
    """counter_check's requests, per-batch differences and names, with FBGEMM's module
    replaced by the kernel-by-kernel model (the GPU test compares the real one)."""
    from recsim.harness import fbgemm
    from recsim.harness.requests import linearize, parse_miss_counter, parse_uvm_stats

    class ModelTBE:
        def __init__(self, rows, dim, capacity, samples, algorithm, dense):
            total = sum(rows)
            self.lfu, self.samples, self.cumsum = algorithm == "lfu", samples, \
                hash_size_cumsum(rows)
            self.cache = ref.FbgemmCache((int(total * (capacity / total)) + 31) // 32, self.lfu)
            self.miss, self.uvm = [0] * 4, [0] * 6

        def counters(self):
            return parse_miss_counter(self.miss)

        def uvm_stats(self):
            return parse_uvm_stats(self.uvm)

        def pooled(self, request):
            c = self.cache.prefetch(linearize(request.rows, request.offsets, self.cumsum,
                                              self.samples).tolist())
            self.miss = [a + b for a, b in zip(self.miss, [c[3] > 0, c[3], c[2], c[1]])]
            self.uvm = [a + b for a, b in zip(self.uvm, [0] * 5 + c[5:] if self.lfu else c)]

    monkeypatch.setattr(fbgemm, "FbgemmEmbeddingBags", ModelTBE)
    for algorithm in ("lru", "lfu"):
        check = fbgemm.counter_check(_trace(3, batch=300), 40, algorithm, samples=4)
        assert check["mismatches"] == [] and len(check["fbgemm"]["unique_misses"]) == 10
        assert sum(check["fbgemm"]["conflict_misses"]) > 0
