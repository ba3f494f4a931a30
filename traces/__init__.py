"""Trace formats, loaders, writers and synthetic generators.

One module per on-disk format; each defines ``NAME``, ``EXTENSIONS``, ``read(path, **opts)
-> Trace`` and, where the format can hold a trace, ``write(trace, path)``.
:func:`load_trace` picks the format from ``format=`` or the file name.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from recsim.errors import ConfigError, TraceFormatError
from recsim.traces.trace import DenseIds, Trace

GENERATORS = {"zipf": "zipf", "meta-like": "meta_like", "sessions": "sessions",
              "hitrate": "hitrate"}
FORMAT_MODULES = ("native", "dlrm_datasets", "recmg_text", "csv_table", "parquet_table",
                  "oracle_general", "user_item", "click_log", "movielens")


def format_module(name: str):
    """The module implementing trace format ``name``."""
    if name not in FORMAT_MODULES:
        raise TraceFormatError("<format>", "format", f"one of {', '.join(FORMAT_MODULES)}",
                               repr(name))
    return importlib.import_module(f"recsim.traces.{name}")


def detect_format(path: Path) -> str:
    """Guess a file's format from its name (native directories have a meta.json)."""
    name = path.name.lower()
    if path.is_dir() or name.endswith(".trace"):
        return "native"
    for fmt in FORMAT_MODULES:
        if any(name.endswith(ext) for ext in format_module(fmt).EXTENSIONS):
            return fmt
    raise TraceFormatError(path, "format", "a known extension or an explicit format "
                           f"(one of {', '.join(FORMAT_MODULES)})", f"'{path.suffix}'")


def load_trace(path, format: str | None = None, **options) -> Trace:
    """Open a trace: native directories memory-mapped, other formats parsed in memory."""
    path = Path(path)
    fmt = format or detect_format(path)
    if fmt != "native" and not path.exists():
        raise TraceFormatError(path, "path", "an existing file", "nothing there")
    return format_module(fmt).read(path, **options)


def save_trace(trace: Trace, path, format: str | None = None) -> Path:
    """Write a trace in the native format (default) or another writable format."""
    path = Path(path)
    fmt = format or detect_format(path)
    module = format_module(fmt)
    if not hasattr(module, "write"):
        raise TraceFormatError(path, "format", "a writable format", f"'{fmt}' is read-only")
    return module.write(trace, path)


def check_generator(preset: str, params: dict) -> dict:
    """``params`` checked and typed by generator ``preset`` (a key of :data:`GENERATORS`)
    against its ``PARAMS``: one ConfigError naming the first unknown, missing or bad
    parameter."""
    if preset not in GENERATORS:
        raise ConfigError(f"generator: preset: expected one of {', '.join(GENERATORS)}, "
                          f"got {preset!r}")
    return importlib.import_module(f"recsim.traces.{GENERATORS[preset]}").check(**params)


def generate_trace(preset: str, path=None, **params) -> Trace:
    """A synthetic trace from generator ``preset`` with ``params``; written to the native
    directory ``path`` when given."""
    check_generator(preset, params)
    module = importlib.import_module(f"recsim.traces.{GENERATORS[preset]}")
    return module.generate(path=path, **params)


__all__ = ["Trace", "DenseIds", "load_trace", "save_trace", "detect_format", "format_module",
           "FORMAT_MODULES", "GENERATORS", "check_generator", "generate_trace"]
