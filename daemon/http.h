/*
 * http: the HTTP/1.1 transport — and nothing else. Our own connection layer
 * on libevent bufferevents (an evconnlistener we own) with http_parser
 * (Debian's libhttp-parser-dev) reading requests. It accepts, parses,
 * enforces the limits (header block, body decided on Content-Length before
 * reading it, chunked bodies stopped at the limit), the deadlines (a request
 * arrives whole within request_timeout_ms, an idle keep-alive lasts
 * keepalive_timeout_ms), the connection cap with eviction, answers, and
 * writes one log line per request. What a request means is the handler's
 * business: it is handed one at start (a function pointer and its context)
 * and this module includes nothing of the application.
 *
 * Why not evhttp: libevent 2.1's evhttp cannot replace its HTML error pages,
 * does not count connections, and its timeout restarts with every byte.
 *
 * Ownership: the transport owns every struct http_req. One is handed to the
 * handler per request; it stays valid until the handler answers with
 * http_reply() — exactly once — even if the client left meanwhile
 * (http_gone() then says so and the answer is dropped). Requests on one
 * connection are handled one at a time, in order (pipelining works).
 */
#ifndef SIAOD_HTTP_H
#define SIAOD_HTTP_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct evbuffer;
struct http_server;
struct http_conn;

#define HTTP_MAX_HEADERS 100

struct http_req {
	/* Read only for the handler. */
	char id[32];               /* request id, sent back as X-Request-Id */
	char method[12];           /* "GET", "POST", ... as sent */
	const char *path;          /* the target's path, raw (not decoded) */
	const char *query;         /* after '?', raw, or NULL */
	struct evbuffer *body;     /* the whole body, already read */
	char peer[46];             /* the peer's address, text */
	double start_ms;           /* monotonic time of the first byte */
	/* The handler may fill these: fields of the request's log line (before
	 * status, and at its end), and a number of its own handed back to
	 * done() (-1 until set). */
	char log_fields[64];
	char log_extra[200];
	int tag;
	/* Private to the transport. */
	struct http_conn *conn;
	int nheaders;
	const char *hname[HTTP_MAX_HEADERS], *hvalue[HTTP_MAX_HEADERS];
	bool head;                 /* HEAD: the answer's body is not sent */
};

typedef void (*http_handler_fn)(struct http_req *req, void *ctx);
/* Called once per answered request (the handler's answers and the
 * transport's own refusals alike), e.g. for metrics. */
typedef void (*http_done_fn)(const struct http_req *req, int status, double ms, void *ctx);

struct http_options {
	const char *listen;              /* host:port */
	bool reuse_port;                 /* SO_REUSEPORT: the kernel spreads connections
					    over the processes bound to listen */
	int max_connections;             /* <= 0: 3/4 of the descriptor limit */
	size_t max_header_bytes;         /* request line and headers: 414/431 above */
	size_t max_body_bytes;           /* 413 above, whatever the framing */
	const char *large_body_path;     /* POSTs to this path (imports) may reach: */
	size_t large_body_bytes;         /* (0: no such path) */
	int request_timeout_ms;          /* a request arrives whole within this */
	int keepalive_timeout_ms;        /* an idle connection is closed after this */
	int deadline_priority;           /* > 0: the event priority of those deadlines
					    (the base's own default when 0) */
	const char *id_prefix;           /* request ids are <prefix>-<n> */
	const char *const *mask_prefixes;/* path segments starting so are masked in the log */
	http_handler_fn handler;
	http_done_fn done;               /* may be NULL */
	void *ctx;
};

struct http_stats {
	int connections;                 /* open now */
	int max_connections;             /* the cap in force */
	int requests_in_flight;          /* handed to the handler, not answered */
	unsigned long accepted, evicted, refused, timed_out, accept_errors;
};

/* Binds and starts accepting. NULL with a message in err on failure. */
struct http_server *http_server_new(struct event_base *base, const struct http_options *opt,
				    char *err, size_t errlen);
/* Stops accepting and closes idle connections; requests in flight are
 * answered with Connection: close. */
void http_server_drain(struct http_server *srv);
/* Closes everything; requests still held by the handler become gone (their
 * http_reply() only frees them). */
void http_server_free(struct http_server *srv);
void http_server_stats(const struct http_server *srv, struct http_stats *out);
/* The descriptor-derived default of max_connections. */
int  http_default_max_connections(void);

/* Request headers: the first one of that name (case-insensitive), or NULL. */
const char *http_header(const struct http_req *req, const char *name);
/* The client went away: answering only frees the request. */
bool http_gone(const struct http_req *req);
/* Adds a response header (before http_reply). */
void http_add_header(struct http_req *req, const char *name, const char *value);
/* Answers and ends the request. data/len or buf (its content is moved out,
 * the caller still frees buf); content_type NULL: none. */
void http_reply(struct http_req *req, int status, const char *content_type,
		const void *data, size_t len, struct evbuffer *buf);
/* The reason phrase of a status ("Not found"). */
const char *http_status_text(int status);

#endif
