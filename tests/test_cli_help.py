"""The CLI starts light and reads well: `updown --help`, `updown control …` and `updown status`
import neither the research stack nor the Polymarket SDK; every option has help text and shows
its value as a word; the main commands show examples; every command module is in the table."""

from __future__ import annotations

import json
import os
import pkgutil
import subprocess
import sys

import pytest
import typer
from typer import _click
from typer.testing import CliRunner

import updown.commands
from updown.cli import COMMANDS, app

HEAVY = ("pandas", "numpy", "scipy", "statsmodels", "polymarket", "panel", "pyarrow", "dask")
PROBE = """
import json, sys
sys.argv = ["updown", *sys.argv[1:]]
from updown.cli import main
try:
    main()
    code = 0
except SystemExit as exc:
    code = exc.code
heavy = sorted({m.split(".")[0] for m in sys.modules} & set(json.loads(sys.stdin.read())))
commands = sorted(m for m in sys.modules if m.startswith("updown.commands."))
print(json.dumps({"code": code, "heavy": heavy, "commands": commands}))
"""


def loaded_by(*args: str) -> dict:
    """Run `updown ARGS` in a fresh interpreter as the console script does (updown.cli.main);
    which heavy packages and command modules it imported, and its exit code."""
    env = {**os.environ, "UPDOWN_DATABASE_URL": "postgresql://x@127.0.0.1:1/x"}
    out = subprocess.run(
        [sys.executable, "-c", PROBE, *args], input=json.dumps(HEAVY), env=env,
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("args", [["--help"], [], ["nosuch"], ["contrl", "pause"]])
def test_top_level_help_imports_no_command_module(args):
    seen = loaded_by(*args)
    assert seen["heavy"] == [] and seen["commands"] == []


@pytest.mark.parametrize(
    "args, module",
    [
        (["control", "--help"], "control"),
        (["control", "pause", "--help"], "control"),
        (["status", "--url", "http://127.0.0.1:1/health"], "status"),
        (["status", "--url=http://127.0.0.1:1/health"], "status"),
        (["control", "show"], "control"),
        (["control", "pause"], "control"),
        (["db", "url"], "db"),
        (["run", "--help"], "run"),
        (["sandbox", "--help"], "sandbox"),
    ],
)
def test_operator_commands_import_only_their_own_module_and_nothing_heavy(args, module):
    seen = loaded_by(*args)
    assert seen["heavy"] == []
    own = f"updown.commands.{module}"
    assert own in seen["commands"]
    assert set(seen["commands"]) <= {own, "updown.commands._common"}


def test_every_command_module_is_in_the_table():
    holder = typer.Typer()
    for info in pkgutil.iter_modules(updown.commands.__path__):
        module = __import__(f"updown.commands.{info.name}", fromlist=["register"])
        if hasattr(module, "register"):
            module.register(holder)
    registered = set(typer.main.get_group(holder).commands)
    assert registered == {entry.name for entry in COMMANDS}


def _walk(command: _click.Command, path: list[str]):
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _walk(sub, [*path, name])


def all_commands():
    root = typer.main.get_command(app)
    for entry in COMMANDS:
        yield from _walk(root.get_command(_click.Context(root), entry.name), [entry.name])


def test_every_option_and_argument_has_help_and_a_word_for_its_value():
    problems = []
    for path, command in all_commands():
        ctx = _click.Context(command, info_name=path[-1])
        for param in command.get_params(ctx):
            name, text = param.get_help_record(ctx)
            if not text or not getattr(param, "help", None):
                problems.append(f"{' '.join(path)} {name}: no help")
            if "<" in name or "list[" in name:
                problems.append(f"{' '.join(path)} {name}: a Python type")
    assert problems == []


def test_value_words_are_the_field_s_words():
    runner = CliRunner()
    backtest = runner.invoke(app, ["backtest", "--help"], terminal_width=120).output
    assert "--latency-ms SOURCE=MS" in backtest
    assert "--fill-model [book|conservative]" in backtest
    run = runner.invoke(app, ["run", "--help"], terminal_width=120).output
    assert "--venue [sandbox|polymarket]" in run and "--mode [live|paper|dry-run]" in run


@pytest.mark.parametrize(
    "command", ["run", "backtest", "sweep", "prereg", "promote", "control", "sandbox", "demo"]
)
def test_main_commands_show_examples(command):
    out = CliRunner().invoke(app, [command, "--help"], terminal_width=120).output
    examples = out.split("Examples:", 1)[1].strip().splitlines()
    assert examples and all(
        line.strip().startswith(("updown ", "POLYMARKET_")) for line in examples
    )


def test_an_invalid_choice_exits_2_naming_the_option():
    result = CliRunner().invoke(app, ["run", "--mode", "live", "--venue", "kraken"])
    assert result.exit_code == 2 and "--venue" in result.output


def test_a_mistyped_command_is_refused_with_a_suggestion():
    result = CliRunner().invoke(app, ["contrl", "pause"])
    assert result.exit_code == 2 and "'control'" in result.output


def test_fill_model_choices_are_research_s_fill_models():
    from research.fills import FILL_MODELS
    from updown.commands._common import FillModel

    assert tuple(m.value for m in FillModel) == FILL_MODELS
