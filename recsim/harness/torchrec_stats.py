"""Per-table miss-ratio curves (:func:`recsim.engine.mrc.table_curves`) for TorchRec's
planner, written by ``recsim mrc --torchrec OUT`` (:func:`write_torchrec_stats`).

:func:`torchrec_stats` gives them as TorchRec's planner reads them
(``EmbeddingOffloadStats(cacheability, expected_lookups, mrc_hist_counts, height)`` in
``torchrec/distributed/planner/shard_estimators.py``, torchrec 1.8.0, read at commit
``a48cef79``): ``mrc_hist_counts`` has ``n`` bins over cache sizes ``0 .. height`` (the
table's rows); bin ``i`` counts the accesses whose distance ``d`` has
``i <= d * n / height < i + 1`` (exact in integers), and ``expected_miss_rate(clf)`` is
one minus the share of the histogram's total up to the bin of ``clf * height - 1``, i.e.
the replayed miss ratio at the bin's upper edge. TorchRec normalises by the histogram's
total and has no bin beyond a load factor of 1, so first lookups (compulsory misses) go
into the last bin: below a load factor of ``1 - 1/n`` its miss rate is the replayed one,
compulsory misses included (tested); at 1.0 it reads 0, as TorchRec's own test expects.
A table's ``height`` is its cardinality, or its distinct rows where the cardinality is
unknown (64-bit hashed ids, :mod:`recsim.traces.trace`).
"""

from __future__ import annotations

import json

import numpy as np

from recsim.engine.mrc import table_curves
from recsim.errors import ConfigError
from recsim.files import atomic_output
from recsim.traces.trace import dedup_batches


def torchrec_stats(trace, bins: int = 100) -> list[dict]:
    """Per table, the arguments of TorchRec's ``EmbeddingOffloadStats`` (module
    docstring): ``height``, ``mrc_hist_counts`` (``bins`` ints), ``cacheability`` (the
    area under the binned miss-ratio curve) and ``expected_lookups`` (unique rows per
    batch, averaged over batches)."""
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ConfigError(f"bins: expected a positive integer, got {bins!r}")
    curves = table_curves(trace)
    per_batch = np.bincount(dedup_batches(trace).table, minlength=trace.n_tables)
    out = []
    for t in range(trace.n_tables):
        height = int(trace.table_rows[t])  # its cardinality, or distinct rows if unknown
        d = curves.distances[curves.starts[t]:curves.starts[t + 1]]
        where = np.where(d >= 0, d * bins // height, bins - 1)
        hist = np.bincount(where, minlength=bins)
        total = max(int(hist.sum()), 1)
        out.append({"table": t, "height": height, "mrc_hist_counts": hist.tolist(),
                    "cacheability": float(np.mean(1 - np.cumsum(hist) / total)),
                    "expected_lookups": float(per_batch[t] / trace.n_batches)})
    return out


def write_torchrec_stats(trace, path, bins: int = 100) -> None:
    """:func:`torchrec_stats` as JSON; :func:`load_torchrec_stats` reads it back."""
    with atomic_output(path) as tmp, open(tmp, "w") as fh:
        json.dump({"format": "torchrec.EmbeddingOffloadStats", "torchrec": "1.8.0",
                   "bins": bins, "tables": torchrec_stats(trace, bins)}, fh)


def load_torchrec_stats(path) -> list:
    """TorchRec's ``EmbeddingOffloadStats`` of each table in a file written by
    :func:`write_torchrec_stats` (needs torchrec: the ``torchrec`` extra), e.g. for
    ``CacheParams(stats=...)`` in the planner's ``ParameterConstraints``."""
    import torch
    from torchrec.distributed.planner.shard_estimators import EmbeddingOffloadStats

    with open(path) as fh:
        tables = json.load(fh)["tables"]
    return [EmbeddingOffloadStats(t["cacheability"], t["expected_lookups"],
                                  torch.tensor(t["mrc_hist_counts"]), t["height"])
            for t in tables]
