"""`scripted`: turns the journal's `signal` lines into signals, so scenarios drive exact orders
and exits. A line may name another strategy (`strategy` field); this one only answers lines
addressed to `scripted`."""

from __future__ import annotations

from dataclasses import dataclass

from live.kernel.domain import RiskParams, Signal
from live.kernel.strategy import EntryTiming, Strategy, WindowView


@dataclass(frozen=True, slots=True)
class Scripted(Strategy):
    """Emit the pending journal signal line for this window, as written."""

    def evaluate(self, view: WindowView) -> Signal | None:
        line = view.signal_line
        if line is None or line.strategy != self.name:
            return None
        risk = RiskParams(line.stop_loss, line.take_profit, line.trailing_stop)
        return view.signal(
            line.side,
            line.usd,
            max_price=line.max_price,
            risk=risk,
            signal_id=line.signal_id,
            reason="scripted signal line",
        )


SCRIPTED = Scripted(name="scripted", timing=EntryTiming(on_signal_lines=True))
