"""libCacheSim's ``oracleGeneral`` binary trace format (github.com/1a1a11a/libCacheSim,
``libCacheSim/traceReader/customizedReader/oracle/oracleGeneralBin.h``).

A headerless sequence of little-endian packed 24-byte records, one per request::

    uint32  clock_time          request time (recsim: inference batch number + 1)
    uint64  obj_id              object id (recsim: the global key table_base[table] + row)
    uint32  obj_size            object size in bytes (recsim writes 1)
    int64   next_access_vtime   1-based position of the next request to the same object,
                                -1 if there is none (libCacheSim's traceConv convention)

Reading gives a one-table trace: table 0, ``row = obj_id`` (any uint64: hashed ids
take the ranked key layout of :mod:`recsim.traces.trace`), a new batch wherever
``clock_time`` changes, cardinality ``max(obj_id) + 1`` (unknown past int64).
Writing stores ``obj_id = trace.keys()`` (below 2**62 in either layout), so a write/read
round trip keeps the key sequence and the batches (table structure is flattened into
the key). A file whose size is not a multiple of 24 bytes is reported as truncated.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from recsim.errors import TraceFormatError
from recsim.files import atomic_output
from recsim.traces.common import (
    batches_from_labels,
    next_access_vtime,
    no_other_options,
    require_file,
    trace_meta,
)
from recsim.traces.trace import Trace

NAME = "oracle_general"
EXTENSIONS = (".oraclegeneral", ".oracle_general", ".bin")
RECORD = np.dtype([("clock_time", "<u4"), ("obj_id", "<u8"), ("obj_size", "<u4"),
                   ("next_access_vtime", "<i8")])

__all__ = ["NAME", "EXTENSIONS", "RECORD", "read", "write", "next_access_vtime"]


def read(path, **options) -> Trace:
    path = require_file(path, "oracleGeneral")
    no_other_options(options, path, NAME)
    size = path.stat().st_size
    if size % RECORD.itemsize:
        raise TraceFormatError(path, "record", f"a whole number of {RECORD.itemsize}-byte "
                               "records", f"{size} bytes ({size % RECORD.itemsize} bytes "
                               "left over: truncated?)")
    records = np.memmap(path, dtype=RECORD, mode="r")
    obj = np.asarray(records["obj_id"])
    return Trace.from_arrays(np.zeros(obj.shape[0], dtype=np.int32), obj,
                             batches_from_labels(records["clock_time"]),
                             meta=trace_meta(path, NAME, EXTENSIONS), source=path)


def write(trace: Trace, path) -> Path:
    if trace.n_batches >= np.iinfo(np.uint32).max:
        raise TraceFormatError(path, "clock_time", "fewer than 2**32-1 batches",
                               f"{trace.n_batches}")
    records = np.empty(trace.n_accesses, dtype=RECORD)
    records["clock_time"] = trace.batch_of_access() + 1
    records["obj_id"] = trace.keys()
    records["obj_size"] = 1
    nxt = next_access_vtime(trace.dense().vid)
    records["next_access_vtime"] = np.where(nxt >= 0, nxt + 1, -1)
    with atomic_output(path) as tmp:
        records.tofile(tmp)
    return Path(path)
