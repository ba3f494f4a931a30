"""Helpers shared by the trace format modules and generators.

- input checks (:func:`require_file`) and option checks (:func:`positive_int`,
  :func:`no_other_options`);
- a fast parser for text files of whitespace-separated non-negative integers
  (:func:`parse_int_lines`, Numba, one pass over the memory-mapped bytes) whose errors
  name the offending line (:func:`line_error`), and the matching writer
  (:func:`write_int_lines`);
- batch boundaries (:func:`fixed_batches`, :func:`batches_from_labels`);
- next-use times (:func:`next_access_vtime`), O(N).
"""

from __future__ import annotations

from pathlib import Path

import numba
import numpy as np

from recsim.errors import ConfigError, TraceFormatError
from recsim.files import atomic_output
from recsim.traces.nextuse import NEVER, next_use

# -- input and option checks -----------------------------------------------------------


def require_file(path, what: str) -> Path:
    """``path`` as a Path if it is an existing non-empty file, else a TraceFormatError."""
    path = Path(path)
    if not path.is_file():
        raise TraceFormatError(path, "path", f"an existing {what} file",
                               "a directory" if path.exists() else "nothing there")
    if path.stat().st_size == 0:
        raise TraceFormatError(path, "file", f"a non-empty {what} file", "an empty file")
    return path


def positive_int(value, option: str, source, allow_none: bool = False):
    """Check a positive integer option (``None`` passes when ``allow_none``)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ConfigError(f"{source}: option '{option}': expected a positive integer, "
                          f"got {value!r}")
    return int(value)


def no_other_options(options: dict, source, fmt: str) -> None:
    """Reject options a reader does not know, naming them."""
    if options:
        raise ConfigError(f"{source}: format '{fmt}' has no option(s) "
                          f"{', '.join(map(repr, sorted(options)))}")


def trace_meta(path: Path, fmt: str, extensions, **provenance) -> dict:
    """``meta`` for a trace read from ``path``: its name (file name less the extension)
    and provenance (format, source file, reader options)."""
    ext = max((e for e in extensions if path.name.lower().endswith(e)), key=len,
              default=path.suffix)
    name = path.name[: len(path.name) - len(ext)] or path.name
    return {"name": name, "provenance": {"format": fmt, "source": str(path), **provenance}}


# -- whitespace-separated integer text -------------------------------------------------


@numba.njit(cache=True)
def _is_space(c):
    return c == 32 or c == 9 or c == 13


@numba.njit(cache=True)
def _parse_ints(buf, out):
    """Parse lines of ``out.shape[1]`` non-negative integers into ``out``; blank lines
    are skipped. Returns (records, error line or -1, start of that line)."""
    ncols = out.shape[1]
    n, col, line, line_start, i, size = 0, 0, 1, 0, 0, buf.shape[0]
    while i < size:
        c = buf[i]
        if c == 10:
            if col != 0:
                if col != ncols:
                    return n, line, line_start
                n += 1
                col = 0
            line += 1
            i += 1
            line_start = i
        elif _is_space(c):
            i += 1
        elif 48 <= c <= 57 and col < ncols:
            v = 0
            start = i
            while i < size and 48 <= buf[i] <= 57:
                v = v * 10 + (buf[i] - 48)
                i += 1
            if i - start > 18 or (i < size and buf[i] != 10 and not _is_space(buf[i])):
                return n, line, line_start
            out[n, col] = v
            col += 1
        else:
            return n, line, line_start
    if col != 0:
        if col != ncols:
            return n, line, line_start
        n += 1
    return n, -1, 0


@numba.njit(cache=True)
def _record_line(buf, k):
    """(line number, start offset) of the k-th (0-based) non-blank line."""
    line, start, count, nonblank = 1, 0, 0, False
    for i in range(buf.shape[0]):
        c = buf[i]
        if c == 10:
            if nonblank:
                if count == k:
                    return line, start
                count += 1
            line += 1
            start = i + 1
            nonblank = False
        elif not _is_space(c):
            nonblank = True
    return line, start


def _line_text(buf, start: int) -> str:
    text = bytes(buf[start:start + 200]).split(b"\n", 1)[0].rstrip(b"\r")
    return text.decode("utf-8", errors="replace")


def parse_int_lines(path: Path, columns: tuple[str, ...]) -> np.ndarray:
    """Read a text file with one record of ``len(columns)`` non-negative integers per
    line (spaces or tabs between them; blank lines ignored) as an int64 array of shape
    ``[records, len(columns)]``. A bad line raises TraceFormatError naming its number."""
    buf = np.memmap(path, dtype=np.uint8, mode="r")
    out = np.empty((int(np.count_nonzero(buf == 10)) + 1, len(columns)), dtype=np.int64)
    n, bad_line, start = _parse_ints(buf, out)
    if bad_line >= 0:
        raise TraceFormatError(
            path, "line", f"{len(columns)} non-negative integers per line "
            f"({' '.join(columns)})", f"line {bad_line}: {_line_text(buf, start)!r}")
    if n == 0:
        raise TraceFormatError(path, "line", f"at least one line of {' '.join(columns)}",
                               "only blank lines")
    return out[:n]


def line_error(path: Path, bad: np.ndarray, field: str, expected: str) -> TraceFormatError:
    """The error for the first record flagged in ``bad`` by a caller of
    :func:`parse_int_lines`, naming its line number and text."""
    buf = np.memmap(path, dtype=np.uint8, mode="r")
    line, start = _record_line(buf, int(np.argmax(bad)))
    return TraceFormatError(path, field, expected, f"line {line}: {_line_text(buf, start)!r}")


def write_int_lines(path, columns: list[np.ndarray]) -> Path:
    """Write integer columns as space-separated lines, atomically."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    table = pa.table({f"c{i}": np.ascontiguousarray(c) for i, c in enumerate(columns)})
    with atomic_output(path) as tmp:
        pcsv.write_csv(table, tmp, pcsv.WriteOptions(include_header=False, delimiter=" ",
                                                      quoting_style="none"))
    return Path(path)


# -- batches ---------------------------------------------------------------------------


def fixed_batches(n: int, batch_size: int | None) -> np.ndarray:
    """Offsets of batches of ``batch_size`` items (the last one shorter); one batch when
    ``batch_size`` is None."""
    if batch_size is None or n == 0:
        return np.array([0, n], dtype=np.int64)
    return np.append(np.arange(0, n, batch_size, dtype=np.int64), np.int64(n))


def batches_from_labels(labels: np.ndarray) -> np.ndarray:
    """Offsets of the runs of equal consecutive labels (a new batch where one changes)."""
    labels = np.asarray(labels)
    cuts = np.flatnonzero(labels[1:] != labels[:-1]) + 1
    return np.concatenate(([0], cuts, [labels.shape[0]])).astype(np.int64)


# -- next-use times --------------------------------------------------------------------


def next_access_vtime(vid: np.ndarray) -> np.ndarray:
    """For each access i, the index (0-based) of the next access to the same vector, or
    -1 if there is none. ``vid`` must be dense ids in ``[0, U)`` (``trace.dense().vid``).
    O(N) time, O(N + U) memory. (libCacheSim's oracleGeneral stores this + 1.)"""
    vid = np.asarray(vid)
    if vid.ndim != 1 or (vid.size and not np.issubdtype(vid.dtype, np.integer)):
        raise ValueError(f"next_access_vtime: expected a 1-D integer array, got "
                         f"{vid.ndim}-D {vid.dtype}")
    if vid.size == 0:
        return np.empty(0, dtype=np.int64)
    if vid.min() < 0:
        raise ValueError("next_access_vtime: expected non-negative dense ids")
    nxt, _ = next_use(np.ascontiguousarray(vid, dtype=np.int64), int(vid.max()) + 1)
    return np.where(nxt == NEVER, -1, nxt)
