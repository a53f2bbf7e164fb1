/*
 * Helpers shared by the route handlers (see api.h).
 */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "audit.h"
#include "auth.h"
#include "effects.h"
#include "idempotency.h"
#include "log.h"
#include "problem.h"
#include "siaod/date.h"
#include "store.h"
#include "validate.h"


struct sql_call {
	struct req *r;
	int ok_status;
	int flags;
	char *text;        /* the answer, kept (owned) while the inventory refreshes */
	size_t len;
};

char *api_json_param(struct req *r, const json_t *j)
{
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	if (!text)
		req_problem(r, 500, "internal", "cannot encode the request's parameters");
	return text;
}

static void answer_problem(struct req *r, struct problem p)
{
	if (p.retry_after)
		r->retry_after = p.retry_after;
	if (p.denied)
		api_audit_refused(r, "denied", 403);
	if (p.unexpected)
		log_error("sql_error", "rid=%s sqlstate=%s route=%s", r->id, p.sqlstate, r->route_name);
	json_t *errors = p.errors, *extra = p.extra;
	p.errors = p.extra = NULL;   /* handed over to the answer */
	req_problem_full(r, p.status, p.slug, p.detail[0] ? p.detail : NULL, errors, extra);
}

void api_sql_problem(struct req *r, const PGresult *res)
{
	struct problem p;
	problem_from_result(res, &p);
	answer_problem(r, p);
}

void api_sql_problem_fields(struct req *r, const char *sqlstate, const char *message, const char *detail,
			    const char *hint, const char *constraint)
{
	struct problem p;
	problem_from_fields(sqlstate, message, detail, hint, constraint, &p);
	r->idem_stored = false;   /* nothing of it committed */
	answer_problem(r, p);
}

static void sql_reply_send(struct sql_call *c)
{
	struct req *r = c->r;
	const char *text = c->text;
	if (c->flags & (API_ETAG | API_ETAG_OFFER)) {
		json_t *j = json_loads(text, 0, NULL);
		json_t *v = json_object_get(j, "version");
		json_t *fp = json_object_get(j, "free_places");
		const char *on = json_string_value(json_object_get(j, "free_places_on"));
		if (json_is_integer(v) && (c->flags & API_ETAG_OFFER) && json_is_integer(fp) && on)
			api_offer_etag(r->etag, sizeof r->etag, json_integer_value(v), json_integer_value(fp), on);
		else if (json_is_integer(v))
			snprintf(r->etag, sizeof r->etag, "\"%lld\"", (long long)json_integer_value(v));
		json_decref(j);
	}
	req_reply_raw(r, c->ok_status, "application/json", text, c->len);
	free(c->text);
	free(c);
}

static void sql_effects_done(void *arg)
{
	sql_reply_send(arg);
}

/* A write's answer (text, len bytes) is committed: the store clears its
 * result after the callback, so a copy is kept while the write's effects
 * run, then sql_reply_send answers with it. Takes c. */
static void sql_keep_and_affect(struct sql_call *c, const char *text, size_t len)
{
	struct req *r = c->r;
	c->text = malloc(len + 1);
	if (!c->text) {
		free(c);
		req_problem(r, 503, "out-of-memory", "try again");
		return;
	}
	memcpy(c->text, text, len);
	c->text[len] = '\0';
	c->len = len;
	effects_after_commit(r->app, r->effects, c->text, sql_effects_done, c);
}

static void sql_reply_done(void *arg, PGresult *res)
{
	struct sql_call *c = arg;
	struct req *r = c->r;
	if (store_result_failed(res)) {
		free(c);
		r->idem_stored = false;
		api_sql_problem(r, res);
		return;
	}
	if (PQntuples(res) < 1 || PQgetisnull(res, 0, 0)) {
		free(c);
		req_problem(r, 404, "not-found", "no such resource");
		return;
	}
	sql_keep_and_affect(c, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
}

void api_sql_reply(struct req *r, const char *sql, int nparams, const char *const *values,
		   int ok_status, int flags)
{
	struct sql_call *c = calloc(1, sizeof *c);
	if (!c) {
		req_problem(r, 503, "out-of-memory", "try again");
		return;
	}
	c->r = r;
	c->ok_status = ok_status;
	c->flags = flags;
	if (!r->idem_key[0] || nparams > 16) {
		store_query(r->app->store, sql, nparams, values, sql_reply_done, c);
		return;
	}
	/* With an Idempotency-Key, the answer is stored by the same statement,
	 * so in the same transaction as the write: a crash cannot leave an
	 * effect without its answer. The SQL text is built from the constant
	 * statement of the handler and parameter numbers, never from input. */
	char wrapped[1024], token[24], status[8];
	if (!idem_wrap_statement(sql, nparams, wrapped, sizeof wrapped)) {
		free(c);
		req_problem(r, 500, "internal", "statement too long");
		return;
	}
	snprintf(token, sizeof token, "%lld", (long long)auth_principal_key(&r->who));
	snprintf(status, sizeof status, "%d", ok_status);
	const char *all[19];
	for (int i = 0; i < nparams; i++)
		all[i] = values[i];
	all[nparams] = token;
	all[nparams + 1] = r->idem_key;
	all[nparams + 2] = status;
	r->idem_stored = true; /* unless the statement fails: then req_finish stores the error */
	store_query(r->app->store, wrapped, nparams + 3, all, sql_reply_done, c);
}

/* One row (state, status, response) of a statement that claims the
 * Idempotency-Key itself: the write's answer ('new'), or another request's. Takes c. */
static void idem_row(struct sql_call *c, const char *state, const char *status, const char *response,
		     size_t len)
{
	struct req *r = c->r;
	if (strcmp(state, "new") != 0) {
		/* not this request's answer: none is kept for it */
		free(c);
		r->idem_key[0] = '\0';
		r->idem_stored = false;
		if (strcmp(state, "replay") == 0) {
			int code = (int)strtol(status, NULL, 10);
			req_add_header(r, "Idempotent-Replayed", "true");
			req_reply_raw(r, code, code >= 400 ? "application/problem+json" : "application/json",
				      response, len);
		} else if (strcmp(state, "running") == 0) {
			req_problem(r, 409, "idempotency-in-progress",
				    "a request with this Idempotency-Key is still running; retry later");
		} else {
			req_problem(r, 422, "idempotency-key-reused",
				    "this Idempotency-Key was used for another request");
		}
		return;
	}
	/* the write, its answer (when keyed) committed */
	sql_keep_and_affect(c, response, len);
}

/* api_sql_reply_idem: the statement's row is (state, status, response). Takes c. */
static void idem_result(struct sql_call *c, const PGresult *res)
{
	struct req *r = c->r;
	int f_state = PQfnumber(res, "state"), f_status = PQfnumber(res, "status"),
	    f_response = PQfnumber(res, "response");
	if (store_result_failed(res)) {
		free(c);
		r->idem_stored = false;  /* nothing committed: req_finish keeps the problem */
		api_sql_problem(r, res);
		return;
	}
	if (PQntuples(res) != 1 || f_state < 0 || f_status < 0 || f_response < 0) {
		free(c);
		r->idem_stored = false;
		req_problem(r, 500, "internal", "unexpected answer of the database");
		return;
	}
	idem_row(c, PQgetvalue(res, 0, f_state), PQgetvalue(res, 0, f_status), PQgetvalue(res, 0, f_response),
		 (size_t)PQgetlength(res, 0, f_response));
}

static void sql_idem_done(void *arg, PGresult *res)
{
	idem_result(arg, res);
}

bool api_idem_params(struct req *r, char token[24], char hash[AUTH_HASH_PARAM_LEN])
{
	if (!r->idem_key[0])
		return false;
	snprintf(token, 24, "%lld", (long long)auth_principal_key(&r->who));
	auth_hash_param(r->body_hash, hash);
	r->idem_stored = true; /* by the statement, unless it fails */
	return true;
}

static struct sql_call *call_new(struct req *r, int ok_status, int flags)
{
	struct sql_call *c = calloc(1, sizeof *c);
	if (!c) {
		r->idem_stored = false;
		req_problem(r, 503, "out-of-memory", "try again");
		return NULL;
	}
	c->r = r;
	c->ok_status = ok_status;
	c->flags = flags;
	return c;
}

void api_idem_row_reply(struct req *r, const char *state, const char *status, const char *response,
			size_t len, int ok_status, int flags)
{
	struct sql_call *c = call_new(r, ok_status, flags);
	if (c)
		idem_row(c, state, status, response, len);
}

void api_idem_result_reply(struct req *r, const PGresult *res, int ok_status, int flags)
{
	struct sql_call *c = call_new(r, ok_status, flags);
	if (c)
		idem_result(c, res);
}

void api_sql_reply_idem(struct req *r, const char *sql, int nparams, const char *const *values,
			int ok_status, int flags)
{
	struct sql_call *c = calloc(1, sizeof *c);
	const char *all[API_SQL_IDEM_MAX_PARAMS + 3];
	char token[24], hash[AUTH_HASH_PARAM_LEN];
	if (!c || nparams > API_SQL_IDEM_MAX_PARAMS) {
		free(c);
		req_problem(r, 503, "out-of-memory", "try again");
		return;
	}
	c->r = r;
	c->ok_status = ok_status;
	c->flags = flags;
	for (int i = 0; i < nparams; i++)
		all[i] = values[i];
	all[nparams] = all[nparams + 1] = all[nparams + 2] = NULL;
	if (api_idem_params(r, token, hash)) {
		all[nparams] = token;
		all[nparams + 1] = r->idem_key;
		all[nparams + 2] = hash;
	}
	store_query(r->app->store, sql, nparams + 3, all, sql_idem_done, c);
}

/* A created resource whose secret (a token, a webhook secret) the
 * database never sees in clear: added to the answer, shown once, then
 * wiped from memory. */
struct with_secret {
	struct req *r;
	const char *member;
	char secret[128];
};

static void with_secret_done(void *arg, PGresult *res)
{
	struct with_secret *w = arg;
	struct req *r = w->r;
	if (store_result_failed(res)) {
		api_sql_problem(r, res);
	} else {
		json_t *j = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
		if (j)
			json_object_set_new(j, w->member, json_string(w->secret));
		req_reply_json(r, 201, j);
	}
	memset(w->secret, 0, sizeof w->secret);
	free(w);
}

void api_sql_create_with_secret(struct req *r, const char *sql, int nparams, const char *const *values,
				const char *member, const char *secret)
{
	struct with_secret *w = calloc(1, sizeof *w);
	if (!w || strlen(secret) >= sizeof w->secret) {
		free(w);
		req_problem(r, 503, "out-of-memory", "try again");
		return;
	}
	w->r = r;
	w->member = member;
	memcpy(w->secret, secret, strlen(secret) + 1);
	r->idem_redact = member; /* a replay never shows it again */
	store_query(r->app->store, sql, nparams, values, with_secret_done, w);
}

void api_audit_refused(struct req *r, const char *outcome, int status)
{
	if (status == 401) {
		audit_unauthenticated(r->app->audit, r->client, r->id);
		return;
	}
	char actor[600];
	if (r->authenticated)
		snprintf(actor, sizeof actor, "%s", r->actor);
	else
		snprintf(actor, sizeof actor, "{\"request_id\":\"%s\"}", r->id);
	/* The entity is the route's resource: its name up to the first dot. */
	char entity[32] = "";
	if (r->route_index >= 0) {
		snprintf(entity, sizeof entity, "%s", r->route_name);
		char *dot = strchr(entity, '.');
		if (dot)
			*dot = '\0';
	}
	audit_refused(r->app->audit, actor, r->route_index >= 0 ? r->route_name : r->path,
		      entity[0] ? entity : NULL, r->nids > 0 ? r->ids[0] : 0, outcome, status);
}

void api_forbidden(struct req *r, const char *detail)
{
	api_audit_refused(r, "denied", 403);
	req_problem(r, 403, "forbidden", detail);
}

void api_query_error(struct req *r, const char *name, const char *code, const char *detail)
{
	json_t *errors = json_pack("[{s:s, s:s, s:s}]", "parameter", name, "code", code,
				   "detail", detail);
	req_problem_full(r, 400, "invalid-query", detail, errors, NULL);
}

static bool parse_ll(const char *s, long long *out)
{
	if (!*s || strlen(s) > 18)
		return false;
	long long v = 0;
	bool neg = *s == '-';
	if (neg)
		s++;
	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (*s - '0');
	}
	*out = neg ? -v : v;
	return true;
}

bool api_query_int(struct req *r, json_t *f, const char *name, long long min, long long max)
{
	const char *s = req_query(r, name);
	if (!s)
		return true;
	long long v;
	if (!parse_ll(s, &v)) {
		api_query_error(r, name, "wrong_type", "expected an integer");
		return false;
	}
	if (v < min || v > max) {
		char d[96];
		snprintf(d, sizeof d, "must be between %lld and %lld", min, max);
		api_query_error(r, name, "out_of_range", d);
		return false;
	}
	json_object_set_new(f, name, json_integer(v));
	return true;
}

bool api_list_params(struct req *r, json_t *f)
{
	json_object_set_new(f, "limit", json_integer(50));
	if (!api_query_int(r, f, "limit", 1, 200))
		return false;
	const char *c = req_query(r, "cursor");
	long long v;
	if (c && (!parse_ll(c, &v) || v < 0)) {
		api_query_error(r, "cursor", "wrong_type", "use the next_cursor of the previous page");
		return false;
	}
	if (c)
		json_object_set_new(f, "cursor", json_string(c));
	return true;
}

bool api_query_date(struct req *r, json_t *f, const char *name, const char *dflt)
{
	const char *s = req_query(r, name);
	sdate d;
	if (s && !date_parse(s, &d)) {
		api_query_error(r, name, "wrong_type", "expected a date as YYYY-MM-DD");
		return false;
	}
	if (s || dflt)
		json_object_set_new(f, name, json_string(s ? s : dflt));
	return true;
}

bool api_query_enum(struct req *r, json_t *f, const char *name, const char *const *values)
{
	const char *s = req_query(r, name);
	if (!s)
		return true;
	for (const char *const *v = values; *v; v++)
		if (strcmp(*v, s) == 0) {
			json_object_set_new(f, name, json_string(s));
			return true;
		}
	api_query_error(r, name, "unknown_value", "not one of the accepted values");
	return false;
}

bool api_query_departement(struct req *r, json_t *f, const char *name)
{
	const char *s = req_query(r, name);
	if (!s)
		return true;
	if (!validate_departement(s)) {
		api_query_error(r, name, "unknown_value", "expected a département code such as 34 or 2A");
		return false;
	}
	json_object_set_new(f, name, json_string(s));
	return true;
}

/* A plain version tag: digits only. */
static long long plain_version(void *ctx, const char *tag, size_t len)
{
	(void)ctx;
	char buf[24];
	long long v;
	if (len == 0 || len >= sizeof buf)
		return -1;
	memcpy(buf, tag, len);
	buf[len] = '\0';
	return parse_ll(buf, &v) && v >= 0 ? v : -1;
}

int api_if_match(struct req *r, api_tag_fn tag_version, void *ctx, char out[API_IF_MATCH_LEN])
{
	const char *s = req_header(r, "If-Match");
	out[0] = '\0';
	if (!tag_version)
		tag_version = plain_version;
	if (!s)
		return 0;
	const char *p = s;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '*') {
		const char *q = p + 1;
		while (*q == ' ' || *q == '\t')
			q++;
		if (*q == '\0')
			return 0;
	}
	/* #entity-tag: tags between commas and optional white space */
	long long versions[API_IF_MATCH_MAX];
	int n = 0;
	bool malformed = false;
	while (*p && !malformed) {
		if (*p == ' ' || *p == '\t' || *p == ',') {
			p++;
			continue;
		}
		bool weak = strncmp(p, "W/", 2) == 0;
		if (weak)
			p += 2;
		const char *close = *p == '"' ? strchr(p + 1, '"') : NULL;
		if (!close) {
			malformed = true;
			break;
		}
		/* strong comparison: a weak tag matches nothing */
		long long v = weak ? -1 : tag_version(ctx, p + 1, (size_t)(close - p - 1));
		if (v >= 0 && n < API_IF_MATCH_MAX)
			versions[n++] = v;
		p = close + 1;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p && *p != ',')
			malformed = true;
	}
	if (malformed || n == 0) {
		/* An ETag we never issued, or a weak one, cannot match. */
		req_problem(r, 412, "precondition-failed", "If-Match does not name a current version");
		return -2;
	}
	size_t used = 0;
	out[used++] = '{';
	for (int i = 0; i < n; i++)
		used += (size_t)snprintf(out + used, API_IF_MATCH_LEN - used, "%s%lld", i ? "," : "", versions[i]);
	snprintf(out + used, API_IF_MATCH_LEN - used, "}");
	return 1;
}

/* FNV-1a: a stable, fast hash for ETags (not a security property). */
static uint32_t fnv1a(uint32_t h, const char *s)
{
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

void api_offer_etag(char *buf, size_t n, long long version, long long free_places, const char *on)
{
	char shown[64];
	snprintf(shown, sizeof shown, "%lld|%lld|%s", version, free_places, on ? on : "");
	snprintf(buf, n, "\"%lld-%08x\"", version, (unsigned)fnv1a(2166136261u, shown));
}

bool api_validate(struct req *r, const struct vfield *fields, size_t n, bool patch)
{
	if (!r->body) {
		json_t *errors = json_pack("[{s:s, s:s, s:s}]", "pointer", "", "code", "not_an_object",
					   "detail", "send a JSON object");
		req_problem_full(r, 400, "invalid-json", "the request needs a JSON body", errors, NULL);
		return false;
	}
	json_t *errors = validate_object(r->body, fields, n, patch ? V_PATCH : V_CREATE);
	if (!errors)
		return true;
	const char *first = json_string_value(json_object_get(json_array_get(errors, 0), "detail"));
	const char *ptr = json_string_value(json_object_get(json_array_get(errors, 0), "pointer"));
	char detail[300];
	snprintf(detail, sizeof detail, "%s: %s%s", ptr && *ptr ? ptr : "body", first ? first : "invalid",
		 json_array_size(errors) > 1 ? " (and more, see errors)" : "");
	req_problem_full(r, 400, "invalid-field", detail, errors, NULL);
	return false;
}
