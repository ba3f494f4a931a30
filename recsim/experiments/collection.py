"""A collection: one YAML that runs several experiment files into one results folder, with
an index page (the RecMG paper's figures: ``experiments/paper.yaml``)::

    name: paper
    description: one paragraph for the index     # optional
    kind: collection
    experiments: [fig08_cache_hits.yaml, fig13_buffer_sweep.yaml]   # relative to this YAML
    output: results/paper                         # default results/<name>[_<scale>]

``recsim run paper.yaml [--scale S]`` loads every member at scale ``S`` and checks them all
before anything runs (:func:`load_collection`). Each member writes its results to
``OUTPUT/<member name>/`` (its own ``output:`` is not used). The members keep their traces
and trained models in the shared ``OUTPUT/traces`` and ``OUTPUT/models``, so a model that two
members replay (the same configuration, trace and buffer) is trained once; a trace name that
two members give different sources is therefore an error. Last, :func:`write_index` writes
``index.md`` and ``index.html``: every member's report, cells and run time, and the
paper-vs-recsim entries of all members in one table.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import Field

from recsim.errors import ConfigError
from recsim.experiments.report import PAPER_NOTE, paper_table, write_page
from recsim.experiments.schema import (Experiment, _Strict, apply_scale, check_experiment,
                                       default_output, read_yaml, validate)


class Collection(_Strict):
    name: str
    description: str = ""
    kind: Literal["collection"]
    experiments: list[str] = Field(min_length=1)
    output: str | None = None


def is_collection(raw) -> bool:
    return isinstance(raw, dict) and raw.get("kind") == "collection"


def load_collection(path, raw: dict, scale: str | None, output=None
                    ) -> tuple[Collection, Path, list[Experiment]]:
    """The collection in ``raw`` (the YAML at ``path``), its output folder (``output``, else
    its own, else :func:`~recsim.experiments.schema.default_output`) and its members,
    loaded at ``scale`` and checked, each keeping its traces and models in that folder.
    Every problem is one ConfigError naming the file and the YAML path."""
    path = Path(path)
    coll = validate(Collection, raw, path)
    out = Path(output or coll.output or default_output(coll.name, scale))
    members, sources = [], {}
    for i, name in enumerate(coll.experiments):
        file = path.parent / name
        try:
            exp = _member(file, scale)
        except ConfigError as exc:
            raise ConfigError(f"{path}: experiments[{i}]: {exc}") from None
        if any(m.name == exp.name for m in members):
            raise ConfigError(f"{path}: experiments[{i}]: a second experiment named "
                              f"{exp.name!r} (each writes OUTPUT/<name>)")
        for spec in exp.traces:
            source = _source(spec, file.parent)
            first = sources.setdefault(spec.name, (source, file))
            if first[0] != source:
                raise ConfigError(f"{path}: experiments[{i}]: trace {spec.name!r} of {file} "
                                  f"differs from the one of that name in {first[1]}; the "
                                  "members share their traces, so give it another name")
        exp._store = out
        members.append(exp)
    return coll, out, members


def _member(file: Path, scale: str | None) -> Experiment:
    raw = read_yaml(file)
    if isinstance(raw, dict) and raw.get("kind") is not None:
        raise ConfigError(f"{file}: kind: {raw['kind']!r}; a collection runs sweeps")
    raw, scale = apply_scale(raw, file, scale)
    return check_experiment(raw, file, scale)


def _source(spec, base: Path) -> dict:
    """What a trace entry reads: the resolved file with its format and options, or the
    generator request."""
    if spec.generate is not None:
        return {"generate": spec.generate.model_dump()}
    return {"path": str(spec.file(base).resolve()), "format": spec.format,
            "options": spec.options}


def write_index(out: Path, coll: Collection, members: list[Experiment],
                seconds: dict[str, float]) -> tuple[Path, Path]:
    """``index.md`` and ``index.html`` in ``out`` (see module), from each member's
    ``experiment.json``; ``seconds`` is each member's run time by name."""
    rows, paper, figure = [], [], []
    for exp in members:
        info = json.loads((out / exp.name / "experiment.json").read_text())
        rows.append(f"| [{exp.name}]({exp.name}/report.html) | {info['scale'] or '-'} | "
                    f"{info['cells']} | {info['computed']} | {seconds[exp.name]:.0f} s |")
        paper += info["paper"]
        figure += [exp.name] * len(info["paper"])
    verdicts = [p["verdict"] for p in paper]
    about = [coll.description.strip() + "\n"] if coll.description else []
    parts = [f"# {coll.name}\n", *about,
             f"{len(members)} experiments, {sum(seconds.values()) / 60:.1f} min in this run.\n",
             "| experiment | scale | cells | computed in this run | run time |\n"
             "|---|---|---|---|---|",
             *rows, ""]
    if paper:
        parts += ["## Paper vs recsim\n",
                  f"{len(paper)} paper values: {verdicts.count('holds')} claims hold, "
                  f"{verdicts.count('does not hold')} do not hold, "
                  f"{verdicts.count('-')} are values shown beside recsim's (no claim to "
                  f"check), {verdicts.count('no value here')} have no value here.\n",
                  PAPER_NOTE, paper_table(paper, figure)]
    return write_page(out / "index", "\n".join(parts))
