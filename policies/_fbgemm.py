"""FBGEMM's table-batched-embedding (TBE) cache, batch by batch: what ``fbgemm_lru`` and
``fbgemm_lfu`` share.

Read from FBGEMM v1.8.0 (tag commit ``99a76f4ed785d2d00579eae5fd45440a1242d657``), the
inference module ``IntNBitTableBatchedEmbeddingBagsCodegen`` with every table in
``MANAGED_CACHING``: ``prefetch`` -> ``lru_cache_populate_byte`` / ``lfu_cache_populate_byte``
-> ``lxu_cache_lookup`` (``fbgemm_gpu/src/split_embeddings_cache/``). Written here from
that reading; no FBGEMM code is copied.

- **Linear index**: ``cache_hash_size_cumsum[table] + row`` over the trace's tables
  (``CacheState.construct``; every table cached).
- **Sets**: ``(int(total_rows * load_factor) + 31) // 32`` (``_apply_cache_state``), with
  ``load_factor = capacity / total_rows``; a row's set is ``cache_slot``: MurmurHash3's
  64-bit finaliser of the linear index modulo the number of sets (``common.cuh``).
- **32 ways** (``DEFAULT_ASSOC``; 64 on ROCm, not modelled).
- **Per batch** (timestamp = batch number + 1; ``lxu_state`` starts at 0): the batch's
  indices are made unique and sorted (``get_unique_indices``); each unique row found in
  its set is a hit (LRU: its timestamp becomes the batch's); the misses are grouped by set
  (a stable radix sort: LRU keeps ascending index order, LFU orders by descending count,
  ties by index); each set's 32 ways are sorted by cost (LRU timestamp; LFU the count of
  the row held, -1 if empty) with the warp's bitonic network (:func:`sort_ways`, whose
  tie order decides which of equally old rows goes), and the ``l``-th miss goes into the
  ``l``-th way until LRU meets a way stamped with this batch (a row the batch uses:
  locked) or LFU meets a way whose count exceeds the miss's. Misses left over are
  *conflict* misses: served from host memory, not cached.
- **LFU counts** (``lfu_cache_populate_byte``): one counter per row for the whole run
  (not reset on eviction), incremented by the row's number of lookups in the batch
  before any lookup or insert of that batch.

Counters (``UVMCacheStatsIndex``), per batch and in total: ``num_calls`` (1 per batch),
``requested_indices`` (lookups), ``unique_indices``, ``unique_misses`` (unique rows not
found), ``conflict_unique_misses`` (unique misses not inserted), ``conflict_misses``
(lookups not in the cache after the inserts). FBGEMM's LFU path fills only the last one
(``lfu_cache_populate_byte`` gathers no statistics); recsim reports all six by the same
definitions for both. The engine's counts are per unique row and batch: ``accesses`` =
unique indices, ``cache_hits`` = found, ``on_demand_fetches`` = unique misses,
``bypasses`` = conflict unique misses.

Deviations: FBGEMM shrinks the cache when GPU memory is short (not modelled); rows of
pruned or uncached tables (the sentinel index) do not occur in traces.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
from numba import njit

from recsim.engine import metrics
from recsim.errors import ConfigError
from recsim.plugin import BatchReplay

FBGEMM_COMMIT = "99a76f4ed785d2d00579eae5fd45440a1242d657"  # tag v1.8.0
ASSOC = 32  # DEFAULT_ASSOC
LFU_COUNTER_BITS = 40  # kLFUCounterBits: the count's share of LFU's sort key
COUNTERS = ("num_calls", "requested_indices", "unique_indices", "unique_misses",
            "conflict_unique_misses", "conflict_misses")

State = namedtuple("State", "sets set_of cache_vid lru lfu slot_of")
MAX_LFU_SETS = 2**24 - 1  # LFU packs the set into 24 bits of its sort key


def hash_size_cumsum(cardinalities) -> np.ndarray:
    """``cache_hash_size_cumsum`` with every table cached: ``T + 1`` entries, the last the
    total cache hash size."""
    return np.concatenate(([0], np.cumsum(np.asarray(cardinalities, np.int64))))


def linear_indices(keys: np.ndarray, table_base: np.ndarray, cardinalities) -> np.ndarray:
    """FBGEMM's linear cache index of each vector (recsim key -> table, row)."""
    table = np.searchsorted(table_base, keys, side="right") - 1
    return hash_size_cumsum(cardinalities)[table] + (keys - table_base[table])


def n_sets(total_rows: int, load_factor: float, assoc: int = ASSOC) -> int:
    """Sets of a cache of ``load_factor`` x ``total_rows`` rows, as FBGEMM sizes it."""
    sets = (int(total_rows * load_factor) + assoc - 1) // assoc
    return 1 if sets == 0 else sets


def cache_slot(linear: np.ndarray, sets: int) -> np.ndarray:
    """``cache_slot``: MurmurHash3's 64-bit finaliser of the index, modulo ``sets``."""
    h = np.asarray(linear, np.int64).astype(np.uint64)
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xFF51AFD7ED558CCD)
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xC4CEB9FE1A85EC53)
    h ^= h >> np.uint64(33)
    return (h % np.uint64(np.uint32(sets))).astype(np.int64)


@njit(cache=True)
def sort_ways(cost, way):
    """Sort 32 ways by ascending cost in place, as the warp's bitonic sort does
    (``BitonicSort<..., Dir=1, Comparator>``: a lane pair exchanges only when the lower
    lane's cost is strictly greater, so equal costs keep the network's order)."""
    half = 1
    while half < ASSOC:
        stride = half
        mask = 2 * half - 1  # the first exchange of each merge reverses (i <-> i ^ mask)
        while stride > 0:
            for i in range(ASSOC):
                if i & stride == 0:
                    j = i ^ mask
                    if cost[i] > cost[j]:
                        cost[i], cost[j] = cost[j], cost[i]
                        way[i], way[j] = way[j], way[i]
            stride >>= 1
            mask = stride
        half <<= 1


@njit(cache=True, nogil=True)  # a sampled curve's sizes replay in threads
def _replay(vids, batch_offsets, st, lfu_mode, per_batch, counts):
    """Replay every batch (see the module docstring); ``st`` is a :data:`State`."""
    set_of, cache_vid, lru, lfu, slot_of = st.set_of, st.cache_vid, st.lru, st.lfu, st.slot_of
    n_vids = slot_of.shape[0]
    stamp = np.full(n_vids, -1, np.int64)
    mult = np.zeros(n_vids, np.int64)
    longest = 0
    for b in range(batch_offsets.shape[0] - 1):
        longest = max(longest, batch_offsets[b + 1] - batch_offsets[b])
    uniq = np.empty(longest, np.int64)
    miss = np.empty(longest, np.int64)
    key = np.empty(longest, np.int64)
    cost = np.empty(ASSOC, np.int64)
    way = np.empty(ASSOC, np.int64)
    top = (np.int64(1) << LFU_COUNTER_BITS) - 1
    for b in range(batch_offsets.shape[0] - 1):
        ts = b + 1
        n_u = 0
        for i in range(batch_offsets[b], batch_offsets[b + 1]):
            v = vids[i]
            if stamp[v] != b:
                stamp[v] = b
                mult[v] = 0
                uniq[n_u] = v
                n_u += 1
            mult[v] += 1
        rows = np.sort(uniq[:n_u])  # vids ascend with the linear index
        if lfu_mode:
            for v in rows:
                lfu[v] += mult[v]
        n_m = 0
        for v in rows:
            slot = slot_of[v]
            if slot >= 0:
                counts[metrics.CACHE_HITS] += 1
                if not lfu_mode:
                    lru[slot] = ts
            else:
                if slot == -1:
                    counts[metrics.COMPULSORY_MISSES] += 1
                miss[n_m] = v
                key[n_m] = (set_of[v] << LFU_COUNTER_BITS | top - lfu[v]) if lfu_mode \
                    else set_of[v]
                n_m += 1
        order = np.argsort(key[:n_m], kind="mergesort")  # stable, as the radix sort
        conflict_unique = 0
        j = 0
        while j < n_m:
            s = set_of[miss[order[j]]]
            end = j + 1
            while end < n_m and set_of[miss[order[end]]] == s:
                end += 1
            for w in range(ASSOC):
                way[w] = w
                if lfu_mode:
                    held = cache_vid[s * ASSOC + w]
                    cost[w] = lfu[held] if held >= 0 else -1
                else:
                    cost[w] = lru[s * ASSOC + w]
            sort_ways(cost, way)
            inserted = 0
            for l in range(min(end - j, ASSOC)):
                v = miss[order[j + l]]
                if (cost[l] > lfu[v]) if lfu_mode else (cost[l] == ts):
                    break
                slot = s * ASSOC + way[l]
                old = cache_vid[slot]
                if old >= 0:
                    slot_of[old] = -2
                    counts[metrics.EVICTIONS] += 1
                cache_vid[slot] = v
                slot_of[v] = slot
                lru[slot] = ts
                inserted += 1
            for l in range(j + inserted, end):
                slot_of[miss[order[l]]] = -2  # not cached: its next miss is not compulsory
            conflict_unique += end - j - inserted
            j = end
        conflict = 0
        for v in rows:
            if slot_of[v] < 0:
                conflict += mult[v]
        row = per_batch[b]
        row[0] = 1
        row[1] = batch_offsets[b + 1] - batch_offsets[b]
        row[2] = n_u
        row[3] = n_m
        row[4] = conflict_unique
        row[5] = conflict
    counts[metrics.ACCESSES] += per_batch[:, 2].sum()
    counts[metrics.ON_DEMAND_FETCHES] += per_batch[:, 3].sum()
    counts[metrics.BYPASSES] += per_batch[:, 4].sum()


def make_state(ctx, params) -> State:
    """FBGEMM's geometry for ``ctx.capacity`` rows and its empty cache."""
    if ctx.ways != ASSOC:
        raise ConfigError(f"ways: FBGEMM's cache is {ASSOC}-way (DEFAULT_ASSOC), "
                          f"got {ctx.ways}")
    trace = ctx.trace
    total = int(trace.table_rows.sum())  # cardinalities, or distinct rows where unknown
    sets = n_sets(total, ctx.capacity / total)
    linear = linear_indices(np.asarray(ctx.keys), trace.table_base, trace.table_rows)
    return State(sets, cache_slot(linear, sets), np.full(sets * ASSOC, -1, np.int64),
                 np.zeros(sets * ASSOC, np.int64), np.zeros(ctx.n_vids, np.int64),
                 np.full(ctx.n_vids, -1, np.int64))


def replayer(lfu_mode: bool):
    """The policy's ``replay(ctx, state)`` for FBGEMM's LRU or LFU cache."""
    def replay(ctx, st: State) -> BatchReplay:
        if lfu_mode and st.sets >= MAX_LFU_SETS:
            raise ConfigError(f"capacity: FBGEMM's LFU cache holds fewer than {MAX_LFU_SETS:,} "
                              f"sets (it asserts so), got {st.sets:,}")
        bo = np.asarray(ctx.trace.batch_offsets, np.int64)
        per_batch = np.zeros((bo.shape[0] - 1, len(COUNTERS)), np.int64)
        counts = np.zeros(metrics.N_COUNTERS, np.int64)
        _replay(ctx.vids, bo, st, lfu_mode, per_batch, counts)
        return BatchReplay(st.sets * ASSOC, st.sets, ASSOC, counts,
                           np.flatnonzero(st.slot_of >= 0),
                           {name: per_batch[:, i] for i, name in enumerate(COUNTERS)})
    return replay
