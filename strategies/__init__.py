"""The strategies, one module each, and their registry: any module here that defines a
module-level `live.kernel.strategy.Strategy` instance makes it available by its name and aliases
(`resolve("canary")`). Drop a module in and it is available by name; nothing else to register.

Strategy modules import only the kernel's strategy interface (`live.kernel.strategy`,
`live.kernel.domain`); the registry imports them by walking this package.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping

from live.kernel.strategy import Strategy


class UnknownStrategy(KeyError):
    """No registered strategy has this name or alias."""


def discover(package: str = "strategies") -> dict[str, Strategy]:
    """Import every module of `package` and return its Strategy instances by name and alias."""
    pkg = importlib.import_module(package)
    found: dict[str, Strategy] = {}
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{package}.{info.name}")
        for value in vars(module).values():
            if isinstance(value, Strategy):
                for key in (value.name, *value.aliases):
                    other = found.get(key)
                    if other is not None and other is not value:
                        raise ValueError(f"strategy name {key!r} registered twice")
                    found[key] = value
    return found


def get_strategy(name: str, registry: Mapping[str, Strategy] | None = None) -> Strategy:
    """The registered strategy with this name or alias."""
    registry = discover() if registry is None else registry
    try:
        return registry[name]
    except KeyError:
        known = ", ".join(sorted(registry))
        raise UnknownStrategy(f"unknown strategy {name!r}; registered: {known}") from None


def resolve(names: str | list[str], registry: Mapping[str, Strategy] | None = None):
    """Strategies for a comma list or list of names ('*' = every registered one), deduplicated."""
    registry = discover() if registry is None else registry
    items = names.split(",") if isinstance(names, str) else names
    if items == ["*"]:
        chosen = list(registry.values())
    else:
        chosen = [get_strategy(n.strip(), registry) for n in items if n.strip()]
    unique: dict[str, Strategy] = {}
    for strategy in chosen:
        unique.setdefault(strategy.name, strategy)
    return list(unique.values())
