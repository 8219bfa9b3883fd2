"""Money shown and exported, over every row of ONE real recorded sandbox session
(tests/real_session.py): in every dashboard view, the trades CSV and the daily report, gross − fees
= net holds exactly to the cent, and each net and fee shown is its stored exact value rounded once
by the one rule (live.reports.money)."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from decimal import Decimal

import psycopg
import pytest
from real_session import GROUP, real_session  # noqa: F401 - fixture

from live.reports import daily, money
from panel_app.models.command_center import CommandCenterModel
from panel_app.models.risk import RiskModel
from panel_app.models.state import CockpitState
from panel_app.models.trades import ALL, OUTCOMES, TradeHistoryModel
from panel_app.poller import Poller
from panel_app.views.command_center import header_html
from panel_app.views.trades import summary_html

pytestmark = pytest.mark.xdist_group(GROUP)
FIGURE = r"([+-]?)\$([\d,]+\.\d\d)"


@pytest.fixture(scope="module")
def real(real_session):  # noqa: F811
    return real_session.url


@pytest.fixture(scope="module")
def cockpit(real) -> CockpitState:
    state = CockpitState()
    poller = Poller(real, state)
    with poller.connect() as conn:
        poller.poll_once(conn)
    return state


def stored(url: str) -> dict[str, tuple[Decimal | None, Decimal, Decimal | None]]:
    """{position_id: (pnl_gross, fees, pnl_net)} exactly as stored (NUMERIC as Decimal)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT position_id, pnl_gross, fees, pnl_net FROM positions")
        return {pid: (g, f, n) for pid, g, f, n in rows}


def figures(text: str, *labels: str) -> list[Decimal]:
    """The dollar figures following each label in `text` (`gross +$1.23` → Decimal('1.23'))."""
    out = []
    for label in labels:
        sign, digits = re.search(rf"{label} {FIGURE}", text).groups()
        out.append(Decimal(digits.replace(",", "")) * (-1 if sign == "-" else 1))
    return out


def assert_statement(gross, fees, net, exact_fees, exact_net):
    assert gross - fees == net, (gross, fees, net)
    assert (fees, net) == (money.cents(exact_fees), money.cents(exact_net))


def test_every_trade_row_and_csv_line_holds_gross_minus_fees_is_net(real, cockpit):
    model = TradeHistoryModel(cockpit=cockpit)
    model.refresh()
    rows, exact = model.shown(), stored(real)
    assert len(rows) == len(exact) and len(rows) >= 9  # ≥ 3 settled windows in each of 3 modes
    lines = list(csv.DictReader(io.StringIO(model.to_csv())))
    assert [r["position_id"] for r in lines] == list(rows["position_id"])
    for line in lines:
        gross, fees, net = (Decimal(line[c]) if line[c] else None for c in money_columns())
        _, exact_fees, exact_net = exact[line["position_id"]]
        if exact_net is None:
            assert net is None and fees == money.cents(exact_fees)
            continue
        assert_statement(gross, fees, net, exact_fees, exact_net)
    for _, row in rows.iterrows():
        line = next(r for r in lines if r["position_id"] == row["position_id"])
        assert [money.exact(row[c]) for c in money_columns()] == [
            Decimal(line[c]) if line[c] else None for c in money_columns()
        ]  # the table shows what the CSV holds


def money_columns() -> tuple[str, str, str]:
    return ("pnl_gross", "fees", "pnl_net")


def test_trade_history_totals_hold_for_every_filter(real, cockpit):
    model = TradeHistoryModel(cockpit=cockpit)
    model.refresh()
    exact = stored(real)
    checked = 0
    for strategy in model.param["strategy"].objects:
        for mode in model.param["mode"].objects:
            for outcome in OUTCOMES:
                model.param.update(strategy=strategy, mode=mode, outcome=outcome)
                ids = [p for p in model.filtered()["position_id"] if exact[p][2] is not None]
                gross, fees, net = model.gross_net()
                assert_statement(
                    gross,
                    fees,
                    net,
                    sum((exact[p][1] for p in ids), Decimal(0)),
                    sum((exact[p][2] for p in ids), Decimal(0)),
                )
                html = summary_html(model, len(ids))
                assert figures(html, "gross", "− fees", "= net") == [gross, fees, net]
                checked += 1
    model.param.update(strategy=ALL, mode=ALL, outcome=ALL)
    assert checked >= 2 * 4 * len(OUTCOMES)  # All + the canary × All + 3 modes × outcomes


def test_command_center_pnl_by_mode_and_session_header_hold(real, cockpit):
    model = CommandCenterModel(cockpit=cockpit)
    model.refresh()
    with psycopg.connect(real) as conn:
        per_mode = {
            mode: (fees, net)
            for mode, fees, net in conn.execute(
                """SELECT mode, sum(fees), sum(CASE WHEN state='CLOSED' THEN pnl_net
                ELSE (mark_price - entry_price) * shares - fees END) FROM positions GROUP BY mode"""
            )
        }
    shown = model.pnl_shown()
    assert set(shown["mode"]) == set(per_mode) == {"LIVE", "PAPER", "DRY_RUN"}
    for _, row in shown.iterrows():
        gross, fees, net = (money.exact(row[c]) for c in ("gross", "fees", "net"))
        assert_statement(gross, fees, net, *per_mode[row["mode"]])
    # the header is LIVE's (the primary mode's) session alone: the copies are never added to it
    session = model.session_shown()
    assert model.badge["mode"] == "LIVE"
    assert_statement(*session, *per_mode["LIVE"])
    assert figures(header_html(model), "gross", "net") == [session.gross, session.net]


def test_risk_per_strategy_pnl_holds(real, cockpit):
    model = RiskModel(cockpit=cockpit)
    model.refresh()
    with psycopg.connect(real) as conn:
        exact = {
            (s, m): (f, n)
            for s, m, f, n in conn.execute(
                """SELECT strategy, mode, sum(fees), sum(pnl_net) FROM positions
                WHERE state = 'CLOSED' GROUP BY strategy, mode"""
            )
        }
    shown = model.per_strategy_shown()
    assert len(shown) == len(exact) >= 3
    for _, row in shown.iterrows():
        gross, fees, net = (money.exact(row[c]) for c in ("gross", "fees", "net"))
        assert_statement(gross, fees, net, *exact[(row["strategy"], row["mode"])])


def test_daily_report_lines_and_table_hold(real):
    with psycopg.connect(real) as conn:
        days = [d for (d,) in conn.execute("SELECT DISTINCT closed_ts::date FROM positions")]
        summaries = [daily.daily_summary(conn, d, now=datetime.now(UTC)) for d in days]
    assert summaries and any(s.strategies for s in summaries)
    for s in summaries:
        lines = daily.summary_lines(s)
        assert_statement(
            *figures(lines[0], "gross", "fees", "net"), s.total("fees"), s.total("pnl_net")
        )
        for st, line, row in zip(s.strategies, lines[1:], daily.shown_strategies(s), strict=False):
            assert_statement(*figures(line, "gross", "fees", "net"), st.fees, st.pnl_net)
            assert_statement(row["pnl_gross"], row["fees"], row["pnl_net"], st.fees, st.pnl_net)


def test_balance_shows_receivables_and_redemptions_per_mode() -> None:
    """Issue 13: the header's balance carries what resolved positions are owed (awaiting
    redemption) beside the cash, and how many were redeemed."""
    from datetime import UTC, datetime

    import pandas as pd

    from panel_app.models.command_center import balance
    from panel_app.models.state import Snapshot
    from panel_app.views.command_center import header_html, money_html

    now = datetime(2026, 11, 30, tzinfo=UTC)
    frames = {
        "balances": pd.DataFrame(
            [
                {"mode": "LIVE", "source": "venue", "ts": now, "usd": "98.5", "last_fill_ts": now},
                {
                    "mode": "LIVE",
                    "source": "expected",
                    "ts": now,
                    "usd": "98.5",
                    "last_fill_ts": now,
                },
            ]
        ),  # fmt: skip
        "redemptions": pd.DataFrame(
            [
                {"mode": "LIVE", "status": "PENDING", "positions": 1, "usd": "2.04"},
                {"mode": "LIVE", "status": "REDEEMED", "positions": 3, "usd": "4.1"},
            ]
        ),
    }
    shown = balance(Snapshot(now, frames), "LIVE")
    assert shown["agree"] is True
    assert (shown["awaiting"], shown["receivable"]) == (1, 2.04)
    assert (shown["redeemed"], shown["redeemed_usd"]) == (3, 4.1)
    assert balance(Snapshot(now, frames), "PAPER")["receivable"] is None  # paid at resolution

    class Model:
        badge = {"venue": "sandbox", "mode": "LIVE", "trading_state": "ACTIVE"}
        spot: dict = {}

        def __init__(self) -> None:
            self.balance = shown
            self.money_by_mode = [
                {"mode": "LIVE", **shown, "exposure": 1.5, "pnl": money.pnl(fees=0, net=0)}
            ]

        def session_shown(self):
            return 0, 0, 0

    assert "Balance: $98.50 ✓ = expected" in header_html(Model())
    html = money_html(Model())  # cash, receivable and open exposure: separate figures
    assert "cash <span" in html and ">$98.50<" in html
    assert ">$2.04</span> (1 awaiting redemption; 3 redeemed, $4.10)" in html
    assert 'class="ud-exposure">$1.50<' in html
