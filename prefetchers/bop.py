"""BOP: the Best-Offset prefetcher, with a table's keys playing the role of line addresses.

Paper: P. Michaud, "Best-Offset Hardware Prefetching", HPCA 2016 (and "A Best-Offset
Prefetcher", 2nd Data Prefetching Championship, 2015). Reference implementation: the
TransFetch repository's ChampSim port, ``ChampSim/prefetcher/bo.h``
(github.com/pengmiao-usc/TransFetch, commit 88d2719151333944fc1794d33f4e7df12a3eaea3), of
Michaud's DPC-2 submission code ("the DPC-2 code" below).

Rules (constants of bo.h):

* Offsets: the 46 values +-{1..16, 18, 20, 24, 30, 32, 36, 40}, in the order
  1, -1, 2, -2, ..., 40, -40; the prefetch offset starts at 1 (DEFAULT_OFFSET).
* Learning happens on a *learning access*: a demand miss or the first use of a prefetched
  vector (outcomes MISS, LATE_PREFETCH and PREFETCH_HIT; bo.h: an L2 miss, or a hit on a
  line whose prefetch bit is set). Each one tests the next offset ``d`` of the list: its
  score gains 1 if ``X - d`` lies in the page of ``X`` and hits the recent-requests (RR)
  table. A score that reaches the round's best (ties: the later offset) makes ``d`` the
  best offset. After a full pass over the 46 offsets the round count gains 1; at the end
  of a round where the best score is SCORE_MAX = 31, or of round ROUND_MAX = 100, the best
  offset becomes the prefetch offset, or prefetching is turned off (offset 0) if the best
  score is <= BAD_SCORE = 10; then all scores, the round count and the best offset are
  reset. (bo.h falls back to DEFAULT_OFFSET when no offset scored, but a best score of 0
  turns prefetching off anyway.)
* RR table: 2 banks of 64 entries holding a 12-bit tag (key bits 6-17), indexed by
  ``(X ^ X >> 6) & 63`` (left bank) and ``(X ^ X >> 12) & 63`` (right bank); a lookup hits
  if either bank holds the tag.
* Prefetch: on each learning access ``X``, with offset ``D != 0``, the keys
  ``X + i * D`` for ``i = 1 .. degree`` (``degree`` = 1, as in the paper and the DPC-2
  code; bo.llc_pref's LLC port uses 10), stopping at the first one outside the page of
  ``X`` (the DPC-2 code's same-page check; bo.h has it commented out, so TransFetch's BO
  may cross pages); they are issued after the learning step, with the offset it may just
  have set.

Adaptations to embedding vectors: a cache line is one vector and its address is its key
(``table_base + row``); a page is an aligned block of 64 consecutive keys (a 4 KB page of
64-byte lines), so a prefetch never leaves its table (table bases are 64-key aligned). A
candidate key that is not a vector of the trace has no vector id and is not simulated
(it could only pollute the buffer), so pollution is a lower bound. The hook reads the key
of access ``t`` from the trace (``table_base[table] + row[t]``, equal to ``keys[vid]``):
a sequential read instead of a random one, so callers must pass the true access index.

RR insertion. bo.h writes the base address ``X`` of a learning access into the RR table
twice: into the left bank through its delay queue, DELAY (60) cycles after the access,
and into the right bank when the prefetched line ``Y = X + D`` is filled, as
``Y - D = X`` (when prefetching is off, at the fill of every line ``Y``, as ``Y``). So
``X`` becomes "recent" once a prefetch issued at ``X`` would have arrived, and an offset
scores only if its prefetches would have been timely. This engine tells the prefetcher of
no fills, but a prefetch issued at access ``t`` arrives exactly at ``t +
prefetch_latency``: each learning access ``X`` at ``t`` (every one, as bo.h pushes each
into its delay queue) is queued and written into both banks at the start of access
``t + prefetch_latency`` (with latency 0: before the next access), which is when both of
bo.h's writes would have happened. The queue is a ring indexed by access time, of a
power-of-two size >= the latency, so it never overflows.

Simplifications: the right-bank write happens even when no prefetch of ``X + D`` was
filled (the candidate was resident, outside the page, or not a vector of the trace), and,
with prefetching off, after ``prefetch_latency`` rather than after the demand fetch
latency; no early writes (bo.h's 15-entry delay queue writes its oldest entry early when
full); RR entries start empty (bo.h's start at tag 0, which keys with zero tag
bits would hit); no prefetch throttling: the DPC-2 code's MSHR-occupancy threshold has no
counterpart here, and bo.h's gate ``prefetch_score > LOW_SCORE`` is not applied (in bo.h
it is a leftover of the disabled throttle: with ``pt_init`` commented out the score starts
at 0, so bo.h issues nothing before its first learning phase ends; the DPC-2 code starts
it at SCORE_MAX and prefetches at any non-zero offset, as here).
"""

from collections import namedtuple

import numpy as np

from recsim.plugin import HIT, Int, Prefetcher, candidate_vid, hook, readonly

OFFSETS = (1, -1, 2, -2, 3, -3, 4, -4, 5, -5, 6, -6, 7, -7, 8, -8, 9, -9, 10, -10, 11, -11,
           12, -12, 13, -13, 14, -14, 15, -15, 16, -16, 18, -18, 20, -20, 24, -24, 30, -30,
           32, -32, 36, -36, 40, -40)
DEFAULT_OFFSET = 1
SCORE_MAX = 31
ROUND_MAX = 100
BAD_SCORE = 10
PAGE_BITS = 6  # 64 keys per page
RR_INDEX_BITS = 6  # 64 entries per bank
RR_TAG_BITS = 12
EMPTY = -1  # an RR entry never written

# Slots of the ``var`` array of the state.
OFFSET = 0  # the prefetch offset D (0: prefetching off)
BEST = 1  # best offset of the learning phase so far
MAX_SCORE = 2  # its score
ROUND = 3  # rounds completed in the learning phase
P = 4  # index of the next offset to test
DEGREE = 5
DELAY = 6  # accesses from a learning access to its RR insertion: max(prefetch latency, 1)
MASK = 7  # the insertion queue's size (a power of two >= DELAY) - 1
N_VARS = 8
NEVER = -(1 << 62)  # time of an empty queue slot


# the trace's keys, rows and table bases; the candidate offsets and their scores; the
# recent-requests (RR) table; the learning accesses in flight (key, time) by time; var
# (OFFSET ..); a sampled replay's count of candidates outside the sample (else None)
State = namedtuple("State", "keys rows table_base offsets scores rr queued_key queued_at var "
                            "unsampled")


def make_state(ctx, params):
    degree = params["degree"]
    delay = max(int(ctx.prefetch_latency), 1)
    size = 1 << (delay - 1).bit_length()
    var = np.zeros(N_VARS, np.int64)
    var[OFFSET], var[DEGREE], var[DELAY], var[MASK] = DEFAULT_OFFSET, degree, delay, size - 1
    return State(ctx.keys, readonly(ctx.trace.key_rows()), ctx.trace.table_base,
                 np.array(OFFSETS, np.int64), np.zeros(len(OFFSETS), np.int64),
                 np.full(2 << RR_INDEX_BITS, EMPTY, np.int64),
                 np.zeros(size, np.int64), np.full(size, NEVER, np.int64), var,
                 ctx.unsampled)


@hook
def rr_tag(x):
    return (x >> RR_INDEX_BITS) & ((1 << RR_TAG_BITS) - 1)


@hook
def rr_left(x):
    """Index of ``x``'s entry in the left bank (entries 0-63 of the flat RR array)."""
    return (x ^ (x >> RR_INDEX_BITS)) & ((1 << RR_INDEX_BITS) - 1)


@hook
def rr_right(x):
    """Index of ``x``'s entry in the right bank (entries 64-127 of the flat RR array)."""
    return (1 << RR_INDEX_BITS) + ((x ^ (x >> (2 * RR_INDEX_BITS))) & ((1 << RR_INDEX_BITS) - 1))


@hook
def rr_insert(rr, x):
    tag = rr_tag(x)
    rr[rr_left(x)] = tag
    rr[rr_right(x)] = tag


@hook
def rr_hit(rr, x):
    tag = rr_tag(x)
    return rr[rr_left(x)] == tag or rr[rr_right(x)] == tag


@hook
def same_page(a, b):
    return (a >> PAGE_BITS) == (b >> PAGE_BITS)


@hook
def learn(offsets, scores, rr, var, x):
    """Test the next offset on learning access ``x``; end the round and, at SCORE_MAX or
    ROUND_MAX, the learning phase (setting the prefetch offset ``var[OFFSET]``)."""
    p = var[P]
    d = offsets[p]
    if same_page(x, x - d) and rr_hit(rr, x - d):
        scores[p] += 1
        if scores[p] >= var[MAX_SCORE]:
            var[MAX_SCORE] = scores[p]
            var[BEST] = d
    if p < offsets.shape[0] - 1:
        var[P] = p + 1
        return
    var[P] = 0
    var[ROUND] += 1
    if var[MAX_SCORE] == SCORE_MAX or var[ROUND] == ROUND_MAX:
        var[OFFSET] = var[BEST] if var[MAX_SCORE] > BAD_SCORE else 0
        scores[:] = 0
        var[MAX_SCORE] = 0
        var[BEST] = 0
        var[ROUND] = 0


@hook
def on_access(state, vid, table, outcome, t, slot_of, out):
    keys, rows, table_base, offsets, scores, rr, queued_key, queued_at, var = (
        state.keys, state.rows, state.table_base, state.offsets, state.scores, state.rr,
        state.queued_key, state.queued_at, state.var)
    due = t - var[DELAY]  # the learning access (if any) of that time enters the RR table
    slot = due & var[MASK]
    if queued_at[slot] == due:
        rr_insert(rr, queued_key[slot])
    if outcome == HIT:  # not a learning access
        return 0
    x = table_base[table] + rows[t]  # keys[vid], read in trace order (no cache miss)
    learn(offsets, scores, rr, var, x)
    slot = t & var[MASK]
    queued_key[slot] = x
    queued_at[slot] = t
    d = var[OFFSET]
    if d == 0:  # prefetching off
        return 0
    m = 0
    for i in range(1, var[DEGREE] + 1):
        c = x + i * d
        if not same_page(x, c):
            break
        w = candidate_vid(keys, vid, c, state.unsampled, t)
        if w >= 0:
            out[m] = w
            m += 1
    return m


PREFETCHER = Prefetcher("bop", "Best-Offset prefetcher (Michaud, HPCA 2016), 64-key pages",
                        make_state, on_access=on_access,
                        params={"degree": Int(1, lo=1, help="prefetches X + i x offset for "
                                              "i = 1 .. degree, within the page")})
