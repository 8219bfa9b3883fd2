"""Commands the engine emits for the runner: place or cancel an order, raise an alert."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from live.kernel.domain import Order


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    """Post `payload` (built by `executors.build_payload`) for `order` (already SUBMITTED).
    Answers come back as order_ack / order_fill / order_reject / order_cancel / order_unknown."""

    order: Order
    payload: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class CancelOrder:
    client_order_id: str
    venue_order_id: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class Alert:
    kind: str
    severity: str  # info | warning | critical
    message: str


Command = PlaceOrder | CancelOrder | Alert
