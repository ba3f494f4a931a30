"""``recsim calibrate``: time real inference at chosen buffer hit rates and fit the latency
model (:mod:`recsim.experiments.latency`), as the RecMG paper's Fig. 18 does.

For each requested hit rate, a ``hitrate`` trace (:mod:`traces.hitrate`: ``unique``
vectors reordered so that an LRU buffer of ``capacity`` rows hits at that rate) is spread
over ``tables`` tables of ``rows`` rows (vector ``k`` is row ``k % rows`` of table
``k // rows``) and ordered table-major inside each batch of ``tables x samples x
pooling`` lookups. A fresh model per point replays it batch by batch, the points' batches
in turn: ``warmup`` batches untimed, then ``batches`` timed ones. A point is the median
time per batch against the miss rate measured over the timed batches (the backend's own:
recsim's LRU for ``tiered``, FBGEMM's counter for ``fbgemm``); recsim's simulated LRU miss
rate of the same batches is stored beside it. The fit is least squares
over the points.

Clocks (stored as ``clock`` in the calibration): CUDA events on a GPU (``cuda_events``);
on the CPU with one torch thread, the CPU time of the thread that runs the forward pass
(``thread_cpu``, :func:`time.thread_time`), which is where all of its work runs; with more
threads, the wall clock (``wall``). On an idle machine the thread's CPU time equals the
wall time of a pass, but unlike the wall time it does not count the spells when a busy
machine's scheduler runs another process instead (on this 2-core machine with both cores
loaded, wall-clock medians doubled for the passes longer than a scheduler slice and bent
the line to R^2 0.85-0.90, while the CPU-time line stayed at R^2 0.985 with the quiet
machine's slope).
"""

from __future__ import annotations

import json
import platform
import time
from importlib import metadata
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from recsim.engine.replay import simulate
from recsim.errors import ConfigError
from recsim.experiments.latency import fit
from recsim.files import atomic_output
from recsim.harness import HIT_RATES
from recsim.harness import SIZES as HARNESS_SIZES
from recsim.harness.requests import trace_requests
from recsim.traces import Trace, hitrate

SIZES = {name: default for name, (default, _) in HARNESS_SIZES.items()}


def calibration_trace(hit_rate: float, batches: int, tables: int, rows: int, samples: int,
                      pooling: int, unique: int, capacity: int, seed: int = 0, **_) -> Trace:
    """The trace of one calibration point (see the module docstring)."""
    lookups = tables * samples * pooling
    one = hitrate.generate(batches * lookups, hit_rate=hit_rate, capacity=capacity,
                           unique=unique, rows=tables * rows, batch_size=lookups, seed=seed)
    table, row = one.row // rows, one.row % rows
    order = np.lexsort((table, np.arange(one.n_accesses) // lookups))
    return Trace.from_arrays(table[order], row[order], one.batch_offsets, [rows] * tables,
                             {"name": f"hitrate_{hit_rate:g}",
                              "provenance": one.meta["provenance"]})


def make_model(backend: str, trace: Trace, sizes: dict, dense: bool, seed: int, device):
    """The backend's model over ``trace``'s tables (see :mod:`recsim.harness`)."""
    if backend == "tiered":
        from recsim.harness.tiered import TieredEmbeddingBags

        longest = int(np.diff(trace.batch_offsets).max())
        return TieredEmbeddingBags(trace.table_base, trace.key_space, sizes["dim"],
                                   sizes["capacity"], sizes["ways"], sizes["samples"],
                                   longest, dense, seed, device)
    if backend == "fbgemm":
        from recsim.harness.fbgemm import FbgemmEmbeddingBags

        return FbgemmEmbeddingBags([int(r) for r in trace.table_rows], sizes["dim"],
                                   sizes["capacity"], sizes["samples"], "lru", dense, seed)
    raise ConfigError(f"backend: expected 'tiered' or 'fbgemm', got {backend!r}")


def timing_clock(device) -> str:
    """The clock that times a forward pass on ``device`` (see the module docstring)."""
    if torch.device(device).type == "cuda":
        return "cuda_events"
    return "thread_cpu" if torch.get_num_threads() == 1 else "wall"


def _time_one(model, request, clock: str) -> float:
    """Seconds of one forward pass on ``clock``."""
    if clock == "cuda_events":
        start, end = (torch.cuda.Event(enable_timing=True) for _ in range(2))
        start.record()
        model(request)
        end.record()
        torch.cuda.synchronize()
        return start.elapsed_time(end) / 1e3
    now = time.thread_time if clock == "thread_cpu" else time.perf_counter
    start = now()
    model(request)
    return now() - start


def measure(backend: str, hit_rates, sizes: dict, batches: int, warmup: int, dense: bool,
            seed: int, device, progress: bool = False) -> list[dict]:
    """One point per hit rate: median seconds per batch and the measured miss rate. The
    points' batches are timed in turn (round robin), so that a slow spell of a shared
    machine slows every point alike instead of bending the line."""
    traces = [calibration_trace(h, batches + warmup, seed=seed, **sizes) for h in hit_rates]
    requests = [trace_requests(trace, sizes["samples"]) for trace in traces]
    models = [make_model(backend, trace, sizes, dense, seed, device) for trace in traces]
    clock = timing_clock(device)
    times = np.zeros((len(models), batches))
    with torch.inference_mode():
        for b in tqdm(range(warmup + batches), desc=f"calibrate {backend}", unit="batch",
                      disable=not progress):
            for i, model in enumerate(models):
                if b == warmup:
                    model.reset_counters()
                seconds = _time_one(model, requests[i][b], clock)
                if b >= warmup:
                    times[i, b - warmup] = seconds
    points = []
    for h, trace, model, t in zip(hit_rates, traces, models, times):
        miss_rate = (model.misses / model.lookups if backend == "tiered"
                     else model.counters()["miss_rate"])
        first = int(trace.batch_offsets[warmup])
        timed = simulate(trace, "lru", sizes["capacity"], sizes["ways"],
                         log_hits=True).hit_log[first:]
        points.append({"requested_hit_rate": h, "miss_rate": miss_rate,
                       "recsim_lru_miss_rate": int((timed == 0).sum()) / timed.shape[0],
                       "median_s": float(np.median(t)), "p10_s": float(np.percentile(t, 10)),
                       "p90_s": float(np.percentile(t, 90))})
    return points


def device_name(device) -> str:
    """The GPU's name, or the CPU's model name."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _versions() -> dict:
    found = {"python": platform.python_version()}
    for package in ("recsim", "torch", "numpy", "numba", "fbgemm-gpu", "fbgemm-gpu-cpu",
                    "torchrec"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return found


def calibrate(backend: str = "tiered", hit_rates=HIT_RATES, batches: int = 20,
              warmup: int = 5, threads: int | None = 1, dense: bool = True, seed: int = 0,
              device: str | None = None, progress: bool = True, **sizes) -> dict:
    """Measure every hit rate, fit ``latency = a + b * miss_rate``, return the calibration
    (fields: :mod:`recsim.experiments.latency`). ``sizes`` override :data:`SIZES`; ``threads`` sets
    ``torch.set_num_threads`` on the CPU (None leaves it)."""
    unknown = set(sizes) - set(SIZES)
    if unknown:
        raise ConfigError(f"calibrate: unknown size {sorted(unknown)[0]!r}; valid: "
                          f"{', '.join(SIZES)}")
    sizes = {**SIZES, **sizes}
    if batches < 2 or warmup < 0:
        raise ConfigError(f"calibrate: expected batches >= 2 and warmup >= 0, got {batches} "
                          f"and {warmup}")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if threads and torch.device(device).type == "cpu":
        torch.set_num_threads(threads)
    start = time.perf_counter()
    points = measure(backend, hit_rates, sizes, batches, warmup, dense, seed, device,
                     progress)
    model = fit([p["miss_rate"] for p in points], [p["median_s"] for p in points])
    lookups = sizes["tables"] * sizes["samples"] * sizes["pooling"]
    return {**model, "per_miss_s": model["b"] / lookups, "backend": backend,
            "device": device_name(device), "threads": torch.get_num_threads(),
            "clock": timing_clock(device),
            "dense": dense, "sizes": {**sizes, "lookups_per_batch": lookups},
            "batches": batches, "warmup": warmup, "seed": seed, "points": points,
            "versions": _versions(), "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "wall_s": time.perf_counter() - start}


def write_calibration(cal: dict, path) -> list[str]:
    """Write the calibration JSON at ``path`` and its Fig. 18 plot beside it (PNG and
    SVG, same stem); return the files written."""
    from recsim.experiments import plots

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(cal, indent=1) + "\n")
    return [str(path), str(path.parent / plots.calibration(cal, path.parent, path.stem))]
