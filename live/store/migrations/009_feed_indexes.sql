-- The dashboard's poller reads max(orders.sent_ts) ten times a second (the change watermark) and
-- its activity feed the newest exit sentences of position_events (a mark row per open position
-- per second: the largest table) every second; both were sequential scans (migration 007 added
-- the columns without indexes).
CREATE INDEX orders_sent ON orders (sent_ts);
CREATE INDEX position_events_audited ON position_events (ts) WHERE audit IS NOT NULL;
