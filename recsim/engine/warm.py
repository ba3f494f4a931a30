"""Compile replay loops ahead of use (``recsim compile``), and which loop a replay needs
(a sweep runs one cell of each loop the cache lacks first, under a "compiling" bar).

A loop compiles on its first use (:func:`recsim.engine.kernels.compile_kernel`) and loads
from the kernel cache after that. :func:`warm` compiles one by replaying a small Zipf
trace of two tables with settings that select its kind. A plug-in whose state types
follow the trace (Hawkeye's and Mockingjay's table ids are int8 up to 127 tables, wider
beyond) compiles once more for a trace of another shape.
"""

from __future__ import annotations

import warnings
from functools import cache

from recsim.engine.kernels import is_compiled
from recsim.engine.replay import loop_features, loop_options, replay
from recsim.engine.settings import ReplaySettings
from recsim.errors import RecsimError, RecsimWarning
from recsim.registry import get_policy, get_prefetcher

# A kind of loop (recsim.engine.kernels): its features and the settings of a small
# replay that uses it.
KINDS = {"plain": (frozenset(), ReplaySettings(ways=8)),
         "one_set": (frozenset({"ONE_SET"}), ReplaySettings(ways=0)),
         "general": (frozenset({"GENERAL"}), ReplaySettings(ways=8, fetch_latency=1))}


def kind_of(settings: ReplaySettings) -> str:
    """The kind of loop a replay with ``settings`` uses (fully associative taken as
    ``ways == 0``: a capacity below the ways is the case it misses)."""
    features = loop_features(loop_options(settings), 1 if settings.ways == 0 else 2)
    return next(kind for kind, (f, _) in KINDS.items() if f == features)


def is_warm(policy: str, prefetcher: str, kind: str) -> bool:
    """Whether the kernel cache holds this loop."""
    return is_compiled(get_policy(policy), get_prefetcher(prefetcher), KINDS[kind][0])


@cache
def _small_trace():
    from recsim.traces import zipf

    return zipf.generate(20_000, tables=2, rows=5_000, alpha=0.9, seed=0)


def warm(job: tuple[str, str, str]) -> tuple[str, str, str, float | str]:
    """Compile the loop of ``(policy, prefetcher, kind)``; returns the job and the
    compile (or cache load) seconds, or why the small replay was refused."""
    policy, prefetcher, kind = job
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RecsimWarning)
            result = replay(_small_trace(), KINDS[kind][1], policy, prefetcher)
    except RecsimError as exc:
        return (*job, f"not compiled: {exc}")
    return (*job, result.timings["compile_s"])
