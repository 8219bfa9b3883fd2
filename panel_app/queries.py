"""Every SQL statement the dashboard runs, in one place (read models over migration 001).

The poller runs these; views never query. `EVENT_QUERIES` are refreshed when the watermark moves,
`FEED_QUERIES` every second (ages and rates change with time even when nothing is written).
`%(since)s` is the session start: the trader instance's start, else 24 h ago.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import psycopg
from psycopg.types.numeric import FloatLoader

from live.store import controls as control_store

SESSION_START = """
SELECT coalesce(max(started_at) FILTER (WHERE role = 'trader'), now() - interval '24 hours')
FROM instances"""

WATERMARK = """
SELECT (SELECT max(id) FROM order_events), (SELECT max(id) FROM position_events),
       (SELECT count(*) FROM fills), (SELECT max(ts) FROM fills), (SELECT count(*) FROM signals),
       (SELECT max(id) FROM decisions), (SELECT max(updated_ts) FROM orders),
       (SELECT max(updated_ts) FROM positions), (SELECT max(id) FROM assertion_results),
       (SELECT max(id) FROM control_changes), (SELECT max(id) FROM settlements),
       (SELECT max(id) FROM balances), (SELECT max(id) FROM feed_gaps),
       (SELECT max(id) FROM breaker_events), (SELECT max(id) FROM reconciliation_runs),
       (SELECT max(last_seen) FROM instances), (SELECT count(*) FROM windows),
       (SELECT max(id) FROM promotions), (SELECT max(id) FROM alerts),
       (SELECT count(*) FROM backtest_runs),
       (SELECT max(coalesce(redeemed_ts, resolved_ts)) FROM redemptions),
       (SELECT max(id) FROM kill_criterion_hits), (SELECT max(sent_ts) FROM orders)"""

TRADES = """
SELECT p.position_id, p.opened_ts, p.closed_ts, p.mode, p.run_id, p.strategy, p.asset,
       p.window_slug, p.outcome AS side, p.state, p.shares, p.entry_price, p.exit_price,
       p.mark_price, p.exit_reason, p.resolution, p.cost, p.fees, p.pnl_gross, p.pnl_net,
       eo.client_order_id AS entry_order, eo.venue_order_id, eo.state AS order_state,
       eo.requested_shares, eo.requested_usd, eo.filled_shares,
       ef.intended_entry, ef.book_ratio, coalesce(ef.impact_flag, false) AS impact_flag,
       tr.intended_price AS intended_exit, s.ours, s.venue AS venue_resolution, s.agreement,
       s.confirmed_ts
FROM positions p
LEFT JOIN LATERAL (SELECT * FROM orders o WHERE o.position_id = p.position_id
                   AND o.purpose = 'ENTRY' ORDER BY o.created_ts LIMIT 1) eo ON true
LEFT JOIN LATERAL (SELECT sum(f.intended_price * f.shares) / nullif(sum(f.shares), 0)
                          AS intended_entry, max(f.book_ratio) AS book_ratio,
                          bool_or(f.impact_flag) AS impact_flag
                   FROM fills f WHERE f.client_order_id = eo.client_order_id) ef ON true
LEFT JOIN LATERAL (SELECT e.intended_price FROM position_events e
                   WHERE e.position_id = p.position_id AND e.intended_price IS NOT NULL
                   ORDER BY e.ts LIMIT 1) tr ON true
LEFT JOIN settlements s ON s.window_slug = p.window_slug AND s.mode = p.mode
                        AND coalesce(s.run_id, '') = coalesce(p.run_id, '')
ORDER BY p.opened_ts DESC LIMIT 5000"""

# The activity feed in the spec's sentences (View 1), newest first, one row per audit record:
# signal, order placed, fill, assertion batch, window opened/closed, settlement, redemption,
# breaker, denial, control change, exit and kill-criterion hit. Money is formatted to the cent
# here (text for display). Exits, settlements, breaker events, control changes and kill hits
# show the sentence stored with their inputs (live/kernel/audit.py, migration 007); rows older
# than their sentence fall back to the short form built here. An order is "placed" when it was
# sent to the venue (orders.sent_ts), not when it was decided (created_ts).
ACTIVITY = """
(SELECT ts, 'SIGNAL' AS kind, strategy || ' → ' || asset || ' ' || side || ' signal ($'
        || to_char(usd, 'FM999990.00') || CASE WHEN max_price IS NULL THEN ', no price limit'
        ELSE ' up to $' || to_char(max_price, 'FM0.00') END || ', ' || mode || ')' AS text,
        signal_id AS ref
   FROM signals ORDER BY ts DESC LIMIT 60)
UNION ALL
(SELECT coalesce(sent_ts, created_ts), 'ORDER', 'ORDER ' || CASE WHEN state IN ('REJECTED',
        'CANCELLED') THEN lower(state::text) ELSE 'placed' END || ': '
        || split_part(window_slug, '-', 1) || '-' || outcome || ' '
        || CASE WHEN requested_usd IS NOT NULL THEN '$' || to_char(requested_usd, 'FM999990.00')
        ELSE to_char(requested_shares, 'FM999990.00') || ' shares' END
        || ' @ $' || to_char(worst_price, 'FM0.00') || ' (' || lower(purpose::text) || ' '
        || lower(side::text) || ', ' || mode || ')', client_order_id
   FROM orders ORDER BY created_ts DESC LIMIT 60)  -- the index; sent_ts follows created_ts
UNION ALL
(SELECT f.ts, 'FILL', 'FILL ' || lower(f.status) || ': ' || to_char(f.shares, 'FM999990.00')
        || ' shares @ $' || to_char(f.price, 'FM0.00') || ' (' || split_part(o.window_slug, '-', 1)
        || '-' || o.outcome || ', fee $' || to_char(f.fee, 'FM999990.00') || ', ' || f.mode
        || ')', f.fill_id
   FROM fills f JOIN orders o USING (client_order_id) ORDER BY f.ts DESC LIMIT 60)
UNION ALL
(SELECT ts, 'ASSERTION', CASE WHEN ok THEN 'ASSERTION OK: ' || n || '/' || n
        || ' checks passed' ELSE 'ASSERTION FAILED: ' || failed || ' (' || passed || '/' || n
        || ' checks passed)' END || coalesce(' (' || mode || ')', ''), id::text
   FROM (SELECT ts, mode, bool_and(ok) AS ok, count(*) AS n, count(*) FILTER (WHERE ok) AS
                passed, string_agg(name, ', ' ORDER BY name) FILTER (WHERE NOT ok) AS failed,
                min(id) AS id, max(ts) OVER (PARTITION BY mode) AS latest
           FROM assertion_results
          -- the last hour of batches (index on ts): a whole table's scan every poll grew
          -- with every 2 s batch of every mode
          WHERE ts > (SELECT max(ts) FROM assertion_results) - interval '1 hour'
          GROUP BY ts, mode) batches
  -- each mode's latest batch and every failed one: a passing batch every 2 s per mode would
  -- push every other sentence out of the feed
  WHERE ts = latest OR NOT ok ORDER BY ts DESC LIMIT 20)
UNION ALL
(SELECT ts, 'DENIAL', 'DENIED ' || strategy || ' ' || window_slug || ': ' || code, id::text
   FROM decisions WHERE verdict = 'DENIED' ORDER BY ts DESC LIMIT 20)
UNION ALL
(SELECT ts, 'WINDOW', 'WINDOW ' || slug || ' ' || what || ' (' || asset || ' '
        || CASE WHEN mod(length_s, 60) = 0 THEN length_s / 60 || 'm' ELSE length_s || 's' END
        || ')', slug || what
   FROM (SELECT slug, asset, length_s, open_ts AS ts, 'opened' AS what FROM windows
          WHERE open_ts <= now()
         UNION ALL SELECT slug, asset, length_s, close_ts, 'closed' FROM windows
          WHERE close_ts <= now()) w
   ORDER BY ts DESC LIMIT 30)
UNION ALL
(SELECT ts, 'SETTLEMENT', coalesce(audit || ' (' || mode || ')', 'SETTLEMENT ' || window_slug
        || ': ours ' || ours || ', venue ' || coalesce(venue, 'not yet published') || ' ('
        || agreement || ', ' || mode || ')'), id::text
   FROM settlements ORDER BY ts DESC LIMIT 30)
UNION ALL
(SELECT coalesce(redeemed_ts, resolved_ts), 'REDEMPTION', 'REDEMPTION ' || CASE WHEN status
        = 'REDEEMED' THEN 'done: $' || to_char(coalesce(venue_paid_usd, expected_usd),
        'FM999990.00') || ' paid' ELSE 'awaiting: $' || to_char(expected_usd, 'FM999990.00')
        || ' owed' END || ' for ' || window_slug || ' (' || mode || ')', position_id || status
   FROM redemptions ORDER BY coalesce(redeemed_ts, resolved_ts) DESC LIMIT 30)
UNION ALL
(SELECT ts, 'BREAKER', coalesce(audit || coalesce(' (' || mode || ')', ''), CASE WHEN tripped
        THEN 'BREAKER TRIPPED: ' ELSE 'BREAKER RESET: ' END || reason), id::text
   FROM breaker_events ORDER BY ts DESC LIMIT 10)
UNION ALL
(SELECT changed_at, 'CONTROL', coalesce(audit, 'CONTROL ' || key || ': '
        || coalesce(old_value, 'unset') || ' → ' || coalesce(new_value, 'removed') || ' by '
        || changed_by), id::text
   FROM control_changes ORDER BY id DESC LIMIT 20)
UNION ALL
(SELECT e.ts, 'EXIT', 'EXIT ' || split_part(p.window_slug, '-', 1) || '-' || p.outcome || ' ('
        || p.mode || '): ' || e.audit, e.id::text
   FROM position_events e JOIN positions p USING (position_id)
  WHERE e.audit IS NOT NULL AND e.to_state IN ('STOP_TRIGGERED', 'TAKE_PROFIT_TRIGGERED',
        'TRAILING_TRIGGERED', 'FLATTEN_REQUESTED', 'EXPIRY', 'CLOSED')
  ORDER BY e.ts DESC LIMIT 40)
UNION ALL
(SELECT ts, 'KILL', audit || coalesce(' (' || mode || ')', ''), id::text
   FROM kill_criterion_hits ORDER BY ts DESC LIMIT 10)
ORDER BY ts DESC LIMIT 200"""

EVENT_QUERIES: dict[str, str] = {
    "controls": "SELECT key, value, updated_by, updated_at FROM runtime_controls ORDER BY key",
    "control_changes": """SELECT id, key, old_value, new_value, changed_by, changed_at, audit
        FROM control_changes ORDER BY id DESC LIMIT 50""",
    "windows": """SELECT slug, venue, asset, length_s, open_ts, close_ts, condition_id,
        token_up, token_down, strike, final_price, status, winner, fee_rate FROM windows
        WHERE close_ts > now() - interval '2 hours' AND open_ts < now() + interval '1 hour'
        ORDER BY open_ts""",
    "positions": """SELECT position_id, mode, run_id, strategy, window_slug, asset, outcome,
        token_id, state, shares, entry_price, cost, fees, mark_price, exit_price, proceeds,
        exit_reason, resolution, pnl_gross, pnl_net, opened_ts, updated_ts, closed_ts
        FROM positions WHERE state <> 'CLOSED' OR opened_ts >= %(since)s
        OR closed_ts >= %(since)s ORDER BY opened_ts""",
    # One step per state transition: the events that repeat the previous state (a mark update,
    # a second fill of the entry) are not steps.
    "lifecycle": """SELECT position_id, string_agg(to_state, ' → ' ORDER BY ts, id) AS path
        FROM (SELECT e.position_id, e.to_state, e.ts, e.id, lag(e.to_state) OVER
                (PARTITION BY e.position_id ORDER BY e.ts, e.id) AS previous
              FROM position_events e JOIN positions p USING (position_id)
              WHERE p.state <> 'CLOSED' OR p.opened_ts >= %(since)s) steps
        WHERE previous IS DISTINCT FROM to_state GROUP BY position_id""",
    "trades": TRADES,
    "activity": ACTIVITY,
    "assertions": """SELECT DISTINCT ON (name) name, ts, ok, detail FROM assertion_results
        ORDER BY name, ts DESC""",
    # The latest result of each check in each mode this session (the copies run them too: one
    # mode's pass must not hide another's failure).
    "assertions_by_mode": """SELECT DISTINCT ON (mode, name) mode, name, ts, ok
        FROM assertion_results WHERE ts >= %(since)s ORDER BY mode, name, ts DESC""",
    "assertion_failures": """SELECT DISTINCT ON (name) name, ts, detail FROM assertion_results
        WHERE NOT ok ORDER BY name, ts DESC""",
    "triggers": """SELECT e.ts, p.position_id, p.strategy, p.asset, p.mode, e.to_state AS trigger,
        e.trigger_price, e.intended_price,
        coalesce((SELECT c.actual_price FROM position_events c WHERE c.position_id = e.position_id
                  AND c.actual_price IS NOT NULL AND c.ts > e.ts ORDER BY c.ts LIMIT 1),
                 p.exit_price) AS actual_price,
        (SELECT c.audit FROM position_events c WHERE c.position_id = e.position_id
         AND c.audit IS NOT NULL ORDER BY c.ts DESC, c.id DESC LIMIT 1) AS sentence
        FROM position_events e JOIN positions p USING (position_id)
        WHERE e.to_state IN ('STOP_TRIGGERED', 'TAKE_PROFIT_TRIGGERED', 'TRAILING_TRIGGERED',
                             'FLATTEN_REQUESTED') ORDER BY e.ts DESC LIMIT 200""",
    "order_states": """SELECT mode, state, count(*) AS orders FROM orders
        WHERE created_ts >= %(since)s GROUP BY mode, state ORDER BY mode, state""",
    "balances": """SELECT DISTINCT ON (b.mode, b.source) b.mode, b.source, b.ts, b.usd,
        (SELECT max(f.ts) FROM fills f WHERE f.mode = b.mode) AS last_fill_ts FROM balances b
        ORDER BY b.mode, b.source, b.ts DESC""",
    "redemptions": """SELECT mode, status, count(*) AS positions,
        sum(expected_usd) AS usd FROM redemptions GROUP BY mode, status ORDER BY mode, status""",
    "feed_gaps": """SELECT feed, asset, start_ts, end_ts, reason FROM feed_gaps
        WHERE end_ts IS NULL OR start_ts > now() - interval '24 hours'
        ORDER BY start_ts DESC LIMIT 100""",
    "reconciliation": """SELECT DISTINCT ON (instance_id) instance_id, ts, ok, differences, error
        FROM reconciliation_runs ORDER BY instance_id, ts DESC""",
    "breakers": """SELECT ts, tripped, reason, instance_id, audit FROM breaker_events
        ORDER BY ts DESC LIMIT 20""",
    "signals_latest": """SELECT DISTINCT ON (strategy, asset) strategy, asset, ts, window_slug,
        side, confidence, max_price, mode, inputs FROM signals
        WHERE ts > now() - interval '1 day' ORDER BY strategy, asset, ts DESC""",
    "denials": """SELECT strategy, code, count(*) AS denials, max(ts) AS last_ts FROM decisions
        WHERE verdict = 'DENIED' AND ts >= %(since)s GROUP BY strategy, code""",
    "promotions": """SELECT DISTINCT ON (strategy, target) strategy, target, ts, file_sha256
        FROM promotions WHERE revoked_at IS NULL ORDER BY strategy, target, ts DESC""",
    # The runner raises `kill_criterion_hit` (live.alerts.alerter.AlertKind) with the strategy as
    # the alert's `where` (stored in detail); an explicit detail.strategy wins if present.
    "kill_criteria": """SELECT DISTINCT coalesce(detail->>'strategy', detail->>'where')
        AS strategy FROM alerts WHERE kind = 'kill_criterion_hit'
        AND (detail ? 'strategy' OR detail ? 'where')""",
    "token_mismatches": """SELECT p.position_id, p.asset, p.token_id, w.token_up, w.token_down
        FROM positions p JOIN windows w ON w.slug = p.window_slug
        AND w.venue = coalesce(p.venue, w.venue) WHERE p.state <> 'CLOSED'
        AND p.token_id NOT IN (coalesce(w.token_up, ''), coalesce(w.token_down, ''))""",
    "runs": """SELECT run_id, kind, mode, strategy, fill_model, latency_ms, summary, started_at,
        finished_at FROM backtest_runs ORDER BY started_at DESC LIMIT 20""",
    "instances": """SELECT instance_id, host, pid, role, mode, venue, health_url, lock_held,
        started_at, last_seen, health FROM instances
        ORDER BY (role = 'trader') DESC, last_seen DESC""",
}

FEED_QUERIES: dict[str, str] = {
    # Ages and rates on our receive clock (`recv_ts`, the venue's stamp when absent): the venue's
    # stamps can run ahead of ours (a skewed venue clock is the clock chip's), and an age is how
    # long WE have heard nothing. `ts` bounds the scan (its index).
    "feed_last": """SELECT source, max(coalesce(recv_ts, ts)) AS last_ts,
        greatest(0, extract(epoch FROM now() - max(coalesce(recv_ts, ts))))::float AS age_s
        FROM market_events WHERE ts > now() - interval '10 minutes' AND source <> 'engine'
        GROUP BY source ORDER BY source""",
    "ticks_10s": """SELECT source, count(*) / 10.0 AS ticks_per_s FROM market_events
        WHERE ts > now() - interval '30 seconds' AND source <> 'engine'
        AND coalesce(recv_ts, ts) > now() - interval '10 seconds' GROUP BY source""",
    # A feed covers a window from when it started to speak about it to its latest message in
    # it (panel_app.models.health.completeness): a per-window stream (keyed by slug: books,
    # trades) from its first message about the window (it is subscribed when the window is
    # listed); a per-asset stream (prices) from the later of the window's open and the feed's
    # first message this session. Time without data is the time the feed was not fresh by
    # the spec's green age (its last message ≥ 2 s old): each stretch between consecutive
    # messages beyond 2 s, measured on the venue's stamps and on our receive clock, the
    # shorter: a burst delivered late lost nothing, a step of the venue's clock is the clock
    # chip's, a real outage is long on both.
    # The user channel is event-driven, not counted.
    "completeness": """WITH span AS (SELECT source, asset, min(ts) AS first_ts
            FROM market_events WHERE ts >= %(since)s AND ts > now() - interval '40 minutes'
            AND source NOT IN ('engine', 'user') GROUP BY source, asset),
        ev AS (SELECT w.slug, w.asset, w.open_ts, e.source, e.ts,
                coalesce(e.recv_ts, e.ts) AS recv, e.slug IS NOT NULL AS keyed,
                greatest(w.open_ts, s.first_ts) AS asset_from
            FROM windows w JOIN market_events e ON e.ts >= w.open_ts AND e.ts < w.close_ts
                 AND (e.slug = w.slug OR (e.slug IS NULL AND e.asset = w.asset))
                 AND e.source NOT IN ('engine', 'user') AND e.ts >= %(since)s
            LEFT JOIN span s ON s.source = e.source AND s.asset = e.asset
            WHERE w.open_ts > now() - interval '30 minutes' AND w.open_ts <= now()),
        gaps AS (SELECT *, extract(epoch FROM least(ts - lag(ts) OVER p,
                                                    recv - lag(recv) OVER p)) AS gap_s
            FROM ev WINDOW p AS (PARTITION BY slug, source ORDER BY ts, recv)),
        per AS (SELECT slug, asset, open_ts, source, max(ts) AS last_ts,
                CASE WHEN bool_or(keyed) THEN min(ts) ELSE min(asset_from) END AS from_ts,
                min(ts) AS first_ts, sum(greatest(0, coalesce(gap_s, 0) - 2)) AS silent_s
            FROM gaps GROUP BY slug, asset, open_ts, source)
        SELECT slug, asset, open_ts, source,
            extract(epoch FROM last_ts - from_ts)
                - silent_s - greatest(0, extract(epoch FROM first_ts - from_ts) - 2)
                AS seconds_covered,
            extract(epoch FROM last_ts - from_ts) AS seconds_expected
        FROM per WHERE last_ts - from_ts >= interval '2 seconds'
        ORDER BY open_ts DESC, asset, source""",
    # Orders of ours still working at the venue: while there are none, the user channel has
    # nothing to say (panel_app.models.health.feed_status).
    "working_orders": """SELECT count(*) AS orders FROM orders
        WHERE state NOT IN ('FILLED', 'REJECTED', 'CANCELLED') AND mode = 'LIVE'""",
    # The runner journals each feed message under its wire type (`crypto_prices_chainlink`, …)
    # with the journal form, whose `kind` is `oracle`, as the payload.
    "spot": """SELECT DISTINCT ON (asset) asset, ts, source, (payload->>'price')::float AS price
        FROM market_events WHERE (kind = 'price' OR payload->>'kind' = 'oracle')
        AND asset IS NOT NULL AND ts > now() - interval '10 minutes'
        ORDER BY asset, ts DESC""",
    "books": """SELECT DISTINCT ON (token_id) token_id, slug, asset, ts, payload
        FROM market_events WHERE kind = 'book' AND ts > now() - interval '10 minutes'
        ORDER BY token_id, ts DESC""",
    "clock": "SELECT now() AS db_now",
}


def display_numbers(conn: psycopg.Connection) -> None:
    """Load NUMERIC as float on this (read-only, display) connection: the dashboard shows money,
    it never computes balances that are written back."""
    conn.adapters.register_loader("numeric", FloatLoader)


def session_start(conn: psycopg.Connection) -> Any:
    """When the current session began (the trader instance's start, else 24 h ago)."""
    return conn.execute(SESSION_START).fetchone()[0]


def watermark(conn: psycopg.Connection) -> tuple:
    """A cheap tuple that changes whenever any table the views show is written."""
    return tuple(conn.execute(WATERMARK).fetchone())


def frame(conn: psycopg.Connection, sql: str, params: dict | None = None) -> pd.DataFrame:
    """Run one query and return its rows as a DataFrame with the query's column names."""
    with conn.cursor() as cur:
        cur.execute(sql, params or {})
        columns = [c.name for c in cur.description or []]
        return pd.DataFrame(cur.fetchall(), columns=columns)


def fetch(conn: psycopg.Connection, queries: dict[str, str]) -> dict[str, pd.DataFrame]:
    """Run a group of queries in one read-only snapshot so the frames agree with each other."""
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        params = {"since": session_start(conn)}
        return {name: frame(conn, sql, params) for name, sql in queries.items()}


def write_control(conn: psycopg.Connection, key: str, value: str, by: str) -> str | None:
    """Set one runtime control through the store (validated, audited, NOTIFYed)."""
    return control_store.write(conn, key, value, by)
