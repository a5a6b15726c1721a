"""The resolved config as the report shows it: only what the run's strategy used.

The stored config lists every key of every section (``config.yaml`` in the run
directory keeps them all); an exhaustive run's page listed the RNN controller's
learning rate and evolution's population size beside it, settings it never read.
"""

from __future__ import annotations

from typing import Any

import yaml

from controller.config import (  # plain data: no torch for the read commands
    FIELDS_READ,
    FILTER_DEFAULTS,
    SEARCH_DEFAULTS,
)


def uses_surrogate(config: dict[str, Any]) -> bool:
    """Whether the run read the ``surrogate:`` block (controller.factory.make_strategy)."""
    strategy = config.get("strategy") or {}
    surrogate = config.get("surrogate") or {}
    return (strategy.get("name") == "surrogate"
            or (strategy.get("name") == "exhaustive" and strategy.get("order") == "predicted")
            or (isinstance(surrogate.get("filter"), int) and surrogate["filter"] > 1))


def used_config(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` (the resolved config, JSON form) without the settings its strategy did
    not read; a strategy this version does not know keeps every key."""
    strategy = config.get("strategy")
    name = strategy.get("name") if isinstance(strategy, dict) else None
    if name not in FIELDS_READ:
        return dict(config)
    assert isinstance(strategy, dict)
    keep = ("name", "seed", *FIELDS_READ[name])
    used = {**config, "strategy": {k: v for k, v in strategy.items() if k in keep}}
    if not uses_surrogate(config):
        used.pop("surrogate", None)
    elif isinstance(config.get("surrogate"), dict):  # the values the run used, not null
        defaults = FILTER_DEFAULTS if name not in ("surrogate", "exhaustive") else SEARCH_DEFAULTS
        used["surrogate"] = {k: defaults.get(k) if v is None and k in defaults else v
                             for k, v in config["surrogate"].items()}
    return used


def used_config_yaml(config: dict[str, Any]) -> str:
    """``used_config`` as YAML, headed by what was left out and where it is."""
    used = used_config(config)
    unread = [k for k in (config.get("strategy") or {}) if k not in (used.get("strategy") or {})]
    dropped = [f"{len(unread)} strategy settings of other strategies"] if unread else []
    dropped += ["the surrogate block"] if "surrogate" in config and "surrogate" not in used else []
    head = (f"# Left out, unused by this {used['strategy']['name']} run: {' and '.join(dropped)}"
            " (config.yaml in the run directory has every key).\n" if dropped else "")
    return head + yaml.safe_dump(used, sort_keys=False, allow_unicode=True)
