"""The pre-registered envelope of a promoted strategy, read from the file its promotion is bound
to (issue 16, item 5): the `risk` block and the `instruments` list as the kernel's
`PreregLimits`. The file was validated in full when it was promoted (research.prereg); its
sha256 is checked with the promotion, so an edited file voids the promotion before it is read."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path

import yaml

from live.kernel.prereg_limits import WINDOW_CLASSES, PreregLimits


class EnvelopeError(ValueError):
    """The file lacks a readable `risk` block or `instruments` list; the message says which."""


def _decimal(value: object) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def load_limits(path: Path, source: str, stand_in_lengths: Iterable[int] = ()) -> PreregLimits:
    """`PreregLimits` from the pre-registration at `path` (`source`: its repo-relative name, kept
    in each denial). `stand_in_lengths`: window lengths (s) that stand for any pre-registered
    class (the sandbox's short windows). Raises EnvelopeError, OSError."""
    data = yaml.safe_load(Path(path).read_text())
    if not isinstance(data, dict):
        raise EnvelopeError(f"{source}: not a mapping of fields")
    risk, instruments = data.get("risk"), data.get("instruments")
    if not isinstance(risk, dict) or not isinstance(instruments, list) or not instruments:
        raise EnvelopeError(f"{source}: needs a risk block and a non-empty instruments list")
    try:
        allowed = frozenset(
            (str(i["asset"]), WINDOW_CLASSES[str(i["window"])]) for i in instruments
        )
        return PreregLimits(
            instruments=allowed,
            max_position_usd=Decimal(str(risk["max_position_usd"])),
            max_session_loss_usd=Decimal(str(risk["max_session_loss_usd"])),
            max_entries_per_window=int(risk.get("max_entries_per_window", 1)),
            stop_loss=_decimal(risk.get("stop_loss")),
            take_profit=_decimal(risk.get("take_profit")),
            source=source,
            stand_in_lengths=frozenset(
                n for n in stand_in_lengths if n not in WINDOW_CLASSES.values()
            ),
        )
    except (KeyError, TypeError, ArithmeticError) as exc:
        raise EnvelopeError(f"{source}: unreadable risk or instruments ({exc!r})") from exc
