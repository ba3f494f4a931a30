"""Meta's embedding-lookup trace files (github.com/facebookresearch/dlrm_datasets, as
FBGEMM's table-batched-embedding benchmarks read them).

Each file (``fbgemm_t{T}_bs{B}_{i}.pt``, possibly gzip-compressed as ``.pt.gz``) is
``torch.save((indices, offsets, lengths))`` of ONE batch of ``B`` samples over ``T``
tables:

- ``lengths``: 2-D ``[T, B]``, the number of lookups of table ``t`` for sample ``b``;
- ``offsets``: 1-D, ``T*B + 1`` entries, table-major, absolute positions into
  ``indices`` (``offsets[0] == 0``, non-decreasing, ``offsets[-1] == len(indices)``,
  ``diff(offsets) == lengths.flatten()``);
- ``indices``: 1-D, row ids local to each table.

The bag of (table ``t``, sample ``b``) is ``indices[offsets[t*B+b] : offsets[t*B+b+1]]``.
dtypes are not documented (released files have int32 indices and int64 offsets or
lengths); any integer dtype is accepted. Compression is detected from the gzip magic
bytes, not the name. Files are loaded with ``torch.load(weights_only=True)``.

Options:

- ``tables``: list of table ids to keep, in the order given (default all); they are
  renumbered ``0..len-1`` and the original ids recorded in ``meta['provenance']``;
- ``batch_size``: samples per inference batch (default 512); the file's ``B`` samples
  form ``ceil(B / batch_size)`` batches;
- ``order``: ``'table-major'`` (default): within a batch, all bags of table 0 for the
  batch's samples in sample order, then table 1, ... (as FBGEMM's table-batched lookup
  sees them); ``'sample-major'``: sample 0's bags of all tables, then sample 1, ...

Cardinalities are ``max(row) + 1`` per kept table. ``write`` stores a trace the other
way round, each inference batch as one sample (bag ``(t, b)`` = the accesses of table
``t`` in batch ``b``, in trace order); reading it back with ``batch_size=1`` gives the
trace with each batch's accesses stably sorted by table.
"""

from __future__ import annotations

import gzip
import shutil
import tempfile
import zlib
from pathlib import Path

import numpy as np

from recsim.errors import ConfigError, TraceFormatError, gist
from recsim.files import atomic_output
from recsim.traces.common import (
    no_other_options,
    positive_int,
    require_file,
    trace_meta,
)
from recsim.traces.trace import Trace

NAME = "dlrm_datasets"
EXTENSIONS = (".pt", ".pt.gz")
ORDERS = ("table-major", "sample-major")
DEFAULT_BATCH_SIZE = 512
_GZIP_MAGIC = b"\x1f\x8b"
_EXPECTED = "a torch.save file of a tuple (indices, offsets, lengths)"
_CHUNK_BAGS = 1 << 20


def read(path, tables=None, batch_size: int = DEFAULT_BATCH_SIZE, order: str = "table-major",
         **options) -> Trace:
    path = require_file(path, "torch.save")
    no_other_options(options, path, NAME)
    batch_size = positive_int(batch_size, "batch_size", path)
    if order not in ORDERS:
        raise ConfigError(f"{path}: option 'order': expected one of {', '.join(ORDERS)}, "
                          f"got {order!r}")
    indices, offsets, lengths = _load(path)
    n_tables, n_samples = lengths.shape
    sel = _select_tables(tables, n_tables, path)
    tpos, bags = _bag_order(sel, n_samples, batch_size, order)
    lens = lengths.reshape(-1)[bags]
    ends = np.cumsum(lens)
    row = _gather(indices, offsets[bags], lens, ends)
    sample_bounds = np.append(np.arange(0, n_samples, batch_size), n_samples)
    batch_offsets = np.concatenate(([0], ends))[sel.shape[0] * sample_bounds]
    card = [int(indices[offsets[t * n_samples]:offsets[(t + 1) * n_samples]].max(initial=0)) + 1
            for t in sel]
    meta = trace_meta(path, NAME, EXTENSIONS, tables=[int(t) for t in sel],
                      file_tables=int(n_tables), file_samples=int(n_samples),
                      batch_size=batch_size, order=order)
    return Trace.from_arrays(np.repeat(tpos.astype(np.int32), lens), row, batch_offsets,
                             card, meta, source=path)


def write(trace: Trace, path) -> Path:
    """Save ``trace`` as ``(indices, offsets, lengths)`` with one sample per inference
    batch (int64 tensors); gzip-compressed when ``path`` ends in ``.gz``."""
    import torch

    path = Path(path)
    n_tables, n_batches = trace.n_tables, trace.n_batches
    bag = np.asarray(trace.table, dtype=np.int64) * n_batches + trace.batch_of_access()
    order = np.argsort(bag, kind="stable")
    lengths = np.bincount(bag, minlength=n_tables * n_batches).reshape(n_tables, n_batches)
    offsets = np.concatenate(([0], np.cumsum(lengths.reshape(-1)))).astype(np.int64)
    data = tuple(torch.from_numpy(np.ascontiguousarray(a, dtype=np.int64))
                 for a in (np.asarray(trace.row)[order], offsets, lengths))
    with atomic_output(path) as tmp:
        if path.name.lower().endswith(".gz"):
            with gzip.open(tmp, "wb") as fh:
                torch.save(data, fh)
        else:
            torch.save(data, tmp)
    return path


def _bag_order(sel: np.ndarray, n_samples: int, batch_size: int, order: str):
    """(position in ``sel``, bag id ``t*B + b``) of every bag, in access order.

    Batch k covers samples [s0, s0 + n_k) and bags [nsel*s0, nsel*(s0 + n_k)); bag j of
    it, at rank r = j - nsel*s0, is (table r // n_k, sample s0 + r % n_k) table-major,
    or (table r % nsel, sample s0 + r // nsel) sample-major.
    """
    nsel = sel.shape[0]
    j = np.arange(nsel * n_samples, dtype=np.int64)
    s0 = j // (nsel * batch_size) * batch_size
    r = j - nsel * s0
    if order == "table-major":
        n_k = np.minimum(batch_size, n_samples - s0)
        tpos, sample = r // n_k, s0 + r % n_k
    else:
        tpos, sample = r % nsel, s0 + r // nsel
    return tpos, sel[tpos] * n_samples + sample


def _gather(indices: np.ndarray, starts: np.ndarray, lens: np.ndarray,
            ends: np.ndarray) -> np.ndarray:
    """Concatenate ``indices[starts[i] : starts[i] + lens[i]]`` over bags i (``ends`` =
    ``cumsum(lens)``) as int64, a chunk of bags at a time to bound the temporaries."""
    row = np.empty(int(ends[-1]) if ends.size else 0, dtype=np.int64)
    for c0 in range(0, starts.shape[0], _CHUNK_BAGS):
        c = slice(c0, c0 + _CHUNK_BAGS)
        a0 = int(ends[c0] - lens[c0])  # first output position of the chunk
        shift = starts[c] - (ends[c] - lens[c] - a0)
        pos = np.arange(int(ends[c][-1]) - a0, dtype=np.int64) + np.repeat(shift, lens[c])
        row[a0:a0 + pos.shape[0]] = indices[pos]
    return row


def _load(path: Path):
    """(indices, offsets int64, lengths [T, B] int64) from the file, validated."""
    import torch

    with open(path, "rb") as fh:
        compressed = fh.read(2) == _GZIP_MAGIC
    with tempfile.TemporaryDirectory(prefix="recsim-dlrm-") as tmpdir:
        source = path
        if compressed:
            source = Path(tmpdir) / "trace.pt"
            try:
                with gzip.open(path, "rb") as src, open(source, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 24)
            except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
                raise TraceFormatError(path, "gzip", "a complete gzip stream",
                                       f"{type(exc).__name__}: {exc}") from None
        try:
            data = torch.load(source, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - torch raises many kinds on bad input
            raise TraceFormatError(path, "file", _EXPECTED, gist(exc)) from None
    if not isinstance(data, (tuple, list)) or len(data) != 3:
        got = f"{len(data)} items" if isinstance(data, (tuple, list)) else type(data).__name__
        raise TraceFormatError(path, "file", _EXPECTED, got)
    indices = _int_array(data[0], path, "indices", 1)
    offsets = _int_array(data[1], path, "offsets", 1).astype(np.int64, copy=False)
    lengths = _int_array(data[2], path, "lengths", 2).astype(np.int64, copy=False)
    _check_offsets(path, indices, offsets, lengths)
    if indices.size and indices.min() < 0:
        i = int(np.argmax(indices < 0))
        raise TraceFormatError(path, "indices", "non-negative row ids",
                               f"{indices[i]} at position {i}")
    return indices, offsets, lengths


def _int_array(value, path: Path, field: str, ndim: int) -> np.ndarray:
    import torch

    want = f"a {ndim}-D integer tensor"
    if not isinstance(value, torch.Tensor):
        raise TraceFormatError(path, field, want, type(value).__name__)
    if value.is_floating_point() or value.is_complex() or value.dtype == torch.bool:
        raise TraceFormatError(path, field, want, f"dtype {value.dtype}")
    if value.dim() != ndim:
        raise TraceFormatError(path, field, want, f"shape {list(value.shape)}")
    return value.detach().cpu().numpy()


def _check_offsets(path: Path, indices, offsets, lengths) -> None:
    n_tables, n_samples = lengths.shape
    want = n_tables * n_samples + 1
    if offsets.shape[0] != want:
        raise TraceFormatError(path, "offsets", f"T*B+1 = {want} entries (lengths is "
                               f"[{n_tables}, {n_samples}])", f"{offsets.shape[0]}")
    if offsets[0] != 0 or offsets[-1] != indices.shape[0]:
        raise TraceFormatError(path, "offsets", f"offsets from 0 to len(indices) = "
                               f"{indices.shape[0]}", f"{offsets[0]} to {offsets[-1]}")
    diff = np.diff(offsets)
    for field, want, bad in (("offsets", "non-decreasing offsets", diff < 0),
                             ("lengths", "lengths equal to diff(offsets)",
                              diff != lengths.reshape(-1))):
        if bad.any():
            i = int(np.argmax(bad))
            t, b = divmod(i, n_samples)
            raise TraceFormatError(path, field, want, f"bag (table {t}, sample {b}): "
                                   f"offsets {offsets[i]}..{offsets[i + 1]}, "
                                   f"length {lengths[t, b]}")


def _select_tables(tables, n_tables: int, path: Path) -> np.ndarray:
    if tables is None:
        return np.arange(n_tables, dtype=np.int64)
    try:
        sel = np.asarray(list(tables))
    except TypeError:
        sel = np.asarray([tables])
    if (sel.ndim != 1 or sel.size == 0 or not np.issubdtype(sel.dtype, np.integer)
            or sel.min() < 0 or sel.max() >= n_tables or np.unique(sel).size != sel.size):
        raise ConfigError(f"{path}: option 'tables': expected distinct table ids in "
                          f"[0, {n_tables}), got {tables!r}")
    return sel.astype(np.int64)
