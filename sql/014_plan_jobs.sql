-- 014: allocation plans are computed in worker threads. A plan row exists
-- from the moment it is asked for (status queued), so its id can be given
-- at once (202 + Location); the planner's result fills it in (done) or not
-- (failed). Plans stored before this migration were computed on the spot:
-- they are done.
-- Referents see the file reference (ref) of the young people in a plan: it
-- is joined when the plan is read, never stored in the plan (erasing a young
-- person erases it from every plan too).

ALTER TABLE allocation_plans
    ADD COLUMN status text NOT NULL DEFAULT 'done'
        CONSTRAINT ck_allocation_plans__status CHECK (status IN ('queued', 'running', 'done', 'failed')),
    ADD COLUMN progress real NOT NULL DEFAULT 1
        CONSTRAINT ck_allocation_plans__progress CHECK (progress BETWEEN 0 AND 1),
    ADD COLUMN finished_at timestamptz,
    ALTER COLUMN plan DROP NOT NULL,
    ALTER COLUMN total_score DROP NOT NULL;
ALTER TABLE allocation_plans ALTER COLUMN status SET DEFAULT 'queued';
ALTER TABLE allocation_plans ALTER COLUMN progress SET DEFAULT 0;

-- assignments or unassigned of a plan, each with the young person's ref
CREATE FUNCTION plan_with_refs(items jsonb) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT coalesce(jsonb_agg(e.item || jsonb_build_object('ref', y.ref) ORDER BY e.n), '[]'::jsonb)
    FROM jsonb_array_elements(coalesce(items, '[]'::jsonb)) WITH ORDINALITY AS e(item, n)
    LEFT JOIN youth y ON y.id = (e.item->>'youth_id')::bigint;
$$;

CREATE OR REPLACE FUNCTION plan_json(p allocation_plans) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT coalesce(p.plan, '{}'::jsonb) || jsonb_build_object('id', p.id, 'departement', p.departement,
        'on', p.on_date, 'status', p.status, 'progress', p.progress, 'total_score', p.total_score,
        'created_at', p.created_at, 'finished_at', p.finished_at, 'applied_at', p.applied_at,
        'applied', p.applied)
        || CASE WHEN p.plan IS NULL THEN '{}'::jsonb ELSE jsonb_build_object(
            'assignments', plan_with_refs(p.plan->'assignments'),
            'unassigned', plan_with_refs(p.plan->'unassigned')) END;
$$;

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

-- The planner's result (p_plan NULL: it failed).
CREATE FUNCTION plan_finish(p_id bigint, p_total integer, p_plan jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
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
    RETURN plan_json(p);
END $$;
