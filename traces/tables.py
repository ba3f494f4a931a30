"""Per-table metadata a trace may carry: each table's name, embedding dimension and row
dtype, in ``trace.meta["table_info"]`` (a list with one ``{"name", "dim", "dtype"}`` dict
per table; ``dim``/``dtype`` ``None`` where unknown), kept in a native trace's
``meta.json``. Captures (:mod:`recsim.capture`) and the TorchRec importers fill it;
``trace stats``, ``simulate --per-table`` and ``recsim plan`` name tables by it, and
``recsim plan`` sizes rows by it. A trace without it names table ``t`` ``"t<t>"``.
"""

from __future__ import annotations

from recsim.errors import TraceFormatError

# the row dtypes a table may declare (recsim plan's DTYPE_BITS), by torch's dtype names too
DTYPES = {"fp32": "fp32", "float32": "fp32", "fp16": "fp16", "float16": "fp16",
          "bf16": "fp16", "bfloat16": "fp16", "int8": "int8", "int4": "int4", "int2": "int2"}


def table_info(names, dims=None, dtypes=None) -> list[dict]:
    """The ``table_info`` list of tables named ``names`` (dims and dtypes optional; a
    dtype not in ``DTYPES``, e.g. float64, is unknown: None)."""
    n = len(names)
    dims = dims or [None] * n
    dtypes = dtypes or [None] * n
    return [{"name": str(name), "dim": None if d is None else int(d),
             "dtype": None if t is None else DTYPES.get(str(t).lower())}
            for name, d, t in zip(names, dims, dtypes)]


def check_table_info(info, n_tables: int, source) -> list[dict]:
    """``info`` (as read from a file) checked: one dict per table, unique string names,
    positive dims, known dtypes; a TraceFormatError naming ``source`` otherwise."""
    if not isinstance(info, list) or len(info) != n_tables or not all(
            isinstance(t, dict) and isinstance(t.get("name"), str) for t in info):
        size = len(info) if isinstance(info, list) else "-"
        raise TraceFormatError(source, "table_info", f"a list of {n_tables} "
                               "{name, dim, dtype} objects (one per table)",
                               f"{type(info).__name__} of {size}")
    names = [t["name"] for t in info]
    if len(set(names)) != len(names):
        raise TraceFormatError(source, "table_info", "unique table names",
                               f"{sorted({n for n in names if names.count(n) > 1})}")
    for t in info:
        dim, dtype = t.get("dim"), t.get("dtype")
        if dim is not None and (isinstance(dim, bool) or not isinstance(dim, int) or dim < 1):
            raise TraceFormatError(source, "table_info", f"table {t['name']!r}: dim a "
                                   "positive integer or null", repr(dim))
        if dtype is not None and dtype not in DTYPES.values():
            raise TraceFormatError(source, "table_info", f"table {t['name']!r}: dtype one "
                                   f"of {', '.join(sorted(set(DTYPES.values())))} or null",
                                   repr(dtype))
    return [{"name": t["name"], "dim": t.get("dim"), "dtype": t.get("dtype")} for t in info]


def table_names(trace) -> list[str]:
    """Each table's name: from ``table_info``, else ``"t<id>"``."""
    info = trace.meta.get("table_info")
    return [t["name"] for t in info] if info else [f"t{i}" for i in range(trace.n_tables)]
