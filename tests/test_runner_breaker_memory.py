"""Issue 15: a tripped sticky breaker survives a restart until an operator resets the kill switch
(real PostgreSQL; the runner against the sandbox). The carried-trip rule itself gets a property
test over random histories of trips and resets."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from runner_kit import (
    health,
    make_runner,
    rows,
    runner_config,
    running,
    set_controls,
    start_sandbox,
)

from live.runner.breaker_memory import STICKY_PREFIXES, is_sticky, last_unreset_trip

STICKY = "assertion failed: position_count_matches_venue"
T0 = datetime.now(UTC) + timedelta(days=1)  # after every audit row the migrations left


def test_only_the_engines_own_trips_are_sticky():
    assert is_sticky(STICKY)
    assert is_sticky("invalid transition: ENTRY -> CLOSED")
    assert is_sticky("contradicting venue resolutions")
    for transient in (
        "observer: another instance holds the sole-trader lock",
        "health endpoint does not answer",
        "store unreachable: engine records cannot be written",
        "exchange heartbeat failed: 425",
        "invalid control: kill_switch",
    ):
        assert not is_sticky(transient)


# One history step: a trip (sticky or not, LIVE or PAPER) by run r, or the operator's reset.
STEP = st.one_of(
    st.tuples(
        st.just("trip"),
        st.booleans(),
        st.sampled_from(["LIVE", "PAPER"]),
        st.sampled_from(["r1", "r2"]),
    ),
    st.tuples(st.just("reset"), st.sampled_from(["off", "pause"])),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(history=st.lists(STEP, max_size=8))
def test_the_carried_trip_is_the_last_sticky_one_after_the_last_reset(db_url, history):
    with psycopg.connect(db_url) as conn:
        conn.execute("DELETE FROM breaker_events")
        expected: dict[str, tuple[int, str]] = {}
        for i, step in enumerate(history):
            ts = T0 + timedelta(seconds=i)
            if step[0] == "trip":
                _, sticky, mode, run = step
                reason = f"{STICKY_PREFIXES[0]} #{i}" if sticky else f"observer: #{i}"
                conn.execute(
                    "INSERT INTO breaker_events (ts, tripped, reason, mode, run_id) "
                    "VALUES (%s, true, %s, %s, %s)",
                    (ts, reason, mode, run),
                )
                if sticky:
                    expected[mode] = (i, reason)
            else:
                conn.execute(  # the audit row a change of the kill switch leaves
                    "INSERT INTO control_changes (key, old_value, new_value, changed_by, "
                    "changed_at) VALUES ('kill_switch', 'x', %s, 'test', %s)",
                    (step[1], ts),
                )
                if step[1] == "off":
                    expected.clear()
        for mode in ("LIVE", "PAPER"):
            found = last_unreset_trip(conn, mode)
            want = expected.get(mode)
            assert (found.reason if found else None) == (want[1] if want else None), history
        conn.rollback()


@pytest.mark.slow
@pytest.mark.xdist_group("runner-breaker-memory")
def test_a_sticky_trip_survives_a_restart_until_the_operator_resets_it(db_url):
    server = start_sandbox()
    try:
        set_controls(db_url, kill_switch="off")
        asyncio.run(_restarts(db_url, server.base_url))
    finally:
        server.stop()


async def _restarts(db_url: str, base_url: str) -> None:
    first = make_runner(db_url, runner_config(base_url, mode="paper"))
    async with running(first):
        assert not (await health(first))["breaker"]["tripped"]
        first.primary.engine.trip(STICKY, {"test": "an assertion the engine saw fail"})
        first.primary.persist.add(first.primary.engine.take_records())
    second = make_runner(db_url, runner_config(base_url, mode="paper"))
    async with running(second):
        status = await health(second)
        assert status["breaker"]["tripped"], status["breaker"]
        carried = second.carried_trips["primary"]
        assert STICKY in carried and first.primary.engine.run_id in carried
        assert any(STICKY in r for r in status["breaker"]["reasons"]), status["breaker"]
        assert ("breaker_tripped", "primary", carried) in second.alerter.raised
    # the operator's reset: an audited change of the kill switch to off (pause, then resume)
    set_controls(db_url, by="alice", kill_switch="pause")
    set_controls(db_url, by="alice", kill_switch="off")
    third = make_runner(db_url, runner_config(base_url, mode="paper"))
    async with running(third):
        assert not (await health(third))["breaker"]["tripped"]
        assert third.carried_trips == {}
    audited = rows(
        db_url,
        "SELECT changed_by FROM control_changes WHERE key = 'kill_switch' ORDER BY id DESC LIMIT 1",
    )
    assert audited == [("alice",)]
