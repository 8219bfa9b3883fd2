-- Control audit, complete (issue 22).
-- * The database role (session_user) and the application's stated actor are recorded
--   separately: `changed_by` is who the application says acted (`updown.actor`, set with
--   SET LOCAL by live.store.controls.write, or an `updated_by` the statement itself changed);
--   `db_role` is the role that ran the statement. A direct UPDATE that states nobody is recorded
--   as '(not stated)', never under the previous changer's name.
-- * DELETE is audited (new_value NULL) and announced, so runners re-read and fail closed.
-- * Values are bounded (1,000 characters), as in live.kernel.controls.MAX_VALUE_LENGTH.

ALTER TABLE control_changes
    ALTER COLUMN new_value DROP NOT NULL,
    ADD COLUMN operation text NOT NULL DEFAULT 'UPDATE'
        CHECK (operation IN ('INSERT', 'UPDATE', 'DELETE')),
    ADD COLUMN db_role text NOT NULL DEFAULT session_user;

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
        WHEN 'allowed_instruments' THEN
            v = '*' OR v ~ '^(BTC|ETH|SOL|XRP)(,(BTC|ETH|SOL|XRP))*$'
        WHEN 'allowed_strategies' THEN
            v = '*' OR v ~ '^[a-z0-9][a-z0-9_-]*(,[a-z0-9][a-z0-9_-]*)*$'
        ELSE false
    END
$$;

-- Who the application says acts: the transaction's `updown.actor`, else NULL.
CREATE FUNCTION updown_control_actor() RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT nullif(current_setting('updown.actor', true), '')
$$;

-- BEFORE: the row's updated_by/updated_at say who changed it and when, whatever the statement
-- set (so the next change cannot inherit this changer's name).
CREATE FUNCTION updown_control_stamp() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.value = NEW.value AND OLD.key = NEW.key THEN
        RETURN NEW;
    END IF;
    NEW.updated_by := coalesce(
        updown_control_actor(),
        CASE WHEN TG_OP = 'INSERT' OR NEW.updated_by IS DISTINCT FROM OLD.updated_by
             THEN NEW.updated_by END,
        '(not stated)');
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

CREATE TRIGGER runtime_controls_stamp
    BEFORE INSERT OR UPDATE ON runtime_controls
    FOR EACH ROW EXECUTE FUNCTION updown_control_stamp();

CREATE OR REPLACE FUNCTION updown_control_audit() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO control_changes (key, old_value, new_value, changed_by, operation, db_role)
        VALUES (OLD.key, OLD.value, NULL, coalesce(updown_control_actor(), '(not stated)'),
                'DELETE', session_user);
        PERFORM pg_notify('updown_controls', json_build_object('key', OLD.key, 'value', NULL)::text);
        RETURN OLD;
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.value = NEW.value AND OLD.key = NEW.key THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.key <> NEW.key THEN  -- a renamed key: the old one is gone
        INSERT INTO control_changes (key, old_value, new_value, changed_by, operation, db_role)
        VALUES (OLD.key, OLD.value, NULL, NEW.updated_by, 'DELETE', session_user);
    END IF;
    INSERT INTO control_changes (key, old_value, new_value, changed_by, operation, db_role)
    VALUES (NEW.key, CASE WHEN TG_OP = 'UPDATE' AND OLD.key = NEW.key THEN OLD.value END,
            NEW.value, NEW.updated_by,
            CASE WHEN TG_OP = 'UPDATE' AND OLD.key = NEW.key THEN 'UPDATE' ELSE 'INSERT' END,
            session_user);
    PERFORM pg_notify('updown_controls', json_build_object('key', NEW.key, 'value', NEW.value)::text);
    RETURN NEW;
END
$$;

DROP TRIGGER runtime_controls_audit ON runtime_controls;
CREATE TRIGGER runtime_controls_audit
    AFTER INSERT OR UPDATE OR DELETE ON runtime_controls
    FOR EACH ROW EXECUTE FUNCTION updown_control_audit();
