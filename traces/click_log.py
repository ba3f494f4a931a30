"""Categorical click logs (Criteo, Avazu): one CSV line per ad impression.

Each line is one inference sample of a DLRM with one embedding table per categorical
column. The file is comma-separated with a header line naming the columns, e.g. the
DeepCTR samples of Criteo (``label,I1..I13,C1..C26``) and Avazu (``id,click,hour,C1,
banner_pos,site_id,...,C21``). Criteo's own ``train.txt``/``day_N`` files are also read:
a file whose first line has a tab is tab-separated, and a first line whose first field
is ``0`` or ``1`` is data, not a header: the file must then have Criteo's 40 fields,
named ``label, I1..I13, C1..C26``.

Options:

- ``columns``: the categorical columns, one table each, numbered in the order given.
  Default: every column but the label, id and time (``label``, ``click``, ``id``,
  ``hour``, any case) and Criteo's dense integer features ``I1``, ``I2``, ...; in header
  order. That is Criteo's C1..C26 (26 tables) and Avazu's 21 columns from ``C1`` to
  ``C21`` (its anonymous ``C*`` columns are categorical codes, not counts).
- ``rows_per_table``: hash space per table (default 40,000,000, the per-table cap of
  the MLPerf DLRM reference on Criteo 1TB, ``--max-ind-range=40000000``). A value is
  hashed with 64-bit FNV-1a over its bytes as written in the file (UTF-8 text, without
  quotes) to row ``1 + fnv1a64(value) % (rows_per_table - 1)``; an empty value is row 0,
  reserved for it (as DLRM's preprocessing maps missing categories to 0). Every table's
  cardinality is ``rows_per_table``.
- ``batch_size``: samples (lines) per inference batch (default 512, the last shorter);
- ``order``: as in :mod:`recsim.traces.dlrm_datasets`: ``'table-major'`` (default):
  within a batch, table 0's accesses for the batch's samples in sample order, then
  table 1, ...; ``'sample-major'``: sample 0's accesses to all tables, then sample 1, ...

The file is streamed through ``pyarrow.csv`` (C++ parser, 16 MiB blocks) and each
selected column's bytes are hashed by one Numba loop: O(file size) time with Python
work per block, never per line or value; memory O(lines x columns) for the trace
(about 30 bytes per access at the peak). The column names per table are recorded in
``meta['provenance']['tables']``.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numba
import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv

from recsim.errors import ConfigError, TraceFormatError, gist
from recsim.traces.common import (fixed_batches, no_other_options, positive_int,
                                  require_file, trace_meta)
from recsim.traces.dlrm_datasets import ORDERS
from recsim.traces.trace import Trace

NAME = "click_log"
EXTENSIONS = ()  # .txt/.csv are ambiguous: give format='click_log'
DEFAULT_ROWS_PER_TABLE = 40_000_000
DEFAULT_BATCH_SIZE = 512
CRITEO_COLUMNS = ("label", *(f"I{i}" for i in range(1, 14)), *(f"C{i}" for i in range(1, 27)))
NOT_CATEGORICAL = re.compile(r"(label|click|id|hour|I\d+)", re.IGNORECASE)
_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)
_BLOCK = 16 << 20


def read(path, columns=None, rows_per_table: int = DEFAULT_ROWS_PER_TABLE,
         batch_size: int = DEFAULT_BATCH_SIZE, order: str = "table-major", **options) -> Trace:
    path = require_file(path, "click-log CSV")
    no_other_options(options, path, NAME)
    rows_per_table = positive_int(rows_per_table, "rows_per_table", path)
    if rows_per_table < 2:
        raise ConfigError(f"{path}: option 'rows_per_table': expected at least 2 (row 0 is "
                          f"for empty values), got {rows_per_table}")
    batch_size = positive_int(batch_size, "batch_size", path)
    if order not in ORDERS:
        raise ConfigError(f"{path}: option 'order': expected one of {', '.join(ORDERS)}, "
                          f"got {order!r}")
    delimiter, names, skip = _layout(path)
    columns = _columns(path, columns, names)
    rows = _hashed_rows(path, delimiter, names, skip, columns, rows_per_table)
    n, n_tables = rows.shape
    if n == 0:
        raise TraceFormatError(path, "line", "at least one data line after the header",
                               "none")
    ids = np.arange(n_tables, dtype=np.int32)
    if order == "sample-major":
        table, row = np.tile(ids, n), rows.reshape(-1)
    else:
        full = n - n % batch_size
        table = np.concatenate((np.tile(np.repeat(ids, batch_size), full // batch_size),
                                np.repeat(ids, n - full)))
        row = np.concatenate((rows[:full].reshape(-1, batch_size, n_tables)
                              .transpose(0, 2, 1).reshape(-1), rows[full:].T.reshape(-1)))
    meta = trace_meta(path, NAME, EXTENSIONS, tables={str(t): c for t, c in enumerate(columns)},
                      rows_per_table=rows_per_table, hash="fnv1a64", empty_row=0,
                      batch_size=batch_size, order=order, samples=n)
    return Trace.from_arrays(table, row, fixed_batches(n, batch_size) * n_tables,
                             np.full(n_tables, rows_per_table), meta, source=path)


def fnv1a64(values: pa.Array) -> np.ndarray:
    """64-bit FNV-1a hash (uint64) of each value of a binary or string Arrow array."""
    offsets, data = _buffers(values)
    out = np.empty(len(values), dtype=np.uint64)
    _fnv1a64(offsets, data, out)
    return out


@numba.njit(cache=True)
def _fnv1a64(offsets, data, out):
    for i in range(out.shape[0]):
        h = _FNV_OFFSET
        for j in range(offsets[i], offsets[i + 1]):
            h = (h ^ np.uint64(data[j])) * _FNV_PRIME
        out[i] = h


def _buffers(values: pa.Array):
    """(offsets int32, data uint8) of a binary/string array, honouring its slice offset."""
    _, offsets, data = values.buffers()
    offsets = np.frombuffer(offsets, dtype=np.int32)[values.offset:values.offset + len(values) + 1]
    return offsets, np.frombuffer(data, dtype=np.uint8) if data else np.empty(0, np.uint8)


def _hash_rows(values: pa.Array, rows_per_table: int) -> np.ndarray:
    """Row of each value: 0 when empty, else ``1 + fnv1a64 % (rows_per_table - 1)``."""
    offsets, _ = _buffers(values)
    rows = (fnv1a64(values) % np.uint64(rows_per_table - 1)).astype(np.int64) + 1
    rows[offsets[1:] == offsets[:-1]] = 0
    return rows


def _layout(path: Path):
    """(delimiter, column names, lines to skip) from the file's first line."""
    try:
        with open(path, "rb") as fh:
            first = fh.readline().decode("utf-8", errors="replace").rstrip("\r\n")
    except OSError as exc:
        raise TraceFormatError(path, "file", "a readable click-log file", str(exc)) from None
    delimiter = "\t" if "\t" in first else ","
    fields = next(csv.reader([first], delimiter=delimiter))
    if fields[0] not in ("0", "1"):
        return delimiter, fields, 1
    if len(fields) != len(CRITEO_COLUMNS):
        raise TraceFormatError(path, "header", "a header line naming the columns, or Criteo's "
                               f"raw layout of {len(CRITEO_COLUMNS)} fields without one",
                               f"line 1: {first[:200]!r}")
    return delimiter, list(CRITEO_COLUMNS), 0


def _columns(path: Path, columns, names: list[str]) -> list[str]:
    if columns is None:
        columns = [c for c in names if not NOT_CATEGORICAL.fullmatch(c)]
        if not columns:
            raise TraceFormatError(path, "columns", "at least one categorical column "
                                   "(not label, click, id, hour or I<n>)", f"header {names}")
        return columns
    if (isinstance(columns, str) or not all(isinstance(c, str) for c in columns)
            or not columns or len(set(columns)) != len(columns)):
        raise ConfigError(f"{path}: option 'columns': expected a non-empty list of distinct "
                          f"column names, got {columns!r}")
    for name in columns:
        if name not in names:
            raise TraceFormatError(path, name, "a column of the header (option 'columns')",
                                   f"header {names}")
    return list(columns)


def _hashed_rows(path: Path, delimiter: str, names: list[str], skip: int, columns: list[str],
                 rows_per_table: int) -> np.ndarray:
    """Rows ``[lines, len(columns)]`` (int64), streamed a block at a time."""
    read_options = pcsv.ReadOptions(column_names=names, skip_rows=skip, block_size=_BLOCK)
    convert = pcsv.ConvertOptions(include_columns=columns,
                                  column_types={c: pa.binary() for c in columns})
    blocks = []
    try:
        reader = pcsv.open_csv(path, read_options, pcsv.ParseOptions(delimiter=delimiter),
                               convert)
        for batch in reader:
            blocks.append(np.stack([_hash_rows(batch.column(c), rows_per_table)
                                    for c in columns], axis=1))
    except (pa.ArrowException, OSError) as exc:
        sep = "tab" if delimiter == "\t" else "comma"
        raise TraceFormatError(path, "line", f"{len(names)} {sep}-separated fields per line",
                               _first_bad_line(path, delimiter, len(names)) or gist(exc)) from None
    return np.concatenate(blocks) if blocks else np.empty((0, len(columns)), dtype=np.int64)


def _first_bad_line(path: Path, delimiter: str, n_fields: int) -> str | None:
    """The first line without ``n_fields`` fields (error path only)."""
    with open(path, newline="", errors="replace") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        for rec in reader:
            if rec and len(rec) != n_fields:
                return f"line {reader.line_num}: {delimiter.join(rec)[:200]!r}"
    return None
