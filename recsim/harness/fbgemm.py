"""The ``fbgemm`` backend (GPU): FBGEMM's inference table-batched embedding,
``IntNBitTableBatchedEmbeddingBagsCodegen``, with every table in
``EmbeddingLocation.MANAGED_CACHING`` (host memory behind FBGEMM's 32-way GPU cache),
as TorchRec's inference sharding sets it up.

- The cache holds ``capacity`` rows: ``cache_load_factor = capacity / total rows``,
  ``cache_assoc = 32``, ``cache_algorithm`` LRU or LFU.
- ``forward(request)`` runs the cache fill and lookup of one request
  (:mod:`recsim.harness.requests`: table-major bags, per-table row ids), then the optional
  DLRM dense part.
- Miss counts come from FBGEMM's own counters (``record_cache_metrics``), parsed by
  :func:`recsim.harness.requests.parse_miss_counter`; FBGEMM counts a row missed by
  several lookups of one batch once and ages its LRU state once per batch, so its counts
  can differ slightly from recsim's per-access LRU on the same trace.
- :func:`counter_check` replays a trace batch by batch from an empty cache and sets
  FBGEMM's counters of every batch beside recsim's ``fbgemm_lru`` / ``fbgemm_lfu``
  (:mod:`recsim.policies._fbgemm`), which should equal them exactly (the GPU check,
  ``benchmarks/gpu_check.sh``).
- :meth:`FbgemmEmbeddingBags.insert` puts rows into the cache from outside, through
  ``linearize_cache_indices`` and ``lru_cache_populate_byte`` as FBGEMM's
  ``bench/tbe/tbe_cache_benchmark.py`` does, so that recsim's prefetch decisions can be
  replayed into the real cache (``prefetch()`` is tied to the next forward).

FBGEMM is imported only when this backend is used; install it with the ``torchrec``
extra (README). Its CPU build has no cache, so this backend needs CUDA.
"""

from __future__ import annotations

import torch
from torch import nn

from recsim.errors import ConfigError
from recsim.harness.dlrm import DenseHead
from recsim.harness.requests import (Request, parse_miss_counter, parse_uvm_stats,
                                     trace_requests)


def _fbgemm():
    try:
        import fbgemm_gpu  # noqa: F401  (registers torch.ops.fbgemm)
        from fbgemm_gpu.split_embedding_configs import SparseType
        from fbgemm_gpu.split_table_batched_embeddings_ops_common import (
            CacheAlgorithm, EmbeddingLocation, RecordCacheMetrics)
        from fbgemm_gpu.split_table_batched_embeddings_ops_inference import (
            IntNBitTableBatchedEmbeddingBagsCodegen)
    except ImportError as exc:
        raise ConfigError(f"backend 'fbgemm' needs FBGEMM ({exc}): pip install -e "
                          "'.[torchrec]' (see the README), or use --backend tiered") from None
    if not torch.cuda.is_available():
        raise ConfigError("backend 'fbgemm' needs a CUDA GPU (FBGEMM's CPU build has no "
                          "embedding cache); on the CPU use --backend tiered")
    return (SparseType, CacheAlgorithm, EmbeddingLocation, RecordCacheMetrics,
            IntNBitTableBatchedEmbeddingBagsCodegen)


class FbgemmEmbeddingBags(nn.Module):
    """Tables of ``rows`` rows (one entry per table) of ``dim`` fp32 values behind
    FBGEMM's cache of ``capacity`` rows (see the module docstring)."""

    def __init__(self, rows: list[int], dim: int, capacity: int, samples: int,
                 algorithm: str = "lru", dense: bool = True, seed: int = 0):
        super().__init__()
        SparseType, CacheAlgorithm, Location, RecordCacheMetrics, TBE = _fbgemm()
        if algorithm not in ("lru", "lfu"):
            raise ConfigError(f"cache algorithm: expected 'lru' or 'lfu', got {algorithm!r}")
        self.device = torch.device("cuda")
        self.n_tables, self.samples, self.algorithm = len(rows), samples, algorithm
        torch.manual_seed(seed)
        self.tbe = TBE([(f"t{t}", r, dim, SparseType.FP32, Location.MANAGED_CACHING)
                        for t, r in enumerate(rows)],
                       device=self.device, output_dtype=SparseType.FP32,
                       cache_algorithm=getattr(CacheAlgorithm, algorithm.upper()),
                       cache_load_factor=capacity / sum(rows), cache_assoc=32,
                       record_cache_metrics=RecordCacheMetrics(True, False),
                       gather_uvm_cache_stats=True)
        self.tbe.fill_random_weights()
        self.head = DenseHead(self.n_tables, dim, samples, seed).to(self.device) \
            if dense else None

    def reset_counters(self) -> None:
        self.tbe.reset_cache_miss_counter()
        self.tbe.reset_uvm_cache_stats()

    def counters(self) -> dict:
        """FBGEMM's miss counter, by name (:func:`parse_miss_counter`)."""
        return parse_miss_counter(self.tbe.get_cache_miss_counter().cpu())

    def uvm_stats(self) -> dict:
        """FBGEMM's UVM cache statistics, by name (:func:`parse_uvm_stats`); its LFU path
        fills only ``conflict_misses``."""
        return parse_uvm_stats(self.tbe.get_uvm_cache_stats().cpu())

    def _tensors(self, request: Request):
        return (torch.from_numpy(request.rows).to(self.device, torch.int32),
                torch.from_numpy(request.offsets).to(self.device, torch.int32))

    def insert(self, request: Request) -> None:
        """Put the request's rows into the cache now (an external prefetch; LRU only)."""
        if self.algorithm != "lru":
            raise ConfigError("external inserts need cache_algorithm lru")
        t = self.tbe
        indices, offsets = self._tensors(request)
        t.timestep_counter.increment()
        linear = torch.ops.fbgemm.linearize_cache_indices(t.cache_hash_size_cumsum, indices,
                                                          offsets)
        torch.ops.fbgemm.lru_cache_populate_byte(
            t.weights_uvm, t.cache_hash_size_cumsum, t.total_cache_hash_size,
            t.cache_index_table_map, t.weights_offsets, t.weights_tys, t.D_offsets, linear,
            t.lxu_cache_state, t.lxu_cache_weights, t.timestep_counter.get(), t.lxu_state,
            16, t.gather_uvm_cache_stats, t.local_uvm_cache_stats)

    def pooled(self, request: Request) -> torch.Tensor:
        out = self.tbe(*self._tensors(request))  # its forward finds and fills the cache
        return out.view(self.samples, self.n_tables, -1)

    def forward(self, request: Request) -> torch.Tensor:
        pooled = self.pooled(request)
        return pooled if self.head is None else self.head(pooled)


def counter_check(trace, capacity: int, algorithm: str = "lru", samples: int = 16,
                  dim: int = 16) -> dict:
    """Each batch of ``trace`` through FBGEMM's cache of ``capacity`` rows (empty at the
    start, no warm-up) and through recsim's ``fbgemm_<algorithm>``: per counter, FBGEMM's
    values per batch and recsim's, and ``mismatches`` (batches where any compared counter
    differs). Compared: the miss counter's unique misses, unique and requested lookups,
    and for LRU every UVM statistic, for LFU its conflict misses (FBGEMM's LFU path
    gathers no other)."""
    from recsim.engine.replay import simulate

    model = FbgemmEmbeddingBags([int(r) for r in trace.table_rows], dim, capacity,
                                samples, algorithm, dense=False)
    sim = simulate(trace, f"fbgemm_{algorithm}", capacity, 32)
    names = {"unique_misses": ("miss", "unique_misses"),
             "unique_indices": ("miss", "unique_accesses"),
             "requested_indices": ("miss", "accesses"),
             "conflict_misses": ("uvm", "conflict_misses")}
    if algorithm == "lru":
        names.update({f"uvm_{k}": ("uvm", k) for k in sim.batch_counters})
    got = {k: [] for k in names}
    before = {"miss": model.counters(), "uvm": model.uvm_stats()}
    with torch.no_grad():
        for request in trace_requests(trace, samples):
            model.pooled(request)
            now = {"miss": model.counters(), "uvm": model.uvm_stats()}
            for k, (where, field) in names.items():
                got[k].append(now[where][field] - before[where][field])
            before = now
    want = {k: sim.batch_counters[k.removeprefix("uvm_")].tolist() for k in names}
    mismatches = sorted({b for k in names for b, (x, y) in enumerate(zip(got[k], want[k]))
                         if x != y})
    return {"fbgemm": got, "recsim": want, "mismatches": mismatches, "sets": sim.sets}
