"""Operator alerts from the runner (DESIGN §11): its own (lock lost, feed stale, heartbeat or
health failure, reconciliation mismatch, kill criterion hit, ...), the engines' alert commands,
and failed runtime assertions. Every alert is logged; with an alerter it is also stored and sent
(live/alerts/), never blocking the loop."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol

from live.kernel.commands import Alert as AlertCommand
from live.runner.slots import EngineSlot

log = logging.getLogger(__name__)
ENGINE_ALERT_KINDS = {
    "breaker": "breaker_tripped",
    "order_unknown": "position_unknown",
    "settlement": "assertion_failed",
    "exit_blocked": "exit_blocked",
    "fill_failed": "fill_failed",
    "drawdown": "drawdown",
}


class AlertSink(Protocol):
    """Where alerts go (live.alerts.alerter.Alerter): `kind` is an alert kind, `where` the
    instance / feed / strategy at fault, `happened` and `did` one line each."""

    def raise_(
        self, kind: str, where: str, happened: str, did: str, /, *, detail: Mapping[str, Any]
    ) -> None: ...


class RaiseAlert(Protocol):
    """The one call the runner's parts use to raise an alert (`Alarms.raise_`)."""

    def __call__(self, kind: str, where: str, happened: str, did: str, **detail: Any) -> None: ...


class Alarms:
    """Raises the runner's alerts through `alerter` (None: logged only)."""

    def __init__(self, alerter: AlertSink | None) -> None:
        self._alerter = alerter

    def raise_(self, kind: str, where: str, happened: str, did: str, **detail: Any) -> None:
        log.warning("ALERT %s at %s: %s — %s", kind, where, happened, did)
        if self._alerter is not None:
            self._alerter.raise_(kind, where, happened, did, detail=detail)

    def engine_alert(self, slot: EngineSlot, command: AlertCommand) -> None:
        """An engine's alert command (breaker tripped, UNKNOWN order, ...) as an operator alert."""
        kind = ENGINE_ALERT_KINDS.get(command.kind, "assertion_failed")
        self.raise_(
            kind,
            f"{slot.name} engine ({slot.engine.mode})",
            command.message,
            "new entries stopped; exits continue"
            if kind == "breaker_tripped"
            else "recorded; see the dashboard",
        )

    def run_assertions(self, slot: EngineSlot) -> None:
        """Run the engine's runtime assertions now: results stored, kept for /health, and each
        failure alerted (the engine trips its own breaker)."""
        engine = slot.engine
        engine.run_assertions()
        records = engine.take_records()
        slot.persist.add(records)
        for record in records:
            name = getattr(record, "name", None)
            if name is not None and hasattr(record, "ok"):
                slot.last_assertions[name] = record.ok
                if not record.ok:
                    self.raise_(
                        "assertion_failed",
                        f"{slot.name}:{name}",
                        f"assertion {name} failed: {dict(record.detail)}",
                        "breaker tripped: no new entries, exits continue",
                    )
