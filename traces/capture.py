"""A capture directory ``NAME.capture/``, as :mod:`recsim.capture` writes it while a
model runs (format version 1)::

    NAME.capture/
      capture.json      {"format": "recsim-capture", "version": 1, "name": ...,
                         "cardinalities": [...], "table_info": [...],
                         "complete": false until the capture is closed, "provenance": {...}}
      part-000000.npz   table int32 [n], row int64 [n], batch_lengths int64 [b]: whole
      part-000001.npz   batches, in order

Each part is written under a temporary name and renamed into place
(:func:`recsim.files.atomic_output`), so a process killed mid-capture leaves
``capture.json`` and the parts written before the kill, which read as a valid trace (the
kill's unfinished batches are lost). Reading concatenates the parts in memory;
``recsim trace import NAME.capture -o NAME.trace`` makes a memory-mapped native trace.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from recsim.errors import TraceFormatError
from recsim.files import atomic_output
from recsim.traces.common import no_other_options
from recsim.traces.tables import check_table_info
from recsim.traces.trace import Trace

NAME = "capture"
EXTENSIONS = (".capture",)
FORMAT = "recsim-capture"
VERSION = 1
PART = "part-{:06d}.npz"


def holds_trace(path: Path) -> bool:
    """Whether ``path`` is a trace already: a file, or a directory that is not empty."""
    return path.exists() and (not path.is_dir() or any(path.iterdir()))


def start(path, meta: dict, force: bool = False) -> Path:
    """Create the capture directory ``path`` with its ``capture.json``; a path that
    already holds a trace is an error unless ``force`` (then it is replaced)."""
    path = Path(path)
    if holds_trace(path):
        if not force:
            raise TraceFormatError(path, "path", "a new or empty capture directory (pass "
                                   "force=True to replace it)", "it already holds a trace")
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    path.mkdir(parents=True, exist_ok=True)
    write_meta(path, meta, complete=False)
    return path


def write_meta(path: Path, meta: dict, complete: bool) -> None:
    with atomic_output(path / "capture.json") as tmp:
        tmp.write_text(json.dumps({"format": FORMAT, "version": VERSION, **meta,
                                   "complete": complete}, indent=1))


def write_part(path: Path, index: int, table, row, batch_lengths) -> None:
    """Part ``index`` (whole batches), written atomically."""
    with atomic_output(path / PART.format(index)) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, table=np.asarray(table, np.int32), row=np.asarray(row, np.int64),
                 batch_lengths=np.asarray(batch_lengths, np.int64))


def read(path, **options) -> Trace:
    path = Path(path)
    no_other_options(options, path, NAME)
    meta_path = path / "capture.json"
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError) as exc:
        raise TraceFormatError(meta_path, "capture.json", "a recsim capture directory's "
                               "readable JSON", type(exc).__name__) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or \
            meta.get("version") != VERSION:
        raise TraceFormatError(meta_path, "format", f"'{FORMAT}' version {VERSION}")
    parts = sorted(path.glob("part-[0-9][0-9][0-9][0-9][0-9][0-9].npz"))
    if not parts:
        raise TraceFormatError(path, "parts", "at least one part-NNNNNN.npz (a capture "
                               "that recorded a batch)", "none")
    arrays = {"table": [], "row": [], "batch_lengths": []}
    for part in parts:
        try:
            with np.load(part, allow_pickle=False) as npz:
                for name in arrays:
                    arrays[name].append(npz[name])
        except (OSError, ValueError, KeyError) as exc:
            raise TraceFormatError(part, "part", "an .npz of table, row and batch_lengths",
                                   type(exc).__name__) from None
    lengths = np.concatenate(arrays["batch_lengths"])
    offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    card = meta.get("cardinalities")
    info = meta.get("table_info")
    trace_meta = {"name": meta.get("name") or path.name.removesuffix(".capture"),
                  "provenance": {**meta.get("provenance", {}), "format": NAME,
                                 "source": str(path), "complete": meta.get("complete")}}
    if info is not None:
        trace_meta["table_info"] = check_table_info(info, len(card or []), meta_path)
    return Trace.from_arrays(np.concatenate(arrays["table"]), np.concatenate(arrays["row"]),
                             offsets, card, trace_meta, source=path)
