/*
 * Helpers shared by the route handlers (see api.h).
 */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "inventory.h"
#include "inventory_refresh.h"
#include "scheduler.h"
#include "webhooks.h"
#include "log.h"
#include "routes.h"
#include "siaod/date.h"
#include "store.h"
#include "validate.h"

const char *const api_kinds[] = {"iml", "alt", "studio_tiroir", "fjt", "shared_flat", NULL};

struct sql_call {
	struct req *r;
	int ok_status;
	int flags;
	PGresult *res;     /* kept while the inventory refreshes */
};

/* Constraint names ck_<table>__<field>[__why] carry the JSON pointer. */
static void check_violation(struct req *r, const char *constraint)
{
	char ptr[96] = "";
	const char *sep = constraint ? strstr(constraint, "__") : NULL;
	if (sep) {
		const char *end = strstr(sep + 2, "__");
		size_t n = end ? (size_t)(end - sep - 2) : strlen(sep + 2);
		snprintf(ptr, sizeof ptr, "/%.*s", (int)n, sep + 2);
	}
	char detail[160];
	snprintf(detail, sizeof detail, "the value breaks the rule %s", constraint ? constraint : "?");
	req_field_error(r, ptr, "out_of_range", detail);
}

void api_sql_problem(struct req *r, const PGresult *res)
{
	if (!res) {
		r->retry_after = 2;
		req_problem(r, 503, "database-unavailable", "the database cannot be reached; try again");
		return;
	}
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
	if (!state)
		state = "XX000";
	if (strncmp(state, "SI", 2) == 0) {
		int status = atoi(state + 2);
		const char *hint = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT);
		json_t *extra = hint && *hint ? json_loads(hint, 0, NULL) : NULL;
		json_t *errors = extra ? json_incref(json_object_get(extra, "errors")) : NULL;
		if (extra)
			json_object_del(extra, "errors");
		if (status == 403)
			api_audit_refused(r, "denied", 403);
		req_problem_full(r, status, msg ? msg : "error", detail, errors, extra);
		return;
	}
	if (strcmp(state, "23514") == 0) {
		check_violation(r, PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME));
		return;
	}
	if (strcmp(state, "23505") == 0 || strcmp(state, "23P01") == 0 || strcmp(state, "40001") == 0) {
		req_problem(r, 409, "conflict", "this conflicts with the current state; reload and retry");
		return;
	}
	if (strcmp(state, "57014") == 0 || strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0) {
		r->retry_after = 2;
		req_problem(r, 503, "database-unavailable", "the database did not answer in time");
		return;
	}
	if (strncmp(state, "22", 2) == 0) {
		req_problem(r, 400, "invalid-field", "a value is out of range");
		return;
	}
	log_error("sql_error", "rid=%s sqlstate=%s route=%s", r->id, state, r->route ? r->route->name : "-");
	req_problem(r, 500, "internal", "unexpected database error");
}

static void sql_reply_send(struct sql_call *c)
{
	struct req *r = c->r;
	const char *text = PQgetvalue(c->res, 0, 0);
	if (c->flags & API_ETAG) {
		json_t *j = json_loads(text, 0, NULL);
		json_t *v = json_object_get(j, "version");
		if (json_is_integer(v))
			snprintf(r->etag, sizeof r->etag, "\"%lld\"", (long long)json_integer_value(v));
		json_decref(j);
	}
	req_reply_raw(r, c->ok_status, "application/json", text, (size_t)PQgetlength(c->res, 0, 0));
	PQclear(c->res);
	free(c);
}

static void sql_refreshed(void *arg, bool ok)
{
	struct sql_call *c = arg;
	/* the write may have enqueued events (triggers on offers and placements) */
	webhooks_kick(c->r->app);
	if (c->flags & API_SCAN_ALERTS)
		scheduler_scan_alerts(c->r->app);
	sql_reply_send(c);
}

static int64_t json_id(const json_t *j, const char *key)
{
	const json_t *v = json_object_get(j, key);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
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
	/* The store clears res after this callback: keep a copy while the
	 * inventory refresh runs. */
	c->res = PQcopyResult(res, PG_COPYRES_ATTRS | PG_COPYRES_TUPLES);
	if (!c->res) {
		free(c);
		req_problem(r, 503, "out-of-memory", "try again");
		return;
	}
	int64_t offers[16], youth[1];
	int noffers = 0, nyouth = 0;
	if (c->flags & (API_REFRESH_OFFER | API_REFRESH_YOUTH | API_REFRESH_PLACEMENT)) {
		json_t *j = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
		/* a write that touched other offers lists them */
		size_t k;
		json_t *v;
		json_array_foreach(json_object_get(j, "freed_offers"), k, v)
			if (json_is_integer(v) && noffers < 14)
				offers[noffers++] = json_integer_value(v);
		if (c->flags & API_REFRESH_OFFER)
			offers[noffers++] = json_id(j, "id");
		if (c->flags & API_REFRESH_YOUTH)
			youth[nyouth++] = json_id(j, "id");
		if (c->flags & API_REFRESH_PLACEMENT) {
			offers[noffers++] = json_id(j, "offer_id");
			youth[nyouth++] = json_id(j, "youth_id");
		}
		json_decref(j);
	}
	if (noffers + nyouth == 0) {
		sql_reply_send(c);
		return;
	}
	inventory_refresh(r->app->refresh, offers, noffers, youth, nyouth, sql_refreshed, c);
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
	snprintf(wrapped, sizeof wrapped, "SELECT idem_store($%d::bigint, $%d, $%d::integer, (%s))",
		 nparams + 1, nparams + 2, nparams + 3, sql);
	snprintf(token, sizeof token, "%lld", (long long)r->who.token_id);
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

static void audit_done(void *arg, PGresult *res)
{
	if (store_result_failed(res))
		log_warn("audit_lost", "reason=%s", res ? "sql_error" : "database_unavailable");
}

void api_audit_refused(struct req *r, const char *outcome, int status)
{
	char st[8], eid[24] = "";
	snprintf(st, sizeof st, "%d", status);
	if (r->nids > 0)
		snprintf(eid, sizeof eid, "%lld", (long long)r->ids[0]);
	char actor[600];
	if (r->authenticated)
		snprintf(actor, sizeof actor, "%s", r->actor);
	else
		snprintf(actor, sizeof actor, "{\"request_id\":\"%s\"}", r->id);
	const char *values[6] = {actor, r->route ? r->route->name : r->path,
				 r->route ? r->route->name : NULL, eid[0] ? eid : NULL, outcome, st};
	/* The entity is the route's resource: its name up to the first dot. */
	char entity[32];
	if (r->route) {
		snprintf(entity, sizeof entity, "%s", r->route->name);
		char *dot = strchr(entity, '.');
		if (dot)
			*dot = '\0';
		values[2] = entity;
	}
	store_query(r->app->store,
		    "SELECT audit_write($1::jsonb, $2, $3, $4::bigint, $5, $6::integer)",
		    6, values, audit_done, NULL);
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

long long api_if_match(struct req *r)
{
	const char *s = req_header(r, "If-Match");
	if (!s || strcmp(s, "*") == 0)
		return -1;
	if (strncmp(s, "W/", 2) == 0)
		s += 2;
	char buf[24];
	size_t n = strlen(s);
	long long v;
	if (n >= 3 && n < sizeof buf && s[0] == '"' && s[n - 1] == '"') {
		memcpy(buf, s + 1, n - 2);
		buf[n - 2] = '\0';
		if (parse_ll(buf, &v) && v >= 0)
			return v;
	}
	/* An ETag we never issued cannot match. */
	req_problem(r, 412, "precondition-failed", "If-Match does not name a current version");
	return -2;
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
