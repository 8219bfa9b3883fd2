-- A trade the venue is re-submitting on chain is RETRYING before it is CONFIRMED or FAILED
-- (Polymarket's trade statuses: MATCHED, MINED, CONFIRMED, RETRYING, FAILED; docs/venue.md).
-- The engine records the status it is told, and fills refused RETRYING: the whole record
-- batch then failed and the runner tripped "store unreachable" (found by
-- tests/test_runner_confirmations.py when its poll landed while the failing trade was
-- RETRYING).
ALTER TABLE fills DROP CONSTRAINT fills_status_check;
ALTER TABLE fills ADD CONSTRAINT fills_status_check
    CHECK (status IN ('MATCHED', 'MINED', 'RETRYING', 'CONFIRMED', 'FAILED'));
