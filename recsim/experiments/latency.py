"""The latency model: inference time per batch = ``a + b * miss_rate`` (the RecMG paper's
Sec. VI-E, Fig. 18), fitted by least squares on times measured by the TorchRec harness
(:mod:`recsim.harness`) and saved as a calibration JSON.

A calibration holds ``a`` and ``b`` in seconds per batch of the calibrated model (its
``sizes``: tables, rows, dimension, samples and lookups per batch), ``per_miss_s``
(``b`` over the lookups of a batch), the fit's quality (``r2``, ``rmse_s``,
``max_rel_error``), the measured ``points``, and where it was measured (``device``,
``backend``, ``versions``). Experiments turn a cell's simulated miss ratio into
``est_latency_ms = 1000 * (a + b * miss_ratio)``: the latency of one batch of the
calibrated model at that miss ratio, as the paper does; it does not rescale to the
experiment trace's batch size.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from recsim.errors import ConfigError


def fit(miss_rates, seconds) -> dict:
    """Least-squares ``seconds = a + b * miss_rate`` and its quality: ``r2``, ``rmse_s``
    and ``max_rel_error`` (largest ``|fit - measured| / measured``)."""
    x = np.asarray(miss_rates, np.float64)
    y = np.asarray(seconds, np.float64)
    if x.shape != y.shape or x.size < 2 or np.ptp(x) == 0:
        raise ConfigError("latency fit: needs two or more points with different miss rates")
    b, a = np.polyfit(x, y, 1)
    pred = a + b * x
    ss_res = float(((y - pred) ** 2).sum())
    ss_tot = float(((y - y.mean()) ** 2).sum())
    return {"a": float(a), "b": float(b), "r2": 1.0 - ss_res / ss_tot if ss_tot else 1.0,
            "rmse_s": math.sqrt(ss_res / x.size),
            "max_rel_error": float((np.abs(pred - y) / y).max())}


def load_calibration(path) -> dict:
    """A calibration JSON, checked: one ConfigError naming the file and the bad field."""
    path = Path(path)
    try:
        cal = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not a readable latency calibration: {exc}") from None
    if not isinstance(cal, dict):
        raise ConfigError(f"{path}: expected a JSON object (a latency calibration)")
    for key in ("a", "b"):
        value = cal.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value):
            raise ConfigError(f"{path}: field '{key}': expected a number (seconds per batch), "
                              f"got {value!r}")
    return cal


def estimate_ms(cal: dict, miss_ratio: float) -> float:
    """Estimated latency of one calibrated batch at ``miss_ratio``, in milliseconds."""
    return 1e3 * (cal["a"] + cal["b"] * miss_ratio)
