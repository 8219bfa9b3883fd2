"""`updown report daily | canary`: papermill reports from notebooks/ into reports/ (.ipynb and
.html). The daily summary is also sent as a `daily_summary` alert; the canary report exits 1 if
any checklist item fails in any window (or no window was found)."""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import typer

from live.store import db
from updown.commands._common import fail

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
KERNEL = "python3"

report_app = typer.Typer(help="Papermill reports: daily summary, canary verification.",
                         no_args_is_help=True)  # fmt: skip


def _check_kernel() -> None:
    from jupyter_client.kernelspec import find_kernel_specs

    if KERNEL not in find_kernel_specs():
        fail(f"no Jupyter kernel '{KERNEL}': run `.venv/bin/python -m ipykernel install "
             "--sys-prefix --name python3`")  # fmt: skip


def run_notebook(name: str, out_stem: Path, parameters: dict) -> tuple[Path, Path, str | None]:
    """Execute notebooks/<name>.py with papermill into <out_stem>.ipynb and .html; the third
    value is the execution error, if a cell failed (the outputs are written either way)."""
    import jupytext
    import papermill
    from nbconvert import HTMLExporter

    _check_kernel()
    out_stem.parent.mkdir(parents=True, exist_ok=True)
    ipynb, html = out_stem.with_suffix(".ipynb"), out_stem.with_suffix(".html")
    error = None
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / f"{name}.ipynb"
        jupytext.write(jupytext.read(NOTEBOOKS / f"{name}.py"), source)
        try:
            papermill.execute_notebook(
                str(source), str(ipynb), parameters=parameters, kernel_name=KERNEL,
                cwd=str(REPO), progress_bar=False,
            )  # fmt: skip
        except papermill.PapermillExecutionError as exc:
            error = f"{exc.ename}: {exc.evalue}"
    body, _ = HTMLExporter(exclude_input=True).from_filename(str(ipynb))
    html.write_text(body, encoding="utf-8")
    return ipynb, html, error


def _pin_database() -> str:
    """Resolve the database once and hand it to the kernel through the environment (never as a
    notebook parameter, which would print it, password included, into the report)."""
    url = db.database_url()
    os.environ[db.ENV_URL] = url
    return url


@report_app.command("daily")
def daily_cmd(
    day: str = typer.Option(
        None, "--date", metavar="DAY", help="UTC day YYYY-MM-DD (default: yesterday)."
    ),
    out_dir: Path = typer.Option(REPO / "reports", metavar="DIR", help="Where it is written."),
    alert: bool = typer.Option(True, help="Also send the summary as a daily_summary alert."),
) -> None:
    """The daily summary: trades, P&L per strategy, assertions, breaker, uptime, gaps,
    settlements, as a papermill report and a daily_summary alert."""
    from live.alerts import alerter as alerts
    from live.reports import daily as reports

    now = datetime.now(UTC)
    try:
        the_day = date.fromisoformat(day) if day else (now - timedelta(days=1)).date()
    except ValueError:
        fail(f"--date must be YYYY-MM-DD, not {day!r}")
    url = _pin_database()
    params = {"day": the_day.isoformat(), "now": now.isoformat()}
    ipynb, html, error = run_notebook(
        "daily_summary", out_dir / f"daily_summary_{the_day.isoformat()}", params
    )
    if error:
        fail(f"the notebook failed ({error}); see {ipynb}")
    typer.echo(f"wrote {ipynb} and {html}")
    with db.connect(url) as conn:
        summary = reports.daily_summary(conn, the_day, now=now)
    typer.echo("\n".join(reports.summary_lines(summary)))
    if alert:
        stats = asyncio.run(alerts.send_once(url, reports.summary_alert(summary, str(html))))
        typer.echo(f"alert recorded={stats.recorded} delivered={stats.delivered} "
                   f"undelivered={stats.undelivered}")  # fmt: skip


@report_app.command("canary")
def canary_cmd(
    windows: int = typer.Option(
        2, min=1, max=1000, metavar="N", help="Window periods to verify (1b: 20)."
    ),
    mode: str = typer.Option(
        None, metavar="[LIVE|PAPER|DRY_RUN]", help="Engine mode (default: latest canary's)."
    ),
    run_id: str = typer.Option(None, metavar="ID", help="Only this runner session."),
    settle_grace_s: float = typer.Option(
        0, min=0, metavar="SECONDS", help="Skip windows closed more recently."
    ),
    out_dir: Path = typer.Option(REPO / "reports", metavar="DIR", help="Where it is written."),
) -> None:
    """The canary verification report: the 10-item checklist (plus runtime assertions) per
    window with evidence. Exits 1 if any item fails or no window was found."""
    if mode is not None and mode not in ("LIVE", "PAPER", "DRY_RUN"):
        fail(f"--mode must be LIVE, PAPER or DRY_RUN, not {mode!r}")
    _pin_database()
    now = datetime.now(UTC)
    stem = out_dir / f"canary_verification_{now:%Y%m%dT%H%M%SZ}"
    result = stem.with_suffix(".json")
    params = {"windows": windows, "mode": mode, "run_id": run_id, "now": now.isoformat(),
              "settle_grace_s": settle_grace_s, "result_path": str(result)}  # fmt: skip
    ipynb, html, error = run_notebook("canary_verification", stem, params)
    if error:
        fail(f"the notebook failed ({error}); see {ipynb}")
    verdict = json.loads(result.read_text())
    typer.echo(f"wrote {ipynb}, {html} and {result}")
    for slug, row in verdict["matrix"].items():
        typer.echo(f"{slug}: " + " ".join(f"{k}:{v}" for k, v in row.items()))
    for slug, why in verdict.get("skipped", []):
        typer.echo(f"SKIP {slug} (not traded): {why}")
    for slug, item, reason in verdict["failures"]:
        typer.echo(f"FAIL {slug} item {item}: {reason}")
    if not verdict["passed"]:
        typer.echo("canary verification FAILED" if verdict["windows"] else "no canary window")
        raise typer.Exit(1)
    typer.echo(f"canary verification PASSED over {len(verdict['windows'])} window(s)")


def register(app: typer.Typer) -> None:
    app.add_typer(report_app, name="report")
