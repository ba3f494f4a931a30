"""Atomic file writes, for every module that writes results, traces or caches; content
digests of files.

:func:`atomic_output` (one file, :func:`write_npy_atomic` one array) and
:func:`atomic_directory` (a directory) write beside the final name, then ``os.replace``
it into place, so a killed process leaves either the old content or the whole new one,
never a torn file.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np


@contextmanager
def atomic_output(path):
    """Yield a temporary file path beside ``path``; rename it to ``path`` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_directory(path):
    """Yield a temporary directory beside ``path``; replace ``path`` with it on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o755)
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_npy_atomic(path, array: np.ndarray) -> None:
    """Save one ``.npy`` beside its final name and rename it into place."""
    with atomic_output(path) as tmp, open(tmp, "wb") as fh:
        np.save(fh, np.ascontiguousarray(array))


def advice_file(trace, name: str) -> Path | None:
    """``TRACE/advice/NAME``, where a learned plug-in caches its advice beside a trace
    stored as a directory; None for a trace with no such directory (in memory, one file)."""
    if trace.path is None or not Path(trace.path).is_dir():
        return None
    return Path(trace.path) / "advice" / name


def save_npz_cache(path, **arrays) -> bool:
    """Write ``arrays`` to ``path`` (an ``.npz``) atomically; False, and nothing written,
    where the folder cannot be written (a read-only trace directory: no cache)."""
    try:
        with atomic_output(path) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
    except OSError:
        return False
    return True


def digest(path) -> str:
    """A hash of the file's content (20 hex digits), for keys that must change with it."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:20]
