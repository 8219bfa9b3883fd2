"""No traceback for any pre-registration: YAML generated from the project's real files
(preregistrations/*.yaml) with values replaced at any depth, keys removed or added, lines dropped,
duplicated or cut, and arbitrary text. Each parses into a Preregistration or is refused with a
PreregError whose every problem names a line inside the file and a field; a parsed one's sample
size is computed or refused with SampleSizeError. `updown prereg check` and `prereg new` print
one `error:` line (or their result) and exit 0 or 2, and a refused `new` writes nothing.
Budgets: tests/fuzz_kit.py."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import yaml
from fuzz_kit import JSON, deep_mutated, fuzz, mutated, tally
from hypothesis import example, given
from hypothesis import strategies as st
from typer.testing import CliRunner

from research import prereg
from research.prereg_schema import Preregistration
from updown.cli import app

REPO = Path(__file__).resolve().parents[1]
TEXTS = [p.read_text() for p in sorted((REPO / "preregistrations").glob("*.yaml"))]
# as JSON-able values (an evidence date becomes its ISO string), which the mutators copy through
DOCS = [json.loads(json.dumps(yaml.safe_load(t), default=str)) for t in TEXTS]
VALUES = st.one_of(JSON, st.sampled_from([0, 1, -1, 0.5, 1.5, 1e308, "2026-13-45", "2026-06-08",
                                          "sprt", "ev", "win_rate", [], {}, None]))  # fmt: skip


@st.composite
def line_edits(draw) -> str:
    """A real file with a few lines dropped, repeated, cut or replaced by any text."""
    lines = draw(st.sampled_from(TEXTS)).splitlines()
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(lines) - 1))
        edit = draw(st.sampled_from(["drop", "repeat", "cut", "replace", "indent"]))
        if edit == "drop":
            del lines[i]
        elif edit == "repeat":
            lines.insert(i, lines[i])
        elif edit == "cut":
            lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
        elif edit == "replace":
            lines[i] = draw(st.text(max_size=30))
        else:
            lines[i] = "  " + lines[i]
        if not lines:
            break
    return "\n".join(lines)


TEXT = st.one_of(
    st.sampled_from(DOCS).flatmap(lambda d: deep_mutated(d, VALUES)).map(yaml.safe_dump),
    st.sampled_from(DOCS).flatmap(lambda d: mutated(d, VALUES)).map(yaml.safe_dump),
    line_edits(),
    st.text(max_size=80),
    st.sampled_from(["", "---", "- a", "a: &x [*x]", "a: !!python/object:os.system {}",
                     "&a [*a, *a]", "{{{{", "strategy: x\nstrategy: y"]),
)  # fmt: skip


@fuzz(sample=150, campaign=10_000)
@given(text=TEXT)
@example("\x1f")  # crashed: the YAML reader's ReaderError escaped
def test_a_file_validates_or_every_problem_names_its_line_and_field(text):
    tally("prereg yaml")
    try:
        doc = prereg.parse(text, "fuzz.yaml")
    except prereg.PreregError as exc:
        assert exc.problems
        lines = max(1, text.count("\n") + 1)
        for p in exc.problems:
            assert 1 <= p.line <= lines + 1 and p.field and p.message, p
        return
    assert isinstance(doc, Preregistration)
    try:
        assert prereg.computed_sample_size(doc) > 0
    except prereg.SampleSizeError as exc:
        assert str(exc)


@fuzz(sample=20, campaign=1_500)
@given(text=TEXT)
@example("strategy: x\x1f")
def test_prereg_check_command(tmp_path, text):
    tally("updown prereg check")
    path = tmp_path / "always-trade-canary.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    result = CliRunner().invoke(app, ["prereg", "check", str(path)])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert result.exit_code in (0, 2) and "Traceback" not in result.output


NUMBER = st.one_of(
    st.sampled_from(["0.5", "0.05", "0.8", "0.1", "1.5", "0", "-1", "nan", "inf", "1e-300", "x"]),
    st.floats().map(repr),
)


@fuzz(sample=20, campaign=1_500)
@given(metric=st.sampled_from(["win_rate", "ev", "x"]), baseline=NUMBER, effect=NUMBER,
       alpha=NUMBER, power=NUMBER, sd=st.one_of(st.none(), NUMBER),
       rule=st.sampled_from(["fixed_n", "sprt", "x"]))  # fmt: skip
def test_prereg_new_command(tmp_path, metric, baseline, effect, alpha, power, sd, rule):
    tally("updown prereg new")
    out = tmp_path / uuid.uuid4().hex  # a fresh directory per input
    args = ["prereg", "new", "fuzzed", "--metric", metric, "--baseline", baseline,
            "--effect", effect, "--alpha", alpha, "--power", power, "--rule", rule,
            "--dir", str(out), "--force"]  # fmt: skip
    result = CliRunner().invoke(app, args + ([] if sd is None else ["--sd", sd]))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert result.exit_code in (0, 2) and "Traceback" not in result.output
    written = sorted(p.name for p in out.glob("*")) if out.exists() else []
    if result.exit_code == 0:
        assert written == ["fuzzed.yaml"]
        prereg.load(out / "fuzzed.yaml")  # what it writes, it reads back
    else:
        assert written == []
