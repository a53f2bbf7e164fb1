-- plans.sql (schema api, see sql/README.md): Allocation plans: the stored result of a
-- département's optimal allocation.

-- assignments or unassigned of a plan, each with the young person's ref
CREATE FUNCTION plan_with_refs(items jsonb) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT coalesce(jsonb_agg(e.item || jsonb_build_object('ref', y.ref) ORDER BY e.n), '[]'::jsonb)
    FROM jsonb_array_elements(coalesce(items, '[]'::jsonb)) WITH ORDINALITY AS e(item, n)
    LEFT JOIN youth y ON y.id = (e.item->>'youth_id')::bigint;
$$;

CREATE FUNCTION plan_json(p allocation_plans) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT coalesce(p.plan, '{}'::jsonb) || jsonb_build_object('id', p.id, 'departement', p.departement,
        'on', p.on_date, 'status', p.status, 'progress', p.progress, 'total_score', p.total_score,
        'created_at', p.created_at, 'finished_at', p.finished_at, 'applied_at', p.applied_at,
        'applied', p.applied)
        || CASE WHEN p.plan IS NULL THEN '{}'::jsonb ELSE jsonb_build_object(
            'assignments', plan_with_refs(p.plan->'assignments'),
            'unassigned', plan_with_refs(p.plan->'unassigned')) END;
$$;

CREATE FUNCTION plan_check_scope(dep text, actor jsonb) RETURNS void LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF NOT (actor->>'role' = 'admin' OR (actor->>'role' = 'referent' AND (actor->'departements') ? dep)) THEN
        PERFORM siaod_fail(403, 'forbidden', 'this département is outside this token''s scope');
    END IF;
END $$;

-- The plan is asked for: a queued row, checked for scope and audited.
CREATE FUNCTION plan_enqueue(p_dep text, p_on date, actor jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE p allocation_plans;
BEGIN
    PERFORM plan_check_scope(p_dep, actor);
    INSERT INTO allocation_plans (departement, on_date, token_id, status, progress)
    VALUES (p_dep, p_on, (actor->>'token_id')::bigint, 'queued', 0)
    RETURNING * INTO p;
    PERFORM audit_write(actor, 'plan.create', 'plan', p.id, 'ok', 202);
    RETURN plan_json(p);
END $$;

-- The planner's result (p_plan NULL: it failed). p_answer false: the request
-- was already answered (202), nobody reads the plan now (GET will): only its
-- id and status back, not the whole plan with its refs (a large plan's
-- plan_json costs as much as storing it).
CREATE FUNCTION plan_finish(p_id bigint, p_total integer, p_plan jsonb, p_answer boolean DEFAULT true)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE p allocation_plans;
BEGIN
    UPDATE allocation_plans
    SET status = CASE WHEN p_plan IS NULL THEN 'failed' ELSE 'done' END,
        progress = CASE WHEN p_plan IS NULL THEN progress ELSE 1 END,
        total_score = p_total, plan = p_plan, finished_at = now()
    WHERE id = p_id RETURNING * INTO p;
    IF NOT FOUND THEN
        PERFORM siaod_fail(404, 'not-found', format('plan %s does not exist', p_id));
    END IF;
    IF NOT p_answer THEN
        RETURN jsonb_build_object('id', p.id, 'status', p.status);
    END IF;
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
