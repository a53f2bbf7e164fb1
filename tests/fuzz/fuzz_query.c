/*
 * fuzz_query: bytes as a request line's method and target. The first byte
 * picks the method, the rest is the target: split into path and query as
 * the transport does (http.c: up to '?'), then through the gate's own steps
 * (gate_handle: path length and path_is_clean, evhttp_parse_query_str and
 * %00, routes_find) and, for every query parameter, the helpers the list
 * handlers use (api_list_params, api_query_int, api_query_date,
 * api_query_enum, api_query_departement) and the other value parsers
 * (parse_ll behind If-Match, date_parse, validate_departement,
 * validate_insee, validate_timestamp).
 *
 * The file includes daemon/http.c, daemon/gate.c and daemon/api.c to reach
 * their static functions (path_is_clean, parse_ll) and the transport's
 * connection: it defines their every global symbol, so the linker never
 * takes their objects out of siaod_fuzz_core. Requests are real struct req
 * on a transport request whose client is gone (no socket), so an answer
 * runs the whole req_problem path, log line and metrics included.
 */
#include "../../daemon/http.c"
#include "../../daemon/gate.c"
#include "../../daemon/api.c"

#include <stdint.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* the first byte, '0' to '9' in the seeds, picks one */
static const char *const methods[10] = {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS",
					"TRACE", "CONNECT", "OTHER"};
static struct app fuzz_app;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_set_level(LOG_ERROR); /* one request log line per call otherwise */
	config_defaults(&fuzz_app.cfg);
	snprintf(fuzz_app.instance, sizeof fuzz_app.instance, "fuzz");
	return 0;
}

/* A transport request whose client already left: answering frees it. */
static struct http_req *gone_request(const char *method, const char *target, const char *if_match,
				     char **path, char **query)
{
	struct http_conn *c = calloc(1, sizeof *c);
	if (!c)
		abort();
	c->body = evbuffer_new();
	c->out_headers = evbuffer_new();
	size_t n = strlen(target);
	c->buf = malloc(2 * n + 4);
	if (!c->body || !c->out_headers || !c->buf)
		abort();
	/* path, then query, NUL-terminated, as on_headers_complete leaves them */
	size_t plen = strcspn(target, "?");
	memcpy(c->buf, target, plen);
	c->buf[plen] = '\0';
	*path = c->buf;
	*query = NULL;
	if (target[plen] == '?') {
		*query = c->buf + plen + 1;
		memcpy(*query, target + plen + 1, n - plen - 1);
		(*query)[n - plen - 1] = '\0';
	}
	c->req_held = true;
	c->req.conn = c;
	c->req.body = c->body;
	c->req.tag = -1;
	c->req.path = *path;
	c->req.query = *query;
	snprintf(c->req.id, sizeof c->req.id, "fuzz-%llu", (unsigned long long)++fuzz_app.requests);
	snprintf(c->req.method, sizeof c->req.method, "%s", method);
	if (if_match) {
		c->req.hname[0] = "If-Match";
		c->req.hvalue[0] = if_match;
		c->req.nheaders = 1;
	}
	return &c->req;
}

/* What gate_handle() does with a request line up to the handler: NULL when
 * it answered (404, 400, 405). */
static struct req *request(const char *method, const char *target, const char *if_match)
{
	char *path, *q;
	struct http_req *hr = gone_request(method, target, if_match, &path, &q);
	struct req *r = req_new(&fuzz_app, hr);
	if (!r)
		abort();
	r->gone = true;
	snprintf(r->today, sizeof r->today, "2026-11-23");

	char allow[64];
	bool answered = true;
	bool clean = strlen(path) < sizeof r->path && path_is_clean(path);
	snprintf(r->path, sizeof r->path, "%s", clean ? path : "-");
	if (!clean) {
		req_problem(r, 404, "not-found", "no such resource");
	} else if (q && (evhttp_parse_query_str(q, &r->query) != 0 || strstr(q, "%00"))) {
		req_problem(r, 400, "invalid-query", "the query string is malformed");
	} else {
		switch (routes_find(r->method, r->path, &r->route, r->ids, REQ_MAX_IDS, &r->nids, allow,
				    sizeof allow)) {
		case ROUTE_NOT_FOUND:
			req_problem(r, 404, "not-found", "no such resource");
			break;
		case ROUTE_BAD_METHOD:
			if (!allow[0] || strlen(allow) >= sizeof allow)
				abort();
			req_add_header(r, "Allow", allow);
			req_problem(r, 405, "method-not-allowed", "this resource does not accept that method");
			break;
		case ROUTE_FOUND:
			answered = false;
			break;
		}
	}
	if (answered)
		return NULL;
	r->route_name = r->route->name;
	r->route_index = (int)(r->route - routes);
	/* what routes_find promises the handlers */
	if (r->route < routes || r->route >= routes + nroutes || r->nids < 0 || r->nids > REQ_MAX_IDS)
		abort();
	if (strcmp(r->route->method, r->method) != 0 &&
	    !(strcmp(r->method, "HEAD") == 0 && strcmp(r->route->method, "GET") == 0))
		abort();
	for (int i = 0; i < r->nids; i++)
		if (r->ids[i] < 1 || r->ids[i] > 999999999999999999LL)
			abort();
	return r;
}

/* Ends a request no helper answered, as a handler would. */
static void done(struct req *r)
{
	req_reply_raw(r, 200, "application/json", "{}", 2);
}

enum check { C_LIST, C_INT, C_DATE, C_ENUM, C_DEPARTEMENT, C_IF_MATCH, C_COUNT };

/* One helper on parameter `name`; it answers (and frees r) when it refuses. */
static void check(enum check c, const char *method, const char *target, const char *name)
{
	static const char *const statuses[] = {"open", "closed", NULL};
	struct req *r = request(method, target, c == C_IF_MATCH ? name : NULL);
	if (!r)
		return;
	json_t *f = json_object();
	bool ok = true;
	switch (c) {
	case C_LIST: ok = api_list_params(r, f); break;
	case C_INT: ok = api_query_int(r, f, name, 1, INT64_MAX); break;
	case C_DATE: ok = api_query_date(r, f, name, NULL); break;
	case C_ENUM: ok = api_query_enum(r, f, name, statuses); break;
	case C_DEPARTEMENT: ok = api_query_departement(r, f, name); break;
	case C_IF_MATCH: {
		char versions[API_IF_MATCH_LEN];
		ok = api_if_match(r, NULL, NULL, versions) != -2;
		break;
	}
	case C_COUNT: break;
	}
	json_decref(f);
	if (ok)
		done(r);
}

static void parse_value(const char *s)
{
	sdate d;
	long long v;
	date_parse(s, &d);
	parse_ll(s, &v);
	validate_departement(s);
	validate_insee(s);
	validate_timestamp(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *method = methods[(uint8_t)(data[0] - '0') % 10];
	/* a request line ends at the first NUL as far as the transport is concerned */
	char *target = strndup((const char *)data + 1, size - 1);
	if (!target)
		return 0;
	parse_value(target);
	check(C_IF_MATCH, method, target, target);
	check(C_LIST, method, target, NULL);

	struct req *r = request(method, target, NULL);
	if (r) {
		/* every parameter, by every helper (up to 8 of them: a long
		 * query string costs the daemon one lookup per name it asks) */
		int n = 0;
		for (struct evkeyval *kv = r->query.tqh_first; kv && n < 8; kv = kv->next.tqe_next, n++) {
			parse_value(kv->value);
			for (enum check c = C_INT; c < C_IF_MATCH; c++)
				check(c, method, target, kv->key);
		}
		done(r);
	}
	if (fuzz_app.inflight != 0 || fuzz_app.requests_inflight)
		abort(); /* a request answered twice or never */
	free(target);
	return 0;
}
