/*
 * Sessions of people signed in through the web UI (see session.h).
 */
#include "session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "api.h"
#include "app.h"
#include "req.h"
#include "log.h"
#include "store.h"

#define SESSION_CACHE_MAX 4096

struct entry {
	unsigned char hash[32];
	int found;
	struct principal p;
	double fetched_ms;
};

struct sessions {
	struct app *app;
	struct entry *entries;
	int n;
};

static double mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

struct sessions *session_new(struct app *app)
{
	struct sessions *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->entries = calloc(SESSION_CACHE_MAX, sizeof *s->entries);
	if (!s->entries) {
		free(s);
		return NULL;
	}
	s->app = app;
	return s;
}

void session_free(struct sessions *s)
{
	if (!s)
		return;
	free(s->entries);
	free(s);
}

static void b64url(const unsigned char *in, size_t n, char *out, size_t outsize)
{
	char tmp[128];
	if (4 * ((n + 2) / 3) + 1 > sizeof tmp) {
		out[0] = '\0';
		return;
	}
	int len = EVP_EncodeBlock((unsigned char *)tmp, in, (int)n);
	while (len > 0 && tmp[len - 1] == '=')
		len--;
	for (int i = 0; i < len; i++)
		if (tmp[i] == '+')
			tmp[i] = '-';
		else if (tmp[i] == '/')
			tmp[i] = '_';
	snprintf(out, outsize, "%.*s", len, tmp);
}

int session_random_id(char out[SESSION_ID_LEN + 1])
{
	unsigned char raw[32];
	if (RAND_bytes(raw, sizeof raw) != 1)
		return -1;
	b64url(raw, sizeof raw, out, SESSION_ID_LEN + 1);
	OPENSSL_cleanse(raw, sizeof raw);
	return 0;
}

void session_csrf(const char *sid, char out[SESSION_CSRF_LEN + 1])
{
	/* Unpredictable without the session id, which only the cookie holds. */
	unsigned char md[32];
	unsigned int len = sizeof md;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	if (!c || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(c, "siaod-csrf:", 11) != 1 || EVP_DigestUpdate(c, sid, strlen(sid)) != 1 ||
	    EVP_DigestFinal_ex(c, md, &len) != 1) {
		EVP_MD_CTX_free(c);
		out[0] = '\0';
		return;
	}
	EVP_MD_CTX_free(c);
	b64url(md, sizeof md, out, SESSION_CSRF_LEN + 1);
}

bool session_cookie_value(struct req *r, char out[SESSION_ID_LEN + 1])
{
	const char *c = req_header(r, "Cookie");
	const size_t nl = strlen(SESSION_COOKIE);
	for (const char *p = c; p && *p;) {
		while (*p == ' ' || *p == ';')
			p++;
		size_t len = strcspn(p, ";");
		if (len > nl && strncmp(p, SESSION_COOKIE, nl) == 0 && p[nl] == '=') {
			size_t vlen = len - nl - 1;
			if (vlen != SESSION_ID_LEN)
				return false;
			memcpy(out, p + nl + 1, vlen);
			out[vlen] = '\0';
			for (size_t i = 0; i < vlen; i++)
				if (!((out[i] >= 'A' && out[i] <= 'Z') || (out[i] >= 'a' && out[i] <= 'z') ||
				      (out[i] >= '0' && out[i] <= '9') || out[i] == '-' || out[i] == '_'))
					return false;
			return true;
		}
		p += len;
	}
	return false;
}

bool session_cookie_present(struct req *r)
{
	const char *c = req_header(r, "Cookie");
	return c && strstr(c, SESSION_COOKIE "=") != NULL;
}

/* public_url's origin: scheme://host[:port], without a path. */
static size_t origin_len(const char *url)
{
	const char *p = strstr(url, "://");
	if (!p)
		return strlen(url);
	p = strchr(p + 3, '/');
	return p ? (size_t)(p - url) : strlen(url);
}

bool session_origin_ok(struct req *r)
{
	const char *o = req_header(r, "Origin");
	if (!o)
		return true;
	const char *pub = r->app->cfg.public_url;
	size_t n = origin_len(pub);
	return strlen(o) == n && strncasecmp(o, pub, n) == 0;
}

static bool method_writes(const char *m)
{
	return strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0 && strcmp(m, "OPTIONS") != 0;
}

static void sid_hash(const char *sid, unsigned char hash[32])
{
	auth_hash(sid, hash);
}

static struct entry *cache_find(struct sessions *s, const unsigned char hash[32])
{
	for (int i = 0; i < s->n; i++)
		if (memcmp(s->entries[i].hash, hash, 32) == 0)
			return &s->entries[i];
	return NULL;
}

static struct entry *cache_slot(struct sessions *s, const unsigned char hash[32])
{
	struct entry *e = cache_find(s, hash);
	if (!e) {
		if (s->n < SESSION_CACHE_MAX)
			e = &s->entries[s->n++];
		else {
			e = &s->entries[0];
			for (int i = 1; i < s->n; i++)
				if (s->entries[i].fetched_ms < e->fetched_ms)
					e = &s->entries[i];
		}
	}
	memset(e, 0, sizeof *e);
	memcpy(e->hash, hash, 32);
	return e;
}

void session_forget_account(struct sessions *s, int64_t account_id)
{
	for (int i = 0; i < s->n; i++)
		if (s->entries[i].found && s->entries[i].p.account_id == account_id) {
			s->entries[i] = s->entries[--s->n];
			i--;
		}
}

static void parse_departements(struct principal *p, const char *arr)
{
	p->ndep = 0;
	const char *s = arr;
	while (*s && p->ndep < AUTH_MAX_DEPARTEMENTS) {
		while (*s == '{' || *s == ',' || *s == '"' || *s == '}')
			s++;
		size_t n = strcspn(s, ",\"}");
		if (n == 0)
			break;
		if (n < sizeof p->departements[0]) {
			memcpy(p->departements[p->ndep], s, n);
			p->departements[p->ndep][n] = '\0';
			p->ndep++;
		}
		s += n;
	}
}

struct lookup {
	struct req *r;
	auth_cb cb;
	unsigned char hash[32];
	bool csrf_ok;      /* checked before the lookup, judged after it */
	bool origin_ok;
};

/* A write by cookie without its CSRF token (or from another Origin): 403,
 * and the audit names the account the cookie belongs to. */
static void csrf_refused(struct req *r, const struct principal *p, bool token_ok)
{
	r->authenticated = true;
	r->who = *p;
	snprintf(r->actor, sizeof r->actor,
		 "{\"token_id\":0,\"account_id\":%lld,\"role\":\"%s\",\"request_id\":\"%s\"}",
		 (long long)p->account_id, auth_role_name(p->role), r->id);
	api_audit_refused(r, "denied", 403);
	req_problem(r, 403, "csrf",
		    !token_ok ? "a write with a session cookie needs the X-CSRF-Token header"
			      : "the Origin of this request is not this site");
}

static void resolved(struct lookup *l, const struct entry *e)
{
	struct req *r = l->r;
	auth_cb cb = l->cb;
	bool csrf_ok = l->csrf_ok, origin_ok = l->origin_ok;
	free(l);
	if (!e->found) {
		cb(r, 0, NULL);
		return;
	}
	if (!csrf_ok || !origin_ok) {
		csrf_refused(r, &e->p, csrf_ok);
		return;
	}
	cb(r, 1, &e->p);
}

static void lookup_done(void *arg, PGresult *res)
{
	struct lookup *l = arg;
	struct sessions *s = l->r->app->sessions;
	if (store_result_failed(res)) {
		struct req *r = l->r;
		auth_cb cb = l->cb;
		free(l);
		cb(r, -1, NULL);
		return;
	}
	struct entry *e = cache_slot(s, l->hash);
	e->fetched_ms = mono_ms();
	/* session_lookup's columns, by name (sql/functions/sessions.sql) */
	int f_sid = PQfnumber(res, "session_id"), f_acc = PQfnumber(res, "account_id"),
	    f_role = PQfnumber(res, "role"), f_deps = PQfnumber(res, "departements"),
	    f_porteur = PQfnumber(res, "porteur_id");
	if (PQntuples(res) == 1 && f_sid >= 0 && f_acc >= 0 && f_role >= 0 && f_deps >= 0 && f_porteur >= 0) {
		e->found = 1;
		e->p.session_id = strtoll(PQgetvalue(res, 0, f_sid), NULL, 10);
		e->p.account_id = strtoll(PQgetvalue(res, 0, f_acc), NULL, 10);
		e->p.role = (enum role)auth_role_parse(PQgetvalue(res, 0, f_role));
		parse_departements(&e->p, PQgetvalue(res, 0, f_deps));
		e->p.porteur_id = PQgetisnull(res, 0, f_porteur) ? 0
				  : strtoll(PQgetvalue(res, 0, f_porteur), NULL, 10);
	}
	resolved(l, e);
}

void session_authenticate(struct req *r, auth_cb cb)
{
	char sid[SESSION_ID_LEN + 1];
	if (!session_cookie_value(r, sid)) {
		cb(r, 0, NULL);
		return;
	}
	struct lookup *l = calloc(1, sizeof *l);
	if (!l) {
		cb(r, -1, NULL);
		return;
	}
	l->r = r;
	l->cb = cb;
	l->csrf_ok = l->origin_ok = true;
	if (method_writes(r->method)) {
		char want[SESSION_CSRF_LEN + 1];
		const char *got = req_header(r, "X-CSRF-Token");
		session_csrf(sid, want);
		l->csrf_ok = got && want[0] && strlen(got) == strlen(want) &&
			     CRYPTO_memcmp(got, want, strlen(want)) == 0;
		l->origin_ok = session_origin_ok(r);
	}
	struct sessions *s = r->app->sessions;
	sid_hash(sid, l->hash);
	OPENSSL_cleanse(sid, sizeof sid);
	struct entry *e = cache_find(s, l->hash);
	if (e && mono_ms() - e->fetched_ms < SESSION_CACHE_MS) {
		resolved(l, e);
		return;
	}
	char hp[67], idle[16];
	auth_hash_param(l->hash, hp);
	snprintf(idle, sizeof idle, "%d", r->app->cfg.session_idle_seconds);
	const char *values[2] = {hp, idle};
	store_query(r->app->store, "SELECT * FROM session_lookup($1::bytea, $2::integer)", 2, values,
		    lookup_done, l);
}

void session_set_cookie(struct req *r, const char *sid)
{
	char c[256];
	if (sid)
		snprintf(c, sizeof c, SESSION_COOKIE "=%s; Path=/; HttpOnly; SameSite=Lax; Max-Age=%d%s", sid,
			 r->app->cfg.session_absolute_seconds, r->app->cfg.session_cookie_secure ? "; Secure" : "");
	else
		snprintf(c, sizeof c, SESSION_COOKIE "=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0%s",
			 r->app->cfg.session_cookie_secure ? "; Secure" : "");
	req_add_header(r, "Set-Cookie", c);
	req_add_header(r, "Cache-Control", "no-store");
}

void session_device(const char *ua, char *out, size_t size)
{
	if (!ua) {
		snprintf(out, size, "Appareil inconnu");
		return;
	}
	const char *browser = strstr(ua, "Firefox/") ? "Firefox"
			    : strstr(ua, "Edg/") ? "Edge"
			    : strstr(ua, "Chrome/") || strstr(ua, "Chromium/") ? "Chrome"
			    : strstr(ua, "Safari/") ? "Safari"
			    : strstr(ua, "curl/") ? "curl"
			    : strstr(ua, "python") ? "Python" : "Navigateur";
	const char *os = strstr(ua, "Android") ? "Android"
		       : strstr(ua, "iPhone") || strstr(ua, "iPad") ? "iOS"
		       : strstr(ua, "Windows") ? "Windows"
		       : strstr(ua, "Mac OS X") ? "macOS"
		       : strstr(ua, "CrOS") ? "ChromeOS"
		       : strstr(ua, "Linux") ? "Linux" : NULL;
	if (os)
		snprintf(out, size, "%s sur %s", browser, os);
	else
		snprintf(out, size, "%s", browser);
}

struct opening {
	struct req *r;
	session_created_cb cb;
	void *arg;
	char sid[SESSION_ID_LEN + 1];
};

static void open_done(void *arg, PGresult *res)
{
	struct opening *o = arg;
	if (store_result_failed(res) || PQntuples(res) != 1) {
		log_warn("session", "event=open_failed reason=%s", res ? "sql_error" : "database_unavailable");
		o->cb(o->r, NULL, o->arg);
	} else {
		o->cb(o->r, o->sid, o->arg);
	}
	OPENSSL_cleanse(o->sid, sizeof o->sid);
	free(o);
}

void session_open(struct req *r, int64_t account_id, const char *method, const char *id_token,
		  session_created_cb cb, void *arg)
{
	struct opening *o = calloc(1, sizeof *o);
	if (!o || session_random_id(o->sid) != 0) {
		free(o);
		cb(r, NULL, arg);
		return;
	}
	o->r = r;
	o->cb = cb;
	o->arg = arg;
	unsigned char hash[32];
	char hp[67], acc[24], abs[16], device[120];
	sid_hash(o->sid, hash);
	auth_hash_param(hash, hp);
	snprintf(acc, sizeof acc, "%lld", (long long)account_id);
	snprintf(abs, sizeof abs, "%d", r->app->cfg.session_absolute_seconds);
	session_device(req_header(r, "User-Agent"), device, sizeof device);
	const char *values[7] = {hp, acc, method, device, id_token, abs, NULL};
	store_query(r->app->store,
		    "SELECT session_create($1::bytea, $2::bigint, $3, $4, $5, $6::integer, $7)", 7, values,
		    open_done, o);
}
