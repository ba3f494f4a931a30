"""Run independent sweep cells: in this process, in a local process pool, or as Ray tasks.

``run_cells(fn, cells, ...)`` calls ``fn(cell)`` for every cell and yields ``(index,
result)`` as each finishes, with a progress bar and ETA. ``fn`` must be a module-level
function (it is pickled by reference). The local pool is the default (``workers`` defaults
to the machine's cores; one worker runs in this process). ``executor="ray"`` submits the
same calls as Ray tasks (one CPU each) to the cluster at ``address``, or to a local Ray
instance started with ``workers`` CPUs; on a real cluster the trace files must be on
storage every node can read. Ray is the optional extra ``recsim[ray]``.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

from tqdm.auto import tqdm

from recsim.errors import ConfigError

EXECUTORS = ("local", "ray")


def run_cells(fn, cells: list, executor: str = "local", workers: int | None = None,
              address: str | None = None, progress: bool = True, desc: str = ""):
    """Yield ``(index, fn(cells[index]))`` for every cell, in order of completion."""
    if executor not in EXECUTORS:
        raise ConfigError(f"executor: expected one of {', '.join(EXECUTORS)}, got {executor!r}")
    if workers is not None and workers < 1:
        raise ConfigError(f"workers: expected an integer >= 1, got {workers}")
    if executor == "local" and address is not None:
        raise ConfigError("address: only the ray executor connects to a cluster")
    if not cells:
        return
    bar = tqdm(total=len(cells), desc=desc, unit="cell", disable=not progress)
    with bar:
        run = _ray if executor == "ray" else _local
        for index, result in run(fn, cells, workers or os.cpu_count() or 1, address):
            bar.update()
            yield index, result


def _local(fn, cells, workers, _address):
    if workers == 1 or len(cells) == 1:
        for i, cell in enumerate(cells):
            yield i, fn(cell)
        return
    # fork: workers start at once and inherit the imported modules (Linux); spawn elsewhere
    method = "fork" if sys.platform.startswith("linux") else "spawn"
    with ProcessPoolExecutor(min(workers, len(cells)),
                             mp_context=multiprocessing.get_context(method)) as pool:
        pending = {pool.submit(fn, cell): i for i, cell in enumerate(cells)}
        try:
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield pending.pop(future), future.result()
        finally:
            for future in pending:
                future.cancel()


def _ray(fn, cells, workers, address):
    try:
        import ray
    except ImportError:
        raise ConfigError("executor ray: Ray is not installed; install the extra with "
                          "pip install 'recsim[ray]'") from None
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, num_cpus=None if address else workers,
                 include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    remote = ray.remote(num_cpus=1)(fn)
    pending = {remote.remote(cell): i for i, cell in enumerate(cells)}
    try:
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                yield pending.pop(ref), ray.get(ref)
    finally:
        for ref in pending:
            ray.cancel(ref)
        if started:
            ray.shutdown()
