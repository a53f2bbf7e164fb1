-- oidc.sql (schema api, see sql/README.md): sign-in with an OpenID Connect
-- provider (daemon/oidc.c): the state of a sign-in in progress, used once,
-- and the account a verified identity belongs to. Tables: 021 (oidc_logins),
-- 017 (accounts, sessions).

-- A sign-in starts: its state (hashed), nonce and PKCE verifier, for
-- valid_seconds; expired ones are swept on the way.
CREATE FUNCTION oidc_login_begin(p_state_hash bytea, p_nonce text, p_verifier text,
                                 valid_seconds integer) RETURNS void
LANGUAGE sql AS $$
    DELETE FROM oidc_logins WHERE expires_at < now();
    INSERT INTO oidc_logins (state_hash, nonce, code_verifier, expires_at)
    VALUES (p_state_hash, p_nonce, p_verifier, now() + make_interval(secs => valid_seconds));
$$;

-- The provider sent the browser back: the row of this state, deleted so it
-- never serves twice; no row when unknown, used or expired.
CREATE FUNCTION oidc_login_take(p_state_hash bytea) RETURNS TABLE (nonce text, code_verifier text)
LANGUAGE sql AS $$
    WITH t AS (DELETE FROM oidc_logins WHERE state_hash = p_state_hash
               RETURNING nonce, code_verifier, expires_at)
    SELECT nonce, code_verifier FROM t WHERE expires_at > now();
$$;

-- The account of a verified identity (the ID token's iss and sub, the
-- userinfo's claims): the account already bound to (issuer, sub), or else
-- the account invited with this e-mail — bound now, and only when the
-- provider says the e-mail is verified. Nothing is ever created.
-- Answers {outcome: ok | unknown | unverified | disabled, account_id?};
-- every refusal is audited (outcome denied, 403), with the account when one
-- was found.
CREATE FUNCTION oidc_account(p_issuer text, p_sub text, p_email text, p_email_verified boolean,
                             p_name text, p_siret text, p_request_id text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE a accounts; outcome text;
BEGIN
    SELECT * INTO a FROM accounts WHERE oidc_issuer = p_issuer AND oidc_sub = p_sub FOR UPDATE;
    IF NOT FOUND THEN
        SELECT * INTO a FROM accounts WHERE email = lower(p_email) FOR UPDATE;
        IF NOT FOUND OR p_email IS NULL THEN
            outcome := 'unknown';
        ELSIF a.oidc_sub IS NOT NULL AND a.oidc_issuer = p_issuer THEN
            outcome := 'unknown';    -- bound to another identity of this provider: not this one's
        -- (bound under another issuer — the provider changed, integration to
        -- production — the account is bound again, as a first time)
        ELSIF p_email_verified IS NOT TRUE THEN
            outcome := 'unverified';
        ELSIF a.disabled_at IS NOT NULL THEN
            outcome := 'disabled';
        ELSE
            UPDATE accounts SET oidc_issuer = p_issuer, oidc_sub = p_sub,
                display_name = CASE WHEN display_name = '' THEN left(coalesce(p_name, ''), 200)
                                    ELSE display_name END,
                version = version + 1, updated_at = now()
            WHERE id = a.id RETURNING * INTO a;
            INSERT INTO audit (account_id, role, action, entity, entity_id, outcome, status, request_id)
            VALUES (a.id, a.role, 'account.oidc_bind', 'account', a.id, 'ok', 200, p_request_id);
            outcome := 'ok';
        END IF;
    ELSIF a.disabled_at IS NOT NULL THEN
        outcome := 'disabled';
    ELSE
        outcome := 'ok';
    END IF;
    IF outcome = 'ok' THEN
        -- the organisation (SIRET) the provider knows today
        IF a.siret IS DISTINCT FROM p_siret AND p_siret IS NOT NULL THEN
            UPDATE accounts SET siret = left(p_siret, 14), updated_at = now() WHERE id = a.id;
        END IF;
        RETURN jsonb_build_object('outcome', 'ok', 'account_id', a.id);
    END IF;
    INSERT INTO audit (account_id, role, action, entity, entity_id, outcome, status, request_id)
    VALUES (CASE WHEN outcome = 'unknown' THEN NULL ELSE a.id END,
            CASE WHEN outcome = 'unknown' THEN NULL ELSE a.role END,
            'session.oidc_refused', 'account', CASE WHEN outcome = 'unknown' THEN NULL ELSE a.id END,
            'denied', 403, p_request_id);
    RETURN jsonb_build_object('outcome', outcome);
END $$;
