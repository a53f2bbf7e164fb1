-- 006 webhooks: subscriptions, the transactional outbox, deliveries and
-- their attempts, and the alert scan.
--
-- An event row is written in the same transaction as the change that causes
-- it (triggers below, or the scan), with a unique dedup key so that running
-- the scan twice, or on two instances, enqueues nothing twice. Deliveries are
-- fanned out to the matching subscriptions in that same transaction; the
-- daemon then claims due deliveries with FOR UPDATE SKIP LOCKED.

CREATE TABLE webhooks (
    id               bigserial PRIMARY KEY,
    url              text NOT NULL CONSTRAINT ck_webhooks__url CHECK (url ~ '^https?://' AND length(url) <= 2000),
    event_types      text[] NOT NULL CONSTRAINT ck_webhooks__event_types CHECK (
                         cardinality(event_types) >= 1 AND event_types <@ ARRAY['stay.ending_soon',
                         'stay.overdue', 'offer.capacity_available', 'placement.status_changed', 'hold.expired']),
    scope_departement text CONSTRAINT ck_webhooks__scope_departement CHECK (departement_valid(scope_departement)),
    scope_porteur_id bigint REFERENCES porteurs(id),
    secret           text NOT NULL CHECK (secret LIKE 'whsec_%'),  -- needed in clear to sign
    label            text NOT NULL DEFAULT '' CHECK (length(label) <= 200),
    token_id         bigint,
    status           text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    disabled_reason  text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ck_webhooks__scope CHECK (scope_departement IS NULL OR scope_porteur_id IS NULL)
);

CREATE TABLE outbox (
    id          bigserial PRIMARY KEY,
    event_id    text NOT NULL UNIQUE,          -- the webhook-id, the same on every attempt
    type        text NOT NULL,
    dedup_key   text NOT NULL UNIQUE,
    data        jsonb NOT NULL,                -- ids and codes only, nothing personal
    departements text[] NOT NULL DEFAULT '{}', -- of the offer and of the young person
    porteur_id  bigint,
    ready       boolean NOT NULL DEFAULT true, -- false until the daemon adds the candidates
    occurred_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbox_not_ready_idx ON outbox (id) WHERE NOT ready;

CREATE TABLE deliveries (
    id              bigserial PRIMARY KEY,
    outbox_id       bigint NOT NULL REFERENCES outbox(id),
    webhook_id      bigint NOT NULL REFERENCES webhooks(id),
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivering', 'succeeded', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    lease_until     timestamptz,       -- while 'delivering': after it, another instance may retry
    last_status     integer,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (outbox_id, webhook_id)
);
CREATE INDEX deliveries_due_idx ON deliveries (next_attempt_at) WHERE status IN ('pending', 'delivering');
CREATE INDEX deliveries_webhook_idx ON deliveries (webhook_id, id);

CREATE TABLE delivery_attempts (
    id           bigserial PRIMARY KEY,
    delivery_id  bigint NOT NULL REFERENCES deliveries(id),
    attempted_at timestamptz NOT NULL DEFAULT now(),
    status_code  integer,              -- NULL: no HTTP answer (see error)
    error        text,
    duration_ms  integer
);
CREATE INDEX delivery_attempts_delivery_idx ON delivery_attempts (delivery_id, id);

---------------------------------------------------------------- emitting events

-- Enqueues an event once (per dedup key) and fans it out to the matching
-- active subscriptions, in the caller's transaction. Returns the outbox id,
-- or NULL when the event was already there.
CREATE FUNCTION outbox_emit(p_type text, p_key text, p_data jsonb, p_departements text[],
                            p_porteur bigint, p_ready boolean DEFAULT true)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE v_id bigint;
BEGIN
    INSERT INTO outbox (event_id, type, dedup_key, data, departements, porteur_id, ready)
    VALUES ('evt_' || replace(gen_random_uuid()::text, '-', ''), p_type, p_key, p_data,
            p_departements, p_porteur, p_ready)
    ON CONFLICT (dedup_key) DO NOTHING
    RETURNING id INTO v_id;
    IF v_id IS NOT NULL AND p_ready THEN
        PERFORM outbox_fan_out(v_id);
    END IF;
    RETURN v_id;
END $$;

CREATE FUNCTION outbox_fan_out(p_outbox bigint) RETURNS void LANGUAGE sql AS $$
    INSERT INTO deliveries (outbox_id, webhook_id)
    SELECT e.id, w.id FROM outbox e, webhooks w
    WHERE e.id = p_outbox AND w.status = 'active' AND e.type = ANY (w.event_types)
      AND (w.scope_departement IS NULL OR w.scope_departement = ANY (e.departements))
      AND (w.scope_porteur_id IS NULL OR w.scope_porteur_id = e.porteur_id)
    ON CONFLICT DO NOTHING;
    SELECT pg_notify('siaod_outbox', p_outbox::text);
$$;

-- What an event about a placement carries, and where it belongs.
CREATE FUNCTION placement_event_data(p placements) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('placement_id', p.id, 'offer_id', p.offer_id,
        'porteur_id', o.porteur_id, 'youth_id', p.youth_id, 'place_id', p.place_id,
        'status', p.status, 'start_date', p.start_date, 'planned_end_date', p.planned_end_date)
    FROM offers o WHERE o.id = p.offer_id;
$$;

CREATE FUNCTION placement_event_departements(p placements) RETURNS text[] LANGUAGE sql STABLE AS $$
    SELECT ARRAY[(SELECT departement FROM offers WHERE id = p.offer_id),
                 (SELECT departement FROM youth WHERE id = p.youth_id)];
$$;

-- A place that frees up (or new capacity) is announced without candidates:
-- the daemon's matcher adds them before the event is fanned out (ready).
CREATE FUNCTION offer_capacity_event(p_offer bigint, p_reason text, p_on date, p_key text)
RETURNS void LANGUAGE sql AS $$
    SELECT outbox_emit('offer.capacity_available', p_key,
        jsonb_build_object('offer_id', o.id, 'porteur_id', o.porteur_id, 'reason', p_reason,
                           'on', p_on, 'candidates', '[]'::jsonb),
        ARRAY[o.departement], o.porteur_id, false)
    FROM offers o WHERE o.id = p_offer;
$$;

CREATE FUNCTION placements_emit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE v_deps text[] := placement_event_departements(NEW);
        v_porteur bigint := (SELECT porteur_id FROM offers WHERE id = NEW.offer_id);
BEGIN
    IF TG_OP = 'INSERT' OR NEW.status <> OLD.status THEN
        PERFORM outbox_emit('placement.status_changed',
            format('placement.status_changed:%s:%s:%s', NEW.id, NEW.status, NEW.version),
            placement_event_data(NEW) || jsonb_build_object('previous_status',
                CASE WHEN TG_OP = 'UPDATE' THEN OLD.status END,
                'refusal_reason', NEW.refusal_reason, 'exit_destination', NEW.exit_destination),
            v_deps, v_porteur);
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.status = 'expired' AND OLD.status <> 'expired' THEN
        PERFORM outbox_emit('hold.expired', format('hold.expired:%s', NEW.id),
            placement_event_data(NEW) || jsonb_build_object('previous_status', OLD.status),
            v_deps, v_porteur);
    END IF;
    -- the place is free again: from the exit day, or for the whole hold
    IF TG_OP = 'UPDATE' AND NEW.status IN ('refused', 'cancelled', 'expired', 'ended')
       AND OLD.status IN ('proposed', 'accepted', 'active') THEN
        PERFORM offer_capacity_event(NEW.offer_id, 'place_freed',
            CASE WHEN NEW.status = 'ended' THEN NEW.actual_end_date ELSE NEW.start_date END,
            format('offer.capacity_available:placement:%s:%s', NEW.id, NEW.status));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER placements_emit AFTER INSERT OR UPDATE OF status ON placements
    FOR EACH ROW EXECUTE FUNCTION placements_emit();

CREATE FUNCTION offers_emit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = 'open' AND (TG_OP = 'INSERT' AND NEW.capacity > 0
           OR TG_OP = 'UPDATE' AND (NEW.capacity > OLD.capacity OR OLD.status <> 'open')) THEN
        -- "on" is when the capacity opens; the daemon ranks candidates from
        -- max(on, today) (no CURRENT_DATE in SQL: tests move "today")
        PERFORM offer_capacity_event(NEW.id, 'capacity_added', NEW.available_from,
            format('offer.capacity_available:offer:%s:%s', NEW.id, NEW.version));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER offers_emit AFTER INSERT OR UPDATE OF capacity, status ON offers
    FOR EACH ROW EXECUTE FUNCTION offers_emit();

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
CREATE FUNCTION outbox_unready(p_limit integer) RETURNS TABLE (outbox_id bigint, offer_id bigint, on_day integer)
LANGUAGE sql STABLE AS $$
    SELECT id, (data->>'offer_id')::bigint, (data->>'on')::date - date '1970-01-01'
    FROM outbox WHERE NOT ready ORDER BY id LIMIT p_limit;
$$;

---------------------------------------------------------------- the alert scan

-- stay.ending_soon: for each active stay, the smallest threshold its days
-- left have crossed, unless an alert for that threshold or a smaller one was
-- already sent for this planned end (an extension starts afresh);
-- stay.overdue once per planned end. Returns how many events were enqueued.
CREATE FUNCTION alerts_scan(today date, thresholds integer[]) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    n integer := 0;
    p placements;
    v_left integer;
    v_t integer;
    v_porteur bigint;
BEGIN
    FOR p IN
        SELECT * FROM placements
        WHERE status = 'active'
          AND planned_end_date <= today + (SELECT max(t) FROM unnest(thresholds) t)
    LOOP
        v_left := p.planned_end_date - today;
        v_porteur := (SELECT porteur_id FROM offers WHERE id = p.offer_id);
        IF v_left < 0 THEN
            IF outbox_emit('stay.overdue', format('stay.overdue:%s:%s', p.id, p.planned_end_date),
                    placement_event_data(p) || jsonb_build_object('days_overdue', -v_left),
                    placement_event_departements(p), v_porteur) IS NOT NULL THEN
                n := n + 1;
            END IF;
            CONTINUE;
        END IF;
        SELECT min(t) INTO v_t FROM unnest(thresholds) t WHERE v_left <= t;
        IF v_t IS NULL OR EXISTS (
            SELECT 1 FROM unnest(thresholds) t
            WHERE t <= v_t AND EXISTS (SELECT 1 FROM outbox WHERE dedup_key =
                format('stay.ending_soon:%s:%s:%s', p.id, p.planned_end_date, t))) THEN
            CONTINUE;
        END IF;
        IF outbox_emit('stay.ending_soon', format('stay.ending_soon:%s:%s:%s', p.id, p.planned_end_date, v_t),
                placement_event_data(p) || jsonb_build_object('threshold_days', v_t, 'days_left', v_left),
                placement_event_departements(p), v_porteur) IS NOT NULL THEN
            n := n + 1;
        END IF;
    END LOOP;
    RETURN n;
END $$;

---------------------------------------------------------------- delivering

-- Claims up to p_limit due deliveries, at most p_per_webhook in flight per
-- subscription (counting those already leased), for p_lease_seconds. Rows
-- locked by another instance are skipped, so two instances never attempt
-- the same delivery at once.
CREATE FUNCTION deliveries_claim(p_limit integer, p_per_webhook integer, p_lease_seconds integer)
RETURNS TABLE (delivery_id bigint, webhook_id bigint, url text, secret text, event_id text,
               body text, attempts integer)
LANGUAGE sql AS $$
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
$$;
CREATE INDEX deliveries_webhook_due_idx ON deliveries (webhook_id, next_attempt_at)
    WHERE status IN ('pending', 'delivering');

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

---------------------------------------------------------------- subscriptions API

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
