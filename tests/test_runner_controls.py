"""Issue 5, "pause, flatten, emergency each observed taking effect", on one LIVE (sandbox) runner
trading the canary: pause stops entries within a second while the open position stays monitored
to settlement; resume trades again; flatten exits every position at market and the runner sets
the kill switch back to pause itself; emergency cancels every resting order of the wallet
(cancel-all) and exits everything, then pauses; an invalid control row fails closed to PAUSED."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from decimal import Decimal

import psycopg
import pytest
from runner_kit import (
    Faults,
    control_audit,
    health,
    live_controls,
    make_recorded_runner,
    promote,
    rows,
    runner_config,
    running,
    same_wallet,
    scalar,
    set_controls,
    start_sandbox,
    until,
)

from live.kernel.domain import Signal
from live.kernel.strategy import WindowView
from live.runner import runner as runner_module
from strategies.canary import AT_T_MINUS_60, Canary, favoured_side

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("runner-controls")]
REACT_S = 1.0  # a control write is in force within a second (LISTEN + the 250 ms tick)


@dataclass(frozen=True, slots=True)
class SizedCanary(Canary):
    """The canary's entry with a $4 position: a $1 position is worth less than the venue's $1
    minimum for a marketable SELL at the bid, so it could never be flattened at market."""

    usd: Decimal = Decimal("4")

    def evaluate(self, view: WindowView) -> Signal | None:
        favoured = favoured_side(view)
        if favoured is None:
            return None
        side, price = favoured
        return view.signal(side, self.usd, clob_price=round(price, 4), reason="controls drill")


DRILL = SizedCanary(name="controls-drill", timing=AT_T_MINUS_60)


def test_pause_resume_flatten_emergency_and_invalid_control_take_effect(db_url, monkeypatch):
    monkeypatch.setattr(runner_module, "resolve", lambda names: [DRILL])
    # Trades settle within ~1 s here: flatten and emergency sell at market inside a 20 s window,
    # and shares are sellable only once CONFIRMED (2-15 s on the venue profile, which would leave
    # no time before the close). Held exits of unsettled shares: tests/test_engine_settling.py.
    server = start_sandbox(trade_mined_seconds=(0.2, 0.4), trade_confirmed_seconds=(0.4, 1.0))
    try:
        live_controls(db_url, DRILL.name)
        # flatten and emergency sell every position at the bid: on some paths that is more than
        # the default $10 drawdown from the session's peak, and the drawdown breaker (a guard
        # of its own, tests/test_drawdown_drill.py) then kept the resume below PAUSED (CI)
        set_controls(db_url, max_drawdown_usd="40")
        promote(db_url, DRILL.name, "canary", rel="tests/preregistrations/controls-drill.yaml")
        config = runner_config(server.base_url, strategies=(DRILL.name,))
        runner = make_recorded_runner(db_url, config)
        asyncio.run(_drive(db_url, runner, server))
    finally:
        server.stop()


async def _drive(db_url: str, runner, server) -> None:
    async with runner.alerter.recording(), running(runner):
        assert (await health(runner))["lock"]["role"] == "trader"
        await _pause_keeps_monitoring_and_denies_entries(db_url, runner)
        await _resume(db_url, runner)
        await _flatten_exits_at_market_then_pauses(db_url, runner)
        await _resume(db_url, runner)
        await _emergency_cancels_all_and_exits_then_pauses(db_url, runner, server)
        await _resume(db_url, runner)
        await _invalid_control_fails_closed(db_url, runner)
        status = await health(runner)
        assert status["breaker"]["tripped"] is False, status["breaker"]
        assert "kill_switch_used" in runner.alerter.kinds()


# ---------------------------------------------------------------- helpers


async def open_position(runner, timeout: float = 45):
    """Wait for a LIVE position the engine monitors (entry filled), return it."""

    def monitored():
        found = [
            p
            for p in runner.primary.engine.positions.open_positions()
            if str(p.state) == "MONITORING"
        ]
        return found[0] if found else None

    return await until(monitored, timeout=timeout, every=0.1, what="an open LIVE position")


async def all_open(runner) -> list:
    """Every open position once no entry is still in flight (BTC and ETH enter together)."""
    first = await open_position(runner)

    def settled_entries():
        engine = runner.primary.engine
        entering = [p for p in engine.positions.open_positions() if str(p.state) == "ENTRY"]
        return not entering and not list(engine.orders.working()) and not engine.orders.unsettled

    await until(settled_entries, timeout=5, every=0.05, what="entries answered")
    held = list(runner.primary.engine.positions.open_positions())
    assert first.position_id in {p.position_id for p in held}
    return held


async def state_within(runner, wanted: str, seconds: float) -> float:
    """Seconds until /health shows `wanted`; fails past `seconds`."""
    began = time.monotonic()

    async def shows() -> bool:
        return (await health(runner))["trading_state"] == wanted

    await until(shows, timeout=seconds, every=0.05, what=f"trading_state {wanted}")
    return time.monotonic() - began


def position_path(db_url: str, position_id: str) -> list[str]:
    return [
        r[0]
        for r in rows(
            db_url,
            "SELECT to_state FROM position_events WHERE position_id = %s ORDER BY ts, id",
            position_id,
        )
    ]


async def exited_at_market(db_url: str, position_id: str) -> None:
    """FLATTEN_REQUESTED → EXIT_PENDING → CLOSED, with a SELL fill at the venue."""
    await until(
        lambda: position_path(db_url, position_id)[-1:] == ["CLOSED"],
        timeout=15,
        what=f"{position_id} closed",
    )
    path = position_path(db_url, position_id)
    assert "FLATTEN_REQUESTED" in path, path
    tail = path[path.index("FLATTEN_REQUESTED") :]
    assert tail[:2] == ["FLATTEN_REQUESTED", "EXIT_PENDING"] and tail[-1] == "CLOSED", path
    sold = scalar(
        db_url,
        "SELECT sum(f.shares) FROM fills f JOIN orders o USING (client_order_id) "
        "WHERE o.position_id = %s AND o.purpose = 'EXIT' AND o.side = 'SELL' "
        "AND o.mode = 'LIVE' AND o.venue_order_id IS NOT NULL",
        position_id,
    )
    held = scalar(db_url, "SELECT shares FROM positions WHERE position_id = %s", position_id)
    assert sold is not None and sold > 0, "no exit fill at the venue"
    exit_reason = scalar(
        db_url, "SELECT exit_reason FROM positions WHERE position_id = %s", position_id
    )
    assert exit_reason == "FLATTEN", exit_reason
    assert held is not None and sold >= held - Decimal("0.01"), (sold, held)


async def runner_set_pause(db_url: str, runner) -> None:
    """The kill switch goes back to `pause` by itself, audited as the runner's change."""
    await until(
        lambda: control_audit(db_url, "kill_switch")[-1] == ("pause", "runner"),
        timeout=10,
        what="kill_switch=pause written by the runner",
    )
    assert (await health(runner))["trading_state"] == "PAUSED"


# ---------------------------------------------------------------- the drills


async def _pause_keeps_monitoring_and_denies_entries(db_url: str, runner) -> None:
    held = await open_position(runner)
    run_id = runner.primary.engine.run_id
    sent = runner.gateway.sent
    set_controls(db_url, kill_switch="pause")
    took = await state_within(runner, "PAUSED", REACT_S)
    print(f"pause: PAUSED on /health {took * 1000:.0f} ms after the control write")
    # New entries are denied TRADING_STATE (the next window's signal)...
    denied = await until(
        lambda: rows(
            db_url,
            "SELECT code FROM decisions WHERE run_id = %s AND verdict = 'DENIED' "
            "AND window_slug <> %s",
            run_id,
            held.window_slug,
        ),
        timeout=30,
        what="a signal after the pause",
    )
    assert {code for (code,) in denied} == {"TRADING_STATE"}
    # ...while the open position is still monitored to its settlement, never exited.
    await until(
        lambda: scalar(
            db_url,
            "SELECT resolution IS NOT NULL FROM positions WHERE position_id = %s AND "
            "state = 'CLOSED'",
            held.position_id,
        ),
        timeout=20,
        what="the held position settled",
    )
    path = position_path(db_url, held.position_id)
    assert "FLATTEN_REQUESTED" not in path and "EXIT_PENDING" not in path, path
    assert runner.gateway.sent == sent, "an order was sent while paused"


async def _resume(db_url: str, runner) -> None:
    set_controls(db_url, kill_switch="off")
    await state_within(runner, "ACTIVE", REACT_S)


async def _flatten_exits_at_market_then_pauses(db_url: str, runner) -> None:
    held = await all_open(runner)
    set_controls(db_url, kill_switch="flatten")
    for position in held:
        await exited_at_market(db_url, position.position_id)
    await runner_set_pause(db_url, runner)
    assert not list(runner.primary.engine.positions.open_positions())


async def _emergency_cancels_all_and_exits_then_pauses(db_url: str, runner, server) -> None:
    held, *others = await all_open(runner)
    async with same_wallet(runner) as other:
        found = await other.listing(held.window_slug, max_age_s=0)
        other.remember(found)
        resting = await other.place_limit(
            held.token_id, "BUY", Decimal("0.02"), Decimal("10"), f"drill-rest-{time.time_ns()}"
        )
        assert resting.accepted
        opened = {o.venue_order_id for o in await other.open_orders()}
        assert resting.venue_order_id in opened
        hb_cancels = Faults(server.base_url).state()["counters"].get("heartbeat_cancels", 0)
        set_controls(db_url, kill_switch="emergency")

        async def cancelled() -> bool:
            listed = {o.venue_order_id for o in await other.open_orders()}
            return resting.venue_order_id not in listed

        await until(cancelled, timeout=5, every=0.1, what="the resting order cancelled")
        after = Faults(server.base_url).state()["counters"].get("heartbeat_cancels", 0)
        assert after == hb_cancels, "cancelled by missed heartbeats, not by the emergency"
    for position in (held, *others):
        await exited_at_market(db_url, position.position_id)
    await runner_set_pause(db_url, runner)
    working = list(runner.primary.engine.orders.working())
    assert not working and not list(runner.primary.engine.positions.open_positions())


async def _invalid_control_fails_closed(db_url: str, runner) -> None:
    with psycopg.connect(db_url) as conn:
        conn.execute("DELETE FROM runtime_controls WHERE key = 'max_session_loss'")
    took = await state_within(runner, "PAUSED", REACT_S + 1.0)  # no NOTIFY on DELETE: the cache
    status = await health(runner)
    assert "max_session_loss" in (status["controls_error"] or ""), status["controls_error"]
    assert status["status"] == "degraded"
    print(f"invalid control: PAUSED {took * 1000:.0f} ms after the row was deleted")
    set_controls(db_url, max_session_loss="20")
    await state_within(runner, "ACTIVE", REACT_S + 1.0)
    assert (await health(runner))["controls_error"] is None
