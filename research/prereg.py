"""Pre-registration files, `preregistrations/<strategy>.yaml` (DESIGN §9, spec Phase 3): read and
validate them with errors naming the YAML line and field, draft a new one with its sample size
computed, write one back as YAML, and the power calculation its `required_sample_size` must equal.
The schema itself (fields, bounds, cross-field checks) is research.prereg_schema.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from research import fair_price, stats
from research.prereg_schema import (
    STRATEGY_NAME,
    Metric,
    Preregistration,
    PriceModel,
    SampleSizeMethod,
    SignificanceRule,
)

# ---------------------------------------------------------------- sample size

MAX_SAMPLE_SIZE = stats.MAX_N  # the schema's bound on required_sample_size


class SampleSizeError(ValueError):
    """The power calculation has no finite answer (e.g. alpha or the effect far too small)."""


def required_sample_size(
    metric: Metric,
    method: SampleSizeMethod,
    baseline: float,
    effect: float,
    alpha: float,
    power: float,
    pnl_sd: float | None = None,
    price_model: PriceModel | None = None,
) -> int:
    """The power calculation a pre-registration's required_sample_size must equal (trades);
    raises SampleSizeError when it has no answer within MAX_SAMPLE_SIZE trades (for the
    simulated wins_vs_price power, within fair_price.MAX_SIM_N)."""
    if metric in (Metric.EV, Metric.EV_PER_DOLLAR) and pnl_sd is None:
        raise ValueError(f"metric {metric} needs pnl_sd")
    if metric is Metric.WINS_VS_PRICE:
        if price_model is None:
            raise ValueError("metric wins_vs_price needs a price_model")
        m = price_model
        try:
            return fair_price.wins_vs_price_sample_size(
                effect, alpha, power, m.low, m.high, m.fee_rate, m.n_sims, m.seed
            )
        except ValueError:
            raise SampleSizeError(
                f"no sample size up to {fair_price.MAX_SIM_N} trades reaches simulated power "
                f"{power:g} at alpha {alpha:g} for a win-probability edge of {effect:g}"
            ) from None
    try:
        return _power_calculation(metric, method, baseline, effect, alpha, power, pnl_sd)
    except (OverflowError, ValueError):  # an infinite n, or none found up to the bound
        raise SampleSizeError(
            f"no sample size up to {MAX_SAMPLE_SIZE} trades reaches power {power:g} at alpha "
            f"{alpha:g} for a minimum effect of {effect:g}"
        ) from None


def _power_calculation(metric, method, baseline, effect, alpha, power, pnl_sd) -> int:
    if metric is Metric.WIN_RATE:
        p1 = baseline + effect
        if method is SampleSizeMethod.EXACT_BINOMIAL:
            return stats.win_rate_sample_size_exact(baseline, p1, alpha, power)
        return stats.win_rate_sample_size_normal(baseline, p1, alpha, power)
    if method is SampleSizeMethod.T_TEST:
        return stats.ev_sample_size(effect, pnl_sd, alpha, power)
    return stats.ev_sample_size_normal(effect, pnl_sd, alpha, power)


def computed_sample_size(p: Preregistration) -> int:
    """Recompute the required sample size from the file's own declarations (SampleSizeError
    when the power calculation has no answer)."""
    return required_sample_size(
        p.metric,
        p.sample_size_method,
        p.baseline,
        p.minimum_effect,
        p.alpha,
        p.power,
        p.pnl_sd,
        p.price_model,
    )


# ---------------------------------------------------------------- loading with line numbers


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a file: its 1-based line, the field path, and what is wrong."""

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


def _duplicate_keys(node: yaml.Node, visited: set[int] | None = None) -> Iterator[Problem]:
    visited = set() if visited is None else visited
    if id(node) in visited:  # an alias: already walked (and it may refer to itself)
        return
    visited.add(id(node))
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):  # a complex key is refused when constructed
                if key.value in seen:
                    yield Problem(key.start_mark.line + 1, key.value, "duplicate key")
                seen.add(key.value)
            yield from _duplicate_keys(value, visited)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _duplicate_keys(item, visited)


class _Loader(yaml.SafeLoader):
    """The safe loader, with an impossible date (2024-13-45) refused at its line like any other
    YAML error instead of escaping as a bare ValueError."""

    def construct_yaml_timestamp(self, node):  # noqa: D102 - see the class
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError as exc:
            raise yaml.constructor.ConstructorError(
                None, None, f"{node.value!r} is not a date ({exc})", node.start_mark
            ) from None


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)


def parse(text: str, source: str = "<string>") -> Preregistration:
    """Validate pre-registration YAML text; raises PreregError naming line and field."""
    loader = None
    try:
        loader = _Loader(text)  # refuses control characters: a YAMLError like the rest
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
    except RecursionError:
        problem = Problem(1, "(yaml)", "nested too deeply (or an alias refers to itself)")
        raise PreregError(source, [problem]) from None
    finally:
        if loader is not None:
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
    text = _read(path)
    prereg = parse(text, str(path))
    if path.stem not in prereg.names:
        line, _ = _walk(yaml.compose(text), ("strategy",))
        problem = Problem(
            line, "strategy", f"{prereg.strategy!r} (or an alias) must match file {path.name}"
        )
        raise PreregError(str(path), [problem])
    return prereg


def _read(path: Path) -> str:
    """The file's text; PreregError (line 1, field `(file)`) if it cannot be read as UTF-8."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PreregError(str(path), [Problem(1, "(file)", exc.strerror or str(exc))]) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        problem = Problem(line, "(file)", f"not UTF-8 text (byte {exc.start}: {exc.reason})")
        raise PreregError(str(path), [problem]) from None


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
    entry_price: float | None = None,
    price_model: PriceModel | None = None,
) -> Preregistration:
    """A complete, valid pre-registration with the sample size computed; the author then edits
    hypotheses, risk, instruments, expected P&L and evidence before committing it. Raises
    DraftError naming the argument's schema field and its allowed range. `entry_price` is the
    one price a win_rate strategy pays; `price_model` the entry prices wins_vs_price simulates."""
    check_draft(strategy, metric, baseline, effect, alpha, power, pnl_sd)
    if metric is Metric.WIN_RATE and (
        entry_price is None or not entry_price <= baseline <= entry_price + 0.02
    ):
        raise DraftError(("baseline",), _WIN_RATE_DRAFT)
    if metric is Metric.WINS_VS_PRICE and price_model is None:
        raise DraftError(("price_model",), "is required for metric wins_vs_price")
    method = _DRAFT_METHOD[metric]
    unit = _UNIT[metric]
    n = _draft_sample_size(metric, method, baseline, effect, alpha, power, pnl_sd, price_model)
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
            "entry_price": entry_price,
            "price_model": price_model.model_dump() if price_model else None,
            "alpha": alpha,
            "power": power,
            "sample_size_method": method,
            "required_sample_size": n,
            "significance_rule": rule,
            "kill_criterion": (
                {"kind": "sprt", "alpha": alpha, "beta": round(1 - power, 6)}
                if metric in (Metric.WIN_RATE, Metric.EV)
                else {"kind": "max_drawdown", "max_drawdown_usd": 10}
            ),
            "overfitting": {"trial_budget": 20, "min_deflated_sharpe": 0.95},
            "risk": {"max_position_usd": 1, "max_session_loss_usd": 10},
            "instruments": [{"asset": "BTC", "window": "5m"}],
            "expected_pnl_per_10_windows": {"low_usd": -5, "high_usd": 5},
            "evidence": {"backtest_run_ids": []},
        }
    )


_WIN_RATE_DRAFT = (
    "a fixed win-rate baseline needs every entry at that price: pass --entry-price P with "
    "baseline in [P, P + 0.02], or use --metric wins_vs_price (exact Poisson-binomial against "
    "each entry's price + fee) or --metric ev_per_dollar"
)
_DRAFT_METHOD = {
    Metric.WIN_RATE: SampleSizeMethod.EXACT_BINOMIAL,
    Metric.EV: SampleSizeMethod.T_TEST,
    Metric.WINS_VS_PRICE: SampleSizeMethod.SIMULATION,
    Metric.EV_PER_DOLLAR: SampleSizeMethod.T_TEST,
}
_UNIT = {
    Metric.WIN_RATE: "win rate",
    Metric.EV: "mean net P&L per trade (USD)",
    Metric.WINS_VS_PRICE: "win probability minus the price paid + fee (per trade)",
    Metric.EV_PER_DOLLAR: "mean net P&L per USD staked",
}


class DraftError(ValueError):
    """An argument of `draft` that no pre-registration allows. `fields` are the schema fields at
    fault (strategy, baseline, minimum_effect, alpha, power, pnl_sd); `message` reads after
    their names ("must be in (0, 0.2], got 0.5")."""

    def __init__(self, fields: tuple[str, ...], message: str) -> None:
        self.fields, self.message = fields, message
        super().__init__(f"{'/'.join(fields)} {message}")


def check_draft(
    strategy: str,
    metric: Metric,
    baseline: float,
    effect: float,
    alpha: float,
    power: float,
    pnl_sd: float | None,
) -> None:
    """Check `draft`'s arguments against the schema's bounds and its rules per metric; raises
    DraftError for the first that fails (NaN and infinities fail every range)."""
    if len(strategy) > 64 or not re.fullmatch(STRATEGY_NAME, strategy):  # the schema's rule
        raise DraftError(
            ("strategy",),
            f"must be 1-64 lower-case letters, digits, _ or - (starting with a letter or digit),"
            f" got {strategy!r}",
        )
    if metric is Metric.WIN_RATE and not 0 < baseline < 1:
        raise DraftError(
            ("baseline",), f"must be a win rate in (0, 1) for metric win_rate, got {baseline}"
        )
    _within("baseline", baseline)
    _within("minimum_effect", effect)
    _within("alpha", alpha)
    _within("power", power)
    if metric is Metric.WIN_RATE and not baseline + effect < 1:
        raise DraftError(
            ("minimum_effect",),
            f"must be below 1 - baseline = {1 - baseline:g} for metric win_rate, got {effect}",
        )
    if metric is Metric.WIN_RATE and pnl_sd is not None:
        raise DraftError(("pnl_sd",), "is only used with metric ev")
    if metric in (Metric.EV, Metric.EV_PER_DOLLAR) and pnl_sd is None:
        raise DraftError(("pnl_sd",), f"is required for metric {metric} (per-trade P&L sd)")
    if metric is Metric.WINS_VS_PRICE and pnl_sd is not None:
        raise DraftError(("pnl_sd",), "is not used with metric wins_vs_price")
    if pnl_sd is not None:
        _within("pnl_sd", pnl_sd)


def _within(field: str, value: float) -> None:
    """DraftError unless `value` meets the schema's bounds (gt/ge/lt/le) on `field`."""
    low, high, ok = "(-inf", "inf)", value == value  # NaN is in no range
    for bound in Preregistration.model_fields[field].metadata:
        if getattr(bound, "gt", None) is not None:
            low, ok = f"({bound.gt:g}", ok and value > bound.gt
        elif getattr(bound, "ge", None) is not None:
            low, ok = f"[{bound.ge:g}", ok and value >= bound.ge
        elif getattr(bound, "lt", None) is not None:
            high, ok = f"{bound.lt:g})", ok and value < bound.lt
        elif getattr(bound, "le", None) is not None:
            high, ok = f"{bound.le:g}]", ok and value <= bound.le
    if not ok:
        raise DraftError((field,), f"must be in {low}, {high}, got {value:g}")


def _draft_sample_size(metric, method, baseline, effect, alpha, power, pnl_sd, model) -> int:
    fields = ("minimum_effect", "alpha", "power") + (("pnl_sd",) if pnl_sd is not None else ())
    given = f"effect {effect:g}, alpha {alpha:g}, power {power:g}"
    given += f", sd {pnl_sd:g}" if pnl_sd is not None else ""
    try:
        n = required_sample_size(metric, method, baseline, effect, alpha, power, pnl_sd, model)
    except SampleSizeError:
        raise DraftError(
            fields,
            f"leave the power calculation without a sample size up to {MAX_SAMPLE_SIZE} trades"
            f" ({given}): raise the effect or alpha, or lower the power",
        ) from None
    if n > MAX_SAMPLE_SIZE:
        raise DraftError(
            fields,
            f"ask for more than {MAX_SAMPLE_SIZE} trades ({given}): raise the effect or alpha,"
            " or lower the power",
        )
    return n


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
