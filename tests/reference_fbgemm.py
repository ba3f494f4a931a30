"""A slow, pure-Python model of FBGEMM v1.8.0's TBE cache, written kernel by kernel from
its source (``fbgemm_gpu/src/split_embeddings_cache/``), independent of
``recsim.policies._fbgemm``: linear indices, 2-d ``lxu_cache_state`` / ``lru_state``
lists, a per-linear-index LFU table, warp lanes simulated register by register.

Shared with the engine only: nothing (the hash is recomputed with Python integers).
"""

from __future__ import annotations

MASK64 = (1 << 64) - 1
WARP = 32


def cache_slot(h: int, sets: int) -> int:
    """``cache_slot`` in ``common.cuh``, with Python integers."""
    h &= MASK64
    h ^= h >> 33
    h = (h * 0xFF51AFD7ED558CCD) & MASK64
    h ^= h >> 33
    h = (h * 0xC4CEB9FE1A85EC53) & MASK64
    h ^= h >> 33
    return h % (sets & 0xFFFFFFFF)


def warp_bitonic_sort(keys: list[int]) -> list[int]:
    """``BitonicSort<K, V, Dir=1, Comparator>::sort`` on 32 lanes (lane = slot): each
    stage every lane reads its partner by ``shfl_xor`` and takes the partner's pair when
    ``small ? k > other : k < other``. Returns the slot each lane holds at the end."""
    k = list(keys)
    v = list(range(WARP))

    def stage(mask, bit):
        ok, ov = [k[i ^ mask] for i in range(WARP)], [v[i ^ mask] for i in range(WARP)]
        for lane in range(WARP):
            small = not (lane & bit)
            take = k[lane] > ok[lane] if small else k[lane] < ok[lane]
            if take:
                k[lane], v[lane] = ok[lane], ov[lane]

    for L in (1, 2, 4, 8, 16):  # warpBitonicMergeLE16<L, IsBitonic=false>
        stage(2 * L - 1, L)
        stride = L // 2
        while stride > 0:
            stage(stride, stride)
            stride //= 2
    return v


class FbgemmCache:
    """``prefetch_32way`` of the inference module, one call per batch."""

    def __init__(self, sets: int, lfu: bool):
        self.sets, self.lfu, self.time = sets, lfu, 0
        self.state = [[-1] * WARP for _ in range(sets)]  # lxu_cache_state
        self.lru = [[0] * WARP for _ in range(sets)]  # lxu_state (LRU)
        self.counts: dict[int, int] = {}  # lxu_state (LFU), per linear index

    def prefetch(self, linear: list[int]) -> list[int]:
        """Populate with one batch's linear indices; returns the six UVM counters."""
        self.time += 1  # timestep_counter.increment()
        ts = self.time
        uniq = sorted(set(linear))  # get_unique_indices
        if self.lfu:
            for idx in linear:  # lfu_update_counts: += the index's count in the batch
                self.counts[idx] = self.counts.get(idx, 0) + 1
        misses = []  # (sort key, idx) of find_uncached
        for idx in uniq:
            s = cache_slot(idx, self.sets)
            if idx in self.state[s]:
                if not self.lfu:
                    self.lru[s][self.state[s].index(idx)] = ts
            else:
                key = ((s << 40) | ((1 << 40) - 1 - self.counts[idx])) if self.lfu else s
                misses.append((key, idx))
        misses.sort(key=lambda m: m[0])  # radix sort: stable
        conflict_unique = 0
        groups: dict[int, list[int]] = {}
        for key, idx in misses:
            groups.setdefault(key >> 40 if self.lfu else key, []).append(idx)
        for s, idxs in groups.items():  # insert kernel, one warp per set segment
            if self.lfu:
                cost = [self.counts[i] if i != -1 else -1 for i in self.state[s]]
            else:
                cost = list(self.lru[s])
            order = warp_bitonic_sort(cost)
            sorted_cost = sorted(cost)
            n_inserted = 0
            for l in range(min(len(idxs), WARP)):
                slot = order[l]
                if self.lfu:
                    if sorted_cost[l] > self.counts[idxs[l]]:
                        break
                elif sorted_cost[l] == ts:
                    break
                self.state[s][slot] = idxs[l]
                if not self.lfu:
                    self.lru[s][slot] = ts
                n_inserted += 1
            conflict_unique += len(idxs) - n_inserted
        conflict = sum(1 for idx in linear
                       if idx not in self.state[cache_slot(idx, self.sets)])  # lxu_cache_lookup
        return [1, len(linear), len(uniq), len(misses), conflict_unique, conflict]

    def resident(self) -> set[int]:
        return {i for row in self.state for i in row if i != -1}
