-- 018: imports from spreadsheets, freshness of capacity, refusals that count.
--  * offers get the porteur's own code (external_ref, unique per porteur) and
--    when their capacity was last confirmed (confirmed_at, and confirmed_on in
--    the daemon's "today" so the test clock moves it);
--  * young people's (departement, ref) is unique among those not erased;
--  * a refusal says who refused (refused_by) and when (answered_at/_on, also
--    set on accept); the reasons are the config's (refusal_reasons), no
--    longer a CHECK;
--  * imports (import_offers, import_youth), confirmation, the reminder scan
--    and the new indicators.

-------------------------------------------------------------- duplicates first
-- An existing duplicate would make the unique index fail with a bare
-- "could not create unique index": name them instead, by id only (a ref is
-- personal enough to stay out of logs), so an operator can merge or erase.
DO $$
DECLARE dups text;
BEGIN
    SELECT string_agg(format('département %s: young people %s', departement, ids), '; ')
    INTO dups FROM (
        SELECT departement, string_agg(id::text, ', ' ORDER BY id) AS ids
        FROM youth WHERE erased_at IS NULL AND ref IS NOT NULL
        GROUP BY departement, ref HAVING count(*) > 1) d;
    IF dups IS NOT NULL THEN
        RAISE EXCEPTION 'migration 018: young people share a ref within a département; give each a distinct ref (PATCH /v1/youth/{id}) or erase the duplicates, then restart: %', dups;
    END IF;
END $$;

ALTER TABLE offers
    ADD COLUMN external_ref text CONSTRAINT ck_offers__external_ref CHECK (length(external_ref) BETWEEN 1 AND 64),
    ADD COLUMN confirmed_at timestamptz,
    ADD COLUMN confirmed_on date;
-- From the last update, without the triggers: nothing changed, so no event
-- and no NOTIFY.
ALTER TABLE offers DISABLE TRIGGER USER;
UPDATE offers SET confirmed_at = updated_at,
                  confirmed_on = (updated_at AT TIME ZONE 'Europe/Paris')::date;
ALTER TABLE offers ENABLE TRIGGER USER;
ALTER TABLE offers ALTER COLUMN confirmed_at SET NOT NULL, ALTER COLUMN confirmed_at SET DEFAULT now(),
                   ALTER COLUMN confirmed_on SET NOT NULL;
CREATE UNIQUE INDEX offers_external_ref_uq ON offers (porteur_id, external_ref)
    WHERE external_ref IS NOT NULL;
CREATE UNIQUE INDEX youth_ref_uq ON youth (departement, ref)
    WHERE erased_at IS NULL AND ref IS NOT NULL;

-- Refusals: the reasons come from the config (the daemon checks them), so a
-- SIAO can add one without a migration; a code stays a short slug.
ALTER TABLE placements DROP CONSTRAINT ck_placements__refusal_reason;
ALTER TABLE placements
    ADD CONSTRAINT ck_placements__refusal_reason CHECK (refusal_reason ~ '^[a-z][a-z0-9_]{0,39}$'),
    ADD COLUMN refused_by text CONSTRAINT ck_placements__refused_by CHECK (refused_by IN ('youth', 'porteur')),
    ADD COLUMN answered_at timestamptz,
    ADD COLUMN answered_on date;
ALTER TABLE placements DISABLE TRIGGER USER;
UPDATE placements SET refused_by = CASE WHEN refusal_reason = 'youth_declined' THEN 'youth' ELSE 'porteur' END
WHERE status = 'refused';
UPDATE placements SET answered_on = accepted_on WHERE accepted_on IS NOT NULL;
ALTER TABLE placements ENABLE TRIGGER USER;
-- the cooldown looks up a young person's own refusals
CREATE INDEX placements_declined_idx ON placements (youth_id, offer_id)
    WHERE status = 'refused' AND refused_by = 'youth';

ALTER TABLE webhooks DROP CONSTRAINT ck_webhooks__event_types;
ALTER TABLE webhooks ADD CONSTRAINT ck_webhooks__event_types CHECK (
    cardinality(event_types) >= 1 AND event_types <@ ARRAY['stay.ending_soon',
    'stay.overdue', 'offer.capacity_available', 'placement.status_changed', 'hold.expired',
    'offer.reconfirm_due']);

-------------------------------------------------------------- offers
-- Every writer confirms, so a written offer is never "à reconfirmer": the
-- flag is computed by the daemon (it knows reconfirm_days) for reads.
CREATE OR REPLACE FUNCTION offer_json(o offers, d date) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', o.id, 'porteur_id', o.porteur_id, 'kind', o.kind,
        'label', o.label, 'commune_insee', o.commune_insee, 'departement', o.departement,
        'lat', o.lat, 'lon', o.lon, 'capacity', o.capacity, 'max_stay_days', o.max_stay_days,
        'min_age', o.min_age, 'max_age', o.max_age, 'gender', o.gender,
        'accepts_couples', o.accepts_couples, 'accepts_children', o.accepts_children,
        'accepts_pets', o.accepts_pets, 'wheelchair_accessible', o.wheelchair_accessible,
        'support_level', o.support_level, 'monthly_charge_eur', o.monthly_charge_eur::float8,
        'available_from', o.available_from, 'available_until', o.available_until,
        'status', o.status, 'version', o.version,
        'free_places', CASE WHEN o.status = 'open' AND d >= o.available_from
                             AND (o.available_until IS NULL OR d <= o.available_until)
                            THEN offer_free_places(o.id, d) ELSE 0 END,
        'free_places_on', d,
        'external_ref', o.external_ref, 'confirmed_at', o.confirmed_at,
        'confirmed_on', o.confirmed_on, 'to_reconfirm', false,
        'created_at', o.created_at, 'updated_at', o.updated_at);
$$;

CREATE OR REPLACE FUNCTION offer_create(body jsonb, actor jsonb, today date, default_max_stay integer)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    c communes;
    o offers;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM porteurs WHERE id = (body->>'porteur_id')::bigint) THEN
        PERFORM siaod_field_error(400, '/porteur_id', 'unknown_value',
            format('porteur %s does not exist', body->>'porteur_id'));
    END IF;
    IF body->>'external_ref' IS NOT NULL AND EXISTS (SELECT 1 FROM offers
            WHERE porteur_id = (body->>'porteur_id')::bigint AND external_ref = body->>'external_ref') THEN
        PERFORM siaod_fail(409, 'conflict', 'this porteur already has an offer with this external_ref',
            jsonb_build_object('errors', jsonb_build_array(jsonb_build_object(
                'pointer', '/external_ref', 'code', 'duplicate', 'detail', 'already used by another offer'))));
    END IF;
    c := offer_locate(body);
    INSERT INTO offers (porteur_id, kind, label, commune_insee, departement, lat, lon,
        capacity, max_stay_days, min_age, max_age, gender, accepts_couples,
        accepts_children, accepts_pets, wheelchair_accessible, support_level,
        monthly_charge_eur, available_from, available_until, status, external_ref,
        confirmed_at, confirmed_on)
    VALUES ((body->>'porteur_id')::bigint, body->>'kind', body->>'label', c.insee,
        coalesce(body->>'departement', c.departement),
        coalesce((body->>'lat')::double precision, c.lat),
        coalesce((body->>'lon')::double precision, c.lon),
        (body->>'capacity')::integer,
        CASE WHEN body ? 'max_stay_days' THEN (body->>'max_stay_days')::integer
             ELSE default_max_stay END,
        coalesce((body->>'min_age')::integer, 16), coalesce((body->>'max_age')::integer, 29),
        coalesce(body->>'gender', 'any'),
        coalesce((body->>'accepts_couples')::boolean, false),
        coalesce((body->>'accepts_children')::boolean, false),
        coalesce((body->>'accepts_pets')::boolean, false),
        coalesce((body->>'wheelchair_accessible')::boolean, false),
        coalesce(body->>'support_level', 'standard'),
        coalesce((body->>'monthly_charge_eur')::numeric, 0),
        coalesce((body->>'available_from')::date, today),
        (body->>'available_until')::date,
        coalesce(body->>'status', 'open'), body->>'external_ref', now(), today)
    RETURNING * INTO o;
    INSERT INTO places (offer_id, number)
    SELECT o.id, n FROM generate_series(1, o.capacity) AS n;
    PERFORM offer_capacity_note(o, today);
    PERFORM audit_write(actor, 'offer.create', 'offer', o.id, 'ok', 201);
    RETURN offer_json(o, today);
END $$;

CREATE OR REPLACE FUNCTION offer_patch(p_id bigint, patch jsonb, if_match integer, actor jsonb, today date)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    o offers;
    n offers;
    c communes;
BEGIN
    SELECT * INTO o FROM offers WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM siaod_fail(404, 'not-found', format('offer %s does not exist', p_id));
    END IF;
    PERFORM offer_check_owner(o, actor);
    IF if_match IS NOT NULL AND if_match <> o.version THEN
        PERFORM siaod_fail(412, 'precondition-failed',
            format('the offer is at version %s, not %s', o.version, if_match));
    END IF;
    n := jsonb_populate_record(o, patch);
    IF n.external_ref IS DISTINCT FROM o.external_ref AND n.external_ref IS NOT NULL AND EXISTS (
            SELECT 1 FROM offers WHERE porteur_id = o.porteur_id AND external_ref = n.external_ref) THEN
        PERFORM siaod_fail(409, 'conflict', 'this porteur already has an offer with this external_ref',
            jsonb_build_object('errors', jsonb_build_array(jsonb_build_object(
                'pointer', '/external_ref', 'code', 'duplicate', 'detail', 'already used by another offer'))));
    END IF;
    IF patch ? 'commune_insee' THEN
        c := offer_locate(patch);
        n.departement := coalesce(patch->>'departement', c.departement);
        n.lat := coalesce((patch->>'lat')::double precision, c.lat);
        n.lon := coalesce((patch->>'lon')::double precision, c.lon);
    END IF;
    IF n.capacity <> o.capacity THEN
        PERFORM offer_set_capacity(p_id, n.capacity, today);
    END IF;
    UPDATE offers SET kind = n.kind, label = n.label, commune_insee = n.commune_insee,
        departement = n.departement, lat = n.lat, lon = n.lon, capacity = n.capacity,
        max_stay_days = n.max_stay_days,
        min_age = coalesce(n.min_age, 16), max_age = coalesce(n.max_age, 29),
        gender = coalesce(n.gender, 'any'),
        accepts_couples = coalesce(n.accepts_couples, false),
        accepts_children = coalesce(n.accepts_children, false),
        accepts_pets = coalesce(n.accepts_pets, false),
        wheelchair_accessible = coalesce(n.wheelchair_accessible, false),
        support_level = coalesce(n.support_level, 'standard'),
        monthly_charge_eur = coalesce(n.monthly_charge_eur, 0),
        available_from = coalesce(n.available_from, today),
        available_until = n.available_until, status = coalesce(n.status, 'open'),
        external_ref = n.external_ref, confirmed_at = now(), confirmed_on = today,
        version = version + 1, updated_at = now()
    WHERE id = p_id RETURNING * INTO o;
    PERFORM offer_capacity_note(o, today);
    PERFORM audit_write(actor, 'offer.patch', 'offer', p_id);
    RETURN offer_json(o, today);
END $$;

CREATE OR REPLACE FUNCTION offer_close(p_id bigint, actor jsonb, today date) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE o offers;
BEGIN
    SELECT * INTO o FROM offers WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM siaod_fail(404, 'not-found', format('offer %s does not exist', p_id));
    END IF;
    PERFORM offer_check_owner(o, actor);
    UPDATE offers SET status = 'closed', version = version + 1, updated_at = now(),
        confirmed_at = now(), confirmed_on = today
    WHERE id = p_id RETURNING * INTO o;
    PERFORM offer_capacity_note(o, today);
    PERFORM audit_write(actor, 'offer.close', 'offer', p_id);
    RETURN offer_json(o, today);
END $$;

-- "Toujours à jour": the porteur says the offer is as it stands. Not a new
-- version and no event: nothing changed but the date it was confirmed.
CREATE FUNCTION offer_confirm(p_id bigint, actor jsonb, today date) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE o offers;
BEGIN
    SELECT * INTO o FROM offers WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM siaod_fail(404, 'not-found', format('offer %s does not exist', p_id));
    END IF;
    PERFORM offer_check_owner(o, actor);
    UPDATE offers SET confirmed_at = now(), confirmed_on = today WHERE id = p_id RETURNING * INTO o;
    PERFORM audit_write(actor, 'offer.confirm', 'offer', p_id);
    RETURN offer_json(o, today);
END $$;

-- The reminder: one offer.reconfirm_due event per offer and confirmation,
-- once the offer is reconfirm_days old (the porteur's webhooks and, later,
-- its e-mail notifications come from this event).
CREATE FUNCTION offers_reconfirm_scan(today date, days integer) RETURNS integer
LANGUAGE sql AS $$
    SELECT count(outbox_emit('offer.reconfirm_due',
               format('offer.reconfirm_due:offer:%s:%s', o.id, o.confirmed_on),
               jsonb_build_object('offer_id', o.id, 'porteur_id', o.porteur_id,
                   'confirmed_on', o.confirmed_on, 'reconfirm_by', o.confirmed_on + 2 * days),
               ARRAY[o.departement], o.porteur_id))::integer
    FROM offers o
    WHERE o.status = 'open' AND o.confirmed_on + days < today
      AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.dedup_key =
                      format('offer.reconfirm_due:offer:%s:%s', o.id, o.confirmed_on));
$$;

DROP FUNCTION inv_offers(bigint[]);
CREATE FUNCTION inv_offers(ids bigint[]) RETURNS TABLE (
    id bigint, porteur_id bigint, kind text, departement text, lat float8, lon float8,
    capacity integer, max_stay_days integer, min_age integer, max_age integer, gender text,
    accepts_couples boolean, accepts_children boolean, accepts_pets boolean,
    wheelchair_accessible boolean, support_level text, monthly_charge_eur float8,
    available_from integer, available_until integer, status text, label text,
    commune_insee text, version integer, created_at text, updated_at text,
    external_ref text, confirmed_at text, confirmed_on integer)
LANGUAGE sql STABLE AS $$
    SELECT id, porteur_id, kind, departement, lat, lon, capacity, coalesce(max_stay_days, 0),
        min_age, max_age, gender, accepts_couples, accepts_children, accepts_pets,
        wheelchair_accessible, support_level, monthly_charge_eur::float8,
        available_from - date '1970-01-01', available_until - date '1970-01-01', status, label,
        commune_insee, version, to_jsonb(created_at) #>> '{}', to_jsonb(updated_at) #>> '{}',
        external_ref, to_jsonb(confirmed_at) #>> '{}', confirmed_on - date '1970-01-01'
    FROM offers WHERE ids IS NULL OR id = ANY(ids) ORDER BY id;
$$;

-- Young people with the offers they declined themselves, and when (the
-- latest refusal per offer): the matcher's declined_recently rule.
DROP FUNCTION inv_youth(bigint[]);
CREATE FUNCTION inv_youth(ids bigint[]) RETURNS TABLE (
    id bigint, departement text, birth_date integer, rqth boolean, gender text,
    household text, has_pets boolean, needs text[], situation text,
    institution_exit_date integer, lat float8, lon float8, max_distance_km integer,
    monthly_income_eur float8, support_need text, wanted_from integer, wanted_months integer,
    registered_at integer, status text, open_placement boolean,
    declined_offers bigint[], declined_on integer[])
LANGUAGE sql STABLE AS $$
    SELECT y.id, y.departement, y.birth_date - date '1970-01-01', y.rqth, y.gender, y.household,
        y.has_pets, y.needs, y.situation, y.institution_exit_date - date '1970-01-01',
        c.lat, c.lon, y.max_distance_km, y.monthly_income_eur::float8, y.support_need,
        y.wanted_from - date '1970-01-01', y.wanted_months, y.registered_at - date '1970-01-01',
        y.status, EXISTS (SELECT 1 FROM placements p WHERE p.youth_id = y.id
                          AND p.status IN ('proposed', 'accepted', 'active')),
        d.offers, d.days
    FROM youth y LEFT JOIN communes c ON c.insee = y.commune_insee
    LEFT JOIN LATERAL (
        SELECT array_agg(offer_id ORDER BY offer_id) AS offers,
               array_agg(day - date '1970-01-01' ORDER BY offer_id) AS days
        FROM (SELECT p.offer_id, max(p.answered_on) AS day FROM placements p
              WHERE p.youth_id = y.id AND p.status = 'refused' AND p.refused_by = 'youth'
                AND p.answered_on IS NOT NULL
              GROUP BY p.offer_id) x) d ON true
    WHERE y.erased_at IS NULL AND (ids IS NULL OR y.id = ANY(ids)) ORDER BY y.id;
$$;

-------------------------------------------------------------- refusals
-- A placement shows who refused and when it was answered.
CREATE OR REPLACE FUNCTION placement_json(p placements) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', p.id, 'youth_id', p.youth_id, 'offer_id', p.offer_id,
        'offer_label', o.label, 'porteur_id', o.porteur_id, 'departement', o.departement,
        'youth_departement', y.departement, 'place_id', p.place_id, 'place_number', pl.number,
        'status', p.status, 'start_date', p.start_date, 'planned_end_date', p.planned_end_date,
        'actual_end_date', p.actual_end_date, 'exit_destination', p.exit_destination,
        'refusal_reason', p.refusal_reason, 'refused_by', p.refused_by,
        'answered_at', p.answered_at,
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

-- As in 004, with: accept and refuse record answered_at/_on; refuse records
-- refused_by (body.by, default the side of the caller); the young person's
-- referent may refuse on the young person's behalf (by: youth).
CREATE OR REPLACE FUNCTION placement_transition(p_id bigint, action text, body jsonb, actor jsonb,
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

-------------------------------------------------------------- indicators
-- What issue 16 adds per porteur, merged into report_porteur's object:
--   refusals_by_side      {youth: {reason: n}, porteur: {reason: n}}: the
--                         proposals of [from, to] refused, by side and reason;
--   median_hours_to_answer  median of answered_at - created_at (hours, 2
--                         decimals) over the proposals of [from, to] answered;
--   offers_open           open offers now;
--   offers_confirmed_in_time  of those, confirmed within reconfirm_days of
--                         today (today - confirmed_on <= reconfirm_days);
--   confirmed_in_time_share   the ratio (4 decimals), null without open offers.
CREATE FUNCTION report_porteur_answers(p porteurs, p_from date, p_to date, today date,
                                       reconfirm_days integer) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    WITH proposed AS (
        SELECT x.* FROM placements x JOIN offers o ON o.id = x.offer_id
        WHERE o.porteur_id = p.id AND x.created_on BETWEEN p_from AND p_to
    ), fresh AS (
        SELECT count(*) AS open,
               count(*) FILTER (WHERE today - confirmed_on <= reconfirm_days) AS in_time
        FROM offers WHERE porteur_id = p.id AND status = 'open'
    )
    SELECT jsonb_build_object(
        'refusals_by_side', (SELECT jsonb_build_object(
              'youth', coalesce(jsonb_object_agg(refusal_reason, n) FILTER (WHERE refused_by = 'youth'), '{}'),
              'porteur', coalesce(jsonb_object_agg(refusal_reason, n) FILTER (WHERE refused_by = 'porteur'), '{}'))
            FROM (SELECT refused_by, refusal_reason, count(*) AS n FROM proposed
                  WHERE status = 'refused' AND refused_by IS NOT NULL
                  GROUP BY refused_by, refusal_reason) r),
        'median_hours_to_answer', (SELECT round((percentile_cont(0.5) WITHIN GROUP (
                  ORDER BY extract(epoch FROM answered_at - created_at) / 3600))::numeric, 2)
            FROM proposed WHERE answered_at IS NOT NULL),
        'offers_open', (SELECT open FROM fresh),
        'offers_confirmed_in_time', (SELECT in_time FROM fresh),
        'confirmed_in_time_share', (SELECT round(in_time::numeric / nullif(open, 0), 4) FROM fresh));
$$;

CREATE OR REPLACE FUNCTION report_indicators(f jsonb, actor jsonb) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'from', (f->>'from')::date, 'to', (f->>'to')::date,
        'departement', f->>'departement', 'porteur_id', (f->>'porteur_id')::bigint,
        'items', coalesce(jsonb_agg(report_porteur(p, (f->>'from')::date, (f->>'to')::date)
                   || report_porteur_answers(p, (f->>'from')::date, (f->>'to')::date,
                          coalesce((f->>'today')::date, (f->>'to')::date),
                          coalesce((f->>'reconfirm_days')::integer, 30))
                   ORDER BY p.id), '[]'))
    FROM porteurs p
    WHERE (f->>'departement' IS NULL OR p.departement = f->>'departement')
      AND (f->>'porteur_id' IS NULL OR p.id = (f->>'porteur_id')::bigint)
      AND CASE actor->>'role'
            WHEN 'admin' THEN true
            WHEN 'porteur' THEN p.id = (actor->>'porteur_id')::bigint
            WHEN 'referent' THEN (actor->'departements') ? p.departement
            ELSE false END;
$$;

-------------------------------------------------------------- imports
-- The daemon parses the CSV (libcsv) and types each cell; these functions
-- check what needs the database, say what each row would do, and — when
-- asked to apply a file without errors — do it, in the caller's one
-- transaction: all or nothing.
--
-- p_rows: [{row, errors, key: value...}] (json: read once, by
-- json_to_recordset); p_meta: {errors: [...] of the file, headers: {key:
-- French header}}. The answer: {kind, applied, summary: {create, update,
-- unchanged, error}, rows: [{row, outcome, id}], errors: [{row, column,
-- pointer, code, detail}], offer_ids | youth_ids (what changed)}.
-- Outcomes: create, update, unchanged (an identical row: offers are only
-- reconfirmed), error.

CREATE FUNCTION import_error(headers jsonb, row_no integer, key text, code text, detail text)
RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object('row', row_no, 'column', coalesce(headers->>key, key),
        'pointer', format('/rows/%s/%s', row_no, key), 'code', code, 'detail', detail);
$$;

-- A commune by INSEE code, or by name (folded), narrowed by a département
-- when several share the name. Returns the code, or NULL with *why set.
CREATE FUNCTION import_commune(q text, dep text, OUT insee text, OUT why text)
LANGUAGE plpgsql STABLE AS $$
DECLARE hits text[];
BEGIN
    IF q IS NULL THEN
        RETURN;
    END IF;
    SELECT c.insee INTO insee FROM communes c WHERE c.insee = upper(q);
    IF FOUND THEN
        RETURN;
    END IF;
    hits := ARRAY(SELECT c.insee FROM communes c WHERE fold_name(c.name) = fold_name(q) ORDER BY c.insee);
    IF cardinality(hits) > 1 AND dep IS NOT NULL THEN
        hits := ARRAY(SELECT c.insee FROM communes c WHERE c.insee = ANY (hits) AND c.departement = dep);
    END IF;
    IF cardinality(hits) = 1 THEN
        insee := hits[1];
    ELSIF cardinality(hits) = 0 THEN
        why := 'unknown_value';
    ELSE
        why := 'ambiguous';
    END IF;
END $$;

-- One pass, set-based: the rows come typed (json_to_recordset), and every
-- check is a column of one SELECT (communes, scope and existing offers by
-- joins), so 10,000 rows cost a few joins, not 10,000 statements.
CREATE FUNCTION import_offers(p_rows json, p_meta jsonb, p_apply boolean, actor jsonb, today date, caps jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    h jsonb := p_meta->'headers';
    own bigint := CASE WHEN actor->>'role' = 'porteur' THEN (actor->>'porteur_id')::bigint END;
    r record;
    body jsonb;
    report jsonb;
    changed bigint[] := '{}';
    created bigint[];
BEGIN
    IF actor->>'role' NOT IN ('admin', 'porteur') THEN
        PERFORM siaod_fail(403, 'forbidden', 'only a porteur (or an admin) imports offers');
    END IF;
    -- typed rows first, with statistics: the planner then joins 10,000 rows
    -- by hashing, where it would probe an index per row for the 100 rows a
    -- set-returning function is assumed to give
    CREATE TEMP TABLE raw ON COMMIT DROP AS
    SELECT * FROM json_to_recordset(p_rows) AS t(
        "row" integer, id bigint, external_ref text, porteur_id bigint, kind text, label text,
        commune text, departement text, capacity integer, max_stay_days integer,
        min_age integer, max_age integer, gender text, accepts_couples boolean,
        accepts_children boolean, accepts_pets boolean, wheelchair_accessible boolean,
        support_level text, monthly_charge_eur numeric, available_from date,
        available_until date, status text, errors jsonb);
    ANALYZE raw;
    CREATE TEMP TABLE imp ON COMMIT DROP AS
    SELECT q.*, CASE WHEN jsonb_array_length(q.errors) > 0 THEN 'error' WHEN q.offer_id IS NULL THEN 'create'
                     WHEN q.same_as_offer THEN 'unchanged' ELSE 'update' END AS outcome
    FROM (
    WITH x AS (SELECT * FROM raw), y AS (
        -- who: the porteur's own; an admin's column; or the offer the id names
        SELECT x.*, byid.id AS id_found, byid.porteur_id AS id_porteur,
               coalesce(x.porteur_id, own, byid.porteur_id) AS pid,
               coalesce(ci.insee, cn.insee) AS insee,
               CASE WHEN x.commune IS NULL OR ci.insee IS NOT NULL OR cn.insee IS NOT NULL THEN NULL
                    WHEN cn.n = 0 THEN 'unknown_value' ELSE 'ambiguous' END AS commune_why
        FROM x
        LEFT JOIN offers byid ON byid.id = x.id
        LEFT JOIN communes ci ON ci.insee = upper(x.commune)
        LEFT JOIN LATERAL (
            SELECT count(*) AS n,
                   CASE WHEN count(*) = 1 THEN min(c.insee)
                        WHEN count(*) FILTER (WHERE c.departement = x.departement) = 1
                        THEN min(c.insee) FILTER (WHERE c.departement = x.departement) END AS insee
            FROM communes c WHERE ci.insee IS NULL AND x.commune IS NOT NULL
              AND fold_name(c.name) = fold_name(x.commune)) cn ON true
    ), z AS (
        SELECT y.*, coalesce(y.id_found, byref.id) AS offer_id, pp.id IS NOT NULL AS pid_ok,
               byref.id IS NOT NULL AND y.id IS NOT NULL AND byref.id <> y.id_found AS ref_taken,
               count(*) OVER (PARTITION BY coalesce('id:' || coalesce(y.id_found, byref.id),
                                                    'ref:' || y.pid || ':' || y.external_ref)) AS same,
               min(y."row") OVER (PARTITION BY coalesce('id:' || coalesce(y.id_found, byref.id),
                                                        'ref:' || y.pid || ':' || y.external_ref)) AS first_row
        FROM y LEFT JOIN offers byref ON byref.porteur_id = y.pid AND byref.external_ref = y.external_ref
        LEFT JOIN porteurs pp ON pp.id = y.pid
    ), w AS (
        -- whether any check below fails: the list of errors is built only then
        SELECT z.*, (own IS NOT NULL AND z.porteur_id <> own) OR (z.id IS NOT NULL AND z.id_found IS NULL)
            OR (z.id_found IS NOT NULL AND z.pid <> z.id_porteur) OR z.pid IS NULL
            OR (z.pid IS NOT NULL AND NOT z.pid_ok) OR (z.id IS NULL AND z.external_ref IS NULL)
            OR z.ref_taken OR (z.same > 1 AND z.first_row <> z."row")
            OR z.commune_why IS NOT NULL OR z.min_age > coalesce(z.max_age, 29)
            OR z.available_until < coalesce(z.available_from, '-infinity')
            OR (z.available_until IS NOT NULL AND z.available_from IS NULL)
            OR (z.kind = 'shared_flat' AND coalesce(z.max_stay_days, (caps->>'shared_flat')::integer, 91) > 90)
            AS suspect
        FROM z
    )
    SELECT z."row" AS row_no, z.offer_id, z.pid AS porteur_id, z.insee, z.kind, z.label,
        coalesce(z.departement, cm.departement) AS departement, z.capacity,
        coalesce(z.max_stay_days, (caps->>z.kind)::integer) AS max_stay_days,
        coalesce(z.min_age, 16) AS min_age, coalesce(z.max_age, 29) AS max_age,
        coalesce(z.gender, 'any') AS gender, coalesce(z.accepts_couples, false) AS accepts_couples,
        coalesce(z.accepts_children, false) AS accepts_children,
        coalesce(z.accepts_pets, false) AS accepts_pets,
        coalesce(z.wheelchair_accessible, false) AS wheelchair_accessible,
        coalesce(z.support_level, 'standard') AS support_level,
        coalesce(z.monthly_charge_eur, 0) AS monthly_charge_eur,
        coalesce(z.available_from, o.available_from, today) AS available_from,
        z.available_until, coalesce(z.status, 'open') AS status,
        coalesce(z.external_ref, o.external_ref) AS external_ref,
        coalesce(z.errors, '[]') || CASE WHEN NOT z.suspect THEN '[]' ELSE coalesce((SELECT jsonb_agg(e) FROM (VALUES
            (CASE WHEN own IS NOT NULL AND z.porteur_id <> own THEN import_error(h, z."row", 'porteur_id',
                 'forbidden', 'un porteur importe ses propres offres seulement') END),
            (CASE WHEN z.id IS NOT NULL AND z.id_found IS NULL THEN import_error(h, z."row", 'id',
                 'unknown_value', 'aucune offre n''a cet identifiant') END),
            (CASE WHEN z.id_found IS NOT NULL AND z.pid <> z.id_porteur THEN import_error(h, z."row", 'id',
                 'forbidden', 'cette offre appartient à un autre porteur') END),
            (CASE WHEN z.pid IS NULL AND z.id IS NULL THEN import_error(h, z."row", 'porteur_id',
                 'required', 'le porteur est obligatoire pour un administrateur') END),
            (CASE WHEN z.pid IS NOT NULL AND NOT z.pid_ok
                 THEN import_error(h, z."row", 'porteur_id', 'unknown_value', 'porteur inconnu') END),
            (CASE WHEN z.id IS NULL AND z.external_ref IS NULL THEN import_error(h, z."row", 'external_ref',
                 'required', 'un code offre (ou l''identifiant siaod) est obligatoire') END),
            (CASE WHEN z.ref_taken THEN import_error(h, z."row", 'external_ref', 'duplicate',
                 'une autre offre de ce porteur a déjà ce code') END),
            (CASE WHEN z.same > 1 AND z.first_row <> z."row" AND (z.offer_id IS NOT NULL OR z.external_ref IS NOT NULL)
                 THEN import_error(h, z."row", CASE WHEN z.id IS NOT NULL THEN 'id' ELSE 'external_ref' END,
                 'duplicate', format('la même offre est déjà à la ligne %s', z.first_row)) END),
            (CASE WHEN z.commune_why IS NOT NULL THEN import_error(h, z."row", 'commune', z.commune_why,
                 CASE z.commune_why WHEN 'ambiguous'
                      THEN 'plusieurs communes ont ce nom : précisez le département ou le code INSEE'
                      ELSE 'commune inconnue (nom ou code INSEE)' END) END),
            (CASE WHEN z.min_age > coalesce(z.max_age, 29) THEN import_error(h, z."row", 'max_age',
                 'out_of_range', 'l''âge maximum est au moins l''âge minimum') END),
            (CASE WHEN z.available_until < coalesce(z.available_from, o.available_from, today)
                 THEN import_error(h, z."row", 'available_until', 'out_of_range',
                 'la fin de disponibilité suit son début') END),
            (CASE WHEN z.kind = 'shared_flat' AND coalesce(z.max_stay_days, (caps->>'shared_flat')::integer, 91) > 90
                 THEN import_error(h, z."row", 'max_stay_days', 'out_of_range',
                 'une colocation limite les séjours à 90 jours') END)
        ) v(e) WHERE e IS NOT NULL), '[]') END AS errors,
        -- unchanged: every column equals the offer's, blank cells meaning
        -- the defaults as on creation (a blank start keeps the offer's)
        o.id IS NOT NULL AND o.kind = z.kind AND o.label = z.label AND o.commune_insee = z.insee
            AND o.departement = coalesce(z.departement, cm.departement) AND o.capacity = z.capacity
            AND o.max_stay_days IS NOT DISTINCT FROM coalesce(z.max_stay_days, (caps->>z.kind)::integer)
            AND o.min_age = coalesce(z.min_age, 16) AND o.max_age = coalesce(z.max_age, 29)
            AND o.gender = coalesce(z.gender, 'any')
            AND o.accepts_couples = coalesce(z.accepts_couples, false)
            AND o.accepts_children = coalesce(z.accepts_children, false)
            AND o.accepts_pets = coalesce(z.accepts_pets, false)
            AND o.wheelchair_accessible = coalesce(z.wheelchair_accessible, false)
            AND o.support_level = coalesce(z.support_level, 'standard')
            AND o.monthly_charge_eur = round(coalesce(z.monthly_charge_eur, 0), 2)
            AND o.available_from = coalesce(z.available_from, o.available_from)
            AND o.available_until IS NOT DISTINCT FROM z.available_until
            AND o.status = coalesce(z.status, 'open')
            AND o.external_ref IS NOT DISTINCT FROM coalesce(z.external_ref, o.external_ref) AS same_as_offer
    FROM w AS z LEFT JOIN offers o ON o.id = z.offer_id
    LEFT JOIN communes cm ON cm.insee = z.insee
    ) q;

    report := jsonb_build_object('kind', 'offers',
        'summary', (SELECT jsonb_build_object(
            'create', count(*) FILTER (WHERE outcome = 'create'),
            'update', count(*) FILTER (WHERE outcome = 'update'),
            'unchanged', count(*) FILTER (WHERE outcome = 'unchanged'),
            'error', count(*) FILTER (WHERE outcome = 'error'),
            'rows', count(*)) FROM imp),
        'rows', (SELECT coalesce(jsonb_agg(jsonb_build_object('row', row_no, 'outcome', outcome, 'id', offer_id)
                 ORDER BY row_no), '[]') FROM imp),
        'errors', coalesce(p_meta->'errors', '[]') || (SELECT coalesce(jsonb_agg(e ORDER BY row_no), '[]')
                 FROM imp, jsonb_array_elements(errors) e WHERE outcome = 'error'));
    IF NOT p_apply OR jsonb_array_length(report->'errors') > 0
       OR NOT EXISTS (SELECT 1 FROM imp) THEN
        DROP TABLE imp;
        DROP TABLE raw;
        RETURN report || jsonb_build_object('applied', false);
    END IF;

    -- Creations in bulk, with their places, capacity history and audit (as
    -- offer_create does one by one); the offers' triggers emit the events.
    WITH ins AS (
        INSERT INTO offers (porteur_id, kind, label, commune_insee, departement, lat, lon,
            capacity, max_stay_days, min_age, max_age, gender, accepts_couples,
            accepts_children, accepts_pets, wheelchair_accessible, support_level,
            monthly_charge_eur, available_from, available_until, status, external_ref,
            confirmed_at, confirmed_on)
        SELECT i.porteur_id, i.kind, i.label, i.insee, i.departement, c.lat, c.lon, i.capacity,
            i.max_stay_days, i.min_age, i.max_age, i.gender, i.accepts_couples, i.accepts_children,
            i.accepts_pets, i.wheelchair_accessible, i.support_level, i.monthly_charge_eur,
            i.available_from, i.available_until, i.status, i.external_ref, now(), today
        FROM imp i JOIN communes c ON c.insee = i.insee
        WHERE i.outcome = 'create' ORDER BY i.row_no
        RETURNING *
    ), pl AS (
        INSERT INTO places (offer_id, number) SELECT ins.id, n FROM ins, generate_series(1, ins.capacity) n
    ), hist AS (
        INSERT INTO offer_capacity_history (offer_id, from_day, capacity, open)
        SELECT ins.id, today, ins.capacity, ins.status = 'open' FROM ins
    ), aud AS (
        INSERT INTO audit (token_id, role, action, entity, entity_id, outcome, status, request_id)
        SELECT (actor->>'token_id')::bigint, actor->>'role', 'offer.create', 'offer', ins.id, 'ok', 201,
               actor->>'request_id' FROM ins
    )
    SELECT array_agg(id) INTO created FROM ins;
    UPDATE imp SET offer_id = o.id FROM offers o
    WHERE imp.outcome = 'create' AND o.porteur_id = imp.porteur_id AND o.external_ref = imp.external_ref;
    changed := coalesce(created, '{}');
    -- identical rows: only reconfirmed, no new version, no event
    UPDATE offers o SET confirmed_at = now(), confirmed_on = today
    FROM imp WHERE imp.outcome = 'unchanged' AND o.id = imp.offer_id;
    changed := changed || ARRAY(SELECT offer_id FROM imp WHERE outcome = 'unchanged');
    -- updates one by one, through offer_patch (capacity below occupancy...)
    FOR r IN SELECT * FROM imp WHERE outcome = 'update' ORDER BY row_no LOOP
        body := jsonb_build_object('kind', r.kind, 'label', r.label, 'commune_insee', r.insee,
            'departement', r.departement, 'lat', NULL, 'lon', NULL, 'capacity', r.capacity,
            'max_stay_days', r.max_stay_days, 'min_age', r.min_age, 'max_age', r.max_age,
            'gender', r.gender, 'accepts_couples', r.accepts_couples,
            'accepts_children', r.accepts_children, 'accepts_pets', r.accepts_pets,
            'wheelchair_accessible', r.wheelchair_accessible, 'support_level', r.support_level,
            'monthly_charge_eur', r.monthly_charge_eur, 'available_from', r.available_from,
            'available_until', r.available_until, 'status', r.status, 'external_ref', r.external_ref);
        PERFORM offer_patch(r.offer_id, body, NULL, actor, today);
        changed := changed || r.offer_id;
    END LOOP;
    PERFORM audit_write(actor, 'import.offers', 'import', NULL);
    report := report || jsonb_build_object('applied', true, 'offer_ids', to_jsonb(changed),
        'rows', (SELECT jsonb_agg(jsonb_build_object('row', row_no, 'outcome', outcome, 'id', offer_id)
                 ORDER BY row_no) FROM imp));
    DROP TABLE imp;
    DROP TABLE raw;
    RETURN report;
END $$;

-- The waiting list: a row is a young person by (département, ref) among
-- those not erased; a referent imports only its départements' young people.
CREATE FUNCTION import_youth(p_rows json, p_meta jsonb, p_apply boolean, actor jsonb, today date, caps jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    h jsonb := p_meta->'headers';
    r record;
    body jsonb;
    report jsonb;
    changed bigint[] := '{}';
    v_id bigint;
BEGIN
    IF actor->>'role' NOT IN ('admin', 'referent') THEN
        PERFORM siaod_fail(403, 'forbidden', 'only a referent (or an admin) imports young people');
    END IF;
    CREATE TEMP TABLE imp ON COMMIT DROP AS
    SELECT (e->>'row')::integer AS row_no,
           jsonb_strip_nulls(e - 'row' - 'errors') AS v,
           coalesce(e->'errors', '[]'::jsonb) AS errors,
           NULL::text AS insee, NULL::bigint AS youth_id, NULL::text AS outcome
    FROM jsonb_array_elements(p_rows::jsonb) e;
    -- the row number joins every step below: without a key and statistics
    -- the planner may pair each row with every other one
    ALTER TABLE imp ADD PRIMARY KEY (row_no);
    ANALYZE imp;

    UPDATE imp SET errors = errors || import_error(h, row_no, 'departement', 'forbidden',
                       'ce département n''est pas dans votre périmètre')
    WHERE actor->>'role' = 'referent' AND v ? 'departement'
      AND NOT (actor->'departements') ? (v->>'departement');
    UPDATE imp SET youth_id = y.id FROM youth y
    WHERE y.erased_at IS NULL AND y.departement = imp.v->>'departement' AND y.ref = imp.v->>'ref';
    UPDATE imp SET errors = errors || import_error(h, imp.row_no, 'ref', 'duplicate',
                       format('la même référence est déjà à la ligne %s', d.first_row))
    FROM (SELECT row_no, min(row_no) OVER (PARTITION BY v->>'departement', v->>'ref') AS first_row
          FROM imp WHERE v ? 'ref' AND v ? 'departement') d
    WHERE d.row_no = imp.row_no AND d.first_row <> imp.row_no;
    UPDATE imp SET insee = c.insee,
                   errors = errors || CASE WHEN c.why IS NOT NULL THEN jsonb_build_array(import_error(h, row_no,
                       'commune', c.why, CASE c.why WHEN 'ambiguous'
                           THEN 'plusieurs communes ont ce nom, y compris dans ce département : donnez le code INSEE'
                           ELSE 'commune inconnue (nom ou code INSEE)' END)) ELSE '[]' END
    FROM (SELECT i.row_no AS rn, x.insee, x.why FROM imp i,
                 LATERAL import_commune(i.v->>'commune', i.v->>'departement') x) c
    WHERE c.rn = imp.row_no;
    -- the dates youth_check_dates refuses
    UPDATE imp SET errors = errors || import_error(h, row_no, 'birth_date', 'out_of_range',
                       'la date de naissance est passée, et de moins de 40 ans')
    WHERE (v->>'birth_date')::date > today OR (v->>'birth_date')::date < today - interval '40 years';
    UPDATE imp SET errors = errors || import_error(h, row_no, 'registered_at', 'out_of_range',
                       'la date d''inscription n''est jamais dans le futur')
    WHERE (v->>'registered_at')::date > today;

    UPDATE imp SET outcome = CASE
        WHEN jsonb_array_length(errors) > 0 THEN 'error'
        WHEN youth_id IS NULL THEN 'create'
        WHEN EXISTS (SELECT 1 FROM youth y WHERE y.id = imp.youth_id
              AND y.birth_date = (v->>'birth_date')::date
              AND y.rqth = coalesce((v->>'rqth')::boolean, false)
              AND y.gender = v->>'gender'
              AND y.household = coalesce(v->>'household', 'alone')
              AND y.has_pets = coalesce((v->>'has_pets')::boolean, false)
              AND y.needs = coalesce(ARRAY(SELECT jsonb_array_elements_text(v->'needs')), '{}')
              AND y.situation = v->>'situation'
              AND y.institution_exit_date IS NOT DISTINCT FROM (v->>'institution_exit_date')::date
              AND y.commune_insee IS NOT DISTINCT FROM imp.insee
              AND y.max_distance_km IS NOT DISTINCT FROM (v->>'max_distance_km')::integer
              AND y.monthly_income_eur = round(coalesce((v->>'monthly_income_eur')::numeric, 0), 2)
              AND y.support_need = coalesce(v->>'support_need', 'standard')
              AND y.wanted_from = coalesce((v->>'wanted_from')::date, y.wanted_from)
              AND y.wanted_months = coalesce((v->>'wanted_months')::integer, 6))
            THEN 'unchanged'
        ELSE 'update' END;

    report := jsonb_build_object('kind', 'youth',
        'summary', (SELECT jsonb_build_object(
            'create', count(*) FILTER (WHERE outcome = 'create'),
            'update', count(*) FILTER (WHERE outcome = 'update'),
            'unchanged', count(*) FILTER (WHERE outcome = 'unchanged'),
            'error', count(*) FILTER (WHERE outcome = 'error'),
            'rows', count(*)) FROM imp),
        'rows', (SELECT coalesce(jsonb_agg(jsonb_build_object('row', row_no, 'outcome', outcome, 'id', youth_id)
                 ORDER BY row_no), '[]') FROM imp),
        'errors', coalesce(p_meta->'errors', '[]') || (SELECT coalesce(jsonb_agg(e ORDER BY row_no), '[]')
                 FROM imp, jsonb_array_elements(errors) e));
    IF NOT p_apply OR jsonb_array_length(report->'errors') > 0
       OR NOT EXISTS (SELECT 1 FROM imp) THEN
        DROP TABLE imp;
        RETURN report || jsonb_build_object('applied', false);
    END IF;

    FOR r IN SELECT * FROM imp WHERE outcome <> 'unchanged' ORDER BY row_no LOOP
        body := (r.v - 'commune') || jsonb_build_object('commune_insee', r.insee);
        IF r.outcome = 'create' THEN
            v_id := (youth_create(body, actor, today)->>'id')::bigint;
        ELSE
            body := jsonb_build_object('rqth', false, 'household', 'alone', 'has_pets', false,
                        'needs', '[]'::jsonb, 'institution_exit_date', NULL, 'max_distance_km', NULL,
                        'monthly_income_eur', 0, 'support_need', 'standard', 'wanted_months', 6)
                    || (body - 'registered_at');
            IF NOT body ? 'wanted_from' THEN
                body := body || jsonb_build_object('wanted_from',
                            (SELECT wanted_from FROM youth WHERE id = r.youth_id));
            END IF;
            PERFORM youth_patch(r.youth_id, body, NULL, actor, today);
            v_id := r.youth_id;
        END IF;
        changed := changed || v_id;
        UPDATE imp SET youth_id = v_id WHERE row_no = r.row_no;
    END LOOP;
    PERFORM audit_write(actor, 'import.youth', 'import', NULL);
    report := report || jsonb_build_object('applied', true, 'youth_ids', to_jsonb(changed),
        'rows', (SELECT jsonb_agg(jsonb_build_object('row', row_no, 'outcome', outcome, 'id', youth_id)
                 ORDER BY row_no) FROM imp));
    DROP TABLE imp;
    RETURN report;
END $$;
