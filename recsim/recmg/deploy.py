"""Deployment of trained models in the replay engine, and their evaluation.

The models run in PyTorch outside the replay loop (docs/design.md, "Engine"): batched CPU
inference over the chunks of ``chunk`` accesses (default 15, the models' input length)
of the part ``[start, stop)`` of a trace gives an :class:`recsim.engine.Advice`:

- ``priority``: the caching model's decision per access (1.0 keep, 0.0 not; logit > 0),
  which the ``recmg`` policy turns into Algorithm 2's priorities. The decision for an
  access comes from the chunk that contains it: the indices of an inference batch are
  known before it runs, so the model can classify them in time.
- prefetch lists: the prefetch model's ``output_len`` points for chunk ``k`` snapped to
  vectors (:meth:`recsim.recmg.encoding.Vocabulary.snap`), or TransFetch's predictions at
  the last access of chunk ``k``, issued at the start of chunk ``k + lag`` (default 1:
  inference for the next chunk overlaps the replay of this one, as RecMG's pipeline).
  Predicted vectors that the replayed trace never accesses are dropped (they could only
  pollute the buffer, so a wrong guess of such a vector is not charged; correctness
  counts it as wrong).

Accesses before ``start`` get no advice: replaying the whole trace warms the buffer on the
training accesses, and metrics are read on ``[start, stop)`` from the hit log.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from recsim.engine.replay import Advice
from recsim.errors import ConfigError
from recsim.recmg import transfetch
from recsim.recmg.encoding import load_encoding
from recsim.recmg.train import sequence_inputs

INFERENCE_BATCH = 4096  # sequences per forward pass
CHUNK = 15  # accesses per chunk: the models' input length


@dataclass
class Predictions:
    """What a model predicted for ``[start, stop)`` and what the inference cost."""

    kind: str
    start: int
    chunk: int
    keep: np.ndarray | None = None  # uint8 per access of [start, stop) (caching model)
    prob: np.ndarray | None = None  # float32 per access: its probability of keep
    ptr: np.ndarray | None = None  # CSR per chunk of predicted vids (prefetch models)
    vids: np.ndarray | None = None
    predicted: int = 0  # predictions made, including those that snapped to no vector
    seconds: float = 0.0

    @property
    def us_per_access(self) -> float:
        """Inference time per access of the span (what the paper's Table II reports as
        the cost per prediction, batched here)."""
        n = self.keep.shape[0] if self.keep is not None else (self.ptr.shape[0] - 1) * self.chunk
        return 1e6 * self.seconds / max(n, 1)


def vocabulary(payload: dict):
    """The encoding a checkpoint's model was trained with."""
    return load_encoding(payload["vocab"])


def _batched(model, *inputs):
    out = []
    with torch.inference_mode():
        for lo in range(0, inputs[0].shape[0], INFERENCE_BATCH):
            out.append(model(*(x[lo:lo + INFERENCE_BATCH] for x in inputs)))
    return torch.cat(out) if out else torch.zeros(0)


def _sequences(vocab, trace, start, stop, chunk):
    """Whole chunks of ``[start, stop)`` as model inputs (:func:`sequence_inputs`), and the
    trailing partial one (None if there is none)."""
    table, row = trace.table[start:stop], trace.row[start:stop]
    n = (stop - start) // chunk * chunk
    tail = sequence_inputs(vocab, table[n:], row[n:], stop - start - n) if n < stop - start \
        else None
    return sequence_inputs(vocab, table, row, chunk), tail


def predict(loaded, trace, start: int = 0, stop: int | None = None,
            chunk: int = CHUNK) -> Predictions:
    """Batched inference of a loaded model (:func:`recsim.recmg.train.load_model`) over
    ``[start, stop)`` of ``trace``."""
    kind, model, payload = loaded.kind, loaded.model, loaded.payload
    stop = trace.n_accesses if stop is None else stop
    began = time.perf_counter()
    if kind == "transfetch":
        pred = _transfetch(model, loaded.params, payload, trace, start, stop, chunk)
    else:
        vocab = vocabulary(payload)
        whole, tail = _sequences(vocab, trace, start, stop, chunk)
        if kind == "recmg-cache":
            logits = [_batched(model, *whole[:2]).reshape(-1)]
            if tail is not None:
                logits.append(_batched(model, *tail[:2]).reshape(-1))
            logits = torch.cat(logits)
            pred = Predictions(kind, start, chunk, keep=(logits > 0).numpy().astype(np.uint8),
                               prob=torch.sigmoid(logits).numpy())
            pred.predicted = pred.keep.shape[0]
        else:
            points = _batched(model, *whole)
            if tail is not None:
                points = torch.cat([points, _batched(model, *tail)])
            pred = _snapped(kind, vocab, trace, points.numpy(), start, chunk)
    pred.seconds = time.perf_counter() - began
    return pred


def _to_vids(trace, keys, ptr):
    """Keep the keys the trace accesses, as vids; ``ptr`` recounted (CSR)."""
    dense = trace.dense()
    pos = np.minimum(np.searchsorted(dense.keys, keys), dense.keys.shape[0] - 1)
    ok = dense.keys[pos] == keys
    kept = np.concatenate([[0], np.cumsum(ok)])[ptr]  # CSR of the kept keys
    return kept.astype(np.int64), pos[ok].astype(np.int64)


def _snapped(kind, vocab, trace, points, start, chunk) -> Predictions:
    n_chunks, per = points.shape[0], points.shape[1]
    table, row, ok = vocab.snap(points.reshape(-1, 2))
    keys = trace.table_base[table] + row
    ptr = np.concatenate([[0], np.cumsum(ok.reshape(n_chunks, per).sum(1))])
    ptr, vids = _to_vids(trace, keys, ptr)
    return Predictions(kind, start, chunk, ptr=ptr, vids=vids, predicted=n_chunks * per)


def _transfetch(model, p, payload, trace, start, stop, chunk) -> Predictions:
    pos = np.minimum(np.arange(start + chunk - 1, stop + chunk - 1, chunk), stop - 1)
    ptr, keys = transfetch.predict_keys(model, trace.keys(), pos, payload["threshold"],
                                        p["degree"], p["history"], p["segments"],
                                        p["max_delta"])
    ptr, vids = _to_vids(trace, keys, ptr)
    return Predictions("transfetch", start, chunk, ptr=ptr, vids=vids,
                       predicted=int(keys.shape[0]))


def advice(trace, caching: Predictions | None = None, prefetch: Predictions | None = None,
           lag: int = 1, soft: bool = False) -> Advice:
    """The engine's advice for the whole trace from the predictions of one or two models
    (accesses before a prediction's ``start`` get none). The priority of an access is the
    caching model's decision (1.0 keep, 0.0 not), or with ``soft`` its probability of
    keep, so that the ``recmg`` policy ranks vectors by predicted reuse (a vector kept
    with probability p outlives ``round(p x keep)`` more evictions) instead of two
    classes."""
    if ((caching is not None and caching.keep is None)
            or (prefetch is not None and prefetch.ptr is None)):
        raise ConfigError("advice: expected a recmg-cache model for caching and a "
                          "recmg-prefetch or transfetch model for prefetching")
    priority = None
    if caching is not None:
        priority = np.zeros(trace.n_accesses)
        priority[caching.start:caching.start + caching.keep.shape[0]] = (
            caching.prob if soft else caching.keep)
    if prefetch is None:
        return Advice(priority=priority)
    chunk, first = prefetch.chunk, prefetch.start // prefetch.chunk
    if prefetch.start % chunk:
        raise ConfigError(f"advice start {prefetch.start}: expected a multiple of the "
                          f"chunk ({chunk} accesses)")
    ptr = np.concatenate([np.zeros(first, np.int64), prefetch.ptr])
    return Advice(priority=priority, prefetch_ptr=ptr, prefetch_vids=prefetch.vids,
                  chunk=chunk, lag=lag)


GATE_PRECISION = 0.1  # the gate's default: a transferred prefetch must be used 1 time in 10
GATE_HISTORY = 64  # chunks of predictions whose outcome the gate reads


def gate(pred: Predictions, vids: np.ndarray, capacity: int, horizon: int,
         threshold: float = GATE_PRECISION, history: int = GATE_HISTORY,
         lag: int = 1) -> Predictions:
    """A prefetch confidence gate: ``pred`` without the lists of the chunks issued while the
    recent measured precision of the model is below ``threshold`` (RecMG's prefetch model,
    TransFetch; a wrong prefetch evicts a vector, so a model that is rarely right costs
    hits: issue 18 measured RecMG below CM on a trace whose order spans tables).

    The precision is what a deployed buffer observes online, for the model's predictions
    whether issued or not (the gate keeps watching while closed). The list of chunk ``k``
    is issued at access ``t = start + (k + lag) x chunk``. A predicted vector accessed in
    the last ``capacity`` accesses before ``t`` is taken as resident (fewer than
    ``capacity`` other vectors were touched since, so LRU would keep it): its prefetch
    transfers nothing and costs nothing, and it is left out. Another is *used* when it is
    accessed in ``[t, t + horizon)``, known at ``t + horizon``. The gate of chunk ``k``
    reads the ``history`` latest chunks whose outcome is known at its own issue time
    (chunks ``j <= k - ceil(horizon / chunk)``) and opens when their used share of the
    transferred predictions is at least ``threshold``, or when they have none."""
    n = np.int64(vids.shape[0])
    n_chunks = pred.ptr.shape[0] - 1
    owner = np.repeat(np.arange(n_chunks), np.diff(pred.ptr))
    issue = pred.start + (owner + lag) * pred.chunk
    order = np.argsort(vids, kind="stable")
    occurrences = vids[order].astype(np.int64) * n + order  # sorted: by vid, then position
    key = pred.vids.astype(np.int64) * n
    at = np.searchsorted(occurrences, key + np.minimum(issue, n))
    before = occurrences[np.maximum(at - 1, 0)]
    recent = (at > 0) & (before >= key) & (before >= key + issue - capacity)
    after = occurrences[np.minimum(at, occurrences.shape[0] - 1)]
    used = (at < occurrences.shape[0]) & (after < key + np.minimum(issue + horizon, n))
    moved = np.bincount(owner, ~recent, n_chunks)
    hits = np.bincount(owner, used & ~recent, n_chunks)
    cum_moved = np.concatenate([[0], np.cumsum(moved)])
    cum_hits = np.concatenate([[0], np.cumsum(hits)])
    k = np.arange(n_chunks)
    known = np.clip(k - (-(-horizon // pred.chunk)) + 1, 0, n_chunks)  # chunks [0, known)
    lo = np.maximum(known - history, 0)
    seen = cum_moved[known] - cum_moved[lo]
    open_ = (seen == 0) | (cum_hits[known] - cum_hits[lo] >= threshold * seen)
    keep = open_[owner]
    ptr = np.concatenate([[0], np.cumsum(np.bincount(owner[keep], minlength=n_chunks))])
    return Predictions(pred.kind, pred.start, pred.chunk, ptr=ptr.astype(np.int64),
                       vids=pred.vids[keep], predicted=pred.predicted, seconds=pred.seconds)


# -- evaluation ---------------------------------------------------------------------------

def caching_accuracy(pred: Predictions, labels) -> float:
    """Share of the accesses of the span with a known label (``labels``: the whole trace's
    :class:`recsim.recmg.labels.Labels`) whose decision equals the OPT caching label."""
    span = slice(pred.start, pred.start + pred.keep.shape[0])
    known = labels.known[span]
    return float((pred.keep == labels.cache[span])[known].mean()) if known.any() else 0.0


def coverage(pred: Predictions, vids: np.ndarray, miss_index: np.ndarray, stop: int) -> float:
    """The paper's Eq. 2 over unique vectors: ``|prefetched & ground truth| / |ground
    truth|``, the ground truth being the vectors of the OPT misses in ``[pred.start,
    stop)`` (what the prefetch model learns to predict) and the prefetched set every vector
    ``pred`` names. 0 when there is no ground truth."""
    span = miss_index[(miss_index >= pred.start) & (miss_index < stop)]
    truth = np.unique(vids[span])
    return float(np.isin(truth, pred.vids).sum() / truth.shape[0]) if truth.size else 0.0


def miss_reduction(hits: np.ndarray, baseline_hits: np.ndarray) -> float:
    """``1 - misses / baseline misses`` of two hit logs over the same accesses: the share of
    the baseline's misses that prefetching removes (negative when it adds misses). Not the
    paper's coverage (:func:`coverage`). 0 when the baseline has no miss."""
    base = baseline_hits.shape[0] - int(baseline_hits.sum())
    return 1 - (hits.shape[0] - int(hits.sum())) / base if base else 0.0


def _windows(pred: Predictions, miss_index: np.ndarray):
    """Per chunk of ``pred``: its end, and the index into ``miss_index`` of the first OPT
    miss after it; per prediction: its chunk."""
    n_chunks = pred.ptr.shape[0] - 1
    ends = pred.start + (np.arange(n_chunks) + 1) * pred.chunk
    return ends, np.searchsorted(miss_index, ends), np.repeat(np.arange(n_chunks),
                                                              np.diff(pred.ptr))


def correctness(pred: Predictions, vids: np.ndarray, miss_index: np.ndarray,
                window: int) -> float:
    """Share of all predictions (including those that matched no vector of the trace) whose
    vector is accessed before the end of the evaluation window: the next ``window`` OPT
    misses after the chunk the prediction was made from, as the loss sees them."""
    ends, first, owner = _windows(pred, miss_index)
    last = first + window - 1
    full = last < miss_index.shape[0]  # else the window runs to the end of the trace
    horizon = np.full(ends.shape[0], vids.shape[0], np.int64)
    horizon[full] = miss_index[last[full]] + 1
    used = _used_between(vids, pred.vids, np.minimum(ends[owner], vids.shape[0]),
                         horizon[owner])
    return float(used.sum() / max(pred.predicted, 1))


def window_precision(pred: Predictions, vids: np.ndarray, miss_index: np.ndarray,
                     window: int) -> float:
    """Share of all predictions whose vector is one of the evaluation window's OPT misses
    (the next ``window`` after the chunk), the targets the model learns. Stricter than
    :func:`correctness`, which also counts a predicted vector that is only accessed (a hit,
    which needed no prefetch) before the window ends."""
    ends, first, owner = _windows(pred, miss_index)
    idx = first[:, None] + np.arange(window)[None, :]
    inside = idx < miss_index.shape[0]
    n_chunks = np.int64(ends.shape[0])
    chunk = np.broadcast_to(np.arange(n_chunks)[:, None], idx.shape)[inside]
    targets = vids[miss_index[idx[inside]]].astype(np.int64) * n_chunks + chunk
    found = np.isin(pred.vids.astype(np.int64) * n_chunks + owner, targets)
    return float(found.sum() / max(pred.predicted, 1))


def _used_between(vids: np.ndarray, query: np.ndarray, lo: np.ndarray, hi: np.ndarray):
    """Whether vector ``query[i]`` is accessed at a position in ``[lo[i], hi[i])``."""
    n = np.int64(vids.shape[0])
    order = np.argsort(vids, kind="stable")
    occurrences = vids[order].astype(np.int64) * n + order  # sorted: by vid, then position
    q = query.astype(np.int64) * n
    lo, hi = np.minimum(lo, n), np.minimum(hi, n)  # stay inside the query's own vector
    at = np.searchsorted(occurrences, q + lo)
    found = np.minimum(at, occurrences.shape[0] - 1)
    return (at < occurrences.shape[0]) & (occurrences[found] < q + hi)
