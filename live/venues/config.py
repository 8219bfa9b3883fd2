"""Venue configuration: which venue, its URLs, the credentials (from the environment only) and
the adapter's timings. Validation happens here, before any connection is opened.

Credentials:
- `POLYMARKET_PRIVATE_KEY`: the signer's key, 64 hex digits with or without `0x`. Required for
  LIVE on Polymarket. For the sandbox it may be absent: a fresh throw-away key is generated in
  memory (the sandbox funds every new address), so the demo and tests need no secrets.
- `POLYMARKET_FUNDER`: the address holding the funds (the SDK's `wallet`). Optional for an EOA
  (signature type 0: the signer is the funder), required for proxy / Safe / deposit wallets.
- `POLYMARKET_SIGNATURE_TYPE`: 0 EOA, 1 email proxy, 2 Safe proxy, 3 deposit wallet (default 0).
  The SDK classifies the wallet itself; the adapter checks that its classification agrees.

The key is held as a pydantic `SecretStr`; `repr()`, `str()` and dumps show it redacted.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from live.venues.errors import CredentialError

KEY_VAR = "POLYMARKET_PRIVATE_KEY"
FUNDER_VAR = "POLYMARKET_FUNDER"
SIGNATURE_TYPE_VAR = "POLYMARKET_SIGNATURE_TYPE"
# Which crypto price stream feeds the oracle: "rtds" (public RTDS, wss://ws-live-data...) or
# "realtime" (the authenticated realtime gateway, the SDK's realtime_ws_url, with the 60 s
# Chainlink TWAP channel `price.crypto.twap` that matches the twap_60s settlement rule).
PRICE_STREAM_VAR = "UPDOWN_PRICE_STREAM"
PRICE_STREAMS = ("rtds", "realtime")
TWAP_SINCE_MS = 1786060800000  # 2026-08-07T00:00:00Z: Chainlink 60 s TWAP settles from here on

_KEY_RE = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")
_ADDRESS_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")
# The SDK's wallet classification for each documented signature type.
WALLET_TYPES = {0: "EOA", 1: "POLY_PROXY", 2: "GNOSIS_SAFE", 3: "DEPOSIT_WALLET"}


class VenueKind(StrEnum):
    SANDBOX = "sandbox"
    POLYMARKET = "polymarket"


@dataclasses.dataclass(frozen=True, slots=True)
class VenueUrls:
    """Every endpoint the adapter talks to (taken from the SDK environment it builds)."""

    gamma: str
    clob: str
    data: str
    ws_market: str
    ws_user: str
    ws_prices: str
    ws_realtime: str = ""


class VenueConfig(BaseModel):
    """Typed, strict venue configuration (extra keys are errors). Build it with `from_env`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    venue: VenueKind
    sandbox_url: str | None = None
    private_key: SecretStr | None = Field(default=None, repr=False)
    funder: str | None = None
    signature_type: int = Field(default=0, ge=0, le=3)
    confirm_timeout_s: float = Field(default=5.0, gt=0, le=60)
    # Once matched, how long the confirmation loop waits for CONFIRMED before answering with the
    # match (filled, settlement pending; issue 13).
    match_answer_s: float = Field(default=1.0, ge=0, le=30)
    poll_interval_s: float = Field(default=0.25, ge=0.02, le=5)
    heartbeat_interval_s: float = Field(default=5.0, gt=0, le=9)
    token_cache_s: float = Field(default=0.0, ge=0, le=2)  # 0: a fresh Gamma read per order
    http_timeout_s: float = Field(default=10.0, gt=0, le=60)
    max_retries: int = Field(default=4, ge=0, le=10)
    backoff_base_s: float = Field(default=0.2, gt=0, le=5)
    backoff_max_s: float = Field(default=5.0, gt=0, le=60)
    fallback_fee_rate: Decimal | None = Field(default=None, ge=0, le=Decimal("0.25"))
    twap_since_ms: int = Field(default=TWAP_SINCE_MS, ge=0)
    ws_ping_interval_s: float = Field(default=10.0, gt=0, le=30)
    price_stream: Literal["rtds", "realtime"] = "rtds"  # see PRICE_STREAM_VAR
    # How often the SDK polls a redemption's receipt or relayer state (sandbox only; Polymarket
    # keeps the SDK's own 2000 ms).
    tx_poll_ms: int = Field(default=250, ge=50, le=5000)
    # Order path (issue 14, docs/venue.md "Order-path behaviours"):
    # a post answered "delayed" is followed up to this long for its match (O1);
    delayed_timeout_s: float = Field(default=30.0, gt=0, le=300)
    # after a 425 (matching-engine restart) new orders are refused locally for a pause that
    # doubles from `restart_pause_s` up to `restart_max_s` (the documented ~90 s restart) (O2);
    restart_pause_s: float = Field(default=2.0, gt=0, le=60)
    restart_max_s: float = Field(default=90.0, gt=0, le=600)
    # a "not enough balance / allowance" refusal: refresh the venue's balance cache and re-post
    # at most this many times (O3);
    balance_retries: int = Field(default=2, ge=0, le=5)
    # local clock skew against the venue above which L2 requests are signed on the venue's
    # clock, and above which an alert is raised (O5).
    skew_sign_s: float = Field(default=5.0, gt=0, le=300)
    skew_alert_s: float = Field(default=2.0, gt=0, le=300)

    @model_validator(mode="after")
    def _cross_checks(self) -> VenueConfig:
        if self.venue is VenueKind.SANDBOX and not self.sandbox_url:
            raise ValueError("venue 'sandbox' needs sandbox_url")
        if self.venue is VenueKind.POLYMARKET and self.sandbox_url:
            raise ValueError("sandbox_url is only for venue 'sandbox'")
        if self.sandbox_url and not re.match(r"^https?://[^/\s]+/?$", self.sandbox_url):
            raise ValueError("sandbox_url must look like http://HOST:PORT")
        if self.private_key is not None:
            check_private_key(self.private_key.get_secret_value())
        if self.funder is not None and not _ADDRESS_RE.match(self.funder):
            raise CredentialError(FUNDER_VAR, "must be a 0x-prefixed 40-hex-digit address")
        if self.signature_type != 0 and self.funder is None:
            raise CredentialError(
                FUNDER_VAR, f"required with {SIGNATURE_TYPE_VAR}={self.signature_type}"
            )
        return self

    def __repr__(self) -> str:
        key = "set" if self.private_key is not None else "absent"
        return (
            f"VenueConfig(venue={self.venue.value}, sandbox_url={self.sandbox_url!r}, "
            f"private_key=<{key}, redacted>, funder={self.funder!r}, "
            f"signature_type={self.signature_type})"
        )

    __str__ = __repr__

    @classmethod
    def from_env(
        cls,
        venue: str | VenueKind,
        *,
        sandbox_url: str | None = None,
        require_key: bool = True,
        env: Mapping[str, str] | None = None,
        **settings: object,
    ) -> VenueConfig:
        """Read credentials from the environment. On Polymarket with `require_key` (LIVE), a
        missing or malformed key raises CredentialError naming the variable, before any
        connection. For the sandbox a missing key is generated (see the module docstring)."""
        env = os.environ if env is None else env
        kind = VenueKind(venue)
        key = (env.get(KEY_VAR) or "").strip() or None
        if key is None and kind is VenueKind.POLYMARKET and require_key:
            raise CredentialError(KEY_VAR, "not set (required for LIVE on Polymarket)")
        if key is not None:
            check_private_key(key)
        elif kind is VenueKind.SANDBOX:
            key = _generated_key()
        funder = (env.get(FUNDER_VAR) or "").strip() or None
        sig_text = (env.get(SIGNATURE_TYPE_VAR) or "").strip()
        signature_type = _signature_type(sig_text) if sig_text else 0
        stream = (env.get(PRICE_STREAM_VAR) or "").strip()
        if stream:
            if stream not in PRICE_STREAMS:
                raise CredentialError(
                    PRICE_STREAM_VAR, f"must be one of {', '.join(PRICE_STREAMS)}"
                )
            settings.setdefault("price_stream", stream)
        return cls(
            venue=kind,
            sandbox_url=sandbox_url,
            private_key=None if key is None else SecretStr(key),
            funder=funder,
            signature_type=signature_type,
            **settings,
        )

    def key_hex(self) -> str:
        """The key for the SDK (0x-prefixed). Never log or store the result."""
        if self.private_key is None:
            raise CredentialError(KEY_VAR, "not set")
        key = self.private_key.get_secret_value()
        return key if key.startswith("0x") else "0x" + key

    def environment(self):
        """The SDK environment: Polymarket's production one unchanged, or the sandbox's URLs
        swapped in through the SDK's internal hook (pinned SDK; guarded by a test)."""
        from polymarket._internal.environment import PRODUCTION_CONFIG, create_environment
        from polymarket.environments import PRODUCTION

        if self.venue is VenueKind.POLYMARKET:
            return PRODUCTION
        base = (self.sandbox_url or "").rstrip("/")
        ws = "ws" + base.removeprefix("http")
        config = dataclasses.replace(
            PRODUCTION_CONFIG,
            gamma_url=f"{base}/gamma",
            clob_url=f"{base}/clob",
            data_url=f"{base}/data",
            relayer_url=f"{base}/relayer",
            rpc_url=f"{base}/rpc",
            relayer_poll_frequency_ms=self.tx_poll_ms,
            clob_market_ws_url=f"{ws}/ws/market",
            clob_user_ws_url=f"{ws}/ws/user",
            rtds_ws_url=f"{ws}/ws/prices",
            realtime_ws_url=f"{ws}/ws/realtime",
        )
        return create_environment(name="sandbox", config=config)

    def urls(self) -> VenueUrls:
        """The endpoints of `environment()`, read back from the SDK's own config object."""
        from polymarket._internal.environment import get_environment_config

        c = get_environment_config(self.environment())
        return VenueUrls(
            gamma=c.gamma_url,
            clob=c.clob_url,
            data=c.data_url,
            ws_market=c.clob_market_ws_url,
            ws_user=c.clob_user_ws_url,
            ws_prices=c.rtds_ws_url,
            ws_realtime=c.realtime_ws_url,
        )


def check_private_key(key: str) -> None:
    """Raise CredentialError (naming the variable, never the value) unless `key` is a valid
    secp256k1 private key."""
    if not _KEY_RE.match(key):
        raise CredentialError(KEY_VAR, "malformed: expected 64 hex digits (optionally 0x-prefixed)")
    value = int(key.removeprefix("0x"), 16)
    # secp256k1 group order: a key must be in [1, n-1]
    if not 0 < value < 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141:
        raise CredentialError(KEY_VAR, "malformed: not a valid secp256k1 private key")


def _signature_type(text: str) -> int:
    if text not in ("0", "1", "2", "3"):
        raise CredentialError(SIGNATURE_TYPE_VAR, "must be one of 0, 1, 2, 3")
    return int(text)


def _generated_key() -> str:
    from eth_account import Account

    return Account.create().key.hex()
