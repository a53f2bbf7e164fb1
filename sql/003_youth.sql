-- 003 youth: the young people a referent accompanies, pseudonymously (a file
-- reference of the referent's own, never a name; needs as codes, never free
-- text), and the queries that load the in-memory inventory.

CREATE TABLE youth (
    id                    bigserial PRIMARY KEY,
    ref                   text CONSTRAINT ck_youth__ref CHECK (length(ref) BETWEEN 1 AND 64),
    departement           text NOT NULL CONSTRAINT ck_youth__departement CHECK (departement ~ '^([0-9]{2}|2A|2B|97[1-6])$'),
    birth_date            date,
    age_band              text CONSTRAINT ck_youth__age_band CHECK (age_band IN ('16-17', '18-21', '22-25', '26-29', 'other')),
    rqth                  boolean NOT NULL DEFAULT false,
    gender                text NOT NULL CONSTRAINT ck_youth__gender CHECK (gender IN ('female', 'male', 'other')),
    household             text NOT NULL DEFAULT 'alone' CONSTRAINT ck_youth__household CHECK (household IN ('alone', 'couple', 'with_children')),
    has_pets              boolean NOT NULL DEFAULT false,
    needs                 text[] NOT NULL DEFAULT '{}' CONSTRAINT ck_youth__needs CHECK (
                              needs <@ ARRAY['wheelchair', 'mental_health', 'addiction', 'justice_followup', 'pregnancy']),
    situation             text NOT NULL CONSTRAINT ck_youth__situation CHECK (situation IN (
                              'street', 'emergency_shelter', 'precarious', 'institution_exit', 'family_breakdown')),
    institution_exit_date date,
    commune_insee         text REFERENCES communes(insee),
    max_distance_km       integer CONSTRAINT ck_youth__max_distance_km CHECK (max_distance_km BETWEEN 1 AND 1000),
    monthly_income_eur    numeric(8,2) NOT NULL DEFAULT 0 CONSTRAINT ck_youth__monthly_income_eur CHECK (monthly_income_eur BETWEEN 0 AND 10000),
    support_need          text NOT NULL DEFAULT 'standard' CONSTRAINT ck_youth__support_need CHECK (support_need IN ('light', 'standard', 'intensive')),
    wanted_from           date NOT NULL,
    wanted_months         integer NOT NULL DEFAULT 6 CONSTRAINT ck_youth__wanted_months CHECK (wanted_months BETWEEN 1 AND 60),
    registered_at         date NOT NULL,
    status                text NOT NULL DEFAULT 'waiting' CONSTRAINT ck_youth__status CHECK (status IN ('waiting', 'placed', 'closed')),
    erased_at             timestamptz,
    version               integer NOT NULL DEFAULT 1,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    -- an erased record keeps nothing that points at a person
    CONSTRAINT ck_youth__erased CHECK (erased_at IS NULL OR (ref IS NULL AND birth_date IS NULL
                                       AND institution_exit_date IS NULL AND commune_insee IS NULL)),
    CONSTRAINT ck_youth__birth_date CHECK (erased_at IS NOT NULL OR birth_date IS NOT NULL)
);
CREATE INDEX youth_departement_status_idx ON youth (departement, status) WHERE erased_at IS NULL;

CREATE FUNCTION youth_age_band(birth date, on_day date) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN a < 18 THEN '16-17' WHEN a < 22 THEN '18-21' WHEN a < 26 THEN '22-25'
                WHEN a < 30 THEN '26-29' ELSE 'other' END
    FROM (SELECT extract(year FROM age(on_day, birth))::integer AS a) x;
$$;

CREATE FUNCTION youth_json(y youth) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', y.id, 'ref', y.ref, 'departement', y.departement,
        'birth_date', y.birth_date, 'rqth', y.rqth, 'gender', y.gender,
        'household', y.household, 'has_pets', y.has_pets, 'needs', to_jsonb(y.needs),
        'situation', y.situation, 'institution_exit_date', y.institution_exit_date,
        'commune_insee', y.commune_insee, 'max_distance_km', y.max_distance_km,
        'monthly_income_eur', y.monthly_income_eur::float8, 'support_need', y.support_need,
        'wanted_from', y.wanted_from, 'wanted_months', y.wanted_months,
        'registered_at', y.registered_at, 'status', y.status, 'version', y.version,
        'created_at', y.created_at, 'updated_at', y.updated_at);
$$;

-- A referent reaches the young people of its départements; an admin all.
CREATE FUNCTION youth_check_scope(dep text, actor jsonb, what text) RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF actor->>'role' = 'admin' THEN
        RETURN;
    END IF;
    IF actor->>'role' <> 'referent' OR NOT (actor->'departements') ? dep THEN
        PERFORM siaod_fail(403, 'forbidden', format('%s is outside this token''s départements', what));
    END IF;
END $$;

CREATE FUNCTION youth_locate(insee text) RETURNS void LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF insee IS NOT NULL AND NOT EXISTS (SELECT 1 FROM communes WHERE communes.insee = youth_locate.insee) THEN
        PERFORM siaod_field_error(400, '/commune_insee', 'unknown_value',
            format('no commune has the INSEE code %s', insee));
    END IF;
END $$;

CREATE FUNCTION youth_check_dates(y youth, today date) RETURNS void LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF y.registered_at > today THEN
        PERFORM siaod_field_error(400, '/registered_at', 'out_of_range', 'registered_at is never in the future');
    END IF;
    IF y.birth_date > today THEN
        PERFORM siaod_field_error(400, '/birth_date', 'out_of_range', 'birth_date is in the future');
    END IF;
    IF y.birth_date < today - interval '40 years' THEN
        PERFORM siaod_field_error(400, '/birth_date', 'out_of_range', 'this is not a young person''s birth date');
    END IF;
END $$;

CREATE FUNCTION youth_create(body jsonb, actor jsonb, today date) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE y youth;
BEGIN
    PERFORM youth_check_scope(body->>'departement', actor, 'this département');
    PERFORM youth_locate(body->>'commune_insee');
    y := jsonb_populate_record(NULL::youth, body);
    y.wanted_from := coalesce(y.wanted_from, today);
    y.registered_at := coalesce(y.registered_at, today);
    PERFORM youth_check_dates(y, today);
    INSERT INTO youth (ref, departement, birth_date, rqth, gender, household, has_pets, needs,
        situation, institution_exit_date, commune_insee, max_distance_km, monthly_income_eur,
        support_need, wanted_from, wanted_months, registered_at, status)
    VALUES (y.ref, y.departement, y.birth_date, coalesce(y.rqth, false), y.gender,
        coalesce(y.household, 'alone'), coalesce(y.has_pets, false), coalesce(y.needs, '{}'),
        y.situation, y.institution_exit_date, y.commune_insee, y.max_distance_km,
        coalesce(y.monthly_income_eur, 0), coalesce(y.support_need, 'standard'),
        y.wanted_from, coalesce(y.wanted_months, 6), y.registered_at, coalesce(y.status, 'waiting'))
    RETURNING * INTO y;
    PERFORM audit_write(actor, 'youth.create', 'youth', y.id, 'ok', 201);
    RETURN youth_json(y);
END $$;

CREATE FUNCTION youth_fetch(p_id bigint, actor jsonb, lock boolean) RETURNS youth
LANGUAGE plpgsql AS $$
DECLARE y youth;
BEGIN
    IF lock THEN
        SELECT * INTO y FROM youth WHERE id = p_id AND erased_at IS NULL FOR UPDATE;
    ELSE
        SELECT * INTO y FROM youth WHERE id = p_id AND erased_at IS NULL;
    END IF;
    IF NOT FOUND THEN
        PERFORM siaod_fail(404, 'not-found', format('young person %s does not exist', p_id));
    END IF;
    PERFORM youth_check_scope(y.departement, actor, 'this young person');
    RETURN y;
END $$;

CREATE FUNCTION youth_get(p_id bigint, actor jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    RETURN youth_json(youth_fetch(p_id, actor, false));
END $$;

-- f: {status, departement, cursor, limit}; a referent sees its départements only.
CREATE FUNCTION youth_list(f jsonb, actor jsonb) RETURNS jsonb LANGUAGE sql STABLE AS $$
    WITH page AS (
        SELECT y, row_number() OVER (ORDER BY y.id) AS n FROM youth y
        WHERE y.erased_at IS NULL
          AND y.id > coalesce((f->>'cursor')::bigint, 0)
          AND (f->>'status' IS NULL OR y.status = f->>'status')
          AND (f->>'departement' IS NULL OR y.departement = f->>'departement')
          AND (actor->>'role' = 'admin' OR (actor->'departements') ? y.departement)
        ORDER BY y.id LIMIT (f->>'limit')::integer + 1
    )
    SELECT jsonb_build_object(
        'items', coalesce(jsonb_agg(youth_json(y) ORDER BY (y).id)
                          FILTER (WHERE n <= (f->>'limit')::integer), '[]'),
        'next_cursor', CASE WHEN count(*) > (f->>'limit')::integer
                            THEN (max((y).id) FILTER (WHERE n <= (f->>'limit')::integer))::text END)
    FROM page;
$$;

CREATE FUNCTION youth_patch(p_id bigint, patch jsonb, if_match integer, actor jsonb, today date)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE y youth; n youth;
BEGIN
    y := youth_fetch(p_id, actor, true);
    IF if_match IS NOT NULL AND if_match <> y.version THEN
        PERFORM siaod_fail(412, 'precondition-failed',
            format('the record is at version %s, not %s', y.version, if_match));
    END IF;
    IF patch ? 'departement' THEN
        PERFORM youth_check_scope(patch->>'departement', actor, 'the new département');
    END IF;
    -- "placed" follows the stay: the exit decides what comes next
    IF patch ? 'status' AND y.status = 'placed' THEN
        PERFORM siaod_fail(409, 'youth-placed',
            'this young person is in a stay: record the exit, which sets the status',
            jsonb_build_object('current_status', y.status));
    END IF;
    PERFORM youth_locate(patch->>'commune_insee');
    n := jsonb_populate_record(y, patch);
    PERFORM youth_check_dates(n, today);
    UPDATE youth SET ref = n.ref, departement = n.departement, birth_date = n.birth_date,
        rqth = coalesce(n.rqth, false), gender = n.gender,
        household = coalesce(n.household, 'alone'), has_pets = coalesce(n.has_pets, false),
        needs = coalesce(n.needs, '{}'), situation = n.situation,
        institution_exit_date = n.institution_exit_date, commune_insee = n.commune_insee,
        max_distance_km = n.max_distance_km, monthly_income_eur = coalesce(n.monthly_income_eur, 0),
        support_need = coalesce(n.support_need, 'standard'),
        wanted_from = coalesce(n.wanted_from, today), wanted_months = coalesce(n.wanted_months, 6),
        registered_at = y.registered_at, status = coalesce(n.status, y.status),
        version = version + 1, updated_at = now()
    WHERE id = p_id RETURNING * INTO y;
    PERFORM audit_write(actor, 'youth.patch', 'youth', p_id);
    RETURN youth_json(y);
END $$;

-- Erasure: the record stays for the statistics (département, situation,
-- household, an age band) but nothing that points at the person remains.
CREATE FUNCTION youth_erase(p_id bigint, actor jsonb, today date) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE y youth; freed bigint[];
BEGIN
    y := youth_fetch(p_id, actor, true);
    -- Proposals and holds for someone who is gone free their places (the
    -- placements table comes with migration 004); a stay being lived goes on.
    WITH c AS (
        UPDATE placements SET status = 'cancelled', version = version + 1, updated_at = now()
        WHERE youth_id = p_id AND status IN ('proposed', 'accepted') RETURNING offer_id
    ) SELECT array_agg(DISTINCT offer_id) INTO freed FROM c;
    UPDATE youth SET age_band = youth_age_band(birth_date, today), ref = NULL, birth_date = NULL,
        institution_exit_date = NULL, commune_insee = NULL, needs = '{}', has_pets = false,
        monthly_income_eur = 0, status = 'closed', erased_at = now(),
        version = version + 1, updated_at = now()
    WHERE id = p_id;
    PERFORM audit_write(actor, 'youth.erase', 'youth', p_id);
    -- freed_offers: offers whose pending proposals were cancelled (the daemon re-reads them)
    RETURN jsonb_build_object('id', p_id, 'erased', true,
                              'freed_offers', to_jsonb(coalesce(freed, '{}')));
END $$;

---------------------------------------------------------------- inventory loading
-- The daemon's in-memory inventory is loaded (ids NULL) and refreshed after
-- each write (ids of what changed) with these; dates come as day numbers
-- since 1970-01-01 so the daemon parses no date text.

CREATE FUNCTION inv_offers(ids bigint[]) RETURNS TABLE (
    id bigint, porteur_id bigint, kind text, departement text, lat float8, lon float8,
    capacity integer, max_stay_days integer, min_age integer, max_age integer, gender text,
    accepts_couples boolean, accepts_children boolean, accepts_pets boolean,
    wheelchair_accessible boolean, support_level text, monthly_charge_eur float8,
    available_from integer, available_until integer, status text, label text,
    commune_insee text, version integer, created_at text, updated_at text)
LANGUAGE sql STABLE AS $$
    SELECT id, porteur_id, kind, departement, lat, lon, capacity, coalesce(max_stay_days, 0),
        min_age, max_age, gender, accepts_couples, accepts_children, accepts_pets,
        wheelchair_accessible, support_level, monthly_charge_eur::float8,
        available_from - date '1970-01-01', available_until - date '1970-01-01', status, label,
        commune_insee, version, to_jsonb(created_at) #>> '{}', to_jsonb(updated_at) #>> '{}'
    FROM offers WHERE ids IS NULL OR id = ANY(ids) ORDER BY id;
$$;

CREATE FUNCTION inv_places(ids bigint[]) RETURNS TABLE (
    offer_id bigint, place_id bigint, number integer, active boolean)
LANGUAGE sql STABLE AS $$
    SELECT offer_id, id, number, active FROM places
    WHERE ids IS NULL OR offer_id = ANY(ids) ORDER BY offer_id, number;
$$;

-- ids NULL: every young person not erased. A young person erased (or absent)
-- is simply not returned: the daemon drops what it asked for and did not get.
CREATE FUNCTION inv_youth(ids bigint[]) RETURNS TABLE (
    id bigint, departement text, birth_date integer, rqth boolean, gender text,
    household text, has_pets boolean, needs text[], situation text,
    institution_exit_date integer, lat float8, lon float8, max_distance_km integer,
    monthly_income_eur float8, support_need text, wanted_from integer, wanted_months integer,
    registered_at integer, status text)
LANGUAGE sql STABLE AS $$
    SELECT y.id, y.departement, y.birth_date - date '1970-01-01', y.rqth, y.gender, y.household,
        y.has_pets, y.needs, y.situation, y.institution_exit_date - date '1970-01-01',
        c.lat, c.lon, y.max_distance_km, y.monthly_income_eur::float8, y.support_need,
        y.wanted_from - date '1970-01-01', y.wanted_months, y.registered_at - date '1970-01-01',
        y.status
    FROM youth y LEFT JOIN communes c ON c.insee = y.commune_insee
    WHERE y.erased_at IS NULL AND (ids IS NULL OR y.id = ANY(ids)) ORDER BY y.id;
$$;
