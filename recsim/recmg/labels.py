"""Training labels of the RecMG models from the offline optimum (OPTgen).

Belady (without bypass, as the authors' labels) replays the trace on a buffer of
``label_capacity`` vectors, by default 80% of the deployed buffer (DESIGN.md "RecMG"):

- the *caching label* of access ``i`` is 1 when the optimum keeps its vector until the
  vector's next use, that is when that next access is an OPT hit, else 0 (also 0 for a
  vector's last access, which has no next use);
- the *prefetch targets* are the OPT misses in trace order: the accesses that even the
  optimum has to fetch, which the prefetch model learns to predict.

One replay of the engine's exact Belady (O(N log C), Numba) with a per-access hit log,
then an O(N) pass, so labelling costs about a Belady replay, not the O(N x C) of a naive
OPTgen. ``ways=0`` (the default) labels with a fully associative optimum; a positive
``ways`` uses the buffer's set-associative geometry (Belady per set).
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Real

import numpy as np
from numba import njit

from recsim.engine.replay import simulate
from recsim.engine.settings import resolve_capacity
from recsim.errors import ConfigError

LABEL_FRACTION = 0.8  # label_capacity = 80% of the buffer


@dataclass
class Labels:
    """``cache`` (uint8 per access), ``miss_index`` (int64 positions of the OPT misses),
    the capacity and geometry used, and the OPT hit rate."""
    cache: np.ndarray
    miss_index: np.ndarray
    label_capacity: int
    ways: int
    opt_hit_rate: float


@njit(cache=True)
def _cache_labels(vids, hit, n_vids):
    """label[i] = hit[j] for the next access j of vids[i]; 0 if there is none."""
    out = np.zeros(vids.shape[0], np.uint8)
    nxt = np.full(n_vids, -1, np.int64)
    for i in range(vids.shape[0] - 1, -1, -1):
        j = nxt[vids[i]]
        if j >= 0:
            out[i] = hit[j]
        nxt[vids[i]] = i
    return out


def opt_labels(trace, buffer_capacity, label_fraction: float = LABEL_FRACTION,
               ways: int = 0) -> Labels:
    """Caching labels and prefetch targets of ``trace`` for a buffer of ``buffer_capacity``
    vectors (a count or a fraction of unique vectors, as :func:`recsim.simulate` takes
    it), labelled by Belady at ``label_fraction`` of that buffer."""
    if (isinstance(label_fraction, bool) or not isinstance(label_fraction, Real)
            or not 0 < label_fraction <= 1):
        raise ConfigError(f"label_fraction: expected a number in (0, 1], "
                          f"got {label_fraction!r}")
    buffer = resolve_capacity(buffer_capacity, trace.n_unique)
    label_capacity = max(1, int(buffer * label_fraction))
    result = simulate(trace, "belady", label_capacity, ways=ways, log_hits=True)
    cache = _cache_labels(trace.vid, result.hit_log, trace.n_unique)
    return Labels(cache, np.flatnonzero(result.hit_log == 0), result.capacity, result.ways,
                  result.hit_rate)
