"""Find policies and prefetchers by name: every module of ``recsim.policies`` that defines
``POLICY`` and of ``recsim.prefetchers`` that defines ``PREFETCHER`` is registered."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from recsim.errors import ConfigError
from recsim.plugin import Policy, Prefetcher, check_params


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
    """The plug-in's parameters, ``params`` over its defaults, checked and typed by its specs
    (:func:`recsim.plugin.check_params`); an error starts with ``where`` (the YAML path of
    the parameters, such as ``policies[2].params``) when given."""
    return check_params(f"{kind} '{plugin.name}'", plugin.params, params, where)
