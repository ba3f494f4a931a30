"""The contracts between the replay engine and its plug-ins (policies and prefetchers).

A **policy** module in ``policies/`` defines ``POLICY = Policy(...)``: a Python
``make_state(ctx, params) -> tuple of numpy arrays`` and Numba ``@njit`` hooks over that
state, in the spirit of ChampSim's ``find_victim`` / ``update_replacement_state``. The
buffer has ``sets x ways`` slots; slot ``s * ways + w`` is way ``w`` of set ``s``. The
engine owns residency (which vector sits in which slot) and calls:

* ``on_access(state, vid, t)`` before every demand access ``t`` (hit or miss);
* ``on_hit(state, set_, slot, vid, t, prio)`` on a hit;
* ``victim(state, set_, base, ways, vid, t, prefetch) -> slot`` when ``vid`` must be
  placed in the full set ``set_`` (slots ``base .. base+ways-1``); ``-1`` bypasses;
* ``on_evict(state, set_, slot, vid, t)`` right after ``victim`` chose ``slot``;
* ``on_fill(state, set_, slot, vid, t, prio, prefetch)`` when ``vid`` enters ``slot``
  (a demand miss, or a prefetch when ``prefetch`` is True).

``prio`` is the per-access advice of a machine-learned model (0.0 without advice).

A **prefetcher** module in ``prefetchers/`` defines ``PREFETCHER = Prefetcher(...)`` with
``make_state(ctx, params)`` and hooks:

* ``on_access(state, vid, table, outcome, t, slot_of, out) -> n``: observe access ``t``
  (``outcome``: MISS, HIT, PREFETCH_HIT or LATE_PREFETCH, below) and write ``n`` candidate
  vids into ``out`` (at most ``len(out)`` = ``QUEUE_SIZE``); ``slot_of[v] >= 0`` tells
  whether ``v`` is resident;
* ``on_evict(state, vid, t)``: ``vid`` left the buffer.

A miss is compulsory when its vector has never missed before and has never been in the
buffer (a prefetch that brought it in earlier counts as having been there). A prefetch
issued at access ``t`` (by a prefetcher, after serving ``t``; by advice, before serving
``t``) is usable from access ``t + prefetch_latency`` on; a first use before that is late.
Likewise a demand miss at ``t`` is usable from ``t + fetch_latency`` on: an access to it
before then is a *merged miss* (it waits for the fetch in flight and issues none). With
``max_outstanding`` set, a prefetch is dropped while that many are in flight.
Make-state functions read both latencies from the context (``ctx.fetch_latency``,
``ctx.prefetch_latency``): a timeliness-aware prefetcher such as Berti trains on them.

A policy whose decisions need a whole batch at once (FBGEMM's cache looks up every unique
row of a batch before it inserts any, and locks the rows the batch uses) instead gives
``replay(ctx, state) -> BatchReplay`` and no hooks: the engine then calls it in place of
the replay loop, for plain replays only (no prefetcher, advice or per-access statistics).

Hooks omitted from a plug-in default to the no-ops below. Adding a policy or prefetcher
is one new module; the engine generates and caches a replay loop specialised to each
(policy, prefetcher) pair (see :mod:`recsim.kernels`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from numbers import Real
from typing import Callable

import numpy as np
from numba import njit

from recsim.errors import ConfigError

QUEUE_SIZE = 1024

# The engine's ``slot_of[vid]``: the vector's slot while resident (plus PREFETCHED while it
# was prefetched and not yet used); else ``-(3 * set + 1 + k)`` with k = 0 if it was never
# in the buffer nor missed, 1 if it was evicted (or bypassed) and 2 if a prefetch fill
# evicted it (a demand miss on it is then a pollution miss). ABSENT and EVICTED are the
# first two values in set 0. ``vid_of[slot]`` carries the same PREFETCHED flag. So the one
# load of ``slot_of[vid]`` tells a hit, a first use of a prefetch, a compulsory and a
# pollution miss apart and gives the vector's set (a resident vector's is
# ``slot // ways``): a separate per-vector set array would cost a second random load, on
# the miss path, that tripled the time of a set-associative FIFO replay. An eviction never
# loads ``slot_of`` of the evicted vector. Residency is ``slot_of[vid] >= 0``.
ABSENT = -1
EVICTED = -2
PREFETCHED = 1 << 62


@njit(cache=True, inline="always")
def not_resident(set_, k):
    """``slot_of`` of a vector of ``set_`` that is not resident, in state ``k``."""
    return -3 * set_ - 1 - k


# What a demand access was, as a prefetcher's on_access hook is told.
MISS = 0  # not resident (or resident but still being fetched on demand)
HIT = 1  # resident and usable, not a first use of a prefetch
PREFETCH_HIT = 2  # first use of a prefetched vector that had arrived
LATE_PREFETCH = 3  # first use of a prefetched vector still in flight (a miss)


@njit(cache=True, inline="always")
def is_hit(outcome):
    """Whether the access was served from the buffer (a cache or a prefetch hit)."""
    return outcome == HIT or outcome == PREFETCH_HIT


def int_param(plugin: str, params: dict, name: str, lo: int, hi: int | None = None) -> int:
    """``params[name]`` checked to be an integer in ``[lo, hi]`` (no upper bound if
    ``hi`` is None); otherwise a ConfigError naming ``plugin`` (e.g. ``"policy srrip"``,
    or a trace generator)."""
    value = params[name]
    if (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo
            or (hi is not None and value > hi)):
        what = ("a positive integer" if (lo, hi) == (1, None) else
                f"an integer >= {lo}" if hi is None else f"an integer in [{lo}, {hi}]")
        raise ConfigError(f"{plugin}: parameter '{name}': expected {what}, got {value!r}")
    return int(value)


def number_param(plugin: str, params: dict, name: str, lo: float = 0.0, hi: float = np.inf,
                 open_lo: bool = False) -> float:
    """``params[name]`` checked to be a finite real number in ``[lo, hi]`` (``(lo, hi]`` if
    ``open_lo``); otherwise a ConfigError naming ``plugin``."""
    value = params[name]
    ok = (not isinstance(value, bool) and isinstance(value, Real) and np.isfinite(value)
          and (lo < value if open_lo else lo <= value) and value <= hi)
    if not ok:
        bounds = (f"{'(' if open_lo else '['}{lo:g}, {hi:g}]" if hi < np.inf
                  else f"{'>' if open_lo else '>='} {lo:g}")
        what = f"a number in {bounds}" if hi < np.inf else f"a finite number {bounds}"
        raise ConfigError(f"{plugin}: parameter '{name}': expected {what}, got {value!r}")
    return float(value)


def readonly(array: np.ndarray) -> np.ndarray:
    """A read-only contiguous view, for state arrays a hook only reads: memory-mapped and
    in-memory traces then give the same array type, hence one compiled loop."""
    view = np.ascontiguousarray(array).view()
    view.flags.writeable = False
    return view


@njit(cache=True, inline="always")
def vid_of_key(keys, vid, key):
    """The vid whose key is ``key``, or -1 if it is no vector of the trace (a prefetcher's
    candidate address). Keys are distinct and ascend with vid, so it lies within
    ``|key - keys[vid]|`` vids of ``vid``, exactly that far when every key in between is a
    vector too (tried first); else a short binary search near ``vid``."""
    d = key - keys[vid]
    guess = vid + d
    if 0 <= guess < keys.shape[0] and keys[guess] == key:
        return guess
    span = d if d >= 0 else -d
    lo = max(vid - span, 0)
    hi = min(vid + span + 1, keys.shape[0])
    i = lo + np.searchsorted(keys[lo:hi], key)
    return i if i < hi and keys[i] == key else -1


@njit(cache=True, inline="always")
def noop_access(state, vid, t):
    pass


@njit(cache=True, inline="always")
def noop_hit(state, set_, slot, vid, t, prio):
    pass


@njit(cache=True, inline="always")
def noop_fill(state, set_, slot, vid, t, prio, prefetch):
    pass


@njit(cache=True, inline="always")
def noop_evict(state, set_, slot, vid, t):
    pass


@njit(cache=True, inline="always")
def no_prefetch(state, vid, table, outcome, t, slot_of, out):
    return 0


@njit(cache=True, inline="always")
def noop_prefetcher_evict(state, vid, t):
    pass


@dataclass(frozen=True, eq=False)
class _Plugin:
    name: str
    description: str
    make_state: Callable  # (ReplayContext, params) -> tuple of numpy arrays

    @property
    def module(self) -> str:
        """The module that defines the plug-in (named in the generated replay loop)."""
        return self.make_state.__module__


@dataclass
class BatchReplay:
    """What a policy's own ``replay`` returns: its geometry (it may size the buffer its
    own way), the engine's counter array, the resident vids, and counters per batch (name
    -> one int64 per batch)."""

    capacity: int
    sets: int
    ways: int
    counts: np.ndarray
    resident: np.ndarray
    batch_counters: dict


@dataclass(frozen=True, eq=False)
class Policy(_Plugin):
    victim: Callable = None
    on_access: Callable = noop_access
    on_hit: Callable = noop_hit
    on_fill: Callable = noop_fill
    on_evict: Callable = noop_evict
    params: dict = field(default_factory=dict)
    replay: Callable = None  # (ctx, state) -> BatchReplay, in place of the hooks

    def __post_init__(self):
        if self.victim is None and self.replay is None:
            raise TypeError(f"policy {self.name!r} has no victim hook")


@dataclass(frozen=True, eq=False)
class Prefetcher(_Plugin):
    on_access: Callable = no_prefetch
    on_evict: Callable = noop_prefetcher_evict
    params: dict = field(default_factory=dict)
    # (n_unique, params) -> buffer slots its metadata takes from the buffer (e.g. Domino's
    # history when charged against capacity); the engine shrinks the capacity by that.
    metadata_vectors: Callable = None
