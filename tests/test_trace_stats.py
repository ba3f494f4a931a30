"""Trace statistics (recsim.traces.stats): exact reuse distances, the LRU miss-ratio curve
against the engine, Meta's reuse-count histograms, Zipf skew, pooling, and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recsim import simulate
from recsim.cli import main
from recsim.traces import Trace, zipf
from recsim.traces.stats import (default_capacities, lookups_per_batch_table, lru_misses,
                                 per_table, reuse_count_histograms, reuse_distance_histogram,
                                 reuse_distances, trace_stats, zipf_alpha)

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def brute_force_distances(vids):
    """O(N^2): distinct vectors strictly between an access and the previous one to its vector."""
    out = []
    for i, v in enumerate(vids):
        prev = [j for j in range(i) if vids[j] == v]
        out.append(len(set(vids[prev[-1] + 1:i])) if prev else -1)
    return out


@st.composite
def traces(draw, max_len=150):
    n = draw(st.integers(1, max_len))
    n_tables = draw(st.integers(1, 3))
    n_rows = draw(st.integers(1, 40))
    table = draw(st.lists(st.integers(0, n_tables - 1), min_size=n, max_size=n))
    # min of two uniform draws skews rows towards 0, so that reuse is frequent
    row = draw(st.lists(st.tuples(st.integers(0, n_rows - 1), st.integers(0, n_rows - 1)),
                        min_size=n, max_size=n))
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=6)))
    return Trace.from_arrays(table, [min(a, b) for a, b in row], batch_offsets=[0, *cuts, n],
                             cardinalities=[n_rows] * n_tables)


# -- (a) reuse distances --------------------------------------------------------------------

@settings(max_examples=200, **SETTINGS)
@given(st.lists(st.integers(0, 12), min_size=0, max_size=120))
def test_reuse_distances_equal_brute_force(vids):
    got = reuse_distances(np.array(vids, dtype=np.int32), 13)
    assert got.dtype == np.int64
    assert got.tolist() == brute_force_distances(vids)


def test_reuse_distances_hand_made_and_range_check():
    # a b c a a b d c: b's reuse sees {c, a} (a twice), c's sees {a, b, d}
    assert reuse_distances([0, 1, 2, 0, 0, 1, 3, 2], 4).tolist() == [-1, -1, -1, 2, 0, 2, -1, 3]
    with pytest.raises(ValueError):
        reuse_distances([0, 4], 4)


def test_reuse_distance_histogram_buckets():
    d = np.array([-1, -1, 0, 1, 2, 3, 4, 7, 8, 2**20, 2**20 + 1])
    h = reuse_distance_histogram(d)
    assert h["first_accesses"] == 2
    expected = {"0, 1": 1, "1, 2": 1, "2, 4": 2, "4, 8": 2, "8, 16": 1}
    expected.update({f"{1 << (k - 1)}, {1 << k}": 0 for k in range(5, 21)})
    expected["1048576, 2097152"] = 2
    assert h["counts"] == expected
    assert h["frac_distance_above_2^20"] == 1 / 11


# -- (b) the LRU miss-ratio curve equals the engine's fully associative LRU ---------------

@settings(max_examples=60, **SETTINGS)
@given(traces(), st.lists(st.integers(1, 45), min_size=1, max_size=5))
def test_lru_mrc_equals_simulate(trace, capacities):
    got = lru_misses(reuse_distances(trace.vid, trace.n_unique), capacities)
    for c, misses in zip(capacities, got.tolist()):
        assert misses == simulate(trace, "lru", capacity=c, ways=0).misses


@pytest.mark.parametrize("percent", [1, 5, 10, 33, 100])
def test_default_grid_equals_simulate_at_fractions(percent):
    trace = zipf.generate(30_000, tables=2, rows=4_000, alpha=0.8, seed=11)
    stats = trace_stats(trace)
    mrc = stats["lru_mrc"]
    i = mrc["fraction"].index(percent / 100)
    result = simulate(trace, "lru", capacity=f"{percent}%", ways=0)
    assert mrc["capacity"][i] == result.capacity
    assert mrc["misses"][i] == result.misses
    assert mrc["miss_ratio"][i] == result.misses / trace.n_accesses


def test_default_capacities_grid():
    fractions, capacities = default_capacities(250)
    assert len(fractions) == 100 and fractions[0] == 0.01 and fractions[-1] == 1.0
    assert capacities[:4] == [2, 5, 8, 10] and capacities[-1] == 250  # round half to even
    assert default_capacities(3)[1][0] == 1


# -- (c) reuse-count histograms (Meta's locality_stats.json) -------------------------------

def test_reuse_count_histograms_hand_made():
    accesses = {0: 1, 1: 2, 2: 3, 3: 4, 4: 5, 5: 32768, 6: 32769, 7: 0}  # vid 7 never accessed
    vids = np.random.default_rng(0).permutation(np.repeat(list(accesses), list(accesses.values())))
    h = reuse_count_histograms(vids, 8)
    n, u = 65552, 7
    assert (h["num_indices"], h["num_unique"]) == (n, u)
    assert h["avg_reuse_per_unique"] == n / u and h["unique_fraction"] == u / n
    unique = dict.fromkeys(h["frac_of_unique_by_reuse_count"], 0.0)
    unique.update({"0, 1": 1 / 7, "1, 2": 1 / 7, "2, 4": 2 / 7, "4, 8": 1 / 7,
                   "16384, 32768": 1 / 7, "32768+": 1 / 7})
    shares = dict.fromkeys(unique, 0.0)
    shares.update({"0, 1": 1 / n, "1, 2": 2 / n, "2, 4": 7 / n, "4, 8": 5 / n,
                   "16384, 32768": 32768 / n, "32768+": 32769 / n})
    assert h["frac_of_unique_by_reuse_count"] == pytest.approx(unique, abs=1e-15)
    assert h["frac_of_accesses_by_reuse_count"] == pytest.approx(shares, abs=1e-15)


def test_reuse_count_definitions_match_meta_file(real_data_dir):
    """Same labels as locality_stats.json, and the file obeys our definitions: a vector of
    reuse count 0 (1) is accessed once (twice), and avg_reuse_per_unique = indices / unique."""
    h = reuse_count_histograms(np.array([0, 1, 1]), 2)
    for entry in json.loads((real_data_dir / "locality_stats.json").read_text()).values():
        assert list(entry["frac_of_unique_by_reuse_count"]) == list(
            h["frac_of_unique_by_reuse_count"])
        assert list(entry["frac_of_accesses_by_reuse_count"]) == list(
            h["frac_of_accesses_by_reuse_count"])
        ratio = entry["num_unique"] / entry["num_indices"]
        uniq, acc = entry["frac_of_unique_by_reuse_count"], entry["frac_of_accesses_by_reuse_count"]
        assert acc["0, 1"] == pytest.approx(uniq["0, 1"] * ratio, abs=1e-3)
        assert acc["1, 2"] == pytest.approx(2 * uniq["1, 2"] * ratio, abs=1e-3)
        assert entry["avg_reuse_per_unique"] == pytest.approx(1 / ratio, abs=0.05)


# -- (d) Zipf skew --------------------------------------------------------------------------

@pytest.mark.parametrize("alpha", [0.6, 0.9, 1.2])
def test_zipf_alpha_recovered(alpha):
    trace = zipf.generate(1_000_000, tables=2, rows=100_000, alpha=alpha, seed=5)
    assert zipf_alpha(trace.vid, trace.n_unique) == pytest.approx(alpha, abs=0.1)


def test_zipf_alpha_exact_power_law_and_degenerate():
    counts = np.round(1e6 * np.arange(1, 201, dtype=np.float64) ** -1.0).astype(np.int64)
    vids = np.repeat(np.arange(200), counts)
    assert zipf_alpha(vids, 200) == pytest.approx(1.0, abs=1e-3)
    assert zipf_alpha(np.zeros(5, np.int64), 1) is None


# -- pooling factor and per-table counts ----------------------------------------------------

@settings(max_examples=100, **SETTINGS)
@given(traces())
def test_lookups_per_batch_table_equal_brute_force(trace):
    bo = trace.batch_offsets
    pairs = [int(np.count_nonzero(trace.table[bo[b]:bo[b + 1]] == t))
             for b in range(trace.n_batches) for t in range(trace.n_tables)]
    got = lookups_per_batch_table(trace.table, bo, trace.n_tables)
    q = np.percentile(pairs, [0, 25, 50, 75, 100], method="inverted_cdf").tolist()
    assert [got[k] for k in ("min", "q1", "median", "q3", "max")] == q
    assert got["mean"] == pytest.approx(np.mean(pairs), rel=1e-12)


def test_per_table_hand_made():
    trace = Trace.from_arrays([0, 2, 2, 0, 2, 2], [5, 1, 1, 5, 0, 3], cardinalities=[70, 1, 4])
    assert per_table(trace) == [
        {"table": 0, "name": "t0", "cardinality": 70, "unique": 1, "access_share": 2 / 6},
        {"table": 1, "name": "t1", "cardinality": 1, "unique": 0, "access_share": 0.0},
        {"table": 2, "name": "t2", "cardinality": 4, "unique": 3, "access_share": 4 / 6}]


# -- (e) the command line -------------------------------------------------------------------

def test_cli_stats_prints_json_and_plot(tmp_path, capsys):
    path = tmp_path / "z.trace"
    assert main(["trace", "gen", "zipf", "-o", str(path), "--accesses", "20000", "--tables",
                 "2", "--rows", "3000", "--alpha", "0.8", "--seed", "3"]) == 0
    capsys.readouterr()
    png = tmp_path / "stats.png"
    assert main(["trace", "stats", str(path), "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "20,000 accesses" in out and "Zipf alpha" in out and "LRU miss ratio" in out
    assert max(len(line) for line in out.splitlines()) <= 110
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["trace", "stats", str(path), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["num_indices"] == 20000 and stats["tables"] == 2
    assert stats["reuse_distance"]["first_accesses"] == stats["num_unique"]
    assert sum(stats["reuse_distance"]["counts"].values()) == 20000 - stats["num_unique"]
    assert json.dumps(trace_stats(Trace.from_arrays([0], [0])), allow_nan=False)
