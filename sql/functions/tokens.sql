-- tokens.sql (schema api, see sql/README.md): API tokens: stored hashed, shown once;
-- token_lookup() authenticates a request.

CREATE FUNCTION token_json(t tokens) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', t.id, 'role', t.role, 'label', t.label,
        'departements', to_jsonb(t.departements), 'porteur_id', t.porteur_id,
        'account_id', t.account_id,
        'expires_at', t.expires_at, 'revoked_at', t.revoked_at, 'created_at', t.created_at);
$$;

CREATE FUNCTION token_create(p_hash bytea, body jsonb, actor jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE t tokens; acc accounts;
BEGIN
    IF body ? 'porteur_id' AND NOT EXISTS
            (SELECT 1 FROM porteurs WHERE id = (body->>'porteur_id')::bigint) THEN
        PERFORM siaod_field_error(400, '/porteur_id', 'unknown_value',
            format('porteur %s does not exist', body->>'porteur_id'));
    END IF;
    IF body ? 'account_id' THEN
        SELECT * INTO acc FROM accounts WHERE id = (body->>'account_id')::bigint;
        IF NOT FOUND OR acc.disabled_at IS NOT NULL THEN
            PERFORM siaod_field_error(400, '/account_id', 'unknown_value',
                format('account %s does not exist or is disabled', body->>'account_id'));
        END IF;
        -- a person's token never reaches beyond that person's scope
        IF acc.role <> body->>'role'
           OR (body->>'porteur_id')::bigint IS DISTINCT FROM acc.porteur_id
           OR NOT coalesce(ARRAY(SELECT jsonb_array_elements_text(body->'departements')), '{}')
                  <@ acc.departements THEN
            PERFORM siaod_field_error(400, '/account_id', 'out_of_range',
                'a token owned by an account has at most its role and scope');
        END IF;
    END IF;
    INSERT INTO tokens (hash, role, label, departements, porteur_id, expires_at, account_id)
    VALUES (p_hash, body->>'role', coalesce(body->>'label', ''),
        coalesce(ARRAY(SELECT jsonb_array_elements_text(body->'departements')), '{}'),
        (body->>'porteur_id')::bigint, (body->>'expires_at')::timestamptz,
        (body->>'account_id')::bigint)
    RETURNING * INTO t;
    PERFORM audit_write(actor, 'token.create', 'token', t.id, 'ok', 201);
    RETURN token_json(t);
END $$;

CREATE FUNCTION token_list(f jsonb) RETURNS jsonb LANGUAGE sql STABLE AS $$
    WITH page AS (
        SELECT t, row_number() OVER (ORDER BY t.id) AS n FROM tokens t
        WHERE t.id > coalesce((f->>'cursor')::bigint, 0)
        ORDER BY t.id LIMIT (f->>'limit')::integer + 1
    )
    SELECT jsonb_build_object(
        'items', coalesce(jsonb_agg(token_json(t) ORDER BY (t).id)
                          FILTER (WHERE n <= (f->>'limit')::integer), '[]'),
        'next_cursor', CASE WHEN count(*) > (f->>'limit')::integer
                            THEN (max((t).id) FILTER (WHERE n <= (f->>'limit')::integer))::text END)
    FROM page;
$$;

CREATE FUNCTION token_revoke(p_id bigint, actor jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE t tokens;
BEGIN
    UPDATE tokens SET revoked_at = coalesce(revoked_at, now()) WHERE id = p_id RETURNING * INTO t;
    IF NOT FOUND THEN
        PERFORM siaod_fail(404, 'not-found', format('token %s does not exist', p_id));
    END IF;
    PERFORM audit_write(actor, 'token.revoke', 'token', p_id);
    RETURN token_json(t);
END $$;

-- What the daemon needs to authenticate a request (cached in memory). A
-- token of a disabled account is revoked with it; the check here covers a
-- disabling racing the cache.
CREATE FUNCTION token_lookup(p_hash bytea) RETURNS TABLE (
    id bigint, role text, departements text[], porteur_id bigint,
    expires_epoch bigint, revoked boolean, account_id bigint)
LANGUAGE sql STABLE AS $$
    SELECT t.id, t.role, t.departements, t.porteur_id,
           extract(epoch FROM t.expires_at)::bigint,
           t.revoked_at IS NOT NULL OR a.disabled_at IS NOT NULL, t.account_id
    FROM tokens t LEFT JOIN accounts a ON a.id = t.account_id WHERE t.hash = p_hash;
$$;
