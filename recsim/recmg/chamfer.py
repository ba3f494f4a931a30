"""Two-sided Chamfer distance loss of the RecMG prefetch model (the paper's Eq. 5).

For one input sequence the prefetch model outputs a set ``PO`` of ``|PO|`` predicted points
(embedding-vector coordinates, ``D`` floats each; ``|PO| = 5`` by default) and the ground
truth is the set ``W`` of the next ``|W| = 3 |PO|`` (15) accessed vectors' coordinates, the
*evaluation window*. The per-sample loss is::

    L = alpha / |PO| * sum_{p in PO} min_{w in W} d(p, w)
        + (1 - alpha) / |W| * sum_{w in W} min_{p in PO} d(w, p)

with ``alpha = 0.7`` by default. The first term pulls every prediction near some real future
access (precision), the second makes every future access covered by a prediction (recall).

Distance (``distance``): Eq. 5 writes ``|x - y|``, which for our 2-D points does not say
which norm; ``abs`` is the L1 norm ``sum |p - w|`` (the paper configuration: it is
``|x - y|`` per coordinate, what the authors' 1-D loss computes). The default ``log1p`` is
``log(1 + |p - w|^2)``, the squared
Euclidean distance (the standard Chamfer distance's, smooth at 0, where the plain L2 norm
has no gradient) tempered far away. The prefetch model's points are in vector units (one
table, one vector: :mod:`recsim.recmg.encoding`), where most of a window's targets lie in
other tables, tens or hundreds of units off: under the plain squared distance their pull
(proportional to the distance) drowns that of the near targets, and the predictions drift
to the middle of nowhere; under ``log1p`` a target 1 unit off pulls hardest, and one 100
units off 50 times less. It is computed by explicit broadcasting,
``((p - w) ** 2).sum(-1)``, not ``torch.cdist``, which takes a square root (and may use a
matmul formula that loses precision) before we would square it again.

Masking: ``target_mask[b, j]`` is False for padding (windows truncated at the end of a trace
hold fewer than ``|W|`` points). Padded targets are excluded from both terms: they are never
the nearest target of a prediction and they are left out of the recall mean. Their values
are ignored (they may be anything, even NaN). A sample with no valid target contributes
nothing and is left out of the batch mean; when no sample has one the loss is a zero still
attached to ``pred``'s graph. The batch reduction is the mean over the counted samples.

The authors' implementation (github.com/jren73/RecMG) rebuilds its loss tensor from Python
numbers, so no gradient flows through it; this one is vectorised and differentiable.
"""

from __future__ import annotations

import torch
from torch import Tensor

DEFAULT_ALPHA = 0.7
WINDOW_FACTOR = 3  # |W| = 3 |PO|
DISTANCES = ("log1p", "abs")


def chamfer_loss(
    pred: Tensor, target: Tensor, alpha: float = DEFAULT_ALPHA, target_mask: Tensor | None = None,
    distance: str = "log1p",
) -> Tensor:
    """Batch mean of the Eq. 5 loss of ``pred`` [B, P, D] against ``target`` [B, W, D].

    ``target_mask`` [B, W] (bool) marks the valid target points; ``None`` means all valid.
    """
    if pred.dim() != 3 or pred.shape[1] == 0 or not pred.is_floating_point():
        raise ValueError(f"pred: expected a float tensor of shape [B, P, D] with P >= 1, "
                         f"got {pred.dtype} of shape {list(pred.shape)}")
    b, _, d = pred.shape
    if target.dim() != 3 or target.shape[0] != b or target.shape[2] != d or target.shape[1] == 0:
        raise ValueError(f"target: expected shape [B, W, D] = [{b}, W >= 1, {d}] to match "
                         f"pred, got {list(target.shape)}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha: expected a number in [0, 1], got {alpha!r}")
    if distance not in DISTANCES:
        raise ValueError(f"distance: expected one of {', '.join(DISTANCES)}, got {distance!r}")
    if target_mask is None:
        target_mask = torch.ones(target.shape[:2], dtype=torch.bool, device=target.device)
    elif target_mask.shape != target.shape[:2] or target_mask.dtype != torch.bool:
        raise ValueError(f"target_mask: expected a bool tensor of shape [B, W] = "
                         f"{list(target.shape[:2])}, got {target_mask.dtype} of shape "
                         f"{list(target_mask.shape)}")
    # Zero the padding first so that NaN or inf there cannot reach pred's gradient.
    target = torch.where(target_mask[..., None], target.to(pred.dtype), 0.0)
    diff = pred[:, :, None, :] - target[:, None, :, :]
    dist = (torch.log1p((diff ** 2).sum(-1)) if distance == "log1p"
            else diff.abs().sum(-1))  # [B, P, W]
    count = target_mask.sum(1)  # valid targets per sample
    valid = count > 0
    # inf for a sample without valid targets; dropped by the final [valid] selection.
    precision = dist.masked_fill(~target_mask[:, None, :], float("inf")).amin(2).mean(1)
    recall = torch.where(target_mask, dist.amin(1), 0.0).sum(1) / count.clamp(min=1)
    per_sample = alpha * precision + (1.0 - alpha) * recall
    if not bool(valid.any()):
        return pred.sum() * 0.0
    return per_sample[valid].mean()
