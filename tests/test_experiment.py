"""``recsim run``: a small sweep end to end, and schema errors that name the YAML path."""

import csv
import json
from pathlib import Path

import pytest

from recsim.errors import ConfigError
from recsim.experiments.schema import load_experiment
from recsim.experiments.sweep import run_experiment

SMALL = """
name: small
traces:
  - {name: z, generate: {preset: zipf, accesses: 5000, rows: 800, alpha: 0.9, seed: 1}}
capacities: [0.05, 0.2]
ways: [0, 8]
policies: [lru, {name: belady, params: {bypass: true}}]
plots: [hit_rate_vs_capacity]
"""


def test_small_sweep_writes_table_and_figures(tmp_path):
    spec = tmp_path / "small.yaml"
    spec.write_text(SMALL)
    rows = run_experiment(spec, tmp_path / "out", progress=False)
    assert len(rows) == 2 * 2 * 2
    with open(tmp_path / "out" / "results.csv") as fh:
        table = list(csv.DictReader(fh))
    assert len(table) == 8 and {r["policy"] for r in table} == {"lru", "belady"}
    assert json.loads((tmp_path / "out" / "results.json").read_text()) == rows
    assert (tmp_path / "out" / "hit_rate_z_fa_none.png").stat().st_size > 1000
    assert (tmp_path / "out" / "hit_rate_z_8way_none.png").exists()
    report = (tmp_path / "out" / "report.md").read_text()
    assert "8 cells, all computed in this run" in report
    assert "## Hit rate by strategy and buffer size" in report
    assert report.count("*Figure ") == 2 and "*Figure 1. Hit rate against buffer size" in report
    lru = next(r for r in rows if r["policy"] == "lru" and r["requested_ways"] == 8
               and r["requested_capacity"] == 0.05)
    assert f"| lru | {lru['hit_rate']:.4f} |" in report
    for cap in (0.05, 0.2):
        for ways in (0, 8):
            cell = {r["policy"]: r for r in rows
                    if r["requested_capacity"] == cap and r["requested_ways"] == ways}
            assert cell["belady"]["misses"] <= cell["lru"]["misses"]


@pytest.mark.parametrize("yaml_text, where", [
    (SMALL.replace("capacities:", "capacity:"), "capacity: unknown key"),
    (SMALL.replace("ways: [0, 8]", "ways: [zero]"), "ways[0]"),
    (SMALL.replace("rows: 800", "rows: -1"),
     "traces[0].generate: generator 'zipf': parameter 'rows': expected a positive integer, "
     "got -1"),
    (SMALL.replace("rows: 800", "rowz: 800"),
     "traces[0].generate: generator 'zipf': unknown parameter 'rowz'"),
    (SMALL.replace("bypass: true", "bypass: maybe"), "policies[1].params.bypass: policy "
     "'belady': expected a boolean: true or false (on the command line also yes/no, 1/0), "
     "got 'maybe'"),
    (SMALL.replace("lru, {", "{name: srrip, params: {rrpv_bits: 1.5}}, {"),
     "policies[0].params.rrpv_bits: policy 'srrip': expected an integer in [1, 7], got 1.5"),
    (SMALL.replace("preset: zipf", "preset: zipv"), "traces[0].generate.preset"),
    (SMALL.replace("bypass: true", "bypas: true"),
     "policies[1].params.bypas: unknown parameter of policy 'belady'; valid: bypass"),
    (SMALL + "prefetchers: [none, {name: next_n, params: {m: 1}}]\n",
     "prefetchers[1].params.m: unknown parameter of prefetcher 'next_n'; valid: n"),
    (SMALL.replace("[lru,", "[lruu,"), "policies[0]: unknown policy 'lruu'"),
    (SMALL.replace("generate: {", "path: x, generate: {"), "traces[0]"),
    ("name: [unclosed", "not valid YAML"),
    (SMALL + "zip: [[capacities, seeds]]\nseeds: [1, 2, 3]\n", "zip[0]: zipped axes "
     "need equal lengths"),
    (SMALL + "zip: [[capacities, sizes]]\n", "zip[0][1]: Input should be 'traces'"),
    (SMALL + "zip: [[capacities, ways], [ways, policies]]\n", "zip[1]: expected two or more"),
    (SMALL + "metrics: [hit_rate, hitrate]\n", "metrics[1]: Input should be"),
    (SMALL.replace("plots: [hit_rate_vs_capacity]", "plots: [hit_rate_vs_size]"), "plots[0]"),
    (SMALL.replace("plots: [hit_rate_vs_capacity]", "plots: [latency]"),
     "plots: 'latency' needs a latency calibration"),
    (SMALL + "latency: {calibration: none.json}\n",
     "latency.calibration: needs a latency calibration"),
    (SMALL + "tables: [latency]\n", "tables: 'latency' needs a latency calibration"),
    (SMALL + "metrics: [est_latency_ms]\n",
     "metrics: 'est_latency_ms' needs a latency calibration"),
    (SMALL + "latency: {calibration: bad.json}\n", "bad.json: field 'b': expected a number"),
    (SMALL + "paper: [{source: Fig. 8, metric: hit_rate, value: 0.5, where: {polcy: lru}}]\n",
     "paper[0].where.polcy"),
    (SMALL + "paper: [{source: Fig. 8, metric: hit, value: 0.5}]\n", "paper[0].metric"),
    (SMALL + "paper: [{source: F, metric: hit_rate, value: 0, relative_to: {policy: lru}}]\n",
     "paper[0]: value: expected a ratio > 0"),
    (SMALL + "seed: 3\n", "seed: unknown key"),
    (SMALL.replace("[0.05, 0.2]", "[0.05, 150%]"),
     "capacities[1]: a fraction of unique vectors must be in (0, 1], got '150%'"),
    (SMALL.replace("ways: [0, 8]", "ways: [0, -8]"), "ways[1]: expected an integer >= 0"),
    (SMALL + "max_outstanding: 0\n", "max_outstanding: expected an integer >= 1"),
    # strict types: no numbers from text or booleans, no booleans from numbers
    (SMALL.replace("[0.05, 0.2]", "[0.01, 5pct]"),
     "capacities[1]: expected a vector count, a fraction or a percent, got '5pct'"),
    (SMALL.replace("ways: [0, 8]", "ways: [0, true]"), "ways[1]: Input should be a valid int"),
    (SMALL + "prefetch_latency: '5'\n", "prefetch_latency: Input should be a valid int"),
    (SMALL + "seeds: [1.0]\n", "seeds[0]: Input should be a valid int"),
    (SMALL.replace("accesses: 5000", "accesses: '5000'"),
     "traces[0].generate.accesses: Input should be a valid int"),
    (SMALL.replace("bypass: true", "bypass: 1"), "policies[1].params.bypass: policy "
     "'belady': expected a boolean"),
])
def test_schema_errors_name_the_yaml_path(tmp_path, yaml_text, where):
    spec = tmp_path / "bad.yaml"
    spec.write_text(yaml_text)
    (tmp_path / "bad.json").write_text('{"a": 0.001}')
    with pytest.raises(ConfigError) as info:
        load_experiment(spec)
    assert str(spec) in str(info.value) and where in str(info.value)


def test_bad_value_is_refused_before_the_trace_is_generated(tmp_path, capsys):
    from recsim.cli import main

    spec = tmp_path / "fig.yaml"
    spec.write_text(SMALL.replace("[0.05, 0.2]", "[0.01, 5pct]"))
    assert main(["run", str(spec), "--output", str(tmp_path / "out")]) == 2
    assert f"{spec}: capacities[1]: " in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_prefetch_sweep_adds_coverage_and_the_prefetch_table(tmp_path):
    spec = tmp_path / "pf.yaml"
    spec.write_text(SMALL.replace("plots: [hit_rate_vs_capacity]", "")
                    + "prefetchers: [none, {name: next_n, params: {n: 2}}]\n"
                    + "prefetch_latency: 3\nfetch_latency: 2\ntables: [prefetch]\n")
    rows = run_experiment(spec, tmp_path / "out", progress=False)
    assert len(rows) == 2 * 2 * 2 * 2
    for r in rows:
        assert r["params"]["fetch_latency"] == 2
        base = next(b for b in rows if b["prefetcher"] == "none" and all(
            b[k] == r[k] for k in ("requested_capacity", "requested_ways", "policy")))
        if r["prefetcher"] == "none":
            assert r["coverage"] == 0
        else:
            assert r["coverage"] == (base["misses"] - r["misses"]) / base["misses"]
    table = (tmp_path / "out" / "prefetch_table.md").read_text().splitlines()
    assert len(table) == 2 + 8 and "| lru + next_n |" in table[2]
    assert "coverage" in table[0] and "pollution misses" in table[0]
    for line in table[2:]:  # the access breakdown covers every access
        assert abs(sum(float(x) for x in line.strip("| ").split(" | ")[-4:]) - 100) < 0.05


@pytest.mark.parametrize("path", sorted((Path(__file__).parents[1] / "experiments").glob(
    "*.yaml")), ids=lambda p: p.name)
def test_shipped_experiments_load_at_every_scale(path):
    from recsim.experiments.schema import apply_scale, read_yaml, validate
    from recsim.recmg.evaluation import RecmgEvaluation

    raw = read_yaml(path)
    if raw.get("kind") == "collection":  # its members, each at each of its scales
        from recsim.experiments.collection import load_collection
        for scale in ("quick", "full"):
            _, out, members = load_collection(path, raw, scale)
            assert out.name == f"paper{'_full' * (scale == 'full')}" and len(members) == 5
            assert all(m.scale == scale and m.store_dir() == out for m in members)
        return
    for scale in raw.get("scales", {None: {}}):
        if raw.get("kind") == "recmg-evaluation":
            cfg = validate(RecmgEvaluation, apply_scale(raw, path, scale)[0], path)
            assert cfg.name == path.stem
        elif "latency" in raw and not (path.parent / raw["latency"]["calibration"]).exists():
            with pytest.raises(ConfigError, match="needs a latency calibration"):
                load_experiment(path, scale)  # until the TorchRec harness has made one
        else:
            assert load_experiment(path, scale).name == path.stem


def test_one_style_per_strategy():
    from recsim.experiments.plots import style

    assert style("belady")["color"] == "black" and style("belady")["linestyle"] == "--"
    assert style("lru")["color"] == "#7F7F7F"
    widths = {name: style(name)["linewidth"] for name in ("recmg", "CM", "lru + transfetch",
                                                           "lru", "srrip", "lru + bingo")}
    assert min(widths[n] for n in ("recmg", "CM", "lru + transfetch")) > max(
        widths[n] for n in ("lru", "srrip", "lru + bingo"))
    assert style("fifo") != style("random") and style("srrip")["marker"] != style("sieve")[
        "marker"]
    assert style("lru + bingo")["color"] == style("bingo")["color"]


def test_eval_after_reads_every_cell_after_the_warm_up(tmp_path):
    """``eval_after`` reaches every cell (fully associative LRU included, which then leaves
    the one-pass path) and the table records it; past the trace it is refused."""
    spec = tmp_path / "warm.yaml"
    spec.write_text(SMALL.replace("plots: [hit_rate_vs_capacity]", "eval_after: 3000"))
    rows = run_experiment(spec, tmp_path / "out", progress=False)
    whole = {(r["requested_capacity"], r["requested_ways"], r["policy"]): r
             for r in run_experiment(load_experiment(tmp_path / "warm.yaml").model_copy(
                 update={"eval_after": 0}), tmp_path / "whole", progress=False)}
    for r in rows:
        assert r["accesses"] == 2000 and r["eval_after"] == r["params"]["eval_after"] == 3000
        assert r["hits"] <= whole[r["requested_capacity"], r["requested_ways"],
                                  r["policy"]]["hits"]
    assert "| counted from access |" in (tmp_path / "out" / "report.md").read_text()
    spec.write_text(SMALL.replace("plots: [hit_rate_vs_capacity]", "eval_after: 5000"))
    with pytest.raises(ConfigError, match=r"eval_after: expected fewer than the 5,000 "
                                          r"accesses of traces\[0\] \(z\)"):
        run_experiment(spec, tmp_path / "out2", progress=False)
