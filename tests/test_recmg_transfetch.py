"""TransFetch baseline (recsim/recmg/transfetch.py): encoding, labels, threshold, model,
prediction, and a tiny training run that learns a stride."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from recsim.recmg import transfetch as tf


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 2**40 - 1), min_size=1, max_size=20))
def test_segments_reassemble_the_key(keys):
    keys = np.array(keys, np.int64)
    segments = tf.segments_for(2**40)
    x = tf.encode_inputs(keys, np.arange(len(keys)), 1, segments).numpy()
    digits = np.rint(x[:, 0, :] * 64).astype(np.int64)
    rebuilt = (digits * (64 ** np.arange(segments - 1, -1, -1))).sum(1)
    assert (rebuilt == keys).all() and segments == 7


def test_history_repeats_the_first_key_before_the_start():
    x = tf.encode_inputs(np.array([5, 6, 7]), np.array([0, 2]), 3, 1).numpy()[..., 0] * 64
    assert x.tolist() == [[5, 5, 5], [5, 6, 7]]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(0, 30), min_size=1, max_size=40), st.integers(1, 6),
       st.integers(1, 5))
def test_delta_labels_match_brute_force(keys, look, max_delta):
    keys = np.array(keys, np.int64)
    pos = np.arange(len(keys))
    got = tf.delta_labels(keys, pos, look, max_delta).numpy()
    d = tf.deltas(max_delta)
    for p in pos:
        future = set(keys[p + 1:p + 1 + look].tolist())
        assert got[p].tolist() == [float(keys[p] + x in future) for x in d]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([0.1, 0.3, 0.5, 0.9]), st.booleans()),
                min_size=1, max_size=30))
def test_max_f1_threshold_matches_a_scan(pairs):
    probs, labels = (np.array(c) for c in zip(*pairs))

    def f1(th):
        pred = probs >= th
        tp = (pred & labels).sum()
        return 2 * tp / (pred.sum() + labels.sum()) if pred.sum() + labels.sum() else 0
    best = max(f1(th) for th in set(probs.tolist()))
    assert f1(tf.max_f1_threshold(probs, labels)) == pytest.approx(best)


def test_gradients_reach_every_parameter():
    torch.manual_seed(0)
    model = tf.TransFetch(history=9, segments=4, max_delta=8, dim=32, depth=1, heads=4)
    x, y = torch.rand(5, 9, 4), (torch.rand(5, 16) > 0.5).float()
    assert model(x).shape == (5, 16)
    tf.loss(model, (x, y)).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_learns_a_stride_and_predicts_it():
    torch.manual_seed(0)
    keys = np.cumsum(np.full(1000, 3))  # +3 each access
    pos = np.arange(8, 1000)
    x, y = tf.encode_inputs(keys, pos, 9, 3), tf.delta_labels(keys, pos, 4, 8)
    model = tf.TransFetch(history=9, segments=3, max_delta=8, dim=32, depth=1, heads=4,
                          dropout=0.0)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for step in range(120):
        i = torch.randint(0, len(pos), (64,))
        loss = tf.loss(model, (x[i], y[i]))
        opt.zero_grad()
        loss.backward()
        opt.step()
    th = tf.validation_threshold(model, (x, y), len(pos))
    ptr, out = tf.predict_keys(model, keys, pos, th, 2, 9, 3, 8)
    assert ptr[0] == 0 and ptr[-1] == out.shape[0] and (np.diff(ptr) <= 2).all()
    got = [keys[p] + 3 in out[ptr[i]:ptr[i + 1]] for i, p in enumerate(pos)]
    assert np.mean(got) > 0.9


def test_predict_drops_negative_keys_and_caps_the_degree():
    torch.manual_seed(1)
    model = tf.TransFetch(history=2, segments=2, max_delta=4, dim=8, depth=1, heads=2)
    ptr, out = tf.predict_keys(model, np.array([0, 1, 2]), np.array([1, 2]), 0.0, 3, 2, 2, 4)
    assert (out >= 0).all() and (np.diff(ptr) <= 3).all() and ptr[-1] == out.shape[0]
