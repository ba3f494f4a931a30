"""Trace formats, loaders, writers and synthetic generators.

One module per on-disk format; each defines ``NAME``, ``EXTENSIONS``, ``read(path, **opts)
-> Trace`` and, where the format can hold a trace, ``write(trace, path)``.
:func:`load_trace` picks the format from ``format=`` or the file name. One module per
generator; each defines ``NAME``, ``check(**params) -> dict`` and ``generate(path=None,
**params) -> Trace``.

Installed packages add formats and generators through entry points of the group
``recsim.traces`` (``name = "package.module"`` in their ``pyproject.toml``; the module is a
format if it defines ``read``, a generator if it defines ``generate``, and ``NAME`` names it).
"""

from __future__ import annotations

import importlib
from functools import cache
from pathlib import Path

from recsim.errors import ConfigError, TraceFormatError
from recsim.registry import trace_plugins
from recsim.traces.trace import DenseIds, Trace

GENERATORS = {"zipf": "zipf", "meta-like": "meta_like", "sessions": "sessions",
              "hitrate": "hitrate"}  # built in
FORMAT_MODULES = ("native", "dlrm_datasets", "recmg_text", "csv_table", "parquet_table",
                  "oracle_general", "user_item", "click_log", "movielens", "capture", "kjt",
                  "criteo_npy")


def _with_plugins(builtin: dict, hook: str, kind: str) -> dict:
    """``builtin`` (name -> module name) and the ``recsim.traces`` entry points whose module
    defines ``hook``; a name defined twice is a one-line error naming both."""
    found = dict(builtin)
    for module, source in trace_plugins():
        if hasattr(module, hook):
            name = getattr(module, "NAME", None)
            if not isinstance(name, str):
                raise ConfigError(f"{source}: expected a module defining NAME (a string)")
            if name in found:
                raise ConfigError(f"{source}: trace {kind} '{name}' is already defined by "
                                  f"{found[name]}")
            found[name] = module.__name__
    return found


@cache
def generators() -> dict[str, str]:
    """Generator name -> module name: the built-in ones, then installed plug-ins'."""
    return _with_plugins({k: f"recsim.traces.{v}" for k, v in GENERATORS.items()},
                         "generate", "generator")


@cache
def formats() -> dict[str, str]:
    """Format name -> module name: the built-in ones, then installed plug-ins'."""
    return _with_plugins({k: f"recsim.traces.{k}" for k in FORMAT_MODULES}, "read", "format")


def format_module(name: str):
    """The module implementing trace format ``name``."""
    if name not in formats():
        raise TraceFormatError("<format>", "format", f"one of {', '.join(formats())}",
                               repr(name))
    return importlib.import_module(formats()[name])


def detect_format(path: Path) -> str:
    """Guess a file's format from its name (native directories have a meta.json)."""
    name = path.name.lower()
    if path.is_dir() and (path / "capture.json").exists():
        return "capture"
    if path.is_dir() or name.endswith(".trace"):
        return "native"
    # the longest extension wins: x.kjt.pt is kjt, x.pt dlrm_datasets
    match = {fmt: max((len(ext) for ext in format_module(fmt).EXTENSIONS
                       if name.endswith(ext)), default=0) for fmt in formats()}
    best = max(match, key=match.get)
    if match[best]:
        return best
    raise TraceFormatError(path, "format", "a known extension or an explicit format "
                           f"(one of {', '.join(formats())})", f"'{path.suffix}'")


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
    """``params`` checked and typed by generator ``preset`` (``zipf``, ``meta-like``,
    ``sessions``, ``hitrate`` or a plug-in's): one ConfigError naming the first unknown,
    missing or bad parameter."""
    if preset not in generators():
        raise ConfigError(f"generator: preset: expected one of {', '.join(generators())}, "
                          f"got {preset!r}")
    return importlib.import_module(generators()[preset]).check(**params)


def generate_trace(preset: str, path=None, **params) -> Trace:
    """A synthetic trace from generator ``preset`` with ``params``; written to the native
    directory ``path`` when given."""
    check_generator(preset, params)
    return importlib.import_module(generators()[preset]).generate(path=path, **params)


__all__ = ["Trace", "DenseIds", "load_trace", "save_trace", "detect_format", "format_module",
           "FORMAT_MODULES", "GENERATORS", "check_generator", "generate_trace", "formats",
           "generators"]
