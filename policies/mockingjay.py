"""Mockingjay: mimic Belady's MIN by predicting each line's reuse distance and evicting the
line with the furthest estimated time of reuse.

Paper: Shah, Jain and Lin, "Effective Mimicry of Belady's MIN Policy", HPCA 2022.
Reference implementation: ishanashah/Mockingjay ``mockingjay.llc_repl`` (single core,
constants for a 2 MB 16-way LLC). Here the "PC" is the table id of a vector
(``ctx.table_of_vid()``) and the "address" its vector id.

How it works (all rules as in the reference code):

* PC signature: ``CRC_HASH((pc << 2) | (hit << 1) | prefetch)`` (3 rounds of ChampSim's
  CRC), low ``signature_bits`` bits (11). A reuse distance predictor (RDP) maps each
  signature to a predicted reuse distance, in set accesses; unseen signatures have none.
* Sampled sets keep a sampled cache: per sampled set, ``sampled_cache_sets`` sets of 5
  ways (set ``vid % sampled_cache_sets``, tagged by the vector id) of (signature,
  timestamp), the timestamp being the sampled set's access counter modulo
  ``timestamp_size``. An access that finds its vector there with elapsed time
  ``<= inf_rd`` trains the stored signature with that sample (doubled for a prefetch):
  the first observation sets the RDP, later ones move it by +-1 only when the sample
  differs by >= 16 (``int(diff / 16)`` capped at 1), within [0, inf_rd]; the entry is
  then invalidated. The replacement within the sampled-cache set: an invalid way, else
  a way whose entry aged past ``inf_rd`` (each such entry is detrained), else the oldest
  one, which is detrained. Detraining does ``RDP + 1`` (capped at ``inf_rd``), or sets
  ``inf_rd`` for an unseen signature. The access is then recorded with its signature.
* Every line has an estimated time remaining (ETR). Every ``granularity`` (8) accesses to
  a set, each other line with ``|ETR| < inf_etr`` is decremented (it may go negative:
  overdue). A fill or hit sets ETR = ``RDP // 8``, ``inf_etr`` if ``RDP > max_rd``, 0 for
  an unseen signature.
* Victim: the largest ``|ETR|``; ties go to a negative ETR (exactly ChampSim's scan:
  ``|e| > max or (|e| == max and e < 0)`` from way 0, starting at max 0 with way 0).
  Bypass (return -1) when the newcomer's signature (hit bit 0) has an RDP that is
  ``> max_rd`` or whose ``RDP // 8`` exceeds that largest ``|ETR|``. A bypassed access
  still trains the sampler and ages its set, as ChampSim calls the update with
  ``way == LLC_WAY``.

Published defaults (2048 sets x 16 ways): HISTORY 8, GRANULARITY 8, INF_RD = 16 x 8 - 1 =
127, INF_ETR = 127 / 8 = 15, MAX_RD = INF_RD - 22 = 105, 8-bit timestamps, 32 sampled sets
(one per 64 KB of LLC), sampled cache of 16 sets x 5 ways per sampled set, 11-bit
signatures, FLEXMIN penalty 2 for prefetches.

Scaling rule (every parameter at 0 means "derive from the geometry"); the reference code
already derives INF_RD, INF_ETR and MAX_RD from the associativity:

* ``inf_rd`` = ``8 * ways - 1``; ``inf_etr`` = ``max(1, (inf_rd + 1) // 8 - 1)``
  (= ways - 1 from 2 ways on); ``max_rd`` = ``max(0, inf_rd - 22)`` (``max_rd`` -1 means
  derive it, as 0 is a valid value).
* ``timestamp_size`` = ``2 * (inf_rd + 1)`` (256 at 16 ways, as the 8-bit timestamps),
  so that an entry can age past ``inf_rd``.
* ``sampled_sets``: every set when there are <= 32 sets, else ``max(32, capacity //
  1024)`` (one per 1024 slots, as one per 64 KB of 64 B lines); set ``(i * sets) // n`` is
  sampled for ``i < n``.
* ``sampled_cache_sets``: ``ways`` (16 at 16 ways), of 5 ways each: 5 entries per way.

Fully associative buffer (1 set of ``capacity`` ways): one sampled set, ``inf_rd`` =
``8 x capacity - 1``, a sampled cache of ``capacity`` sets x 5 ways; the victim scan and
the ageing (every 8 accesses) are O(capacity): it works, but slowly for large caches.

Set sampling (:mod:`recsim.engine.sample`): the sampled sets are the policy's
``training_sets``, and the predictor changes on their accesses only (``training_only``),
so a set sample that replays them too is exact (the sets numbered as the full buffer's,
``ctx.per_set``, the sampler's set by the trace's vids, ``ctx.trace_vids()``); they
replace as the others do, so they are counted too.

Differences from ChampSim, and why: the sampled cache is tagged by the exact vector id
(ChampSim keeps 10 address bits, a storage economy); a prefetch fill's PC is the table of
the prefetched vector (the engine does not pass the triggering PC); prefetches of resident
vectors never reach the policy, so a "prefetch hit" does not train; no writebacks.
"""

from collections import namedtuple

import numpy as np

from recsim.plugin import Int, Policy, hook, param_error, trace_vid

GRANULARITY = 8
HISTORY = 8
SAMPLED_CACHE_WAYS = 5
FLEXMIN_PENALTY = 2  # 2.0 - log2(NUM_CPUS) / 4 with one core
TEMP_DIFFERENCE = 16  # moves of the RDP need a difference of at least 16 (1/16 > 0)


def crc_hash(value: int) -> int:
    """The reference's ``CRC_HASH``: 3 rounds of ChampSim's CRC shift/xor."""
    x = int(value) & 0xFFFFFFFFFFFFFFFF
    for _ in range(3):
        x = (x >> 1) ^ 3988292384 if x & 1 else x >> 1
    return x


def signature(pc: int, hit: bool, prefetch: bool, bits: int) -> int:
    key = (int(pc) << 2) | (int(bool(hit)) << 1) | int(bool(prefetch))
    return crc_hash(key) & ((1 << bits) - 1)


def geometry(sets: int, ways: int, params: dict) -> dict:
    """Sizes and constants for a ``sets x ways`` buffer (the rule of the docstring) from
    ``params`` (checked and typed); the two checks left here depend on the geometry."""
    n = params["sampled_sets"]
    if n > sets:
        raise param_error("policy 'mockingjay'", "sampled_sets", f"an integer in [0, {sets}] "
                          "(the sets)", n)
    if n == 0:
        n = sets if sets <= 32 else max(32, sets * ways // 1024)
    inf_rd = params["inf_rd"] or HISTORY * ways - 1
    inf_etr = params["inf_etr"] or max(1, (inf_rd + 1) // GRANULARITY - 1)
    max_rd = max(0, inf_rd - 22) if params["max_rd"] == -1 else params["max_rd"]
    ts = params["timestamp_size"] or 2 * (inf_rd + 1)
    if ts <= inf_rd:
        raise param_error("policy 'mockingjay'", "timestamp_size", f"an integer > inf_rd "
                          f"({inf_rd})", ts)
    sc_sets = params["sampled_cache_sets"] or ways
    bits = params["signature_bits"]
    return dict(sampled_sets=n, inf_rd=inf_rd, inf_etr=inf_etr, max_rd=max_rd,
                timestamp_size=ts, sampled_cache_sets=sc_sets,
                sampled_cache_ways=SAMPLED_CACHE_WAYS, signature_bits=bits)


def training_sets(sets, ways, params):
    """The sampled sets, which train the predictor: set ``(i * sets) // n`` for ``i < n``
    (``Policy.training_sets``)."""
    n = geometry(sets, ways, params)["sampled_sets"]
    return np.arange(n, dtype=np.int64) * sets // n


C_WAYS, C_INF_RD, C_INF_ETR, C_MAX_RD, C_TS, C_SC_SETS, C_SC_WAYS = range(7)


# per slot its estimated time remaining (ETR); per set its ageing clock; the table of each
# vector and the signature of each (table, hit, prefetch); the reuse-distance predictor
# (RDP) by signature; per set its sampled-set number (-1: not sampled); per sampled set its
# timestamp; the sampled cache (tag, signature, timestamp); conf (C_* constants); a
# sample's vectors' ids in the trace (ctx.trace_vids)
State = namedtuple("State", "etr clock tables sig_of rdp sampled now sc_tag sc_sig sc_ts conf "
                            "trace_vid")


def make_state(ctx, params):
    g = geometry(ctx.full_sets, ctx.ways, params)
    n = g["sampled_sets"]
    etr = np.zeros(ctx.capacity, dtype=np.int32)
    clock = np.full(ctx.sets, GRANULARITY, dtype=np.int32)
    tables = ctx.table_of_vid()
    n_tables = int(tables.max()) + 1 if tables.shape[0] else 1
    # the smallest integer type (int8 up to 128 tables): one random read per access
    tables = tables.astype(np.min_scalar_type(-n_tables))
    bits = g["signature_bits"]
    # signature of (table, hit, prefetch) at [4 * table + 2 * hit + prefetch]
    sig_of = np.array([signature(tb, k >> 1, k & 1, bits) for tb in range(n_tables)
                       for k in range(4)], dtype=np.int32)
    rdp = np.full(1 << bits, -1, dtype=np.int32)  # -1: never trained
    sampled = ctx.per_set(training_sets(ctx.full_sets, ctx.ways, params), np.arange(n),
                          dtype=np.int32)
    now = np.zeros(n, dtype=np.int64)
    entries = n * g["sampled_cache_sets"] * SAMPLED_CACHE_WAYS
    sc_tag = np.full(entries, -1, dtype=np.int64)  # -1: invalid
    sc_sig = np.zeros(entries, dtype=np.int32)
    sc_ts = np.zeros(entries, dtype=np.int64)
    conf = np.array([ctx.ways, g["inf_rd"], g["inf_etr"], g["max_rd"], g["timestamp_size"],
                     g["sampled_cache_sets"], SAMPLED_CACHE_WAYS], dtype=np.int64)
    return State(etr, clock, tables, sig_of, rdp, sampled, now, sc_tag, sc_sig, sc_ts, conf,
                 ctx.trace_vids())


@hook
def temporal_difference(init, sample, inf_rd):
    if sample > init:
        return min(init + min(1, (sample - init) // TEMP_DIFFERENCE), inf_rd)
    if sample < init:
        return max(init - min(1, (init - sample) // TEMP_DIFFERENCE), 0)
    return init


@hook
def _detrain(rdp, sc_tag, sc_sig, e, inf_rd):
    if sc_tag[e] < 0:
        return
    s = sc_sig[e]
    rdp[s] = inf_rd if rdp[s] < 0 else min(rdp[s] + 1, inf_rd)
    sc_tag[e] = -1


@hook(inline=False)
def _sample(state, si, vid, sig, prefetch):
    """Sampled-cache and RDP update for an access to sampled set number ``si``. Kept out
    of line (only sampled sets call it): inlined, the loop replays 15% slower."""
    rdp, now_, sc_tag, sc_sig, sc_ts, conf = (
        state.rdp, state.now, state.sc_tag, state.sc_sig, state.sc_ts, state.conf)
    inf_rd = conf[C_INF_RD]
    ts_size = conf[C_TS]
    sways = conf[C_SC_WAYS]
    # the sampled cache's set by the trace's vector id (a set sample's vids are its own)
    base = (si * conf[C_SC_SETS] + trace_vid(state.trace_vid, vid) % conf[C_SC_SETS]) * sways
    now = now_[si]
    for e in range(base, base + sways):
        if sc_tag[e] == vid:
            elapsed = now - sc_ts[e]
            if elapsed < 0:
                elapsed += ts_size
            if elapsed <= inf_rd:
                if prefetch:
                    elapsed *= FLEXMIN_PENALTY
                last = sc_sig[e]
                rdp[last] = elapsed if rdp[last] < 0 else temporal_difference(
                    rdp[last], elapsed, inf_rd)
                sc_tag[e] = -1
            break
    lru = -1
    lru_rd = -1
    for e in range(base, base + sways):
        if sc_tag[e] < 0:
            lru = e
            lru_rd = inf_rd + 1
            continue
        elapsed = now - sc_ts[e]
        if elapsed < 0:
            elapsed += ts_size
        if elapsed > inf_rd:
            lru = e
            lru_rd = inf_rd + 1
            _detrain(rdp, sc_tag, sc_sig, e, inf_rd)
        elif elapsed > lru_rd:
            lru = e
            lru_rd = elapsed
    _detrain(rdp, sc_tag, sc_sig, lru, inf_rd)
    for e in range(base, base + sways):
        if sc_tag[e] < 0:
            sc_tag[e] = vid
            sc_sig[e] = sig
            sc_ts[e] = now
            break
    now += 1
    now_[si] = 0 if now == ts_size else now


@hook
def _update(state, set_, slot, vid, hit, prefetch):
    """ChampSim's update_replacement_state; ``slot`` -1 for a bypassed access."""
    etr, clock, tables, sig_of, rdp, sampled, conf = (
        state.etr, state.clock, state.tables, state.sig_of, state.rdp, state.sampled, state.conf)
    sig = sig_of[4 * tables[vid] + (2 if hit else 0) + (1 if prefetch else 0)]
    si = sampled[set_]
    if si >= 0:
        _sample(state, si, vid, sig, prefetch)
    inf_etr = conf[C_INF_ETR]
    if clock[set_] == GRANULARITY:
        ways = conf[C_WAYS]
        base = set_ * ways
        for s in range(base, base + ways):
            if s != slot and abs(etr[s]) < inf_etr:
                etr[s] -= 1
        clock[set_] = 0
    clock[set_] += 1
    if slot >= 0:
        r = rdp[sig]
        if r < 0:
            etr[slot] = 0
        elif r > conf[C_MAX_RD]:
            etr[slot] = inf_etr
        else:
            etr[slot] = r // GRANULARITY


@hook
def on_hit(state, set_, slot, vid, t, prio):
    _update(state, set_, slot, vid, True, False)


@hook
def on_fill(state, set_, slot, vid, t, prio, prefetch):
    _update(state, set_, slot, vid, False, prefetch)


@hook
def victim(state, set_, base, ways, vid, t, prefetch):
    etr, tables, sig_of, rdp, conf = state.etr, state.tables, state.sig_of, state.rdp, state.conf
    # ChampSim's scan (``|e| > max or (|e| == max and e < 0)``) picks the largest |ETR|:
    # the last negative one among ties, else the first. Key 2|e| + (e < 0): a branch-free
    # (vectorised) max, then one short scan from the end (odd key) or the start.
    key = np.int64(0)
    for s in range(base, base + ways):
        e = np.int64(etr[s])
        key = max(key, 2 * abs(e) + (e >> 63) * -1)
    if key & 1:
        best = base + ways - 1
        while 2 * abs(np.int64(etr[best])) + 1 != key or etr[best] >= 0:
            best -= 1
    else:
        best = base
        while 2 * abs(np.int64(etr[best])) != key:
            best += 1
    top = key >> 1
    r = rdp[sig_of[4 * tables[vid] + (1 if prefetch else 0)]]
    if r >= 0 and (r > conf[C_MAX_RD] or r // GRANULARITY > top):
        _update(state, set_, -1, vid, False, prefetch)  # ChampSim updates on a bypass too
        return -1
    return best


POLICY = Policy("mockingjay", "Mockingjay: reuse-distance predictor and ETR eviction with "
                "bypass (Shah, Jain & Lin HPCA 2022; ishanashah/Mockingjay)", make_state,
                victim, on_hit=on_hit, on_fill=on_fill, cross_set=True,  # one predictor
                training_sets=training_sets, training_only=True,
                params={"sampled_sets": Int(0, lo=0, help="sets that train the predictor "
                                            "(0: all up to 32 sets, else max(32, capacity "
                                            "/ 1024))"),
                        "inf_rd": Int(0, lo=0, help="the reuse distance taken as infinite "
                                      "(0: 8 x ways - 1)"),
                        "inf_etr": Int(0, lo=0, help="the largest ETR (0: max(1, (inf_rd + "
                                       "1) / 8 - 1))"),
                        "max_rd": Int(-1, lo=-1, help="bypass above this predicted reuse "
                                      "distance (-1: max(0, inf_rd - 22))"),
                        "timestamp_size": Int(0, lo=0, help="wrap of the sampled cache's "
                                              "timestamps, > inf_rd (0: 2 x (inf_rd + 1))"),
                        "sampled_cache_sets": Int(0, lo=0, help="sets of the sampled cache, "
                                                  "5 ways each (0: ways)"),
                        "signature_bits": Int(11, lo=1, hi=24, help="bits of a PC "
                                              "signature")})
