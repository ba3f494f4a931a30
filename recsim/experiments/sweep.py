"""Run an experiment (:mod:`recsim.experiments.schema`) cell by cell into a resumable
results store (:mod:`recsim.experiments.store`).

The sweep is the cartesian product of the axes in the order traces, capacities, ways,
policies, prefetchers, seeds, sample (a ``zip`` group takes the place of its first axis).
A sampled cell (``sample``: a rate) differs from the full one in its key, as every
setting does, and its row records the rate (``sample``, None for a full replay) and
``sample_exact``.
``recsim run`` skips cells already in the store, runs the rest on the chosen executor
(:mod:`recsim.experiments.executors`), then writes the table (``results.parquet``, ``.csv``,
``.json``), the figures (PNG + SVG) and the report (:mod:`recsim.experiments.report`). Fully
associative LRU cells without prefetching or fetch latency, eight or more per trace, are
computed in-process from one reuse-distance pass (:func:`recsim.engine.mrc.lru_results`: the
rows a replay gives, tested) instead of a replay each. Non-native
trace files are imported once into ``OUTPUT/traces/`` (as generated traces are), so
every worker memory-maps the same native trace and its cached dense ids.

A cell that names a model of the ``models:`` section replays the checkpoint
:func:`model_jobs` assigns it under ``OUTPUT/models/``; :mod:`recsim.recmg.sweep` trains
those first (``recsim run`` goes there when a sweep replays a learned model). A cell's
key includes the content digest of each checkpoint it replays.
"""


from __future__ import annotations

import hashlib
import itertools
import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import NamedTuple

from recsim.engine.replay import replay
from recsim.engine.settings import ReplaySettings, resolve_capacity
from recsim.engine.warm import is_warm, kind_of
from recsim.errors import ConfigError
from recsim.experiments.executors import run_cells
from recsim.experiments.latency import estimate_ms
from recsim.experiments.report import write_outputs
from recsim.experiments.schema import (
    AXES,
    AXIS_SETTINGS,
    Experiment,
    Plugin,
    TraceSpec,
    load_experiment,
)
from recsim.experiments.store import ResultsStore, cell_key, code_version, git_commit
from recsim.files import digest
from recsim.plugin import files_set
from recsim.registry import get_policy, get_prefetcher, load_plugin_files, plugin_files
from recsim.traces import Trace, generate_trace, load_trace, save_trace
from recsim.traces.native import is_native
from recsim.traces.stats import reuse_distance_histogram, reuse_distances


def prepare_trace(spec: TraceSpec, base: Path, out: Path) -> tuple[Trace, dict]:
    """The native trace a sweep replays, open, and its identity (part of every cell key).

    A native trace is used where it lies; another file is imported once into
    ``OUT/traces/NAME.trace`` and a generated trace is written there, each reused while
    its source (file name, size, modification time, format and options) or its generator
    request is unchanged. The dense ids are computed here, once, and cached beside it."""
    if spec.path is not None:
        src = spec.file(base)
        if (spec.format or "native") == "native" and is_native(src):
            stat = (src / "meta.json").stat()
            identity = {"file": src.name, "format": "native", "mtime_ns": stat.st_mtime_ns}
            trace = load_trace(src)
            trace.dense()
            return trace, identity
        stat = src.stat() if src.exists() else None
        identity = {"file": src.name, "format": spec.format, "options": spec.options,
                    "size": stat and stat.st_size, "mtime_ns": stat and stat.st_mtime_ns}
        make = lambda: load_trace(src, spec.format, **spec.options)  # noqa: E731
    else:
        identity = {"generate": spec.generate.model_dump()}
        make = lambda: generate_trace(**identity["generate"])  # noqa: E731
    path = out / "traces" / f"{spec.name}.trace"
    trace = load_trace(path) if is_native(path) else None
    if trace is None or trace.meta["provenance"].get("request") != identity:
        made = make()
        made.meta["provenance"]["request"] = identity  # reused only for the same source
        save_trace(made, path)
        trace = load_trace(path)
    trace.dense()
    return trace, identity


def prepare_traces(exp: Experiment, out: Path) -> list[tuple[Trace, dict]]:
    """Every trace of the sweep, prepared (:func:`prepare_trace`) in its store folder
    (:meth:`Experiment.store_dir`)."""
    return [prepare_trace(spec, exp.file.parent, exp.store_dir(out)) for spec in exp.traces]


def open_trace(spec: TraceSpec, base: Path, out: Path) -> Trace:
    """The trace of ``spec``, prepared as for a sweep (:func:`prepare_trace`)."""
    return prepare_trace(spec, base, out)[0]


class Cell(NamedTuple):
    """One cell of the sweep: a value of each axis of :data:`AXES`, in its order (the
    trace by its index in ``traces``; the plug-ins with their parameters resolved)."""

    trace: int
    capacity: int | float | str
    ways: int
    policy: Plugin
    prefetcher: Plugin
    seed: int
    sample: float | None


FIELD_OF_AXIS = dict(zip(AXES, Cell._fields))  # the YAML's plural axis -> the cell's field


def expand(exp: Experiment) -> list[Cell]:
    """The sweep's cells: the product of the axes, a ``zip`` group advancing together."""
    values = {"traces": list(range(len(exp.traces))), "policies": exp.resolved("policies"),
              "prefetchers": exp.resolved("prefetchers"),
              **{key: getattr(exp, key) for key, _ in AXIS_SETTINGS}}
    group_of = {axis: group for group in exp.zip for axis in group}
    factors = []
    for axis in AXES:
        group = group_of.get(axis, [axis])
        if group[0] == axis:
            factors.append([{FIELD_OF_AXIS[a]: v for a, v in zip(group, combo)}
                            for combo in zip(*(values[a] for a in group))])
    return [Cell(**{k: v for part in combo for k, v in part.items()})
            for combo in itertools.product(*factors)]


def _checkpoint_params(cell: Cell):
    """``(field, parameter, value)`` of each checkpoint parameter the cell's plug-ins set
    (a path, or a name of ``models:``); ``field``: ``policy`` or ``prefetcher``."""
    for field, get in (("policy", get_policy), ("prefetcher", get_prefetcher)):
        plugin = getattr(cell, field)
        for name, value in files_set(get(plugin.name), plugin.params).items():
            yield field, name, value


def _model_job(exp: Experiment, name: str, cell: Cell, prepared, out: Path) -> dict:
    """The model ``name`` as the cell replays it: trained on the cell's trace (and for
    the buffer, when its labels depend on it), in a file under the store folder named by a
    digest of that, the model's configuration and the code version. ``buffer``: the
    ``capacity`` and ``ways`` its labels are for (empty: training's own defaults, which
    such a model does not read)."""
    spec = exp.models[name]
    trace, identity = prepared[cell.trace]
    buffer = ({"capacity": resolve_capacity(cell.capacity, trace.n_unique),
               "ways": cell.ways} if spec.uses_buffer else {})
    blob = json.dumps({"model": spec.model_dump(), "trace": identity, "buffer": buffer,
                       "code": code_version()}, sort_keys=True)
    file = f"{name}-{hashlib.sha256(blob.encode()).hexdigest()[:12]}.pt"
    path = exp.store_dir(out) / "models" / file
    return {"name": name, "spec": spec, "trace": trace, "path": path, "buffer": buffer}


def model_jobs(exp: Experiment, prepared, out: Path) -> list[dict]:
    """The models the sweep's cells replay, each once: ``name``, ``spec``
    (:class:`~recsim.experiments.schema.ModelSpec`), ``trace``, ``buffer`` (see
    :func:`_model_job`) and the checkpoint ``path``."""
    jobs = {}
    for cell in expand(exp):
        for _, _, name in _checkpoint_params(cell):
            if name in exp.models:
                job = _model_job(exp, name, cell, prepared, out)
                jobs.setdefault(job["path"], job)
    return list(jobs.values())


def cell_task(exp: Experiment, cell: Cell, prepared: list[tuple[Trace, dict]],
              out: Path | None = None) -> dict:
    """What a worker needs to run a cell: its ``settings``, the ``trace_path``, the
    one-file plug-ins to load (``plugin_files``), and its ``config``, the resolved
    configuration that its key hashes (a model name replaced by its checkpoint under
    ``out``, and every checkpoint's digest)."""
    trace, identity = prepared[cell.trace]
    settings = exp.settings(**{name: getattr(cell, name) for _, name in AXIS_SETTINGS})
    params = {field: dict(getattr(cell, field).params) for field in ("policy", "prefetcher")}
    checkpoints = {}
    for field, name, value in _checkpoint_params(cell):
        if value in exp.models:
            value = str(_model_job(exp, value, cell, prepared, exp.output_dir(out))["path"])
            params[field][name] = value
        try:
            checkpoints[value] = digest(value)
        except OSError:
            raise ConfigError(f"{exp.file}: {value} is not there: run the sweep with recsim "
                              "run (recsim.recmg.sweep.run_experiment), which trains the "
                              "models") from None
    config = {"trace": {"name": exp.traces[cell.trace].name, **identity},
              "policy": {"name": cell.policy.name, "params": params["policy"]},
              "prefetcher": {"name": cell.prefetcher.name, "params": params["prefetcher"]},
              **asdict(settings), **({"checkpoints": checkpoints} if checkpoints else {})}
    return {"config": config, "settings": settings, "trace_path": str(trace.path),
            "plugin_files": plugin_files()}


ONE_PASS_MIN = 8  # fully associative LRU cells of one trace computed in one pass from this
_OPEN_TRACES: dict[str, Trace] = {}  # per process: each trace memory-mapped once


def _open(path: str) -> Trace:
    if path not in _OPEN_TRACES:
        _OPEN_TRACES[path] = load_trace(path)
    return _OPEN_TRACES[path]


def run_cell(task: dict) -> dict:
    """Replay one cell (see :func:`cell_task`) and return its row. A worker process (local
    or Ray) first loads the one-file plug-ins the parent had loaded."""
    load_plugin_files(task["plugin_files"])
    cfg, trace = task["config"], _open(task["trace_path"])
    start = time.perf_counter()
    return _row(cfg, trace, replay(trace, task["settings"], cfg["policy"]["name"],
                                   cfg["prefetcher"]["name"], cfg["policy"]["params"],
                                   cfg["prefetcher"]["params"]), start)


def _row(cfg: dict, trace, result, start: float) -> dict:
    """A cell's row: its configuration, the result's counts and rates, provenance."""
    row = {"trace": cfg["trace"]["name"], "requested_capacity": cfg["capacity"],
           "requested_ways": cfg["ways"], "seed": cfg["seed"],
           "eval_after": cfg["eval_after"], **result.to_dict(), "sample": None}
    if "sample" in result.params:  # the rate, and whether the cell is exact (docs/sampling.md)
        row["sample"] = result.params["sample"]["rate"]
        row["sample_exact"] = result.params["sample"]["exact"]
    row["buffer_fraction"] = result.capacity / trace.n_unique
    row.update(wall_s=time.perf_counter() - start, version=code_version(),
               git_commit=git_commit())
    return row


def _one_pass(cfg: dict) -> bool:
    """Whether a cell is fully associative LRU without prefetching, fetch latency,
    deduplication, ``eval_after`` or ``sample``."""
    return (cfg["policy"]["name"] == "lru" and cfg["prefetcher"]["name"] == "none"
            and cfg["ways"] == 0 and cfg["fetch_latency"] == 0 and not cfg["dedup"]
            and not cfg["eval_after"] and not cfg.get("sample"))


def _run_one_pass(tasks: list[dict], todo: list[int]) -> dict[int, dict]:
    """Rows of the cells to do that :func:`_one_pass` admits, from one reuse-distance
    pass per trace (:func:`recsim.engine.mrc.lru_results`, the counts a replay gives),
    where a trace has at least ``ONE_PASS_MIN`` of them (fewer replay faster)."""
    from recsim.engine.mrc import lru_results

    groups: dict[str, list[int]] = {}
    for i in todo:
        if _one_pass(tasks[i]["config"]):
            groups.setdefault(tasks[i]["trace_path"], []).append(i)
    rows = {}
    for path, cells in groups.items():
        if len(cells) < ONE_PASS_MIN:
            continue
        start = time.perf_counter()
        trace = _open(path)
        settings: list[ReplaySettings] = [tasks[i]["settings"] for i in cells]
        for i, s, result in zip(cells, settings,
                                lru_results(trace, [s.capacity for s in settings])):
            result.params = {"policy": {}, "prefetcher": {}, **s.recorded()}
            rows[i] = _row(tasks[i]["config"], trace, result, start)
    return rows


def _first_of_cold_loops(tasks: list[dict], todo: list[int]) -> list[int]:
    """One cell to do for each replay loop the kernel cache lacks: run first, in parallel,
    they compile the loops (for this trace's argument types) under a progress bar that says
    so, and the other cells then load them."""
    first = {}
    for i in todo:
        cfg = tasks[i]["config"]
        loop = (cfg["policy"]["name"], cfg["prefetcher"]["name"], kind_of(tasks[i]["settings"]))
        if loop not in first and not is_warm(*loop):
            first[loop] = i
    return list(first.values())


def _reuse_histogram(trace: Trace) -> dict:
    dense = trace.dense()
    return reuse_distance_histogram(reuse_distances(dense.vid, dense.n_unique))


def check_eval_after(exp: Experiment, prepared) -> None:
    """That ``eval_after`` leaves accesses to count in every trace."""
    for i, (trace, _) in enumerate(prepared):
        if exp.eval_after >= trace.n_accesses:
            raise ConfigError(f"{exp.file}: eval_after: expected fewer than the "
                              f"{trace.n_accesses:,} accesses of traces[{i}] "
                              f"({exp.traces[i].name}), got {exp.eval_after:,}")


def run_experiment(experiment, output=None, progress: bool = True, scale: str | None = None,
                   workers: int | None = None, executor: str = "local",
                   address: str | None = None, force: bool = False) -> list[dict]:
    """Run the sweep of ``experiment`` (an :class:`Experiment` from
    :func:`~recsim.experiments.schema.check_experiment`, or the path of its YAML, loaded
    at ``scale``) into ``output`` (default :meth:`Experiment.output_dir`): skip the cells
    already in the store (all of them are recomputed with ``force``), run the rest, write
    the table, figures and report; return the rows in sweep order."""
    exp = (experiment if isinstance(experiment, Experiment)
           else load_experiment(experiment, scale))
    out = exp.output_dir(output)
    store = ResultsStore(out)
    prepared = prepare_traces(exp, out)
    check_eval_after(exp, prepared)
    _OPEN_TRACES.update((str(trace.path), trace) for trace, _ in prepared)
    tasks = [cell_task(exp, cell, prepared, out) for cell in expand(exp)]
    keys = [cell_key(task["config"]) for task in tasks]
    rows = [None if force else store.get(key) for key in keys]
    todo = [i for i, row in enumerate(rows) if row is None]
    computed = len(todo)
    for i, row in _run_one_pass(tasks, todo).items():
        row["cell"] = keys[i]
        store.put(row["cell"], row)
        rows[i] = row
    todo = [i for i in todo if rows[i] is None]
    first = _first_of_cold_loops(tasks, todo)
    for cells, desc in ((first, f"{exp.name}: compiling {len(first)} replay loops (one time)"),
                        ([i for i in todo if i not in first], exp.name)):
        for j, row in run_cells(run_cell, [tasks[i] for i in cells], executor, workers,
                                address, progress, desc=desc):
            row["cell"] = keys[cells[j]]
            store.put(row["cell"], row)
            rows[cells[j]] = row
    add_coverage(rows)
    if exp.calibration is not None:
        add_latency(rows, exp.calibration)
    store.write_table(rows)
    histograms = ({spec.name: _reuse_histogram(trace)
                   for spec, (trace, _) in zip(exp.traces, prepared)}
                  if "reuse_distance" in exp.plots else {})
    write_outputs(out, exp, rows, histograms,
                  meta={"file": str(exp.file), "scale": exp.scale, "cells": len(rows),
                        "computed": computed, "version": code_version(),
                        "git_commit": git_commit(), "skipped": exp.skipped})
    return rows


def _cell(row: dict) -> tuple:
    return (row["trace"], row["requested_capacity"], row["requested_ways"], row["policy"],
            json.dumps(row["params"]["policy"], sort_keys=True), row["seed"],
            row.get("sample"))


def add_coverage(rows: list[dict]) -> None:
    """Set each row's ``coverage``: the fraction of the misses of the same cell without a
    prefetcher (a ``none`` row of the sweep, sampled alike) that its prefetcher removed
    (None without one; negative when prefetching adds misses)."""
    base = {_cell(r): r["misses"] for r in rows if r["prefetcher"] == "none"}
    for r in rows:
        misses = base.get(_cell(r))
        r["coverage"] = (misses - r["misses"]) / misses if misses else None


def add_latency(rows: list[dict], cal: dict) -> None:
    """Set each row's ``est_latency_ms`` from its miss ratio (:mod:`recsim.experiments.latency`)."""
    for r in rows:
        r["est_latency_ms"] = estimate_ms(cal, r["miss_ratio"])


