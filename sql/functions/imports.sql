-- imports.sql (schema api, see sql/README.md): Imports of offers and young people from
-- spreadsheets (api_imports.c, import.c).
--
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
