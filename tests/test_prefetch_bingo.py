"""Bingo (prefetchers/bingo.py).

Rules by hand, on a state from ``make_state`` driven through the hooks over keys of
table 0 (key = row; a region is 32 keys) and table 1 (another PC):

* a footprint is learned only when its generation ends: a vector of the region leaves the
  buffer (``on_evict``), or its accumulation entry is evicted from its LRU set; a region
  still accumulating is not a trigger; an entry still in the filter table (one offset
  seen, repeats included) learns nothing;
* a trigger whose (PC, address) is in the PHT prefetches that whole footprint, nearest
  offset first and + before -, its own vector excluded; this takes precedence over votes;
* otherwise the entries of the same PC and offset vote: an offset is prefetched when at
  least 3/4 of them hold it (3 of 4 does, 2 of 3 does not); an entry of another PC in the
  same PHT set does not vote; keys that are no vector of the trace are dropped;
* the outcome of an access does not matter (hits train, a prefetch hit triggers);
* the helpers: the reference's set hash, footprint rotation (the PHT stores a footprint
  relative to its trigger offset), the bit-sliced vote counter, the per-count threshold.

Through the engine: exact counts for a footprint recalled after an eviction, none when
nothing is evicted, and a hypothesis test of the accounting identities.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import recsim
from recsim.engine.replay import ReplayContext
from recsim.errors import ConfigError
from recsim.plugin import HIT, MISS, PREFETCH_HIT, QUEUE_SIZE
from recsim.prefetchers import bingo
from recsim.registry import resolve_params
from recsim.traces.trace import Trace

TABLE1 = 1024  # table 1's base key: table 0 has rows 0 .. 999 (bases are 64-aligned)


class Hooks:
    """The hooks over a state for table 0 rows ``0 .. 999`` but ``missing`` and table 1
    rows ``0 .. 99``; vectors are named by key, a key's table (its PC) by its value."""

    def __init__(self, missing=(), **params):
        rows0 = [r for r in range(1000) if r not in missing]
        trace = Trace.from_arrays([0] * len(rows0) + [1] * 100, rows0 + list(range(100)))
        d = trace.dense()
        assert d.keys[-1] == TABLE1 + 99
        self.keys = d.keys
        ctx = ReplayContext(trace, d.vid, d.keys, 8, 1, 8)
        self.state = bingo.make_state(ctx, resolve_params("prefetcher", bingo.PREFETCHER, params))
        self.t = 0

    def vid(self, key):
        v = int(np.searchsorted(self.keys, key))
        assert self.keys[v] == key
        return v

    def access(self, key, outcome=MISS):
        """Access ``key``; returns the keys prefetched, in order."""
        out = np.zeros(QUEUE_SIZE, np.int64)
        n = bingo.on_access(self.state, self.vid(key), int(key >= TABLE1), outcome, self.t,
                            np.full(1, -1, np.int64), out)
        self.t += 1
        return self.keys[out[:n]].tolist()

    def evict(self, key):
        bingo.on_evict(self.state, self.vid(key), self.t)

    def generation(self, keys, end=None):
        """Access ``keys`` (prefetches do not change Bingo's state), then end the region's
        generation by evicting ``end`` (default: the first key)."""
        for k in keys:
            self.access(k)
        self.evict(keys[0] if end is None else end)


# -- generations -------------------------------------------------------------------------------

def test_footprint_is_recalled_once_an_eviction_ends_the_generation():
    h = Hooks()
    for k in (35, 39, 33):  # region 1: trigger at offset 3, then offsets 7 and 1
        assert h.access(k) == []
    assert h.access(35) == []  # still accumulating: not a trigger, nothing learned yet
    h.evict(39)
    assert h.access(35) == [33, 39]  # a trigger at the learned (PC, address): d = 2, then 4


def test_filter_entry_learns_nothing():
    h = Hooks()
    h.generation([96, 97])  # region 3: footprint {0, 1} at (PC 0, offset 0)
    h.generation([64, 64])  # the trigger offset twice: the region never left the filter
    # no footprint {0} of its own (a PC+Address match that would prefetch nothing): the
    # trigger gets region 3's vote
    assert h.access(64) == [65]


def test_accumulation_entry_evicted_from_its_set_ends_the_generation():
    h = Hooks(accumulation_entries=16)  # one set of 16 ways
    for region in range(17):  # the 17th region evicts region 0's entry (the LRU)
        for k in (32 * region, 32 * region + 2):
            assert h.access(k) == []
    assert h.access(32) == []  # region 1 still accumulates (a trigger would get a vote)
    assert h.access(0) == [2]


def test_pht_stores_the_footprint_relative_to_the_trigger_offset():
    h = Hooks()
    h.generation([35, 39, 33])
    pht = h.state.pht
    stored = pht[2, pht[0] >= 0]
    assert stored.tolist() == [1 | 1 << 4 | 1 << 30]  # offsets 3, 7, 1 minus 3, mod 32


# -- lookups -------------------------------------------------------------------------------------

def _learn(h, footprints):
    """One generation per footprint, in regions 1, 2, ..., each triggered at offset 0."""
    for i, offsets in enumerate(footprints):
        h.generation([32 * (i + 1) + o for o in offsets])


def test_vote_needs_three_quarters_of_the_matches():
    h = Hooks()
    _learn(h, [[0, 1, 2], [0, 1, 3], [0, 1, 2]])
    assert h.access(640) == [641]  # offset 1: 3 of 3; offset 2: 2 of 3 < 0.75
    h = Hooks()
    _learn(h, [[0, 1, 2], [0, 1, 3], [0, 1, 2], [0, 2, 5]])
    assert h.access(640) == [641, 642]  # offsets 1 and 2: 3 of 4 = 0.75


def test_pc_address_match_takes_precedence_over_the_vote():
    h = Hooks()
    _learn(h, [[0, 1, 2], [0, 1, 3], [0, 1, 2]])
    assert h.access(640) == [641]  # the vote
    assert h.access(647) == []
    h.evict(640)
    assert h.access(640) == [647]  # its own footprint {0, 7}


def test_another_pc_in_the_same_set_does_not_vote():
    h = Hooks()
    conf = h.state.conf
    # (PC 8208, offset 0) and (PC 0, offset 0) share a PHT set under the reference's hash
    assert bingo._pht_set(conf, 8208, 0) == bingo._pht_set(conf, 0, 0)
    bingo.pht_insert(h.state, 8208, 32 * 5, 0b1001)  # footprint {0, 3}
    bingo.pht_insert(h.state, 0, 32 * 6, 0b101)  # footprint {0, 2}
    # alone, PC 0's entry votes for {0, 2}; with PC 8208's, 2 and 3 would get 1 of 2
    assert bingo.pht_lookup(h.state, 0, 32 * 7) == 0b101
    assert bingo.pht_lookup(h.state, 8208, 32 * 7) == 0b1001


def test_recall_order_and_keys_that_are_no_vectors():
    h = Hooks(missing=(70,))
    h.generation([36, 41, 34, 35, 37, 38])  # region 1, offsets {4, 9, 2, 3, 5, 6}
    # region 2 triggered at offset 4 (PC+Offset, one voter): +1, -1, +2 (key 70: no
    # vector, dropped), -2, +5
    assert h.access(68) == [69, 67, 66, 73]


def test_every_access_trains_whatever_its_outcome():
    h = Hooks()
    assert h.access(96, HIT) == []
    assert h.access(97, HIT) == []
    h.evict(96)
    assert h.access(96, PREFETCH_HIT) == [97]


# -- helpers ---------------------------------------------------------------------------------------

def test_hash_index_folds_blocks_into_the_lowest():
    assert bingo.hash_index(0b110_101_011, 3) & 0b111 == 0b000  # 011 ^ 101 ^ 110
    assert bingo.hash_index(0b110_101_000, 3) & 0b111 == 0b011
    assert bingo.hash_index(12345, 0) == 12345


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**62), st.integers(1, 24))
def test_hash_index_equals_the_references_loop(key, bits):
    """The reference's hash: XOR every ``bits``-bit block of the key into the lowest."""
    expect, tag, mask = key, key >> bits, (1 << bits) - 1
    while tag > 0:
        expect ^= tag & mask
        tag >>= bits
    assert bingo.hash_index(key, bits) & mask == expect & mask


def test_rotate():
    assert bingo.rotate(0b1011, 2, 4) == 0b1110
    assert bingo.rotate(0b1011, 6, 4) == 0b1110
    assert bingo.rotate(0xDEADBEEF, 0, 32) == 0xDEADBEEF
    assert bingo.rotate(1 << 31, 1, 32) == 1


def test_bit_sliced_vote_counts():
    rng = np.random.default_rng(3)
    patterns = rng.integers(0, 1 << 32, size=64)
    planes = (0,) * 7
    counts = np.zeros(32, np.int64)
    for p in patterns.tolist():
        planes = bingo.add_vote(planes, p)
        counts += (p >> np.arange(32)) & 1
    for need in (1, 20, 32, 33, 50, 64):
        expected = sum(1 << i for i in range(32) if counts[i] >= need)
        assert bingo.counts_at_least(planes, need) == expected


def test_votes_needed_matches_the_reference_division():
    assert bingo.votes_needed(0.75, 16).tolist()[1:] == [math.ceil(0.75 * n)
                                                         for n in range(1, 17)]
    assert bingo.votes_needed(0.75, 4).tolist() == [0, 1, 2, 3, 3]


# -- through the engine ------------------------------------------------------------------------

def _trace(rows):
    return Trace.from_arrays(np.zeros(len(rows), np.int32), np.asarray(rows, np.int64))


def test_engine_counts_a_recalled_footprint():
    trace = _trace([0, 5, 9, 100, 101, 102, 0, 5, 9])
    # capacity 3: 100, 101, 102 evict 0, 5, 9, ending region 0's generation (footprint
    # {0, 5, 9}); the trigger 0 brings back 5 and 9, which hit
    r = recsim.simulate(trace, "lru", 3, 32, prefetcher="bingo")
    c = r.counts
    assert (c["prefetches_issued"], c["prefetch_hits"], c["cache_hits"]) == (2, 2, 0)
    assert c["on_demand_fetches"] == 7
    # nothing is evicted, so no generation ends and nothing is learned
    assert recsim.simulate(trace, "lru", 8, 32, prefetcher="bingo").counts[
        "prefetches_issued"] == 0


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.integers(0, 80), min_size=1, max_size=150),
       tables=st.lists(st.integers(0, 1), min_size=150, max_size=150),
       capacity=st.integers(1, 24), latency=st.integers(0, 3))
def test_accounting_identities(rows, tables, capacity, latency):
    trace = Trace.from_arrays(tables[:len(rows)], rows)
    params = {"region": 4, "filter_entries": 16, "accumulation_entries": 16,
              "pht_entries": 16, "pht_ways": 4}
    r = recsim.simulate(trace, "lru", capacity, 32, prefetcher="bingo",
                        prefetcher_params=params, prefetch_latency=latency)
    c = r.counts
    assert r.hits + r.misses == c["accesses"] == len(rows)
    assert c["prefetches_issued"] == (c["prefetches_useful"] + c["prefetches_unused"]
                                      + c["prefetches_pending"])
    assert c["prefetches_useful"] == c["prefetch_hits"] + c["late_prefetches"]


@pytest.mark.parametrize("params, name", [({"region": 24}, "region"),
                                          ({"region": 64}, "region"),
                                          ({"filter_entries": 8}, "filter_entries"),
                                          ({"pht_entries": 8}, "pht_entries"),
                                          ({"vote_threshold": 0}, "vote_threshold"),
                                          ({"address_bits": 4}, "address_bits")])
def test_bad_parameters_are_clear_errors(params, name):
    with pytest.raises(ConfigError, match=f"prefetcher 'bingo': parameter '{name}'"):
        recsim.simulate(_trace([1, 2]), "lru", 1, 32, prefetcher="bingo",
                        prefetcher_params=params)
