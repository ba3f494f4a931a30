"""Domino (prefetchers/domino.py).

Rules by hand, on a state from ``make_state`` driven through ``on_access`` over a trace
of table 0 whose rows ``0 .. n-1`` are vids ``0 .. n-1`` (letters below are rows):

* pointer chase: after ``A B C D E F A``, the pair ``A B`` prefetches ``C`` (degree 1, the
  reference's), ``C D E`` with degree 3, never past the GHB's head;
* the pair of the current access is preferred; without it, the row's most recent pair;
  without a row for the previous access, nothing;
* an access equal to the previous one is ignored (neither predicts nor trains);
* ``trigger='miss'``: plain hits neither predict nor train, prefetch hits do;
* the budget: ``round(metadata_fraction * unique vectors)`` GHB entries and EIT rows; a
  pointer whose GHB entry was overwritten is forgotten; a row evicted from its LRU set is
  forgotten; each row keeps 3 pairs, dropping the least recently written;
* ``metadata_vectors``: 0 unless ``charge_metadata``, else the metadata's bytes over
  ``vector_bytes``, rounded up; the engine takes that off the buffer.

Through the engine: exact counts on a repeated sequence, and a hypothesis test of the
accounting identities.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import recsim
from recsim.engine.replay import ReplayContext
from recsim.errors import ConfigError
from recsim.plugin import HIT, MISS, PREFETCH_HIT, QUEUE_SIZE
from recsim.prefetchers import domino
from recsim.registry import resolve_params
from recsim.traces.trace import Trace


def _trace(rows):
    return Trace.from_arrays(np.zeros(len(rows), np.int32), np.asarray(rows, np.int64))


def _params(**params):
    """Domino's parameters, checked and typed as the engine gives them."""
    return resolve_params("prefetcher", domino.PREFETCHER, params)


class Hooks:
    """``on_access`` over a state for ``n`` vectors (vid = row); ``budget`` sets
    ``metadata_fraction`` to ``budget / n``."""

    def __init__(self, n=40, budget=40, **params):
        trace = _trace(list(range(n)))
        d = trace.dense()
        ctx = ReplayContext(trace, d.vid, d.keys, 4, 1, 4)
        self.state = domino.make_state(ctx, _params(metadata_fraction=budget / n, **params))
        self.t = 0

    def access(self, vid, outcome=MISS):
        """Returns the vids prefetched."""
        out = np.zeros(QUEUE_SIZE, np.int64)
        n = domino.on_access(self.state, vid, 0, outcome, self.t, np.full(1, -1, np.int64),
                             out)
        self.t += 1
        return out[:n].tolist()

    def run(self, vids, outcome=MISS):
        """Access ``vids``; returns the prefetches of the last one."""
        for v in vids:
            got = self.access(v, outcome)
        return got


A, B, C, D, E, F, G = range(7)


def test_pointer_chase():
    h = Hooks()
    assert [h.access(v) for v in (A, B, C, D, E, F, A)] == [[]] * 7
    assert h.access(B) == [C]
    assert h.access(C) == [D]
    assert Hooks(degree=3).run([A, B, C, D, E, F, A, B]) == [C, D, E]
    assert Hooks(degree=3).run([A, B, C, D, A, B]) == [C, D, A]  # up to the GHB's head
    assert Hooks(degree=3).run([A, B, C, A, B]) == [C, A]


def test_pair_of_the_current_access_else_the_most_recent_pair():
    h = Hooks()
    h.run([A, B, C, A, D, E, A])
    assert h.access(B) == [C]  # the pair (A, B), though (A, D) is more recent
    h = Hooks()
    h.run([A, B, C, A, D, E, A])
    assert h.access(G) == [E]  # no pair (A, G): the most recent pair (A, D)
    h = Hooks()
    h.run([A, B, C])
    assert h.access(D) == []  # no row for C


def test_a_repeated_access_is_ignored():
    h = Hooks()
    h.run([A, B, B, B, C, D, A])
    assert h.state.var[domino.HEAD] == 5  # A B C D A
    assert h.access(B) == [C]


def test_trigger_miss_ignores_plain_hits_only():
    h = Hooks(trigger="miss")
    h.run([A, B, C, D])
    h.run([A, B], HIT)  # ignored
    assert h.state.var[domino.HEAD] == 4
    assert h.access(A, PREFETCH_HIT) == []  # (D, A): no row for D yet
    assert h.access(B, PREFETCH_HIT) == [C]
    assert Hooks().run([A, B, C, D, A, B], HIT) == [C]  # trigger='access' (default)


# -- the budget --------------------------------------------------------------------------------

def test_overwritten_ghb_entry_is_forgotten():
    seq = [A, B, C, D, C, D, C, D, A, B]  # 4 rows only: the EIT does not limit
    # at the last B, A's pair points to position 1 and A was appended at position 8
    assert Hooks(budget=8).run(seq) == [C]  # positions 1 .. 8 still held
    assert Hooks(budget=7).run(seq) == []  # position 1 overwritten by position 8


def test_eit_row_evicted_from_its_set_is_forgotten():
    evens = list(range(0, 34, 2))  # 17 vectors, all in EIT set 0 of 2 (vid mod 2)
    h = Hooks(n=40, budget=32)
    h.run(evens + [1])  # rows for 0, 2, .., 32: the 17th evicts the row of 0 (the LRU)
    assert h.run([0, 2]) == []
    h = Hooks(n=64, budget=64)  # 4 sets: the evens split between sets 0 and 2
    h.run(evens + [1])
    assert h.run([0, 2]) == [4]


def test_geometry():
    # B = round(fraction x unique vectors); rows = sets x min(16, B) <= B
    assert domino.geometry(40, _params(metadata_fraction=34 / 40)) == (34, 2, 16, 3)
    assert domino.geometry(1000, _params()) == (100, 6, 16, 3)
    assert domino.geometry(1000, _params(metadata_fraction=0.005, pairs=2)) == (5, 1, 5, 2)
    assert domino.geometry(3, _params()) == (1, 1, 1, 3)


def test_a_row_keeps_its_three_most_recent_pairs():
    seq = [A, B, 10, A, C, 11, A, D, 12, A, E, 13, A]  # pairs (A, B) .. (A, E)
    h = Hooks()
    h.run(seq)
    assert h.access(C) == [11]  # (A, C) kept
    h = Hooks()
    h.run(seq)
    assert h.access(B) == [13]  # (A, B) dropped: the most recent pair (A, E), not 10


def test_metadata_vectors():
    assert domino.metadata_vectors(1000, _params()) == 0  # charge_metadata False by default
    # B = 100: GHB 100 words; EIT 6 sets x 16 rows, a tag and 3 pairs of 2 words each
    words = 100 + 96 * 7
    assert domino.metadata_vectors(1000, _params(charge_metadata=True)) == -(-8 * words // 256)
    assert domino.metadata_vectors(1000, _params(charge_metadata=True, vector_bytes=8)) \
        == words


def test_engine_takes_the_metadata_off_the_buffer():
    trace = _trace(list(range(1000)))
    params = {"charge_metadata": True}
    charged = domino.metadata_vectors(1000, _params(**params))
    r = recsim.simulate(trace, "lru", 100, 0, prefetcher="domino", prefetcher_params=params)
    assert r.capacity == 100 - charged
    assert recsim.simulate(trace, "lru", 100, 0, prefetcher="domino").capacity == 100


# -- through the engine ------------------------------------------------------------------------

def test_engine_counts_on_a_repeated_sequence():
    # capacity 2: the second pass misses but for the prefetches. At its B (t = 7) the
    # pair (A, B) prefetches C, which hits; C prefetches D, which hits; D prefetches E
    trace = _trace([A, B, C, D, E, F, A, B, C, D])
    r = recsim.simulate(trace, "lru", 2, 32, prefetcher="domino",
                        prefetcher_params={"metadata_fraction": 1.0})
    c = r.counts
    assert (c["prefetches_issued"], c["prefetch_hits"], c["prefetches_pending"]) == (3, 2, 1)
    assert (c["cache_hits"], c["on_demand_fetches"]) == (0, 8)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.integers(0, 30), min_size=1, max_size=150),
       capacity=st.integers(1, 24), latency=st.integers(0, 3),
       fraction=st.sampled_from([0.1, 0.5, 2.0]), degree=st.integers(1, 4),
       trigger=st.sampled_from(["access", "miss"]))
def test_accounting_identities(rows, capacity, latency, fraction, degree, trigger):
    r = recsim.simulate(_trace(rows), "lru", capacity, 32, prefetcher="domino",
                        prefetcher_params={"metadata_fraction": fraction, "degree": degree,
                                           "trigger": trigger},
                        prefetch_latency=latency)
    c = r.counts
    assert r.hits + r.misses == c["accesses"] == len(rows)
    assert c["prefetches_issued"] == (c["prefetches_useful"] + c["prefetches_unused"]
                                      + c["prefetches_pending"])
    assert c["prefetches_useful"] == c["prefetch_hits"] + c["late_prefetches"]


@pytest.mark.parametrize("params, name", [({"metadata_fraction": 0}, "metadata_fraction"),
                                          ({"degree": 0}, "degree"),
                                          ({"degree": 1025}, "degree"),
                                          ({"pairs": 0}, "pairs"),
                                          ({"trigger": "hit"}, "trigger"),
                                          ({"charge_metadata": 1}, "charge_metadata"),
                                          ({"vector_bytes": 0}, "vector_bytes")])
def test_bad_parameters_are_clear_errors(params, name):
    with pytest.raises(ConfigError, match=f"prefetcher 'domino': parameter '{name}'"):
        recsim.simulate(_trace([1, 2]), "lru", 1, 32, prefetcher="domino",
                        prefetcher_params=params)


def test_tables_are_int32_unless_a_value_could_not_fit(monkeypatch):
    assert domino.metadata_dtype(2**31 - 2, 10) == np.int32
    assert domino.metadata_dtype(2**31 - 1, 10) == np.int64 == domino.metadata_dtype(5, 2**31)
    seq = [A, B, C, D, E, F, A, B, C, G, A, B, D, A, C]
    narrow = Hooks(degree=3)
    monkeypatch.setattr(domino, "metadata_dtype", lambda *_: np.int64)
    wide = Hooks(degree=3)
    assert narrow.state.ghb.dtype == np.int32 and wide.state.ghb.dtype == np.int64
    assert [narrow.access(v) for v in seq] == [wide.access(v) for v in seq]
