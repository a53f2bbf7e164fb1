-- audit.sql (schema api, see sql/README.md): The audit log: what every write records, the
-- unauthenticated attempts counted per client and minute, the admins' list, the retention.

-- actor: {token_id (0 for a session), account_id (0 or absent: a token without
-- an owner), role, request_id}.
CREATE FUNCTION audit_write(actor jsonb, action text, entity text, entity_id bigint,
                            outcome text DEFAULT 'ok', status integer DEFAULT 200)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO audit (token_id, account_id, role, action, entity, entity_id, outcome, status, request_id)
    VALUES (nullif((actor->>'token_id')::bigint, 0), nullif((actor->>'account_id')::bigint, 0),
            actor->>'role', action, entity, entity_id, outcome, status, actor->>'request_id');
$$;

-- f: {entity, actor (token id), account (account id, 017), from, to (dates or
-- timestamps), cursor, limit}; with the client address and the count of attempts (015).
CREATE FUNCTION audit_list(f jsonb) RETURNS jsonb LANGUAGE sql STABLE AS $$
    WITH page AS (
        SELECT a, row_number() OVER (ORDER BY a.id DESC) AS n FROM audit a
        WHERE (f->>'cursor' IS NULL OR a.id < (f->>'cursor')::bigint)
          AND (f->>'entity' IS NULL OR a.entity = f->>'entity')
          AND (f->>'actor' IS NULL OR a.token_id = (f->>'actor')::bigint)
          AND (f->>'account' IS NULL OR a.account_id = (f->>'account')::bigint)
          AND (f->>'from' IS NULL OR a.at >= (f->>'from')::timestamptz)
          AND (f->>'to' IS NULL OR a.at < (f->>'to')::timestamptz)
        ORDER BY a.id DESC LIMIT (f->>'limit')::integer + 1
    )
    SELECT jsonb_build_object(
        'items', coalesce(jsonb_agg(jsonb_build_object('id', (a).id, 'at', (a).at,
                     'token_id', (a).token_id, 'account_id', (a).account_id,
                     'account_email', (SELECT email FROM accounts WHERE id = (a).account_id),
                     'role', (a).role, 'action', (a).action,
                     'entity', (a).entity, 'entity_id', (a).entity_id,
                     'outcome', (a).outcome, 'status', (a).status,
                     'request_id', (a).request_id, 'client', host((a).client),
                     'attempts', (a).attempts) ORDER BY (a).id DESC)
                 FILTER (WHERE n <= (f->>'limit')::integer), '[]'),
        'next_cursor', CASE WHEN count(*) > (f->>'limit')::integer
                            THEN (min((a).id) FILTER (WHERE n <= (f->>'limit')::integer))::text END)
    FROM page;
$$;

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
