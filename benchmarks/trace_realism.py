"""How meta-like traces compare with Meta's 2021 files, and how fast the statistics are.

    python benchmarks/trace_realism.py [--accesses N] [--seed S] [--compare]

Generates a meta-like trace of N accesses under ``--workdir`` (kept for reuse), then prints
a Markdown table: unique fraction and both reuse-count histograms against the 2021 ``_N``
files (``../shared/data/real/locality_stats.json``; the 2021 column is left out when that
file is absent), the share of accesses with reuse distance > 2**20 and > the scaled
threshold ``2**20 * N / 468,084,223`` (the scale rule of ``recsim.traces.meta_like``),
fully associative LRU and Belady hit rates at a 10% buffer, and the most-frequent-successor
accuracy. ``--compare`` adds the same accuracy for the trace shuffled (same popularity, no
order) and for Zipf traces of the same size (alpha 0.8 and 1.0, one table of 1M rows, the
``recsim trace gen zipf`` defaults), and the time of ``trace_stats`` on the trace.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from recsim import simulate
from recsim.traces import load_trace, meta_like, zipf
from recsim.traces.native import is_native
from recsim.traces.stats import (FAR_DISTANCE, reuse_count_histograms, reuse_distances,
                                 successor_accuracy, trace_stats)

LOCALITY = Path(__file__).resolve().parents[2] / "shared/data/real/locality_stats.json"
REFERENCE = "fbgemm_t856_bs65536_0.pt"


def timed(label, fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    print(f"  {label}: {time.perf_counter() - start:.1f} s", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accesses", type=int, default=40_000_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--compare", action="store_true")
    ap.add_argument("--workdir", type=Path, default=Path("results/bench"))
    args = ap.parse_args()
    n = args.accesses
    path = args.workdir / f"meta_like_{n}_s{args.seed}.trace"
    if not is_native(path):
        timed("generate", meta_like.generate, n, seed=args.seed, path=path)
    trace = load_trace(path)
    vid = timed("dense ids", lambda: trace.vid)
    u = trace.n_unique
    hist = timed("reuse counts", reuse_count_histograms, vid, u)
    distances = timed("reuse distances", reuse_distances, vid, u)
    scaled = FAR_DISTANCE * n / meta_like.FULL_SCALE
    far = {"> 2^20": float(np.mean(distances > FAR_DISTANCE)),
           f"> {scaled:,.0f} (scaled)": float(np.mean(distances > scaled))}
    del distances
    lru = timed("LRU 10%", simulate, trace, "lru", 0.1, ways=0).hit_rate
    belady = timed("Belady 10%", simulate, trace, "belady", 0.1, ways=0).hit_rate
    succ = {"meta-like": timed("successor", successor_accuracy, vid, trace.table, u)}
    if args.compare:
        shuffled = np.random.default_rng(0).permutation(n)
        succ["meta-like shuffled"] = successor_accuracy(vid[shuffled],
                                                        np.asarray(trace.table)[shuffled], u)
        del shuffled
        for alpha in (0.8, 1.0):
            z = zipf.generate(n, alpha=alpha)
            succ[f"zipf({alpha}), 1M rows"] = successor_accuracy(z.vid, z.table, z.n_unique)
        del z
        timed("trace_stats (all statistics)", trace_stats, trace)

    ref = json.loads(LOCALITY.read_text())[REFERENCE] if LOCALITY.exists() else None
    head = "| statistic | meta-like |" + (" 2021 `_N` |" if ref else "")
    print(f"\nmeta-like, {n:,} accesses, seed {args.seed}\n\n{head}\n|---|---:|"
          + ("---:|" if ref else ""))

    def row(label, value, want=None):
        print(f"| {label} | {value} |" + (f" {want} |" if ref else ""))

    row("unique fraction", f"{hist['unique_fraction']:.4f}",
        ref and f"{ref['num_unique'] / ref['num_indices']:.4f}")
    for key, what in (("frac_of_unique_by_reuse_count", "unique"),
                      ("frac_of_accesses_by_reuse_count", "accesses")):
        for label, value in hist[key].items():
            row(f"share of {what}, reuse count {label}", f"{value:.3f}",
                ref and f"{ref[key][label]:.3f}")
    for label, value in far.items():
        row(f"accesses with reuse distance {label}", f"{value:.3f}", ref and "about 0.2")
    row("LRU / Belady hit rate, 10% buffer, fully associative",
        f"{lru:.4f} / {belady:.4f} (x{belady / lru:.2f})", ref and "-")
    for label, value in succ.items():
        row(f"most-frequent-successor accuracy, {label}", f"{value:.4f}", ref and "-")


if __name__ == "__main__":
    main()
