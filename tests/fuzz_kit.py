"""Shared by the fuzz tests (tests/test_*_fuzz.py): how many inputs each target gets, a tally of
the inputs actually run per target, and the generators every target draws from.

Two budgets per target: `sample` (the seeded, derandomized `make test` sample: the same inputs
every run) and `campaign` (`make fuzz`, i.e. UPDOWN_FUZZ_CAMPAIGN=1, random with the seed the
campaign prints; UPDOWN_FUZZ_SCALE multiplies it). UPDOWN_FUZZ_EXAMPLES=N gives every target
N inputs instead (a quick local run).

`tally(target)` is called once per generated input; with UPDOWN_FUZZ_COUNTS=<dir> set, the
session writes `{target: inputs}` to <dir>/<worker>.json (tests/conftest.py), which
bench/fuzz_campaign.py sums and prints."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
MESSAGES = SHARED_DATA / "polymarket_messages"
ENV_EXAMPLES = "UPDOWN_FUZZ_EXAMPLES"
ENV_CAMPAIGN = "UPDOWN_FUZZ_CAMPAIGN"
ENV_COUNTS = "UPDOWN_FUZZ_COUNTS"
ENV_SCALE = "UPDOWN_FUZZ_SCALE"  # the campaign's budgets times this (e.g. 0.1: a rehearsal)

COUNTS: Counter[str] = Counter()


def budget(sample: int, campaign: int) -> int:
    """The number of inputs a target gets in this run (see the module docstring)."""
    if os.environ.get(ENV_EXAMPLES):
        return int(os.environ[ENV_EXAMPLES])
    if os.environ.get(ENV_CAMPAIGN):
        return max(1, round(campaign * float(os.environ.get(ENV_SCALE) or 1)))
    return sample


def fuzz(sample: int, campaign: int) -> settings:
    """Hypothesis settings for one target: the seeded sample, or the campaign's budget."""
    n = budget(sample, campaign)
    return settings(
        max_examples=n,
        derandomize=not (os.environ.get(ENV_CAMPAIGN) or os.environ.get(ENV_EXAMPLES)),
        deadline=None,
        database=None,  # a failure is reported with its input; nothing is kept between runs
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.filter_too_much,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )


def tally(target: str) -> None:
    """Count one generated input for `target` (the campaign prints these counts)."""
    COUNTS[target] += 1


def write_counts(worker: str) -> None:
    """Write this process's tally to $UPDOWN_FUZZ_COUNTS/<worker>.json (if set)."""
    where = os.environ.get(ENV_COUNTS)
    if not where or not COUNTS:
        return
    Path(where).mkdir(parents=True, exist_ok=True)
    (Path(where) / f"{worker}.json").write_text(json.dumps(dict(COUNTS), sort_keys=True))


def real_json(relative: str) -> Any:
    """One recorded Polymarket message (shared/data/real/polymarket_messages/...)."""
    return json.loads((MESSAGES / relative).read_text())


# ------------------------------------------------------------------ generators

# any JSON value: the shapes a parser meets when a peer sends something else than agreed
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from(["", "0", "1", "-1", "0.5", "1e9", "NaN", "Infinity", "-0", "1e-400",
                     "9" * 40, "0x10", " 1", "\x00", "BUY", "SELL", "UP", "DOWN"]),
)  # fmt: skip
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


def mutated(seed: dict[str, Any], values=JSON) -> st.SearchStrategy[dict[str, Any]]:
    """`seed` (a real message or line) with some fields replaced by any value, some removed and
    some added: near misses of real input, where parsers are most likely to slip."""
    keys = sorted(seed)

    @st.composite
    def build(draw) -> dict[str, Any]:
        out = dict(seed)
        for key in draw(st.lists(st.sampled_from(keys), max_size=3, unique=True)):
            if draw(st.booleans()):
                out[key] = draw(values)
            else:
                out.pop(key, None)
        for key, value in draw(st.dictionaries(st.text(max_size=8), values, max_size=2)).items():
            out[key] = value
        return out

    return build()


def deep_mutated(seed: Any, values=JSON) -> st.SearchStrategy[Any]:
    """`seed` with one value anywhere in it (nested lists and objects too) replaced."""
    paths: list[tuple] = []

    def walk(node: Any, path: tuple) -> None:
        paths.append(path)
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, (*path, k))
        elif isinstance(node, list):
            for i, v in enumerate(node[:6]):
                walk(v, (*path, i))

    walk(seed, ())

    @st.composite
    def build(draw) -> Any:
        path = draw(st.sampled_from(paths))
        value = draw(values)
        if not path:
            return value
        root = json.loads(json.dumps(seed))
        node = root
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = value
        return root

    return build()
