"""`updown cache prune | ls`: the research cache of raw rows under $UPDOWN_HOME/cache
(research.cache), size-capped by $UPDOWN_CACHE_MAX_MB."""

from __future__ import annotations

import typer

from updown.commands._common import fail

cache_app = typer.Typer(help="The research data cache (Parquet under $UPDOWN_HOME/cache).",
                        no_args_is_help=True)  # fmt: skip


@cache_app.command("prune")
def prune_cmd(
    max_mb: float = typer.Option(
        None,
        metavar="MB",
        help="Keep at most MB megabytes (default: $UPDOWN_CACHE_MAX_MB or 2048).",
    ),
) -> None:
    """Delete the least recently used cache files until the cache fits the cap (0: empty it)."""
    from research import cache

    if max_mb is not None and (max_mb < 0 or max_mb != max_mb):
        fail(f"--max-mb {max_mb}: must be a number of megabytes >= 0")
    try:
        limit = cache.max_bytes() if max_mb is None else int(max_mb * 1024 * 1024)
    except ValueError as exc:
        fail(str(exc))
    done = cache.prune(limit)
    left = f"{done.kept} files, {done.size / 1e6:.1f} MB left in {cache.cache_dir()}"
    typer.echo(f"removed {done.removed} files ({done.freed / 1e6:.1f} MB); {left}")


def register(app: typer.Typer) -> None:
    app.add_typer(cache_app, name="cache")
