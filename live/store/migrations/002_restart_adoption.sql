-- Issue 15: a restarted runner adopts what it owned; a stop records what it left open.

-- What a runner adopted at its start or takeover (after cross-checking with the venue), and what
-- it left to the reconciliation because the database and the venue disagreed on it.
CREATE TABLE adoptions (
    id          bigserial PRIMARY KEY,
    ts          timestamptz NOT NULL DEFAULT now(),
    instance_id text NOT NULL,
    run_id      text NOT NULL,
    adopted     jsonb NOT NULL DEFAULT '{}',
    excluded    jsonb NOT NULL DEFAULT '[]'
);
CREATE INDEX adoptions_ts ON adoptions (ts);

-- A runner's stop: why (signal, --duration, takeover lost, task died) and what was still open
-- (positions, working orders) for the next start to adopt and for the canary report to explain.
CREATE TABLE runner_stops (
    id             bigserial PRIMARY KEY,
    ts             timestamptz NOT NULL DEFAULT now(),
    instance_id    text NOT NULL,
    run_id         text NOT NULL,
    mode           text NOT NULL,
    reason         text NOT NULL,
    open_positions jsonb NOT NULL DEFAULT '[]',
    working_orders jsonb NOT NULL DEFAULT '[]'
);
CREATE INDEX runner_stops_ts ON runner_stops (ts);
