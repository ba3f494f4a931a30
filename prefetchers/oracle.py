"""Oracle: on a demand miss, prefetch the next ``n`` distinct non-resident future vectors.

An upper-bound reference rather than a realisable design: it reads the trace ahead of the
current access (up to ``window`` accesses) and names, in order of next use, the first
``n`` distinct vectors that are not in the buffer. Fires on demand misses only.
"""

import numpy as np
from numba import njit

from recsim.errors import ConfigError
from recsim.plugin import Prefetcher, is_hit


def make_state(ctx, params):
    n, window = int(params["n"]), int(params["window"])
    if n < 1 or window < 1:
        raise ConfigError("prefetcher oracle: parameters 'n' and 'window': expected integers "
                          f">= 1, got n={n}, window={window}")
    return ctx.vids, np.array([n, window], dtype=np.int64)


@njit(cache=True, inline="always")
def on_access(state, vid, table, outcome, t, slot_of, out):
    vids, conf = state
    if is_hit(outcome):
        return 0
    want = min(conf[0], out.shape[0])
    end = min(vids.shape[0], t + 1 + conf[1])
    m = 0
    for j in range(t + 1, end):
        v = vids[j]
        if slot_of[v] >= 0 or v == vid:
            continue
        dup = False
        for i in range(m):
            if out[i] == v:
                dup = True
                break
        if not dup:
            out[m] = v
            m += 1
            if m == want:
                break
    return m


PREFETCHER = Prefetcher("oracle", "prefetch the next n distinct future misses (upper bound)",
                        make_state, on_access=on_access, params={"n": 4, "window": 1024})
