"""A kill-criterion check the store could not answer is retried (issue 15): in the db-outage
drill a settlement during the outage ran its check against an unreachable pool; the PoolTimeout
ended the check ('Task exception was never retrieved') and the criterion went unchecked until
the next settlement."""

from __future__ import annotations

import asyncio
from pathlib import Path

from psycopg_pool import PoolTimeout

from live.runner import strategy_gate
from live.runner.strategy_gate import StrategyGate


def test_a_kill_check_the_store_could_not_answer_is_tried_again(monkeypatch):
    gate = StrategyGate(None, Path("."), ("live",), lambda *args, **kwargs: None)
    calls: list[object] = []

    def check_kill(slot, session=None):
        calls.append(slot)
        if len(calls) == 1:
            raise PoolTimeout("couldn't get a connection after 10.00 sec")

    monkeypatch.setattr(gate, "check_kill", check_kill)
    monkeypatch.setattr(strategy_gate, "KILL_RETRY_S", 0.01)
    monkeypatch.setattr(strategy_gate, "session_pnls", lambda slot: {})
    slot = object()

    async def settle_during_an_outage() -> None:
        gate.after_settlement(slot)
        for _ in range(300):
            if len(calls) >= 2:
                return
            await asyncio.sleep(0.01)

    asyncio.run(settle_during_an_outage())
    assert calls == [slot, slot]  # failed once, answered on the retry
    assert gate.kill_check_failures == 1
