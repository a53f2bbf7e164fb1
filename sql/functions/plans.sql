-- plans.sql (schema api, see sql/README.md): Allocation plans: the stored result of a
-- département's optimal allocation.

-- A plan is stored as the JSON text the daemon wrote (migration 027), and
-- read back as text: a plan of 7,000 assignments is 4.5 MB, which PostgreSQL
-- is slow to take apart into values (each JSON function that returns parts
-- of it copies them; json_each of such a plan alone takes ~100 ms). So the
-- reader relies on how the plan text is written, which only the daemon
-- (plan_finish) and 027 do: every item of assignments and unassigned is an
-- object whose text starts with {"youth_id":<digits>, and that text occurs
-- nowhere else (a quote inside a JSON string is escaped; reasons and
-- exclusions have no youth_id). Cut there, the plan is a head
-- ({"assignments":[) then one piece per item, each starting with the
-- item's youth id.
--
-- The plan row as the API shows it: the row's own fields (extra: more of
-- them, the running apply of GET), then the plan's, each item with its
-- young person's ref first, looked up now, never stored: an erased young
-- person has none (null). The plan has none of the row's keys: no key is
-- there twice. The refs come from the young people of the plan's
-- département (one index scan, ~7,000 rows), by id for the few who are no
-- longer there (erased, or moved). The pieces are aggregated in the order
-- the split gives them (a set-returning function in a select list: one
-- pass, no sort, no copy into a tuple store). A generic plan always: a
-- custom one would split the plan while planning (p is then a constant).
CREATE FUNCTION plan_json(p allocation_plans, extra jsonb DEFAULT NULL) RETURNS text
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    own text := (jsonb_build_object('id', p.id, 'departement', p.departement,
        'on', p.on_date, 'status', p.status, 'progress', p.progress, 'total_score', p.total_score,
        'created_at', p.created_at, 'finished_at', p.finished_at, 'applied_at', p.applied_at,
        'applied', p.applied) || coalesce(extra, '{}'::jsonb))::text;
    out text;
BEGIN
    IF p.plan IS NULL THEN
        RETURN own;
    END IF;
    SELECT string_agg(CASE
               WHEN left(s.piece, 1) = '{' THEN      -- the head; {} has no key to follow the row's
                   left(own, -1) || CASE WHEN s.piece ~ '^\{\s*\}$' THEN '}' ELSE ',' || right(s.piece, -1) END
               ELSE '{"ref":' || coalesce((m.refs -> s.id)::text,
                                          to_json((SELECT y.ref FROM youth y WHERE y.id = s.id::bigint))::text, 'null')
                    || ',"youth_id":' || s.piece END, '')
    INTO out
    FROM (SELECT jsonb_object_agg(y.id, y.ref) AS refs FROM youth y
          WHERE y.departement = p.departement AND y.erased_at IS NULL) m,
         (SELECT piece, substring(left(piece, 24) FROM '^[0-9]+') AS id
          FROM (SELECT unnest(string_to_array(p.plan::text, '{"youth_id":')) AS piece) cut) s;
    RETURN out;
END $$;

CREATE FUNCTION plan_check_scope(dep text, actor jsonb) RETURNS void LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF NOT (actor->>'role' = 'admin' OR (actor->>'role' = 'referent' AND (actor->'departements') ? dep)) THEN
        PERFORM siaod_fail(403, 'forbidden', 'this département is outside this token''s scope');
    END IF;
END $$;

-- The plan is asked for: a queued row, checked for scope and audited.
CREATE FUNCTION plan_enqueue(p_dep text, p_on date, actor jsonb) RETURNS text
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
-- id and status back, not the whole plan with its refs (4.5 MB for a large
-- plan, sent for nothing).
-- A generic plan always: a custom one would copy the 4.5 MB plan into the
-- UPDATE's plan as a constant, several times.
CREATE FUNCTION plan_finish(p_id bigint, p_total integer, p_plan json, p_answer boolean DEFAULT true)
RETURNS text LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
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
        RETURN jsonb_build_object('id', p.id, 'status', p.status)::text;
    END IF;
    RETURN plan_json(p);
END $$;

-- extra: fields added to the row's (GET adds the running apply).
CREATE FUNCTION plan_get(p_id bigint, actor jsonb, extra jsonb DEFAULT NULL) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE p allocation_plans;
BEGIN
    SELECT * INTO p FROM allocation_plans WHERE id = p_id;
    IF NOT FOUND THEN
        PERFORM siaod_fail(404, 'not-found', format('plan %s does not exist', p_id));
    END IF;
    PERFORM plan_check_scope(p.departement, actor);
    RETURN plan_json(p, extra);
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
