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

from dataclasses import dataclass

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
class ReplaySettings:
    """Buffer size and geometry, latencies, prefetch limits and seed of one replay (see
    the module); checked when made."""

    capacity: int | float | str = 0.1
    ways: int = 32
    prefetch_latency: int = 0
    fetch_latency: int = 0
    prefetch_budget: int | None = None
    max_outstanding: int | None = None
    seed: int = 0
    dedup: str | None = None
    eval_after: int = 0
    sample: float | None = None  # replay a sample at this rate (recsim.engine.sample)
    salt: int = 0  # the sample's hash salt

    def __post_init__(self):
        _capacity_value(self.capacity)
        _check_int("ways", self.ways, 0, " (0 = fully associative)")
        _check_int("prefetch_latency", self.prefetch_latency, 0)
        _check_int("fetch_latency", self.fetch_latency, 0)
        if self.prefetch_budget is not None:
            _check_int("prefetch_budget", self.prefetch_budget, 0, " (None: no cap)")
        if self.max_outstanding is not None:
            _check_int("max_outstanding", self.max_outstanding, 1, " (None: no bound)")
        _check_int("seed", self.seed, None)
        _check_int("eval_after", self.eval_after, 0, " (accesses replayed before counting)")
        if self.sample is not None:
            check_rate(self.sample)
        _check_int("salt", self.salt, None)
        if self.dedup not in (None, "batch"):
            raise ConfigError(f"dedup: expected 'batch' or none, got {self.dedup!r}")

    def recorded(self) -> dict:
        """What a result records in ``params`` beside the plug-ins' parameters (capacity
        and ways are result fields of their own)."""
        return {"prefetch_latency": self.prefetch_latency,
                "prefetch_budget": self.prefetch_budget, "fetch_latency": self.fetch_latency,
                "max_outstanding": self.max_outstanding, "dedup": self.dedup,
                "seed": self.seed, "eval_after": self.eval_after}
