"""The RecMG authors' text traces: one embedding access per line, ``table key``.

Each line holds two non-negative integers separated by spaces or tabs::

    table key        with  key = row * 1000 + table

so ``row = key // 1000`` and ``key % 1000`` must equal ``table`` (hence table ids are
below 1000); a line where it does not is an error naming that line. Blank lines are
ignored. This is the encoding used by the trace files of the RecMG paper ("Machine
Learning-Guided Memory Optimization for DLRM Inference on Tiered Memory") for Meta's
DLRM embedding traces.

The files carry no batch boundaries: option ``batch_size`` (accesses per inference
batch) splits the trace; by default it is one batch. ``write`` produces the same
format (batch boundaries are not stored).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from recsim.errors import TraceFormatError
from recsim.traces.common import (fixed_batches, line_error, no_other_options,
                                  parse_int_lines, positive_int, require_file, trace_meta,
                                  write_int_lines)
from recsim.traces.trace import Trace

NAME = "recmg_text"
EXTENSIONS = (".recmg.txt", ".recmg")
KEY_FACTOR = 1000


def read(path, batch_size: int | None = None, **options) -> Trace:
    path = require_file(path, "RecMG text")
    no_other_options(options, path, NAME)
    batch_size = positive_int(batch_size, "batch_size", path, allow_none=True)
    values, _ = parse_int_lines(path, ("table", "key"))
    table, key = values[:, 0], values[:, 1]
    bad = key % KEY_FACTOR != table
    if bad.any():
        raise line_error(path, bad, "key", f"key = row*{KEY_FACTOR} + table "
                         f"(key % {KEY_FACTOR} equal to the table id)")
    meta = trace_meta(path, NAME, EXTENSIONS, batch_size=batch_size)
    return Trace.from_arrays(table, key // KEY_FACTOR,
                             fixed_batches(values.shape[0], batch_size), meta=meta,
                             source=path)


def write(trace: Trace, path) -> Path:
    limit = np.iinfo(np.int64).max // KEY_FACTOR
    if trace.n_tables > KEY_FACTOR or int(np.max(trace.row)) >= limit:
        raise TraceFormatError(path, "table", f"at most {KEY_FACTOR} tables and rows below "
                               f"{limit} (key = row*{KEY_FACTOR} + table)",
                               f"{trace.n_tables} tables, max row {np.max(trace.row)}")
    table = np.asarray(trace.table, dtype=np.int64)
    return write_int_lines(path, [table, np.asarray(trace.row) * KEY_FACTOR + table])
