/*
 * The request gate (see gate.h): token → role and scope → rate limit →
 * idempotency → handler, with the checks of the target and body on the way.
 */
#include "gate.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <openssl/evp.h>

#include "api.h"
#include "app.h"
#include "audit.h"
#include "clock.h"
#include "http.h"
#include "idempotency.h"
#include "log.h"
#include "metrics.h"
#include "proxies.h"
#include "ratelimit.h"
#include "routes.h"
#include "session.h"   /* accounts */

static void on_auth(void *arg, int found, const struct principal *p);
static void gate_dispatch(struct req *r);

static bool path_is_clean(const char *p)
{
	for (; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("/-_.", *p))
			return false;
	return true;
}

/* Maps Jansson's decoding errors onto the contract's error codes. */
static void body_parse_error(struct req *r, const json_error_t *e)
{
	const char *code = "wrong_type";
	char detail[256];
	/* The contract's codes only: bad syntax, duplicate members and nesting
	 * too deep are all "not the JSON we take" (wrong_type); the detail says
	 * which. */
	switch (json_error_code(e)) {
	case json_error_invalid_utf8:
		code = "invalid_utf8";
		break;
	case json_error_numeric_overflow:
		code = "out_of_range";
		break;
	default:
		code = "wrong_type";
		break;
	}
	snprintf(detail, sizeof detail, "the body is not valid JSON: %s (at byte %d)", e->text,
		 e->position);
	json_t *errors = json_pack("[{s:s, s:s, s:s}]", "pointer", "", "code", code, "detail", detail);
	req_problem_full(r, 400, "invalid-json", detail, errors, NULL);
}

/* application/json or application/merge-patch+json, parameters allowed
 * ("; charset=utf-8"), nothing glued on ("application/jsonx"). */
static bool json_media_type(const char *ct)
{
	static const char *const types[] = {"application/json", "application/merge-patch+json"};
	for (size_t i = 0; ct && i < sizeof types / sizeof *types; i++) {
		size_t n = strlen(types[i]);
		if (strncasecmp(ct, types[i], n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' '))
			return true;
	}
	return false;
}

/* Parses and checks the body (after authentication: a stranger learns
 * nothing from our opinion of their JSON); false when answered. The
 * transport already refused a body above max_body_bytes. */
static bool read_body(struct req *r)
{
	struct evbuffer *in = r->hr->body;
	size_t len = evbuffer_get_length(in);
	bool wants_body = strcmp(r->method, "POST") == 0 || strcmp(r->method, "PATCH") == 0 ||
			  strcmp(r->method, "PUT") == 0;
	const char *data = len ? (const char *)evbuffer_pullup(in, -1) : "";
	/* What an Idempotency-Key stands for: method, path and body bytes. */
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1) {
		EVP_DigestUpdate(md, r->method, strlen(r->method) + 1);
		EVP_DigestUpdate(md, r->path, strlen(r->path) + 1);
		EVP_DigestUpdate(md, data, len);
		EVP_DigestFinal_ex(md, r->body_hash, NULL);
	}
	EVP_MD_CTX_free(md);
	/* each route its limit: a CSV import up to import_max_bytes, any
	 * other body max_body_bytes */
	size_t limit = (size_t)(routes_raw_body(r->route) ? r->app->cfg.import_max_bytes
							   : r->app->cfg.max_body_bytes);
	if (len > limit) {
		char detail[96];
		snprintf(detail, sizeof detail, "the body is larger than %zu bytes", limit);
		req_problem(r, 413, "body-too-large", detail);
		return false;
	}
	/* not JSON: the handler reads the bytes (req_raw_body) */
	if (!wants_body || len == 0 || routes_raw_body(r->route))
		return true;
	const char *ct = req_header(r, "Content-Type");
	if (!json_media_type(ct)) {
		req_problem(r, 415, "unsupported-media-type",
			    "send the body as application/json (or application/merge-patch+json)");
		return false;
	}
	json_error_t err;
	json_t *body = json_loadb(data, len, JSON_REJECT_DUPLICATES, &err);
	if (!body) {
		body_parse_error(r, &err);
		return false;
	}
	if (!json_is_object(body)) {
		json_decref(body);
		json_t *errors = json_pack("[{s:s, s:s, s:s}]", "pointer", "", "code", "not_an_object",
					   "detail", "the body must be a JSON object");
		req_problem_full(r, 400, "invalid-json", "the body must be a JSON object", errors, NULL);
		return false;
	}
	r->body = body;
	return true;
}

static void build_actor(struct req *r)
{
	json_t *deps = json_array();
	for (int i = 0; i < r->who.ndep; i++)
		json_array_append_new(deps, json_string(r->who.departements[i]));
	json_t *a = json_pack("{s:I, s:s, s:o, s:s}", "token_id", (json_int_t)r->who.token_id,
			      "role", auth_role_name(r->who.role), "departements", deps,
			      "request_id", r->id);
	if (a && r->who.porteur_id)
		json_object_set_new(a, "porteur_id", json_integer(r->who.porteur_id));
	if (a && r->who.account_id) /* accounts: the audit names the person */
		json_object_set_new(a, "account_id", json_integer(r->who.account_id));
	char *s = a ? json_dumps(a, JSON_COMPACT) : NULL;
	snprintf(r->actor, sizeof r->actor, "%s", s ? s : "{}");
	free(s);
	json_decref(a);
}

/* 401: counted, aggregated in the audit per address and minute. */
static void unauthenticated(struct req *r, const char *challenge, const char *detail)
{
	metrics_unauthenticated();
	audit_unauthenticated(r->app->audit, r->client, r->id);
	req_add_header(r, "WWW-Authenticate", challenge);
	req_problem(r, 401, "unauthorized", detail);
}

void gate_handle(struct http_req *hr, void *ctx)
{
	struct app *app = ctx;
	struct req *r = req_new(app, hr);
	if (!r) {
		static const char oom[] =
			"{\"type\":\"/problems/out-of-memory\",\"title\":\"Service unavailable\",\"status\":503}";
		http_reply(hr, 503, "application/problem+json", oom, sizeof oom - 1, NULL);
		return;
	}
	clock_today(&app->cfg, r->today);
	proxies_client(app->proxies, hr->peer, http_header(hr, "X-Forwarded-For"), r->client,
		       sizeof r->client);

	const char *path = hr->path;
	if (!path || strlen(path) >= sizeof r->path || !path_is_clean(path)) {
		snprintf(r->path, sizeof r->path, "-");
		req_problem(r, 404, "not-found", "no such resource");
		return;
	}
	snprintf(r->path, sizeof r->path, "%s", path);
	const char *q = hr->query;
	/* %00 would be decoded into a NUL and cut the value short silently */
	if (q && (evhttp_parse_query_str(q, &r->query) != 0 || strstr(q, "%00"))) {
		req_problem(r, 400, "invalid-query", "the query string is malformed");
		return;
	}

	char allow[64];
	switch (routes_find(r->method, r->path, &r->route, r->ids, REQ_MAX_IDS, &r->nids,
			    allow, sizeof allow)) {
	case ROUTE_NOT_FOUND:
		req_problem(r, 404, "not-found", "no such resource");
		return;
	case ROUTE_BAD_METHOD:
		req_add_header(r, "Allow", allow);
		req_problem(r, 405, "method-not-allowed", "this resource does not accept that method");
		return;
	case ROUTE_FOUND:
		break;
	}
	r->route_name = r->route->name;
	r->route_index = (int)(r->route - routes);
	r->effects = r->route->effects;
	if (r->route->roles == 0) {
		if (read_body(r))
			r->route->handler(r);
		return;
	}
	const char *authz = req_header(r, "Authorization");
	/* accounts: without a bearer token, a session cookie (session.c), which
	 * checks CSRF on writes and then continues at on_auth. */
	if (!authz && session_cookie_present(r)) {
		session_authenticate(r, on_auth);
		return;
	}
	if (!authz || strncasecmp(authz, "Bearer ", 7) != 0 || !authz[7]) {
		unauthenticated(r, "Bearer realm=\"siaod\"", "send Authorization: Bearer <token>");
		return;
	}
	auth_resolve(app->auth, authz + 7, on_auth, r);
}

static void on_auth(void *arg, int found, const struct principal *p)
{
	struct req *r = arg;
	if (found < 0) {
		req_problem(r, 503, "database-unavailable", "the token cannot be checked right now");
		return;
	}
	if (found == 0) {
		unauthenticated(r, "Bearer realm=\"siaod\", error=\"invalid_token\"",
				"unknown, expired or revoked token");
		return;
	}
	r->authenticated = true;
	r->who = *p;
	build_actor(r);
	if (read_body(r))
		gate_dispatch(r);
}

static void idem_claimed(void *arg, enum idem_state state, int status, const char *body,
			 const struct pg_result *res)
{
	struct req *r = arg;
	switch (state) {
	case IDEM_NEW:
		snprintf(r->idem_key, sizeof r->idem_key, "%s", req_header(r, "Idempotency-Key"));
		r->route->handler(r);
		return;
	case IDEM_REPLAY:
		req_add_header(r, "Idempotent-Replayed", "true");
		req_reply_raw(r, status, status >= 400 ? "application/problem+json" : "application/json",
			      body, strlen(body));
		return;
	case IDEM_RUNNING:
		req_problem(r, 409, "idempotency-in-progress",
			    "a request with this Idempotency-Key is still running; retry later");
		return;
	case IDEM_REUSED:
		req_problem(r, 422, "idempotency-key-reused",
			    "this Idempotency-Key was used for another request");
		return;
	case IDEM_ERROR:
		api_sql_problem(r, (const PGresult *)res);
		return;
	}
}

static void gate_dispatch(struct req *r)
{
	if (!(r->route->roles & (int)r->who.role)) {
		api_forbidden(r, "this token's role may not use this route");
		return;
	}
	int wait;
	if (!ratelimit_take(r->app->ratelimit, auth_principal_key(&r->who), r->app->cfg.rate_limit_per_second,
			    r->app->cfg.rate_limit_burst, &wait)) {
		metrics_rate_limited();
		r->retry_after = wait;
		req_problem(r, 429, "rate-limited", "too many requests for this token; slow down");
		return;
	}
	const char *key = req_header(r, "Idempotency-Key");
	if (key && strcmp(r->method, "POST") == 0) {
		if (!idem_key_valid(key)) {
			req_problem(r, 400, "invalid-idempotency-key",
				    "Idempotency-Key: 1 to 255 printable ASCII characters");
			return;
		}
		/* a route whose statement claims the key itself: no round trip here */
		if (routes_idem_in_sql(r->route)) {
			snprintf(r->idem_key, sizeof r->idem_key, "%s", key);
			r->idem_in_sql = true;
			r->route->handler(r);
			return;
		}
		idem_claim(r->app->store, auth_principal_key(&r->who), key, r->body_hash, idem_claimed, r);
		return;
	}
	r->route->handler(r);
}

/* ------------------------------------------------------------ lifetime */

static void on_done(const struct http_req *hr, int status, double ms, void *ctx)
{
	metrics_request(hr->tag, status, ms);
}

int gate_start(struct app *app, char *err, size_t errlen)
{
	static const char *const masked[] = {"siaod_", "whsec_", NULL};
	app->proxies = proxies_parse(app->cfg.trusted_proxies, err, errlen);
	if (!app->proxies)
		return -1;
	struct http_options opt = {
		.listen = app->cfg.listen,
		.reuse_port = app->cfg.listen_reuse_port,
		.max_connections = app->cfg.max_connections,
		.max_header_bytes = (size_t)app->cfg.max_header_bytes,
		.max_body_bytes = (size_t)app->cfg.max_body_bytes,
		/* imports take spreadsheets up to their own limit */
		.large_body_path = "/v1/imports",
		.large_body_bytes = (size_t)app->cfg.import_max_bytes,
		.request_timeout_ms = app->cfg.request_timeout_ms,
		.keepalive_timeout_ms = app->cfg.keepalive_timeout_ms,
		.deadline_priority = APP_PRIORITY_DEADLINES,
		.id_prefix = app->instance,
		.mask_prefixes = masked,
		.handler = gate_handle,
		.done = on_done,
		.ctx = app,
	};
	app->http = http_server_new(app->base, &opt, err, errlen);
	if (!app->http)
		return -1;
	struct http_stats hs;
	http_server_stats(app->http, &hs);
	log_info("http", "max_connections=%d request_timeout_ms=%d keepalive_timeout_ms=%d",
		 hs.max_connections, opt.request_timeout_ms, opt.keepalive_timeout_ms);
	return 0;
}

static void drain_tick(evutil_socket_t fd, short what, void *arg)
{
	struct app *app = arg;
	static double started;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	double now = (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
	if (started == 0)
		started = now;
	bool late = now - started > app->cfg.shutdown_grace_seconds * 1e3;
	/* An answered request may still sit in its connection's output buffer:
	 * leaving the loop before the transport has written it and closed the
	 * connection would lose the answer the drain exists to deliver. */
	struct http_stats hs;
	http_server_stats(app->http, &hs);
	if ((app->inflight == 0 && hs.connections == 0) || late) {
		if (late)
			log_warn("shutdown", "inflight=%d reason=grace_period_over", app->inflight);
		event_base_loopexit(app->base, NULL);
	}
}

void gate_drain(struct app *app)
{
	if (app->draining)
		return;
	app->draining = true;
	http_server_drain(app->http);
	log_info("shutdown", "phase=draining inflight=%d", app->inflight);
	app->drain_tick = event_new(app->base, -1, EV_PERSIST, drain_tick, app);
	struct timeval tv = {0, 20000};
	/* no tick to wait for the requests in flight: stop at once */
	if (!app->drain_tick || event_add(app->drain_tick, &tv) != 0)
		event_base_loopexit(app->base, NULL);
}

void gate_stop(struct app *app)
{
	if (app->drain_tick) {
		event_free(app->drain_tick);
		app->drain_tick = NULL;
	}
	/* Requests still waiting for the database when the grace period ran
	 * out lose their connection: their late answers only free them. */
	for (struct req *r = app->requests_inflight; r; r = r->next)
		r->gone = true;
	http_server_free(app->http);   /* closes idle keep-alive connections */
	app->http = NULL;
	proxies_free(app->proxies);
	app->proxies = NULL;
}
