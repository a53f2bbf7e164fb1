-- accounts.sql (schema api, see sql/README.md): accounts (invited by an admin,
-- disabled, scoped), their one-time links (invitations, resets), passwords and
-- the sign-in throttle. Tables: migration 017.

CREATE FUNCTION account_json(a accounts) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', a.id, 'email', a.email, 'display_name', a.display_name,
        'role', a.role, 'departements', to_jsonb(a.departements), 'porteur_id', a.porteur_id,
        'has_password', a.password_hash IS NOT NULL, 'oidc_bound', a.oidc_sub IS NOT NULL,
        'siret', a.siret, 'mail_error', a.mail_error, 'mail_error_at', a.mail_error_at,
        'disabled_at', a.disabled_at, 'version', a.version,
        'created_at', a.created_at, 'updated_at', a.updated_at);
$$;

CREATE FUNCTION account_check_scope(body jsonb) RETURNS void LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF body->>'porteur_id' IS NOT NULL AND NOT EXISTS
            (SELECT 1 FROM porteurs WHERE id = (body->>'porteur_id')::bigint) THEN
        PERFORM siaod_field_error(400, '/porteur_id', 'unknown_value',
            format('porteur %s does not exist', body->>'porteur_id'));
    END IF;
END $$;

-- An invitation: the account and its first link, in one transaction.
-- mail: the invitation mail when outgoing mail is configured, else NULL.
CREATE FUNCTION account_create(body jsonb, link_hash bytea, link_seconds integer, mail jsonb,
                               actor jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE a accounts; l account_links;
BEGIN
    PERFORM account_check_scope(body);
    IF EXISTS (SELECT 1 FROM accounts WHERE email = lower(body->>'email')) THEN
        PERFORM siaod_field_error(409, '/email', 'unknown_value', 'an account with this e-mail exists');
    END IF;
    INSERT INTO accounts (email, display_name, role, departements, porteur_id)
    VALUES (lower(body->>'email'), coalesce(body->>'display_name', ''), body->>'role',
        coalesce(ARRAY(SELECT jsonb_array_elements_text(body->'departements')), '{}'),
        (body->>'porteur_id')::bigint)
    RETURNING * INTO a;
    INSERT INTO account_links (hash, account_id, kind, expires_at)
    VALUES (link_hash, a.id, 'invitation', now() + make_interval(secs => link_seconds))
    RETURNING * INTO l;
    PERFORM mail_enqueue(mail || jsonb_build_object('to', a.email), a.id);
    PERFORM audit_write(actor, 'account.create', 'account', a.id, 'ok', 201);
    RETURN account_json(a) || jsonb_build_object('invitation_expires_at', l.expires_at,
                                                  'invitation_mailed', mail IS NOT NULL);
END $$;

-- A new invitation link for an account (the old ones stop working).
CREATE FUNCTION account_invite_again(p_id bigint, link_hash bytea, link_seconds integer, mail jsonb,
                                     actor jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE a accounts; l account_links;
BEGIN
    SELECT * INTO a FROM accounts WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM siaod_fail(404, 'not-found', format('account %s does not exist', p_id));
    END IF;
    IF a.disabled_at IS NOT NULL THEN
        PERFORM siaod_fail(409, 'account-disabled', 'this account is disabled');
    END IF;
    UPDATE account_links SET used_at = now()
    WHERE account_id = p_id AND kind = 'invitation' AND used_at IS NULL;
    INSERT INTO account_links (hash, account_id, kind, expires_at)
    VALUES (link_hash, a.id, 'invitation', now() + make_interval(secs => link_seconds))
    RETURNING * INTO l;
    PERFORM mail_enqueue(mail || jsonb_build_object('to', a.email), a.id);
    PERFORM audit_write(actor, 'account.invite', 'account', a.id, 'ok', 201);
    RETURN account_json(a) || jsonb_build_object('invitation_expires_at', l.expires_at,
                                                  'invitation_mailed', mail IS NOT NULL);
END $$;

CREATE FUNCTION account_get(p_id bigint) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT account_json(a) FROM accounts a WHERE a.id = p_id;
$$;

-- f: {role, q (e-mail or name prefix), cursor, limit}
CREATE FUNCTION account_list(f jsonb) RETURNS jsonb LANGUAGE sql STABLE AS $$
    WITH page AS (
        SELECT a, row_number() OVER (ORDER BY a.id) AS n FROM accounts a
        WHERE a.id > coalesce((f->>'cursor')::bigint, 0)
          AND (f->>'role' IS NULL OR a.role = f->>'role')
        ORDER BY a.id LIMIT (f->>'limit')::integer + 1
    )
    SELECT jsonb_build_object(
        'items', coalesce(jsonb_agg(account_json(a) ORDER BY (a).id)
                          FILTER (WHERE n <= (f->>'limit')::integer), '[]'),
        'next_cursor', CASE WHEN count(*) > (f->>'limit')::integer
                            THEN (max((a).id) FILTER (WHERE n <= (f->>'limit')::integer))::text END)
    FROM page;
$$;

-- Display name, role and scope; a change of role or scope ends the
-- account's sessions (they carried the old scope).
CREATE FUNCTION account_patch(p_id bigint, patch jsonb, if_match integer, actor jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE a accounts; n accounts;
BEGIN
    SELECT * INTO a FROM accounts WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM siaod_fail(404, 'not-found', format('account %s does not exist', p_id));
    END IF;
    IF if_match IS NOT NULL AND if_match <> a.version THEN
        PERFORM siaod_fail(412, 'precondition-failed', 'the account changed since you read it');
    END IF;
    PERFORM account_check_scope(patch);
    n := a;
    IF patch ? 'display_name' THEN n.display_name := patch->>'display_name'; END IF;
    IF patch ? 'role' THEN
        n.role := patch->>'role';
        -- a new role drops the other role's scope unless the patch gives one
        IF n.role <> 'referent' AND NOT patch ? 'departements' THEN n.departements := '{}'; END IF;
        IF n.role <> 'porteur' AND NOT patch ? 'porteur_id' THEN n.porteur_id := NULL; END IF;
    END IF;
    IF patch ? 'departements' THEN
        n.departements := coalesce(ARRAY(SELECT jsonb_array_elements_text(patch->'departements')), '{}');
    END IF;
    IF patch ? 'porteur_id' THEN n.porteur_id := (patch->>'porteur_id')::bigint; END IF;
    UPDATE accounts SET display_name = n.display_name, role = n.role, departements = n.departements,
        porteur_id = n.porteur_id, version = a.version + 1, updated_at = now()
    WHERE id = p_id RETURNING * INTO n;
    IF n.role <> a.role OR n.departements <> a.departements
       OR n.porteur_id IS DISTINCT FROM a.porteur_id THEN
        UPDATE sessions SET ended_at = now() WHERE account_id = p_id AND ended_at IS NULL;
    END IF;
    PERFORM audit_write(actor, 'account.patch', 'account', p_id);
    RETURN account_json(n);
END $$;

-- If-Match's list of versions (api_if_match): the current one when listed.
CREATE FUNCTION account_if_match(p_id bigint, candidates integer[]) RETURNS integer
LANGUAGE sql STABLE AS $$
    SELECT if_match_version(candidates, (SELECT version FROM accounts WHERE id = p_id));
$$;

-- Disabling ends every session and revokes every token of the account at
-- once; the other instances see it at their next lookup (sessions are
-- cached at most a second, see session.h).
CREATE FUNCTION account_disable(p_id bigint, actor jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE a accounts; ns integer; nt integer;
BEGIN
    UPDATE accounts SET disabled_at = coalesce(disabled_at, now()), version = version + 1,
        updated_at = now()
    WHERE id = p_id RETURNING * INTO a;
    IF NOT FOUND THEN
        PERFORM siaod_fail(404, 'not-found', format('account %s does not exist', p_id));
    END IF;
    UPDATE sessions SET ended_at = now() WHERE account_id = p_id AND ended_at IS NULL;
    GET DIAGNOSTICS ns = ROW_COUNT;
    UPDATE tokens SET revoked_at = now() WHERE account_id = p_id AND revoked_at IS NULL;
    GET DIAGNOSTICS nt = ROW_COUNT;
    UPDATE account_links SET used_at = now() WHERE account_id = p_id AND used_at IS NULL;
    PERFORM pg_notify('siaod_auth', 'a:' || p_id);
    PERFORM audit_write(actor, 'account.disable', 'account', p_id);
    RETURN account_json(a) || jsonb_build_object('sessions_ended', ns, 'tokens_revoked', nt);
END $$;

CREATE FUNCTION account_enable(p_id bigint, actor jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE a accounts;
BEGIN
    UPDATE accounts SET disabled_at = NULL, version = version + 1, updated_at = now()
    WHERE id = p_id RETURNING * INTO a;
    IF NOT FOUND THEN
        PERFORM siaod_fail(404, 'not-found', format('account %s does not exist', p_id));
    END IF;
    PERFORM audit_write(actor, 'account.enable', 'account', p_id);
    RETURN account_json(a);
END $$;

-- `siaod account create` (operators, demo): an account with its password
-- already set, no invitation.
CREATE FUNCTION account_create_with_password(body jsonb, pw_hash text, actor jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE a accounts;
BEGIN
    PERFORM account_check_scope(body);
    INSERT INTO accounts (email, display_name, role, departements, porteur_id, password_hash)
    VALUES (lower(body->>'email'), coalesce(body->>'display_name', ''), body->>'role',
        coalesce(ARRAY(SELECT jsonb_array_elements_text(body->'departements')), '{}'),
        (body->>'porteur_id')::bigint, pw_hash)
    RETURNING * INTO a;
    PERFORM audit_write(actor, 'account.create', 'account', a.id, 'ok', 201);
    RETURN account_json(a);
END $$;

CREATE FUNCTION account_set_password(p_id bigint, p_hash text) RETURNS void LANGUAGE sql AS $$
    UPDATE accounts SET password_hash = p_hash, updated_at = now() WHERE id = p_id;
    -- a new password ends the sessions opened with the old one
    UPDATE sessions SET ended_at = now() WHERE account_id = p_id AND ended_at IS NULL;
    INSERT INTO audit (account_id, role, action, entity, entity_id, outcome, status)
    SELECT id, role, 'account.password', 'account', id, 'ok', 200 FROM accounts WHERE id = p_id;
$$;

-- What a password sign-in needs: id, the encoded hash, disabled.
CREATE FUNCTION account_password(p_email text) RETURNS TABLE (id bigint, password_hash text, disabled boolean)
LANGUAGE sql STABLE AS $$
    SELECT id, password_hash, disabled_at IS NOT NULL FROM accounts WHERE email = lower(p_email);
$$;

-- Uses a link: its account id when the link is valid (right kind, not used,
-- not expired, account enabled), else NULL. Single use.
CREATE FUNCTION link_consume(p_hash bytea, p_kind text) RETURNS bigint
LANGUAGE sql AS $$
    UPDATE account_links l SET used_at = now()
    FROM accounts a
    WHERE l.hash = p_hash AND l.kind = p_kind AND l.used_at IS NULL AND l.expires_at > now()
      AND a.id = l.account_id AND a.disabled_at IS NULL
    RETURNING l.account_id;
$$;

-- A link, not used: what its page may show (kind, e-mail, expiry), or nothing.
CREATE FUNCTION link_peek(p_hash bytea) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('kind', l.kind, 'email', a.email, 'display_name', a.display_name,
                              'expires_at', l.expires_at)
    FROM account_links l JOIN accounts a ON a.id = l.account_id
    WHERE l.hash = p_hash AND l.used_at IS NULL AND l.expires_at > now() AND a.disabled_at IS NULL;
$$;

-- An invitation accepted or a reset done: the link is used up and the
-- password set in one transaction. NULL when the link is not valid.
CREATE FUNCTION link_set_password(p_hash bytea, p_kind text, p_pw_hash text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE acc bigint;
BEGIN
    acc := link_consume(p_hash, p_kind);
    IF acc IS NOT NULL THEN
        PERFORM account_set_password(acc, p_pw_hash);
    END IF;
    RETURN acc;
END $$;

-- A reset link for the enabled account with this e-mail; NULL when none
-- (the caller answers the same either way).
CREATE FUNCTION reset_request(p_email text, link_hash bytea, link_seconds integer, mail jsonb)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE a accounts;
BEGIN
    SELECT * INTO a FROM accounts WHERE email = lower(p_email) AND disabled_at IS NULL;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    -- at most three live reset links: a stranger cannot flood the mailbox
    IF (SELECT count(*) FROM account_links WHERE account_id = a.id AND kind = 'reset'
          AND created_at > now() - interval '1 hour') >= 3 THEN
        RETURN NULL;
    END IF;
    INSERT INTO account_links (hash, account_id, kind, expires_at)
    VALUES (link_hash, a.id, 'reset', now() + make_interval(secs => link_seconds));
    PERFORM mail_enqueue(mail || jsonb_build_object('to', a.email), a.id);
    INSERT INTO audit (account_id, role, action, entity, entity_id, outcome, status)
    VALUES (a.id, a.role, 'account.reset_request', 'account', a.id, 'ok', 202);
    RETURN a.id;
END $$;

-- Seconds to wait before the next attempt for this e-mail or address (0:
-- go ahead). Past 5 failures in 15 minutes for an account (20 for an
-- address), each further failure doubles the wait, capped at 15 minutes:
-- a delay, never a lockout someone else could impose for good.
CREATE FUNCTION login_wait(p_email text, p_addr text) RETURNS integer LANGUAGE sql STABLE AS $$
    WITH e AS (SELECT count(*) AS n, max(at) AS last FROM login_failures
               WHERE email = lower(p_email) AND at > now() - interval '15 minutes'),
         d AS (SELECT count(*) AS n, max(at) AS last FROM login_failures
               WHERE addr = p_addr AND at > now() - interval '15 minutes')
    SELECT greatest(0,
        CASE WHEN e.n >= 5 THEN ceil(extract(epoch FROM e.last
             + make_interval(secs => least(900, 2 ^ least(e.n - 4, 10))) - now()))::integer ELSE 0 END,
        CASE WHEN d.n >= 20 THEN ceil(extract(epoch FROM d.last
             + make_interval(secs => least(900, 2 ^ least(d.n - 19, 10))) - now()))::integer ELSE 0 END)
    FROM e, d;
$$;

CREATE FUNCTION login_failed(p_email text, p_addr text) RETURNS void LANGUAGE sql AS $$
    DELETE FROM login_failures WHERE at < now() - interval '1 day';
    INSERT INTO login_failures (email, addr) VALUES (lower(p_email), p_addr);
    INSERT INTO audit (account_id, role, action, entity, outcome, status)
    VALUES ((SELECT id FROM accounts WHERE email = lower(p_email)), NULL, 'session.login', 'session',
            'unauthenticated', 401);
$$;

-- Housekeeping from the scheduler: sessions and links long over.
CREATE FUNCTION accounts_cleanup() RETURNS void LANGUAGE sql AS $$
    DELETE FROM sessions WHERE coalesce(ended_at, expires_at) < now() - interval '30 days';
    DELETE FROM account_links WHERE coalesce(used_at, expires_at) < now() - interval '30 days';
    DELETE FROM login_failures WHERE at < now() - interval '1 day';
$$;
