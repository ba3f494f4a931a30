"""recsim plan: the greedy split on hull segments, and the plan's replay check."""

import itertools
import json

import numpy as np
import pytest

from recsim.cli import main
from recsim.errors import ConfigError
from recsim.experiments.plan import greedy_split, plan, row_bytes
from recsim.traces import Trace, native


def test_greedy_split_is_optimal_on_concave_curves():
    rng = np.random.default_rng(0)
    for _ in range(20):
        hits = [np.concatenate(([0], np.cumsum(np.sort(rng.integers(0, 50, k))[::-1])))
                for k in (6, 4, 7)]  # concave: gains fall with every row
        size = np.array([2, 3, 1])
        budget = int(rng.integers(1, 30))
        rows = greedy_split(hits, size, budget)
        assert (rows * size).sum() <= budget
        best = max(sum(h[r] for h, r in zip(hits, combo))
                   for combo in itertools.product(*(range(h.shape[0]) for h in hits))
                   if (np.array(combo) * size).sum() <= budget)
        # the hull relaxation's optimum is within one row's gain of the integer one
        got = sum(h[r] for h, r in zip(hits, rows))
        assert best - max(int(np.diff(h).max()) for h in hits) <= got <= best


def test_greedy_split_takes_whole_steps_over_a_non_concave_curve():
    # Table 0 gains only once 4 rows fit (a loop of 4 rows): its hull is one 4-row step
    # (25 hits a row), after table 1's first row (30).
    hits = [np.array([0, 0, 0, 0, 100]), np.array([0, 30, 40, 45, 47])]
    assert greedy_split(hits, np.array([1, 1]), 5).tolist() == [4, 1]
    # With 4 rows the step does not fit after table 1's first: it closes table 0, and
    # table 1 takes the rest (3 of the 4 rows of table 0 would gain nothing).
    assert greedy_split(hits, np.array([1, 1]), 4).tolist() == [0, 4]


def test_plan_replay_equals_prediction_and_beats_uniform(tmp_path, capsys):
    rng = np.random.default_rng(1)
    n, heights = 30_000, np.array([200, 2000, 5000, 300])
    table = rng.choice(4, n, p=[0.4, 0.3, 0.2, 0.1]).astype(np.int32)
    alpha = np.array([1.6, 1.1, 1.05, 1.3])[table]
    row = (rng.zipf(alpha) - 1) % heights[table]
    trace = Trace.from_arrays(table, row.astype(np.int64), np.arange(0, n + 1, 500), heights)
    r = plan(trace, 600 * 128, 128)
    assert r["plan"]["bytes"] <= 600 * 128
    assert r["replay"]["fully_associative_misses"] == r["plan"]["misses"]
    assert r["plan"]["misses"] <= r["uniform"]["misses"]
    assert r["replay"]["set_associative_misses"] >= r["plan"]["misses"] * 0.9
    path = tmp_path / "t.trace"
    native.write(trace, path)
    out = tmp_path / "plan.json"
    main(["plan", str(path), "--budget", "75KiB", "--dim", "32", "--dtype", "fp32",
          "--calibration", "calibrations/cpu.json", "-o", str(out)])
    text = capsys.readouterr().out
    assert "| plan |" in text and "fully associative" in text
    saved = json.loads(out.read_text())
    assert saved["budget_bytes"] == 75 * 1024 and "est_latency_ms" in saved["shared"]
    with pytest.raises(SystemExit):
        main(["plan", str(path), "--budget", "lots", "--dim", "32"])
    with pytest.raises(ConfigError, match="dtype"):
        row_bytes(32, "bf8")
    assert row_bytes(3, "int4") == 2


def _many_small_tables(tmp_path):
    rng = np.random.default_rng(2)
    n, heights = 20_000, np.full(200, 40)  # 200 tables of 40 rows: small buffers each
    table = rng.integers(0, 200, n).astype(np.int32)
    trace = Trace.from_arrays(table, rng.integers(0, 40, n), np.arange(0, n + 1, 500),
                              heights)
    path = tmp_path / "small.trace"
    native.write(trace, path)
    return path


def test_plan_on_many_small_tables_warns_in_a_few_lines(tmp_path, capsys):
    path = _many_small_tables(tmp_path)
    assert main(["plan", str(path), "--budget", "40KB", "--dim", "4"]) == 0
    err = capsys.readouterr().err.splitlines()
    # one per-table buffer of 200 is below its 32 ways: shown once, then counted
    assert 1 <= len(err) <= 3, err
    assert err[0].startswith("recsim: warning: capacity ") and "below ways 32" in err[0]
    assert err[-1].startswith("recsim: warning: ") and "warnings like 'capacity" in err[-1]


def test_a_budget_beyond_every_table_says_so(tmp_path, capsys):
    path = _many_small_tables(tmp_path)
    assert main(["plan", str(path), "--budget", "2GB", "--dim", "4", "--no-verify"]) == 0
    out = capsys.readouterr().out
    assert "the budget holds every table (64,000 bytes)" in out
    assert "uniform load factor 1.0000" in out


def test_plan_with_any_policy_from_sampled_curves(tmp_path, capsys):
    """``plan --policy NAME --sample R``: curves from miniature simulations; with rate 1
    (full replays at the grid sizes) the prediction is exact at the grid, and sampled
    its error is reported and small on this trace."""
    rng = np.random.default_rng(2)
    n, heights = 60_000, np.array([3000, 6000])
    table = rng.choice(2, n, p=[0.6, 0.4]).astype(np.int32)
    row = (rng.zipf(np.array([1.2, 1.1])[table]) - 1) % heights[table]
    trace = Trace.from_arrays(table, row.astype(np.int64), np.arange(0, n + 1, 500), heights)
    exact = plan(trace, 900 * 128, 128, policy="s3fifo")
    assert exact["policy"] == "s3fifo" and exact["plan"]["bytes"] <= 900 * 128
    assert abs(exact["replay"]["prediction_error"]) < 0.01  # interpolation between sizes
    sampled = plan(trace, 900 * 128, 128, policy="s3fifo", sample=0.2)
    err = sampled["replay"]["prediction_error"]
    assert err == (sampled["replay"]["fully_associative_misses"]
                   - sampled["plan"]["misses"]) / n and abs(err) < 0.05
    path = tmp_path / "t.trace"
    native.write(trace, path)
    main(["plan", str(path), "--budget", "100KiB", "--dim", "32", "--policy", "sieve",
          "--sample", "0.2"])
    text = capsys.readouterr().out
    assert "policy sieve (curves sampled at 0.2)" in text and "prediction error" in text
    with pytest.raises(ConfigError, match=r"sample: expected a sampling rate in \(0, 1\]"):
        plan(trace, 1000, 128, sample=0.0)
