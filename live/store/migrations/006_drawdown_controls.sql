-- The drawdown breaker's runtime controls (issue 16): max_drawdown_usd (USD below the session's
-- peak equity; default 10) and drawdown_alert_fraction (the "large drawdown" alert at this share
-- of the limit; default 0.8). Validated like the others (live.kernel.controls.validate), audited
-- by the existing trigger (the INSERTs below are recorded as changes by 'migration', like 001's).

CREATE OR REPLACE FUNCTION updown_control_valid(k text, v text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT length(v) <= 1000 AND CASE k
        WHEN 'kill_switch' THEN v IN ('off', 'pause', 'flatten', 'emergency')
        WHEN 'trading_mode' THEN v IN ('LIVE', 'PAPER', 'DRY_RUN')
        WHEN 'max_position_usd' THEN
            CASE WHEN v ~ '^[0-9]+(\.[0-9]+)?$' THEN v::numeric > 0 AND v::numeric <= 5
                 ELSE false END
        WHEN 'max_session_loss' THEN
            CASE WHEN v ~ '^[0-9]+(\.[0-9]+)?$' THEN v::numeric > 0 ELSE false END
        WHEN 'max_drawdown_usd' THEN
            CASE WHEN v ~ '^[0-9]+(\.[0-9]+)?$' THEN v::numeric > 0 ELSE false END
        WHEN 'drawdown_alert_fraction' THEN
            CASE WHEN v ~ '^[0-9]+(\.[0-9]+)?$' THEN v::numeric > 0 AND v::numeric < 1
                 ELSE false END
        WHEN 'allowed_instruments' THEN
            v = '*' OR v ~ '^(BTC|ETH|SOL|XRP)(,(BTC|ETH|SOL|XRP))*$'
        WHEN 'allowed_strategies' THEN
            v = '*' OR v ~ '^[a-z0-9][a-z0-9_-]*(,[a-z0-9][a-z0-9_-]*)*$'
        ELSE false
    END
$$;

SELECT set_config('updown.actor', 'migration', true);
INSERT INTO runtime_controls (key, value, updated_by, updated_at) VALUES
    ('max_drawdown_usd', '10', 'migration', now()),
    ('drawdown_alert_fraction', '0.8', 'migration', now())
ON CONFLICT (key) DO NOTHING;
