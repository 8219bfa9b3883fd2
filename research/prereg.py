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

# re-exported: the power calculation and the drafting API are part of this module's interface
from research.prereg_draft import DraftError, check_draft, draft  # noqa: F401
from research.prereg_power import (  # noqa: F401
    MAX_SAMPLE_SIZE,
    SampleSizeError,
    computed_sample_size,
    required_sample_size,
)
from research.prereg_schema import (
    Preregistration,
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


def write(prereg: Preregistration, directory: Path, *, force: bool = False) -> Path:
    """Write `prereg` to `<directory>/<strategy>.yaml` (the API research notebooks pre-register
    through, DESIGN §9): validated by round-trip, staged then renamed, so never a half file.
    Raises FileExistsError unless `force`, OSError when the directory cannot be written."""
    text = render(prereg)
    parse(text, f"{prereg.strategy}.yaml")  # what is written must read back
    directory = Path(directory)
    path = directory / f"{prereg.strategy}.yaml"
    if path.exists() and not force:
        raise FileExistsError(f"{path} exists; pass force=True to overwrite it")
    directory.mkdir(parents=True, exist_ok=True)
    staged = path.with_name(f".{path.name}.tmp")
    try:
        staged.write_text(text)
        staged.replace(path)
    finally:
        staged.unlink(missing_ok=True)
    return path
