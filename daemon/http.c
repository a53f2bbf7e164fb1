/*
 * The HTTP/1.1 transport (see http.h): connections on bufferevents, requests
 * read by http_parser, limits and deadlines, the connection cap, answers and
 * the request log line.
 *
 * A connection is in one of these states:
 *   WAITING   no request yet, or an idle keep-alive (keepalive timer), or a
 *             request being read (whole-request deadline, never restarted);
 *             such connections are on the server's wait list, oldest first:
 *             at the cap, the oldest is evicted to let a new one in;
 *   HANDLING  the request is with the handler; further bytes (pipelined
 *             requests) wait in the input buffer, unparsed;
 *   WRITING   the answer is being written;
 *   CLOSING   the answer said Connection: close: written, then the write
 *             side is shut and what the client still sends is discarded for
 *             a moment, so it reads our answer instead of a reset.
 */
#include "http.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <http_parser.h>

#include "log.h"

#define LINGER_MS 2000            /* how long a closing connection discards input */
#define LINGER_BYTES 1048576      /* and how much of it, at most */
#define INPUT_HIGH_WATER 262144   /* input kept unparsed while a request is handled */
#define ACCEPT_PAUSE_MS 100       /* after EMFILE/ENFILE */
/* A burst of connections (thousands at once) must not overflow the queue:
 * a dropped SYN costs its client a 1 s retransmission. The kernel caps it at
 * net.core.somaxconn. */
#define LISTEN_BACKLOG 4096

enum conn_state { C_WAITING, C_HANDLING, C_WRITING, C_CLOSING };

struct http_conn {
	struct http_server *srv;
	struct bufferevent *bev;          /* NULL once closed */
	struct event *timer;
	http_parser parser;
	enum conn_state state;
	struct http_conn *prev, *next;    /* all open connections */
	struct http_conn *wprev, *wnext;  /* the wait list */
	bool waiting;
	bool in_request;                  /* bytes of a request were read */
	bool keep_alive;                  /* after this answer */
	bool eof;                         /* the client sent its last byte */
	bool req_held;                    /* the handler holds req */
	bool continue_sent;
	unsigned long served;              /* requests answered on it */
	size_t discarded;                 /* bytes dropped while closing */
	char *buf;                        /* target and headers, NUL-separated */
	size_t len, cap;
	uint32_t hname[HTTP_MAX_HEADERS], hvalue[HTTP_MAX_HEADERS];
	int nh;
	enum { P_NONE, P_URL, P_FIELD, P_VALUE } last;
	size_t body_len;
	size_t body_max;                /* this request's body limit */
	int err_status;                   /* a refusal decided in a parser callback */
	const char *err_slug, *err_detail;
	struct evbuffer *body;
	struct evbuffer *out_headers;     /* headers added by the handler */
	struct http_req req;
};

struct http_server {
	struct event_base *base;
	struct http_options opt;
	char *id_prefix;
	struct evconnlistener *listener;
	struct event *resume;             /* re-enables accepting after EMFILE */
	int spare_fd;                     /* closed to accept-and-close the excess */
	struct http_conn *conns;
	struct http_conn *whead, *wtail;  /* wait list, oldest first */
	int nconns;
	int inflight;
	bool draining;
	bool in_written;                  /* conn_written is running */
	unsigned long long nreq;
	unsigned long accepted, evicted, refused, timed_out, accept_errors;
	unsigned long accept_errors_logged;
	time_t accept_log_at;
	http_parser_settings settings;
	time_t date_at;
	char date[40];
};

static bool conn_close(struct http_conn *c);
static void conn_parse(struct http_conn *c);
static void conn_written(struct http_conn *c);

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

const char *http_status_text(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 301: return "Moved permanently";
	case 302: return "Found";
	case 304: return "Not modified";
	case 400: return "Bad request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not found";
	case 405: return "Method not allowed";
	case 408: return "Request timeout";
	case 409: return "Conflict";
	case 412: return "Precondition failed";
	case 413: return "Content too large";
	case 414: return "URI too long";
	case 415: return "Unsupported media type";
	case 422: return "Unprocessable content";
	case 429: return "Too many requests";
	case 431: return "Request header fields too large";
	case 501: return "Not implemented";
	case 502: return "Bad gateway";
	case 503: return "Service unavailable";
	default:  return status >= 500 ? "Internal server error" : "Error";
	}
}

int http_default_max_connections(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 1 << 22)
		return 768;
	/* A quarter stays for the database pool, webhook deliveries, logs. */
	long n = (long)rl.rlim_cur * 3 / 4;
	return n < 16 ? 16 : (int)n;
}

/* ------------------------------------------------------------ wait list */

static void wait_remove(struct http_conn *c)
{
	struct http_server *s = c->srv;
	if (!c->waiting)
		return;
	if (c->wprev)
		c->wprev->wnext = c->wnext;
	else
		s->whead = c->wnext;
	if (c->wnext)
		c->wnext->wprev = c->wprev;
	else
		s->wtail = c->wprev;
	c->wprev = c->wnext = NULL;
	c->waiting = false;
}

static void wait_append(struct http_conn *c)
{
	struct http_server *s = c->srv;
	wait_remove(c);
	c->wprev = s->wtail;
	if (s->wtail)
		s->wtail->wnext = c;
	else
		s->whead = c;
	s->wtail = c;
	c->waiting = true;
}

static void timer_set(struct http_conn *c, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000L};
	/* a connection without its deadline could be held forever: say so */
	if (evtimer_add(c->timer, &tv) != 0)
		log_error("http", "error=\"cannot arm a connection's deadline\"");
}

/* ------------------------------------------------------------ answers */

static const char *path_for_log(const struct http_server *s, const char *path, char *out, size_t size)
{
	size_t j = 0;
	for (const char *p = path; *p && j + 4 < size;) {
		bool masked = false;
		for (const char *const *m = s->opt.mask_prefixes; m && *m && !masked; m++) {
			size_t n = strlen(*m);
			if (strncmp(p, *m, n) == 0 && j + n + 4 < size) {
				memcpy(out + j, p, n);
				j += n;
				p += n;
				while (*p && *p != '/' && *p != '?')
					p++;
				memcpy(out + j, "***", 3);
				j += 3;
				masked = true;
			}
		}
		if (!masked)
			out[j++] = *p++;
	}
	out[j] = '\0';
	return out;
}

static void log_request(struct http_server *s, const struct http_req *r, int status, double ms,
			bool gone)
{
	if (!log_enabled(LOG_INFO))
		return;
	char path[300], masked[300];
	log_info("request", "rid=%s method=%s path=%s%s%s status=%d dur_ms=%.2f%s%s%s",
		 r->id, r->method[0] ? r->method : "-",
		 log_quote(r->path ? path_for_log(s, r->path, masked, sizeof masked) : "-", path, sizeof path),
		 r->log_fields[0] ? " " : "", r->log_fields,
		 status, ms, r->log_extra[0] ? " " : "", r->log_extra, gone ? " client=gone" : "");
}

static const char *http_date(struct http_server *s)
{
	time_t t = time(NULL);
	if (t != s->date_at) {
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(s->date, sizeof s->date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
		s->date_at = t;
	}
	return s->date;
}

/* Appends a piece to a head being built; false when it does not fit. */
static bool head_put(char *buf, size_t size, size_t *len, const char *s, size_t n)
{
	if (n > size - *len)
		return false;
	memcpy(buf + *len, s, n);
	*len += n;
	return true;
}

static bool head_str(char *buf, size_t size, size_t *len, const char *s)
{
	return head_put(buf, size, len, s, strlen(s));
}

static bool head_num(char *buf, size_t size, size_t *len, unsigned long long v)
{
	char tmp[24], *e = tmp + sizeof tmp, *q = e;
	do
		*--q = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	return head_put(buf, size, len, q, (size_t)(e - q));
}

/* The status line, Date, Content-Type (when given), Content-Length (when
 * not SIZE_MAX) and X-Request-Id, in one piece, without printf (a quarter
 * of the printf calls of a request). */
static void put_head(struct evbuffer *out, int status, const char *date, const char *content_type,
		     size_t body_len, const char *id)
{
	char buf[512];
	size_t len = 0, size = sizeof buf;
	bool ok = status >= 100 && status <= 999 &&
		  head_put(buf, size, &len, "HTTP/1.1 ", 9) && head_num(buf, size, &len, (unsigned)status) &&
		  head_put(buf, size, &len, " ", 1) && head_str(buf, size, &len, http_status_text(status)) &&
		  head_put(buf, size, &len, "\r\nDate: ", 8) && head_str(buf, size, &len, date) &&
		  head_put(buf, size, &len, "\r\n", 2);
	if (ok && content_type)
		ok = head_put(buf, size, &len, "Content-Type: ", 14) && head_str(buf, size, &len, content_type) &&
		     head_put(buf, size, &len, "\r\n", 2);
	if (ok && body_len != SIZE_MAX)
		ok = head_put(buf, size, &len, "Content-Length: ", 16) && head_num(buf, size, &len, body_len) &&
		     head_put(buf, size, &len, "\r\n", 2);
	ok = ok && head_put(buf, size, &len, "X-Request-Id: ", 14) && head_str(buf, size, &len, id) &&
	     head_put(buf, size, &len, "\r\n", 2);
	if (ok) {
		evbuffer_add(out, buf, len);
		return;
	}
	/* a head longer than the buffer (never with the application's types) */
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nDate: %s\r\n", status, http_status_text(status), date);
	if (content_type)
		evbuffer_add_printf(out, "Content-Type: %s\r\n", content_type);
	if (body_len != SIZE_MAX)
		evbuffer_add_printf(out, "Content-Length: %zu\r\n", body_len);
	evbuffer_add_printf(out, "X-Request-Id: %s\r\n", id);
}

/* Writes status line, headers and body; the connection then waits for the
 * write to finish (on_write). */
static void conn_write_answer(struct http_conn *c, int status, const char *content_type,
			      const void *data, size_t len, struct evbuffer *buf)
{
	struct http_server *s = c->srv;
	struct evbuffer *out = bufferevent_get_output(c->bev);
	size_t body_len = buf ? evbuffer_get_length(buf) : len;
	/* Written at once, not on the loop's next turn (that cost two
	 * epoll_ctl and a wake-up per answer): the bufferevent's writing is
	 * off while the answer is put together, on again only for what the
	 * socket does not take now. Not when an answer is being completed
	 * already (a pipelined request answered from conn_written): no
	 * recursion per request a client queued. */
	bool direct = !s->in_written;
	if (direct)
		bufferevent_disable(c->bev, EV_WRITE);
	/* after the client's last byte: answer what it sent, then close */
	if (s->draining || (c->eof && evbuffer_get_length(bufferevent_get_input(c->bev)) == 0))
		c->keep_alive = false;
	put_head(out, status, http_date(s), content_type,
		 status != 204 && status != 304 ? body_len : SIZE_MAX, c->req.id);
	evbuffer_add_buffer(out, c->out_headers);
	if (!c->keep_alive)
		evbuffer_add(out, "Connection: close\r\n", 19);
	else if (c->parser.http_major == 1 && c->parser.http_minor == 0)
		evbuffer_add(out, "Connection: keep-alive\r\n", 24);
	evbuffer_add(out, "\r\n", 2);
	/* HEAD: the headers GET would send, no body (RFC 9110 9.3.2). */
	if (!c->req.head && status != 204 && status != 304) {
		if (buf)
			evbuffer_add_buffer(out, buf);
		else if (len)
			evbuffer_add(out, data, len);
	}
	c->state = C_WRITING;
	wait_remove(c);
	evtimer_del(c->timer);
	/* A client that does not read its answer is dropped in time too. */
	timer_set(c, s->opt.request_timeout_ms);
	if (direct) {
		/* as the bufferevent writes: the front of its output is frozen
		 * for anyone else */
		evutil_socket_t fd = bufferevent_getfd(c->bev);
		evbuffer_unfreeze(out, 1);
		while (evbuffer_get_length(out) > 0 && evbuffer_write(out, fd) > 0)
			;
		evbuffer_freeze(out, 1);
		if (evbuffer_get_length(out) == 0) {
			s->in_written = true;
			conn_written(c);   /* may free c */
			s->in_written = false;
			return;
		}
	}
	/* the rest (or an error: the bufferevent reports it, on_event) */
	bufferevent_enable(c->bev, EV_WRITE);
}

static void conn_free(struct http_conn *c)
{
	if (c->timer)
		event_free(c->timer);
	if (c->body)
		evbuffer_free(c->body);
	if (c->out_headers)
		evbuffer_free(c->out_headers);
	free(c->buf);
	free(c);
}

void http_reply(struct http_req *r, int status, const char *content_type,
		const void *data, size_t len, struct evbuffer *buf)
{
	struct http_conn *c = r->conn;
	struct http_server *s = c->srv;
	if (buf && !evbuffer_get_length(buf))
		buf = NULL, data = NULL, len = 0;
	double ms = now_ms() - r->start_ms;
	bool gone = c->bev == NULL;
	c->req_held = false;
	if (s)
		s->inflight--;
	if (s && s->opt.done)
		s->opt.done(r, status, ms, s->opt.ctx);
	if (s)
		log_request(s, r, status, ms, gone);
	/* no server: it was freed while the handler held the request (and
	 * closed the connection then) */
	if (gone || !s) {
		if (buf)
			evbuffer_drain(buf, evbuffer_get_length(buf));
		conn_free(c);  /* closed while the handler held the request */
		return;
	}
	conn_write_answer(c, status, content_type, data, len, buf);
}

void http_add_header(struct http_req *r, const char *name, const char *value)
{
	struct http_conn *c = r->conn;
	/* no header splitting: values come from the application, but be sure */
	if (strpbrk(name, "\r\n:") || strpbrk(value, "\r\n"))
		return;
	evbuffer_add_printf(c->out_headers, "%s: %s\r\n", name, value);
}

const char *http_header(const struct http_req *r, const char *name)
{
	for (int i = 0; i < r->nheaders; i++)
		if (strcasecmp(r->hname[i], name) == 0)
			return r->hvalue[i];
	return NULL;
}

bool http_gone(const struct http_req *r)
{
	return r->conn->bev == NULL;
}

/* A refusal by the transport itself: problem+json, then the connection is
 * closed (what follows on it cannot be trusted to be a request). */
static void conn_refuse(struct http_conn *c, int status, const char *slug, const char *detail)
{
	struct http_server *s = c->srv;
	char body[400];
	int n = snprintf(body, sizeof body,
			 "{\"type\":\"/problems/%s\",\"title\":\"%s\",\"status\":%d,\"detail\":\"%s\"}",
			 slug, http_status_text(status), status, detail);
	if (!c->req.id[0])
		snprintf(c->req.id, sizeof c->req.id, "%s-%llu", s->id_prefix, ++s->nreq);
	if (c->req.start_ms == 0)
		c->req.start_ms = now_ms();
	c->keep_alive = false;
	double ms = now_ms() - c->req.start_ms;
	if (s->opt.done)
		s->opt.done(&c->req, status, ms, s->opt.ctx);
	log_request(s, &c->req, status, ms, false);
	evbuffer_drain(c->out_headers, evbuffer_get_length(c->out_headers));
	if (status == 405)
		evbuffer_add_printf(c->out_headers, "Allow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS\r\n");
	conn_write_answer(c, status, "application/problem+json", body, (size_t)n, NULL);
}

/* ------------------------------------------------------------ parsing */

static void conn_reset_request(struct http_conn *c)
{
	c->len = 0;
	c->nh = 0;
	c->last = P_NONE;
	c->body_len = 0;
	c->err_status = 0;
	c->in_request = false;
	c->continue_sent = false;
	evbuffer_drain(c->body, evbuffer_get_length(c->body));
	evbuffer_drain(c->out_headers, evbuffer_get_length(c->out_headers));
	char peer[sizeof c->req.peer];
	memcpy(peer, c->req.peer, sizeof peer);
	memset(&c->req, 0, sizeof c->req);
	memcpy(c->req.peer, peer, sizeof peer);
	c->req.conn = c;
	c->req.body = c->body;
	c->req.tag = -1;
}

static int refuse_in_parser(struct http_conn *c, int status, const char *slug, const char *detail)
{
	c->err_status = status;
	c->err_slug = slug;
	c->err_detail = detail;
	return -1;
}

static int buf_reserve(struct http_conn *c, size_t n)
{
	if (c->len + n + 1 > c->cap) {
		size_t cap = c->cap ? c->cap : 1024;
		while (cap < c->len + n + 1)
			cap *= 2;
		char *b = realloc(c->buf, cap);
		if (!b)
			return refuse_in_parser(c, 503, "out-of-memory", "try again");
		c->buf = b;
		c->cap = cap;
	}
	return 0;
}

static int buf_append(struct http_conn *c, const char *at, size_t n)
{
	if (c->len + n + 1 > c->srv->opt.max_header_bytes) {
		if (c->last == P_URL || c->nh == 0)
			return refuse_in_parser(c, 414, "uri-too-long", "the request target is too long");
		return refuse_in_parser(c, 431, "headers-too-large", "the request headers are too large");
	}
	if (buf_reserve(c, n))
		return -1;
	memcpy(c->buf + c->len, at, n);
	c->len += n;
	return 0;
}

/* Copies a piece of buf (at offset off) to its end, NUL-terminated. */
static int buf_copy_piece(struct http_conn *c, size_t off, size_t n)
{
	if (buf_reserve(c, n + 1))
		return -1;
	memmove(c->buf + c->len, c->buf + off, n);
	c->buf[c->len + n] = '\0';
	c->len += n + 1;
	return 0;
}

static int end_piece(struct http_conn *c)
{
	if (c->last == P_NONE)
		return 0;
	return buf_append(c, "", 1);
}

static int on_message_begin(http_parser *p)
{
	struct http_conn *c = p->data;
	struct http_server *s = c->srv;
	if (!c->in_request) {
		c->in_request = true;
		c->req.start_ms = now_ms();
		/* the whole request within request_timeout_ms from its first byte
		 * (a new connection's clock started at accept) */
		if (c->served)
			timer_set(c, s->opt.request_timeout_ms);
	}
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
	struct http_conn *c = p->data;
	c->last = P_URL;
	return buf_append(c, at, n);
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
	struct http_conn *c = p->data;
	if (c->last != P_FIELD) {
		if (end_piece(c))
			return -1;
		if (c->nh >= HTTP_MAX_HEADERS)
			return refuse_in_parser(c, 431, "headers-too-large", "too many request headers");
		c->hname[c->nh] = (uint32_t)c->len;
		c->hvalue[c->nh] = UINT32_MAX;
		c->nh++;
		c->last = P_FIELD;
	}
	return buf_append(c, at, n);
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
	struct http_conn *c = p->data;
	if (c->last != P_VALUE) {
		if (end_piece(c))
			return -1;
		c->hvalue[c->nh - 1] = (uint32_t)c->len;
		c->last = P_VALUE;
	}
	return buf_append(c, at, n);
}

static bool method_served(enum http_method m)
{
	switch (m) {
	case HTTP_GET: case HTTP_HEAD: case HTTP_POST: case HTTP_PUT: case HTTP_DELETE:
	case HTTP_PATCH: case HTTP_OPTIONS: case HTTP_TRACE:
		return true;
	default:
		return false;
	}
}

static int on_headers_complete(http_parser *p)
{
	struct http_conn *c = p->data;
	struct http_server *s = c->srv;
	if (end_piece(c))
		return -1;
	/* Offsets into pointers: buf does not move any more for this request. */
	struct http_req *r = &c->req;
	snprintf(r->method, sizeof r->method, "%s", http_method_str((enum http_method)p->method));
	r->head = p->method == HTTP_HEAD;
	r->nheaders = 0;
	for (int i = 0; i < c->nh; i++) {
		r->hname[r->nheaders] = c->buf + c->hname[i];
		r->hvalue[r->nheaders] = c->hvalue[i] == UINT32_MAX ? "" : c->buf + c->hvalue[i];
		r->nheaders++;
	}
	if (p->method == HTTP_CONNECT)
		return refuse_in_parser(c, 405, "method-not-allowed", "CONNECT is not served here");
	if (!method_served((enum http_method)p->method))
		return refuse_in_parser(c, 501, "not-implemented", "this method is not implemented");
	/* The target: origin form ("/path?query") or absolute form
	 * ("http://host/path?query"). (Not http_parser_parse_url: its offsets
	 * are 16-bit, and max_header_bytes may allow longer targets.) */
	const char *url = c->buf;
	size_t url_len = strlen(url);
	size_t at = 0;
	if (url[0] != '/') {
		const char *scheme_end = strstr(url, "://");
		if (!scheme_end)
			return refuse_in_parser(c, 400, "bad-request", "the request target is malformed");
		const char *slash = strchr(scheme_end + 3, '/');
		at = slash ? (size_t)(slash - url) : url_len;
	}
	size_t path_len = strcspn(url + at, "?#");
	size_t path_at = c->len;
	if (path_len == 0) {   /* "http://host" */
		if (buf_append(c, "/", 1) || buf_append(c, "", 1))
			return -1;
	} else if (buf_copy_piece(c, at, path_len)) {
		return -1;
	}
	size_t query_at = 0;
	url = c->buf;   /* may have moved */
	if (url[at + path_len] == '?') {
		size_t q = at + path_len + 1;
		size_t qlen = strcspn(url + q, "#");
		query_at = c->len;
		if (buf_copy_piece(c, q, qlen))
			return -1;
	}
	/* buf may have moved: point again */
	for (int i = 0; i < c->nh; i++) {
		r->hname[i] = c->buf + c->hname[i];
		r->hvalue[i] = c->hvalue[i] == UINT32_MAX ? "" : c->buf + c->hvalue[i];
	}
	r->path = c->buf + path_at;
	r->query = query_at ? c->buf + query_at : NULL;
	/* The body's size is decided before reading it. */
	/* one path may take larger bodies (a CSV import); the limit is the
	 * connection's until the next request */
	c->body_max = s->opt.max_body_bytes;
	if (s->opt.large_body_path && p->method == HTTP_POST && strcmp(r->path, s->opt.large_body_path) == 0)
		c->body_max = s->opt.large_body_bytes;
	if ((p->flags & F_CONTENTLENGTH) && p->content_length > c->body_max)
		return refuse_in_parser(c, 413, "body-too-large", "the body is larger than the limit");
	const char *expect = http_header(r, "Expect");
	if (expect && strcasecmp(expect, "100-continue") == 0 && !c->continue_sent) {
		c->continue_sent = true;
		bufferevent_write(c->bev, "HTTP/1.1 100 Continue\r\n\r\n", 25);
		bufferevent_enable(c->bev, EV_WRITE);   /* off since the last answer */
	}
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
	struct http_conn *c = p->data;
	c->body_len += n;
	/* chunked: stop at the limit */
	if (c->body_len > (c->body_max ? c->body_max : c->srv->opt.max_body_bytes))
		return refuse_in_parser(c, 413, "body-too-large", "the body is larger than the limit");
	return evbuffer_add(c->body, at, n) == 0 ? 0 : refuse_in_parser(c, 503, "out-of-memory", "try again");
}

static int on_message_complete(http_parser *p)
{
	/* One request at a time: the parser stops here until it is answered. */
	http_parser_pause(p, 1);
	return 0;
}

/* Hands the request over to the handler. */
static void conn_dispatch(struct http_conn *c)
{
	struct http_server *s = c->srv;
	c->state = C_HANDLING;
	wait_remove(c);
	evtimer_del(c->timer);
	c->keep_alive = http_should_keep_alive(&c->parser) && !c->parser.upgrade && !s->draining;
	snprintf(c->req.id, sizeof c->req.id, "%s-%llu", s->id_prefix, ++s->nreq);
	c->req_held = true;
	s->inflight++;
	s->opt.handler(&c->req, s->opt.ctx);
}

/* "METHOD SP target SP HTTP/" at the start of p: a method token of
 * letters, digits or '-' followed by a target and a version. */
static bool looks_like_request_line(const char *p, size_t n)
{
	size_t i = 0;
	while (i < n && i < 32 && (isalnum((unsigned char)p[i]) || p[i] == '-' || p[i] == '_'))
		i++;
	if (i == 0 || i >= n || p[i] != ' ')
		return false;
	size_t t = ++i;
	while (i < n && i < 8192 && p[i] != ' ' && p[i] != '\r' && p[i] != '\n')
		i++;
	return i > t && i + 6 <= n && memcmp(p + i, " HTTP/", 6) == 0;
}

static void conn_parse(struct http_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	while (c->state == C_WAITING) {
		size_t avail = evbuffer_get_length(in);
		if (avail == 0)
			break;
		struct evbuffer_iovec v;
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		size_t n = http_parser_execute(&c->parser, &c->srv->settings, v.iov_base, v.iov_len);
		evbuffer_drain(in, n);
		enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
		if (c->err_status) {
			conn_refuse(c, c->err_status, c->err_slug, c->err_detail);
			return;
		}
		if (e == HPE_PAUSED) {
			http_parser_pause(&c->parser, 0);
			conn_dispatch(c);
			return;
		}
		if (e == HPE_INVALID_METHOD) {
			/* a request line with a method we do not know: 501; garbage: 400 */
			if (looks_like_request_line(v.iov_base, v.iov_len))
				conn_refuse(c, 501, "not-implemented", "this method is not implemented");
			else
				conn_refuse(c, 400, "bad-request", "the request line is malformed");
			return;
		}
		if (e == HPE_HEADER_OVERFLOW) {
			/* still in the request line: the target is what is too long */
			if (c->nh == 0)
				conn_refuse(c, 414, "uri-too-long", "the request target is too long");
			else
				conn_refuse(c, 431, "headers-too-large", "the request headers are too large");
			return;
		}
		if (e != HPE_OK) {
			conn_refuse(c, 400, "bad-request", "the request is not valid HTTP/1.1");
			return;
		}
		if (n < v.iov_len)
			break;
	}
	if (c->state == C_WAITING && c->eof) {
		/* the client will send nothing more */
		conn_close(c);
	}
}

/* ------------------------------------------------------------ connection events */

/* Closes c; true when c lives on because its request is held by the
 * handler (http_reply frees it), false when c is freed. */
static bool conn_close(struct http_conn *c)
{
	struct http_server *s = c->srv;
	wait_remove(c);
	if (c->prev)
		c->prev->next = c->next;
	else if (s->conns == c)
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	s->nconns--;
	if (c->bev) {
		bufferevent_free(c->bev);
		c->bev = NULL;
	}
	evtimer_del(c->timer);
	if (c->req_held)
		return true;   /* freed by http_reply */
	conn_free(c);
	return false;
}

static void conn_next_request(struct http_conn *c)
{
	struct http_server *s = c->srv;
	c->state = C_WAITING;
	c->served++;
	conn_reset_request(c);
	wait_append(c);
	timer_set(c, s->opt.keepalive_timeout_ms);
	conn_parse(c);
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct http_conn *c = arg;
	if (c->state == C_CLOSING) {
		struct evbuffer *in = bufferevent_get_input(bev);
		c->discarded += evbuffer_get_length(in);
		evbuffer_drain(in, evbuffer_get_length(in));
		if (c->discarded > LINGER_BYTES)
			conn_close(c);   /* enough politeness: a client still sending is cut */
		return;
	}
	if (c->state == C_WAITING)
		conn_parse(c);
}

static void on_write(struct bufferevent *bev, void *arg)
{
	(void)bev;
	struct http_conn *c = arg;
	if (c->state != C_WRITING)
		return;
	conn_written(c);
}

/* The answer is written: the next request, or a lingering close. */
static void conn_written(struct http_conn *c)
{
	struct http_server *s = c->srv;
	struct bufferevent *bev = c->bev;
	evtimer_del(c->timer);
	if (c->keep_alive && !s->draining) {
		conn_next_request(c);
		return;
	}
	/* Lingering close: shut our side, discard what still comes, so the
	 * client reads the answer rather than a reset. */
	c->state = C_CLOSING;
	wait_remove(c);
	shutdown(bufferevent_getfd(bev), SHUT_WR);
	struct evbuffer *in = bufferevent_get_input(bev);
	evbuffer_drain(in, evbuffer_get_length(in));
	if (c->eof) {
		conn_close(c);
		return;
	}
	timer_set(c, LINGER_MS);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct http_conn *c = arg;
	if (what & BEV_EVENT_ERROR) {
		conn_close(c);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		c->eof = true;
		switch (c->state) {
		case C_WAITING:
		case C_CLOSING:
			conn_close(c);
			break;
		case C_HANDLING:
		case C_WRITING:
			break;   /* answer, then close */
		}
	}
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct http_conn *c = arg;
	struct http_server *s = c->srv;
	if (c->state == C_WAITING && c->in_request) {
		s->timed_out++;
		conn_refuse(c, 408, "request-timeout", "the request did not arrive in time");
		return;
	}
	if (c->state == C_WAITING && !c->served)
		s->timed_out++;   /* a new connection that never sent a request */
	conn_close(c);
}

/* Makes room for one more: the connection waiting longest without a
 * complete request goes. */
static bool evict_one(struct http_server *s)
{
	struct http_conn *c = s->whead;
	if (!c)
		return false;
	s->evicted++;
	conn_close(c);
	return true;
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
		      void *arg)
{
	struct http_server *s = arg;
	if (s->nconns >= s->opt.max_connections && !evict_one(s)) {
		s->refused++;
		evutil_closesocket(fd);
		return;
	}
	struct http_conn *c = calloc(1, sizeof *c);
	if (!c) {
		evutil_closesocket(fd);
		return;
	}
	c->srv = s;
	c->body = evbuffer_new();
	c->out_headers = evbuffer_new();
	c->timer = evtimer_new(s->base, on_timer, c);
	c->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
	/* a refused priority (a base without that many) keeps the default */
	if (c->timer && s->opt.deadline_priority > 0)
		(void)event_priority_set(c->timer, s->opt.deadline_priority);
	if (!c->body || !c->out_headers || !c->timer || !c->bev) {
		if (c->bev)
			bufferevent_free(c->bev);
		else
			evutil_closesocket(fd);
		c->bev = NULL;
		conn_free(c);
		return;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)sa)->sin_addr, c->req.peer, sizeof c->req.peer);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)sa)->sin6_addr, c->req.peer, sizeof c->req.peer);
	http_parser_init(&c->parser, HTTP_REQUEST);
	c->parser.data = c;
	c->req.conn = c;
	c->req.body = c->body;
	c->req.tag = -1;
	c->state = C_WAITING;
	c->next = s->conns;
	if (c->next)
		c->next->prev = c;
	s->conns = c;
	s->nconns++;
	s->accepted++;
	wait_append(c);
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, INPUT_HIGH_WATER);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	/* a new connection has the whole-request deadline from now */
	timer_set(c, s->opt.request_timeout_ms);
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct http_server *s = arg;
	if (s->listener && !s->draining)
		evconnlistener_enable(s->listener);
}

/* accept() failed: out of descriptors (or memory). Stop accepting for a
 * moment instead of spinning, use the spare descriptor to accept and close
 * one waiting connection cleanly, and log once per second with a count. */
static void on_accept_error(struct evconnlistener *l, void *arg)
{
	struct http_server *s = arg;
	int err = EVUTIL_SOCKET_ERROR();
	s->accept_errors++;
	if (s->spare_fd >= 0 && (err == EMFILE || err == ENFILE)) {
		close(s->spare_fd);
		int fd = accept(evconnlistener_get_fd(l), NULL, NULL);
		if (fd >= 0)
			close(fd);
		s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	evconnlistener_disable(l);
	struct timeval tv = {0, ACCEPT_PAUSE_MS * 1000L};
	/* never leave the listener disabled with nothing to enable it again */
	if (evtimer_add(s->resume, &tv) != 0)
		evconnlistener_enable(l);
	time_t now = time(NULL);
	if (now != s->accept_log_at) {
		log_warn("accept", "error=\"%s\" count=%lu paused_ms=%d", evutil_socket_error_to_string(err),
			 s->accept_errors - s->accept_errors_logged, ACCEPT_PAUSE_MS);
		s->accept_log_at = now;
		s->accept_errors_logged = s->accept_errors;
	}
}

/* ------------------------------------------------------------ server */

static int parse_listen(const char *listen, struct sockaddr_storage *ss, int *sslen)
{
	char host[128];
	const char *colon = strrchr(listen, ':');
	if (!colon || (size_t)(colon - listen) >= sizeof host)
		return -1;
	memcpy(host, listen, (size_t)(colon - listen));
	host[colon - listen] = '\0';
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end || port < 0 || port > 65535)
		return -1;
	char *h = host;
	if (h[0] == '[' && h[strlen(h) - 1] == ']') {
		h[strlen(h) - 1] = '\0';
		h++;
	}
	memset(ss, 0, sizeof *ss);
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	if (strcmp(h, "localhost") == 0)
		h = "127.0.0.1";
	if (inet_pton(AF_INET, h[0] ? h : "0.0.0.0", &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*sslen = sizeof *s4;
		return 0;
	}
	if (inet_pton(AF_INET6, h, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*sslen = sizeof *s6;
		return 0;
	}
	return -1;
}

struct http_server *http_server_new(struct event_base *base, const struct http_options *opt,
				    char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	int sslen;
	if (parse_listen(opt->listen, &ss, &sslen) != 0) {
		snprintf(err, errlen, "listen: expected address:port, got %s", opt->listen);
		return NULL;
	}
	struct http_server *s = calloc(1, sizeof *s);
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->base = base;
	s->opt = *opt;
	if (s->opt.max_connections <= 0)
		s->opt.max_connections = http_default_max_connections();
	s->id_prefix = strdup(opt->id_prefix ? opt->id_prefix : "r");
	s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	s->resume = evtimer_new(base, on_resume, s);
	http_parser_settings_init(&s->settings);
	s->settings.on_message_begin = on_message_begin;
	s->settings.on_url = on_url;
	s->settings.on_header_field = on_header_field;
	s->settings.on_header_value = on_header_value;
	s->settings.on_headers_complete = on_headers_complete;
	s->settings.on_body = on_body;
	s->settings.on_message_complete = on_message_complete;
	/* our own limit applies first; the parser's must not be lower */
	http_parser_set_max_header_size((uint32_t)opt->max_header_bytes + 1024);
	if (s->id_prefix && s->resume)
		s->listener = evconnlistener_new_bind(base, on_accept, s,
						      LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
						      LEV_OPT_CLOSE_ON_EXEC |
						      (opt->reuse_port ? LEV_OPT_REUSEABLE_PORT : 0),
						      LISTEN_BACKLOG,
						      (struct sockaddr *)&ss, sslen);
	if (!s->listener) {
		snprintf(err, errlen, "cannot listen on %s: %s", opt->listen, strerror(errno));
		http_server_free(s);
		return NULL;
	}
	evconnlistener_set_error_cb(s->listener, on_accept_error);
	return s;
}

void http_server_drain(struct http_server *s)
{
	if (!s || s->draining)
		return;
	s->draining = true;
	if (s->listener) {
		evconnlistener_free(s->listener);
		s->listener = NULL;
	}
	/* idle keep-alives go now; a request being read may still finish */
	struct http_conn *c = s->whead;
	while (c) {
		struct http_conn *next = c->wnext;
		if (!c->in_request)
			conn_close(c);
		c = next;
	}
}

void http_server_free(struct http_server *s)
{
	if (!s)
		return;
	if (s->listener)
		evconnlistener_free(s->listener);
	while (s->conns) {
		struct http_conn *c = s->conns;
		/* unlinked here, so the loop visibly moves on */
		s->conns = c->next;
		if (s->conns)
			s->conns->prev = NULL;
		c->next = NULL;
		if (conn_close(c))
			c->srv = NULL;   /* answered later: only freed */
	}
	if (s->resume)
		event_free(s->resume);
	if (s->spare_fd >= 0)
		close(s->spare_fd);
	free(s->id_prefix);
	free(s);
}

void http_server_stats(const struct http_server *s, struct http_stats *out)
{
	memset(out, 0, sizeof *out);
	if (!s)
		return;
	out->connections = s->nconns;
	out->max_connections = s->opt.max_connections;
	out->requests_in_flight = s->inflight;
	out->accepted = s->accepted;
	out->evicted = s->evicted;
	out->refused = s->refused;
	out->timed_out = s->timed_out;
	out->accept_errors = s->accept_errors;
}
