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
--    porteurs never do;
--  * the acceptance rate counts what the porteur answered: accepted (at some
--    point) over accepted + refused; pending proposals get their own count;
--  * erasing a young person also erases what the idempotency store kept of
--    the answers about them (a replay returned their ref and birth date);
--  * If-Match takes a list of versions (the *_if_match helpers below).

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

---------------------------------------------------------------- indicators: the acceptance rate

-- The indicators of one porteur over [p_from, p_to] (both days included),
-- as in 010, with the acceptance rate on answered proposals only.
-- Definitions (also in clients/openapi.yaml):
--   proposals           placements proposed on its offers during the period
--                       (whatever became of them);
--   accepted            of those, the ones the porteur accepted at some point
--                       (accepted_on set: entered, ended, cancelled or
--                       expired after the acceptance all count);
--   refused             of those, the ones the porteur refused;
--   pending             of those, the ones still waiting for an answer
--                       (status proposed);
--   acceptance_rate     accepted / (accepted + refused), null when neither:
--                       pending proposals, and those cancelled or expired
--                       before any answer, are left out;
--   refusals            the refused ones by coded reason.
-- The other figures are 010's (see that file).
CREATE OR REPLACE FUNCTION report_porteur(p porteurs, p_from date, p_to date) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    WITH per AS (SELECT daterange(p_from, p_to + 1) AS r),
    pl AS (
        SELECT x.* FROM placements x JOIN offers o ON o.id = x.offer_id WHERE o.porteur_id = p.id
    ),
    stays AS (
        SELECT pl.*, daterange(pl.start_date, coalesce(pl.actual_end_date, pl.planned_end_date)) AS lived
        FROM pl WHERE pl.status IN ('active', 'ended')
    ),
    proposed AS (SELECT * FROM pl, per WHERE per.r @> pl.created_on),
    answered AS (
        SELECT count(*) FILTER (WHERE accepted_on IS NOT NULL) AS accepted,
               count(*) FILTER (WHERE status = 'refused' AND accepted_on IS NULL) AS refused,
               count(*) FILTER (WHERE status = 'proposed') AS pending
        FROM proposed
    ),
    exited AS (SELECT * FROM stays, per WHERE stays.status = 'ended' AND per.r @> stays.actual_end_date),
    occ AS (
        SELECT coalesce(sum(upper(z.x) - lower(z.x)), 0) AS held FROM (
            SELECT s.lived * per.r * seg.seg AS x
            FROM stays s JOIN offers o ON o.id = s.offer_id, per, LATERAL offer_capacity_segments(o) seg
            WHERE seg.open AND s.lived && per.r AND s.lived && seg.seg) z
        WHERE NOT isempty(z.x)
    ),
    cap AS (
        SELECT coalesce(sum(seg.capacity * (upper(seg.seg * per.r) - lower(seg.seg * per.r))), 0) AS days
        FROM offers o, per, LATERAL offer_capacity_segments(o) seg
        WHERE o.porteur_id = p.id AND seg.open AND seg.seg && per.r
    ),
    firsts AS (
        SELECT s.youth_id, min(s.start_date) AS first_entry FROM stays s GROUP BY s.youth_id
    ),
    waits AS (
        SELECT greatest(f.first_entry - y.registered_at, 0) AS days
        FROM firsts f JOIN youth y ON y.id = f.youth_id, per WHERE per.r @> f.first_entry
    )
    SELECT jsonb_build_object(
        'porteur_id', p.id, 'name', p.name, 'departement', p.departement,
        'target_youth', p.target_youth,
        'youth_accompanied', (SELECT count(DISTINCT youth_id) FROM stays, per WHERE stays.lived && per.r),
        'proposals', (SELECT count(*) FROM proposed),
        'accepted', (SELECT accepted FROM answered),
        'refused', (SELECT refused FROM answered),
        'pending', (SELECT pending FROM answered),
        'acceptance_rate', (SELECT round(accepted::numeric / nullif(accepted + refused, 0), 4) FROM answered),
        'refusals', (SELECT coalesce(jsonb_object_agg(refusal_reason, n), '{}') FROM
                        (SELECT refusal_reason, count(*) AS n FROM proposed WHERE status = 'refused'
                         GROUP BY refusal_reason) r),
        'entries', (SELECT count(*) FROM stays, per WHERE per.r @> stays.start_date),
        'exits', (SELECT count(*) FROM exited),
        'exits_by_destination', (SELECT coalesce(jsonb_object_agg(exit_destination, n), '{}') FROM
                        (SELECT exit_destination, count(*) AS n FROM exited GROUP BY exit_destination) d),
        'durable_share', (SELECT round(count(*) FILTER (WHERE exit_destination = 'durable_housing')::numeric
                                 / nullif(count(*), 0), 4) FROM exited),
        'mean_stay_days', (SELECT round(avg(actual_end_date - start_date), 2) FROM exited),
        'median_stay_days', (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY actual_end_date - start_date)
                             FROM exited),
        'stays_to_cap', (SELECT count(*) FROM exited WHERE capped AND actual_end_date >= planned_end_date),
        'place_days_held', (SELECT held FROM occ),
        'place_days_capacity', (SELECT days FROM cap),
        'occupancy_rate', (SELECT round(occ.held::numeric / nullif(cap.days, 0), 4) FROM occ, cap),
        'median_days_to_entry', (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY days) FROM waits));
$$;

---------------------------------------------------------------- erasure reaches the idempotency store

-- A stored answer with the personal members of one young person blanked as
-- youth_erase blanks them: every object (at any depth) whose "ref" is the
-- erased reference gets ref, birth_date, institution_exit_date and
-- commune_insee null, needs [], has_pets false and monthly_income_eur 0 —
-- for the members it has; nothing is added. Later answers that carry a
-- young person's ref (allocation plans, imports, notifications) are covered
-- as long as they name it "ref".
CREATE FUNCTION jsonb_forget_youth(doc jsonb, p_ref text) RETURNS jsonb LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    res jsonb;
    blank CONSTANT jsonb := '{"ref": null, "birth_date": null, "institution_exit_date": null,
                              "commune_insee": null, "needs": [], "has_pets": false,
                              "monthly_income_eur": 0}';
BEGIN
    IF jsonb_typeof(doc) = 'object' THEN
        SELECT coalesce(jsonb_object_agg(e.key,
                   CASE WHEN doc->>'ref' = p_ref AND blank ? e.key THEN blank->e.key
                        ELSE jsonb_forget_youth(e.value, p_ref) END), '{}')
        INTO res FROM jsonb_each(doc) e;
        RETURN res;
    ELSIF jsonb_typeof(doc) = 'array' THEN
        SELECT coalesce(jsonb_agg(jsonb_forget_youth(e.value, p_ref) ORDER BY e.n), '[]')
        INTO res FROM jsonb_array_elements(doc) WITH ORDINALITY AS e(value, n);
        RETURN res;
    END IF;
    RETURN doc;
END $$;

-- Blanks the young person of reference p_ref in every stored answer. The
-- record itself stays (same key, same body hash, same status): a retry of
-- the creation is still recognised as the request already done, so it has
-- no second effect (it would otherwise create the erased person again from
-- the retried body), and answers the record as erased.
CREATE FUNCTION idem_forget_youth(p_ref text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    r record;
    doc jsonb;
BEGIN
    IF p_ref IS NULL THEN
        RETURN;
    END IF;
    FOR r IN SELECT token_id, key, response FROM idempotency
             WHERE state = 'done' AND response LIKE '%"ref"%' FOR UPDATE LOOP
        BEGIN
            doc := r.response::jsonb;
        EXCEPTION WHEN invalid_text_representation THEN
            CONTINUE;   -- not JSON: nothing of a "ref" member to blank
        END;
        IF jsonb_forget_youth(doc, p_ref) IS DISTINCT FROM doc THEN
            UPDATE idempotency SET response = jsonb_forget_youth(doc, p_ref)::text
            WHERE token_id = r.token_id AND key = r.key;
        END IF;
    END LOOP;
END $$;

-- As in 003, and what the idempotency store kept of them goes too, in the
-- same transaction.
CREATE OR REPLACE FUNCTION youth_erase(p_id bigint, actor jsonb, today date) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE y youth; freed bigint[];
BEGIN
    y := youth_fetch(p_id, actor, true);
    WITH c AS (
        UPDATE placements SET status = 'cancelled', version = version + 1, updated_at = now()
        WHERE youth_id = p_id AND status IN ('proposed', 'accepted') RETURNING offer_id
    ) SELECT array_agg(DISTINCT offer_id) INTO freed FROM c;
    UPDATE youth SET age_band = youth_age_band(birth_date, today), ref = NULL, birth_date = NULL,
        institution_exit_date = NULL, commune_insee = NULL, needs = '{}', has_pets = false,
        monthly_income_eur = 0, status = 'closed', erased_at = now(),
        version = version + 1, updated_at = now()
    WHERE id = p_id;
    PERFORM idem_forget_youth(y.ref);
    PERFORM audit_write(actor, 'youth.erase', 'youth', p_id);
    RETURN jsonb_build_object('id', p_id, 'erased', true,
                              'freed_offers', to_jsonb(coalesce(freed, '{}')));
END $$;

---------------------------------------------------------------- If-Match with a list of versions

-- The version a patch function is to check, from the versions an If-Match
-- list names (the daemon reads the tags; weak ones never match): the
-- current one when listed, else the first, which then fails the patch
-- function's own check under its row lock (412). NULL: no condition. The
-- current version read here without a lock may move before the patch locks
-- the row: the patch then sees a version that is no longer current and
-- answers 412, as it must.
CREATE FUNCTION if_match_version(candidates integer[], current integer) RETURNS integer
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN candidates IS NULL THEN NULL
                WHEN current = ANY (candidates) THEN current
                ELSE candidates[1] END;
$$;

CREATE FUNCTION porteur_if_match(p_id bigint, candidates integer[]) RETURNS integer
LANGUAGE sql STABLE AS $$
    SELECT if_match_version(candidates, (SELECT version FROM porteurs WHERE id = p_id));
$$;

CREATE FUNCTION offer_if_match(p_id bigint, candidates integer[]) RETURNS integer
LANGUAGE sql STABLE AS $$
    SELECT if_match_version(candidates, (SELECT version FROM offers WHERE id = p_id));
$$;

CREATE FUNCTION youth_if_match(p_id bigint, candidates integer[]) RETURNS integer
LANGUAGE sql STABLE AS $$
    SELECT if_match_version(candidates, (SELECT version FROM youth WHERE id = p_id));
$$;
