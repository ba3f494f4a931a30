"""One-pass LRU miss-ratio curves (recsim/engine/mrc.py): exact against per-size replays, SHARDS
within its documented bound, errors and the CLI."""

import json

import numpy as np
import pytest

from recsim import simulate
from recsim.cli import main
from recsim.engine.mrc import (
    MAX_ERROR_BOUND,
    MEAN_ERROR_BOUND,
    MIN_SAMPLED_VECTORS,
    lru_mrc,
)
from recsim.errors import ConfigError
from recsim.traces import Trace, native, zipf


@pytest.fixture(scope="module")
def zipf_2m():
    return zipf.generate(2_000_000, tables=4, rows=100_000, alpha=0.9, seed=1)


def test_exact_curve_equals_a_replay_at_each_of_100_sizes():
    rng = np.random.default_rng(3)
    n = 30_000
    trace = Trace.from_arrays(rng.integers(0, 3, n), (rng.zipf(1.3, n) - 1) % 4000)
    curve = lru_mrc(trace)
    assert len(curve["capacity"]) == 100 and curve["unique"] == trace.n_unique
    for capacity, ratio in zip(curve["capacity"], curve["miss_ratio"]):
        assert ratio == simulate(trace, "lru", capacity, 0).misses / n


@pytest.mark.parametrize("seed", range(5))
def test_shards_at_one_percent_is_within_the_documented_bound(zipf_2m, seed):
    exact = lru_mrc(zipf_2m)
    sampled = lru_mrc(zipf_2m, 0.01, seed)
    assert sampled["kept_vectors"] >= MIN_SAMPLED_VECTORS
    assert abs(sampled["unique"] - exact["unique"]) < 0.05 * exact["unique"]
    truth = np.interp(sampled["capacity"], exact["capacity"], exact["miss_ratio"])
    err = np.abs(np.array(sampled["miss_ratio"]) - truth)
    assert err.mean() <= MEAN_ERROR_BOUND and err.max() <= MAX_ERROR_BOUND
    assert lru_mrc(zipf_2m, 0.01, seed) == sampled  # deterministic per seed


def test_too_small_a_sample_and_bad_rates_are_clear_errors(zipf_2m):
    with pytest.raises(ConfigError, match="keeps .* fewer than the 2,000"):
        lru_mrc(zipf_2m, 0.001)
    assert lru_mrc(zipf_2m, 0.001, force=True)["kept_vectors"] < MIN_SAMPLED_VECTORS
    for rate in (0, 1.5, "x", True):
        with pytest.raises(ConfigError, match="sample rate: expected a number in"):
            lru_mrc(zipf_2m, rate)


def test_mrc_cli_table_json_and_plot(tmp_path, capsys):
    trace = zipf.generate(200_000, tables=2, rows=50_000, alpha=0.9, seed=2)
    path = tmp_path / "z.trace"
    native.write(trace, path)
    assert main(["mrc", str(path), "--plot", str(tmp_path / "mrc.png")]) == 0
    out = capsys.readouterr().out
    assert "| 10% |" in out and "exact" in out
    assert (tmp_path / "mrc.png").stat().st_size > 5000
    assert (tmp_path / "mrc.svg").read_text().startswith("<?xml")
    assert main(["mrc", str(path), "--json", "--sample", "0.5"]) == 0
    curve = json.loads(capsys.readouterr().out)
    assert curve["rate"] == 0.5 and len(curve["miss_ratio"]) == 100
    # any other policy: sampled replays per size (tests/test_sample.py)
    assert main(["mrc", str(path), "--policy", "srrip", "--sizes", "10%,20%", "--sample",
                 "0.5", "--salts", "2"]) == 0
    out = capsys.readouterr().out
    assert "srrip, fully associative (spatial sampling at 0.5, 2 salt(s)" in out
    assert out.count("\n| ") == 3
    assert main(["mrc", str(path), "--sizes", "10%"]) == 2
    assert "need --policy NAME" in capsys.readouterr().err
    assert main(["mrc", str(path), "--policy", "srrip", "--torchrec", "x.json"]) == 2
    assert "for policy 'lru' only" in capsys.readouterr().err


def _tables_trace(seed=3, n=20_000, heights=(500, 1000, 2000)):
    rng = np.random.default_rng(seed)
    table = rng.integers(0, len(heights), n).astype(np.int32)
    row = (rng.zipf(1.15, n) - 1) % np.asarray(heights)[table]
    return Trace.from_arrays(table, row.astype(np.int64), np.arange(0, n + 1, 100), heights)


def test_table_curves_equal_per_table_replays():
    from recsim.engine.mrc import table_curves

    trace = _tables_trace()
    curves = table_curves(trace)
    for t in range(trace.n_tables):
        sub = np.asarray(trace.table) == t
        alone = Trace.from_arrays(np.zeros(sub.sum(), np.int32), np.asarray(trace.row)[sub],
                                  None, [int(trace.cardinalities[t])])
        for rows in (1, 37, 300):
            assert curves.misses(t, rows) == simulate(alone, "lru", rows, 0).misses


def test_torchrec_round_trip_expected_miss_rate_equals_replays(tmp_path):
    pytest.importorskip("torchrec.distributed.planner.shard_estimators",
                        reason="torchrec not installed (the torchrec extra)")
    from recsim.harness.torchrec_stats import load_torchrec_stats

    trace = _tables_trace()
    out = tmp_path / "stats.json"
    assert main(["mrc", str(trace_path(trace, tmp_path)), "--torchrec", str(out),
                 "--bins", "50"]) in (None, 0)
    stats = load_torchrec_stats(out)
    for t, st in enumerate(stats):
        height = int(trace.cardinalities[t])
        sub = np.asarray(trace.table) == t
        alone = Trace.from_arrays(np.zeros(sub.sum(), np.int32), np.asarray(trace.row)[sub],
                                  None, [height])
        assert st.height == height and 0 < st.cacheability < 1
        for clf in (0.01, 0.05, 0.2, 0.5, 0.9):
            got = st.expected_miss_rate(clf)
            # The replayed miss ratio at the upper edge of the bin holding clf * height - 1
            edge = (int((clf * height - 1) * 50 // height) + 1) * height // 50
            assert got == pytest.approx(simulate(alone, "lru", edge, 0).miss_ratio, abs=1e-6)
            # hence between the replays at clf * height and one bin (height / 50) above
            lo = simulate(alone, "lru", int(clf * height), 0).miss_ratio
            hi = simulate(alone, "lru", int(clf * height) + height // 50, 0).miss_ratio
            assert hi - 1e-6 <= got <= lo + 1e-6


def trace_path(trace, tmp_path):
    path = tmp_path / "t.trace"
    native.write(trace, path)
    return path
