"""Sweeps: scales, zip groups, the resumable results store (kill -9 and re-run), the local
process pool and Ray executors, figures and the report."""

import json
import os
import signal
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest

from recsim.cli import main
from recsim.errors import ConfigError
from recsim.experiments import store
from recsim.experiments.schema import load_experiment
from recsim.experiments.store import TIMING_FIELDS
from recsim.experiments.sweep import expand, run_experiment

SWEEP = """
name: sweep
traces:
  - {name: z, generate: {preset: zipf, accesses: 400000, tables: 2, rows: 20000, alpha: 0.8,
     seed: 2}}
capacities: [0.02, 0.05, 0.1, 0.2]
ways: [16]
policies: [lru, lfu, fifo, srrip, sieve, clock]
"""


def _stable(rows: list[dict]) -> list[dict]:
    """Rows without the fields that differ between two runs of the same cell."""
    return [{k: v for k, v in r.items() if k not in TIMING_FIELDS} for r in rows]


def _write(tmp_path, text: str, name: str = "sweep.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_scales_override_the_file_and_name_the_output(tmp_path):
    spec = _write(tmp_path, SWEEP + "scales:\n  quick: {capacities: [0.1]}\n"
                  "  full: {ways: [0, 32], traces: [{name: y, generate: {preset: zipf, "
                  "accesses: 100, rows: 10}}]}\n")
    assert load_experiment(spec).capacities == [0.1]  # quick is the default
    full = load_experiment(spec, "full")
    assert full.ways == [0, 32] and full.traces[0].name == "y" and len(full.capacities) == 4
    with pytest.raises(ConfigError, match="scales: no scale 'huge'; valid: quick, full"):
        load_experiment(spec, "huge")


def test_zip_groups_advance_together(tmp_path):
    exp = load_experiment(_write(tmp_path, SWEEP + "prefetchers: [none, next_n, stride, bop, "
                                 "none, none]\nseeds: [0, 1]\nzip: [[policies, prefetchers]]\n"))
    cells = expand(exp)
    assert len(cells) == 4 * 6 * 2
    pairs = {(c.policy.name, c.prefetcher.name) for c in cells}
    assert pairs == {("lru", "none"), ("lfu", "next_n"), ("fifo", "stride"), ("srrip", "bop"),
                     ("sieve", "none"), ("clock", "none")}
    assert [c.seed for c in cells[:2]] == [0, 1]  # seeds vary fastest


def test_cell_keys_follow_config_and_code_version(monkeypatch):
    config = {"policy": {"name": "lru", "params": {}}, "capacity": 0.1}
    key = store.cell_key(config)
    assert store.cell_key(dict(config, capacity=0.2)) != key
    monkeypatch.setattr(store, "code_version", lambda: "0.1.0+other")
    assert store.cell_key(config) != key


def test_rerun_skips_finished_cells_and_force_recomputes(tmp_path):
    spec = _write(tmp_path, SWEEP)
    out = tmp_path / "out"
    first = run_experiment(spec, out, progress=False, workers=1)
    info = lambda: json.loads((out / "experiment.json").read_text())  # noqa: E731
    assert info()["computed"] == 24
    again = run_experiment(spec, out, progress=False, workers=1)
    assert info()["computed"] == 0 and again == first  # rows read back from the store
    spec.write_text(SWEEP.replace("[0.02,", "[0.03,"))
    run_experiment(spec, out, progress=False, workers=1)
    assert info()["computed"] == 6  # only the new buffer size
    run_experiment(spec, out, progress=False, workers=1, force=True)
    assert info()["computed"] == 24
    parquet = pq.read_table(out / "results.parquet").to_pylist()
    assert [r["hit_rate"] for r in parquet] == [
        r["hit_rate"] for r in json.loads((out / "results.json").read_text())]


def test_killed_sweep_resumes_to_the_uninterrupted_table(tmp_path):
    spec = _write(tmp_path, SWEEP)
    complete = run_experiment(spec, tmp_path / "complete", progress=False, workers=1)
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "recsim.cli", "run", str(spec), "--output",
                             str(out), "--workers", "1", "--force"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 120
    while not list((out / "cells").glob("*.json")) and time.monotonic() < deadline:
        time.sleep(0.002)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = len(list((out / "cells").glob("*.json")))
    assert 0 < done < 24, "the sweep was not killed halfway"
    assert not (out / "results.json").exists()  # no table until the sweep finished
    resumed = run_experiment(spec, out, progress=False, workers=1)
    assert json.loads((out / "experiment.json").read_text())["computed"] == 24 - done
    assert _stable(resumed) == _stable(complete)
    assert _stable(json.loads((out / "results.json").read_text())) == _stable(complete)


def test_local_process_pool_gives_the_in_process_table(tmp_path):
    spec = _write(tmp_path, SWEEP)
    one = run_experiment(spec, tmp_path / "one", progress=False, workers=1)
    two = run_experiment(spec, tmp_path / "two", progress=False, workers=2)
    assert _stable(two) == _stable(one)


@pytest.mark.slow
def test_ray_executor_gives_the_local_table(tmp_path):
    pytest.importorskip("ray", reason="Ray is the optional extra recsim[ray]")
    spec = _write(tmp_path, SWEEP.replace("[0.02, 0.05, 0.1, 0.2]", "[0.05, 0.2]"))
    local = run_experiment(spec, tmp_path / "local", progress=False, workers=2)
    ray_rows = run_experiment(spec, tmp_path / "ray", progress=False, workers=2,
                              executor="ray")
    assert _stable(ray_rows) == _stable(local)


def test_executor_errors_are_one_line(tmp_path):
    spec = _write(tmp_path, SWEEP)
    with pytest.raises(ConfigError, match="executor: expected one of local, ray"):
        run_experiment(spec, tmp_path / "o", progress=False, executor="slurm")
    with pytest.raises(ConfigError, match="address: only the ray executor"):
        run_experiment(spec, tmp_path / "o", progress=False, address="ray://x:10001")
    with pytest.raises(ConfigError, match="workers: expected an integer >= 1"):
        run_experiment(spec, tmp_path / "o", progress=False, workers=0)


FIGURES = """
name: figures
description: Every figure of a sweep.
traces:
  - {name: z, generate: {preset: zipf, accesses: 30000, rows: 3000, alpha: 0.9, seed: 1}}
capacities: [0.05, 0.2]
ways: [8]
policies: [lru, belady]
prefetchers: [none, next_n]
prefetch_latency: 2
metrics: [hit_rate, misses, coverage, est_latency_ms]
plots: [hit_rate_vs_capacity, hit_rate_bars, breakdown, reuse_distance, prefetch_quality,
        latency]
tables: [prefetch, latency]
latency: {calibration: cal.json}
paper:
  - {source: Fig. X, metric: hit_rate, value: 0.5, where: {policy: lru, prefetcher: none,
     requested_capacity: 0.2}}
  - {source: Fig. Y, metric: misses, value: 10, where: {policy: none}}
  - {source: Fig. Z, metric: hit_rate, value: 1.3, where: {policy: belady, prefetcher: none},
     relative_to: {policy: lru, prefetcher: none}}
  - {source: Fig. W, metric: misses, value: 1.1, where: {policy: belady, prefetcher: none},
     relative_to: {policy: lru, prefetcher: none}}
"""


def test_figures_and_report(tmp_path, capsys):
    (tmp_path / "cal.json").write_text(json.dumps({"a": 0.002, "b": 0.01, "device": "cpu"}))
    spec = _write(tmp_path, FIGURES)
    out = tmp_path / "out"
    rows = run_experiment(spec, out, progress=False, workers=1)
    info = json.loads((out / "experiment.json").read_text())
    expected = ["hit_rate_z_8way_none.png", "hit_rate_z_8way_next_n.png",
                "hit_rate_bars_z_8way.png", "reuse_distance.png", "latency_z_8way.png"]
    assert set(expected) <= set(info["figures"])
    assert sum(f.startswith("breakdown_z_8way_") for f in info["figures"]) == 2
    assert sum(f.startswith("prefetch_quality_z_8way_") for f in info["figures"]) == 2
    for name in info["figures"]:
        assert (out / name).stat().st_size > 5000
        assert (out / name).with_suffix(".svg").read_text().startswith("<?xml")
    lru = next(r for r in rows if r["policy"] == "lru" and r["prefetcher"] == "none"
               and r["requested_capacity"] == 0.2)
    assert info["paper"][0]["recsim"] == lru["hit_rate"] and info["paper"][0]["rows"] == 1
    assert info["paper"][1]["recsim"] is None  # no row matches
    assert info["paper"][1]["verdict"] == "no value here"
    ratios = [next(r["hit_rate"] for r in rows if r["policy"] == "belady" and r["prefetcher"]
                   == "none" and r["requested_capacity"] == c) / next(
        r["hit_rate"] for r in rows if r["policy"] == "lru" and r["prefetcher"] == "none"
        and r["requested_capacity"] == c) for c in (0.05, 0.2)]  # paired cell by cell
    belady = info["paper"][2]
    assert belady["rows"] == 2 and belady["recsim"] == pytest.approx(
        (ratios[0] * ratios[1]) ** 0.5) and belady["recsim"] > 1
    assert belady["verdict"] == "holds" and belady["ratio"] == pytest.approx(
        belady["recsim"] / 1.3)
    assert info["paper"][3]["verdict"] == "does not hold"  # Belady misses less than LRU
    report = (out / "report.md").read_text()
    assert "## Paper vs recsim" in report and f"| {lru['hit_rate']:.4f} |" in report
    assert ("| Fig. Z | policy=belady, prefetcher=none / policy=lru, prefetcher=none | "
            "hit_rate ratio | 1.3000 |") in report and "| does not hold |" in report
    assert "## prefetch_table.md" in report and "Every figure of a sweep." in report
    for r in rows:  # the calibration's a + b * miss ratio, in ms
        assert r["est_latency_ms"] == pytest.approx(1e3 * (0.002 + 0.01 * r["miss_ratio"]))
    table = (out / "latency_table.md").read_text().splitlines()
    assert table[0] == "z, 8-way: estimated latency per batch (ms)"
    assert "## latency_table.md" in report
    assert table[2] == "| strategy | 4.8% | 19.8% |" and len(table) == 4 + 4
    lru_row = next(line for line in table if line.startswith("| lru |"))
    assert f"{lru['est_latency_ms']:.3f} |" in lru_row
    assert all(f"]({name})" in report for name in info["figures"])
    (out / "report.md").unlink()
    (out / "report.html").unlink()
    assert main(["report", str(out)]) == 0
    html = (out / "report.html").read_text()
    assert html.count("<img") == len(info["figures"]) and "<table>" in html
    assert main(["report", str(tmp_path)]) == 2
    assert "no readable experiment.json" in capsys.readouterr().err


ONE_PASS = """
name: one_pass
traces:
  - {name: z, generate: {preset: zipf, accesses: 40000, rows: 5000, alpha: 0.9, seed: 4}}
capacities: [0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 3, 100]
ways: [0, 8]
policies: [lru]
prefetch_latency: 3
seeds: [0]
"""


def test_lru_size_sweep_from_one_pass_equals_replays(tmp_path, monkeypatch):
    """Ten fully associative LRU cells of one trace come from one reuse-distance pass;
    their rows equal replays' (the 8-way cells are replayed either way)."""
    from recsim.experiments import sweep

    spec = _write(tmp_path, ONE_PASS)
    fast = run_experiment(spec, tmp_path / "fast", progress=False, workers=1)
    assert sum("one_pass_s" in r["timings"] for r in fast) == 10
    monkeypatch.setattr(sweep, "ONE_PASS_MIN", 10**9)
    replayed = run_experiment(spec, tmp_path / "slow", progress=False, workers=1)
    assert not any("one_pass_s" in r["timings"] for r in replayed)
    assert _stable(fast) == _stable(replayed)
