-- webhooks.sql (schema api, see sql/README.md): Webhooks: subscriptions, the alert scan, claiming
-- and recording deliveries. (Emitting events is done by triggers: outbox_emit() and its helpers
-- stay in the migrations, in schema public.)

-- The daemon adds the matcher's candidates, then the event goes out.
CREATE FUNCTION outbox_make_ready(p_outbox bigint, p_candidates jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE outbox SET data = jsonb_set(data, '{candidates}', p_candidates), ready = true
    WHERE id = p_outbox AND NOT ready;
    IF FOUND THEN
        PERFORM outbox_fan_out(p_outbox);
    END IF;
END $$;

-- Events waiting for candidates: offer id and the day the place is free.
-- p_settled: only events at least that old (see webhooks.c's enrich: the
-- periodic poll leaves a fresh event to the kick that follows its write's
-- inventory refresh, so the candidates are ranked on the refreshed inventory).
CREATE FUNCTION outbox_unready(p_limit integer, p_settled interval)
RETURNS TABLE (outbox_id bigint, offer_id bigint, on_day integer, age_ms bigint)
LANGUAGE sql STABLE AS $$
    SELECT id, (data->>'offer_id')::bigint, (data->>'on')::date - date '1970-01-01',
           (extract(epoch FROM now() - occurred_at) * 1000)::bigint
    FROM outbox WHERE NOT ready AND occurred_at <= now() - p_settled ORDER BY id LIMIT p_limit;
$$;

-- stay.ending_soon: for each active stay, the smallest threshold its days
-- left have crossed, unless that threshold or a smaller one was already
-- alerted for this planned end (alert_state; an extension starts afresh);
-- stay.overdue once per planned end. One statement; the outbox's unique
-- dedup keys keep a concurrent scan on another instance from enqueuing
-- twice. Returns how many events were enqueued.
CREATE FUNCTION alerts_scan(today date, thresholds integer[]) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE n integer;
BEGIN
    WITH near AS (
        SELECT p.id, p.offer_id, p.youth_id, p.place_id, p.status, p.start_date, p.planned_end_date,
               p.planned_end_date - today AS left_days,
               CASE WHEN p.planned_end_date < today THEN -1 ELSE
                   (SELECT min(t) FROM unnest(thresholds) t WHERE p.planned_end_date - today <= t) END AS v_t
        FROM placements p
        WHERE p.status = 'active'
          AND p.planned_end_date <= today + (SELECT max(t) FROM unnest(thresholds) t)
    ), due AS (
        SELECT d.* FROM near d
        LEFT JOIN alert_state a ON a.placement_id = d.id AND a.planned_end_date = d.planned_end_date
        WHERE d.v_t IS NOT NULL
          AND (a.days IS NULL                                       -- nothing sent for this end
               OR (d.v_t = -1 AND a.days <> -1)                     -- overdue now, not yet said
               OR (d.v_t >= 0 AND a.days >= 0 AND d.v_t < a.days))  -- a smaller threshold crossed
    ), ins AS (
        INSERT INTO outbox (event_id, type, dedup_key, data, departements, porteur_id, ready)
        SELECT 'evt_' || replace(gen_random_uuid()::text, '-', ''),
               CASE WHEN f.left_days < 0 THEN 'stay.overdue' ELSE 'stay.ending_soon' END,
               CASE WHEN f.left_days < 0 THEN format('stay.overdue:%s:%s', f.id, f.planned_end_date)
                    ELSE format('stay.ending_soon:%s:%s:%s', f.id, f.planned_end_date, f.v_t) END,
               jsonb_build_object('placement_id', f.id, 'offer_id', f.offer_id,
                   'porteur_id', o.porteur_id, 'youth_id', f.youth_id, 'place_id', f.place_id,
                   'status', f.status, 'start_date', f.start_date, 'planned_end_date', f.planned_end_date)
               || CASE WHEN f.left_days < 0 THEN jsonb_build_object('days_overdue', -f.left_days)
                       ELSE jsonb_build_object('threshold_days', f.v_t, 'days_left', f.left_days) END,
               ARRAY[o.departement, y.departement], o.porteur_id, true
        FROM due f JOIN offers o ON o.id = f.offer_id LEFT JOIN youth y ON y.id = f.youth_id
        ON CONFLICT (dedup_key) DO NOTHING
        RETURNING id, type, departements, porteur_id
    ), fan AS (
        INSERT INTO deliveries (outbox_id, webhook_id)
        SELECT e.id, w.id FROM ins e, webhooks w
        WHERE w.status = 'active' AND e.type = ANY (w.event_types)
          AND (w.scope_departement IS NULL OR w.scope_departement = ANY (e.departements))
          AND (w.scope_porteur_id IS NULL OR w.scope_porteur_id = e.porteur_id)
        ON CONFLICT DO NOTHING
    ), noted AS (
        INSERT INTO alert_state (placement_id, planned_end_date, days)
        SELECT id, planned_end_date, v_t FROM due
        ON CONFLICT (placement_id) DO UPDATE
            SET planned_end_date = excluded.planned_end_date, days = excluded.days
    )
    SELECT count(*) INTO n FROM ins;
    IF n > 0 THEN
        PERFORM pg_notify('siaod_outbox', 'scan');
    END IF;
    RETURN n;
END $$;

-- Claims up to p_limit due deliveries, at most p_per_webhook in flight per
-- subscription (counting those already leased), for p_lease_seconds. Rows
-- locked by another instance are skipped, so two instances never attempt
-- the same delivery at once.
CREATE FUNCTION deliveries_claim(p_limit integer, p_per_webhook integer, p_lease_seconds integer)
RETURNS TABLE (delivery_id bigint, webhook_id bigint, url text, secret text, event_id text,
               body text, attempts integer)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
    -- PL/pgSQL, not sql: each write wakes the delivery, which claims; a
    -- LANGUAGE sql function would be planned again at every call
    RETURN QUERY
    WITH pick AS (
        -- per active subscription, its earliest due deliveries, up to what
        -- its limit leaves room for: a backlog at one endpoint never hides
        -- another's due work
        SELECT d.id FROM webhooks w
        CROSS JOIN LATERAL (
            SELECT d.id FROM deliveries d
            WHERE d.webhook_id = w.id AND d.status IN ('pending', 'delivering')
              AND d.next_attempt_at <= now()
              AND (d.status = 'pending' OR d.lease_until <= now())
            ORDER BY d.next_attempt_at, d.id
            LIMIT greatest(p_per_webhook - (SELECT count(*) FROM deliveries b
                                             WHERE b.webhook_id = w.id AND b.status = 'delivering'
                                               AND b.lease_until > now()), 0)
            FOR UPDATE OF d SKIP LOCKED
        ) d
        WHERE w.status = 'active'
        LIMIT p_limit
    ), claimed AS (
        UPDATE deliveries d SET status = 'delivering', attempts = d.attempts + 1,
            lease_until = now() + make_interval(secs => p_lease_seconds), updated_at = now()
        FROM pick WHERE d.id = pick.id
        RETURNING d.*
    )
    SELECT c.id, w.id, w.url, w.secret, e.event_id,
           jsonb_build_object('type', e.type,
                              'timestamp', to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                              'data', e.data)::text,
           c.attempts
    FROM claimed c JOIN webhooks w ON w.id = c.webhook_id JOIN outbox e ON e.id = c.outbox_id;
END $$;

-- Records a batch of attempts: [{delivery_id, status_code, error, duration_ms,
-- outcome: succeeded|retry|failed|gone, retry_in_seconds}].
CREATE FUNCTION deliveries_record(results jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE r jsonb;
BEGIN
    FOR r IN SELECT * FROM jsonb_array_elements(results) LOOP
        INSERT INTO delivery_attempts (delivery_id, status_code, error, duration_ms)
        VALUES ((r->>'delivery_id')::bigint, (r->>'status_code')::integer, r->>'error',
                (r->>'duration_ms')::integer);
        UPDATE deliveries SET
            -- a retry for a subscription deleted or disabled meanwhile ends here
            status = CASE WHEN r->>'outcome' = 'succeeded' THEN 'succeeded'
                          WHEN r->>'outcome' = 'retry' AND (SELECT w.status FROM webhooks w
                               WHERE w.id = deliveries.webhook_id) = 'active' THEN 'pending'
                          ELSE 'failed' END,
            next_attempt_at = CASE WHEN r->>'outcome' = 'retry'
                                   THEN now() + make_interval(secs => (r->>'retry_in_seconds')::float8)
                                   ELSE next_attempt_at END,
            lease_until = NULL, last_status = (r->>'status_code')::integer,
            last_error = r->>'error', updated_at = now()
        WHERE id = (r->>'delivery_id')::bigint;
        IF r->>'outcome' = 'gone' THEN
            -- 410 Gone: the receiver asked us to stop
            UPDATE webhooks SET status = 'disabled', disabled_reason = 'the endpoint answered 410 Gone'
            WHERE id = (SELECT webhook_id FROM deliveries WHERE id = (r->>'delivery_id')::bigint);
            UPDATE deliveries SET status = 'failed', last_error = 'subscription disabled (410)', updated_at = now()
            WHERE webhook_id = (SELECT webhook_id FROM deliveries WHERE id = (r->>'delivery_id')::bigint)
              AND status IN ('pending', 'delivering');
        END IF;
    END LOOP;
END $$;

CREATE FUNCTION webhook_json(w webhooks) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', w.id, 'url', w.url, 'event_types', to_jsonb(w.event_types),
        'departement', w.scope_departement, 'porteur_id', w.scope_porteur_id, 'label', w.label,
        'status', w.status, 'disabled_reason', w.disabled_reason, 'created_at', w.created_at);
$$;

-- Whether the actor may see or manage a subscription: never beyond its scope.
-- (coalesce: a subscription without that scope is NULL here, and NULL must
-- mean "no", not "unknown", or IF NOT ... never refuses)
CREATE FUNCTION webhook_visible(w webhooks, actor jsonb) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT coalesce(CASE actor->>'role'
        WHEN 'admin' THEN true
        WHEN 'porteur' THEN w.scope_porteur_id = (actor->>'porteur_id')::bigint
        WHEN 'referent' THEN (actor->'departements') ? w.scope_departement
        ELSE false END, false);
$$;

CREATE FUNCTION webhook_create(body jsonb, secret text, actor jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE w webhooks;
BEGIN
    IF body ? 'porteur_id' AND NOT EXISTS (SELECT 1 FROM porteurs WHERE id = (body->>'porteur_id')::bigint) THEN
        PERFORM siaod_field_error(400, '/porteur_id', 'unknown_value', 'no such porteur');
    END IF;
    INSERT INTO webhooks (url, event_types, scope_departement, scope_porteur_id, secret, label, token_id)
    VALUES (body->>'url', ARRAY(SELECT jsonb_array_elements_text(body->'event_types')),
            body->>'departement', (body->>'porteur_id')::bigint, secret,
            coalesce(body->>'label', ''), (actor->>'token_id')::bigint)
    RETURNING * INTO w;
    PERFORM audit_write(actor, 'webhook.create', 'webhook', w.id, 'ok', 201);
    RETURN webhook_json(w);
END $$;

CREATE FUNCTION webhook_list(f jsonb, actor jsonb) RETURNS jsonb LANGUAGE sql STABLE AS $$
    WITH page AS (
        SELECT w, row_number() OVER (ORDER BY w.id) AS n FROM webhooks w
        WHERE w.id > coalesce((f->>'cursor')::bigint, 0) AND webhook_visible(w, actor)
        ORDER BY w.id LIMIT (f->>'limit')::integer + 1
    )
    SELECT jsonb_build_object(
        'items', coalesce(jsonb_agg(webhook_json(w) ORDER BY (w).id)
                          FILTER (WHERE n <= (f->>'limit')::integer), '[]'),
        'next_cursor', CASE WHEN count(*) > (f->>'limit')::integer
                            THEN (max((w).id) FILTER (WHERE n <= (f->>'limit')::integer))::text END)
    FROM page;
$$;

CREATE FUNCTION webhook_fetch(p_id bigint, actor jsonb) RETURNS webhooks LANGUAGE plpgsql AS $$
DECLARE w webhooks;
BEGIN
    SELECT * INTO w FROM webhooks WHERE id = p_id;
    IF NOT FOUND THEN
        PERFORM siaod_fail(404, 'not-found', format('webhook %s does not exist', p_id));
    END IF;
    IF NOT webhook_visible(w, actor) THEN
        PERFORM siaod_fail(403, 'forbidden', 'this subscription is outside this token''s scope');
    END IF;
    RETURN w;
END $$;

-- Deleting a subscription disables it (its deliveries stay readable).
CREATE FUNCTION webhook_delete(p_id bigint, actor jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE w webhooks;
BEGIN
    w := webhook_fetch(p_id, actor);
    UPDATE webhooks SET status = 'disabled', disabled_reason = 'deleted' WHERE id = p_id RETURNING * INTO w;
    -- in flight too: an instance that died holding one would leave it leased forever
    UPDATE deliveries SET status = 'failed', last_error = 'subscription deleted', updated_at = now()
    WHERE webhook_id = p_id AND status IN ('pending', 'delivering');
    PERFORM audit_write(actor, 'webhook.delete', 'webhook', p_id);
    RETURN webhook_json(w);
END $$;

CREATE FUNCTION delivery_json(d deliveries) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', d.id, 'webhook_id', d.webhook_id, 'event_id', e.event_id,
        'type', e.type, 'status', d.status, 'attempts', d.attempts,
        'next_attempt_at', CASE WHEN d.status = 'pending' THEN d.next_attempt_at END,
        'last_status', d.last_status, 'last_error', d.last_error,
        'created_at', d.created_at, 'updated_at', d.updated_at,
        'attempt_log', coalesce((SELECT jsonb_agg(jsonb_build_object('at', a.attempted_at,
                'status_code', a.status_code, 'error', a.error, 'duration_ms', a.duration_ms)
                ORDER BY a.id) FROM delivery_attempts a WHERE a.delivery_id = d.id), '[]'))
    FROM outbox e WHERE e.id = d.outbox_id;
$$;

CREATE FUNCTION delivery_list(p_webhook bigint, f jsonb, actor jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE w webhooks; res jsonb;
BEGIN
    w := webhook_fetch(p_webhook, actor);
    WITH page AS (
        SELECT d, row_number() OVER (ORDER BY d.id DESC) AS n FROM deliveries d
        WHERE d.webhook_id = p_webhook
          AND (f->>'cursor' IS NULL OR d.id < (f->>'cursor')::bigint)
          AND (f->>'status' IS NULL OR d.status = f->>'status')
        ORDER BY d.id DESC LIMIT (f->>'limit')::integer + 1
    )
    SELECT jsonb_build_object(
        'items', coalesce(jsonb_agg(delivery_json(d) ORDER BY (d).id DESC)
                          FILTER (WHERE n <= (f->>'limit')::integer), '[]'),
        'next_cursor', CASE WHEN count(*) > (f->>'limit')::integer
                            THEN (min((d).id) FILTER (WHERE n <= (f->>'limit')::integer))::text END)
    INTO res FROM page;
    RETURN res;
END $$;

CREATE FUNCTION delivery_retry(p_webhook bigint, p_delivery bigint, actor jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE w webhooks; d deliveries;
BEGIN
    w := webhook_fetch(p_webhook, actor);
    SELECT * INTO d FROM deliveries WHERE id = p_delivery AND webhook_id = p_webhook FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM siaod_fail(404, 'not-found', format('delivery %s does not exist', p_delivery));
    END IF;
    IF d.status <> 'failed' THEN
        PERFORM siaod_fail(409, 'not-failed', format('only a failed delivery is re-sent; this one is %s', d.status),
            jsonb_build_object('current_status', d.status));
    END IF;
    IF w.status <> 'active' THEN
        PERFORM siaod_fail(409, 'webhook-disabled', 'the subscription is disabled');
    END IF;
    UPDATE deliveries SET status = 'pending', next_attempt_at = now(), updated_at = now()
    WHERE id = p_delivery RETURNING * INTO d;
    PERFORM pg_notify('siaod_outbox', d.outbox_id::text);
    PERFORM audit_write(actor, 'webhook.retry', 'webhook', p_webhook);
    RETURN delivery_json(d);
END $$;
