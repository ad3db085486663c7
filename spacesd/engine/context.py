"""What a reducer sees: the store, the caller, the transaction's timestamp, and the registry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from spacesd import model
from spacesd.model import Identity
from spacesd.store import Store

META_INITIALIZED: Final = "initialized"
META_HUB_ID: Final = "hub_id"
META_OWNER: Final = "owner"


@dataclass
class ReducerContext:
    """One reducer call. `caller` is the authenticated identity (never an argument)."""

    db: Store
    caller: Identity
    timestamp: model.Timestamp
    owner: Identity
    hub_id: int | None


ReducerFn = Callable[..., None]

REDUCER_FUNCTIONS: dict[str, ReducerFn] = {}


def reducer(name: str) -> Callable[[ReducerFn], ReducerFn]:
    """Register a function `(ctx, *args) -> None` as the reducer `name` of model.REDUCERS."""
    if name not in model.REDUCER_BY_NAME:
        raise AssertionError(f"{name} is not a reducer of spacesd.model.REDUCERS")

    def register(fn: ReducerFn) -> ReducerFn:
        if name in REDUCER_FUNCTIONS:
            raise AssertionError(f"reducer {name} registered twice")
        REDUCER_FUNCTIONS[name] = fn
        return fn

    return register


