-- Issue 13: settling to cash the way Polymarket does. A resolved position is CLOSED at its
-- resolution, but its cash arrives only when a redemption (ours through the SDK, or the venue's
-- auto-redeem operator) is confirmed. One row per resolved position that held shares: PENDING
-- (a receivable, "resolved, awaiting redemption") until REDEEMED; the latest row wins.
CREATE TABLE redemptions (
    position_id    text PRIMARY KEY REFERENCES positions (position_id),
    mode           trading_mode_t NOT NULL,
    run_id         text,
    window_slug    text NOT NULL,
    condition_id   text NOT NULL,
    token_id       text NOT NULL,
    shares         numeric NOT NULL CHECK (shares >= 0),
    won            boolean NOT NULL,
    expected_usd   numeric NOT NULL CHECK (expected_usd >= 0),
    status         text NOT NULL CHECK (status IN ('PENDING', 'REDEEMED')),
    resolved_ts    timestamptz NOT NULL,
    redeemed_ts    timestamptz,
    via            text CHECK (via IN ('rpc', 'relayer', 'operator', 'none')),
    tx_hash        text,
    attempts       integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    venue_paid_usd numeric,
    CHECK ((status = 'REDEEMED') = (redeemed_ts IS NOT NULL))
);
CREATE INDEX redemptions_pending ON redemptions (mode, status) WHERE status = 'PENDING';
CREATE INDEX redemptions_window ON redemptions (window_slug);

-- The ledger records what is owed beside its cash: balances.source 'receivable'.
ALTER TABLE balances DROP CONSTRAINT balances_source_check;
ALTER TABLE balances ADD CONSTRAINT balances_source_check
    CHECK (source IN ('venue', 'expected', 'engine', 'receivable'));
