"""User-item interaction logs: one ``user item`` pair of integer ids per line.

This is the text form of the public sequential-recommendation data sets, e.g.
kang205/SASRec ``data/*.txt`` (``amazon_video_sasrec.txt`` in the shared data: Amazon
Video Games reviews, lines grouped by user, each user's items in time order). Fields
are separated by spaces or tabs; blank lines are ignored. Ids are any int64 or uint64,
decimal or ``0x`` hex (hashed ids of production logs; see :mod:`recsim.traces.trace`).

Each line is one inference sample of a two-table model: table 0 = user embedding,
table 1 = item embedding. The trace is sample-major: for each line in file order, the
user access then the item access. Option ``batch_size`` is the number of lines (samples)
per inference batch (default 512). Cardinalities are ``max(id) + 1`` per table.
``write`` accepts a two-table trace of alternating user/item accesses; batch
boundaries are not stored.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from recsim.errors import TraceFormatError
from recsim.traces.common import (fixed_batches, no_other_options, parse_int_lines,
                                  positive_int, require_file, trace_meta, write_int_lines)
from recsim.traces.trace import Trace

NAME = "user_item"
EXTENSIONS = (".useritem.txt", ".user_item.txt")
DEFAULT_BATCH_SIZE = 512


def read(path, batch_size: int = DEFAULT_BATCH_SIZE, **options) -> Trace:
    path = require_file(path, "user-item text")
    no_other_options(options, path, NAME)
    batch_size = positive_int(batch_size, "batch_size", path)
    pairs, unsigned = parse_int_lines(path, ("user", "item"), ids=("user", "item"))
    n = pairs.shape[0]
    meta = trace_meta(path, NAME, EXTENSIONS, batch_size=batch_size,
                      tables={"0": "user", "1": "item"})
    rows = pairs.reshape(-1)
    return Trace.from_arrays(np.tile(np.array([0, 1], dtype=np.int32), n),
                             rows.view(np.uint64) if unsigned else rows,
                             fixed_batches(n, batch_size) * 2, meta=meta, source=path)


def write(trace: Trace, path) -> Path:
    n = trace.n_accesses
    table = np.asarray(trace.table)
    if n % 2 or (table[0::2] != 0).any() or (table[1::2] != 1).any():
        raise TraceFormatError(path, "table", "alternating user (table 0) and item "
                               "(table 1) accesses", f"{trace.n_tables} tables, {n} accesses")
    row = np.asarray(trace.row)
    if trace.unsigned_rows:
        row = row.view(np.uint64)
    return write_int_lines(path, [row[0::2], row[1::2]])
