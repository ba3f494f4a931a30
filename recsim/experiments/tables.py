"""The Markdown tables of a sweep's rows: the summary, prefetch statistics (the RecMG
paper's Table IV) and estimated latency (its Fig. 19), and how tables and figures name a
row's strategy."""

from __future__ import annotations


def strategy(row: dict) -> str:
    """A row's strategy as tables and figures name it: ``policy`` or ``policy +
    prefetcher`` (:func:`series_name`)."""
    return series_name(row["policy"] if row["prefetcher"] == "none" else (
        f"{row['policy']} + {row['prefetcher']}"), row)


def series_name(name: str, row: dict) -> str:
    """``name`` with `` (sampled R)`` added for a sampled cell (docs/sampling.md): a sweep's
    full and sampled cells of one strategy are two series, never averaged together."""
    return f"{name} (sampled {row['sample']:g})" if row.get("sample") else name


def latency_table(rows: list[dict]) -> str:
    """The RecMG paper's Fig. 19 as a table: estimated latency per batch (ms) of each
    strategy (rows) at each buffer size (columns), per trace and geometry, seeds
    averaged."""
    return pivot_table(rows, "est_latency_ms", "estimated latency per batch (ms)", 3)


def pivot_table(rows: list[dict], metric: str, what: str, digits: int = 4) -> str:
    """``metric`` of each strategy (rows) at each buffer size (columns), per trace and
    geometry, seeds averaged; ``what`` names it in each table's heading."""
    groups: dict[tuple, dict] = {}
    for r in rows:
        cell = groups.setdefault((r["trace"], r["requested_ways"]), {}).setdefault(
            strategy(r), {})
        cell.setdefault(r["requested_capacity"], []).append(r)
    lines = []
    for (trace, ways), strategies in groups.items():
        sizes = list(dict.fromkeys(c for cells in strategies.values() for c in cells))
        lines += [f"{trace}, {'fully associative' if ways == 0 else f'{ways}-way'}: {what}",
                  "", "| strategy | " + " | ".join(
                      _size_label(strategies, c) for c in sizes) + " |",
                  "|---" * (len(sizes) + 1) + "|"]
        for name, cells in strategies.items():
            values = [_mean_of(cells.get(c, []), metric, digits) for c in sizes]
            lines.append(f"| {name} | " + " | ".join(values) + " |")
        lines.append("")
    return "\n".join(lines)


def _mean_of(rows: list[dict], metric: str, digits: int) -> str:
    values = [r[metric] for r in rows if r.get(metric) is not None]
    return f"{sum(values) / len(values):.{digits}f}" if values else "-"


def _size_label(strategies: dict, capacity) -> str:
    row = next(cells[capacity][0] for cells in strategies.values() if capacity in cells)
    return f"{100 * row['buffer_fraction']:.1f}%"


def prefetch_table(rows: list[dict]) -> str:
    """The RecMG paper's Table IV and Fig. 14 columns, one Markdown row per cell with a
    prefetcher: prefetches issued, useful, unused, late, utilization (useful / issued),
    pollution misses, coverage, and the access breakdown in percent (hit by caching, hit
    by prefetch, late prefetch, on-demand fetch including merged misses: 100 in all);
    with sampled cells, their candidates outside the sample, dropped (docs/sampling.md)."""
    sampled = any(r.get("sample") and r["prefetcher"] != "none" for r in rows)
    lines = ["| trace | buffer | policy + prefetcher | issued | useful | unused | late | "
             "utilization | pollution misses | coverage | hit by caching % | "
             "hit by prefetch % | late prefetch % | on-demand fetch % |"
             + (" unsampled (dropped) |" if sampled else ""), "|---" * (14 + sampled) + "|"]
    for r in rows:
        if r["prefetcher"] == "none":
            continue
        pct = [100 * x / r["accesses"] for x in (
            r["cache_hits"], r["prefetch_hits"], r["late_prefetches"],
            r["on_demand_fetches"] + r["merged_misses"])]
        cells = [r["trace"], f"{100 * r['buffer_fraction']:.1f}%",
                 strategy(r), f"{r['prefetches_issued']:,}",
                 f"{r['prefetches_useful']:,}", f"{r['prefetches_unused']:,}",
                 f"{r['late_prefetches']:,}", number(r["utilization"]),
                 f"{r['pollution_misses']:,}", number(r["coverage"]), *(f"{x:.2f}" for x in pct),
                 *([number(r.get("prefetches_unsampled"))] if sampled else [])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def markdown_table(header: list[str], body: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in body]
    return "\n".join(lines) + "\n"


def number(value) -> str:
    if value is None:
        return "-"
    return f"{value:,}" if isinstance(value, int) else f"{value:.4f}"


def _sampled(row: dict) -> str:
    """How a cell was sampled: no, or its rate and whether it is approximate."""
    if not row.get("sample"):
        return "no"
    return f"{row['sample']:g} ({'exact sets' if row['sample_exact'] else 'approximate'})"


def summary_table(rows: list[dict], metrics: list[str]) -> str:
    seeds = len({r["seed"] for r in rows}) > 1
    span = any(r.get("eval_after") for r in rows)  # metrics read after a warm-up
    sampled = any(r.get("sample") for r in rows)  # sampled replays (docs/sampling.md)
    header = ["trace", "buffer", "ways", "policy", "prefetcher", *(["seed"] if seeds else []),
              *(["counted from access"] if span else []),
              *(["sampled (rate)"] if sampled else []), *metrics]
    body = [[r["trace"], f"{100 * r['buffer_fraction']:.1f}% ({r['capacity']:,})",
             r["requested_ways"] or "full", r["policy"], r["prefetcher"],
             *([r["seed"]] if seeds else []), *([f"{r['eval_after']:,}"] if span else []),
             *([_sampled(r)] if sampled else []), *(number(r.get(m)) for m in metrics)]
            for r in rows]
    return markdown_table(header, body)
