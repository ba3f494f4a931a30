"""Domino: a temporal prefetcher that replays the history after the last two accesses.

M. Bakhshalipour, P. Lotfi-Kamran and H. Sarbazi-Azad, "Domino Temporal Data Prefetcher",
HPCA 2018. Reference implementation: the TransFetch repository
(github.com/pengmiao-usc/TransFetch) ``ChampSim/prefetcher/domino.llc_pref`` as of commit
88d2719 (the file's only version, from commit 78fd652e). Defaults: ``degree`` 1 (its
``DEGREE``); 3 pairs per index row (the limit of its ``EIT_ENTRY_LIMIT`` code path, which
its build leaves off, so that its rows grow without bound).

Rules (as in the reference):

* A global history buffer (GHB) records the trigger accesses in order. The enhanced index
  table (EIT) has one row per address ``a``, holding pairs ``(b, p)``: the last time ``b``
  followed ``a``, it was written at GHB position ``p``.
* On a trigger access ``cur`` whose vector differs from the previous trigger's ``last``
  (a repeat is ignored altogether), Domino first predicts: if the EIT has a row for
  ``last``, the pointer is that row's pair for ``cur`` or, if there is none, the row's most
  recently written pair; it prefetches ``GHB[p + 1 .. p + degree]`` (as far as the GHB
  goes). Then it trains: it appends ``cur`` to the GHB at position ``q`` and writes
  ``(cur, q)`` into the row of ``last``, making it the row's most recent pair (a full row
  drops its least recently written pair).
* Triggers: every demand access (``trigger='access'``, the default): the reference runs
  at the LLC on every load, its hit filter commented out. ``trigger='miss'`` fires on
  misses (merged ones included) and first uses of prefetches, timely or late: the miss
  stream, prefetch hits included, that the paper's Domino records.

Metadata budget (the reference's GHB and index table grow without bound). ``B =
max(1, round(metadata_fraction * unique vectors))``, 10% by default as the RecMG paper
gives Domino:

* the GHB is a circular buffer of ``B`` entries; a pointer whose GHB entry has been
  overwritten is forgotten (no prediction from it);
* the EIT has ``B`` rows at most (one per address the GHB can hold): ``min(16, B)``-way
  set-associative with LRU replacement, ``B // ways`` sets, set = vid mod sets; each row
  keeps ``pairs`` (3) pairs, dropping the least recently written.

``charge_metadata``: when True, the metadata takes buffer space: ``metadata_vectors``
gives the engine the number of vectors it occupies, ``ceil(8 * (B + rows * (1 + 2 *
pairs)) / vector_bytes)`` (8-byte addresses and pointers; a row is a tag and its pairs; LRU
bits not counted), and the engine withholds that many slots from the buffer. Default False:
the metadata is then stored outside the buffer. ``vector_bytes`` (256: a 64-dimension fp32
embedding, an assumption: traces do not record the dimension) only serves that conversion.

Adaptation to embedding vectors: an address is a vector (the GHB stores vids; every vid is
a vector of the trace, so no candidate is dropped). Simplifications: the reference's first
trigger trains the row of address 0 (its initial "last address"); here the first trigger
only enters the GHB. The reference's index table is a map (fully associative); the bounded
EIT is set-associative, keyed by the exact vector.

For speed (no result depends on it): a row keeps its pairs newest first, so no pair needs
a time stamp, and the tables hold int32 values when they fit (:func:`metadata_dtype`);
together 8.9 -> 11.5 M accesses/s on the benchmark (LRU, 32-way, 10%, 10M-access
Zipf(0.9)), with the counts unchanged on 20 configurations.
"""

import math

from collections import namedtuple

import numpy as np

from recsim.plugin import HIT, QUEUE_SIZE, Bool, Choice, Float, Int, Prefetcher, hook

EIT_WAYS = 16
WORD_BYTES = 8

# conf: the sizes and switches the hooks read
DEGREE, GHB_SIZE, EIT_SETS, EIT_ROW_WAYS, PAIRS, ON_ALL = range(6)
# var: the hooks' running state
HEAD, LAST = range(2)
# the fields of a pair
NEXT, POS = range(2)


def geometry(n_vids, params):
    """``(GHB entries, EIT sets, EIT ways, pairs per row)`` for a trace of ``n_vids``
    unique vectors and the (checked and typed) parameters."""
    budget = max(1, round(params["metadata_fraction"] * n_vids))
    ways = min(EIT_WAYS, budget)
    return budget, budget // ways, ways, params["pairs"]


def metadata_vectors(n_vids, params):
    """How many buffer vectors the metadata occupies when ``charge_metadata`` is True (the
    engine takes them off the capacity); 0 when it is False."""
    if not params["charge_metadata"]:
        return 0
    ghb, sets, ways, pairs = geometry(n_vids, params)
    words = ghb + sets * ways * (1 + 2 * pairs)
    return math.ceil(WORD_BYTES * words / params["vector_bytes"])


# conf (DEGREE .. ON_ALL); var (HEAD, LAST); the GHB; per EIT row its tag, LRU stamp and
# (next vid, GHB position) pairs
State = namedtuple("State", "conf var ghb tag stamp pair")


def make_state(ctx, params):
    degree = params["degree"]
    ghb, sets, ways, pairs = geometry(ctx.n_vids, params)
    rows = sets * ways
    conf = np.array([degree, ghb, sets, ways, pairs, params["trigger"] == "access"],
                    dtype=np.int64)
    word = metadata_dtype(ctx.trace.n_accesses, ctx.n_vids)
    pair = np.zeros((rows, pairs, 2), dtype=word)  # (next vid, GHB position), newest first
    pair[:, :, NEXT] = -1  # empty
    return State(conf, np.array([0, -1], dtype=np.int64),  # GHB head (entries written), last vid
                 np.zeros(ghb, dtype=word),  # GHB: vids, position q in slot q % ghb
                 np.full(rows, -1, dtype=word),  # EIT row tag: the vid "last" (-1: invalid)
                 np.zeros(rows, dtype=word),  # EIT row LRU stamp (0: invalid)
                 pair)


def metadata_dtype(n_accesses, n_vids):
    """int32 for the tables (vids, GHB positions, times + 1) when every value fits, which
    halves their memory (8.9 -> 11.0 M accesses/s on the benchmark); int64 for a trace of
    2**31 accesses or more."""
    return np.int32 if max(n_accesses, n_vids) < np.iinfo(np.int32).max else np.int64


@hook
def eit_set(conf, vid):
    """The first row of ``vid``'s EIT set (set = vid mod sets)."""
    return (vid % conf[EIT_SETS]) * conf[EIT_ROW_WAYS]


@hook
def _row_of(conf, tag, vid):
    """The EIT row of ``vid`` or -1."""
    base = eit_set(conf, vid)
    for r in range(base, base + conf[EIT_ROW_WAYS]):
        if tag[r] == vid:
            return r
    return -1


@hook
def pointer(pair, r, cur, pairs):
    """The GHB position of the pair of ``cur`` in EIT row ``r``, else of the row's most
    recently written pair (its first); -1 if the row is empty."""
    for k in range(pairs):
        if pair[r, k, NEXT] == cur:
            return pair[r, k, POS]
    return pair[r, 0, POS] if pair[r, 0, NEXT] >= 0 else -1


@hook
def predict(state, r, cur, out):
    """Write ``GHB[p + 1 ..]`` (at most ``degree``) into ``out`` for the pointer ``p`` of
    ``cur`` in EIT row ``r``; returns how many."""
    conf, var, ghb, pair = state.conf, state.var, state.ghb, state.pair
    pos = pointer(pair, r, cur, conf[PAIRS])
    head = var[HEAD]
    if pos < 0 or pos < head - conf[GHB_SIZE]:  # none, or overwritten: forgotten
        return 0
    n = 0
    while n < conf[DEGREE] and pos + 1 + n < head:
        out[n] = ghb[(pos + 1 + n) % conf[GHB_SIZE]]
        n += 1
    return n


@hook
def train(state, r, cur, last, t):
    """Append ``cur`` to the GHB and write (cur, its position) into the row of ``last``
    (``r``; -1: none yet, install one; no ``last`` (-1) on the first trigger)."""
    conf, var, ghb, tag, stamp, pair = (
        state.conf, state.var, state.ghb, state.tag, state.stamp, state.pair)
    pos = var[HEAD]
    ghb[pos % conf[GHB_SIZE]] = cur
    var[HEAD] = pos + 1
    if last < 0:
        return
    if r < 0:  # a new row, over the set's first invalid row (stamp 0) or its LRU one
        base = eit_set(conf, last)
        r = base
        least = stamp[base]
        for w in range(base + 1, base + conf[EIT_ROW_WAYS]):
            older = stamp[w] < least
            r = w if older else r
            least = stamp[w] if older else least
        tag[r] = last
        for j in range(1, conf[PAIRS]):  # written, not read: no wait for the old row
            pair[r, j, NEXT] = -1
    else:  # drop the pair of cur, else the last (an empty one, or the least recent)
        k = conf[PAIRS] - 1
        for j in range(conf[PAIRS] - 1):
            if pair[r, j, NEXT] == cur:
                k = j
                break
        for j in range(k, 0, -1):
            pair[r, j, NEXT] = pair[r, j - 1, NEXT]
            pair[r, j, POS] = pair[r, j - 1, POS]
    stamp[r] = t + 1
    pair[r, 0, NEXT] = cur
    pair[r, 0, POS] = pos


@hook
def on_access(state, vid, table, outcome, t, slot_of, out):
    conf, var, tag = state.conf, state.var, state.tag
    if outcome == HIT and conf[ON_ALL] == 0:
        return 0
    last = var[LAST]
    if vid == last:
        return 0
    var[LAST] = vid
    r = _row_of(conf, tag, last) if last >= 0 else -1
    n = predict(state, r, vid, out) if r >= 0 else 0
    train(state, r, vid, last, t)
    return n


PREFETCHER = Prefetcher(
    "domino", "temporal: replay the history that followed the last two accesses",
    make_state, on_access=on_access, metadata_vectors=metadata_vectors,
    params={"metadata_fraction": Float(0.10, lo=0, open_lo=True, help="GHB entries per "
                                       "unique vector (the EIT has as many rows)"),
            "degree": Int(1, lo=1, hi=QUEUE_SIZE, help="GHB entries prefetched per trigger"),
            "pairs": Int(3, lo=1, help="(next, position) pairs per EIT row"),
            "trigger": Choice("access", ("access", "miss"), help="which demand accesses "
                              "train and prefetch"),
            "charge_metadata": Bool(False, help="take the metadata's space off the buffer"),
            "vector_bytes": Int(256, lo=1, help="bytes of one buffer vector (to charge the "
                                "metadata)")})
