"""A `repeat` strategy is evaluated again on book changes only until it signals (EntryTiming's
contract). Found by the vwap-contrarian ladder (issue 17): a repeat strategy that signalled at
its first evaluation was still put on the repeat list, so it signalled again on every book
change; where its entry filled at once (the PAPER copy) it entered the same window twice."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from engine_kit import CLOSE, OPEN, listed, make_engine, oracle, run, timer, two_sided, window

from live.kernel.domain import Outcome
from live.kernel.records import SignalRecord
from live.kernel.strategy import EntryTiming, Strategy, WindowView


@dataclass(frozen=True, slots=True)
class BuysUpWhenCheap(Strategy):
    """Signals whenever the Up ask is at most 0.60."""

    def evaluate(self, view: WindowView):
        ask = view.best_ask(Outcome.UP)
        if ask is None or ask > 0.60:
            return None
        return view.signal(Outcome.UP, Decimal("1"), reason="cheap")


def _signals(first_ask: float) -> list[SignalRecord]:
    w = window()
    strategy = BuysUpWhenCheap(name="cheap-up", timing=EntryTiming(60_000, repeat=True))
    engine = make_engine([strategy], promoted=lambda name: True)
    due = CLOSE - 60_000
    events = [listed(w), oracle(OPEN, "100000"), *two_sided(OPEN + 1_000, w, 0.5, first_ask)]
    events += [timer(due)]
    for k in range(1, 6):  # book changes after the first evaluation, every one cheap
        events += [*two_sided(due + k * 1_000, w, 0.5, 0.55 + k / 100), timer(due + k * 1_000)]
    run(engine, events)
    return [r for r in engine.take_records() if isinstance(r, SignalRecord)]


def test_a_repeat_strategy_that_signals_at_its_first_evaluation_signals_once():
    assert len(_signals(first_ask=0.55)) == 1


def test_a_repeat_strategy_is_asked_again_until_it_signals_then_no_more():
    assert len(_signals(first_ask=0.70)) == 1  # silent at T-60 s, signals on the next book
