"""The learned plug-ins (the ``recmg`` policy with a caching model, the ``recmg`` and
``transfetch`` prefetchers): the advice they compute equals the evaluation's, any policy
takes any of them, predictions are cached beside the trace, and bad checkpoints are one
line naming the file. Tiny models, one epoch."""

import shutil

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import recsim
from recsim.cli import main
from recsim.errors import ConfigError
from recsim.recmg import deploy, plugins
from recsim.recmg.train import load_model, train
from recsim.testing import SETTINGS, check_span_prefetches
from recsim.traces import generate_trace

TRAIN = 9000  # of 12,000 accesses
SMALL = {"recmg-cache": {"hidden": 8}, "recmg-prefetch": {"hidden": 8, "output_len": 2},
         "transfetch": {"dim": 16, "depth": 1, "heads": 2}}
PLUGIN_OF = {"recmg-cache": ("policy", "recmg"), "recmg-prefetch": ("prefetcher", "recmg"),
             "transfetch": ("prefetcher", "transfetch")}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A small on-disk trace and the three models, trained on its first 9,000 accesses."""
    root = tmp_path_factory.mktemp("learned")
    trace = generate_trace("meta-like", path=root / "m.trace", accesses=12000, tables=10,
                           seed=2)
    paths = {}
    for kind, params in SMALL.items():
        paths[kind] = root / f"{kind}.pt"
        train(kind, trace, paths[kind], train_accesses=TRAIN, capacity=0.15, params=params,
              config=None, progress=False)
    return recsim.load_trace(root / "m.trace"), paths


def _simulate(trace, policy="lru", prefetcher="none", models=None, **kw):
    models = models or {}
    params = {where: {"model": str(path)} for where, path in models.items()}
    return recsim.simulate(trace, policy, 0.15, 32, prefetcher,
                           policy_params=params.get("policy"),
                           prefetcher_params=params.get("prefetcher"), **kw)


def test_learned_plugins_replay_the_evaluation_advice(models):
    """A learned plug-in's replay equals the replay with the advice that kind:
    recmg-evaluation computes (deploy.predict from the first chunk after training)."""
    trace, paths = models
    start = -(-TRAIN // deploy.CHUNK) * deploy.CHUNK
    pred = {k: deploy.predict(load_model(p), trace, start) for k, p in paths.items()}
    cases = [("recmg", "recmg", deploy.advice(trace, pred["recmg-cache"],
                                              pred["recmg-prefetch"])),
             ("recmg", "none", deploy.advice(trace, pred["recmg-cache"])),
             ("lru", "recmg", deploy.advice(trace, None, pred["recmg-prefetch"])),
             ("lru", "transfetch", deploy.advice(trace, None, pred["transfetch"]))]
    for policy, prefetcher, advice in cases:
        learned = {"policy": paths["recmg-cache"]} if policy == "recmg" else {}
        if prefetcher != "none":
            learned["prefetcher"] = paths["transfetch" if prefetcher == "transfetch"
                                          else "recmg-prefetch"]
        got = _simulate(trace, policy, prefetcher, learned, log_hits=True)
        want = recsim.simulate(trace, policy, 0.15, 32, advice=advice, log_hits=True)
        assert got.counts == want.counts, (policy, prefetcher)
        assert np.array_equal(got.hit_log, want.hit_log)
        assert got.params["prefetcher"].get("lag", 1) == 1
    priority = plugins.caching_advice(trace, {"model": str(paths["recmg-cache"])}).priority
    assert not priority[:start].any() and 0 < priority[start:].mean() < 1
    assert np.array_equal(priority, cases[1][2].priority)


@pytest.mark.parametrize("kind", ["recmg-prefetch", "transfetch"])
@settings(**SETTINGS, max_examples=12)
@given(data=st.data())
def test_learned_prefetches_useful_at_most_issued_under_eval_after(models, kind, data):
    """tests/test_contracts.py's property for the learned prefetchers, whose prefetches
    start after the training span (access 9,000): the span starts among them."""
    trace, paths = models
    kw = dict(prefetch_latency=data.draw(st.integers(0, 8)),
              eval_after=data.draw(st.integers(TRAIN, trace.n_accesses - 500)))
    res = _simulate(trace, "lru", PLUGIN_OF[kind][1], {"prefetcher": paths[kind]}, **kw)
    assert res.counts["prefetches_issued"] > 0
    check_span_prefetches(res.counts)


def test_any_policy_takes_any_learned_prefetcher(models):
    trace, paths = models
    bop_cm = _simulate(trace, "recmg", "bop", {"policy": paths["recmg-cache"]})
    assert bop_cm.prefetches_issued > 0 and bop_cm.prefetcher == "bop"
    for policy in ("srrip",):
        res = _simulate(trace, policy, "transfetch", {"prefetcher": paths["transfetch"]})
        assert res.prefetches_issued > 0 and res.hits + res.misses == trace.n_accesses
    late = _simulate(trace, "lru", "recmg", {"prefetcher": paths["recmg-prefetch"]},
                     prefetch_latency=30)
    assert late.late_prefetches > 0


def test_predictions_are_computed_once_per_model_and_trace(models, monkeypatch):
    trace, paths = models
    shutil.rmtree(trace.path / "advice", ignore_errors=True)
    calls = []
    predict = deploy.predict
    monkeypatch.setattr(deploy, "predict", lambda *a, **k: calls.append(1) or predict(*a, **k))
    pf = {"prefetcher": paths["recmg-prefetch"]}
    first = _simulate(trace, "lru", "recmg", pf)
    assert len(calls) == 1 and len(list((trace.path / "advice").glob("*.npz"))) == 1
    again = _simulate(trace, "lru", "recmg", pf)
    other = _simulate(trace, "srrip", "recmg", pf, prefetch_latency=2)
    assert again.counts == first.counts and other.policy == "srrip" and len(calls) == 1
    _simulate(trace, "recmg", "recmg", {"policy": paths["recmg-cache"], **pf})
    assert len(calls) == 2  # another model
    in_memory = recsim.Trace(trace.table, trace.row, trace.batch_offsets, trace.cardinalities)
    assert _simulate(in_memory, "lru", "recmg", pf).counts == first.counts
    assert len(calls) == 3  # no directory to cache it in


def test_bad_checkpoints_are_one_line_naming_the_file(models, tmp_path):
    trace, paths = models
    with pytest.raises(ConfigError, match=r"recmg-cache.pt: a recmg-cache checkpoint; "
                                          r"expected a transfetch model"):
        _simulate(trace, "lru", "transfetch", {"prefetcher": paths["recmg-cache"]})
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ConfigError, match="junk.pt: not a recsim model checkpoint"):
        _simulate(trace, "lru", "recmg", {"prefetcher": tmp_path / "junk.pt"})
    with pytest.raises(ConfigError, match="nope.pt: cannot read the model checkpoint"):
        _simulate(trace, "recmg", "none", {"policy": tmp_path / "nope.pt"})
    with pytest.raises(ConfigError, match="missing parameter 'model'"):
        recsim.simulate(trace, "lru", 0.15, prefetcher="recmg")
    other = generate_trace("meta-like", path=tmp_path / "o.trace", accesses=12000, tables=10,
                           seed=5)
    with pytest.raises(ConfigError, match="a vocabulary other than trace"):
        _simulate(other, "recmg", "none", {"policy": paths["recmg-cache"]})
    train("recmg-cache", trace, tmp_path / "all.pt", params=SMALL["recmg-cache"],
          progress=False)
    with pytest.raises(ConfigError, match="none is left to advise"):
        _simulate(trace, "recmg", "none", {"policy": tmp_path / "all.pt"})
    with pytest.raises(ConfigError, match="given twice"):
        _simulate(trace, "recmg", "none", {"policy": paths["recmg-cache"]},
                  advice=deploy.Advice(priority=np.ones(trace.n_accesses)))


def test_cli_simulates_and_lists_the_learned_plugins(models, capsys):
    trace, paths = models
    assert main(["simulate", "--trace", str(trace.path), "--policy", "recmg", "--param",
                 f"model={paths['recmg-cache']}", "--prefetcher", "recmg", "--pf-param",
                 f"model={paths['recmg-prefetch']}", "--capacity", "0.15"]) == 0
    out = capsys.readouterr().out
    assert "recmg + recmg" in out and "model advice" in out
    assert main(["prefetchers"]) == 0
    listed = capsys.readouterr().out
    assert "model: the path of a transfetch checkpoint, required" in listed
    assert "model: the path of a recmg-prefetch checkpoint, required" in listed
