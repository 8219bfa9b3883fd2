"""The alert channels: Discord webhook and Telegram bot API over HTTP, with bounded retries and
exponential backoff, and the redaction that keeps their secrets out of logs and the database.
Used by `live.alerts.alerter.Alerter`; nothing here touches the database."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

DISCORD_LIMIT = 2000  # characters in a webhook message's content
TELEGRAM_LIMIT = 4096  # characters in a sendMessage text


class Redactor(logging.Filter):
    """Replaces secrets with *** in strings and in log records (httpx logs request URLs)."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self._secrets = sorted(set(secrets), key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if self._secrets:
            record.msg = self(record.getMessage())
            record.args = None
        return True


@dataclass(frozen=True, slots=True)
class Channel:
    """One destination. `url` is secret: it holds the webhook token or the bot token."""

    name: str
    url: str
    limit: int
    payload: Callable[[str], dict[str, Any]]


def discord(webhook_url: str) -> Channel:
    return Channel(
        "discord",
        webhook_url,
        DISCORD_LIMIT,
        lambda text: {"content": text, "allowed_mentions": {"parse": []}},
    )


def telegram(api_url: str, bot_token: str, chat_id: str) -> Channel:
    return Channel(
        "telegram",
        f"{api_url.rstrip('/')}/bot{bot_token}/sendMessage",
        TELEGRAM_LIMIT,
        lambda text: {"chat_id": chat_id, "text": text, "disable_web_page_preview": True},
    )


@dataclass
class Outcome:
    """What delivering one alert came to. `delivered` is None when no channel is configured."""

    delivered: bool | None = None
    attempts: int = 0
    errors: list[str] = field(default_factory=list)
    channels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int
    backoff_s: float
    backoff_max_s: float


def _retry_after(resp: httpx.Response) -> float | None:
    """Seconds the channel asked us to wait (Discord and Telegram both send Retry-After)."""
    try:
        return float(resp.headers["retry-after"])
    except (KeyError, ValueError):
        return None


def _retryable(status: int) -> bool:
    return status >= 500 or status in (408, 425, 429)


async def deliver(
    client: httpx.AsyncClient,
    channels: list[Channel],
    text: str,
    policy: RetryPolicy,
    redact: Redactor,
) -> Outcome:
    """Send `text` to every channel concurrently; a failure on one does not stop the others."""
    outcome = Outcome()
    if not channels:
        return outcome
    results = await asyncio.gather(*(_send(client, ch, text, policy, outcome) for ch in channels))
    for channel, error in zip(channels, results, strict=True):
        outcome.channels[channel.name] = "ok" if error is None else "failed"
        if error is not None:
            outcome.errors.append(f"{channel.name}: {redact(error)}")
    outcome.delivered = not outcome.errors
    return outcome


async def _send(
    client: httpx.AsyncClient, channel: Channel, text: str, policy: RetryPolicy, outcome: Outcome
) -> str | None:
    """POST with bounded retries and exponential backoff; the last error, or None if sent.
    Client errors other than 408/425/429 are not retried (a bad token does not get better)."""
    delay, error = policy.backoff_s, ""
    for attempt in range(1, policy.max_attempts + 1):
        outcome.attempts += 1
        wait: float | None = None
        try:
            resp = await client.post(channel.url, json=channel.payload(text[: channel.limit]))
            if resp.status_code < 300:
                return None
            error = f"HTTP {resp.status_code} {resp.text[:200]}".strip()
            if not _retryable(resp.status_code):
                break
            wait = _retry_after(resp)
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}".rstrip(": ")
        if attempt < policy.max_attempts:
            await asyncio.sleep(min(delay if wait is None else wait, policy.backoff_max_s))
            delay *= 2
    return error
