"""Find policies and prefetchers by name: every module of ``recsim.policies`` that defines
``POLICY`` and of ``recsim.prefetchers`` that defines ``PREFETCHER`` is registered."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from recsim.errors import ConfigError
from recsim.plugin import Policy, Prefetcher


def _scan(package: str, attr: str) -> dict:
    pkg = importlib.import_module(package)
    found = {}
    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name.startswith("_"):
            continue
        plugin = getattr(importlib.import_module(f"{package}.{info.name}"), attr, None)
        if plugin is not None:
            found[plugin.name] = plugin
    return dict(sorted(found.items()))


@cache
def policies() -> dict[str, Policy]:
    return _scan("recsim.policies", "POLICY")


@cache
def prefetchers() -> dict[str, Prefetcher]:
    return _scan("recsim.prefetchers", "PREFETCHER")


def _get(kind: str, table: dict, name: str):
    if name not in table:
        raise ConfigError(f"unknown {kind} '{name}'; valid: {', '.join(table)}")
    return table[name]


def get_policy(name: str) -> Policy:
    return _get("policy", policies(), name)


def get_prefetcher(name: str) -> Prefetcher:
    return _get("prefetcher", prefetchers(), name)


def resolve_params(kind: str, plugin, params: dict | None, where: str | None = None) -> dict:
    """The plug-in's defaults overridden by ``params``; an unknown name is an error, which
    starts with ``where`` (a YAML path such as ``policies[2]``) when given."""
    params = dict(params or {})
    unknown = sorted(set(params) - set(plugin.params))
    if unknown:
        valid = ", ".join(f"{k} (default {v!r})" for k, v in plugin.params.items()) or "none"
        what = (f"{where}.params.{unknown[0]}: unknown parameter of {kind} '{plugin.name}'"
                if where else f"{kind} '{plugin.name}': unknown parameter '{unknown[0]}'")
        raise ConfigError(f"{what}; valid: {valid}")
    return {**plugin.params, **params}
