"""RecMG Chamfer loss (recsim.recmg.chamfer): equals a brute-force pure-Python Eq. 5 on
random small inputs (with and without masks); gradients reach pred and every parameter of a
model; the alpha extremes; masking; errors."""

from __future__ import annotations

import math
import random

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from recsim.recmg.chamfer import DISTANCES, chamfer_loss


def reference(pred, target, alpha, mask=None, distance="log1p"):
    """Eq. 5 with d = log(1 + squared L2) (or the L1 norm, ``abs``) by nested loops over
    plain floats; batch mean over samples that have at least one valid target, 0.0 when
    none has."""
    losses = []
    for b, (ps, ws) in enumerate(zip(pred, target)):
        ws = [w for j, w in enumerate(ws) if mask is None or mask[b][j]]
        if not ws:
            continue

        def sq(u, v):
            if distance == "abs":
                return sum(abs(x - y) for x, y in zip(u, v))
            return math.log1p(sum((x - y) ** 2 for x, y in zip(u, v)))

        prec = sum(min(sq(p, w) for w in ws) for p in ps) / len(ps)
        rec = sum(min(sq(w, p) for p in ps) for w in ws) / len(ws)
        losses.append(alpha * prec + (1 - alpha) * rec)
    return sum(losses) / len(losses) if losses else 0.0


@settings(max_examples=60, deadline=None)
@given(
    b=st.integers(1, 3), p=st.integers(1, 5), w=st.integers(1, 15), d=st.integers(1, 4),
    alpha=st.floats(0.0, 1.0), masked=st.booleans(), seed=st.integers(0, 2**31 - 1),
    distance=st.sampled_from(DISTANCES),
)
def test_equals_brute_force(b, p, w, d, alpha, masked, seed, distance):
    rng = random.Random(seed)
    pred = [[[rng.uniform(-2, 2) for _ in range(d)] for _ in range(p)] for _ in range(b)]
    target = [[[rng.uniform(-2, 2) for _ in range(d)] for _ in range(w)] for _ in range(b)]
    mask = [[rng.random() < 0.6 for _ in range(w)] for _ in range(b)] if masked else None
    got = chamfer_loss(
        torch.tensor(pred, dtype=torch.float64), torch.tensor(target, dtype=torch.float64),
        alpha=alpha, target_mask=None if mask is None else torch.tensor(mask), distance=distance,
    )
    assert got.item() == pytest.approx(reference(pred, target, alpha, mask, distance), rel=1e-5,
                                       abs=1e-12)


def test_hand_computed_value_is_asymmetric():
    # One prediction at a target; a second target 5 away: precision 0, recall
    # (log 1 + log 26) / 2.
    pred = torch.tensor([[[0.0, 0.0]]])
    target = torch.tensor([[[0.0, 0.0], [3.0, 4.0]]])
    half = math.log(26) / 2
    assert chamfer_loss(pred, target).item() == pytest.approx(0.3 * half)
    assert chamfer_loss(pred, target, alpha=0.2).item() == pytest.approx(0.8 * half)
    # The reverse roles: two predictions, one target: precision (0 + log 26) / 2, recall 0.
    assert chamfer_loss(target, pred).item() == pytest.approx(0.7 * half)


def test_far_targets_pull_less_than_near_ones():
    """Under log(1 + d^2) a target 1 unit away pulls a prediction 50 times harder than one
    100 units away (the squared distance would pull it 100 times harder)."""
    for offset, pull in ((1.0, 1.0), (100.0, 2 * 100 / (1 + 100**2))):
        pred = torch.zeros(1, 1, 2, requires_grad=True)
        chamfer_loss(pred, torch.tensor([[[offset, 0.0]]]), alpha=1.0).backward()
        assert -pred.grad[0, 0, 0].item() == pytest.approx(pull)


def test_float32_default_dtype_matches_reference():
    g = torch.Generator().manual_seed(3)
    pred, target = torch.randn(4, 5, 3, generator=g), torch.randn(4, 15, 3, generator=g)
    want = reference(pred.double().tolist(), target.double().tolist(), 0.7)
    assert chamfer_loss(pred, target).item() == pytest.approx(want, rel=1e-5)


def test_gradient_on_pred_is_finite_and_nonzero():
    g = torch.Generator().manual_seed(0)
    pred = torch.randn(3, 5, 4, generator=g, requires_grad=True)
    target = torch.randn(3, 15, 4, generator=g)
    mask = torch.rand(3, 15, generator=g) < 0.7
    mask[1] = False  # one sample with no valid target
    target[~mask] = float("nan")  # padding values must not matter
    loss = chamfer_loss(pred, target, target_mask=mask)
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.isfinite(pred.grad).all()
    assert pred.grad[0].abs().sum() > 0 and pred.grad[2].abs().sum() > 0
    assert (pred.grad[1] == 0).all()  # the empty sample gets no gradient


def test_gradients_reach_every_parameter():
    torch.manual_seed(0)
    model = torch.nn.Linear(8, 5 * 2)
    x, target = torch.randn(4, 8), torch.randn(4, 15, 2)
    chamfer_loss(model(x).view(4, 5, 2), target).backward()
    for name, param in model.named_parameters():
        assert param.grad is not None, name
        assert torch.isfinite(param.grad).all(), name
        assert (param.grad != 0).any(), name


def test_gradient_matches_finite_differences():
    g = torch.Generator().manual_seed(1)
    pred = torch.randn(2, 3, 2, generator=g, dtype=torch.float64, requires_grad=True)
    target = torch.randn(2, 7, 2, generator=g, dtype=torch.float64)
    mask = torch.rand(2, 7, generator=g) < 0.8
    mask[:, 0] = True
    assert torch.autograd.gradcheck(lambda p: chamfer_loss(p, target, 0.6, mask), (pred,))


def test_zero_when_sets_match():
    g = torch.Generator().manual_seed(2)
    target = torch.randn(2, 5, 3, generator=g)
    pred = target[:, torch.randperm(5, generator=g)].clone().requires_grad_(True)
    loss = chamfer_loss(pred, target)
    assert loss.item() == 0.0
    loss.backward()
    assert torch.isfinite(pred.grad).all() and (pred.grad == 0).all()


def test_alpha_one_ignores_recall():
    g = torch.Generator().manual_seed(4)
    pred, target = torch.randn(2, 5, 3, generator=g), torch.randn(2, 15, 3, generator=g)
    far = torch.full((2, 1, 3), 1e3)  # nearest to no prediction
    base = chamfer_loss(pred, target, alpha=1.0)
    assert chamfer_loss(pred, torch.cat([target, far], 1), alpha=1.0).item() == base.item()
    # With recall weighted, the far target does change the loss.
    assert chamfer_loss(pred, torch.cat([target, far], 1)).item() > chamfer_loss(pred, target)


def test_alpha_zero_ignores_precision():
    g = torch.Generator().manual_seed(5)
    pred, target = torch.randn(2, 5, 3, generator=g), torch.randn(2, 15, 3, generator=g)
    far = torch.full((2, 1, 3), 1e3)  # nearest to no target
    base = chamfer_loss(pred, target, alpha=0.0)
    assert chamfer_loss(torch.cat([pred, far], 1), target, alpha=0.0).item() == base.item()
    assert chamfer_loss(torch.cat([pred, far], 1), target).item() > chamfer_loss(pred, target)


def test_masked_targets_equal_truncated_window():
    g = torch.Generator().manual_seed(6)
    pred, target = torch.randn(2, 5, 3, generator=g), torch.randn(2, 15, 3, generator=g)
    mask = torch.ones(2, 15, dtype=torch.bool)
    mask[0, 9:] = False
    garbage = target.clone()
    garbage[0, 9:] = float("inf")
    got = chamfer_loss(pred, garbage, target_mask=mask)
    want = (chamfer_loss(pred[:1], target[:1, :9]) + chamfer_loss(pred[1:], target[1:])) / 2
    assert got.item() == pytest.approx(want.item(), rel=1e-6)


def test_all_masked_is_zero_with_grad_fn():
    pred = torch.randn(2, 5, 3, requires_grad=True)
    loss = chamfer_loss(pred, torch.randn(2, 15, 3), target_mask=torch.zeros(2, 15, dtype=bool))
    assert loss.item() == 0.0 and loss.dim() == 0
    assert loss.grad_fn is not None
    loss.backward()
    assert (pred.grad == 0).all()


def test_samples_without_targets_leave_the_batch_mean():
    g = torch.Generator().manual_seed(7)
    pred, target = torch.randn(3, 5, 2, generator=g), torch.randn(3, 15, 2, generator=g)
    mask = torch.ones(3, 15, dtype=torch.bool)
    mask[1] = False
    want = (chamfer_loss(pred[:1], target[:1]) + chamfer_loss(pred[2:], target[2:])) / 2
    got = chamfer_loss(pred, target, target_mask=mask)
    assert got.item() == pytest.approx(want.item(), rel=1e-6)


P, T = torch.zeros(2, 5, 3), torch.zeros(2, 15, 3)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(pred=torch.zeros(5, 3), target=T), "pred"),
        (dict(pred=torch.zeros(2, 0, 3), target=T), "pred"),
        (dict(pred=torch.zeros(2, 5, 3, dtype=torch.long), target=T), "pred"),
        (dict(pred=P, target=torch.zeros(15, 3)), "target"),
        (dict(pred=P, target=torch.zeros(3, 15, 3)), "target"),
        (dict(pred=P, target=torch.zeros(2, 15, 4)), "target"),
        (dict(pred=P, target=torch.zeros(2, 0, 3)), "target"),
        (dict(pred=P, target=T, alpha=1.5), "alpha"),
        (dict(pred=P, target=T, alpha=-0.1), "alpha"),
        (dict(pred=P, target=T, alpha=math.nan), "alpha"),
        (dict(pred=P, target=T, target_mask=torch.ones(2, 14, dtype=torch.bool)), "target_mask"),
        (dict(pred=P, target=T, target_mask=torch.ones(2, 15)), "target_mask"),
        (dict(pred=P, target=T, distance="l2"), "distance"),
    ],
)
def test_bad_arguments_raise_value_error(kwargs, name):
    with pytest.raises(ValueError, match=rf"^{name}: expected"):
        chamfer_loss(**kwargs)
