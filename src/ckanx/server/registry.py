"""The action registry: every family module registers its actions with :func:`action`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .context import Context

ActionFunc = Callable[["Context", dict[str, Any]], Any]


@dataclass(frozen=True)
class ActionSpec:
    name: str
    func: ActionFunc
    read: bool  # True: GET allowed (CKAN's side_effect_free)
    versions: frozenset[str]  # CKAN versions ("2.11", "2.12") that have this action


ACTIONS: dict[str, ActionSpec] = {}


def action(
    name: str, *, read: bool = False, versions: tuple[str, ...] = ("2.11", "2.12")
) -> Callable[[ActionFunc], ActionFunc]:
    """Register ``func(ctx, data_dict) -> result`` as the action ``name``."""

    def register(func: ActionFunc) -> ActionFunc:
        if name in ACTIONS:
            raise RuntimeError(f"action {name} registered twice")
        ACTIONS[name] = ActionSpec(name, func, read, frozenset(versions))
        return func

    return register


def lookup(name: str, version: str) -> ActionSpec | None:
    spec = ACTIONS.get(name)
    if spec is None or version not in spec.versions:
        return None
    return spec
