"""`updown cache prune [--max-mb N] [--dry-run]`: the research cache of parsed market rows under
$UPDOWN_HOME/cache (research.cache), size-capped by $UPDOWN_CACHE_MAX_MB (default 2048)."""

from __future__ import annotations

from datetime import UTC, datetime

import typer

from updown.commands._common import fail

cache_app = typer.Typer(help="The research data cache (Parquet under $UPDOWN_HOME/cache).",
                        no_args_is_help=True)  # fmt: skip


@cache_app.command("prune")
def prune_cmd(
    max_mb: str = typer.Option(
        None,
        metavar="MB",
        help="Keep at most MB megabytes (2^20 bytes; 0 empties the cache). "
        "Default: $UPDOWN_CACHE_MAX_MB or 2048.",
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Only list what would be removed; delete nothing."
    ),
) -> None:
    """Delete the least recently used cache files until the cache fits the cap; print each
    file removed with its size and last use, then the totals."""
    from research import cache

    try:
        limit = cache.max_bytes() if max_mb is None else cache.mb_to_bytes(max_mb)
    except ValueError as exc:
        fail(str(exc) if max_mb is None else f"--max-mb {max_mb!r}: {exc}")
    done = cache.prune(limit, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    for f in done.removed:
        used = datetime.fromtimestamp(f.used, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        typer.echo(f"{verb} {f.path.name}  {_mb(f.size)}  last used {used}")
    left = "would be left" if dry_run else "left"
    typer.echo(
        f"{verb} {_files(len(done.removed))} ({_mb(done.freed)}); {_files(done.kept)}, "
        f"{_mb(done.size)} {left} in {cache.cache_dir()} (cap {_mb(limit)})"
    )


def _mb(size: int) -> str:
    from research.cache import MB

    return f"{size / MB:,.2f} MB"


def _files(n: int) -> str:
    return f"{n} file" if n == 1 else f"{n} files"


def register(app: typer.Typer) -> None:
    app.add_typer(cache_app, name="cache")
