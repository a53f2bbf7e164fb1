-- 016: the functions the API calls leave the migrations. They now live in
-- sql/functions/*.sql, which siaod loads into schema `api` after the
-- migrations (daemon/migrate.c, sql/README.md): the whole schema is dropped
-- and created again in one transaction whenever those files change, so a
-- function is defined once and no stale overload survives. What a table,
-- index, constraint or trigger depends on stays here, in public
-- (departement_valid, fold_name, the trigger functions and the outbox
-- helpers they call).
--
-- This migration drops the old public copies, every overload of each name
-- (a migration before this one may have changed a signature), and creates
-- the table where the loader records the checksum of each file it loaded.

CREATE TABLE schema_functions (
    file       text PRIMARY KEY,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);

DO $$
DECLARE f regprocedure;
BEGIN
    FOR f IN
        SELECT p.oid::regprocedure FROM pg_proc p
        WHERE p.pronamespace = 'public'::regnamespace AND p.proname = ANY (ARRAY[
        'alerts_scan', 'audit_list', 'audit_purge', 'audit_unauthenticated', 'audit_write',
        'commune_search', 'deliveries_claim', 'deliveries_record', 'delivery_json',
        'delivery_list', 'delivery_retry', 'idem_abandon', 'idem_begin',
        'idem_forget_youth', 'idem_store', 'idem_store_text', 'if_match_version',
        'inv_offers', 'inv_places', 'inv_spans', 'inv_youth', 'jsonb_forget_youth',
        'offer_capacity_note', 'offer_capacity_segments', 'offer_check_owner',
        'offer_close', 'offer_create', 'offer_free_places', 'offer_if_match', 'offer_json',
        'offer_locate', 'offer_patch', 'offer_retirable_places', 'offer_retire_places',
        'offer_set_capacity', 'outbox_make_ready', 'outbox_unready', 'placement_beyond_cap',
        'placement_cap_end', 'placement_create', 'placement_get', 'placement_json',
        'placement_list', 'placement_transition', 'placement_visible', 'placements_expire',
        'plan_check_scope', 'plan_create', 'plan_get', 'plan_json', 'plan_record_applied',
        'porteur_create', 'porteur_get', 'porteur_if_match', 'porteur_json', 'porteur_list',
        'porteur_patch', 'report_indicators', 'report_porteur', 'siaod_fail',
        'siaod_field_error', 'stay_list', 'token_create', 'token_json', 'token_list',
        'token_lookup', 'token_revoke', 'webhook_create', 'webhook_delete', 'webhook_fetch',
        'webhook_json', 'webhook_list', 'webhook_visible', 'youth_age_band',
        'youth_check_dates', 'youth_check_scope', 'youth_create', 'youth_erase',
        'youth_fetch', 'youth_get', 'youth_if_match', 'youth_json', 'youth_list',
        'youth_locate', 'youth_patch', 'youth_retention'])
    LOOP
        EXECUTE format('DROP FUNCTION %s', f);
    END LOOP;
END $$;
