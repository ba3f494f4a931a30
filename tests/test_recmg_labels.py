"""RecMG labels (recsim.recmg.labels): caching labels and prefetch targets equal a
brute-force Belady on random small traces; the label capacity rule; errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recsim.errors import ConfigError
from recsim.recmg.labels import opt_labels
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
    assert labels.miss_index.tolist() == [i for i, h in enumerate(hits) if h == 0]
    assert labels.opt_hit_rate == pytest.approx(sum(hits) / len(rows))


def test_label_capacity_is_80_percent_of_the_buffer_and_set_associative_works():
    trace = meta_like.generate(100_000, tables=20)
    full = opt_labels(trace, 0.1)
    assert full.label_capacity == int(round(0.1 * trace.n_unique) * 0.8)
    assert full.ways == full.label_capacity
    assert 0 < full.cache.mean() < 1 and full.cache.dtype == np.uint8
    assigned = opt_labels(trace, 0.1, ways=32)
    assert assigned.ways == 32 and assigned.opt_hit_rate <= full.opt_hit_rate


@pytest.mark.parametrize("fraction", [0, 1.5, True, "x", float("nan")])
def test_bad_label_fraction(fraction):
    trace = Trace.from_arrays(np.zeros(3, np.int32), np.arange(3))
    with pytest.raises(ConfigError, match="label_fraction: expected a number in"):
        opt_labels(trace, 2, label_fraction=fraction)
