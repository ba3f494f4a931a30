"""Trace generators: the meta-like preset against Meta's 2021 statistics (scaled down), its
learnable order and Belady/LRU gap; the hitrate preset's exact LRU hit rates; seeds,
errors, the registry and the CLI."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recsim import simulate
from recsim.cli import main
from recsim.errors import ConfigError
from recsim.traces import (Trace, generate_trace, hitrate, load_trace, meta_like, sessions,
                           zipf)
from recsim.traces.stats import (FAR_DISTANCE, reuse_count_histograms, reuse_distances,
                                 successor_accuracy)

SCALED = 4_000_000  # accesses of the scaled-down meta-like check


@pytest.fixture(scope="module")
def meta4m():
    return meta_like.generate(SCALED)


@pytest.fixture(scope="module")
def meta_2021(real_data_dir):
    """The four 2021 ``_N`` files' statistics (identical to 3 decimals)."""
    stats = json.loads((real_data_dir / "locality_stats.json").read_text())
    return stats["fbgemm_t856_bs65536_0.pt"]


def test_default_profile_is_the_2021_files_access_histogram(meta_2021):
    assert meta_like.META_2021 == tuple(meta_2021["frac_of_accesses_by_reuse_count"].values())


def test_meta_like_matches_the_2021_reuse_count_histograms(meta4m, meta_2021):
    got = reuse_count_histograms(meta4m.vid, meta4m.n_unique)
    assert meta4m.n_accesses == SCALED
    assert abs(got["unique_fraction"] - 0.132) <= 0.02
    for key in ("frac_of_unique_by_reuse_count", "frac_of_accesses_by_reuse_count"):
        for label, want in meta_2021[key].items():
            assert abs(got[key][label] - want) <= 0.03, (key, label)


def test_meta_like_has_far_reuse_at_the_scaled_threshold(meta4m):
    distances = reuse_distances(meta4m.vid, meta4m.n_unique)
    threshold = FAR_DISTANCE * SCALED / meta_like.FULL_SCALE
    assert np.mean(distances > threshold) >= 0.15


def test_belady_beats_lru_by_30_percent_at_a_10_percent_buffer(meta4m):
    lru = simulate(meta4m, "lru", 0.1, ways=0).hit_rate
    belady = simulate(meta4m, "belady", 0.1, ways=0).hit_rate
    assert belady >= 1.3 * lru


def test_meta_like_order_is_learnable_and_zipf_order_is_not(meta4m):
    ordered = successor_accuracy(meta4m.vid, meta4m.table, meta4m.n_unique)
    assert ordered >= 0.10
    # the same accesses shuffled keep every table's popularity but lose the order
    shuffled = np.random.default_rng(0).permutation(meta4m.n_accesses)
    assert successor_accuracy(meta4m.vid[shuffled], meta4m.table[shuffled],
                              meta4m.n_unique) < ordered / 2
    flat = zipf.generate(SCALED, alpha=0.8)
    assert successor_accuracy(flat.vid, flat.table, flat.n_unique) < 0.01
    # at alpha 1 an i.i.d. trace's best guess is its hottest vector, p = 1 / H(1M) ~ 7%
    skewed = zipf.generate(SCALED, alpha=1.0)
    assert successor_accuracy(skewed.vid, skewed.table, skewed.n_unique) < 0.08


def brute_successor_accuracy(vids, table):
    nxt = {}
    for i in range(len(vids)):
        later = [j for j in range(i + 1, len(vids)) if table[j] == table[i]]
        if later:
            nxt[i] = vids[later[0]]
    half = len(vids) // 2
    counts = {}
    for i, w in nxt.items():
        if i < half:
            counts.setdefault(vids[i], Counter())[w] += 1
    best = {v: min(c, key=lambda w: (-c[w], w)) for v, c in counts.items()}
    test = [i for i in nxt if i >= half]
    return sum(best.get(vids[i]) == nxt[i] for i in test) / len(test) if test else None


@settings(deadline=None, max_examples=60)
@given(st.lists(st.tuples(st.integers(0, 1), st.integers(0, 5)), min_size=1, max_size=60))
def test_successor_accuracy_equals_brute_force(pairs):
    table = np.array([t for t, _ in pairs], np.int32)
    vids = np.array([t * 6 + r for t, r in pairs], np.int64)
    assert successor_accuracy(vids, table, 12) == pytest.approx(
        brute_successor_accuracy(vids.tolist(), table.tolist()), abs=0, nan_ok=False)


@settings(deadline=None, max_examples=40)
@given(st.integers(1, 3_000_000))
def test_access_counts_sum_exactly_to_the_request(n):
    counts = meta_like.access_counts(n)
    assert counts.sum() == n and counts.min() >= 1


def test_meta_like_is_deterministic_per_seed_and_streams_to_disk(tmp_path):
    a = meta_like.generate(200_000, seed=1, tables=50)
    b = meta_like.generate(200_000, seed=1, tables=50, path=tmp_path / "b.trace")
    c = meta_like.generate(200_000, seed=2, tables=50)
    for name in ("table", "row", "batch_offsets", "cardinalities"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.row, c.row)
    assert load_trace(tmp_path / "b.trace").meta["provenance"]["visits"] == 16
    assert np.all(np.diff(a.batch_offsets) > 0)
    assert np.all(a.row < a.cardinalities[a.table])


@pytest.mark.parametrize("accesses", [1, 2, 7, 1000])
def test_meta_like_tiny_traces(accesses):
    trace = meta_like.generate(accesses, tables=3)
    assert trace.n_accesses == accesses


@pytest.mark.parametrize("h", [0.0, 0.05, 0.3, 0.75, 0.95])
def test_hitrate_hits_the_requested_lru_hit_rate(h):
    trace = hitrate.generate(200_000, hit_rate=h, capacity=2000)
    exact = simulate(trace, "lru", 2000, ways=0).hit_rate
    assert exact == trace.meta["provenance"]["lru_hit_rate"] == round(h * 200_000) / 200_000
    assert trace.n_unique == 10_000
    assert abs(simulate(trace, "lru", 2000, ways=32).hit_rate - h) <= 0.01


def test_hitrate_at_one_misses_only_the_hot_set():
    trace = hitrate.generate(100_000, hit_rate=1.0, capacity=1000)
    hot = trace.meta["provenance"]["hot_vectors"]
    assert simulate(trace, "lru", 1000, ways=0).misses == hot == 500


@pytest.mark.parametrize("preset, params, message", [
    ("meta-like", {"accesses": 10, "alpha": 1.0},
     "generator 'meta-like': unknown parameter 'alpha'"),
    ("meta-like", {"accesses": 10, "row_fill": 1.5}, "'row_fill': expected a number in (0, 1]"),
    ("meta-like", {"accesses": 0}, "'accesses': expected a positive integer, got 0"),
    ("hitrate", {"accesses": 10, "hit_rate": 0.5, "capacity": 10_000},
     "expected capacity < unique <= rows"),
    ("hitrate", {"accesses": 10, "hit_rate": 1.5, "capacity": 10}, "'hit_rate': expected a "
                                                                     "number in [0, 1]"),
    ("hitrate", {"accesses": 10}, "generator 'hitrate': missing parameter 'hit_rate'"),
    ("zipv", {"accesses": 10}, "preset: expected one of zipf, meta-like, sessions, hitrate"),
])
def test_generator_errors_name_the_parameter(preset, params, message):
    with pytest.raises(ConfigError, match=None) as info:
        generate_trace(preset, **params)
    assert message in str(info.value)


def test_sessions_is_deterministic_per_seed_and_streams_to_disk(tmp_path):
    a = sessions.generate(50_000, seed=1, tables=6)
    b = generate_trace("sessions", path=tmp_path / "b.trace", accesses=50_000, seed=1,
                       tables=6)
    c = sessions.generate(50_000, seed=2, tables=6)
    for name in ("table", "row", "batch_offsets", "cardinalities"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.row, c.row)
    assert load_trace(tmp_path / "b.trace").meta["provenance"]["topic_shift"] == 0.5
    assert np.all(a.row < a.cardinalities[a.table]) and a.n_tables == 6


@pytest.fixture(scope="module")
def sessions400k():
    return sessions.generate(400_000, seed=3)


def test_sessions_order_spans_tables(sessions400k):
    t = sessions400k
    assert np.mean(t.table[1:] != t.table[:-1]) >= 0.9  # 1 - 1/24 but for repeats
    # most-frequent successor over the whole sequence against one per table
    across = successor_accuracy(t.vid, np.zeros_like(t.table), t.n_unique)
    within = successor_accuracy(t.vid, t.table, t.n_unique)
    assert across >= 0.25 and across >= 3 * within
    shuffled = np.random.default_rng(0).permutation(t.n_accesses)
    assert successor_accuracy(t.vid[shuffled], np.zeros_like(t.table), t.n_unique) < across / 5


def _hot_pair_overlap(trace, top=2000):
    """Share of the ``top`` most frequent pairs of consecutive lookups of the first fifth
    that are among the ``top`` of the last fifth."""
    fifth = trace.n_accesses // 5
    vid = trace.vid.astype(np.int64)
    pairs = vid[:-1] * trace.n_unique + vid[1:]
    hot = []
    for part in (pairs[:fifth], pairs[-fifth:]):
        keys, counts = np.unique(part, return_counts=True)
        hot.append(keys[np.argsort(-counts, kind="stable")[:top]])
    return np.isin(hot[0], hot[1]).mean()


def test_sessions_interests_drift(sessions400k):
    still = sessions.generate(400_000, seed=3, topic_shift=0.0, drift=0.0)
    assert _hot_pair_overlap(sessions400k) < _hot_pair_overlap(still) - 0.1


def test_cli_generates_each_preset(tmp_path, capsys):
    assert main(["trace", "gen", "meta-like", "-o", str(tmp_path / "m.trace"), "--accesses",
                 "50000", "--tables", "20", "--param", "visits=8"]) == 0
    assert main(["trace", "gen", "hitrate", "-o", str(tmp_path / "h.trace"), "--accesses",
                 "20000", "--hit-rate", "0.4", "--capacity", "1000"]) == 0
    out = capsys.readouterr().out
    assert "50,000 accesses" in out and "fully associative LRU hit rate 0.4000" in out
    meta = load_trace(tmp_path / "m.trace").meta["provenance"]
    assert meta["tables"] == 20 and meta["visits"] == 8
    assert isinstance(load_trace(tmp_path / "h.trace"), Trace)
    assert main(["trace", "gen", "meta-like", "-o", str(tmp_path / "x.trace"), "--accesses",
                 "100", "--alpha", "1"]) == 2
    err = capsys.readouterr().err
    assert "recsim: error: generator 'meta-like': unknown parameter 'alpha'" in err
