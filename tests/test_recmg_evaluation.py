"""``recsim train`` and the RecMG evaluation (``kind: recmg-evaluation`` YAML) end to end on
a small meta-like trace."""

import json
from typing import get_args

import numpy as np
import pytest
import torch
import yaml

from recsim import registry
from recsim.cli import main
from recsim.engine.replay import simulate
from recsim.experiments.schema import ModelSpec, validate
from recsim.plugin import MODEL_KINDS, File
from recsim.recmg import deploy
from recsim.recmg.evaluation import RecmgEvaluation, replays
from recsim.recmg.train import load_checkpoint
from recsim.traces import meta_like

YAML = """\
name: tiny
kind: recmg-evaluation
trace: {name: ml, generate: {preset: meta-like, accesses: 30000, seed: 3, tables: 40}}
train_accesses: 22500
eval_accesses: 7500
epochs: 3
prefetch_gate: 0.1
soft_priority: true
params: {transfetch: {dim: 16, depth: 1, heads: 2}, recmg-cache: {hidden: 16}}
seed: 0
"""


def test_recsim_train_writes_a_checkpoint_and_resumes(tmp_path, capsys):
    assert main(["trace", "gen", "meta-like", "-o", str(tmp_path / "m.trace"), "--accesses",
                 "30000", "--tables", "20", "--seed", "1"]) == 0
    args = ["train", "recmg-cache", "--trace", str(tmp_path / "m.trace"), "-o",
            str(tmp_path / "c.pt"), "--epochs", "1", "--param", "hidden=16"]
    assert main(args) == 0
    assert "c.pt: recmg-cache, 1 epochs" in capsys.readouterr().out
    ck = load_checkpoint(tmp_path / "c.pt")
    assert ck["params"]["hidden"] == 16 and ck["data"]["train_accesses"] == 30000
    assert main(args[:-4] + ["--epochs", "2", "--param", "hidden=16", "--resume"]) == 0
    assert [h["epoch"] for h in load_checkpoint(tmp_path / "c.pt")["history"]] == [1, 2]
    assert main(args[:-2] + ["--param", "hidden=8", "--resume"]) == 2
    assert "resuming a different model" in capsys.readouterr().err


def test_the_model_kinds_are_one_list(capsys):
    """The trainer, the two YAML schemas, ``recsim train`` and the plug-ins' checkpoint
    parameters take their model kinds from ``recsim.plugin.MODEL_KINDS``."""
    with pytest.raises(SystemExit):
        main(["train", "lstm", "--trace", "t.npz", "-o", "m.pt"])
    listed = capsys.readouterr().err.split("choose from ")[1].split(")")[0]
    assert [k.strip("' ") for k in listed.split(",")] == list(MODEL_KINDS)
    assert get_args(ModelSpec.model_fields["kind"].annotation) == MODEL_KINDS
    params = RecmgEvaluation.model_fields["params"].annotation
    assert get_args(get_args(params)[0]) == MODEL_KINDS
    plugins = (*registry.policies().values(), *registry.prefetchers().values())
    # a plug-in that learns online (advise_always: nextuse) saves a model kind of its own,
    # which recsim train does not make
    files = {spec.kind for p in plugins if not p.advise_always
             for spec in p.params.values() if isinstance(spec, File)}
    assert files == set(MODEL_KINDS)


def test_evaluation_runs_and_writes_its_table(tmp_path, capsys):
    (tmp_path / "e.yaml").write_text(YAML)
    assert main(["run", str(tmp_path / "e.yaml"), "--output", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert "| caching accuracy (RecMG CM) |" in printed and "| Belady |" in printed
    report = json.loads((tmp_path / "out" / "results.json").read_text())
    rates = report["hit_rate"]
    assert set(rates) == {"LRU", "LFU", "SRRIP", "CM", "LRU+PF", "RecMG", "LRU+TransFetch",
                          "LRU+Bingo", "LRU+Domino", "Belady", "RecMG (ungated)",
                          "CM (decisions)"}
    assert 0 <= report["quality"]["prefetch gate open share"] <= 1
    assert "| prefetch lists the gate lets through, RecMG |" in printed
    for name in ("TransFetch", "Bingo", "Domino"):  # miss reduction against LRU's misses
        assert report["quality"][f"{name.lower()} miss reduction"] == pytest.approx(
            1 - (1 - rates[f"LRU+{name}"]) / (1 - rates["LRU"]))
    assert "| miss reduction vs LRU, Bingo |" in printed
    assert 0 <= report["quality"]["recmg coverage (Eq. 2)"] <= 1
    assert "| coverage (Eq. 2), RecMG |" in printed
    assert report["policy_params"] == {"model": "", "eviction_speed": 4, "keep": 128}
    assert report["label_geometry"]["sets"] == report["capacity"] // 32
    html = (tmp_path / "out" / "report.html").read_text()
    assert "<td>caching accuracy (RecMG CM)</td>" in html
    assert all(0 <= r <= 1 for r in rates.values()) and rates["Belady"] > rates["LRU"]
    assert 0.5 < report["quality"]["caching accuracy"] <= 1
    for model in ("recmg", "transfetch"):  # an OPT miss of the window is accessed in it
        q = report["quality"]
        assert 0 <= q[f"{model} window precision"] <= q[f"{model} correctness"] <= 1
    assert "| predictions among the window's OPT misses, RecMG |" in printed
    for kind in ("recmg-cache", "recmg-prefetch", "transfetch"):
        assert (tmp_path / "out" / "models" / f"{kind}.pt").exists()
    assert isinstance(load_checkpoint(tmp_path / "out" / "models" / "transfetch.pt")
                      ["payload"]["threshold"], float)
    # a re-run resumes the finished checkpoints and gives the same report
    before = {k: torch.load(tmp_path / "out" / "models" / f"{k}.pt", weights_only=True)
              ["best_state"] for k in ("recmg-cache",)}
    assert main(["run", str(tmp_path / "e.yaml"), "--output", str(tmp_path / "out")]) == 0
    again = json.loads((tmp_path / "out" / "results.json").read_text())
    assert again["hit_rate"] == rates
    after = torch.load(tmp_path / "out" / "models" / "recmg-cache.pt", weights_only=True)
    assert all(torch.equal(v, after["best_state"][n]) for n, v in before["recmg-cache"].items())
    # the same models as plug-ins from the command line (advice from the training span on)
    models = tmp_path / "out" / "models"
    args = ["simulate", "--trace", str(tmp_path / "out" / "traces" / "ml.trace"), "--policy",
            "recmg", "--capacity", str(report["capacity"]), "--json",
            "--param", f"model={models / 'recmg-cache.pt'}", "--prefetcher", "transfetch"]
    capsys.readouterr()
    assert main(args + ["--pf-param", f"model={models / 'transfetch.pt'}"]) == 0
    counts = json.loads(capsys.readouterr().out)
    assert counts["accesses"] == 30000 and counts["prefetches_issued"] > 0
    assert main(args + ["--pf-param", f"model={models / 'recmg-cache.pt'}"]) == 2
    assert "a recmg-cache checkpoint; expected a transfetch" in capsys.readouterr().err


def test_gate_closes_while_recent_precision_is_low_and_ignores_resident_vectors():
    vids = np.arange(3030)  # every vector accessed once, at the position equal to its id
    issue = (np.arange(200) + 1) * 15  # chunk k's list is issued at (k + 1) x 15 (lag 1)
    # chunks 0-99 predict the vector accessed 5 after the issue (used), chunks 100-199 the
    # vector accessed at 0 (never used again); every chunk also a resident vector (t - 1)
    good = np.where(np.arange(200) < 100, issue + 5, 0)
    pred = deploy.Predictions("recmg-prefetch", 0, 15, ptr=np.arange(0, 401, 2),
                              vids=np.stack([good, issue - 1], 1).reshape(-1), predicted=400)
    gated = deploy.gate(pred, vids, capacity=10, horizon=30, threshold=0.5, history=8)
    kept = np.diff(gated.ptr) > 0
    # chunk k knows the outcome of chunks < k - 1 (horizon 30 = 2 chunks) and reads the 8
    # latest: at least half of them are used while k <= 105
    assert kept[:106].all() and not kept[106:].any()
    assert np.array_equal(gated.vids, pred.vids[:212]) and gated.predicted == 400
    # the resident vectors alone never close it
    only_resident = deploy.Predictions("recmg-prefetch", 0, 15, ptr=np.arange(201),
                                       vids=issue - 1, predicted=200)
    assert deploy.gate(only_resident, vids, 10, 30, 0.5, 8).vids.shape[0] == 200


@pytest.mark.parametrize("edit, match", [
    ("eval_accesses: 7500", "eval_accesses: 99000"),
    ("hidden: 16", "hiden: 16"),
    ("epochs: 3", "epochs: 0"),
    ("epochs: 3", "epoch: 3"),
    ("seed: 0", "policy_params: {kep: 1}"),
    ("seed: 0", "policy_params: {keep: -1}"),
    ("seed: 0", "prefetch_latency: -2"),
    ("seed: 0", "prefetch_gate: 1.5"),
    ("hidden: 16", "encoding: rows"),
])
def test_evaluation_yaml_errors_name_the_field(tmp_path, capsys, edit, match):
    (tmp_path / "e.yaml").write_text(YAML.replace(edit, match))
    assert main(["run", str(tmp_path / "e.yaml"), "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "e.yaml" in err and match.split(":")[0] in err


def test_replays_honour_policy_params_and_prefetch_latency(tmp_path):
    """CM and RecMG replay the recmg policy with the YAML's policy_params, and every replay
    delays prefetches by prefetch_latency: each equals a direct replay with those settings,
    and the settings change the hit rates (so a replay that ignored them would fail)."""
    trace = meta_like.generate(12_000, tables=8, seed=2)
    start, stop, cap = 9_000, 12_000, 300
    rng = np.random.default_rng(0)
    prob = rng.random(stop - start).astype(np.float32)
    keep = deploy.Predictions("recmg-cache", start, 15, keep=(prob > 0.5).astype(np.uint8),
                              prob=prob)
    nxt = trace.vid[start + 15:stop + 15]  # chunk k names the vectors of chunk k + 1
    ptr = np.minimum(np.arange(0, stop - start + 1, 15), nxt.shape[0])
    pf = deploy.Predictions("recmg-prefetch", start, 15, ptr=ptr, vids=nxt.astype(np.int64))
    pred = {"recmg-cache": keep, "recmg-prefetch": pf, "transfetch": pf}
    base = yaml.safe_load(YAML)
    got = {}
    for name, extra in (("default", {}), ("set", {"policy_params": {"keep": 0,
                                                                    "eviction_speed": 9},
                                                  "prefetch_latency": 20})):
        cfg = validate(RecmgEvaluation, {**base, **extra}, tmp_path / "e.yaml")
        got[name] = replays(trace, cfg, cap, pred, start, stop)
        for run, policy, adv in (("CM", "recmg", deploy.advice(trace, keep, soft=True)),
                                 ("CM (decisions)", "recmg", deploy.advice(trace, keep)),
                                 ("RecMG", "recmg", deploy.advice(trace, keep, pf, soft=True)),
                                 ("LRU+PF", "lru", deploy.advice(trace, None, pf))):
            want = simulate(trace, policy, cap, 32, advice=adv, log_hits=True,
                            policy_params=extra.get("policy_params") if policy == "recmg"
                            else None, prefetch_latency=extra.get("prefetch_latency", 0))
            assert (got[name][run] == want.hit_log[start:stop]).all(), (name, run)
    for run in ("CM", "LRU+PF"):
        assert got["default"][run].mean() != got["set"][run].mean(), run
    assert got["default"]["CM"].mean() != got["default"]["CM (decisions)"].mean()
    assert (got["default"]["LRU"] == got["set"]["LRU"]).all()
