-- 002 inventory API: the PL/pgSQL functions behind porteurs, offers, tokens and
-- the audit log. Each write is one function call: one round trip, one
-- transaction, its audit row included.
--
-- Conventions shared with the daemon (daemon/api.c):
--   * `actor` is a jsonb {token_id, role, porteur_id, departements, request_id}
--     built by the daemon from the authenticated token;
--   * `today` is a parameter, never CURRENT_DATE, so tests can move the clock;
--   * siaod_fail() raises SQLSTATE 'SI' || http status with MESSAGE = problem
--     slug, DETAIL = human text and HINT = extra problem members as json.

CREATE FUNCTION siaod_fail(status integer, slug text, detail text, extra jsonb DEFAULT NULL)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'SI' || status::text, MESSAGE = slug,
        DETAIL = detail, HINT = coalesce(extra::text, '');
END $$;

CREATE FUNCTION siaod_field_error(status integer, pointer text, code text, detail text)
RETURNS void LANGUAGE sql AS $$
    SELECT siaod_fail(status, 'invalid-field', detail,
        jsonb_build_object('errors', jsonb_build_array(
            jsonb_build_object('pointer', pointer, 'code', code, 'detail', detail))));
$$;

CREATE FUNCTION audit_write(actor jsonb, action text, entity text, entity_id bigint,
                            outcome text DEFAULT 'ok', status integer DEFAULT 200)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO audit (token_id, role, action, entity, entity_id, outcome, status, request_id)
    VALUES ((actor->>'token_id')::bigint, actor->>'role', action, entity, entity_id,
            outcome, status, actor->>'request_id');
$$;

-- Places of an offer that no open placement holds on day d. Placements arrive
-- in a later migration, which replaces this function.
CREATE FUNCTION offer_free_places(p_offer_id bigint, d date) RETURNS integer
LANGUAGE sql STABLE AS $$
    SELECT count(*)::integer FROM places WHERE offer_id = p_offer_id AND active;
$$;

---------------------------------------------------------------- porteurs

CREATE FUNCTION porteur_json(p porteurs) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', p.id, 'name', p.name, 'departement', p.departement,
        'target_youth', p.target_youth, 'version', p.version,
        'created_at', p.created_at, 'updated_at', p.updated_at);
$$;

CREATE FUNCTION porteur_create(body jsonb, actor jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE p porteurs;
BEGIN
    INSERT INTO porteurs (name, departement, target_youth)
    VALUES (body->>'name', body->>'departement', coalesce((body->>'target_youth')::integer, 0))
    RETURNING * INTO p;
    PERFORM audit_write(actor, 'porteur.create', 'porteur', p.id, 'ok', 201);
    RETURN porteur_json(p);
END $$;

CREATE FUNCTION porteur_get(p_id bigint) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE p porteurs;
BEGIN
    SELECT * INTO p FROM porteurs WHERE id = p_id;
    IF NOT FOUND THEN
        PERFORM siaod_fail(404, 'not-found', format('porteur %s does not exist', p_id));
    END IF;
    RETURN porteur_json(p);
END $$;

CREATE FUNCTION porteur_list(f jsonb) RETURNS jsonb LANGUAGE sql STABLE AS $$
    WITH page AS (
        SELECT * FROM porteurs
        WHERE id > coalesce((f->>'cursor')::bigint, 0)
          AND (f->>'departement' IS NULL OR departement = f->>'departement')
        ORDER BY id LIMIT (f->>'limit')::integer + 1
    ), numbered AS (
        SELECT page.*, row_number() OVER (ORDER BY id) AS n FROM page
    )
    SELECT jsonb_build_object(
        'items', coalesce(jsonb_agg(porteur_json(ROW(id, name, departement, target_youth, version,
                    created_at, updated_at)::porteurs) ORDER BY id)
                 FILTER (WHERE n <= (f->>'limit')::integer), '[]'),
        'next_cursor', CASE WHEN count(*) > (f->>'limit')::integer
                            THEN (max(id) FILTER (WHERE n <= (f->>'limit')::integer))::text END)
    FROM numbered;
$$;

CREATE FUNCTION porteur_patch(p_id bigint, patch jsonb, if_match integer, actor jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE p porteurs; n porteurs;
BEGIN
    SELECT * INTO p FROM porteurs WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM siaod_fail(404, 'not-found', format('porteur %s does not exist', p_id));
    END IF;
    IF if_match IS NOT NULL AND if_match <> p.version THEN
        PERFORM siaod_fail(412, 'precondition-failed',
            format('the porteur is at version %s, not %s', p.version, if_match));
    END IF;
    n := jsonb_populate_record(p, patch);
    UPDATE porteurs SET name = n.name, departement = n.departement,
        target_youth = coalesce(n.target_youth, 0),
        version = version + 1, updated_at = now()
    WHERE id = p_id RETURNING * INTO p;
    PERFORM audit_write(actor, 'porteur.patch', 'porteur', p_id);
    RETURN porteur_json(p);
END $$;

---------------------------------------------------------------- offers

-- Capacity over time, for the occupancy rate of the bilans: one row per day
-- the capacity or the open status changed (the "today" of the write). An
-- offer without history (loaded by hand) has had its state since
-- available_from.
CREATE TABLE offer_capacity_history (
    offer_id  bigint NOT NULL REFERENCES offers(id),
    from_day  date NOT NULL,
    capacity  integer NOT NULL,
    open      boolean NOT NULL,
    PRIMARY KEY (offer_id, from_day)
);

CREATE FUNCTION offer_capacity_note(o offers, today date) RETURNS void LANGUAGE sql AS $$
    INSERT INTO offer_capacity_history (offer_id, from_day, capacity, open)
    VALUES (o.id, today, o.capacity, o.status = 'open')
    ON CONFLICT (offer_id, from_day) DO UPDATE SET capacity = EXCLUDED.capacity, open = EXCLUDED.open;
$$;

CREATE FUNCTION offer_json(o offers, d date) RETURNS jsonb LANGUAGE sql STABLE AS $$
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
        'created_at', o.created_at, 'updated_at', o.updated_at);
$$;

-- Brings the active places of an offer to `capacity`: reactivates retired
-- places first, then numbers new ones; retires the highest-numbered places
-- that nothing holds from `today` on, and refuses (409) when too few are free.
CREATE FUNCTION offer_set_capacity(p_offer_id bigint, capacity integer, today date)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    active_now integer;
    retirable integer;
BEGIN
    SELECT count(*) INTO active_now FROM places WHERE offer_id = p_offer_id AND active;
    IF capacity > active_now THEN
        UPDATE places SET active = true
        WHERE id IN (SELECT id FROM places WHERE offer_id = p_offer_id AND NOT active
                     ORDER BY number LIMIT capacity - active_now);
        SELECT count(*) INTO active_now FROM places WHERE offer_id = p_offer_id AND active;
        INSERT INTO places (offer_id, number)
        SELECT p_offer_id, m + n
        FROM (SELECT coalesce(max(number), 0) AS m FROM places WHERE offer_id = p_offer_id) last,
             generate_series(1, capacity - active_now) AS n;
    ELSIF capacity < active_now THEN
        retirable := offer_retirable_places(p_offer_id, today);
        IF active_now - capacity > retirable THEN
            PERFORM siaod_fail(409, 'capacity-below-occupancy',
                format('%s places are held on or after %s; capacity cannot go below %s',
                       active_now - retirable, today, active_now - retirable),
                jsonb_build_object('errors', jsonb_build_array(jsonb_build_object(
                    'pointer', '/capacity', 'code', 'out_of_range',
                    'detail', format('at least %s', active_now - retirable)))));
        END IF;
        PERFORM offer_retire_places(p_offer_id, active_now - capacity, today);
    END IF;
END $$;

-- How many active places nothing holds on or after `today` (replaced once
-- placements exist).
CREATE FUNCTION offer_retirable_places(p_offer_id bigint, today date) RETURNS integer
LANGUAGE sql STABLE AS $$
    SELECT count(*)::integer FROM places WHERE offer_id = p_offer_id AND active;
$$;

CREATE FUNCTION offer_retire_places(p_offer_id bigint, how_many integer, today date)
RETURNS void LANGUAGE sql AS $$
    UPDATE places SET active = false
    WHERE id IN (SELECT id FROM places WHERE offer_id = p_offer_id AND active
                 ORDER BY number DESC LIMIT how_many);
$$;

CREATE FUNCTION offer_locate(body jsonb) RETURNS communes LANGUAGE plpgsql STABLE AS $$
DECLARE c communes;
BEGIN
    SELECT * INTO c FROM communes WHERE insee = body->>'commune_insee';
    IF NOT FOUND THEN
        PERFORM siaod_field_error(400, '/commune_insee', 'unknown_value',
            format('no commune has the INSEE code %s', body->>'commune_insee'));
    END IF;
    RETURN c;
END $$;

CREATE FUNCTION offer_create(body jsonb, actor jsonb, today date, default_max_stay integer)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    c communes;
    o offers;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM porteurs WHERE id = (body->>'porteur_id')::bigint) THEN
        PERFORM siaod_field_error(400, '/porteur_id', 'unknown_value',
            format('porteur %s does not exist', body->>'porteur_id'));
    END IF;
    c := offer_locate(body);
    INSERT INTO offers (porteur_id, kind, label, commune_insee, departement, lat, lon,
        capacity, max_stay_days, min_age, max_age, gender, accepts_couples,
        accepts_children, accepts_pets, wheelchair_accessible, support_level,
        monthly_charge_eur, available_from, available_until, status)
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
        coalesce(body->>'status', 'open'))
    RETURNING * INTO o;
    INSERT INTO places (offer_id, number)
    SELECT o.id, n FROM generate_series(1, o.capacity) AS n;
    PERFORM offer_capacity_note(o, today);
    PERFORM audit_write(actor, 'offer.create', 'offer', o.id, 'ok', 201);
    RETURN offer_json(o, today);
END $$;

-- Reading offers (list and get) is served from the daemon's inventory.

CREATE FUNCTION offer_check_owner(o offers, actor jsonb) RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF actor->>'role' = 'porteur' AND (actor->>'porteur_id')::bigint <> o.porteur_id THEN
        PERFORM siaod_fail(403, 'forbidden',
            format('offer %s belongs to another porteur', o.id));
    END IF;
END $$;

CREATE FUNCTION offer_patch(p_id bigint, patch jsonb, if_match integer, actor jsonb, today date)
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
        version = version + 1, updated_at = now()
    WHERE id = p_id RETURNING * INTO o;
    PERFORM offer_capacity_note(o, today);
    PERFORM audit_write(actor, 'offer.patch', 'offer', p_id);
    RETURN offer_json(o, today);
END $$;

CREATE FUNCTION offer_close(p_id bigint, actor jsonb, today date) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE o offers;
BEGIN
    SELECT * INTO o FROM offers WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM siaod_fail(404, 'not-found', format('offer %s does not exist', p_id));
    END IF;
    PERFORM offer_check_owner(o, actor);
    UPDATE offers SET status = 'closed', version = version + 1, updated_at = now()
    WHERE id = p_id RETURNING * INTO o;
    PERFORM offer_capacity_note(o, today);
    PERFORM audit_write(actor, 'offer.close', 'offer', p_id);
    RETURN offer_json(o, today);
END $$;

---------------------------------------------------------------- tokens

CREATE FUNCTION token_json(t tokens) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', t.id, 'role', t.role, 'label', t.label,
        'departements', to_jsonb(t.departements), 'porteur_id', t.porteur_id,
        'expires_at', t.expires_at, 'revoked_at', t.revoked_at, 'created_at', t.created_at);
$$;

CREATE FUNCTION token_create(p_hash bytea, body jsonb, actor jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE t tokens;
BEGIN
    IF body ? 'porteur_id' AND NOT EXISTS
            (SELECT 1 FROM porteurs WHERE id = (body->>'porteur_id')::bigint) THEN
        PERFORM siaod_field_error(400, '/porteur_id', 'unknown_value',
            format('porteur %s does not exist', body->>'porteur_id'));
    END IF;
    INSERT INTO tokens (hash, role, label, departements, porteur_id, expires_at)
    VALUES (p_hash, body->>'role', coalesce(body->>'label', ''),
        coalesce(ARRAY(SELECT jsonb_array_elements_text(body->'departements')), '{}'),
        (body->>'porteur_id')::bigint, (body->>'expires_at')::timestamptz)
    RETURNING * INTO t;
    PERFORM audit_write(actor, 'token.create', 'token', t.id, 'ok', 201);
    RETURN token_json(t);
END $$;

CREATE FUNCTION token_list(f jsonb) RETURNS jsonb LANGUAGE sql STABLE AS $$
    WITH page AS (
        SELECT t, row_number() OVER (ORDER BY t.id) AS n FROM tokens t
        WHERE t.id > coalesce((f->>'cursor')::bigint, 0)
        ORDER BY t.id LIMIT (f->>'limit')::integer + 1
    )
    SELECT jsonb_build_object(
        'items', coalesce(jsonb_agg(token_json(t) ORDER BY (t).id)
                          FILTER (WHERE n <= (f->>'limit')::integer), '[]'),
        'next_cursor', CASE WHEN count(*) > (f->>'limit')::integer
                            THEN (max((t).id) FILTER (WHERE n <= (f->>'limit')::integer))::text END)
    FROM page;
$$;

CREATE FUNCTION token_revoke(p_id bigint, actor jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE t tokens;
BEGIN
    UPDATE tokens SET revoked_at = coalesce(revoked_at, now()) WHERE id = p_id RETURNING * INTO t;
    IF NOT FOUND THEN
        PERFORM siaod_fail(404, 'not-found', format('token %s does not exist', p_id));
    END IF;
    PERFORM audit_write(actor, 'token.revoke', 'token', p_id);
    RETURN token_json(t);
END $$;

-- What the daemon needs to authenticate a request (cached in memory).
CREATE FUNCTION token_lookup(p_hash bytea) RETURNS TABLE (
    id bigint, role text, departements text[], porteur_id bigint,
    expires_epoch bigint, revoked boolean)
LANGUAGE sql STABLE AS $$
    SELECT id, role, departements, porteur_id,
           extract(epoch FROM expires_at)::bigint, revoked_at IS NOT NULL
    FROM tokens WHERE hash = p_hash;
$$;

---------------------------------------------------------------- communes

-- Communes whose name starts with q (accents and case ignored by the
-- simple folding below), for the forms: name → INSEE code.
CREATE FUNCTION commune_search(q text, dep text, lim integer) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('items', coalesce(jsonb_agg(jsonb_build_object(
               'insee', insee, 'name', name, 'departement', departement, 'population', population)
               ORDER BY population DESC NULLS LAST, name), '[]'), 'next_cursor', NULL)
    FROM (SELECT * FROM communes
          WHERE (dep IS NULL OR departement = dep)
            AND (q IS NULL OR lower(translate(name, 'ÀÂÄÇÉÈÊËÎÏÔÖÙÛÜŸàâäçéèêëîïôöùûüÿ''-', 'AAACEEEEIIOOUUUYaaaceeeeiioouuuy  '))
                 LIKE lower(translate(q, 'ÀÂÄÇÉÈÊËÎÏÔÖÙÛÜŸàâäçéèêëîïôöùûüÿ''-', 'AAACEEEEIIOOUUUYaaaceeeeiioouuuy  ')) || '%'
                 OR insee = q)
          ORDER BY population DESC NULLS LAST, name LIMIT lim) c;
$$;

---------------------------------------------------------------- audit

-- f: {entity, actor (token id), from, to (dates or timestamps), cursor, limit}
CREATE FUNCTION audit_list(f jsonb) RETURNS jsonb LANGUAGE sql STABLE AS $$
    WITH page AS (
        SELECT a, row_number() OVER (ORDER BY a.id DESC) AS n FROM audit a
        WHERE (f->>'cursor' IS NULL OR a.id < (f->>'cursor')::bigint)
          AND (f->>'entity' IS NULL OR a.entity = f->>'entity')
          AND (f->>'actor' IS NULL OR a.token_id = (f->>'actor')::bigint)
          AND (f->>'from' IS NULL OR a.at >= (f->>'from')::timestamptz)
          AND (f->>'to' IS NULL OR a.at < (f->>'to')::timestamptz)
        ORDER BY a.id DESC LIMIT (f->>'limit')::integer + 1
    )
    SELECT jsonb_build_object(
        'items', coalesce(jsonb_agg(jsonb_build_object('id', (a).id, 'at', (a).at,
                     'token_id', (a).token_id, 'role', (a).role, 'action', (a).action,
                     'entity', (a).entity, 'entity_id', (a).entity_id,
                     'outcome', (a).outcome, 'status', (a).status,
                     'request_id', (a).request_id) ORDER BY (a).id DESC)
                 FILTER (WHERE n <= (f->>'limit')::integer), '[]'),
        'next_cursor', CASE WHEN count(*) > (f->>'limit')::integer
                            THEN (min((a).id) FILTER (WHERE n <= (f->>'limit')::integer))::text END)
    FROM page;
$$;
