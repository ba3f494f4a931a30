"""CSV traces: a header naming the columns (``batch,table,row``), then one access per line.

Columns (any order; other columns are ignored)::

    table   int   table id of the access (>= 0)
    row     int   row id within the table: any int64 or uint64, decimal or 0x hex
    batch   int   optional: inference-batch number, non-decreasing; a new batch starts
                  where it changes (without it the whole file is one batch)

For example::

    table,row,batch
    0,17,0
    1,4,0
    0,17,1

Parsed with ``pyarrow.csv`` (multi-threaded). Cardinalities are ``max(row) + 1`` per
table; empty batches cannot be represented. ``write`` emits all three columns. The
columns <-> Trace logic here (:func:`trace_from_columns`, :func:`trace_to_columns`) is
shared with :mod:`recsim.traces.parquet_table`.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv

from recsim.errors import TraceFormatError, gist
from recsim.files import atomic_output
from recsim.traces.common import batches_from_labels, no_other_options, require_file, trace_meta
from recsim.traces.trace import Trace, parse_id

NAME = "csv_table"
EXTENSIONS = (".csv",)
REQUIRED = ("table", "row")
OPTIONAL = ("batch",)


def read(path, **options) -> Trace:
    path = require_file(path, "CSV")
    no_other_options(options, path, NAME)
    with open(path, newline="", errors="replace") as fh:
        header = next(csv.reader(fh), [])
    columns = [c for c in REQUIRED + OPTIONAL if c in header]
    check_columns(path, columns, header)
    types = {c: pa.int64() for c in columns}
    expected = "integer table,row[,batch] values on every line"
    try:
        # row ids as uint64 first (Arrow reads 0x hex too, and as int64 would wrap it)
        table = pcsv.read_csv(path, convert_options=pcsv.ConvertOptions(
            include_columns=columns, column_types={**types, "row": pa.uint64()}))
    except pa.ArrowInvalid:  # negative ids, or bad values: read as text, parsed by Trace
        try:
            table = pcsv.read_csv(path, convert_options=pcsv.ConvertOptions(
                include_columns=columns, column_types={**types, "row": pa.string()}))
            return trace_from_columns(table, path, NAME, EXTENSIONS)
        except (pa.ArrowException, OSError, TraceFormatError) as exc:
            bad = _first_bad_line(path, header, columns)
            if bad is None and isinstance(exc, TraceFormatError):
                raise
            raise TraceFormatError(path, "line", expected, bad or str(exc)) from None
    except (pa.ArrowException, OSError) as exc:
        raise TraceFormatError(path, "line", expected, gist(exc)) from None
    return trace_from_columns(table, path, NAME, EXTENSIONS)


def write(trace: Trace, path) -> Path:
    columns = trace_to_columns(trace)
    with atomic_output(path) as tmp, open(tmp, "wb") as fh:
        fh.write((",".join(columns.column_names) + "\n").encode())  # unquoted header
        pcsv.write_csv(columns, fh, pcsv.WriteOptions(include_header=False,
                                                      quoting_style="none"))
    return Path(path)


# -- shared with parquet_table ---------------------------------------------------------


def check_columns(path: Path, columns: list[str], present: list[str]) -> None:
    """Raise if a required column is missing from ``present``."""
    for name in REQUIRED:
        if name not in columns:
            raise TraceFormatError(path, name, "columns table,row and optionally batch",
                                   f"columns {list(present)}")


def trace_from_columns(table: pa.Table, path: Path, fmt: str, extensions,
                       cardinalities=None, provenance=None) -> Trace:
    """A Trace from an Arrow table with integer columns table, row and optional batch."""
    arrays = {}
    for name in table.column_names:
        col = table.column(name)
        if not (pa.types.is_integer(col.type) or (name == "row" and pa.types.is_string(col.type))):
            raise TraceFormatError(path, name, "an integer column", f"type {col.type}")
        if col.null_count:
            raise TraceFormatError(path, name, "a value on every row",
                                   f"{col.null_count} missing values")
        arrays[name] = col.to_numpy(zero_copy_only=False)
    offsets = None
    if "batch" in arrays:
        batch = arrays["batch"]
        down = np.flatnonzero(batch[1:] < batch[:-1])
        if down.size:
            i = int(down[0]) + 1
            raise TraceFormatError(path, "batch", "non-decreasing batch numbers",
                                   f"{batch[i]} after {batch[i - 1]} at data row {i + 1}")
        offsets = batches_from_labels(batch)
    meta = trace_meta(path, fmt, extensions, **(provenance or {}))
    return Trace.from_arrays(arrays["table"], arrays["row"], offsets, cardinalities, meta,
                             source=path)


def trace_to_columns(trace: Trace) -> pa.Table:
    """The Arrow table (table int32, row int64 or uint64, batch int64) that the writers
    store."""
    return pa.table({"table": np.asarray(trace.table), "row": trace.row_values(),
                     "batch": trace.batch_of_access()})


def _first_bad_line(path: Path, header: list[str], columns: list[str]) -> str | None:
    """Describe the first line whose wanted fields are not integers (error path only)."""
    wanted = [header.index(c) for c in columns]
    with open(path, newline="", errors="replace") as fh:
        reader = csv.reader(fh)
        next(reader, None)
        for rec in reader:
            if not rec:
                continue
            try:
                if len(rec) != len(header):
                    raise ValueError
                for name, i in zip(columns, wanted):
                    parse_id(rec[i]) if name == "row" else int(rec[i])
            except ValueError:
                return f"line {reader.line_num}: {','.join(rec)[:200]!r}"
    return None
