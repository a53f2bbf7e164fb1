/*
 * http: requests to siaod over one libcurl easy handle (kept between calls,
 * so the pages of a list reuse one connection). Sends the bearer token, JSON
 * bodies, and returns the status, the media type and the body as they came.
 */
#ifndef SIAOCTL_HTTP_H
#define SIAOCTL_HTTP_H

#include <stddef.h>
#include <jansson.h>

#include "util.h"

struct http;

struct http_resp {
	long status;
	char *content_type;   /* NULL when none */
	long retry_after;     /* seconds, 0 when none */
	struct buf body;
};

/* base: "http://host:port" (no trailing slash); token: the bearer token. */
struct http *http_open(const char *base, const char *token);
void http_close(struct http *h);

/* One request. path starts with '/' and may hold a query; body (may be NULL)
 * is sent as application/json; accept is the Accept header. Returns 0 with
 * *resp filled whatever the status, or -1 when no answer came (the reason is
 * printed on stderr). */
int http_send(struct http *h, const char *method, const char *path, const json_t *body,
	      const char *accept, struct http_resp *resp);
void http_resp_free(struct http_resp *resp);

/* Appends "?key=value" or "&key=value" to a path, percent-encoding both;
 * a NULL value adds nothing. */
void http_query_add(struct buf *path, const char *key, const char *value);

#endif
