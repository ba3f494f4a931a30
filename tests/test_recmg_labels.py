"""RecMG labels (recsim.recmg.labels): caching labels and prefetch targets equal a
brute-force Belady on random small traces, fully associative and per set of the deployed
buffer; the label geometry keeps the deployed sets; a label is known only where the vector
is accessed again; errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recsim.engine.settings import set_index
from recsim.engine.settings import resolve_geometry
from recsim.errors import ConfigError
from recsim.recmg.labels import label_geometry, opt_labels
from recsim.traces import Trace, meta_like


def brute_force_opt(seq, capacity):
    """Fully associative Belady without bypass: per access, hit (1) or miss (0)."""
    cache, hits = set(), []
    for i, v in enumerate(seq):
        if v in cache:
            hits.append(1)
            continue
        hits.append(0)
        if len(cache) == capacity:
            def next_use(u):
                return next((j for j in range(i + 1, len(seq)) if seq[j] == u), len(seq))
            cache.remove(max(sorted(cache), key=next_use))
        cache.add(v)
    return hits


@settings(deadline=None, max_examples=80)
@given(st.lists(st.integers(0, 9), min_size=1, max_size=80), st.integers(1, 6))
def test_labels_equal_brute_force_opt(rows, capacity):
    trace = Trace.from_arrays(np.zeros(len(rows), np.int32), np.array(rows, np.int64))
    labels = opt_labels(trace, capacity, label_fraction=1.0)
    cap = min(capacity, trace.n_unique)
    hits = brute_force_opt(rows, cap)
    want = [next((hits[j] for j in range(i + 1, len(rows)) if rows[j] == v), 0)
            for i, v in enumerate(rows)]
    assert labels.cache.tolist() == want
    assert all(k for i, (v, k) in enumerate(zip(rows, labels.known)) if v in rows[i + 1:])
    assert labels.miss_index.tolist() == [i for i, h in enumerate(hits) if h == 0]
    assert labels.opt_hit_rate == pytest.approx(sum(hits) / len(rows))


@settings(deadline=None, max_examples=40)
@given(st.lists(st.integers(0, 40), min_size=1, max_size=120), st.integers(2, 4),
       st.integers(2, 5), st.sampled_from([0.5, 0.8, 1.0]))
def test_set_associative_labels_are_belady_per_deployed_set(rows, sets, ways, fraction):
    """The labelling Belady runs in the deployed buffer's sets (same set of every vector),
    each with round(fraction x ways) ways."""
    trace = Trace.from_arrays(np.zeros(len(rows), np.int32), np.array(rows, np.int64),
                              cardinalities=[41])
    labels = opt_labels(trace, sets * ways, label_fraction=fraction, ways=ways)
    label_ways = int(fraction * ways + 0.5)
    assert (labels.sets, labels.ways) == (sets, label_ways)
    set_of = set_index(trace.dense().keys, sets)
    hits = np.zeros(len(rows), int)
    for s in range(sets):
        at = [i for i, v in enumerate(trace.vid) if set_of[v] == s]
        hits[at] = brute_force_opt([rows[i] for i in at], label_ways)
    assert labels.miss_index.tolist() == np.flatnonzero(hits == 0).tolist()


@settings(deadline=None, max_examples=80)
@given(st.lists(st.integers(0, 9), min_size=1, max_size=60),
       st.lists(st.integers(0, 12), max_size=40), st.integers(1, 5), st.sampled_from([0, 2]))
def test_known_labels_of_a_head_hold_in_every_extension(head, tail, capacity, ways):
    """A label the head calls known is the label the whole trace gives; the head knows
    every access whose vector comes back in it."""
    def labels_of(rows):
        trace = Trace.from_arrays(np.zeros(len(rows), np.int32), np.array(rows, np.int64),
                                  cardinalities=[13])
        return opt_labels(trace, capacity * max(ways, 1), label_fraction=1.0, ways=ways)
    part, whole = labels_of(head), labels_of(head + tail)
    known = part.known
    assert (part.cache[known] == whole.cache[:len(head)][known]).all()
    assert all(known[i] for i, v in enumerate(head) if v in head[i + 1:])


def test_a_label_is_unknown_only_while_the_set_may_still_hold_the_vector():
    # capacity 2, no bypass: 9 (never seen again here) enters at 2 and evicts 1, so no
    # time after 2 has both slots kept until a next use: 9's label stays unknown
    trace = Trace.from_arrays(np.zeros(5, np.int32), np.array([0, 1, 9, 0, 1]))
    labels = opt_labels(trace, 2, label_fraction=1.0)
    assert labels.known.tolist() == [True, True, False, False, False]
    # 0 and 1 fill both slots at time 2, both kept until their next use: 9, accessed
    # before, is gone whenever it comes back, so its label 0 is known
    trace = Trace.from_arrays(np.zeros(6, np.int32), np.array([9, 0, 1, 0, 1, 1]))
    labels = opt_labels(trace, 2, label_fraction=1.0)
    assert labels.known.tolist() == [True, True, True, False, True, False]
    assert labels.cache.tolist()[:3] == [0, 1, 1]


def test_label_geometry_keeps_the_deployed_sets():
    trace = meta_like.generate(100_000, tables=20)
    buffer = int(round(0.1 * trace.n_unique))
    full = opt_labels(trace, 0.1)
    assert full.label_capacity == int(buffer * 0.8) and full.sets == 1
    assert full.ways == full.label_capacity
    assert 0 < full.cache.mean() < 1 and full.cache.dtype == np.uint8
    assigned = opt_labels(trace, 0.1, ways=32)
    _, deployed_sets, _ = resolve_geometry(buffer, 32)
    assert (assigned.sets, assigned.ways) == (deployed_sets, 26)  # 26 of 32 ways: 81%
    assert assigned.label_capacity == deployed_sets * 26
    assert assigned.opt_hit_rate <= full.opt_hit_rate
    # recmg_quick's buffer: 59,498 vectors, 1,859 sets of 32 (1,487 with 0.8 C in 32 ways)
    assert label_geometry(59_498, 32, 0.8) == (1_859 * 26, 26)
    assert label_geometry(20, 32, 0.8) == (16, 0)  # one set: fully associative


@pytest.mark.parametrize("fraction", [0, 1.5, True, "x", float("nan")])
def test_bad_label_fraction(fraction):
    trace = Trace.from_arrays(np.zeros(3, np.int32), np.arange(3))
    with pytest.raises(ConfigError, match="label_fraction: expected a number in"):
        opt_labels(trace, 2, label_fraction=fraction)
