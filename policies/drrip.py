"""DRRIP: Dynamic RRIP, set dueling between SRRIP and BRRIP (bimodal RRIP).

Paper: Jaleel, Theobald, Steely and Emer, "High Performance Cache Replacement Using
Re-Reference Interval Prediction (RRIP)", ISCA 2010. Reference implementation: the legacy
ChampSim ``replacement/drrip.llc_repl`` (single core), as docs/references.md prescribes;
the current ChampSim ``replacement/drrip/drrip.cc`` forms no leader sets below 16,807
sets.

* RRPV per slot, maxRRPV = 3 (``rrpv_bits`` = 2). A hit sets RRPV 0. The victim is the
  first way at maxRRPV after ageing the set by (maxRRPV - its max RRPV), as in SRRIP.
* Insertion, on every fill (demand miss or prefetch: the legacy code runs the same
  miss path for both): SRRIP inserts at maxRRPV - 1; BIP (BRRIP) inserts at maxRRPV
  except every ``bip_max``-th (32nd) BIP insertion, counted by one global counter shared
  by BIP leaders and BIP-following sets, which inserts at maxRRPV - 1.
* Set dueling: ``leader_sets`` leader sets per policy (published 32), chosen by the C
  LCG of the legacy code (seed 1, ``x = x * 1103515245 + 12345`` modulo 2^64,
  ``set = ((x / 65536) % 1048576) % sets``, duplicates redrawn); the first half of the
  draws are BIP leaders, the second half SRRIP leaders. One global ``psel_bits``-bit
  (published 10) saturating PSEL starts at 0; a fill in a BIP leader does PSEL - 1, a fill
  in an SRRIP leader PSEL + 1; follower sets use BIP when PSEL > (2^bits - 1) // 2 (511),
  else SRRIP.

Few sets: the published constants assume many sets (32 + 32 of 2048). With ``S`` sets
this module uses ``min(leader_sets, S // 4)`` leader sets per policy, so at least half
of the sets are followers: the full 32 + 32 from 128 sets on, 1 + 1 at 4..7 sets. With
fewer than 4 sets, fully associative (one set of ``capacity`` ways) included, there are
no leaders: PSEL stays 0 and DRRIP behaves exactly as SRRIP.

Warm-up: the engine fills a set's empty ways first, in way order (as the current ChampSim
does); the legacy ``llc_find_victim`` does not look at validity and takes the first way
at maxRRPV, which during a set's warm-up can be a valid line inserted at maxRRPV by BIP
rather than an empty way. Once a set is full the two agree. PSEL moves on every fill of
a leader set, the fills into empty ways included (the legacy code updates the
replacement state on every fill).

Set sampling (:mod:`recsim.engine.sample`) also replays the leader sets
(``training_sets``, numbered as the full buffer's sets: ``ctx.per_set``), so PSEL moves as
in the full replay. It is still approximate: the BIP
counter is shared by every set in BIP mode, so which BIP fill is the 1-in-``bip_max``
insertion at maxRRPV - 1 depends on the fills of sets outside the sample. With a
``bip_max`` above the fills of the replay (BIP never inserts at maxRRPV - 1) the sampled
sets are exact (tested).

Cost: the victim search is SRRIP's (:mod:`recsim.policies.srrip`: 8 ways a 64-bit word
when the ways are a multiple of 8): cheap at 32 ways, O(capacity) per miss when fully
associative.
"""

from collections import namedtuple

import numpy as np

from recsim.plugin import Int, Policy, hook
from recsim.policies.srrip import RRPV_BITS, rrip_victim, rrpv_arrays

# conf layout (one int64 array; PSEL and the BIP counter are mutable)
_MAX, _PSEL, _BIP, _PSEL_MAX, _THRESHOLD, _BIP_MAX = range(6)
# srrip's rrpv and words; per set -1 (follower), 0 (BIP leader) or 1 (SRRIP leader); conf
State = namedtuple("State", "rrpv words leader conf")


def leader_count(sets: int, leader_sets: int) -> int:
    """Leader sets per policy for a buffer of ``sets`` sets (see the module docstring)."""
    return min(leader_sets, min(sets, 1048576) // 4)  # the LCG draws sets below 2^20


def leader_sets_lcg(sets: int, n: int) -> list[int]:
    """The first ``n`` distinct sets drawn by the legacy ChampSim DRRIP generator."""
    x = 1
    out: list[int] = []
    seen = set()
    while len(out) < n:
        x = (x * 1103515245 + 12345) & 0xFFFFFFFFFFFFFFFF
        s = ((x >> 16) % 1048576) % sets
        if s not in seen:
            seen.add(s)
            out.append(s)
    return out


def leaders(sets: int, params: dict) -> list[int]:
    """The leader sets: the BIP leaders, then as many SRRIP leaders."""
    return leader_sets_lcg(sets, 2 * leader_count(sets, params["leader_sets"]))


def training_sets(sets, ways, params):
    """PSEL's training data: the leader sets (``Policy.training_sets``)."""
    return np.array(leaders(sets, params), dtype=np.int64)


def make_state(ctx, params):
    max_rrpv = (1 << params["rrpv_bits"]) - 1
    psel_bits, bip_max = params["psel_bits"], params["bip_max"]
    chosen = leaders(ctx.full_sets, params)  # -1 follower, 0 BIP, 1 SRRIP leader
    leader = ctx.per_set(chosen, np.arange(len(chosen)) >= len(chosen) // 2, -1, np.int8)
    psel_max = (1 << psel_bits) - 1
    conf = np.array([max_rrpv, 0, 0, psel_max, psel_max // 2, bip_max], dtype=np.int64)
    rrpv, words = rrpv_arrays(ctx.capacity, max_rrpv)
    return State(rrpv, words, leader, conf)


@hook
def _bip_insert(conf):
    c = conf[_BIP] + 1
    if c == conf[_BIP_MAX]:
        c = 0
    conf[_BIP] = c
    return conf[_MAX] - 1 if c == 0 else conf[_MAX]


@hook
def on_hit(state, set_, slot, vid, t, prio):
    state.rrpv[slot] = 0


@hook
def on_fill(state, set_, slot, vid, t, prio, prefetch):
    rrpv, conf = state.rrpv, state.conf
    kind = state.leader[set_]
    if kind == 0:  # BIP leader
        if conf[_PSEL] > 0:
            conf[_PSEL] -= 1
        rrpv[slot] = _bip_insert(conf)
    elif kind == 1:  # SRRIP leader
        if conf[_PSEL] < conf[_PSEL_MAX]:
            conf[_PSEL] += 1
        rrpv[slot] = conf[_MAX] - 1
    elif conf[_PSEL] > conf[_THRESHOLD]:  # follower, BIP
        rrpv[slot] = _bip_insert(conf)
    else:  # follower, SRRIP
        rrpv[slot] = conf[_MAX] - 1


@hook
def victim(state, set_, base, ways, vid, t, prefetch):
    return rrip_victim(state.rrpv, state.words, base, ways, state.conf[_MAX])


POLICY = Policy("drrip", "dynamic RRIP, SRRIP/BRRIP set dueling (Jaleel et al. ISCA 2010; "
                "legacy ChampSim drrip.llc_repl)", make_state, victim, on_hit=on_hit,
                on_fill=on_fill, cross_set=True,  # PSEL and the BIP counter are global
                training_sets=training_sets,
                params={"rrpv_bits": RRPV_BITS,
                        "leader_sets": Int(32, lo=0, hi=1 << 20, help="leader sets per policy "
                                           "(at most a quarter of the sets are used)"),
                        "psel_bits": Int(10, lo=1, hi=30, help="bits of the PSEL counter"),
                        "bip_max": Int(32, lo=1, hi=1 << 30,
                                       help="BIP inserts at maxRRPV - 1 once in this many")})
