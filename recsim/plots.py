"""Figures from result rows (matplotlib, headless)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from recsim.traces.common import atomic_output  # noqa: E402


def hit_rate_vs_capacity(rows: list[dict], out: Path) -> list[Path]:
    """One PNG per (trace, ways, prefetcher): hit rate against buffer size, a line per policy."""
    groups = defaultdict(lambda: defaultdict(list))
    for r in rows:
        groups[(r["trace"], r["requested_ways"], r["prefetcher"])][r["policy"]].append(
            (100 * r["buffer_fraction"], 100 * r["hit_rate"]))
    written = []
    for (trace, ways, prefetcher), lines in groups.items():
        fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
        for policy, points in sorted(lines.items()):
            xs, ys = zip(*sorted(points))
            ax.plot(xs, ys, marker="o", label=policy)
        geometry = "fully associative" if ways == 0 else f"{ways}-way"
        ax.set(xlabel="buffer size (% of unique vectors)", ylabel="hit rate (%)",
               title=f"{trace}: {geometry}, prefetcher {prefetcher}")
        ax.grid(alpha=0.3)
        ax.legend(title="policy")
        fig.tight_layout()
        path = out / f"hit_rate_{trace}_{'fa' if ways == 0 else f'{ways}way'}_{prefetcher}.png"
        with atomic_output(path) as tmp:
            fig.savefig(tmp, format="png")
        plt.close(fig)
        written.append(path)
    return written
