-- Venue-scoped evidence (issue 17).
-- * A run records the venue it traded on ('polymarket' = the real venue, 'sandbox' = the local
--   simulator); NULL for backtests and replays, which trade on no venue.
-- * A position carries its run's venue, filled on insert from backtest_runs (the sink writes
--   positions without it), so the promotion gate can take `--to live` evidence only from the
--   real venue.
-- * windows: the sandbox lists the same slugs as Polymarket (btc-updown-15m-<open epoch>), so the
--   key becomes (slug, venue). Writers conflict on (slug, venue); readers that look a slug up
--   alone still work where one venue trades per database (every deployment so far), and those
--   that join positions to windows should add `w.venue = coalesce(p.venue, w.venue)`.

ALTER TABLE backtest_runs
    ADD COLUMN venue text CHECK (venue IN ('polymarket', 'sandbox'));

ALTER TABLE positions
    ADD COLUMN venue text CHECK (venue IN ('polymarket', 'sandbox'));

UPDATE positions p SET venue = r.venue FROM backtest_runs r WHERE r.run_id = p.run_id;

CREATE FUNCTION updown_position_venue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.venue IS NULL AND NEW.run_id IS NOT NULL THEN
        SELECT r.venue INTO NEW.venue FROM backtest_runs r WHERE r.run_id = NEW.run_id;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER positions_venue BEFORE INSERT ON positions
    FOR EACH ROW EXECUTE FUNCTION updown_position_venue();

ALTER TABLE windows DROP CONSTRAINT windows_pkey;
ALTER TABLE windows ADD PRIMARY KEY (slug, venue);
CREATE INDEX positions_strategy_venue ON positions (strategy, mode, venue);
