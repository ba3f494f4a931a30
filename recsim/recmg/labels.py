"""Training labels of the RecMG models from the offline optimum (OPTgen).

Belady (without bypass, as the authors' labels) replays the trace on a buffer of
``label_capacity`` vectors, by default 80% of the deployed buffer (docs/design.md, "RecMG"):

- the *caching label* of access ``i`` is 1 when the optimum keeps its vector until the
  vector's next use, that is when that next access is an OPT hit, else 0 (also 0 for a
  vector's last access, which has no next use);
- the *prefetch targets* are the OPT misses in trace order: the accesses that even the
  optimum has to fetch, which the prefetch model learns to predict.

One replay of the engine's exact Belady (O(N log C), Numba) with a per-access hit log,
then an O(N) pass, so labelling costs about a Belady replay, not the O(N x C) of a naive
OPTgen.

Geometry (:func:`label_geometry`): ``ways=0`` (the default) labels with a fully associative
optimum of ``int(label_fraction x buffer)`` vectors. A positive ``ways`` keeps the deployed
buffer's *sets* (so every vector maps to the set it has in the buffer being modelled) and
gives each ``round(label_fraction x ways)`` ways (26 of 32 at 80%: 81% of the buffer), and
Belady runs per set. The paper's optgen shrinks a fully associative capacity and says
nothing of sets; the label should say whether the optimum keeps the vector in the buffer
the policy manages, hence its sets. (Before, ``int(0.8 C)`` vectors in 32-way sets gave
fewer sets than deployed: 1,487 against 1,859 on ``recmg_quick``.)

What the trace does not know is not labelled (``known``). The last access ``i`` of a
vector in the replayed trace has no next use there; the trace may be a head of a longer
one (the training accesses), so the vector may come back later. Its label is still known
to be 0 when, at some time after ``i``, every slot of its set holds a vector whose next
use is an OPT hit inside the trace: Belady's choices between vectors used again inside the
trace do not depend on what comes after it (a victim is always one used later, or never),
so those vectors are resident in any extension of the trace too, and the vector of access
``i`` has been evicted whatever its next use. Otherwise the label depends on the unknown
future: ``known`` is False, and the caching model's loss masks it
(:mod:`recsim.recmg.train`) instead of reading it as "do not keep" (on a training head such
accesses cluster at its end, in the validation split).
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Real

import numpy as np
from numba import njit

from recsim.engine.replay import simulate
from recsim.engine.settings import set_index
from recsim.engine.settings import resolve_capacity, resolve_geometry
from recsim.errors import ConfigError

LABEL_FRACTION = 0.8  # label_capacity = 80% of the buffer


@dataclass
class Labels:
    """``cache`` (uint8 per access), ``known`` (bool per access: the vector is accessed
    again, so its label is known), ``miss_index`` (int64 positions of the OPT misses), the
    capacity and geometry used, and the OPT hit rate."""
    cache: np.ndarray
    known: np.ndarray
    miss_index: np.ndarray
    label_capacity: int
    sets: int
    ways: int
    opt_hit_rate: float


@njit(cache=True)
def _cache_labels(vids, hit, n_vids, set_of, sets, ways):
    """``(label, known)``: label[i] = hit[j] for the next access j of vids[i]; 0 if there
    is none, then known only if the set of vids[i] is full of vectors kept until a next use
    inside the trace at some time after i (see module)."""
    n = vids.shape[0]
    out = np.zeros(n, np.uint8)
    known = np.zeros(n, np.bool_)
    nxt = np.full(n_vids, -1, np.int64)
    for i in range(n - 1, -1, -1):
        j = nxt[vids[i]]
        if j >= 0:
            out[i] = hit[j]
            known[i] = True
        nxt[vids[i]] = i
    kept = np.zeros(sets, np.int64)  # vectors of the set kept until a next use in the trace
    last_full = np.full(sets, -1, np.int64)
    for t in range(n):
        s = set_of[vids[t]]
        kept[s] += np.int64(out[t]) - np.int64(hit[t])  # a kept interval starts or ends
        if kept[s] == ways:
            last_full[s] = t
    for i in range(n):
        if not known[i] and last_full[set_of[vids[i]]] > i:
            known[i] = True
    return out, known


def label_geometry(buffer: int, ways: int, label_fraction: float) -> tuple[int, int]:
    """``(capacity, ways)`` of the labelling Belady for a buffer of ``buffer`` vectors with
    ``ways`` ways (see module): the deployed sets with fewer ways, or a fully associative
    ``int(label_fraction x buffer)`` when ``ways`` is 0."""
    _, sets, ways = resolve_geometry(buffer, ways)
    if sets == 1:
        return max(1, int(buffer * label_fraction)), 0
    label_ways = max(1, int(label_fraction * ways + 0.5))
    return sets * label_ways, label_ways


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
    label_capacity, label_ways = label_geometry(buffer, ways, label_fraction)
    result = simulate(trace, "belady", label_capacity, ways=label_ways, log_hits=True)
    set_of = set_index(trace.dense().keys, result.sets)
    cache, known = _cache_labels(trace.vid, result.hit_log, trace.n_unique, set_of,
                                 result.sets, result.ways)
    return Labels(cache, known, np.flatnonzero(result.hit_log == 0), result.capacity,
                  result.sets, result.ways, result.hit_rate)
