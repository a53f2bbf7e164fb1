-- The indexes a developer of a conventional web application would create for
-- tests/bench/match_query.sql (run once after the data is loaded, then
-- ANALYZE). youth(id), communes(insee) and offers(id) are primary keys
-- already; places(offer_id, number) is unique already.

-- "Offers near a point": earthdistance over cube, a GiST index on the offer's
-- position as a point of the earth, restricted to what can be matched at all.
CREATE EXTENSION IF NOT EXISTS cube SCHEMA public;
CREATE EXTENSION IF NOT EXISTS earthdistance SCHEMA public;
CREATE INDEX IF NOT EXISTS bench_offers_open_earth_idx
    ON offers USING gist (ll_to_earth(lat, lon)) WHERE status = 'open';

-- Free places of an offer: its active places (an index-only scan once the
-- table is vacuumed), each tested against placements.held with the GiST
-- index of the no_double_booking exclusion constraint (place_id, held),
-- which sql/004_placements.sql creates already.
CREATE INDEX IF NOT EXISTS bench_places_active_idx ON places (offer_id, id) WHERE active;
