"""Figures from result rows (matplotlib, headless), each written as PNG and SVG.

Every figure function of a report takes the sweep's rows (or its traces) and the output
folder and returns ``(PNG file name, caption)`` for each figure it wrote. Rows of several
seeds are averaged; a series is labelled ``policy`` or ``policy + prefetcher``, and a
sampled one (docs/sampling.md) adds `` (sampled R)`` and is drawn dashed in its strategy's
colour.

One look everywhere (after seaborn's defaults and libCacheSim's plot scripts): each
strategy keeps its colour and marker in every figure (:func:`style`), the optimum
(Belady) is a dashed black bound, LRU the grey baseline, and the learned strategies
(RecMG, CM, TransFetch) the strongest lines; legends sit outside the data, x ticks at the
buffer sizes measured, and figures are sized for a paper (a line plot a column wide, 3.4
in; bar charts two columns, 7 in) with 8-9 pt text.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import functools
import zlib

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from recsim.experiments.latency import estimate_ms  # noqa: E402
from recsim.experiments.tables import series_name, strategy  # noqa: E402
from recsim.files import atomic_output  # noqa: E402

BREAKDOWN = (("hit by caching", "#4C72B0"), ("hit by prefetch", "#55A868"),
             ("late prefetch", "#DD8452"), ("on-demand fetch", "#C44E52"))
# Strategy name -> colour (seaborn's "deep" palette and strong tab10 colours for the
# learned strategies) and, by its place here, marker (two names of one colour differ in
# marker); names not listed take the colour of their prefetcher, else a colour and marker
# by a hash of the name, so a strategy looks the same in every figure.
PALETTE = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3",
           "#CCB974", "#64B5CD")
COLORS = {"belady": "black", "lru": "#7F7F7F", "lfu": "#4C72B0", "fifo": "#DD8452",
          "random": "#CCB974", "srrip": "#55A868", "drrip": "#64B5CD", "hawkeye": "#8172B3",
          "mockingjay": "#DA8BC3", "arc": "#937860", "s3fifo": "#C44E52", "clock": "#8172B3",
          "sieve": "#55A868", "lruk": "#4C72B0", "wtinylfu": "#937860",
          "next_n": "#4C72B0", "stride": "#DD8452", "bop": "#55A868", "berti": "#8172B3",
          "bingo": "#C44E52", "domino": "#64B5CD", "mab": "#DA8BC3", "oracle": "#937860",
          "recmg": "#D62728", "cm": "#1F77B4", "transfetch": "#FF7F0E"}
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h")
LEARNED = ("recmg", "cm", "transfetch")
RC = {"font.size": 9, "axes.titlesize": 9, "axes.labelsize": 9, "legend.fontsize": 8,
      "xtick.labelsize": 8, "ytick.labelsize": 8, "axes.spines.top": False,
      "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3, "legend.frameon": False}
COLUMN, TWO_COLUMNS = 3.4, 7.0  # inches


def style(name: str) -> dict:
    """Colour, marker, line style, width and drawing order of a strategy (see module)."""
    key, sampled, _ = name.lower().partition(" (sampled ")
    parts = [p.strip() for p in key.split("+")]
    h = list(COLORS).index(key) if key in COLORS else zlib.crc32(key.encode())
    color = COLORS.get(key) or COLORS.get(parts[-1]) or PALETTE[h % len(PALETTE)]
    out = {"color": color, "marker": MARKERS[h % len(MARKERS)], "linestyle": "-",
           "linewidth": 1.4, "zorder": 2}
    if key == "belady":
        out.update(linestyle="--", marker="", zorder=4)
    elif any(p in LEARNED for p in parts):
        out.update(linewidth=2.6, zorder=5, marker="o")
    elif key == "lru":
        out.update(marker="s", zorder=3)
    if sampled:
        out.update(linestyle="--")
    return out


def _styled(make):
    """Run a figure function under :data:`RC`."""
    @functools.wraps(make)
    def run(*args, **kwargs):
        with plt.rc_context(RC):
            return make(*args, **kwargs)
    return run


def _figure(width: float, height: float = 2.6, ncols: int = 1):
    return plt.subplots(1, ncols, figsize=(width, height), dpi=200)


def _legend(ax, title: str | None = None) -> None:
    """The legend to the right of the data, outside the axes."""
    ax.legend(title=title, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)


def _save(fig, out: Path, stem: str) -> str:
    for fmt in ("png", "svg"):
        with atomic_output(out / f"{stem}.{fmt}") as tmp:
            fig.savefig(tmp, format=fmt, bbox_inches="tight")
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
        groups[tuple(r.get(k) for k in keys)].append(r)
    return groups


@_styled
def hit_rate_vs_capacity(rows: list[dict], out: Path) -> list[tuple[str, str]]:
    """One figure per (trace, ways, prefetcher): hit rate against buffer size, a line per
    policy."""
    written = []
    for (trace, ways, prefetcher), group in _by(rows, "trace", "requested_ways",
                                                 "prefetcher").items():
        fig, ax = _figure(COLUMN)
        sizes = set()
        for (policy, _), lines in _by(group, "policy", "sample").items():
            points = sorted((100 * _mean(cell, lambda r: r["buffer_fraction"]),
                             100 * _mean(cell, lambda r: r["hit_rate"]))
                            for cell in _by(lines, "requested_capacity").values())
            sizes.update(x for x, _ in points)
            name = series_name(policy, lines[0])
            ax.plot(*zip(*points), label=name, markersize=4, **style(name))
        geometry, tag = _geometry(ways)
        ax.set_xticks(sorted(sizes), [f"{x:.2g}" for x in sorted(sizes)])
        pf = "" if prefetcher == "none" else f", with prefetcher {prefetcher}"
        ax.set(xlabel="buffer size (% of unique vectors)", ylabel="hit rate (%)",
               title=f"{trace}, {geometry}{pf}")
        _legend(ax, "policy")
        written.append((_save(fig, out, f"hit_rate_{trace}_{tag}_{prefetcher}"),
                        f"Hit rate against buffer size on {trace}, {geometry}{pf}; "
                        "Belady (dashed) is the offline optimum."))
    return written


def _grouped_bars(rows: list[dict], out: Path, stem: str, ylabel: str, value,
                  what: str) -> list[tuple[str, str]]:
    """One figure per (trace, ways): a group of bars per buffer size, a bar per series."""
    written = []
    for (trace, ways), group in _by(rows, "trace", "requested_ways").items():
        sizes = list(_by(group, "requested_capacity"))
        series = list(dict.fromkeys(strategy(r) for r in group))
        fig, ax = _figure(TWO_COLUMNS, 2.8)
        width = 0.85 / len(series)
        for k, name in enumerate(series):
            cells = _by([r for r in group if strategy(r) == name], "requested_capacity")
            heights = [_mean(cells.get(size, []), value) for size in sizes]
            look = style(name)
            ax.bar(np.arange(len(sizes)) + (k - (len(series) - 1) / 2) * width, heights,
                   width, label=name, color=look["color"], zorder=2,
                   hatch="//" if look["linestyle"] == "--" else None,
                   edgecolor="white" if look["linestyle"] == "--" else None, linewidth=0)
        fractions = [100 * _mean(_by(group, "requested_capacity")[s],
                                 lambda r: r["buffer_fraction"]) for s in sizes]
        ax.set_xticks(np.arange(len(sizes)), [f"{f:.2g}%" for f in fractions])
        ax.grid(axis="x", visible=False)
        geometry, tag = _geometry(ways)
        ax.set(xlabel="buffer size (% of unique vectors)", ylabel=ylabel,
               title=f"{trace}, {geometry}")
        _legend(ax)
        written.append((_save(fig, out, f"{stem}_{trace}_{tag}"),
                        f"{what} of each strategy at each buffer size on {trace}, {geometry}."))
    return written


@_styled
def hit_rate_bars(rows: list[dict], out: Path) -> list[tuple[str, str]]:
    """Grouped bars: hit rate per policy (+ prefetcher) at every buffer size."""
    return _grouped_bars(rows, out, "hit_rate_bars", "hit rate (%)",
                         lambda r: 100 * r["hit_rate"], "Hit rate")


def _shares(row: dict) -> list[float]:
    return [100 * x / row["accesses"] for x in (
        row["cache_hits"], row["prefetch_hits"], row["late_prefetches"],
        row["on_demand_fetches"] + row["merged_misses"])]


@_styled
def breakdown(rows: list[dict], out: Path) -> list[tuple[str, str]]:
    """The paper's Fig. 14: one figure per (trace, ways, buffer size), a stacked bar per
    policy (+ prefetcher) splitting the accesses into hits by caching, hits by prefetch,
    late prefetches and on-demand fetches (merged misses included)."""
    written = []
    for (trace, ways, size), group in _by(rows, "trace", "requested_ways",
                                          "requested_capacity").items():
        series = _by(group, "policy", "prefetcher", "sample")
        labels = [strategy(cells[0]) for cells in series.values()]
        shares = np.array([np.mean([_shares(r) for r in cells], axis=0)
                           for cells in series.values()])
        fig, ax = _figure(min(TWO_COLUMNS, max(COLUMN, 0.45 * len(labels) + 1.6)), 2.8)
        bottom = np.zeros(len(labels))
        for k, (name, color) in enumerate(BREAKDOWN):
            ax.bar(labels, shares[:, k], bottom=bottom, label=name, color=color, zorder=2)
            bottom += shares[:, k]
        geometry, tag = _geometry(ways)
        fraction = 100 * _mean(group, lambda r: r["buffer_fraction"])
        ax.set(ylabel="accesses (%)", ylim=(0, 100),
               title=f"{trace}, {geometry}, buffer {fraction:.1f}% of unique vectors")
        ax.grid(axis="x", visible=False)
        ax.tick_params(axis="x", labelrotation=35)
        plt.setp(ax.get_xticklabels(), ha="right", rotation_mode="anchor")
        handles, names = ax.get_legend_handles_labels()
        ax.legend(handles[::-1], names[::-1], loc="upper left", bbox_to_anchor=(1.01, 1.0),
                  borderaxespad=0)
        written.append((_save(fig, out, f"breakdown_{trace}_{tag}_{fraction:.1f}pct"),
                        f"Where the accesses went on {trace}, {geometry}, buffer "
                        f"{fraction:.1f}% of unique vectors: hits by caching, hits by prefetch, "
                        "late prefetches and on-demand fetches (merged misses included)."))
    return written


@_styled
def prefetch_quality(rows: list[dict], out: Path) -> list[tuple[str, str]]:
    """The paper's Figs. 9-10: per (trace, ways, buffer size), utilization (useful /
    issued prefetches) and coverage (misses removed against no prefetching) per prefetcher."""
    written = []
    with_pf = [r for r in rows if r["prefetcher"] != "none"]
    for (trace, ways, size), group in _by(with_pf, "trace", "requested_ways",
                                          "requested_capacity").items():
        series = _by(group, "policy", "prefetcher", "sample")
        labels = [strategy(cells[0]) for cells in series.values()]
        fig, axes = _figure(TWO_COLUMNS, 2.8, ncols=2)
        for ax, key, title in ((axes[0], "utilization", "utilization (useful / issued)"),
                               (axes[1], "coverage", "coverage (misses removed)")):
            ax.bar(labels, [100 * _mean(cells, lambda r: r[key]) for cells in series.values()],
                   color=[style(name)["color"] for name in labels], zorder=2)
            ax.axhline(0, color="black", linewidth=0.8)
            ax.set(ylabel="%", title=title)
            ax.grid(axis="x", visible=False)
            ax.tick_params(axis="x", labelrotation=35)
            plt.setp(ax.get_xticklabels(), ha="right", rotation_mode="anchor")
        geometry, tag = _geometry(ways)
        fraction = 100 * _mean(group, lambda r: r["buffer_fraction"])
        written.append((_save(fig, out, f"prefetch_quality_{trace}_{tag}_{fraction:.1f}pct"),
                        f"Prefetch utilization (useful / issued) and coverage (misses removed "
                        f"against no prefetching) on {trace}, {geometry}, buffer "
                        f"{fraction:.1f}% of unique vectors."))
    return written


@_styled
def reuse_distance(histograms: dict[str, dict], out: Path) -> list[tuple[str, str]]:
    """The paper's Fig. 3: the share of accesses per log2 bin of reuse distance (distinct
    vectors since the previous access of the same vector), a line per trace."""
    fig, ax = _figure(COLUMN)
    for name, hist in histograms.items():
        total = sum(hist["counts"].values()) + hist["first_accesses"]
        bounds = [[int(x) for x in label.split(",")] for label in hist["counts"]]
        edges = [lo + 1 for lo, _ in bounds] + [bounds[-1][1] + 1]
        ax.stairs([100 * c / total for c in hist["counts"].values()], edges,
                  label=f"{name} ({100 * hist['first_accesses'] / total:.1f}% first accesses)")
    ax.set_xscale("log", base=2)
    ax.set(xlabel="reuse distance + 1 (distinct vectors, log2 bins)", ylabel="accesses (%)")
    _legend(ax)
    return [(_save(fig, out, "reuse_distance"),
             "Share of accesses per reuse distance (distinct vectors since the previous "
             "access of the same vector), log2 bins, per trace.")]


@_styled
def latency(rows: list[dict], out: Path, calibration: dict) -> list[tuple[str, str]]:
    """The paper's Fig. 19: estimated inference latency per batch, ``a + b * miss_rate`` from
    a calibration of the TorchRec harness, against buffer size, a line per series."""
    written = []
    for (trace, ways), group in _by(rows, "trace", "requested_ways").items():
        fig, ax = _figure(COLUMN)
        sizes = set()
        for _, lines in _by(group, "policy", "prefetcher", "sample").items():
            points = sorted((100 * _mean(cell, lambda r: r["buffer_fraction"]),
                             _mean(cell, lambda r: estimate_ms(calibration, r["miss_ratio"])))
                            for cell in _by(lines, "requested_capacity").values())
            sizes.update(x for x, _ in points)
            name = strategy(lines[0])
            ax.plot(*zip(*points), label=name, markersize=4, **style(name))
        geometry, tag = _geometry(ways)
        ax.set_xticks(sorted(sizes), [f"{x:.2g}" for x in sorted(sizes)])
        ax.set(xlabel="buffer size (% of unique vectors)",
               ylabel="est. latency per batch (ms)")
        _legend(ax)
        written.append((_save(fig, out, f"latency_{trace}_{tag}"),
                        f"Estimated inference latency per batch on {trace}, {geometry}, from "
                        f"the {calibration.get('device', 'calibrated')} latency calibration "
                        "(a + b x miss rate)."))
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
