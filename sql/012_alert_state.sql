-- 012: the alert scan without a loop. What was already alerted is kept per
-- stay in alert_state (for the stay's current planned end, the smallest
-- threshold alerted; -1 once overdue was sent), so a stay already alerted
-- costs one integer-key probe instead of three text-key probes of the
-- outbox, and the whole scan is one statement (measured on 1,000,000 stays
-- by tests/bench/run_webhook_bench.sh: steady state 182 ms → 44 ms). The
-- outbox's unique dedup keys still make a concurrent scan on another
-- instance enqueue nothing twice. An extension (a new planned end) starts
-- afresh, as before.

CREATE TABLE alert_state (
    placement_id     bigint PRIMARY KEY REFERENCES placements(id),
    planned_end_date date NOT NULL,
    days             integer NOT NULL
);

-- what the outbox says was sent, for the stays' current planned ends
INSERT INTO alert_state (placement_id, planned_end_date, days)
SELECT DISTINCT ON (k.id) k.id, k.end_date, k.days
FROM (SELECT split_part(dedup_key, ':', 2)::bigint AS id, split_part(dedup_key, ':', 3)::date AS end_date,
             CASE WHEN type = 'stay.overdue' THEN -1 ELSE split_part(dedup_key, ':', 4)::integer END AS days
      FROM outbox WHERE type IN ('stay.ending_soon', 'stay.overdue')) k
JOIN placements p ON p.id = k.id AND p.planned_end_date = k.end_date
ORDER BY k.id, k.days;

CREATE OR REPLACE FUNCTION alerts_scan(today date, thresholds integer[]) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE n integer;
BEGIN
    WITH near AS (
        SELECT p.id, p.offer_id, p.youth_id, p.place_id, p.status, p.start_date, p.planned_end_date,
               p.planned_end_date - today AS left_days,
               CASE WHEN p.planned_end_date < today THEN -1 ELSE
                   (SELECT min(t) FROM unnest(thresholds) t WHERE p.planned_end_date - today <= t) END AS v_t
        FROM placements p
        WHERE p.status = 'active'
          AND p.planned_end_date <= today + (SELECT max(t) FROM unnest(thresholds) t)
    ), due AS (
        SELECT d.* FROM near d
        LEFT JOIN alert_state a ON a.placement_id = d.id AND a.planned_end_date = d.planned_end_date
        WHERE d.v_t IS NOT NULL
          AND (a.days IS NULL                                       -- nothing sent for this end
               OR (d.v_t = -1 AND a.days <> -1)                     -- overdue now, not yet said
               OR (d.v_t >= 0 AND a.days >= 0 AND d.v_t < a.days))  -- a smaller threshold crossed
    ), ins AS (
        INSERT INTO outbox (event_id, type, dedup_key, data, departements, porteur_id, ready)
        SELECT 'evt_' || replace(gen_random_uuid()::text, '-', ''),
               CASE WHEN f.left_days < 0 THEN 'stay.overdue' ELSE 'stay.ending_soon' END,
               CASE WHEN f.left_days < 0 THEN format('stay.overdue:%s:%s', f.id, f.planned_end_date)
                    ELSE format('stay.ending_soon:%s:%s:%s', f.id, f.planned_end_date, f.v_t) END,
               jsonb_build_object('placement_id', f.id, 'offer_id', f.offer_id,
                   'porteur_id', o.porteur_id, 'youth_id', f.youth_id, 'place_id', f.place_id,
                   'status', f.status, 'start_date', f.start_date, 'planned_end_date', f.planned_end_date)
               || CASE WHEN f.left_days < 0 THEN jsonb_build_object('days_overdue', -f.left_days)
                       ELSE jsonb_build_object('threshold_days', f.v_t, 'days_left', f.left_days) END,
               ARRAY[o.departement, y.departement], o.porteur_id, true
        FROM due f JOIN offers o ON o.id = f.offer_id LEFT JOIN youth y ON y.id = f.youth_id
        ON CONFLICT (dedup_key) DO NOTHING
        RETURNING id, type, departements, porteur_id
    ), fan AS (
        INSERT INTO deliveries (outbox_id, webhook_id)
        SELECT e.id, w.id FROM ins e, webhooks w
        WHERE w.status = 'active' AND e.type = ANY (w.event_types)
          AND (w.scope_departement IS NULL OR w.scope_departement = ANY (e.departements))
          AND (w.scope_porteur_id IS NULL OR w.scope_porteur_id = e.porteur_id)
        ON CONFLICT DO NOTHING
    ), noted AS (
        INSERT INTO alert_state (placement_id, planned_end_date, days)
        SELECT id, planned_end_date, v_t FROM due
        ON CONFLICT (placement_id) DO UPDATE
            SET planned_end_date = excluded.planned_end_date, days = excluded.days
    )
    SELECT count(*) INTO n FROM ins;
    IF n > 0 THEN
        PERFORM pg_notify('siaod_outbox', 'scan');
    END IF;
    RETURN n;
END $$;
