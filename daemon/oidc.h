/*
 * oidc: siaod as an OpenID Connect relying party (ProConnect or any provider
 * found by discovery) — the provider's side of things. The sign-in flow that
 * a browser walks through (/auth/oidc/start, /auth/oidc/callback) is
 * api_oidc.c's; this module knows the provider:
 *
 *   - its metadata, from <oidc_issuer>/.well-known/openid-configuration,
 *     and its signing keys (jwks_uri), fetched at start and kept; a provider
 *     that is down or wrong does not stop siaod: discovery is tried again
 *     every oidc_retry_seconds, and at once (at most every few seconds) when
 *     someone clicks the button;
 *   - every HTTP call to it (discovery, keys, token, userinfo) on the shared
 *     libcurl multi of the event loop (curlloop.h): never a blocking call;
 *   - JWS checks: the key set parsed with Jansson, the key chosen by `kid`
 *     (and by key type for the algorithm), the signature verified by libcjose;
 *     only RS256 and ES256 are accepted (never none, never HS256); an unknown
 *     `kid` re-fetches the key set once (at most every OIDC_REFETCH_MIN_S
 *     seconds) before refusing;
 *   - the checks of an ID token's claims (iss, aud, azp, exp, iat, nonce,
 *     sub): oidc_check_id_token, pure.
 *
 * Nothing of a token or a person reaches the log: reasons only.
 */
#ifndef SIAOD_OIDC_H
#define SIAOD_OIDC_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include <jansson.h>

struct app;
struct config;
struct oidc;

#define OIDC_REFETCH_MIN_S 10   /* an unknown kid re-fetches the keys at most this often */
#define OIDC_SKEW_S 60          /* clock difference tolerated on exp and iat */
#define OIDC_IAT_MAX_AGE_S 600  /* an ID token issued longer ago than this is refused */
#define OIDC_MAX_BODY (1 << 20) /* the largest answer read from the provider */

/* OpenID Connect sign-in is configured (oidc_issuer set). */
bool oidc_enabled(const struct config *cfg);

/* Creates app->oidc and, when configured, starts discovery. Returns -1 only
 * when out of memory: an unreachable provider is logged and retried. */
int  oidc_start(struct app *app);
/* Ends the transfers in flight (their callbacks run with a failure) and
 * refuses new ones; the struct stays until oidc_free. */
void oidc_stop(struct app *app);
void oidc_free(struct app *app);

/* Calls fn(arg, ok) once the provider's metadata and keys are known: at
 * once when they are, else after a discovery (started now if none runs and
 * the last attempt is a few seconds old; ok false when it fails). */
typedef void (*oidc_ready_fn)(void *arg, bool ok);
void oidc_when_ready(struct oidc *o, oidc_ready_fn fn, void *arg);

enum oidc_endpoint {
	OIDC_ISSUER, OIDC_AUTHORIZATION, OIDC_TOKEN, OIDC_USERINFO, OIDC_END_SESSION,
};
/* An endpoint of the discovered metadata, NULL when unknown or absent. */
const char *oidc_endpoint(const struct oidc *o, enum oidc_endpoint which);
/* The token endpoint takes client_secret_post (else client_secret_basic). */
bool oidc_token_auth_post(const struct oidc *o);

/* One HTTP call to the provider: GET, or POST of form fields (post, already
 * encoded); bearer: an access token for Authorization; basic: client id and
 * secret as HTTP Basic (client_secret_basic). fn gets the status (0: no
 * answer), the Content-Type and the body (at most OIDC_MAX_BODY bytes),
 * which it must not keep. fn may run before oidc_fetch returns (stopped, or
 * out of memory). */
typedef void (*oidc_fetch_fn)(void *arg, long status, const char *content_type, const char *body,
			      size_t len);
void oidc_fetch(struct oidc *o, const char *url, const char *post, const char *bearer, bool basic,
		oidc_fetch_fn fn, void *arg);

/* Verifies a compact JWS (an ID token, a signed userinfo) against the
 * provider's keys, re-fetching them once on an unknown kid; fn gets the
 * payload (a JSON object, owned by fn) or NULL and a reason for the log
 * ("bad_signature", "alg_refused", "unknown_kid", ...). fn may run before
 * oidc_verify returns. */
typedef void (*oidc_verified_fn)(void *arg, json_t *claims, const char *why);
void oidc_verify(struct oidc *o, const char *jws, oidc_verified_fn fn, void *arg);

/* Checks an ID token's claims: iss equal to issuer, client_id in aud (and
 * azp, when present or when aud names several), exp not past and iat not in
 * the future (OIDC_SKEW_S either way) nor older than OIDC_IAT_MAX_AGE_S,
 * nonce equal to the one sent, sub present. NULL when good, else a reason
 * for the log ("wrong_aud", "expired", ...). Pure. */
const char *oidc_check_id_token(const json_t *claims, const char *issuer, const char *client_id,
				const char *nonce, time_t now);

/* base64url without padding of n bytes into out (4 * ceil(n / 3) + 1 bytes
 * suffice). */
void oidc_b64url(const unsigned char *in, size_t n, char *out, size_t outsize);

/* The provider's sign-out address for a session's ID token (end_session
 * endpoint with id_token_hint, post_logout_redirect_uri = public_url/ui/ and
 * client_id), malloc'd; NULL when the provider has none or is not known. */
char *oidc_logout_url(struct app *app, const char *id_token);

#endif
