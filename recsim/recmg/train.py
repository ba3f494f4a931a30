"""Training of the RecMG caching and prefetch models and of the TransFetch baseline.

``recsim train recmg-cache|recmg-prefetch|transfetch --trace T -o MODEL.pt`` (and
:func:`train`) learn from the first ``train_accesses`` accesses of a trace:

- ``recmg-cache``: sequences of ``input_len`` consecutive accesses (they may span
  inference batches), one caching label per access (:func:`recsim.recmg.labels.opt_labels`
  on the training accesses, Belady at ``label_fraction`` of the buffer with the buffer's
  sets), binary cross-entropy over the accesses whose label the training accesses know:
  an access whose vector is not accessed again before ``train_accesses`` is masked, as
  the training span cannot say whether the optimum keeps it (later accesses are the
  evaluation's, so labelling from them would leak; reading them as "do not keep" taught
  the model a falsehood clustered in the last 10%, the validation split).
- ``recmg-prefetch``: the same input sequences; the target of a sequence is the window of
  the next ``3 x output_len`` OPT misses after it (fewer at the end of the trace, masked),
  two-sided Chamfer loss.
- ``transfetch``: one sample every ``sample_every`` accesses (default 15, one per RecMG
  input sequence), delta-bitmap labels, binary cross-entropy; the max-F1 threshold is
  chosen on the validation split after training (:mod:`recsim.recmg.transfetch`).

The loop (:func:`fit`) is the same for all: mini-batches from a ``DataLoader`` shuffled by a
generator seeded with ``(seed, epoch)``; the last ``val_fraction`` of the samples in time
order is the validation split (the model never trains on accesses after those it is
validated on); Adam, gradient norm clipped to 1 (no learning-rate schedule); after every
epoch the validation loss, early stopping after ``patience`` epochs without improvement,
and an atomic checkpoint (``.pt``, written to a temporary file then renamed), also every
``checkpoint_steps`` steps within an epoch, holding the model's kind and parameters, the
training config, the current and the best weights, the optimiser state, the training
state (the last epoch done and the steps done in the next, the history, early stopping's
best loss and epochs without improvement), the states of torch's, numpy's and
Python's global random generators, and what the model needs at deployment (the
vocabulary, TransFetch's threshold). Checkpoints load with ``weights_only=True``.

``resume=True`` continues an interrupted run from its checkpoint and ends with the same
weights, bit for bit, as an uninterrupted one, wherever it was killed: the batches of the
epoch it stopped in come again from the loader seeded by ``(seed, epoch)`` and those done
are skipped, and the generators are restored, so the dropout masks of TransFetch (the
only model with dropout) are those of the uninterrupted run. (Before checkpoint format 4
a resume re-seeded torch instead of restoring it, and the resumed TransFetch differed.)
A resume whose kind, parameters, training data or :data:`RESUME_SETTINGS` differ from the
checkpoint's is refused; ``epochs`` and ``patience`` may change (to extend a training),
and ``threads`` (another thread count may change torch's sums in the last bits). An epoch's
``seconds`` in the history count the time spent on it in every run that trained it, the
steps lost to a kill excepted.
"""

from __future__ import annotations

import copy
import itertools
import os
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset
from tqdm.auto import tqdm

import recsim
from recsim.errors import ConfigError
from recsim.plugin import MODEL_KINDS, int_param, number_param
from recsim.recmg import transfetch
from recsim.recmg.chamfer import WINDOW_FACTOR, chamfer_loss
from recsim.recmg.encoding import fit_encoding
from recsim.recmg.labels import LABEL_FRACTION, opt_labels
from recsim.recmg.models import (CACHING_DEFAULTS, CHOICES, PREFETCH_DEFAULTS, CachingModel,
                                 PrefetchModel)

# Checkpoint format: 3 since the payload holds the encoding (vocabulary or row ids) and
# the prefetch model the span of its points; 4 since it holds the random generators'
# states and the position within an epoch (exact resume).
FORMAT = 4
# The settings of TrainConfig that shape the weights, so that a resume must keep them (the
# others may change: more epochs or patience extend a finished training).
RESUME_SETTINGS = ("batch_size", "lr", "val_fraction", "seed")


@dataclass
class TrainConfig:
    """Optimisation settings shared by every kind (``None``: the kind's default)."""

    epochs: int = 10
    batch_size: int | None = None  # 256 for every kind (TransFetch's published batch)
    lr: float | None = None  # 1e-3 for RecMG (the authors'), 2e-4 for TransFetch
    patience: int = 2
    val_fraction: float = 0.1
    seed: int = 0
    threads: int | None = None  # torch.set_num_threads; None leaves torch's default
    checkpoint_steps: int = 100  # a checkpoint every so many steps within an epoch, too

    def check(self) -> None:
        d = asdict(self)
        for name, lo in (("epochs", 1), ("patience", 1), ("seed", 0), ("batch_size", 1),
                         ("threads", 1), ("checkpoint_steps", 1)):
            if d[name] is not None:
                int_param("training", d, name, lo)
        if self.lr is not None:
            number_param("training", d, "lr", 0.0, open_lo=True)
        number_param("training", d, "val_fraction", 0.0, 0.5, open_lo=True)


def _kind(kind: str) -> str:
    if kind not in MODEL_KINDS:
        raise ConfigError(f"model kind {kind!r}: expected one of {', '.join(MODEL_KINDS)}")
    return kind


def model_defaults(kind: str) -> dict:
    return {"recmg-cache": CACHING_DEFAULTS, "recmg-prefetch": PREFETCH_DEFAULTS,
            "transfetch": transfetch.DEFAULTS}[_kind(kind)]


def build_model(kind: str, params: dict) -> nn.Module:
    """A fresh model of ``kind`` from its full parameter dict."""
    if kind == "recmg-cache":
        return CachingModel(**params)
    if kind == "recmg-prefetch":
        return PrefetchModel(**params)
    return transfetch.TransFetch(**{k: params[k] for k in transfetch.MODEL_KEYS})


def resolve_params(kind: str, params: dict | None, trace=None) -> dict:
    """The kind's defaults updated with ``params``; an unknown name is an error."""
    defaults = dict(model_defaults(kind))
    if kind == "transfetch" and trace is not None:
        defaults["segments"] = transfetch.segments_for(trace.key_space)
    unknown = sorted(set(params or {}) - set(defaults))
    if unknown:
        raise ConfigError(f"{kind}: unknown parameter {unknown[0]!r}; valid: "
                          f"{', '.join(sorted(defaults))}")
    out = {**defaults, **(params or {})}
    for name, value in defaults.items():
        if isinstance(value, str):
            if out[name] not in CHOICES[name]:
                raise ConfigError(f"model {kind}: parameter {name!r}: expected one of "
                                  f"{', '.join(CHOICES[name])}, got {out[name]!r}")
            continue
        check = int_param if isinstance(value, int) else number_param
        check(f"model {kind}", out, name, 1 if check is int_param else 0.0)
    return out


# -- data ---------------------------------------------------------------------------------

def sequence_inputs(vocab, table: np.ndarray, row: np.ndarray, input_len: int):
    """``(tables [S, L] int64, features [S, L, F] float32, anchors [S, 2] float32)`` of the
    ``S = n // L`` whole sequences of ``input_len`` accesses (a trailing partial sequence is
    left out); a sequence's anchor is the point of its last access; ``vocab`` is an
    encoding of :mod:`recsim.recmg.encoding`."""
    n = table.shape[0] // input_len * input_len
    feats = vocab.features(table[:n], row[:n])
    last = np.arange(input_len - 1, n, input_len)
    return (torch.from_numpy(table[:n].astype(np.int64).reshape(-1, input_len)),
            torch.from_numpy(feats.reshape(-1, input_len, feats.shape[1])),
            torch.from_numpy(vocab.points(table[last], row[last])))


def prefetch_targets(vocab, table, row, miss_index, n_seq, input_len, window):
    """Points ``[S, window, 2]`` of the next ``window`` OPT misses after each
    sequence, and the mask of those that exist."""
    ends = (np.arange(n_seq) + 1) * input_len
    first = np.searchsorted(miss_index, ends)
    idx = first[:, None] + np.arange(window)[None, :]
    mask = idx < miss_index.shape[0]
    at = miss_index[np.minimum(idx, max(miss_index.shape[0] - 1, 0))] if miss_index.size \
        else np.zeros(idx.shape, np.int64)
    points = vocab.points(table[at.ravel()], row[at.ravel()]).reshape(n_seq, window, 2)
    return torch.from_numpy(points), torch.from_numpy(mask)


def _head(trace, stop: int):
    """The first ``stop`` accesses of ``trace`` as a trace of their own."""
    if stop >= trace.n_accesses:
        return trace
    offsets = np.concatenate([trace.batch_offsets[trace.batch_offsets < stop], [stop]])
    return recsim.Trace.from_arrays(trace.table[:stop], trace.row[:stop], offsets,
                                    trace.cardinalities, meta={"name": trace.name})


def training_data(kind: str, trace, params: dict, capacity, ways: int,
                  label_fraction: float):
    """``(tensors, loss_fn, payload)`` for training ``kind`` on all accesses of ``trace``."""
    if kind == "transfetch":
        keys = trace.keys()
        pos = np.arange(params["history"] - 1, trace.n_accesses, params["sample_every"])
        x = transfetch.encode_inputs(keys, pos, params["history"], params["segments"])
        y = transfetch.delta_labels(keys, pos, params["look_ahead"], params["max_delta"])
        return (x, y), transfetch.loss, {}
    vocab = fit_encoding(params["encoding"], trace)
    labels = opt_labels(trace, capacity, label_fraction, ways=ways)
    tables, feats, anchors = sequence_inputs(vocab, trace.table, trace.row, params["input_len"])
    saved = {"kind": params["encoding"], **vocab.to_dict()}
    payload = {"vocab": {k: (torch.from_numpy(v) if isinstance(v, np.ndarray) else v)
                         for k, v in saved.items()},
               "point_scale": torch.from_numpy(vocab.point_scale()),
               "label_capacity": labels.label_capacity, "opt_hit_rate": labels.opt_hit_rate}
    if kind == "recmg-cache":
        n = tables.numel()
        y = torch.from_numpy(labels.cache[:n].astype(np.float32).reshape(tables.shape))
        known = torch.from_numpy(labels.known[:n].reshape(tables.shape))
        return (tables, feats, y, known), caching_loss, payload
    points, mask = prefetch_targets(vocab, trace.table, trace.row, labels.miss_index,
                                    tables.shape[0], params["input_len"],
                                    WINDOW_FACTOR * params["output_len"])
    return (tables, feats, anchors, points, mask), prefetch_loss, payload


def caching_loss(model, batch) -> Tensor:
    """Binary cross-entropy over the accesses whose label is known."""
    tables, feats, y, known = batch
    loss = nn.functional.binary_cross_entropy_with_logits(model(tables, feats), y,
                                                          reduction="none")
    return (loss * known).sum() / known.sum().clamp(min=1)


def prefetch_loss(model, batch) -> Tensor:
    tables, feats, anchors, points, mask = batch
    return chamfer_loss(model(tables, feats, anchors), points, target_mask=mask,
                        distance=model.distance)


# -- the loop -----------------------------------------------------------------------------

def _save(path: Path, state: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path) -> dict:
    """A checkpoint written by :func:`train`, checked; errors name the file and field."""
    path = Path(path)
    try:
        ck = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such model checkpoint") from None
    except Exception as exc:  # a truncated or foreign file
        raise ConfigError(f"{path}: not a recsim model checkpoint ({exc})") from None
    for field in ("kind", "params", "best_state", "payload"):
        if not isinstance(ck, dict) or field not in ck:
            raise ConfigError(f"{path}: field {field!r} missing; expected a checkpoint "
                              f"written by `recsim train`")
    if ck.get("format") != FORMAT:
        raise ConfigError(f"{path}: field 'format' is {ck.get('format')!r}; expected {FORMAT} "
                          f"(a checkpoint of an earlier recsim: train the model again)")
    if ck["kind"] not in MODEL_KINDS:
        raise ConfigError(f"{path}: field 'kind' is {ck['kind']!r}; expected one of "
                          f"{', '.join(MODEL_KINDS)}")
    return ck


class LoadedModel(NamedTuple):
    kind: str
    model: nn.Module  # with its best weights, in eval mode
    params: dict
    payload: dict


def load_model(path) -> LoadedModel:
    """The model of a checkpoint, ready for :func:`recsim.recmg.deploy.predict`."""
    return model_of(load_checkpoint(path))


def model_of(ck: dict) -> LoadedModel:
    """The model of a checkpoint already read by :func:`load_checkpoint`."""
    model = build_model(ck["kind"], ck["params"])
    model.load_state_dict(ck["best_state"])
    return LoadedModel(ck["kind"], model.eval(), ck["params"], ck["payload"])


def _mean_loss(model, loss_fn, dataset, batch_size) -> float:
    model.eval()
    total, count = 0.0, 0
    with torch.inference_mode():
        for batch in DataLoader(dataset, batch_size=4 * batch_size):
            total += float(loss_fn(model, batch)) * len(batch[0])
            count += len(batch[0])
    return total / max(count, 1)


def _seed(seed: int) -> None:
    """Seed torch's, numpy's and Python's global generators (Lightning's ``seed_everything``
    without the environment variable): training draws from torch's (dropout, the
    validation loader's base seed); the other two are saved with it."""
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)


def _rng_states() -> dict:
    """The global generators' states in types that ``weights_only`` loads."""
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    return {"torch": torch.get_rng_state(), "python": random.getstate(),
            "numpy": (name, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss)}


def _set_rng_states(rng: dict) -> None:
    torch.set_rng_state(rng["torch"])
    random.setstate(rng["python"])
    name, keys, *rest = rng["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))


def _resumed(checkpoint: Path, header: dict, model, optimizer, fresh: dict) -> dict:
    """The training state of ``checkpoint`` (the fields of ``fresh``, a new one), with the
    model, the optimiser and the global generators set to where it stopped; a different
    training is an error."""
    ck = load_checkpoint(checkpoint)
    differs = [k for k in ("kind", "params", "data") if ck.get(k) != header[k]]
    differs += [f"train_config.{k}" for k in RESUME_SETTINGS
                if ck["train_config"].get(k) != header["train_config"][k]]
    if differs:
        raise ConfigError(f"{checkpoint}: resuming a different model ({', '.join(differs)} "
                          f"differ); use a new output path or drop --resume")
    model.load_state_dict(ck["state"])
    optimizer.load_state_dict(ck["optimizer"])
    _set_rng_states(ck["rng"])
    return {k: ck[k] for k in fresh}


def _train_epoch(model, loss_fn, optimizer, loader, state: dict, save, every: int,
                 desc: str | None) -> None:
    """The epoch's steps from step ``state["step"]`` on (the earlier ones were done before a
    resume: ``loader``, seeded by ``(seed, epoch)``, yields the same batches, and they are
    skipped), with a checkpoint every ``every`` steps; ``desc``: the progress bar's."""
    model.train()
    began = time.perf_counter() - state["seconds"]
    # The bar (tqdm.auto's asyncio one) calls iter(loader) once when it is made, which
    # draws from the loader's generator, so the batches' order depends on it: kept, as the
    # weights of every training before exact resume came from that order.
    bar = tqdm(loader, desc=desc, disable=desc is None, leave=False)
    for batch in itertools.islice(bar, state["step"], None):
        loss = loss_fn(model, batch)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        state["loss_sum"] += loss.item() * len(batch[0])
        state["step"] += 1
        state["seconds"] = time.perf_counter() - began
        if state["step"] % every == 0 and state["step"] < len(loader):
            save()


def _end_epoch(state: dict, epoch: int, val: float, n_train: int, model) -> None:
    """Record epoch ``epoch`` (validation loss ``val``) and update early stopping."""
    state["history"].append({"epoch": epoch + 1, "train_loss": state["loss_sum"] / n_train,
                             "val_loss": val, "seconds": state["seconds"]})
    if val < state["best_val"]:
        state.update(best_val=val, bad_epochs=0, best_state=copy.deepcopy(model.state_dict()))
    else:
        state["bad_epochs"] += 1
    state.update(epoch=epoch, step=0, loss_sum=0.0, seconds=0.0)


def fit(model: nn.Module, loss_fn: Callable, tensors: tuple, cfg: TrainConfig,
        checkpoint: Path, header: dict, resume: bool = False, progress: bool = True) -> dict:
    """Train ``model`` on ``tensors`` (aligned along dim 0, in time order); see module."""
    n = tensors[0].shape[0]
    n_val = max(1, int(n * cfg.val_fraction))
    if n - n_val < 1:
        raise ConfigError(f"training data: {n} samples, too few to hold out a validation "
                          f"split of {cfg.val_fraction}")
    train_set = TensorDataset(*(t[:n - n_val] for t in tensors))
    val_set = TensorDataset(*(t[n - n_val:] for t in tensors))
    optimizer = torch.optim.Adam(model.parameters(), lr=header["train_config"]["lr"])
    state = {"epoch": -1, "step": 0, "loss_sum": 0.0, "seconds": 0.0, "history": [],
             "best_val": float("inf"), "bad_epochs": 0,
             "best_state": copy.deepcopy(model.state_dict())}
    if resume and checkpoint.exists():
        state = _resumed(checkpoint, header, model, optimizer, state)

    def save():
        _save(checkpoint, {**header, **state, "state": model.state_dict(),
                           "optimizer": optimizer.state_dict(), "rng": _rng_states()})

    batch_size = header["train_config"]["batch_size"]
    for epoch in range(state["epoch"] + 1, cfg.epochs):
        if state["bad_epochs"] >= cfg.patience:
            break
        loader = DataLoader(train_set, batch_size=batch_size, shuffle=True,
                            generator=torch.Generator().manual_seed(cfg.seed * 1000 + epoch))
        desc = f"{header['kind']} epoch {epoch + 1}/{cfg.epochs}" if progress else None
        _train_epoch(model, loss_fn, optimizer, loader, state, save, cfg.checkpoint_steps,
                     desc)
        val = _mean_loss(model, loss_fn, val_set, batch_size)
        _end_epoch(state, epoch, val, len(train_set), model)
        save()
        if progress:
            tqdm.write(f"{header['kind']} epoch {epoch + 1}: train "
                       f"{state['history'][-1]['train_loss']:.4f} val {val:.4f}")
    model.load_state_dict(state["best_state"])
    return state


def train(kind: str, trace, output, *, train_accesses: int | None = None, capacity=0.15,
          ways: int = 32, label_fraction: float = LABEL_FRACTION, params: dict | None = None,
          config: TrainConfig | None = None, resume: bool = False,
          progress: bool = True) -> dict:
    """Train ``kind`` on the first ``train_accesses`` accesses of ``trace`` (all by default)
    for a buffer of ``capacity`` (a count or a fraction of those accesses' unique vectors)
    with ``ways`` ways, and write the checkpoint ``output``; returns its contents."""
    config = config or TrainConfig()
    config.check()
    if not isinstance(trace, recsim.Trace):
        trace = recsim.load_trace(Path(trace))
    params = resolve_params(_kind(kind), params, trace)
    stop = trace.n_accesses if train_accesses is None else int_param(
        "training", {"train_accesses": train_accesses}, "train_accesses", 1)
    head = _head(trace, stop)
    lr = config.lr or (params["lr"] if kind == "transfetch" else 1e-3)
    batch_size = config.batch_size or 256
    if config.threads:
        torch.set_num_threads(config.threads)
    _seed(config.seed)
    tensors, loss_fn, payload = training_data(kind, head, params, capacity, ways,
                                              label_fraction)
    model = build_model(kind, params)
    if kind == "recmg-prefetch":
        model.point_scale.copy_(payload["point_scale"])
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    header = {"format": FORMAT, "recsim_version": recsim.__version__, "kind": kind,
              "params": params, "payload": payload,
              "train_config": {**asdict(config), "lr": lr, "batch_size": batch_size},
              "data": {"trace": head.name, "train_accesses": head.n_accesses,
                       # TransFetch learns from the accesses alone, not from the buffer
                       **({} if kind == "transfetch" else {
                           "capacity": capacity, "ways": ways,
                           "label_fraction": label_fraction})}}
    state = fit(model, loss_fn, tensors, config, output, header, resume, progress)
    if kind == "transfetch":
        n_val = max(1, int(tensors[0].shape[0] * config.val_fraction))
        payload["threshold"] = transfetch.validation_threshold(model, tensors, n_val)
        _save(output, {**load_checkpoint(output), "payload": payload})
    return load_checkpoint(output) | {"final": state}
