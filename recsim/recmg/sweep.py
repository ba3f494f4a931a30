"""Sweeps with learned strategies: train the models of a sweep's ``models:`` section, then
run the sweep (:func:`recsim.experiments.sweep.run_experiment`); ``recsim run`` comes here
when a sweep names a model.

Order, so that bad input stops the run before long work: the models' parameters and every
checkpoint a cell names by path (readable, of the kind its plug-in takes) are checked
before any trace is generated; then, on the prepared traces, that those checkpoints were
trained on the trace they replay and that ``eval_after`` is past their training span;
then the models are trained, each once per trace (and buffer, for the kinds whose labels
depend on it) into ``OUTPUT/models/`` (a collection's shared folder in a collection;
:func:`recsim.experiments.sweep.model_jobs` names the file: a digest of the model's
configuration, the trace's identity, the buffer and the code version), resuming an
interrupted training from its last epoch and reusing a finished one (its ``.json`` beside
it says it finished). Last, each (checkpoint, trace) pair's predictions are computed once
and cached beside the trace (:func:`recsim.recmg.plugins.predictions`), so the cells, in
any number of workers, read them back.
"""

from __future__ import annotations

import json

from tqdm.auto import tqdm

from recsim import registry
from recsim.errors import ConfigError
from recsim.experiments import sweep
from recsim.experiments.schema import Experiment, load_experiment
from recsim.files import atomic_output
from recsim.plugin import files_set
from recsim.recmg import plugins
from recsim.recmg import train as training


def run_experiment(experiment, output=None, progress: bool = True, scale: str | None = None,
                   **options) -> list[dict]:
    """Train the sweep's models (see module) and run it; ``options`` go to
    :func:`recsim.experiments.sweep.run_experiment`."""
    exp = (experiment if isinstance(experiment, Experiment)
           else load_experiment(experiment, scale))
    out = exp.output_dir(output)
    read = check_models(exp)
    prepared = sweep.prepare_traces(exp, out)
    sweep.check_eval_after(exp, prepared)  # past every model's training span (the schema)
    for (where, path), ck in read.items():
        for trace, _ in prepared:
            _at(where, exp, plugins.check_trace, path, ck, trace)
            if exp.eval_after < ck["data"]["train_accesses"]:
                raise ConfigError(f"{exp.file}: eval_after: {exp.eval_after:,} is inside the "
                                  f"training span of {path} ({ck['data']['train_accesses']:,}"
                                  " accesses): learned strategies are judged after it")
    jobs = sweep.model_jobs(exp, prepared, out)
    todo = [job for job in jobs if not _finished(job["path"])]
    for job in tqdm(todo, desc=f"{exp.name}: training {len(todo)} models", unit="model",
                    disable=not progress or not todo):
        _at(f"models.{job['name']}", exp, _train, job, progress)
    for job in jobs:
        plugins.predictions(job["path"], job["spec"].kind, job["trace"])
    for (_, path), ck in read.items():
        for trace, _ in prepared:
            plugins.predictions(path, ck["kind"], trace)
    return sweep.run_experiment(exp, out, progress=progress, **options)


def check_models(exp: Experiment) -> dict:
    """The checks that need no trace: the parameters of every model under ``models:``, and
    every checkpoint a cell names by path (readable, of the kind its plug-in takes); returns
    those checkpoints read, by ``(YAML path, file)``."""
    for name, spec in exp.models.items():
        try:
            training.resolve_params(spec.kind, spec.params)
        except ConfigError as exc:
            raise ConfigError(f"{exp.file}: models.{name}.params: {exc}") from None
    return {(where, path): _at(where, exp, plugins.checked_checkpoint, path, kind)
            for where, kind, path in _given_checkpoints(exp)}


def _at(where: str, exp: Experiment, check, *args):
    try:
        return check(*args)
    except ConfigError as exc:
        raise ConfigError(f"{exp.file}: {where}: {exc}") from None


def _given_checkpoints(exp: Experiment):
    """``(YAML path, kind, file)`` of every checkpoint a cell names by path."""
    for axis, get in (("policies", registry.get_policy), ("prefetchers", registry.get_prefetcher)):
        for i, plugin in enumerate(exp.resolved(axis)):
            found = get(plugin.name)
            for name, value in files_set(found, plugin.params).items():
                if value not in exp.models:
                    yield f"{axis}[{i}].params.{name}", found.params[name].kind, value


def _finished(path) -> bool:
    return path.exists() and path.with_suffix(".json").exists()


def _train(job: dict, progress: bool) -> None:
    """Train (or resume) one model of the sweep; then mark it finished."""
    spec = job["spec"]
    config = training.TrainConfig(epochs=spec.epochs, seed=spec.seed, threads=spec.threads)
    ck = training.train(spec.kind, job["trace"], job["path"],
                        train_accesses=spec.train_accesses, **job["buffer"],
                        label_fraction=spec.label_fraction,
                        params=spec.params, config=config, resume=True, progress=progress)
    with atomic_output(job["path"].with_suffix(".json")) as tmp:
        tmp.write_text(json.dumps({"model": job["name"], "kind": spec.kind,
                                   "history": ck["history"]}, indent=1))
