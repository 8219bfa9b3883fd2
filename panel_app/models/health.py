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


def feed_rows(snapshot: Snapshot) -> pd.DataFrame:
    """One row per feed: the runner's view (age, out-of-order, lost) joined with the journal's
    measured last-message age and ticks/s over the last 10 s."""
    feeds = dict(snapshot.health.document.get("feeds") or {})
    journal = snapshot.frame("feed_last")
    rates = snapshot.frame("ticks_10s")
    rate_of = dict(zip(rates.get("source", []), rates.get("ticks_per_s", []), strict=False))
    age_of = dict(zip(journal.get("source", []), journal.get("age_s", []), strict=False))
    stale_by = _stored_for(snapshot)
    rows = []
    for name in sorted(set(feeds) | set(age_of)):
        info = feeds.get(name) or {}
        age = info.get("last_message_age_s")
        age = age_of.get(name) if age is None else float(age) + stale_by
        rows.append(
            {
                "feed": name,
                "age_s": None if age is None else round(float(age), 1),
                "status": age_status(None if age is None else float(age)),
                "runner_status": info.get("status", "—"),
                "ticks_per_s": float(rate_of.get(name, 0.0)),
                "out_of_order": info.get("out_of_order"),
                "lost_ticks": info.get("lost"),
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "feed",
            "age_s",
            "status",
            "runner_status",
            "ticks_per_s",
            "out_of_order",
            "lost_ticks",
        ],
    )


def completeness(snapshot: Snapshot) -> pd.DataFrame:
    """% of each window's elapsed seconds with at least one message, per feed (FM3)."""
    rows = snapshot.frame("completeness")
    if rows.empty:
        return pd.DataFrame(columns=["window", "feed", "complete_pct"])
    pct = 100.0 * rows["seconds_covered"].astype(float) / rows["seconds_expected"].astype(float)
    return pd.DataFrame(
        {
            "window": rows["slug"],
            "feed": rows["source"],
            "complete_pct": pct.clip(upper=100).round(1),
        }
    )


class HealthBarModel(param.Parameterized):
    """Derived health figures for the bar shown on every view."""

    cockpit = param.ClassSelector(class_=CockpitState)
    feeds = param.DataFrame(default=pd.DataFrame())
    completeness = param.DataFrame(default=pd.DataFrame())
    pool_utilization = param.Number(default=None, allow_None=True)
    last_write_age_s = param.Number(default=None, allow_None=True)
    clock_offset_ms = param.Number(default=None, allow_None=True)
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
        self.param.update(
            feeds=feed_rows(snap),
            completeness=completeness(snap),
            pool_utilization=db.get("pool_utilization"),
            last_write_age_s=db.get("last_write_age_s"),
            clock_offset_ms=doc.get("clock_offset_ms"),
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
