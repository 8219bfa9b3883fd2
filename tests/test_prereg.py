"""Pre-registration schema, line-numbered errors, and `updown prereg new | check`."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from live.promotion.kill_criteria import MaxDrawdownKill, SprtKill, load_kill_criterion
from research import prereg
from research.prereg_schema import Metric, Purpose
from updown.cli import app

REPO = Path(__file__).resolve().parents[1]
runner = CliRunner()
SPRT_KILL = "kind: sprt\n  alpha: 0.05\n  beta: 0.2"


def _text(**changes: str) -> str:
    """A valid win-rate pre-registration's YAML with some lines replaced."""
    text = prereg.render(prereg.draft("momo", Metric.WIN_RATE, 0.5, 0.05, entry_price=0.5))
    for old, new in changes.items():
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def _problem(text: str) -> prereg.Problem:
    with pytest.raises(prereg.PreregError) as info:
        prereg.parse(text, "momo.yaml")
    return info.value.problems[0]


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


def test_draft_renders_to_yaml_that_parses_back_identically():
    for draft in (
        prereg.draft("momo", Metric.WIN_RATE, 0.5, 0.05, entry_price=0.5),
        prereg.draft("ev-one", Metric.EV, 0.0, 0.05, pnl_sd=1.0, rule="sprt"),
    ):
        assert prereg.parse(prereg.render(draft)) == draft
        assert prereg.computed_sample_size(draft) == draft.required_sample_size


def test_canary_preregistration_validates_and_declares_a_loss_bound():
    path = REPO / "preregistrations" / "canary.yaml"
    canary = prereg.load(path)
    assert canary.strategy == "always-trade-canary" and "canary" in canary.aliases
    assert canary.purpose is Purpose.VERIFICATION
    assert prereg.computed_sample_size(canary) == canary.required_sample_size
    assert load_kill_criterion(path) == canary.kill() == MaxDrawdownKill(max_drawdown_usd=10)


def test_sprt_kill_takes_its_hypotheses_from_the_file():
    draft = prereg.draft("ev-one", Metric.EV, 0.0, 0.05, pnl_sd=1.0)
    assert draft.kill() == SprtKill("ev", 0.0, 0.05, 0.05, 0.2, 1.0)


def test_unknown_key_is_reported_with_its_line_and_field():
    text = _text(**{"  window: 5m": "  window: 5m\n  colour: red"})
    problem = _problem(text)
    assert (problem.line, problem.field) == (_line_of(text, "colour"), "instruments[0].colour")
    assert "Extra inputs" in problem.message


def test_out_of_range_number_is_reported_with_its_line_and_field():
    text = _text(**{"max_position_usd: 1": "max_position_usd: 9"})
    problem = _problem(text)
    assert problem.line == _line_of(text, "max_position_usd")
    assert problem.field == "risk.max_position_usd" and "less than or equal to 5" in problem.message


def test_cross_field_error_points_at_the_offending_field():
    text = _text(**{"pnl_sd: null": "pnl_sd: 1.0"})
    problem = _problem(text)
    assert (problem.line, problem.field) == (_line_of(text, "pnl_sd"), "pnl_sd")
    assert "only used when metric is ev" in problem.message


def test_missing_field_is_named_at_its_parent():
    text = _text(**{"  max_session_loss_usd: 10\n": ""})
    problem = _problem(text)
    assert problem.field == "risk.max_session_loss_usd" and problem.line == _line_of(text, "risk:")
    assert "required" in problem.message.lower()


def test_kill_criterion_fields_are_checked_for_the_declared_kind():
    text = _text(**{"  beta: 0.2": "  beta: 0.2\n  max_losses: 3"})
    problem = _problem(text)
    assert problem.field == "kill_criterion.max_losses"
    text = _text(**{"kind: sprt": "kind: vibes"})
    assert _problem(text).field.startswith("kill_criterion")


def test_unordered_pnl_range_and_duplicate_keys_and_bad_yaml_are_errors():
    assert _problem(_text(**{"low_usd: -5": "low_usd: 6"})).field == "expected_pnl_per_10_windows"
    dup = _text(**{"version: 1": "version: 1\nversion: 2"})
    assert (_problem(dup).line, _problem(dup).message) == (
        _line_of(dup, "version: 2"),
        "duplicate key",
    )
    broken = _text(**{"version: 1": "version: [1"})
    assert _problem(broken).field == "(yaml)"


def test_verification_purpose_cannot_hide_an_edge_test_or_a_big_position():
    text = _text(**{"purpose: edge": "purpose: verification"})
    assert _problem(text).field == "kill_criterion"
    text = _text(
        **{
            "purpose: edge": "purpose: verification",
            SPRT_KILL: "kind: max_consecutive_losses\n  max_losses: 5",
            "max_position_usd: 1": "max_position_usd: 2",
        }
    )
    assert _problem(text).field == "risk.max_position_usd"


def test_sequential_rule_requires_an_sprt_kill_criterion():
    text = _text(
        **{
            "significance_rule: fixed_n": "significance_rule: sprt",
            SPRT_KILL: "kind: max_drawdown\n  max_drawdown_usd: 5",
        }
    )
    assert _problem(text).field == "kill_criterion"


def test_file_name_must_match_the_strategy(tmp_path):
    path = tmp_path / "other.yaml"
    path.write_text(_text())
    with pytest.raises(prereg.PreregError, match="must match file other.yaml"):
        prereg.load(path)


# ---------------------------------------------------------------- CLI


def test_prereg_new_writes_the_computed_sample_size_and_refuses_to_overwrite(tmp_path):
    args = [
        "prereg",
        "new",
        "momo",
        "--metric",
        "win_rate",
        "--entry-price",
        "0.5",
        "--baseline",
        "0.5",
    ]
    args += ["--effect", "0.05", "--dir", str(tmp_path)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    written = prereg.load(tmp_path / "momo.yaml")
    assert written.required_sample_size == prereg.computed_sample_size(written) == 620
    again = runner.invoke(app, args)
    assert again.exit_code == 2 and "--force" in again.output
    forced = runner.invoke(app, [*args, "--force", "--alpha", "0.01"])
    assert forced.exit_code == 0
    assert prereg.load(tmp_path / "momo.yaml").alpha == 0.01


def test_prereg_new_for_ev_requires_sd(tmp_path):
    args = ["prereg", "new", "evs", "--metric", "ev", "--baseline", "0", "--effect", "0.05"]
    result = runner.invoke(app, [*args, "--dir", str(tmp_path)])
    assert result.exit_code == 2 and "--sd" in result.output
    ok = runner.invoke(app, [*args, "--sd", "1", "--dir", str(tmp_path)])
    assert ok.exit_code == 0 and prereg.load(tmp_path / "evs.yaml").required_sample_size == 2475


def test_prereg_check_passes_a_valid_file(tmp_path):
    path = tmp_path / "momo.yaml"
    path.write_text(_text())
    result = runner.invoke(app, ["prereg", "check", str(path)])
    assert result.exit_code == 0 and "ok" in result.output


def test_prereg_check_names_both_numbers_when_the_sample_size_is_wrong(tmp_path):
    path = tmp_path / "momo.yaml"
    path.write_text(_text(**{"required_sample_size: 620": "required_sample_size: 400"}))
    result = runner.invoke(app, ["prereg", "check", str(path)])
    assert result.exit_code == 2
    assert "400" in result.output and "620" in result.output


def test_prereg_check_reports_line_and_field_of_an_invalid_file(tmp_path):
    path = tmp_path / "momo.yaml"
    text = _text(**{"alpha: 0.05\n": "alpha: 0.5\n"})
    path.write_text(text)
    result = runner.invoke(app, ["prereg", "check", str(path)])
    assert result.exit_code == 2
    assert f"momo.yaml:{_line_of(text, 'alpha: 0.5')}: alpha:" in result.output


# ---------------------------------------------------------------- CLI: bad input, one line, exit 2

WIN_RATE = ["--metric", "win_rate", "--entry-price", "0.5", "--baseline", "0.5", "--effect", "0.05"]
EV = ["--metric", "ev", "--baseline", "0", "--effect", "0.05", "--sd", "1"]
NO_SAMPLE_SIZE = "leave the power calculation without a sample size up to 1000000 trades"


def _with(args: list[str], **flags: str) -> list[str]:
    """`args` with some flags' values replaced (or added), e.g. _with(WIN_RATE, baseline="1.5")."""
    out = list(args)
    for name, value in flags.items():
        flag = f"--{name}"
        if flag in out:
            out[out.index(flag) + 1] = value
        else:
            out += [flag, value]
    return out


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (_with(WIN_RATE, baseline="1.5"), "--baseline must be a win rate in (0, 1)"),
        (_with(WIN_RATE, baseline="nan"), "--baseline must be a win rate in (0, 1)"),
        (_with(EV, baseline="9"), "--baseline must be in [-5, 5], got 9"),
        (_with(WIN_RATE, effect="0.6"), "--effect must be below 1 - baseline = 0.5"),
        (_with(WIN_RATE, effect="-0.1"), "--effect must be in (0, 5], got -0.1"),
        (_with(WIN_RATE, alpha="0.5"), "--alpha must be in (0, 0.2], got 0.5"),
        (_with(WIN_RATE, power="1.5"), "--power must be in [0.5, 0.99], got 1.5"),
        (_with(WIN_RATE, sd="1"), "--sd is only used with metric ev"),
        (_with(EV, sd="-1"), "--sd must be in (0, 10], got -1"),
        (_with(WIN_RATE, alpha="1e-300"), f"--effect/--alpha/--power {NO_SAMPLE_SIZE}"),
        (_with(WIN_RATE, effect="1e-9"), f"--effect/--alpha/--power {NO_SAMPLE_SIZE}"),
        (_with(EV, effect="1e-6"), "--effect/--alpha/--power/--sd ask for more than 1000000"),
    ],
)
def test_prereg_new_names_the_flag_and_its_range_and_writes_nothing(tmp_path, args, expected):
    result = runner.invoke(app, ["prereg", "new", "momo", *args, "--dir", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {expected}"), result.output
    assert "p0" not in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_prereg_new_refuses_a_strategy_name_that_is_not_a_file_name(tmp_path):
    result = runner.invoke(app, ["prereg", "new", "../Momo", *WIN_RATE, "--dir", str(tmp_path)])
    assert result.exit_code == 2
    assert result.output.strip().startswith("error: STRATEGY must be 1-64 lower-case letters")
    assert list(tmp_path.iterdir()) == [] and not (tmp_path.parent / "Momo.yaml").exists()


def test_prereg_new_into_a_dir_that_is_a_file_says_so(tmp_path):
    taken = tmp_path / "taken"
    taken.write_text("")
    result = runner.invoke(app, ["prereg", "new", "momo", *WIN_RATE, "--dir", str(taken)])
    assert result.exit_code == 2
    assert result.output.strip().startswith(f"error: --dir {taken}: cannot write")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"alpha: 0.05\n": "alpha: 1.0e-300\n"}, "required_sample_size cannot be checked"),
        ({"minimum_effect: 0.05": "minimum_effect: 1.0e-9"}, "required_sample_size cannot be"),
        ({"data_from: null": "data_from: 2024-13-45"}, "'2024-13-45' is not a date"),
        ({"strategy: momo": "strategy: " + "[" * 3000 + "]" * 3000}, "nested too deeply"),
        ({"strategy: momo": "? [a, b]\n: 1\nstrategy: momo"}, "found unhashable key"),
    ],
)
def test_prereg_check_refuses_malformed_files_without_a_traceback(tmp_path, change, expected):
    path = tmp_path / "momo.yaml"
    path.write_text(_text(**change))
    result = runner.invoke(app, ["prereg", "check", str(path)])
    assert result.exit_code == 2 and expected in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_prereg_check_names_the_line_of_bytes_that_are_not_utf8(tmp_path):
    path = tmp_path / "momo.yaml"
    path.write_bytes(_text().encode().replace(b"h0: ", b"h0: \xff"))
    result = runner.invoke(app, ["prereg", "check", str(path)])
    line = _line_of(_text(), "h0: ")
    assert result.exit_code == 2
    assert f"momo.yaml:{line}: (file): not UTF-8 text" in result.output


def test_prereg_check_of_a_directory_says_it_is_not_a_file(tmp_path):
    result = runner.invoke(app, ["prereg", "check", str(tmp_path)])
    assert result.exit_code == 2 and "is not a file" in result.output
