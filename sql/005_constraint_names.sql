-- 005: constraint fixes found by the API tests.
--  * the shared-flat cap rule is about max_stay_days: name it so, and the
--    daemon's 400 points at /max_stay_days (see check_violation in api.c);
--  * département codes: 01-95 without 20 (Corsica is 2A/2B), and the DROM
--    971-974 and 976 — 96-99 and 975 are not départements.

ALTER TABLE offers RENAME CONSTRAINT ck_offers__shared_flat_cap TO ck_offers__max_stay_days__shared_flat;

CREATE FUNCTION departement_valid(d text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT d ~ '^(0[1-9]|1[0-9]|2[1-9]|2A|2B|[3-8][0-9]|9[0-5]|97[1-46])$';
$$;

ALTER TABLE porteurs DROP CONSTRAINT ck_porteurs__departement,
    ADD CONSTRAINT ck_porteurs__departement CHECK (departement_valid(departement));
ALTER TABLE offers DROP CONSTRAINT ck_offers__departement,
    ADD CONSTRAINT ck_offers__departement CHECK (departement_valid(departement));
ALTER TABLE youth DROP CONSTRAINT ck_youth__departement,
    ADD CONSTRAINT ck_youth__departement CHECK (departement_valid(departement));
