"""`updown prereg new | check`: write and verify pre-registration files (DESIGN §9)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import typer
from pydantic import ValidationError

from research import prereg
from research.prereg_schema import Metric, PriceModel, SignificanceRule
from updown.commands._common import fail

# The flag (or argument) that sets each schema field `prereg.draft` may refuse.
FLAGS = {
    "strategy": "STRATEGY",
    "baseline": "--baseline",
    "minimum_effect": "--effect",
    "alpha": "--alpha",
    "power": "--power",
    "pnl_sd": "--sd",
    "entry_price": "--entry-price",
    "price_model": "--price-low/--price-high",
}

prereg_app = typer.Typer(
    help="Pre-registration files: what must be true to go live.", no_args_is_help=True
)


@prereg_app.command("new")
def new(
    strategy: str = typer.Argument(..., help="Strategy name (the file is <dir>/<strategy>.yaml)."),
    metric: Metric = typer.Option(
        ...,
        "--metric",
        help="wins_vs_price (wins vs the exact Poisson-binomial of each price paid + fee), "
        "ev_per_dollar (net P&L per USD staked vs 0), ev (USD/trade), or win_rate (only when "
        "every entry is at one price: --entry-price).",
    ),
    baseline: float = typer.Option(..., "--baseline", help="H0 value: win rate, or USD/trade."),
    effect: float = typer.Option(..., "--effect", help="Minimum effect worth detecting."),
    alpha: float = typer.Option(0.05, "--alpha", help="One-sided significance level."),
    power: float = typer.Option(0.8, "--power", help="Power at the minimum effect."),
    sd: float | None = typer.Option(
        None, "--sd", help="Per-trade P&L sd: USD (ev) or per USD staked (ev_per_dollar)."
    ),
    entry_price: float | None = typer.Option(
        None, "--entry-price", help="win_rate only: the one price every entry pays (USD/share)."
    ),
    price_low: float | None = typer.Option(
        None, "--price-low", help="wins_vs_price: lowest entry price to simulate power at."
    ),
    price_high: float | None = typer.Option(
        None, "--price-high", help="wins_vs_price: highest entry price to simulate power at."
    ),
    fee_rate: float = typer.Option(0.0, "--fee-rate", help="wins_vs_price: venue fee rate."),
    rule: SignificanceRule = typer.Option(
        SignificanceRule.FIXED_N, "--rule", help="fixed_n or sprt."
    ),
    directory: Path = typer.Option(Path("preregistrations"), "--dir", help="Where to write."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write a pre-registration with the required sample size computed."""
    if metric in (Metric.EV, Metric.EV_PER_DOLLAR) and sd is None:
        fail(f"--sd (per-trade P&L standard deviation) is required for --metric {metric}")
    model = None
    if metric is Metric.WINS_VS_PRICE:
        if price_low is None or price_high is None:
            fail("--price-low and --price-high are required for --metric wins_vs_price")
        try:
            model = PriceModel(low=price_low, high=price_high, fee_rate=fee_rate)
        except ValidationError as exc:
            fail("--price-low/--price-high/--fee-rate: " + exc.errors()[0]["msg"])
    try:
        draft = prereg.draft(
            strategy, metric, baseline, effect, alpha, power, sd, rule, entry_price, model
        )
    except prereg.DraftError as exc:
        fail(f"{'/'.join(FLAGS[f] for f in exc.fields)} {exc.message}")
    except ValidationError as exc:
        fail("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))
    path = directory / f"{strategy}.yaml"
    if path.exists() and not force:
        fail(f"{path} exists; pass --force to overwrite it")
    staged = path.with_name(f".{path.name}.tmp")  # renamed into place: never a half file
    try:
        directory.mkdir(parents=True, exist_ok=True)
        staged.write_text(prereg.render(draft))
        staged.replace(path)
    except OSError as exc:
        with contextlib.suppress(OSError):  # nothing staged, or nowhere to stage it
            staged.unlink(missing_ok=True)
        fail(f"--dir {directory}: cannot write {path.name} ({exc.strerror or exc})")
    typer.echo(
        f"wrote {path}: required_sample_size={draft.required_sample_size} "
        f"({draft.sample_size_method}); edit hypotheses, risk, instruments, expected P&L "
        "and evidence, then commit it"
    )


@prereg_app.command("check")
def check(
    file: Path = typer.Argument(..., help="A preregistrations/<strategy>.yaml file."),
) -> None:
    """Validate a pre-registration and recompute its required sample size."""
    if not file.is_file():
        fail(f"{file} is not a file" if file.exists() else f"{file} not found")
    try:
        doc = prereg.load(file)
    except prereg.PreregError as exc:
        fail(f"{file} is invalid:\n{exc}")
    try:
        computed = prereg.computed_sample_size(doc)
    except prereg.SampleSizeError as exc:
        fail(f"{file}: required_sample_size cannot be checked: {exc}")
    if computed != doc.required_sample_size:
        fail(
            f"{file}: required_sample_size is {doc.required_sample_size} but the power "
            f"calculation ({doc.sample_size_method}, alpha={doc.alpha}, power={doc.power}) "
            f"gives {computed}"
        )
    typer.echo(
        f"{file}: ok (strategy {doc.strategy} v{doc.version}, metric {doc.metric}, "
        f"required_sample_size {computed}, kill criterion {doc.kill_criterion.kind})"
    )


def register(app: typer.Typer) -> None:
    app.add_typer(prereg_app, name="prereg")
