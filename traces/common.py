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


_U64_MAX = np.uint64(0xFFFFFFFFFFFFFFFF)
_HIGH_BIT = np.uint64(1 << 63)


@numba.njit(cache=True)
def _hex_digit(c):
    if 48 <= c <= 57:
        return c - 48
    if 97 <= c <= 102:
        return c - 87
    if 65 <= c <= 70:
        return c - 55
    return -1


@numba.njit(cache=True)
def _parse_id(buf, i, size, seen):
    """Parse an id at ``buf[i]``: decimal (optional '-') or ``0x`` hex, any int64 or
    uint64; returns (end, int64 bits, ok) and records in ``seen`` a negative (bit 0) and
    a value of 2**63 or more (bit 1)."""
    negative = buf[i] == 45
    if negative:
        i += 1
    v = np.uint64(0)
    digits = 0
    if i + 1 < size and buf[i] == 48 and (buf[i + 1] == 120 or buf[i + 1] == 88) \
            and not negative:
        i += 2
        while i < size and _hex_digit(buf[i]) >= 0:
            if digits == 16:
                return i, 0, False
            v = v * np.uint64(16) + np.uint64(_hex_digit(buf[i]))
            digits += 1
            i += 1
    else:
        while i < size and 48 <= buf[i] <= 57:
            d = np.uint64(buf[i] - 48)
            if v > (_U64_MAX - d) // np.uint64(10):
                return i, 0, False
            v = v * np.uint64(10) + d
            digits += 1
            i += 1
    if digits == 0:
        return i, 0, False
    if negative:
        if v > _HIGH_BIT:
            return i, 0, False
        if v != 0:
            seen[0] = True
        return i, -np.int64(v - np.uint64(1)) - 1, True
    if v >= _HIGH_BIT:
        seen[1] = True
    return i, np.int64(v), True


@numba.njit(cache=True)
def _parse_ints(buf, out, ids, seen):
    """Parse lines of ``out.shape[1]`` integers into ``out``: non-negative decimal below
    10**18, or any int64/uint64 id (:func:`_parse_id`) in the columns where ``ids`` is
    True (``seen[col]``: which kinds of id were met); blank lines are skipped. Returns
    (records, error line or -1, start of that line)."""
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
        elif col < ncols and ids[col] and (48 <= c <= 57 or c == 45):
            i, v, ok = _parse_id(buf, i, size, seen[col])
            if not ok or (seen[col, 0] and seen[col, 1]) or (
                    i < size and buf[i] != 10 and not _is_space(buf[i])):
                return n, line, line_start
            out[n, col] = v
            col += 1
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


def parse_int_lines(path: Path, columns: tuple[str, ...], ids: tuple[str, ...] = ()
                    ) -> tuple[np.ndarray, bool]:
    """Read a text file with one record of ``len(columns)`` integers per line (spaces or
    tabs between them; blank lines ignored) as an int64 array of shape ``[records,
    len(columns)]``: non-negative, except the columns named in ``ids``, which take any
    int64 or uint64 in decimal or ``0x`` hex; also whether the ids are uint64 (some of
    2**63 or more, kept as their int64 bits; then none may be negative). A bad line
    raises TraceFormatError naming its number."""
    buf = np.memmap(path, dtype=np.uint8, mode="r")
    out = np.empty((int(np.count_nonzero(buf == 10)) + 1, len(columns)), dtype=np.int64)
    is_id = np.array([c in ids for c in columns], dtype=np.bool_)
    seen = np.zeros((len(columns), 2), dtype=np.bool_)
    n, bad_line, start = _parse_ints(buf, out, is_id, seen)
    if bad_line >= 0:
        kinds = ("non-negative integers" if not ids else
                 f"integers ({', '.join(ids)}: int64 or uint64 ids, decimal or 0x hex)")
        raise TraceFormatError(
            path, "line", f"{len(columns)} {kinds} per line ({' '.join(columns)})",
            f"line {bad_line}: {_line_text(buf, start)!r}")
    if n == 0:
        raise TraceFormatError(path, "line", f"at least one line of {' '.join(columns)}",
                               "only blank lines")
    if seen[:, 0].any() and seen[:, 1].any():
        raise TraceFormatError(path, "/".join(ids), "ids that fit int64 or uint64 alike",
                               "negative ids and ids of 2**63 or more")
    return out[:n], bool(seen[:, 1].any())


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
