"""Typed, strict configuration of one runner process (no secrets here: keys come from the
environment through live.venues.config)."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from live.kernel.domain import Mode
from live.kernel.limits import KNOWN_ASSETS


class RunMode(StrEnum):
    LIVE = "live"
    PAPER = "paper"
    DRY_RUN = "dry-run"

    @property
    def engine_mode(self) -> Mode:
        return {"live": Mode.LIVE, "paper": Mode.PAPER, "dry-run": Mode.DRY_RUN}[self.value]


class Redemption(StrEnum):
    """How resolved positions become cash (issue 13, docs/runner.md "Settling to cash")."""

    REDEEM = "redeem"  # we redeem winners and losers through the SDK (RPC or relayer)
    AUTO = "auto"  # the venue's auto-redeem operator redeems winners; we follow its notices
    AT_RESOLUTION = "at-resolution"  # the venue pays at resolution (the sandbox's `instant`)


class RunnerConfig(BaseModel):
    """Everything `updown run` needs. Bounds on every number; unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: RunMode
    venue: str = Field(pattern="^(sandbox|polymarket)$")
    sandbox_url: str | None = None
    strategies: tuple[str, ...] = ("canary",)
    assets: tuple[str, ...] = KNOWN_ASSETS
    window_lengths_s: tuple[int, ...] = (300, 900)
    duration_s: float | None = Field(default=None, gt=0)
    health_host: str = "127.0.0.1"
    health_port: int = Field(default=8711, ge=0, le=65535)
    copies: tuple[RunMode, ...] = ()  # simulated engines beside the primary (paper, dry-run)
    paper_balance_usd: Decimal = Field(default=Decimal("100"), gt=0, le=Decimal("1000000"))
    tick_ms: int = Field(default=250, ge=20, le=2000)
    confirm_timeout_s: float = Field(default=5.0, gt=0, le=30)
    feed_idle_s: float = Field(default=5.0, ge=1, le=60)
    balance_poll_s: float = Field(default=2.0, ge=0.2, le=60)
    resolution_poll_s: float = Field(default=2.0, ge=0.2, le=60)
    redemption: Redemption = Redemption.REDEEM
    redeem_retry_s: float = Field(default=5.0, ge=0.1, le=600)
    redeem_bound_s: float = Field(default=180.0, ge=1, le=86_400)
    data_lag_s: float = Field(default=15.0, ge=0, le=600)  # the Data API's lag bound
    settle_bound_s: float = Field(default=60.0, ge=1, le=3600)  # matched → CONFIRMED bound
    instance_id: str = Field(min_length=1, max_length=200)
    # An observer that does not hold the sole-trader lock retries it this often and takes over
    # when it gets it (issue 15); 0 = stay an observer for good (the pre-issue-15 behaviour).
    takeover_s: float = Field(default=1.0, ge=0, le=2)
    # A query of the engines' record writer that runs longer is cancelled, logged with its
    # context and alerted (`query_timeout`); the store guard then stops new entries.
    db_statement_timeout_s: float = Field(default=10.0, gt=0, le=300)
    repo_root: str = "."

    @model_validator(mode="after")
    def _cross_checks(self) -> RunnerConfig:
        if self.venue == "sandbox" and not self.sandbox_url:
            raise ValueError("--venue sandbox needs --sandbox-url")
        if self.venue == "polymarket" and self.sandbox_url:
            raise ValueError("--sandbox-url only applies to --venue sandbox")
        unknown = set(self.assets) - set(KNOWN_ASSETS)
        if unknown:
            raise ValueError(f"unknown assets {sorted(unknown)}; known: {', '.join(KNOWN_ASSETS)}")
        if RunMode.LIVE in self.copies or self.mode in self.copies:
            raise ValueError("copies must be simulated modes other than the primary mode")
        if not self.strategies:
            raise ValueError("at least one strategy is needed")
        if any(length < 10 or length > 86_400 for length in self.window_lengths_s):
            raise ValueError("window lengths must be between 10 and 86400 seconds")
        return self

    @property
    def promotion_targets(self) -> tuple[str, ...]:
        """Promotions that let a strategy trade LIVE here: on the sandbox a paper promotion is
        enough (the sandbox is the paper rung of the ladder); on Polymarket only a live one."""
        return ("paper", "live") if self.venue == "sandbox" else ("live",)
