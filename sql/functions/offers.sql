-- offers.sql (schema api, see sql/README.md): Offers: capacity registered by a porteur, its
-- places, free places on a day, and the communes an offer is located in.

-- Places of an offer that no placement holds on day d.
CREATE FUNCTION offer_free_places(p_offer_id bigint, d date) RETURNS integer
LANGUAGE sql STABLE AS $$
    SELECT count(*)::integer FROM places p
    WHERE p.offer_id = p_offer_id AND p.active
      AND NOT EXISTS (SELECT 1 FROM placements pl WHERE pl.place_id = p.id AND pl.held @> d);
$$;

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
                -- min_capacity: the places taken from today on, which the UI shows
                jsonb_build_object('min_capacity', active_now - retirable,
                    'errors', jsonb_build_array(jsonb_build_object(
                    'pointer', '/capacity', 'code', 'out_of_range',
                    'detail', format('at least %s', active_now - retirable)))));
        END IF;
        PERFORM offer_retire_places(p_offer_id, active_now - capacity, today);
    END IF;
END $$;

-- Active places that nothing holds from `today` on (what a capacity cut may retire).
CREATE FUNCTION offer_retirable_places(p_offer_id bigint, today date) RETURNS integer
LANGUAGE sql STABLE AS $$
    SELECT count(*)::integer FROM places p
    WHERE p.offer_id = p_offer_id AND p.active
      AND NOT EXISTS (SELECT 1 FROM placements pl WHERE pl.place_id = p.id
                      AND pl.held && daterange(today, NULL));
$$;

CREATE FUNCTION offer_retire_places(p_offer_id bigint, how_many integer, today date)
RETURNS void LANGUAGE sql AS $$
    UPDATE places SET active = false
    WHERE id IN (SELECT p.id FROM places p
                 WHERE p.offer_id = p_offer_id AND p.active
                   AND NOT EXISTS (SELECT 1 FROM placements pl WHERE pl.place_id = p.id
                                   AND pl.held && daterange(today, NULL))
                 ORDER BY p.number DESC LIMIT how_many);
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

-- EXECUTE ... USING plans with the actual prefix, so the LIKE uses the
-- index (a plan made for any parameter would scan all 35,000 communes).
CREATE FUNCTION commune_search(q text, dep text, lim integer) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE res jsonb;
BEGIN
    EXECUTE $q$
        SELECT jsonb_build_object('items', coalesce(jsonb_agg(jsonb_build_object(
                   'insee', insee, 'name', name, 'departement', departement, 'population', population)
                   ORDER BY population DESC NULLS LAST, name), '[]'), 'next_cursor', NULL)
        FROM (SELECT * FROM (
                  SELECT * FROM communes WHERE insee = $1
                  UNION
                  SELECT * FROM communes WHERE $1 IS NULL OR fold_name(name) LIKE fold_name($1) || '%'
              ) c
              WHERE $2 IS NULL OR departement = $2
              ORDER BY population DESC NULLS LAST, name LIMIT $3) c
    $q$ INTO res USING q, dep, lim;
    RETURN res;
END $$;

CREATE FUNCTION offer_if_match(p_id bigint, candidates integer[]) RETURNS integer
LANGUAGE sql STABLE AS $$
    SELECT if_match_version(candidates, (SELECT version FROM offers WHERE id = p_id));
$$;
