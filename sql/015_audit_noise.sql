-- 015: unauthenticated noise costs nothing durable, and the audit has a
-- retention. Attempts without a valid token are counted by the daemon per
-- client address and minute and written as one row each (at = the minute,
-- attempts = how many), upserted when more of the same minute come;
-- refusals of a known token keep a row each, as before. The client address
-- is the peer's, or X-Forwarded-For's when the peer is a trusted proxy.

ALTER TABLE audit
    ADD COLUMN client inet,
    ADD COLUMN attempts integer NOT NULL DEFAULT 1 CONSTRAINT ck_audit__attempts CHECK (attempts >= 1);

CREATE UNIQUE INDEX audit_unauthenticated_minute_idx ON audit (client, at)
    WHERE outcome = 'unauthenticated' AND client IS NOT NULL;

-- Counts of one flush: arrays of the same length; minutes as unix seconds.
CREATE FUNCTION audit_unauthenticated(p_clients inet[], p_minutes bigint[], p_counts integer[],
                                      p_request_ids text[])
RETURNS void LANGUAGE sql AS $$
    INSERT INTO audit AS a (at, action, outcome, status, client, attempts, request_id)
    SELECT to_timestamp(m), 'unauthenticated', 'unauthenticated', 401, c, n, nullif(rid, '')
    FROM unnest(p_clients, p_minutes, p_counts, p_request_ids) AS u(c, m, n, rid)
    ON CONFLICT (client, at) WHERE outcome = 'unauthenticated' AND client IS NOT NULL
    DO UPDATE SET attempts = a.attempts + EXCLUDED.attempts;
$$;

-- Rows older than `months` go (audit_retention_months, run by the scheduler).
CREATE FUNCTION audit_purge(months integer) RETURNS integer LANGUAGE sql AS $$
    WITH gone AS (
        DELETE FROM audit WHERE at < now() - make_interval(months => months) RETURNING 1
    )
    SELECT count(*)::integer FROM gone;
$$;

-- The list shows the client address and the count of attempts.
CREATE OR REPLACE FUNCTION audit_list(f jsonb) RETURNS jsonb LANGUAGE sql STABLE AS $$
    WITH page AS (
        SELECT a, row_number() OVER (ORDER BY a.id DESC) AS n FROM audit a
        WHERE (f->>'cursor' IS NULL OR a.id < (f->>'cursor')::bigint)
          AND (f->>'entity' IS NULL OR a.entity = f->>'entity')
          AND (f->>'actor' IS NULL OR a.token_id = (f->>'actor')::bigint)
          AND (f->>'from' IS NULL OR a.at >= (f->>'from')::timestamptz)
          AND (f->>'to' IS NULL OR a.at < (f->>'to')::timestamptz)
        ORDER BY a.id DESC LIMIT (f->>'limit')::integer + 1
    )
    SELECT jsonb_build_object(
        'items', coalesce(jsonb_agg(jsonb_build_object('id', (a).id, 'at', (a).at,
                     'token_id', (a).token_id, 'role', (a).role, 'action', (a).action,
                     'entity', (a).entity, 'entity_id', (a).entity_id,
                     'outcome', (a).outcome, 'status', (a).status,
                     'request_id', (a).request_id, 'client', host((a).client),
                     'attempts', (a).attempts) ORDER BY (a).id DESC)
                 FILTER (WHERE n <= (f->>'limit')::integer), '[]'),
        'next_cursor', CASE WHEN count(*) > (f->>'limit')::integer
                            THEN (min((a).id) FILTER (WHERE n <= (f->>'limit')::integer))::text END)
    FROM page;
$$;
