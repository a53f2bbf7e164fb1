-- 018: imports from spreadsheets, freshness of capacity, refusals that count.
--  * offers get the porteur's own code (external_ref, unique per porteur) and
--    when their capacity was last confirmed (confirmed_at, and confirmed_on in
--    the daemon's "today" so the test clock moves it);
--  * young people's (departement, ref) is unique among those not erased;
--  * a refusal says who refused (refused_by) and when (answered_at/_on, also
--    set on accept); the reasons are the config's (refusal_reasons), no
--    longer a CHECK;
--  * offer.reconfirm_due joins the webhooks' event types.
-- Schema only: the functions that use these columns (imports, confirmation,
-- the reminder scan, the indicators, offer_json, placement_transition...)
-- are in sql/functions (imports.sql, offers.sql, placements.sql, reports.sql).

-------------------------------------------------------------- duplicates first
-- An existing duplicate would make the unique index fail with a bare
-- "could not create unique index": name them instead, by id only (a ref is
-- personal enough to stay out of logs), so an operator can merge or erase.
DO $$
DECLARE dups text;
BEGIN
    SELECT string_agg(format('département %s: young people %s', departement, ids), '; ')
    INTO dups FROM (
        SELECT departement, string_agg(id::text, ', ' ORDER BY id) AS ids
        FROM youth WHERE erased_at IS NULL AND ref IS NOT NULL
        GROUP BY departement, ref HAVING count(*) > 1) d;
    IF dups IS NOT NULL THEN
        RAISE EXCEPTION 'migration 018: young people share a ref within a département; give each a distinct ref (PATCH /v1/youth/{id}) or erase the duplicates, then restart: %', dups;
    END IF;
END $$;

ALTER TABLE offers
    ADD COLUMN external_ref text CONSTRAINT ck_offers__external_ref CHECK (length(external_ref) BETWEEN 1 AND 64),
    ADD COLUMN confirmed_at timestamptz,
    ADD COLUMN confirmed_on date;
-- From the last update, without the triggers: nothing changed, so no event
-- and no NOTIFY.
ALTER TABLE offers DISABLE TRIGGER USER;
UPDATE offers SET confirmed_at = updated_at,
                  confirmed_on = (updated_at AT TIME ZONE 'Europe/Paris')::date;
ALTER TABLE offers ENABLE TRIGGER USER;
-- A row written by other means than the API (demo data, a bench, an
-- operator's SQL) counts as confirmed when written, as the backfill does.
ALTER TABLE offers ALTER COLUMN confirmed_at SET NOT NULL, ALTER COLUMN confirmed_at SET DEFAULT now(),
                   ALTER COLUMN confirmed_on SET NOT NULL,
                   ALTER COLUMN confirmed_on SET DEFAULT ((now() AT TIME ZONE 'Europe/Paris')::date);
CREATE UNIQUE INDEX offers_external_ref_uq ON offers (porteur_id, external_ref)
    WHERE external_ref IS NOT NULL;
CREATE UNIQUE INDEX youth_ref_uq ON youth (departement, ref)
    WHERE erased_at IS NULL AND ref IS NOT NULL;

-- Refusals: the reasons come from the config (the daemon checks them), so a
-- SIAO can add one without a migration; a code stays a short slug.
ALTER TABLE placements DROP CONSTRAINT ck_placements__refusal_reason;
ALTER TABLE placements
    ADD CONSTRAINT ck_placements__refusal_reason CHECK (refusal_reason ~ '^[a-z][a-z0-9_]{0,39}$'),
    ADD COLUMN refused_by text CONSTRAINT ck_placements__refused_by CHECK (refused_by IN ('youth', 'porteur')),
    ADD COLUMN answered_at timestamptz,
    ADD COLUMN answered_on date;
ALTER TABLE placements DISABLE TRIGGER USER;
UPDATE placements SET refused_by = CASE WHEN refusal_reason = 'youth_declined' THEN 'youth' ELSE 'porteur' END
WHERE status = 'refused';
UPDATE placements SET answered_on = accepted_on WHERE accepted_on IS NOT NULL;
ALTER TABLE placements ENABLE TRIGGER USER;
-- the cooldown looks up a young person's own refusals
CREATE INDEX placements_declined_idx ON placements (youth_id, offer_id)
    WHERE status = 'refused' AND refused_by = 'youth';

ALTER TABLE webhooks DROP CONSTRAINT ck_webhooks__event_types;
ALTER TABLE webhooks ADD CONSTRAINT ck_webhooks__event_types CHECK (
    cardinality(event_types) >= 1 AND event_types <@ ARRAY['stay.ending_soon',
    'stay.overdue', 'offer.capacity_available', 'placement.status_changed', 'hold.expired',
    'offer.reconfirm_due']);
