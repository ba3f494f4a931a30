"""Next-use times: for access i, the index of the next access to the same vector."""

import numpy as np
from numba import njit

NEVER = np.iinfo(np.int64).max


@njit(cache=True)
def next_use(vid, n_unique):
    """Return ``(next_use, first_use)``: per access the next index of its vector (NEVER if
    none), and per vector its first access index (NEVER if it never occurs). O(N)."""
    n = vid.shape[0]
    nxt = np.empty(n, dtype=np.int64)
    last = np.full(n_unique, NEVER, dtype=np.int64)
    for i in range(n - 1, -1, -1):
        v = vid[i]
        nxt[i] = last[v]
        last[v] = i
    return nxt, last
