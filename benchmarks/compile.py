"""First-compile time of replay loops, with an empty kernel cache, before and after a change.

    python benchmarks/compile.py [--pairs mockingjay+bingo srrip+bop ...] [--general]
                                 [--source LABEL=DIR ...] [--repeats N]
    python benchmarks/compile.py --experiment experiments/fig15_table4_champsim.yaml
                                 [--source LABEL=DIR ...] [--repeats N]
    python benchmarks/compile.py --suite [--repeats N]

Each (source, pair) compiles in a fresh process with an empty ``RECSIM_CACHE_DIR`` and
Numba's cache files (``__pycache__/*.nbi``, ``*.nbc``) beside the source and this checkout's
plug-ins removed, as in a fresh clone:
a 20,000-access Zipf trace, 32 ways, 10% buffer (the plain set-associative loop; with
``--general`` also fetch latency 1, the general loop). ``--source LABEL=DIR`` imports
``recsim`` and its policies, prefetchers and traces from checkout DIR (e.g. ``git archive``
of the commit before a change); the runs alternate between sources, so both see the same
load of a shared machine. Prints a Markdown table of the medians over ``--repeats`` of the
wall seconds and the CPU seconds (the steadier figure on a loaded machine: compiling is
one thread's work). ``--experiment YAML`` times ``recsim run YAML`` (its default scale,
the cores as workers) from the same cold start instead, its CPU seconds those of all its
processes; ``--suite`` times this checkout's ``pytest -q -n 2``, likewise cold.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# imports recsim and its plug-in packages from $RECSIM_BENCH_SOURCE, when set (also
# benchmarks/prefetchers.py's children)
LOADER = """
import importlib.util, json, os, sys, time, warnings
warnings.simplefilter("ignore")
source = os.environ.get("RECSIM_BENCH_SOURCE")
if source:  # recsim and its plug-in packages from that checkout, not the installed ones
    packages = {"recsim": "recsim", "recsim.traces": "traces", "recsim.policies": "policies",
                "recsim.prefetchers": "prefetchers"}  # run in reverse: recsim's imports last
    for name, folder in packages.items():
        spec = importlib.util.spec_from_file_location(
            name, f"{source}/{folder}/__init__.py",
            submodule_search_locations=[f"{source}/{folder}"])
        sys.modules[name] = importlib.util.module_from_spec(spec)
        if "." in name:
            setattr(sys.modules["recsim"], name.split(".")[1], sys.modules[name])
    for name in reversed(packages):
        sys.modules[name].__spec__.loader.exec_module(sys.modules[name])
"""
CHILD = LOADER + """
import recsim
from recsim.traces import zipf
trace = zipf.generate(20_000, tables=1, rows=5_000, alpha=0.9, seed=0)
policy, prefetcher, general = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
cpu = time.process_time()
r = recsim.simulate(trace, policy, 0.1, 32, prefetcher, fetch_latency=int(general))
print(json.dumps({"compile_s": r.timings["compile_s"], "cpu_s": time.process_time() - cpu}))
"""

RUN = """
from recsim.cli import main
sys.exit(main(["run", *sys.argv[1:]]))
"""

ROOT = Path(__file__).resolve().parents[1]


def _clear_numba_caches(*roots: Path) -> None:
    for root in roots:
        for pattern in ("**/__pycache__/*.nbi", "**/__pycache__/*.nbc"):
            for path in root.glob(pattern):
                if ".venv" not in path.parts:
                    path.unlink(missing_ok=True)


def _cold_run(source: str | None, command: list[str]) -> tuple[str, float, float]:
    """Output, wall and CPU seconds of ``command`` with an empty kernel cache and no Numba
    cache files; with ``source``, ``recsim`` comes from that checkout."""
    env = dict(os.environ)
    if source:
        env["RECSIM_BENCH_SOURCE"] = source
    _clear_numba_caches(ROOT, *([Path(source)] if source else []))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryDirectory(prefix="recsim-compile-") as cache:
        env["RECSIM_CACHE_DIR"] = cache
        start = time.perf_counter()
        out = subprocess.run(command, env=env, check=True, capture_output=True, text=True,
                             cwd=ROOT).stdout
        wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return out, wall, cpu


def compile_seconds(source: str | None, policy: str, prefetcher: str,
                    general: bool) -> tuple[float, float]:
    """(wall, CPU) seconds of the first compile in a fresh process and cache."""
    out, _, _ = _cold_run(source, [sys.executable, "-c", CHILD, policy, prefetcher,
                                   "1" if general else "0"])
    got = json.loads(out.splitlines()[-1])
    return got["compile_s"], got["cpu_s"]


def experiment_seconds(source: str | None, yaml: str) -> tuple[float, float]:
    """(wall, CPU) seconds of ``recsim run yaml`` from a cold start, output to a scratch
    folder."""
    with tempfile.TemporaryDirectory(prefix="recsim-run-") as out:
        _, wall, cpu = _cold_run(source, [sys.executable, "-c", LOADER + RUN,
                                          str(Path(yaml).resolve()), "--output", out])
    return wall, cpu


def suite_seconds(source: str | None, _: str) -> tuple[float, float]:
    """(wall, CPU) seconds of this checkout's test suite from a cold start."""
    if source:
        raise SystemExit("--suite runs this checkout's tests only (no --source)")
    _, wall, cpu = _cold_run(None, [sys.executable, "-m", "pytest", "-q", "-n", "2"])
    return wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", nargs="+", default=["mockingjay+bingo", "srrip+bop", "lru+none"])
    ap.add_argument("--source", nargs="+", default=[], metavar="LABEL=DIR",
                    help="checkouts to compare (default: the installed recsim)")
    ap.add_argument("--general", action="store_true", help="the general loop (fetch latency 1)")
    ap.add_argument("--experiment", metavar="YAML", help="time `recsim run YAML` instead")
    ap.add_argument("--suite", action="store_true", help="time the test suite instead")
    ap.add_argument("--repeats", type=int, default=1, help="runs of each (medians)")
    args = ap.parse_args()
    sources = [s.split("=", 1) for s in args.source] or [["this", None]]
    if args.experiment or args.suite:
        rows, what = [args.experiment or "suite"], "command"
        measure = experiment_seconds if args.experiment else suite_seconds
    else:
        rows, what = args.pairs, ("pair (general loop)" if args.general
                                  else "pair (plain set-associative loop)")

        def measure(path, pair):
            return compile_seconds(path, *pair.split("+"), args.general)
    times = {}
    for repeat in range(args.repeats):
        for row in rows:
            for label, path in sources[::-1] if repeat % 2 else sources:
                got = measure(path and str(Path(path).resolve()), row)
                times.setdefault((row, label), []).append(got)
                print(f"{row} ({label}): wall {got[0]:.1f} s, CPU {got[1]:.1f} s",
                      file=sys.stderr)
    print(f"| {what} | " + " | ".join(f"{label}: wall s | {label}: CPU s"
                                      for label, _ in sources) + " |")
    print("|---|" + "---|---|" * len(sources))
    for row in rows:
        print(f"| {row} | " + " | ".join(
            " | ".join(f"{statistics.median(t[k] for t in times[row, label]):.1f}"
                       for k in (0, 1)) for label, _ in sources) + " |")


if __name__ == "__main__":
    main()
