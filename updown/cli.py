"""The `updown` command: a thin composition root. COMMANDS names every top-level command and the
module in updown/commands/ whose `register(app)` defines it; a module is imported only when its
command is run or its help is asked for (updown/lazy.py), so the operator's commands start fast.
"""

from __future__ import annotations

import sys

import typer

from updown import fast_paths
from updown.lazy import CommandEntry, LazyGroup

COMMANDS: tuple[CommandEntry, ...] = (
    # the main job (research + dashboard extras), then the operator's commands (core install)
    CommandEntry(
        "demo", "demo", "The main job: database, sandbox, live runner, dashboard.",
        ("updown demo", "updown demo --duration 600 --no-dashboard"),
    ),
    CommandEntry(
        "sandbox", "sandbox", "Serve the local Polymarket stand-in (Gamma, CLOB, WS).",
        ("updown sandbox", "updown sandbox --port 0 --seed 7 --assets BTC,ETH --window-seconds 60"),
    ),
    CommandEntry(
        "run", "run", "Run the shared live runner (live, paper or dry-run).",
        (
            "updown run --mode paper --venue sandbox --sandbox-url http://127.0.0.1:8701",
            "updown run --mode dry-run --venue polymarket --strategies canary --duration 600",
            "POLYMARKET_PRIVATE_KEY=0x... updown run --mode live --venue polymarket "
            "--copies paper,dry-run",
        ),
    ),
    CommandEntry("status", "status", "Print a running runner's health (exit 1 if unreachable)."),
    CommandEntry(
        "control", "control", "Runtime controls and the kill switch.",
        (
            "updown control pause            # the kill switch: no new entries",
            "updown control emergency        # cancel everything, exit everything, pause",
            "updown control set max_position_usd 2.50 --by alice",
            "updown control show",
        ),
    ),
    CommandEntry("db", "db", "The PostgreSQL store: migrations and connection."),
    CommandEntry(
        "drill", "drill", "Crash, hand-over and database-outage drills of the runner (sandbox).",
        (
            "updown drill crash --runs 100",
            "updown drill handover --starts 50",
            "updown drill db-outage --seconds 30",
        ),
    ),
    CommandEntry("replay", "replay", "Replay journal files through the engine."),
    CommandEntry("convert", "convert", "Convert a public data file into a journal."),
    # research and reporting: the research extra (dashboard: the dashboard extra)
    CommandEntry("data", "data", "Recorded market data: import, export, list."),
    CommandEntry(
        "backtest", "backtest", "Backtest a strategy over recorded data (live engine).",
        (
            "updown backtest canary --from 2026-06-08 --assets BTC --out runs/canary",
            "updown backtest canary --from 2025-12-26 --to 2026-06-08 --fill-model conservative",
            "updown backtest canary --data day.jsonl.gz --latency-ms chainlink=250,clob=80",
            "updown backtest canary --from 2026-06-08 --param before_close_s=60 --check-lookahead",
            "updown backtest --signal-replay SESSION",
        ),
    ),
    CommandEntry(
        "sweep", "sweep", "Parameter sweeps: a fast screen and event-driven grids.",
        (
            "updown sweep screen canary --from 2026-06-08 --offsets 30,60,120 --min-prices 0.6,0.7",
            "updown sweep grid canary --from 2026-06-08 --param before_close_s=30,60 --workers 2",
            "updown sweep ls",
            "updown sweep show SWEEP_ID --heatmap before_close_s,usd",
        ),
    ),
    CommandEntry("cache", "cache", "The research data cache: prune it to its size cap."),
    CommandEntry(
        "prereg", "prereg", "Pre-registration files: what must be true to go live.",
        (
            "updown prereg new momo --metric wins_vs_price --baseline 0 --effect 0.05 "
            "--price-low 0.3 --price-high 0.7 --fee-rate 0.02",
            "updown prereg check preregistrations/momo.yaml",
        ),
    ),
    CommandEntry(
        "promote", "promote", "Pass the promotion gate to paper or live; --status.",
        ("updown promote momo --to paper", "updown promote --status"),
    ),
    CommandEntry("report", "report", "Papermill reports: daily summary, canary verification."),
    CommandEntry("dashboard", "dashboard", "Serve the Panel cockpit."),
    CommandEntry(
        "operator", "operator", "Dashboard operators: named logins with their own passwords.",
        ("updown operator add alice", "updown operator list"),
    ),
)  # fmt: skip


class UpdownGroup(LazyGroup):
    entries = COMMANDS


app = typer.Typer(
    name="updown",
    cls=UpdownGroup,
    help="Research-to-live trading for Polymarket's crypto Up-or-Down window markets.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain one-line usage errors, easy to read in logs and CI
)


@app.callback()
def _root() -> None:
    """Research-to-live trading for Polymarket's crypto Up-or-Down window markets."""


def main() -> None:
    """Console-script entry point. Usage errors exit 2 (typer/click convention). The operator's
    urgent commands in their plain forms take a shorter path (updown/fast_paths.py)."""
    try:
        code = fast_paths.run(sys.argv[1:])
        if code is not None:
            sys.exit(code)
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
