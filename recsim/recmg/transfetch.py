"""TransFetch: the ML prefetcher baseline of the RecMG paper's Figs. 9-10 and Table II.

Paper: Zhang, Kannan, Prasanna et al., "Fine-Grained Address Segmentation for
Attention-Based Variable-Degree Prefetching", CF 2022; reference implementation
github.com/pengmiao-usc/TransFetch (read to understand, not copied).

Adapted to embedding vectors: a "block address" is the vector's global key
``table_base[table] + row`` (tables laid out contiguously, :meth:`recsim.Trace.keys`), so
a delta of +1 is the next row of the same table.

- Input of access ``p``: the keys of accesses ``p - history + 1 .. p`` (``history`` = 9:
  the current and 8 previous), each split into ``segments`` 6-bit segments, most
  significant first, scaled by 1/64. ``segments`` covers the trace's key space
  (:func:`segments_for`); positions before the start of the trace repeat key 0 of the array.
- Label: a bitmap of ``2 x max_delta`` (256) bits, bit ``j`` set when ``key[p] + delta_j``
  is among the next ``look_ahead`` (128) keys, deltas ordered ``-max_delta .. -1, +1 ..
  +max_delta``.
- Model: ViT-style: a linear token embedding of each address's segments plus a learned
  position embedding and a CLS token, ``depth`` (2) pre-norm transformer encoder layers of
  width ``dim`` (128), ``heads`` (4), dropout 0.1, a LayerNorm + linear head on the CLS
  token to 256 logits; sigmoid, binary cross-entropy; Adam at 2e-4, batch 256. Deviations:
  the MLP is ``mlp_ratio`` (4, the ViT convention) x ``dim`` wide where the reference's
  ``config.py`` has ``mlp_dim = dim`` = 128 (``mlp_ratio: 1``), and each head is ``dim /
  heads`` wide (PyTorch's layer) where the reference's is ``dim_head`` = 64.
- Prediction: the deltas whose probability exceeds the threshold that maximises micro-F1
  on the validation split (:func:`max_f1_threshold`), at most ``degree`` (16) of them, the
  most probable first.

``sample_every`` (15) sets how often a training sample is taken (one per RecMG input
sequence, so both baselines learn from as many samples); deployment predicts once per
chunk, at its last access.
"""

from __future__ import annotations

import numpy as np
import torch
from numba import njit
from torch import Tensor, nn

DEFAULTS = {"history": 9, "segments": 6, "max_delta": 128, "look_ahead": 128, "dim": 128,
            "depth": 2, "heads": 4, "mlp_ratio": 4, "dropout": 0.1, "lr": 2e-4,
            "degree": 16, "sample_every": 15}
MODEL_KEYS = ("history", "segments", "max_delta", "dim", "depth", "heads", "mlp_ratio",
              "dropout")
SEGMENT_BITS = 6


def segments_for(key_space: int) -> int:
    """6-bit segments needed for keys below ``key_space``."""
    return max(1, -(-max(int(key_space - 1).bit_length(), 1) // SEGMENT_BITS))


def encode_inputs(keys: np.ndarray, positions: np.ndarray, history: int,
                  segments: int) -> Tensor:
    """``[len(positions), history, segments]`` float32 input (see module)."""
    idx = np.maximum(positions[:, None] - np.arange(history - 1, -1, -1)[None, :], 0)
    k = np.asarray(keys, np.int64)[idx]
    shifts = SEGMENT_BITS * np.arange(segments - 1, -1, -1, dtype=np.int64)
    seg = (k[..., None] >> shifts) & ((1 << SEGMENT_BITS) - 1)
    return torch.from_numpy((seg / 64.0).astype(np.float32))


@njit(cache=True)
def _delta_bits(keys, positions, look_ahead, max_delta, out):
    n = keys.shape[0]
    for i in range(positions.shape[0]):
        p = positions[i]
        for q in range(p + 1, min(n, p + 1 + look_ahead)):
            d = keys[q] - keys[p]
            if 0 < d <= max_delta:
                out[i, max_delta + d - 1] = 1
            elif -max_delta <= d < 0:
                out[i, max_delta + d] = 1


def delta_labels(keys, positions, look_ahead: int, max_delta: int) -> Tensor:
    """``[len(positions), 2 * max_delta]`` float32 bitmaps (see module)."""
    out = np.zeros((positions.shape[0], 2 * max_delta), np.uint8)
    _delta_bits(np.asarray(keys, np.int64), np.asarray(positions, np.int64), look_ahead,
                max_delta, out)
    return torch.from_numpy(out.astype(np.float32))


def deltas(max_delta: int) -> np.ndarray:
    """The delta of each label bit."""
    return np.concatenate([np.arange(-max_delta, 0), np.arange(1, max_delta + 1)])


class TransFetch(nn.Module):
    def __init__(self, history=9, segments=6, max_delta=128, dim=128, depth=2, heads=4,
                 mlp_ratio=4, dropout=0.1):
        super().__init__()
        self.embed = nn.Linear(segments, dim)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.position = nn.Parameter(torch.randn(1, history + 1, dim) * 0.02)
        layer = nn.TransformerEncoderLayer(dim, heads, mlp_ratio * dim, dropout,
                                           activation="gelu", batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.head = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, 2 * max_delta))

    def forward(self, x: Tensor) -> Tensor:
        tokens = torch.cat([self.cls.expand(x.shape[0], -1, -1), self.embed(x)], 1)
        return self.head(self.encoder(tokens + self.position)[:, 0])


def loss(model, batch) -> Tensor:
    x, y = batch
    return nn.functional.binary_cross_entropy_with_logits(model(x), y)


def max_f1_threshold(probs: np.ndarray, labels: np.ndarray) -> float:
    """The probability threshold (predict bits ``>= threshold``) maximising micro-F1."""
    p, y = np.asarray(probs).ravel(), np.asarray(labels).ravel().astype(bool)
    order = np.argsort(-p, kind="stable")
    p, y = p[order], y[order]
    last = np.r_[p[1:] != p[:-1], True]  # cut only between distinct probabilities
    tp = np.cumsum(y)[last]
    predicted = (np.arange(p.shape[0]) + 1)[last]
    f1 = 2 * tp / (predicted + y.sum())
    return float(p[last][np.argmax(f1)]) if p.size else 0.5


def _probabilities(model, x: Tensor, batch_size: int = 4096) -> Tensor:
    model.eval()
    with torch.inference_mode():
        return torch.cat([torch.sigmoid(model(x[i:i + batch_size]))
                          for i in range(0, x.shape[0], batch_size)]) if len(x) else \
            torch.zeros(0)


def validation_threshold(model, tensors: tuple, n_val: int) -> float:
    """:func:`max_f1_threshold` on the last ``n_val`` samples (the validation split)."""
    x, y = tensors
    return max_f1_threshold(_probabilities(model, x[-n_val:]).numpy(), y[-n_val:].numpy())


def predict_keys(model, keys, positions, threshold, degree, history, segments, max_delta,
                 batch_size: int = 4096):
    """``(ptr, keys)``: CSR of the predicted keys at each position (see module)."""
    probs = _probabilities(model, encode_inputs(keys, positions, history, segments),
                           batch_size)
    k = min(degree, 2 * max_delta)
    top_p, top_i = (probs.topk(k, dim=1) if len(probs) else
                    (torch.zeros(0, k), torch.zeros(0, k, dtype=torch.long)))
    keep = (top_p >= threshold).numpy()
    out = np.asarray(keys, np.int64)[positions][:, None] + deltas(max_delta)[top_i.numpy()]
    keep &= out >= 0
    ptr = np.concatenate([[0], np.cumsum(keep.sum(1))]).astype(np.int64)
    return ptr, out[keep].astype(np.int64)
