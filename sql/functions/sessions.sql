-- sessions.sql (schema api, see sql/README.md): sessions by cookie (stored
-- hashed, idle and absolute expiry), listed and ended by their owner. Tables: 017.

CREATE FUNCTION session_create(p_hash bytea, p_account bigint, p_method text, p_device text,
                               p_id_token text, absolute_seconds integer, p_addr text)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE s sessions;
BEGIN
    INSERT INTO sessions (hash, account_id, method, device, id_token, expires_at)
    VALUES (p_hash, p_account, p_method, left(p_device, 120), p_id_token,
            now() + make_interval(secs => absolute_seconds))
    RETURNING * INTO s;
    DELETE FROM login_failures WHERE email = (SELECT email FROM accounts WHERE id = p_account);
    INSERT INTO audit (account_id, role, action, entity, entity_id, outcome, status)
    SELECT p_account, role, 'session.login', 'session', s.id, 'ok', 201 FROM accounts WHERE id = p_account;
    RETURN s.id;
END $$;

-- Resolves a session cookie's hash to its account, and records the use
-- (idle expiry counts from the last use).
CREATE FUNCTION session_lookup(p_hash bytea, idle_seconds integer) RETURNS TABLE (
    session_id bigint, account_id bigint, role text, departements text[], porteur_id bigint)
LANGUAGE sql AS $$
    UPDATE sessions s SET last_used_at = now()
    FROM accounts a
    WHERE s.hash = p_hash AND s.ended_at IS NULL AND s.expires_at > now()
      AND s.last_used_at > now() - make_interval(secs => idle_seconds)
      AND a.id = s.account_id AND a.disabled_at IS NULL
    RETURNING s.id, a.id, a.role, a.departements, a.porteur_id;
$$;

CREATE FUNCTION session_list(p_account bigint, p_current bigint, idle_seconds integer)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('items', coalesce(jsonb_agg(jsonb_build_object(
        'id', s.id, 'method', s.method, 'device', s.device, 'created_at', s.created_at,
        'last_used_at', s.last_used_at, 'expires_at',
        least(s.expires_at, s.last_used_at + make_interval(secs => idle_seconds)),
        'current', s.id = p_current) ORDER BY s.last_used_at DESC), '[]'), 'next_cursor', NULL)
    FROM sessions s
    WHERE s.account_id = p_account AND s.ended_at IS NULL AND s.expires_at > now()
      AND s.last_used_at > now() - make_interval(secs => idle_seconds);
$$;

-- Ends one session of the account (p_session) or all of them (NULL).
-- Answers the id token of the current session when it ended (for the
-- provider's logout).
CREATE FUNCTION session_end(p_account bigint, p_session bigint, actor jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE n integer;
BEGIN
    UPDATE sessions SET ended_at = now()
    WHERE account_id = p_account AND ended_at IS NULL AND (p_session IS NULL OR id = p_session);
    GET DIAGNOSTICS n = ROW_COUNT;
    IF p_session IS NOT NULL AND n = 0 THEN
        PERFORM siaod_fail(404, 'not-found', format('session %s is not one of yours', p_session));
    END IF;
    PERFORM pg_notify('siaod_auth', 'a:' || p_account);
    PERFORM audit_write(actor, CASE WHEN p_session IS NULL THEN 'session.end_all' ELSE 'session.end' END,
                        'session', p_session);
    RETURN jsonb_build_object('ended', n);
END $$;

-- Sign-out of the current session by its cookie; one row (with its id
-- token, for the provider's logout) when a session ended.
CREATE FUNCTION session_logout(p_hash bytea) RETURNS TABLE (session_id bigint, id_token text)
LANGUAGE sql AS $$
    WITH s AS (UPDATE sessions SET ended_at = now() WHERE hash = p_hash AND ended_at IS NULL
               RETURNING id, account_id, id_token),
         au AS (INSERT INTO audit (account_id, role, action, entity, entity_id, outcome, status)
                SELECT s.account_id, a.role, 'session.logout', 'session', s.id, 'ok', 200
                FROM s JOIN accounts a ON a.id = s.account_id)
    SELECT id, id_token FROM s;
$$;
