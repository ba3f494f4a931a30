"""The Criteo click logs as TorchRec's preprocessing writes them
(``torchrec/datasets/criteo.py``, ``BinaryCriteoUtils``, torchrec 1.8.0):
``day_N_sparse.npy``, a ``[samples, 26]`` array, one column per categorical feature
(``cat_0`` .. ``cat_25``, TorchRec's ``DEFAULT_CAT_NAMES``). ``tsv_to_npys`` writes it as
int64 (the raw 32-bit hashes, or 0 where missing), ``sparse_to_contiguous`` keeps that
dtype with contiguous ids, and ``shuffle`` writes int32; both are read (memory-mapped).

Each column is a table named as TorchRec names it. ``batch_size`` samples (default
2048) make one batch; within a batch the lookups are table-major (all samples'
``cat_0``, then ``cat_1``, ...), as TorchRec's ``InMemoryBinaryCriteoIterDataPipe``
builds its ``KeyedJaggedTensor``. TorchRec's optional ``hashes`` (ids modulo a table
size) are not applied: the ids are read as stored. Cardinalities are ``max(row) + 1``
per column (``--cardinality`` overrides).
"""

from __future__ import annotations

import numpy as np

from recsim.errors import TraceFormatError
from recsim.traces.common import no_other_options, positive_int, require_file, trace_meta
from recsim.traces.tables import table_info
from recsim.traces.trace import Trace

NAME = "criteo_npy"
EXTENSIONS = ("_sparse.npy", "_sparse_contig.npy")
COLUMNS = 26
NAMES = [f"cat_{i}" for i in range(COLUMNS)]
DEFAULT_BATCH_SIZE = 2048


def read(path, batch_size: int = DEFAULT_BATCH_SIZE, **options) -> Trace:
    path = require_file(path, "Criteo sparse .npy")
    batch_size = positive_int(batch_size, "batch_size", path)
    no_other_options(options, path, NAME)
    try:
        sparse = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise TraceFormatError(path, "file", "a .npy array", type(exc).__name__) from None
    if sparse.dtype not in (np.int32, np.int64) or sparse.ndim != 2 or \
            sparse.shape[1] != COLUMNS or sparse.shape[0] == 0:
        raise TraceFormatError(path, "array", f"a [samples, {COLUMNS}] int32 or int64 array "
                               "(TorchRec's day_N_sparse.npy)",
                               f"{sparse.dtype} of shape {list(sparse.shape)}")
    samples = sparse.shape[0]
    starts = np.arange(0, samples, batch_size)
    sizes = np.minimum(starts + batch_size, samples) - starts
    # table-major within each batch: the batch's rows transposed, flattened
    row = np.concatenate([np.asarray(sparse[s:s + n]).T.reshape(-1)
                          for s, n in zip(starts, sizes)]).astype(np.int64)
    table = np.concatenate([np.repeat(np.arange(COLUMNS, dtype=np.int32), n)
                            for n in sizes])
    offsets = np.concatenate(([0], np.cumsum(sizes * COLUMNS))).astype(np.int64)
    meta = trace_meta(path, NAME, EXTENSIONS, batch_size=batch_size)
    meta["table_info"] = table_info(NAMES)
    return Trace.from_arrays(table, row, offsets, None, meta, source=path)
