"""The dense part of a DLRM (Naumov et al., 2019), so that harness timings include the
compute an inference does beside its embedding lookups: a bottom MLP over 13 dense
features (as in the Criteo models), the pairwise dot-product interaction of the bottom
output with every table's pooled embedding, and a top MLP to one click probability.
Weights are random and fixed by the seed; only the time matters."""

from __future__ import annotations

import torch
from torch import nn

DENSE_FEATURES = 13


def _mlp(sizes: list[int]) -> nn.Sequential:
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class DenseHead(nn.Module):
    """Bottom MLP 13-64-dim, dot interaction, top MLP -> 64 -> 1, for ``samples`` x
    ``tables`` pooled embeddings of width ``dim``."""

    def __init__(self, tables: int, dim: int, samples: int, seed: int = 0):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.register_buffer("dense", torch.rand(samples, DENSE_FEATURES, generator=gen))
        self.bottom = _mlp([DENSE_FEATURES, 64, dim])
        pairs = (tables + 1) * tables // 2
        self.top = _mlp([dim + pairs, 64, 1])
        rows, cols = torch.triu_indices(tables + 1, tables + 1, offset=1)
        self.register_buffer("rows", rows)
        self.register_buffer("cols", cols)

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        """``pooled``: (samples, tables, dim) -> (samples,) click probabilities."""
        x = self.bottom(self.dense)
        z = torch.cat([x[:, None, :], pooled], dim=1)
        dots = torch.bmm(z, z.transpose(1, 2))[:, self.rows, self.cols]
        return torch.sigmoid(self.top(torch.cat([x, dots], dim=1))).squeeze(1)
