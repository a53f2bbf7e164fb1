-- tests/bench/alerts_scan_proto.sql: a prototype, loaded by
-- run_webhook_bench.sh into its throwaway cluster only (never a migration):
-- alerts_scan (sql/006_webhooks.sql) as one set-based statement instead of a
-- PL/pgSQL loop over the stays. Same events (type, dedup key, data,
-- départements, porteur), same count returned; the script checks that both
-- enqueue exactly the same events before timing them.
--
-- What changes: the loop calls, per stay that is due, outbox_emit() (an
-- INSERT, a fan-out query and a NOTIFY, every SQL function re-planned on each
-- call) or, for a stay already alerted, three format()ed probes of
-- outbox.dedup_key from PL/pgSQL; an overdue stay is re-inserted (ON CONFLICT
-- DO NOTHING) at every scan. Here the stays already alerted are dropped by
-- one anti-join on the dedup keys, the new events are inserted by one INSERT
-- ... SELECT, fanned out by one INSERT ... SELECT and announced by one
-- NOTIFY.
CREATE OR REPLACE FUNCTION alerts_scan_proto(today date, thresholds integer[]) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE n integer;
BEGIN
    WITH due AS (
        SELECT p.id, p.offer_id, p.youth_id, p.place_id, p.status, p.start_date, p.planned_end_date,
               p.planned_end_date - today AS left_days,
               (SELECT min(t) FROM unnest(thresholds) t WHERE p.planned_end_date - today <= t) AS v_t
        FROM placements p
        WHERE p.status = 'active'
          AND p.planned_end_date <= today + (SELECT max(t) FROM unnest(thresholds) t)
    ), ev AS (
        SELECT d.*, CASE WHEN d.left_days < 0 THEN format('stay.overdue:%s:%s', d.id, d.planned_end_date)
                         ELSE format('stay.ending_soon:%s:%s:%s', d.id, d.planned_end_date, d.v_t) END AS key
        FROM due d
        WHERE d.left_days < 0
           OR (d.v_t IS NOT NULL AND NOT EXISTS (
                SELECT 1 FROM unnest(thresholds) t
                WHERE t <= d.v_t AND EXISTS (SELECT 1 FROM outbox o WHERE o.dedup_key =
                    format('stay.ending_soon:%s:%s:%s', d.id, d.planned_end_date, t))))
    ), fresh AS (
        SELECT ev.* FROM ev WHERE NOT EXISTS (SELECT 1 FROM outbox o WHERE o.dedup_key = ev.key)
    ), ins AS (
        INSERT INTO outbox (event_id, type, dedup_key, data, departements, porteur_id, ready)
        SELECT 'evt_' || replace(gen_random_uuid()::text, '-', ''),
               CASE WHEN f.left_days < 0 THEN 'stay.overdue' ELSE 'stay.ending_soon' END, f.key,
               jsonb_build_object('placement_id', f.id, 'offer_id', f.offer_id,
                   'porteur_id', o.porteur_id, 'youth_id', f.youth_id, 'place_id', f.place_id,
                   'status', f.status, 'start_date', f.start_date, 'planned_end_date', f.planned_end_date)
               || CASE WHEN f.left_days < 0 THEN jsonb_build_object('days_overdue', -f.left_days)
                       ELSE jsonb_build_object('threshold_days', f.v_t, 'days_left', f.left_days) END,
               ARRAY[o.departement, y.departement], o.porteur_id, true
        FROM fresh f JOIN offers o ON o.id = f.offer_id LEFT JOIN youth y ON y.id = f.youth_id
        ON CONFLICT (dedup_key) DO NOTHING
        RETURNING id, type, departements, porteur_id
    ), fan AS (
        INSERT INTO deliveries (outbox_id, webhook_id)
        SELECT e.id, w.id FROM ins e, webhooks w
        WHERE w.status = 'active' AND e.type = ANY (w.event_types)
          AND (w.scope_departement IS NULL OR w.scope_departement = ANY (e.departements))
          AND (w.scope_porteur_id IS NULL OR w.scope_porteur_id = e.porteur_id)
        ON CONFLICT DO NOTHING
    )
    SELECT count(*) INTO n FROM ins;
    IF n > 0 THEN
        PERFORM pg_notify('siaod_outbox', 'scan');
    END IF;
    RETURN n;
END $$;

-- A second prototype, alerts_scan_proto2: the alerts already sent are kept
-- per stay in a small table (what a migration would add), so a stay already
-- alerted costs one integer-key probe instead of three text-key probes of
-- the outbox, and nothing runs per stay in PL/pgSQL. alert_state holds, for
-- a stay's current planned end, the smallest threshold alerted (-1: overdue
-- sent); an extension (a new planned end) starts afresh, as in alerts_scan.
-- alert_state_backfill() derives it from the outbox's dedup keys (the
-- migration's backfill). Differs from alerts_scan only after a change of
-- alert_thresholds_days (alerts_scan may then re-alert at a larger threshold
-- than one already sent; this never does).
CREATE TABLE IF NOT EXISTS alert_state (
    placement_id     bigint PRIMARY KEY,
    planned_end_date date NOT NULL,
    days             integer NOT NULL
);

CREATE OR REPLACE FUNCTION alert_state_backfill() RETURNS void LANGUAGE sql AS $$
    TRUNCATE alert_state;
    INSERT INTO alert_state (placement_id, planned_end_date, days)
    SELECT DISTINCT ON (k.id) k.id, k.end_date, k.days
    FROM (SELECT split_part(dedup_key, ':', 2)::bigint AS id, split_part(dedup_key, ':', 3)::date AS end_date,
                 CASE WHEN type = 'stay.overdue' THEN -1 ELSE split_part(dedup_key, ':', 4)::integer END AS days
          FROM outbox WHERE type IN ('stay.ending_soon', 'stay.overdue')) k
    JOIN placements p ON p.id = k.id AND p.planned_end_date = k.end_date
    ORDER BY k.id, k.days;
$$;

CREATE OR REPLACE FUNCTION alerts_scan_proto2(today date, thresholds integer[]) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE n integer;
BEGIN
    CREATE TEMP TABLE IF NOT EXISTS alerts_due (id bigint, offer_id bigint, youth_id bigint,
        place_id bigint, status text, start_date date, planned_end_date date, left_days integer,
        v_t integer) ON COMMIT DELETE ROWS;
    DELETE FROM alerts_due;
    INSERT INTO alerts_due
    SELECT d.* FROM (
        SELECT p.id, p.offer_id, p.youth_id, p.place_id, p.status, p.start_date, p.planned_end_date,
               p.planned_end_date - today AS left_days,
               CASE WHEN p.planned_end_date < today THEN -1 ELSE
                   (SELECT min(t) FROM unnest(thresholds) t WHERE p.planned_end_date - today <= t) END AS v_t
        FROM placements p
        WHERE p.status = 'active'
          AND p.planned_end_date <= today + (SELECT max(t) FROM unnest(thresholds) t)
    ) d
    LEFT JOIN alert_state a ON a.placement_id = d.id AND a.planned_end_date = d.planned_end_date
    WHERE d.v_t IS NOT NULL
      AND (a.days IS NULL                                       -- nothing sent for this planned end
           OR (d.v_t = -1 AND a.days <> -1)                     -- overdue now, not yet said
           OR (d.v_t >= 0 AND a.days >= 0 AND d.v_t < a.days)); -- a smaller threshold crossed
    WITH ins AS (
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
        FROM alerts_due f JOIN offers o ON o.id = f.offer_id LEFT JOIN youth y ON y.id = f.youth_id
        ON CONFLICT (dedup_key) DO NOTHING
        RETURNING id, type, departements, porteur_id
    ), fan AS (
        INSERT INTO deliveries (outbox_id, webhook_id)
        SELECT e.id, w.id FROM ins e, webhooks w
        WHERE w.status = 'active' AND e.type = ANY (w.event_types)
          AND (w.scope_departement IS NULL OR w.scope_departement = ANY (e.departements))
          AND (w.scope_porteur_id IS NULL OR w.scope_porteur_id = e.porteur_id)
        ON CONFLICT DO NOTHING
    )
    SELECT count(*) INTO n FROM ins;
    INSERT INTO alert_state (placement_id, planned_end_date, days)
    SELECT id, planned_end_date, v_t FROM alerts_due
    ON CONFLICT (placement_id) DO UPDATE SET planned_end_date = excluded.planned_end_date, days = excluded.days;
    IF n > 0 THEN
        PERFORM pg_notify('siaod_outbox', 'scan');
    END IF;
    RETURN n;
END $$;
