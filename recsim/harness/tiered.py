"""The ``tiered`` backend: embedding tables in host memory behind a buffer of ``capacity``
rows, in plain PyTorch, for the CPU (where FBGEMM's CPU build has no cache) and for a GPU
without FBGEMM. The lookups, copies and pooling are real and timed; nothing is modelled.

Per batch, :meth:`TieredEmbeddingBags.forward`:

1. plans the batch with a row-to-slot map kept by recsim's ``lru`` policy at the same
   geometry (``sets = capacity // ways`` sets of ``ways`` slots; a row's set is
   :func:`recsim.engine.settings.set_index` of its global key; fully associative with
   ``ways=0``), access by access in the request's table-major order, so its misses are
   exactly the misses ``recsim.simulate(trace, "lru", capacity, ways)`` counts on the
   trace in that order (tested);
2. copies the rows that missed from the host table into their slots. A row evicted again
   later in the same batch is copied into a staging row past the buffer instead, so every
   lookup of the batch reads its own row (a real cache would serve it from host memory);
3. pools with ``torch.nn.functional.embedding_bag`` over the buffer (sum), which equals
   the same ``embedding_bag`` over the full host table exactly (tested), and
4. runs the optional DLRM dense part (:class:`recsim.harness.dlrm.DenseHead`).

The planner is a compiled (Numba) loop over the batch's lookups, timed as part of the
forward pass like FBGEMM's cache lookup.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from numba import njit
from torch import nn

from recsim.engine.settings import set_index
from recsim.engine.settings import resolve_geometry
from recsim.harness.dlrm import DenseHead
from recsim.harness.requests import Request


@njit(cache=True)
def _plan(keys, key_set, ways, slot_of, slot_key, slot_time, loaded, key_mark, key_row,
          clock, batch, capacity, index, copy_dst, copy_src):
    """LRU slot choices for one batch (see module): fills ``index`` (buffer row per
    lookup) and the copy lists; returns ``(misses, copies, clock)``."""
    n = keys.shape[0]
    misses = 0
    for i in range(n):
        k = keys[i]
        s = slot_of[k]
        if s < 0:
            misses += 1
            base = key_set[k] * ways
            s = base
            for w in range(base + 1, base + ways):
                if slot_time[w] < slot_time[s]:
                    s = w
            old = slot_key[s]
            if old >= 0:
                slot_of[old] = -1
            slot_key[s] = k
            slot_of[k] = s
        clock += 1
        slot_time[s] = clock
    copies = 0
    staged = 0
    for i in range(n):
        k = keys[i]
        s = slot_of[k]
        if s >= 0:
            if loaded[s] != k:
                loaded[s] = k
                copy_dst[copies] = s
                copy_src[copies] = k
                copies += 1
            index[i] = s
            continue
        if key_mark[k] != batch:
            key_mark[k] = batch
            key_row[k] = capacity + staged
            staged += 1
            copy_dst[copies] = key_row[k]
            copy_src[copies] = k
            copies += 1
        index[i] = key_row[k]
    return misses, copies, clock


class TieredEmbeddingBags(nn.Module):
    """Host tables (``key_space`` rows of ``dim`` floats, random, seeded, in host memory)
    behind a buffer of ``capacity`` rows on ``device`` (default CPU); ``forward(request)``
    returns the pooled embeddings (samples, tables, dim), or the click probabilities
    (samples,) with ``dense``.
    ``misses`` and ``lookups`` count since construction or :meth:`reset_counters`."""

    def __init__(self, table_base: np.ndarray, key_space: int, dim: int, capacity: int,
                 ways: int, samples: int, max_lookups: int, dense: bool = True,
                 seed: int = 0, device=None):
        super().__init__()
        self.capacity, self.sets, self.ways = resolve_geometry(capacity, ways)
        self.n_tables = int(table_base.shape[0])
        self.samples = samples
        self.device = torch.device(device or "cpu")
        gen = torch.Generator().manual_seed(seed)
        self.host = torch.rand(key_space, dim, generator=gen) - 0.5  # host memory, always
        self.buffer = torch.zeros(self.capacity + max_lookups, dim, device=self.device)
        self.head = DenseHead(self.n_tables, dim, samples, seed).to(self.device) \
            if dense else None
        self._key_set = set_index(np.arange(key_space, dtype=np.int64), self.sets)
        self._slot_of = np.full(key_space, -1, np.int64)
        self._slot_key = np.full(self.capacity, -1, np.int64)
        self._slot_time = np.zeros(self.capacity, np.int64)
        self._loaded = np.full(self.capacity, -1, np.int64)
        self._key_mark = np.full(key_space, -1, np.int64)
        self._key_row = np.zeros(key_space, np.int64)
        self._index = np.zeros(max_lookups, np.int64)
        self._copy_dst = np.zeros(max_lookups, np.int64)
        self._copy_src = np.zeros(max_lookups, np.int64)
        self._clock = 0
        self._batch = 0
        self.reset_counters()

    def reset_counters(self) -> None:
        self.misses = 0
        self.lookups = 0

    def plan(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Buffer row per lookup and the (destination, host row) copies of one batch."""
        n = keys.shape[0]
        index = self._index[:n]
        misses, copies, self._clock = _plan(
            keys, self._key_set, self.ways, self._slot_of, self._slot_key, self._slot_time,
            self._loaded, self._key_mark, self._key_row, self._clock, self._batch,
            self.capacity, index, self._copy_dst, self._copy_src)
        self._batch += 1
        self.misses += misses
        self.lookups += n
        return index, self._copy_dst[:copies], self._copy_src[:copies]

    def _pool(self, index: np.ndarray, weights: torch.Tensor, request: Request) -> torch.Tensor:
        """(samples, tables, dim) sums of ``weights[index]`` over the request's bags."""
        device = weights.device
        out = F.embedding_bag(torch.from_numpy(index).to(device), weights,
                              torch.from_numpy(request.offsets).to(device), mode="sum",
                              include_last_offset=True)
        return out.view(self.n_tables, self.samples, -1).transpose(0, 1)

    def pooled(self, request: Request) -> torch.Tensor:
        """(samples, tables, dim) sums of the request's bags, through the buffer."""
        index, dst, src = self.plan(request.keys)
        if dst.shape[0]:
            rows = self.host[torch.from_numpy(src)].to(self.device)
            self.buffer[torch.from_numpy(dst).to(self.device)] = rows
        return self._pool(index, self.buffer, request)

    def reference(self, request: Request) -> torch.Tensor:
        """The same sums straight from the full host table (no buffer)."""
        return self._pool(request.keys, self.host, request)

    def forward(self, request: Request) -> torch.Tensor:
        pooled = self.pooled(request)
        return pooled if self.head is None else self.head(pooled)
