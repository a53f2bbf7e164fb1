-- 009: retention. A young person with no activity for retention_months —
-- record not changed, no placement proposed, lived or ended since — is
-- anonymised as DELETE /v1/youth/{id} does: the record stays for the
-- statistics, nothing that points at the person does.

CREATE FUNCTION youth_retention(today date, months integer) RETURNS TABLE (youth_id bigint)
LANGUAGE sql AS $$
    WITH stale AS (
        SELECT y.id FROM youth y
        WHERE y.erased_at IS NULL AND y.status <> 'placed'
          AND y.updated_at::date < today - make_interval(months => months)
          AND y.registered_at < today - make_interval(months => months)
          AND NOT EXISTS (
              SELECT 1 FROM placements p WHERE p.youth_id = y.id
                AND (p.status IN ('proposed', 'accepted', 'active')
                     OR greatest(p.created_on, p.start_date, coalesce(p.actual_end_date, p.start_date))
                        >= today - make_interval(months => months)))
        FOR UPDATE OF y SKIP LOCKED
    ), erased AS (
        UPDATE youth y SET age_band = youth_age_band(y.birth_date, today), ref = NULL, birth_date = NULL,
            institution_exit_date = NULL, commune_insee = NULL, needs = '{}', has_pets = false,
            monthly_income_eur = 0, status = 'closed', erased_at = now(),
            version = y.version + 1, updated_at = now()
        FROM stale WHERE y.id = stale.id
        RETURNING y.id
    ), audited AS (
        INSERT INTO audit (role, action, entity, entity_id, outcome, status)
        SELECT 'system', 'youth.retention', 'youth', id, 'ok', 200 FROM erased
    )
    SELECT id FROM erased;
$$;
