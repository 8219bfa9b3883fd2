-- updown initial schema.
-- Money and prices are NUMERIC (never float). Every time column is timestamptz.
-- Constraints here are the last line of defence; the engine enforces the same rules first.

CREATE DOMAIN trading_mode_t AS text
    CHECK (VALUE IN ('LIVE', 'PAPER', 'DRY_RUN', 'BACKTEST'));

-- ---------------------------------------------------------------- runtime controls
CREATE FUNCTION updown_control_valid(k text, v text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE k
        WHEN 'kill_switch' THEN v IN ('off', 'pause', 'flatten', 'emergency')
        WHEN 'trading_mode' THEN v IN ('LIVE', 'PAPER', 'DRY_RUN')
        WHEN 'max_position_usd' THEN
            CASE WHEN v ~ '^[0-9]+(\.[0-9]+)?$' THEN v::numeric > 0 AND v::numeric <= 5
                 ELSE false END
        WHEN 'max_session_loss' THEN
            CASE WHEN v ~ '^[0-9]+(\.[0-9]+)?$' THEN v::numeric > 0 ELSE false END
        WHEN 'allowed_instruments' THEN
            v = '*' OR v ~ '^(BTC|ETH|SOL|XRP)(,(BTC|ETH|SOL|XRP))*$'
        WHEN 'allowed_strategies' THEN
            v = '*' OR v ~ '^[a-z0-9][a-z0-9_-]*(,[a-z0-9][a-z0-9_-]*)*$'
        ELSE false
    END
$$;

CREATE TABLE runtime_controls (
    key         text PRIMARY KEY,
    value       text NOT NULL,
    updated_by  text NOT NULL DEFAULT current_user,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT runtime_controls_valid CHECK (updown_control_valid(key, value))
);

CREATE TABLE control_changes (
    id          bigserial PRIMARY KEY,
    key         text NOT NULL,
    old_value   text,
    new_value   text NOT NULL,
    changed_by  text NOT NULL,
    changed_at  timestamptz NOT NULL DEFAULT now()
);

-- Every change, whether from the CLI, the dashboard or direct SQL, is audited and announced
-- in the same transaction.
CREATE FUNCTION updown_control_audit() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.value = NEW.value THEN
        RETURN NEW;
    END IF;
    INSERT INTO control_changes (key, old_value, new_value, changed_by)
    VALUES (NEW.key, CASE WHEN TG_OP = 'UPDATE' THEN OLD.value END, NEW.value, NEW.updated_by);
    PERFORM pg_notify('updown_controls', json_build_object('key', NEW.key, 'value', NEW.value)::text);
    RETURN NEW;
END
$$;

CREATE TRIGGER runtime_controls_audit
    AFTER INSERT OR UPDATE ON runtime_controls
    FOR EACH ROW EXECUTE FUNCTION updown_control_audit();

INSERT INTO runtime_controls (key, value, updated_by) VALUES
    ('kill_switch', 'off', 'migration'),
    ('trading_mode', 'PAPER', 'migration'),
    ('max_position_usd', '5', 'migration'),
    ('max_session_loss', '20', 'migration'),
    ('allowed_instruments', '*', 'migration'),
    ('allowed_strategies', 'canary', 'migration');

-- ---------------------------------------------------------------- runs and instances
-- A run groups the records of one engine session: a live/paper runner session, a replay, a backtest.
CREATE TABLE backtest_runs (
    run_id      text PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('backtest', 'replay', 'session', 'sweep')),
    mode        trading_mode_t NOT NULL,
    strategy    text,
    params      jsonb NOT NULL DEFAULT '{}',
    data_from   timestamptz,
    data_to     timestamptz,
    assets      text[],
    fill_model  text,
    latency_ms  jsonb NOT NULL DEFAULT '{}',
    summary     jsonb,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);

CREATE TABLE instances (
    instance_id text PRIMARY KEY,
    host        text NOT NULL,
    pid         integer NOT NULL,
    role        text NOT NULL CHECK (role IN ('trader', 'observer', 'stopped')),
    mode        text NOT NULL,
    venue       text NOT NULL,
    health_url  text,
    lock_held   boolean NOT NULL DEFAULT false,
    started_at  timestamptz NOT NULL DEFAULT now(),
    last_seen   timestamptz NOT NULL DEFAULT now(),
    health      jsonb
);

-- ---------------------------------------------------------------- market data
CREATE TABLE windows (
    slug            text PRIMARY KEY,
    venue           text NOT NULL DEFAULT 'polymarket',
    asset           text NOT NULL CHECK (asset IN ('BTC', 'ETH', 'SOL', 'XRP')),
    length_s        integer NOT NULL CHECK (length_s > 0),
    open_ts         timestamptz NOT NULL,
    close_ts        timestamptz NOT NULL,
    condition_id    text,
    token_up        text,
    token_down      text,
    tick_size       numeric,
    min_size        numeric,
    fee_rate        numeric,
    settlement_rule text NOT NULL DEFAULT 'twap_60s'
                    CHECK (settlement_rule IN ('spot_at_close', 'twap_60s')),
    strike          numeric,
    final_price     numeric,
    status          text NOT NULL DEFAULT 'UPCOMING'
                    CHECK (status IN ('UPCOMING', 'OPEN', 'CLOSED', 'RESOLVED')),
    winner          text CHECK (winner IN ('UP', 'DOWN')),
    listed_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (close_ts > open_ts)
);
CREATE INDEX windows_asset_open ON windows (asset, open_ts);

-- The raw journal: one row per message (journal schema of live/journal.py), with source and
-- receive time. Replays read it back; dedup_key makes re-delivery after reconnect idempotent.
CREATE TABLE market_events (
    id          bigserial PRIMARY KEY,
    ts          timestamptz NOT NULL,
    recv_ts     timestamptz,
    source      text NOT NULL,
    kind        text NOT NULL,
    asset       text,
    slug        text,
    token_id    text,
    payload     jsonb NOT NULL,
    dedup_key   text
);
CREATE UNIQUE INDEX market_events_dedup ON market_events (source, dedup_key)
    WHERE dedup_key IS NOT NULL;
CREATE INDEX market_events_ts ON market_events (ts);
CREATE INDEX market_events_slug_ts ON market_events (slug, ts);

CREATE TABLE feed_gaps (
    id          bigserial PRIMARY KEY,
    feed        text NOT NULL,
    asset       text,
    start_ts    timestamptz NOT NULL,
    end_ts      timestamptz,
    reason      text NOT NULL,
    instance_id text,
    CHECK (end_ts IS NULL OR end_ts >= start_ts)
);
CREATE INDEX feed_gaps_start ON feed_gaps (start_ts);

-- ---------------------------------------------------------------- trading records
CREATE TABLE signals (
    signal_id     text PRIMARY KEY,
    ts            timestamptz NOT NULL,
    mode          trading_mode_t NOT NULL,
    run_id        text,
    strategy      text NOT NULL,
    window_slug   text NOT NULL,
    asset         text NOT NULL,
    side          text NOT NULL CHECK (side IN ('UP', 'DOWN')),
    usd           numeric NOT NULL CHECK (usd > 0),
    max_price     numeric,
    confidence    numeric,
    stop_loss     numeric,
    take_profit   numeric,
    trailing_stop numeric,
    inputs        jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX signals_window ON signals (window_slug);

CREATE TABLE decisions (
    id          bigserial PRIMARY KEY,
    ts          timestamptz NOT NULL,
    mode        trading_mode_t NOT NULL,
    run_id      text,
    signal_id   text,
    strategy    text NOT NULL,
    window_slug text NOT NULL,
    verdict     text NOT NULL CHECK (verdict IN ('APPROVED', 'DENIED')),
    code        text,
    detail      jsonb NOT NULL DEFAULT '{}',
    inputs      jsonb NOT NULL DEFAULT '{}',
    audit       text,
    CHECK ((verdict = 'DENIED') = (code IS NOT NULL))
);
CREATE INDEX decisions_ts ON decisions (ts);

CREATE TABLE orders (
    client_order_id  text PRIMARY KEY CHECK (client_order_id <> ''),
    venue_order_id   text,
    mode             trading_mode_t NOT NULL,
    run_id           text,
    strategy         text NOT NULL,
    window_slug      text NOT NULL,
    signal_id        text,
    position_id      text,
    token_id         text NOT NULL,
    outcome          text NOT NULL CHECK (outcome IN ('UP', 'DOWN')),
    side             text NOT NULL CHECK (side IN ('BUY', 'SELL')),
    purpose          text NOT NULL CHECK (purpose IN ('ENTRY', 'EXIT')),
    order_type       text NOT NULL CHECK (order_type IN ('FAK', 'FOK', 'GTC', 'GTD')),
    requested_usd    numeric,
    requested_shares numeric,
    worst_price      numeric NOT NULL CHECK (worst_price > 0 AND worst_price < 1),
    filled_shares    numeric NOT NULL DEFAULT 0 CHECK (filled_shares >= 0),
    avg_price        numeric,
    fee              numeric NOT NULL DEFAULT 0,
    state            text NOT NULL CHECK (state IN ('NEW', 'SUBMITTED', 'ACKED',
                         'PARTIALLY_FILLED', 'FILLED', 'REJECTED', 'CANCELLED', 'UNKNOWN')),
    reason           text,
    payload          jsonb,
    book_snapshot    jsonb,
    created_ts       timestamptz NOT NULL,
    updated_ts       timestamptz NOT NULL,
    CONSTRAINT orders_venue_id_when_acked CHECK (
        state NOT IN ('ACKED', 'PARTIALLY_FILLED', 'FILLED') OR venue_order_id IS NOT NULL)
);
ALTER TABLE orders ALTER COLUMN client_order_id SET NOT NULL;
CREATE INDEX orders_window ON orders (window_slug);
CREATE INDEX orders_created ON orders (created_ts);

CREATE TABLE order_events (
    id              bigserial PRIMARY KEY,
    client_order_id text NOT NULL REFERENCES orders (client_order_id),
    ts              timestamptz NOT NULL,
    from_state      text,
    to_state        text NOT NULL,
    detail          jsonb NOT NULL DEFAULT '{}'
);

CREATE TABLE fills (
    fill_id         text PRIMARY KEY,
    client_order_id text NOT NULL REFERENCES orders (client_order_id),
    mode            trading_mode_t NOT NULL,
    run_id          text,
    ts              timestamptz NOT NULL,
    price           numeric NOT NULL CHECK (price > 0 AND price < 1),
    shares          numeric NOT NULL CHECK (shares > 0),
    fee             numeric NOT NULL DEFAULT 0 CHECK (fee >= 0),
    status          text NOT NULL DEFAULT 'CONFIRMED'
                    CHECK (status IN ('MATCHED', 'MINED', 'CONFIRMED', 'FAILED')),
    intended_price  numeric,
    book_ratio      numeric,
    impact_flag     boolean NOT NULL DEFAULT false
);
CREATE INDEX fills_order ON fills (client_order_id);

CREATE TABLE positions (
    position_id   text PRIMARY KEY,
    mode          trading_mode_t NOT NULL,
    run_id        text,
    strategy      text NOT NULL,
    window_slug   text NOT NULL,
    asset         text NOT NULL,
    outcome       text NOT NULL CHECK (outcome IN ('UP', 'DOWN')),
    token_id      text NOT NULL,
    state         text NOT NULL CHECK (state IN ('ENTRY', 'MONITORING', 'STOP_TRIGGERED',
                      'TAKE_PROFIT_TRIGGERED', 'TRAILING_TRIGGERED', 'FLATTEN_REQUESTED',
                      'EXPIRY', 'EXIT_PENDING', 'SETTLEMENT', 'CLOSED')),
    shares        numeric NOT NULL DEFAULT 0 CHECK (shares >= 0),
    entry_price   numeric,
    cost          numeric NOT NULL DEFAULT 0,
    fees          numeric NOT NULL DEFAULT 0,
    mark_price    numeric,
    exit_price    numeric,
    proceeds      numeric NOT NULL DEFAULT 0,
    stop_loss     numeric,
    take_profit   numeric,
    trailing_stop numeric,
    exit_reason   text,
    resolution    text CHECK (resolution IN ('UP', 'DOWN')),
    pnl_gross     numeric,
    pnl_net       numeric,
    opened_ts     timestamptz NOT NULL,
    updated_ts    timestamptz NOT NULL,
    closed_ts     timestamptz
);
CREATE INDEX positions_state ON positions (state);
CREATE INDEX positions_window ON positions (window_slug);

CREATE TABLE position_events (
    id             bigserial PRIMARY KEY,
    position_id    text NOT NULL REFERENCES positions (position_id),
    ts             timestamptz NOT NULL,
    from_state     text,
    to_state       text NOT NULL,
    trigger_price  numeric,
    intended_price numeric,
    actual_price   numeric,
    mark_price     numeric,
    pnl_gross      numeric,
    reason         text,
    detail         jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX position_events_position ON position_events (position_id);

CREATE TABLE settlements (
    id               bigserial PRIMARY KEY,
    window_slug      text NOT NULL,
    mode             trading_mode_t NOT NULL,
    run_id           text,
    ours             text NOT NULL CHECK (ours IN ('UP', 'DOWN', 'UNCERTAIN')),
    venue            text CHECK (venue IN ('UP', 'DOWN')),
    agreement        text NOT NULL CHECK (agreement IN ('agree', 'disagree', 'uncertain', 'pending')),
    rule             text NOT NULL,
    strike           numeric,
    settlement_price numeric,
    ts               timestamptz NOT NULL,
    confirmed_ts     timestamptz,
    detail           jsonb NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX settlements_window_run ON settlements (window_slug, mode, coalesce(run_id, ''));

CREATE TABLE balances (
    id        bigserial PRIMARY KEY,
    ts        timestamptz NOT NULL,
    mode      trading_mode_t NOT NULL,
    run_id    text,
    source    text NOT NULL CHECK (source IN ('venue', 'expected', 'engine')),
    usd       numeric NOT NULL,
    reason    text
);
CREATE INDEX balances_ts ON balances (ts);

-- ---------------------------------------------------------------- safety records
CREATE TABLE assertion_results (
    id          bigserial PRIMARY KEY,
    ts          timestamptz NOT NULL,
    name        text NOT NULL,
    ok          boolean NOT NULL,
    detail      jsonb NOT NULL DEFAULT '{}',
    mode        trading_mode_t,
    run_id      text,
    window_slug text
);
CREATE INDEX assertion_results_ts ON assertion_results (ts);
CREATE INDEX assertion_results_name_ts ON assertion_results (name, ts);

CREATE TABLE breaker_events (
    id          bigserial PRIMARY KEY,
    ts          timestamptz NOT NULL,
    tripped     boolean NOT NULL,
    reason      text NOT NULL,
    detail      jsonb NOT NULL DEFAULT '{}',
    mode        trading_mode_t,
    run_id      text,
    instance_id text
);

CREATE TABLE reconciliation_runs (
    id          bigserial PRIMARY KEY,
    ts          timestamptz NOT NULL DEFAULT now(),
    instance_id text,
    ok          boolean NOT NULL,
    differences jsonb NOT NULL DEFAULT '[]',
    venue       jsonb NOT NULL DEFAULT '{}',
    error       text
);

CREATE TABLE alerts (
    id          bigserial PRIMARY KEY,
    ts          timestamptz NOT NULL DEFAULT now(),
    kind        text NOT NULL,
    severity    text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    message     text NOT NULL,
    dedup_key   text,
    delivered   boolean,
    attempts    integer NOT NULL DEFAULT 0,
    last_error  text,
    detail      jsonb NOT NULL DEFAULT '{}'
);

-- ---------------------------------------------------------------- research and the gate
CREATE TABLE trials (
    id          bigserial PRIMARY KEY,
    ts          timestamptz NOT NULL DEFAULT now(),
    kind        text NOT NULL CHECK (kind IN ('screen', 'event')),
    strategy    text NOT NULL,
    params      jsonb NOT NULL,
    data_from   timestamptz,
    data_to     timestamptz,
    metrics     jsonb NOT NULL DEFAULT '{}',
    run_id      text
);

CREATE TABLE promotions (
    id            bigserial PRIMARY KEY,
    ts            timestamptz NOT NULL DEFAULT now(),
    strategy      text NOT NULL,
    target        text NOT NULL CHECK (target IN ('paper', 'live')),
    file_path     text NOT NULL,
    file_sha256   text NOT NULL CHECK (file_sha256 ~ '^[0-9a-f]{64}$'),
    git_commit    text NOT NULL,
    checks        jsonb NOT NULL,
    revoked_at    timestamptz,
    revoked_reason text
);
