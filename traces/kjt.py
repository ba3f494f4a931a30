"""TorchRec ``KeyedJaggedTensor`` batches saved with ``torch.save``: one KJT, or a list
(or tuple) of them, each one inference batch (as TorchRec's ``EmbeddingBagCollection``
receives it).

Each key (feature) becomes one table, named by the key, in the order keys first appear;
within a batch the lookups are in the KJT's own order (key-major: all of a key's values
for the batch's samples, then the next key), as TorchRec and FBGEMM see them. Features
sharing one TorchRec table stay separate tables here (the file does not say which share).
Cardinalities are ``max(row) + 1`` per table (``--cardinality`` overrides). Loaded with
``torch.load(weights_only=True)``, ``KeyedJaggedTensor`` and ``JaggedTensor`` (a KJT
that was split by key caches them) allowed (needs torchrec: the
``torchrec`` extra).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from recsim.errors import TraceFormatError, gist
from recsim.traces.common import no_other_options, require_file, trace_meta
from recsim.traces.tables import table_info
from recsim.traces.trace import Trace

NAME = "kjt"
EXTENSIONS = (".kjt", ".kjt.pt")
_EXPECTED = "a torch.save file of a KeyedJaggedTensor or a list of them"


def read(path, **options) -> Trace:
    path = require_file(path, "KeyedJaggedTensor")
    no_other_options(options, path, NAME)
    batches = _load(path)
    names: dict[str, int] = {}
    tables, rows, lengths = [], [], []
    for kjt in batches:
        keys = list(kjt.keys())
        ids = np.array([names.setdefault(k, len(names)) for k in keys], np.int32)
        per_key = np.asarray(kjt.length_per_key(), np.int64)
        tables.append(np.repeat(ids, per_key))
        rows.append(kjt.values().detach().cpu().numpy().astype(np.int64, copy=False))
        lengths.append(int(per_key.sum()))
    meta = trace_meta(path, NAME, EXTENSIONS, batches=len(batches))
    meta["table_info"] = table_info(list(names))
    offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    table = np.concatenate(tables)
    return Trace.from_arrays(table, np.concatenate(rows), offsets, _cardinalities(
        table, np.concatenate(rows), len(names)), meta, source=path)


def _cardinalities(table, row, n_tables: int):
    """``max(row) + 1`` per table, over every table the keys name (one row if unused)."""
    top = np.zeros(n_tables, np.int64)
    np.maximum.at(top, table, row + 1)
    return np.maximum(top, 1)


def _load(path: Path) -> list:
    """The file's KJTs, as a list; anything else is a one-line TraceFormatError."""
    import torch
    from torchrec.sparse.jagged_tensor import JaggedTensor, KeyedJaggedTensor

    try:
        with torch.serialization.safe_globals([KeyedJaggedTensor, JaggedTensor]):
            data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many kinds on a foreign or corrupt file
        raise TraceFormatError(path, "file", _EXPECTED, gist(exc)) from None
    batches = data if isinstance(data, (list, tuple)) else [data]
    bad = next((b for b in batches if not isinstance(b, KeyedJaggedTensor)), None)
    if not batches or bad is not None:
        got = "an empty list" if not batches else type(bad).__name__
        raise TraceFormatError(path, "file", _EXPECTED, got)
    return batches
