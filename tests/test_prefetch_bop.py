"""BOP, the Best-Offset prefetcher (prefetchers/bop.py).

Rules by hand, on a state from ``make_state`` driven through the ``on_access`` hook over
a trace of table 0 in order (the hook reads the key of access ``t`` from the trace; key =
row; a page is 64 keys):

* learning: each learning access tests one offset, in the list's order; offset ``d``
  scores when ``X - d`` was a recent learning access of the same page, not across a
  page; a plain hit neither learns nor prefetches; ties go to the later offset;
* a constant stride 32 gives offset 32 the only score after one round, and the prefetch
  offset 32 after SCORE_MAX = 31 rounds; a learning phase that reaches ROUND_MAX = 100
  rounds adopts its best offset if its score is 11, turns prefetching off at 10;
* RR table: a learning access enters both banks ``prefetch_latency`` accesses later (the
  next access with latency 0); with latency 2 the stride-32 sequence scores nothing; a
  lookup hits in either bank; bo.h's index and tag hashes;
* prefetch: ``X + i * D`` for ``i = 1 .. degree`` within the page of ``X``, skipping keys
  that are not vectors of the trace; the default offset 1 before any learning; none
  while off; on prefetched hits (first use) too.

Through the engine: exact counts on the stride-32 sequence (offset 32 adopted at the
1426th access, then every other access is a prefetch hit; nothing with latency 2), and
a hypothesis test of the accounting identities.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import recsim
from recsim.engine.replay import ReplayContext
from recsim.errors import ConfigError
from recsim.plugin import HIT, LATE_PREFETCH, MISS, PREFETCH_HIT, QUEUE_SIZE, defaults
from recsim.prefetchers import bop
from recsim.registry import resolve_params
from recsim.traces.trace import Trace

ROUND = len(bop.OFFSETS)  # learning accesses per round: 46


def _trace(rows):
    return Trace.from_arrays(np.zeros(len(rows), np.int32), np.asarray(rows, np.int64))


class Run:
    """Drives the hook over a trace of table 0 (key = row) made of ``accesses`` followed
    by ``extra`` (vectors of the trace that are not driven), one access per ``step``."""

    def __init__(self, accesses, extra=(), latency=0, degree=1):
        trace = _trace(list(accesses) + list(extra))
        d = trace.dense()
        ctx = ReplayContext(trace, d.vid, d.keys, 8, 1, 8, prefetch_latency=latency)
        self.state = bop.make_state(ctx, resolve_params("prefetcher", bop.PREFETCHER,
                                                      {"degree": degree}))
        self.keys, self.vids, self.n, self.t = d.keys, d.vid, len(accesses), 0

    def step(self, outcome=MISS):
        """The next access; returns the keys of its candidates."""
        assert self.t < self.n
        out = np.zeros(QUEUE_SIZE, np.int64)
        n = bop.on_access(self.state, self.vids[self.t], 0, outcome, self.t,
                          np.full(1, -1, np.int64), out)
        self.t += 1
        return self.keys[out[:n]].tolist()

    def steps(self, n, outcome=MISS):
        return [self.step(outcome) for _ in range(n)]

    def var(self, slot):
        return int(self.state.var[slot])

    def set(self, slot, value):
        self.state.var[slot] = value

    @property
    def scores(self):
        return self.state.scores

    @property
    def rr(self):
        return self.state.rr


def _scoring_keys(plan, n_rounds, pos=0):
    """Learning accesses for ``n_rounds`` rounds in which offset ``d`` scores exactly in
    the rounds ``plan[d]``: its test access is ``prev + d``, ``prev`` being the access just
    before it; every other access is at position ``pos`` of a page never used before, so
    that no other test can hit (pos 0 for positive offsets: ``X - d`` leaves the page;
    pos 63 for negative ones)."""
    keys, page = [], 1
    for r in range(n_rounds):
        for i, d in enumerate(bop.OFFSETS):
            if r in plan.get(d, ()):
                assert keys and keys[-1] % 64 == pos, "scoring tests must not be adjacent"
                keys.append(keys[-1] + d)
            else:
                keys.append(64 * page + pos)
                page += 1
    return keys


# -- learning -------------------------------------------------------------------------------

def test_defaults_and_offsets():
    assert defaults(bop.PREFETCHER.params) == {"degree": 1}
    assert len(bop.OFFSETS) == 46
    assert sorted(d for d in bop.OFFSETS if d > 0) == [*range(1, 17), 18, 20, 24, 30, 32, 36,
                                                       40]
    assert [-d for d in bop.OFFSETS[1::2]] == list(bop.OFFSETS[::2])  # d, -d pairs
    assert (bop.SCORE_MAX, bop.ROUND_MAX, bop.BAD_SCORE) == (31, 100, 10)


@pytest.mark.parametrize("d", [1, 7, 40, -1, -16, -40])
def test_offset_scores_when_line_minus_d_was_requested(d):
    run = Run(_scoring_keys({d: {1, 2}}, 3, pos=0 if d > 0 else 63))
    run.steps(ROUND)
    assert run.scores.sum() == 0 and run.var(bop.ROUND) == 1  # round 0: no pairs
    run.steps(ROUND)
    expected = np.zeros(ROUND, np.int64)
    expected[bop.OFFSETS.index(d)] = 1
    assert run.scores.tolist() == expected.tolist()
    assert (run.var(bop.BEST), run.var(bop.MAX_SCORE)) == (d, 1)
    run.steps(ROUND)
    assert run.scores[bop.OFFSETS.index(d)] == run.scores.sum() == 2
    assert run.var(bop.ROUND) == 3


def test_one_offset_tested_per_learning_access_and_not_on_hits():
    keys = _scoring_keys({5: {0}}, 1)
    i = bop.OFFSETS.index(5)
    run = Run(keys[:i + 1] + [keys[i]])
    run.steps(i)
    assert run.var(bop.P) == i
    run.step(HIT)  # X - 5 is recent, but a hit does not learn
    assert run.var(bop.P) == i and run.scores.sum() == 0
    run.step(PREFETCH_HIT)  # the first use of a prefetch does
    assert run.var(bop.P) == i + 1 and run.scores[i] == 1


@pytest.mark.parametrize("outcome", [MISS, LATE_PREFETCH, PREFETCH_HIT])
def test_learning_outcomes(outcome):
    run = Run([3], extra=[100])
    assert run.step(outcome) == []  # 4 is not a vector
    assert run.var(bop.P) == 1


@pytest.mark.parametrize("x, scores", [(64 * 900 + 6, 1), (64 * 900, 0)])
def test_offset_scores_only_within_the_page(x, scores):
    # X - 1 was just requested; with X = 64 * 900 it lies in the previous page
    run = Run([x - 1, x])
    run.step()
    run.set(bop.P, 0)  # test offset 1 on the next access
    run.step()
    assert run.scores[0] == run.scores.sum() == scores


def test_ties_go_to_the_later_offset():
    run = Run(_scoring_keys({3: {1}, 9: {1}}, 2))
    run.steps(2 * ROUND)
    assert run.scores[bop.OFFSETS.index(3)] == run.scores[bop.OFFSETS.index(9)] == 1
    assert run.var(bop.BEST) == 9


def _stride32(n):
    return [32 + 32 * k for k in range(n)]


@pytest.mark.parametrize("latency", [0, 1])
def test_constant_stride_learns_offset_32(latency):
    # keys 32, 64, 96, ...: every access at an even index k >= 2 (page position 32) has
    # its predecessor, 32 below, in its page; offset 32 (index 40) is always tested at an
    # even index, and no other offset can score (no other multiple of 32 is in the list).
    run = Run(_stride32(31 * ROUND), latency=latency)
    run.steps(ROUND)
    expected = np.zeros(ROUND, np.int64)
    expected[bop.OFFSETS.index(32)] = 1
    assert run.scores.tolist() == expected.tolist()
    assert (run.var(bop.BEST), run.var(bop.ROUND), run.var(bop.OFFSET)) == (32, 1, 1)
    run.steps(30 * ROUND - 1)
    # offset 32 reached SCORE_MAX at access 1420, but the phase ends with the round
    assert run.scores[bop.OFFSETS.index(32)] == 31 and run.var(bop.OFFSET) == 1
    run.step()
    assert run.var(bop.OFFSET) == 32
    assert run.scores.sum() == run.var(bop.ROUND) == run.var(bop.MAX_SCORE) == 0


def test_late_insertion_scores_nothing_and_turns_prefetching_off():
    # latency 2: the predecessor enters the RR table only after the access that tests it
    run = Run(_stride32(100 * ROUND), latency=2)
    run.steps(100 * ROUND - 1)
    assert run.scores.sum() == 0 and run.var(bop.ROUND) == 99 and run.var(bop.OFFSET) == 1
    run.step()
    assert run.var(bop.OFFSET) == 0  # best score 0 <= BAD_SCORE


@pytest.mark.parametrize("n_scores, adopted", [(10, 0), (11, 7)])
def test_round_max_adopts_the_best_offset_unless_bad(n_scores, adopted):
    rounds = set(range(1, 100, 9)) if n_scores == 11 else set(range(1, 100, 10))
    assert len(rounds) == n_scores
    run = Run(_scoring_keys({7: rounds}, 100))
    run.steps(100 * ROUND - 1)
    assert (run.var(bop.MAX_SCORE), run.var(bop.OFFSET)) == (n_scores, 1)
    run.step()
    assert run.var(bop.OFFSET) == adopted
    assert run.var(bop.ROUND) == run.var(bop.MAX_SCORE) == run.scores.sum() == 0
    assert run.var(bop.BEST) == run.var(bop.P) == 0


# -- RR insertion ---------------------------------------------------------------------------

@pytest.mark.parametrize("latency", [0, 3])
def test_rr_insertion_after_prefetch_latency(latency):
    x = 64 * 5 + 9
    first = max(latency, 1)  # the access at whose start x enters the table
    run = Run([x] * (first + 1), latency=latency)
    run.step()
    for _ in range(first):
        assert not bop.rr_hit(run.rr, x)
        run.step(HIT)  # the queue drains on every access
    assert bop.rr_hit(run.rr, x)
    tag = bop.rr_tag(x)
    assert run.rr[bop.rr_left(x)] == tag and run.rr[bop.rr_right(x)] == tag  # both banks
    assert sorted(np.flatnonzero(run.rr != bop.EMPTY).tolist()) == sorted(
        [bop.rr_left(x), bop.rr_right(x)])


def test_rr_queue_holds_every_learning_access_in_flight():
    xs = [64 * (10 + i) + 5 for i in range(6)]  # distinct left-bank entries
    run = Run(xs, latency=3)
    run.steps(3)
    assert not any(bop.rr_hit(run.rr, x) for x in xs)
    run.step()  # access 3 inserts access 0
    assert [bop.rr_hit(run.rr, x) for x in xs] == [True] + [False] * 5
    run.steps(2)
    assert [bop.rr_hit(run.rr, x) for x in xs] == [True] * 3 + [False] * 3


A = 64 * 5 + 9
B = 64 * 6 + 10  # same left index as A ((10 ^ 6) == (9 ^ 5)), another right one
C = 64 * 64 * 2 + 64 * 3 + (9 ^ 2)  # same right index as A ((9 ^ 2) ^ 2), left (9 ^ 2) ^ 3


@pytest.mark.parametrize("other, last", [(B, C), (C, B)])
def test_rr_lookup_checks_both_banks(other, last):
    assert bop.rr_left(A) == bop.rr_left(B) and bop.rr_right(A) != bop.rr_right(B)
    assert bop.rr_right(A) == bop.rr_right(C) and bop.rr_left(A) != bop.rr_left(C)
    run = Run([A, other, other, last, last])
    run.steps(2)
    run.step(HIT)
    assert bop.rr_hit(run.rr, A)  # one of its entries was overwritten, the other remains
    run.step()
    run.step(HIT)
    assert not bop.rr_hit(run.rr, A)  # both overwritten
    assert bop.rr_hit(run.rr, B) and bop.rr_hit(run.rr, C)


def test_rr_hash_is_bo_h_s():
    x = 0b101101_110011_011010_000111
    assert bop.rr_tag(x) == 0b110011_011010
    assert bop.rr_left(x) == 0b011010 ^ 0b000111
    assert bop.rr_right(x) == 64 + (0b110011 ^ 0b000111)


# -- prefetching ----------------------------------------------------------------------------

def test_default_offset_prefetches_next_key_from_the_start():
    run = Run([10, 11, 11], extra=[12])
    assert run.step() == [11]
    assert run.step(HIT) == []  # only learning accesses prefetch
    assert run.step(PREFETCH_HIT) == [12]


@pytest.mark.parametrize("d, x, expected", [
    (5, 64 * 3 + 10, [64 * 3 + 15]),
    (5, 64 * 3 + 60, []),  # 64 * 4 + 1 is in the next page
    (-5, 64 * 3 + 3, []),
    (-5, 64 * 3 + 10, [64 * 3 + 5]),
    (40, 64 * 3 + 23, [64 * 3 + 63]),
    (-40, 64 * 3 + 63, [64 * 3 + 23]),
    (7, 64 * 3 + 11, []),  # 64 * 3 + 18 is not a vector of the trace
])
def test_prefetch_x_plus_d_within_the_page(d, x, expected):
    rows = [64 * 3 + r for r in (3, 5, 10, 11, 15, 23, 30, 40, 50, 60, 63)]
    rows += [64 * 4 + 1, 64 * 2 + 62]  # just outside the page
    run = Run([x], extra=rows)
    run.set(bop.OFFSET, d)
    assert run.step() == expected


def test_degree_stops_at_the_page_and_skips_missing_keys():
    run = Run([64 + 2], extra=[64 + 12, 64 + 32, 64 + 42, 128 + 8], degree=8)
    run.set(bop.OFFSET, 10)
    # 12, 22 (absent), 32, 42, 52 (absent), 62 (absent), then 72 (a vector) leaves the page
    assert run.step() == [64 + 12, 64 + 32, 64 + 42]


def test_off_learns_but_does_not_prefetch():
    run = Run([10, 11])
    run.set(bop.OFFSET, 0)
    assert run.step() == []
    assert run.var(bop.P) == 1
    assert run.step() == []
    assert bop.rr_hit(run.rr, 10)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_bad_degree_is_a_config_error(bad):
    with pytest.raises(ConfigError, match="prefetcher 'bop': parameter 'degree'"):
        Run([1], degree=bad)


# -- through the engine ---------------------------------------------------------------------

@pytest.mark.parametrize("latency, expected", [(0, 287), (1, 287), (2, 0)])
def test_stride_32_through_the_engine(latency, expected):
    # offset 32 is adopted at access 1425 (the end of round 31); from then on every access
    # at page position 0 (odd index) prefetches the next one, up to 1997 -> 1998: 287
    # prefetches, each used by the next access. With latency 2 nothing scores.
    n = 2000
    res = recsim.simulate(_trace(_stride32(n)), "lru", 4, ways=0, prefetcher="bop",
                          prefetch_latency=latency)
    c = res.counts
    assert c["prefetches_issued"] == c["prefetch_hits"] == expected
    assert c["on_demand_fetches"] == n - expected
    assert c["prefetches_redundant"] == c["late_prefetches"] == c["prefetches_unused"] == 0


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.integers(0, 200), min_size=1, max_size=300),
       capacity=st.integers(1, 40), latency=st.integers(0, 4), degree=st.integers(1, 3))
def test_accounting_identities(rows, capacity, latency, degree):
    res = recsim.simulate(_trace(rows), "lru", capacity, ways=0, prefetcher="bop",
                          prefetcher_params={"degree": degree}, prefetch_latency=latency)
    c = res.counts
    assert res.hits + res.misses == c["accesses"] == len(rows)
    assert c["prefetches_issued"] == (c["prefetches_useful"] + c["prefetches_unused"]
                                      + c["prefetches_pending"])
