"""The one way a state machine moves: look the (state, event) pair up in its table."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import TypeVar

S = TypeVar("S", bound=StrEnum)


class InvalidTransition(RuntimeError):
    """An event that the machine's table does not allow in the current state (trips the breaker)."""

    def __init__(self, machine: str, key: str, state: str, event: str) -> None:
        self.machine, self.key, self.state, self.event = machine, key, state, event
        super().__init__(f"{machine} {key}: no transition from {state} on {event}")


def transition(table: Mapping[tuple[S, str], S], machine: str, key: str, state: S, event: str) -> S:
    """The next state, or InvalidTransition naming the machine, its key, the state and event."""
    try:
        return table[(state, event)]
    except KeyError:
        raise InvalidTransition(machine, key, str(state), event) from None
