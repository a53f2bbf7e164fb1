-- inventory.sql (schema api, see sql/README.md): What the daemon's in-memory inventory loads
-- (inventory.c): offers, places, the spans placements hold, young people. Columns are read by
-- name.

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

CREATE FUNCTION inv_places(ids bigint[]) RETURNS TABLE (
    offer_id bigint, place_id bigint, number integer, active boolean)
LANGUAGE sql STABLE AS $$
    SELECT offer_id, id, number, active FROM places
    WHERE ids IS NULL OR offer_id = ANY(ids) ORDER BY offer_id, number;
$$;

-- Spans that hold places, for the daemon's free-place counts.
CREATE FUNCTION inv_spans(ids bigint[]) RETURNS TABLE (
    offer_id bigint, place_id bigint, start_day integer, end_day integer, placement_id bigint)
LANGUAGE sql STABLE AS $$
    SELECT offer_id, place_id, lower(held) - date '1970-01-01', upper(held) - date '1970-01-01', id
    FROM placements
    WHERE NOT isempty(held) AND (ids IS NULL OR offer_id = ANY(ids))
    ORDER BY offer_id, place_id, lower(held);
$$;

-- The young people of ids (all when NULL), not erased, for the matcher; dates as days since 1970.
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
        y.status, op.open IS NOT NULL,
        d.offers, d.days
    FROM youth y LEFT JOIN communes c ON c.insee = y.commune_insee
    -- one probe of placements_one_open per young person. As an EXISTS in the
    -- select list, the planner may hash every open placement instead, when
    -- its statistics say there are few (a table that grew since the last
    -- ANALYZE): 17,788 rows read for each refresh of 30 young people, a
    -- quarter of PostgreSQL's CPU in the placement benchmark (issue 13).
    -- A LATERAL subquery with LIMIT is never hashed.
    LEFT JOIN LATERAL (SELECT true AS open FROM placements p WHERE p.youth_id = y.id
                       AND p.status IN ('proposed', 'accepted', 'active') LIMIT 1) op ON true
    LEFT JOIN LATERAL (
        SELECT array_agg(offer_id ORDER BY offer_id) AS offers,
               array_agg(day - date '1970-01-01' ORDER BY offer_id) AS days
        FROM (SELECT p.offer_id, max(p.answered_on) AS day FROM placements p
              WHERE p.youth_id = y.id AND p.status = 'refused' AND p.refused_by = 'youth'
                AND p.answered_on IS NOT NULL
              GROUP BY p.offer_id) x) d ON true
    WHERE y.erased_at IS NULL AND (ids IS NULL OR y.id = ANY(ids)) ORDER BY y.id;
$$;

-- The changes committed since a reader's previous snapshot (sql/022, read by
-- daemon/changes.c): the rows of the transactions that were still running
-- then (its xip list) or had not started (xid at or above its xmax), and
-- that are visible now, i.e. committed; but those of the reader's own
-- sessions (p_origin: it re-read them after its writes). The snapshot returned is the one
-- this reading used: pass it to the next. Two index probes, never a scan
-- of the whole table, however long one transaction runs: planned with the
-- snapshot's values each time (EXECUTE), as a plan kept for any snapshot
-- would count a third of the table above "xid >=" and might scan it all
-- (four readings a second per instance: planning costs nothing here).
CREATE FUNCTION inventory_changes_since(p_prev pg_snapshot, p_origin text)
RETURNS TABLE (snapshot text, offer_ids bigint[], youth_ids bigint[]) LANGUAGE plpgsql AS $$
BEGIN
    -- one statement, so one snapshot: pg_current_snapshot() is the one the
    -- rows were read with
    RETURN QUERY EXECUTE $q$
    WITH c AS (
        SELECT ch.offer_id, ch.youth_id FROM inventory_changes ch
        WHERE ch.xid >= $1 AND ch.origin IS DISTINCT FROM $3
        UNION ALL
        SELECT ch.offer_id, ch.youth_id FROM inventory_changes ch
        WHERE ch.xid = ANY ($2) AND ch.origin IS DISTINCT FROM $3
    )
    SELECT pg_current_snapshot()::text,
           ARRAY(SELECT DISTINCT c.offer_id FROM c WHERE c.offer_id IS NOT NULL),
           ARRAY(SELECT DISTINCT c.youth_id FROM c WHERE c.youth_id IS NOT NULL)
    $q$ USING pg_snapshot_xmax(p_prev), ARRAY(SELECT pg_snapshot_xip(p_prev)), p_origin;
END $$;

-- Where a new reader starts (before it loads the inventory).
CREATE FUNCTION inventory_changes_start() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT pg_current_snapshot()::text;
$$;

-- Changes of transactions that ended more than keep_seconds ago go (the
-- scheduler, every minute; readers poll every quarter second, and one that
-- could not read for longer re-reads everything, see daemon/changes.c).
CREATE FUNCTION inventory_changes_purge(keep_seconds integer) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    v_mark inventory_change_marks;
    n integer;
BEGIN
    INSERT INTO inventory_change_marks (at, oldest) VALUES (now(), pg_snapshot_xmin(pg_current_snapshot()))
    ON CONFLICT (at) DO NOTHING;
    SELECT * INTO v_mark FROM inventory_change_marks
    WHERE at < now() - make_interval(secs => keep_seconds) ORDER BY at DESC LIMIT 1;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    DELETE FROM inventory_changes WHERE xid < v_mark.oldest;
    GET DIAGNOSTICS n = ROW_COUNT;
    DELETE FROM inventory_change_marks WHERE at < v_mark.at;
    RETURN n;
END $$;
