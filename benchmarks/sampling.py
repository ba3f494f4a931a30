"""Error and speed of sampled miss-ratio curves (recsim.engine.sample) against full replays.

    python benchmarks/sampling.py [--traces zipf meta-like sessions amazon]
        [--accesses 10000000] [--rates 0.1 0.01 0.001] [--sizes 1% 2% 5% 10% 20% 30%]
        [--ways 0] [--policies ...] [--full-policies ...] [--salt 0] [--json OUT.json]
        [--figure OUT.png --figure-policies lru s3fifo arc --figure-rate 0.01]
    python benchmarks/sampling.py --pivot OUT.json ...   # the docs' table of earlier runs

For each trace (``amazon``: the real Amazon Video trace of /work/shared/data/real at its
574K accesses; the others generated with ``--accesses`` accesses and kept under
``--workdir``) and policy: a full replay per size (timed, its compile excluded: the loop
is compiled or loaded by a first replay), then :func:`recsim.engine.sample.sampled_mrc`
at each rate (timed wall-clock: the samples of all sizes built in one pass, for the
first policy, and shared by the others as ``recsim mrc --policy a,b,c`` shares them;
then a replay per size, with the same compiled loop as the full replays). Prints, per trace,
policy and rate, the mean and max absolute miss-ratio error over the sizes, and per
trace the total time of the full replays against the sampled curves' at each rate.

Policies outside ``--full-policies`` (default: all) get no full replays and no error
rows: their full time is extrapolated from the mean time of a full replay of those that
have them (stated in the output), for the speed claim on a large trace.
``--figure``: the full and sampled curves of ``--figure-policies`` on the first trace.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np

import recsim
from recsim.engine.replay import replay
from recsim.engine.sample import sampled_mrc
from recsim.registry import policies
from recsim.traces import generate_trace, load_trace
from recsim.traces.native import is_native

AMAZON = Path(__file__).resolve().parents[1].parent / "shared/data/real/amazon_video_sasrec.txt"


def trace_of(name: str, accesses: int, workdir: Path) -> recsim.Trace:
    if name == "amazon":
        path = AMAZON if AMAZON.exists() else Path("/work/shared/data/real") / AMAZON.name
        return load_trace(path, format="user_item")
    path = workdir / f"{name}_{accesses}.trace"
    if not is_native(path):
        generate_trace(name, path=path, accesses=accesses)
    return load_trace(path)


def full_curve(trace, policy: str, sizes, ways: int) -> tuple[list, float]:
    """Miss ratios of full replays at ``sizes`` and their replay seconds (no compile)."""
    recsim.simulate(trace, policy, sizes[0], ways)  # compile or load the loop
    results = [recsim.simulate(trace, policy, s, ways) for s in sizes]
    return [r.miss_ratio for r in results], sum(r.timings["replay_s"] for r in results)


def run_trace(name, trace, args, rows: list) -> dict:
    full_s, sampled_s, n_full, n_run = 0.0, {r: 0.0 for r in args.rates}, 0, 0
    cache = {}  # the samples, built once per rate for all policies (recsim mrc --policy a,b)
    for policy in args.policies:
        full = None
        try:  # a policy may refuse the geometry (fbgemm_*: 32-way only); this compiles or
            # loads the loop outside the timing, as full_curve does for the full replays
            recsim.simulate(trace, policy, args.sizes[0], args.ways, sample=min(args.rates))
        except recsim.ConfigError as e:
            print(f"| {name} | {policy} | skipped: {e} |||", flush=True)
            continue
        n_run += 1
        if policy in args.full_policies:
            full, seconds = full_curve(trace, policy, args.sizes, args.ways)
            full_s, n_full = full_s + seconds, n_full + 1
        for rate in args.rates:
            start = time.perf_counter()
            curve = sampled_mrc(replay, trace, policy, args.sizes, rate, args.ways, salt=args.salt,
                                cache=cache)
            sampled_s[rate] += time.perf_counter() - start
            if full is not None:
                err = np.abs(np.asarray(curve["miss_ratio"]) - np.asarray(full))
                rows.append({"trace": name, "policy": policy, "rate": rate,
                             "method": curve["method"], "exact": curve["exact"],
                             "mean_abs_error": float(err.mean()),
                             "max_abs_error": float(err.max()), "full": full,
                             "sampled": curve["miss_ratio"]})
                print(f"| {name} | {policy} | {rate:g} | {curve['method']} | "
                      f"{err.mean():.4f} | {err.max():.4f} |", flush=True)
    extrapolated = full_s / max(n_full, 1) * n_run
    return {"trace": name, "accesses": trace.n_accesses, "unique": trace.n_unique,
            "policies": n_run, "sizes": len(args.sizes),
            "full_policies": n_full, "full_s": full_s, "full_s_all": extrapolated,
            "sampled_s": {str(r): s for r, s in sampled_s.items()}}


def figure(rows: list, policies: list, rate: float, sizes: list, out: Path) -> None:
    """Full (solid) against sampled (dashed) curves of ``policies`` on the first trace."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = [float(s.rstrip("%")) for s in sizes]
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for row in (r for r in rows if r["trace"] == rows[0]["trace"] and r["rate"] == rate
                and r["policy"] in policies):
        line, = ax.plot(x, row["full"], marker=".", label=f"{row['policy']} full")
        ax.plot(x, row["sampled"], ls="--", marker="x", color=line.get_color(),
                label=f"{row['policy']} R={rate:g}")
    ax.set(xlabel="buffer size (% of unique vectors)", ylabel="miss ratio",
           title=f"{rows[0]['trace']}: full replays against miniature simulations")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out)


def pivot(rows: list) -> str:
    """The docs' error table: a row per policy, per trace and rate ``mean / max``."""
    cols = list(dict.fromkeys((r["trace"], r["rate"]) for r in rows))
    cell = {(r["policy"], r["trace"], r["rate"]): r for r in rows}
    out = ["| policy | " + " | ".join(f"{t} R={r:g}" for t, r in cols) + " |",
           "|---|" + "---|" * len(cols)]
    for policy in dict.fromkeys(r["policy"] for r in rows):
        out.append(f"| {policy} | " + " | ".join(
            f"{c['mean_abs_error']:.4f} / {c['max_abs_error']:.4f}"
            if (c := cell.get((policy, *col))) else "-" for col in cols) + " |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--traces", nargs="+", default=["zipf", "meta-like", "sessions", "amazon"])
    ap.add_argument("--accesses", type=int, default=10_000_000)
    ap.add_argument("--rates", type=float, nargs="+", default=[0.1, 0.01, 0.001])
    ap.add_argument("--sizes", nargs="+", default=["1%", "2%", "5%", "10%", "20%", "30%"])
    ap.add_argument("--ways", type=int, default=0)
    ap.add_argument("--policies", nargs="+", default=sorted(policies()))
    ap.add_argument("--full-policies", nargs="+")
    ap.add_argument("--salt", type=int, default=0)
    ap.add_argument("--workdir", type=Path, default=Path("results/bench"))
    ap.add_argument("--json", type=Path)
    ap.add_argument("--figure", type=Path)
    ap.add_argument("--figure-policies", nargs="+", default=["lru", "s3fifo", "arc", "lfu"])
    ap.add_argument("--figure-rate", type=float, default=0.01)
    ap.add_argument("--pivot", type=Path, nargs="+", metavar="JSON",
                    help="only print the error table of earlier runs' --json files")
    args = ap.parse_args()
    if args.pivot:
        print(pivot([r for f in args.pivot for r in json.loads(f.read_text())["errors"]]))
        return
    args.full_policies = args.full_policies or args.policies
    warnings.simplefilter("ignore")
    print(f"{'fully associative' if args.ways == 0 else f'{args.ways}-way'}, sizes "
          f"{' '.join(args.sizes)}\n\n| trace | policy | R | sampling | mean abs error | "
          "max abs error |\n|---|---|---|---|---|---|", flush=True)
    rows, speed = [], []
    for name in args.traces:
        speed.append(run_trace(name, trace_of(name, args.accesses, args.workdir), args, rows))
    print("\n| trace | accesses | policies x sizes | full replays s | "
          + " | ".join(f"sampled R={r:g} s (ratio)" for r in args.rates) + " |")
    print("|---|---|---|---|" + "---|" * len(args.rates))
    for s in speed:
        full = s["full_s_all"]
        note = "" if s["full_policies"] == s["policies"] else \
            f" (extrapolated from {s['full_policies']} policies)"
        print(f"| {s['trace']} | {s['accesses']:,} | {s['policies']} x {s['sizes']} | "
              f"{full:.1f}{note} | " + " | ".join(
                  f"{v:.1f} (1/{full / v:.0f})" for v in s["sampled_s"].values()) + " |")
    if args.json:
        args.json.write_text(json.dumps({"errors": rows, "speed": speed}, indent=1))
    if args.figure and rows:
        figure(rows, args.figure_policies, args.figure_rate, args.sizes, args.figure)


if __name__ == "__main__":
    main()
