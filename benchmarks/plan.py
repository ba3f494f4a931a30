"""``recsim plan`` at the issue's size: a 20M-access meta-like trace (856 tables, generated
once under the work directory with its dense ids), then ``recsim plan`` in a fresh process
(trace load, per-table curves, split, shared and uniform buffers, the replay check),
timed by wall clock with peak resident memory.

    python benchmarks/plan.py [--accesses 20000000] [--workdir results/bench]
                              [--budget-fraction 0.1] [--dim 64] [--dtype fp16]

The budget is ``--budget-fraction`` of the bytes of every unique row (10% by default,
the buffer size of the tables in docs/).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import recsim
from recsim.experiments.plan import row_bytes
from recsim.traces import meta_like


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accesses", type=int, default=20_000_000)
    ap.add_argument("--workdir", type=Path, default=Path("results/bench"))
    ap.add_argument("--budget-fraction", type=float, default=0.1)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--dtype", default="fp16")
    args = ap.parse_args()
    path = args.workdir / f"meta_like_{args.accesses}.trace"
    if not path.exists():
        args.workdir.mkdir(parents=True, exist_ok=True)
        meta_like.generate(args.accesses, path=path)
    unique = recsim.load_trace(path).n_unique  # computes and caches the dense ids once
    budget = int(args.budget_fraction * unique * row_bytes(args.dim, args.dtype))
    out = path.with_suffix(".plan.json")
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "recsim.cli", "plan", str(path), "--budget",
                    str(budget), "--dim", str(args.dim), "--dtype", args.dtype,
                    "--calibration", "calibrations/cpu.json", "-o", str(out)], check=True)
    wall = time.perf_counter() - start
    r = json.loads(out.read_text())
    print(json.dumps({"accesses": r["accesses"], "tables": r["tables"], "unique": unique,
                      "budget_bytes": budget, "wall_s": round(wall, 1),
                      **{k: round(r[k]["miss_ratio"], 4) for k in ("plan", "uniform", "shared")},
                      "replay_fully_associative": round(
                          r["replay"]["fully_associative_miss_ratio"], 4),
                      "replay_32way": round(r["replay"]["set_associative_miss_ratio"], 4),
                      "timings": {k: round(v, 1) for k, v in r["timings"].items()}}, indent=1))


if __name__ == "__main__":
    main()
