-- 013: what the card shows is what gets booked (issue 11). Applied
-- migrations are never edited: functions change here, with CREATE OR REPLACE.
--  * a proposal's default planned end is the period the matcher scored and
--    the match showed: start + min(wanted_months calendar months, the cap),
--    not the cap itself (a 6-month need held an IML place for 540 days);
--  * only the young person's referent (or an admin) proposes, never a
--    porteur (the route table already says so);
--  * an offer states its real age range, 16 to 30 (an FJT takes young
--    workers up to 30); matching still applies the programme's limit,
--    min(max_age, rqth ? 29 : 25), in the daemon;
--  * referents see their own file reference (ref) in the stays ending soon;
--    porteurs never do.

CREATE OR REPLACE FUNCTION placement_create(body jsonb, actor jsonb, today date, hold_days integer)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    o offers;
    y youth;
    p placements;
    v_start date := (body->>'start_date')::date;
    v_end date;
    v_cap date;
    v_place bigint;
BEGIN
    SELECT * INTO y FROM youth WHERE id = (body->>'youth_id')::bigint AND erased_at IS NULL FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM siaod_field_error(422, '/youth_id', 'unknown_value', 'no such young person');
    END IF;
    SELECT * INTO o FROM offers WHERE id = (body->>'offer_id')::bigint FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM siaod_field_error(422, '/offer_id', 'unknown_value', 'no such offer');
    END IF;
    -- the young person's referent or an admin; a porteur never proposes
    IF NOT (actor->>'role' = 'admin'
            OR (actor->>'role' = 'referent' AND (actor->'departements') ? y.departement)) THEN
        PERFORM siaod_fail(403, 'forbidden', 'this young person or offer is outside this token''s scope');
    END IF;
    IF EXISTS (SELECT 1 FROM placements WHERE youth_id = y.id AND status IN ('proposed', 'accepted', 'active')) THEN
        PERFORM siaod_fail(409, 'open-placement-exists',
            'this young person already has an open placement (proposed, accepted or active)',
            jsonb_build_object('placement_id', (SELECT id FROM placements WHERE youth_id = y.id
                AND status IN ('proposed', 'accepted', 'active'))));
    END IF;
    IF y.status <> 'waiting' THEN
        PERFORM siaod_fail(409, 'youth-not-waiting',
            format('this young person''s status is %s, not waiting', y.status));
    END IF;
    IF o.status <> 'open' OR v_start < o.available_from
       OR (o.available_until IS NOT NULL AND v_start > o.available_until) THEN
        PERFORM siaod_fail(422, 'not-eligible', 'the offer is closed on that date',
            jsonb_build_object('rules', jsonb_build_array('closed')));
    END IF;
    v_cap := placement_cap_end(o, v_start);
    IF body ? 'planned_end_date' THEN
        v_end := (body->>'planned_end_date')::date;
        PERFORM placement_beyond_cap(v_cap, v_end);
    ELSE
        -- the matcher's period (match_period in daemon/match.c): wanted_months
        -- calendar months (the 31st + 1 month is the last day of the next
        -- month, as date_add_months does), cut to the cap
        v_end := (v_start + make_interval(months => greatest(y.wanted_months, 1)))::date;
        IF v_cap IS NOT NULL AND v_end > v_cap THEN
            v_end := v_cap;
        END IF;
    END IF;
    IF v_end <= v_start THEN
        PERFORM siaod_field_error(400, '/planned_end_date', 'out_of_range', 'must be after start_date');
    END IF;
    SELECT pl.id INTO v_place FROM places pl
    WHERE pl.offer_id = o.id AND pl.active
      AND NOT EXISTS (SELECT 1 FROM placements x WHERE x.place_id = pl.id
                      AND x.held && daterange(v_start, v_end))
    ORDER BY pl.number LIMIT 1;
    IF v_place IS NULL THEN
        PERFORM siaod_fail(409, 'no-free-place',
            format('no place of this offer is free from %s to %s', v_start, v_end));
    END IF;
    INSERT INTO placements (youth_id, offer_id, place_id, status, start_date, planned_end_date,
                            hold_until, capped, created_on)
    VALUES (y.id, o.id, v_place, 'proposed', v_start, v_end, today + hold_days,
            coalesce(v_end = v_cap, false), today)
    RETURNING * INTO p;
    PERFORM audit_write(actor, 'placement.create', 'placement', p.id, 'ok', 201);
    RETURN placement_json(p);
END $$;

---------------------------------------------------------------- offers: ages 16 to 30

ALTER TABLE offers DROP CONSTRAINT ck_offers__min_age,
    ADD CONSTRAINT ck_offers__min_age CHECK (min_age BETWEEN 16 AND 30);
ALTER TABLE offers DROP CONSTRAINT ck_offers__max_age,
    ADD CONSTRAINT ck_offers__max_age CHECK (max_age BETWEEN 16 AND 30 AND max_age >= min_age);

---------------------------------------------------------------- stays: the referent's own file reference

-- f: {ending_within_days, departement, porteur_id, cursor, limit}; today.
-- As in 004, plus `ref`, the young person's file reference, for an admin
-- and the referents of the young person's département (their own files);
-- never for a porteur, nor for a referent who sees the stay only as the
-- offer's département.
CREATE OR REPLACE FUNCTION stay_list(f jsonb, actor jsonb, today date) RETURNS jsonb LANGUAGE sql STABLE AS $$
    WITH s AS (
        SELECT p, p.planned_end_date - today AS days_left, o.departement AS odep,
               CASE WHEN actor->>'role' = 'admin'
                      OR (actor->>'role' = 'referent' AND (actor->'departements') ? y.departement)
                    THEN jsonb_build_object('ref', y.ref) ELSE '{}'::jsonb END AS own,
               row_number() OVER (ORDER BY p.planned_end_date, p.id) AS n
        FROM placements p JOIN offers o ON o.id = p.offer_id JOIN youth y ON y.id = p.youth_id
        WHERE p.status = 'active'
          AND (f->>'ending_within_days' IS NULL
               OR p.planned_end_date - today <= (f->>'ending_within_days')::integer)
          AND (f->>'departement' IS NULL OR o.departement = f->>'departement')
          AND (f->>'porteur_id' IS NULL OR o.porteur_id = (f->>'porteur_id')::bigint)
          AND CASE actor->>'role'
                WHEN 'admin' THEN true
                WHEN 'porteur' THEN o.porteur_id = (actor->>'porteur_id')::bigint
                WHEN 'referent' THEN (actor->'departements') ? y.departement
                                  OR (actor->'departements') ? o.departement
                ELSE false END
    )
    SELECT jsonb_build_object(
        'items', coalesce(jsonb_agg(placement_json(p) || jsonb_build_object('days_left', days_left) || own
                                    ORDER BY n)
                          FILTER (WHERE n > coalesce((f->>'cursor')::bigint, 0)
                                  AND n <= coalesce((f->>'cursor')::bigint, 0) + (f->>'limit')::integer), '[]'),
        'next_cursor', CASE WHEN count(*) > coalesce((f->>'cursor')::bigint, 0) + (f->>'limit')::integer
                            THEN (coalesce((f->>'cursor')::bigint, 0) + (f->>'limit')::integer)::text END)
    FROM s;
$$;
