-- 021 oidc: sign-in with an OpenID Connect provider (ProConnect or any other).
-- One row per sign-in started at /auth/oidc/start: the SHA-256 of its `state`,
-- the `nonce` the ID token must carry back and the PKCE code verifier. A row
-- is taken (deleted) by the callback that uses it, so a state works once; it
-- expires after oidc_login_valid_seconds and is swept by later sign-ins.
--
-- Schema only: the functions are in sql/functions/oidc.sql (see sql/README.md).
-- accounts.oidc_issuer / oidc_sub and sessions.id_token exist since 017.

CREATE TABLE oidc_logins (
    id            bigserial PRIMARY KEY,
    state_hash    bytea NOT NULL UNIQUE CHECK (length(state_hash) = 32),
    nonce         text NOT NULL CHECK (length(nonce) BETWEEN 16 AND 128),
    code_verifier text NOT NULL CHECK (length(code_verifier) BETWEEN 43 AND 128),
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL
);
CREATE INDEX oidc_logins_expires_idx ON oidc_logins (expires_at);
