-- 011: indexes for claiming deliveries (measured by tests/bench/
-- run_webhook_bench.sh: 1,539 → 2,588 deliveries/s). Events enqueued
-- together share one next_attempt_at, so the claim's order needs the id in
-- the index to stop after the first rows instead of sorting the backlog; and
-- counting what is in flight per subscription needs its own small index.

CREATE INDEX deliveries_webhook_next_idx ON deliveries (webhook_id, next_attempt_at, id)
    WHERE status IN ('pending', 'delivering');
CREATE INDEX deliveries_webhook_lease_idx ON deliveries (webhook_id, lease_until)
    WHERE status = 'delivering';
DROP INDEX deliveries_webhook_due_idx;
