"""Pre-registration files, `preregistrations/<strategy>.yaml` (DESIGN §9, spec Phase 3).

Before deployment the author declares what would count as an edge and when to stop: hypotheses,
metric, baseline, minimum effect, alpha, power, the required sample size, the kill criterion, risk,
instruments, the expected P&L per 10 windows and the evidence. The schema is strict (unknown keys,
out-of-range numbers and inconsistent fields are errors) and errors name the YAML line and field.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from live.promotion.kill_criteria import KillCriterion, criterion_from_prereg
from research import stats

STRATEGY_NAME = r"^[a-z0-9][a-z0-9_-]*$"  # the same rule as the allowed_strategies control


class Metric(StrEnum):
    WIN_RATE = "win_rate"
    EV = "ev"


class Purpose(StrEnum):
    EDGE = "edge"  # claims an edge: significance is tested before live scale-up
    VERIFICATION = "verification"  # the canary: proves the pipeline, claims no edge


class SampleSizeMethod(StrEnum):
    EXACT_BINOMIAL = "exact_binomial"
    NORMAL = "normal"
    T_TEST = "t_test"


class SignificanceRule(StrEnum):
    FIXED_N = "fixed_n"  # test once, on exactly the first required_sample_size trades
    SPRT = "sprt"  # Wald's SPRT of the kill criterion; crossing the upper bound is significance


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SprtCriterion(_Strict):
    kind: Literal["sprt"]
    alpha: float = Field(gt=0, le=0.2)
    beta: float = Field(gt=0, le=0.5)


class MaxDrawdownCriterion(_Strict):
    kind: Literal["max_drawdown"]
    max_drawdown_usd: Decimal = Field(gt=0, le=1000)


class MaxConsecutiveLossesCriterion(_Strict):
    kind: Literal["max_consecutive_losses"]
    max_losses: int = Field(ge=1, le=1000)


class MinWinRateAfterNCriterion(_Strict):
    kind: Literal["min_win_rate_after_n"]
    n: int = Field(ge=1, le=1_000_000)
    min_win_rate: float = Field(gt=0, lt=1)


KillCriterionSpec = Annotated[
    SprtCriterion
    | MaxDrawdownCriterion
    | MaxConsecutiveLossesCriterion
    | MinWinRateAfterNCriterion,
    Field(discriminator="kind"),
]


class Risk(_Strict):
    max_position_usd: Decimal = Field(gt=0, le=5)  # HARD_MAX_POSITION_USD
    max_session_loss_usd: Decimal = Field(gt=0, le=1000)
    stop_loss: float | None = Field(default=None, gt=0, lt=1)
    take_profit: float | None = Field(default=None, gt=0, le=10)
    max_entries_per_window: int = Field(default=1, ge=1, le=2)


class Instrument(_Strict):
    asset: Literal["BTC", "ETH", "SOL", "XRP"]
    window: Literal["5m", "15m"]


class PnlRange(_Strict):
    low_usd: Decimal = Field(ge=-1000, le=1000)
    high_usd: Decimal = Field(ge=-1000, le=1000)

    @model_validator(mode="after")
    def _ordered(self) -> PnlRange:
        if self.low_usd >= self.high_usd:
            raise ValueError(f"low_usd ({self.low_usd}) must be below high_usd ({self.high_usd})")
        return self


class Evidence(_Strict):
    backtest_run_ids: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=100
    )
    data_from: date | None = None
    data_to: date | None = None
    report_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")

    @model_validator(mode="after")
    def _range(self) -> Evidence:
        if (self.data_from is None) != (self.data_to is None):
            raise ValueError("data_from and data_to are given together or not at all")
        if self.data_from and self.data_to and self.data_from > self.data_to:
            raise ValueError(f"data_from {self.data_from} is after data_to {self.data_to}")
        return self


class Preregistration(_Strict):
    """One strategy's pre-registration, validated field by field and across fields."""

    strategy: str = Field(pattern=STRATEGY_NAME, max_length=64)
    aliases: list[Annotated[str, Field(pattern=STRATEGY_NAME, max_length=64)]] = Field(
        default_factory=list, max_length=8
    )
    version: int = Field(ge=1, le=10_000)
    purpose: Purpose
    h0: str = Field(min_length=5, max_length=2000)
    h1: str = Field(min_length=5, max_length=2000)
    metric: Metric
    baseline: float = Field(ge=-5, le=5)
    minimum_effect: float = Field(gt=0, le=5)
    pnl_sd: float | None = Field(default=None, gt=0, le=10)
    alpha: float = Field(gt=0, le=0.2)
    power: float = Field(ge=0.5, le=0.99)
    sample_size_method: SampleSizeMethod
    required_sample_size: int = Field(ge=1, le=1_000_000)
    significance_rule: SignificanceRule
    kill_criterion: KillCriterionSpec
    risk: Risk
    instruments: list[Instrument] = Field(min_length=1, max_length=8)
    expected_pnl_per_10_windows: PnlRange
    evidence: Evidence

    @model_validator(mode="after")
    def _consistent(self) -> Preregistration:
        for check in (_metric_fields, _rule_fields, _purpose_fields, _unique_instruments):
            check(self)
        return self

    @property
    def names(self) -> tuple[str, ...]:
        """The strategy's name and aliases, as positions and controls may spell it."""
        return (self.strategy, *self.aliases)

    def kill(self) -> KillCriterion:
        """The declared kill criterion in the runner's terms (live.promotion.kill_criteria)."""
        return criterion_from_prereg(self.model_dump(mode="json"))


def _fail(field: str, message: str) -> None:
    raise ValueError(f"{field}: {message}")


def _metric_fields(p: Preregistration) -> None:
    if p.metric is Metric.WIN_RATE:
        if not 0 < p.baseline < 1:
            _fail("baseline", f"a win rate must be in (0, 1), got {p.baseline}")
        if p.baseline + p.minimum_effect >= 1:
            _fail("minimum_effect", "baseline + minimum_effect must be below 1")
        if p.pnl_sd is not None:
            _fail("pnl_sd", "only used when metric is ev")
        if p.sample_size_method is SampleSizeMethod.T_TEST:
            _fail("sample_size_method", "t_test is for metric ev; use exact_binomial or normal")
    else:
        if p.pnl_sd is None:
            _fail("pnl_sd", "required when metric is ev (per-trade P&L standard deviation, USD)")
        if p.sample_size_method is SampleSizeMethod.EXACT_BINOMIAL:
            _fail("sample_size_method", "exact_binomial is for metric win_rate")


def _rule_fields(p: Preregistration) -> None:
    if p.significance_rule is SignificanceRule.SPRT and p.kill_criterion.kind != "sprt":
        _fail("kill_criterion", "significance_rule sprt needs kill_criterion kind sprt")


def _purpose_fields(p: Preregistration) -> None:
    if p.purpose is not Purpose.VERIFICATION:
        return
    if p.kill_criterion.kind == "sprt" or p.significance_rule is SignificanceRule.SPRT:
        _fail("kill_criterion", "a verification strategy claims no edge: declare a loss bound")
    if p.risk.max_position_usd > 1:
        _fail("risk.max_position_usd", "a verification strategy trades at most 1 USD")


def _unique_instruments(p: Preregistration) -> None:
    seen = [(i.asset, i.window) for i in p.instruments]
    if len(seen) != len(set(seen)):
        _fail("instruments", "each instrument may appear once")


# ---------------------------------------------------------------- sample size


def required_sample_size(
    metric: Metric,
    method: SampleSizeMethod,
    baseline: float,
    effect: float,
    alpha: float,
    power: float,
    pnl_sd: float | None = None,
) -> int:
    """The power calculation a pre-registration's required_sample_size must equal."""
    if metric is Metric.WIN_RATE:
        p1 = baseline + effect
        if method is SampleSizeMethod.EXACT_BINOMIAL:
            return stats.win_rate_sample_size_exact(baseline, p1, alpha, power)
        return stats.win_rate_sample_size_normal(baseline, p1, alpha, power)
    if pnl_sd is None:
        raise ValueError("metric ev needs pnl_sd")
    if method is SampleSizeMethod.T_TEST:
        return stats.ev_sample_size(effect, pnl_sd, alpha, power)
    return stats.ev_sample_size_normal(effect, pnl_sd, alpha, power)


def computed_sample_size(p: Preregistration) -> int:
    """Recompute the required sample size from the file's own declarations."""
    return required_sample_size(
        p.metric, p.sample_size_method, p.baseline, p.minimum_effect, p.alpha, p.power, p.pnl_sd
    )


# ---------------------------------------------------------------- loading with line numbers


@dataclass(frozen=True, slots=True)
class Problem:
    line: int
    field: str
    message: str


class PreregError(ValueError):
    """A pre-registration that does not parse or validate; each problem names line and field."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source, self.problems = source, problems
        super().__init__("\n".join(f"{source}:{p.line}: {p.field}: {p.message}" for p in problems))


def _walk(node: yaml.Node, loc: tuple[Any, ...]) -> tuple[int, str]:
    """The line of the deepest YAML node on `loc`, and the field path as the author wrote it."""
    line, path = node.start_mark.line + 1, []
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(node, yaml.MappingNode):
            found = next(((k, v) for k, v in node.value if k.value == str(part)), None)
            if found is None:
                if last:
                    path.append(str(part))
                continue  # a union tag pydantic adds (e.g. 'sprt'), or a missing key
            line, node = found[0].start_mark.line + 1, found[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                continue
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            continue
        path.append(f"[{part}]" if isinstance(part, int) else str(part))
    return line, ".".join(path).replace(".[", "[") or "(document)"


_FIELD_IN_MESSAGE = re.compile(r"^Value error, ([a-z_][a-z0-9_.]*): (.*)$", re.S)


def _problems(root: yaml.Node, exc: ValidationError) -> Iterator[Problem]:
    for err in exc.errors():
        loc, message = tuple(err["loc"]), err["msg"]
        m = _FIELD_IN_MESSAGE.match(message)
        if m:  # a cross-field check names its field: extend the location with it
            loc, message = loc + tuple(m[1].split(".")), m[2]
        line, field = _walk(root, loc)
        yield Problem(line, field, message.removeprefix("Value error, "))


def _duplicate_keys(node: yaml.Node) -> Iterator[Problem]:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if key.value in seen:
                yield Problem(key.start_mark.line + 1, key.value, "duplicate key")
            seen.add(key.value)
            yield from _duplicate_keys(value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _duplicate_keys(item)


def parse(text: str, source: str = "<string>") -> Preregistration:
    """Validate pre-registration YAML text; raises PreregError naming line and field."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            raise PreregError(source, [Problem(1, "(document)", "the file is empty")])
        dupes = list(_duplicate_keys(root))
        if dupes:
            raise PreregError(source, dupes)
        data = loader.construct_document(root)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        what = " ".join(
            filter(None, (getattr(exc, "context", None), getattr(exc, "problem", None)))
        )
        raise PreregError(source, [Problem(line, "(yaml)", what or str(exc))]) from exc
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise PreregError(source, [Problem(1, "(document)", "expected a mapping of fields")])
    try:
        return Preregistration.model_validate(data)
    except ValidationError as exc:
        raise PreregError(source, list(_problems(root, exc))) from exc


def load(path: Path) -> Preregistration:
    """Read and validate a pre-registration file; its `strategy` must match the file name."""
    path = Path(path)
    prereg = parse(path.read_text(), str(path))
    if path.stem not in prereg.names:
        line, _ = _walk(yaml.compose(path.read_text()), ("strategy",))
        problem = Problem(
            line, "strategy", f"{prereg.strategy!r} (or an alias) must match file {path.name}"
        )
        raise PreregError(str(path), [problem])
    return prereg


# ---------------------------------------------------------------- drafting a new file


def draft(
    strategy: str,
    metric: Metric,
    baseline: float,
    effect: float,
    alpha: float = 0.05,
    power: float = 0.8,
    pnl_sd: float | None = None,
    rule: SignificanceRule = SignificanceRule.FIXED_N,
) -> Preregistration:
    """A complete, valid pre-registration with the sample size computed; the author then edits
    hypotheses, risk, instruments, expected P&L and evidence before committing it."""
    method = (
        SampleSizeMethod.EXACT_BINOMIAL if metric is Metric.WIN_RATE else SampleSizeMethod.T_TEST
    )
    unit = "win rate" if metric is Metric.WIN_RATE else "mean net P&L per trade (USD)"
    n = required_sample_size(metric, method, baseline, effect, alpha, power, pnl_sd)
    return Preregistration.model_validate(
        {
            "strategy": strategy,
            "version": 1,
            "purpose": "edge",
            "h0": f"{unit} <= {baseline}: the strategy has no edge",
            "h1": f"{unit} >= {baseline + effect:g} (minimum effect {effect:g}), one-sided",
            "metric": metric,
            "baseline": baseline,
            "minimum_effect": effect,
            "pnl_sd": pnl_sd,
            "alpha": alpha,
            "power": power,
            "sample_size_method": method,
            "required_sample_size": n,
            "significance_rule": rule,
            "kill_criterion": {"kind": "sprt", "alpha": alpha, "beta": round(1 - power, 6)},
            "risk": {"max_position_usd": 1, "max_session_loss_usd": 10},
            "instruments": [{"asset": "BTC", "window": "5m"}],
            "expected_pnl_per_10_windows": {"low_usd": -5, "high_usd": 5},
            "evidence": {"backtest_run_ids": []},
        }
    )


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, StrEnum):
        return str(value)
    return value


def render(prereg: Preregistration) -> str:
    """The YAML text of a pre-registration, fields in schema order."""
    header = (
        f"# Pre-registration of {prereg.strategy} (DESIGN §9). Commit it before deployment;\n"
        "# editing it after promotion voids the promotion. Check: updown prereg check FILE\n"
    )
    body = yaml.safe_dump(
        _plain(prereg.model_dump(mode="python")), sort_keys=False, allow_unicode=True
    )
    return header + body
