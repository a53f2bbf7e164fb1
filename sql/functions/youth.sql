-- youth.sql (schema api, see sql/README.md): Young people, pseudonymously (a file reference, never
-- a name), their erasure and the retention that anonymises the inactive ones.

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
        'registered_at', y.registered_at, 'status', y.status,
        'referent_account_id', y.referent_account_id, 'version', y.version,
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

-- The following referent (notifications): an enabled account that reaches
-- the young person of département dep, a referent of it or an admin.
CREATE FUNCTION youth_check_referent(account bigint, dep text) RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF account IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM accounts a WHERE a.id = account AND a.disabled_at IS NULL
              AND (a.role = 'admin' OR (a.role = 'referent' AND dep = ANY (a.departements)))) THEN
        PERFORM siaod_field_error(422, '/referent_account_id', 'unknown_value',
            'not an enabled referent of this young person''s département');
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
    -- followed by who registers them, unless named
    y.referent_account_id := CASE WHEN body ? 'referent_account_id' THEN (body->>'referent_account_id')::bigint
                                  ELSE nullif((actor->>'account_id')::bigint, 0) END;
    IF body ? 'referent_account_id' THEN
        PERFORM youth_check_referent(y.referent_account_id, y.departement);
    END IF;
    INSERT INTO youth (ref, departement, birth_date, rqth, gender, household, has_pets, needs,
        situation, institution_exit_date, commune_insee, max_distance_km, monthly_income_eur,
        support_need, wanted_from, wanted_months, registered_at, status, referent_account_id)
    VALUES (y.ref, y.departement, y.birth_date, coalesce(y.rqth, false), y.gender,
        coalesce(y.household, 'alone'), coalesce(y.has_pets, false), coalesce(y.needs, '{}'),
        y.situation, y.institution_exit_date, y.commune_insee, y.max_distance_km,
        coalesce(y.monthly_income_eur, 0), coalesce(y.support_need, 'standard'),
        y.wanted_from, coalesce(y.wanted_months, 6), y.registered_at, coalesce(y.status, 'waiting'),
        y.referent_account_id)
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
    IF patch ? 'referent_account_id' THEN
        PERFORM youth_check_referent(n.referent_account_id, n.departement);
    END IF;
    UPDATE youth SET ref = n.ref, departement = n.departement, birth_date = n.birth_date,
        rqth = coalesce(n.rqth, false), gender = n.gender,
        household = coalesce(n.household, 'alone'), has_pets = coalesce(n.has_pets, false),
        needs = coalesce(n.needs, '{}'), situation = n.situation,
        institution_exit_date = n.institution_exit_date, commune_insee = n.commune_insee,
        max_distance_km = n.max_distance_km, monthly_income_eur = coalesce(n.monthly_income_eur, 0),
        support_need = coalesce(n.support_need, 'standard'),
        wanted_from = coalesce(n.wanted_from, today), wanted_months = coalesce(n.wanted_months, 6),
        registered_at = y.registered_at, status = coalesce(n.status, y.status),
        referent_account_id = n.referent_account_id,
        version = version + 1, updated_at = now()
    WHERE id = p_id RETURNING * INTO y;
    PERFORM audit_write(actor, 'youth.patch', 'youth', p_id);
    RETURN youth_json(y);
END $$;

-- As in 003, and what the idempotency store kept of them goes too, in the
-- same transaction.
CREATE FUNCTION youth_erase(p_id bigint, actor jsonb, today date) RETURNS jsonb
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
    PERFORM import_runs_forget_youth(ARRAY[p_id]);
    PERFORM audit_write(actor, 'youth.erase', 'youth', p_id);
    RETURN jsonb_build_object('id', p_id, 'erased', true,
                              'freed_offers', to_jsonb(coalesce(freed, '{}')));
END $$;

CREATE FUNCTION youth_retention(today date, months integer) RETURNS TABLE (youth_id bigint)
LANGUAGE sql AS $$
    WITH stale AS (
        SELECT y.id FROM youth y
        WHERE y.erased_at IS NULL AND y.status <> 'placed'
          AND y.updated_at::date < today - make_interval(months => months)
          AND y.registered_at < today - make_interval(months => months)
          AND NOT EXISTS (
              SELECT 1 FROM placements p WHERE p.youth_id = y.id
                AND (p.status IN ('proposed', 'accepted', 'active')
                     OR greatest(p.created_on, p.start_date, coalesce(p.actual_end_date, p.start_date))
                        >= today - make_interval(months => months)))
        FOR UPDATE OF y SKIP LOCKED
    ), erased AS (
        UPDATE youth y SET age_band = youth_age_band(y.birth_date, today), ref = NULL, birth_date = NULL,
            institution_exit_date = NULL, commune_insee = NULL, needs = '{}', has_pets = false,
            monthly_income_eur = 0, status = 'closed', erased_at = now(),
            version = y.version + 1, updated_at = now()
        FROM stale WHERE y.id = stale.id
        RETURNING y.id
    ), audited AS (
        INSERT INTO audit (role, action, entity, entity_id, outcome, status)
        SELECT 'system', 'youth.retention', 'youth', id, 'ok', 200 FROM erased
    ), runs AS (
        SELECT import_runs_forget_youth(ARRAY(SELECT id FROM erased))
    )
    SELECT id FROM erased, (SELECT count(*) FROM runs) forgotten;
$$;

CREATE FUNCTION youth_if_match(p_id bigint, candidates integer[]) RETURNS integer
LANGUAGE sql STABLE AS $$
    SELECT if_match_version(candidates, (SELECT version FROM youth WHERE id = p_id));
$$;
