"""Replay speed of this tree against another checkout (the commit before a change), side by
side in one run: rows of ``benchmarks/replay.py`` alternating between the two trees.

    python benchmarks/side_by_side.py --other /path/to/checkout [--other-python PY]
        [--rows shared:lru policy:srrip prefetcher:stride] [--rounds 3] [--kernel]
        [trace options]

Each (round, row, tree) is a fresh process running that tree's ``benchmarks/replay.py
--row ROW`` on the same trace (generated once under ``--workdir``; each tree caches its
own compiled loops, so give each its own ``RECSIM_CACHE_DIR`` by running them warm once:
the first round is reported but a cold kernel cache only slows the compile, which is not
timed). The trees take turns, the order flipping every round, so drift in the machine's
speed (1.5x within an hour here) falls on both. Prints, per row, every round's accesses/s
of both trees, the best of each and their ratio, and checks that the misses agree.
``--kernel``: each row's speed is the loop's own (``benchmarks/kernel_time.py``, the best
of 12 replays in the process), without building its inputs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from bench_trace import add_trace_args, bench_trace, oracle_copy

HERE = Path(__file__).resolve().parents[1]


def run_row(tree: Path, python: str, row: str, trace_args: list[str], cache: str,
            kernel: bool = False) -> dict:
    """One row of ``tree``'s replay benchmark (``kernel``: this tree's
    ``benchmarks/kernel_time.py`` run by ``tree``'s interpreter, timing ``tree``'s loop), in
    a fresh process: its JSON."""
    env = {**os.environ, "RECSIM_CACHE_DIR": cache}
    script = HERE / "benchmarks/kernel_time.py" if kernel else tree / "benchmarks/replay.py"
    done = subprocess.run([python, str(script), *trace_args, "--row", row],
                          capture_output=True, text=True, env=env, cwd=tree)
    if done.returncode:
        sys.exit(f"{tree}: row {row} failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_trace_args(ap, alpha=1.0, tables=1)
    ap.add_argument("--other", type=Path, required=True, help="the other checkout's root")
    ap.add_argument("--other-python", help="its interpreter (default: OTHER/.venv/bin/python)")
    ap.add_argument("--rows", nargs="+", default=["shared:lru", "policy:srrip",
                                                   "prefetcher:stride"])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--buffer", type=float, default=0.1)
    ap.add_argument("--kernel", action="store_true",
                    help="time the loop's calls alone (benchmarks/kernel_time.py)")
    args = ap.parse_args()
    args.workdir = args.workdir.resolve()
    # generated once, before any timing, with its dense ids and libCacheSim's copy
    oracle_copy(bench_trace(args), args.workdir)
    trace_args = ["--accesses", str(args.accesses), "--keys", str(args.keys), "--alpha",
                  str(args.alpha), "--tables", str(args.tables), "--workdir",
                  str(args.workdir), "--buffer", str(args.buffer)]
    sides = {"this": (HERE, sys.executable), "other": (
        args.other.resolve(), args.other_python or str(args.other / ".venv/bin/python"))}
    caches = {s: os.environ.get("RECSIM_CACHE_DIR", "/tmp/recsim-kc") + f"-{s}" for s in sides}
    speed = {(row, s): [] for row in args.rows for s in sides}
    misses = {}
    for k in range(args.rounds):
        for row in args.rows:
            for side in (sides if k % 2 == 0 else reversed(list(sides))):
                r = run_row(*sides[side], row, trace_args, caches[side], args.kernel)
                speed[row, side].append(r["recsim"])
                misses.setdefault(row, set()).add(r["misses"])
            print(f"round {k + 1}, {row}: " + ", ".join(
                f"{s} {speed[row, s][-1]:.1f}" for s in sides) + " M/s", flush=True)
    print(f"\nthis: {HERE}; other: {sides['other'][0]}\n")
    print("| row | this M/s (rounds) | other M/s (rounds) | best: this / other | misses |")
    print("|---|---|---|---|---|")
    for row in args.rows:
        this, other = speed[row, "this"], speed[row, "other"]
        same = "equal" if len(misses[row]) == 1 else f"DIFFER: {sorted(misses[row])}"
        print(f"| {row} | {' / '.join(f'{v:.1f}' for v in this)} | "
              f"{' / '.join(f'{v:.1f}' for v in other)} | {max(this) / max(other):.3f} | "
              f"{same} |")


if __name__ == "__main__":
    main()
