"""Random: evict a uniformly random way of the set.

Reference: libCacheSim ``cache/eviction/Random.c`` (same rule, different generator, so
counts are not expected to match it). The generator is xorshift64* seeded from the
simulation's ``seed``, so a replay is deterministic per seed.
"""

from collections import namedtuple

import numpy as np
from numba import uint64

from recsim.plugin import Policy, hook

State = namedtuple("State", "rng")  # the xorshift generator's state (one uint64)


def make_state(ctx, params):
    mixed = (ctx.seed * 0x9E3779B97F4A7C15 + 0xD1B54A32D192ED03) % (1 << 64)
    return State(np.array([mixed or 1], dtype=np.uint64))


@hook
def next_u64(rng):
    """The next output of the xorshift64* stream ``rng`` (its one-element state)."""
    x = rng[0]
    x ^= x >> uint64(12)
    x ^= x << uint64(25)
    x ^= x >> uint64(27)
    rng[0] = x
    return x * uint64(0x2545F4914F6CDD1D)


@hook
def uniform(rng):
    """A uniform double in [0, 1): the top 53 bits of the stream's next output."""
    return np.float64(next_u64(rng) >> uint64(11)) / 9007199254740992.0


@hook
def victim(state, set_, base, ways, vid, t, prefetch):
    return base + np.int64(next_u64(state.rng) % uint64(ways))


POLICY = Policy("random", "uniformly random victim, seeded", make_state, victim,
                cross_set=True)  # one random stream for all sets
