"""The outputs of a finished run beside its table: the tables and figures its experiment
asks for, ``experiment.json`` (what was run, and the file names of every table and
figure), and the report, ``report.md`` and ``report.html`` (the same content; the HTML is
rendered from the Markdown with Python-Markdown).

``recsim report RESULTS_DIR`` rebuilds the report from ``experiment.json`` and
``results.json``, for example after editing a figure by hand. The report holds: what was
run (file, scale, code version, cells computed and reused), the summary table (one row
per cell, the experiment's ``metrics`` as columns), a paper-vs-recsim table where the
experiment declares ``paper`` values (:func:`paper_comparison`), the further tables, and
every figure.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path

import markdown

from recsim.errors import ConfigError
from recsim.experiments.schema import MATCH_KEYS
from recsim.experiments.tables import (
    latency_table,
    markdown_table,
    number,
    pivot_table,
    prefetch_table,
    summary_table,
)
from recsim.files import atomic_output


def write_outputs(out: Path, exp, rows: list[dict], histograms: dict[str, dict],
                  meta: dict) -> None:
    """Tables, figures, ``experiment.json`` and the report of a sweep (see module):
    ``exp`` is the checked experiment, ``histograms`` the reuse-distance histogram of each
    trace by name (for the ``reuse_distance`` figure)."""
    tables = []
    for kind, make in (("prefetch", prefetch_table), ("latency", latency_table)):
        if kind in exp.tables:
            with atomic_output(out / f"{kind}_table.md") as tmp:
                tmp.write_text(make(rows))
            tables.append(f"{kind}_table.md")
    figures = []
    if exp.plots:
        from recsim.experiments import (
            plots,  # matplotlib: imported only when a figure is asked for
        )
    for plot in exp.plots:
        if plot == "reuse_distance":
            figures += plots.reuse_distance(histograms, out)
        elif plot == "latency":
            figures += plots.latency(rows, out, exp.calibration)
        else:
            figures += getattr(plots, plot)(rows, out)
    info = {"name": exp.name, "description": exp.description, **meta,
            "metrics": exp.metrics, "tables": tables, "figures": [f for f, _ in figures],
            "captions": dict(figures),
            "paper": paper_comparison([p.model_dump() for p in exp.paper], rows)}
    with atomic_output(out / "experiment.json") as tmp:
        tmp.write_text(json.dumps(info, indent=1))
    write_report(out)


def _matches(row: dict, where: dict) -> bool:
    return all(row.get(k) == v for k, v in where.items())


def paper_comparison(paper: list[dict], rows: list[dict]) -> list[dict]:
    """Each paper value with recsim's, their ratio and a verdict.

    An absolute value is compared with the mean of its metric over the rows ``where``
    matches. A ratio (``relative_to``) with the geometric mean, over the cells found on
    both sides, of ``metric(where row) / metric(relative_to row)``, the two rows paired by
    every cell key neither names (trace, size, ways, seed, ...); it *holds* when recsim's
    ratio lies on the same side of 1 as the paper's (the ordering the paper claims), or,
    with ``within`` (a claim of closeness), when it is within that fraction of the paper's."""
    out = []
    for ref in paper:
        metric, base = ref["metric"], ref.get("relative_to")
        match = [r for r in rows if _matches(r, ref["where"]) and r.get(metric) is not None]
        verdict, recsim = "-", None
        if base is None:
            values = [r[metric] for r in match]
            recsim = sum(values) / len(values) if values else None
        else:
            free = [k for k in MATCH_KEYS if k not in ref["where"] and k not in base]
            cell = {tuple(r.get(k) for k in free): r[metric] for r in rows
                    if _matches(r, base) and r.get(metric)}
            values = [r[metric] / cell[key] for r in match
                      if r[metric] > 0 and (key := tuple(r.get(k) for k in free)) in cell]
            if values:
                recsim = math.exp(sum(map(math.log, values)) / len(values))
                if ref.get("within") is not None:
                    holds = abs(recsim / ref["value"] - 1) <= ref["within"]
                else:
                    holds = (recsim - 1) * (ref["value"] - 1) > 0 or recsim == ref["value"]
                verdict = "holds" if holds else "does not hold"
        if not values:
            verdict = "no value here"
        out.append({**ref, "rows": len(values), "recsim": recsim, "verdict": verdict,
                    "ratio": None if recsim is None else recsim / ref["value"]})
    return out


def _where(where: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in where.items()) or "all"


def report_markdown(out: Path) -> str:
    """The report of the run in ``out`` as Markdown."""
    try:
        info = json.loads((out / "experiment.json").read_text())
    except (OSError, ValueError):
        raise ConfigError(f"{out}: not a results folder of recsim run "
                          "(no readable experiment.json)") from None
    parts = [f"# {info['name']}\n"]
    if info.get("description"):
        parts.append(info["description"].strip() + "\n")
    parts.append(f"Run of `{info['file']}` (scale {info.get('scale') or 'default'}) with "
                 f"recsim {info['version']} (git {info.get('git_commit') or 'unknown'})"
                 + (f"; {_cells(info['cells'], info['computed'])}" if "cells" in info else "")
                 + ".\n")
    parts += [f"Skipped: {line}.\n" for line in info.get("skipped", [])]
    rows_path = out / "results.json"
    rows = json.loads(rows_path.read_text()) if rows_path.exists() else []
    if info.get("metrics") and rows:
        metric = info["metrics"][0]
        what = _PIVOT.get(metric, metric)
        parts += [f"## {what[0].upper() + what[1:]} by strategy and buffer size\n",
                  pivot_table(rows, metric, what),
                  "## Results\n", summary_table(rows, info["metrics"])]
    if info.get("paper"):
        parts += ["## Paper vs recsim\n", PAPER_NOTE, paper_table(info["paper"])]
    for name in info.get("tables", []):
        parts += [f"## {name}\n", (out / name).read_text()]
    if info.get("figures"):
        parts.append("## Figures\n")
        captions = info.get("captions", {})
        parts += [f"![{Path(f).stem}]({f})\n\n*Figure {i}. {captions.get(f, Path(f).stem)}*\n"
                  for i, f in enumerate(info["figures"], 1)]
    return "\n".join(parts)


PAPER_NOTE = ("A ratio compares the rows left of the slash with those right of it, cell by "
              "cell (geometric mean); its verdict says whether recsim finds the ordering the "
              "paper claims (or, for a claim of closeness, a ratio that close).\n")


def paper_table(paper: list[dict], figure: list[str] | None = None) -> str:
    """The paper-vs-recsim table of :func:`paper_comparison`'s entries (with a first
    column ``figure``, the experiment of each entry, when given)."""
    body = [[*([figure[i]] if figure else []), p["source"],
             _where(p["where"]) + (f" / {_where(p['relative_to'])}"
                                   if p.get("relative_to") else ""),
             _metric(p), number(p["value"]), number(p["recsim"]), number(p.get("ratio")),
             p.get("verdict", "-")] for i, p in enumerate(paper)]
    return markdown_table([*(["experiment"] if figure else []), "source", "where", "metric",
                           "paper", "recsim", "recsim / paper", "verdict"], body)


def _metric(p: dict) -> str:
    if p.get("within") is not None:
        return f"{p['metric']} ratio (within {p['within']:.0%})"
    return p["metric"] + (" ratio" if p.get("relative_to") else "")


_PIVOT = {"hit_rate": "hit rate", "est_latency_ms": "estimated latency per batch (ms)"}


def _cells(cells: int, computed: int) -> str:
    """How many cells the run computed and how many it took from the results store."""
    if computed == cells:
        return f"{cells} cells, all computed in this run"
    if computed == 0:
        return f"{cells} cells, all reused from the results store"
    return (f"{cells} cells: {computed} computed in this run, {cells - computed} reused "
            "from the results store")


def write_report(out: Path) -> tuple[Path, Path]:
    """Write ``report.md`` and ``report.html`` in ``out``; return their paths."""
    return write_page(Path(out) / "report", report_markdown(Path(out)))


def write_page(stem: Path, text: str) -> tuple[Path, Path]:
    """Write the Markdown ``text`` to ``STEM.md`` and, rendered, to ``STEM.html``."""
    body = markdown.markdown(text, extensions=["tables"])
    title = html.escape(text.splitlines()[0].lstrip("# "))
    page = (f"<!doctype html>\n<html><head><meta charset='utf-8'><title>{title}</title>\n"
            "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}"
            "table{border-collapse:collapse;font-size:90%}td,th{border:1px solid #ccc;"
            "padding:2px 6px;text-align:right}img{max-width:100%}</style></head>\n"
            f"<body>\n{body}\n</body></html>\n")
    md, page_path = stem.with_suffix(".md"), stem.with_suffix(".html")
    with atomic_output(md) as tmp:
        tmp.write_text(text)
    with atomic_output(page_path) as tmp:
        tmp.write_text(page)
    return md, page_path
