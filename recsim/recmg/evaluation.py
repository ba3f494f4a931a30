"""End-to-end evaluation of RecMG against its baselines: ``recsim run`` of a YAML with
``kind: recmg-evaluation`` (``experiments/recmg_quick.yaml``)::

    name: recmg_quick
    kind: recmg-evaluation
    trace: {name: meta_like, generate: {preset: meta-like, accesses: 3000000, seed: 0}}
    train_accesses: 2000000     # the models learn from these accesses...
    eval_accesses: 1000000      # ...and are judged on the ones that follow
    capacity: 0.15              # buffer: fraction of the trace's unique vectors, or a count
    ways: 32
    label_fraction: 0.8         # Belady labels at this share of the buffer
    epochs: 8                   # at most (early stopping, patience 2)
    lag: 1                      # prefetch advice pipeline lag, in chunks of 15 accesses
    prefetch_latency: 0         # accesses from issuing a prefetch to its arrival (0: at once)
    prefetch_gate: 0.1          # confidence gate of the learned prefetchers (0: off)
    soft_priority: true         # CM's priority is its probability of keep, not its decision
    policy_params: {}           # of the recmg policy (CM, RecMG): keep (128), eviction_speed (4)
    threads: null               # torch threads (default: torch's; on 2 busy cores 1 trained
                                # the caching model 15 times faster than 2)
    params: {}                  # model parameters by kind, e.g. {transfetch: {dim: 64}}
    seed: 0
    output: results/recmg_quick

Steps: train (or resume) the three models on the training accesses, checkpoints under
``OUTPUT/models/``; OPT labels of the whole trace for the buffer; batched inference over
the evaluation accesses (from the first whole 15-access chunk after the training
accesses); then replays of the whole trace, so the buffer is warm when the
evaluation starts, reading hit rates on the evaluation accesses from the hit log:
LRU, LFU, SRRIP, CM (the ``recmg`` policy with the caching model alone), LRU+PF (LRU with
the RecMG prefetch model), RecMG (both), LRU+TransFetch, LRU+Bingo, LRU+Domino and
Belady. ``policy_params`` reach the ``recmg`` policy of CM and RecMG (defaults: the policy's,
``keep`` 128 and ``eviction_speed`` 4); ``prefetch_latency`` (default 0: a prefetch issued
at the start of a chunk is usable at once, as the paper's pipeline assumes the transfer
overlaps the previous batch) delays every prefetch of every replay. Two measures of what
prefetching gives: the *miss reduction* of a prefetcher is the share of LRU's misses on the
evaluation accesses that LRU with its prefetches no longer has (negative when it pollutes;
:func:`recsim.recmg.deploy.miss_reduction`), and the learned prefetchers' *coverage* is the
paper's Eq. 2 over unique vectors (:func:`recsim.recmg.deploy.coverage`). Two precisions
of the learned prefetchers' predictions: *correctness* (:func:`recsim.recmg.deploy.correctness`,
the vector is accessed before the evaluation window ends) and the share that are among the
window's OPT misses (:func:`recsim.recmg.deploy.window_precision`), which a prediction of a
vector that only hits cannot score. With ``prefetch_gate`` > 0 the learned prefetchers'
lists pass a confidence gate (:func:`recsim.recmg.deploy.gate`: no prefetch while the
model's recent online precision is below ``prefetch_gate``; its horizon is
``eviction_speed x sets`` accesses, the fewest in which a prefetched vector, filled with
priority ``eviction_speed``, can be evicted when the accesses spread over the sets), and
the ungated RecMG is replayed too, as ``RecMG (ungated)``. With ``soft_priority`` the
caching model's advice is its probability of keep (:func:`recsim.recmg.deploy.advice`),
so CM and RecMG rank vectors by predicted reuse instead of two classes; CM with the
decisions is replayed too, as ``CM (decisions)``.

Writes ``results.json`` and ``results.md`` (the table with the paper's numbers beside ours)
atomically under the output folder.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Literal, Union

import numpy as np
from pydantic import Field
from tqdm.auto import tqdm

from recsim.engine.replay import simulate
from recsim.engine.settings import resolve_capacity
from recsim.errors import ConfigError
from recsim.experiments.report import write_report
from recsim.experiments.schema import TraceSpec, _Strict, default_output, validate
from recsim.experiments.store import code_version, git_commit
from recsim.experiments.sweep import open_trace
from recsim.files import atomic_output
from recsim.plugin import MODEL_KINDS
from recsim import registry
from recsim.registry import get_policy
from recsim.recmg import deploy
from recsim.recmg.chamfer import WINDOW_FACTOR
from recsim.recmg.labels import opt_labels
from recsim.recmg.train import TrainConfig, load_model, resolve_params, train

# The RecMG paper's numbers on Meta's traces (Sections V-VI, Table II).
PAPER = {"caching accuracy": "80-83%", "recmg correctness": "37%",
         "recmg us/prediction": "92", "transfetch us/prediction": "1052"}


class RecmgEvaluation(_Strict):
    name: str
    description: str = ""
    kind: Literal["recmg-evaluation"]
    trace: TraceSpec
    train_accesses: int = Field(gt=0)
    eval_accesses: int = Field(gt=0)
    capacity: Union[int, float, str] = 0.15
    ways: int = Field(32, ge=0)
    label_fraction: float = Field(0.8, gt=0, le=1)
    epochs: int = Field(8, ge=1)
    lag: int = Field(1, ge=0)
    prefetch_latency: int = Field(0, ge=0)
    prefetch_gate: float = Field(0.0, ge=0, le=1)
    soft_priority: bool = False
    policy_params: dict = Field(default_factory=dict)  # checked by the policy's specs
    threads: int | None = Field(None, ge=1)
    params: dict[Literal[MODEL_KINDS], dict] = Field(default_factory=dict)
    seed: int = 0
    output: str | None = None


def run_evaluation(path, raw: dict, output=None, progress: bool = True,
                   scale: str | None = None) -> dict:
    """Run the evaluation described by ``raw`` (the YAML at ``path``, at ``scale``, already
    applied to ``raw``); see module."""
    path = Path(path)
    cfg = validate(RecmgEvaluation, raw, path)
    out = Path(output or cfg.output or default_output(cfg.name, scale))
    trace = open_trace(cfg.trace, path.parent, out)
    start, stop = _span(cfg, trace, path)
    capacity = resolve_capacity(cfg.capacity, trace.n_unique)
    policy_params = _checked_params(cfg, trace, path)
    models, timings = _train_models(cfg, trace, out / "models", capacity, progress)
    labels = opt_labels(trace, capacity, cfg.label_fraction, ways=cfg.ways)
    pred = {kind: deploy.predict(load_model(out / "models" / f"{kind}.pt"), trace, start, stop)
            for kind in MODEL_KINDS}
    window = WINDOW_FACTOR * models["recmg-prefetch"]["params"]["output_len"]
    quality = _model_quality(pred, trace, labels, window, start, stop)
    if cfg.prefetch_gate > 0:
        quality.update(_gate(pred, trace, cfg, capacity, policy_params))
    hits = replays(trace, cfg, capacity, pred, start, stop, progress)
    for model, run in (("recmg", "LRU+PF"), ("transfetch", "LRU+TransFetch"),
                       ("bingo", "LRU+Bingo"), ("domino", "LRU+Domino")):
        quality[f"{model} miss reduction"] = deploy.miss_reduction(hits[run], hits["LRU"])
    report = {"name": cfg.name, "trace": trace.name, "accesses": trace.n_accesses,
              "unique": trace.n_unique, "train_accesses": cfg.train_accesses,
              "eval_start": start, "eval_accesses": stop - start,
              "capacity": capacity, "ways": cfg.ways, "opt_label_hit_rate": labels.opt_hit_rate,
              "label_geometry": {"capacity": labels.label_capacity, "sets": labels.sets,
                                 "ways": labels.ways},
              "policy_params": policy_params,
              "prefetch_latency": cfg.prefetch_latency, "prefetch_gate": cfg.prefetch_gate,
              "soft_priority": cfg.soft_priority, "models": models, "quality": quality,
              "hit_rate": {name: float(h.mean()) for name, h in hits.items()},
              "timings": timings}
    _write(out, report, cfg, path, scale)
    return report


def _span(cfg: RecmgEvaluation, trace, path: Path) -> tuple[int, int]:
    """``(start, stop)`` of the evaluated accesses: from the first whole advice chunk after
    the training accesses to ``train_accesses + eval_accesses``, which the trace must hold."""
    stop = cfg.train_accesses + cfg.eval_accesses
    if stop > trace.n_accesses:
        raise ConfigError(f"{path}: train_accesses + eval_accesses = {stop:,} exceeds the "
                          f"trace's {trace.n_accesses:,} accesses")
    return -(-cfg.train_accesses // deploy.CHUNK) * deploy.CHUNK, stop


def _checked_params(cfg: RecmgEvaluation, trace, path: Path) -> dict:
    """The ``recmg`` policy's resolved parameters, once the models' are checked too."""
    policy_params = registry.resolve_params("policy", get_policy("recmg"), cfg.policy_params,
                                            f"{path}: policy_params")
    for kind, params in cfg.params.items():
        try:
            resolve_params(kind, params, trace)
        except ConfigError as exc:
            raise ConfigError(f"{path}: params.{kind}: {exc}") from None
    return policy_params


def _train_models(cfg: RecmgEvaluation, trace, folder: Path, capacity: int,
                 progress: bool) -> tuple[dict, dict]:
    """Train (or resume) each kind's model into ``folder/KIND.pt``; returns each one's
    epochs and parameters, and the seconds each took."""
    config = TrainConfig(epochs=cfg.epochs, seed=cfg.seed, threads=cfg.threads)
    models, timings = {}, {}
    for kind in MODEL_KINDS:
        began = time.perf_counter()
        ck = train(kind, trace, folder / f"{kind}.pt", train_accesses=cfg.train_accesses,
                   capacity=capacity, ways=cfg.ways, label_fraction=cfg.label_fraction,
                   params=cfg.params.get(kind), config=config, resume=True,
                   progress=progress)
        timings[f"train {kind} s"] = time.perf_counter() - began
        models[kind] = {"epochs": len(ck["history"]), "params": ck["params"]}
    return models, timings


def _model_quality(pred: dict, trace, labels, window: int, start: int, stop: int) -> dict:
    """The models' measures on ``[start, stop)`` (see module) from their predictions
    ``pred`` by kind; ``window``: the prefetch model's window of OPT misses."""
    known = labels.known[start:stop]
    quality = {"caching accuracy": deploy.caching_accuracy(pred["recmg-cache"], labels),
               "label keep share": float(labels.cache[start:stop][known].mean())}
    for measure, of, last in (("correctness", deploy.correctness, window),
                              ("window precision", deploy.window_precision, window),
                              ("coverage (Eq. 2)", deploy.coverage, stop)):
        for name, kind in (("recmg", "recmg-prefetch"), ("transfetch", "transfetch")):
            quality[f"{name} {measure}"] = of(pred[kind], trace.vid, labels.miss_index, last)
    quality.update({f"{k.removeprefix('recmg-')} us/access": p.us_per_access
                    for k, p in pred.items()})
    return quality


def _gate(pred: dict, trace, cfg: RecmgEvaluation, capacity: int, policy_params: dict) -> dict:
    """Pass the learned prefetchers' lists in ``pred`` through the confidence gate (the
    ungated ones stay, as ``KIND ungated``); returns the share of lists each let through."""
    horizon = policy_params["eviction_speed"] * max(capacity // max(cfg.ways, 1), 1)
    shares = {}
    for kind in ("recmg-prefetch", "transfetch"):
        gated = deploy.gate(pred[kind], trace.vid, capacity, horizon, cfg.prefetch_gate,
                            lag=cfg.lag)
        shares[f"{kind.removeprefix('recmg-')} gate open share"] = float(
            gated.vids.shape[0] / max(pred[kind].vids.shape[0], 1))
        pred[f"{kind} ungated"], pred[kind] = pred[kind], gated
    return shares


def _write(out: Path, report: dict, cfg: RecmgEvaluation, path: Path, scale) -> None:
    """``results.json``, ``results.md``, ``experiment.json`` and the report, atomically."""
    out.mkdir(parents=True, exist_ok=True)
    with atomic_output(out / "results.json") as tmp:
        tmp.write_text(json.dumps(report, indent=1, default=_jsonable))
    with atomic_output(out / "results.md") as tmp:
        tmp.write_text(markdown(report))
    info = {"name": cfg.name, "description": cfg.description, "file": str(path),
            "scale": scale, "version": code_version(), "git_commit": git_commit(),
            "tables": ["results.md"]}
    with atomic_output(out / "experiment.json") as tmp:
        tmp.write_text(json.dumps(info, indent=1))
    write_report(out)


def replays(trace, cfg: RecmgEvaluation, capacity: int, pred: dict, start: int, stop: int,
            progress: bool = False) -> dict:
    """Hit log on ``[start, stop)`` of each replay of the whole trace (see module), from the
    models' predictions ``pred`` by kind."""
    cm, pf, tf = pred["recmg-cache"], pred["recmg-prefetch"], pred["transfetch"]
    runs = {"LRU": ("lru", "none", None), "LFU": ("lfu", "none", None),
            "SRRIP": ("srrip", "none", None),
            "CM": ("recmg", "none", deploy.advice(trace, cm, soft=cfg.soft_priority)),
            "LRU+PF": ("lru", "none", deploy.advice(trace, None, pf, cfg.lag)),
            "RecMG": ("recmg", "none", deploy.advice(trace, cm, pf, cfg.lag,
                                                     cfg.soft_priority)),
            "LRU+TransFetch": ("lru", "none", deploy.advice(trace, None, tf, cfg.lag)),
            "LRU+Bingo": ("lru", "bingo", None), "LRU+Domino": ("lru", "domino", None),
            "Belady": ("belady", "none", None)}
    if cfg.soft_priority:
        runs["CM (decisions)"] = ("recmg", "none", deploy.advice(trace, cm))
    if "recmg-prefetch ungated" in pred:
        runs["RecMG (ungated)"] = ("recmg", "none",
                                   deploy.advice(trace, cm, pred["recmg-prefetch ungated"],
                                                 cfg.lag, cfg.soft_priority))
    hits = {}
    for name, (policy, prefetcher, adv) in tqdm(runs.items(), desc="replays",
                                                disable=not progress):
        result = simulate(trace, policy, capacity, cfg.ways, prefetcher,
                          policy_params=cfg.policy_params if policy == "recmg" else None,
                          prefetch_latency=cfg.prefetch_latency, advice=adv, log_hits=True)
        hits[name] = result.hit_log[start:stop]
    return hits


def _jsonable(value):
    return value.item() if isinstance(value, np.generic) else str(value)


def markdown(report: dict) -> str:
    """The evaluation's two tables, with the paper's numbers beside ours."""
    q, h = report["quality"], report["hit_rate"]
    lines = [f"Trace {report['trace']}: train on {report['train_accesses']:,} accesses, "
             f"evaluate on the {report['eval_accesses']:,} from access "
             f"{report['eval_start']:,}; buffer "
             f"{report['capacity']:,} vectors ({report['ways'] or 'fully associative'} ways); "
             f"labels from Belady on {report['label_geometry']['sets']:,} sets x "
             f"{report['label_geometry']['ways']} ways; recmg policy "
             f"{report['policy_params']}; prefetch latency {report['prefetch_latency']} "
             f"accesses; prefetch gate {report.get('prefetch_gate', 0)}.",
             "", "| model metric | recsim | paper |", "|---|---|---|"]
    rows = [("caching accuracy (RecMG CM)", q["caching accuracy"], PAPER["caching accuracy"]),
            ("caching labels that say keep", q["label keep share"], "-"),
            ("prefetch correctness, RecMG", q["recmg correctness"], PAPER["recmg correctness"]),
            ("prefetch correctness, TransFetch", q["transfetch correctness"], "-"),
            ("predictions among the window's OPT misses, RecMG", q["recmg window precision"],
             "-"),
            ("predictions among the window's OPT misses, TransFetch",
             q["transfetch window precision"], "-"),
            *((f"coverage (Eq. 2), {m}", q[f"{m.lower()} coverage (Eq. 2)"], "-")
              for m in ("RecMG", "TransFetch")),
            *((f"miss reduction vs LRU, {m}", q[f"{m.lower()} miss reduction"], "-")
              for m in ("RecMG", "TransFetch", "Bingo", "Domino"))]
    rows += [(f"prefetch lists the gate lets through, {m}", q[f"{k} gate open share"], "-")
             for m, k in (("RecMG", "prefetch"), ("TransFetch", "transfetch"))
             if f"{k} gate open share" in q]
    lines += [f"| {name} | {value:.1%} | {paper} |" for name, value, paper in rows]
    lines += [f"| cost per access, {m} model (us, batched CPU) | {q[f'{m} us/access']:.2f} | "
              f"{PAPER[f'{paper} us/prediction']} per prediction |"
              for m, paper in (("cache", "recmg"), ("prefetch", "recmg"),
                               ("transfetch", "transfetch"))]
    lines += ["", "| replay | hit rate on the evaluation accesses |", "|---|---|"]
    lines += [f"| {name} | {rate:.4f} |" for name, rate in h.items()]
    return "\n".join(lines) + "\n"
