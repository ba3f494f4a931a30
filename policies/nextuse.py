"""nextuse: evict the vector whose predicted next use is furthest, learned online, with set
dueling against heuristics as the guarantee (issue 29; docs/recmg.md).

Sources: the estimate per way is Mockingjay's (Shah, Jain and Lin, HPCA'22: one
prediction per access stored per way as an estimated time of next use, evict the
furthest, an overdue line counting by how far it is overdue; ChampSim's
``replacement/mockingjay``); the prediction is LRB's (NSDI'20: LightGBM regression of the
log next-use distance, retrained online, 64 sampled candidates fully associative); the
guarantee is a duel of the learned ranking with heuristics whose state fits the same
per-way arrays (set dueling, Qureshi et al., ISCA'07, over shadow sets, below).

Per slot: ``est`` (estimated access time of its next use), ``last`` (last access),
``count`` (accesses since it entered), ``irr`` (the gap between its last two accesses,
LIRS's inter-reference recency) and ``freq`` (its decayed access count at its last
access, in units of ``1 / ONE``); per vector, kept across evictions: last access, last gap
and decayed count. The count halves at every multiple of ``2^freq_epoch`` accesses,
lazily (a shift by the boundaries passed since the last access): W-TinyLFU's periodic
halving (Einziger, Friedman and Manes, ACM ToS 2017) rather than a continuous decay,
so the replay does no ``pow`` or ``log2`` per access (docs/recmg.md). A demand access
with advice ``prio > 0`` sets ``est = t + prio`` (``prio``: the predicted next-use
distance in accesses, ``>= 1``, :mod:`recsim.nextuse.learn`, whose advise step does the
``2^x``, not the loop); without advice (the warm-up) the estimate is the last gap,
``t + irr``. The competitors rank the ways of a set (the largest key is evicted, ties to
the least recently used):

* ``learned``: ``|est - t|`` (Mockingjay's overdue rule);
* ``lru``: ``t - last``;
* ``freq``: the lowest decayed count now (``freq`` halved once per boundary since
  ``last``);
* ``irr``: ``max(irr, t - last)`` (LIRS's ordering of a vector by recency and IRR);
* ``probation``: a way with no hit since it entered whose vector was not seen within
  ``GHOST`` x capacity accesses before is on probation; the oldest such is evicted while
  more than 1/8 of the ways are, else the least recently used other way (the filter of
  2Q's A1in/A1out and S3-FIFO's small queue and ghost, per set);
* ``learned_probation``: the same filter, ``learned`` among the other ways (the HALP
  pattern: a heuristic proposes, the model picks).

The guarantee is a duel on sampled shadow sets (the auxiliary tag directories of
Qureshi and Patt's utility monitors, MICRO'06, rather than DIP's leader sets: a leader
set pays for a losing policy, and on a skewed trace a few leader sets differ more by
which hot vectors they hold than by policy; measured in docs/recmg.md). Up to
``SHADOW_SETS`` sets, spread by hash, are shadowed once per competitor: every demand
access of a shadowed set is replayed in each competitor's copy of that set (its tags and
the same per-way state), and the buffer evicts, in every set, by the competitor with the
fewest shadow misses (halved every ``HALVE_AFTER`` shadow accesses, so it follows
phases). ``duel: all`` duels all six; ``duel: lru`` ``learned`` with ``lru`` only;
``duel: none`` always evicts by ``learned``. A fully associative buffer
is shadowed as 32-way pseudo-sets of the same capacity (its vectors hashed as a 32-way
buffer's would be), and ranks ``sample`` random ways (LRB's 64) rather than all. The
predicted next use beyond what the set holds needs no bypass: such a vector enters with
the furthest estimate, so it is the next victim (insertion at the lowest priority).
"""

from collections import namedtuple

import numpy as np
from numba import uint64

from recsim.engine.settings import mix64, set_index
from recsim.plugin import Choice, File, Int, Policy, hook

LEARNED, LRU, FREQ, IRR, PROBATION, LEARNED_PROBATION = 0, 1, 2, 3, 4, 5
DUELS = {"all": 6, "lru": 2, "none": 1}  # competitors 0 .. n-1
ONE = 1 << 16  # an access in a decayed count
GHOST = 4  # a vector seen within GHOST x capacity accesses skips probation
NO_GAP = 1 << 40
SHADOW_SETS = 64
SHADOW_WAYS = 32  # the ways of a fully associative buffer's pseudo-sets
HALVE_AFTER = 1 << 14  # shadow accesses between halvings of the shadow miss counts

State = namedtuple("State", "est last count irr freq vlast vgap vfreq shadow_of tag sest "
                            "slast scount sirr sfreq misses since winner rng sample ghost "
                            "epoch")


def shadowed(keys: np.ndarray, capacity: int, ways: int) -> tuple[np.ndarray, int]:
    """``(per vector its shadow set or -1, shadow ways)``: the sets of a ``ways``-way
    buffer (32-way pseudo-sets of a fully associative one), the first ``SHADOW_SETS`` in
    the order of a hash of the set index shadowed."""
    w = ways if ways < capacity else min(SHADOW_WAYS, capacity)
    sets = max(1, capacity // w)
    set_of = set_index(np.asarray(keys), sets)
    order = np.argsort(mix64(np.arange(sets, dtype=np.uint64)), kind="stable")
    index = np.full(sets, -1, np.int64)
    n = min(SHADOW_SETS, sets)
    index[order[:n]] = np.arange(n)
    return index[set_of], w


def make_state(ctx, params):
    cap, n = ctx.capacity, ctx.n_vids
    k = DUELS[params["duel"]]
    shadow_of, w = shadowed(ctx.keys, cap, ctx.ways)
    m = min(SHADOW_SETS, max(1, cap // w)) if k > 1 else 0
    shape = (m, k, w)
    mixed = (ctx.seed * 0x9E3779B97F4A7C15 + 0xD1B54A32D192ED03) % (1 << 64)
    slots = [np.zeros(cap, np.int64) for _ in range(5)]
    shadows = [np.zeros(shape, np.int64) for _ in range(6)]
    shadows[0][:] = -1  # no tag
    return State(*slots, np.full(n, -1, np.int64), np.full(n, NO_GAP, np.int64),
                 np.zeros(n, np.int64), shadow_of if k > 1 else np.full(n, -1), *shadows,
                 np.zeros(k, np.float64), np.zeros(1, np.int64), np.zeros(1, np.int64),
                 np.array([mixed or 1], np.uint64), params["sample"], GHOST * cap,
                 params["freq_epoch"])


@hook
def on_access(state, vid, t):
    prev = state.vlast[vid]
    if prev >= 0:
        state.vgap[vid] = t - prev
    state.vfreq[vid] = _decayed(state.vfreq[vid], prev, t, state.epoch) + ONE
    state.vlast[vid] = t


@hook
def _decayed(count, last, t, epoch):
    """``count`` at ``last``, halved at every multiple of ``2^epoch`` up to ``t``."""
    return count >> min((t >> epoch) - (last >> epoch), 63)


@hook
def _estimate(state, vid, t, prio):
    """The estimated time of the next use after a demand access (see module)."""
    if prio > 0:
        return t + np.int64(prio)
    return t + state.vgap[vid]


@hook
def _rank(competitor, est, last, freq, irr, t, epoch):
    """A way's key for ``competitor`` (not PROBATION): the largest is evicted."""
    age = t - last
    if competitor == LEARNED or competitor == LEARNED_PROBATION:
        d = est - t
        return d if d >= 0 else -d
    if competitor == FREQ:  # the decayed count now
        return -_decayed(freq, last, t, epoch)
    if competitor == IRR:
        return max(irr, age)
    return age


@hook
def _pick(state, k, est, last, count, irr, freq, base, ways, n, t):
    """The way of ``base .. base + ways - 1`` (``n`` random ones when fewer) that
    competitor ``k`` evicts, ties to the least recently used. PROBATION evicts the oldest
    way on probation (no hit since it entered, not seen within the ghost window) while
    more than ``n // 8`` are, else the least recently used other way."""
    best, best_key, best_last = base, np.int64(-(1 << 62)), np.int64(1 << 62)
    old, old_last, on_probation = -1, np.int64(1 << 62), 0
    for i in range(n):
        slot = base + (_random_way(state, ways) if n < ways else i)
        if (k >= PROBATION and count[slot] == 1 and irr[slot] > state.ghost):
            on_probation += 1
            if last[slot] < old_last:
                old, old_last = slot, last[slot]
            continue
        key = _rank(k, est[slot], last[slot], freq[slot], irr[slot], t, state.epoch)
        if key > best_key or (key == best_key and last[slot] < best_last):
            best, best_key, best_last = slot, key, last[slot]
    if old >= 0 and (on_probation > n // 8 or best_last == (1 << 62)):
        return old
    return best


@hook
def _shadow(state, sh, k, vid, t, est, freq):
    """One demand access in competitor ``k``'s copy of shadow set ``sh``: True on a miss."""
    tag, sest, slast = state.tag[sh, k], state.sest[sh, k], state.slast[sh, k]
    scount, sirr, sfreq = state.scount[sh, k], state.sirr[sh, k], state.sfreq[sh, k]
    way = -1
    for w in range(tag.shape[0]):
        if tag[w] == vid:
            sest[w], slast[w], sirr[w], sfreq[w] = est, t, state.vgap[vid], freq
            scount[w] += 1
            return False
        if tag[w] < 0 and way < 0:
            way = w
    if way < 0:
        n = tag.shape[0]
        way = _pick(state, k, sest, slast, scount, sirr, sfreq, 0, n, n, t)
    tag[way], sest[way], slast[way], scount[way] = vid, est, t, 1
    sirr[way], sfreq[way] = state.vgap[vid], freq
    return True


@hook(inline=False)
def _duel(state, sh, vid, t, est, freq):
    """Replay the access in every competitor's shadow of set ``sh`` and update the
    winner (see module)."""
    for k in range(state.misses.shape[0]):
        if _shadow(state, sh, k, vid, t, est, freq):
            state.misses[k] += 1.0
    state.since[0] += 1
    if state.since[0] >= HALVE_AFTER:
        state.since[0] = 0
        for k in range(state.misses.shape[0]):
            state.misses[k] *= 0.5
    best = 0
    for k in range(1, state.misses.shape[0]):
        if state.misses[k] < state.misses[best]:
            best = k
    state.winner[0] = best


@hook
def _touch(state, slot, vid, t, prio):
    est = _estimate(state, vid, t, prio)
    state.est[slot] = est
    state.last[slot] = t
    state.irr[slot] = state.vgap[vid]
    freq = state.vfreq[vid]
    state.freq[slot] = freq
    sh = state.shadow_of[vid]
    if sh >= 0:
        _duel(state, sh, vid, t, est, freq)


@hook
def on_hit(state, set_, slot, vid, t, prio):
    _touch(state, slot, vid, t, prio)
    state.count[slot] += 1


@hook
def on_fill(state, set_, slot, vid, t, prio, prefetch):
    if prefetch:  # no demand access: keep LRU's order, estimate from the last gap
        state.est[slot] = t + state.vgap[vid]
        state.last[slot] = t
        state.irr[slot] = state.vgap[vid]
        state.freq[slot] = state.vfreq[vid]
    else:
        _touch(state, slot, vid, t, prio)
    state.count[slot] = 0 if prefetch else 1


@hook
def _random_way(state, ways):
    x = state.rng[0]
    x ^= x >> uint64(12)
    x ^= x << uint64(25)
    x ^= x >> uint64(27)
    state.rng[0] = x
    return np.int64((x * uint64(0x2545F4914F6CDD1D)) % uint64(ways))


@hook
def victim(state, set_, base, ways, vid, t, prefetch):
    return _pick(state, state.winner[0], state.est, state.last, state.count, state.irr,
                 state.freq, base, ways, min(ways, state.sample), t)


POLICY = Policy("nextuse", "furthest predicted next use, learned online (LightGBM), "
                "dueled with LRU, frequency, IRR and 2Q-like probation on shadow sets",
                make_state, victim, on_access=on_access, on_hit=on_hit, on_fill=on_fill,
                cross_set=True,  # the duel's winner
                advise="recsim.nextuse.learn:advise", advise_always=True,
                params={
                    "model": File("", "nextuse-model", help="a saved model to start from "
                                  "(predicts the warm-up too; '': learn from the trace)"),
                    "warmup": Int(1 << 17, lo=1, unit="accesses",
                                  help="accesses before the first training"),
                    "retrain": Int(1 << 17, lo=1, unit="accesses",
                                   help="accesses between trainings"),
                    "window": Int(1 << 17, lo=16, unit="accesses",
                                  help="a training reads the accesses "
                                  "labelled in this many last accesses"),
                    "horizon": Int(1 << 18, lo=2, unit="accesses",
                                   help="next-use distance the label is "
                                   "clipped at (accesses)"),
                    "trees": Int(32, lo=1, help="boosting rounds per training"),
                    "leaves": Int(32, lo=2, help="leaves per tree"),
                    "threads": Int(1, lo=1, help="LightGBM threads"),
                    "seed": Int(0, lo=0, help="LightGBM's seed"),
                    "label": Choice("log", ("log", "reach", "opt"), help="what the model "
                                    "learns: the log next-use distance, P(next use within "
                                    "the buffer's reach) or P(Belady hits the next use) "
                                    "(recsim.nextuse.learn)"),
                    "duel": Choice("all", tuple(DUELS), help="competitors of the learned "
                                   "ranking in the set duel"),
                    "freq_epoch": Int(20, lo=1, hi=40, unit="log2 accesses",
                                      help="the decayed counts halve "
                                      "every 2^freq_epoch accesses (the features' longest "
                                      "half-life)"),
                    "sample": Int(64, lo=1, help="ways ranked per eviction when a set has "
                                  "more (fully associative)")})
