"""How to build an engine (live.kernel.engine.Engine): its configuration and default controls."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal

from live.kernel.controls import ControlMode, Controls
from live.kernel.domain import Mode
from live.kernel.executors import SimExecutor
from live.kernel.prereg_limits import PreregLimits
from live.kernel.strategy import Strategy


@dataclass
class EngineConfig:
    """How to build an engine. `controls` default to `controls.DEFAULTS` with trading_mode set
    to the engine's mode (LIVE engines start with the DEFAULTS' PAPER, so they trade only once the
    control says LIVE). `balance_usd` is the starting balance of simulated modes (LIVE learns it
    from `balance` events). `promoted(name)` is the promotion gate (LIVE only)."""

    mode: Mode
    strategies: Sequence[Strategy]
    run_id: str = "run"
    controls: Controls | None = None
    balance_usd: Decimal | None = Decimal("100")
    promoted: Callable[[str], bool] = field(default=lambda name: False)
    executor: SimExecutor | None = None
    # Prepended to signal ids: engines sharing one database (a runner's PAPER / DRY_RUN copies
    # beside its LIVE engine) see the same windows at the same instants, so ids would collide.
    signal_id_prefix: str = ""
    # The promoted strategy's pre-registered envelope (LIVE: the runner reads it from the file
    # its promotion is bound to); None: no pre-registration to enforce.
    prereg: Callable[[str], PreregLimits | None] = field(default=lambda name: None)


def default_controls(mode: Mode) -> Controls:
    controls = Controls()
    if mode in (Mode.PAPER, Mode.DRY_RUN):
        controls = replace(controls, trading_mode=ControlMode(str(mode)))
    return controls
