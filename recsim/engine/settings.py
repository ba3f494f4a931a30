"""The settings of one replay, checked in one place: :class:`ReplaySettings`.

``capacity`` is a vector count (int) or a fraction of the trace's unique vectors (float in
(0, 1], or a string such as ``"10%"``), resolved against a trace by
:func:`resolve_capacity`. ``ways=0`` (or ``ways >= capacity``) is fully associative (one
set); otherwise ``sets = capacity // ways`` and the usable capacity is ``sets * ways``
(:func:`resolve_geometry`). Latencies are in accesses: ``prefetch_latency`` from issuing a
prefetch to its arrival, ``fetch_latency`` from a demand miss to its arrival.
``prefetch_budget`` caps the prefetches issued per inference batch and ``max_outstanding``
those in flight (None: no cap, no bound). ``seed`` goes to plug-ins that draw random
numbers. ``dedup="batch"`` replays each batch's distinct rows once, in order of first
lookup (a row looked up several times in a batch counts one access), as FBGEMM's cache
looks up a batch's unique indices; every policy and prefetcher sees that trace.
``eval_after=N``: the whole trace is replayed and every count is read on the accesses
from ``N`` on (the first ``N`` warm the buffer; a learned model is judged after its
training span). The
Python API (:func:`recsim.simulate`), ``recsim simulate`` and every cell of an experiment
build one of these, so a bad value is one ConfigError naming the setting, raised before
any work.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field, fields

import numba
import numpy as np

from recsim.errors import ConfigError
from recsim.traces.stats import fraction_capacity


def _check_int(name: str, value, minimum: int | None, note: str = "") -> None:
    if (isinstance(value, bool) or not isinstance(value, (int, np.integer))
            or (minimum is not None and value < minimum)):
        bound = "" if minimum is None else f" >= {minimum}"
        raise ConfigError(f"{name}: expected an integer{bound}{note}, got {value!r}")


def _capacity_value(capacity) -> int | float:
    """``capacity`` as a vector count (int) or a fraction in (0, 1] (float), checked."""
    value = capacity
    if isinstance(value, str):
        text = value.strip()
        try:
            value = float(text[:-1]) / 100 if text.endswith("%") else (
                float(text) if any(c in text for c in ".eE") else int(text))
        except ValueError:
            raise ConfigError(f"capacity: expected a vector count, a fraction or a percent, "
                              f"got {capacity!r}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ConfigError(f"capacity: expected a number, got {capacity!r}")
    if isinstance(value, (float, np.floating)):
        if not 0 < value <= 1:
            raise ConfigError(f"capacity: a fraction of unique vectors must be in (0, 1], "
                              f"got {capacity!r}")
        return float(value)
    if value <= 0:
        raise ConfigError(f"capacity: expected a positive number of vectors, got {capacity!r}")
    return int(value)



@numba.vectorize(["uint64(uint64)"], cache=True)
def mix64(z):
    """splitmix64's finaliser: a well-mixed 64-bit hash (a ufunc, also callable from
    compiled code on one value)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def set_index(keys: np.ndarray, sets: int, hashed: np.ndarray | None = None) -> np.ndarray:
    """Set of each vector: :func:`mix64` of its key, modulo ``sets`` (``hashed``: that
    hash of the keys, computed once for several set counts)."""
    if sets == 1:
        return np.zeros(keys.shape[0], dtype=np.int64)
    hashed = mix64(keys.astype(np.uint64)) if hashed is None else hashed
    return (hashed % np.uint64(sets)).astype(np.int64)


def check_rate(rate, where: str = "sample") -> float:
    """A sampling rate (:mod:`recsim.engine.sample`) as a float in (0, 1], or a one-line
    ConfigError naming ``where``."""
    if isinstance(rate, (bool, np.bool_)) or not isinstance(rate, (int, float, np.number)) \
            or not 0 < rate <= 1:
        raise ConfigError(f"{where}: expected a sampling rate in (0, 1], got {rate!r}")
    return float(rate)


def resolve_capacity(capacity, n_unique: int) -> int:
    """An absolute vector count from an int, a fraction in (0, 1], or a percent string."""
    value = _capacity_value(capacity)
    return fraction_capacity(value, n_unique) if isinstance(value, float) else value


def resolve_geometry(capacity: int, ways: int) -> tuple[int, int, int]:
    """``(usable capacity, sets, ways)``."""
    _check_int("ways", ways, 0, " (0 = fully associative)")
    if ways == 0 or ways >= capacity:
        return capacity, 1, capacity
    sets = capacity // ways
    return sets * ways, sets, int(ways)


@dataclass(frozen=True)
class Setting:
    """How one replay setting is checked and offered: the YAML key of its sweep axis
    (``axis``: a list in the YAML, or one value, an axis of one; else a scalar key of the
    setting's own name) and the
    ``recsim simulate`` flag's argparse options (``cli``; the flag is ``--name-with-dashes``).
    ``minimum``/``note``: an integer setting's bound and what its edge means; ``optional``:
    None is allowed (no cap)."""

    help: str
    minimum: int | None = None
    note: str = ""
    optional: bool = False
    axis: str | None = None
    cli: dict = field(default_factory=dict)


def setting(default, help: str, **how):
    """A field of :class:`ReplaySettings` declared with its :class:`Setting`."""
    return field(default=default, metadata={"setting": Setting(help, **how)})


@dataclass(frozen=True, kw_only=True)
class ReplaySettings:
    """Buffer size and geometry, latencies, prefetch limits and seed of one replay (see
    the module); checked when made. **The one declaration of the replay settings**: the
    YAML schema's keys (:mod:`recsim.experiments.schema`), ``recsim simulate``'s flags and
    :func:`recsim.simulate`'s keywords are made from these fields (a test checks them), so
    a new setting is one field here plus its use."""

    capacity: int | float | str = setting(
        0.1, "buffer size: an integer is a vector count (1 = one vector), a number with a "
        "point a fraction of the unique vectors (1.0 = all, 0.1 = a tenth), or a percent "
        "(10%%)", axis="capacities", cli={"required": True})
    ways: int = setting(32, "0 = fully associative (default 32)", minimum=0,
                        note=" (0 = fully associative)", axis="ways", cli={"type": int})
    prefetch_latency: int = setting(0, "accesses until a prefetch arrives (default 0)",
                                    minimum=0, cli={"type": int})
    prefetch_budget: int | None = setting(
        None, "prefetches per batch at most (default: no cap)", minimum=0,
        note=" (None: no cap)", optional=True, cli={"type": int})
    fetch_latency: int = setting(0, "accesses until a demand miss arrives (default 0)",
                                 minimum=0, cli={"type": int})
    max_outstanding: int | None = setting(
        None, "prefetches in flight at most (default: no bound)", minimum=1,
        note=" (None: no bound)", optional=True, cli={"type": int})
    dedup: str | None = setting(
        None, "batch: a row looked up several times in a batch counts once",
        cli={"choices": ["batch"]})
    seed: int = setting(0, "seed of plug-ins that draw random numbers (default 0)",
                        axis="seeds", cli={"type": int})
    eval_after: int = setting(
        0, "count only the accesses from N on (the first N warm the buffer)", minimum=0,
        note=" (accesses replayed before counting)", cli={"type": int, "metavar": "N"})
    sample: float | None = setting(
        None, "replay a sample at rate R in (0, 1]: set sampling (set-associative) or a "
        "miniature simulation of the hashed keys (fully associative); see recsim.engine.sample",
        axis="sample", cli={"type": float, "metavar": "R"})
    salt: int = setting(0, "the sample's hash salt (default 0)", cli={"type": int})
    training_sets: bool = setting(
        True, "set sampling also replays a global-state policy's training sets (exact or "
        "closer, at their cost; --no-training-sets: the drawn sets alone)",
        cli={"action": argparse.BooleanOptionalAction})

    def __post_init__(self):
        _capacity_value(self.capacity)
        if self.sample is not None:
            check_rate(self.sample)
        if not isinstance(self.training_sets, (bool, np.bool_)):
            raise ConfigError(f"training_sets: expected true or false, got "
                              f"{self.training_sets!r}")
        for f in fields(self):
            how = f.metadata["setting"]
            value = getattr(self, f.name)
            choices = how.cli.get("choices")
            if choices and value is not None and value not in choices:
                raise ConfigError(f"{f.name}: expected {' or '.join(map(repr, choices))} or "
                                  f"none, got {value!r}")
            if f.type in ("int", "int | None") and not (how.optional and value is None):
                _check_int(f.name, value, how.minimum, how.note)

    def recorded(self) -> dict:
        """What a result records in ``params`` beside the plug-ins' parameters (capacity
        and ways are result fields of their own; a sampled replay records ``sample`` and
        ``salt`` in its own ``params["sample"]``, recsim.engine.sample)."""
        return {f.name: getattr(self, f.name) for f in fields(self)
                if f.name not in ("capacity", "ways", "sample", "salt", "training_sets")}


def declared() -> dict:
    """``{name: (default, Setting)}`` of every replay setting, in declaration order."""
    return {f.name: (f.default, f.metadata["setting"]) for f in fields(ReplaySettings)}


def make_settings(where: str, **values) -> ReplaySettings:
    """:class:`ReplaySettings` from keywords; an unknown one is a ConfigError naming
    ``where`` (the caller: ``simulate``) and the settings there are."""
    unknown = sorted(set(values) - set(declared()))
    if unknown:
        raise ConfigError(f"{where}: unknown setting {unknown[0]!r}; the replay settings are "
                          + ", ".join(declared()))
    return ReplaySettings(**values)
