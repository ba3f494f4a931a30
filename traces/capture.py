"""A capture directory ``NAME.capture/``, as :mod:`recsim.capture` writes it while a
model runs (format version 1)::

    NAME.capture/
      capture.json      {"format": "recsim-capture", "version": 1, "name": ...,
                         "cardinalities": [...], "table_info": [...],
                         "complete": false until the capture is closed, "provenance": {...}}
      part-000000/      table.npy int32 [n], row.npy int64 [n], batch_lengths.npy
      part-000001/      int64 [b]: whole batches, in order

Each part is written as a temporary directory and renamed into place
(:func:`recsim.files.atomic_directory`), so a process killed mid-capture leaves
``capture.json`` and the parts written before the kill, which read as a valid trace (the
kill's unfinished batches are lost). Reading concatenates the parts in memory;
``recsim trace import NAME.capture -o NAME.trace`` makes a memory-mapped native trace.
Parts are plain ``.npy`` files: an ``.npz`` (a zip) costs a CRC and a copy of every array
(docs/model-to-plan.md has the measurement).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from recsim.errors import TraceFormatError
from recsim.files import atomic_directory, atomic_output
from recsim.traces.common import no_other_options
from recsim.traces.tables import check_table_info
from recsim.traces.trace import Trace

NAME = "capture"
EXTENSIONS = (".capture",)
FORMAT = "recsim-capture"
VERSION = 1
PART = "part-{:06d}"
_PART_ARRAYS = {"table": np.int32, "row": np.int64, "batch_lengths": np.int64}


def holds_trace(path: Path) -> bool:
    """Whether ``path`` is a trace already: a file, or a directory that is not empty."""
    return path.exists() and (not path.is_dir() or any(path.iterdir()))


def start(path, meta: dict, force: bool = False) -> Path:
    """Create the capture directory ``path`` with its ``capture.json``. A path that
    already holds something is an error, unless ``force`` and it is a capture directory
    (then it is replaced; nothing else is ever deleted)."""
    path = Path(path)
    if holds_trace(path):
        if not (force and (path / "capture.json").is_file()):
            raise TraceFormatError(path, "path", "a new or empty capture directory (force=True "
                                   "replaces an earlier capture)", "it already holds a trace"
                                   if force is False else "something that is not a capture")
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    write_meta(path, meta, complete=False)
    return path


def write_meta(path: Path, meta: dict, complete: bool) -> None:
    with atomic_output(path / "capture.json") as tmp:
        tmp.write_text(json.dumps({"format": FORMAT, "version": VERSION, **meta,
                                   "complete": complete}, indent=1))


def write_part(path: Path, index: int, table, row, batch_lengths) -> None:
    """Part ``index`` (whole batches), written atomically."""
    with atomic_directory(path / PART.format(index)) as tmp:
        for name, array in zip(_PART_ARRAYS, (table, row, batch_lengths)):
            np.save(tmp / f"{name}.npy", np.asarray(array, _PART_ARRAYS[name]))


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
    parts = sorted(path.glob("part-[0-9][0-9][0-9][0-9][0-9][0-9]"))
    if not parts:
        raise TraceFormatError(path, "parts", "at least one part-NNNNNN/ (a capture "
                               "that recorded a batch)", "none")
    arrays = {name: [] for name in _PART_ARRAYS}
    for part in parts:
        for name, dtype in _PART_ARRAYS.items():
            try:
                array = np.load(part / f"{name}.npy", allow_pickle=False)
            except (OSError, ValueError) as exc:
                raise TraceFormatError(part / f"{name}.npy", name, "a readable .npy",
                                       type(exc).__name__) from None
            if array.dtype != dtype or array.ndim != 1:
                raise TraceFormatError(part / f"{name}.npy", name,
                                       f"a 1-D {np.dtype(dtype).name} array",
                                       f"{array.ndim}-D {array.dtype}")
            arrays[name].append(array)
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
