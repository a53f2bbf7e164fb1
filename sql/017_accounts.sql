-- 017 accounts (after 015, whose audit_list this one extends): people sign in as themselves. Accounts (invited by an admin),
-- one-time links (invitations, password resets) stored hashed, sessions
-- stored hashed with idle and absolute expiry, sign-in attempts for the
-- throttle, the outgoing mail outbox, and the audit naming the account.
--
-- actor (see 002) gains `account_id` (0 or absent for a token without an
-- owner); a session actor has `token_id` 0.

CREATE TABLE accounts (
    id            bigserial PRIMARY KEY,
    email         text NOT NULL CONSTRAINT ck_accounts__email
                  CHECK (email = lower(email) AND email ~ '^[^@\s]+@[^@\s]+$' AND length(email) <= 254),
    display_name  text NOT NULL DEFAULT '' CONSTRAINT ck_accounts__display_name
                  CHECK (length(display_name) <= 200),
    role          text NOT NULL CONSTRAINT ck_accounts__role CHECK (role IN ('admin', 'referent', 'porteur')),
    departements  text[] NOT NULL DEFAULT '{}',
    porteur_id    bigint REFERENCES porteurs(id),
    password_hash text,                       -- Argon2id encoded string, NULL: no password
    oidc_issuer   text,
    oidc_sub      text,
    siret         text,
    mail_error    text,                       -- last permanent SMTP error (5xx) to this address
    mail_error_at timestamptz,
    disabled_at   timestamptz,
    version       integer NOT NULL DEFAULT 1,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ck_accounts__porteur_id CHECK ((role = 'porteur') = (porteur_id IS NOT NULL)),
    CONSTRAINT ck_accounts__departements CHECK (role <> 'referent' OR cardinality(departements) >= 1),
    CONSTRAINT ck_accounts__departements__only_referents CHECK (role = 'referent' OR cardinality(departements) = 0)
);
CREATE UNIQUE INDEX accounts_email_idx ON accounts (email);
CREATE UNIQUE INDEX accounts_oidc_idx ON accounts (oidc_issuer, oidc_sub) WHERE oidc_sub IS NOT NULL;

ALTER TABLE tokens ADD COLUMN account_id bigint REFERENCES accounts(id);
CREATE INDEX tokens_account_idx ON tokens (account_id) WHERE account_id IS NOT NULL;
ALTER TABLE audit ADD COLUMN account_id bigint;
CREATE INDEX audit_account_idx ON audit (account_id) WHERE account_id IS NOT NULL;

-- Invitation and reset links: only the SHA-256 of the secret is kept.
CREATE TABLE account_links (
    id         bigserial PRIMARY KEY,
    hash       bytea NOT NULL UNIQUE CHECK (length(hash) = 32),
    account_id bigint NOT NULL REFERENCES accounts(id),
    kind       text NOT NULL CHECK (kind IN ('invitation', 'reset')),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX account_links_account_idx ON account_links (account_id);

CREATE TABLE sessions (
    id           bigserial PRIMARY KEY,
    hash         bytea NOT NULL UNIQUE CHECK (length(hash) = 32),  -- SHA-256 of the cookie value
    account_id   bigint NOT NULL REFERENCES accounts(id),
    method       text NOT NULL CHECK (method IN ('password', 'oidc')),
    device       text NOT NULL DEFAULT '' CHECK (length(device) <= 120),
    id_token     text,                        -- for RP-initiated logout (id_token_hint)
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,        -- absolute expiry
    ended_at     timestamptz
);
CREATE INDEX sessions_account_idx ON sessions (account_id) WHERE ended_at IS NULL;

-- Failed sign-ins, for the throttle (by account e-mail and by client address).
CREATE TABLE login_failures (
    id    bigserial PRIMARY KEY,
    at    timestamptz NOT NULL DEFAULT now(),
    email text NOT NULL,
    addr  text NOT NULL
);
CREATE INDEX login_failures_email_idx ON login_failures (email, at);
CREATE INDEX login_failures_addr_idx ON login_failures (addr, at);

-- Outgoing mail. The Message-ID is fixed when the mail is queued, so a
-- crash between sending and recording repeats the same message.
CREATE TABLE mail_outbox (
    id          bigserial PRIMARY KEY,
    message_id  text NOT NULL UNIQUE,
    account_id  bigint REFERENCES accounts(id),
    to_addr     text NOT NULL,
    subject     text NOT NULL,
    body_text   text NOT NULL,
    body_html   text NOT NULL,
    attempts    integer NOT NULL DEFAULT 0,
    next_at     timestamptz NOT NULL DEFAULT now(),
    lease_until timestamptz,
    sent_at     timestamptz,
    failed_at   timestamptz,                  -- permanent failure (5xx): no more retries
    last_error  text,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mail_outbox_due_idx ON mail_outbox (next_at) WHERE sent_at IS NULL AND failed_at IS NULL;

---------------------------------------------------------------- audit names the account

CREATE OR REPLACE FUNCTION audit_write(actor jsonb, action text, entity text, entity_id bigint,
                            outcome text DEFAULT 'ok', status integer DEFAULT 200)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO audit (token_id, account_id, role, action, entity, entity_id, outcome, status, request_id)
    VALUES (nullif((actor->>'token_id')::bigint, 0), nullif((actor->>'account_id')::bigint, 0),
            actor->>'role', action, entity, entity_id, outcome, status, actor->>'request_id');
$$;

DROP FUNCTION audit_list(jsonb);
-- f: {entity, actor (token id), account (account id), from, to, cursor, limit}
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

---------------------------------------------------------------- tokens owned by an account

CREATE OR REPLACE FUNCTION token_json(t tokens) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', t.id, 'role', t.role, 'label', t.label,
        'departements', to_jsonb(t.departements), 'porteur_id', t.porteur_id,
        'account_id', t.account_id,
        'expires_at', t.expires_at, 'revoked_at', t.revoked_at, 'created_at', t.created_at);
$$;

CREATE OR REPLACE FUNCTION token_create(p_hash bytea, body jsonb, actor jsonb) RETURNS jsonb
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

DROP FUNCTION token_lookup(bytea);
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

---------------------------------------------------------------- accounts

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

-- Queues one mail (see mail.c); mail: {message_id, to, subject, text, html}.
CREATE FUNCTION mail_enqueue(mail jsonb, p_account bigint) RETURNS void LANGUAGE sql AS $$
    INSERT INTO mail_outbox (message_id, account_id, to_addr, subject, body_text, body_html)
    SELECT mail->>'message_id', p_account, mail->>'to', mail->>'subject', mail->>'text', mail->>'html'
    WHERE mail IS NOT NULL;
    SELECT pg_notify('siaod_mail', '') WHERE mail IS NOT NULL;
$$;

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

---------------------------------------------------------------- one-time links

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

CREATE FUNCTION account_set_password(p_id bigint, p_hash text) RETURNS void LANGUAGE sql AS $$
    UPDATE accounts SET password_hash = p_hash, updated_at = now() WHERE id = p_id;
    -- a new password ends the sessions opened with the old one
    UPDATE sessions SET ended_at = now() WHERE account_id = p_id AND ended_at IS NULL;
    INSERT INTO audit (account_id, role, action, entity, entity_id, outcome, status)
    SELECT id, role, 'account.password', 'account', id, 'ok', 200 FROM accounts WHERE id = p_id;
$$;

---------------------------------------------------------------- sign-in throttle

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

-- What a password sign-in needs: id, the encoded hash, disabled.
CREATE FUNCTION account_password(p_email text) RETURNS TABLE (id bigint, password_hash text, disabled boolean)
LANGUAGE sql STABLE AS $$
    SELECT id, password_hash, disabled_at IS NOT NULL FROM accounts WHERE email = lower(p_email);
$$;

---------------------------------------------------------------- sessions

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

-- Housekeeping from the scheduler: sessions and links long over.
CREATE FUNCTION accounts_cleanup() RETURNS void LANGUAGE sql AS $$
    DELETE FROM sessions WHERE coalesce(ended_at, expires_at) < now() - interval '30 days';
    DELETE FROM account_links WHERE coalesce(used_at, expires_at) < now() - interval '30 days';
    DELETE FROM login_failures WHERE at < now() - interval '1 day';
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

---------------------------------------------------------------- the mail outbox

-- Due mails, leased to this instance for lease_seconds (a crash lets them
-- come back, with the same Message-ID); attempts counts this one.
CREATE FUNCTION mail_claim(lim integer, lease_seconds integer) RETURNS TABLE (
    id bigint, message_id text, to_addr text, subject text, body_text text, body_html text,
    attempts integer)
LANGUAGE sql AS $$
    WITH due AS (
        SELECT m.id FROM mail_outbox m
        WHERE m.sent_at IS NULL AND m.failed_at IS NULL AND m.next_at <= now()
          AND (m.lease_until IS NULL OR m.lease_until < now())
        ORDER BY m.next_at, m.id LIMIT lim
        FOR UPDATE SKIP LOCKED
    )
    UPDATE mail_outbox m SET lease_until = now() + make_interval(secs => lease_seconds),
        attempts = m.attempts + 1
    FROM due WHERE m.id = due.id
    RETURNING m.id, m.message_id, m.to_addr, m.subject, m.body_text, m.body_html, m.attempts;
$$;

-- outcome: sent, retry (after retry_seconds), failed (permanent: 5xx, or
-- the schedule is over; shown on the account).
CREATE FUNCTION mail_record(p_id bigint, outcome text, retry_seconds integer, error text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE m mail_outbox;
BEGIN
    IF outcome = 'sent' THEN
        -- the links are only for the recipient: once sent, the bodies go
        UPDATE mail_outbox SET sent_at = now(), lease_until = NULL, last_error = NULL,
            body_text = '', body_html = '' WHERE id = p_id;
    ELSIF outcome = 'retry' THEN
        UPDATE mail_outbox SET next_at = now() + make_interval(secs => retry_seconds), lease_until = NULL,
            last_error = left(error, 500) WHERE id = p_id;
    ELSE
        UPDATE mail_outbox SET failed_at = now(), lease_until = NULL, last_error = left(error, 500),
            body_text = '', body_html = '' WHERE id = p_id RETURNING * INTO m;
        UPDATE accounts SET mail_error = left(error, 500), mail_error_at = now() WHERE id = m.account_id;
    END IF;
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
