"""CLOCK (second chance, FIFO-reinsertion) with an n-bit reference counter.

Papers: Corbató, "A Paging Experiment with the Multics System", MIT Project MAC report
MAC-M-384, 1968 (the CLOCK algorithm). Reference implementation: libCacheSim
``libCacheSim/cache/eviction/Clock.c`` (PyPI ``libcachesim``'s ``Clock``), whose published
defaults are ``n_bit_counter=1`` (max count 1: classic CLOCK) and an insertion count of 0.

libCacheSim keeps a FIFO queue: a newcomer is prepended at the head with count 0
(``init_freq``); a hit raises the count by one up to 2^n - 1; to evict, while the tail's
count is >= 1 it is decremented and the object moved to the head, then the tail goes.

Here each set is a ring of its ways with a hand (one integer per set). Ways fill in
order 0, 1, ..., so before the first eviction the ring read from the hand (way 0) is the
queue from tail to head. Moving the tail to the head is advancing the hand past it, and
the newcomer takes the evicted way, just behind the advanced hand, i.e. at the head: so
the eviction order equals libCacheSim's at any associativity, fully associative
included. Work is O(1) amortised per access: every step of the hand past a way spends one
count that a hit added. Prefetch fills are treated as demand fills (count ``init_freq``).

Parameters: ``n_bit_counter`` (default 1), ``init_freq`` (default 0).
"""

from collections import namedtuple

import numpy as np

from recsim.plugin import Int, Policy, hook, param_error

# each slot's counter, each set's hand, the largest count and a newcomer's count
State = namedtuple("State", "freq hand max_freq init_freq")


def make_state(ctx, params):
    max_freq = (1 << params["n_bit_counter"]) - 1
    init = params["init_freq"]
    if init > max_freq:  # bounded by the other parameter
        raise param_error("policy 'clock'", "init_freq", f"an integer in [0, {max_freq}] "
                          "(2^n_bit_counter - 1)", init)
    freq = np.zeros(ctx.capacity, dtype=np.uint8)
    hand = np.zeros(ctx.sets, dtype=np.int64)
    return State(freq, hand, max_freq, init)


@hook
def on_hit(state, set_, slot, vid, t, prio):
    freq = state.freq
    if freq[slot] < state.max_freq:
        freq[slot] += 1


@hook
def on_fill(state, set_, slot, vid, t, prio, prefetch):
    state.freq[slot] = state.init_freq


@hook
def victim(state, set_, base, ways, vid, t, prefetch):
    freq, hand = state.freq, state.hand
    h = hand[set_]
    while freq[base + h] > 0:
        freq[base + h] -= 1
        h += 1
        if h == ways:
            h = 0
    slot = base + h
    h += 1
    hand[set_] = 0 if h == ways else h
    return slot


POLICY = Policy("clock", "CLOCK / second chance with an n-bit counter (libCacheSim Clock)",
                make_state, victim, on_hit=on_hit, on_fill=on_fill,
                params={"n_bit_counter": Int(1, lo=1, hi=7, help="bits of the reference counter"),
                        "init_freq": Int(0, lo=0, hi=127, help="counter of a newcomer "
                                         "(at most 2^n_bit_counter - 1)")})
