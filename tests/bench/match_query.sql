-- GET /v1/youth/{id}/matches?limit=10 written as one SQL query, as the
-- developer of a conventional web application would: the same eligibility
-- rules and the same score as include/siaod/match.h (daemon/match.c), with
-- the default config (weights distance 35, duration 15, affordability 20,
-- support 20, availability 10; default_max_distance_km 30; time zone
-- Europe/Paris), best first by score, then distance, then offer id.
--
-- A pgbench script (tests/bench/run_match_bench.sh runs it with -M prepared);
-- psql runs it too after `\set id 42`. The indexes it relies on are in
-- tests/bench/match_indexes.sql.
--
-- Exactness: every step is the C one, in the same order of floating-point
-- operations (haversine with R = 6371.0 km, rounded to 0.1 km), and every
-- ratio becomes points by the same integer formula, round-half-up of
-- weight * num / den: (2 * weight * num + den) / (2 * den).
--
-- Free places: the active places of the offer that no placement holds on a
-- day of the wished stay, as the daemon's inventory counts them (its spans
-- are placements.held, sql/004_placements.sql); the test uses the GiST index
-- of the placements' no_double_booking exclusion constraint. As the score
-- does not depend on them, they are counted last, in rank order, only until
-- ten offers have a free place (what EXPLAIN ANALYZE suggests: counting them
-- for every eligible offer first halves the throughput).
\set id random(1, 200000)
WITH y AS (
    SELECT y.id, c.lat AS ylat, c.lon AS ylon, y.birth_date, y.rqth, y.gender,
           y.household, y.has_pets, 'wheelchair' = ANY (y.needs) AS needs_wheelchair,
           y.monthly_income_eur, y.wanted_from, y.wanted_months,
           10 * coalesce(y.max_distance_km, 30) AS max_tenths,      -- 0.1 km
           s.today, s.start_date,
           (s.start_date + make_interval(months => y.wanted_months))::date AS wanted_end,
           -- support need: the referent's, raised to standard by one of
           -- mental_health, addiction, justice_followup, to intensive by two
           CASE WHEN h.heavy >= 2 THEN 2
                WHEN h.heavy = 1 THEN greatest(1, s.need)
                ELSE s.need END AS need
    FROM youth y
    JOIN communes c ON c.insee = y.commune_insee
    CROSS JOIN LATERAL (SELECT (now() AT TIME ZONE 'Europe/Paris')::date AS today) t
    CROSS JOIN LATERAL (SELECT t.today,
                               greatest(t.today, y.wanted_from) AS start_date,
                               CASE y.support_need WHEN 'light' THEN 0
                                    WHEN 'standard' THEN 1 ELSE 2 END AS need) s
    CROSS JOIN LATERAL (SELECT ('mental_health' = ANY (y.needs))::int
                             + ('addiction' = ANY (y.needs))::int
                             + ('justice_followup' = ANY (y.needs))::int AS heavy) h
    WHERE y.id = :id AND y.erased_at IS NULL
),
eligible AS (
    SELECT o.id, o.capacity, d.tenths, y.start_date, p.end_date,
           -- points, each round(weight * num / den) as in ratio_points()
           CASE WHEN y.max_tenths - d.tenths >= y.max_tenths THEN 35
                WHEN y.max_tenths - d.tenths <= 0 THEN 0
                ELSE (2 * 35 * (y.max_tenths - d.tenths) + y.max_tenths) / (2 * y.max_tenths)
           END AS pts_distance,
           CASE WHEN p.end_date - y.start_date >= y.wanted_end - y.start_date THEN 15
                ELSE (2 * 15 * (p.end_date - y.start_date) + (y.wanted_end - y.start_date))
                     / (2 * (y.wanted_end - y.start_date))
           END AS pts_duration,
           CASE WHEN a.charge = 0 THEN 20
                WHEN a.income = 0 THEN 0
                WHEN 60 * a.income - 100 * a.charge >= 30 * a.income THEN 20
                WHEN 60 * a.income - 100 * a.charge <= 0 THEN 0
                ELSE (2 * 20 * (60 * a.income - 100 * a.charge) + 30 * a.income) / (2 * 30 * a.income)
           END AS pts_affordability,
           -- offer level - need: 0 full, +1 3/4, +2 1/2, -1 1/4, -2 none
           (ARRAY[0, 5, 20, 15, 10])[CASE o.support_level WHEN 'light' THEN 0
                                          WHEN 'standard' THEN 1 ELSE 2 END - y.need + 3]
               AS pts_support,
           CASE WHEN abs(y.start_date - greatest(y.today, y.wanted_from)) >= 90 THEN 0
                ELSE (2 * 10 * (90 - abs(y.start_date - greatest(y.today, y.wanted_from))) + 90) / (2 * 90)
           END AS pts_availability
    FROM y
    JOIN offers o
      ON earth_box(ll_to_earth(y.ylat, y.ylon), (y.max_tenths + 1) * 100.2) @> ll_to_earth(o.lat, o.lon)
    CROSS JOIN LATERAL (
        SELECT round(2 * 6371.0::float8 * asin(sqrt(least(1.0::float8,
                   sin((o.lat - y.ylat) * (pi() / 180.0::float8) / 2) * sin((o.lat - y.ylat) * (pi() / 180.0::float8) / 2)
                   + cos(y.ylat * (pi() / 180.0::float8)) * cos(o.lat * (pi() / 180.0::float8))
                     * sin((o.lon - y.ylon) * (pi() / 180.0::float8) / 2) * sin((o.lon - y.ylon) * (pi() / 180.0::float8) / 2))))
                   * 10)::bigint AS tenths) d
    CROSS JOIN LATERAL (
        SELECT CASE WHEN o.max_stay_days > 0 AND y.wanted_end - y.start_date > o.max_stay_days
                    THEN y.start_date + o.max_stay_days ELSE y.wanted_end END AS end_date) p
    CROSS JOIN LATERAL (
        SELECT round(o.monthly_charge_eur * 100)::bigint AS charge,
               round(y.monthly_income_eur * 100)::bigint AS income) a
    WHERE o.status = 'open'                                             -- closed
      AND y.start_date >= o.available_from
      AND (o.available_until IS NULL OR y.start_date <= o.available_until)
      AND d.tenths <= y.max_tenths                                      -- distance
      AND extract(year FROM age(y.start_date, y.birth_date))            -- age
          BETWEEN greatest(16, o.min_age) AND least(o.max_age, CASE WHEN y.rqth THEN 29 ELSE 25 END)
      AND (o.gender = 'any' OR o.gender = y.gender)                     -- gender
      AND CASE y.household WHEN 'couple' THEN o.accepts_couples         -- household
                           WHEN 'with_children' THEN o.accepts_children ELSE true END
      AND (NOT y.has_pets OR o.accepts_pets)                            -- pets
      AND (NOT y.needs_wheelchair OR o.wheelchair_accessible)           -- wheelchair
),
ranked AS (
    -- best first; the free places below are then counted in this order, only
    -- until ten offers have one (the fence keeps the sort below the count)
    SELECT e.*, e.pts_distance + e.pts_duration + e.pts_affordability + e.pts_support
                + e.pts_availability AS score
    FROM eligible e
    ORDER BY score DESC, e.tenths, e.id
    OFFSET 0
)
SELECT r.id AS offer_id, r.score, r.tenths / 10.0 AS distance_km, f.free_places,
       r.pts_distance, r.pts_duration, r.pts_affordability, r.pts_support, r.pts_availability
FROM ranked r
CROSS JOIN LATERAL (
    SELECT CASE WHEN r.capacity <= 0 THEN 0 ELSE (
        SELECT count(*) FROM places pl
        WHERE pl.offer_id = r.id AND pl.active
          -- no placement holds it on a day of the wished stay (held: an open
          -- placement's planned stay, an ended one's lived days)
          AND NOT EXISTS (SELECT 1 FROM placements pm
                          WHERE pm.place_id = pl.id
                            AND pm.held && daterange(r.start_date, r.end_date))
    ) END AS free_places) f
WHERE f.free_places > 0                                                 -- no_free_place
ORDER BY r.score DESC, r.tenths, r.id
LIMIT 10;
