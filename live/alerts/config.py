"""Alert configuration: which channels (Discord webhook, Telegram bot) and the limits of
de-duplication, the queue and delivery retries. Secrets come only from the environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from live.alerts import channels as alert_channels
from live.alerts.channels import Channel


class AlertConfig(BaseModel):
    """Channels and limits. Secrets come only from the environment (`from_env`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    discord_webhook_url: SecretStr | None = None
    telegram_bot_token: SecretStr | None = None
    telegram_chat_id: str | None = None
    telegram_api_url: str = "https://api.telegram.org"
    dedup_window_s: float = Field(300.0, ge=0, le=86_400)
    queue_size: int = Field(1000, ge=1, le=100_000)
    timeout_s: float = Field(5.0, gt=0, le=60)
    max_attempts: int = Field(3, ge=1, le=10)
    backoff_s: float = Field(0.5, ge=0, le=30)
    backoff_max_s: float = Field(8.0, ge=0, le=300)

    @model_validator(mode="after")
    def _telegram_pair(self) -> AlertConfig:
        if bool(self.telegram_bot_token) != bool(self.telegram_chat_id):
            raise ValueError("Telegram needs both UPDOWN_TELEGRAM_BOT_TOKEN and _CHAT_ID")
        return self

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> AlertConfig:
        """Read `UPDOWN_DISCORD_WEBHOOK_URL`, `UPDOWN_TELEGRAM_*` and `UPDOWN_ALERT_*`."""
        env = os.environ if env is None else env
        names = {
            "discord_webhook_url": "UPDOWN_DISCORD_WEBHOOK_URL",
            "telegram_bot_token": "UPDOWN_TELEGRAM_BOT_TOKEN",
            "telegram_chat_id": "UPDOWN_TELEGRAM_CHAT_ID",
            "telegram_api_url": "UPDOWN_TELEGRAM_API_URL",
            "dedup_window_s": "UPDOWN_ALERT_DEDUP_S",
            "queue_size": "UPDOWN_ALERT_QUEUE_SIZE",
            "timeout_s": "UPDOWN_ALERT_TIMEOUT_S",
            "max_attempts": "UPDOWN_ALERT_MAX_ATTEMPTS",
        }
        values = {k: env[v] for k, v in names.items() if env.get(v)}
        return cls(**(values | overrides))

    def channels(self) -> list[Channel]:
        """The configured channels, Discord first."""
        out = []
        if self.discord_webhook_url:
            out.append(alert_channels.discord(self.discord_webhook_url.get_secret_value()))
        if self.telegram_bot_token and self.telegram_chat_id:
            token = self.telegram_bot_token.get_secret_value()
            out.append(alert_channels.telegram(self.telegram_api_url, token, self.telegram_chat_id))
        return out

    def secrets(self) -> list[str]:
        """Every string that must never be logged or stored."""
        out: list[str] = []
        if self.discord_webhook_url:
            url = self.discord_webhook_url.get_secret_value()
            out += [url, url.rstrip("/").rsplit("/", 1)[-1]]
        if self.telegram_bot_token:
            out.append(self.telegram_bot_token.get_secret_value())
        return [s for s in out if len(s) >= 6]
