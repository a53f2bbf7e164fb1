/*
 * The application's request and its answers (see req.h). Every answer goes
 * through req_finish(): an Idempotency-Key's answer is kept first, then
 * req_send() adds the application's headers, counts it, names route, role
 * and token for the transport's log line, frees the request and hands the
 * bytes to the transport.
 */
#include "req.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>
#include <event2/http.h>

#include "app.h"
#include "http.h"
#include "idempotency.h"
#include "log.h"

/* snprintf(dst, size, "%s", src) without printf: cut to size - 1 bytes. */
static void copy_cut(char *dst, size_t size, const char *src)
{
	size_t n = strnlen(src, size - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

struct req *req_new(struct app *app, struct http_req *hr)
{
	struct req *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	app->inflight++;
	r->next = app->requests_inflight;
	if (r->next)
		r->next->prev = r;
	app->requests_inflight = r;
	r->app = app;
	r->hr = hr;
	r->route_name = "-";
	r->route_index = -1;
	r->start_ms = hr->start_ms;
	r->query.tqh_first = NULL; /* TAILQ_INIT, which libevent does not export */
	r->query.tqh_last = &r->query.tqh_first;
	copy_cut(r->id, sizeof r->id, hr->id);
	copy_cut(r->method, sizeof r->method, hr->method);
	copy_cut(r->client, sizeof r->client, hr->peer);
	return r;
}

static void req_free(struct req *r)
{
	struct app *app = r->app;
	app->inflight--;
	if (r->prev)
		r->prev->next = r->next;
	else
		app->requests_inflight = r->next;
	if (r->next)
		r->next->prev = r->prev;
	evhttp_clear_headers(&r->query);
	json_decref(r->body);
	free(r);
}

static void req_send(struct req *r, int status, const char *content_type, struct evbuffer *buf)
{
	struct http_req *hr = r->hr;
	if (r->etag[0])
		http_add_header(hr, "ETag", r->etag);
	if (r->retry_after > 0) {
		char ra[16];
		snprintf(ra, sizeof ra, "%d", r->retry_after);
		http_add_header(hr, "Retry-After", ra);
	}
	hr->tag = r->route_index;
	/* the line as it always was: route before status, role and token after
	 * (only the request's log line reads them: not written when it is off) */
	if (log_enabled(LOG_INFO)) {
		snprintf(hr->log_fields, sizeof hr->log_fields, "route=%s", r->route_name);
		snprintf(hr->log_extra, sizeof hr->log_extra, "role=%s token=%lld account=%lld",
			 r->authenticated ? auth_role_name(r->who.role) : "-",
			 (long long)(r->authenticated ? r->who.token_id : 0),
			 (long long)(r->authenticated ? r->who.account_id : 0));
	}
	req_free(r);
	http_reply(hr, status, content_type, NULL, 0, buf);
}

/* An answer waiting for its Idempotency-Key record to be stored. */
struct held_answer {
	struct req *r;
	int status;
	const char *content_type;    /* a literal */
	struct evbuffer *buf;
};

static void kept_then_send(void *arg)
{
	struct held_answer *h = arg;
	req_send(h->r, h->status, h->content_type, h->buf);
	evbuffer_free(h->buf);
	free(h);
}

/* A route that takes the key in its own statement (r->idem_in_sql): the
 * answer of a request that did not write is kept now, unless the key
 * already has one, which is then the answer (see idem_answer). */
static void answered_then_send(void *arg, enum idem_state state, int status, const char *body)
{
	struct held_answer *h = arg;
	struct req *r = h->r;
	r->idem_key[0] = '\0';       /* whatever is sent now is not kept again */
	switch (state) {
	case IDEM_REPLAY:
		evbuffer_drain(h->buf, evbuffer_get_length(h->buf));
		evbuffer_add(h->buf, body, strlen(body));
		req_add_header(r, "Idempotent-Replayed", "true");
		req_send(r, status, status >= 400 ? "application/problem+json" : "application/json", h->buf);
		break;
	case IDEM_RUNNING:
		req_problem(r, 409, "idempotency-in-progress",
			    "a request with this Idempotency-Key is still running; retry later");
		break;
	case IDEM_REUSED:
		req_problem(r, 422, "idempotency-key-reused", "this Idempotency-Key was used for another request");
		break;
	case IDEM_NEW:
	case IDEM_ERROR:
		req_send(r, h->status, h->content_type, h->buf);
		break;
	}
	evbuffer_free(h->buf);
	free(h);
}

/* Keeps the answer for a retry with the same key — before sending it, so a
 * retry that arrives right after the answer finds it — unless the write
 * stored it in its own transaction. A 5xx had no effect: the key is released
 * for a retry. Returns true when the answer will be sent later. */
static bool idem_finish(struct req *r, int status, const char *content_type, struct evbuffer *buf)
{
	if (status >= 500) {
		/* (a route taking the key in its statement left no claim behind) */
		if (!r->idem_in_sql)
			idem_abandon(r->app->store, auth_principal_key(&r->who), r->idem_key);
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
		if (!text) {
			/* the redacted copy could not be made: keep nothing rather
			 * than an answer a retry would take for the real one */
			free(h);
			evbuffer_free(copy);
			idem_abandon(r->app->store, r->who.token_id, r->idem_key);
			return false;
		}
	}
	if (buf)
		evbuffer_add_buffer(copy, buf);
	*h = (struct held_answer){r, status, content_type, copy};
	if (r->idem_in_sql)
		idem_answer(r->app->store, auth_principal_key(&r->who), r->idem_key, r->body_hash, status, text,
			    answered_then_send, h);
	else
		idem_keep(r->app->store, auth_principal_key(&r->who), r->idem_key, status, text,
			  kept_then_send, h);
	free(text);
	return true;
}

static void req_finish(struct req *r, int status, const char *content_type, struct evbuffer *buf)
{
	if (r->idem_key[0] && idem_finish(r, status, content_type, buf))
		return; /* sent once the key's record is stored */
	req_send(r, status, content_type, buf);
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
	json_t *p = json_pack("{s:s, s:s, s:i, s:s}", "type", type, "title", http_status_text(status),
			      "status", status, "detail", detail ? detail : http_status_text(status));
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

const char *req_raw_body(struct req *r, size_t *len)
{
	struct evbuffer *in = r->hr->body;
	*len = evbuffer_get_length(in);
	return *len ? (const char *)evbuffer_pullup(in, -1) : "";
}

const char *req_header(struct req *r, const char *name)
{
	return http_header(r->hr, name);
}

void req_add_header(struct req *r, const char *name, const char *value)
{
	http_add_header(r->hr, name, value);
}
