"""Hawkeye: learn from Belady's MIN on a few sampled sets which PCs insert cache-friendly lines.

Paper: Jain and Lin, "Back to the Future: Leveraging Belady's Algorithm for Improved Cache
Replacement", ISCA 2016. Reference implementation: ChampSim commit 025fb6f6 (the CRC-2
code) ``replacement/hawkeye/hawkeye.cc``, ``inc/optgen.h``, ``inc/hawkeye_predictor.h``.
Here the "PC" is the table id of a vector (``ctx.table_of_vid()``) and the "address" its
vector id.

How it works (all rules as in the reference code):

* Every slot has a 3-bit RRPV (max 7). On a fill or hit the line's PC is looked up in a
  predictor (demand fills and hits: the demand table; prefetch fills: the prefetch
  table; each 2048 five-bit counters indexed by ``CRC(PC) % 2048``, starting at 16,
  ``< 16`` = cache-averse, so an unseen PC is cache-friendly). Averse: RRPV 7. Friendly:
  RRPV 0, and on a fill (not a hit) with no line of the set at RRPV 6, every line of the
  set below 6 is aged by 1 first.
* Victim: the first way at RRPV 7; else the way with the highest RRPV (the last such way,
  as ChampSim's ``>=`` scan picks); evicting such a cache-friendly line in a sampled set
  decrements its PC's counter (prefetch table if the line was brought by a prefetch).
* Sampled sets each run OPTgen: a per-set timer (one step per set access, wrapping at
  ``timer_size``), a liveness vector of ``optgen_size`` counters and a capacity of
  ``optgen_capacity``; ``should_cache(last, cur)`` succeeds if every counter in
  ``[last, cur)`` (circularly) is below the capacity, and then increments them all.
  A sampler (``sampler_entries`` entries, 8-way, LRU, set ``vid % sampler_sets``, tagged
  by the vector id) remembers each sampled line's last timestamp, PC and prefetch bit.
  A demand access that hits in the sampler trains the stored PC: +1 when the gap is at
  most ``optgen_size`` and should_cache succeeds, else -1. A prefetch that hits in the
  sampler within 5 steps of the last access may train +1 (never -1) and marks the entry
  prefetched. Each sampled access then clears the current liveness slot and stores
  (timestamp, PC) in the entry.

Published defaults (2048-set x 16-way LLC): 64 sampled sets, OPTgen vector 128 = 8 x 16,
capacity 16 - 2, timer 1024, sampler 2800 entries x 8 ways, predictors 2048 x 5 bits.

Scaling rule (every parameter at 0 means "derive from the geometry"):

* ``sampled_sets``: every set when there are <= 64 sets, else ``max(64, sets // 32)``
  (ChampSim samples 1 set in 32); set ``(i * sets) // n`` is sampled for ``i < n``.
* ``optgen_size``: ``8 * ways``; ``optgen_capacity``: ``max(1, ways - 2)``.
* ``timer_size``: the smallest multiple of ``optgen_size`` that is >= 1024 (1024 at 16
  and 32 ways), so the timer's wrap stays consistent with the circular liveness vector.
* ``sampler_entries``: ``2800 * sampled_sets * ways / (64 * 16)`` (2800 entries per 1024
  sampled lines), rounded up to a multiple of 8 ways.
* ``predictor_size`` (2048) and ``counter_bits`` (5) are kept.

Fully associative buffer (1 set of ``capacity`` ways): that one set is sampled, OPTgen
has ``8 x capacity`` slots and capacity ``capacity - 2``; a sampled access may scan up to
that many liveness slots, the victim scan and the friendly-fill ageing are O(capacity)
per miss. It works, but slowly for large capacities.

Set sampling (:mod:`recsim.engine.sample`): the sampled sets are the policy's
``training_sets``, and the predictor changes on their accesses only (``training_only``),
so a set sample that replays them too is exact (the sets numbered as the full buffer's,
``ctx.per_set``, the sampler's set by the trace's vids, ``ctx.trace_vids()``); they
replace as the others do, so they are counted too.

Differences from ChampSim, and why: the sampler is tagged by the exact vector id (ChampSim
keeps an 8-bit CRC of the page address, a storage economy that makes unrelated lines
alias); for a prefetch fill the PC is the table of the prefetched vector (the engine does
not pass the triggering access's PC; with ``next_n`` it is the same table); prefetches of
resident vectors never reach the policy, so there is no "prefetch hit" update; there are
no writebacks.
"""

from collections import namedtuple

import numpy as np

from recsim.plugin import Int, Policy, hook, param_error, trace_vid

MAX_RRPV = 7
CHAMPSIM_SAMPLER = 2800  # entries for 64 sampled sets x 16 ways
SAMPLER_WAYS = 8
PREFETCH_TRAIN_WINDOW = 5  # ChampSim: 5 * NUM_CORE

PARAMS = {  # 0: derived from the geometry (the module docstring)
    "sampled_sets": Int(0, lo=0, help="sets running OPTgen (0: every set up to 64 sets, else "
                        "max(64, sets / 32))"),
    "optgen_size": Int(0, lo=0, help="OPTgen liveness counters per sampled set (0: 8 x ways)"),
    "optgen_capacity": Int(0, lo=0, help="OPTgen's capacity (0: max(1, ways - 2))"),
    "timer_size": Int(0, lo=0, help="a sampled set's timer wrap, a multiple of optgen_size "
                      "(0: the least >= 1024)"),
    "sampler_entries": Int(0, lo=0, help="sampler entries, 8-way (0: 2800 x sampled sets x "
                           "ways / 1024)"),
    "predictor_size": Int(2048, lo=1, help="counters per predictor table"),
    "counter_bits": Int(5, lo=1, hi=15, help="bits of a predictor counter")}

def crc(value: int) -> int:
    """ChampSim's ``CRC`` (32 rounds of a shift/xor with polynomial 3988292384)."""
    poly = 3988292384
    x = int(value) & 0xFFFFFFFFFFFFFFFF
    for _ in range(32):
        x = (x >> 1) ^ poly if x & 1 else x >> 1
    return x


def geometry(sets: int, ways: int, params: dict) -> dict:
    """The sizes of the sampled structures for a ``sets x ways`` buffer (see the rule in
    the module docstring); zeros in ``params`` (checked and typed) are derived. The two
    checks left here depend on the geometry."""
    n_sampled = params["sampled_sets"]
    if n_sampled > sets:
        raise param_error("policy 'hawkeye'", "sampled_sets", f"an integer in [0, {sets}] "
                          "(the sets)", n_sampled)
    if n_sampled == 0:
        n_sampled = sets if sets <= 64 else max(64, sets // 32)
    vec = params["optgen_size"] or 8 * ways
    cap = params["optgen_capacity"] or max(1, ways - 2)
    timer = params["timer_size"] or vec * -(-1024 // vec)
    if timer % vec:
        raise param_error("policy 'hawkeye'", "timer_size", f"a multiple of optgen_size "
                          f"({vec})", timer)
    entries = params["sampler_entries"]
    if entries == 0:
        entries = -(-CHAMPSIM_SAMPLER * n_sampled * ways // 1024)
    entries = -(-entries // SAMPLER_WAYS) * SAMPLER_WAYS
    pred, bits = params["predictor_size"], params["counter_bits"]
    return dict(sampled_sets=n_sampled, optgen_size=vec, optgen_capacity=cap,
                timer_size=timer, sampler_sets=entries // SAMPLER_WAYS,
                sampler_ways=SAMPLER_WAYS, predictor_size=pred,
                max_counter=(1 << bits) - 1, threshold=1 << (bits - 1))


def training_sets(sets, ways, params):
    """The sampled sets, which run OPTgen and train the predictor: set ``(i * sets) // n``
    for ``i < n`` (``Policy.training_sets``)."""
    n = geometry(sets, ways, params)["sampled_sets"]
    return np.arange(n, dtype=np.int64) * sets // n


# conf layout
C_WAYS, C_VEC, C_CAP, C_TIMER, C_SSETS, C_SWAYS, C_PRED, C_MAX, C_THR, C_STAMP = range(10)


# per slot: RRPV, predictor index of its PC and whether a prefetch brought it; the table of
# each vector and the predictor index of each table; the predictor counters (demand, then
# prefetch); per set its sampled-set number (-1: not sampled); per sampled set its timer and
# OPTgen liveness vector; the sampler (tag, last access time, PC, prefetched, LRU stamp);
# conf (C_* constants); a sample's vectors' ids in the trace (ctx.trace_vids)
State = namedtuple("State", "rrpv sig pref table_of shct sampled timer liveness s_tag s_last s_pc "
                            "s_pref s_stamp conf crc_of_table trace_vid")


def make_state(ctx, params):
    g = geometry(ctx.full_sets, ctx.ways, params)
    n = g["sampled_sets"]
    pred = g["predictor_size"]
    rrpv = np.full(ctx.capacity, MAX_RRPV, dtype=np.uint8)
    sig = np.zeros(ctx.capacity, dtype=np.int32)  # predictor index of the line's PC
    pref = np.zeros(ctx.capacity, dtype=np.uint8)  # line brought in by a prefetch
    tables = ctx.table_of_vid()
    n_tables = int(tables.max()) + 1 if tables.shape[0] else 1
    # the table of each vector, in the smallest integer type (int8 for up to 128 tables):
    # this per-vector array is the one large random read per access; its predictor index
    # comes from a small per-table array
    crc_of_table = np.array([crc(tb) % pred for tb in range(n_tables)], dtype=np.int32)
    table_of = tables.astype(np.min_scalar_type(-n_tables))
    # demand counters at [0, pred), prefetch counters at [pred, 2 pred)
    shct = np.full(2 * pred, g["threshold"], dtype=np.int16)
    sampled = ctx.per_set(training_sets(ctx.full_sets, ctx.ways, params), np.arange(n))
    timer = np.zeros(n, dtype=np.int64)
    liveness = np.zeros(n * g["optgen_size"], dtype=np.int32)
    entries = g["sampler_sets"] * g["sampler_ways"]
    s_tag = np.full(entries, -1, dtype=np.int64)
    s_last = np.zeros(entries, dtype=np.int64)
    s_pc = np.zeros(entries, dtype=np.int32)
    s_pref = np.zeros(entries, dtype=np.uint8)
    s_stamp = np.zeros(entries, dtype=np.int64)
    conf = np.array([ctx.ways, g["optgen_size"], g["optgen_capacity"], g["timer_size"],
                     g["sampler_sets"], g["sampler_ways"], pred, g["max_counter"],
                     g["threshold"], 0], dtype=np.int64)
    return State(rrpv, sig, pref, table_of, shct, sampled, timer, liveness, s_tag, s_last, s_pc,
                 s_pref, s_stamp, conf, crc_of_table, ctx.trace_vids())


@hook
def should_cache(liveness, off, vec, cap, cur, last):
    """OPTgen: would MIN have kept a line whose usage interval is [last, cur)?"""
    i = last
    while i != cur:
        if liveness[off + i] >= cap:
            return False
        i += 1
        if i == vec:
            i = 0
    i = last
    while i != cur:
        liveness[off + i] += 1
        i += 1
        if i == vec:
            i = 0
    return True


@hook
def _train(shct, index, up, conf):
    if up:
        if shct[index] < conf[C_MAX]:
            shct[index] += 1
    elif shct[index] > 0:
        shct[index] -= 1


@hook(inline=False)
def _sample(state, si, vid, pc, prefetch):
    """OPTgen and sampler update for an access to sampled set number ``si``. Kept out of
    line (only sampled sets call it)."""
    shct, timer, liveness, conf = state.shct, state.timer, state.liveness, state.conf
    s_tag, s_last, s_pc, s_pref, s_stamp = (state.s_tag, state.s_last, state.s_pc, state.s_pref,
                                            state.s_stamp)
    vec = conf[C_VEC]
    now = timer[si]
    cur = now % vec
    off = si * vec
    sways = conf[C_SWAYS]
    sbase = (trace_vid(state.trace_vid, vid) % conf[C_SSETS]) * sways  # by the trace's id
    e = -1
    for w in range(sbase, sbase + sways):
        if s_tag[w] == vid:
            e = w
            break
    if e >= 0 and not prefetch:
        last = s_last[e]
        gap = now - last if now >= last else now + conf[C_TIMER] - last
        table = conf[C_PRED] if s_pref[e] else 0
        ok = gap <= vec and should_cache(liveness, off, vec, conf[C_CAP], cur, last % vec)
        _train(shct, table + s_pc[e], ok, conf)
        s_pref[e] = 0
    elif e < 0:
        oldest = s_stamp[sbase]
        e = sbase
        for w in range(sbase, sbase + sways):
            if s_tag[w] < 0:
                e = w
                break
            if s_stamp[w] < oldest:
                oldest = s_stamp[w]
                e = w
        s_tag[e] = vid
        s_pref[e] = 1 if prefetch else 0
    else:  # a prefetch of a line the sampler knows
        last = s_last[e]
        if now >= last and now - last < PREFETCH_TRAIN_WINDOW:
            if should_cache(liveness, off, vec, conf[C_CAP], cur, last % vec):
                _train(shct, (conf[C_PRED] if s_pref[e] else 0) + s_pc[e], True, conf)
        s_pref[e] = 1
    liveness[off + cur] = 0
    s_last[e] = now
    s_pc[e] = pc
    conf[C_STAMP] += 1
    s_stamp[e] = conf[C_STAMP]
    now += 1
    timer[si] = 0 if now == conf[C_TIMER] else now


@hook
def _update(state, set_, slot, vid, hit, prefetch):
    rrpv, shct, conf = state.rrpv, state.shct, state.conf
    pc = state.crc_of_table[state.table_of[vid]]
    si = state.sampled[set_]
    if si >= 0:
        _sample(state, si, vid, pc, prefetch)
    state.sig[slot] = pc
    state.pref[slot] = 1 if prefetch else 0
    index = conf[C_PRED] + pc if prefetch else pc
    if shct[index] < conf[C_THR]:
        rrpv[slot] = MAX_RRPV
        return
    rrpv[slot] = 0  # before the saturation check, as ChampSim
    if not hit:
        ways = conf[C_WAYS]
        base = set_ * ways
        saturated = False
        for s in range(base, base + ways):
            if rrpv[s] == MAX_RRPV - 1:
                saturated = True
                break
        if not saturated:  # then no line is at 6: every line below 7 ages (branch-free)
            for s in range(base, base + ways):
                r = rrpv[s]
                rrpv[s] = r + np.uint8(r != MAX_RRPV)
    rrpv[slot] = 0


@hook
def on_hit(state, set_, slot, vid, t, prio):
    _update(state, set_, slot, vid, True, False)


@hook
def on_fill(state, set_, slot, vid, t, prio, prefetch):
    _update(state, set_, slot, vid, False, prefetch)


@hook
def victim(state, set_, base, ways, vid, t, prefetch):
    rrpv = state.rrpv
    top = rrpv[base]
    for s in range(base + 1, base + ways):  # branch-free: vectorised
        top = max(top, rrpv[s])
    if top == MAX_RRPV:  # the first line at 7
        best = base
        while rrpv[best] != MAX_RRPV:
            best += 1
        return best
    best = base + ways - 1  # else the last line at the highest RRPV
    while rrpv[best] != top:
        best -= 1
    if state.sampled[set_] >= 0:  # a sampled set: MIN would not have evicted a friendly line
        conf = state.conf
        table = conf[C_PRED] if state.pref[best] else 0
        _train(state.shct, table + state.sig[best], False, conf)
    return best


POLICY = Policy("hawkeye", "Hawkeye: OPTgen-trained PC predictor over RRIP (Jain & Lin "
                "ISCA 2016; ChampSim 025fb6f6)", make_state, victim, on_hit=on_hit,
                on_fill=on_fill, cross_set=True,  # one predictor for all sets
                training_sets=training_sets, training_only=True, params=PARAMS)
