"""recsim's native trace format: a directory ``NAME.trace/`` of ``.npy`` files.

Layout (format version 1)::

    NAME.trace/
      meta.json           {"format": "recsim-trace", "version": 1, "accesses": N,
                           "batches": B, "tables": T, "cardinalities": [...],
                           "name": ..., "provenance": {...}}
      table.npy           int32 [N]
      row.npy             int64 [N], or uint64 [N] for uint64 ids (hashed ids of 2**63
                          and more; users may write either)
      batch_offsets.npy   int64 [B+1]
      (meta.json may hold "table_info": each table's name, dim and dtype,
       recsim.traces.tables)
      vid.npy, keys.npy   dense-id cache, written on first use (optional; with
      table_rows.npy      table_rows.npy in the ranked key layout, recsim.traces.trace)

A cardinality of 0 means unknown (see :mod:`recsim.traces.trace`).

Arrays are opened memory-mapped, so a trace larger than RAM is paged in as the engine
reads it. A trace is written to a temporary sibling directory and renamed into place, so
an interrupted write never leaves a half-written trace behind.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from recsim.errors import TraceFormatError
from recsim.files import atomic_directory
from recsim.traces.tables import check_table_info
from recsim.traces.trace import Trace

NAME = "native"
EXTENSIONS = (".trace",)
FORMAT = "recsim-trace"
VERSION = 1
_ARRAYS = {"table": np.int32, "row": np.int64, "batch_offsets": np.int64}


def is_native(path: Path) -> bool:
    return path.is_dir() and (path / "meta.json").exists()


def read(path, **_) -> Trace:
    path = Path(path)
    if not path.exists():
        raise TraceFormatError(path, "path", "an existing trace directory", "nothing there")
    meta_path = path / "meta.json"
    if not meta_path.exists():
        raise TraceFormatError(path, "meta.json", "a recsim trace directory with meta.json")
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError) as exc:
        raise TraceFormatError(meta_path, "meta.json", "valid JSON", str(exc)) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise TraceFormatError(meta_path, "format", f"'{FORMAT}'", repr(meta.get("format")
                               if isinstance(meta, dict) else meta))
    if meta.get("version") != VERSION:
        raise TraceFormatError(meta_path, "version", f"{VERSION}", repr(meta.get("version")))
    arrays = {name: _load_array(path / f"{name}.npy", dtype) for name, dtype in _ARRAYS.items()}
    meta_in = {k: meta[k] for k in ("name", "provenance") if k in meta}
    if meta.get("table_info") is not None:
        meta_in["table_info"] = check_table_info(meta["table_info"], len(
            meta.get("cardinalities") or []), meta_path)
    if arrays["row"].dtype == np.uint64:
        arrays["row"] = arrays["row"].view(np.int64)
        meta_in["row_ids"] = "uint64"
    try:
        card = np.asarray(meta["cardinalities"], dtype=np.int64)
    except (KeyError, TypeError, ValueError):
        raise TraceFormatError(meta_path, "cardinalities", "a list of row counts") from None
    if meta.get("accesses") != arrays["table"].shape[0]:
        raise TraceFormatError(path / "table.npy", "table",
                               f"{meta.get('accesses')} accesses (meta.json)",
                               f"{arrays['table'].shape[0]} (truncated or mismatched file?)")
    trace = Trace(arrays["table"], arrays["row"], arrays["batch_offsets"], card, meta_in, path)
    trace.validate(path)
    return trace


def write(trace: Trace, path) -> Path:
    """Write ``trace`` to the directory ``path`` atomically; return the path."""
    path = Path(path)
    with atomic_directory(path) as tmp:
        for name in _ARRAYS:
            array = trace.row_values() if name == "row" else getattr(trace, name)
            np.save(tmp / f"{name}.npy", np.ascontiguousarray(array))
        write_meta(trace, tmp, path.name.removesuffix(".trace"))
    return path


def write_meta(trace: Trace, directory: Path, default_name: str) -> None:
    """Write ``directory/meta.json`` describing ``trace`` (whose arrays are, or will be,
    the ``.npy`` files beside it)."""
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "name": trace.meta.get("name") or default_name,
        "accesses": trace.n_accesses,
        "batches": trace.n_batches,
        "tables": trace.n_tables,
        "cardinalities": [int(c) for c in trace.cardinalities],
        "provenance": trace.meta.get("provenance", {}),
    }
    if trace.meta.get("table_info"):
        meta["table_info"] = trace.meta["table_info"]
    (Path(directory) / "meta.json").write_text(json.dumps(meta, indent=1))


def _load_array(path: Path, dtype) -> np.ndarray:
    if not path.exists():
        raise TraceFormatError(path, path.stem, f"a {np.dtype(dtype).name} .npy file", "missing")
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise TraceFormatError(path, path.stem, f"a readable {np.dtype(dtype).name} .npy file",
                               f"unreadable ({exc}); truncated?") from None
    ok = arr.dtype == dtype or (path.stem == "row" and arr.dtype == np.uint64)
    if not ok or arr.ndim != 1:
        want = "int64 or uint64" if path.stem == "row" else np.dtype(dtype).name
        raise TraceFormatError(path, path.stem, f"a 1-D {want} array",
                               f"{arr.ndim}-D {arr.dtype}")
    return arr


def generated(fill, accesses: int, batch_offsets, cardinalities, meta: dict, path=None) -> Trace:
    """A generator's trace: ``fill(table, row)`` writes ``accesses`` lookups into the two
    arrays it is given: in memory when ``path`` is None, else into memory-mapped ``.npy``
    files of a native directory written atomically at ``path`` and opened from there."""
    if path is None:
        table = np.empty(accesses, dtype=np.int32)
        row = np.empty(accesses, dtype=np.int64)
        fill(table, row)
        return Trace.from_arrays(table, row, batch_offsets, cardinalities, meta)
    path = Path(path)
    with atomic_directory(path) as tmp:
        table = np.lib.format.open_memmap(tmp / "table.npy", "w+", np.int32, (accesses,))
        row = np.lib.format.open_memmap(tmp / "row.npy", "w+", np.int64, (accesses,))
        fill(table, row)
        table.flush()
        row.flush()
        np.save(tmp / "batch_offsets.npy", batch_offsets)
        write_meta(Trace(table, row, batch_offsets, cardinalities, meta), tmp,
                   path.name.removesuffix(".trace"))
        del table, row
    return read(path)
