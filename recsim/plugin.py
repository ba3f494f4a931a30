"""The contracts between the replay engine and its plug-ins (policies and prefetchers).

A **policy** module in ``policies/`` defines ``POLICY = Policy(...)``: a Python
``make_state(ctx, params) -> State`` and Numba hooks (:func:`hook`) over that state, in the
spirit of ChampSim's ``find_victim`` / ``update_replacement_state``. The buffer has
``sets x ways`` slots; slot ``s * ways + w`` is way ``w`` of set ``s``. The engine owns
residency (which vector sits in which slot) and calls:

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

A prefetcher that computes candidate *keys* maps each to a vid with :func:`candidate_vid`
(passing ``ctx.unsampled`` from its state), or counts a range of keys it enumerates with
:func:`unsampled_in_range`: in a sampled replay (:mod:`recsim.engine.sample`) a candidate
that is a vector of the full trace but not of the sample is dropped and counted
(``prefetches_unsampled``); in any other replay ``ctx.unsampled`` is None and the test
compiles away.

A miss is compulsory when its vector has never missed before and has never been in the
buffer (a prefetch that brought it in earlier counts as having been there). A prefetch
issued at access ``t`` (by a prefetcher, after serving ``t``; by advice, before serving
``t``) is usable from access ``t + prefetch_latency`` on; a first use before that is late.
Likewise a demand miss at ``t`` is usable from ``t + fetch_latency`` on: an access to it
before then is a *merged miss* (it waits for the fetch in flight and issues none). With
``max_outstanding`` set, a prefetch is dropped while that many are in flight.
Make-state functions read both latencies from the context (``ctx.fetch_latency``,
``ctx.prefetch_latency``): a timeliness-aware prefetcher such as Berti trains on them.

A plug-in declares its parameters as ``params = {name: spec}`` with the typed specs below
(:class:`Int`, :class:`Float`, :class:`Bool`, :class:`Choice`, :class:`File`: default,
range, one-line meaning); :func:`check_params` checks them in one place for the Python
API, YAML and the command line, so ``make_state`` gets them typed and in range. A check
that needs the geometry or another parameter stays in ``make_state`` (raised with
:func:`param_error`). A duration, a time constant counted in accesses (MQ's ``lifetime``),
is declared ``Int(..., unit="accesses")`` (the trace's clock) or ``unit="set accesses"``
(its set's clock), and the log2 of one (a power-of-two period, LHD's age coarsening)
``unit="log2 accesses"``: a sampled replay's clock runs slower, so it scales such a
parameter (:mod:`recsim.engine.sample`).

A policy with global state (``cross_set=True``) that trains it on a fixed subset of sets
(DRRIP's leader sets, Hawkeye's and Mockingjay's sampled sets) names them with
``training_sets(sets, ways, params) -> set ids``: set sampling then replays them too;
``training_only=True`` says the global state changes on those sets' accesses only and
they replace as the others do, so the sampled sets, those included, are then exact. Such a
policy reads set numbers as the full buffer's (``ctx.full_sets``, ``ctx.per_set``) and a
table indexed by vector id by the trace's ids (``ctx.trace_vids()``): a set sample replays
its sets as a buffer of those sets alone, with the sample's vectors renumbered.

Each plug-in addresses its state one way: ``make_state`` returns a module-level
``State = collections.namedtuple("State", "...")`` of arrays (and read-only scalars), fields
named for what they hold, and hooks read ``state.rrpv`` (Numba compiles and caches
heterogeneous namedtuples like tuples, at the same speed); small mutable registers inside
one array are addressed by named index constants (``conf[C_MAX]``).

A policy whose decisions need a whole batch at once (FBGEMM's cache looks up every unique
row of a batch before it inserts any, and locks the rows the batch uses) instead gives
``replay(ctx, state) -> BatchReplay`` and no hooks: the engine then calls it in place of
the replay loop, for plain replays only (no prefetcher, advice or per-access statistics).

A *learned* plug-in (the ``recmg`` policy, the ``recmg`` and ``transfetch`` prefetchers)
takes its model checkpoint as a :class:`File` parameter and names an ``advise`` hook,
``"module:function"``: when a File parameter is set (on every replay with
``advise_always``: the ``nextuse`` policy learns online), the engine imports that function (of
a higher layer, which may use torch: :mod:`recsim.recmg.plugins`) and calls
``function(trace, params) -> Advice`` before the replay (with ``advise_always``,
``function(trace, params, capacity)``: an online learner's labels may depend on the
buffer's size); a policy's advice gives ``prio``,
a prefetcher's the vectors the engine prefetches per chunk (docs/architecture.md).

Hooks omitted from a plug-in default to the no-ops below. The parameters each hook takes
are declared once, in ``Policy.HOOKS`` and ``Prefetcher.HOOKS``; making a plug-in binds
every hook's signature to them and refuses a mismatch with one line naming the hook's file
(:func:`_signature_error`), before anything compiles. ``skip_checks`` names the
:mod:`recsim.testing` checks that do not apply to a plug-in, with the reason. Adding a
policy or prefetcher is one new module; the engine generates and caches a replay loop
specialised to each (policy, prefetcher) pair (see :mod:`recsim.engine.kernels`).
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import importlib.util
import inspect
import re
import sys
from dataclasses import dataclass, field
from functools import cache
from numbers import Real
from pathlib import Path
from typing import Callable, ClassVar, NamedTuple

import numba
import numpy as np
from numba import njit, types
from numba.core.caching import FunctionCache
from numba.core.registry import CPUDispatcher

from recsim.errors import ConfigError

QUEUE_SIZE = 1024


def _module_file(name: str) -> Path | None:
    """The source file of module ``name``, or None if ``name`` is not a module (a one-file
    plug-in, imported from its path, is found by its entry in ``sys.modules``)."""
    loaded = getattr(sys.modules.get(name), "__file__", None)
    if loaded and loaded.endswith(".py"):
        return Path(loaded)
    try:
        spec = importlib.util.find_spec(name)
    except ImportError:  # ``package.module.attribute``
        return None
    return Path(spec.origin) if spec and spec.origin and spec.origin.endswith(".py") else None


def add_imports(source: str, found: set[Path], packages: tuple = ("recsim",)) -> None:
    """Add the files of the modules of ``packages`` that ``source`` imports, and theirs, to
    ``found``."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        else:
            continue
        for name in names:
            ours = any(name.startswith(f"{package}.") for package in packages)
            path = _module_file(name) if ours else None
            if path is not None and path not in found:
                found.add(path)
                add_imports(path.read_text(), found, packages)


@cache
def module_files(name: str) -> tuple[Path, ...]:
    """The file of module ``name`` and those of the modules of ``recsim`` and of its own
    package that it imports, transitively: what a hook of that module is built from."""
    found = {_module_file(name)}
    add_imports(_module_file(name).read_text(), found, ("recsim", name.split(".")[0]))
    return tuple(sorted(found))


@cache
def _files_digest(name: str) -> str:
    h = hashlib.sha256(numba.__version__.encode())
    for path in module_files(name):
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


class _HookCache(FunctionCache):
    """Numba's disk cache of a function, keyed also by the files its module imports
    (:func:`module_files`): Numba itself only notices edits to the function's own file, and
    a hook's compiled code holds the helpers it calls from other modules."""

    def _index_key(self, sig, codegen):
        return (*super()._index_key(sig, codegen), _files_digest(self._py_func.__module__))


class _Hook(CPUDispatcher):
    """Numba's dispatcher, but a call from compiled code types its constant arguments
    (``True``, ``-1``) as their plain types: ``f(x, True)`` and ``f(x, False)`` share one
    compiled version of ``f``, where Numba would compile one per constant (LLVM still
    inlines the call and folds the constant)."""

    def get_call_template(self, args, kws):
        return super().get_call_template(tuple(map(types.unliteral, args)),
                                         {k: types.unliteral(v) for k, v in kws.items()})

    def enable_caching(self):
        self._cache = _HookCache(self.py_func)


def hook(fn=None, *, inline=True):
    """The decorator of hooks and of the functions they call: ``@njit(cache=True)``, each
    compiled once per argument types and cached on disk, whatever constants its callers
    pass (see :class:`_Hook`), and inlined by LLVM into its callers. Every replay loop that
    calls it links that one compiled version, so a plug-in's hooks compile once, not once
    per loop. (Numba's ``inline="always"`` would instead re-type the hook inside every
    loop: a minute's compile for a complex pair.) ``@hook(inline=False)`` keeps a cold path
    out of line (a sampled set's update: inlined, it slows Mockingjay's loop by 15%)."""
    if fn is None:
        return lambda fn: hook(fn, inline=inline)
    if numba.config.DISABLE_JIT:  # RECSIM_DEBUG=1
        return fn
    dispatcher = _Hook(py_func=fn, locals={},
                       targetoptions={"nopython": True, "forceinline": inline})
    dispatcher.enable_caching()
    return dispatcher


# The engine's ``slot_of[vid]``: the vector's slot while resident (plus PREFETCHED while it
# was prefetched and not yet used); else ``-(3 * set + 1 + k)`` with k = NEW if it was never
# in the buffer nor missed, GONE if it was evicted (or bypassed) and POLLUTED if a prefetch
# fill evicted it (a demand miss on it is then a pollution miss). ABSENT and EVICTED are the
# first two values in set 0. ``vid_of[slot]`` carries the same PREFETCHED flag. So the one
# load of ``slot_of[vid]`` tells a hit, a first use of a prefetch, a compulsory and a
# pollution miss apart and gives the vector's set (a resident vector's is
# ``slot // ways``): a separate per-vector set array would cost a second random load, on
# the miss path, that tripled the time of a set-associative FIFO replay. An eviction never
# loads ``slot_of`` of the evicted vector. Residency is ``slot_of[vid] >= 0``. The engine
# writes and reads a vector's set and state only through the inlined helpers below (the
# PREFETCHED flag it adds, tests and removes itself).
NEW, GONE, POLLUTED = 0, 1, 2
ABSENT = -1
EVICTED = -2
PREFETCHED = 1 << 62


@hook
def not_resident(set_, k):
    """``slot_of`` of a vector of ``set_`` that is not resident, in state ``k``."""
    return -3 * set_ - 1 - k


@hook
def absent_set(code):
    """The set of a vector that is not resident, from its ``slot_of`` (< 0)."""
    return (-code - 1) // 3


@hook
def absent_state(code, set_):
    """NEW, GONE or POLLUTED, from the ``slot_of`` (< 0) of a vector of ``set_`` that is
    not resident (the inverse of :func:`not_resident`)."""
    return -code - 1 - 3 * set_


@hook
def resident_set(code, ways):
    """The set of a resident vector, from its ``slot_of`` (>= 0, PREFETCHED or not)."""
    return (code & (PREFETCHED - 1)) // ways


@hook
def trace_vid(trace_vids, vid):
    """``vid``'s dense id in the trace: ``trace_vids`` is ``ctx.trace_vids()``, empty in a
    replay of the trace itself (its vids are the trace's), a sample's ids in the trace
    otherwise. What a table indexed by vector id reads (Hawkeye's sampler)."""
    return trace_vids[vid] if trace_vids.shape[0] else vid


# What a demand access was, as a prefetcher's on_access hook is told.
MISS = 0  # not resident (or resident but still being fetched on demand)
HIT = 1  # resident and usable, not a first use of a prefetch
PREFETCH_HIT = 2  # first use of a prefetched vector that had arrived
LATE_PREFETCH = 3  # first use of a prefetched vector still in flight (a miss)


@hook
def is_hit(outcome):
    """Whether the access was served from the buffer (a cache or a prefetch hit)."""
    return outcome == HIT or outcome == PREFETCH_HIT


class Text(str):
    """A parameter value as typed on the command line (``--param k=v``): the parameter's
    spec parses it (``"4"`` for an :class:`Int`, ``"yes"`` for a :class:`Bool`), where a
    plain string from Python or YAML is taken as it is."""


def _bound(x) -> str:
    return f"{x:g}" if isinstance(x, float) else f"{x:,}" if abs(x) >= 10_000 else str(x)


# What a duration parameter counts (``Int(..., unit=...)``): the trace's accesses (a
# global clock), the accesses of the vector's set (a per-set clock; one set when fully
# associative), or the log2 of a number of the trace's accesses (a power-of-two period,
# such as LHD's age coarsening). A miniature simulation scales all of them by its rate
# (the log2 one by adding log2 of the rate), as its clock runs that much slower; set
# sampling only the global ones (recsim.engine.sample).
DURATION_UNITS = ("accesses", "set accesses", "log2 accesses")
TRACE_CLOCK = ("accesses", "log2 accesses")


@dataclass(frozen=True)
class Int:
    """An integer parameter in ``[lo, hi]`` (no bound where None); ``pow2``: a power of two;
    ``unit``: one of :data:`DURATION_UNITS` when it is a duration (a time constant counted
    in accesses), which a sampled replay scales."""
    default: int | None  # None: required
    lo: int | None = None
    hi: int | None = None
    help: str = ""
    pow2: bool = False
    unit: str = ""

    def __post_init__(self):
        if self.unit and self.unit not in DURATION_UNITS:
            raise ConfigError(f"Int(unit={self.unit!r}): expected one of "
                              f"{', '.join(map(repr, DURATION_UNITS))} (a duration) or none")

    def expected(self) -> str:
        what = "a power of two" if self.pow2 else "an integer"
        if self.hi is not None:
            return f"{what} in [{_bound(self.lo)}, {_bound(self.hi)}]"
        if self.lo is None:
            return what
        return "a positive integer" if (self.lo, self.pow2) == (1, False) else \
            f"{what} >= {_bound(self.lo)}"

    def convert(self, value):
        if isinstance(value, Text):
            value = int(value) if re.fullmatch(r"\s*[+-]?\d+\s*", value) else None
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            return None
        ok = ((self.lo is None or value >= self.lo) and (self.hi is None or value <= self.hi)
              and not (self.pow2 and value & (value - 1)))
        return int(value) if ok else None


@dataclass(frozen=True)
class Float:
    """A finite real parameter between ``lo`` and ``hi`` (no bound where None), each bound
    excluded when ``open_lo`` / ``open_hi``."""
    default: float | None
    lo: float | None = None
    hi: float | None = None
    help: str = ""
    open_lo: bool = False
    open_hi: bool = False

    def expected(self) -> str:
        if self.hi is None:
            return "a finite number" + ("" if self.lo is None else
                                        f" {'>' if self.open_lo else '>='} {_bound(self.lo)}")
        return (f"a number in {'(' if self.open_lo else '['}{_bound(self.lo)}, "
                f"{_bound(self.hi)}{')' if self.open_hi else ']'}")

    def convert(self, value):
        if isinstance(value, Text):
            try:
                value = float(value)
            except ValueError:
                return None
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, Real) \
                or not np.isfinite(value):
            return None
        ok = ((self.lo is None or (value > self.lo if self.open_lo else value >= self.lo))
              and (self.hi is None or (value < self.hi if self.open_hi else value <= self.hi)))
        return float(value) if ok else None


_TRUE, _FALSE = ("true", "yes", "1"), ("false", "no", "0")


@dataclass(frozen=True)
class Bool:
    """A switch: True or False (on the command line also yes/no, 1/0, any case)."""
    default: bool
    help: str = ""

    def expected(self) -> str:
        return "a boolean: true or false (on the command line also yes/no, 1/0)"

    def convert(self, value):
        if isinstance(value, Text):
            text = value.strip().lower()
            return True if text in _TRUE else False if text in _FALSE else None
        return bool(value) if isinstance(value, (bool, np.bool_)) else None


@dataclass(frozen=True)
class Choice:
    """One of a few names."""
    default: str
    choices: tuple
    help: str = ""

    def expected(self) -> str:
        return "one of " + ", ".join(map(repr, self.choices))

    def convert(self, value):
        return str(value) if isinstance(value, str) and value in self.choices else None


# The kinds of learned model (recsim.recmg.train trains them, a File parameter takes one);
# the YAML schema, the CLI and the training read this one list.
MODEL_KINDS = ("recmg-cache", "recmg-prefetch", "transfetch")


@dataclass(frozen=True)
class File:
    """A file path (a model checkpoint): ``""`` for none where the default is ``""``;
    ``kind`` says what the file holds (one of :data:`MODEL_KINDS`)."""
    default: str | None
    kind: str
    help: str = ""

    def expected(self) -> str:
        return f"the path of a {self.kind} checkpoint"

    def convert(self, value):
        return str(value) if isinstance(value, str) else None


def describe(spec) -> str:
    """``spec`` in one line for ``recsim policies``: type and range, default, meaning."""
    default = "required" if spec.default is None else f"default {spec.default!r}"
    unit = f" ({spec.unit}: scaled by sampled replays)" if getattr(spec, "unit", "") else ""
    return f"{spec.expected()}{unit}, {default}: {spec.help}"


def defaults(specs: dict) -> dict:
    """The default value of each parameter."""
    return {name: spec.default for name, spec in specs.items()}


def param_error(owner: str, name: str, expected: str, value, where: str | None = None):
    """The one-line error for parameter ``name`` of ``owner`` (e.g. ``policy 'srrip'``):
    prefixed with the YAML path ``where`` of the parameters (``policies[2].params``) when
    given."""
    got = str(value) if isinstance(value, Text) else repr(value)
    head = f"{where}.{name}: {owner}:" if where else f"{owner}: parameter '{name}':"
    return ConfigError(f"{head} expected {expected}, got {got}")


def check_params(owner: str, specs: dict, params: dict | None, where: str | None = None) -> dict:
    """Every parameter of ``specs`` (name -> Int, Float, Bool or Choice), from ``params`` or
    its default, checked and typed (int, float, bool, str): the one check of plug-in and
    generator parameters from the Python API, YAML and the command line (:class:`Text`).
    An unknown, missing or bad parameter is a one-line ConfigError naming ``owner``."""
    params = dict(params or {})
    unknown = sorted(set(params) - set(specs))
    if unknown:
        valid = ", ".join(f"{k} (default {v.default!r})" for k, v in specs.items()) or "none"
        what = (f"{where}.{unknown[0]}: unknown parameter of {owner}" if where
                else f"{owner}: unknown parameter '{unknown[0]}'")
        raise ConfigError(f"{what}; valid: {valid}")
    out = {}
    for name, spec in specs.items():
        if name not in params and spec.default is None:
            raise ConfigError(f"{owner}: missing parameter '{name}' ({spec.expected()})")
        out[name] = _checked(owner, name, spec, params.get(name, spec.default), where)
    return out


def _checked(owner: str, name: str, spec, value, where: str | None = None):
    typed = spec.convert(value)
    if typed is None:
        raise param_error(owner, name, spec.expected(), value, where)
    return typed


def int_param(owner: str, params: dict, name: str, lo: int, hi: int | None = None) -> int:
    """``params[name]`` checked as ``Int(lo=lo, hi=hi)`` (for settings that are no plug-in
    parameters, such as RecMG's training options)."""
    return _checked(owner, name, Int(None, lo=lo, hi=hi), params[name])


def number_param(owner: str, params: dict, name: str, lo: float = 0.0, hi: float | None = None,
                 open_lo: bool = False) -> float:
    """``params[name]`` checked as ``Float(lo=lo, hi=hi, open_lo=open_lo)`` (likewise)."""
    return _checked(owner, name, Float(None, lo=lo, hi=hi, open_lo=open_lo), params[name])


def readonly(array: np.ndarray) -> np.ndarray:
    """A read-only contiguous view, for state arrays a hook only reads: memory-mapped and
    in-memory traces then give the same array type, hence one compiled loop."""
    view = np.ascontiguousarray(array).view()
    view.flags.writeable = False
    return view


@hook
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


class Unsampled(NamedTuple):
    """What a sampled replay's prefetcher needs to count the candidates it drops
    (``ctx.unsampled``): the full trace's keys (sorted; its dense ids' own array, shared by
    every sampled replay of the trace, so nothing per vector is allocated), the counter
    (``count[0]``) and the first access counted (``span``: ``eval_after``, as the
    prefetch counts)."""

    keys: np.ndarray
    count: np.ndarray
    span: int


class SetSample(NamedTuple):
    """A set sample's buffer (``replay(..., set_sample=...)``, :mod:`recsim.engine.sample`):
    each vector's set in it (``of_vector``), the full buffer's number of each of its sets
    (``numbers``, ascending) and the full buffer's count of sets (``full``). Plug-ins read
    it through ``ctx.full_sets`` and ``ctx.per_set``."""

    of_vector: np.ndarray
    numbers: np.ndarray
    full: int


@hook
def candidate_vid(keys, vid, key, unsampled, t):
    """:func:`vid_of_key`, and in a sampled replay (``unsampled``: an :class:`Unsampled`,
    else None) a key that is no vector of the sample but one of the full trace is counted
    as a prefetch of an unsampled vector, at access ``t``. Dropped either way (-1)."""
    w = vid_of_key(keys, vid, key)
    if w < 0:
        unsampled_in_range(unsampled, key - 1, key, 0, t)
    return w


@hook
def unsampled_in_range(unsampled, lo, hi, found, t):
    """In a sampled replay, count the vectors of the full trace with keys in ``(lo, hi]``
    beyond the ``found`` of them the sample holds (candidates dropped); from access
    ``unsampled.span`` on. For ``unsampled`` None an empty function, inlined: Numba prunes
    the branch on a None argument before typing, so other replays compile as before."""
    if unsampled is not None:
        if t >= unsampled.span:
            full = unsampled.keys
            n = np.searchsorted(full, hi, side="right") - np.searchsorted(full, lo,
                                                                           side="right")
            unsampled.count[0] += n - found


# The default hooks: inlined, not disk-cached, as they take every plug-in's state: a
# cached version's index would name each state's type, and a process that reads the index
# must import them all (a one-file plug-in's module is not importable in another process).
@njit(inline="always")
def noop_access(state, vid, t):
    pass


@njit(inline="always")
def noop_hit(state, set_, slot, vid, t, prio):
    pass


@njit(inline="always")
def noop_fill(state, set_, slot, vid, t, prio, prefetch):
    pass


@njit(inline="always")
def noop_evict(state, set_, slot, vid, t):
    pass


@njit(inline="always")
def no_prefetch(state, vid, table, outcome, t, slot_of, out):
    return 0


@njit(inline="always")
def noop_prefetcher_evict(state, vid, t):
    pass


def hook_location(fn) -> str:
    """``file:line`` where hook ``fn`` is defined (the line of its first decorator), or ""
    where it has no Python code: how an error about a plug-in's hook names it."""
    code = getattr(getattr(fn, "py_func", fn), "__code__", None)
    return f"{code.co_filename}:{code.co_firstlineno}" if code else ""


def _signature_error(kind: str, name: str, hook_name: str, fn, expected: tuple):
    """The one-line error for hook ``fn`` of the ``kind`` ``name`` if it cannot take the
    ``expected`` parameters by position (as the replay loop calls it), else None: naming
    the file and line that define it, so that a wrong guess fails when the plug-in is
    loaded, not as a Numba TypingError in a generated loop (ChampSim's module traits and
    libCacheSim's typedefs catch it at build time)."""
    py_func = getattr(fn, "py_func", fn)
    try:
        sig = inspect.signature(py_func)
    except (TypeError, ValueError):  # a builtin: nothing to read
        return None
    try:
        sig.bind(*expected)
    except TypeError:
        where = hook_location(py_func)
        got = ", ".join(sig.parameters)
        return ConfigError(f"{where}{': ' if where else ''}{kind} '{name}': hook {hook_name} "
                           f"takes ({got}); expected ({', '.join(expected)})")
    return None


@dataclass(frozen=True, eq=False)
class _Plugin:
    name: str
    description: str
    make_state: Callable  # (ReplayContext, params checked and typed) -> its State namedtuple
    # "module:function" of (trace, params) -> Advice, called before the replay when a File
    # parameter is set (a learned plug-in's model inference; see the module)
    advise: str = field(default="", kw_only=True)
    # call ``advise`` on every replay, File parameter or not, with the buffer's capacity (a
    # plug-in that learns online from the trace it replays, such as ``nextuse``)
    advise_always: bool = field(default=False, kw_only=True)
    # recsim.testing's named checks that do not apply to it: name -> why
    skip_checks: dict = field(default_factory=dict, kw_only=True)
    HOOKS: ClassVar[dict] = {}  # hook name -> the parameters the engine passes it

    def __post_init__(self):
        kind = type(self).__name__.lower()
        for hook_name, expected in self.HOOKS.items():
            fn = getattr(self, hook_name)
            error = fn is not None and _signature_error(kind, self.name, hook_name, fn,
                                                        expected)
            if error:
                raise error

    @property
    def module(self) -> str:
        """The module that defines the plug-in (named in the generated replay loop)."""
        return self.make_state.__module__


def files_set(plugin, params: dict) -> dict:
    """The plug-in's :class:`File` parameters that ``params`` sets (name -> path)."""
    return {name: params[name] for name, spec in plugin.params.items()
            if isinstance(spec, File) and params.get(name)}


def advice_of(plugin, trace, params: dict, capacity: int):
    """The plug-in's advice for ``trace`` (its ``advise`` hook, imported by name; given the
    buffer's ``capacity`` when ``advise_always``), or None when it has no hook or none of
    its File parameters is set (and it is not ``advise_always``)."""
    if not plugin.advise or not (plugin.advise_always or files_set(plugin, params)):
        return None
    module, function = plugin.advise.split(":")
    hook = getattr(importlib.import_module(module), function)
    return hook(trace, params, capacity) if plugin.advise_always else hook(trace, params)


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
    params: dict = field(default_factory=dict)  # name -> Int, Float, Bool or Choice
    replay: Callable = None  # (ctx, state) -> BatchReplay, in place of the hooks
    # Whether state is shared between sets (a global predictor, sketch, duel counter or
    # random stream): then a set-associative replay need not equal the per-set fully
    # associative ones, and recsim.testing.check_policy does not compare them.
    cross_set: bool = False
    # (sets, ways, params) -> the sets whose accesses train the global state (DRRIP's
    # leader sets, Hawkeye's OPTgen sets): a set-sampled replay also replays them, so the
    # global state sees all its training data, and counts only its drawn sets.
    training_sets: Callable = None
    # Whether the global state changes only on accesses to the training sets (it may be
    # read anywhere) and the training sets replace as the others do: then set sampling,
    # which replays them, is exact and counts them too. Not DRRIP: its leader sets run
    # fixed policies, and its BIP counter counts the BIP fills of every set.
    training_only: bool = False
    # The parameters the engine passes each hook, by position (the module docstring).
    HOOKS: ClassVar[dict] = {
        "make_state": ("ctx", "params"), "replay": ("ctx", "state"),
        "training_sets": ("sets", "ways", "params"),
        "victim": ("state", "set_", "base", "ways", "vid", "t", "prefetch"),
        "on_access": ("state", "vid", "t"),
        "on_hit": ("state", "set_", "slot", "vid", "t", "prio"),
        "on_fill": ("state", "set_", "slot", "vid", "t", "prio", "prefetch"),
        "on_evict": ("state", "set_", "slot", "vid", "t")}

    def __post_init__(self):
        if self.victim is None and self.replay is None:
            raise TypeError(f"policy {self.name!r} has no victim hook")
        if self.training_sets is not None and not self.cross_set:
            raise TypeError(f"policy {self.name!r}: training_sets train global state; "
                            "declare cross_set=True")
        if self.training_only and self.training_sets is None:
            raise TypeError(f"policy {self.name!r}: training_only needs training_sets")
        super().__post_init__()


@dataclass(frozen=True, eq=False)
class Prefetcher(_Plugin):
    on_access: Callable = no_prefetch
    on_evict: Callable = noop_prefetcher_evict
    params: dict = field(default_factory=dict)  # name -> Int, Float, Bool or Choice
    # (n_unique, params) -> buffer slots its metadata takes from the buffer (e.g. Domino's
    # history when charged against capacity); the engine shrinks the capacity by that.
    metadata_vectors: Callable = None
    HOOKS: ClassVar[dict] = {
        "make_state": ("ctx", "params"), "metadata_vectors": ("n_unique", "params"),
        "on_access": ("state", "vid", "table", "outcome", "t", "slot_of", "out"),
        "on_evict": ("state", "vid", "t")}
