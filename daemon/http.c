/*
 * The HTTP server: evhttp on the app's loop, one generic callback that turns
 * an evhttp request into a struct req, checks it (route, size, content type,
 * JSON, token, role) and hands it to the route's handler. Every answer goes
 * through req_finish(), which logs the request and frees it.
 */
#include "http.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/evp.h>

#include "api.h"
#include "app.h"
#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "ratelimit.h"
#include "routes.h"
#include "store.h"

static void on_request(struct evhttp_request *ev, void *arg);
static void on_conn_close(struct evhttp_connection *evcon, void *arg);
static void on_auth(void *arg, int found, const struct principal *p);
static void req_dispatch(struct req *r);
static void idem_begin(struct req *r);

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static const char *status_title(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 400: return "Bad request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not found";
	case 405: return "Method not allowed";
	case 409: return "Conflict";
	case 412: return "Precondition failed";
	case 413: return "Content too large";
	case 415: return "Unsupported media type";
	case 422: return "Unprocessable content";
	case 429: return "Too many requests";
	case 503: return "Service unavailable";
	default:  return status >= 500 ? "Internal server error" : "Error";
	}
}

static void req_free(struct req *r)
{
	evhttp_clear_headers(&r->query);
	json_decref(r->body);
	free(r);
}

/* Sends (unless the client is gone), logs, frees. */
static void idem_done(void *arg, PGresult *res)
{
	if (store_result_failed(res))
		log_warn("idempotency", "result=not_stored");
}

static void req_send(struct req *r, int status, const char *content_type, struct evbuffer *buf);

/* An answer waiting for its Idempotency-Key record to be stored. */
struct held_answer {
	struct req *r;
	int status;
	const char *content_type;    /* a literal */
	struct evbuffer *buf;
};

static void idem_stored_then_send(void *arg, PGresult *res)
{
	struct held_answer *h = arg;
	if (store_result_failed(res))
		log_warn("idempotency", "result=not_stored");
	req_send(h->r, h->status, h->content_type, h->buf);
	evbuffer_free(h->buf);
	free(h);
}

/* Keeps the answer for a retry with the same key — before sending it, so a
 * retry that arrives right after the answer finds it — unless the write
 * stored it in its own transaction. A 5xx had no effect: the key is released
 * for a retry. Returns true when the answer will be sent later. */
static bool idem_finish(struct req *r, int status, const char *content_type, struct evbuffer *buf)
{
	char token[24], st[8];
	snprintf(token, sizeof token, "%lld", (long long)r->who.token_id);
	snprintf(st, sizeof st, "%d", status);
	if (status >= 500) {
		const char *values[2] = {token, r->idem_key};
		store_query(r->app->store, "SELECT idem_abandon($1::bigint, $2)", 2, values, idem_done, NULL);
		return false;
	}
	if (r->idem_stored)
		return false;
	size_t len = buf ? evbuffer_get_length(buf) : 0;
	char *text = malloc(len + 1);
	struct held_answer *h = calloc(1, sizeof *h);
	struct evbuffer *copy = evbuffer_new();
	if (!text || !h || !copy) {
		free(text);
		free(h);
		if (copy)
			evbuffer_free(copy);
		return false;
	}
	if (len)
		evbuffer_copyout(buf, text, len);
	text[len] = '\0';
	if (r->idem_redact) {
		json_t *j = json_loads(text, 0, NULL);
		if (j && json_object_get(j, r->idem_redact)) {
			json_object_set_new(j, r->idem_redact, json_string("(shown once, in the first answer)"));
			free(text);
			text = json_dumps(j, JSON_COMPACT);
		}
		json_decref(j);
	}
	if (buf)
		evbuffer_add_buffer(copy, buf);
	*h = (struct held_answer){r, status, content_type, copy};
	const char *values[4] = {token, r->idem_key, st, text ? text : "{}"};
	store_query(r->app->store, "SELECT idem_store_text($1::bigint, $2, $3::integer, $4)", 4, values,
		    idem_stored_then_send, h);
	free(text);
	return true;
}

static void req_finish(struct req *r, int status, const char *content_type, struct evbuffer *buf)
{
	if (r->idem_key[0] && idem_finish(r, status, content_type, buf))
		return; /* sent once the key's record is stored */
	req_send(r, status, content_type, buf);
}

/* A token or a webhook secret pasted into a URL must not reach the log:
 * what follows "siaod_" or "whsec_" in a path is masked. */
static const char *path_for_log(const char *path, char *out, size_t size)
{
	size_t j = 0;
	for (const char *p = path; *p && j + 4 < size;) {
		if (strncmp(p, "siaod_", 6) == 0 || strncmp(p, "whsec_", 6) == 0) {
			memcpy(out + j, p, 6);
			j += 6;
			p += 6;
			while (*p && *p != '/')
				p++;
			memcpy(out + j, "***", 3);
			j += 3;
			continue;
		}
		out[j++] = *p++;
	}
	out[j] = '\0';
	return out;
}

static void req_send(struct req *r, int status, const char *content_type, struct evbuffer *buf)
{
	struct app *app = r->app;
	if (!r->gone) {
		struct evhttp_connection *evcon = evhttp_request_get_connection(r->ev);
		if (evcon)
			evhttp_connection_set_closecb(evcon, NULL, NULL);
		struct evkeyvalq *h = evhttp_request_get_output_headers(r->ev);
		if (content_type)
			evhttp_add_header(h, "Content-Type", content_type);
		evhttp_add_header(h, "X-Request-Id", r->id);
		if (r->etag[0])
			evhttp_add_header(h, "ETag", r->etag);
		if (r->location[0])
			evhttp_add_header(h, "Location", r->location);
		if (r->retry_after > 0) {
			char ra[16];
			snprintf(ra, sizeof ra, "%d", r->retry_after);
			evhttp_add_header(h, "Retry-After", ra);
		}
		/* While draining, don't let a client keep this connection. */
		if (app->draining)
			evhttp_add_header(h, "Connection", "close");
		evhttp_send_reply(r->ev, status, status_title(status), buf);
	}
	double ms = now_ms() - r->start_ms;
	metrics_request(r->route ? (int)(r->route - routes) : -1, status, ms);
	char path[300], masked[300];
	log_info("request", "rid=%s method=%s path=%s route=%s status=%d dur_ms=%.2f role=%s token=%lld%s",
		 r->id, r->method, log_quote(path_for_log(r->path, masked, sizeof masked), path, sizeof path),
		 r->route ? r->route->name : "-", status, ms,
		 r->authenticated ? auth_role_name(r->who.role) : "-",
		 (long long)(r->authenticated ? r->who.token_id : 0),
		 r->gone ? " client=gone" : "");
	app->inflight--;
	if (r->prev)
		r->prev->next = r->next;
	else
		app->requests_inflight = r->next;
	if (r->next)
		r->next->prev = r->prev;
	req_free(r);
}

void req_reply_raw(struct req *r, int status, const char *content_type, const char *data, size_t len)
{
	struct evbuffer *buf = evbuffer_new();
	if (buf && data)
		evbuffer_add(buf, data, len);
	req_finish(r, status, content_type, buf);
	if (buf)
		evbuffer_free(buf);
}

void req_reply_buffer(struct req *r, int status, const char *content_type, struct evbuffer *buf)
{
	req_finish(r, status, content_type, buf);
}

void req_reply_json(struct req *r, int status, json_t *body)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (!text) {
		req_reply_raw(r, 500, "application/problem+json",
			      "{\"type\":\"/problems/internal\",\"title\":\"Internal server error\",\"status\":500}", 76);
		return;
	}
	req_reply_raw(r, status, "application/json", text, strlen(text));
	free(text);
}

void req_problem_full(struct req *r, int status, const char *slug, const char *detail,
		      json_t *errors, json_t *extra)
{
	char type[96];
	snprintf(type, sizeof type, "/problems/%s", slug);
	json_t *p = json_pack("{s:s, s:s, s:i, s:s}", "type", type, "title", status_title(status),
			      "status", status, "detail", detail ? detail : status_title(status));
	if (p && errors)
		json_object_set(p, "errors", errors);
	if (p && extra)
		json_object_update_missing(p, extra);
	json_decref(errors);
	json_decref(extra);
	if (status == 503 && r->retry_after == 0)
		r->retry_after = 2;
	char *text = p ? json_dumps(p, JSON_COMPACT) : NULL;
	json_decref(p);
	if (!text) {
		req_reply_raw(r, 500, "application/problem+json", "{}", 2);
		return;
	}
	req_reply_raw(r, status, "application/problem+json", text, strlen(text));
	free(text);
}

void req_problem(struct req *r, int status, const char *slug, const char *detail)
{
	req_problem_full(r, status, slug, detail, NULL, NULL);
}

void req_field_error(struct req *r, const char *pointer, const char *code, const char *detail)
{
	json_t *errors = json_pack("[{s:s, s:s, s:s}]", "pointer", pointer, "code", code,
				   "detail", detail);
	req_problem_full(r, 400, "invalid-field", detail, errors, NULL);
}

const char *req_query(struct req *r, const char *name)
{
	return evhttp_find_header(&r->query, name);
}

const char *req_header(struct req *r, const char *name)
{
	return evhttp_find_header(evhttp_request_get_input_headers(r->ev), name);
}

static void on_conn_close(struct evhttp_connection *evcon, void *arg)
{
	struct req *r = arg;
	r->gone = true;
}

static bool path_is_clean(const char *p)
{
	for (; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("/-_.", *p))
			return false;
	return true;
}

static const char *method_name(enum evhttp_cmd_type t)
{
	switch (t) {
	case EVHTTP_REQ_GET: return "GET";
	case EVHTTP_REQ_POST: return "POST";
	case EVHTTP_REQ_PUT: return "PUT";
	case EVHTTP_REQ_DELETE: return "DELETE";
	case EVHTTP_REQ_PATCH: return "PATCH";
	case EVHTTP_REQ_HEAD: return "HEAD";
	case EVHTTP_REQ_OPTIONS: return "OPTIONS";
	case EVHTTP_REQ_TRACE: return "TRACE";
	case EVHTTP_REQ_CONNECT: return "CONNECT";
	default: return "OTHER";
	}
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

/* Refuses a body above the limit before anything else is done with it. */
static bool req_body_size_ok(struct req *r)
{
	size_t len = evbuffer_get_length(evhttp_request_get_input_buffer(r->ev));
	const char *cl = req_header(r, "Content-Length");
	if ((cl && strtoull(cl, NULL, 10) > (unsigned long long)r->app->cfg.max_body_bytes) ||
	    len > (size_t)r->app->cfg.max_body_bytes) {
		char detail[96];
		snprintf(detail, sizeof detail, "the body is larger than %d bytes",
			 r->app->cfg.max_body_bytes);
		req_problem(r, 413, "body-too-large", detail);
		return false;
	}
	return true;
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
 * nothing from our opinion of their JSON); false when answered. */
static bool req_read_body(struct req *r)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(r->ev);
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
	if (!wants_body || len == 0)
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
	char *s = a ? json_dumps(a, JSON_COMPACT) : NULL;
	snprintf(r->actor, sizeof r->actor, "%s", s ? s : "{}");
	free(s);
	json_decref(a);
}

static void on_request(struct evhttp_request *ev, void *arg)
{
	struct app *app = arg;
	struct req *r = calloc(1, sizeof *r);
	if (!r) {
		evhttp_send_error(ev, 503, "out of memory");
		return;
	}
	app->inflight++;
	r->next = app->requests_inflight;
	if (r->next)
		r->next->prev = r;
	app->requests_inflight = r;
	r->app = app;
	r->ev = ev;
	r->start_ms = now_ms();
	r->query.tqh_first = NULL; /* TAILQ_INIT, which libevent does not export */
	r->query.tqh_last = &r->query.tqh_first;
	snprintf(r->id, sizeof r->id, "%s-%llu", app->instance, (unsigned long long)++app->requests);
	snprintf(r->method, sizeof r->method, "%s", method_name(evhttp_request_get_command(ev)));
	clock_today(&app->cfg, r->today);

	struct evhttp_connection *evcon = evhttp_request_get_connection(ev);
	if (evcon)
		evhttp_connection_set_closecb(evcon, on_conn_close, r);

	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(ev);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	if (!path || strlen(path) >= sizeof r->path || !path_is_clean(path)) {
		snprintf(r->path, sizeof r->path, "-");
		req_problem(r, 404, "not-found", "no such resource");
		return;
	}
	snprintf(r->path, sizeof r->path, "%s", path);
	const char *q = evhttp_uri_get_query(uri);
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
		evhttp_add_header(evhttp_request_get_output_headers(ev), "Allow", allow);
		req_problem(r, 405, "method-not-allowed", "this resource does not accept that method");
		return;
	case ROUTE_FOUND:
		break;
	}
	if (!req_body_size_ok(r))
		return;
	if (r->route->roles == 0) {
		if (req_read_body(r))
			r->route->handler(r);
		return;
	}
	const char *authz = req_header(r, "Authorization");
	if (!authz || strncasecmp(authz, "Bearer ", 7) != 0 || !authz[7]) {
		api_audit_refused(r, "unauthenticated", 401);
		evhttp_add_header(evhttp_request_get_output_headers(r->ev), "WWW-Authenticate", "Bearer realm=\"siaod\"");
		req_problem(r, 401, "unauthorized", "send Authorization: Bearer <token>");
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
		api_audit_refused(r, "unauthenticated", 401);
		evhttp_add_header(evhttp_request_get_output_headers(r->ev), "WWW-Authenticate",
				  "Bearer realm=\"siaod\", error=\"invalid_token\"");
		req_problem(r, 401, "unauthorized", "unknown, expired or revoked token");
		return;
	}
	r->authenticated = true;
	r->who = *p;
	build_actor(r);
	if (req_read_body(r))
		req_dispatch(r);
}

static void req_dispatch(struct req *r)
{
	if (!(r->route->roles & (int)r->who.role)) {
		api_audit_refused(r, "denied", 403);
		req_problem(r, 403, "forbidden", "this token's role may not use this route");
		return;
	}
	int wait;
	if (!ratelimit_take(r->app->ratelimit, r->who.token_id, r->app->cfg.rate_limit_per_second,
			    r->app->cfg.rate_limit_burst, &wait)) {
		metrics_rate_limited();
		r->retry_after = wait;
		req_problem(r, 429, "rate-limited", "too many requests for this token; slow down");
		return;
	}
	const char *key = req_header(r, "Idempotency-Key");
	if (key && strcmp(r->method, "POST") == 0) {
		size_t n = strlen(key);
		bool printable = n > 0 && n < sizeof r->idem_key;
		for (size_t i = 0; printable && i < n; i++)
			printable = key[i] > 0x20 && key[i] < 0x7f;
		if (!printable) {
			req_problem(r, 400, "invalid-idempotency-key",
				    "Idempotency-Key: 1 to 255 printable ASCII characters");
			return;
		}
		idem_begin(r);
		return;
	}
	r->route->handler(r);
}

static void idem_claimed(void *arg, PGresult *res)
{
	struct req *r = arg;
	if (store_result_failed(res) || PQntuples(res) != 1) {
		api_sql_problem(r, res);
		return;
	}
	const char *state = PQgetvalue(res, 0, 0);
	if (strcmp(state, "new") == 0) {
		snprintf(r->idem_key, sizeof r->idem_key, "%s", req_header(r, "Idempotency-Key"));
		r->route->handler(r);
	} else if (strcmp(state, "replay") == 0) {
		evhttp_add_header(evhttp_request_get_output_headers(r->ev), "Idempotent-Replayed", "true");
		const char *body = PQgetvalue(res, 0, 2);
		int status = atoi(PQgetvalue(res, 0, 1));
		req_reply_raw(r, status, status >= 400 ? "application/problem+json" : "application/json",
			      body, strlen(body));
	} else if (strcmp(state, "running") == 0) {
		req_problem(r, 409, "idempotency-in-progress",
			    "a request with this Idempotency-Key is still running; retry later");
	} else {
		req_problem(r, 422, "idempotency-key-reused",
			    "this Idempotency-Key was used for another request");
	}
}

static void idem_begin(struct req *r)
{
	static const char hex[] = "0123456789abcdef";
	char token[24], hash[67] = "\\x";
	snprintf(token, sizeof token, "%lld", (long long)r->who.token_id);
	for (int i = 0; i < 32; i++) {
		hash[2 + 2 * i] = hex[r->body_hash[i] >> 4];
		hash[3 + 2 * i] = hex[r->body_hash[i] & 15];
	}
	hash[66] = '\0';
	const char *values[3] = {token, req_header(r, "Idempotency-Key"), hash};
	store_query(r->app->store, "SELECT * FROM idem_begin($1::bigint, $2, $3::bytea)", 3, values,
		    idem_claimed, r);
}

static int parse_listen(const char *listen, char *host, size_t hostlen, int *port)
{
	const char *colon = strrchr(listen, ':');
	if (!colon || (size_t)(colon - listen) >= hostlen)
		return -1;
	memcpy(host, listen, (size_t)(colon - listen));
	host[colon - listen] = '\0';
	char *end;
	long p = strtol(colon + 1, &end, 10);
	if (*end || p < 0 || p > 65535)
		return -1;
	*port = (int)p;
	return 0;
}

int http_start(struct app *app, char *err, size_t errlen)
{
	char host[128];
	int port;
	if (parse_listen(app->cfg.listen, host, sizeof host, &port) != 0) {
		snprintf(err, errlen, "listen: expected host:port, got %s", app->cfg.listen);
		return -1;
	}
	app->http = evhttp_new(app->base);
	if (!app->http) {
		snprintf(err, errlen, "evhttp_new failed");
		return -1;
	}
	/* PATCH is not allowed by default (see STYLE.md). TRACE and CONNECT,
	 * which no route takes, get our 405 or 404 rather than evhttp's HTML
	 * 501; methods libevent 2.1 does not know still get that 501. */
	evhttp_set_allowed_methods(app->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
				   EVHTTP_REQ_DELETE | EVHTTP_REQ_PATCH | EVHTTP_REQ_HEAD |
				   EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT);
	evhttp_set_max_headers_size(app->http, app->cfg.max_header_bytes);
	/* evhttp answers an over-long body by dropping the connection, not with
	 * a 413 (libevent#321): it lets through up to twice our limit, and
	 * req_read_body() answers 413 itself. */
	evhttp_set_max_body_size(app->http, (ev_ssize_t)app->cfg.max_body_bytes * 2 + 65536);
	evhttp_set_timeout(app->http, app->cfg.request_timeout_seconds);
	evhttp_set_gencb(app->http, on_request, app);
	app->bound = evhttp_bind_socket_with_handle(app->http, host, (ev_uint16_t)port);
	if (!app->bound) {
		snprintf(err, errlen, "cannot listen on %s", app->cfg.listen);
		return -1;
	}
	return 0;
}

static void drain_tick(evutil_socket_t fd, short what, void *arg)
{
	struct app *app = arg;
	static double started;
	if (started == 0)
		started = now_ms();
	bool late = now_ms() - started > app->cfg.shutdown_grace_seconds * 1e3;
	if (app->inflight == 0 || late) {
		if (late)
			log_warn("shutdown", "inflight=%d reason=grace_period_over", app->inflight);
		event_base_loopexit(app->base, NULL);
	}
}

void http_drain(struct app *app)
{
	if (app->draining)
		return;
	app->draining = true;
	if (app->bound) {
		evhttp_del_accept_socket(app->http, app->bound);
		app->bound = NULL;
	}
	log_info("shutdown", "phase=draining inflight=%d", app->inflight);
	app->drain_tick = event_new(app->base, -1, EV_PERSIST, drain_tick, app);
	struct timeval tv = {0, 20000};
	event_add(app->drain_tick, &tv);
}

void http_stop(struct app *app)
{
	if (app->drain_tick) {
		event_free(app->drain_tick);
		app->drain_tick = NULL;
	}
	/* Requests still waiting for the database when the grace period ran
	 * out lose their connection with evhttp_free: their late answers must
	 * not touch it. */
	for (struct req *r = app->requests_inflight; r; r = r->next)
		r->gone = true;
	if (app->http) {
		evhttp_free(app->http); /* closes idle keep-alive connections */
		app->http = NULL;
	}
}
