-- plans.sql (schema api, see sql/README.md): Allocation plans: the stored result of a
-- département's optimal allocation.

CREATE FUNCTION plan_json(p allocation_plans) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT p.plan || jsonb_build_object('id', p.id, 'departement', p.departement, 'on', p.on_date,
        'total_score', p.total_score, 'created_at', p.created_at, 'applied_at', p.applied_at,
        'applied', p.applied);
$$;

CREATE FUNCTION plan_check_scope(dep text, actor jsonb) RETURNS void LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF NOT (actor->>'role' = 'admin' OR (actor->>'role' = 'referent' AND (actor->'departements') ? dep)) THEN
        PERFORM siaod_fail(403, 'forbidden', 'this département is outside this token''s scope');
    END IF;
END $$;

CREATE FUNCTION plan_create(p_dep text, p_on date, p_total integer, p_plan jsonb, actor jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE p allocation_plans;
BEGIN
    PERFORM plan_check_scope(p_dep, actor);
    INSERT INTO allocation_plans (departement, on_date, token_id, total_score, plan)
    VALUES (p_dep, p_on, (actor->>'token_id')::bigint, p_total, p_plan)
    RETURNING * INTO p;
    PERFORM audit_write(actor, 'plan.create', 'plan', p.id, 'ok', 201);
    RETURN plan_json(p);
END $$;

CREATE FUNCTION plan_get(p_id bigint, actor jsonb) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE p allocation_plans;
BEGIN
    SELECT * INTO p FROM allocation_plans WHERE id = p_id;
    IF NOT FOUND THEN
        PERFORM siaod_fail(404, 'not-found', format('plan %s does not exist', p_id));
    END IF;
    PERFORM plan_check_scope(p.departement, actor);
    RETURN plan_json(p);
END $$;

CREATE FUNCTION plan_record_applied(p_id bigint, p_outcome jsonb, actor jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE p allocation_plans;
BEGIN
    UPDATE allocation_plans SET applied = coalesce(applied, '[]'::jsonb) || p_outcome, applied_at = now()
    WHERE id = p_id RETURNING * INTO p;
    PERFORM audit_write(actor, 'plan.apply', 'plan', p_id);
    RETURN jsonb_build_object('plan_id', p_id, 'results', p_outcome);
END $$;
