"""Issue 15's drills, a few runs each (the full counts: `updown drill crash --runs 100` and
`updown drill handover --starts 50`, figures in docs/runner.md): real `updown run` processes
SIGKILLed against a throwaway sandbox world; no position lost, duplicated or orphaned, at most
two entries per window, the venue balance equal to the ledger, takeover within 5 s."""

from __future__ import annotations

from decimal import Decimal

import pytest

from updown import drill

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("drill")]


def test_crash_drill_three_kills(pg_admin_url, monkeypatch):
    monkeypatch.setenv("UPDOWN_DATABASE_URL", pg_admin_url)  # the drill makes its own database
    lines: list[str] = []
    report = drill.crash(3, seed=4, progress=lines.append)
    assert report.passed, report.violations
    assert len(lines) == 3 and lines[-1].startswith("crash 3/3")
    assert report.figures["orphaned_or_lost"] == 0 and report.figures["duplicated"] == 0
    assert report.figures["max_entries_per_window"] <= 2
    venue, ledger = report.figures["venue_balance"], report.figures["ledger_balance"]
    assert Decimal(venue) == Decimal(ledger)


def test_handover_drill_two_takeovers(pg_admin_url, monkeypatch):
    monkeypatch.setenv("UPDOWN_DATABASE_URL", pg_admin_url)  # the drill makes its own database
    report = drill.handover(2, seed=4, progress=lambda line: None)
    assert report.passed, report.violations
    assert report.figures["takeover_s_max"] <= 5.0
    assert report.figures["handovers"] == 2


def test_db_outage_drill_six_seconds(pg_admin_url, monkeypatch):
    """The full figure is `updown drill db-outage --seconds 30` (docs/runner.md)."""
    from updown.drill_outage import db_outage

    monkeypatch.setenv("UPDOWN_DATABASE_URL", pg_admin_url)  # the drill makes its own database
    lines: list[str] = []
    report = db_outage(6, seed=4, progress=lines.append)
    assert report.passed, report.violations
    assert report.figures["orders_during_outage"] == 0
    assert report.figures["market_buffered_peak"] > 0  # market data kept while it was away
    assert report.figures["market_lost_silently"] == 0
    assert report.figures["reconciled_after_s"] <= report.figures["first_order_after_s"]
    assert any(line.startswith("db-outage [") for line in lines)  # the progress bar
    venue, ledger = report.figures["venue_balance"], report.figures["ledger_balance"]
    assert Decimal(venue) == Decimal(ledger)
