"""Collections (``kind: collection``): every member checked before the first runs, traces
and models shared (a model two members replay is trained once), the index page with the
paper-vs-recsim table of all members; optional traces skipped when absent. Tiny models, a
12,000-access trace."""

import json
import re

import pytest

from recsim.cli import main
from recsim.experiments.report import paper_comparison
from recsim.recmg import train

TRACE = "  - {name: ml, generate: {preset: meta-like, accesses: 12000, tables: 10, seed: 2}}\n"
MEMBER = """\
name: {name}
traces:
{trace}capacities: [0.15]
ways: [32]
eval_after: 9000
models:
  cm: {{kind: recmg-cache, train_accesses: 9000, epochs: 1, params: {{hidden: 8}}}}
policies: {policies}
paper: {paper}
"""
PAPER_B = ("[{source: Fig. Z, metric: hit_rate, value: 1.3, where: {policy: belady}, "
           "relative_to: {policy: lru}}]")
COLLECTION = """\
name: both
description: Two figures.
kind: collection
experiments: [a.yaml, b.yaml]
"""


def _write(tmp_path, a_trace=TRACE, b_policies="[lru, {name: recmg, params: {model: cm}}, belady]",
           collection=COLLECTION):
    (tmp_path / "a.yaml").write_text(MEMBER.format(
        name="a", trace=a_trace, policies="[lru, {name: recmg, params: {model: cm}}]",
        paper="[]"))
    (tmp_path / "b.yaml").write_text(MEMBER.format(name="b", trace=TRACE, policies=b_policies,
                                                   paper=PAPER_B))
    (tmp_path / "c.yaml").write_text(collection)
    return tmp_path / "c.yaml"


def _count_training(monkeypatch):
    calls = []
    original = train.train
    monkeypatch.setattr(train, "train", lambda *a, **k: calls.append(a[0]) or original(*a, **k))
    return calls


def test_a_collection_shares_its_models_and_writes_one_index(tmp_path, monkeypatch):
    trained = _count_training(monkeypatch)
    out = tmp_path / "out"
    assert main(["run", str(_write(tmp_path)), "--output", str(out), "--workers", "1"]) == 0
    assert trained == ["recmg-cache"]  # one model: same configuration, trace and buffer
    assert len(list((out / "models").glob("*.pt"))) == 1
    assert [p.name for p in (out / "traces").glob("*.trace")] == ["ml.trace"]
    a, b = (json.loads((out / m / "results.json").read_text()) for m in "ab")
    assert [r["policy"] for r in a] == ["lru", "recmg"] and len(b) == 3
    assert a[1]["hits"] == b[1]["hits"]  # the one model, replayed by both
    index = (out / "index.md").read_text()
    assert "| [a](a/report.html) | - | 2 | 2 |" in index  # no scales in the members
    assert "| [b](b/report.html) | - | 3 | 3 |" in index
    assert ("1 paper values: 1 claims hold, 0 do not hold, 0 are values shown beside "
            "recsim's (no claim to check), 0 have no value here.") in index
    assert "| b | Fig. Z | policy=belady / policy=lru | hit_rate ratio | 1.3000 |" in index
    assert "<table>" in (out / "index.html").read_text()
    assert (out / "a" / "report.html").exists() and (out / "b" / "report.html").exists()
    assert main(["run", str(tmp_path / "c.yaml"), "--output", str(out)]) == 0
    assert trained == ["recmg-cache"]  # nothing trained again
    assert "| [b](b/report.html) | - | 3 | 0 |" in (out / "index.md").read_text()


@pytest.mark.parametrize("change, error", [
    ({"a_trace": TRACE.replace("seed: 2", "seed: 3")},
     r"c.yaml: experiments\[1\]: trace 'ml' of .*b.yaml differs from the one of that name "
     r"in .*a.yaml"),
    ({"b_policies": "[lru, {name: recmg, params: {model: cm, keep: -1}}]"},
     r"c.yaml: experiments\[1\]: .*b.yaml: policies\[1\].params.keep: "),
    ({"collection": COLLECTION.replace("b.yaml]", "a.yaml]")},
     r"c.yaml: experiments\[1\]: a second experiment named 'a'"),
    ({"collection": COLLECTION.replace("b.yaml]", "e.yaml]")},
     r"c.yaml: experiments\[1\]: .*e.yaml: cannot read"),
    ({"collection": COLLECTION + "workers: 2\n"}, r"c.yaml: workers: unknown key"),
])
def test_bad_collections_are_one_line_before_anything_runs(tmp_path, monkeypatch, capsys,
                                                           change, error):
    trained = _count_training(monkeypatch)
    assert main(["run", str(_write(tmp_path, **change)), "--output", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and re.search(error, err[0]), err
    assert trained == [] and not (tmp_path / "o").exists()


def test_a_collection_runs_sweeps_only(tmp_path, capsys):
    (tmp_path / "e.yaml").write_text("name: e\nkind: recmg-evaluation\n")
    (tmp_path / "c.yaml").write_text(COLLECTION.replace("[a.yaml, b.yaml]", "[e.yaml]"))
    assert main(["run", str(tmp_path / "c.yaml")]) == 2
    err = capsys.readouterr().err
    assert "c.yaml: experiments[0]: " in err
    assert "kind: 'recmg-evaluation'; a collection runs sweeps" in err


def test_an_absent_optional_trace_is_skipped_with_a_warning(tmp_path, capsys):
    text = ("name: s\ntraces:\n" + TRACE.replace("12000", "3000")
            + "  - {name: gone, path: nowhere.txt, format: user_item, optional: true}\n"
            "policies: [lru]\n")
    (tmp_path / "s.yaml").write_text(text)
    assert main(["run", str(tmp_path / "s.yaml"), "--output", str(tmp_path / "o")]) == 0
    err = capsys.readouterr().err
    assert "recsim: warning: " in err and "traces[1] (gone): " in err and "is absent" in err
    report = (tmp_path / "o" / "report.md").read_text()
    assert "Skipped: traces[1] (gone): " in report
    (tmp_path / "t.yaml").write_text(
        "name: t\ntraces:\n  - {name: gone, path: nowhere.txt, optional: true}\n")
    assert main(["run", str(tmp_path / "t.yaml")]) == 2
    assert "t.yaml: traces: every trace is an absent optional file" in capsys.readouterr().err
    (tmp_path / "u.yaml").write_text("name: u\ntraces:\n  - {name: g, optional: true, "
                                     "generate: {preset: zipf, accesses: 10}}\n")
    assert main(["run", str(tmp_path / "u.yaml")]) == 2
    assert "optional: applies to a trace file" in capsys.readouterr().err


def test_a_claim_of_closeness_holds_within_its_tolerance():
    rows = [{"trace": "t", "policy": p, "hit_rate": h} for p, h in
            (("recmg", 0.58), ("belady", 0.6), ("lru", 0.5))]
    near, far = paper_comparison(
        [{"source": "s", "metric": "hit_rate", "value": 1.0, "within": w,
          "where": {"policy": "recmg"}, "relative_to": {"policy": "belady"}}
         for w in (0.05, 0.03)], rows)
    assert near["recsim"] == pytest.approx(0.58 / 0.6) and near["verdict"] == "holds"
    assert far["verdict"] == "does not hold"  # 3.3% below Belady: not within 3%
