"""The RecMG caching and prefetch models (the paper's Section IV; authors' code
``RecMG_models/models/seq2seq_caching.py`` and ``seq2seq_prefetching.py``).

Both read a sequence of ``input_len`` accesses (default 15), each a table embedding
(``table % table_buckets`` into ``table_dim`` floats) beside the features of
:mod:`recsim.recmg.encoding` (``encoding``: ``vocab``, ours, of which the caching model
reads the first three, or ``ids``, the paper's table and row ids), and both are LSTM
encoder-decoders with Luong "general" attention (score ``h_dec W h_enc``), hidden size 50,
as the authors' configurations; ``layers`` stacks that many LSTM layers in the encoder and
in the decoder.

- :class:`CachingModel`: the decoder LSTM reads the same embedded sequence, starting from
  the encoder's final state; each step attends over the encoder outputs and a linear layer
  on ``[h_dec; context]`` gives one logit per input access (keep it until its next use or
  not), trained with binary cross-entropy. About 37K parameters at the defaults, the
  paper's size.
- :class:`PrefetchModel`: an encoder and a decoder that runs ``output_len`` steps (default
  5); at the default ``layers: 1`` that is one encoder-decoder pair, about 34.5K
  parameters. Table III of the paper gives the prefetch model 2 LSTM stacks and 74,290
  parameters: ``layers: 2`` (the paper configuration) gives 74,894 with the paper's inputs,
  75,294 with ours (two independent pairs would give 61-69K, farther off). The points are
  vector coordinates (:mod:`recsim.recmg.encoding`). Step ``k`` reads its output at step
  ``k-1`` (zeros at step 0), attends over the encoder outputs, and a linear layer on
  ``[h_dec; context]`` gives its output. ``output: move`` (default) adds it to the previous
  point, the first starting from the last input access's point (the *anchor*): the next
  vectors of the anchor's table are then a move of a few units, where a regression onto
  the absolute coordinates of a million vectors would need a precision of one in a million
  to name one. ``output: projection`` is the paper's: the output, scaled by the span of the
  coordinates (``point_scale``, a buffer set from the training encoding), is the point
  itself. Trained with the Chamfer loss of :mod:`recsim.recmg.chamfer` (``distance``)
  against the next ``3 x output_len`` OPT misses.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from recsim.recmg.chamfer import DISTANCES
from recsim.recmg.encoding import ENCODINGS, N_INPUTS

CACHING_DEFAULTS = {"input_len": 15, "hidden": 50, "layers": 1, "table_buckets": 1024,
                    "table_dim": 8, "encoding": "vocab"}
PREFETCH_DEFAULTS = {**CACHING_DEFAULTS, "output_len": 5, "output": "move",
                     "distance": "log1p"}
CHOICES = {"encoding": ENCODINGS, "output": ("move", "projection"), "distance": DISTANCES}
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
    def __init__(self, input_len=15, hidden=50, layers=1, table_buckets=1024, table_dim=8,
                 encoding="vocab"):
        n_features = N_INPUTS[encoding][0]
        super().__init__(hidden, layers, table_buckets, table_dim, n_features,
                         table_dim + n_features)
        self.out = nn.Linear(2 * hidden, 1)

    def forward(self, tables: Tensor, features: Tensor) -> Tensor:
        """Logits [B, L] of keeping each of the B x L accesses."""
        x = self.embed(tables, features)
        enc, state = self.encoder(x)
        dec, _ = self.decoder(x, state)
        return self.out(self.attend(dec, enc)).squeeze(-1)


class PrefetchModel(_Seq2Seq):
    def __init__(self, input_len=15, hidden=50, layers=1, table_buckets=1024, table_dim=8,
                 encoding="vocab", output_len=5, output="move", distance="log1p"):
        super().__init__(hidden, layers, table_buckets, table_dim, N_INPUTS[encoding][1],
                         POINT_DIM)
        self.output_len = output_len
        self.output = output
        self.distance = distance
        self.out = nn.Linear(2 * hidden, POINT_DIM)
        self.register_buffer("point_scale", torch.ones(POINT_DIM))

    def forward(self, tables: Tensor, features: Tensor, anchor: Tensor) -> Tensor:
        """Predicted points [B, output_len, 2] (see module); ``anchor`` [B, 2] is the point
        of each sequence's last access."""
        enc, state = self.encoder(self.embed(tables, features))
        out = anchor.new_zeros(anchor.shape[0], 1, POINT_DIM)
        point = anchor[:, None, :]
        points = []
        for _ in range(self.output_len):
            dec, state = self.decoder(out, state)
            out = self.out(self.attend(dec, enc))
            point = point + out if self.output == "move" else out * self.point_scale
            points.append(point)
        return torch.cat(points, 1)


def n_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
