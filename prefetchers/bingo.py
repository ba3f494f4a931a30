"""Bingo: a spatial prefetcher that recalls a region's footprint from its trigger access.

M. Bakhshalipour, M. Shakerinava, P. Lotfi-Kamran and H. Sarbazi-Azad, "Bingo Spatial
Data Prefetcher", HPCA 2019 (the DPC-3 submission). Reference implementation: ChampSim
(github.com/ChampSim/ChampSim) commit 081eb12c, ``prefetcher/bingo_dpc3_l1d/
bingo_dpc3_l1d.cc``; the defaults below are that file's settings.

Adaptation to embedding vectors: a cache block is one vector and its address is the
vector's key (``table_base[table] + row``; table bases are 64-aligned, so a region never
spans two tables); a region is an aligned block of ``region`` consecutive keys; the PC of
an access is its table id. Bingo trains on every demand access (the reference hooks every
L1-D load, hit or miss) and learns of evictions through ``on_evict``.

Rules (as in the reference):

* **Trigger**: an access to a region found in neither the accumulation table nor the
  filter table. It is recorded in the filter table with its PC and offset, and the pattern
  history table (PHT) is looked up with (PC, address).
* **Accumulation**: a later access to the region at another offset moves the entry to the
  accumulation table, whose footprint (a bit per offset) then ORs in every access to the
  region. An access at the trigger offset leaves the filter entry as it is.
* **End of a generation**: when a vector of the region leaves the buffer both entries are
  dropped, and the accumulation entry (if any) is written to the PHT; an accumulation entry
  evicted from its (LRU) set is written to the PHT too. A filter-table entry that is
  dropped or evicted writes nothing (one access is no footprint). The PHT stores the
  footprint rotated so that the trigger offset is bit 0, keyed by (PC, address); an entry
  with the same (PC, address) is overwritten.
* **Lookup**: a PHT entry of the same PC and address (the low ``address_bits`` bits of
  the key, as the reference keeps 16) is a PC+Address match: prefetch its whole footprint.
  Otherwise every entry of the same PC and offset votes (they share a set), and an offset
  is prefetched when at least ``vote_threshold`` of them hold it. The footprint is rotated
  back to the trigger's offset, the trigger's own vector is dropped, and the rest are
  issued nearest first, ``+d`` before ``-d``.
* Tables: filter ``filter_entries`` (64) and accumulation ``accumulation_entries`` (128)
  entries, 16-way, LRU, set = the reference's XOR-folding hash of the region number; PHT
  ``pht_entries`` (8192) entries, ``pht_ways`` (16) ways, LRU, set = the hash of (PC,
  offset), so that PC+Offset matches share a set; a PC+Offset match does not refresh its
  entry's LRU position, a PC+Address match does. PC = the low 16 bits of the table id.
  ``region`` (32) is a power of two up to 32 (a footprint is a 32-bit mask).

Simplifications, each with its reason:

* The reference's vote has two levels: >= 0.75 fills the L1-D, >= 0.25 only the L2. The
  buffer is the only level modelled here, so only the first is issued (``vote_threshold``
  = 0.75); L2-only blocks are not prefetched.
* The reference parks a region's prefetches in a 128-entry streamer and issues them while
  the L1-D's prefetch queue and MSHRs have room, finishing on later accesses to the
  region. The engine has no queue limit (``max_outstanding`` aside), so they are all
  issued at the trigger, in the streamer's order, and no streamer is kept.
* The engine evicts a demand miss's victim before this prefetcher sees the access; in
  ChampSim the eviction comes later, with the fill.
* A footprint offset whose key is not a vector of the trace has no vector id and cannot be
  simulated: it is dropped, so this prefetcher's pollution is a lower bound.

For speed (no result depends on them): a counting filter of the regions in the filter or
accumulation table spares most accesses the probes of both; a count per block of 32 vids
of the table entries whose span of vids touches it (a region's vids lie within ``region``
vids of one another, as keys rise by >= 1 a vid) spares most evictions the load of the
evicted vector's key; the key of the access ``LOOKAHEAD`` ahead is preloaded; the vote
counts all offsets at once in bit slices, and each PHT set remembers its last vote until
an insertion changes the set.
"""

from collections import namedtuple

import numpy as np

from recsim.engine.preload import preload
from recsim.plugin import Float, Int, Prefetcher, candidate_vid, hook, param_error

OWNER = "prefetcher 'bingo'"  # as parameter errors name it
TABLE_WAYS = 16  # filter and accumulation tables (the reference's default associativity)
PC_MASK = (1 << 16) - 1  # the reference keeps 16 PC bits in the PHT
TRACKED = 4096  # counting filter over the regions in the filter or accumulation table
BLOCK_BITS = 5  # the eviction filter counts table entries per block of 32 vids
LOOKAHEAD = 16  # accesses ahead whose key is preloaded (a cache hint; changes no result)
# BIT_INDEX[(b * 0x077CB531 mod 2**32) >> 27] = log2(b) for b = 2**0 .. 2**31 (de Bruijn)
BIT_INDEX = np.zeros(32, dtype=np.int64)
BIT_INDEX[[((1 << i) * 0x077CB531 & 0xFFFFFFFF) >> 27 for i in range(32)]] = np.arange(32)

# conf: the geometry and masks the hooks read
REGION_BITS, FT_SETS, AT_SETS, PHT_SETS, PHT_WAYS, ADDRESS_MASK, FT_INDEX_BITS, \
    AT_INDEX_BITS, PHT_INDEX_BITS = range(9)


def _log2(n):
    return n.bit_length() - 1


# the trace's keys and vids; conf (REGION_BITS ..); votes needed by voters; the filter,
# accumulation and pattern history tables (rows: the fields below); a counting filter of the
# regions in the first two; each entry's vid span; per block of vids the spans touching it;
# per PHT set its last vote; the LRU clock; a sampled replay's count of candidates outside
# the sample (else None)
State = namedtuple("State", "keys vids conf need ft at pht tracked spans marks memo clock "
                            "unsampled")


def make_state(ctx, params):
    region, ft, at = params["region"], params["filter_entries"], params["accumulation_entries"]
    pht, pht_ways = params["pht_entries"], params["pht_ways"]
    bits, thr = params["address_bits"], params["vote_threshold"]
    # bounded by other parameters:
    if pht < pht_ways:
        raise param_error(OWNER, "pht_entries", f"a power of two in [pht_ways = {pht_ways}, "
                          f"{1 << 24:,}]", pht)
    if bits < _log2(region):
        raise param_error(OWNER, "address_bits", f"an integer in [log2(region) = "
                          f"{_log2(region)}, 46]", bits)
    ft_sets, at_sets, pht_sets = ft // TABLE_WAYS, at // TABLE_WAYS, pht // pht_ways
    conf = np.array([_log2(region), ft_sets, at_sets, pht_sets, pht_ways, (1 << int(bits)) - 1,
                     _log2(ft_sets), _log2(at_sets), _log2(pht_sets)], dtype=np.int64)

    def table(n, fields):  # one row per field; row 0: region / tag (-1: invalid), row 1: LRU
        arr = np.zeros((fields, n), dtype=np.int64)
        arr[0] = -1
        return arr

    return State(ctx.keys, ctx.vids, conf, votes_needed(thr, pht_ways),
                 table(ft, 4),  # filter: region, lru stamp, pc, offset
                 table(at, 5),  # accumulation: region, lru stamp, pc, offset, footprint
                 table(pht, 3),  # PHT: pc | address << 16, lru stamp, footprint
                 np.zeros(TRACKED, dtype=np.int32),  # regions in either table, by region % TRACKED
                 np.zeros((2, ft + at), dtype=np.int64),  # each entry's vid span (first, last)
                 np.zeros((ctx.n_vids >> BLOCK_BITS) + 3, dtype=np.int16),  # per block of vids:
                 # the entry spans touching it
                 np.full((2, pht_sets), -1, dtype=np.int64),  # per PHT set: last vote's (pc,
                 # offset) tag and its outcome (-1: none since the set last changed)
                 np.zeros(1, dtype=np.int64),  # LRU clock
                 ctx.unsampled)


def votes_needed(threshold, ways):
    """``[n]``: the fewest of ``n`` voters whose share ``count / n`` (the reference's float
    division) reaches ``threshold``, for n = 0 .. ways (n = 0 is never looked up)."""
    need = np.zeros(ways + 1, dtype=np.int64)
    for n in range(1, ways + 1):
        need[n] = next(c for c in range(1, n + 1) if c / n >= threshold)
    return need


@hook
def hash_index(key, index_bits):
    """The reference's set hash of ``key >= 0``: the XOR of all its ``index_bits``-bit
    blocks, in the low ``index_bits`` bits of the result (the set; the higher bits are
    garbage). Computed by doubling folds, ``key ^= key >> (index_bits * 2**k)``, after
    which each block holds the XOR of the ``2**(k + 1)`` blocks from it upwards: a fixed
    number of steps (5 for the default tables) with no data-dependent branch, where the
    reference's loop over the blocks cost a fifth of the replay time."""
    if index_bits == 0:
        return key
    shift = index_bits
    while shift < 64:
        key ^= key >> shift
        shift <<= 1
    return key


@hook
def rotate(pattern, n, width):
    """Rotate a ``width``-bit footprint (``width`` a power of two) by ``n >= 0`` places
    towards higher offsets."""
    n &= width - 1
    return ((pattern << n) | (pattern >> (width - n))) & ((1 << width) - 1)


@hook
def add_vote(p, pattern):
    """Add 1 to the count of every offset in ``pattern``. ``p[k]`` holds bit k of all the
    counts (a bit-sliced counter: one ripple-carry add for all offsets at once); seven
    planes count up to 127 voters, more than a PHT set can hold (``pht_ways`` <= 64)."""
    c = pattern
    p0, c = p[0] ^ c, p[0] & c
    p1, c = p[1] ^ c, p[1] & c
    p2, c = p[2] ^ c, p[2] & c
    p3, c = p[3] ^ c, p[3] & c
    p4, c = p[4] ^ c, p[4] & c
    p5, c = p[5] ^ c, p[5] & c
    return (p0, p1, p2, p3, p4, p5, p[6] ^ c)


@hook
def counts_at_least(p, need):
    """The offsets whose count in the planes ``p`` is >= ``need`` (compared from the top
    bit down)."""
    above = 0
    equal = -1
    for k in range(6, -1, -1):
        c = p[k]
        if (need >> k) & 1:
            equal &= c
        else:
            above |= equal & c
            equal &= ~c
    return above | equal


@hook
def _find(tab, base, ways, region):
    for w in range(base, base + ways):
        if tab[0, w] == region:
            return w
    return -1


@hook
def _victim(tab, base, ways):
    """The first invalid way, else the least recently used: the first way of least LRU
    stamp (row 1), as an invalid entry's stamp is 0 and a valid one's is >= 1."""
    best = base
    least = tab[1, base]
    for w in range(base + 1, base + ways):
        stamp = tab[1, w]
        better = stamp < least
        best = w if better else best
        least = stamp if better else least
    return best


@hook
def _tick(clock):
    clock[0] += 1
    return clock[0]


@hook
def _pht_set(conf, pc, offset):
    index = hash_index(((pc & PC_MASK) << conf[REGION_BITS]) | offset, conf[PHT_INDEX_BITS])
    return index & (conf[PHT_SETS] - 1)


@hook
def pht_insert(state, pc, address, footprint):
    """Store a generation's footprint, rotated so that the trigger offset is bit 0."""
    conf, pht, memo, clock = state.conf, state.pht, state.memo, state.clock
    width = 1 << conf[REGION_BITS]
    offset = address & (width - 1)
    tag = (pc & PC_MASK) | ((address & conf[ADDRESS_MASK]) << 16)
    s = _pht_set(conf, pc, offset)
    memo[0, s] = -1
    base = s * conf[PHT_WAYS]
    w = _find(pht, base, conf[PHT_WAYS], tag)
    if w < 0:
        w = _victim(pht, base, conf[PHT_WAYS])
        pht[0, w] = tag
    pht[1, w] = _tick(clock)
    pht[2, w] = rotate(footprint, width - offset, width)


@hook
def pht_lookup(state, pc, address):
    """The footprint to prefetch for a trigger access (absolute offsets; 0: none)."""
    conf, need, pht, memo, clock = state.conf, state.need, state.pht, state.memo, state.clock
    width = 1 << conf[REGION_BITS]
    offset = address & (width - 1)
    tag = (pc & PC_MASK) | ((address & conf[ADDRESS_MASK]) << 16)
    same_pc_offset = PC_MASK | ((width - 1) << 16)
    s = _pht_set(conf, pc, offset)
    base = s * conf[PHT_WAYS]
    w = _find(pht, base, conf[PHT_WAYS], tag)
    if w >= 0:  # PC+Address
        pht[1, w] = _tick(clock)
        return rotate(pht[2, w], offset, width)
    if memo[0, s] != tag & same_pc_offset:
        planes = (0, 0, 0, 0, 0, 0, 0)
        voters = 0
        for w in range(base, base + conf[PHT_WAYS]):
            other = pht[0, w]
            if other >= 0 and (other ^ tag) & same_pc_offset == 0:  # PC+Offset
                voters += 1
                planes = add_vote(planes, pht[2, w])
        memo[0, s] = tag & same_pc_offset
        memo[1, s] = counts_at_least(planes, need[voters]) if voters else 0
    return rotate(memo[1, s], offset, width)


@hook
def _cover(marks, spans, e, step):
    """Add ``step`` to the count of the (one or two) blocks of 32 vids that entry ``e``'s
    span (``region`` <= 32 vids) touches."""
    lo = max(spans[0, e], 0) >> BLOCK_BITS
    hi = max(spans[1, e], 0) >> BLOCK_BITS
    marks[lo] += step
    if hi != lo:
        marks[hi] += step


@hook
def _lowest_bit(x):
    """The index of the lowest set bit of ``x`` (0 < x < 2**32), by a de Bruijn product."""
    return BIT_INDEX[(((x & -x) * 0x077CB531) & 0xFFFFFFFF) >> 27]


@hook
def _reverse32(x):
    x = ((x >> 1) & 0x55555555) | ((x & 0x55555555) << 1)
    x = ((x >> 2) & 0x33333333) | ((x & 0x33333333) << 2)
    x = ((x >> 4) & 0x0F0F0F0F) | ((x & 0x0F0F0F0F) << 4)
    x = ((x >> 8) & 0x00FF00FF) | ((x & 0x00FF00FF) << 8)
    return ((x >> 16) & 0xFFFF) | ((x & 0xFFFF) << 16)


@hook
def emit(keys, vid, footprint, width, out, unsampled, t):
    """Write the vids of ``footprint`` (offsets of ``vid``'s region, ``vid``'s own excluded)
    into ``out``, nearest offset first, + before -; offsets that are no vector of the
    trace are dropped (counted in a sampled replay: :func:`recsim.plugin.candidate_vid`)."""
    key = keys[vid]
    offset = key & (width - 1)
    up = footprint >> (offset + 1)  # bit i: offset + 1 + i
    down = _reverse32(footprint) >> (32 - offset)  # bit i: offset - 1 - i
    n = 0
    while (up | down) != 0 and n < out.shape[0]:
        du = _lowest_bit(up) if up != 0 else 32
        dd = _lowest_bit(down) if down != 0 else 32
        if du <= dd:
            up &= up - 1
            w = candidate_vid(keys, vid, key + 1 + du, unsampled, t)
        else:
            down &= down - 1
            w = candidate_vid(keys, vid, key - 1 - dd, unsampled, t)
        if w >= 0:
            out[n] = w
            n += 1
    return n


@hook
def on_access(state, vid, table, outcome, t, slot_of, out):
    keys, vids, conf, ft, at, tracked, spans, marks, clock = (
        state.keys, state.vids, state.conf, state.ft, state.at, state.tracked, state.spans,
        state.marks, state.clock)
    if t + LOOKAHEAD < vids.shape[0]:
        preload(keys, vids[t + LOOKAHEAD])
    bits = conf[REGION_BITS]
    key = keys[vid]
    region = key >> bits
    offset = key & ((1 << bits) - 1)
    at_base = (hash_index(region, conf[AT_INDEX_BITS]) & (conf[AT_SETS] - 1)) * TABLE_WAYS
    ft_base = (hash_index(region, conf[FT_INDEX_BITS]) & (conf[FT_SETS] - 1)) * TABLE_WAYS
    if tracked[region & (TRACKED - 1)] > 0:
        w = _find(at, at_base, TABLE_WAYS, region)
        if w >= 0:
            at[1, w] = _tick(clock)
            at[4, w] |= 1 << offset
            return 0
        f = _find(ft, ft_base, TABLE_WAYS, region)
        if f >= 0:
            ft[1, f] = _tick(clock)
            if ft[3, f] != offset:  # second offset: filter -> accumulation
                w = _victim(at, at_base, TABLE_WAYS)
                if at[0, w] >= 0:  # the accumulation victim's generation ends
                    tracked[at[0, w] & (TRACKED - 1)] -= 1
                    _cover(marks, spans, ft.shape[1] + w, -1)
                    pht_insert(state, at[2, w], (at[0, w] << bits) | at[3, w], at[4, w])
                at[0, w], at[1, w], at[2, w], at[3, w] = region, _tick(clock), ft[2, f], ft[3, f]
                at[4, w] = (1 << ft[3, f]) | (1 << offset)
                spans[0, ft.shape[1] + w], spans[1, ft.shape[1] + w] = spans[0, f], spans[1, f]
                ft[0, f], ft[1, f] = -1, 0
            return 0
    # trigger access: record it, then look its footprint up
    f = _victim(ft, ft_base, TABLE_WAYS)
    if ft[0, f] >= 0:
        tracked[ft[0, f] & (TRACKED - 1)] -= 1
        _cover(marks, spans, f, -1)
    ft[0, f], ft[1, f], ft[2, f], ft[3, f] = region, _tick(clock), table, offset
    tracked[region & (TRACKED - 1)] += 1
    spans[0, f], spans[1, f] = vid - offset, vid + (1 << bits) - 1 - offset
    _cover(marks, spans, f, 1)
    footprint = pht_lookup(state, table, key) & ~(1 << offset)
    return emit(keys, vid, footprint, 1 << bits, out, state.unsampled, t) if footprint else 0


@hook
def on_evict(state, vid, t):
    keys, conf, ft, at, tracked, spans, marks = (
        state.keys, state.conf, state.ft, state.at, state.tracked, state.spans, state.marks)
    if marks[vid >> BLOCK_BITS] == 0:  # in no table entry's span: not tracked
        return
    bits = conf[REGION_BITS]
    region = keys[vid] >> bits
    if tracked[region & (TRACKED - 1)] == 0:
        return
    f = _find(ft, (hash_index(region, conf[FT_INDEX_BITS]) & (conf[FT_SETS] - 1)) * TABLE_WAYS,
              TABLE_WAYS, region)
    if f >= 0:  # end of a generation of one access: nothing to learn
        ft[0, f], ft[1, f] = -1, 0
        tracked[region & (TRACKED - 1)] -= 1
        _cover(marks, spans, f, -1)
        return
    w = _find(at, (hash_index(region, conf[AT_INDEX_BITS]) & (conf[AT_SETS] - 1)) * TABLE_WAYS,
              TABLE_WAYS, region)
    if w >= 0:
        at[0, w], at[1, w] = -1, 0
        tracked[region & (TRACKED - 1)] -= 1
        _cover(marks, spans, ft.shape[1] + w, -1)
        pht_insert(state, at[2, w], (region << bits) | at[3, w], at[4, w])


PREFETCHER = Prefetcher(
    "bingo", "spatial: recall a region's footprint from its trigger (PC, address / offset)",
    make_state, on_access=on_access, on_evict=on_evict,
    params={"region": Int(32, lo=2, hi=32, pow2=True, help="keys per region"),
            "filter_entries": Int(64, lo=TABLE_WAYS, hi=1 << 20, pow2=True,
                                  help="entries of the filter table, 16-way"),
            "accumulation_entries": Int(128, lo=TABLE_WAYS, hi=1 << 20, pow2=True,
                                        help="entries of the accumulation table, 16-way"),
            "pht_ways": Int(16, lo=1, hi=64, pow2=True, help="ways of the pattern history "
                            "table"),
            "pht_entries": Int(8192, lo=1, hi=1 << 24, pow2=True, help="entries of the "
                               "pattern history table (at least pht_ways)"),
            "address_bits": Int(16, lo=1, hi=46, help="low key bits of a PHT entry's address "
                                "(at least log2(region))"),
            "vote_threshold": Float(0.75, lo=0, hi=1, open_lo=True, help="share of the "
                                    "voting PHT entries that must hold an offset")})
