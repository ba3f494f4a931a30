"""``recsim run``: a small sweep end to end, and schema errors that name the YAML path."""

import csv
import json
from pathlib import Path

import pytest

from recsim.errors import ConfigError
from recsim.experiment import load_experiment, run_experiment

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
    for cap in (0.05, 0.2):
        for ways in (0, 8):
            cell = {r["policy"]: r for r in rows
                    if r["requested_capacity"] == cap and r["requested_ways"] == ways}
            assert cell["belady"]["misses"] <= cell["lru"]["misses"]


@pytest.mark.parametrize("yaml_text, where", [
    (SMALL.replace("capacities:", "capacity:"), "capacity: unknown key"),
    (SMALL.replace("ways: [0, 8]", "ways: [zero]"), "ways[0]"),
    (SMALL.replace("rows: 800", "rows: -1"),
     "traces[0].generate: zipf: parameter 'rows': expected a positive integer, got -1"),
    (SMALL.replace("rows: 800", "rowz: 800"), "traces[0].generate: zipf: got an unexpected"),
    (SMALL.replace("preset: zipf", "preset: zipv"), "traces[0].generate.preset"),
    (SMALL.replace("bypass: true", "bypas: true"), "policies[1]: policy 'belady': unknown "
                                                   "parameter 'bypas'"),
    (SMALL.replace("[lru,", "[lruu,"), "policies[0]: unknown policy 'lruu'"),
    (SMALL.replace("generate: {", "path: x, generate: {"), "traces[0]"),
    ("name: [unclosed", "not valid YAML"),
])
def test_schema_errors_name_the_yaml_path(tmp_path, yaml_text, where):
    spec = tmp_path / "bad.yaml"
    spec.write_text(yaml_text)
    with pytest.raises(ConfigError) as info:
        load_experiment(spec)
    assert str(spec) in str(info.value) and where in str(info.value)


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
def test_shipped_experiments_load(path):
    from recsim.experiment import read_yaml, validate
    from recsim.recmg.evaluation import RecmgEvaluation

    raw = read_yaml(path)
    if raw.get("kind") == "recmg-evaluation":
        assert validate(RecmgEvaluation, raw, path).name == path.stem
    else:
        assert load_experiment(path).name == path.stem
