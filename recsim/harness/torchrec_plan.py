"""``recsim plan --torchrec OUT``: the plan's per-table cache load factors handed to
TorchRec's planner.

:func:`write_constraints` writes, per table (by name), the load factor that
:func:`recsim.experiments.plan.plan` chose (cache rows / the table's rows) and the
``EmbeddingOffloadStats`` arguments ``recsim mrc --torchrec`` computes
(:mod:`.torchrec_stats`). :func:`load_constraints` reads it back as TorchRec 1.8.0's
``{table name: ParameterConstraints(compute_kernels=["fused_uvm_caching"],
cache_params=CacheParams(load_factor=..., stats=EmbeddingOffloadStats(...)))}`` for
``EmbeddingShardingPlanner(constraints=...)``
(``torchrec/distributed/planner/types.py``, ``torchrec/distributed/types.py``).
TorchRec's load factor is relative to the table's ``num_embeddings``, which is the
trace's cardinality for a capture of the model. TorchRec takes a cache load factor
strictly between 0 and 1 only (its planner's compute-kernel validation), so the two ends
get the kernel that means the same thing (:func:`kernel`): a table the plan holds whole
(load factor 1) ``fused`` (all in HBM, no cache), a table it gives no rows ``fused_uvm``
(in UVM, no cache); both keep the stats and no load factor.
"""

from __future__ import annotations

import json

from recsim.errors import ConfigError
from recsim.files import atomic_output
from recsim.harness.torchrec_stats import torchrec_stats

FORMAT = "recsim-torchrec-constraints"


def write_constraints(trace, result: dict, path, bins: int = 100) -> None:
    """The load factors of ``result`` (a plan of ``trace``) and the trace's
    ``EmbeddingOffloadStats`` arguments, per table name, as JSON at ``path``."""
    stats = torchrec_stats(trace, bins)
    tables = [{"name": name, "load_factor": float(lf), "cache_rows": int(rows),
               "stats": {k: v for k, v in s.items() if k != "table"}}
              for name, lf, rows, s in zip(result["table_names"],
                                           result["plan"]["load_factor"],
                                           result["plan"]["rows"], stats)]
    with atomic_output(path) as tmp, open(tmp, "w") as fh:
        json.dump({"format": FORMAT, "version": 1, "torchrec": "1.8.0",
                   "budget_bytes": result["budget_bytes"], "bins": bins,
                   "tables": tables}, fh, indent=1)


def _read(path) -> list[dict]:
    try:
        with open(path) as fh:
            data = json.load(fh)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: expected a constraints file of recsim plan --torchrec, "
                          f"got {type(exc).__name__}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(
            data.get("tables"), list):
        raise ConfigError(f"{path}: field 'format': expected '{FORMAT}' (recsim plan "
                          "--torchrec) with a list of tables")
    return data["tables"]


def model_tables(model) -> list[str]:
    """The table names of the TorchRec embedding collections in ``model`` (a module),
    or ``model`` itself as names (an iterable of strings or of configs with ``.name``)."""
    if hasattr(model, "named_modules"):
        names = []
        for module in model.modules():
            for get in ("embedding_bag_configs", "embedding_configs"):
                if callable(getattr(module, get, None)):
                    names += [c.name for c in getattr(module, get)()]
                    break
        return names
    return [getattr(t, "name", t) for t in model]


def load_constraints(path, model=None) -> dict:
    """``{table name: ParameterConstraints}`` from a file of :func:`write_constraints`
    (module docstring); with ``model`` (a module holding TorchRec embedding collections,
    or its table names), a table name not in it is a ConfigError."""
    import torch
    from torchrec.distributed.planner.shard_estimators import EmbeddingOffloadStats
    from torchrec.distributed.planner.types import ParameterConstraints
    from torchrec.distributed.types import CacheParams

    tables = _read(path)
    if model is not None:
        known = model_tables(model)
        unknown = [t.get("name") for t in tables if t.get("name") not in known]
        if unknown:
            raise ConfigError(f"{path}: table {unknown[0]!r}: expected a table of the model "
                              f"({', '.join(known[:8])}{' ...' if len(known) > 8 else ''})")
    out = {}
    for t in tables:
        s, name = t["stats"], kernel(t["load_factor"])
        stats = EmbeddingOffloadStats(s["cacheability"], s["expected_lookups"],
                                      torch.tensor(s["mrc_hist_counts"]), s["height"])
        factor = t["load_factor"] if name == "fused_uvm_caching" else None
        out[t["name"]] = ParameterConstraints(
            compute_kernels=[name], cache_params=CacheParams(load_factor=factor, stats=stats))
    return out


def kernel(load_factor: float) -> str:
    """TorchRec's compute kernel for a table cached at ``load_factor`` (module docstring)."""
    if load_factor >= 1:
        return "fused"
    return "fused_uvm_caching" if load_factor > 0 else "fused_uvm"
