-- placements.sql (schema api, see sql/README.md): Placements (propose, accept, enter, exit...),
-- holds that expire, and stays.

CREATE FUNCTION placement_json(p placements) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', p.id, 'youth_id', p.youth_id, 'offer_id', p.offer_id,
        'offer_label', o.label, 'porteur_id', o.porteur_id, 'departement', o.departement,
        'youth_departement', y.departement, 'place_id', p.place_id, 'place_number', pl.number,
        'status', p.status, 'start_date', p.start_date, 'planned_end_date', p.planned_end_date,
        'actual_end_date', p.actual_end_date, 'exit_destination', p.exit_destination,
        'refusal_reason', p.refusal_reason, 'refused_by', p.refused_by,
        'answered_at', p.answered_at, 'proposed_by', p.proposed_by,
        'hold_until', CASE WHEN p.status IN ('proposed', 'accepted') THEN p.hold_until END,
        -- what a porteur may know of the young person: never ref or birth date
        'youth', jsonb_build_object(
            'age_band', coalesce(y.age_band, youth_age_band(y.birth_date, p.start_date)),
            'household', y.household, 'needs', to_jsonb(y.needs), 'situation', y.situation,
            'support_need', y.support_need),
        'version', p.version, 'created_at', p.created_at, 'updated_at', p.updated_at)
    FROM offers o, youth y, places pl
    WHERE o.id = p.offer_id AND y.id = p.youth_id AND pl.id = p.place_id;
$$;

-- Who may see a placement: an admin; a referent of the young person's or
-- the offer's département; the porteur of the offer.
CREATE FUNCTION placement_visible(p placements, actor jsonb) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT CASE actor->>'role'
        WHEN 'admin' THEN true
        WHEN 'porteur' THEN (SELECT porteur_id FROM offers WHERE id = p.offer_id) = (actor->>'porteur_id')::bigint
        WHEN 'referent' THEN (actor->'departements') ? (SELECT departement FROM youth WHERE id = p.youth_id)
                          OR (actor->'departements') ? (SELECT departement FROM offers WHERE id = p.offer_id)
        ELSE false END;
$$;

-- The end a stay may not pass: start + the offer's cap (NULL: no cap).
CREATE FUNCTION placement_cap_end(o offers, start date) RETURNS date LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN o.max_stay_days IS NULL THEN NULL ELSE start + o.max_stay_days END;
$$;

CREATE FUNCTION placement_beyond_cap(cap_end date, wanted date) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF cap_end IS NOT NULL AND wanted > cap_end THEN
        PERFORM siaod_fail(422, 'beyond-cap',
            format('the stay would end on %s, after the cap of this offer (%s)', wanted, cap_end),
            jsonb_build_object('errors', jsonb_build_array(jsonb_build_object(
                'pointer', '/planned_end_date', 'code', 'out_of_range',
                'detail', format('at most %s', cap_end))),
                'max_end_date', cap_end));
    END IF;
END $$;

-- Proposes a place: the first free place of the offer for the whole stay.
-- The hot path of the API (issue 13, item 3): every statement here is
-- PL/pgSQL's, planned once per session and kept, with no LANGUAGE sql
-- helper (PostgreSQL 15 plans those again on every call): the JSON of the
-- answer and the audit row are written out in place, the same as
-- placement_json and audit_write make them.
-- p_hint: a place the caller's inventory saw free over the stay (the first
-- by number there, daemon/api_placements.c), probed first; NULL, taken
-- meanwhile or not this offer's: the search below.
CREATE FUNCTION placement_create(body jsonb, actor jsonb, today date, hold_days integer,
                                 p_hint bigint DEFAULT NULL)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    o offers;
    y youth;
    p placements;
    v_start date := (body->>'start_date')::date;
    v_end date;
    v_cap date;
    v_place bigint;
    v_number integer;
    v_age integer;
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
    -- placement_cap_end(o, v_start)
    v_cap := CASE WHEN o.max_stay_days IS NULL THEN NULL ELSE v_start + o.max_stay_days END;
    IF body ? 'planned_end_date' THEN
        v_end := (body->>'planned_end_date')::date;
        IF v_cap IS NOT NULL AND v_end > v_cap THEN
            PERFORM placement_beyond_cap(v_cap, v_end);
        END IF;
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
    -- The first place, by number, that no placement holds on a day of the
    -- stay: each place probed once in placements_place_held_idx (sql/024):
    -- the last range of that place starting before the stay's end is the
    -- only one that can overlap it, as one place's ranges never overlap. A
    -- LATERAL subquery with LIMIT cannot be flattened into an anti-join,
    -- which the planner may otherwise run as one scan of an index over
    -- every place (issue 13: 11 ms a call on busy offers, against 0.05).
    -- On a busy offer the first free place comes after many taken ones (40
    -- probes, 0.8 ms, on the benchmark's hot offers): the caller's hint, a
    -- place its inventory saw free, is probed alone first. It is usually
    -- that same first free place; a stale one (a place freed by another
    -- instance in the last instant) only means a higher number.
    IF p_hint IS NOT NULL THEN
        SELECT pl.id, pl.number INTO v_place, v_number FROM places pl
        LEFT JOIN LATERAL (SELECT upper_inf(x.held) OR upper(x.held) > v_start AS taken
                           FROM placements x
                           WHERE x.place_id = pl.id AND NOT isempty(x.held) AND lower(x.held) < v_end
                           ORDER BY lower(x.held) DESC LIMIT 1) t ON true
        WHERE pl.id = p_hint AND pl.offer_id = o.id AND pl.active AND t.taken IS NOT TRUE;
    END IF;
    IF v_place IS NULL THEN
        SELECT pl.id, pl.number INTO v_place, v_number FROM places pl
        LEFT JOIN LATERAL (SELECT upper_inf(x.held) OR upper(x.held) > v_start AS taken
                           FROM placements x
                           WHERE x.place_id = pl.id AND NOT isempty(x.held) AND lower(x.held) < v_end
                           ORDER BY lower(x.held) DESC LIMIT 1) t ON true
        WHERE pl.offer_id = o.id AND pl.active AND t.taken IS NOT TRUE
        ORDER BY pl.number LIMIT 1;
    END IF;
    IF v_place IS NULL THEN
        PERFORM siaod_fail(409, 'no-free-place',
            format('no place of this offer is free from %s to %s', v_start, v_end));
    END IF;
    INSERT INTO placements (youth_id, offer_id, place_id, status, start_date, planned_end_date,
                            hold_until, capped, created_on, proposed_by)
    VALUES (y.id, o.id, v_place, 'proposed', v_start, v_end, today + hold_days,
            coalesce(v_end = v_cap, false), today, nullif((actor->>'account_id')::bigint, 0))
    RETURNING * INTO p;
    -- audit_write(actor, 'placement.create', 'placement', p.id, 'ok', 201)
    INSERT INTO audit (token_id, account_id, role, action, entity, entity_id, outcome, status, request_id)
    VALUES (nullif((actor->>'token_id')::bigint, 0), nullif((actor->>'account_id')::bigint, 0),
            actor->>'role', 'placement.create', 'placement', p.id, 'ok', 201, actor->>'request_id');
    -- placement_json(p), from the rows at hand; the age band as youth_age_band makes it
    IF y.age_band IS NULL THEN
        v_age := extract(year FROM age(p.start_date, y.birth_date))::integer;
    END IF;
    RETURN jsonb_build_object('id', p.id, 'youth_id', p.youth_id, 'offer_id', p.offer_id,
        'offer_label', o.label, 'porteur_id', o.porteur_id, 'departement', o.departement,
        'youth_departement', y.departement, 'place_id', p.place_id, 'place_number', v_number,
        'status', p.status, 'start_date', p.start_date, 'planned_end_date', p.planned_end_date,
        'actual_end_date', p.actual_end_date, 'exit_destination', p.exit_destination,
        'refusal_reason', p.refusal_reason, 'refused_by', p.refused_by,
        'answered_at', p.answered_at, 'proposed_by', p.proposed_by,
        'hold_until', p.hold_until,
        'youth', jsonb_build_object(
            'age_band', coalesce(y.age_band,
                CASE WHEN v_age < 18 THEN '16-17' WHEN v_age < 22 THEN '18-21' WHEN v_age < 26 THEN '22-25'
                     WHEN v_age < 30 THEN '26-29' ELSE 'other' END),
            'household', y.household, 'needs', to_jsonb(y.needs), 'situation', y.situation,
            'support_need', y.support_need),
        'version', p.version, 'created_at', p.created_at, 'updated_at', p.updated_at);
END $$;

-- POST /v1/placements in one round trip (api_placements.c): with an
-- Idempotency-Key (p_key not NULL), the key's claim, the placement and the
-- stored answer in one transaction (idem_fold_begin, idempotency.sql).
-- state: 'new' (response: the placement), 'replay' (status and response:
-- the first answer), 'running' or 'mismatch' (nothing done).
CREATE FUNCTION placement_propose(body jsonb, actor jsonb, today date, hold_days integer,
                                  p_hint bigint, p_token bigint, p_key text, p_hash bytea)
RETURNS TABLE (state text, status integer, response text) LANGUAGE plpgsql AS $$
DECLARE
    b record;
    v text;
BEGIN
    IF p_key IS NOT NULL THEN
        SELECT * INTO b FROM idem_fold_begin(p_token, p_key, p_hash);
        IF b.state <> 'new' THEN
            RETURN QUERY SELECT b.state, b.status, b.response;
            RETURN;
        END IF;
    END IF;
    v := placement_create(body, actor, today, hold_days, p_hint)::text;
    IF p_key IS NOT NULL THEN
        PERFORM idem_fold_end(p_token, p_key, p_hash, 201, v);
    END IF;
    RETURN QUERY SELECT 'new'::text, 201, v;
END $$;

-- Several POST /v1/placements in one transaction (daemon/proposals.c): the
-- requests that arrived while others were in flight, so that one commit,
-- one flush of the log and one round trip serve them all (issue 13: under
-- 64 clients the commit, not the proposal, was most of a placement's cost).
-- items: [{"b": body, "a": actor, "d": today, "h": hint, "t": token,
--          "k": key, "x": hash as hex}, ...] as placement_propose takes
-- them; one row per item, n from 0 in their order: placement_propose's
-- (state, status, response), or state 'error' with the error's fields,
-- which the daemon turns into the same problem as a lone request's. Each
-- item runs in its own subtransaction: one refused (no free place, not
-- waiting...) undoes only its own writes. The young people, then the
-- offers, are locked first, in id order: the items of two batches cannot
-- then wait on each other in a cycle (a lone proposal and a transition
-- also lock the young person before the offer).
CREATE FUNCTION placement_propose_many(items jsonb, hold_days integer)
RETURNS TABLE (n integer, state text, status integer, response text, err_state text,
               err_message text, err_detail text, err_hint text, err_constraint text)
LANGUAGE plpgsql AS $$
DECLARE
    e jsonb;
BEGIN
    PERFORM 1 FROM youth WHERE id IN (SELECT (x->'b'->>'youth_id')::bigint FROM jsonb_array_elements(items) x)
    ORDER BY id FOR UPDATE;
    PERFORM 1 FROM offers WHERE id IN (SELECT (x->'b'->>'offer_id')::bigint FROM jsonb_array_elements(items) x)
    ORDER BY id FOR UPDATE;
    n := -1;
    FOR e IN SELECT x FROM jsonb_array_elements(items) x LOOP
        n := n + 1;
        err_state := NULL; err_message := NULL; err_detail := NULL; err_hint := NULL; err_constraint := NULL;
        BEGIN
            IF e->>'k' IS NULL THEN
                -- without a key, placement_propose would only wrap this
                -- (an assignment: no statement of its own to run)
                response := placement_create(e->'b', e->'a', (e->>'d')::date, hold_days, (e->>'h')::bigint)::text;
                state := 'new';
                status := 201;
            ELSE
                SELECT p.state, p.status, p.response INTO state, status, response
                FROM placement_propose(e->'b', e->'a', (e->>'d')::date, hold_days, (e->>'h')::bigint,
                                       (e->>'t')::bigint, e->>'k', decode(e->>'x', 'hex')) p;
            END IF;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS err_state = RETURNED_SQLSTATE, err_message = MESSAGE_TEXT,
                err_detail = PG_EXCEPTION_DETAIL, err_hint = PG_EXCEPTION_HINT,
                err_constraint = CONSTRAINT_NAME;
            state := 'error'; status := NULL; response := NULL;
        END;
        RETURN NEXT;
    END LOOP;
END $$;

CREATE FUNCTION placement_get(p_id bigint, actor jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE p placements;
BEGIN
    SELECT * INTO p FROM placements WHERE id = p_id;
    IF NOT FOUND THEN
        PERFORM siaod_fail(404, 'not-found', format('placement %s does not exist', p_id));
    END IF;
    IF NOT placement_visible(p, actor) THEN
        PERFORM siaod_fail(403, 'forbidden', 'this placement is outside this token''s scope');
    END IF;
    RETURN placement_json(p);
END $$;

-- f: {status, offer_id, youth_id, porteur_id, cursor, limit}
CREATE FUNCTION placement_list(f jsonb, actor jsonb) RETURNS jsonb LANGUAGE sql STABLE AS $$
    WITH page AS (
        SELECT p, row_number() OVER (ORDER BY p.id) AS n FROM placements p
        JOIN offers o ON o.id = p.offer_id JOIN youth y ON y.id = p.youth_id
        WHERE p.id > coalesce((f->>'cursor')::bigint, 0)
          AND (f->>'status' IS NULL OR p.status = f->>'status')
          AND (f->>'offer_id' IS NULL OR p.offer_id = (f->>'offer_id')::bigint)
          AND (f->>'youth_id' IS NULL OR p.youth_id = (f->>'youth_id')::bigint)
          AND (f->>'porteur_id' IS NULL OR o.porteur_id = (f->>'porteur_id')::bigint)
          AND CASE actor->>'role'
                WHEN 'admin' THEN true
                WHEN 'porteur' THEN o.porteur_id = (actor->>'porteur_id')::bigint
                WHEN 'referent' THEN (actor->'departements') ? y.departement
                                  OR (actor->'departements') ? o.departement
                ELSE false END
        ORDER BY p.id LIMIT (f->>'limit')::integer + 1
    )
    SELECT jsonb_build_object(
        'items', coalesce(jsonb_agg(placement_json(p) ORDER BY (p).id)
                          FILTER (WHERE n <= (f->>'limit')::integer), '[]'),
        'next_cursor', CASE WHEN count(*) > (f->>'limit')::integer
                            THEN (max((p).id) FILTER (WHERE n <= (f->>'limit')::integer))::text END)
    FROM page;
$$;

-- The state table of DESIGN.md: action → (states it may start from, who).
--   accept  proposed           → accepted   porteur, admin
--   refuse  proposed           → refused    porteur, admin
--   enter   accepted           → active     porteur, admin
--   exit    active             → ended      porteur, admin
--   extend  active             → active     porteur, admin
--   cancel  proposed, accepted → cancelled  referent, porteur, admin
CREATE FUNCTION placement_transition(p_id bigint, action text, body jsonb, actor jsonb,
                                     today date, hold_days integer)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    p placements;
    o offers;
    y youth;
    v_date date;
    v_cap date;
    v_end date;
    v_from text[];
    is_porteur boolean;
    is_referent boolean;
BEGIN
    SELECT * INTO p FROM placements WHERE id = p_id;
    IF NOT FOUND THEN
        PERFORM siaod_fail(404, 'not-found', format('placement %s does not exist', p_id));
    END IF;
    -- lock in the order placement_create does: young person, then offer
    SELECT * INTO y FROM youth WHERE id = p.youth_id FOR UPDATE;
    SELECT * INTO o FROM offers WHERE id = p.offer_id FOR UPDATE;
    SELECT * INTO p FROM placements WHERE id = p_id FOR UPDATE;
    is_porteur := actor->>'role' = 'admin'
                  OR (actor->>'role' = 'porteur' AND (actor->>'porteur_id')::bigint = o.porteur_id);
    is_referent := actor->>'role' = 'referent' AND (actor->'departements') ? y.departement;
    -- a referent records that the young person declined (by: youth)
    IF NOT is_porteur AND NOT (action = 'cancel' AND is_referent)
       AND NOT (action = 'refuse' AND is_referent AND coalesce(body->>'by', 'youth') = 'youth') THEN
        IF NOT placement_visible(p, actor) THEN
            PERFORM siaod_fail(403, 'forbidden', 'this placement is outside this token''s scope');
        END IF;
        PERFORM siaod_fail(403, 'forbidden',
            format('only the offer''s porteur (or an admin) may %s a placement', action));
    END IF;
    -- a hold past its day has expired, whether or not the scheduler saw it yet
    IF p.status IN ('proposed', 'accepted') AND p.hold_until <= today THEN
        UPDATE placements SET status = 'expired', version = version + 1, updated_at = now()
        WHERE id = p_id RETURNING * INTO p;
        PERFORM audit_write(actor, 'placement.expire', 'placement', p_id);
    END IF;
    v_from := CASE action WHEN 'accept' THEN ARRAY['proposed'] WHEN 'refuse' THEN ARRAY['proposed']
                          WHEN 'enter' THEN ARRAY['accepted'] WHEN 'exit' THEN ARRAY['active']
                          WHEN 'extend' THEN ARRAY['active'] WHEN 'cancel' THEN ARRAY['proposed', 'accepted'] END;
    IF NOT p.status = ANY (v_from) THEN
        -- (an expiry found above is rolled back with this error; the
        -- scheduler records it within a minute anyway)
        PERFORM siaod_fail(409, 'illegal-transition',
            format('a placement that is %s cannot be %s', p.status,
                CASE action WHEN 'accept' THEN 'accepted' WHEN 'refuse' THEN 'refused'
                            WHEN 'enter' THEN 'entered' WHEN 'exit' THEN 'exited'
                            WHEN 'extend' THEN 'extended' ELSE 'cancelled' END),
            jsonb_build_object('current_status', p.status));
    END IF;

    IF action = 'accept' THEN
        -- DESIGN: an accepted hold lasts until start_date + hold_days; for a
        -- start already past (an entry being recorded after the fact) the
        -- days count from the acceptance, or it would expire at once
        UPDATE placements SET status = 'accepted', accepted_on = today,
            answered_at = now(), answered_on = today,
            hold_until = greatest(start_date, today) + hold_days
        WHERE id = p_id;
    ELSIF action = 'refuse' THEN
        UPDATE placements SET status = 'refused', refusal_reason = body->>'reason',
            refused_by = coalesce(body->>'by', CASE WHEN is_porteur THEN 'porteur' ELSE 'youth' END),
            answered_at = now(), answered_on = today
        WHERE id = p_id;
    ELSIF action = 'cancel' THEN
        UPDATE placements SET status = 'cancelled' WHERE id = p_id;
    ELSIF action = 'enter' THEN
        v_date := coalesce((body->>'date')::date, today);
        IF v_date > today THEN
            PERFORM siaod_field_error(400, '/date', 'out_of_range', 'an entry is recorded on or after the day it happens, never before');
        END IF;
        v_cap := placement_cap_end(o, v_date);
        v_end := CASE WHEN v_cap IS NULL THEN greatest(p.planned_end_date, v_date + 1)
                      WHEN p.capped OR p.planned_end_date > v_cap THEN v_cap
                      ELSE greatest(p.planned_end_date, v_date + 1) END;
        UPDATE placements SET status = 'active', start_date = v_date, planned_end_date = v_end,
            capped = coalesce(v_end = v_cap, false), entered_on = today, hold_until = NULL
        WHERE id = p_id;
        UPDATE youth SET status = 'placed', version = version + 1, updated_at = now() WHERE id = y.id;
    ELSIF action = 'exit' THEN
        v_date := (body->>'date')::date;
        IF v_date < p.start_date OR v_date > today THEN
            PERFORM siaod_field_error(400, '/date', 'out_of_range',
                format('the exit date must be between the entry (%s) and today (%s)', p.start_date, today));
        END IF;
        UPDATE placements SET status = 'ended', actual_end_date = v_date,
            exit_destination = body->>'destination'
        WHERE id = p_id;
        UPDATE youth SET status = CASE WHEN body->>'destination' IN
                ('durable_housing', 'fjt', 'family', 'institution') THEN 'closed' ELSE 'waiting' END,
            version = version + 1, updated_at = now()
        WHERE id = y.id;
    ELSIF action = 'extend' THEN
        v_end := (body->>'planned_end_date')::date;
        IF v_end <= p.planned_end_date OR v_end <= today THEN
            PERFORM siaod_field_error(400, '/planned_end_date', 'out_of_range',
                format('an extension ends after the current planned end (%s) and after today', p.planned_end_date));
        END IF;
        v_cap := placement_cap_end(o, p.start_date);
        PERFORM placement_beyond_cap(v_cap, v_end);
        UPDATE placements SET planned_end_date = v_end, capped = coalesce(v_end = v_cap, false) WHERE id = p_id;
    END IF;
    UPDATE placements SET version = version + 1, updated_at = now() WHERE id = p_id RETURNING * INTO p;
    PERFORM audit_write(actor, 'placement.' || action, 'placement', p_id);
    RETURN placement_json(p);
END $$;

-- Holds past their day become expired. Returns what changed, for the
-- daemon's inventory.
CREATE FUNCTION placements_expire(today date) RETURNS TABLE (placement_id bigint, offer_id bigint, youth_id bigint)
LANGUAGE sql AS $$
    WITH x AS (
        UPDATE placements SET status = 'expired', version = version + 1, updated_at = now()
        WHERE status IN ('proposed', 'accepted') AND hold_until <= today
        RETURNING id, placements.offer_id, placements.youth_id
    ), a AS (
        INSERT INTO audit (role, action, entity, entity_id, outcome, status)
        SELECT 'system', 'placement.expire', 'placement', id, 'ok', 200 FROM x
    )
    SELECT id, x.offer_id, x.youth_id FROM x;
$$;

-- f: {ending_within_days, departement, porteur_id, cursor, limit}; today.
-- As in 004, plus `ref`, the young person's file reference, for an admin
-- and the referents of the young person's département (their own files);
-- never for a porteur, nor for a referent who sees the stay only as the
-- offer's département.
CREATE FUNCTION stay_list(f jsonb, actor jsonb, today date) RETURNS jsonb LANGUAGE sql STABLE AS $$
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
