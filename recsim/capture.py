"""Record the embedding lookups of a running PyTorch model as a recsim trace.

    with Capture(model, "lookups.capture", every=1, max_lookups=None):
        for batch in batches:
            model(batch)            # one forward call = one trace batch

or ``cap = Capture(...).attach()`` ... ``cap.detach()``. Forward pre-hooks on the
model's embedding modules read each lookup's row ids as the module receives them:

- TorchRec ``EmbeddingBagCollection`` / ``EmbeddingCollection``: the ``KeyedJaggedTensor``
  (each feature's values go to the table that lists the feature; a table is its
  config's name, rows, dim and dtype; the modules inside it are not hooked again);
- FBGEMM ``SplitTableBatchedEmbeddingBagsCodegen``: ``indices`` and ``offsets``
  (feature ``f``'s bags are ``offsets[f*B : (f+1)*B + 1]``, table
  ``feature_table_map[f]``; tables named ``MODULE.t<i>``, as FBGEMM names none);
- ``torch.nn.EmbeddingBag`` / ``torch.nn.Embedding``: ``input`` (all of it, in order),
  one table named by the module's path in the model.

Within a batch, lookups are in the order the modules are called and, per module, in its
input's order (feature-major for a KJT and FBGEMM, as their kernels see them). Tables
are numbered in the order :meth:`Capture.attach` finds them.

The trace streams into a capture directory (:mod:`recsim.traces.capture`): a part of
whole batches is written, atomically, once ``chunk`` lookups are buffered, so memory is
one chunk plus one batch (5/4 of that at most) however long the capture; a process killed
mid-capture leaves the parts written, a valid trace. Sampling: ``every=n`` records
batches 0, n, 2n, ...; ``window=(start_s, stop_s)`` records the batches whose forward
starts in that window of seconds after :meth:`attach`; ``max_lookups=N`` stops after
exactly N lookups (the last batch cut there, as libCacheSim's ``-n`` cuts a trace) and
removes the hooks. A forward
that raises before its end is no batch: its lookups are dropped. Indices on a GPU are
copied to the host (a synchronisation per module call).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from recsim.errors import ConfigError
from recsim.traces import capture as capture_dir
from recsim.traces.tables import table_info

DEFAULT_CHUNK = 1 << 22  # lookups per part (buffers of 48 MiB, reused)


def _numpy(tensor) -> np.ndarray:
    return tensor.detach().reshape(-1).cpu().numpy()


class _Source:
    """One hooked module: its tables' (name, rows, dim, dtype) and how to read its input
    into (local table ids, rows)."""

    def __init__(self, module, path: str):
        self.module, self.kind = module, _kind(module)
        self.tables = getattr(self, f"_tables_{self.kind}")(module, path or "model")

    def _tables_torchrec(self, module, path):
        configs = (module.embedding_bag_configs() if hasattr(module, "embedding_bag_configs")
                   else module.embedding_configs())
        self.feature_table = {f: t for t, c in enumerate(configs) for f in c.feature_names}
        return [(c.name, c.num_embeddings, c.embedding_dim, c.data_type.name)
                for c in configs]

    def _tables_fbgemm(self, module, path):
        self.feature_table_map = np.asarray(module.feature_table_map, np.int32)
        dtype = str(getattr(module, "weights_precision", "fp32")).split(".")[-1].lower()
        return [(f"{path}.t{t}", spec[0], spec[1], dtype)
                for t, spec in enumerate(module.embedding_specs)]

    def _tables_torch(self, module, path):
        return [(path, module.num_embeddings, module.embedding_dim,
                 str(module.weight.dtype).removeprefix("torch."))]

    def lookups(self, args, kwargs) -> tuple[list, np.ndarray]:
        """The module call's row ids (a view, not a copy) and their tables as runs
        ``[(local table, lookups), ...]`` in order."""
        if self.kind == "torchrec":
            kjt = args[0] if args else kwargs["features"]
            runs = zip([self.feature_table[k] for k in kjt.keys()], kjt.length_per_key())
            return list(runs), _numpy(kjt.values())
        if self.kind == "fbgemm":
            indices = args[0] if args else kwargs["indices"]
            offsets = _numpy(args[1] if len(args) > 1 else kwargs["offsets"])
            features = self.feature_table_map.shape[0]
            ends = offsets[::max((offsets.shape[0] - 1) // features, 1)]
            return list(zip(self.feature_table_map.tolist(), np.diff(ends).tolist())), \
                _numpy(indices)
        rows = _numpy(args[0] if args else kwargs["input"])
        return [(0, rows.shape[0])], rows


def _kind(module) -> str | None:
    """``torchrec``, ``fbgemm``, ``torch`` for a module :class:`Capture` hooks, else None."""
    import torch

    name = type(module).__name__
    if name in ("EmbeddingBagCollection", "EmbeddingCollection") and \
            type(module).__module__.startswith("torchrec"):
        return "torchrec"
    if name == "SplitTableBatchedEmbeddingBagsCodegen":
        return "fbgemm"
    if isinstance(module, (torch.nn.EmbeddingBag, torch.nn.Embedding)):
        return "torch"
    return None


def find_sources(model) -> list[_Source]:
    """The embedding modules of ``model`` in module order, children of a hooked
    TorchRec or FBGEMM module skipped; none is a ConfigError."""
    sources, inside = [], []
    for path, module in model.named_modules():
        if any(p == "" or path.startswith(p + ".") for p in inside):
            continue
        if _kind(module) is not None:
            sources.append(_Source(module, path))
            inside.append(path)
    if not sources:
        raise ConfigError(f"capture: model {type(model).__name__}: expected a torchrec "
                          "EmbeddingBagCollection or EmbeddingCollection, an FBGEMM "
                          "SplitTableBatchedEmbeddingBagsCodegen, or a torch.nn.EmbeddingBag "
                          "or Embedding in it, found none")
    return sources


class Capture:
    """Record ``model``'s lookups into the capture directory ``path`` (module
    docstring); ``force`` replaces a trace already there, which is otherwise an error."""

    def __init__(self, model, path, *, every: int = 1, window=None, max_lookups=None,
                 chunk: int = DEFAULT_CHUNK, force: bool = False):
        for name, value in (("every", every), ("chunk", chunk), ("max_lookups", max_lookups)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value < 1):
                raise ConfigError(f"capture: {name}: expected a positive integer, "
                                  f"got {value!r}")
        if window is not None and not (isinstance(window, (tuple, list)) and len(window) == 2
                                       and 0 <= window[0] < window[1]):
            raise ConfigError(f"capture: window: expected (start_s, stop_s) with 0 <= "
                              f"start_s < stop_s, got {window!r}")
        self.model, self.path, self.force = model, Path(path), force
        self.every, self.window, self.max_lookups, self.chunk = every, window, max_lookups, chunk
        self.sources = find_sources(model)
        self.lookups = self.batches = 0  # recorded so far
        self._handles, self._parts = [], 0

    def table_info(self) -> list[dict]:
        tables = [t for s in self.sources for t in s.tables]
        return table_info([t[0] for t in tables], [t[2] for t in tables],
                          [t[3] for t in tables])

    def _meta(self) -> dict:
        return {"name": self.path.name.removesuffix(".capture"),
                "cardinalities": [int(t[1]) for s in self.sources for t in s.tables],
                "table_info": self.table_info(),
                "provenance": {"captured_from": type(self.model).__name__,
                               "every": self.every, "window": self.window,
                               "max_lookups": self.max_lookups}}

    def attach(self) -> "Capture":
        """Start the capture directory and hook the model."""
        if self._handles:
            raise ConfigError(f"capture: {self.path}: expected one attach() per detach(), "
                              "got a second")
        capture_dir.start(self.path, self._meta(), self.force)
        self._start, self._seen, self._on = time.perf_counter(), 0, False
        self._table = np.empty(self.chunk, np.int32)  # reused part after part
        self._row = np.empty(self.chunk, np.int64)
        self._fill, self._lengths, self._batch = 0, [], 0
        self._handles.append(self.model.register_forward_pre_hook(self._open))
        self._handles.append(self.model.register_forward_hook(self._close))
        base = 0
        for source in self.sources:
            self._handles.append(source.module.register_forward_pre_hook(
                self._recorder(source, base), with_kwargs=True))
            base += len(source.tables)
        return self

    def detach(self) -> None:
        """Remove the hooks, write what is buffered and mark the capture complete."""
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self._drop_unfinished()
        self._flush()
        capture_dir.write_meta(self.path, self._meta(), complete=True)

    def _drop_unfinished(self) -> None:
        """Forget the lookups of a forward that raised before its end (no batch)."""
        if self._on:
            self._fill -= self._batch
            self._on, self._batch = False, 0

    def __enter__(self) -> "Capture":
        return self.attach()

    def __exit__(self, *exc) -> None:
        self.detach()

    def _open(self, module, args) -> None:
        """A forward of the model starts a batch: record it if sampled."""
        self._drop_unfinished()
        elapsed = time.perf_counter() - self._start
        in_window = self.window is None or self.window[0] <= elapsed < self.window[1]
        self._on = self._seen % self.every == 0 and in_window
        self._seen += 1
        self._batch = 0

    def _recorder(self, source: _Source, base: int):
        def record(module, args, kwargs) -> None:
            if not self._on:
                return
            runs, rows = source.lookups(args, kwargs)
            if self.max_lookups is not None:
                rows = rows[:self.max_lookups - self.lookups - self._batch]
            self._store(runs, rows, base)
        return record

    def _close(self, module, args, output) -> None:
        """A forward ends: its lookups are one batch; write a part once ``chunk``
        lookups are buffered; stop at ``max_lookups``."""
        if not self._on:
            return
        self._on = False
        self._lengths.append(self._batch)
        self.lookups += self._batch
        self.batches += 1
        if self._fill >= self.chunk:
            self._flush()
        if self.max_lookups is not None and self.lookups >= self.max_lookups:
            for handle in self._handles:
                handle.remove()
            self._handles = []

    def _store(self, runs, rows: np.ndarray, base: int) -> None:
        """Copy one module call's lookups into the buffers (grown if a batch outruns
        them, by at least a quarter: at most 5/4 of one chunk plus one batch)."""
        lo, n = self._fill, rows.shape[0]
        if lo + n > self._row.shape[0]:
            size = max(lo + n, self._row.shape[0] * 5 // 4)
            self._table = np.resize(self._table, size)
            self._row = np.resize(self._row, size)
        self._row[lo:lo + n] = rows
        at = lo
        for table, count in runs:
            count = max(0, min(count, lo + n - at))  # runs past a max_lookups cut: none
            self._table[at:at + count] = base + table
            at += count
        self._fill += n
        self._batch += n

    def _flush(self) -> None:
        if not self._lengths:
            return
        capture_dir.write_part(self.path, self._parts, self._table[:self._fill],
                               self._row[:self._fill], self._lengths)
        self._parts += 1
        self._fill, self._lengths = 0, []
