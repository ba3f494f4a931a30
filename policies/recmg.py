"""RecMG: buffer management driven by the RecMG caching model (the paper's Algorithm 2).

Paper: Ren, Ma, Yang, Francis, Ardestani, Si and Li, "Machine Learning-Guided Memory
Optimization for DLRM Inference on Tiered Memory" (RecMG), arXiv 2511.08568, Algorithm 2;
the authors' simulator github.com/jren73/RecMG ``RecMG_models/simulator/simulate_cache.py``
(which evicts vectors the model would not keep before those it would).

Every resident vector has a priority. A demand access (a hit, or the fill after a miss)
sets it to ``eviction_speed + C[i]``, where ``C[i] = round(prio * keep)`` is the caching
model's decision for that access (``prio`` = 1.0 when the model says keep the vector until
its next use, 0.0 when not; :mod:`recsim.recmg.deploy` builds the advice) expressed in
evictions: a vector the model keeps outlives ``keep`` more evictions of its set than one
it does not. A prefetch fill sets ``eviction_speed``. The victim is the vector of the set
with the lowest priority, ties going to the least recently touched (accessed or filled,
counted in touches, so prefetches filled at one access time are ordered too);
an eviction ages every other vector of the set by one (priorities stop at 0).

Parameters: ``eviction_speed`` (default 4, the paper's) and ``keep`` (default 128, four
turnovers of a 32-way set: our choice, as the paper gives ``C[i]`` no unit; on a meta-like
trace at a 15% buffer, perfect advice (the OPT labels) gains 0.75 -> 0.77 in hit rate and
a trained caching model 0.682 -> 0.691 from keep 32 to 128, and larger values change
nothing). ``keep: 1`` reads ``C[i]`` as the model's 0/1 output itself (the paper
configuration, ``experiments/recmg_paper.yaml``; docs/recmg.md).

Ageing is lazy and O(1) per eviction: a per-set eviction counter ``age[set]``; setting a
priority ``p`` stores ``stamp = age[set] + p``, and the priority now is
``max(0, stamp - age[set])``. The victim scan is O(ways), so the policy is meant for
set-associative buffers; fully associative, ``keep`` evictions are far shorter than a
reuse, and a quick Fig. 13 run gave LRU's hit rate in every cell (docs/experiments.md).
Without advice (``prio`` = 0 everywhere) every priority decays to 0 after
``eviction_speed`` evictions and the policy is LRU among the decayed vectors.
The policy never bypasses.

``model``: a RecMG caching-model checkpoint (``recsim train recmg-cache``); set, the engine
asks :mod:`recsim.recmg.plugins` for its decisions on the accesses after the model's
training span (batched inference before the replay, cached beside the trace). Unset, the
advice is the caller's (``kind: recmg-evaluation``), or none.
"""

from collections import namedtuple

import numpy as np

from recsim.plugin import File, Int, Policy, hook

# per slot: the eviction count at which its priority runs out, and its last touch; per set:
# evictions so far; the touch counter (one int64: several prefetch fills can share one access
# time); the parameters
State = namedtuple("State", "stamp touched age touches eviction_speed keep")


def make_state(ctx, params):
    speed, keep = params["eviction_speed"], params["keep"]
    stamp = np.zeros(ctx.capacity, np.int64)
    touched = np.zeros(ctx.capacity, np.int64)
    age = np.zeros(ctx.sets, np.int64)
    return State(stamp, touched, age, np.zeros(1, np.int64), speed, keep)


@hook
def _set_priority(state, set_, slot, t, priority):
    state.stamp[slot] = state.age[set_] + priority
    state.touches[0] += 1
    state.touched[slot] = state.touches[0]


@hook
def on_hit(state, set_, slot, vid, t, prio):
    _set_priority(state, set_, slot, t,
                  state.eviction_speed + np.int64(round(prio * state.keep)))


@hook
def on_fill(state, set_, slot, vid, t, prio, prefetch):
    bonus = 0 if prefetch else np.int64(round(prio * state.keep))
    _set_priority(state, set_, slot, t, state.eviction_speed + bonus)


@hook
def victim(state, set_, base, ways, vid, t, prefetch):
    stamp, touched = state.stamp, state.touched
    now = state.age[set_]
    best, best_p, best_t = base, np.int64(1 << 62), np.int64(1 << 62)
    for slot in range(base, base + ways):
        p = max(stamp[slot] - now, 0)
        if p < best_p or (p == best_p and touched[slot] < best_t):
            best, best_p, best_t = slot, p, touched[slot]
    return best


@hook
def on_evict(state, set_, slot, vid, t):
    state.age[set_] += 1  # ages every other vector of the set by one


POLICY = Policy("recmg", "RecMG Algorithm 2: caching-model priorities, aged per eviction",
                make_state, victim, on_hit=on_hit, on_fill=on_fill, on_evict=on_evict,
                advise="recsim.recmg.plugins:caching_advice",
                params={"model": File("", "recmg-cache", help="caching-model checkpoint whose "
                                      "decisions are the advice ('': the caller's, or none)"),
                        "eviction_speed": Int(4, lo=0, help="evictions a vector outlives without "
                                               "advice (a prefetch fill's priority)"),
                        "keep": Int(128, lo=0, help="more evictions a vector the caching "
                                    "model keeps (prio 1.0) outlives")})
