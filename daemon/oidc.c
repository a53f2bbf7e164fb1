/*
 * The OpenID Connect provider as siaod sees it (see oidc.h).
 *
 * States of what is known about the provider:
 *
 *   UNKNOWN ──discover──▶ DISCOVERING ──metadata ok──▶ KEYS ──key set ok──▶ READY
 *      ▲                      │ failure                  │ failure            │ unknown kid
 *      └──── retry timer ◀── FAILED ◀────────────────────┘                    ▼
 *                                                        READY ◀── re-fetch of the key set
 *
 * Waiters (oidc_when_ready) are called when DISCOVERING/KEYS end, READY or
 * FAILED. A re-fetch of the key set keeps the old keys until the new set
 * parsed; its own waiters (oidc_verify) are called when it ends.
 */
#include "oidc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include <cjose/cjose.h>
#include <event2/event.h>
#include <event2/http.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "app.h"
#include "curlloop.h"
#include "log.h"

#define OIDC_RETRY_NOW_S 5      /* a click retries a failed discovery at most this often */

enum oidc_state { ST_UNKNOWN, ST_DISCOVERING, ST_KEYS, ST_READY, ST_FAILED };

struct key {
	char *kid;                  /* NULL: the set gave none */
	bool rsa;                   /* else EC P-256 */
	cjose_jwk_t *jwk;
};

struct waiter {
	struct waiter *next;
	oidc_ready_fn fn;
	void *arg;
};

struct fetch {
	struct oidc *o;
	struct fetch *prev, *next;
	CURL *easy;
	struct curl_slist *headers;
	char *post;
	char *buf;
	size_t len, cap;
	bool too_big;
	oidc_fetch_fn fn;
	void *arg;
};

struct oidc {
	struct app *app;
	struct curlloop *curl;
	struct event *retry;
	enum oidc_state state;
	bool stopped;
	double last_attempt;        /* monotonic seconds of the last discovery */
	double last_refetch;        /* ... of the last re-fetch for an unknown kid */
	bool refetching;
	char *meta[OIDC_END_SESSION + 1];
	bool auth_post;
	char *jwks_uri;
	struct key *keys;
	size_t nkeys;
	struct waiter *waiters;     /* of discovery */
	struct waiter *refetch_waiters;
	struct fetch *fetches;
};

static void discover(struct oidc *o);

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

bool oidc_enabled(const struct config *cfg)
{
	return cfg->oidc_issuer && cfg->oidc_issuer[0] != '\0';
}

void oidc_b64url(const unsigned char *in, size_t n, char *out, size_t outsize)
{
	size_t need = 4 * ((n + 2) / 3) + 1;
	char *tmp = outsize >= need ? malloc(need) : NULL;
	if (!tmp) {
		if (outsize)
			out[0] = '\0';
		return;
	}
	int len = EVP_EncodeBlock((unsigned char *)tmp, in, (int)n);
	while (len > 0 && tmp[len - 1] == '=')
		len--;
	for (int i = 0; i < len; i++)
		out[i] = (char)(tmp[i] == '+' ? '-' : tmp[i] == '/' ? '_' : tmp[i]);
	out[len] = '\0';
	free(tmp);
}

/* ------------------------------------------------------------ HTTP */

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct fetch *f = arg;
	size_t n = size * nmemb;
	if (f->len + n > OIDC_MAX_BODY) {
		f->too_big = true;
		return 0; /* curl stops the transfer */
	}
	if (f->len + n + 1 > f->cap) {
		size_t cap = f->cap ? f->cap : 4096;
		while (cap < f->len + n + 1)
			cap *= 2;
		char *b = realloc(f->buf, cap);
		if (!b)
			return 0;
		f->buf = b;
		f->cap = cap;
	}
	memcpy(f->buf + f->len, data, n);
	f->len += n;
	f->buf[f->len] = '\0';
	return n;
}

static void fetch_unlink(struct fetch *f)
{
	struct oidc *o = f->o;
	if (f->prev)
		f->prev->next = f->next;
	else if (o->fetches == f)
		o->fetches = f->next;
	if (f->next)
		f->next->prev = f->prev;
	f->prev = f->next = NULL;
	if (f->easy) {
		curlloop_remove(o->curl, f->easy);
		curl_easy_cleanup(f->easy);
		f->easy = NULL;
	}
}

static void fetch_free(struct fetch *f)
{
	curl_slist_free_all(f->headers);
	if (f->post) {
		OPENSSL_cleanse(f->post, strlen(f->post));
		free(f->post);
	}
	free(f->buf);
	free(f);
}

static void fetch_done(void *owner, CURL *easy, CURLcode rc)
{
	struct fetch *f = NULL;
	curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&f);
	if (!f)
		return;
	long status = 0;
	const char *ct = NULL;
	char ctype[128] = "";
	if (rc == CURLE_OK) {
		curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
		if (curl_easy_getinfo(easy, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
			snprintf(ctype, sizeof ctype, "%s", ct);
	} else {
		log_warn("oidc_call_failed", "error=\"%s\"%s", curl_easy_strerror(rc),
			 f->too_big ? " reason=answer_too_large" : "");
	}
	fetch_unlink(f);
	f->fn(f->arg, status, ctype, f->buf ? f->buf : "", f->len);
	fetch_free(f);
}

void oidc_fetch(struct oidc *o, const char *url, const char *post, const char *bearer, bool basic,
		oidc_fetch_fn fn, void *arg)
{
	struct fetch *f = calloc(1, sizeof *f);
	if (!f || o->stopped || !url) {
		free(f);
		fn(arg, 0, "", "", 0);
		return;
	}
	f->o = o;
	f->fn = fn;
	f->arg = arg;
	const struct config *cfg = &o->app->cfg;
	f->easy = curl_easy_init();
	bool ok = f->easy != NULL;
	struct curl_slist *h = curl_slist_append(NULL, "Accept: application/json, application/jwt");
	ok = ok && h;
	f->headers = h;
	if (ok && bearer) {
		size_t n = strlen(bearer) + 32;
		char *line = malloc(n);
		ok = line != NULL;
		if (ok) {
			snprintf(line, n, "Authorization: Bearer %s", bearer);
			h = curl_slist_append(f->headers, line);
			OPENSSL_cleanse(line, strlen(line));
			free(line);
			ok = h != NULL;
			if (h)
				f->headers = h;
		}
	}
	if (ok && post) {
		f->post = strdup(post);
		ok = f->post != NULL;
	}
	char *user = NULL, *pass = NULL;
	if (ok && basic) {
		/* RFC 6749 2.3.1: both form-encoded before Basic encodes them */
		user = evhttp_uriencode(cfg->oidc_client_id, -1, 0);
		pass = evhttp_uriencode(cfg->oidc_client_secret, -1, 0);
		ok = user && pass;
	}
	if (ok) {
		CURL *c = f->easy;
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, f->headers);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
		curl_easy_setopt(c, CURLOPT_PRIVATE, f);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)cfg->oidc_timeout_seconds);
		curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)cfg->oidc_timeout_seconds);
		curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
		curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(c, CURLOPT_USERAGENT, "siaod");
		if (f->post) {
			curl_easy_setopt(c, CURLOPT_POSTFIELDS, f->post);
		}
		if (basic) {
			curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
			curl_easy_setopt(c, CURLOPT_USERNAME, user);
			curl_easy_setopt(c, CURLOPT_PASSWORD, pass);
		}
		ok = curlloop_add(o->curl, c) == 0;
	}
	if (pass)
		OPENSSL_cleanse(pass, strlen(pass));
	free(user);
	free(pass);
	if (!ok) {
		if (f->easy)
			curl_easy_cleanup(f->easy);
		f->easy = NULL;
		fetch_free(f);
		fn(arg, 0, "", "", 0);
		return;
	}
	f->next = o->fetches;
	if (f->next)
		f->next->prev = f;
	o->fetches = f;
}

/* ------------------------------------------------------------ keys */

static void keys_free(struct key *keys, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(keys[i].kid);
		cjose_jwk_release(keys[i].jwk);
	}
	free(keys);
}

/* The signing keys of a JWKS document: RSA and EC P-256 keys meant for
 * signatures (use absent or "sig"; alg absent, RS256 or ES256). -1 when the
 * document is not a key set or holds no usable key. */
static int keys_parse(const char *body, size_t len, struct key **out, size_t *nout)
{
	json_error_t jerr;
	json_t *doc = json_loadb(body, len, 0, &jerr);
	json_t *arr = json_object_get(doc, "keys");
	struct key *keys = NULL;
	size_t n = 0;
	int rc = -1;
	if (!json_is_array(arr))
		goto out;
	keys = calloc(json_array_size(arr) + 1, sizeof *keys);
	if (!keys)
		goto out;
	size_t i;
	json_t *k;
	json_array_foreach(arr, i, k) {
		const char *kty = json_string_value(json_object_get(k, "kty"));
		const char *use = json_string_value(json_object_get(k, "use"));
		const char *alg = json_string_value(json_object_get(k, "alg"));
		const char *crv = json_string_value(json_object_get(k, "crv"));
		const char *kid = json_string_value(json_object_get(k, "kid"));
		bool rsa = kty && strcmp(kty, "RSA") == 0;
		bool ec = kty && strcmp(kty, "EC") == 0 && crv && strcmp(crv, "P-256") == 0;
		if ((!rsa && !ec) || (use && strcmp(use, "sig") != 0) ||
		    (alg && strcmp(alg, rsa ? "RS256" : "ES256") != 0))
			continue;
		/* a public key only: whatever private member a broken set carries is dropped */
		json_t *pub = rsa ? json_pack("{s:s, s:O, s:O}", "kty", "RSA", "n", json_object_get(k, "n"),
					      "e", json_object_get(k, "e"))
				  : json_pack("{s:s, s:s, s:O, s:O}", "kty", "EC", "crv", "P-256",
					      "x", json_object_get(k, "x"), "y", json_object_get(k, "y"));
		char *text = pub ? json_dumps(pub, JSON_COMPACT) : NULL;
		json_decref(pub);
		cjose_err cerr;
		cjose_jwk_t *jwk = text ? cjose_jwk_import(text, strlen(text), &cerr) : NULL;
		free(text);
		if (!jwk)
			continue;
		keys[n].jwk = jwk;
		keys[n].rsa = rsa;
		keys[n].kid = kid ? strdup(kid) : NULL;
		if (kid && !keys[n].kid) {
			cjose_jwk_release(jwk);
			continue;
		}
		n++;
	}
	if (n == 0)
		goto out;
	*out = keys;
	*nout = n;
	keys = NULL;
	n = 0;
	rc = 0;
out:
	keys_free(keys, n);
	json_decref(doc);
	return rc;
}

/* ------------------------------------------------------------ discovery */

static void waiters_run(struct waiter **list, bool ok)
{
	struct waiter *w = *list;
	*list = NULL;
	while (w) {
		struct waiter *next = w->next;
		w->fn(w->arg, ok);
		free(w);
		w = next;
	}
}

static void meta_clear(struct oidc *o)
{
	for (size_t i = 0; i < sizeof o->meta / sizeof *o->meta; i++) {
		free(o->meta[i]);
		o->meta[i] = NULL;
	}
	free(o->jwks_uri);
	o->jwks_uri = NULL;
}

static void discovery_failed(struct oidc *o, const char *why)
{
	o->state = ST_FAILED;
	log_warn("oidc_discovery_failed", "reason=%s retry_in_s=%d", why, o->app->cfg.oidc_retry_seconds);
	if (o->retry && !o->stopped) {
		struct timeval tv = {o->app->cfg.oidc_retry_seconds, 0};
		event_add(o->retry, &tv);
	}
	waiters_run(&o->waiters, false);
}

/* Same text, or the same but for one trailing slash. */
static bool same_issuer(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);
	if (na && a[na - 1] == '/')
		na--;
	if (nb && b[nb - 1] == '/')
		nb--;
	return na == nb && strncmp(a, b, na) == 0;
}

/* An endpoint must be http(s); plain http only when the issuer is (tests,
 * a provider on loopback). */
static bool url_ok(const char *u, const char *issuer)
{
	if (!u)
		return false;
	if (strncmp(u, "https://", 8) == 0)
		return true;
	return strncmp(u, "http://", 7) == 0 && strncmp(issuer, "http://", 7) == 0;
}

static void keys_fetched(void *arg, long status, const char *ct, const char *body, size_t len)
{
	struct oidc *o = arg;
	struct key *keys = NULL;
	size_t n = 0;
	bool refetch = o->refetching;
	o->refetching = false;
	if (status != 200 || keys_parse(body, len, &keys, &n) != 0) {
		log_warn("oidc_keys_failed", "status=%ld", status);
		if (refetch)
			waiters_run(&o->refetch_waiters, false);
		else
			discovery_failed(o, status == 200 ? "bad_key_set" : "keys_unreachable");
		return;
	}
	keys_free(o->keys, o->nkeys);
	o->keys = keys;
	o->nkeys = n;
	log_info("oidc_keys_loaded", "keys=%zu refetch=%s", n, refetch ? "true" : "false");
	if (refetch) {
		waiters_run(&o->refetch_waiters, true);
		return;
	}
	o->state = ST_READY;
	waiters_run(&o->waiters, true);
}

static char *dup_member(const json_t *doc, const char *name)
{
	const char *v = json_string_value(json_object_get(doc, name));
	return v ? strdup(v) : NULL;
}

static void metadata_fetched(void *arg, long status, const char *ct, const char *body, size_t len)
{
	struct oidc *o = arg;
	if (status != 200) {
		discovery_failed(o, status ? "bad_status" : "unreachable");
		return;
	}
	json_error_t jerr;
	json_t *doc = json_loadb(body, len, 0, &jerr);
	const char *iss = json_string_value(json_object_get(doc, "issuer"));
	const char *cfg_iss = o->app->cfg.oidc_issuer;
	meta_clear(o);
	if (!json_is_object(doc) || !iss || !same_issuer(iss, cfg_iss)) {
		json_decref(doc);
		discovery_failed(o, doc ? "issuer_mismatch" : "not_json");
		return;
	}
	o->meta[OIDC_ISSUER] = strdup(iss);
	o->meta[OIDC_AUTHORIZATION] = dup_member(doc, "authorization_endpoint");
	o->meta[OIDC_TOKEN] = dup_member(doc, "token_endpoint");
	o->meta[OIDC_USERINFO] = dup_member(doc, "userinfo_endpoint");
	o->meta[OIDC_END_SESSION] = dup_member(doc, "end_session_endpoint");
	o->jwks_uri = dup_member(doc, "jwks_uri");
	/* client_secret_basic is the default when the list is absent */
	o->auth_post = false;
	size_t i;
	json_t *m;
	json_array_foreach(json_object_get(doc, "token_endpoint_auth_methods_supported"), i, m)
		if (json_is_string(m) && strcmp(json_string_value(m), "client_secret_post") == 0)
			o->auth_post = true;
	json_decref(doc);
	bool ok = o->meta[OIDC_ISSUER] && url_ok(o->meta[OIDC_AUTHORIZATION], cfg_iss) &&
		  url_ok(o->meta[OIDC_TOKEN], cfg_iss) && url_ok(o->jwks_uri, cfg_iss) &&
		  (!o->meta[OIDC_USERINFO] || url_ok(o->meta[OIDC_USERINFO], cfg_iss)) &&
		  (!o->meta[OIDC_END_SESSION] || url_ok(o->meta[OIDC_END_SESSION], cfg_iss));
	if (!ok) {
		meta_clear(o);
		discovery_failed(o, "endpoints_missing");
		return;
	}
	log_info("oidc_discovered", "userinfo=%s end_session=%s token_auth=%s",
		 o->meta[OIDC_USERINFO] ? "yes" : "no", o->meta[OIDC_END_SESSION] ? "yes" : "no",
		 o->auth_post ? "client_secret_post" : "client_secret_basic");
	o->state = ST_KEYS;
	oidc_fetch(o, o->jwks_uri, NULL, NULL, false, keys_fetched, o);
}

static void discover(struct oidc *o)
{
	if (o->stopped || o->state == ST_DISCOVERING || o->state == ST_KEYS)
		return;
	o->state = ST_DISCOVERING;
	o->last_attempt = mono_s();
	const char *iss = o->app->cfg.oidc_issuer;
	size_t n = strlen(iss);
	if (n && iss[n - 1] == '/')
		n--;
	char url[1200];
	snprintf(url, sizeof url, "%.*s/.well-known/openid-configuration", (int)n, iss);
	oidc_fetch(o, url, NULL, NULL, false, metadata_fetched, o);
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct oidc *o = arg;
	if (o->state == ST_FAILED || o->state == ST_UNKNOWN)
		discover(o);
}

void oidc_when_ready(struct oidc *o, oidc_ready_fn fn, void *arg)
{
	if (!o || o->stopped || !oidc_enabled(&o->app->cfg)) {
		fn(arg, false);
		return;
	}
	if (o->state == ST_READY) {
		fn(arg, true);
		return;
	}
	if (o->state == ST_FAILED && mono_s() - o->last_attempt < OIDC_RETRY_NOW_S) {
		fn(arg, false);
		return;
	}
	struct waiter *w = calloc(1, sizeof *w);
	if (!w) {
		fn(arg, false);
		return;
	}
	w->fn = fn;
	w->arg = arg;
	w->next = o->waiters;
	o->waiters = w;
	discover(o);
}

const char *oidc_endpoint(const struct oidc *o, enum oidc_endpoint which)
{
	return o && o->state == ST_READY ? o->meta[which] : NULL;
}

bool oidc_token_auth_post(const struct oidc *o)
{
	return o && o->auth_post;
}

/* ------------------------------------------------------------ JWS */

enum jws_outcome { JWS_OK, JWS_UNKNOWN_KID, JWS_BAD };

static enum jws_outcome jws_check(struct oidc *o, const char *compact, json_t **claims, const char **why)
{
	cjose_err err;
	enum jws_outcome rc = JWS_BAD;
	*claims = NULL;
	*why = "malformed";
	/* three base64url parts and nothing else */
	size_t n = strlen(compact), dots = 0;
	for (size_t i = 0; i < n; i++) {
		char c = compact[i];
		if (c == '.')
			dots++;
		else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			   c == '-' || c == '_'))
			return JWS_BAD;
	}
	if (dots != 2)
		return JWS_BAD;
	cjose_jws_t *jws = cjose_jws_import(compact, n, &err);
	if (!jws)
		return JWS_BAD;
	cjose_header_t *hdr = cjose_jws_get_protected(jws);
	const char *alg = hdr ? cjose_header_get(hdr, "alg", &err) : NULL;
	const char *kid = hdr ? cjose_header_get(hdr, "kid", &err) : NULL;
	bool rsa = alg && strcmp(alg, "RS256") == 0;
	bool ec = alg && strcmp(alg, "ES256") == 0;
	if (!rsa && !ec) {
		*why = "alg_refused";
		goto out;
	}
	/* a critical extension we cannot understand (RFC 7515 4.1.11) */
	if (hdr && json_object_get((json_t *)hdr, "crit")) {
		*why = "crit_header";
		goto out;
	}
	const struct key *key = NULL;
	size_t candidates = 0;
	for (size_t i = 0; i < o->nkeys; i++) {
		if (o->keys[i].rsa != rsa)
			continue;
		if (kid ? o->keys[i].kid && strcmp(o->keys[i].kid, kid) == 0 : true) {
			key = &o->keys[i];
			candidates++;
		}
	}
	/* without a kid, only a set with a single key of this type says which */
	if (!key || candidates != 1) {
		*why = "unknown_kid";
		rc = JWS_UNKNOWN_KID;
		goto out;
	}
	if (!cjose_jws_verify(jws, key->jwk, &err)) {
		*why = "bad_signature";
		goto out;
	}
	uint8_t *plain = NULL;
	size_t plen = 0;
	if (!cjose_jws_get_plaintext(jws, &plain, &plen, &err)) {
		*why = "bad_payload";
		goto out;
	}
	json_error_t jerr;
	json_t *j = json_loadb((const char *)plain, plen, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(j)) {
		json_decref(j);
		*why = "bad_payload";
		goto out;
	}
	*claims = j;
	*why = NULL;
	rc = JWS_OK;
out:
	cjose_jws_release(jws);
	return rc;
}

struct verifying {
	struct oidc *o;
	char *jws;
	oidc_verified_fn fn;
	void *arg;
};

static void verifying_end(struct verifying *v, json_t *claims, const char *why)
{
	oidc_verified_fn fn = v->fn;
	void *arg = v->arg;
	free(v->jws);
	free(v);
	fn(arg, claims, why);
}

static void refetched(void *arg, bool ok)
{
	struct verifying *v = arg;
	json_t *claims = NULL;
	const char *why = "unknown_kid";
	if (ok)
		jws_check(v->o, v->jws, &claims, &why);
	verifying_end(v, claims, why);
}

void oidc_verify(struct oidc *o, const char *jws, oidc_verified_fn fn, void *arg)
{
	json_t *claims = NULL;
	const char *why = "not_ready";
	enum jws_outcome rc = o && jws ? jws_check(o, jws, &claims, &why) : JWS_BAD;
	if (rc != JWS_UNKNOWN_KID) {
		fn(arg, claims, why);
		return;
	}
	/* the provider may have rotated its keys: fetch the set again, once,
	 * and not more often than OIDC_REFETCH_MIN_S (or joining one running) */
	double now = mono_s();
	if (o->stopped || !o->jwks_uri ||
	    (!o->refetching && o->last_refetch > 0 && now - o->last_refetch < OIDC_REFETCH_MIN_S)) {
		fn(arg, NULL, why);
		return;
	}
	struct verifying *v = calloc(1, sizeof *v);
	char *copy = v ? strdup(jws) : NULL;
	struct waiter *w = copy ? calloc(1, sizeof *w) : NULL;
	if (!w) {
		free(copy);
		free(v);
		fn(arg, NULL, "out_of_memory");
		return;
	}
	v->o = o;
	v->jws = copy;
	v->fn = fn;
	v->arg = arg;
	w->fn = refetched;
	w->arg = v;
	w->next = o->refetch_waiters;
	o->refetch_waiters = w;
	if (!o->refetching) {
		o->refetching = true;
		o->last_refetch = now;
		log_info("oidc_keys_refetch", "reason=unknown_kid");
		oidc_fetch(o, o->jwks_uri, NULL, NULL, false, keys_fetched, o);
	}
}

/* ------------------------------------------------------------ claims */

static bool aud_has(const json_t *aud, const char *client_id, size_t *count)
{
	if (json_is_string(aud)) {
		*count = 1;
		return strcmp(json_string_value(aud), client_id) == 0;
	}
	bool found = false;
	*count = json_is_array(aud) ? json_array_size(aud) : 0;
	size_t i;
	json_t *a;
	json_array_foreach(aud, i, a)
		if (json_is_string(a) && strcmp(json_string_value(a), client_id) == 0)
			found = true;
	return found;
}

const char *oidc_check_id_token(const json_t *claims, const char *issuer, const char *client_id,
				const char *nonce, time_t now)
{
	const char *iss = json_string_value(json_object_get(claims, "iss"));
	const char *sub = json_string_value(json_object_get(claims, "sub"));
	const char *azp = json_string_value(json_object_get(claims, "azp"));
	const char *got_nonce = json_string_value(json_object_get(claims, "nonce"));
	const json_t *exp = json_object_get(claims, "exp"), *iat = json_object_get(claims, "iat");
	size_t naud = 0;
	if (!iss || !issuer || strcmp(iss, issuer) != 0)
		return "wrong_iss";
	if (!aud_has(json_object_get(claims, "aud"), client_id, &naud))
		return "wrong_aud";
	if ((naud > 1 || azp) && (!azp || strcmp(azp, client_id) != 0))
		return "wrong_azp";
	if (!json_is_number(exp) || json_number_value(exp) + OIDC_SKEW_S <= (double)now)
		return "expired";
	if (!json_is_number(iat) || json_number_value(iat) > (double)now + OIDC_SKEW_S ||
	    json_number_value(iat) < (double)now - OIDC_IAT_MAX_AGE_S - OIDC_SKEW_S)
		return "bad_iat";
	if (!nonce || !got_nonce || strlen(got_nonce) != strlen(nonce) ||
	    CRYPTO_memcmp(got_nonce, nonce, strlen(nonce)) != 0)
		return "wrong_nonce";
	if (!sub || !sub[0] || strlen(sub) > 255)
		return "no_sub";
	return NULL;
}

/* ------------------------------------------------------------ logout */

char *oidc_logout_url(struct app *app, const char *id_token)
{
	const char *end = oidc_endpoint(app->oidc, OIDC_END_SESSION);
	if (!end || !id_token)
		return NULL;
	char back[600];
	snprintf(back, sizeof back, "%s/ui/", app->cfg.public_url);
	char *hint = evhttp_uriencode(id_token, -1, 0);
	char *redirect = evhttp_uriencode(back, -1, 0);
	char *client = evhttp_uriencode(app->cfg.oidc_client_id, -1, 0);
	char *url = NULL;
	if (hint && redirect && client) {
		size_t n = strlen(end) + strlen(hint) + strlen(redirect) + strlen(client) + 80;
		url = malloc(n);
		if (url)
			snprintf(url, n, "%s%cid_token_hint=%s&post_logout_redirect_uri=%s&client_id=%s", end,
				 strchr(end, '?') ? '&' : '?', hint, redirect, client);
	}
	free(hint);
	free(redirect);
	free(client);
	return url;
}

/* ------------------------------------------------------------ lifetime */

int oidc_start(struct app *app)
{
	struct oidc *o = calloc(1, sizeof *o);
	if (!o)
		return -1;
	o->app = app;
	app->oidc = o;
	if (!oidc_enabled(&app->cfg))
		return 0;
	o->curl = curlloop_new(app->base, fetch_done, NULL, o);
	o->retry = event_new(app->base, -1, 0, retry_cb, o);
	if (!o->curl || !o->retry)
		return -1;
	discover(o);
	return 0;
}

void oidc_stop(struct app *app)
{
	struct oidc *o = app->oidc;
	if (!o || o->stopped)
		return;
	o->stopped = true;
	if (o->retry)
		event_del(o->retry);
	/* every transfer ends now, as failed: its owner answers and frees (a
	 * new call it makes fails at once: stopped) */
	struct fetch *list = o->fetches;
	o->fetches = NULL;
	while (list) {
		struct fetch *f = list;
		list = f->next;
		f->prev = f->next = NULL;
		curlloop_remove(o->curl, f->easy);
		curl_easy_cleanup(f->easy);
		f->easy = NULL;
		oidc_fetch_fn fn = f->fn;
		void *arg = f->arg;
		fetch_free(f);
		fn(arg, 0, "", "", 0);
	}
	waiters_run(&o->waiters, false);
	waiters_run(&o->refetch_waiters, false);
}

void oidc_free(struct app *app)
{
	struct oidc *o = app->oidc;
	if (!o)
		return;
	oidc_stop(app);
	curlloop_free(o->curl);
	if (o->retry)
		event_free(o->retry);
	meta_clear(o);
	keys_free(o->keys, o->nkeys);
	free(o);
	app->oidc = NULL;
}
