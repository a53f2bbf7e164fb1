-- audit.sql (schema api, see sql/README.md): The audit log: what every write records, and the
-- admins' list of it.

CREATE FUNCTION audit_write(actor jsonb, action text, entity text, entity_id bigint,
                            outcome text DEFAULT 'ok', status integer DEFAULT 200)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO audit (token_id, role, action, entity, entity_id, outcome, status, request_id)
    VALUES ((actor->>'token_id')::bigint, actor->>'role', action, entity, entity_id,
            outcome, status, actor->>'request_id');
$$;

-- f: {entity, actor (token id), from, to (dates or timestamps), cursor, limit}
CREATE FUNCTION audit_list(f jsonb) RETURNS jsonb LANGUAGE sql STABLE AS $$
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
                     'request_id', (a).request_id) ORDER BY (a).id DESC)
                 FILTER (WHERE n <= (f->>'limit')::integer), '[]'),
        'next_cursor', CASE WHEN count(*) > (f->>'limit')::integer
                            THEN (min((a).id) FILTER (WHERE n <= (f->>'limit')::integer))::text END)
    FROM page;
$$;
