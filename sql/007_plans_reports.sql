-- 007: allocation plans (advisory, stored, applied only on request) and the
-- indicators of the bilans.

CREATE TABLE allocation_plans (
    id          bigserial PRIMARY KEY,
    departement text NOT NULL CONSTRAINT ck_allocation_plans__departement CHECK (departement_valid(departement)),
    on_date     date NOT NULL,
    token_id    bigint,
    total_score integer NOT NULL,
    plan        jsonb NOT NULL,       -- assignments (with reasons) and who is left out, and why
    applied     jsonb,                -- the outcome of each applied pair
    created_at  timestamptz NOT NULL DEFAULT now(),
    applied_at  timestamptz
);

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

---------------------------------------------------------------- indicators

-- Capacity segments of an offer: each state of offer_capacity_history
-- holds until the next; the first also reaches back to available_from; all
-- cut to [available_from, available_until].
CREATE FUNCTION offer_capacity_segments(o offers) RETURNS TABLE (seg daterange, capacity integer, open boolean)
LANGUAGE sql STABLE AS $$
    WITH h AS (
        SELECT from_day, capacity, open FROM offer_capacity_history WHERE offer_id = o.id
    ), s AS (
        SELECT CASE WHEN from_day = (SELECT min(from_day) FROM h) THEN '-infinity'::date ELSE from_day END AS f,
               lead(from_day) OVER (ORDER BY from_day) AS t, capacity, open
        FROM h
        UNION ALL
        SELECT '-infinity'::date, NULL, o.capacity, o.status = 'open' WHERE NOT EXISTS (SELECT 1 FROM h)
    )
    SELECT daterange(f, t) * daterange(o.available_from, o.available_until + 1), capacity, open FROM s;
$$;

-- The indicators of one porteur over [p_from, p_to] (both days included).
-- Definitions (also in clients/openapi.yaml):
--   youth_accompanied   distinct young people with a stay (active or ended)
--                       on the porteur's offers that overlaps the period
--   proposals           placements proposed on its offers during the period;
--   accepted            of those, the ones the porteur accepted;
--   acceptance_rate     accepted / proposals (null without proposals)
--   refusals            of those proposals, refused, by coded reason
--   entries             stays that began (entry date) during the period
--   exits               stays that ended during the period, by destination;
--   durable_share       exits to durable_housing / exits
--   mean_stay_days, median_stay_days   length of the stays that ended in the
--                       period (exit date - entry date)
--   stays_to_cap        stays that ended in the period on or after a planned
--                       end that was the offer's cap
--   occupancy_rate      place-days held by stays in the period / place-days
--                       of capacity while the offer was open in the period
--   median_days_to_entry  for the young people whose first entry (on any
--                       offer of this porteur) is in the period: first entry
--                       - registered_at, median
CREATE FUNCTION report_porteur(p porteurs, p_from date, p_to date) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    WITH per AS (SELECT daterange(p_from, p_to + 1) AS r),
    pl AS (
        SELECT x.* FROM placements x JOIN offers o ON o.id = x.offer_id WHERE o.porteur_id = p.id
    ),
    stays AS (
        SELECT pl.*, daterange(pl.start_date, coalesce(pl.actual_end_date, pl.planned_end_date)) AS lived
        FROM pl WHERE pl.status IN ('active', 'ended')
    ),
    proposed AS (SELECT * FROM pl, per WHERE per.r @> pl.created_on),
    exited AS (SELECT * FROM stays, per WHERE stays.status = 'ended' AND per.r @> stays.actual_end_date),
    occ AS (
        SELECT coalesce(sum(upper(s.lived * per.r) - lower(s.lived * per.r)), 0) AS held
        FROM stays s, per WHERE s.lived && per.r
    ),
    cap AS (
        SELECT coalesce(sum(seg.capacity * (upper(seg.seg * per.r) - lower(seg.seg * per.r))), 0) AS days
        FROM offers o, per, LATERAL offer_capacity_segments(o) seg
        WHERE o.porteur_id = p.id AND seg.open AND seg.seg && per.r
    ),
    firsts AS (
        SELECT s.youth_id, min(s.start_date) AS first_entry FROM stays s GROUP BY s.youth_id
    ),
    waits AS (
        SELECT f.first_entry - y.registered_at AS days
        FROM firsts f JOIN youth y ON y.id = f.youth_id, per WHERE per.r @> f.first_entry
    )
    SELECT jsonb_build_object(
        'porteur_id', p.id, 'name', p.name, 'departement', p.departement,
        'target_youth', p.target_youth,
        'youth_accompanied', (SELECT count(DISTINCT youth_id) FROM stays, per WHERE stays.lived && per.r),
        'proposals', (SELECT count(*) FROM proposed),
        'accepted', (SELECT count(*) FROM proposed WHERE accepted_on IS NOT NULL),
        'acceptance_rate', (SELECT round(count(*) FILTER (WHERE accepted_on IS NOT NULL)::numeric
                                   / nullif(count(*), 0), 4) FROM proposed),
        'refusals', (SELECT coalesce(jsonb_object_agg(refusal_reason, n), '{}') FROM
                        (SELECT refusal_reason, count(*) AS n FROM proposed WHERE status = 'refused'
                         GROUP BY refusal_reason) r),
        'entries', (SELECT count(*) FROM stays, per WHERE per.r @> stays.start_date),
        'exits', (SELECT count(*) FROM exited),
        'exits_by_destination', (SELECT coalesce(jsonb_object_agg(exit_destination, n), '{}') FROM
                        (SELECT exit_destination, count(*) AS n FROM exited GROUP BY exit_destination) d),
        'durable_share', (SELECT round(count(*) FILTER (WHERE exit_destination = 'durable_housing')::numeric
                                 / nullif(count(*), 0), 4) FROM exited),
        'mean_stay_days', (SELECT round(avg(actual_end_date - start_date), 2) FROM exited),
        'median_stay_days', (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY actual_end_date - start_date)
                             FROM exited),
        'stays_to_cap', (SELECT count(*) FROM exited WHERE capped AND actual_end_date >= planned_end_date),
        'place_days_held', (SELECT held FROM occ),
        'place_days_capacity', (SELECT days FROM cap),
        'occupancy_rate', (SELECT round(occ.held::numeric / nullif(cap.days, 0), 4) FROM occ, cap),
        'median_days_to_entry', (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY days) FROM waits));
$$;

-- f: {departement, porteur_id, from, to}; scoped: a porteur its own, a
-- referent the porteurs of its départements, an admin all.
CREATE FUNCTION report_indicators(f jsonb, actor jsonb) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'from', (f->>'from')::date, 'to', (f->>'to')::date,
        'departement', f->>'departement', 'porteur_id', (f->>'porteur_id')::bigint,
        'items', coalesce(jsonb_agg(report_porteur(p, (f->>'from')::date, (f->>'to')::date) ORDER BY p.id), '[]'))
    FROM porteurs p
    WHERE (f->>'departement' IS NULL OR p.departement = f->>'departement')
      AND (f->>'porteur_id' IS NULL OR p.id = (f->>'porteur_id')::bigint)
      AND CASE actor->>'role'
            WHEN 'admin' THEN true
            WHEN 'porteur' THEN p.id = (actor->>'porteur_id')::bigint
            WHEN 'referent' THEN (actor->'departements') ? p.departement
            ELSE false END;
$$;

CREATE INDEX placements_offer_start_idx ON placements (offer_id, start_date);
