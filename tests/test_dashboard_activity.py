"""The activity feed's assertion sentences (issue 21): each mode's latest batch and every failed
batch — not one line per passing batch every 2 s per mode, which pushed every other sentence
(orders, fills, windows) out of the feed."""

from __future__ import annotations

import psycopg

from panel_app.queries import ACTIVITY


def test_the_feed_shows_each_modes_latest_assertion_batch_and_every_failure(db_url):
    with psycopg.connect(db_url) as conn:
        for k in range(5):  # five batches, 2 s apart, of two checks in two modes
            for name in ("fill_has_position", "tick_under_5s"):
                for mode in ("LIVE", "PAPER"):
                    failed = k == 1 and name == "tick_under_5s" and mode == "LIVE"
                    conn.execute(
                        "INSERT INTO assertion_results (ts, name, ok, mode, run_id)"
                        " VALUES (now() - make_interval(secs => %s), %s, %s, %s, 'r')",
                        (10 - 2 * k, name, not failed, mode),
                    )
        lines = [text for _, kind, text, _ in conn.execute(ACTIVITY) if kind == "ASSERTION"]
    latest = {"ASSERTION OK: 2/2 checks passed (LIVE)", "ASSERTION OK: 2/2 checks passed (PAPER)"}
    assert set(lines[:2]) == latest  # newest first; the two modes' batches share an instant
    assert lines[2:] == ["ASSERTION FAILED: tick_under_5s (1/2 checks passed) (LIVE)"]
