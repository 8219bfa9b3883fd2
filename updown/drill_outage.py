"""`updown drill db-outage`: a database outage in the middle of a trading session (issue 15).

The drill's world (updown/drill.py: a throwaway database, an in-process sandbox, one wallet) with
two `updown run --mode live` processes: a trader and an observer. Once the trader has ordered,
the database goes away for `seconds`: it refuses every connection (`ALTER DATABASE …
ALLOW_CONNECTIONS false`, which binds superusers too) and every connection to it is terminated —
the record and pool connections and the sole-trader lock's. That is what a stopped server looks
like to the runners, on a server other sessions share (a real stop of the embedded server is
`updown db` territory, not a drill's).

Checked, each failure a violation (exit 1):
- no order reaches the venue during the outage (the sandbox's own order log, not our database),
  after a grace of 1 s for an order already in flight when it began;
- never two instances in the trader role at one poll, before, during or after;
- after it, exactly one trader within 30 s (the trader lost its lock with its connection: the
  observer takes over), its reconciliation with the venue recorded OK before its first order;
- trading resumes (an order after the outage);
- market data: every message either written, buffered or counted lost (`received = written +
  duplicates + lost + buffered` per feed and instance, once the buffers drained): none lost
  silently; the counts are printed;
- at the end, the ledger checks of the other drills (nothing lost, duplicated or orphaned,
  balance equal to the ledger).
"""

from __future__ import annotations

import signal
import time
from typing import Any

import psycopg

from updown.drill import Progress, Report, World, _ledger_checks, _settle_all, _wait

GRACE_S = 1.0  # an order the venue accepts this soon after the outage began was already sent
BAR = 20
DRAINED = 1000  # buffered messages left once the backlog is written (the live flow's batches)


def _ours(world: World) -> set[str]:
    """Ids of every order the venue accepted from the drill's wallet (its order log)."""
    from sandbox.wire import MAKER_BOT_OWNER

    orders = list(world.sandbox.exchange.orders.values())
    return {o.id for o in orders if o.owner != MAKER_BOT_OWNER}


def _role(world: World, name: str) -> str | None:
    return ((world.health(name) or {}).get("lock") or {}).get("role")


def _recorder(world: World, name: str) -> dict[str, dict[str, int]]:
    return (world.health(name) or {}).get("recorder") or {}


def _totals(stats: dict[str, dict[str, int]]) -> dict[str, int]:
    keys = ("received", "duplicates", "written", "lost", "buffered")
    return {k: sum(s.get(k, 0) for s in stats.values()) for k in keys}


def _silent(stats: dict[str, dict[str, int]]) -> int:
    """Messages neither written, duplicate, buffered nor counted lost (should be 0)."""
    t = _totals(stats)
    return t["received"] - t["duplicates"] - t["written"] - t["lost"] - t["buffered"]


def _cut(admin: psycopg.Connection, dbname: str, allow: bool) -> None:
    admin.execute(f'ALTER DATABASE "{dbname}" ALLOW_CONNECTIONS {"true" if allow else "false"}')
    if not allow:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            (dbname,),
        )


def db_outage(
    seconds: float,
    *,
    seed: int = 1,
    window_s: int = 20,
    progress: Progress = print,
    keep: bool = False,
) -> Report:
    """A `seconds`-long outage of the database mid-session with a trader and an observer."""
    report = Report("db-outage", {"outage_s": seconds})
    began = time.monotonic()
    with World(seed, window_s, keep) as world:
        start_balance = world.start_balance
        first = world.start()
        world.wait_started(first)
        second = world.start()
        world.wait_started(second)
        names = (first, second)
        if not _wait(lambda: world.rows("SELECT 1 FROM orders WHERE mode = 'LIVE'"), 3 * window_s):
            report.violations.append("no LIVE order before the outage: nothing was trading")
        progress(f"db-outage: {first} trades, {second} observes; the database goes away now")
        with psycopg.connect(world.admin_url, autocommit=True) as admin:
            before = _ours(world)
            _cut(admin, world.dbname, allow=False)
            down_at = time.time()
            try:
                during = _during(world, names, seconds, report, progress)
            finally:
                _cut(admin, world.dbname, allow=True)
        up_at = time.time()
        report.figures["orders_in_flight_at_start"] = len(during["at_grace"] - before)
        report.figures["orders_during_outage"] = len(during["at_end"] - during["at_grace"])
        if during["at_end"] - during["at_grace"]:
            report.violations.append(
                f"{len(during['at_end'] - during['at_grace'])} order(s) reached the venue "
                "during the outage"
            )
        trader = _after(world, names, up_at, report)
        _market_data(world, names, report)
        for name in names:
            if name != trader:
                world.kill(name, signal.SIGINT)
        if trader is None or not _settle_all(world, trader, 4 * window_s + 30):
            report.violations.append("nobody settled everything after the outage")
        if trader is not None:
            world.kill(trader, signal.SIGINT)
        _ledger_checks(world, report, start_balance)
        report.figures["outage_measured_s"] = round(up_at - down_at, 1)
    report.figures["seconds"] = round(time.monotonic() - began, 1)
    return report


def _during(
    world: World, names: tuple[str, str], seconds: float, report: Report, progress: Progress
) -> dict[str, Any]:
    """Poll the two instances (their /health needs no database) until the outage is over."""
    start = time.monotonic()
    at_grace: set[str] | None = None
    peak_buffered, next_line = 0, 0.0
    tripped: set[str] = set()
    while (elapsed := time.monotonic() - start) < seconds:
        if at_grace is None and elapsed >= GRACE_S:
            at_grace = _ours(world)
        roles = {n: _role(world, n) for n in names}
        if list(roles.values()).count("trader") > 1:
            report.violations.append(f"two traders during the outage at +{elapsed:.1f} s")
        buffered = 0
        for name in names:
            status = world.health(name) or {}
            buffered += _totals(status.get("recorder") or {})["buffered"]
            if (status.get("breaker") or {}).get("tripped"):
                tripped.add(name)
        peak_buffered = max(peak_buffered, buffered)
        if elapsed >= next_line:
            done = int(BAR * elapsed / seconds)
            sent = len(_ours(world) - at_grace) if at_grace is not None else 0
            progress(
                f"db-outage [{'#' * done}{'.' * (BAR - done)}] {elapsed:4.1f}/{seconds:g} s  "
                f"orders {sent}  roles {'/'.join(str(r) for r in roles.values())}  "
                f"market messages buffered {buffered}"
            )
            next_line += 1.0
        time.sleep(0.25)
    report.figures["market_buffered_peak"] = peak_buffered
    report.figures["breakers_tripped_during"] = len(tripped)
    if at_grace is None:
        at_grace = _ours(world)
    return {"at_grace": at_grace, "at_end": _ours(world)}


def _after(world: World, names: tuple[str, str], up_at: float, report: Report) -> str | None:
    """One trader again, reconciled before its first order; trading resumes."""
    t0 = time.monotonic()

    def one_trader() -> str | None:
        traders = [n for n in names if _role(world, n) == "trader"]
        if len(traders) > 1:
            report.violations.append("two traders after the outage")
        return traders[0] if len(traders) == 1 else None

    trader = _wait(one_trader, 30, every=0.1)
    if trader is None:
        report.violations.append("no trader within 30 s of the outage's end")
        return None
    report.figures["trader_again_after_s"] = round(time.monotonic() - t0, 2)
    report.figures["trader_after"] = "the observer (took over)" if trader == names[1] else "same"
    after = f"to_timestamp({up_at})"
    first_order = _wait(
        lambda: world.rows(
            f"SELECT min(created_ts) FROM orders WHERE mode = 'LIVE' AND created_ts > {after} "
            "HAVING count(*) > 0"
        ),
        3 * world.window_s,
        every=0.25,
    )
    if not first_order:
        report.violations.append("trading did not resume after the outage")
        return trader
    report.figures["first_order_after_s"] = round(first_order[0][0].timestamp() - up_at, 1)
    rec = world.rows(
        f"SELECT min(ts) FROM reconciliation_runs WHERE ok AND ts > {after} HAVING count(*) > 0"
    )
    if not rec or rec[0][0] > first_order[0][0]:
        report.violations.append("an order after the outage came before a clean reconciliation")
    else:
        report.figures["reconciled_after_s"] = round(rec[0][0].timestamp() - up_at, 1)
    return trader


def _market_data(world: World, names: tuple[str, str], report: Report) -> None:
    """Every market message accounted for, once the backlog has drained into the store (the live
    flow keeps a batch or so buffered between flushes)."""

    def drained() -> list[dict] | None:
        stats = [_recorder(world, n) for n in names]
        if all(_totals(s)["buffered"] <= DRAINED and _silent(s) == 0 for s in stats):
            return stats
        return None

    stats = _wait(drained, 30, every=0.5) or [_recorder(world, n) for n in names]
    totals = [_totals(s) for s in stats]
    report.figures["market_received"] = sum(t["received"] for t in totals)
    report.figures["market_written"] = sum(t["written"] for t in totals)
    report.figures["market_lost_counted"] = sum(t["lost"] for t in totals)
    report.figures["market_still_buffered"] = sum(t["buffered"] for t in totals)
    silent = sum(_silent(s) for s in stats)
    report.figures["market_lost_silently"] = silent
    if silent:
        report.violations.append(f"{silent} market message(s) neither written nor counted")
