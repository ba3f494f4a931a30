"""The ``advise`` hooks of the learned plug-ins: the ``recmg`` policy (caching model) and
the ``recmg`` and ``transfetch`` prefetchers (:mod:`recsim.plugin`, docs/architecture.md).

The engine calls a hook before the replay when the plug-in's ``model`` names a checkpoint.
The hook checks it (a readable checkpoint of the kind the plug-in takes, trained on the
head of this trace: the same training vocabulary), runs the model batched over the
accesses after its training span (:func:`recsim.recmg.deploy.predict`, from the first
whole chunk, as ``kind: recmg-evaluation`` does) and returns the advice
(:func:`recsim.recmg.deploy.advice`). Earlier accesses get none: replaying the whole
trace warms the buffer on them.

Predictions are cached beside an on-disk trace, ``TRACE/advice/DIGEST.npz``, keyed by
the checkpoint's content digest (the trace is the directory; a span follows from both),
so a second replay with the same model, under another policy, buffer or lag, reads them
back instead of running the model again. A trace in memory (or a read-only directory)
is predicted each time.
"""

from __future__ import annotations

import numpy as np

from recsim.engine.replay import Advice
from recsim.errors import ConfigError
from recsim.files import advice_file, digest, save_npz_cache
from recsim.recmg import deploy, transfetch
from recsim.recmg.encoding import Vocabulary
from recsim.recmg.train import load_checkpoint, model_of

_FIELDS = ("keep", "ptr", "vids")


def caching_advice(trace, params: dict) -> Advice:
    """Priorities from a caching model (the ``recmg`` policy's hook)."""
    return deploy.advice(trace, predictions(params["model"], "recmg-cache", trace))


def prefetch_advice(trace, params: dict) -> Advice:
    """Prefetch lists from a RecMG prefetch model (the ``recmg`` prefetcher's hook)."""
    return deploy.advice(trace, None, predictions(params["model"], "recmg-prefetch", trace),
                         params["lag"])


def transfetch_advice(trace, params: dict) -> Advice:
    """Prefetch lists from a TransFetch model (the ``transfetch`` prefetcher's hook)."""
    return deploy.advice(trace, None, predictions(params["model"], "transfetch", trace),
                         params["lag"])


def checked_checkpoint(path, kind: str, trace=None) -> dict:
    """The checkpoint at ``path``, checked to hold a ``kind`` model and, given ``trace``,
    to have been trained on its head; every problem is one line naming the file."""
    ck = load_checkpoint(path)
    _check_kind(path, ck["kind"], kind)
    if not ck["history"]:  # best_state is still the initial weights
        raise ConfigError(f"{path}: its training was stopped before its first epoch ended; "
                          "resume it (recsim train ... --resume)")
    if trace is not None:
        check_trace(path, ck, trace)
    return ck


def _check_kind(path, found: str, kind: str) -> None:
    if found != kind:
        raise ConfigError(f"{path}: a {found} checkpoint; expected a {kind} model")


def check_trace(path, ck: dict, trace) -> None:
    """That the model learnt from the first accesses of ``trace``: as many exist, and the
    vocabulary (or row-id scale) fitted on them is the checkpoint's, for TransFetch the
    key space's segments."""
    n = ck["data"]["train_accesses"]
    where = f"{path}: trained on the first {n:,} accesses of trace '{ck['data']['trace']}'"
    if n > trace.n_accesses:
        raise ConfigError(f"{where}; trace '{trace.name}' has {trace.n_accesses:,}")
    if ck["kind"] == "transfetch":
        same = ck["params"]["segments"] == transfetch.segments_for(trace.key_space)
    else:
        saved = deploy.vocabulary(ck["payload"])
        fitted = (Vocabulary.fit(trace.table[:n], trace.row[:n], trace.n_tables)
                  if isinstance(saved, Vocabulary)
                  else type(saved).fit(trace.table[:n], trace.row[:n], trace.cardinalities))
        a, b = saved.to_dict(), fitted.to_dict()
        same = all(np.array_equal(a[k], b[k]) for k in a)
    if not same:
        raise ConfigError(f"{where}, a vocabulary other than trace '{trace.name}''s: train "
                          "the model on this trace")


def predictions(path, kind: str, trace) -> deploy.Predictions:
    """The predictions of the ``kind`` model at ``path`` for ``trace``, from the first
    whole chunk after its training span to the end (see module)."""
    try:
        cache = advice_file(trace, f"{digest(path)}.npz")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the model checkpoint: {exc.strerror}") from None
    if cache is not None and cache.exists():
        with np.load(cache, allow_pickle=False) as saved:
            _check_kind(path, str(saved["kind"]), kind)
            return deploy.Predictions(kind, int(saved["start"]), int(saved["chunk"]),
                                      **{k: saved[k] for k in _FIELDS if k in saved},
                                      predicted=int(saved["predicted"]),
                                      seconds=float(saved["seconds"]))
    ck = checked_checkpoint(path, kind, trace)
    start = -(-ck["data"]["train_accesses"] // deploy.CHUNK) * deploy.CHUNK
    if start >= trace.n_accesses:
        raise ConfigError(f"{path}: trained on {ck['data']['train_accesses']:,} of the "
                          f"{trace.n_accesses:,} accesses of trace '{trace.name}', so none "
                          "is left to advise: train it on a head (--train-accesses)")
    pred = deploy.predict(model_of(ck), trace, start)
    if cache is not None:
        arrays = {k: getattr(pred, k) for k in _FIELDS if getattr(pred, k) is not None}
        save_npz_cache(cache, kind=kind, start=pred.start, chunk=pred.chunk,
                       predicted=pred.predicted, seconds=pred.seconds, **arrays)
    return pred
