"""Parquet traces: the columns of :mod:`recsim.traces.csv_table` in an Apache Parquet file.

Columns ``table`` and ``row`` (integer, one row per access, in access order) and an
optional non-decreasing integer ``batch`` (a new inference batch where it changes;
without it the whole file is one batch); other columns are ignored. Files written by
recsim also carry the per-table cardinalities and provenance as JSON in the schema
metadata (key ``recsim``), so a write/read round trip is exact; files from elsewhere get
cardinalities ``max(row) + 1`` per table. Read and written with ``pyarrow.parquet``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from recsim.errors import TraceFormatError, gist
from recsim.files import atomic_output
from recsim.traces.common import no_other_options, require_file
from recsim.traces.csv_table import (
    OPTIONAL,
    REQUIRED,
    check_columns,
    trace_from_columns,
    trace_to_columns,
)
from recsim.traces.trace import Trace

NAME = "parquet_table"
EXTENSIONS = (".parquet", ".pq")
_META_KEY = b"recsim"


def read(path, **options) -> Trace:
    path = require_file(path, "Parquet")
    no_other_options(options, path, NAME)
    try:
        schema = pq.read_schema(path)
        columns = [c for c in REQUIRED + OPTIONAL if c in schema.names]
        check_columns(path, columns, schema.names)
        table = pq.read_table(path, columns=columns)
    except (pa.ArrowException, OSError) as exc:
        raise TraceFormatError(path, "file", "a readable Parquet file", gist(exc)) from None
    try:
        extra = json.loads((schema.metadata or {}).get(_META_KEY, b"{}"))
        if not isinstance(extra, dict):
            raise ValueError
    except ValueError:
        raise TraceFormatError(path, "recsim metadata", "valid JSON") from None
    return trace_from_columns(table, path, NAME, EXTENSIONS, extra.get("cardinalities"),
                              extra.get("provenance"))


def write(trace: Trace, path) -> Path:
    table = trace_to_columns(trace)
    extra = {"cardinalities": [int(c) for c in trace.cardinalities],
             "provenance": {"origin": trace.meta.get("provenance", {})}}
    table = table.replace_schema_metadata({_META_KEY: json.dumps(extra).encode()})
    with atomic_output(path) as tmp:
        pq.write_table(table, tmp)
    return Path(path)
