"""SRRIP: Static Re-Reference Interval Prediction (hit priority).

Paper: Jaleel, Theobald, Steely and Emer, "High Performance Cache Replacement Using
Re-Reference Interval Prediction (RRIP)", ISCA 2010. Reference implementation: ChampSim
``replacement/srrip/srrip.cc`` (as summarised in docs/references.md).

Every slot holds an M-bit re-reference prediction value (RRPV; published default M = 2,
so maxRRPV = 3). A fill (demand or prefetch alike, as in ChampSim, which does not tell
them apart) sets RRPV = maxRRPV - 1 ("long" re-reference interval); a hit sets RRPV = 0
("near-immediate"). The victim is the first way (lowest slot) of the set whose RRPV is
maxRRPV; if no way is at maxRRPV, every way of the set is first aged by
(maxRRPV - max RRPV of the set), which is what ChampSim's "increment all and search
again" loop amounts to. Empty ways are filled first (by the engine) in way order.

Parameters: ``rrpv_bits`` (M, default 2).

The victim costs O(ways) per miss. When the ways are a multiple of 8 (32-way included),
the set's RRPVs are read as 64-bit words, 8 ways a word: a zero-byte test of
``word ^ (v * 0x0101..01)`` finds the first way at RRPV v, trying v = maxRRPV, then
maxRRPV - 1, ...; the first v found is the set's max, and ageing adds
(maxRRPV - v) * 0x0101..01 to each word (no carry: every byte stays <= maxRRPV). Other
way counts use a byte scan that stops at the first way at maxRRPV. Cheap at 32 ways; with
a fully associative buffer (one set of ``capacity`` ways) a miss costs O(capacity).
"""

from collections import namedtuple

import numpy as np
from numba.cpython.unsafe.numbers import trailing_zeros

from recsim.plugin import Int, Policy, hook

# the RRPV of each slot, the same memory as 64-bit words, and maxRRPV
State = namedtuple("State", "rrpv words max_rrpv")
RRPV_BITS = Int(2, lo=1, hi=7, help="M, bits of the re-reference prediction value")


def rrpv_arrays(capacity, max_rrpv):
    """The RRPV of each slot (uint8) and the same memory as 64-bit words (padded)."""
    buf = np.full(-(-capacity // 8) * 8, max_rrpv, dtype=np.uint8)
    return buf[:capacity], buf.view(np.uint64)


def make_state(ctx, params):
    max_rrpv = (1 << params["rrpv_bits"]) - 1
    rrpv, words = rrpv_arrays(ctx.capacity, max_rrpv)
    return State(rrpv, words, max_rrpv)


_LOW = np.uint64(0x0101010101010101)
_HIGH = np.uint64(0x8080808080808080)


@hook
def _first_equal(words, w0, nw, rep):
    """The first slot of words[w0:w0+nw] (8 slots a word, lowest byte first) whose byte
    equals the byte repeated in ``rep``, or -1: a zero-byte test of word ^ rep, whose
    lowest flag is exact."""
    for k in range(w0, w0 + nw):
        x = words[k] ^ rep
        z = (x - _LOW) & ~x & _HIGH
        if z != 0:
            return k * 8 + (np.int64(trailing_zeros(z)) >> 3)
    return -1


@hook
def rrip_victim(rrpv, words, base, ways, max_rrpv):
    """First way at max_rrpv after ageing the set by (max_rrpv - its max RRPV)."""
    if ways & 7 == 0:
        # 8 ways a word: look for max_rrpv, then max_rrpv - 1, ...; the first value
        # found is the set's max; age every byte by the difference in one add a word
        w0 = base >> 3
        nw = ways >> 3
        for v in range(max_rrpv, -1, -1):
            slot = _first_equal(words, w0, nw, np.uint64(v) * _LOW)
            if slot >= 0:
                if v < max_rrpv:
                    add = np.uint64(max_rrpv - v) * _LOW
                    for k in range(w0, w0 + nw):
                        words[k] += add
                return slot
    top = -1
    first = base
    for s in range(base, base + ways):
        r = np.int64(rrpv[s])
        if r > top:
            top = r
            first = s
            if r >= max_rrpv:
                return s
    d = max_rrpv - top
    for s in range(base, base + ways):
        rrpv[s] += d
    return first


@hook
def on_hit(state, set_, slot, vid, t, prio):
    state.rrpv[slot] = 0


@hook
def on_fill(state, set_, slot, vid, t, prio, prefetch):
    state.rrpv[slot] = state.max_rrpv - 1


@hook
def victim(state, set_, base, ways, vid, t, prefetch):
    return rrip_victim(state.rrpv, state.words, base, ways, state.max_rrpv)


POLICY = Policy("srrip", "static RRIP, 2-bit RRPV (Jaleel et al. ISCA 2010; ChampSim srrip)",
                make_state, victim, on_hit=on_hit, on_fill=on_fill,
                params={"rrpv_bits": RRPV_BITS})
