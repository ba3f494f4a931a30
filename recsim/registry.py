"""Find policies and prefetchers by name.

Three sources, read once per process:

* the modules of ``recsim.policies`` that define ``POLICY`` and of ``recsim.prefetchers``
  that define ``PREFETCHER``;
* installed packages' entry points in the groups ``recsim.policies`` and
  ``recsim.prefetchers`` (``name = "package.module:POLICY"`` in their ``pyproject.toml``);
  one that fails to load is skipped with one warning naming it, so the others still work
  (the same holds for trace formats and generators, group ``recsim.traces``, which
  :mod:`recsim.traces` reads through :func:`trace_plugins`);
* one-file plug-ins named by :func:`load_plugin_files` (``recsim --plugin FILE.py``,
  ``plugins: [FILE.py]`` in an experiment YAML): a file that fails to import is an error.

Two plug-ins of one kind with the same name are a one-line error naming both sources.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import pkgutil
import sys
import warnings
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path

from recsim.errors import ConfigError, RecsimWarning
from recsim.plugin import Policy, Prefetcher, check_params

KINDS = {"policies": ("POLICY", Policy), "prefetchers": ("PREFETCHER", Prefetcher)}
_FILES: list[Path] = []  # one-file plug-ins loaded in this process, in order


class PluginWarning(RecsimWarning):
    """An installed plug-in that could not be loaded (it is left out)."""


def _source(plugin) -> str:
    module = sys.modules.get(plugin.module)
    return getattr(module, "__file__", None) or plugin.module


def _add(found: dict, plugin, kind: str, source: str) -> None:
    attr, cls = KINDS[kind]
    if not isinstance(plugin, cls):
        raise ConfigError(f"{source}: {attr} is not a recsim.plugin.{cls.__name__}")
    if plugin.name in found and found[plugin.name] is not plugin:
        raise ConfigError(f"{source}: {cls.__name__.lower()} '{plugin.name}' is already "
                          f"defined by {_source(found[plugin.name])}")
    found[plugin.name] = plugin


def _file_module(path: Path):
    """Import the plug-in file ``path`` once, as a module named after its path (so the
    generated replay loops import it by that name)."""
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:8]
    name = f"recsim_plugin_{path.stem}_{digest}"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except ConfigError:  # a hook's signature: the line names the hook's file
            del sys.modules[name]
            raise
        except Exception as exc:  # noqa: BLE001 - any failure of user code is one line
            del sys.modules[name]
            raise ConfigError(f"plug-in {path}: failed to import: {type(exc).__name__}: "
                              f"{exc}") from None
    return sys.modules[name]


def load_plugin_files(paths) -> None:
    """Register the policies and prefetchers defined in these Python files (each defines
    ``POLICY`` and/or ``PREFETCHER``). Loading a file again does nothing."""
    new = []
    for path in map(Path, paths):
        path = path.resolve()
        if not path.is_file():
            raise ConfigError(f"plug-in {path}: expected an existing Python file")
        if path not in _FILES and path not in new:
            _file_module(path)
            new.append(path)
    if new:
        _FILES.extend(new)
        policies.cache_clear()
        prefetchers.cache_clear()
        try:
            policies(), prefetchers()  # a name clash is an error now, naming the file
        except ConfigError:
            del _FILES[-len(new):]
            policies.cache_clear()
            prefetchers.cache_clear()
            raise


def plugin_files() -> list[str]:
    """The one-file plug-ins loaded in this process (for worker processes to load too)."""
    return [str(path) for path in _FILES]


@cache
def _entry_point_plugins(kind: str) -> tuple:
    """``(plugin, source)`` of every entry point of group ``recsim.KIND`` that loads."""
    loaded = []
    for ep in entry_points(group=f"recsim.{kind}"):
        try:
            loaded.append((ep.load(), f"entry point '{ep.name} = {ep.value}'"))
        except Exception as exc:  # noqa: BLE001 - a broken package must not break the rest
            warnings.warn(f"entry point '{ep.name} = {ep.value}' (group recsim.{kind}) "
                          f"failed to load and is left out: {type(exc).__name__}: {exc}",
                          PluginWarning, stacklevel=2)
    return tuple(loaded)


def trace_plugins() -> tuple:
    """``(module, source)`` of every entry point of group ``recsim.traces`` that loads."""
    return _entry_point_plugins("traces")


def _scan(kind: str) -> dict:
    attr, _ = KINDS[kind]
    package = f"recsim.{kind}"
    found = {}
    for info in pkgutil.iter_modules(importlib.import_module(package).__path__):
        if not info.name.startswith("_"):
            plugin = getattr(importlib.import_module(f"{package}.{info.name}"), attr, None)
            if plugin is not None:
                found[plugin.name] = plugin
    for plugin, source in _entry_point_plugins(kind):
        _add(found, plugin, kind, source)
    for path in _FILES:
        plugin = getattr(_file_module(path), attr, None)
        if plugin is not None:
            _add(found, plugin, kind, str(path))
    return dict(sorted(found.items()))


@cache
def policies() -> dict[str, Policy]:
    return _scan("policies")


@cache
def prefetchers() -> dict[str, Prefetcher]:
    return _scan("prefetchers")


def _get(kind: str, table: dict, name: str):
    if name not in table:
        raise ConfigError(f"unknown {kind} '{name}'; valid: {', '.join(table)}")
    return table[name]


def get_policy(name: str) -> Policy:
    return _get("policy", policies(), name)


def get_prefetcher(name: str) -> Prefetcher:
    return _get("prefetcher", prefetchers(), name)


def resolve_params(kind: str, plugin, params: dict | None, where: str | None = None) -> dict:
    """The plug-in's parameters, ``params`` over its defaults, checked and typed by its specs
    (:func:`recsim.plugin.check_params`); an error starts with ``where`` (the YAML path of
    the parameters, such as ``policies[2].params``) when given."""
    return check_params(f"{kind} '{plugin.name}'", plugin.params, params, where)
