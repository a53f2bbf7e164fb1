-- reports.sql (schema api, see sql/README.md): Indicators for the bilans: per porteur, over a
-- period.

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

-- The indicators of one porteur over [p_from, p_to] (both days included),
-- as in 010, with the acceptance rate on answered proposals only.
-- Definitions (also in clients/openapi.yaml):
--   proposals           placements proposed on its offers during the period
--                       (whatever became of them);
--   accepted            of those, the ones the porteur accepted at some point
--                       (accepted_on set: entered, ended, cancelled or
--                       expired after the acceptance all count);
--   refused             of those, the ones the porteur refused (refused_by
--                       porteur: a young person's decline, recorded by
--                       either side, is no answer of the porteur's);
--   pending             of those, the ones still waiting for an answer
--                       (status proposed);
--   acceptance_rate     accepted / (accepted + refused), null when neither:
--                       pending proposals, and those cancelled or expired
--                       before any answer, are left out;
--   refusals            the refused ones by coded reason.
-- The other figures are 010's (see that file).
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
    answered AS (
        SELECT count(*) FILTER (WHERE accepted_on IS NOT NULL) AS accepted,
               count(*) FILTER (WHERE status = 'refused' AND accepted_on IS NULL
                                AND refused_by IS DISTINCT FROM 'youth') AS refused,
               count(*) FILTER (WHERE status = 'proposed') AS pending
        FROM proposed
    ),
    exited AS (SELECT * FROM stays, per WHERE stays.status = 'ended' AND per.r @> stays.actual_end_date),
    occ AS (
        SELECT coalesce(sum(upper(z.x) - lower(z.x)), 0) AS held FROM (
            SELECT s.lived * per.r * seg.seg AS x
            FROM stays s JOIN offers o ON o.id = s.offer_id, per, LATERAL offer_capacity_segments(o) seg
            WHERE seg.open AND s.lived && per.r AND s.lived && seg.seg) z
        WHERE NOT isempty(z.x)
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
        SELECT greatest(f.first_entry - y.registered_at, 0) AS days
        FROM firsts f JOIN youth y ON y.id = f.youth_id, per WHERE per.r @> f.first_entry
    )
    SELECT jsonb_build_object(
        'porteur_id', p.id, 'name', p.name, 'departement', p.departement,
        'target_youth', p.target_youth,
        'youth_accompanied', (SELECT count(DISTINCT youth_id) FROM stays, per WHERE stays.lived && per.r),
        'proposals', (SELECT count(*) FROM proposed),
        'accepted', (SELECT accepted FROM answered),
        'refused', (SELECT refused FROM answered),
        'pending', (SELECT pending FROM answered),
        'acceptance_rate', (SELECT round(accepted::numeric / nullif(accepted + refused, 0), 4) FROM answered),
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

-- What issue 16 adds per porteur, merged into report_porteur's object:
--   refusals_by_side      {youth: {reason: n}, porteur: {reason: n}}: the
--                         proposals of [from, to] refused, by side and reason;
--   median_hours_to_answer  median of answered_at - created_at (hours, 2
--                         decimals) over the proposals of [from, to] answered;
--   offers_open           open offers now;
--   offers_confirmed_in_time  of those, confirmed within reconfirm_days of
--                         today (today - confirmed_on <= reconfirm_days);
--   confirmed_in_time_share   the ratio (4 decimals), null without open offers.
CREATE FUNCTION report_porteur_answers(p porteurs, p_from date, p_to date, today date,
                                       reconfirm_days integer) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    WITH proposed AS (
        SELECT x.* FROM placements x JOIN offers o ON o.id = x.offer_id
        WHERE o.porteur_id = p.id AND x.created_on BETWEEN p_from AND p_to
    ), fresh AS (
        SELECT count(*) AS open,
               count(*) FILTER (WHERE today - confirmed_on <= reconfirm_days) AS in_time
        FROM offers WHERE porteur_id = p.id AND status = 'open'
    )
    SELECT jsonb_build_object(
        'refusals_by_side', (SELECT jsonb_build_object(
              'youth', coalesce(jsonb_object_agg(refusal_reason, n) FILTER (WHERE refused_by = 'youth'), '{}'),
              'porteur', coalesce(jsonb_object_agg(refusal_reason, n) FILTER (WHERE refused_by = 'porteur'), '{}'))
            FROM (SELECT refused_by, refusal_reason, count(*) AS n FROM proposed
                  WHERE status = 'refused' AND refused_by IS NOT NULL
                  GROUP BY refused_by, refusal_reason) r),
        'median_hours_to_answer', (SELECT round((percentile_cont(0.5) WITHIN GROUP (
                  ORDER BY extract(epoch FROM answered_at - created_at) / 3600))::numeric, 2)
            FROM proposed WHERE answered_at IS NOT NULL),
        'offers_open', (SELECT open FROM fresh),
        'offers_confirmed_in_time', (SELECT in_time FROM fresh),
        'confirmed_in_time_share', (SELECT round(in_time::numeric / nullif(open, 0), 4) FROM fresh));
$$;

-- f: {departement, porteur_id, from, to}; scoped: a porteur its own, a
-- referent the porteurs of its départements, an admin all.
CREATE FUNCTION report_indicators(f jsonb, actor jsonb) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'from', (f->>'from')::date, 'to', (f->>'to')::date,
        'departement', f->>'departement', 'porteur_id', (f->>'porteur_id')::bigint,
        'items', coalesce(jsonb_agg(report_porteur(p, (f->>'from')::date, (f->>'to')::date)
                   || report_porteur_answers(p, (f->>'from')::date, (f->>'to')::date,
                          coalesce((f->>'today')::date, (f->>'to')::date),
                          coalesce((f->>'reconfirm_days')::integer, 30))
                   ORDER BY p.id), '[]'))
    FROM porteurs p
    WHERE (f->>'departement' IS NULL OR p.departement = f->>'departement')
      AND (f->>'porteur_id' IS NULL OR p.id = (f->>'porteur_id')::bigint)
      AND CASE actor->>'role'
            WHEN 'admin' THEN true
            WHEN 'porteur' THEN p.id = (actor->>'porteur_id')::bigint
            WHEN 'referent' THEN (actor->'departements') ? p.departement
            ELSE false END;
$$;
