"""Replay backtests through the live engine (DESIGN §8, §1.1: research never re-implements
trading logic).

`run_backtest(strategy, dataset, ...)` shifts each source by its latency offset (FM16), merges the
sources by timestamp, and drives `live.kernel.engine.Engine` in BACKTEST mode with the chosen fill
model (FM15); the engine's records go to the DB through the live sink when a connection is given. It
returns a `BacktestResult` (research.results): trades, equity, per-window table, summary.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any

from live.journal.replay import replay_controls
from live.kernel.domain import Mode, RiskParams
from live.kernel.engine import Engine, EngineConfig
from live.kernel.strategy import Strategy
from research.data import Dataset, Item
from research.fills import make_executor
from research.results import BacktestResult, Recorded
from strategies import get_strategy

RISK_KEYS = ("stop_loss", "take_profit", "trailing_stop")
PROGRESS_MIN_EVENTS = 200_000


def parse_assignments(pairs: Sequence[str], what: str) -> dict[str, str]:
    """`k=v` strings (or one comma list) into a dict; ValueError naming the bad one."""
    out: dict[str, str] = {}
    for chunk in pairs:
        for pair in chunk.split(","):
            if not pair.strip():
                continue
            key, sep, value = pair.partition("=")
            if not sep or not key.strip() or not value.strip():
                raise ValueError(f"{what} {pair!r}: expected key=value")
            out[key.strip()] = value.strip()
    return out


def parse_latency(pairs: Sequence[str]) -> dict[str, int]:
    """`source=ms` pairs (sources: chainlink, clob, gamma, ...) into integer offsets."""
    out = {}
    for key, value in parse_assignments(pairs, "--latency-ms").items():
        try:
            out[key] = int(value)
        except ValueError:
            raise ValueError(f"--latency-ms {key}={value!r}: not an integer") from None
    return out


def with_params(strategy: Strategy, params: Mapping[str, Any]) -> Strategy:
    """The strategy with parameters applied: `before_close_s` / `before_close_ms` set the entry
    timing, stop_loss / take_profit / trailing_stop the risk, anything else goes to `params`."""
    from strategies.params import check_params

    params = check_params(strategy, params)  # typed; ParamError names strategy, key and rule
    timing, risk = strategy.timing, strategy.risk
    if "before_close_s" in params:
        params["before_close_ms"] = int(float(params.pop("before_close_s")) * 1000)
    if "before_close_ms" in params:
        timing = replace(timing, before_close_ms=int(params.pop("before_close_ms")))
    risk_values = {k: Decimal(str(params.pop(k))) for k in RISK_KEYS if k in params}
    if risk_values:
        risk = RiskParams(**{**{k: getattr(risk, k) for k in RISK_KEYS}, **risk_values})
    extra = {**strategy.params, **params}
    return replace(strategy, timing=timing, risk=risk, params=extra)


def shift_sources(items: list[Item], latency_ms: Mapping[str, int]) -> list[Item]:
    """Each event of source S delivered `latency_ms[S]` later, re-merged stably by time."""
    if not any(latency_ms.values()):
        return items
    shifted = []
    for ts, source, event in items:
        offset = latency_ms.get(source, 0)
        if offset:
            ts += offset
            event = event._replace(ts=ts) if hasattr(event, "_replace") else replace(event, ts=ts)
        shifted.append((ts, source, event))
    shifted.sort(key=lambda it: it[0])
    return shifted


def build_engine(strategy: Strategy, fill_model: str, run_id: str, balance: Decimal) -> Engine:
    controls = replay_controls(Mode.BACKTEST, [strategy], [strategy.name])
    config = EngineConfig(
        mode=Mode.BACKTEST,
        strategies=[strategy],
        run_id=run_id,
        controls=controls,
        balance_usd=balance,
        executor=make_executor(fill_model, balance),
    )
    return Engine(config)


def drive(
    engine: Engine,
    events: Sequence[Any],
    on_records: Callable[[list[Any]], None],
    progress: bool = False,
) -> None:
    """Feed `events` in order; hand each event's records to `on_records`."""
    process, records = engine.process, engine.records
    bar = _progress(len(events)) if progress and len(events) >= PROGRESS_MIN_EVENTS else None
    step = max(len(events) // 200, 1)
    for i, event in enumerate(events):
        process(event)
        if records:
            on_records(engine.take_records())
        if bar is not None and i % step == 0:
            bar[0].update(bar[1], completed=i)
    if bar is not None:
        bar[0].update(bar[1], completed=len(events))
        bar[0].stop()


def _progress(total: int):
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(
        TextColumn("replay"),
        BarColumn(),
        TextColumn("{task.completed:,} events"),
        TimeRemainingColumn(),
    )
    bar.start()
    return bar, bar.add_task("replay", total=total)


def run_backtest(
    strategy: str | Strategy,
    dataset: Dataset,
    *,
    fill_model: str = "book",
    latency_ms: Mapping[str, int] | None = None,
    params: Mapping[str, Any] | None = None,
    balance: Decimal = Decimal("100"),
    conn: Any = None,
    run_id: str | None = None,
    progress: bool = False,
) -> BacktestResult:
    """Backtest `strategy` (a name or a Strategy) over `dataset`; see the module docstring."""
    base = get_strategy(strategy) if isinstance(strategy, str) else strategy
    chosen = with_params(base, params or {})
    latency = dict(latency_ms or {})
    run_id = run_id or f"bt-{uuid.uuid4().hex[:12]}"
    engine = build_engine(chosen, fill_model, run_id, balance)
    recorded = Recorded()
    sink = _open_sink(conn, run_id, chosen, params or {}, dataset, fill_model, latency)
    on_records = recorded.add if sink is None else _tee(recorded.add, sink)
    events = [event for _, _, event in shift_sources(dataset.items, latency)]
    drive(engine, events, on_records, progress)
    result = BacktestResult.build(
        run_id, chosen, dict(params or {}), dataset, recorded, fill_model, latency, balance
    )
    result.events = len(events)
    if sink is not None:
        sink.finish(result.summary, data_from_ms=dataset.start_ms, data_to_ms=dataset.end_ms)
        from research.trials import log_trial, trial_metrics

        # every stored backtest is a trial of the strategy it evaluated (issue 17)
        log_trial(conn, kind="event", strategy=chosen.name, params=dict(params or {}),
                  data_from_ms=dataset.start_ms, data_to_ms=dataset.end_ms,
                  metrics=trial_metrics(result), run_id=run_id)  # fmt: skip
    return result


def _tee(first: Callable[[list[Any]], None], sink: Any) -> Callable[[list[Any]], None]:
    def both(batch: list[Any]) -> None:
        first(batch)
        sink.extend(batch)
        sink.flush_if_full()

    return both


def _open_sink(conn, run_id, strategy, params, dataset, fill_model, latency):
    if conn is None:
        return None
    from psycopg.types.json import Jsonb

    from live.store.sink import Sink

    sink = Sink(conn, run_id)
    assets = sorted({w.asset for w in dataset.windows.values()})
    sink.open_run(
        kind="backtest",
        mode=Mode.BACKTEST,
        strategy=strategy.name,
        params=dict(params),
        assets=assets,
        fill_model=fill_model,
    )
    with conn.transaction():
        conn.execute(
            "UPDATE backtest_runs SET latency_ms = %s WHERE run_id = %s", (Jsonb(latency), run_id)
        )
    return sink
