"""W-TinyLFU: an LRU window in front of an SLRU main cache, admission by frequency.

Paper: G. Einziger, R. Friedman and B. Manes, "TinyLFU: A Highly Efficient Cache
Admission Policy", ACM Transactions on Storage 13(4), 2017 (W-TinyLFU: a 1% LRU window,
a segmented-LRU main cache with a 20% probation / 80% protected split, and a frequency
sketch that decides whether the window's victim replaces the main cache's victim).
Reference implementation: libCacheSim ``libCacheSim/cache/eviction/WTinyLFU.c`` with
``SLRU.c`` (``seg-size=1:4``) and ``dataStructure/minimalIncrementCBF.c`` (PyPI
``libcachesim`` 0.3.5, ``lcs.WTinyLFU(main_cache="SLRU", window_size=0.01)``). Its
unit-size behaviour is reproduced:

* sizes: window ``Wc = floor(c * window_size)``, main ``M = c - Wc``; the main SLRU has a
  probation segment of ``floor(M/5)`` and a protected one of ``floor(4M/5)`` vectors.
  The window itself is not bounded: every newcomer enters at the window's MRU end.
* sketch: a counting Bloom filter sized for M entries at error 0.001 (10 hashes,
  ``ceil(14.38 M)`` 32-bit counters), indices ``(a + i*b) mod 2**32 mod n`` with ``a, b``
  the low 32 bits of XXH64 of the 64-bit key with seeds 0x12345678 and 0x12344321; an add
  increments all 10 counters, an estimate is their minimum. Added to: each newcomer, each
  hit in main, and each window victim examined during an eviction. After 32 M hits in
  main, every counter is halved.
* hit in the window: to its MRU end. Hit in main: SLRU (probation -> protected MRU;
  protected overflow demotes protected's LRU to probation's MRU; probation overflow
  evicts probation's LRU).
* eviction (set full, on a miss): while the window is not empty, its LRU vector W moves
  to main while main has room (first segment with room, else probation); then W duels
  main's victim V (probation's LRU, else protected's): if ``est(W) > est(V)``, V is
  evicted and W moves to main; else W is evicted. With an empty window, main evicts V.
  One eviction per miss: the PyPI 0.3.5 build stops after a won duel (checked access by
  access against ``lcs.WTinyLFU.get``), whereas the GitHub source of Jan 2024 loops on.

Mapping onto the engine: libCacheSim's SLRU also evicts on a *hit*: promoting a
probation vector can overflow protected, whose LRU is demoted to probation, and a
probation overflow evicts probation's LRU. The rounding of the two segment sizes
(``floor(M/5) + floor(4M/5) < M``) lets probation hold one vector over its size, so this
happens routinely. The engine cannot evict on a hit, so that vector is marked *doomed*:
it leaves main at once, as in libCacheSim, but keeps its slot until the next miss of the
set, whose victim it becomes without a duel (libCacheSim serves that miss from its free
slot, without eviction). The only difference is an access to a doomed vector before
then: here a hit (it re-enters the window's MRU end and the sketch, as libCacheSim's miss
would insert it), there a miss. So libCacheSim's miss count = recsim's + the number of
hits on doomed vectors; tests/test_policies_modern.py checks this with the reference
model's count (0 on the 1M-access Zipf tests, 1 on a 30k-access Zipf trace and on the
Amazon video trace at 20%).

Other differences: libCacheSim refuses every object when ``Wc = 0`` (c < 100 at the
default 1% window) and caches nothing; here ``Wc = max(1, ...)`` and, with ``M = 0``,
the window alone is an LRU. A prefetch fill is handled as a demand miss (sketch add,
duel). Fully associative by design; with ``sets > 1`` every set runs its own W-TinyLFU
with c = ways (per-set lists, sketch, counter and decay). O(1) amortised per access (the
halving touches 14.4 M counters every 32 M main hits; each window vector moves to main at
most once per insertion).

Speed: each access adds to or reads about 20 counters (10 per sketch operation), spread
over the set's sketch, 1.8 KB at 32 ways and 4 MB over the benchmark's sets, so this is the
slowest policy (6.3 M accesses/s on the 32-way benchmark, LRU 57). What helped, with the
counts unchanged: the two 32-bit hashes of each vector kept (8 bytes a vector, not a
table of its 10 indices, 40) and preloaded 16 accesses ahead; each index's ``mod
counters`` from a floating-point reciprocal and one correction (exact below 2**52) instead
of a 64-bit division; int32 list links (4.4 -> 6.3 M accesses/s in all). A faster sketch
(a blocked Bloom filter, 8- or 16-bit counters) would change libCacheSim's counts.
``_estimate``, ``_add`` and ``_move`` are kept out of line (``@hook(inline=False)``), as
they were when hooks were inlined in Numba's IR (inlined there, they made the general
loop's first compile 36 s instead of 9, at the same speed within noise).
"""

import math

from collections import namedtuple

import numpy as np

from recsim.engine.preload import preload
from recsim.plugin import Choice, Float, Policy, hook
from recsim.policies._lists import push_back, push_front, unlink

_P1 = np.uint64(0x9E3779B185EBCA87)
_P2 = np.uint64(0xC2B2AE3D27D4EB4F)
_P3 = np.uint64(0x165667B19E3779F9)
_P4 = np.uint64(0x85EBCA77C2B2AE63)
_P5 = np.uint64(0x27D4EB2F165667C5)
SEED0, SEED1 = 0x12345678, 0x12344321
N_HASHES_ERROR = 0.001

WINDOW, PROBATION, PROTECTED, DOOMED = 0, 1, 2, 3


def _rotl(x, r):
    return (x << np.uint64(r)) | (x >> np.uint64(64 - r))


def xxh64_u64(keys, seed):
    """XXH64 of each 64-bit little-endian key (8-byte input), vectorised."""
    with np.errstate(over="ignore"):
        x = np.asarray(keys).astype(np.uint64)
        h = np.full(x.shape, seed, dtype=np.uint64) + _P5 + np.uint64(8)
        k = _rotl(x * _P2, 31) * _P1
        h ^= k
        h = _rotl(h, 27) * _P1 + _P4
        h ^= h >> np.uint64(33)
        h *= _P2
        h ^= h >> np.uint64(29)
        h *= _P3
        h ^= h >> np.uint64(32)
    return h


def sketch_size(entries):
    """(hashes, counters) of libCacheSim's CBF for ``entries`` at error 0.001."""
    bpe = -math.log(N_HASHES_ERROR) / 0.480453013918201
    hashes = int(math.ceil(0.693147180559945 * bpe))
    counters = int(min(math.ceil(bpe * entries), 2**31 - 1))
    if counters < hashes:
        counters = 2 * hashes
    return hashes, counters


def sketch_pairs(keys):
    """Per vector, the two 32-bit hashes ``(a, b)`` its counter indices come from, flat
    (``a`` at ``2 * vid``, ``b`` at ``2 * vid + 1``)."""
    keys = np.asarray(keys)
    out = np.empty(2 * keys.shape[0], dtype=np.uint32)
    out[0::2] = xxh64_u64(keys, SEED0) & np.uint64(0xFFFFFFFF)
    out[1::2] = xxh64_u64(keys, SEED1) & np.uint64(0xFFFFFFFF)
    return out


# the sizes: main (probation + protected), probation and protected at most, sketch hashes and
# counters per set, requests of a set between two halvings of its counters, 1 / counters; the
# two hash halves of each vector (sketch_pairs); the counting Bloom filters, one per set; the
# requests of each set since its last halving; per slot its list (WINDOW, PROBATION,
# PROTECTED, DOOMED), links and vector; per list of a set [4*s + list] its head, tail and
# count; the trace's vids (for preloading)
State = namedtuple("State", "main max_probation max_protected hashes counters reset recip pairs "
                            "cbf requests lst_of prev next head tail count vid_of vids")


def make_state(ctx, params):
    ws = params["window_size"]
    cap, sets, ways = ctx.capacity, ctx.sets, ctx.ways
    window = max(1, int(ways * ws))
    m = ways - window
    max0 = int(1 / 5 * m)
    max1 = int(4 / 5 * m)
    hashes, counters = sketch_size(m)
    pairs = sketch_pairs(ctx.keys)
    cbf = np.zeros(sets * counters, dtype=np.uint32)
    reqc = np.zeros(sets, dtype=np.int64)
    lst_of = np.zeros(cap, dtype=np.int8)
    prev = np.full(cap, -1, dtype=np.int32)
    nxt = np.full(cap, -1, dtype=np.int32)
    head = np.full(4 * sets, -1, dtype=np.int64)  # [4*s + list]; MRU (or oldest doomed) first
    tail = np.full(4 * sets, -1, dtype=np.int64)
    count = np.zeros(4 * sets, dtype=np.int64)
    vid_of = np.zeros(cap, dtype=np.int64)  # the vector in each slot, for the sketch
    return State(m, max0, max1, hashes, counters, 32 * m, 1.0 / counters, pairs, cbf, reqc,
                 lst_of, prev, nxt, head, tail, count, vid_of, ctx.vids)


@hook
def _counter(state, vid, i):
    """The index in its set's counters of the ``i``-th counter of ``vid``:
    ``((a + i*b) mod 2**32) mod counters``, the last ``mod`` by the reciprocal (see
    module)."""
    pairs = state.pairs
    x = (np.int64(pairs[2 * vid]) + i * np.int64(pairs[2 * vid + 1])) & 0xFFFFFFFF
    n = state.counters
    r = x - np.int64(x * state.recip) * n
    return r + n if r < 0 else (r - n if r >= n else r)


@hook(inline=False)
def _estimate(state, set_, vid):
    cbf = state.cbf
    base = set_ * state.counters
    best = np.uint32(0xFFFFFFFF)
    for i in range(state.hashes):
        c = cbf[base + _counter(state, vid, i)]
        if c < best:
            best = c
    return best


@hook(inline=False)
def _add(state, set_, vid):
    cbf = state.cbf
    base = set_ * state.counters
    for i in range(state.hashes):
        cbf[base + _counter(state, vid, i)] += np.uint32(1)


@hook(inline=False)
def _move(state, set_, slot, to, front):
    """Take ``slot`` out of its list and put it at the MRU end (or the back) of ``to``."""
    lst_of, prev, nxt, head, tail, count = (
        state.lst_of, state.prev, state.next, state.head, state.tail, state.count)
    frm = lst_of[slot]
    unlink(prev, nxt, head, tail, 4 * set_ + frm, slot)
    count[4 * set_ + frm] -= 1
    if front:
        push_front(prev, nxt, head, tail, 4 * set_ + to, slot)
    else:
        push_back(prev, nxt, head, tail, 4 * set_ + to, slot)
    count[4 * set_ + to] += 1
    lst_of[slot] = to


@hook
def _main_insert(state, set_, slot):
    count = state.count
    if count[4 * set_ + PROBATION] + 1 <= state.max_probation:
        seg = PROBATION
    elif count[4 * set_ + PROTECTED] + 1 <= state.max_protected:
        seg = PROTECTED
    else:
        seg = PROBATION
    _move(state, set_, slot, seg, True)


@hook
def _main_victim(state, set_):
    if state.count[4 * set_ + PROBATION] > 0:
        return state.tail[4 * set_ + PROBATION]
    return state.tail[4 * set_ + PROTECTED]


@hook
def on_access(state, vid, t):
    vids = state.vids  # preload the hashes of the vector accessed 16 accesses ahead
    if t + 16 < vids.shape[0]:
        preload(state.pairs, 2 * vids[t + 16])


@hook
def on_fill(state, set_, slot, vid, t, prio, prefetch):
    lst_of, prev, nxt, head, tail, count = (
        state.lst_of, state.prev, state.next, state.head, state.tail, state.count)
    state.vid_of[slot] = vid
    lst_of[slot] = WINDOW
    push_front(prev, nxt, head, tail, 4 * set_ + WINDOW, slot)
    count[4 * set_ + WINDOW] += 1
    _add(state, set_, vid)


@hook
def on_hit(state, set_, slot, vid, t, prio):
    count, head, tail = state.count, state.head, state.tail
    lst = state.lst_of[slot]
    if lst == WINDOW:
        if head[4 * set_] != slot:
            _move(state, set_, slot, WINDOW, True)
        return
    if lst == DOOMED:  # libCacheSim had evicted it: its miss re-inserts it in the window
        _move(state, set_, slot, WINDOW, True)
        _add(state, set_, vid)
        return
    if lst == PROTECTED:
        if head[4 * set_ + PROTECTED] != slot:
            _move(state, set_, slot, PROTECTED, True)
    else:
        _move(state, set_, slot, PROTECTED, True)
        while count[4 * set_ + PROTECTED] > state.max_protected:
            _move(state, set_, tail[4 * set_ + PROTECTED], PROBATION, True)
            while count[4 * set_ + PROBATION] > state.max_probation:
                _move(state, set_, tail[4 * set_ + PROBATION], DOOMED, False)
    _add(state, set_, vid)
    reqc = state.requests
    reqc[set_] += 1
    if reqc[set_] >= state.reset:
        reqc[set_] = 0
        n = state.counters
        cbf = state.cbf
        for i in range(set_ * n, set_ * n + n):
            cbf[i] >>= np.uint32(1)


@hook
def victim(state, set_, base, ways, vid, t, prefetch):
    count, head, tail, vid_of = state.count, state.head, state.tail, state.vid_of
    if count[4 * set_ + DOOMED] > 0:
        return head[4 * set_ + DOOMED]
    m = state.main
    first = -1
    while True:
        if count[4 * set_ + WINDOW] > 0:
            w = tail[4 * set_ + WINDOW]
            wv = vid_of[w]
            if count[4 * set_ + PROBATION] + count[4 * set_ + PROTECTED] + 1 <= m:
                _main_insert(state, set_, w)
                _add(state, set_, wv)
                continue
            if m > 0:
                v = _main_victim(state, set_)
                if _estimate(state, set_, wv) > _estimate(state, set_, vid_of[v]):
                    if first < 0:
                        first = v
                    _move(state, set_, v, DOOMED, False)
                    _main_insert(state, set_, w)
                    _add(state, set_, wv)
                    break
            if first < 0:
                first = w
            _move(state, set_, w, DOOMED, False)
            _add(state, set_, wv)
            break
        v = _main_victim(state, set_)
        if first < 0:
            first = v
        _move(state, set_, v, DOOMED, False)
        break
    return first


@hook
def on_evict(state, set_, slot, vid, t):
    count = state.count
    unlink(state.prev, state.next, state.head, state.tail, 4 * set_ + DOOMED, slot)
    count[4 * set_ + DOOMED] -= 1


POLICY = Policy("wtinylfu", "W-TinyLFU: LRU window, SLRU main, counting-Bloom-filter "
                "admission (Einziger et al. 2017; libCacheSim WTinyLFU)", make_state, victim,
                on_access=on_access, on_hit=on_hit, on_fill=on_fill, on_evict=on_evict,
                params={"main_cache": Choice("SLRU", ("SLRU",), help="the main cache (only "
                                              "SLRU is implemented)"),
                        "window_size": Float(0.01, lo=0, hi=1, open_hi=True,
                                             help="share of the ways for the LRU window")})
