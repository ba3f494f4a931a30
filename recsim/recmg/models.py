"""The RecMG caching and prefetch models (the paper's Section IV; authors' code
``RecMG_models/models/seq2seq_caching.py`` and ``seq2seq_prefetching.py``).

Both read a sequence of ``input_len`` accesses (default 15), each a table embedding
(``table % table_buckets`` into ``table_dim`` floats) beside the features of
:mod:`recsim.recmg.encoding` (the caching model reads the first three), and both are LSTM
encoder-decoders with Luong "general" attention (score ``h_dec W h_enc``), hidden size 50,
as the authors' configurations.

- :class:`CachingModel`: the decoder LSTM reads the same embedded sequence, starting from
  the encoder's final state; each step attends over the encoder outputs and a linear layer
  on ``[h_dec; context]`` gives one logit per input access (keep it until its next use or
  not), trained with binary cross-entropy. About 37K parameters at the defaults, the
  paper's size.
- :class:`PrefetchModel`: two LSTM stacks, the encoder and a decoder that runs
  ``output_len`` steps (default 5). The points are vector coordinates in vector units
  (:meth:`recsim.recmg.encoding.Vocabulary.points`: table, order of first appearance) and
  each step *moves*: step ``k`` reads the move it made at step ``k-1`` (none at step 0),
  attends over the encoder outputs, and a linear layer on ``[h_dec; context]`` gives its
  move, added to the previous point; the first move starts from the last input access's
  point (the *anchor*). The next vectors of the anchor's table are then a move of a few
  units, where a regression onto the absolute coordinates of a million vectors would need
  a precision of one in a million to name one. Trained with the Chamfer loss of
  :mod:`recsim.recmg.chamfer` against the next ``3 x output_len`` OPT misses.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from recsim.recmg.encoding import CACHING_FEATURES, N_FEATURES

CACHING_DEFAULTS = {"input_len": 15, "hidden": 50, "layers": 1, "table_buckets": 1024,
                    "table_dim": 8}
PREFETCH_DEFAULTS = {**CACHING_DEFAULTS, "output_len": 5}
POINT_DIM = 2


class _Seq2Seq(nn.Module):
    """Embedding, encoder LSTM and Luong attention shared by both models."""

    def __init__(self, hidden, layers, table_buckets, table_dim, n_features, decoder_in):
        super().__init__()
        self.table_buckets = table_buckets
        self.n_features = n_features
        self.table_embedding = nn.Embedding(table_buckets, table_dim)
        self.encoder = nn.LSTM(table_dim + n_features, hidden, layers, batch_first=True)
        self.decoder = nn.LSTM(decoder_in, hidden, layers, batch_first=True)
        self.score = nn.Linear(hidden, hidden, bias=False)

    def embed(self, tables: Tensor, features: Tensor) -> Tensor:
        return torch.cat([self.table_embedding(tables % self.table_buckets),
                          features[..., :self.n_features]], -1)

    def attend(self, dec: Tensor, enc: Tensor) -> Tensor:
        """``[h_dec; context]`` for decoder outputs ``dec`` [B, S, H] over ``enc`` [B, L, H]."""
        weights = torch.softmax(self.score(dec) @ enc.transpose(1, 2), dim=-1)
        return torch.cat([dec, weights @ enc], -1)


class CachingModel(_Seq2Seq):
    def __init__(self, input_len=15, hidden=50, layers=1, table_buckets=1024, table_dim=8):
        super().__init__(hidden, layers, table_buckets, table_dim, CACHING_FEATURES,
                         table_dim + CACHING_FEATURES)
        self.out = nn.Linear(2 * hidden, 1)

    def forward(self, tables: Tensor, features: Tensor) -> Tensor:
        """Logits [B, L] of keeping each of the B x L accesses."""
        x = self.embed(tables, features)
        enc, state = self.encoder(x)
        dec, _ = self.decoder(x, state)
        return self.out(self.attend(dec, enc)).squeeze(-1)


class PrefetchModel(_Seq2Seq):
    def __init__(self, input_len=15, hidden=50, layers=1, table_buckets=1024, table_dim=8,
                 output_len=5):
        super().__init__(hidden, layers, table_buckets, table_dim, N_FEATURES, POINT_DIM)
        self.output_len = output_len
        self.out = nn.Linear(2 * hidden, POINT_DIM)

    def forward(self, tables: Tensor, features: Tensor, anchor: Tensor) -> Tensor:
        """Predicted points [B, output_len, 2] in vector units, from the moves that start at
        ``anchor`` [B, 2] (see module)."""
        enc, state = self.encoder(self.embed(tables, features))
        move = anchor.new_zeros(anchor.shape[0], 1, POINT_DIM)
        point = anchor[:, None, :]
        points = []
        for _ in range(self.output_len):
            dec, state = self.decoder(move, state)
            move = self.out(self.attend(dec, enc))
            point = point + move
            points.append(point)
        return torch.cat(points, 1)


def n_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
