"""LFUDA: least frequently used with dynamic aging, as libCacheSim's LFUDA.

Source: Arlitt, Cherkasova, Dilley, Friedrich & Jin, "Evaluating content management
techniques for Web proxy caches", SIGMETRICS Perf. Eval. Rev. 2000; the rules follow
libCacheSim ``cache/eviction/LFUDA.c`` as shipped in libcachesim 0.3.5 (its sources match
commit aa0fc40 but for also raising the top frequency on insert), read, not copied. Each
set keeps an age ``L`` (libCacheSim's ``min_freq``, 0 until the set's first eviction): a
fill gets frequency ``L + 1``, a hit adds ``L`` to the vector's frequency (libCacheSim's
rule, not the paper's ``L + 1``), and the victim is the vector of least frequency, the
least recently filled or hit among equals. After an eviction ``L`` is the victim's
frequency, then the least frequency left (when the victim was the last of its
frequency); a hit that empties frequency ``L`` moves ``L`` to the least frequency of the
other vectors. Kept as a binary heap on (frequency, order) per set: O(log ways) per hit
and miss.

Deviation: where libCacheSim would evict from an empty frequency list (a hit on the only
resident object, e.g. a capacity of 1, then a miss: libcachesim 0.3.5 crashes), this
evicts the least-frequency vector.

Limit: frequencies and ``L`` are int64, as libCacheSim's, and wrap past 2^63 unchecked. A
hit adds ``L``, so ``L`` can grow geometrically: not in the full replays measured, but in
miniature simulations of bursty traces (``sessions`` at R = 0.01 wraps from 12% of the
trace), whose sampled LFUDA curves are then wrong (docs/sampling.md, "LFUDA").
"""

from collections import namedtuple

import numpy as np

from recsim.plugin import Policy, hook

State = namedtuple("State", "heap pos size freq order age clock ways")


def make_state(ctx, params):
    return State(heap=np.zeros(ctx.capacity, np.int64), pos=np.zeros(ctx.capacity, np.int64),
                 size=np.zeros(ctx.sets, np.int64), freq=np.zeros(ctx.capacity, np.int64),
                 order=np.zeros(ctx.capacity, np.int64), age=np.zeros(ctx.sets, np.int64),
                 clock=np.zeros(1, np.int64), ways=np.int64(ctx.ways))


@hook
def _before(s, a, b):
    return s.freq[a] < s.freq[b] or (s.freq[a] == s.freq[b] and s.order[a] < s.order[b])


@hook(inline=False)
def _settle(s, base, i, n):
    """Move the vector at heap position ``i`` (of ``n``) up or down to its place."""
    slot = s.heap[base + i]
    while True:
        if i > 0 and _before(s, slot, s.heap[base + ((i - 1) >> 1)]):
            to = (i - 1) >> 1
        else:
            to = 2 * i + 1
            if to + 1 < n and _before(s, s.heap[base + to + 1], s.heap[base + to]):
                to += 1
            if to >= n or not _before(s, s.heap[base + to], slot):
                break
        other = s.heap[base + to]
        s.heap[base + i] = other
        s.pos[other] = i
        i = to
    s.heap[base + i] = slot
    s.pos[slot] = i


@hook
def _stamp(s, slot):
    s.order[slot] = s.clock[0]
    s.clock[0] += 1


@hook
def on_fill(state, set_, slot, vid, t, prio, prefetch):
    base, n = set_ * state.ways, state.size[set_]
    state.freq[slot] = state.age[set_] + 1
    _stamp(state, slot)
    state.heap[base + n] = slot
    state.size[set_] = n + 1
    _settle(state, base, n, n + 1)


@hook
def victim(state, set_, base, ways, vid, t, prefetch):
    return state.heap[base]


@hook
def on_evict(state, set_, slot, vid, t):
    base, n = set_ * state.ways, state.size[set_] - 1
    i = state.pos[slot]
    state.size[set_] = n
    state.age[set_] = state.freq[slot]
    if i < n:  # the last vector of the heap takes the victim's place
        moved = state.heap[base + n]
        state.heap[base + i] = moved
        _settle(state, base, i, n)
    if n > 0:
        state.age[set_] = state.freq[state.heap[base]]


@hook
def on_hit(state, set_, slot, vid, t, prio):
    base, n, age = set_ * state.ways, state.size[set_], state.age[set_]
    was_min = state.freq[slot] == age
    state.freq[slot] += age
    _stamp(state, slot)
    _settle(state, base, state.pos[slot], n)
    if was_min and n > 1:  # frequency ``age`` may have lost its last vector
        root = state.heap[base]
        if root == slot:  # the least of the others is a child of the root
            root = state.heap[base + 1]
            if n > 2 and _before(state, state.heap[base + 2], root):
                root = state.heap[base + 2]
        if state.freq[root] != age:
            state.age[set_] = state.freq[root]


POLICY = Policy("lfuda", "LFU with dynamic aging (libCacheSim LFUDA)", make_state, victim,
                on_hit=on_hit, on_fill=on_fill, on_evict=on_evict)
