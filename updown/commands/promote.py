"""`updown promote STRATEGY --to paper|live` and `updown promote --status` (DESIGN §9)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from live.promotion import status as promotion
from live.store import db
from research import gate
from updown.commands._common import fail


class Target(StrEnum):
    PAPER = "paper"
    LIVE = "live"


def _print_result(result: gate.GateResult) -> None:
    typer.echo(f"promote {result.strategy} --to {result.target} ({result.file_path})")
    for check in result.checks:
        typer.echo(f"  {'PASS' if check.ok else 'FAIL'}  {check.name}: {check.evidence}")


def _print_status(repo: Path) -> None:
    with db.connect() as conn:
        rows = promotion.list_promotions(conn, repo)
    if not rows:
        typer.echo("no promotions recorded")
        return
    for s in rows:
        state = "VALID" if s.valid else "INVALID"
        typer.echo(
            f"#{s.promotion_id} {s.promoted_at:%Y-%m-%d %H:%M:%S%z} {s.strategy} -> {s.target} "
            f"{state}: {s.reason} (file {s.file_path} sha256 {s.promoted_sha256[:12]}, "
            f"commit {s.git_commit[:12]})"
        )


def promote(
    strategy: str | None = typer.Argument(None, help="Strategy name or alias."),
    to: Target | None = typer.Option(
        None, "--to", metavar="[paper|live]", help="The rung to promote to."
    ),
    status: bool = typer.Option(False, "--status", help="List promotions and their validity."),
    repo: Path = typer.Option(
        Path("."),
        "--repo",
        metavar="DIR",
        help="Repository root holding preregistrations/<strategy>.yaml.",
    ),
) -> None:
    """Check the evidence against the pre-registration; record a promotion if every check
    passes (exit 0), else exit 1. With --status, list promotions and whether each is valid."""
    repo = repo.resolve()
    if status:
        _print_status(repo)
        return
    if strategy is None or to is None:
        fail("give STRATEGY and --to paper|live, or --status")
    with db.connect() as conn:
        result = gate.evaluate(conn, repo, strategy, str(to))
        _print_result(result)
        if not result.passed:
            failed = ", ".join(c.name for c in result.checks if not c.ok)
            typer.echo(f"NOT PROMOTED: failed {failed}", err=True)
            raise typer.Exit(1)
        promotion_id = gate.record(conn, result)
    typer.echo(
        f"PROMOTED {result.strategy} to {result.target}: promotion #{promotion_id} bound to "
        f"sha256 {result.file_sha256[:12]} at commit {result.git_commit[:12]}"
    )


def register(app: typer.Typer) -> None:
    app.command("promote")(promote)
