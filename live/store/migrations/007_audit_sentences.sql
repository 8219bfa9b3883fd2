-- Every decision in one sentence (issue 16 item 7; spec "Audit Trail"). Beside the entry
-- decisions (decisions.audit, migration 001), each decision below stores its sentence next to
-- the inputs it is rendered from (live/kernel/audit.py renders them; nothing here does):
-- * position_events.audit: an exit's events (trigger, threshold, the bid seen, the intended
--   and the actual exit price; a time exit and what settlement paid), inputs in `detail`;
-- * settlements.audit: rule, strike, final price, ours against the venue's;
-- * breaker_events.audit: the trip's cause (the assertion) and detail, or the reset;
-- * control_changes.audit: key, old → new value, by whom. The row is written by the audit
--   trigger (migration 004); live.store.controls.write fills the sentence in the same
--   transaction. A change made by SQL alone has none (NULL) until the next write of that key
--   through the application, which renders it from the row's own columns;
-- * kill_criterion_hits: a new table, one row per hit (criterion, threshold, measured value).
-- orders.sent_ts: when the order was sent to the venue (LIVE: by the runner's gateway, after
-- the decision), so "order placed at" is the send time, not created_ts (the decision's).

ALTER TABLE position_events ADD COLUMN audit text;

ALTER TABLE settlements ADD COLUMN audit text;

ALTER TABLE breaker_events ADD COLUMN audit text;

ALTER TABLE control_changes ADD COLUMN audit text;

ALTER TABLE orders ADD COLUMN sent_ts timestamptz;

CREATE TABLE kill_criterion_hits (
    id          bigserial PRIMARY KEY,
    ts          timestamptz NOT NULL DEFAULT now(),
    strategy    text NOT NULL,
    mode        trading_mode_t,
    run_id      text,
    criterion   text NOT NULL,
    threshold   numeric,
    measured    numeric,
    n           integer NOT NULL CHECK (n >= 0),
    inputs      jsonb NOT NULL DEFAULT '{}',
    audit       text NOT NULL
);
CREATE INDEX kill_criterion_hits_ts ON kill_criterion_hits (ts);
