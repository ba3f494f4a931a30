"""One-pass LRU miss-ratio curves (recsim/mrc.py): exact against per-size replays, SHARDS
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
    assert main(["mrc", str(path), "--policy", "srrip"]) == 2
    assert "for policy 'lru' only" in capsys.readouterr().err
