"""Online next-use prediction for the ``nextuse`` policy: its ``advise`` hook.

No train/test split: the first ``warmup`` accesses warm up; then every ``retrain``
accesses a LightGBM model is trained on the accesses labelled in the last ``window``
accesses (the next use has happened, or the horizon has passed: :func:`known`) and predicts
the next ``retrain`` accesses from their past-only features
(:mod:`recsim.nextuse.features`). The advice of access ``t`` is its predicted next-use
distance in accesses, in ``[1, horizon]`` (0: no prediction, the warm-up), which the
policy turns into an estimated time of next use (Mockingjay's per-way ETA).

Three labels (``label``):

* ``log``: LRB's regression target, ``log2`` of the next-use distance clipped at
  ``horizon``;
* ``reach``: whether the next use comes within the buffer's reach ``H`` (binary
  objective), ``H`` being Che's characteristic time (Che, Tung and Wang, IEEE JSAC 2002):
  the span of the last accesses that touched ``capacity`` distinct vectors, measured on
  the past at each training (:func:`reach`; at most ``horizon``). What matters for an
  eviction is whether the vector is used again before it would leave the buffer, not
  how far beyond that its use lies (LRB's "Belady boundary"). The predicted probability
  ``p`` becomes a distance by reading the next use as a Poisson arrival of rate
  ``lambda`` with ``P(within H) = 1 - exp(-lambda H) = p``: the expected distance
  ``1 / lambda = H / -ln(1 - p)``, so the policy stays one ranking by distance;
* ``opt``: whether Belady's MIN (with bypass), fully associative at ``capacity``, keeps
  the vector until its next use (OPTgen's label, Hawkeye and Mockingjay:
  :func:`recsim.nextuse.features.opt_hits`; they run it per sampled set, the advise step
  knows the capacity only), binary, read as a distance as ``reach``; an access whose
  next use has not come by the training is labelled 0 (MIN's decision is not known yet).

Defaults follow LRB's published settings (``src/caches/lrb.h`` at github.com/sunnyszy/lrb,
``GBM_PARAMS``): 32 boosting rounds, 32 leaves, learning rate 0.1, feature and bagging
fraction 0.8; a training batch of 128K samples (LRB's ``batch_size``), retrained every
128K accesses. Deviations: one thread (deterministic, seeded), and the label is clipped
at ``horizon`` accesses (LRB: twice its memory window).

``model``: a saved model (``nextuse-model`` file, :func:`save_model`) that predicts from
the first access (no warm-up) until the first retraining. The advice, and the last model,
are cached beside an on-disk trace (``TRACE/advice/nextuse-KEY.npz``), keyed by the
parameters, the trace's content and this package's code.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np

from recsim.engine.replay import Advice
from recsim.errors import ConfigError
from recsim.files import advice_file, atomic_output, save_npz_cache
from recsim.nextuse import features as F
from recsim.traces.nextuse import next_use

KIND = "nextuse-model"
TRAIN_PARAMS = ("warmup", "retrain", "window", "horizon", "trees", "leaves", "threads", "seed",
                "label")
P_CLIP = 1e-4  # a predicted probability is read within [P_CLIP, 1 - P_CLIP]


def booster_params(params: dict) -> dict:
    """LightGBM's parameters (LRB's, see module), seeded and deterministic."""
    objective = "regression" if params["label"] == "log" else "binary"
    return {"objective": objective, "num_leaves": params["leaves"], "learning_rate": 0.1,
            "feature_fraction": 0.8, "bagging_fraction": 0.8, "bagging_freq": 5,
            "num_threads": params["threads"], "seed": params["seed"], "deterministic": True,
            "verbosity": -1}


def known(t_now: int, nxt: np.ndarray, horizon: int, window: int) -> np.ndarray:
    """The accesses labelled in the ``window`` accesses before ``t_now``, as LRB collects
    its training batch: an access is labelled when its next use happens, or when the
    horizon passes without one (``min(next use + 1, t + horizon)``). Picking by label
    time, not access time, keeps long distances in: the most recent accesses with a known
    label would be mostly the short ones."""
    lo = max(0, t_now - horizon - window)
    idx = np.arange(lo, t_now)
    labelled = np.minimum(nxt[lo:t_now], np.iinfo(np.int64).max - 1) + 1
    labelled = np.minimum(labelled, idx + horizon)
    return idx[(labelled <= t_now) & (labelled > t_now - window)]


def reach(t_now: int, nxt: np.ndarray, capacity: int, horizon: int) -> int:
    """Che's characteristic time at ``t_now``, from the past: the span of the last accesses
    that touched ``capacity`` distinct vectors (an access before ``t_now`` is the last of
    its vector by then when its next use is not before ``t_now``); ``horizon`` when the
    last ``horizon`` accesses touched fewer."""
    lo = max(0, t_now - horizon)
    last_of_vector = (nxt[lo:t_now] >= t_now)[::-1]
    reached = np.flatnonzero(np.cumsum(last_of_vector) >= capacity)
    return int(reached[0]) + 1 if reached.size else horizon


def online(trace, params: dict, capacity: int, progress: bool = True):
    """``(advice per access, last booster, feature importances (gain), seconds computing
    features, training, predicting)`` (see module)."""
    import lightgbm as lgb
    from tqdm import tqdm
    n, warmup, every = trace.n_accesses, params["warmup"], params["retrain"]
    began = time.perf_counter()
    dense = trace.dense()
    x = F.features(dense.vid, trace.table, trace.batch_offsets, dense.n_unique, trace.n_tables)
    nxt = next_use(np.asarray(dense.vid, np.int64), dense.n_unique)[0]
    y = F.labels(nxt, params["horizon"])
    opt = F.opt_hits(dense.vid, dense.n_unique, capacity) if params["label"] == "opt" else None
    seconds = [time.perf_counter() - began, 0.0, 0.0]
    advice = np.zeros(n)
    booster = load_model(params["model"]) if params["model"] else None
    if booster is not None:
        h = reach(warmup, nxt, capacity, params["horizon"])
        advice[:warmup] = _predict(booster, x[:warmup], params, h)
    gain = np.zeros(len(F.NAMES))
    for t_now in tqdm(range(warmup, n, every), desc="nextuse: online training",
                      disable=not progress, unit="round", leave=False):
        began = time.perf_counter()
        h = reach(t_now, nxt, capacity, params["horizon"])
        if params["label"] == "reach":
            idx = known(t_now, nxt, h, params["window"])
            target = (nxt[idx] - idx <= h).astype(np.float32)
        elif params["label"] == "opt":
            idx = known(t_now, nxt, params["horizon"], params["window"])
            target = ((opt[idx] == 1) & (nxt[idx] < t_now)).astype(np.float32)
        else:
            idx = known(t_now, nxt, params["horizon"], params["window"])
            target = y[idx]
        data = lgb.Dataset(x[idx], target, categorical_feature=[F.TABLE],
                           feature_name=list(F.NAMES), free_raw_data=True)
        booster = lgb.train(booster_params(params), data, num_boost_round=params["trees"])
        gain += booster.feature_importance("gain")
        seconds[1] += time.perf_counter() - began
        began = time.perf_counter()
        advice[t_now:t_now + every] = _predict(booster, x[t_now:t_now + every], params, h)
        seconds[2] += time.perf_counter() - began
    return advice, booster, gain / max(gain.sum(), 1e-12), *seconds


def _predict(booster, x: np.ndarray, params: dict, h: int) -> np.ndarray:
    """The predicted next-use distance, in ``[1, horizon]`` (for ``reach``, the expected
    distance of the predicted probability within ``h``, see module, unclipped above: a
    clip would tie every unlikely vector, and ties on the estimate evict the most
    recently used)."""
    out = booster.predict(x, num_threads=params["threads"])
    if params["label"] != "log":
        p = np.clip(out, P_CLIP, 1 - P_CLIP)
        return np.maximum(h / -np.log1p(-p), 1)
    return np.clip(2.0 ** out, 1, params["horizon"])


def check(trace, params: dict) -> None:
    """One line for what cannot work, before any work: a warm-up as long as the trace (no
    model to start from), or a ``model`` that is no nextuse model."""
    if params["model"]:
        load_model(params["model"])
    elif params["warmup"] >= trace.n_accesses:
        raise ConfigError(f"policy 'nextuse': parameter 'warmup': expected fewer accesses "
                          f"than trace '{trace.name}' has ({trace.n_accesses:,}), got "
                          f"{params['warmup']:,}: nothing would be predicted")


def save_model(booster, path) -> Path:
    """Write ``booster`` as a ``nextuse-model`` file (JSON: kind, feature names, model)."""
    path = Path(path)
    with atomic_output(path) as tmp:
        Path(tmp).write_text(json.dumps({"kind": KIND, "features": list(F.NAMES),
                                         "booster": booster.model_to_string()}))
    return path


def load_model(path):
    """The LightGBM booster of the ``nextuse-model`` file at ``path``; anything else
    (another kind of checkpoint, other features) is one line naming the file."""
    import lightgbm as lgb
    try:
        saved = json.loads(Path(path).read_bytes())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the model: {exc.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        saved = None
    kind = saved.get("kind") if isinstance(saved, dict) else None
    if kind != KIND:
        raise ConfigError(f"{path}: {'a ' + str(kind) if kind else 'not a'} model file; "
                          f"expected a {KIND} (written beside the trace's advice)")
    if saved.get("features") != list(F.NAMES):
        raise ConfigError(f"{path}: a {KIND} of features {saved.get('features')}; expected "
                          f"{list(F.NAMES)}")
    return lgb.Booster(model_str=saved["booster"])


def cache_key(trace, params: dict, capacity: int) -> str:
    """Digest of the parameters, the capacity (for ``reach``), the trace's content and
    this package's code."""
    keyed = {k: params[k] for k in TRAIN_PARAMS}
    if params["label"] != "log":
        keyed["capacity"] = capacity
    h = hashlib.sha256(json.dumps(keyed).encode())
    for name in ("table", "row", "batch_offsets"):
        h.update(np.ascontiguousarray(getattr(trace, name)).tobytes())
    for source in sorted(Path(__file__).parent.glob("*.py")):
        h.update(source.read_bytes())
    if params["model"]:
        h.update(Path(params["model"]).read_bytes())
    return h.hexdigest()[:20]


def advise(trace, params: dict, capacity: int) -> Advice:
    """The ``nextuse`` policy's advice for ``trace`` and a buffer of ``capacity`` vectors
    (cached beside the trace, see module)."""
    check(trace, params)
    key = cache_key(trace, params, capacity)
    cache = advice_file(trace, f"nextuse-{key}.npz")
    if cache is not None and cache.exists():
        with np.load(cache, allow_pickle=False) as saved:
            return Advice(priority=saved["priority"], warmup=_unadvised(params))
    priority, booster, gain, *seconds = online(trace, params, capacity)
    if cache is not None and save_npz_cache(cache, priority=priority, importance=gain,
                                            seconds=np.array(seconds)):
        save_model(booster, cache.with_suffix(".model"))
    return Advice(priority=priority, warmup=_unadvised(params))


def _unadvised(params: dict) -> int:
    """The accesses at the head without advice: the warm-up, unless a model starts."""
    return 0 if params["model"] else params["warmup"]
