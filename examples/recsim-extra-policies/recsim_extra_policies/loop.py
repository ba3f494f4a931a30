"""A trace generator as a plug-in: ``loop`` reads rows 0, 1, ..., ``rows - 1`` of one
table over and over (the pattern that LRU misses on every access once ``rows`` exceeds
the buffer), in batches of ``batch_size``. Registered through the ``recsim.traces`` entry
point in ``pyproject.toml``: ``recsim trace gen loop``, ``generate: {preset: loop}``."""

import numpy as np

from recsim.plugin import Int, check_params
from recsim.traces import Trace, save_trace

NAME = "loop"
PARAMS = {"accesses": Int(None, lo=1, help="lookups in the trace"),
          "rows": Int(100, lo=1, help="rows in the loop"),
          "batch_size": Int(1024, lo=1, help="lookups per inference batch")}


def check(**params) -> dict:
    """The parameters with their defaults, checked and typed (one line per error)."""
    return check_params(f"generator '{NAME}'", PARAMS, params)


def generate(path=None, **params) -> Trace:
    p = check(**params)
    n = p["accesses"]
    offsets = np.append(np.arange(0, n, p["batch_size"]), n)
    trace = Trace.from_arrays(np.zeros(n, np.int32), np.arange(n) % p["rows"], offsets,
                              [p["rows"]], {"name": NAME, "provenance": {"generator": NAME,
                                                                         **p}})
    if path is not None:
        save_trace(trace, path)
    return trace
