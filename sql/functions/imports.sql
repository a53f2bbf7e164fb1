-- imports.sql (schema api, see sql/README.md): Imports of offers and young people from
-- spreadsheets (api_imports.c, import.c), and the runs they leave (019).
--
-- The daemon parses the CSV (libcsv) and types each cell; these functions
-- check what needs the database, say what each row would do, record the run
-- and — when asked to apply a file without errors — do it, in the caller's
-- one transaction: all or nothing (a failure rolls back the run's record too).
--
-- Arguments: p_meta {nrows, headers: {key: French header}, columns: [key...],
-- encoding, separator}; p_errors: every error import.c found, [{row, column,
-- pointer, code, detail}], the file's own on row 1; then, VARIADIC, one
-- PostgreSQL array literal per column: the rows' line numbers, then each
-- column of p_meta->'columns' in that order (import.h). Typed arrays read by
-- unnest cost a fraction of the same rows as JSON objects (json_to_recordset),
-- which dominated a 10,000-row dry run (tests/bench/README.md).
--
-- Result: applied, run_id, changed (the ids an apply created, updated or
-- reconfirmed, for the daemon's inventory), and the report as json text,
-- passed to the client as is: {kind, run_id, applied, summary: {rows,
-- create, update, unchanged, error}, rows: [{row, outcome, id}], errors:
-- [...]}. Outcomes: create, update, unchanged (an identical row: offers are
-- only reconfirmed), error.
--
-- The functions run with jit = off: PostgreSQL's estimates for these
-- one-off statements over 10,000 rows cross the JIT thresholds, and
-- compiling them took 0.8 s of a 1.1 s dry run; and with custom plans only,
-- so the planner always sees the arrays (their lengths) it joins.

CREATE FUNCTION import_error(headers jsonb, row_no integer, key text, code text, detail text)
RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object('row', row_no, 'column', coalesce(headers->>key, key),
        'pointer', format('/rows/%s/%s', row_no, key), 'code', code, 'detail', detail);
$$;

-- The file's own errors (row 1) followed by those of the rows in error, in
-- row order: the report's "errors".
CREATE FUNCTION import_errors_json(p_errors jsonb, row_errors jsonb[], row_nos integer[])
RETURNS json LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(json_agg(e ORDER BY n, k), '[]') FROM (
        SELECT x.e, 1 AS n, x.k FROM jsonb_array_elements(p_errors) WITH ORDINALITY AS x(e, k)
        WHERE (x.e->>'row')::integer = 1
        UNION ALL
        SELECT y.e, r.n, y.k FROM unnest(row_errors, row_nos) AS r(errs, n),
               jsonb_array_elements(r.errs) WITH ORDINALITY AS y(e, k)) q;
$$;

-- Records a run; its id.
CREATE FUNCTION import_store(p_kind text, p_apply boolean, p_applied boolean, actor jsonb,
                             p_meta jsonb, p_summary jsonb, p_rows json, p_errors json,
                             p_porteur bigint, p_deps text[], p_youth bigint[])
RETURNS bigint LANGUAGE sql AS $$
    INSERT INTO import_runs (kind, mode, applied, role, token_id, account_id, porteur_id,
        departements, encoding, separator, summary, rows, errors, youth_ids)
    VALUES (p_kind, CASE WHEN p_apply THEN 'apply' ELSE 'dry_run' END, p_applied,
        actor->>'role', nullif((actor->>'token_id')::bigint, 0),
        nullif((actor->>'account_id')::bigint, 0), p_porteur, p_deps,
        p_meta->>'encoding', p_meta->>'separator', p_summary, p_rows, p_errors, p_youth)
    RETURNING id;
$$;

-- Communes of the distinct (name or code, département) pairs of the rows:
-- an INSEE code, or a name (folded) narrowed by the département when several
-- communes share it. why: unknown_value or ambiguous.
CREATE FUNCTION import_communes(names text[], deps text[])
RETURNS TABLE (q text, dep text, insee text, why text, departement text)
-- plpgsql, so never inlined: the planner then takes ROWS (a few distinct
-- names) and hashes this small result, instead of sorting the whole file
-- to merge it with the 1,000 rows it guesses a DISTINCT gives
LANGUAGE plpgsql STABLE ROWS 20 AS $$
BEGIN
    RETURN QUERY
    SELECT d.q, d.dep, coalesce(d.code, cn.insee),
           CASE WHEN d.code IS NOT NULL OR cn.insee IS NOT NULL THEN NULL
                WHEN cn.n = 0 THEN 'unknown_value' ELSE 'ambiguous' END,
           coalesce(d.code_dep, cn.departement)
    FROM (
        -- a few distinct names: one index probe each, never a scan of the communes
        SELECT u.q, u.dep,
               (SELECT c.insee FROM communes c WHERE c.insee = upper(u.q)) AS code,
               (SELECT c.departement FROM communes c WHERE c.insee = upper(u.q)) AS code_dep
        FROM (SELECT DISTINCT x.q, x.dep FROM unnest(names, deps) AS x(q, dep) WHERE x.q IS NOT NULL) u) d
    LEFT JOIN LATERAL (
        SELECT count(*) AS n,
               CASE WHEN count(*) = 1 THEN min(c.insee)
                    WHEN count(*) FILTER (WHERE c.departement = d.dep) = 1
                    THEN min(c.insee) FILTER (WHERE c.departement = d.dep) END AS insee,
               CASE WHEN count(*) = 1 THEN min(c.departement) ELSE d.dep END AS departement
        FROM communes c WHERE d.code IS NULL AND fold_name(c.name) = fold_name(d.q)) cn ON true;
END $$;

-- One pass, set-based: the rows come typed (unnest), and every check is a
-- column of one SELECT (communes once per distinct name, scope and existing
-- offers by joins), so 10,000 rows cost a few joins, not 10,000 statements.
CREATE FUNCTION import_offers(p_meta jsonb, p_errors jsonb, p_apply boolean, actor jsonb, today date,
                              caps jsonb, VARIADIC p_cols text[],
                              OUT out_applied boolean, OUT out_run bigint, OUT out_changed bigint[],
                              OUT out_report json)
LANGUAGE plpgsql SET jit = off SET plan_cache_mode = force_custom_plan AS $$
DECLARE
    h jsonb := p_meta->'headers';
    own bigint := CASE WHEN actor->>'role' = 'porteur' THEN (actor->>'porteur_id')::bigint END;
    r record;
    body jsonb;
    v_summary jsonb;
    v_rows json;
    v_errors json;
    v_porteur bigint;
    created bigint[];
BEGIN
    IF actor->>'role' NOT IN ('admin', 'porteur') THEN
        PERFORM siaod_fail(403, 'forbidden', 'only a porteur (or an admin) imports offers');
    END IF;
    IF p_meta->'columns' IS DISTINCT FROM '["id", "external_ref", "porteur_id", "kind", "label",
            "commune", "departement", "capacity", "max_stay_days", "min_age", "max_age", "gender",
            "accepts_couples", "accepts_children", "accepts_pets", "wheelchair_accessible",
            "support_level", "monthly_charge_eur", "available_from", "available_until", "status"]'::jsonb
       OR cardinality(p_cols) <> 22 THEN
        RAISE EXCEPTION 'import_offers: columns % are not those it reads (import.c and imports.sql differ)',
            p_meta->'columns';
    END IF;
    CREATE TEMP TABLE imp ON COMMIT DROP AS
    SELECT q.*, CASE WHEN jsonb_array_length(q.errors) > 0 THEN 'error' WHEN q.offer_id IS NULL THEN 'create'
                     WHEN q.same_as_offer THEN 'unchanged' ELSE 'update' END AS outcome
    FROM (
    WITH raw AS MATERIALIZED (
        -- set-returning functions in the select list run in lockstep, each
        -- array read once (the same in FROM costs a tuplestore per column)
        SELECT t.*, e.errors FROM (SELECT
            unnest(p_cols[1]::integer[]) AS "row", unnest(p_cols[2]::bigint[]) AS id,
            unnest(p_cols[3]::text[]) AS external_ref, unnest(p_cols[4]::bigint[]) AS porteur_id,
            unnest(p_cols[5]::text[]) AS kind, unnest(p_cols[6]::text[]) AS label,
            unnest(p_cols[7]::text[]) AS commune, unnest(p_cols[8]::text[]) AS departement,
            unnest(p_cols[9]::integer[]) AS capacity, unnest(p_cols[10]::integer[]) AS max_stay_days,
            unnest(p_cols[11]::integer[]) AS min_age, unnest(p_cols[12]::integer[]) AS max_age,
            unnest(p_cols[13]::text[]) AS gender, unnest(p_cols[14]::boolean[]) AS accepts_couples,
            unnest(p_cols[15]::boolean[]) AS accepts_children, unnest(p_cols[16]::boolean[]) AS accepts_pets,
            unnest(p_cols[17]::boolean[]) AS wheelchair_accessible, unnest(p_cols[18]::text[]) AS support_level,
            unnest(p_cols[19]::numeric[]) AS monthly_charge_eur, unnest(p_cols[20]::date[]) AS available_from,
            unnest(p_cols[21]::date[]) AS available_until, unnest(p_cols[22]::text[]) AS status) t
        LEFT JOIN (SELECT (x->>'row')::integer AS rn, jsonb_agg(x) AS errors
                   FROM jsonb_array_elements(p_errors) x GROUP BY 1) e ON e.rn = t."row"
    ), cq AS MATERIALIZED (
        SELECT * FROM import_communes(p_cols[7]::text[], p_cols[8]::text[])
    ), y AS (
        -- who: the porteur's own; an admin's column; or the offer the id names
        SELECT x.*, byid.id AS id_found, byid.porteur_id AS id_porteur,
               coalesce(x.porteur_id, own, byid.porteur_id) AS pid, cq.insee, cq.why AS commune_why,
               cq.departement AS commune_departement
        FROM raw x
        LEFT JOIN offers byid ON byid.id = x.id
        LEFT JOIN cq ON cq.q = x.commune AND cq.dep IS NOT DISTINCT FROM x.departement
    ), z AS (
        SELECT y.*, coalesce(y.id_found, byref.id) AS offer_id, pp.id IS NOT NULL AS pid_ok,
               coalesce(byref.id IS NOT NULL AND y.id IS NOT NULL AND byref.id <> y.id_found, false) AS ref_taken,
               count(*) OVER (PARTITION BY coalesce('id:' || coalesce(y.id_found, byref.id),
                                                    'ref:' || y.pid || ':' || y.external_ref)) AS same,
               min(y."row") OVER (PARTITION BY coalesce('id:' || coalesce(y.id_found, byref.id),
                                                        'ref:' || y.pid || ':' || y.external_ref)) AS first_row
        FROM y LEFT JOIN offers byref ON byref.porteur_id = y.pid AND byref.external_ref = y.external_ref
        LEFT JOIN porteurs pp ON pp.id = y.pid
    ), w AS (
        -- min_capacity: the places held from today on, below which an
        -- offer_patch would refuse the capacity (offer_set_capacity); counted
        -- only for a row that lowers an offer's capacity
        SELECT z.*, o.id AS o_id, o.kind AS o_kind, o.label AS o_label, o.commune_insee AS o_insee,
               o.departement AS o_departement, o.capacity AS o_capacity, o.max_stay_days AS o_max_stay_days,
               o.min_age AS o_min_age, o.max_age AS o_max_age, o.gender AS o_gender,
               o.accepts_couples AS o_couples, o.accepts_children AS o_children, o.accepts_pets AS o_pets,
               o.wheelchair_accessible AS o_wheelchair, o.support_level AS o_support,
               o.monthly_charge_eur AS o_charge, o.available_from AS o_from, o.available_until AS o_until,
               o.status AS o_status, o.external_ref AS o_external_ref,
               CASE WHEN z.capacity < o.capacity THEN (
                   SELECT count(*)::integer FROM places p
                   WHERE p.offer_id = o.id AND p.active
                     AND EXISTS (SELECT 1 FROM placements pl WHERE pl.place_id = p.id
                                 AND pl.held && daterange(today, NULL))) END AS min_capacity
        FROM z LEFT JOIN offers o ON o.id = z.offer_id
    ), v AS (
        -- whether any check below fails (never NULL): the list of errors is
        -- built only then
        SELECT w.*, coalesce(own IS NOT NULL AND w.porteur_id <> own, false)
            OR (w.id IS NOT NULL AND w.id_found IS NULL)
            OR coalesce(w.id_found IS NOT NULL AND w.pid <> w.id_porteur, false) OR w.pid IS NULL
            OR (w.pid IS NOT NULL AND NOT w.pid_ok) OR (w.id IS NULL AND w.external_ref IS NULL)
            OR w.ref_taken OR (w.same > 1 AND w.first_row <> w."row")
            OR w.commune_why IS NOT NULL OR coalesce(w.min_age > coalesce(w.max_age, 29), false)
            OR coalesce(w.available_until < coalesce(w.available_from, '-infinity'), false)
            OR (w.available_until IS NOT NULL AND w.available_from IS NULL)
            OR coalesce(w.kind = 'shared_flat'
                        AND coalesce(w.max_stay_days, (caps->>'shared_flat')::integer, 91) > 90, false)
            OR coalesce(w.capacity < w.min_capacity, false)
            AS suspect
        FROM w
    )
    SELECT z."row" AS row_no, z.offer_id, z.pid AS porteur_id, z.insee, z.kind, z.label,
        coalesce(z.departement, z.commune_departement) AS departement, z.capacity,
        coalesce(z.max_stay_days, (caps->>z.kind)::integer) AS max_stay_days,
        coalesce(z.min_age, 16) AS min_age, coalesce(z.max_age, 29) AS max_age,
        coalesce(z.gender, 'any') AS gender, coalesce(z.accepts_couples, false) AS accepts_couples,
        coalesce(z.accepts_children, false) AS accepts_children,
        coalesce(z.accepts_pets, false) AS accepts_pets,
        coalesce(z.wheelchair_accessible, false) AS wheelchair_accessible,
        coalesce(z.support_level, 'standard') AS support_level,
        coalesce(z.monthly_charge_eur, 0) AS monthly_charge_eur,
        coalesce(z.available_from, z.o_from, today) AS available_from,
        z.available_until, coalesce(z.status, 'open') AS status,
        coalesce(z.external_ref, z.o_external_ref) AS external_ref,
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
            (CASE WHEN z.available_until < coalesce(z.available_from, z.o_from, today)
                 THEN import_error(h, z."row", 'available_until', 'out_of_range',
                 'la fin de disponibilité suit son début') END),
            (CASE WHEN z.kind = 'shared_flat' AND coalesce(z.max_stay_days, (caps->>'shared_flat')::integer, 91) > 90
                 THEN import_error(h, z."row", 'max_stay_days', 'out_of_range',
                 'une colocation limite les séjours à 90 jours') END),
            -- what PATCH /v1/offers/{id} would answer: the same problem
            -- type as the row's code, with min_capacity
            (CASE WHEN z.capacity < z.min_capacity THEN import_error(h, z."row", 'capacity',
                 'capacity-below-occupancy', format('%s places sont occupées ou réservées à partir d''aujourd''hui : '
                 'la capacité ne peut pas descendre sous %s', z.min_capacity, z.min_capacity))
                 || jsonb_build_object('min_capacity', z.min_capacity) END)
        ) v(e) WHERE e IS NOT NULL), '[]') END AS errors,
        -- unchanged: every column equals the offer's, blank cells meaning
        -- the defaults as on creation (a blank start keeps the offer's)
        z.o_id IS NOT NULL AND z.o_kind = z.kind AND z.o_label = z.label AND z.o_insee = z.insee
            AND z.o_departement = coalesce(z.departement, z.commune_departement) AND z.o_capacity = z.capacity
            AND z.o_max_stay_days IS NOT DISTINCT FROM coalesce(z.max_stay_days, (caps->>z.kind)::integer)
            AND z.o_min_age = coalesce(z.min_age, 16) AND z.o_max_age = coalesce(z.max_age, 29)
            AND z.o_gender = coalesce(z.gender, 'any')
            AND z.o_couples = coalesce(z.accepts_couples, false)
            AND z.o_children = coalesce(z.accepts_children, false)
            AND z.o_pets = coalesce(z.accepts_pets, false)
            AND z.o_wheelchair = coalesce(z.wheelchair_accessible, false)
            AND z.o_support = coalesce(z.support_level, 'standard')
            AND z.o_charge = round(coalesce(z.monthly_charge_eur, 0), 2)
            AND z.o_from = coalesce(z.available_from, z.o_from)
            AND z.o_until IS NOT DISTINCT FROM z.available_until
            AND z.o_status = coalesce(z.status, 'open')
            AND z.o_external_ref IS NOT DISTINCT FROM coalesce(z.external_ref, z.o_external_ref) AS same_as_offer
    FROM v AS z
    ) q;

    SELECT jsonb_build_object('rows', count(*),
               'create', count(*) FILTER (WHERE outcome = 'create'),
               'update', count(*) FILTER (WHERE outcome = 'update'),
               'unchanged', count(*) FILTER (WHERE outcome = 'unchanged'),
               'error', count(*) FILTER (WHERE outcome = 'error')),
           CASE WHEN count(DISTINCT porteur_id) = 1 AND count(porteur_id) = count(*) THEN min(porteur_id) END,
           import_errors_json(p_errors, array_agg(errors) FILTER (WHERE outcome = 'error'),
                              array_agg(row_no) FILTER (WHERE outcome = 'error'))
    INTO v_summary, v_porteur, v_errors FROM imp;
    out_applied := p_apply AND json_array_length(v_errors) = 0 AND (v_summary->>'rows')::integer > 0;
    out_changed := '{}';

    IF out_applied THEN
        -- Creations in bulk, with their places, capacity history and audit
        -- (as offer_create does one by one); the offers' triggers emit the events.
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
            INSERT INTO audit (token_id, account_id, role, action, entity, entity_id, outcome, status, request_id)
            SELECT nullif((actor->>'token_id')::bigint, 0), nullif((actor->>'account_id')::bigint, 0),
                   actor->>'role', 'offer.create', 'offer', ins.id, 'ok', 201, actor->>'request_id' FROM ins
        )
        SELECT array_agg(id) INTO created FROM ins;
        UPDATE imp SET offer_id = o.id FROM offers o
        WHERE imp.outcome = 'create' AND o.porteur_id = imp.porteur_id AND o.external_ref = imp.external_ref;
        out_changed := coalesce(created, '{}');
        -- identical rows: only reconfirmed, no new version, no event
        UPDATE offers o SET confirmed_at = now(), confirmed_on = today
        FROM imp WHERE imp.outcome = 'unchanged' AND o.id = imp.offer_id;
        out_changed := out_changed || ARRAY(SELECT offer_id FROM imp WHERE outcome = 'unchanged');
        -- updates one by one, through offer_patch (its versions, events, places)
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
            out_changed := out_changed || r.offer_id;
        END LOOP;
        PERFORM audit_write(actor, 'import.offers', 'import', NULL);
    END IF;
    v_rows := (SELECT coalesce(json_agg(json_build_object('row', row_no, 'outcome', outcome, 'id', offer_id)
                                ORDER BY row_no), '[]') FROM imp);
    out_run := import_store('offers', p_apply, out_applied, actor, p_meta, v_summary, v_rows, v_errors,
                            coalesce(own, v_porteur), NULL, NULL);
    out_report := json_build_object('kind', 'offers', 'run_id', out_run, 'applied', out_applied,
        'summary', v_summary, 'rows', v_rows, 'errors', v_errors, 'offer_ids', out_changed);
    DROP TABLE imp;
END $$;

-- The waiting list: a row is a young person by (département, ref) among
-- those not erased; a referent imports only its départements' young people.
CREATE FUNCTION import_youth(p_meta jsonb, p_errors jsonb, p_apply boolean, actor jsonb, today date,
                             caps jsonb, VARIADIC p_cols text[],
                             OUT out_applied boolean, OUT out_run bigint, OUT out_changed bigint[],
                             OUT out_report json)
LANGUAGE plpgsql SET jit = off AS $$
DECLARE
    h jsonb := p_meta->'headers';
    r record;
    body jsonb;
    v_summary jsonb;
    v_rows json;
    v_errors json;
    v_deps text[];
    v_id bigint;
BEGIN
    IF actor->>'role' NOT IN ('admin', 'referent') THEN
        PERFORM siaod_fail(403, 'forbidden', 'only a referent (or an admin) imports young people');
    END IF;
    IF p_meta->'columns' IS DISTINCT FROM '["ref", "departement", "birth_date", "rqth", "gender",
            "household", "has_pets", "needs", "situation", "institution_exit_date", "commune",
            "max_distance_km", "monthly_income_eur", "support_need", "wanted_from", "wanted_months",
            "registered_at"]'::jsonb
       OR cardinality(p_cols) <> 18 THEN
        RAISE EXCEPTION 'import_youth: columns % are not those it reads (import.c and imports.sql differ)',
            p_meta->'columns';
    END IF;
    -- v: the row as the API's body (what youth_create / youth_patch take)
    CREATE TEMP TABLE imp ON COMMIT DROP AS
    SELECT t."row" AS row_no,
           jsonb_strip_nulls(to_jsonb(t) - 'row' - 'needs') || CASE WHEN t.needs IS NULL THEN '{}'
               ELSE jsonb_build_object('needs', to_jsonb(string_to_array(nullif(t.needs, ''), ','))) END AS v,
           coalesce(e.errors, '[]'::jsonb) AS errors,
           NULL::text AS insee, NULL::bigint AS youth_id, NULL::text AS outcome
    FROM unnest(p_cols[1]::integer[], p_cols[2]::text[], p_cols[3]::text[], p_cols[4]::date[],
                p_cols[5]::boolean[], p_cols[6]::text[], p_cols[7]::text[], p_cols[8]::boolean[],
                p_cols[9]::text[], p_cols[10]::text[], p_cols[11]::date[], p_cols[12]::text[],
                p_cols[13]::integer[], p_cols[14]::numeric[], p_cols[15]::text[], p_cols[16]::date[],
                p_cols[17]::integer[], p_cols[18]::date[])
         AS t("row", ref, departement, birth_date, rqth, gender, household, has_pets, needs,
              situation, institution_exit_date, commune, max_distance_km, monthly_income_eur,
              support_need, wanted_from, wanted_months, registered_at)
    LEFT JOIN (SELECT (x->>'row')::integer AS rn, jsonb_agg(x) AS errors
               FROM jsonb_array_elements(p_errors) x GROUP BY 1) e ON e.rn = t."row";
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
    FROM import_communes(ARRAY(SELECT v->>'commune' FROM imp), ARRAY(SELECT v->>'departement' FROM imp)) c
    WHERE c.q = imp.v->>'commune' AND c.dep IS NOT DISTINCT FROM imp.v->>'departement';
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

    SELECT jsonb_build_object('rows', count(*),
               'create', count(*) FILTER (WHERE outcome = 'create'),
               'update', count(*) FILTER (WHERE outcome = 'update'),
               'unchanged', count(*) FILTER (WHERE outcome = 'unchanged'),
               'error', count(*) FILTER (WHERE outcome = 'error')),
           import_errors_json(p_errors, array_agg(errors ORDER BY row_no) FILTER (WHERE outcome = 'error'),
                              array_agg(row_no ORDER BY row_no) FILTER (WHERE outcome = 'error')),
           ARRAY(SELECT DISTINCT d FROM imp, LATERAL (SELECT v->>'departement') x(d) WHERE d IS NOT NULL ORDER BY d)
    INTO v_summary, v_errors, v_deps FROM imp;
    out_applied := p_apply AND json_array_length(v_errors) = 0 AND (v_summary->>'rows')::integer > 0;
    out_changed := '{}';

    IF out_applied THEN
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
            out_changed := out_changed || v_id;
            UPDATE imp SET youth_id = v_id WHERE row_no = r.row_no;
        END LOOP;
        PERFORM audit_write(actor, 'import.youth', 'import', NULL);
    END IF;
    v_rows := (SELECT coalesce(json_agg(json_build_object('row', row_no, 'outcome', outcome, 'id', youth_id)
                                ORDER BY row_no), '[]') FROM imp);
    -- a referent's run is in its départements; an admin's in those of its rows
    out_run := import_store('youth', p_apply, out_applied, actor, p_meta, v_summary, v_rows, v_errors, NULL,
        CASE WHEN actor->>'role' = 'referent'
             THEN ARRAY(SELECT jsonb_array_elements_text(actor->'departements') ORDER BY 1) ELSE v_deps END,
        ARRAY(SELECT youth_id FROM imp WHERE youth_id IS NOT NULL));
    out_report := json_build_object('kind', 'youth', 'run_id', out_run, 'applied', out_applied,
        'summary', v_summary, 'rows', v_rows, 'errors', v_errors, 'youth_ids', out_changed);
    DROP TABLE imp;
END $$;

-- -------------------------------------------------------------- past runs

-- Who sees a run: an admin every run; a porteur the runs about its offers;
-- a referent the youth runs whose départements are all its own.
CREATE FUNCTION import_run_visible(r import_runs, actor jsonb) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT CASE actor->>'role'
        WHEN 'admin' THEN true
        WHEN 'porteur' THEN r.kind = 'offers' AND r.porteur_id = (actor->>'porteur_id')::bigint
        WHEN 'referent' THEN r.kind = 'youth' AND r.departements IS NOT NULL
            AND r.departements <@ ARRAY(SELECT jsonb_array_elements_text(actor->'departements'))
        ELSE false END;
$$;

CREATE FUNCTION import_run_head(r import_runs) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT json_build_object('id', r.id, 'kind', r.kind, 'mode', r.mode, 'applied', r.applied,
        'created_at', r.created_at, 'role', r.role, 'token_id', r.token_id,
        'account_id', r.account_id, 'porteur_id', r.porteur_id, 'departements', r.departements,
        'encoding', r.encoding, 'separator', r.separator, 'summary', r.summary);
$$;

-- f: {kind, cursor, limit}: newest first.
CREATE FUNCTION import_runs_list(f jsonb, actor jsonb) RETURNS json LANGUAGE sql STABLE AS $$
    WITH page AS (
        SELECT r, row_number() OVER (ORDER BY r.id DESC) AS n FROM import_runs r
        WHERE (f->>'cursor' IS NULL OR r.id < (f->>'cursor')::bigint)
          AND (f->>'kind' IS NULL OR r.kind = f->>'kind')
          AND import_run_visible(r, actor)
        ORDER BY r.id DESC LIMIT (f->>'limit')::integer + 1
    )
    SELECT json_build_object(
        'items', coalesce(json_agg(import_run_head(r) ORDER BY (r).id DESC)
                          FILTER (WHERE n <= (f->>'limit')::integer), '[]'),
        'next_cursor', CASE WHEN count(*) > (f->>'limit')::integer
                            THEN (min((r).id) FILTER (WHERE n <= (f->>'limit')::integer))::text END)
    FROM page;
$$;

-- One run with its rows and errors (404 when the caller may not see it).
CREATE FUNCTION import_run_get(p_id bigint, actor jsonb) RETURNS json LANGUAGE plpgsql STABLE AS $$
DECLARE r import_runs;
BEGIN
    SELECT * INTO r FROM import_runs WHERE id = p_id;
    IF NOT FOUND OR NOT import_run_visible(r, actor) THEN
        PERFORM siaod_fail(404, 'not-found', format('no import run %s', p_id));
    END IF;
    RETURN json_build_object('id', r.id, 'kind', r.kind, 'mode', r.mode, 'applied', r.applied,
        'created_at', r.created_at, 'role', r.role, 'token_id', r.token_id,
        'account_id', r.account_id, 'porteur_id', r.porteur_id, 'departements', r.departements,
        'encoding', r.encoding, 'separator', r.separator, 'summary', r.summary,
        'rows', r.rows, 'errors', r.errors);
END $$;

-- Erasing young people (youth_erase, youth_retention) erases their rows in
-- the stored runs: each row naming one of them, and that row's errors, go;
-- the counts (no one's data) stay.
CREATE FUNCTION import_runs_forget_youth(ids bigint[]) RETURNS void LANGUAGE sql AS $$
    UPDATE import_runs r SET
        rows = (SELECT coalesce(json_agg(e ORDER BY k), '[]') FROM json_array_elements(r.rows)
                WITH ORDINALITY AS x(e, k)
                WHERE NOT coalesce((e->>'id')::bigint = ANY (ids), false)),
        errors = (SELECT coalesce(json_agg(e ORDER BY k), '[]') FROM json_array_elements(r.errors)
                  WITH ORDINALITY AS x(e, k)
                  WHERE (e->>'row')::integer NOT IN (
                      SELECT (g->>'row')::integer FROM json_array_elements(r.rows) g
                      WHERE (g->>'id')::bigint = ANY (ids))),
        youth_ids = ARRAY(SELECT u FROM unnest(r.youth_ids) u WHERE u <> ALL (ids))
    WHERE r.youth_ids && ids;
$$;
