"""LHD: evict the candidate of least hit density, learned online over age classes.

Paper: N. Beckmann, H. Chen and A. Cidon, "LHD: Improving Cache Hit Rate by Maximizing Hit
Density", NSDI 2018. Reference implementation: the authors' C++ as libCacheSim ships it,
``libCacheSim/cache/eviction/LHD/lhd.{hpp,cpp}`` (github.com/1a1a11a/libCacheSim at
aa0fc40; PyPI ``libcachesim`` 0.3.5, ``lcs.LHD``), whose rules are reproduced for
unit-size vectors of one application:

* Time counts the accesses LHD sees (hits and fills, prefetch fills included). A vector's
  age is the time since its last access, shifted right by ``ageCoarseningShift`` (10 at
  first), capped at ``max_age - 1``; its class is the log2 bucket (16 of them) of the sum
  of its last two hit ages.
* Each class counts hits and evictions per age; every ``reconfigure_every`` accesses the
  counts decay by 0.9 and the hit density of each (class, age) is recomputed as expected
  hits over expected remaining lifetime (``modelHitDensity``). Before the first
  reconfiguration densities are (class + 1) / (age + 1), as the code initialises them.
  At the 6th and 26th reconfiguration the age coarsening is set from the mean number of
  residents (``adaptAgeCoarsening``), compressing or stretching the counts.
* Eviction: sample candidates (8 until 50 reconfigurations have passed, 32 after, each a
  uniformly random resident with replacement) plus the up to 8 recently admitted
  vectors whose density was below the running (EWMA 0.9) victim density; evict the least
  dense, the first found among equals. A vector at the age cap has the lowest density.
* Explorers: on every access, with probability 1/32 and while the budget (1% of the
  buffer) lasts and fewer than 50 reconfigurations have passed, the vector's density is
  raised by 1 until its next access.

Set-associative: the statistics, time, explorer budget and admitted list are one model
for the whole buffer (``cross_set``), as LHD learns one; the candidates come from the
set being filled: all its ways when there are no more than the sample size, else the
sample drawn from its ways. Deviations: draws come from the policy's own xorshift64*
stream (seeded from the replay seed) where the code uses libCacheSim's unseeded
``next_rand``; counts and densities are float64 (the code's float). ``max_age`` and
``reconfigure_every`` keep the code's constants as defaults and exist so tests can reach
reconfiguration on short traces; ``age_coarsening`` (the initial shift, 10) exists so a
miniature simulation can scale it: it and ``reconfigure_every`` are durations
(``unit``), and with them unscaled LHD's sampled curves were 0.018 / 0.044 (mean / max)
off on a 10M-access meta-like trace at R = 0.01, 0.0067 / 0.0110 with both scaled
(docs/sampling.md).
"""

from collections import namedtuple

import numpy as np

from recsim.plugin import Int, Policy, hook
from recsim.policies.random import make_state as make_rng, next_u64

HIT_AGE_CLASSES = 16
APP = 1  # the code's DEFAULT_APP_ID: classes 16..31 of its 256
ADMISSIONS = 8
EXPLORE_INVERSE_PROBABILITY = 32
EWMA_DECAY = 0.9
LOWEST = -3.4028234663852886e38  # the code's std::numeric_limits<float>::lowest()

# global integer registers g[X] and float registers f[X]
TIME, NEXT, N_RECONF, SHIFT, BUDGET, HEAD, N_OBJ = range(7)
EWMA_VICTIM, EWMA_OBJECTS, EWMA_MASS = range(3)

# per slot: time of last access, last two hit ages, explorer flag; per vid: its slot or
# -1; per class and age: hits, evictions, hit density; the recently admitted vids; the
# registers; the random stream; the age cap
State = namedtuple("State", "stamp last_hit last_last explorer where hits evictions "
                            "density admitted g f rng max_age every")


def make_state(ctx, params):
    cap, max_age = ctx.capacity, params["max_age"]
    classes = np.arange(HIT_AGE_CLASSES)[:, None] + APP * HIT_AGE_CLASSES
    density = (classes + 1.0) / (np.arange(max_age)[None, :] + 1.0)
    g = np.zeros(7, np.int64)
    g[NEXT], g[SHIFT], g[BUDGET] = (params["reconfigure_every"], params["age_coarsening"],
                                    int(cap * 0.01))
    return State(np.zeros(cap, np.int64), np.zeros(cap, np.int64), np.zeros(cap, np.int64),
                 np.zeros(cap, np.int8), np.full(ctx.n_vids, -1, np.int64),
                 np.zeros((HIT_AGE_CLASSES, max_age)), np.zeros((HIT_AGE_CLASSES, max_age)),
                 density, np.full(ADMISSIONS, -1, np.int64), g, np.zeros(3),
                 make_rng(ctx, params).rng, max_age, params["reconfigure_every"])


@hook
def _age(state, slot):
    age = (state.g[TIME] - state.stamp[slot]) >> state.g[SHIFT]
    return min(age, state.max_age - 1)


@hook
def _class(state, slot):
    """The hit-age class of the vector in ``slot`` (the code's ``hitAgeClass``)."""
    age = state.last_hit[slot] + state.last_last[slot]
    if age == 0:
        return HIT_AGE_CLASSES - 1
    log = 0
    while age < state.max_age and log < HIT_AGE_CLASSES - 1:
        age <<= 1
        log += 1
    return log


@hook
def _density(state, slot):
    age = _age(state, slot)
    if age == state.max_age - 1:
        return LOWEST
    d = state.density[_class(state, slot), age]
    return d + 1.0 if state.explorer[slot] else d


@hook
def _access(state, slot, vid, insert):
    """The code's ``update``: a hit (``insert`` False) or a fill of ``vid`` in ``slot``."""
    g = state.g
    if insert:
        state.last_last[slot] = state.max_age
        state.last_hit[slot] = 0
    else:
        age = _age(state, slot)
        state.hits[_class(state, slot), age] += 1.0
        if state.explorer[slot]:
            g[BUDGET] += 1
        state.last_last[slot] = state.last_hit[slot]
        state.last_hit[slot] = age
    state.stamp[slot] = g[TIME]
    explore = next_u64(state.rng) % np.uint64(EXPLORE_INVERSE_PROBABILITY) == 0
    state.explorer[slot] = 0
    if explore and g[BUDGET] > 0 and g[N_RECONF] < 50:
        state.explorer[slot] = 1
        g[BUDGET] -= 1
    if insert and not explore and _density(state, slot) < state.f[EWMA_VICTIM]:
        state.admitted[g[HEAD] % ADMISSIONS] = vid
        g[HEAD] += 1
    g[TIME] += 1
    g[NEXT] -= 1
    if g[NEXT] == 0:
        _reconfigure(state)
        g[NEXT] = state.every
        g[N_RECONF] += 1


@hook(inline=False)
def _reconfigure(state):
    """Decay the counts, adapt the age coarsening, recompute the hit densities."""
    m = state.max_age
    for c in range(HIT_AGE_CLASSES):
        for a in range(m):
            state.hits[c, a] *= EWMA_DECAY
            state.evictions[c, a] *= EWMA_DECAY
    _coarsen(state)
    for c in range(HIT_AGE_CLASSES):
        hits, evictions = state.hits[c], state.evictions[c]
        events = hits[m - 1] + evictions[m - 1]
        total_hits = hits[m - 1]
        lifetime = events
        for a in range(m - 2, -1, -1):
            total_hits += hits[a]
            events += hits[a] + evictions[a]
            lifetime += events
            state.density[c, a] = total_hits / lifetime if events > 1e-5 else 0.0


@hook
def _coarsen(state):
    """The code's ``adaptAgeCoarsening``."""
    g, f, m = state.g, state.f, state.max_age
    f[EWMA_OBJECTS] = f[EWMA_OBJECTS] * EWMA_DECAY + g[N_OBJ]
    f[EWMA_MASS] = f[EWMA_MASS] * EWMA_DECAY + 1.0
    if g[N_RECONF] != 5 and g[N_RECONF] != 25:
        return
    optimal = f[EWMA_OBJECTS] / f[EWMA_MASS] / (0.01 * m)
    shift = 1
    while (1 << shift) < optimal:
        shift += 1
    delta = shift - g[SHIFT]
    g[SHIFT] = shift
    f[EWMA_OBJECTS] *= 8.0
    f[EWMA_MASS] *= 8.0
    for counts in (state.hits, state.evictions):
        for c in range(HIT_AGE_CLASSES):
            _rescale(counts[c], delta, m)


@hook
def _rescale(counts, delta, m):
    """Stretch (``delta`` < 0) or compress one class's counts to a new age unit."""
    if delta < 0:
        for a in range(m >> -delta, m - 1):
            counts[m - 1] += counts[a]
        for a in range(m - 2, -1, -1):
            counts[a] = counts[a >> -delta] / (1 << -delta)
    elif delta > 0:
        for a in range(m >> delta):
            total = counts[a << delta]
            for i in range(1, 1 << delta):
                total += counts[(a << delta) + i]
            counts[a] = total
        for a in range(m >> delta, m - 1):
            counts[a] = 0.0


@hook
def on_hit(state, set_, slot, vid, t, prio):
    _access(state, slot, vid, False)


@hook
def on_fill(state, set_, slot, vid, t, prio, prefetch):
    state.where[vid] = slot
    state.g[N_OBJ] += 1
    _access(state, slot, vid, True)


@hook
def victim(state, set_, base, ways, vid, t, prefetch):
    best, best_rank = -1, np.inf
    k = 32 if state.g[N_RECONF] > 50 else 8
    for i in range(min(k, ways)):
        slot = base + i if ways <= k else base + np.int64(next_u64(state.rng) % np.uint64(ways))
        rank = _density(state, slot)
        if rank < best_rank:
            best, best_rank = slot, rank
    for i in range(ADMISSIONS):
        v = state.admitted[i]
        slot = state.where[v] if v >= 0 else -1
        if base <= slot < base + ways:
            rank = _density(state, slot)
            if rank < best_rank:
                best, best_rank = slot, rank
    f = state.f
    f[EWMA_VICTIM] = EWMA_DECAY * f[EWMA_VICTIM] + (1.0 - EWMA_DECAY) * best_rank
    return best


@hook
def on_evict(state, set_, slot, vid, t):
    state.evictions[_class(state, slot), _age(state, slot)] += 1.0
    if state.explorer[slot]:
        state.g[BUDGET] += 1
    state.where[vid] = -1
    state.g[N_OBJ] -= 1


POLICY = Policy(
    "lhd", "least hit density over age classes, sampled (Beckmann et al. 2018; "
    "libCacheSim LHD)", make_state, victim, on_hit=on_hit, on_fill=on_fill,
    on_evict=on_evict, cross_set=True,  # one model and random stream for the buffer
    params={"max_age": Int(20000, lo=64, hi=1 << 17, help="ages tracked per class "
                           "(the code's MAX_AGE)"),
            "reconfigure_every": Int(1 << 20, lo=1, hi=1 << 40, unit="accesses",
                                     help="accesses between "
                                     "reconfigurations (the code's "
                                     "ACCS_PER_RECONFIGURATION)"),
            "age_coarsening": Int(10, lo=0, hi=40, unit="log2 accesses",
                                  help="ages count 2^this accesses until the 6th "
                                  "reconfiguration adapts it (the code's initial "
                                  "ageCoarseningShift)")})
