"""The Zipf trace the benchmark scripts replay, generated once under their work folder, and
the peak-memory reading and libCacheSim's copy of the trace they share."""

from __future__ import annotations

import argparse
from pathlib import Path

import recsim
from recsim.traces import oracle_general, zipf
from recsim.traces.native import is_native


def add_trace_args(ap: argparse.ArgumentParser, alpha: float = 0.9, tables: int = 8) -> None:
    ap.add_argument("--accesses", type=int, default=10_000_000)
    ap.add_argument("--keys", type=int, default=1_000_000, help="rows in all")
    ap.add_argument("--tables", type=int, default=tables)
    ap.add_argument("--alpha", type=float, default=alpha)
    ap.add_argument("--workdir", type=Path, default=Path("results/bench"))


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB (``VmHWM``: unlike ``ru_maxrss``, not
    inherited from the process that forked it)."""
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def bench_trace(args, quiet: bool = False) -> recsim.Trace:
    """The Zipf(alpha) trace of ``args``, kept as ``WORKDIR/zipfA_N_TxR.trace``."""
    rows = args.keys // args.tables
    path = args.workdir / f"zipf{args.alpha}_{args.accesses}_{args.tables}x{rows}.trace"
    if not is_native(path):
        zipf.generate(args.accesses, tables=args.tables, rows=rows, alpha=args.alpha,
                      path=path)
    trace = recsim.load_trace(path)
    if not quiet:
        print(f"trace: {trace.n_accesses:,} accesses, {trace.n_tables} tables, "
              f"{trace.n_unique:,} unique vectors, Zipf({args.alpha})")
    return trace


def oracle_copy(trace: recsim.Trace, workdir: Path) -> Path:
    """The trace as libCacheSim's ``oracleGeneral`` file under ``workdir`` (written once,
    its dense ids computed and cached first), for the rows both simulators replay."""
    trace.dense()
    path = workdir / f"{trace.name}.oracleGeneral"
    if not path.exists():
        oracle_general.write(trace, path)
    return path
