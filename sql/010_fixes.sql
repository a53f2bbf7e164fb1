-- 010: fixes found by the clients' tests. (Applied migrations are never
-- edited — siaod refuses a changed one — so fixes come as new migrations.)
--  * occupancy counts only days of open capacity, and days to entry are
--    never negative, whatever dates entries were recorded with;
--  * communes are searched through an index on their folded names.

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
    exited AS (SELECT * FROM stays, per WHERE stays.status = 'ended' AND per.r @> stays.actual_end_date),
    -- only days the offer counted as open capacity: a stay recorded from
    -- before the offer was registered cannot push the rate above 1
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
        -- a young person registered after an entry recorded retroactively waited 0 days
        SELECT greatest(f.first_entry - y.registered_at, 0) AS days
        FROM firsts f JOIN youth y ON y.id = f.youth_id, per WHERE per.r @> f.first_entry
    )
    SELECT jsonb_build_object(
        'porteur_id', p.id, 'name', p.name, 'departement', p.departement,
        'target_youth', p.target_youth,
        'youth_accompanied', (SELECT count(DISTINCT youth_id) FROM stays, per WHERE stays.lived && per.r),
        'proposals', (SELECT count(*) FROM proposed),
        'accepted', (SELECT count(*) FROM proposed WHERE accepted_on IS NOT NULL),
        'acceptance_rate', (SELECT round(count(*) FILTER (WHERE accepted_on IS NOT NULL)::numeric
                                   / nullif(count(*), 0), 4) FROM proposed),
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

-- Names folded for search: lower case, no accents, no hyphens or apostrophes.
CREATE FUNCTION fold_name(s text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT lower(translate(s, 'ÀÂÄÇÉÈÊËÎÏÔÖÙÛÜŸàâäçéèêëîïôöùûüÿ''-', 'AAACEEEEIIOOUUUYaaaceeeeiioouuuy  '));
$$;
CREATE INDEX communes_folded_name_idx ON communes (fold_name(name) text_pattern_ops);

-- EXECUTE ... USING plans with the actual prefix, so the LIKE uses the
-- index (a plan made for any parameter would scan all 35,000 communes).
CREATE OR REPLACE FUNCTION commune_search(q text, dep text, lim integer) RETURNS jsonb
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
