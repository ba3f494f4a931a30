"""The TorchRec/FBGEMM latency harness: an embedding-bag inference model over a trace's
tables, timed for real, whose times calibrate the latency model (:mod:`recsim.experiments.latency`).

Two backends with one interface (``forward(request)``, ``reset_counters()``, miss counts):

- ``tiered`` (:mod:`.tiered`): host tables behind a buffer in plain PyTorch, its slots
  kept by recsim's LRU; the CPU path (FBGEMM's CPU build has no cache), also usable on a
  GPU without FBGEMM.
- ``fbgemm`` (:mod:`.fbgemm`): FBGEMM's inference TBE with ``MANAGED_CACHING`` tables on
  a GPU.

Requests (:mod:`.requests`) are built from trace batches in the table-major layout
FBGEMM and TorchRec use; :mod:`.dlrm` adds a DLRM's dense part; :mod:`.calibrate` runs
the calibration behind ``recsim calibrate``.
"""

# The hit rates a calibration measures by default (``recsim calibrate --hit-rates``).
HIT_RATES = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
# The calibration model's sizes: default and meaning (``recsim calibrate --NAME``).
SIZES = {"tables": (4, "embedding tables (4)"),
         "rows": (100_000, "rows per table (100,000)"),
         "dim": (32, "embedding dimension (32)"),
         "samples": (256, "samples per inference batch (256)"),
         "pooling": (8, "lookups per sample and table (8)"),
         "unique": (10_000, "distinct vectors a calibration trace uses (10,000)"),
         "capacity": (2_000, "buffer rows (2,000)"),
         "ways": (32, "buffer associativity, 0 = fully associative (32)")}
