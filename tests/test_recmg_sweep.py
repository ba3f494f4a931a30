"""Sweeps with ``models:``: each model is trained once and reused, an interrupted training
resumes from its last epoch, and bad models are refused before any training. Tiny models,
one or two epochs, a 12,000-access trace."""

import json

import pytest

from recsim.errors import ConfigError
from recsim.experiments.store import TIMING_FIELDS
from recsim.experiments.schema import load_experiment
from recsim.plugin import MODEL_KINDS
from recsim.recmg import deploy, train
from recsim.recmg.sweep import run_experiment

YAML = """\
name: learned
traces:
  - {name: ml, generate: {preset: meta-like, accesses: 12000, tables: 10, seed: 2}}
capacities: [0.15]
ways: [32]
eval_after: 9000
models:
  cm: {kind: recmg-cache, train_accesses: 9000, epochs: 1, params: {hidden: 8}}
  pm: {kind: recmg-prefetch, train_accesses: 9000, epochs: 1,
       params: {hidden: 8, output_len: 2}}
  tf: {kind: transfetch, train_accesses: 9000, epochs: 1,
       params: {dim: 16, depth: 1, heads: 2}}
# LRU, CM, LRU+PF, BOP+CM, LRU+TransFetch
policies: [lru, {name: recmg, params: {model: cm}}, lru, {name: recmg, params: {model: cm}},
           lru]
prefetchers: [none, none, {name: recmg, params: {model: pm}}, bop,
              {name: transfetch, params: {model: tf}}]
zip: [[policies, prefetchers]]
"""


def _count(monkeypatch, module, name):
    calls = []
    original = getattr(module, name)
    monkeypatch.setattr(module, name, lambda *a, **k: calls.append(a[0]) or original(*a, **k))
    return calls


def test_a_sweep_trains_each_model_once_and_reuses_it(tmp_path, monkeypatch):
    (tmp_path / "s.yaml").write_text(YAML)
    trained = _count(monkeypatch, train, "train")
    predicted = _count(monkeypatch, deploy, "predict")
    rows = run_experiment(tmp_path / "s.yaml", tmp_path / "out", progress=False, workers=1)
    assert sorted(trained) == sorted(MODEL_KINDS) and len(predicted) == 3
    assert [(r["policy"], r["prefetcher"]) for r in rows] == [
        ("lru", "none"), ("recmg", "none"), ("lru", "recmg"), ("recmg", "bop"),
        ("lru", "transfetch")]
    assert all(r["accesses"] == 3000 and r["eval_after"] == 9000 for r in rows)
    assert rows[2]["prefetches_issued"] > 0 and rows[4]["prefetches_issued"] > 0
    cm = rows[1]["params"]["policy"]["model"]
    assert cm == rows[3]["params"]["policy"]["model"] and "/models/cm-" in cm
    assert len(list((tmp_path / "out" / "models").glob("*.pt"))) == 3
    again = run_experiment(tmp_path / "s.yaml", tmp_path / "out", progress=False, workers=1)
    assert len(trained) == 3 and len(predicted) == 3  # nothing trained or predicted again
    assert [r["hits"] for r in again] == [r["hits"] for r in rows]
    assert json.loads((tmp_path / "out" / "experiment.json").read_text())["computed"] == 0

    # a checkpoint given by path must come from the trace it replays
    other = YAML.replace("seed: 2}", "seed: 3}").replace("{model: cm}}, lru", "{model: "
                                                         f"{cm}}}}}, lru", 1)
    (tmp_path / "o.yaml").write_text(other)
    with pytest.raises(ConfigError, match=r"o.yaml: policies\[1\].params.model: .*cm-.*\.pt: "
                                          r"trained on .* a vocabulary other than trace"):
        run_experiment(tmp_path / "o.yaml", tmp_path / "o", progress=False, workers=1)
    assert len(trained) == 3


def _killed_run(monkeypatch, path, out, when) -> list:
    """Run the sweep at ``path`` into ``out``, killed (a KeyboardInterrupt) at the first
    checkpoint write whose training state ``when`` accepts, before it writes; returns the
    epochs of the writes tried."""
    saves, save = [], train._save

    def killed(file, state):
        saves.append(state["epoch"])
        if when(state):
            raise KeyboardInterrupt
        save(file, state)

    monkeypatch.setattr(train, "_save", killed)
    with pytest.raises(KeyboardInterrupt):
        run_experiment(path, out, progress=False, workers=1)
    monkeypatch.undo()
    return saves


def test_an_interrupted_training_resumes_from_its_last_epoch(tmp_path, monkeypatch):
    text = YAML.replace("train_accesses: 9000, epochs: 1, params: {hidden: 8}",
                        "train_accesses: 9000, epochs: 2, params: {hidden: 8}")
    text = text[:text.index("  pm:")] + text[text.index("# LRU"):]
    text = text.replace("lru]\nprefetchers: [none, none, {name: recmg, params: {model: pm}}, "
                        "bop,\n              {name: transfetch, params: {model: tf}}]",
                        "lru]\nprefetchers: [none, none, none, bop, none]")
    (tmp_path / "s.yaml").write_text(text)
    saves = _killed_run(monkeypatch, tmp_path / "s.yaml", tmp_path / "out",
                        lambda state: state["epoch"] == 1)  # in the second epoch's save
    (ck,) = (tmp_path / "out" / "models").glob("cm-*.pt")
    assert [h["epoch"] for h in train.load_checkpoint(ck)["history"]] == [1]
    assert not ck.with_suffix(".json").exists()  # not finished
    save = train._save
    monkeypatch.setattr(train, "_save", lambda path, state: saves.append(state["epoch"])
                        or save(path, state))
    rows = run_experiment(tmp_path / "s.yaml", tmp_path / "out", progress=False, workers=1)
    assert saves == [0, 1, 1]  # the rerun trained the second epoch only
    assert [h["epoch"] for h in train.load_checkpoint(ck)["history"]] == [1, 2]
    assert len(rows) == 5 and ck.with_suffix(".json").exists()


def test_a_sweep_killed_while_transfetch_trains_gives_the_uninterrupted_table(tmp_path,
                                                                              monkeypatch):
    """Issue 31: killed in TransFetch's second epoch, then run again into the same folder,
    the sweep gives an uninterrupted run's table (it differed in every TransFetch cell, as
    the resumed TransFetch's dropout drew from a re-seeded generator)."""
    (tmp_path / "s.yaml").write_text(YAML.replace("epochs: 1", "epochs: 2"))
    straight = run_experiment(tmp_path / "s.yaml", tmp_path / "a", progress=False, workers=1)
    _killed_run(monkeypatch, tmp_path / "s.yaml", tmp_path / "b",
                lambda state: state["kind"] == "transfetch" and state["epoch"] == 1)
    (tf,) = (tmp_path / "b" / "models").glob("tf-*.pt")
    assert len(train.load_checkpoint(tf)["history"]) == 1
    resumed = run_experiment(tmp_path / "s.yaml", tmp_path / "b", progress=False, workers=1)
    assert len(train.load_checkpoint(tf)["history"]) == 2
    assert _table(resumed) == _table(straight)


def _table(rows: list[dict]) -> list[dict]:
    """The rows without timings and what holds the checkpoints' paths (under each run's
    folder): the parameters and the cell's digest."""
    return [{k: v for k, v in r.items() if k not in (*TIMING_FIELDS, "params", "cell")}
            for r in rows]


@pytest.mark.parametrize("change, error", [
    (("{model: cm}}, lru", "{model: pm}}, lru"),
     r"policies\[1\].params.model: model 'pm' is a recmg-prefetch model; policy 'recmg' "
     r"takes a recmg-cache model"),
    (("{model: cm}}, lru", "{model: cx}}, lru"),
     r"policies\[1\].params.model: no model 'cx' under models: and no file .*cx"),
    (("eval_after: 9000", "eval_after: 100"),
     r"eval_after: 100 is inside the training span of model 'cm' \(9,000 accesses\)"),
    (("{hidden: 8}}", "{hiden: 8}}"), r"models.cm.params: recmg-cache: unknown parameter "
                                      r"'hiden'"),
    (("{model: cm}}, lru", "{model: junk.pt}}, lru"),
     r"policies\[1\].params.model: .*junk.pt: not a recsim model checkpoint"),
    (("kind: transfetch", "kind: belady"), r"models.tf.kind: Input should be"),
    (("eval_after: 9000", "eval_after: 12000"),  # found once the trace is there
     r"eval_after: expected fewer than the 12,000 accesses of traces\[0\] \(ml\)"),
])
def test_bad_models_are_refused_before_any_training(tmp_path, monkeypatch, change, error):
    (tmp_path / "junk.pt").write_text("not a checkpoint")
    (tmp_path / "s.yaml").write_text(YAML.replace(*change, 1))
    trained = _count(monkeypatch, train, "train")
    with pytest.raises(ConfigError, match=error):
        run_experiment(load_experiment(tmp_path / "s.yaml"), tmp_path / "out", progress=False)
    assert not trained and (tmp_path / "out" / "traces").exists() == ("12000" in change[1])
