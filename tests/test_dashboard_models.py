"""Dashboard view models (param classes) — no browser, no Panel server.

Against ONE real recorded sandbox session (tests/real_session.py: the canary in LIVE(sandbox)
with PAPER and DRY_RUN copies, ≥ 3 settled windows per mode): every expected figure is read
back from that database with plain SQL. The seed (tests/dashboard_seed.py) remains only for
states a short real run cannot produce: a strategy disabled by its kill criterion and one not
promoted, yellow/red feed ages with a fixed pool utilisation and clock offset and a feed gap,
stop-loss / take-profit triggers (the canary holds to expiry), a partially filled order, a
failed assertion, the current window of a live instrument and an asset with no conditionId.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import psycopg
import pytest
from dashboard_seed import seeded_database
from real_session import GROUP, real_session  # noqa: F401 - fixture

from live.kernel.controls import InvalidControl, validate
from panel_app.models.command_center import CommandCenterModel, venue_label
from panel_app.models.controls import NO_PASSWORD, NOT_LOGGED_IN, ControlDesk, NotAuthorized
from panel_app.models.health import (
    HealthBarModel,
    age_status,
    clock_reading,
    clock_status,
    feed_status,
)
from panel_app.models.instrument import InstrumentModel, book_top
from panel_app.models.risk import ASSERTIONS, RiskModel
from panel_app.models.state import CockpitState
from panel_app.models.trades import TradeHistoryModel
from panel_app.poller import Poller

pytestmark = pytest.mark.xdist_group(GROUP)
CANARY = "always-trade-canary"


@pytest.fixture(scope="module")
def real(real_session):  # noqa: F811
    return real_session.url


@pytest.fixture(scope="module")
def real_cockpit(real) -> CockpitState:
    """Shared state after exactly one poll of the recorded session."""
    state = CockpitState()
    poller = Poller(real, state)
    with poller.connect() as conn:
        poller.poll_once(conn)
    return state


@pytest.fixture(scope="module")
def seeded(pg_admin_url, template_db):
    """One seeded database for this module's read-only tests."""
    with seeded_database(pg_admin_url, template_db) as url:
        yield url


@pytest.fixture(scope="module")
def cockpit(seeded) -> CockpitState:
    """Shared state after exactly one poll of the seeded database."""
    state = CockpitState()
    poller = Poller(seeded, state)
    with poller.connect() as conn:
        poller.poll_once(conn)
    return state


def sql(url: str, query: str, *args):
    with psycopg.connect(url) as conn:
        return conn.execute(query, args).fetchall()


def test_feed_age_colours_follow_the_spec_thresholds():
    assert [age_status(a) for a in (0.0, 1.99, 2.0, 4.99, 5.0, None)] == [
        "green",
        "green",
        "yellow",
        "yellow",
        "red",
        "red",
    ]


def test_a_feed_is_stale_by_its_expected_rate():
    # continuous feeds must speak every second; the user channel only about our working orders
    assert feed_status("market:BTC", 58.6, 0)[0] == "red"
    assert feed_status("user", 58.6, 0)[0] == "green"
    assert feed_status("user", 58.6, 1)[0] == "red" and feed_status("user", 0.5, 1)[0] == "green"


def test_clock_is_red_only_beyond_threshold_plus_uncertainty():
    # issue 21: -722 ms from one whole-second reading (±500 ms) is not evidence of skew
    assert clock_status(-722, 500) == "green"
    assert clock_status(-722, 20) == "red"
    assert clock_status(3000, 500) == "red" and clock_status(None, None) == "grey"
    assert clock_reading({"clock": {"offset_ms": 12, "uncertainty_ms": 9}}) == (12, 9)
    assert clock_reading({"clock_offset_ms": -722}) == (-722, 500)


def test_venue_badge_is_sandbox_unless_the_venue_is_polymarket():
    assert venue_label("SANDBOX") == "SANDBOX"
    assert venue_label("sandbox-local") == "SANDBOX"
    assert venue_label("polymarket") == "POLYMARKET"
    assert venue_label(None) == "NO RUNNER"


def test_command_center_shows_mode_venue_and_every_open_position(real, real_cockpit):
    model = CommandCenterModel(cockpit=real_cockpit)
    model.refresh()
    ((mode, venue),) = sql(real, "SELECT health->>'mode', health->>'venue' FROM instances")
    assert (model.badge["venue"], model.badge["mode"]) == (venue, mode) == ("SANDBOX", "LIVE")
    open_ids = {r[0] for r in sql(real, "SELECT position_id FROM positions WHERE state<>'CLOSED'")}
    assert set(model.positions.index) == open_ids  # the run ends flat: nothing open
    oracle = sql(
        real,
        """SELECT DISTINCT asset FROM market_events WHERE payload->>'kind' = 'oracle'
        AND source <> 'engine' AND ts > %s - interval '10 minutes'""",
        real_cockpit.snapshot.taken_at,  # the spot panel shows the last 10 minutes
    )
    assert set(model.spot) == {r[0] for r in oracle}


def test_session_net_pnl_is_realised_net_plus_unrealised_minus_open_fees(real, real_cockpit):
    model = CommandCenterModel(cockpit=real_cockpit)
    model.refresh()
    per_mode = dict(
        sql(
            real,
            """SELECT mode, sum(CASE WHEN state='CLOSED' THEN pnl_net
            ELSE (mark_price - entry_price) * shares - fees END) FROM positions GROUP BY mode""",
        )
    )
    assert model.badge["mode"] == "LIVE" and set(per_mode) == {"LIVE", "PAPER", "DRY_RUN"}
    for mode, expected in per_mode.items():  # each mode on its own, never summed
        assert model.session_total(mode)[1] == pytest.approx(float(expected), abs=1e-4)
    assert model.session_total() == model.session_total("LIVE")


def test_strategy_state_is_the_real_runner_report(real, real_cockpit):
    model = CommandCenterModel(cockpit=real_cockpit)
    model.refresh()
    ((reported,),) = sql(real, "SELECT health->'strategies' FROM instances")
    states = dict(zip(model.strategies["strategy"], model.strategies["state"], strict=True))
    assert reported == {CANARY: "paused"}  # its last heartbeat: after the kill switch's pause
    assert states[CANARY] == "paused"


def test_strategy_states_use_the_runner_report(cockpit):
    model = CommandCenterModel(cockpit=cockpit)
    model.refresh()
    states = dict(zip(model.strategies["strategy"], model.strategies["state"], strict=True))
    assert states == {
        "canary": "active",
        "vwap-c": "disabled_kill_criterion",
        "hybrid": "not_promoted",
    }


def _read_at(cockpit: CockpitState, seconds_after_write: float) -> CockpitState:
    """The cockpit as read `seconds_after_write` after the runner wrote its stored health copy
    (the poll of a module fixture happens whenever the first test needs it, so its own instant
    would make the ages depend on how busy the machine was)."""
    written = cockpit.snapshot.frame("instances").iloc[0]["last_seen"]
    at = written.to_pydatetime() + timedelta(seconds=seconds_after_write)
    return CockpitState(snapshot=dataclasses.replace(cockpit.snapshot, taken_at=at))


def test_health_bar_reports_lock_holder_feeds_and_unreachable_runner(seeded, cockpit):
    model = HealthBarModel(cockpit=_read_at(cockpit, 0.0))
    model.refresh()
    assert model.lock_held and "seed-runner-1" in model.lock_holder
    feeds = dict(zip(model.feeds["feed"], model.feeds["status"], strict=True))
    assert feeds["clob"] == "green" and feeds["oracle"] == "yellow"
    # the user channel speaks only about our working orders: 7.5 s of silence is red only
    # while one of them is working
    ((working,),) = sql(
        seeded,
        "SELECT count(*) FROM orders WHERE mode='LIVE' AND state NOT IN"
        " ('FILLED','REJECTED','CANCELLED')",
    )
    assert feeds["user"] == ("red" if working else "green")
    assert not model.runner_ok and "UNREACHABLE" in model.runner  # no health_url registered
    # a bare offset (one whole-second reading of /time) carries ±500 ms
    assert (model.clock_offset_ms, model.clock_uncertainty_ms) == (42, 500)
    eth3 = model.completeness[
        (model.completeness["feed"] == "clob") & model.completeness["window"].str.startswith("eth-")
    ]
    assert eth3["complete_pct"].min() < 100  # the seeded 10 s gap shows up


def test_a_stored_health_copy_ages_with_the_time_since_it_was_written(cockpit):
    fresh, aged = (
        HealthBarModel(cockpit=_read_at(cockpit, 0.0)),
        HealthBarModel(cockpit=_read_at(cockpit, 3.0)),
    )
    fresh.refresh()
    aged.refresh()
    age = dict(zip(aged.feeds["feed"], aged.feeds["age_s"], strict=True))
    status = dict(zip(aged.feeds["feed"], aged.feeds["status"], strict=True))
    assert dict(zip(fresh.feeds["feed"], fresh.feeds["age_s"], strict=True))["clob"] == 0.4
    assert age["clob"] == 3.4 and status["clob"] == "yellow" and status["oracle"] == "red"


def test_health_bar_on_the_real_run_after_the_runner_stopped(real, real_cockpit):
    model = HealthBarModel(cockpit=real_cockpit)
    model.refresh()
    ((instance, url, held),) = sql(real, "SELECT instance_id, health_url, lock_held FROM instances")
    assert url and not held and not model.lock_held  # released by the clean shutdown
    assert not model.runner_ok and "UNREACHABLE" in model.runner  # stopped: its endpoint is gone
    feeds = set(model.feeds["feed"])
    recorded = {r[0] for r in sql(real, "SELECT DISTINCT source FROM market_events")}
    assert recorded <= feeds or set(real_cockpit.snapshot.health.document["feeds"]) <= feeds
    assert instance in real_cockpit.snapshot.health.instance_id


def test_risk_lists_the_ten_assertions_with_their_last_failure(seeded, cockpit):
    model = RiskModel(cockpit=cockpit)
    model.refresh()
    table = model.assertions
    assert list(table["assertion"])[:10] == [n for n, _ in ASSERTIONS]
    failed = sql(seeded, "SELECT DISTINCT name FROM assertion_results WHERE NOT ok")
    for (name,) in failed:
        assert table.set_index("assertion").loc[name, "last_failure"] != "never"
    assert model.failing() == []  # the latest results are all ok


def test_risk_shows_the_real_runs_ten_assertions_by_the_engines_names(real, real_cockpit):
    model = RiskModel(cockpit=real_cockpit)
    model.refresh()
    table = model.assertions.set_index("assertion")
    recorded = {r[0] for r in sql(real, "SELECT DISTINCT name FROM assertion_results")}
    assert recorded == {n for n, _ in ASSERTIONS} == set(table.index)  # no "(not in the ten)"
    assert set(table["status"]) == {"ok"} and set(table["last_failure"]) == {"never"}
    assert model.failing() == []


def test_trigger_history_records_trigger_intended_and_actual_prices(seeded, cockpit):
    model = RiskModel(cockpit=cockpit)
    model.refresh()
    rows = sql(
        seeded,
        """SELECT e.to_state, e.trigger_price, p.exit_price FROM position_events e
        JOIN positions p USING (position_id)
        WHERE e.to_state IN ('STOP_TRIGGERED','TAKE_PROFIT_TRIGGERED')""",
    )
    got = {
        (r["trigger"], r["trigger_price"], r["actual_price"]) for _, r in model.triggers.iterrows()
    }
    assert got == {(s, float(t), float(a)) for s, t, a in rows}
    equity = model.drawdown["equity"]
    assert model.max_drawdown() == pytest.approx(float((equity.cummax() - equity).max()))
    assert model.max_drawdown() >= 0  # a drawdown is an amount fallen, never negative


def test_trade_filters_and_csv_return_exactly_the_matching_rows(real, real_cockpit):
    model = TradeHistoryModel(cockpit=real_cockpit)
    model.refresh()
    assert set(model.trades["mode"]) == {"LIVE", "PAPER", "DRY_RUN"}
    model.param.update(strategy=CANARY, mode="PAPER", outcome="win")
    expected = {
        r[0]
        for r in sql(
            real,
            """SELECT position_id FROM positions WHERE
        strategy=%s AND mode='PAPER' AND state='CLOSED' AND pnl_net > 0""",
            CANARY,
        )
    }
    assert set(model.filtered()["position_id"]) == expected and expected
    lines = model.to_csv().strip().splitlines()
    assert len(lines) == len(expected) + 1 and lines[0].startswith("position_id,")
    gross, fees, net = model.gross_net()
    assert gross - fees == pytest.approx(net, abs=1e-6)


def test_settlement_verification_agrees_with_the_venue_on_every_real_trade(real, real_cockpit):
    model = TradeHistoryModel(cockpit=real_cockpit)
    model.refresh()
    rows = sql(
        real,
        """SELECT p.position_id, s.agreement FROM positions p JOIN settlements s
        ON s.window_slug = p.window_slug AND s.run_id = p.run_id""",
    )
    trades = model.trades.set_index("position_id")
    assert rows and {pid: trades.loc[pid, "settlement"] for pid, _ in rows} == dict(rows)


def test_partial_fill_shows_requested_usd_and_filled_shares(seeded, cockpit):
    model = TradeHistoryModel(cockpit=cockpit)
    model.refresh()
    ((pid, requested, filled),) = sql(
        seeded,
        """SELECT position_id, requested_usd,
        filled_shares FROM orders WHERE state='PARTIALLY_FILLED'""",
    )
    row = model.trades.set_index("position_id").loc[pid]
    assert (row["requested_usd"], row["filled_shares"]) == (float(requested), float(filled))


def test_instrument_model_reads_current_window_book_and_missing_condition_id(cockpit):
    model = InstrumentModel(cockpit=cockpit, asset="BTC")
    model.refresh()
    assert model.window is not None and model.window["slug"].startswith("btc-updown-5m-")
    assert model.book["mid"] is not None and model.token_status.startswith("valid")
    model.asset = "XRP"
    assert model.missing_condition and model.window is None
    assert book_top({"best_bid": "0.4", "best_ask": "0.6"})["mid"] == 0.5


def recording_writer(calls):
    def write(key, value, by):
        calls.append((key, value, by))
        return "off"

    return write


def test_control_desk_without_password_is_disabled_and_refuses():
    calls = []
    desk = ControlDesk(recording_writer(calls), user=None, auth_configured=False)
    assert not desk.can_control and desk.disabled_reason == NO_PASSWORD
    with pytest.raises(NotAuthorized):
        desk.request("pause")
    with pytest.raises(NotAuthorized):
        desk.confirm()
    assert calls == []


def test_control_desk_refuses_a_guest_even_if_an_action_was_staged():
    calls = []
    desk = ControlDesk(recording_writer(calls), user=None, auth_configured=True)
    assert desk.disabled_reason == NOT_LOGGED_IN
    with pytest.raises(NotAuthorized):
        desk.request("emergency")
    assert calls == [] and "Refused" in desk.message


def test_control_desk_confirms_before_writing_and_audits_the_user():
    calls = []
    desk = ControlDesk(recording_writer(calls), user="alice", auth_configured=True)
    staged = desk.request("pause")
    assert calls == [] and "no new entries" in desk.message and staged.value == "pause"
    desk.confirm()
    assert calls == [("kill_switch", "pause", "dashboard:alice")]


def test_control_editor_rejects_invalid_values_with_the_cli_message():
    desk = ControlDesk(recording_writer([]), user="alice", auth_configured=True)
    assert desk.request_set("max_position_usd", "6") is None
    with pytest.raises(InvalidControl) as cli:
        validate("max_position_usd", "6")
    assert desk.message == str(cli.value) and desk.pending is None


def test_control_desk_writes_through_the_store_into_control_changes(db_url):
    from panel_app.app import control_writer

    desk = ControlDesk(control_writer(db_url), user="bob", auth_configured=True)
    desk.request_set("max_session_loss", "15")
    desk.confirm()
    ((by, old, new),) = sql(
        db_url,
        """SELECT changed_by, old_value, new_value FROM control_changes
        WHERE key='max_session_loss' ORDER BY id DESC LIMIT 1""",
    )
    assert (by, old, new) == ("dashboard:bob", "20", "15")


def test_risk_status_is_failed_when_any_modes_latest_result_failed():
    """The latest row across modes alone (DISTINCT ON name) let a copy's pass written at the
    same instant hide LIVE's failure: the table now shows each mode and fails on any."""
    from datetime import UTC, datetime

    import pandas as pd

    from panel_app.models.risk import assertions
    from panel_app.models.state import Snapshot

    now = datetime.now(UTC)
    name = "tick_under_5s"
    frames = {
        "assertions": pd.DataFrame([{"name": name, "ts": now, "ok": True, "detail": {}}]),
        "assertion_failures": pd.DataFrame([{"name": name, "ts": now, "detail": {"x": 1}}]),
        "assertions_by_mode": pd.DataFrame(
            [
                {"mode": "LIVE", "name": name, "ts": now, "ok": False},
                {"mode": "PAPER", "name": name, "ts": now, "ok": True},
            ]
        ),
    }
    table = assertions(Snapshot(taken_at=now, frames=frames)).set_index("assertion")
    assert table.loc[name, "status"] == "FAILED"
    assert table.loc[name, "modes"] == "LIVE FAILED · PAPER ok"
    assert table.loc["fill_has_position", "status"] == "no result"
