"""Experiment files: a YAML sweep of traces x buffer sizes x ways x policies x prefetchers
x seeds, checked once into an :class:`Experiment`.

Schema (unknown keys are errors that name the YAML path)::

    name: quickstart
    description: one paragraph for the report   # optional
    traces:                       # a file (relative to the YAML) or a generator
      - {name: zipf, generate: {preset: zipf, accesses: 1000000, rows: 100000, alpha: 0.9}}
      - {name: video, path: ../data/video.txt, format: user_item, options: {batch_size: 512}}
      - {name: amazon, path: ../data/amazon.txt, format: user_item, optional: true}  # skipped
                                                                # with a warning when absent
    capacities: [0.01, 0.05, 0.1]  # fractions of unique vectors, "5%", or vector counts
    ways: [32]                     # 0 = fully associative (an axis takes one value too:
                                   # ways: 32)
    policies: [lru, {name: belady, params: {bypass: true}}]   # [] for trace-only figures
    prefetchers: [none]
    seeds: [0]
    zip: [[policies, prefetchers]] # axes advanced together (equal lengths), not crossed
    prefetch_latency: 0            # accesses until a prefetch arrives
    fetch_latency: 0               # accesses until a demand miss arrives
    prefetch_budget: null          # prefetches issued per batch at most
    max_outstanding: null          # prefetches in flight at most
    dedup: null                    # batch: a row repeated in a batch counts one lookup
    eval_after: 0                  # count every metric on the accesses from this one on
    sample: null                   # replay every cell on a sample at this rate (approximate
                                   # cells, marked so; docs/sampling.md); a list is an axis:
                                   # [null, 0.01] runs each cell in full and at 1%
    metrics: [hit_rate]            # columns of the printed and reported summary
    plots: [hit_rate_vs_capacity]  # see PLOTS
    tables: [prefetch]             # prefetch statistics (Table IV) in prefetch_table.md;
                                   # latency: est. latency per strategy and size (Fig. 19)
    paper:                         # reference values: a paper-vs-recsim table in the report
      - {source: Fig. 13, metric: hit_rate, value: 0.61, where: {policy: lru}}
      - {source: Fig. 15, metric: hit_rate, value: 1.14, where: {policy: srrip},
         relative_to: {policy: lru}}   # a ratio: SRRIP 14% above LRU, geomean over cells
      - {source: Fig. 13, metric: hit_rate, value: 1.0, within: 0.05, where: {policy: recmg},
         relative_to: {policy: belady}}  # "close to": holds within 5% of the paper's ratio
    latency: {calibration: calibrations/cpu.json}   # adds est_latency_ms to every row
    models:                        # learned models the sweep trains (docs/recmg.md)
      cm: {kind: recmg-cache, train_accesses: 2000000}  # policies: [{name: recmg,
                                                        #   params: {model: cm}}]
    output: results/quickstart     # default results/<name> (results/<name>_<scale>)
    scales:                        # named overrides; "quick" is the default when present
      full: {traces: [...]}

``capacities``, ``ways``, ``seeds`` and ``sample`` (the axes), the four latency and
prefetch keys, ``dedup``, ``eval_after`` and ``salt`` make each cell's
:class:`~recsim.engine.settings.ReplaySettings`, which checks them: these keys are made
from its declaration, one key per setting (a list for an axis; one value is an axis of
one, so ``sample: 0.01`` samples every cell and ``sample: [null, 0.01]`` holds full and
sampled cells side by side; ``zip: [[policies, sample]]`` gives each policy its own rate).
A bad value names its place: ``sample[1]: expected a sampling rate in (0, 1], got 2``.
The sweep itself is :mod:`recsim.experiments.sweep`.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Literal, Union, get_type_hints

import yaml
from pydantic import (BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, create_model,
                      field_validator, model_validator)

from recsim.engine.metrics import COUNTER_NAMES
from recsim.engine.settings import ReplaySettings, declared
from recsim.errors import ConfigError, RecsimWarning, gist
from recsim.experiments.latency import load_calibration
from recsim.plugin import MODEL_KINDS, files_set
from recsim.registry import get_policy, get_prefetcher, load_plugin_files, resolve_params
from recsim.traces import check_generator, generators

AXES = ("traces", "capacities", "ways", "policies", "prefetchers", "seeds", "sample")
PLOTS = ("hit_rate_vs_capacity", "hit_rate_bars", "breakdown", "reuse_distance",
         "prefetch_quality", "latency")
METRICS = (*COUNTER_NAMES, "hits", "misses", "hit_rate", "miss_ratio", "utilization",
           "coverage", "occupancy", "est_latency_ms")
TABLES = ("prefetch", "latency")
AXIS_SETTINGS = tuple((how.axis, name) for name, (_, how) in declared().items() if how.axis)
MATCH_KEYS = ("trace", "policy", "prefetcher", "requested_capacity", "requested_ways", "seed",
              "sample")


class _Strict(BaseModel):
    """Unknown keys are errors, and values are taken as typed: no "5" or true for a
    number, no 1 for a boolean."""
    model_config = ConfigDict(extra="forbid", strict=True)


class _Axes(_Strict):
    """An axis given one value (``sample: 0.01``, ``ways: 32``) is an axis of one."""

    @model_validator(mode="before")
    @classmethod
    def _one_value_axes(cls, raw):
        if not isinstance(raw, dict):
            return raw
        return {key: [value] if key in dict(AXIS_SETTINGS) and not isinstance(value, list)
                else value for key, value in raw.items()}


def _settings_keys() -> type[BaseModel]:
    """The YAML keys of the replay settings, made from their declaration
    (:class:`~recsim.engine.settings.ReplaySettings`): a list per sweep axis
    (``capacities``, ``ways``, ``seeds``, ``sample``), else a scalar of the setting's
    name; :meth:`Experiment.settings` hands them on and ReplaySettings checks the values."""
    hints = get_type_hints(ReplaySettings)
    keys = {}
    for name, (default, how) in declared().items():
        keys[how.axis or name] = ((list[hints[name]], Field([default], min_length=1))
                                  if how.axis else (hints[name], default))
    return create_model("_SettingsKeys", __base__=_Axes, **keys)


_SettingsKeys = _settings_keys()


class Generate(BaseModel):
    """A generated trace: ``preset`` and ``accesses``; every other key goes to the
    generator, which checks it."""
    model_config = ConfigDict(extra="allow", strict=True)
    preset: str
    accesses: int = Field(gt=0)

    @field_validator("preset")
    @classmethod
    def _known(cls, preset):
        if preset not in generators():
            raise ValueError(f"expected one of {', '.join(generators())}")
        return preset

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
    optional: bool = False  # a file that may be absent (third-party data): skipped then

    def file(self, base: Path) -> Path:
        """The trace file of ``path``, a relative one taken from ``base`` (the YAML's
        folder)."""
        return base / self.path

    @model_validator(mode="after")
    def _one_source(self):
        if (self.path is None) == (self.generate is None):
            raise ValueError("give exactly one of 'path' or 'generate'")
        if self.optional and self.path is None:
            raise ValueError("optional: applies to a trace file (path)")
        return self


class Plugin(_Strict):
    name: str
    params: dict = Field(default_factory=dict)


PluginSpec = Union[str, Plugin]


class PaperValue(_Strict):
    """A number the paper reports, matched to the rows whose ``where`` fields are equal.
    With ``relative_to`` it is a ratio: the metric of the ``where`` rows over that of the
    ``relative_to`` rows of the same cell otherwise (1.14: 14% more)."""
    source: str
    metric: Literal[METRICS]
    value: float
    where: dict[Literal[MATCH_KEYS], Any] = Field(default_factory=dict)
    relative_to: dict[Literal[MATCH_KEYS], Any] | None = None
    within: float | None = Field(None, gt=0)  # "close to": |recsim / paper - 1| <= within

    @model_validator(mode="after")
    def _positive_ratio(self):
        if self.relative_to is not None and self.value <= 0:
            raise ValueError(f"value: expected a ratio > 0 with relative_to, got {self.value}")
        if self.within is not None and self.relative_to is None:
            raise ValueError("within: applies to a ratio; add relative_to")
        return self


class Latency(_Strict):
    calibration: str


class ModelSpec(_Strict):
    """A learned model the sweep trains (``models:``); ``params`` are the model's, checked
    by :mod:`recsim.recmg.sweep` before any training."""
    kind: Literal[MODEL_KINDS]
    train_accesses: int = Field(gt=0)
    epochs: int = Field(8, ge=1)
    label_fraction: float = Field(0.8, gt=0, le=1)
    seed: int = Field(0, ge=0)
    threads: int | None = Field(None, ge=1)
    params: dict = Field(default_factory=dict)

    @property
    def uses_buffer(self) -> bool:
        """Whether its labels depend on the buffer (Belady's on it; TransFetch learns from
        the accesses alone)."""
        return self.kind != "transfetch"


class Experiment(_SettingsKeys):
    name: str
    description: str = ""
    traces: list[TraceSpec] = Field(min_length=1)
    plugins: list[str] = Field(default_factory=list)  # one-file plug-ins, beside the YAML
    policies: list[PluginSpec] = Field(default_factory=list)
    prefetchers: list[PluginSpec] = Field(["none"], min_length=1)
    zip: list[list[Literal[AXES]]] = Field(default_factory=list)
    metrics: list[Literal[METRICS]] = Field(["hit_rate"], min_length=1)
    plots: list[Literal[PLOTS]] = Field(default_factory=list)
    tables: list[Literal[TABLES]] = Field(default_factory=list)
    paper: list[PaperValue] = Field(default_factory=list)
    latency: Latency | None = None
    models: dict[str, ModelSpec] = Field(default_factory=dict)
    output: str | None = None
    # Worked out once by check_experiment, not read from the YAML:
    _file: Path | None = PrivateAttr(None)
    _scale: str | None = PrivateAttr(None)
    _calibration: dict | None = PrivateAttr(None)
    _plugins: dict = PrivateAttr(default_factory=dict)  # axis: [Plugin, params resolved]
    _learned: bool = PrivateAttr(False)  # whether a cell replays a model checkpoint
    _store: Path | None = PrivateAttr(None)  # traces and models shared by a collection
    _skipped: list[str] = PrivateAttr(default_factory=list)  # absent optional traces

    @property
    def file(self) -> Path | None:
        return self._file

    @property
    def scale(self) -> str | None:
        return self._scale

    @property
    def calibration(self) -> dict | None:
        """The latency calibration, loaded (None without ``latency``)."""
        return self._calibration

    @property
    def skipped(self) -> list[str]:
        """The ``optional`` traces left out because their file is absent, each a line."""
        return self._skipped

    @property
    def learned(self) -> bool:
        """Whether a cell replays a learned model (a ``models:`` name or a checkpoint)."""
        return self._learned

    def resolved(self, axis: str) -> list[Plugin]:
        """The ``policies`` or ``prefetchers`` with every parameter resolved."""
        return self._plugins[axis]

    def settings(self, **axes) -> ReplaySettings:
        """The replay settings of a cell at these axis values (``capacity``, ``ways``,
        ``seed``, ``sample``), the other settings from the YAML's scalar keys."""
        scalars = {name: getattr(self, name) for name, (_, how) in declared().items()
                   if not how.axis}
        return ReplaySettings(**scalars, **axes)

    def output_dir(self, output=None) -> Path:
        """``output`` (a command-line override), else the YAML's ``output``, else
        :func:`default_output`."""
        return Path(output or self.output or default_output(self.name, self._scale))

    def store_dir(self, output=None) -> Path:
        """Where the sweep keeps its prepared ``traces/`` and trained ``models/``: the
        output folder, or the folder a collection shares among its experiments
        (:mod:`recsim.experiments.collection`)."""
        return self._store or self.output_dir(output)

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
        raise ConfigError(f"{path}: not valid YAML: {gist(exc)}") from None
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
    """Parse and check an experiment YAML at ``scale`` (:func:`check_experiment`)."""
    raw, scale = apply_scale(read_yaml(path), path, scale)
    return check_experiment(raw, path, scale)


def check_experiment(raw, path, scale: str | None = None) -> Experiment:
    """The experiment in ``raw`` (the YAML's content, ``scale`` applied) checked whole:
    schema, replay settings, plug-ins and their parameters, latency calibration. Every
    problem is one ConfigError naming the file and the YAML path. What the checks work out
    stays on the result: the file, the scale, the plug-ins' resolved parameters and the
    loaded calibration."""
    path = Path(path)
    exp = validate(Experiment, raw, path)
    exp._file, exp._scale = path, scale
    _skip_absent(exp)
    checks = [("", None, {})] + [  # an axis given as one value is named without an index
        (f"{key}[{i}]: " if isinstance(raw.get(key), list) else f"{key}: ", field, {field: value})
        for key, field in AXIS_SETTINGS for i, value in enumerate(getattr(exp, key))]
    for where, field, axes in checks:
        try:
            exp.settings(**axes)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {where}{str(exc).removeprefix(f'{field}: ')}") from None
    for i, name in enumerate(exp.plugins):
        try:
            load_plugin_files([path.parent / name])
        except ConfigError as exc:
            raise ConfigError(f"{path}: plugins[{i}]: {exc}") from None
    for key, getter, kind in (("policies", get_policy, "policy"),
                              ("prefetchers", get_prefetcher, "prefetcher")):
        exp._plugins[key] = []
        for i, spec in enumerate(getattr(exp, key)):
            plugin = _plugin(spec)
            try:
                found = getter(plugin.name)
            except ConfigError as exc:
                raise ConfigError(f"{path}: {key}[{i}]: {exc}") from None
            try:
                params = resolve_params(kind, found, plugin.params, where=f"{key}[{i}].params")
            except ConfigError as exc:
                raise ConfigError(f"{path}: {exc}") from None
            params = _checkpoints(exp, f"{key}[{i}].params", f"{kind} '{found.name}'", found,
                                  params)
            _sampled_model(exp, key, i, found, params)
            exp._plugins[key].append(Plugin(name=plugin.name, params=params))
    if exp.latency is not None:
        calibration = path.parent / exp.latency.calibration
        if not calibration.is_file():
            raise ConfigError(f"{path}: latency.calibration: needs a latency calibration, "
                              f"{calibration} does not exist; make it with "
                              "recsim calibrate first")
        try:
            exp._calibration = load_calibration(calibration)
        except ConfigError as exc:
            raise ConfigError(f"{path}: latency.calibration: {exc}") from None
    return exp


def _skip_absent(exp: Experiment) -> None:
    """Drop the ``optional`` traces whose file is absent, each with a warning (and in
    ``exp.skipped``, for the report); an error if no trace is left."""
    kept = []
    for i, spec in enumerate(exp.traces):
        if spec.optional and not (file := spec.file(exp.file.parent)).exists():
            reason = f"traces[{i}] ({spec.name}): {file} is absent, so it is skipped"
            warnings.warn(f"{exp.file}: {reason}", RecsimWarning, stacklevel=3)
            exp._skipped.append(reason)
        else:
            kept.append(spec)
    if not kept:
        raise ConfigError(f"{exp.file}: traces: every trace is an absent optional file")
    exp.traces = kept


def _checkpoints(exp: Experiment, where: str, owner: str, plugin, params: dict) -> dict:
    """``params`` with each checkpoint path (a File parameter naming no model of
    ``models:``) made absolute from the YAML's folder; a model name is checked to be of
    the kind the plug-in takes, with ``eval_after`` past its training span."""
    path, out = exp.file, dict(params)
    for name, value in files_set(plugin, params).items():
        exp._learned = True
        kind, model = plugin.params[name].kind, exp.models.get(value)
        if model is None:
            file = path.parent / value
            if not file.is_file():
                raise ConfigError(f"{path}: {where}.{name}: no model '{value}' under models: "
                                  f"and no file {file}")
            out[name] = str(file.resolve())
        elif model.kind != kind:
            raise ConfigError(f"{path}: {where}.{name}: model '{value}' is a {model.kind} "
                              f"model; {owner} takes a {kind} model")
        elif exp.eval_after < model.train_accesses:
            raise ConfigError(f"{path}: eval_after: {exp.eval_after:,} is inside the training "
                              f"span of model '{value}' ({model.train_accesses:,} accesses): "
                              "learned strategies are judged after it")
    return out


def _sampled_model(exp: Experiment, key: str, i: int, plugin, params: dict) -> None:
    """Refuse, before any work, a plug-in that replays a model in a sampled cell (its
    advice is per access of the full trace): at any rate of ``sample`` below 1, or at its
    own when ``zip`` pairs the two axes."""
    zipped = any(key in group and "sample" in group for group in exp.zip)
    rates = [exp.sample[i]] if zipped else exp.sample
    if files_set(plugin, params) and any(r is not None and r < 1 for r in rates):
        raise ConfigError(f"{exp.file}: {key}[{i}]: {plugin.name} replays a model, which "
                          "cannot be sampled (its advice is per access of the full trace); "
                          f"keep it out of the sampled cells ({'zip' if zipped else 'sample'})")


def _plugin(spec: PluginSpec) -> Plugin:
    return Plugin(name=spec) if isinstance(spec, str) else spec


