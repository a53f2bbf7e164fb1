/*
 * session: people signed in through the web UI. A session id is 256 random
 * bits, sent as the cookie siaod_session (HttpOnly, SameSite=Lax, Secure
 * unless session_cookie_secure = false, Path=/); PostgreSQL keeps only its
 * SHA-256, with an idle and an absolute expiry, so instances share sessions
 * and a restart keeps them.
 *
 * Lookups are cached here for at most SESSION_CACHE_MS: a session ended or an
 * account disabled on another instance stops working here within that time.
 *
 * CSRF: a write (POST, PUT, PATCH, DELETE) authenticated by the cookie needs
 * the header X-CSRF-Token, whose value is derived from the session id (so
 * nothing more is stored) and handed to the UI by /v1/me and at sign-in; an
 * Origin header, when sent, must be public_url's origin. Bearer tokens are
 * not concerned.
 */
#ifndef SIAOD_SESSION_H
#define SIAOD_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth.h"

struct app;
struct req;
struct store;
struct sessions;

#define SESSION_COOKIE "siaod_session"
#define SESSION_ID_LEN 43        /* 32 bytes in unpadded base64url */
#define SESSION_CSRF_LEN 43
#define SESSION_CACHE_MS 500   /* half the 1 s the issue allows, for a loaded machine */

struct sessions *session_new(struct app *app);
void session_free(struct sessions *s);

/* The request carries a siaod_session cookie. */
bool session_cookie_present(struct req *r);
/* Copies the cookie value (SESSION_ID_LEN + 1 bytes) or returns false. */
bool session_cookie_value(struct req *r, char out[SESSION_ID_LEN + 1]);
/* Checks CSRF for writes (answering 403 itself), then resolves the cookie
 * and calls cb(r, found, principal) as auth_resolve does. */
void session_authenticate(struct req *r, auth_cb cb);
/* Derives the CSRF token of a session id. */
void session_csrf(const char *sid, char out[SESSION_CSRF_LEN + 1]);
/* The request's Origin header is absent or public_url's origin. */
bool session_origin_ok(struct req *r);

/* Opens a session for an account; cb gets the new cookie value (NULL on
 * failure) and answers the request. method: "password" or "oidc". */
typedef void (*session_created_cb)(struct req *r, const char *sid, void *arg);
void session_open(struct req *r, int64_t account_id, const char *method, const char *id_token,
		  session_created_cb cb, void *arg);
/* Adds Set-Cookie for sid (or a clearing cookie when sid is NULL). */
void session_set_cookie(struct req *r, const char *sid);
/* Forgets cached lookups of an account (its sessions were ended here). */
void session_forget_account(struct sessions *s, int64_t account_id);

/* A short description of the device from a User-Agent ("Firefox sur Linux"). */
void session_device(const char *ua, char *out, size_t size);

/* 32 random bytes as unpadded base64url (43 characters); -1 if the RNG failed.
 * Shared with the one-time links (account.c). */
int  session_random_id(char out[SESSION_ID_LEN + 1]);

#endif
