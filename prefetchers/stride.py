"""Stride: a per-table stride prefetcher (the table id plays the role of the load's PC).

Paper: T.-F. Chen and J.-L. Baer, "Effective hardware-based data prefetching for
high-performance processors", IEEE Transactions on Computers 44(5), 1995 (the reference
prediction table: last address and stride per load instruction). Reference
implementation: ChampSim's ``prefetcher/ip_stride/ip_stride.{h,cc}``
(github.com/ChampSim/ChampSim, commit 2ff2501158579a5df662cdf30bc3b34296233c63).

Rules (ip_stride), applied on every demand access (hit or miss) to key ``X`` of a table:

* The table's entry holds its last key and last stride. The new stride is ``X - last``
  (0 for the table's first access, whose entry is created with stride 0).
* If the stride is non-zero and has now been seen ``confirm`` times in a row
  (``confirm`` = 2, ip_stride's ``stride == last_stride``: one stride confirmed by the
  next), prefetch ``X + i * stride`` for ``i = 1 .. degree`` (``degree`` = 3,
  ip_stride's PREFETCH_DEGREE), stopping at the first key outside the page of the
  previous one (ip_stride's lookahead, with ChampSim's default ``virtual_prefetch``
  false for L1D and L2C); with ``cross_pages`` the run goes on across pages (ChampSim's
  ``virtual_prefetch`` true) but never beyond the table.
* The entry then stores ``X`` and the new stride, so repeating the last key (stride 0)
  breaks the run (ip_stride; the DPC-2 ip_stride.l2c_pref ignored such an access).

Adaptations to embedding vectors: a cache line is one vector and its address is its key
(``table_base + row``), so a stride is a distance in rows; a page is an aligned block of
64 consecutive keys (a 4 KB page of 64-byte lines), which never spans two tables (table
bases are 64-key aligned). A candidate key that is not a vector of the trace has no vector
id and is not simulated (it could only pollute the buffer), so pollution is a lower bound;
the run goes on to the next candidate, as ChampSim would issue that prefetch. The hook
reads the key of access ``t`` from the trace (``table_base[table] + row[t]``, equal to
``keys[vid]``): a sequential read instead of a random one, so callers must pass the true
access index.

Simplifications: one entry per table (flat arrays, at most ``n_tables`` entries) instead
of ip_stride's 256-set x 4-way LRU table of IPs, so tables never evict each other; the
``degree`` prefetches are issued at once after the access (ip_stride issues one per
cycle, and a newer trigger replaces an unfinished run); every prefetch fills the buffer
(ip_stride fills the next level instead when the MSHR is at least half full).
"""

from collections import namedtuple

import numpy as np

from recsim.plugin import QUEUE_SIZE, Bool, Int, Prefetcher, candidate_vid, hook, readonly

PAGE_BITS = 6  # 64 keys per page
NO_KEY = -1  # a table not accessed yet


# the trace's keys and rows; per table its first and past-the-end key, last key, last stride
# and how many times in a row that stride was seen; the parameters (conf[DEGREE] ..); a
# sampled replay's count of candidates outside the sample (else None)
State = namedtuple("State", "keys rows table_base table_end last_key last_stride repeats conf "
                            "unsampled")
DEGREE, CONFIRM, CROSS_PAGES = range(3)


def make_state(ctx, params):
    base = ctx.trace.table_base
    n_tables = base.shape[0]
    return State(ctx.keys, readonly(ctx.trace.key_rows()), base, base + ctx.trace.table_rows,
                 np.full(n_tables, NO_KEY, np.int64), np.zeros(n_tables, np.int64),
                 np.zeros(n_tables, np.int64),
                 np.array([params["degree"], params["confirm"], params["cross_pages"]], np.int64),
                 ctx.unsampled)


@hook
def on_access(state, vid, table, outcome, t, slot_of, out):
    keys, table_base, table_end = state.keys, state.table_base, state.table_end
    last_key, last_stride, repeats, conf = (state.last_key, state.last_stride, state.repeats,
                                            state.conf)
    x = table_base[table] + state.rows[t]  # keys[vid], read in trace order (no cache miss)
    last = last_key[table]
    stride = 0 if last == NO_KEY else x - last
    if stride == last_stride[table]:
        repeats[table] += 1
    else:
        repeats[table] = 1
    last_key[table] = x
    last_stride[table] = stride
    if stride == 0 or repeats[table] < conf[CONFIRM]:
        return 0
    m = 0
    c = x
    for _ in range(conf[DEGREE]):
        nxt = c + stride
        if nxt < table_base[table] or nxt >= table_end[table] or (
                conf[CROSS_PAGES] == 0 and (nxt >> PAGE_BITS) != (c >> PAGE_BITS)):
            break
        c = nxt
        w = candidate_vid(keys, vid, c, state.unsampled, t)
        if w >= 0:
            out[m] = w
            m += 1
    return m


PREFETCHER = Prefetcher("stride", "per-table stride prefetcher (ChampSim ip_stride)", make_state,
                        on_access=on_access,
                        params={"degree": Int(3, lo=1, hi=QUEUE_SIZE,
                                              help="strides prefetched ahead"),
                                "confirm": Int(2, lo=1, help="repeats of a stride before it "
                                               "prefetches"),
                                "cross_pages": Bool(False, help="prefetch past the 64-key "
                                                    "page")})
