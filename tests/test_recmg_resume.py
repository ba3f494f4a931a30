"""Exact resume of a training (recsim/recmg/train.py, issue 31): a training of each model
kind killed mid-epoch or at an epoch boundary, then resumed, ends with the checkpoint of an
uninterrupted run, every tensor equal (weights, best weights, optimiser state, generator
state) and the same history, early stopping and TransFetch threshold.

A kill is simulated right after checkpoint ``k`` is written: a kill anywhere before the
next checkpoint leaves the same file, and the steps done since are done again on resume.
Tiny models, a 6,000-access trace: 6 steps an epoch, a checkpoint every 2."""

import pytest
import torch

from recsim.errors import ConfigError
from recsim.plugin import MODEL_KINDS
from recsim.recmg import plugins, train
from recsim.traces import generate_trace

PARAMS = {"recmg-cache": {"hidden": 8}, "recmg-prefetch": {"hidden": 8, "output_len": 2},
          "transfetch": {"dim": 16, "depth": 1, "heads": 2}}
# Checkpoints of an epoch: after steps 2 and 4, then at its end (after step 6 and the
# validation); so checkpoint 1 is mid-epoch and checkpoint 3 the end of the first epoch.
MID_EPOCH, EPOCH_END = 1, 3


class Killed(Exception):
    pass


@pytest.fixture(scope="module")
def trace():
    return generate_trace("meta-like", accesses=6000, tables=10, seed=2)


def _train(kind, trace, path, resume=False, **config):
    config = train.TrainConfig(**{"epochs": 2, "batch_size": 64, "patience": 2, "seed": 1,
                                  "checkpoint_steps": 2, **config})
    return train.train(kind, trace, path, capacity=40, params=PARAMS[kind], config=config,
                       resume=resume, progress=False)


def _killed_after(monkeypatch, k: int) -> list:
    """Make the ``k``-th checkpoint write the last before a kill; returns the positions
    ``(epoch, step)`` of the checkpoints written."""
    written, save = [], train._save

    def save_then_kill(path, state):
        save(path, state)
        written.append((state["epoch"], state["step"]))
        if len(written) == k:
            raise Killed

    monkeypatch.setattr(train, "_save", save_then_kill)
    return written


def _same(a, b, where="checkpoint") -> None:
    """``a`` equals ``b``, tensors bit for bit; wall-clock ``seconds`` are not compared."""
    if isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            if key != "seconds":
                _same(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


@pytest.fixture(scope="module")
def uninterrupted(trace, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("straight")
    return {kind: _train(kind, trace, tmp / f"{kind}.pt") for kind in MODEL_KINDS}


@pytest.mark.parametrize("kill", [MID_EPOCH, EPOCH_END], ids=["mid-epoch", "epoch-end"])
@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_a_killed_training_resumes_to_the_uninterrupted_weights(
        trace, uninterrupted, tmp_path, monkeypatch, kind, kill):
    written = _killed_after(monkeypatch, kill)
    with pytest.raises(Killed):
        _train(kind, trace, tmp_path / "m.pt")
    assert written[-1] == ((-1, 2) if kill == MID_EPOCH else (0, 0))
    left = train.load_checkpoint(tmp_path / "m.pt")
    assert len(left["history"]) == (kill == EPOCH_END)
    monkeypatch.undo()
    resumed = _train(kind, trace, tmp_path / "m.pt", resume=True)
    assert [h["epoch"] for h in resumed["history"]] == [1, 2]
    _same(resumed, uninterrupted[kind])
    _same(train.load_checkpoint(tmp_path / "m.pt")["best_state"],
          uninterrupted[kind]["best_state"])


def test_without_restoring_the_generators_transfetch_would_differ(
        trace, uninterrupted, tmp_path, monkeypatch):
    """The issue's defect, reproduced: TransFetch's dropout draws from torch's generator,
    which a resume used to re-seed (RecMG's models have no dropout, and resumed exactly)."""
    _killed_after(monkeypatch, EPOCH_END)
    with pytest.raises(Killed):
        _train("transfetch", trace, tmp_path / "m.pt")
    monkeypatch.undo()
    monkeypatch.setattr(train, "_set_rng_states", lambda rng: None)
    resumed = _train("transfetch", trace, tmp_path / "m.pt", resume=True)
    straight = uninterrupted["transfetch"]["state"]
    assert not all(torch.equal(v, resumed["state"][k]) for k, v in straight.items())


def test_a_resume_of_another_training_or_before_any_epoch_is_refused(
        trace, tmp_path, monkeypatch):
    _killed_after(monkeypatch, MID_EPOCH)
    with pytest.raises(Killed):
        _train("recmg-cache", trace, tmp_path / "m.pt")
    monkeypatch.undo()
    with pytest.raises(ConfigError, match=r"m.pt: its training was stopped before its first "
                                          r"epoch ended; resume it"):
        plugins.checked_checkpoint(tmp_path / "m.pt", "recmg-cache")
    for change, field in (({"seed": 2}, "train_config.seed"),
                          ({"batch_size": 32}, "train_config.batch_size")):
        with pytest.raises(ConfigError, match=rf"m.pt: resuming a different model \({field} "
                                              r"differ\); use a new output path"):
            _train("recmg-cache", trace, tmp_path / "m.pt", resume=True, **change)
    resumed = _train("recmg-cache", trace, tmp_path / "m.pt", resume=True, epochs=1,
                     patience=5, checkpoint_steps=3)  # these may change
    assert [h["epoch"] for h in resumed["history"]] == [1]
