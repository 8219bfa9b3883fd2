"""Alerts against a local HTTP receiver standing in for Discord and Telegram (issue 9, item 1)."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg
import pytest

from live.alerts.alert import AlertKind, Severity
from live.alerts.alerter import Alerter
from live.alerts.config import AlertConfig

TOKEN = "123456789:AAH-s3cr3t-bot-token-xyz"
HOOK_TOKEN = "wEbHoOk-t0ken-abcdefghijklmnop"


class Receiver:
    """Discord webhook + Telegram bot API on a loopback port. `mode`: ok | 500 | hang."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.requests: list[tuple[str, dict]] = []
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.requests.append((self.path, body))
                if receiver.mode == "hang":
                    receiver.release.wait(30)
                    return
                status = 500 if receiver.mode == "500" else 200
                reply = json.dumps({"ok": status == 200, "echo": self.path}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def on(self, channel: str) -> list[dict]:
        prefix = "/api/webhooks/" if channel == "discord" else "/bot"
        return [body for path, body in self.requests if path.startswith(prefix)]

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    rec = Receiver()
    yield rec
    rec.close()


def config(receiver: Receiver, **overrides) -> AlertConfig:
    env = {
        "UPDOWN_DISCORD_WEBHOOK_URL": f"{receiver.url}/api/webhooks/42/{HOOK_TOKEN}",
        "UPDOWN_TELEGRAM_BOT_TOKEN": TOKEN,
        "UPDOWN_TELEGRAM_CHAT_ID": "-100777",
        "UPDOWN_TELEGRAM_API_URL": receiver.url,
    }
    fast = {"timeout_s": 2.0, "max_attempts": 3, "backoff_s": 0.01, "backoff_max_s": 0.05}
    return AlertConfig.from_env(env, **(fast | overrides))


def alert_rows(url: str) -> list[dict]:
    with psycopg.connect(url) as conn:
        cur = conn.execute("SELECT * FROM alerts ORDER BY id")
        names = [c.name for c in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 20))


def test_each_alert_kind_arrives_once_on_each_channel_with_its_content(db_url, receiver):
    async def scenario():
        async with Alerter(db_url, config(receiver)) as alerter:
            for kind in AlertKind:
                alerter.raise_(
                    kind,
                    where=f"runner r1 / BTC-5m ({kind})",
                    what_happened=f"{kind} happened at 03:00",
                    what_we_did=f"for {kind}: stopped new entries",
                )

    run(scenario())
    for channel, key in (("discord", "content"), ("telegram", "text")):
        texts = [body[key] for body in receiver.on(channel)]
        assert len(texts) == len(AlertKind)
        for kind in AlertKind:
            (text,) = [t for t in texts if t.splitlines()[0].endswith(f"] {kind}")]
            assert f"Where: runner r1 / BTC-5m ({kind})" in text
            assert f"What happened: {kind} happened at 03:00" in text
            assert f"What we did: for {kind}: stopped new entries" in text
    assert {body["chat_id"] for body in receiver.on("telegram")} == {"-100777"}
    rows = alert_rows(db_url)
    assert sorted(r["kind"] for r in rows) == sorted(AlertKind)
    assert all(r["delivered"] is True and r["attempts"] == 2 for r in rows)
    severity = {r["kind"]: r["severity"] for r in rows}
    assert severity["breaker_tripped"] == Severity.CRITICAL
    assert severity["daily_summary"] == Severity.INFO


def test_identical_alert_within_window_is_sent_once_and_counted(db_url, receiver):
    clock = [1_000.0]

    async def scenario():
        cfg = config(receiver, dedup_window_s=300)
        async with Alerter(db_url, cfg, clock=lambda: clock[0]) as alerter:
            for _ in range(5):
                alerter.raise_("feed_stale", "clob BTC", "no data for 7 s", "reconnected")
                clock[0] += 10
            alerter.raise_("feed_stale", "clob ETH", "no data for 7 s", "reconnected")
            await asyncio.sleep(0.3)
            clock[0] += 300
            alerter.raise_("feed_stale", "clob BTC", "no data for 7 s", "reconnected")
            return alerter.stats

    stats = run(scenario())
    assert (stats.raised, stats.suppressed, stats.delivered) == (7, 4, 3)
    texts = [b["content"] for b in receiver.on("discord")]
    assert len(texts) == 3
    assert "(+4 identical alerts suppressed before this)" in texts[-1]
    rows = alert_rows(db_url)
    assert len(rows) == 3
    assert rows[0]["detail"]["suppressed"] == 4
    assert rows[2]["detail"]["suppressed_before"] == 4


def test_receiver_answering_500_is_retried_then_recorded_undelivered(db_url, receiver):
    receiver.mode = "500"

    async def scenario():
        async with Alerter(db_url, config(receiver, max_attempts=3)) as alerter:
            alerter.raise_("lock_lost", "runner r1", "advisory lock connection closed", "observer")
            return alerter.stats

    stats = run(scenario())
    assert len(receiver.on("discord")) == 3 and len(receiver.on("telegram")) == 3
    assert stats.undelivered == 1
    (row,) = alert_rows(db_url)
    assert row["delivered"] is False and row["attempts"] == 6
    assert "discord: HTTP 500" in row["last_error"] and "telegram: HTTP 500" in row["last_error"]
    assert row["detail"]["delivery"] == {"discord": "failed", "telegram": "failed"}


def test_secrets_never_reach_the_database_or_the_log(db_url, receiver, caplog):
    receiver.mode = "500"  # the reply echoes the request path, which holds the tokens
    caplog.set_level(logging.DEBUG)

    async def scenario():
        async with Alerter(db_url, config(receiver, max_attempts=2)) as alerter:
            alerter.raise_("health_down", "runner r1", "GET /health failed", "tripped breaker")

    run(scenario())
    (row,) = alert_rows(db_url)
    stored = json.dumps(row, default=str)
    assert "***" in row["last_error"]
    for secret in (TOKEN, HOOK_TOKEN):
        assert secret not in stored
        assert secret not in caplog.text


@pytest.mark.isolated  # measures a 20 ms tick loop's cadence: run alone, not beside a worker
def test_hanging_receiver_never_delays_the_caller_or_the_tick(db_url, receiver):
    receiver.mode = "hang"
    tick_s = 0.02

    async def scenario():
        cfg = config(receiver, timeout_s=0.5, max_attempts=2)
        alerter = Alerter(db_url, cfg)
        await alerter.start()
        raise_cost, overrun = [], []
        last = time.perf_counter()
        for i in range(60):
            t0 = time.perf_counter()
            alerter.raise_("query_timeout", "runner r1", f"query {i} took > 5 s", "retried")
            raise_cost.append(time.perf_counter() - t0)
            await asyncio.sleep(tick_s)
            now = time.perf_counter()
            overrun.append(now - last - tick_s)  # how much later than its cadence this tick ran
            last = now
        await alerter.stop(drain_timeout_s=0.5)
        return raise_cost, sorted(overrun)

    raise_cost, overrun = run(scenario())
    assert len(receiver.on("discord")) >= 1  # the sender really was stuck on the receiver
    assert max(raise_cost) < 0.005
    # a blocking send would stall a tick for the whole 0.5 s read timeout
    assert overrun[-1] < 0.25 and overrun[len(overrun) // 2] < 0.01
    rows = alert_rows(db_url)
    assert len(rows) == 60  # the ones not sent before stop are recorded as undelivered
    assert all(r["delivered"] is False for r in rows)
    assert any("ReadTimeout" in (r["last_error"] or "") for r in rows)


def test_full_queue_drops_and_counts_without_blocking(db_url):
    async def scenario():
        alerter = Alerter(db_url, AlertConfig(queue_size=2))
        for i in range(10):  # before start: nothing drains the queue
            alerter.raise_("drawdown", "session", f"drawdown {i}", "paused entries")
        await alerter.start()
        await alerter.stop()
        return alerter.stats

    stats = run(scenario())
    assert (stats.queued, stats.dropped) == (3, 8)  # 2 + the drop report itself
    rows = alert_rows(db_url)
    assert [r["kind"] for r in rows] == ["drawdown", "drawdown", "alerts_dropped"]
    assert rows[-1]["detail"]["dropped_total"] == 8


def test_without_channels_alerts_are_still_recorded(db_url):
    async def scenario():
        async with Alerter(db_url, AlertConfig()) as alerter:
            alerter.raise_("kill_switch_used", "dashboard", "kill switch set to pause", "paused")

    run(scenario())
    (row,) = alert_rows(db_url)
    assert row["delivered"] is None and row["attempts"] == 0 and row["last_error"] is None
    assert row["severity"] == "warning" and row["detail"]["channels"] == []


def test_raise_from_another_thread_is_queued_on_the_loop(db_url, receiver):
    async def scenario():
        async with Alerter(db_url, config(receiver)) as alerter:
            worker = threading.Thread(
                target=alerter.raise_, args=("lock_lost", "lock thread", "conn closed", "observer")
            )
            worker.start()
            worker.join()
            await asyncio.sleep(0.2)

    run(scenario())
    assert len(receiver.on("telegram")) == 1


def test_config_rejects_half_a_telegram_setup_and_unknown_keys():
    with pytest.raises(ValueError, match="Telegram"):
        AlertConfig.from_env({"UPDOWN_TELEGRAM_BOT_TOKEN": TOKEN})
    with pytest.raises(ValueError):
        AlertConfig(dedup_windw_s=5)
    assert TOKEN not in repr(
        AlertConfig.from_env({"UPDOWN_TELEGRAM_BOT_TOKEN": TOKEN, "UPDOWN_TELEGRAM_CHAT_ID": "1"})
    )
