-- tests/bench/placement_data.sql: the small data set of the placement
-- benchmark (run_placement_bench.sh), made in SQL from the communes the
-- migrations load. psql variables: today, communes, offers, youth, hot_youth,
-- hot_capacity. Deterministic (setseed; each statement's scan order is).
--
-- Every young person is eligible for every offer of their own commune (the
-- offers take 16-29 year-olds of any gender, couples, children, pets and
-- wheelchairs; the young people are 19-21, alone, without needs, and wish
-- the commune of the offers, at distance 0), so a proposal is decided by free
-- places alone: 201, or 409 no-free-place.
--
--   :communes the most populous communes, :offers offers spread over them
--             (offer i at commune (i - 1) % :communes), capacity 1-6 by kind,
--             with the kinds' caps (fjt: none);
--   10 "hot" offers: FJTs of :hot_capacity places in the most populous commune;
--   :youth young people wishing the communes in turn (young person j the
--             commune (j - 1) % :communes), then :hot_youth wishing the hot
--             commune.
-- and two request lists (CSV youth_id,offer_id,start_date,planned_end_date),
-- one line per young person, in a shuffled order, written by the caller:
--   bench_requests_spread: each young person of the first set proposes for
--             one offer of their commune drawn at random;
--   bench_requests_hot:    each young person of the second set for one of
--             the 10 hot offers.
-- The placements table starts with six ended stays per place (history).
-- Each stay is 28 days, starting on a day drawn in the next 700 (spread) or
-- the next :hot_days (hot): places are free most of the time, and two
-- proposals meet on a place only by chance (spread) or often (hot). The hot
-- horizon is longer so that the 400 hot places are not full before the run
-- ends: 400 places × 700 days hold at most 10,000 stays of 28 days, which
-- 1,000 requests a second fill in about 10 s, and the rest of the run then
-- measures refusals (409 no-free-place), not contention. Hence, for the
-- hot set, stays of :hot_stay days (the caller's) over :hot_days days: 14
-- days over 2,500 hold 71,000 stays, twice what a 20 s run asks. Not much
-- longer than that: its young people (16 to 18 years old today) must still
-- be of an age the offers take (at most 25) when their stay starts.

SELECT setseed(0.20240601);

CREATE TEMP TABLE bench_communes AS
SELECT row_number() OVER (ORDER BY population DESC NULLS LAST, insee) - 1 AS k, insee, departement, lat, lon
FROM communes ORDER BY population DESC NULLS LAST, insee LIMIT :communes;

INSERT INTO porteurs (id, name, departement, target_youth)
SELECT row_number() OVER (ORDER BY departement), 'Association bench ' || departement, departement, 100
FROM (SELECT DISTINCT departement FROM bench_communes) d;

ALTER TABLE offers DISABLE TRIGGER USER;
ALTER TABLE places DISABLE TRIGGER USER;
ALTER TABLE youth DISABLE TRIGGER USER;

INSERT INTO offers (id, porteur_id, kind, label, commune_insee, departement, lat, lon, capacity,
    max_stay_days, min_age, max_age, gender, accepts_couples, accepts_children, accepts_pets,
    wheelchair_accessible, support_level, monthly_charge_eur, available_from, available_until, status)
SELECT i, p.id, x.kind, x.kind || ' bench n°' || i, c.insee, c.departement, c.lat, c.lon,
       CASE x.kind WHEN 'fjt' THEN 3 + (i % 4) WHEN 'shared_flat' THEN 3 + (i % 3) ELSE 1 + (i % 3) END,
       CASE x.kind WHEN 'iml' THEN 540 WHEN 'alt' THEN 180 WHEN 'studio_tiroir' THEN 180
                   WHEN 'shared_flat' THEN 90 END,
       16, 29, 'any', true, true, true, true, 'standard', 250, date :'today' - 800, NULL, 'open'
FROM generate_series(1, :offers) i
JOIN bench_communes c ON c.k = (i - 1) % :communes
JOIN porteurs p ON p.departement = c.departement
CROSS JOIN LATERAL (SELECT (ARRAY['iml', 'iml', 'iml', 'alt', 'alt', 'studio_tiroir', 'fjt', 'fjt',
                                  'shared_flat', 'iml'])[1 + (i * 7) % 10] AS kind) x;

INSERT INTO offers (id, porteur_id, kind, label, commune_insee, departement, lat, lon, capacity,
    max_stay_days, min_age, max_age, gender, accepts_couples, accepts_children, accepts_pets,
    wheelchair_accessible, support_level, monthly_charge_eur, available_from, available_until, status)
SELECT :offers + h, p.id, 'fjt', 'FJT bench (hot) n°' || h, c.insee, c.departement, c.lat, c.lon,
       :hot_capacity, NULL, 16, 29, 'any', true, true, true, true, 'standard', 400,
       date :'today' - 800, NULL, 'open'
FROM generate_series(1, 10) h
JOIN bench_communes c ON c.k = 0
JOIN porteurs p ON p.departement = c.departement;

INSERT INTO places (offer_id, number, active)
SELECT o.id, n, true FROM offers o, generate_series(1, o.capacity) n ORDER BY o.id, n;

INSERT INTO youth (id, ref, departement, birth_date, rqth, gender, household, has_pets, needs,
    situation, institution_exit_date, commune_insee, max_distance_km, monthly_income_eur,
    support_need, wanted_from, wanted_months, registered_at, status)
SELECT j, 'P' || lpad(j::text, 7, '0'), c.departement,
       -- the hot set younger (16 to 18): old enough for the offers today,
       -- young enough for stays that start years ahead (see below)
       date :'today' - CASE WHEN j <= :youth THEN interval '19 years' ELSE interval '16 years' END
                     - (j % 900) * interval '1 day', false,
       (ARRAY['female', 'male', 'other'])[1 + j % 3], 'alone', false, '{}', 'street', NULL,
       c.insee, NULL, 500, 'standard', date :'today', 6, date :'today' - (j % 300), 'waiting'
FROM generate_series(1, :youth + :hot_youth) j
JOIN bench_communes c ON c.k = CASE WHEN j <= :youth THEN (j - 1) % :communes ELSE 0 END;

-- History, as a database in service has: six past stays of 60 days per
-- place over the last two years (ended), so that the placements table, its
-- indexes and its statistics are those of a table in use, not of an empty
-- one. The runs delete only what they add (id > the history's last).
ALTER TABLE placements DISABLE TRIGGER USER;
INSERT INTO placements (youth_id, offer_id, place_id, status, start_date, planned_end_date,
    actual_end_date, exit_destination, created_on, entered_on)
SELECT 1 + (pl.id * 7 + k * 7919) % (:youth + :hot_youth), pl.offer_id, pl.id, 'ended',
       e - 60, e, e, 'unknown', e - 60, e - 60
FROM places pl, generate_series(0, 5) k,
     LATERAL (SELECT date :'today' - 1 - k * 100 - (pl.id % 30)::integer AS e) d
ORDER BY pl.id, k;
ALTER TABLE placements ENABLE TRIGGER USER;

ALTER TABLE offers ENABLE TRIGGER USER;
ALTER TABLE places ENABLE TRIGGER USER;
ALTER TABLE youth ENABLE TRIGGER USER;

SELECT setval('porteurs_id_seq', (SELECT max(id) FROM porteurs));
SELECT setval('offers_id_seq', (SELECT max(id) FROM offers));
SELECT setval('places_id_seq', (SELECT max(id) FROM places));
SELECT setval('youth_id_seq', (SELECT max(id) FROM youth));
SELECT setval('placements_id_seq', (SELECT max(id) FROM placements));

-- offers per commune: offer i is at commune (i - 1) % :communes
CREATE TABLE bench_requests_spread AS
SELECT j AS youth_id,
       ((j - 1) % :communes) + 1 + :communes * floor(random() * ceil(:offers::numeric / :communes))::integer AS offer_id,
       date :'today' + floor(random() * 700)::integer AS start_date
FROM generate_series(1, :youth) j;
-- the last commune rounds may have fewer offers: fold those back
UPDATE bench_requests_spread SET offer_id = ((youth_id - 1) % :communes) + 1 WHERE offer_id > :offers;
ALTER TABLE bench_requests_spread ADD COLUMN ord float8;
UPDATE bench_requests_spread SET ord = random();

CREATE TABLE bench_requests_hot AS
SELECT :youth + j AS youth_id, :offers + 1 + floor(random() * 10)::integer AS offer_id,
       date :'today' + floor(random() * :hot_days)::integer AS start_date, random() AS ord
FROM generate_series(1, :hot_youth) j;
