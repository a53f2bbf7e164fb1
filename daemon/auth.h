/*
 * auth: bearer tokens. A token is "siaod_" + 40 hex digits (160 random bits);
 * only its SHA-256 is stored. Resolved tokens are cached for a few seconds so
 * a request served from memory needs no database round trip, yet a token
 * revoked elsewhere stops working within AUTH_CACHE_SECONDS.
 */
#ifndef SIAOD_AUTH_H
#define SIAOD_AUTH_H

#include <stdbool.h>
#include <stdint.h>

struct store;

#define AUTH_TOKEN_LEN 46          /* "siaod_" + 40 hex */
#define AUTH_MAX_DEPARTEMENTS 16
#define AUTH_CACHE_SECONDS 10

enum role { ROLE_ADMIN = 1, ROLE_REFERENT = 2, ROLE_PORTEUR = 4 };
#define ROLE_ANY (ROLE_ADMIN | ROLE_REFERENT | ROLE_PORTEUR)

struct principal {
	int64_t token_id;              /* 0 for a session (cookie) */
	int64_t account_id;            /* the person, 0 for a token without owner */
	int64_t session_id;            /* > 0 when authenticated by a session cookie */
	enum role role;
	int64_t porteur_id;            /* porteur tokens */
	int ndep;
	char departements[AUTH_MAX_DEPARTEMENTS][4]; /* referent tokens */
};

struct auth;

/* found: 1 resolved (p valid), 0 unknown/expired/revoked, -1 database unavailable. */
typedef void (*auth_cb)(void *arg, int found, const struct principal *p);

struct auth *auth_new(struct store *st);
void auth_free(struct auth *a);
void auth_resolve(struct auth *a, const char *token, auth_cb cb, void *arg);
/* Forget a token at once (revoked through this instance). */
void auth_forget(struct auth *a, int64_t token_id);

/* Fills token (NUL-terminated) and its SHA-256; -1 if the RNG failed. */
int  auth_token_generate(char token[AUTH_TOKEN_LEN + 1], unsigned char hash[32]);
void auth_hash(const char *token, unsigned char hash[32]);
/* "\\x" + 64 hex digits, as PostgreSQL's bytea text input. */
#define AUTH_HASH_PARAM_LEN 67   /* "\\x" + 64 hex digits + NUL */
void auth_hash_param(const unsigned char hash[32], char out[AUTH_HASH_PARAM_LEN]);

/* Forget every token of an account at once (disabled through this instance). */
void auth_forget_account(struct auth *a, int64_t account_id);
/* The key rate limits and Idempotency-Keys are kept under: the token, or
 * for a session the account (negated, so the two never collide). */
int64_t auth_principal_key(const struct principal *p);

const char *auth_role_name(enum role r);
int  auth_role_parse(const char *s);
bool auth_has_departement(const struct principal *p, const char *dep);

#endif
