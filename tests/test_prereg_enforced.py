"""Issue 16, item 5: a promoted strategy trades only within its pre-registration's `risk` block and
`instruments` list (the tighter of it and the runtime controls); each difference is a denial
with its own reason code, naming the file."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from engine_kit import LENGTH_MS, OPEN, listed, make_engine, resolved, run, signal, two_sided
from engine_kit import window as make_window

from live.kernel.controls import Controls
from live.kernel.domain import Mode
from live.kernel.prereg_limits import PreregLimits
from live.kernel.records import DecisionRecord
from live.promotion.prereg_envelope import EnvelopeError, load_limits

REPO = Path(__file__).resolve().parents[1]
LIMITS = PreregLimits(
    instruments=frozenset({("BTC", 300), ("ETH", 300)}),
    max_position_usd=Decimal("1"),
    max_session_loss_usd=Decimal("1.5"),
    max_entries_per_window=1,
    stop_loss=None,
    take_profit=None,
    source="preregistrations/test.yaml",
)


def _decisions(limits: PreregLimits, events, controls: Controls | None = None):
    engine = make_engine(mode=Mode.PAPER, controls=controls, prereg=lambda name: limits)
    run(engine, events)
    return [
        (d.verdict, d.code, dict(d.detail), d.audit)
        for d in engine.take_records()
        if isinstance(d, DecisionRecord)
    ]


def _window_events(w, *signals):
    return [listed(w), *two_sided(w.open_ts + 1_000, w, 0.49, 0.51), *signals]


def test_an_instrument_outside_the_list_is_denied_with_its_own_code() -> None:
    w = make_window("SOL")
    (decision,) = _decisions(LIMITS, _window_events(w, signal(w.open_ts + 2_000, w)))
    verdict, code, detail, audit = decision
    assert (verdict, code) == ("DENIED", "PREREG_INSTRUMENT")
    assert detail["asset"] == "SOL" and detail["preregistration"] == LIMITS.source
    assert "PREREG_INSTRUMENT" in audit
    ten_minutes = make_window("BTC", length_ms=600_000)
    (decision,) = _decisions(
        LIMITS, _window_events(ten_minutes, signal(ten_minutes.open_ts + 2_000, ten_minutes))
    )
    assert decision[1] == "PREREG_INSTRUMENT", decision  # BTC, but not a 5m window


def test_a_stand_in_length_counts_as_any_class_of_an_allowed_asset() -> None:
    w = make_window("BTC", length_ms=20_000)
    limits = replace(LIMITS, stand_in_lengths=frozenset({20}))
    (decision,) = _decisions(limits, _window_events(w, signal(w.open_ts + 2_000, w)))
    assert decision[:2] == ("APPROVED", None), decision
    (decision,) = _decisions(LIMITS, _window_events(w, signal(w.open_ts + 2_000, w)))
    assert decision[1] == "PREREG_INSTRUMENT", decision


def test_the_tighter_position_cap_decides() -> None:
    w = make_window()
    big = signal(w.open_ts + 2_000, w, usd="2")
    (decision,) = _decisions(LIMITS, _window_events(w, big))
    assert decision[1] == "PREREG_POSITION_CAP" and decision[2]["max_position_usd"] == "1"
    tight = Controls(allowed_strategies=None).with_value("max_position_usd", "1.5")
    (decision,) = _decisions(LIMITS, _window_events(w, big), controls=tight)
    assert decision[1] == "POSITION_CAP", decision  # the runtime control is tighter here


def test_exits_other_than_the_preregistered_ones_are_denied() -> None:
    w = make_window()
    stopped = signal(w.open_ts + 2_000, w, usd="3", stop_loss="0.05")  # its exit is over $1
    limits = replace(LIMITS, max_position_usd=Decimal("3"), max_session_loss_usd=Decimal("5"))
    (decision,) = _decisions(limits, _window_events(w, stopped))
    assert decision[1] == "PREREG_EXITS", decision
    assert decision[2]["stop_loss"] == "0.05" and decision[2]["prereg_stop_loss"] == "None"


def test_entries_past_the_preregistered_count_are_denied() -> None:
    w = make_window()
    first = signal(w.open_ts + 2_000, w, signal_id="a")
    second = signal(w.open_ts + 3_000, w, side="DOWN", signal_id="b")
    decisions = _decisions(LIMITS, _window_events(w, first, second))
    assert [d[1] for d in decisions] == [None, "PREREG_ENTRIES"], decisions


def test_the_preregistered_session_loss_counts_realised_and_deployed() -> None:
    events = []
    for i in range(2):
        w = make_window(open_ts=OPEN + i * LENGTH_MS)
        events += _window_events(w, signal(w.open_ts + 2_000, w, side="DOWN", signal_id=f"s{i}"))
        events.append(resolved(w.close_ts + 5_000, w, "UP"))
    decisions = _decisions(LIMITS, events)
    assert [d[1] for d in decisions] == [None, "PREREG_SESSION_LOSS"], decisions
    assert Decimal(decisions[1][2]["at_risk"]) > LIMITS.max_session_loss_usd


def test_the_canary_files_envelope_loads_with_the_sandbox_stand_ins() -> None:
    limits = load_limits(REPO / "preregistrations/canary.yaml", "canary.yaml", (20, 300))
    assert limits.max_position_usd == 1 and limits.max_entries_per_window == 1
    assert ("SOL", 900) in limits.instruments and limits.stop_loss is None
    assert limits.stand_in_lengths == frozenset({20})  # 300 is a real class, not a stand-in


def test_a_file_without_an_envelope_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "x.yaml"
    bad.write_text("strategy: x\nrisk: 3\n")
    with pytest.raises(EnvelopeError, match="risk block"):
        load_limits(bad, "x.yaml")
