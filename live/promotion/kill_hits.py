"""The record of a kill-criterion hit (table `kill_criterion_hits`, migration 007): which criterion,
its threshold and the measured value, over how many settled trades, and the sentence rendered from
them (audit.kill_sentence). The runner writes it in the transaction that disables the strategy
(live/runner/strategy_gate.py), so a disabled strategy always says why."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from live.kernel.audit import kill_sentence
from live.promotion.kill_criteria import KillVerdict


def hit_inputs(strategy: str, verdict: KillVerdict) -> dict[str, Any]:
    """What a hit's sentence is rendered from (stored as the row's columns and `inputs`)."""
    return {
        "strategy": strategy,
        "criterion": verdict.kind,
        "threshold": None if verdict.threshold is None else str(verdict.threshold),
        "measured": None if verdict.measured is None else str(verdict.measured),
        "n": verdict.n,
        "detail": verdict.detail,
        **{
            k: v if isinstance(v, int) else str(v)
            for k, v in verdict.extra.items()
            if v is not None
        },
    }


def record_kill_hit(
    conn: psycopg.Connection,
    strategy: str,
    verdict: KillVerdict,
    mode: str | None,
    run_id: str | None,
) -> str:
    """Insert the hit's row (not committed: the caller's transaction); returns its sentence."""
    inputs = hit_inputs(strategy, verdict)
    sentence = kill_sentence(inputs)
    conn.execute(
        """INSERT INTO kill_criterion_hits
               (strategy, mode, run_id, criterion, threshold, measured, n, inputs, audit)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)""",
        (
            strategy,
            mode,
            run_id,
            verdict.kind,
            verdict.threshold,
            verdict.measured,
            verdict.n,
            Jsonb(inputs),
            sentence,
        ),
    )
    return sentence
