/*
 * req: the application's request — what a route handler (api_*.c) is
 * handed — and the ways to answer it (JSON, problem+json, raw bytes). It
 * wraps the transport's struct http_req (http.h); the gate (gate.c) fills
 * it in and calls the route's handler.
 *
 * Ownership: the gate allocates a struct req per request; it is freed when
 * the handler answers (req_reply_* / req_problem*), never by the handler. A
 * handler that waits for the database keeps the pointer until its callback
 * answers; if the client went away meanwhile, the answer is dropped quietly.
 */
#ifndef SIAOD_REQ_H
#define SIAOD_REQ_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include <event2/keyvalq_struct.h>

#include "auth.h"

struct app;
struct route;
struct http_req;
struct evbuffer;

#define REQ_MAX_IDS 3

struct req {
	struct app *app;
	struct req *prev, *next;      /* the app's list of requests in flight */
	struct http_req *hr;          /* the transport's request */
	const struct route *route;
	const char *route_name;       /* the route's name, "-" before one is found */
	int route_index;              /* in routes[], -1: none */
	int effects;                  /* the route's after-commit effects, see effects.h */
	char id[32];                  /* request id, also sent as X-Request-Id */
	char method[12];
	char path[256];               /* without the query string */
	int64_t ids[REQ_MAX_IDS];     /* the {id} segments of the path, in order */
	int nids;
	struct evkeyvalq query;
	json_t *body;                 /* parsed body (an object) or NULL */
	bool authenticated;
	struct principal who;
	char actor[512];              /* the principal as json, for SQL functions */
	char today[11];               /* YYYY-MM-DD in the configured time zone */
	char client[46];              /* the client's address (see trusted_proxies) */
	unsigned char body_hash[32];  /* SHA-256 of route and body, for Idempotency-Key */
	char idem_key[256];           /* the Idempotency-Key being honoured, or "" */
	bool idem_stored;             /* the answer was stored with the write itself */
	bool idem_in_sql;             /* the route's statement claims the key (no idem_claim) */
	const char *idem_redact;      /* member not to keep in the stored answer ("token") */
	char etag[24];                /* sent as ETag when set by the handler */
	int retry_after;              /* sent as Retry-After when > 0 */
	double start_ms;
	bool gone;                    /* the connection closed before we answered */
};

/* Answers. Each one ends the request (and frees req). */
void req_reply_json(struct req *r, int status, json_t *body /* stolen */);
void req_reply_raw(struct req *r, int status, const char *content_type,
		   const char *data, size_t len);
/* buf is not taken: the caller frees it after. */
void req_reply_buffer(struct req *r, int status, const char *content_type, struct evbuffer *buf);
void req_problem(struct req *r, int status, const char *slug, const char *detail);
/* errors: a JSON array of {pointer, code, detail}, stolen; extra: members merged, stolen. */
void req_problem_full(struct req *r, int status, const char *slug, const char *detail,
		      json_t *errors, json_t *extra);
/* One invalid field: 400 invalid-field with one error. */
void req_field_error(struct req *r, const char *pointer, const char *code, const char *detail);

/* Query string access: NULL when absent. */
const char *req_query(struct req *r, const char *name);
const char *req_header(struct req *r, const char *name);
/* The body's bytes as received (routes_raw_body routes); valid while r is. */
const char *req_raw_body(struct req *r, size_t *len);
/* A response header, sent with the answer. */
void req_add_header(struct req *r, const char *name, const char *value);

/* For the gate: a request for hr, linked into app's list; NULL: no memory. */
struct req *req_new(struct app *app, struct http_req *hr);

#endif
