-- tests/bench/placement_proto.sql: a prototype, loaded by
-- run_placement_bench.sh (BENCH_PROTO=plpgsql) into its throwaway cluster
-- only, never a migration: the LANGUAGE sql helpers that placement_create
-- and its trigger call once per placement, as LANGUAGE plpgsql with the same
-- bodies. PostgreSQL 15 parses and plans a non-inlined SQL function's
-- statements again on every call (nothing is cached across calls before
-- PostgreSQL 18); a PL/pgSQL function keeps its plans for the session, and
-- siaod's pooled connections live long. Same signatures, same results.

CREATE OR REPLACE FUNCTION audit_write(actor jsonb, action text, entity text, entity_id bigint,
                                       outcome text DEFAULT 'ok', status integer DEFAULT 200)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO audit (token_id, role, action, entity, entity_id, outcome, status, request_id)
    VALUES ((actor->>'token_id')::bigint, actor->>'role', action, entity, entity_id,
            outcome, status, actor->>'request_id');
END $$;

CREATE OR REPLACE FUNCTION outbox_fan_out(p_outbox bigint) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO deliveries (outbox_id, webhook_id)
    SELECT e.id, w.id FROM outbox e, webhooks w
    WHERE e.id = p_outbox AND w.status = 'active' AND e.type = ANY (w.event_types)
      AND (w.scope_departement IS NULL OR w.scope_departement = ANY (e.departements))
      AND (w.scope_porteur_id IS NULL OR w.scope_porteur_id = e.porteur_id)
    ON CONFLICT DO NOTHING;
    PERFORM pg_notify('siaod_outbox', p_outbox::text);
END $$;

CREATE OR REPLACE FUNCTION placement_event_data(p placements) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT jsonb_build_object('placement_id', p.id, 'offer_id', p.offer_id,
        'porteur_id', o.porteur_id, 'youth_id', p.youth_id, 'place_id', p.place_id,
        'status', p.status, 'start_date', p.start_date, 'planned_end_date', p.planned_end_date)
    FROM offers o WHERE o.id = p.offer_id);
END $$;

CREATE OR REPLACE FUNCTION placement_event_departements(p placements) RETURNS text[] LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN ARRAY[(SELECT departement FROM offers WHERE id = p.offer_id),
                 (SELECT departement FROM youth WHERE id = p.youth_id)];
END $$;

CREATE OR REPLACE FUNCTION placement_json(p placements) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT jsonb_build_object('id', p.id, 'youth_id', p.youth_id, 'offer_id', p.offer_id,
        'offer_label', o.label, 'porteur_id', o.porteur_id, 'departement', o.departement,
        'youth_departement', y.departement, 'place_id', p.place_id, 'place_number', pl.number,
        'status', p.status, 'start_date', p.start_date, 'planned_end_date', p.planned_end_date,
        'actual_end_date', p.actual_end_date, 'exit_destination', p.exit_destination,
        'refusal_reason', p.refusal_reason,
        'hold_until', CASE WHEN p.status IN ('proposed', 'accepted') THEN p.hold_until END,
        'youth', jsonb_build_object(
            'age_band', coalesce(y.age_band, youth_age_band(y.birth_date, p.start_date)),
            'household', y.household, 'needs', to_jsonb(y.needs), 'situation', y.situation,
            'support_need', y.support_need),
        'version', p.version, 'created_at', p.created_at, 'updated_at', p.updated_at)
    FROM offers o, youth y, places pl
    WHERE o.id = p.offer_id AND y.id = p.youth_id AND pl.id = p.place_id);
END $$;
