"""Experiment files: a YAML sweep of traces x buffer sizes x ways x policies x prefetchers
x seeds, run cell by cell into a resumable results store (:mod:`recsim.store`).

Schema (unknown keys are errors that name the YAML path)::

    name: quickstart
    description: one paragraph for the report   # optional
    traces:                       # a file (relative to the YAML) or a generator
      - {name: zipf, generate: {preset: zipf, accesses: 1000000, rows: 100000, alpha: 0.9}}
      - {name: video, path: ../data/video.txt, format: user_item, options: {batch_size: 512}}
    capacities: [0.01, 0.05, 0.1]  # fractions of unique vectors, "5%", or vector counts
    ways: [32]                     # 0 = fully associative
    policies: [lru, {name: belady, params: {bypass: true}}]   # [] for trace-only figures
    prefetchers: [none]
    seeds: [0]
    zip: [[policies, prefetchers]] # axes advanced together (equal lengths), not crossed
    prefetch_latency: 0            # accesses until a prefetch arrives
    fetch_latency: 0               # accesses until a demand miss arrives
    prefetch_budget: null          # prefetches issued per batch at most
    max_outstanding: null          # prefetches in flight at most
    dedup: null                    # batch: a row repeated in a batch counts one lookup
    metrics: [hit_rate]            # columns of the printed and reported summary
    plots: [hit_rate_vs_capacity]  # see PLOTS
    tables: [prefetch]             # prefetch statistics (Table IV) in prefetch_table.md;
                                   # latency: est. latency per strategy and size (Fig. 19)
    paper:                         # reference values: a paper-vs-recsim table in the report
      - {source: Fig. 13, metric: hit_rate, value: 0.61, where: {policy: lru}}
    latency: {calibration: calibrations/cpu.json}   # adds est_latency_ms to every row
    output: results/quickstart     # default results/<name> (results/<name>_<scale>)
    scales:                        # named overrides; "quick" is the default when present
      full: {traces: [...]}

The sweep is the cartesian product of the axes in the order traces, capacities, ways,
policies, prefetchers, seeds (a ``zip`` group takes the place of its first axis).
``recsim run`` skips cells already in the store, runs the rest on the chosen executor
(:mod:`recsim.executors`), then writes the table (``results.parquet``, ``.csv``,
``.json``), the figures (PNG + SVG) and the report (:mod:`recsim.report`). Fully
associative LRU cells without prefetching or fetch latency, eight or more per trace, are
computed in-process from one reuse-distance pass (:func:`recsim.mrc.lru_results`: the
rows a replay gives, tested) instead of a replay each. Non-native
trace files are imported once into ``OUTPUT/traces/`` (as generated traces are), so
every worker memory-maps the same native trace and its cached dense ids.
"""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path
from typing import Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from recsim.engine import simulate
from recsim.errors import ConfigError
from recsim.executors import run_cells
from recsim.metrics import COUNTER_NAMES
from recsim.latency import estimate_ms, load_calibration
from recsim.registry import get_policy, get_prefetcher, resolve_params
from recsim.store import ResultsStore, cell_key, code_version, git_commit
from recsim.traces import (GENERATORS, check_generator, generate_trace, load_trace,
                           save_trace)
from recsim.traces.native import is_native

AXES = ("traces", "capacities", "ways", "policies", "prefetchers", "seeds")
PLOTS = ("hit_rate_vs_capacity", "hit_rate_bars", "breakdown", "reuse_distance",
         "prefetch_quality", "latency")
METRICS = (*COUNTER_NAMES, "hits", "misses", "hit_rate", "miss_ratio", "utilization",
           "coverage", "occupancy", "est_latency_ms")
TABLES = ("prefetch", "latency")
MATCH_KEYS = ("trace", "policy", "prefetcher", "requested_capacity", "requested_ways", "seed")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Generate(BaseModel):
    """A generated trace: ``preset`` and ``accesses``; every other key goes to the
    generator, which checks it."""
    model_config = ConfigDict(extra="allow")
    preset: Literal[tuple(GENERATORS)]
    accesses: int = Field(gt=0)

    @model_validator(mode="after")
    def _generator_accepts(self):
        params = self.model_dump()
        try:
            check_generator(params.pop("preset"), params)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return self


class TraceSpec(_Strict):
    name: str
    path: str | None = None
    format: str | None = None
    options: dict = Field(default_factory=dict)
    generate: Generate | None = None

    @model_validator(mode="after")
    def _one_source(self):
        if (self.path is None) == (self.generate is None):
            raise ValueError("give exactly one of 'path' or 'generate'")
        return self


class Plugin(_Strict):
    name: str
    params: dict = Field(default_factory=dict)


PluginSpec = Union[str, Plugin]


class PaperValue(_Strict):
    """A number the paper reports, matched to the rows whose ``where`` fields are equal."""
    source: str
    metric: Literal[METRICS]
    value: float
    where: dict[Literal[MATCH_KEYS], Any] = Field(default_factory=dict)


class Latency(_Strict):
    calibration: str


class Experiment(_Strict):
    name: str
    description: str = ""
    traces: list[TraceSpec] = Field(min_length=1)
    capacities: list[Union[int, float, str]] = Field([0.1], min_length=1)
    ways: list[int] = Field([32], min_length=1)
    policies: list[PluginSpec] = Field(default_factory=list)
    prefetchers: list[PluginSpec] = Field(["none"], min_length=1)
    seeds: list[int] = Field([0], min_length=1)
    zip: list[list[Literal[AXES]]] = Field(default_factory=list)
    prefetch_latency: int = Field(0, ge=0)
    fetch_latency: int = Field(0, ge=0)
    prefetch_budget: int | None = Field(None, ge=0)
    max_outstanding: int | None = Field(None, ge=1)
    dedup: Literal["batch"] | None = None
    metrics: list[Literal[METRICS]] = Field(["hit_rate"], min_length=1)
    plots: list[Literal[PLOTS]] = Field(default_factory=list)
    tables: list[Literal[TABLES]] = Field(default_factory=list)
    paper: list[PaperValue] = Field(default_factory=list)
    latency: Latency | None = None
    output: str | None = None

    @model_validator(mode="after")
    def _zip_groups(self):
        seen = set()
        for i, group in enumerate(self.zip):
            lengths = {axis: len(getattr(self, axis)) for axis in group}
            if len(group) < 2 or seen & set(group) or len(set(group)) < len(group):
                raise ValueError(f"zip[{i}]: expected two or more axes, each in one group")
            if len(set(lengths.values())) > 1:
                raise ValueError(f"zip[{i}]: zipped axes need equal lengths, got {lengths}")
            seen |= set(group)
        for key, needs in (("plots", "latency"), ("tables", "latency"),
                           ("metrics", "est_latency_ms")):
            if needs in getattr(self, key) and self.latency is None:
                raise ValueError(f"{key}: '{needs}' needs a latency calibration: add latency: "
                                 "{calibration: FILE.json} (made by recsim calibrate)")
        return self


def read_yaml(path) -> dict:
    """The mapping in a YAML file; a missing file or bad YAML is one ConfigError."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    return raw


def apply_scale(raw, path, scale: str | None = None) -> tuple[Any, str | None]:
    """``raw`` with the overrides of ``scales[scale]`` merged in (mappings merged key by
    key, everything else replaced), and the scale used: ``scale``, else ``quick`` when the
    file has one, else None."""
    if not isinstance(raw, dict):
        return raw, scale
    raw = dict(raw)
    scales = raw.pop("scales", None) or {}
    if not isinstance(scales, dict) or not all(isinstance(v, dict) for v in scales.values()):
        raise ConfigError(f"{path}: scales: expected a mapping of scale name to overrides")
    scale = scale or ("quick" if "quick" in scales else None)
    if scale is None:
        return raw, None
    if scale not in scales:
        raise ConfigError(f"{path}: scales: no scale {scale!r}; valid: "
                          f"{', '.join(scales) or 'none'}")
    return _merge(raw, scales[scale]), scale


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        both = isinstance(value, dict) and isinstance(base.get(key), dict)
        out[key] = _merge(base[key], value) if both else value
    return out


def default_output(name: str, scale: str | None) -> Path:
    """``results/NAME``, or ``results/NAME_SCALE`` for a scale other than quick."""
    return Path("results") / (name if scale in (None, "quick") else f"{name}_{scale}")


def validate(schema: type[BaseModel], raw, path: Path):
    """``schema`` filled from ``raw``; the first problem is a ConfigError naming the file
    and the YAML path."""
    try:
        return schema.model_validate(raw)
    except ValidationError as exc:
        # A misspelt key also makes the intended key "missing": report the unknown one.
        err = min(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]
                        if p not in ("str", "Plugin", "function-after[_one_source()]"))
        msg = ("unknown key" if err["type"] == "extra_forbidden"
               else err["msg"].removeprefix("Value error, "))
        raise ConfigError(f"{path}: {where.lstrip('.') or '(top level)'}: {msg}") from None


def load_experiment(path, scale: str | None = None) -> Experiment:
    """Parse and check an experiment YAML at ``scale``; every problem names the file and
    the YAML path."""
    return _load(path, scale)[0]


def _load(path, scale):
    path = Path(path)
    raw, scale = apply_scale(read_yaml(path), path, scale)
    exp = validate(Experiment, raw, path)
    for key, getter, kind in (("policies", get_policy, "policy"),
                              ("prefetchers", get_prefetcher, "prefetcher")):
        for i, spec in enumerate(getattr(exp, key)):
            plugin = _plugin(spec)
            try:
                found = getter(plugin.name)
            except ConfigError as exc:
                raise ConfigError(f"{path}: {key}[{i}]: {exc}") from None
            try:
                resolve_params(kind, found, plugin.params, where=f"{key}[{i}]")
            except ConfigError as exc:
                raise ConfigError(f"{path}: {exc}") from None
    if exp.latency is not None:
        calibration = Path(exp.latency.calibration)
        if not (path.parent / calibration).is_file():
            raise ConfigError(f"{path}: latency.calibration: needs a latency calibration, "
                              f"{path.parent / calibration} does not exist; make it with "
                              "recsim calibrate first")
        try:
            load_calibration(path.parent / calibration)
        except ConfigError as exc:
            raise ConfigError(f"{path}: latency.calibration: {exc}") from None
    return exp, scale


def _plugin(spec: PluginSpec) -> Plugin:
    return Plugin(name=spec) if isinstance(spec, str) else spec


def prepare_trace(spec: TraceSpec, base: Path, out: Path) -> tuple[Path, dict]:
    """The native trace a sweep replays and its identity (part of every cell key).

    A native trace is used where it lies; another file is imported once into
    ``OUT/traces/NAME.trace`` and a generated trace is written there, each reused while
    its source (file name, size, modification time, format and options) or its generator
    request is unchanged. The dense ids are computed here, once, and cached beside it."""
    if spec.path is not None:
        src = Path(spec.path) if Path(spec.path).is_absolute() else base / spec.path
        if (spec.format or "native") == "native" and is_native(src):
            stat = (src / "meta.json").stat()
            identity = {"file": src.name, "format": "native", "mtime_ns": stat.st_mtime_ns}
            load_trace(src).dense()
            return src, identity
        stat = src.stat() if src.exists() else None
        identity = {"file": src.name, "format": spec.format, "options": spec.options,
                    "size": stat and stat.st_size, "mtime_ns": stat and stat.st_mtime_ns}
        make = lambda: load_trace(src, spec.format, **spec.options)  # noqa: E731
    else:
        identity = {"generate": spec.generate.model_dump()}
        make = lambda: generate_trace(**identity["generate"])  # noqa: E731
    path = out / "traces" / f"{spec.name}.trace"
    if not (is_native(path) and load_trace(path).meta["provenance"].get("request") == identity):
        trace = make()
        trace.meta["provenance"]["request"] = identity  # reused only for the same source
        save_trace(trace, path)
    load_trace(path).dense()
    return path, identity


def open_trace(spec: TraceSpec, base: Path, out: Path):
    """The trace of ``spec``, prepared as for a sweep (:func:`prepare_trace`)."""
    return load_trace(prepare_trace(spec, base, out)[0])


def expand(exp: Experiment) -> list[dict]:
    """The sweep's cells, each ``{axis: value}`` over :data:`AXES` (traces by index)."""
    values = {"traces": list(range(len(exp.traces))), "capacities": exp.capacities,
              "ways": exp.ways, "policies": [_plugin(p) for p in exp.policies],
              "prefetchers": [_plugin(p) for p in exp.prefetchers], "seeds": exp.seeds}
    group_of = {axis: group for group in exp.zip for axis in group}
    factors = []
    for axis in AXES:
        group = group_of.get(axis, [axis])
        if group[0] == axis:
            factors.append([dict(zip(group, combo))
                            for combo in zip(*(values[a] for a in group))])
    return [{k: v for part in combo for k, v in part.items()}
            for combo in itertools.product(*factors)]


def cell_config(exp: Experiment, cell: dict, identities: list[dict]) -> dict:
    """The resolved configuration of a cell: what its key hashes."""
    pol, pf = cell["policies"], cell["prefetchers"]
    return {"trace": {"name": exp.traces[cell["traces"]].name, **identities[cell["traces"]]},
            "capacity": cell["capacities"], "ways": cell["ways"],
            "policy": {"name": pol.name,
                       "params": resolve_params("policy", get_policy(pol.name), pol.params)},
            "prefetcher": {"name": pf.name, "params": resolve_params(
                "prefetcher", get_prefetcher(pf.name), pf.params)},
            "prefetch_latency": exp.prefetch_latency, "fetch_latency": exp.fetch_latency,
            "prefetch_budget": exp.prefetch_budget, "max_outstanding": exp.max_outstanding,
            "dedup": exp.dedup, "seed": cell["seeds"]}


ONE_PASS_MIN = 8  # fully associative LRU cells of one trace computed in one pass from this
_OPEN_TRACES: dict[str, Any] = {}  # per worker process: each trace memory-mapped once


def run_cell(task: dict) -> dict:
    """Replay one cell (``{"config": ..., "trace_path": ...}``) and return its row."""
    cfg, path = task["config"], task["trace_path"]
    if path not in _OPEN_TRACES:
        _OPEN_TRACES[path] = load_trace(path)
    trace = _OPEN_TRACES[path]
    start = time.perf_counter()
    return _row(cfg, trace, simulate(trace, cfg["policy"]["name"], cfg["capacity"], cfg["ways"],
                      cfg["prefetcher"]["name"], cfg["policy"]["params"],
                      cfg["prefetcher"]["params"], prefetch_latency=cfg["prefetch_latency"],
                      seed=cfg["seed"], fetch_latency=cfg["fetch_latency"],
                      prefetch_budget=cfg["prefetch_budget"],
                      max_outstanding=cfg["max_outstanding"], dedup=cfg["dedup"]), start)


def _row(cfg: dict, trace, result, start: float) -> dict:
    """A cell's row: its configuration, the result's counts and rates, provenance."""
    row = {"trace": cfg["trace"]["name"], "requested_capacity": cfg["capacity"],
           "requested_ways": cfg["ways"], "seed": cfg["seed"], **result.to_dict()}
    row["buffer_fraction"] = result.capacity / trace.n_unique
    row.update(wall_s=time.perf_counter() - start, version=code_version(),
               git_commit=git_commit())
    return row


def _one_pass(cfg: dict) -> bool:
    """Whether a cell is fully associative LRU without prefetching or fetch latency."""
    return (cfg["policy"]["name"] == "lru" and cfg["prefetcher"]["name"] == "none"
            and cfg["ways"] == 0 and cfg["fetch_latency"] == 0 and not cfg["dedup"])


def _run_one_pass(tasks: list[dict], todo: list[int]) -> dict[int, dict]:
    """Rows of the cells to do that :func:`_one_pass` admits, from one reuse-distance
    pass per trace (:func:`recsim.mrc.lru_results`, the counts a replay gives), where a
    trace has at least ``ONE_PASS_MIN`` of them (fewer replay faster)."""
    from recsim.mrc import lru_results

    groups: dict[str, list[int]] = {}
    for i in todo:
        if _one_pass(tasks[i]["config"]):
            groups.setdefault(tasks[i]["trace_path"], []).append(i)
    rows = {}
    for path, cells in groups.items():
        if len(cells) < ONE_PASS_MIN:
            continue
        start = time.perf_counter()
        trace = load_trace(path)
        configs = [tasks[i]["config"] for i in cells]
        for i, cfg, result in zip(cells, configs, lru_results(trace, [c["capacity"]
                                                                     for c in configs])):
            result.params = {"policy": {}, "prefetcher": {},
                             **{k: cfg[k] for k in ("prefetch_latency", "prefetch_budget",
                                                    "fetch_latency", "max_outstanding",
                                                    "dedup", "seed")}}
            rows[i] = _row(cfg, trace, result, start)
    return rows


def run_experiment(path, output=None, progress: bool = True, scale: str | None = None,
                   workers: int | None = None, executor: str = "local",
                   address: str | None = None, force: bool = False) -> list[dict]:
    """Run the sweep of the YAML at ``path``: skip the cells already in the store (all of
    them are recomputed with ``force``), run the rest, write the table, figures and
    report; return the rows in sweep order."""
    path = Path(path)
    exp, scale = _load(path, scale)
    out = Path(output or exp.output or default_output(exp.name, scale))
    store = ResultsStore(out)
    prepared = [prepare_trace(spec, path.parent, out) for spec in exp.traces]
    identities = [identity for _, identity in prepared]
    tasks = [{"config": cell_config(exp, cell, identities),
              "trace_path": str(prepared[cell["traces"]][0])} for cell in expand(exp)]
    keys = [cell_key(task["config"]) for task in tasks]
    rows = [None if force else store.get(key) for key in keys]
    todo = [i for i, row in enumerate(rows) if row is None]
    for i, row in _run_one_pass(tasks, todo).items():
        row["cell"] = keys[i]
        store.put(row["cell"], row)
        rows[i] = row
    todo = [i for i in todo if rows[i] is None]
    for j, row in run_cells(run_cell, [tasks[i] for i in todo], executor, workers, address,
                            progress, desc=exp.name):
        row["cell"] = keys[todo[j]]
        store.put(row["cell"], row)
        rows[todo[j]] = row
    add_coverage(rows)
    if exp.latency is not None:
        add_latency(rows, load_calibration(path.parent / exp.latency.calibration))
    store.write_table(rows)
    from recsim.report import write_outputs

    write_outputs(out, exp, rows, {spec.name: p for spec, (p, _) in zip(exp.traces, prepared)},
                  meta={"file": str(path), "scale": scale, "cells": len(rows),
                        "computed": len(todo), "version": code_version(),
                        "git_commit": git_commit()},
                  base=path.parent)
    return rows


def _cell(row: dict) -> tuple:
    return (row["trace"], row["requested_capacity"], row["requested_ways"], row["policy"],
            json.dumps(row["params"]["policy"], sort_keys=True), row["seed"])


def add_coverage(rows: list[dict]) -> None:
    """Set each row's ``coverage``: the fraction of the misses of the same cell without a
    prefetcher (a ``none`` row of the sweep) that its prefetcher removed (None without one;
    negative when prefetching adds misses)."""
    base = {_cell(r): r["misses"] for r in rows if r["prefetcher"] == "none"}
    for r in rows:
        misses = base.get(_cell(r))
        r["coverage"] = (misses - r["misses"]) / misses if misses else None


def strategy(row: dict) -> str:
    """A row's strategy as tables and figures name it: ``policy`` or ``policy +
    prefetcher``."""
    return row["policy"] if row["prefetcher"] == "none" else (
        f"{row['policy']} + {row['prefetcher']}")


def add_latency(rows: list[dict], cal: dict) -> None:
    """Set each row's ``est_latency_ms`` from its miss ratio (:mod:`recsim.latency`)."""
    for r in rows:
        r["est_latency_ms"] = estimate_ms(cal, r["miss_ratio"])


def latency_table(rows: list[dict]) -> str:
    """The RecMG paper's Fig. 19 as a table: estimated latency per batch (ms) of each
    strategy (rows) at each buffer size (columns), per trace and geometry, seeds
    averaged."""
    groups: dict[tuple, dict] = {}
    for r in rows:
        cell = groups.setdefault((r["trace"], r["requested_ways"]), {}).setdefault(
            strategy(r), {})
        cell.setdefault(r["requested_capacity"], []).append(r)
    lines = []
    for (trace, ways), strategies in groups.items():
        sizes = list(dict.fromkeys(c for cells in strategies.values() for c in cells))
        lines += [f"{trace}, {'fully associative' if ways == 0 else f'{ways}-way'}: estimated "
                  "latency per batch (ms)", "",
                  "| strategy | " + " | ".join(
                      _size_label(strategies, c) for c in sizes) + " |",
                  "|---" * (len(sizes) + 1) + "|"]
        for name, cells in strategies.items():
            values = [f"{sum(r['est_latency_ms'] for r in cells[c]) / len(cells[c]):.3f}"
                      if c in cells else "-" for c in sizes]
            lines.append(f"| {name} | " + " | ".join(values) + " |")
        lines.append("")
    return "\n".join(lines)


def _size_label(strategies: dict, capacity) -> str:
    row = next(cells[capacity][0] for cells in strategies.values() if capacity in cells)
    return f"{100 * row['buffer_fraction']:.1f}%"


def prefetch_table(rows: list[dict]) -> str:
    """The RecMG paper's Table IV and Fig. 14 columns, one Markdown row per cell with a
    prefetcher: prefetches issued, useful, unused, late, utilization (useful / issued),
    pollution misses, coverage, and the access breakdown in percent (hit by caching, hit
    by prefetch, late prefetch, on-demand fetch including merged misses: 100 in all)."""
    lines = ["| trace | buffer | policy + prefetcher | issued | useful | unused | late | "
             "utilization | pollution misses | coverage | hit by caching % | "
             "hit by prefetch % | late prefetch % | on-demand fetch % |", "|---" * 14 + "|"]
    for r in rows:
        if r["prefetcher"] == "none":
            continue
        pct = [100 * x / r["accesses"] for x in (
            r["cache_hits"], r["prefetch_hits"], r["late_prefetches"],
            r["on_demand_fetches"] + r["merged_misses"])]
        cells = [r["trace"], f"{100 * r['buffer_fraction']:.1f}%",
                 f"{r['policy']} + {r['prefetcher']}", f"{r['prefetches_issued']:,}",
                 f"{r['prefetches_useful']:,}", f"{r['prefetches_unused']:,}",
                 f"{r['late_prefetches']:,}", _fmt(r["utilization"]),
                 f"{r['pollution_misses']:,}", _fmt(r["coverage"]), *(f"{x:.2f}" for x in pct)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.4f}"
