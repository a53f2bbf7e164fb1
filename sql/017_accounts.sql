-- 017 accounts: people sign in as themselves. Accounts (invited by an admin),
-- one-time links (invitations, password resets) stored hashed, sessions
-- stored hashed with idle and absolute expiry, sign-in attempts for the
-- throttle, the outgoing mail outbox, and the audit naming the account.
--
-- actor (see 002) gains `account_id` (0 or absent for a token without an
-- owner); a session actor has `token_id` 0.
--
-- Schema only: the functions the API calls for accounts, sessions and mail
-- are in sql/functions/ (accounts.sql, sessions.sql, mail.sql; audit_write,
-- audit_list in audit.sql; token_* in tokens.sql), see sql/README.md.

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
