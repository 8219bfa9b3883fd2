"""WebSocket fan-out: market, user and price channels with PING/PONG keepalive. Messages are
serialised once and queued per subscriber; a stalled feed keeps sockets open and silent."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field

from starlette.websockets import WebSocket, WebSocketDisconnect

from sandbox import realtime_ws
from sandbox.clockwork import book_message
from sandbox.exchange import Exchange

QUEUE_LIMIT = 10_000
log = logging.getLogger(__name__)
# What a send/close on a socket the client already left raises (Starlette: RuntimeError after a
# close; uvicorn: ClientDisconnected, an OSError; WebSocketDisconnect on a receive).
GONE = (WebSocketDisconnect, RuntimeError, OSError)


@dataclass(eq=False)
class Subscriber:
    channel: str
    socket: WebSocket
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(QUEUE_LIMIT))
    keys: set[str] = field(default_factory=set)
    owner: str | None = None
    markets: set[str] = field(default_factory=set)
    authed: bool = False  # realtime gateway: after a valid `op: auth`


class Hub:
    """Routes exchange publications to matching subscribers."""

    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange
        self.subscribers: set[Subscriber] = set()
        exchange.publish = self.publish
        self.realtime_seq = 0

    def publish(self, channel: str, key: str, asset: str | None, payload: dict) -> None:
        if self.exchange.faults.stalled(channel, asset):
            self.exchange.counters[f"ws_{channel}_stalled"] += 1
            return
        if channel == "prices":
            self._publish_realtime(key, payload)
        text: str | None = None
        for sub in self.subscribers:
            if sub.channel != channel or not self._wants(sub, key, payload):
                continue
            text = text or json.dumps(payload if channel != "market" else [payload])
            if sub.queue.full():
                continue
            sub.queue.put_nowait(text)
            self.exchange.counters[f"ws_{channel}_sent"] += 1

    def _publish_realtime(self, topic: str, payload: dict) -> None:
        """The same prices on the authenticated realtime gateway (sandbox/realtime_ws.py)."""
        subs = [s for s in self.subscribers if s.channel == "realtime" and s.keys]
        if not subs:
            return
        self.realtime_seq += 1
        found = realtime_ws.data_frame(topic, payload["payload"], self.realtime_seq)
        if found is None:
            return
        key, frame = found
        text = json.dumps(frame)
        for sub in subs:
            if key in sub.keys and not sub.queue.full():
                sub.queue.put_nowait(text)
                self.exchange.counters["ws_realtime_sent"] += 1

    @staticmethod
    def _wants(sub: Subscriber, key: str, payload: dict) -> bool:
        if sub.channel == "user":
            if sub.owner != key:
                return False
            return not sub.markets or payload.get("market", "").lower() in sub.markets
        return key in sub.keys

    async def disconnect(self, channel: str | None) -> int:
        victims = [s for s in self.subscribers if channel in (None, s.channel)]
        for sub in victims:
            try:
                await sub.socket.close(code=1012)
            except GONE:
                self.exchange.counters[f"ws_{sub.channel}_close_gone"] += 1
            except Exception:  # noqa: BLE001 - not hidden: logged with traceback and counted
                self.exchange.counters["ws_internal_errors"] += 1
                log.exception("closing a %s socket failed", sub.channel)
        return len(victims)

    async def serve(self, socket: WebSocket, channel: str) -> None:
        await socket.accept()
        sub = Subscriber(channel=channel, socket=socket)
        self.subscribers.add(sub)
        writer = asyncio.create_task(self._write(sub))
        try:
            while True:
                text = await socket.receive_text()
                if text.strip().upper() == "PING":
                    if not sub.queue.full():
                        sub.queue.put_nowait("PONG")
                    continue
                await self._on_frame(sub, text)
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            self.subscribers.discard(sub)
            writer.cancel()

    async def _write(self, sub: Subscriber) -> None:
        """Drain the subscriber's queue onto its socket until the client leaves."""
        try:
            while True:
                await sub.socket.send_text(await sub.queue.get())
        except GONE:
            self.exchange.counters[f"ws_{sub.channel}_send_gone"] += 1
        except Exception:  # noqa: BLE001 - not hidden: logged with traceback and counted
            self.exchange.counters["ws_internal_errors"] += 1
            log.exception("writing to a %s socket failed", sub.channel)

    async def _on_frame(self, sub: Subscriber, text: str) -> None:
        try:
            frame = json.loads(text)
        except json.JSONDecodeError:
            return
        if not isinstance(frame, dict):
            return
        if sub.channel == "market":
            self._market_frame(sub, frame)
        elif sub.channel == "realtime":
            self._realtime_frame(sub, frame)
        elif sub.channel == "user":
            await self._user_frame(sub, frame)
        else:
            self._prices_frame(sub, frame)

    def _market_frame(self, sub: Subscriber, frame: dict) -> None:
        ids = [str(i) for i in _list(frame.get("assets_ids", frame.get("asset_ids")))]
        if frame.get("operation") == "unsubscribe":
            sub.keys.difference_update(ids)
            return
        sub.keys.update(ids)
        books = []
        for token in ids:
            hit = self.exchange.markets.lookup(token)
            # A stall on one asset keeps only that asset's books back (the others still flow).
            if hit is not None and not self.exchange.faults.stalled("market", hit[0].window.asset):
                books.append(book_message(self.exchange, hit[0], token))
        if books and not sub.queue.full():
            sub.queue.put_nowait(json.dumps(books))

    async def _user_frame(self, sub: Subscriber, frame: dict) -> None:
        auth = frame.get("auth")
        if isinstance(auth, dict):
            creds = self.exchange.keys.get(str(auth.get("apiKey")))
            if (
                creds is None
                or creds.passphrase != auth.get("passphrase")
                or (creds.secret != auth.get("secret"))
            ):
                await sub.socket.close(code=4001)
                return
            sub.owner = creds.key
        markets = {str(m).lower() for m in _list(frame.get("markets"))}
        if frame.get("operation") == "unsubscribe":
            sub.markets.difference_update(markets)
        else:
            sub.markets.update(markets)

    def _realtime_frame(self, sub: Subscriber, frame: dict) -> None:
        def creds_ok(auth: object) -> bool:
            if not isinstance(auth, dict):
                return False
            creds = self.exchange.keys.get(str(auth.get("apiKey")))
            return (
                creds is not None
                and creds.passphrase == auth.get("passphrase")
                and creds.secret == auth.get("secret")
            )

        sub.authed, replies, added, removed = realtime_ws.control(frame, sub.authed, creds_ok)
        sub.keys.update(added)
        sub.keys.difference_update(removed)
        for reply in replies:
            if not sub.queue.full():
                sub.queue.put_nowait(json.dumps(reply))

    def _prices_frame(self, sub: Subscriber, frame: dict) -> None:
        topics = {
            str(s.get("topic")) for s in _list(frame.get("subscriptions")) if isinstance(s, dict)
        }
        if frame.get("action") == "unsubscribe":
            sub.keys.difference_update(topics)
        else:
            sub.keys.update(topics)


def _list(value: object) -> list:
    """A subscribe frame's list field; anything else (absent, a number, an object) is none:
    a malformed frame subscribes to nothing rather than failing the connection."""
    return value if isinstance(value, list) else []
