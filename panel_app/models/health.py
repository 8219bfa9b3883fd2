"""System Health Bar model: feed ages, DB pool, completeness, clock, lock, runner endpoint."""

from __future__ import annotations

import pandas as pd
import param

from panel_app.models.state import CockpitState, Snapshot

GREEN_BELOW_S = 2.0
YELLOW_BELOW_S = 5.0
POOL_ALERT = 0.8


def age_status(age_s: float | None) -> str:
    """Spec colours for a feed's last-message age: green < 2 s, yellow < 5 s, else red."""
    if age_s is None or pd.isna(age_s):
        return "red"
    if age_s < GREEN_BELOW_S:
        return "green"
    return "yellow" if age_s < YELLOW_BELOW_S else "red"


def _stored_for(snapshot: Snapshot) -> float:
    """Seconds since the stored health copy was written, when that copy is what we show (the
    runner's endpoint is unreachable): its feed ages were measured then, not now."""
    if snapshot.health.source != "db":
        return 0.0
    instances = snapshot.frame("instances")
    if instances.empty or pd.isna(instances.iloc[0]["last_seen"]):
        return 0.0
    return max(0.0, (snapshot.taken_at - instances.iloc[0]["last_seen"]).total_seconds())


# How each channel is expected to speak (FM1): a continuous feed (the market channel's books and
# prices, the oracle prices) sends every second, so silence is staleness; the user channel speaks
# only about our orders and trades, so silence is normal while no order of ours is working.
EVENT_DRIVEN = ("user",)
CLOCK_THRESHOLD_MS = 250  # offset beyond this plus its uncertainty is red
WHOLE_SECOND_UNCERTAINTY_MS = 500  # one truncated whole-second reading of /time


def channel(feed: str) -> str:
    """The channel of a feed name: 'market:BTC' → 'market', 'user' → 'user'."""
    return feed.split(":", 1)[0]


def feed_status(feed: str, age_s: float | None, working_orders: int) -> tuple[str, str]:
    """(colour, expectation) of one feed: a continuous feed by its last-message age (spec:
    green < 2 s, yellow < 5 s, red); an event-driven one is green while it has nothing to
    say (no working order of ours), else judged by its age like the others."""
    if channel(feed) in EVENT_DRIVEN:
        if working_orders == 0:
            return "green", "event-driven: quiet while no order of ours is working"
        return age_status(age_s), f"event-driven: {working_orders} working order(s)"
    return age_status(age_s), "continuous: ≥ 1 message/s expected"


def _feed_stats(doc: dict) -> dict[str, dict]:
    """The recorder's per-journal-source counters (received, out_of_order, lost, …)."""
    stats = doc.get("recorder") or {}
    return {k: v for k, v in stats.items() if isinstance(v, dict)}


def feed_rows(snapshot: Snapshot) -> pd.DataFrame:
    """One row per feed: the runner's view (age, messages, gaps) or the journal's measured
    last-message age, ticks/s over the last 10 s, the recorder's out-of-order and lost counts,
    and a status judged by the feed's expected rate (`feed_status`)."""
    doc = snapshot.health.document
    feeds = dict(doc.get("feeds") or {})
    journal = snapshot.frame("feed_last")
    rates = snapshot.frame("ticks_10s")
    rate_of = dict(zip(rates.get("source", []), rates.get("ticks_per_s", []), strict=False))
    age_of = dict(zip(journal.get("source", []), journal.get("age_s", []), strict=False))
    counts = _feed_stats(doc)
    working = snapshot.frame("working_orders")
    working_orders = 0 if working.empty else int(working.iloc[0]["orders"])
    stale_by = _stored_for(snapshot)
    rows = []
    for name in sorted(set(feeds) | set(age_of)):
        info = feeds.get(name) or {}
        age = info.get("last_message_age_s")
        age = age_of.get(name) if age is None else float(age) + stale_by
        age = None if age is None or pd.isna(age) else round(float(age), 1)
        status, expectation = feed_status(name, age, working_orders)
        count = counts.get(name) or {}
        rows.append(
            {
                "feed": name,
                "age_s": age,
                "status": status,
                "expected": expectation,
                "ticks_per_s": float(rate_of.get(name, info.get("rate_per_s") or 0.0)),
                "messages": int(info.get("messages", count.get("received", 0)) or 0),
                "gaps": int(info.get("gaps", 0) or 0),
                "out_of_order": int(count.get("out_of_order", 0)),
                "lost_ticks": int(count.get("lost", 0)),
            }
        )
    return pd.DataFrame(rows, columns=FEED_COLUMNS)


FEED_COLUMNS = [
    "feed",
    "age_s",
    "status",
    "expected",
    "ticks_per_s",
    "messages",
    "gaps",
    "out_of_order",
    "lost_ticks",
]


def completeness(snapshot: Snapshot) -> pd.DataFrame:
    """% of the time each feed was supposed to cover in each window that it was fresh (FM3):
    the covered span minus every silence beyond the spec's green age (2 s) between consecutive
    messages (see the `completeness` query). A feed covers a window from when it started to
    speak about it (a window already running when the feed started is not counted against it)
    to its latest message (a feed silent right now is the staleness indicator's)."""
    rows = snapshot.frame("completeness")
    if rows.empty:
        return pd.DataFrame(columns=["window", "feed", "complete_pct"])
    covered = rows["seconds_covered"].astype(float).clip(lower=0)
    pct = 100.0 * covered / rows["seconds_expected"].astype(float)
    return pd.DataFrame(
        {
            "window": rows["slug"],
            "feed": rows["source"],
            "complete_pct": pct.clip(upper=100).round(1),
        }
    )


def clock_reading(doc: dict) -> tuple[float | None, float | None]:
    """(offset ms, uncertainty ms) from the health document: the runner's measured `clock`
    block, else the bare `clock_offset_ms` of one whole-second reading (±500 ms)."""
    block = doc.get("clock") or {}
    if block.get("offset_ms") is not None:
        return float(block["offset_ms"]), float(block.get("uncertainty_ms") or 0)
    bare = doc.get("clock_offset_ms")
    return (None, None) if bare is None else (float(bare), float(WHOLE_SECOND_UNCERTAINTY_MS))


def clock_status(offset_ms: float | None, uncertainty_ms: float | None) -> str:
    """Red only when the offset is beyond the threshold by more than its uncertainty."""
    if offset_ms is None:
        return "grey"
    return "red" if abs(offset_ms) > CLOCK_THRESHOLD_MS + (uncertainty_ms or 0) else "green"


def assertion_summary(snapshot: Snapshot) -> tuple[int, int, list[str]]:
    """(checks passing in every mode, checks, failing 'name (MODE)') from the latest result
    of each check in each mode this session."""
    latest = snapshot.frame("assertions_by_mode")
    if latest.empty:
        return 0, 0, []
    bad = latest[~latest["ok"].astype(bool)]
    failing = sorted(f"{n} ({m})" for n, m in zip(bad["name"], bad["mode"], strict=True))
    names = set(latest["name"])
    return len(names - set(bad["name"])), len(names), failing


class HealthBarModel(param.Parameterized):
    """Derived health figures for the bar shown on every view."""

    cockpit = param.ClassSelector(class_=CockpitState)
    feeds = param.DataFrame(default=pd.DataFrame())
    completeness = param.DataFrame(default=pd.DataFrame())
    pool_utilization = param.Number(default=None, allow_None=True)
    last_write_age_s = param.Number(default=None, allow_None=True)
    clock_offset_ms = param.Number(default=None, allow_None=True)
    clock_uncertainty_ms = param.Number(default=None, allow_None=True)
    assertions = param.Tuple(default=(0, 0, []))
    lock_holder = param.String(default="none")
    lock_held = param.Boolean(default=False)
    runner = param.String(default="no runner registered")
    runner_ok = param.Boolean(default=False)
    reconciliation = param.String(default="no reconciliation recorded")
    reconciliation_ok = param.Boolean(default=False)
    poller_error = param.String(default="")

    def refresh(self) -> None:
        snap = self.cockpit.snapshot
        doc = snap.health.document
        db = doc.get("db") or {}
        clock = clock_reading(doc)
        self.param.update(
            feeds=feed_rows(snap),
            completeness=completeness(snap),
            pool_utilization=db.get("pool_utilization"),
            last_write_age_s=db.get("last_write_age_s"),
            clock_offset_ms=clock[0],
            clock_uncertainty_ms=clock[1],
            assertions=assertion_summary(snap),
            poller_error=self.cockpit.error,
            **self._lock(snap),
            **self._runner(snap),
            **self._reconciliation(snap),
        )

    def worst_completeness(self) -> float | None:
        frame = self.completeness
        return None if frame.empty else float(frame["complete_pct"].min())

    @staticmethod
    def _lock(snap: Snapshot) -> dict:
        instances = snap.frame("instances")
        holders = instances[instances["lock_held"]] if not instances.empty else instances
        if holders.empty:
            return {"lock_holder": "none", "lock_held": False}
        ids = ", ".join(holders["instance_id"])
        return {
            "lock_holder": f"{ids} (sole trader)" if len(holders) == 1 else ids,
            "lock_held": len(holders) == 1,
        }

    @staticmethod
    def _runner(snap: Snapshot) -> dict:
        health = snap.health
        if health.source == "none" and health.instance_id is None:
            return {"runner": "no runner registered", "runner_ok": False}
        if health.reachable:
            state = health.document.get("trading_state", "?")
            return {"runner": f"reachable · {state}", "runner_ok": True}
        return {
            "runner": f"UNREACHABLE ({health.error or 'no url'}); showing stored health",
            "runner_ok": False,
        }

    @staticmethod
    def _reconciliation(snap: Snapshot) -> dict:
        runs = snap.frame("reconciliation")
        if runs.empty:
            return {"reconciliation": "no reconciliation recorded", "reconciliation_ok": False}
        last = runs.sort_values("ts").iloc[-1]
        verdict = "OK" if last["ok"] else f"MISMATCH ({len(last['differences'])} differences)"
        return {
            "reconciliation": f"{verdict} at {last['ts']:%H:%M:%S}",
            "reconciliation_ok": bool(last["ok"]),
        }
