"""Sampled replays (recsim.engine.sample): set sampling is exact for every per-set policy
of the registry, spatial sampling scales the buffer, sampled curves, and bad input."""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recsim.engine import sample
from recsim.engine.replay import replay, simulate
from recsim.engine.settings import ReplaySettings, set_index
from recsim.engine.sample import sampled_mrc, sampled_sets, spatial_keep
from recsim.errors import ConfigError
from recsim.plugin import SetSample
from recsim.registry import get_policy, policies, resolve_params
from recsim.traces.trace import Trace

# every policy whose state is per set and that runs on the engine's loop, from the registry
PER_SET = sorted(name for name, p in policies().items() if not p.cross_set and p.replay is None)


def random_trace(seed: int, n: int, rows: int) -> Trace:
    rng = np.random.default_rng(seed)
    ranks = np.minimum(rng.zipf(1.3, n), rows) - 1  # skewed, as embedding lookups are
    return Trace.from_arrays(rng.integers(0, 2, n), rng.permutation(rows)[ranks],
                             np.append(np.arange(0, n, 16), n))


def test_per_set_plugins_discovered():
    assert {"lru", "fifo", "srrip", "s3fifo"} <= set(PER_SET)
    assert not {"drrip", "hawkeye", "random"} & set(PER_SET)


@pytest.mark.parametrize("policy", PER_SET)
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2 ** 32 - 1), sets=st.integers(2, 12),
       rate=st.floats(0.05, 0.9), salt=st.integers(0, 2 ** 31))
def test_set_sampling_is_exact(policy, seed, sets, rate, salt):
    """A set-sampled 32-way replay misses exactly what the full replay misses in the
    sampled sets (its counts, before SHARDS-adj, are of those sets' accesses)."""
    trace = random_trace(seed, 3000, 40 * 32 * sets)
    capacity = 32 * sets
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = simulate(trace, policy, capacity, 32, log_hits=True)
        sampled = simulate(trace, policy, capacity, 32, sample=rate, salt=salt)
    info = sampled.params["sample"]
    assert info["method"] == "sets" and info["exact"]
    chosen = np.zeros(sets, bool)
    chosen[sampled_sets(sets, rate, salt)] = True
    in_sample = chosen[set_index(trace.dense().keys, sets)][trace.dense().vid]
    assert sampled.misses == int((full.hit_log[in_sample] == 0).sum())
    assert sampled.counts["accesses"] - info["adjusted"] == int(in_sample.sum())


def test_per_set_sample_replays_its_sets_alone():
    """A per-set policy's set sample is a buffer of the k sampled sets (k x ways slots),
    and so is a policy's with training sets (its sets numbered as the full buffer's); a
    cross-set policy's keeps the full geometry."""
    trace = random_trace(4, 5_000, 8_000)
    k = sampled_sets(20, 0.2, 7).shape[0]
    drrip = get_policy("drrip")
    leaders = sample.training_sets(drrip, 20, 32, resolve_params("policy", drrip, {}))
    replayed = np.union1d(sampled_sets(20, 0.2, 7), leaders).shape[0]
    for policy, capacity in (("lru", k * 32), ("drrip", replayed * 32), ("random", 640)):
        info = simulate(trace, policy, 640, 32, sample=0.2, salt=7).params["sample"]
        assert (info["capacity"], info["ways"], info["effective"]) == (capacity, 32, k / 20)


def test_set_sample_checked():
    trace = random_trace(5, 1_000, 500)
    n = trace.dense().n_unique
    two = ReplaySettings(capacity=64, ways=32)
    with pytest.raises(ValueError, match="set_sample.of_vector"):
        replay(trace, two, set_sample=SetSample(np.full(n, 2), np.arange(2), 2))
    with pytest.raises(ValueError, match="set_sample.numbers"):
        replay(trace, two, set_sample=SetSample(np.zeros(n), np.array([3, 1]), 4))
    sets = np.arange(n) % 2
    hits = replay(trace, two, set_sample=SetSample(sets, np.array([1, 3]), 4),
                  log_hits=True).hit_log
    # two sets of 32 ways, each holding its vectors as a fully associative LRU would
    for s in (0, 1):
        mine = sets[trace.dense().vid] == s
        sub = Trace.from_arrays(trace.table[mine], trace.row[mine], np.array([0, mine.sum()]))
        assert np.array_equal(hits[mine], replay(sub, ReplaySettings(capacity=32, ways=0),
                                                 log_hits=True).hit_log)


def test_spatial_sampling_scales_the_buffer():
    trace = random_trace(1, 20_000, 5_000)
    result = simulate(trace, "lru", 1000, 0, sample=0.1, salt=3)
    info = result.params["sample"]
    assert (result.capacity, info["capacity"], info["method"], info["exact"]) == \
        (1000, 100, "spatial", False)
    keep = spatial_keep(trace.dense().keys, 0.1, 3)
    assert info["kept_accesses"] == int(keep[trace.dense().vid].sum())
    assert 0.05 < keep.mean() < 0.15
    assert not np.array_equal(keep, spatial_keep(trace.dense().keys, 0.1, 4))  # salted
    # SHARDS-adj: the accesses counted are the expected 10% of the trace
    assert result.counts["accesses"] == 2_000
    assert abs(result.miss_ratio - simulate(trace, "lru", 1000, 0).miss_ratio) < 0.1


def test_global_state_marked_approximate():
    trace = random_trace(2, 5_000, 4_000)
    assert not simulate(trace, "drrip", 320, 32, sample=0.5).params["sample"]["exact"]


def test_rate_one_is_the_full_replay():
    trace = random_trace(3, 5_000, 2_000)
    full = simulate(trace, "s3fifo", 0.1, 0)
    assert simulate(trace, "s3fifo", 0.1, 0, sample=1.0).counts == full.counts
    curve = sampled_mrc(replay, trace, "s3fifo", ["10%"], 1.0)
    assert curve["miss_ratio"] == [full.miss_ratio]


def test_mrc_spread_over_salts():
    trace = random_trace(4, 20_000, 6_000)
    cache = {}
    curve = sampled_mrc(replay, trace, "fifo", ["5%", "20%"], 0.2, ways=32, salts=3, cache=cache)
    assert len(cache) == 2 * 3  # a sample per set count and salt, kept for other policies
    assert sampled_mrc(replay, trace, "lru", ["5%", "20%"], 0.2, ways=32, salts=3,
                       cache=cache)["miss_ratio"] == \
        sampled_mrc(replay, trace, "lru", ["5%", "20%"], 0.2, ways=32, salts=3)["miss_ratio"]
    assert np.asarray(curve["per_salt"]).shape == (3, 2)
    assert all(lo <= m <= hi for lo, m, hi in zip(curve["low"], curve["miss_ratio"],
                                                   curve["high"]))
    assert curve["method"] == "sets" and curve["exact"]
    assert curve["miss_ratio"][0] > curve["miss_ratio"][1]


@pytest.mark.parametrize("kw, message", [
    (dict(sample=0), "sample: expected a sampling rate in (0, 1], got 0"),
    (dict(sample=1.5), "sample: expected a sampling rate in (0, 1], got 1.5"),
    (dict(sample=0.5, log_hits=True), "sample: a sampled replay takes no advice"),
])
def test_bad_sample(kw, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        simulate(random_trace(5, 100, 50), "lru", 10, 0, **kw)


def test_bad_salts_and_model():
    trace = random_trace(6, 100, 50)
    with pytest.raises(ConfigError, match="salts: expected a number of salts >= 1, got 0"):
        sampled_mrc(replay, trace, "lru", ["10%"], 0.5, salts=0)
    with pytest.raises(ConfigError, match="policy recmg with a model cannot be sampled"):
        simulate(trace, "recmg", 10, 0, policy_params={"model": "m.pt"}, sample=0.5)


def test_cli(tmp_path, capsys):
    from recsim.cli import main
    from recsim.traces import native

    path = tmp_path / "t"
    native.write(random_trace(7, 4_000, 1_000), path)
    assert main(["simulate", "--trace", str(path), "--policy", "fifo", "--capacity", "10%",
                 "--ways", "8", "--sample", "0.5", "--salt", "2"]) == 0
    assert "sampled (sets, rate 0.5" in capsys.readouterr().out
    assert main(["simulate", "--trace", str(path), "--capacity", "10%", "--sample", "2"]) == 2
    assert capsys.readouterr().err.strip().endswith("sample: expected a sampling rate in "
                                                    "(0, 1], got 2.0")
    assert main(["mrc", str(path), "--policy", "lru,sieve", "--sizes", "5%,10%", "--sample",
                 "0.5", "--ways", "8"]) == 0
    out = capsys.readouterr().out
    assert "lru, 8 ways (sets sampling at 0.5" in out and "sieve, 8 ways" in out
    assert main(["mrc", str(path), "--policy", "lru", "--sizes", "5%", "--sample", "0.5",
                 "--salts", "0"]) == 2
    assert "salts: expected a number of salts >= 1, got 0" in capsys.readouterr().err


def test_sweep_sample(tmp_path):
    """``sample: R`` in a sweep YAML: every cell sampled (fully associative LRU leaves the
    one-pass path), the rate in the rows and the report's table, cells marked."""
    from recsim.experiments.sweep import run_experiment

    spec = tmp_path / "s.yaml"
    spec.write_text("""
name: s
traces:
  - {name: z, generate: {preset: zipf, accesses: 20000, rows: 3000, alpha: 0.9, seed: 1}}
capacities: [0.2]
ways: [0, 8]
policies: [lru, drrip]
sample: 0.5
""")
    rows = run_experiment(spec, tmp_path / "out", progress=False)
    assert {(r["requested_ways"], r["policy"], r["sample"], r["sample_exact"]) for r in rows} \
        == {(0, "lru", 0.5, False), (8, "lru", 0.5, True), (0, "drrip", 0.5, False),
            (8, "drrip", 0.5, False)}
    assert all(r["params"]["sample"]["rate"] == 0.5 for r in rows)
    report = (tmp_path / "out" / "report.md").read_text()
    assert "| sampled (rate) |" in report and "0.5 (exact sets)" in report
    spec.write_text(spec.read_text().replace("sample: 0.5", "sample: 2"))
    with pytest.raises(ConfigError, match=r"sample: expected a sampling rate in \(0, 1\]"):
        run_experiment(spec, tmp_path / "out2", progress=False)


def test_adjustment_counts_what_the_replay_counts():
    """SHARDS-adj scales to the accesses a replay counts: with ``dedup`` (a batch's
    distinct rows once) the adjusted accesses estimate rate x the deduplicated count."""
    trace = random_trace(8, 20_000, 3_000)
    full = simulate(trace, "lru", 300, 0, dedup="batch")
    sampled = simulate(trace, "lru", 300, 0, dedup="batch", sample=0.25, salt=1)
    assert full.counts["accesses"] < 18_000  # batches repeat rows
    assert abs(sampled.counts["accesses"] / (0.25 * full.counts["accesses"]) - 1) < 0.02
    assert abs(sampled.miss_ratio - full.miss_ratio) < 0.05


# -- sweeps with full and sampled cells ---------------------------------------------------

MIXED = """
name: m
traces:
  - {name: z, generate: {preset: zipf, accesses: 20000, rows: 3000, alpha: 0.9, seed: 1}}
capacities: [0.2]
ways: 8
policies: [lru]
prefetchers: [none, next_n]
sample: [null, 0.5]
tables: [prefetch]
plots: [hit_rate_vs_capacity]
paper:
  - {source: t, metric: hit_rate, value: 1.0, where: {sample: 0.5}, relative_to: {sample: null}}
"""


def test_sweep_holds_full_and_sampled_cells(tmp_path):
    """``sample: [null, 0.5]`` is an axis: each cell in full and sampled, keyed apart (a
    resumed run recomputes only the cell it lacks, of its kind), rows with their rate,
    coverage against the cell without prefetcher sampled alike, ``where:`` on ``sample``."""
    import json

    from recsim.experiments.sweep import run_experiment

    spec = tmp_path / "m.yaml"
    spec.write_text(MIXED)
    out = tmp_path / "out"
    rows = run_experiment(spec, out, progress=False)
    assert [(r["prefetcher"], r["sample"]) for r in rows] == [
        ("none", None), ("none", 0.5), ("next_n", None), ("next_n", 0.5)]
    assert len({r["cell"] for r in rows}) == 4
    assert [r.get("sample_exact") for r in rows] == [None, True, None, False]
    assert ["prefetches_unsampled" in r for r in rows] == [False, True, False, True]
    for r in rows[2:]:  # coverage: against the none cell of the same kind
        base = rows[0 if r["sample"] is None else 1]
        assert r["coverage"] == (base["misses"] - r["misses"]) / base["misses"]
    info = json.loads((out / "experiment.json").read_text())
    assert info["paper"][0]["rows"] == 2  # sampled / full, per prefetcher
    report = (out / "report.md").read_text()
    assert "| sampled (rate) |" in report and "0.5 (exact sets)" in report
    table = (out / "prefetch_table.md").read_text().splitlines()
    assert table[0].endswith("| unsampled (dropped) |")
    assert table[3].startswith("| z | 20.0% | lru + next_n (sampled 0.5) |")
    assert table[3].endswith(f"| {rows[3]['prefetches_unsampled']:,} |")
    assert table[2].endswith("| - |")  # the full cell has none
    from recsim.experiments.plots import style  # a sampled series: dashed, its colour

    full, sampled = style("lru + next_n"), style("lru + next_n (sampled 0.5)")
    assert (sampled["color"], sampled["linestyle"]) == (full["color"], "--")
    assert (out / "hit_rate_z_8way_next_n.png").exists()
    cells = {r["sample"]: r["cell"] for r in rows if r["prefetcher"] == "none"}
    for kind in (None, 0.5):  # drop one cell of each kind in turn: only it is recomputed
        (out / "cells" / f"{cells[kind]}.json").unlink()
        again = run_experiment(spec, out, progress=False)
        assert json.loads((out / "experiment.json").read_text())["computed"] == 1
        assert [(r["cell"], r["misses"]) for r in again] == [(r["cell"], r["misses"])
                                                            for r in rows]


def test_sweep_sample_per_policy_and_bad_values(tmp_path):
    """``zip: [[policies, sample]]`` gives each policy its rate; a bad rate in the list
    is one line naming its index."""
    from recsim.experiments.schema import load_experiment
    from recsim.experiments.sweep import expand

    spec = tmp_path / "m.yaml"
    spec.write_text(MIXED.replace("policies: [lru]", "policies: [lru, s3fifo]")
                    + "zip: [[policies, sample]]\n")
    cells = expand(load_experiment(spec))
    assert [(c.policy.name, c.sample) for c in cells if c.prefetcher.name == "none"] == [
        ("lru", None), ("s3fifo", 0.5)]
    spec.write_text(MIXED.replace("[null, 0.5]", "[null, 0.5, 2]"))
    with pytest.raises(ConfigError, match=r"m\.yaml: sample\[2\]: expected a sampling rate in "
                                          r"\(0, 1\], got 2"):
        load_experiment(spec)
    spec.write_text(MIXED.replace("[null, 0.5]", "[null, x]"))
    with pytest.raises(ConfigError, match=r"m\.yaml: sample\[1\]: Input should be a valid"):
        load_experiment(spec)
    model = "{name: recmg, params: {model: cm}}"  # a learned model: refused when sampled
    learned = (MIXED.replace("policies: [lru]", f"policies: [lru, {model}]")
               + "eval_after: 100\nmodels: {cm: {kind: recmg-cache, train_accesses: 100}}\n")
    spec.write_text(learned)
    with pytest.raises(ConfigError, match=r"m\.yaml: policies\[1\]: recmg replays a model, "
                                          r"which cannot be sampled .*\(sample\)$"):
        load_experiment(spec)
    spec.write_text(learned + "zip: [[policies, sample]]\n")  # zipped: its own rate
    with pytest.raises(ConfigError, match=r"policies\[1\]: recmg replays a model.*\(zip\)$"):
        load_experiment(spec)
    spec.write_text(learned.replace("[null, 0.5]", "[0.5, null]")
                    + "zip: [[policies, sample]]\n")  # the model's cells in full: accepted
    assert {(c.policy.name, c.sample) for c in expand(load_experiment(spec))} == {
        ("lru", 0.5), ("recmg", None)}


# -- prefetches of unsampled vectors ------------------------------------------------------

def gapped_trace(seed: int, n: int) -> Trace:
    """One table whose rows leave gaps (every third row is never looked up), so a
    prefetcher's next rows are vectors of the trace, outside a sample, or no vector."""
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, 900, n)
    rows = rows[rows % 3 != 0]
    return Trace.from_arrays(np.zeros(rows.shape[0], np.int64), rows, cardinalities=[900])


def _kept(trace, ways, capacity, rate, salt):
    """The keys a sample keeps, by the sample's rule, and whether it keeps each access."""
    keys = np.asarray(trace.dense().keys)
    if ways == 0:
        keep = spatial_keep(keys, rate, salt)
    else:
        sets = capacity // ways
        chosen = np.zeros(sets, bool)
        chosen[sampled_sets(sets, rate, salt)] = True
        keep = chosen[set_index(keys, sets)]
    return set(keys[keep].tolist()), keep[trace.dense().vid]


@pytest.mark.parametrize("ways", [0, 8])
def test_unsampled_prefetches_counted(ways):
    """A sampled replay counts exactly the candidates that are vectors of the full trace
    outside the sample (a pure-Python count by the sample's rule): next_n's range
    (``unsampled_in_range``) and a one-file prefetcher's key (``candidate_vid``), from
    ``eval_after`` on."""
    from recsim import registry

    registry.load_plugin_files([Path(__file__).parent / "fixtures" / "skip_one.py"])
    trace, rate, salt, after = gapped_trace(3, 6000), 0.4, 5, 1000
    keys = np.asarray(trace.dense().keys)
    full = set(keys.tolist())
    kept, in_sample = _kept(trace, ways, 96, rate, salt)
    seq = keys[trace.dense().vid][in_sample][int(in_sample[:after].sum()):]  # counted
    ranges = {"next_n": lambda k: range(k + 1, min(k + 3, 899) + 1), "skip_one": lambda k: [k + 2]}
    for pf, params in (("next_n", {"n": 3, "trigger": "access"}), ("skip_one", {})):
        want = sum(1 for k in seq.tolist() for c in ranges[pf](k)
                   if c in full and c not in kept)
        got = simulate(trace, "lru", 96, ways, pf, prefetcher_params=params, sample=rate,
                       salt=salt, eval_after=after)
        assert want > 0 and got.counts["prefetches_unsampled"] == want
        assert not got.params["sample"]["exact"]  # a prefetcher sees the sample only


def test_no_unsampled_prefetches_without_sampling():
    """A plain replay has no such count; a sample that keeps every vector drops nothing
    and prefetches as the full replay does."""
    trace = gapped_trace(4, 3000)
    full = simulate(trace, "lru", 60, 0, "next_n")
    assert "prefetches_unsampled" not in full.counts
    assert spatial_keep(trace.dense().keys, 0.999999, 0).all()
    whole = simulate(trace, "lru", 60, 0, "next_n", sample=0.999999)
    assert whole.params["sample"]["capacity"] == 60
    assert whole.counts["prefetches_unsampled"] == 0
    assert (whole.prefetches_issued, whole.misses) == (full.prefetches_issued, full.misses)


def test_cli_prints_unsampled_prefetches(tmp_path, capsys):
    from recsim.cli import main
    from recsim.traces import native

    native.write(gapped_trace(5, 3000), tmp_path / "g")
    assert main(["simulate", "--trace", str(tmp_path / "g"), "--capacity", "10%", "--ways", "0",
                 "--prefetcher", "next_n", "--sample", "0.5"]) == 0
    out = capsys.readouterr().out
    assert "approximate" in out and "unsampled (dropped) " in out


def test_in_threads_keeps_order_and_stops_on_an_error():
    """The sizes' replays run in threads: results in the items' order, and an error
    drops the items not yet started (as Ctrl-C does) instead of running them all."""
    assert sample.in_threads(lambda x: x * x, range(50)) == [x * x for x in range(50)]
    ran = []

    def work(x):
        if x == 0:
            raise ValueError("size 0")
        time.sleep(0.05)
        ran.append(x)

    with pytest.raises(ValueError, match="size 0"):
        sample.in_threads(work, range(40))
    assert len(ran) < 10
