"""Figures from result rows (matplotlib, headless), each written as PNG and SVG.

Every function takes the sweep's rows (or its traces) and the output folder and returns
the PNG file names it wrote. Rows of several seeds are averaged; a series is labelled
``policy`` or ``policy + prefetcher``.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from recsim.experiments.latency import estimate_ms  # noqa: E402
from recsim.experiments.tables import strategy  # noqa: E402
from recsim.files import atomic_output  # noqa: E402

BREAKDOWN = (("hit by caching", "#4C72B0"), ("hit by prefetch", "#55A868"),
             ("late prefetch", "#DD8452"), ("on-demand fetch", "#C44E52"))


def _save(fig, out: Path, stem: str) -> str:
    fig.tight_layout()
    for fmt in ("png", "svg"):
        with atomic_output(out / f"{stem}.{fmt}") as tmp:
            fig.savefig(tmp, format=fmt)
    plt.close(fig)
    return f"{stem}.png"


def _geometry(ways: int) -> tuple[str, str]:
    return ("fully associative", "fa") if ways == 0 else (f"{ways}-way", f"{ways}way")


def _mean(rows: list[dict], value) -> float:
    values = [value(r) for r in rows]
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else float("nan")


def _by(rows, *keys) -> dict:
    groups = defaultdict(list)
    for r in rows:
        groups[tuple(r[k] for k in keys)].append(r)
    return groups


def hit_rate_vs_capacity(rows: list[dict], out: Path) -> list[str]:
    """One figure per (trace, ways, prefetcher): hit rate against buffer size, a line per
    policy."""
    written = []
    for (trace, ways, prefetcher), group in _by(rows, "trace", "requested_ways",
                                                 "prefetcher").items():
        fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
        for policy, lines in sorted(_by(group, "policy").items()):
            points = sorted((100 * _mean(cell, lambda r: r["buffer_fraction"]),
                             100 * _mean(cell, lambda r: r["hit_rate"]))
                            for cell in _by(lines, "requested_capacity").values())
            ax.plot(*zip(*points), marker="o", label=policy[0])
        geometry, tag = _geometry(ways)
        ax.set(xlabel="buffer size (% of unique vectors)", ylabel="hit rate (%)",
               title=f"{trace}: {geometry}, prefetcher {prefetcher}")
        ax.grid(alpha=0.3)
        ax.legend(title="policy")
        written.append(_save(fig, out, f"hit_rate_{trace}_{tag}_{prefetcher}"))
    return written


def _grouped_bars(rows: list[dict], out: Path, stem: str, ylabel: str, value) -> list[str]:
    """One figure per (trace, ways): a group of bars per buffer size, a bar per series."""
    written = []
    for (trace, ways), group in _by(rows, "trace", "requested_ways").items():
        sizes = list(_by(group, "requested_capacity"))
        series = list(dict.fromkeys(strategy(r) for r in group))
        fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(sizes) * len(series) / 3), 4), dpi=120)
        width = 0.8 / len(series)
        for k, name in enumerate(series):
            cells = _by([r for r in group if strategy(r) == name], "requested_capacity")
            heights = [_mean(cells.get(size, []), value) for size in sizes]
            ax.bar(np.arange(len(sizes)) + (k - (len(series) - 1) / 2) * width, heights,
                   width, label=name)
        fractions = [100 * _mean(_by(group, "requested_capacity")[s],
                                 lambda r: r["buffer_fraction"]) for s in sizes]
        ax.set_xticks(np.arange(len(sizes)), [f"{f:.1f}%" for f in fractions])
        geometry, tag = _geometry(ways)
        ax.set(xlabel="buffer size (% of unique vectors)", ylabel=ylabel,
               title=f"{trace}: {geometry}")
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize="small", ncols=2)
        written.append(_save(fig, out, f"{stem}_{trace}_{tag}"))
    return written


def hit_rate_bars(rows: list[dict], out: Path) -> list[str]:
    """Grouped bars: hit rate per policy (+ prefetcher) at every buffer size."""
    return _grouped_bars(rows, out, "hit_rate_bars", "hit rate (%)",
                         lambda r: 100 * r["hit_rate"])


def _shares(row: dict) -> list[float]:
    return [100 * x / row["accesses"] for x in (
        row["cache_hits"], row["prefetch_hits"], row["late_prefetches"],
        row["on_demand_fetches"] + row["merged_misses"])]


def breakdown(rows: list[dict], out: Path) -> list[str]:
    """The paper's Fig. 14: one figure per (trace, ways, buffer size), a stacked bar per
    policy (+ prefetcher) splitting the accesses into hits by caching, hits by prefetch,
    late prefetches and on-demand fetches (merged misses included)."""
    written = []
    for (trace, ways, size), group in _by(rows, "trace", "requested_ways",
                                          "requested_capacity").items():
        series = _by(group, "policy", "prefetcher")
        labels = [strategy(cells[0]) for cells in series.values()]
        shares = np.array([np.mean([_shares(r) for r in cells], axis=0)
                           for cells in series.values()])
        fig, ax = plt.subplots(figsize=(max(5, 0.9 * len(labels) + 2), 4), dpi=120)
        bottom = np.zeros(len(labels))
        for k, (name, color) in enumerate(BREAKDOWN):
            ax.bar(labels, shares[:, k], bottom=bottom, label=name, color=color)
            bottom += shares[:, k]
        geometry, tag = _geometry(ways)
        fraction = 100 * _mean(group, lambda r: r["buffer_fraction"])
        ax.set(ylabel="accesses (%)", ylim=(0, 100),
               title=f"{trace}: {geometry}, buffer {fraction:.1f}% of unique vectors")
        ax.tick_params(axis="x", labelrotation=30)
        ax.legend(fontsize="small", loc="lower right")
        written.append(_save(fig, out, f"breakdown_{trace}_{tag}_{fraction:.1f}pct"))
    return written


def prefetch_quality(rows: list[dict], out: Path) -> list[str]:
    """The paper's Figs. 9-10: per (trace, ways, buffer size), utilization (useful /
    issued prefetches) and coverage (misses removed against no prefetching) per prefetcher."""
    written = []
    with_pf = [r for r in rows if r["prefetcher"] != "none"]
    for (trace, ways, size), group in _by(with_pf, "trace", "requested_ways",
                                          "requested_capacity").items():
        series = _by(group, "policy", "prefetcher")
        labels = [strategy(cells[0]) for cells in series.values()]
        fig, axes = plt.subplots(1, 2, figsize=(max(7, 1.2 * len(labels) + 3), 4), dpi=120)
        for ax, key, title in ((axes[0], "utilization", "utilization (useful / issued)"),
                               (axes[1], "coverage", "coverage (misses removed)")):
            ax.bar(labels, [100 * _mean(cells, lambda r: r[key]) for cells in series.values()])
            ax.axhline(0, color="black", linewidth=0.8)
            ax.set(ylabel="%", title=title)
            ax.tick_params(axis="x", labelrotation=30)
            ax.grid(axis="y", alpha=0.3)
        geometry, tag = _geometry(ways)
        fraction = 100 * _mean(group, lambda r: r["buffer_fraction"])
        fig.suptitle(f"{trace}: {geometry}, buffer {fraction:.1f}% of unique vectors")
        written.append(_save(fig, out, f"prefetch_quality_{trace}_{tag}_{fraction:.1f}pct"))
    return written


def reuse_distance(histograms: dict[str, dict], out: Path) -> list[str]:
    """The paper's Fig. 3: the share of accesses per log2 bin of reuse distance (distinct
    vectors since the previous access of the same vector), a line per trace."""
    fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
    for name, hist in histograms.items():
        total = sum(hist["counts"].values()) + hist["first_accesses"]
        bounds = [[int(x) for x in label.split(",")] for label in hist["counts"]]
        edges = [lo + 1 for lo, _ in bounds] + [bounds[-1][1] + 1]
        ax.stairs([100 * c / total for c in hist["counts"].values()], edges,
                  label=f"{name} ({100 * hist['first_accesses'] / total:.1f}% first accesses)")
    ax.set_xscale("log", base=2)
    ax.set(xlabel="reuse distance + 1 (distinct vectors, log2 bins)",
           ylabel="accesses (%)", title="reuse distance")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return [_save(fig, out, "reuse_distance")]


def latency(rows: list[dict], out: Path, calibration: dict) -> list[str]:
    """The paper's Fig. 19: estimated inference latency per batch, ``a + b * miss_rate`` from
    a calibration of the TorchRec harness, against buffer size, a line per series."""
    written = []
    for (trace, ways), group in _by(rows, "trace", "requested_ways").items():
        fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
        for _, lines in _by(group, "policy", "prefetcher").items():
            points = sorted((100 * _mean(cell, lambda r: r["buffer_fraction"]),
                             _mean(cell, lambda r: estimate_ms(calibration, r["miss_ratio"])))
                            for cell in _by(lines, "requested_capacity").values())
            ax.plot(*zip(*points), marker="o", label=strategy(lines[0]))
        geometry, tag = _geometry(ways)
        ax.set(xlabel="buffer size (% of unique vectors)",
               ylabel="estimated latency per batch (ms)",
               title=f"{trace}: {geometry} ({calibration.get('device', 'calibrated')})")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
        written.append(_save(fig, out, f"latency_{trace}_{tag}"))
    return written


def calibration(cal: dict, out: Path, stem: str) -> str:
    """The RecMG paper's Fig. 18: measured median latency per batch (bars: 10th to 90th
    percentile) against the miss rate, and the fitted line ``a + b * miss_rate``."""
    points = sorted(cal["points"], key=lambda p: p["miss_rate"])
    x = np.array([100 * p["miss_rate"] for p in points])
    y = np.array([1e3 * p["median_s"] for p in points])
    err = np.array([[1e3 * (p["median_s"] - p["p10_s"]) for p in points],
                    [1e3 * (p["p90_s"] - p["median_s"]) for p in points]])
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    ax.errorbar(x, y, yerr=err, fmt="o", capsize=3, label="measured (median, p10-p90)")
    ends = np.array([0.0, 1.0])
    ax.plot(100 * ends, 1e3 * (cal["a"] + cal["b"] * ends), "--",
            label=f"fit: {1e3 * cal['a']:.3f} + {1e3 * cal['b']:.3f} x miss rate ms "
                  f"(R² {cal['r2']:.3f})")
    sizes = cal["sizes"]
    ax.set(xlabel="buffer miss rate (%)", ylabel="latency per batch (ms)",
           title=f"{cal['backend']} on {cal['device']}\n{sizes['tables']} tables x "
                 f"{sizes['rows']:,} rows x dim {sizes['dim']}, {sizes['samples']} samples, "
                 f"{sizes['lookups_per_batch']:,} lookups per batch")
    ax.title.set_fontsize("small")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return _save(fig, out, stem)


def miss_ratio_curve(curve: dict, out: Path, stem: str) -> str:
    """A fully associative LRU miss-ratio curve (:mod:`recsim.engine.mrc`) against buffer size."""
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    ax.plot([100 * f for f in curve["fraction"]], curve["miss_ratio"], marker=".")
    how = "exact" if curve["rate"] == 1 else f"SHARDS, rate {curve['rate']:g}"
    ax.set(xlabel=f"buffer size (% of {curve['unique']:,} unique vectors)",
           ylabel="miss ratio", ylim=(0, 1.02),
           title=f"fully associative LRU miss-ratio curve ({how})")
    ax.grid(alpha=0.3)
    return _save(fig, out, stem)
