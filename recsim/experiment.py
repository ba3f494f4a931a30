"""Experiment files: a YAML sweep of traces x buffer sizes x ways x policies x prefetchers.

Minimal schema (extended by later work; unknown keys are errors)::

    name: quickstart
    traces:                       # a file (relative to the YAML) or a generator
      - {name: zipf, generate: {preset: zipf, accesses: 1000000, rows: 100000, alpha: 0.9}}
      - {name: video, path: ../data/video.txt, format: user_item, options: {batch_size: 512}}
    capacities: [0.01, 0.05, 0.1]  # fractions of unique vectors, or vector counts
    ways: [32]                     # 0 = fully associative
    policies: [lru, {name: belady, params: {bypass: true}}]
    prefetchers: [none]
    prefetch_latency: 0            # accesses until a prefetch arrives
    fetch_latency: 0               # accesses until a demand miss arrives
    prefetch_budget: null          # prefetches issued per batch at most
    max_outstanding: null          # prefetches in flight at most
    seed: 0
    output: results/quickstart     # default results/<name>, relative to the working directory
    plots: [hit_rate_vs_capacity]
    tables: [prefetch]             # prefetch statistics (Table IV) in prefetch_table.md

``recsim run`` writes ``results.csv`` and ``results.json`` (one row per cell) atomically,
and one PNG per plot and trace. Generated traces are kept under ``OUTPUT/traces/``.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from tqdm import tqdm

from recsim.engine import simulate
from recsim.errors import ConfigError
from recsim.registry import get_policy, get_prefetcher, resolve_params
from recsim.traces import (GENERATORS, check_generator, generate_trace, load_trace,
                           save_trace)
from recsim.traces.common import atomic_output
from recsim.traces.native import is_native


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


class Experiment(_Strict):
    name: str
    traces: list[TraceSpec] = Field(min_length=1)
    capacities: list[Union[int, float, str]] = Field(min_length=1)
    ways: list[int] = Field([32], min_length=1)
    policies: list[PluginSpec] = Field(min_length=1)
    prefetchers: list[PluginSpec] = Field(["none"], min_length=1)
    prefetch_latency: int = Field(0, ge=0)
    fetch_latency: int = Field(0, ge=0)
    prefetch_budget: int | None = Field(None, ge=0)
    max_outstanding: int | None = Field(None, ge=1)
    seed: int = 0
    output: str | None = None
    plots: list[Literal["hit_rate_vs_capacity"]] = Field(default_factory=list)
    tables: list[Literal["prefetch"]] = Field(default_factory=list)


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


def load_experiment(path) -> Experiment:
    """Parse and check an experiment YAML; every problem names the file and the YAML path."""
    path = Path(path)
    exp = validate(Experiment, read_yaml(path), path)
    for key, getter, kind in (("policies", get_policy, "policy"),
                              ("prefetchers", get_prefetcher, "prefetcher")):
        for i, spec in enumerate(getattr(exp, key)):
            plugin = _plugin(spec)
            try:
                resolve_params(kind, getter(plugin.name), plugin.params)
            except ConfigError as exc:
                raise ConfigError(f"{path}: {key}[{i}]: {exc}") from None
    return exp


def _plugin(spec: PluginSpec) -> Plugin:
    return Plugin(name=spec) if isinstance(spec, str) else spec


def open_trace(spec: TraceSpec, base: Path, out: Path):
    if spec.path is not None:
        path = Path(spec.path)
        return load_trace(path if path.is_absolute() else base / path, spec.format, **spec.options)
    request = spec.generate.model_dump()
    path = out / "traces" / f"{spec.name}.trace"
    if is_native(path):
        cached = load_trace(path)
        if cached.meta["provenance"].get("request") == request:
            return cached
    trace = generate_trace(**request)
    trace.meta["provenance"]["request"] = request  # reused only for the same request
    save_trace(trace, path)
    return load_trace(path)


def run_experiment(path, output=None, progress: bool = True) -> list[dict]:
    """Run every cell of the sweep; write the table and plots; return the rows."""
    path = Path(path)
    exp = load_experiment(path)
    out = Path(output or exp.output or Path("results") / exp.name)
    cells = list(itertools.product(range(len(exp.traces)), exp.capacities, exp.ways,
                                   map(_plugin, exp.policies), map(_plugin, exp.prefetchers)))
    rows, traces = [], {}
    for ti, capacity, ways, pol, pf in tqdm(cells, desc=exp.name, disable=not progress,
                                            unit="cell"):
        spec = exp.traces[ti]
        if ti not in traces:
            traces[ti] = open_trace(spec, path.parent, out)
        result = simulate(traces[ti], pol.name, capacity, ways, pf.name, pol.params, pf.params,
                          prefetch_latency=exp.prefetch_latency, seed=exp.seed,
                          fetch_latency=exp.fetch_latency, prefetch_budget=exp.prefetch_budget,
                          max_outstanding=exp.max_outstanding)
        row = {"trace": spec.name, "requested_capacity": capacity, "requested_ways": ways,
               **result.to_dict()}
        row["buffer_fraction"] = result.capacity / traces[ti].n_unique
        rows.append(row)
    add_coverage(rows)
    _write_results(out, rows)
    for table in exp.tables:
        with atomic_output(out / f"{table}_table.md") as tmp:
            tmp.write_text(prefetch_table(rows))
    for plot in exp.plots:
        from recsim.plots import hit_rate_vs_capacity

        hit_rate_vs_capacity(rows, out)
    return rows


def _cell(row: dict) -> tuple:
    return (row["trace"], row["requested_capacity"], row["requested_ways"], row["policy"],
            json.dumps(row["params"]["policy"], sort_keys=True))


def add_coverage(rows: list[dict]) -> None:
    """Set each row's ``coverage``: the fraction of the misses of the same cell without a
    prefetcher (a ``none`` row of the sweep) that its prefetcher removed (None without one;
    negative when prefetching adds misses)."""
    base = {_cell(r): r["misses"] for r in rows if r["prefetcher"] == "none"}
    for r in rows:
        misses = base.get(_cell(r))
        r["coverage"] = (misses - r["misses"]) / misses if misses else None


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


def _write_results(out: Path, rows: list[dict]) -> None:
    import csv

    out.mkdir(parents=True, exist_ok=True)
    flat = [{k: (json.dumps(v) if isinstance(v, dict) else v) for k, v in r.items()}
            for r in rows]
    with atomic_output(out / "results.csv") as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(flat[0]))
        writer.writeheader()
        writer.writerows(flat)
    with atomic_output(out / "results.json") as tmp:
        tmp.write_text(json.dumps(rows, indent=1))
