"""First-compile time of replay loops, with an empty kernel cache, before and after a change.

    python benchmarks/compile.py [--pairs mockingjay+bingo srrip+bop ...]
                                 [--source LABEL=DIR ...] [--general]

Each (source, pair) compiles in a fresh process with an empty ``RECSIM_CACHE_DIR`` and
Numba's cache files (``__pycache__/*.nbi``, ``*.nbc``) beside the source and this checkout's
plug-ins removed, as in a fresh clone:
a 20,000-access Zipf trace, 32 ways, 10% buffer (the plain set-associative loop; with
``--general`` also fetch latency 1, the general loop). ``--source LABEL=DIR`` imports
``recsim`` from checkout DIR (e.g. a ``git worktree`` of the commit before a change); the
pairs alternate between sources, so both see the same load of a shared machine. Prints a
Markdown table of the compile's wall seconds and the process's CPU seconds (the steadier
figure on a loaded machine: compiling is one thread's work).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = """
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
import recsim
from recsim.traces import zipf
trace = zipf.generate(20_000, tables=1, rows=5_000, alpha=0.9, seed=0)
policy, prefetcher, general = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
cpu = time.process_time()
r = recsim.simulate(trace, policy, 0.1, 32, prefetcher, fetch_latency=int(general))
print(json.dumps({"compile_s": r.timings["compile_s"], "cpu_s": time.process_time() - cpu}))
"""


ROOT = Path(__file__).resolve().parents[1]


def _clear_numba_caches(*roots: Path) -> None:
    for root in roots:
        for pattern in ("**/__pycache__/*.nbi", "**/__pycache__/*.nbc"):
            for path in root.glob(pattern):
                if ".venv" not in path.parts:
                    path.unlink(missing_ok=True)


def compile_seconds(source: str | None, policy: str, prefetcher: str,
                    general: bool) -> tuple[float, float]:
    """(wall, CPU) seconds of the first compile in a fresh process and cache."""
    env = dict(os.environ)
    if source:
        env["RECSIM_BENCH_SOURCE"] = source
    _clear_numba_caches(ROOT, *([Path(source)] if source else []))
    with tempfile.TemporaryDirectory(prefix="recsim-compile-") as cache:
        env["RECSIM_CACHE_DIR"] = cache
        out = subprocess.run([sys.executable, "-c", CHILD, policy, prefetcher,
                              "1" if general else "0"], env=env, check=True,
                             capture_output=True, text=True).stdout
    got = json.loads(out.splitlines()[-1])
    return got["compile_s"], got["cpu_s"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", nargs="+", default=["mockingjay+bingo", "srrip+bop", "lru+none"])
    ap.add_argument("--source", nargs="+", default=[], metavar="LABEL=DIR",
                    help="checkouts to compare (default: the installed recsim)")
    ap.add_argument("--general", action="store_true", help="the general loop (fetch latency 1)")
    args = ap.parse_args()
    sources = [s.split("=", 1) for s in args.source] or [["this", None]]
    times = {}
    for pair in args.pairs:
        policy, prefetcher = pair.split("+")
        for label, path in sources:
            times[pair, label] = compile_seconds(path and str(Path(path).resolve()), policy,
                                                 prefetcher, args.general)
            print(f"{pair} ({label}): wall {times[pair, label][0]:.1f} s, CPU "
                  f"{times[pair, label][1]:.1f} s", file=sys.stderr)
    kind = "general" if args.general else "plain set-associative"
    print(f"| pair ({kind} loop) | " + " | ".join(f"{label}: wall s | {label}: CPU s"
                                                 for label, _ in sources) + " |")
    print("|---|" + "---|---|" * len(sources))
    for pair in args.pairs:
        print(f"| {pair} | " + " | ".join(f"{times[pair, label][0]:.1f} | "
                                          f"{times[pair, label][1]:.1f}"
                                          for label, _ in sources) + " |")


if __name__ == "__main__":
    main()
