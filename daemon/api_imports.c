/*
 * Imports: POST /v1/imports?kind=offers|youth&mode=dry_run|apply takes a
 * spreadsheet saved as CSV; GET /v1/imports/template?kind= gives the French
 * headers, pre-filled with the caller's offers so a first import updates
 * them rather than duplicating them.
 *
 * The cells are parsed and typed by import.c (libcsv) — in a worker thread
 * for anything but a small body — into one array per column; what needs the
 * database — communes, scope, the records a row updates — is one call of
 * import_offers / import_youth (sql/functions/imports.sql), which also
 * applies a clean file in the same transaction, so an import is all or
 * nothing, and records the run (GET /v1/imports).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <csv.h>
#include <event2/buffer.h>

#include "api.h"
#include "app.h"
#include "auth.h"
#include "config.h"
#include "import.h"
#include "inventory.h"
#include "inventory_refresh.h"
#include "log.h"
#include "plan_jobs.h"
#include "siaod/date.h"
#include "siaod/match.h"
#include "store.h"
#include "webhooks.h"

/* Bodies up to this size are parsed on the loop (well under a millisecond);
 * a larger one goes to the import thread (app->imports, plan_jobs.c, at
 * normal priority): 10,000 rows (1.3 MB) take ~30 ms to parse, a 16 MiB
 * body about half a second, which the loop must not spend. */
#define IMPORT_INLINE_BYTES ((size_t)64 * 1024)

struct import_call {
	struct plan_job job;        /* first: a plan_job * is an import_call * */
	struct req *r;
	enum import_kind kind;
	bool apply;
	const char *data;           /* the body: the request keeps it until answered */
	size_t len;
	struct import_parsed parsed;
	bool parsed_ok;
	double parse_ms;
};

/* What a spreadsheet program sends for a .csv file. */
static bool csv_media_type(const char *ct)
{
	static const char *const ok[] = {"text/csv", "text/plain", "application/csv",
					 "application/vnd.ms-excel"};
	if (!ct)
		return false;
	for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
		size_t n = strlen(ok[i]);
		if (strncasecmp(ct, ok[i], n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' '))
			return true;
	}
	return false;
}

static void call_free(struct import_call *c)
{
	import_parsed_free(&c->parsed);
	free(c);
}

/* "{1,2,3}" (a bigint[] as PostgreSQL writes it) into ids; *n of them. */
static int64_t *ids_of(const char *text, int *n)
{
	size_t cap = 1;
	for (const char *s = text; *s; s++)
		cap += *s == ',';
	int64_t *ids = malloc(cap * sizeof *ids);
	*n = 0;
	for (const char *s = text; ids && *s; ) {
		char *end;
		long long v = strtoll(s, &end, 10);
		if (end != s) {
			ids[(*n)++] = v;
			s = end;
		} else {
			s++;
		}
	}
	return ids;
}

/* import_offers' / import_youth's columns, by name (sql/functions/imports.sql):
 * the report (json text), whether it was applied, the ids it changed. */
static const char *col_text(const PGresult *res, const char *name)
{
	int f = PQfnumber(res, name);
	return f >= 0 ? PQgetvalue(res, 0, f) : "";
}

static bool col_applied(const PGresult *res)
{
	return strcmp(col_text(res, "out_applied"), "t") == 0;
}

static void import_send(struct import_call *c, PGresult *res)
{
	struct req *r = c->r;
	const char *text = col_text(res, "out_report");
	bool applied = col_applied(res);
	if (c->apply && !applied) {
		/* nothing was changed: the same report, as a problem */
		json_t *report = json_loads(text, 0, NULL);
		json_t *errors = json_incref(json_object_get(report, "errors"));
		json_object_del(report, "errors");
		req_problem_full(r, 422, "import-invalid",
				 "the file has errors; nothing was imported", errors, report);
	} else {
		/* the report as PostgreSQL wrote it: no parse here, whatever its size */
		req_reply_raw(r, 200, "application/json", text, strlen(text));
	}
}

struct import_done_state {
	struct import_call *c;
	PGresult *res;
};

static void import_refreshed(void *arg, bool ok)
{
	struct import_done_state *d = arg;
	(void)ok;
	webhooks_refreshed(d->c->r->app);  /* created offers may have enqueued events */
	import_send(d->c, d->res);
	PQclear(d->res);
	call_free(d->c);
	free(d);
}

static void import_done(void *arg, PGresult *res)
{
	struct import_call *c = arg;
	struct req *r = c->r;
	if (store_result_failed(res)) {
		call_free(c);
		api_sql_problem(r, res);
		return;
	}
	if (!col_applied(res)) {
		import_send(c, res);
		call_free(c);
		return;
	}
	/* the answer waits for the inventory, so the next match sees the import */
	struct import_done_state *d = malloc(sizeof *d);
	PGresult *copy = d ? PQcopyResult(res, PG_COPYRES_ATTRS | PG_COPYRES_TUPLES) : NULL;
	int n = 0;
	int64_t *ids = copy ? ids_of(col_text(res, "out_changed"), &n) : NULL;
	if (!ids) {
		/* committed already: answer without waiting for the refresh */
		free(d);
		PQclear(copy);
		import_send(c, res);
		call_free(c);
		return;
	}
	d->c = c;
	d->res = copy;
	if (c->kind == IMPORT_OFFERS)
		inventory_refresh(r->app->refresh, ids, n, NULL, 0, import_refreshed, d);
	else
		inventory_refresh(r->app->refresh, NULL, 0, ids, n, import_refreshed, d);
	free(ids);
}

/* On the loop, once the file is parsed: one call of the SQL function. */
static void import_query(struct import_call *c)
{
	struct req *r = c->r;
	if (!c->parsed_ok) {
		call_free(c);
		req_problem(r, 503, "out-of-memory", "try again");
		return;
	}
	log_debug("import_parse", "rows=%zu bytes=%zu ms=%.1f", c->parsed.nrows, c->len, c->parse_ms);
	/* each kind's default stay cap, as offer_create is given it */
	json_t *caps = json_object();
	for (int k = 0; k < MATCH_KIND_COUNT; k++)
		json_object_set_new(caps, match_kind_codes[k], r->app->cfg.max_stay_days[k] > 0
			? json_integer(r->app->cfg.max_stay_days[k]) : json_null());
	char *cs = json_dumps(caps, JSON_COMPACT);
	json_decref(caps);
	/* $1..$6, then the columns as VARIADIC text: PostgreSQL reads each one
	 * as a typed array (import_offers / import_youth) */
	const char *values[7 + IMPORT_MAX_COLS];
	char sql[512];
	int used = snprintf(sql, sizeof sql, "%s", c->kind == IMPORT_OFFERS
		? "SELECT * FROM import_offers($1::jsonb, $2::jsonb, $3::boolean, $4::jsonb, $5::date, $6::jsonb"
		: "SELECT * FROM import_youth($1::jsonb, $2::jsonb, $3::boolean, $4::jsonb, $5::date, $6::jsonb");
	values[0] = c->parsed.meta;
	values[1] = c->parsed.errors;
	values[2] = c->apply ? "true" : "false";
	values[3] = r->actor;
	values[4] = r->today;
	values[5] = cs;
	int np = 6;
	for (size_t i = 0; i < c->parsed.ncols && used > 0 && (size_t)used < sizeof sql; i++) {
		values[np++] = c->parsed.cols[i];
		used += snprintf(sql + used, sizeof sql - (size_t)used, ", $%d", np);
	}
	if (used > 0 && (size_t)used + 2 < sizeof sql)
		memcpy(sql + used, ")", 2);
	/* a large apply may take longer than the pool's 15 s: its own timeout */
	store_query_timeout(r->app->store, sql, np, values, r->app->cfg.import_statement_timeout_ms,
			    import_done, c);
	free(cs);
}

static void parse_run(struct plan_job *job)
{
	struct import_call *c = (struct import_call *)job;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	c->parsed_ok = import_parse(c->kind, c->data, c->len, &c->parsed);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	c->parse_ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
}

static void parse_done(struct plan_job *job)
{
	struct import_call *c = (struct import_call *)job;
	if (job->cancelled) {     /* shutting down */
		struct req *r = c->r;
		call_free(c);
		req_problem(r, 503, "unavailable", "the service is stopping; try again");
		return;
	}
	import_query(c);
}

void api_imports(struct req *r)
{
	enum import_kind kind;
	const char *ks = req_query(r, "kind"), *mode = req_query(r, "mode");
	if (!ks) {
		api_query_error(r, "kind", "required", "kind=offers or kind=youth");
		return;
	}
	if (!import_kind_parse(ks, &kind)) {
		api_query_error(r, "kind", "unknown_value", "kind=offers or kind=youth");
		return;
	}
	if (mode && strcmp(mode, "dry_run") != 0 && strcmp(mode, "apply") != 0) {
		api_query_error(r, "mode", "unknown_value", "mode=dry_run (the default) or mode=apply");
		return;
	}
	/* the API's scopes: offers are a porteur's, young people a referent's */
	if ((kind == IMPORT_OFFERS && r->who.role == ROLE_REFERENT) ||
	    (kind == IMPORT_YOUTH && r->who.role == ROLE_PORTEUR)) {
		api_forbidden(r, kind == IMPORT_OFFERS ? "only a porteur (or an admin) imports offers"
						       : "only a referent (or an admin) imports young people");
		return;
	}
	if (!csv_media_type(req_header(r, "Content-Type"))) {
		req_problem(r, 415, "unsupported-media-type", "send the file as text/csv");
		return;
	}
	size_t len;
	const char *data = req_raw_body(r, &len);
	if (len == 0) {
		req_field_error(r, "", "required", "the body is the CSV file");
		return;
	}
	struct import_call *c = calloc(1, sizeof *c);
	if (!c) {
		req_problem(r, 503, "out-of-memory", "try again");
		return;
	}
	c->r = r;
	c->kind = kind;
	c->apply = mode && strcmp(mode, "apply") == 0;
	c->data = data;
	c->len = len;
	c->job.run = parse_run;
	c->job.done = parse_done;
	if (len <= IMPORT_INLINE_BYTES) {
		parse_run(&c->job);
		import_query(c);
		return;
	}
	/* The import thread, at normal priority (someone waits for the parse,
	 * and a plan computing for minutes must not hold it up); started by the
	 * first large file, so a daemon that never imports spends no descriptor
	 * (eventfd) on it. */
	if (!r->app->imports)
		r->app->imports = plan_jobs_new_nice(r->app->base, 1, IMPORT_QUEUE_MAX, 0);
	if (!r->app->imports || plan_jobs_submit(r->app->imports, &c->job) != 0) {
		free(c);
		r->retry_after = 2;
		req_problem(r, 429, "workers-busy", "the import thread is busy and its queue is full; try again later");
	}
}

/* ---------------------------------------------------------------- past runs */

/* GET /v1/imports: the runs the caller may see (import_run_visible), newest
 * first, without their rows. */
void api_imports_list(struct req *r)
{
	static const char *const kinds[] = {"offers", "youth", NULL};
	json_t *f = json_object();
	if (api_list_params(r, f) && api_query_enum(r, f, "kind", kinds)) {
		char *fs = api_json_param(r, f);
		const char *values[2] = {fs, r->actor};
		if (fs)
			api_sql_reply(r, "SELECT import_runs_list($1::jsonb, $2::jsonb)", 2, values, 200, 0);
		free(fs);
	}
	json_decref(f);
}

/* GET /v1/imports/{id}: one run with each row's outcome and every error. */
void api_imports_get(struct req *r)
{
	char id[24];
	snprintf(id, sizeof id, "%lld", (long long)r->ids[0]);
	const char *values[2] = {id, r->actor};
	api_sql_reply(r, "SELECT import_run_get($1::bigint, $2::jsonb)", 2, values, 200, 0);
}

/* ---------------------------------------------------------------- template */

static void cell_text(struct evbuffer *out, const char *s)
{
	/* quoted by libcsv: a ';' or a quote in a label stays one cell */
	size_t n = strlen(s);
	char *q = malloc(2 * n + 3);
	if (!q)
		return;
	size_t w = csv_write(q, 2 * n + 3, s, n);
	evbuffer_add(out, q, w);
	free(q);
}

static void cell_day(struct evbuffer *out, sdate d)
{
	if (d == DATE_NONE)
		return;
	int y, m, day;
	date_to_ymd(d, &y, &m, &day);
	evbuffer_add_printf(out, "%02d/%02d/%04d", day, m, y);
}

static const char *yes_no(bool b)
{
	return b ? "oui" : "non";
}

static int cmp_offer(const void *a, const void *b)
{
	int64_t x = (*(const struct match_offer *const *)a)->id;
	int64_t y = (*(const struct match_offer *const *)b)->id;
	return x < y ? -1 : x > y;
}

/* One row per offer in the template's column order (import.c). */
static void offer_row(struct evbuffer *out, const struct inv_offer *o)
{
	static const char *const genders[] = {"mixte", "femmes", "hommes"};
	static const char *const levels[] = {"léger", "standard", "intensif"};
	const struct match_offer *m = &o->m;
	char charge[32];
	snprintf(charge, sizeof charge, "%.2f", m->monthly_charge_eur);
	char *dot = strchr(charge, '.');
	if (dot)
		*dot = ',';
	evbuffer_add_printf(out, "%lld;", (long long)m->id);
	if (o->external_ref)
		cell_text(out, o->external_ref);
	evbuffer_add_printf(out, ";%lld;%s;", (long long)m->porteur_id, match_kind_code(m->kind));
	cell_text(out, o->label ? o->label : "");
	evbuffer_add_printf(out, ";%s;%s;%d;", o->commune_insee, o->departement, m->capacity);
	if (m->max_stay_days > 0)
		evbuffer_add_printf(out, "%d", m->max_stay_days);
	evbuffer_add_printf(out, ";%d;%d;%s;%s;%s;%s;%s;%s;%s;", m->min_age, m->max_age,
			    genders[m->gender], yes_no(m->accepts_couples), yes_no(m->accepts_children),
			    yes_no(m->accepts_pets), yes_no(m->wheelchair_accessible),
			    levels[m->support_level], charge);
	cell_day(out, m->available_from);
	evbuffer_add(out, ";", 1);
	cell_day(out, m->available_until);
	evbuffer_add_printf(out, ";%s\r\n", m->open ? "ouverte" : "fermée");
}

void api_imports_template(struct req *r)
{
	enum import_kind kind;
	const char *ks = req_query(r, "kind");
	if (!ks || !import_kind_parse(ks, &kind)) {
		api_query_error(r, "kind", ks ? "unknown_value" : "required", "kind=offers or kind=youth");
		return;
	}
	struct evbuffer *out = evbuffer_new();
	if (!out) {
		req_problem(r, 503, "out-of-memory", "try again");
		return;
	}
	char header[1024];
	import_header_line(kind, header, sizeof header);
	evbuffer_add(out, "\xEF\xBB\xBF", 3);   /* so a spreadsheet reads UTF-8 */
	evbuffer_add_printf(out, "%s\r\n", header);
	/* Pre-filled with the offers the caller may import: a porteur's own, or
	 * for an admin those of ?porteur_id= (none without it). Young people are
	 * never written out: the waiting list is the referent's own file. */
	int64_t porteur = r->who.role == ROLE_PORTEUR ? r->who.porteur_id : 0;
	const char *ps = req_query(r, "porteur_id");
	if (r->who.role == ROLE_ADMIN && ps)
		porteur = strtoll(ps, NULL, 10);
	if (kind == IMPORT_OFFERS && porteur > 0) {
		size_t n = inventory_all_offers(r->app->inv, NULL, 0);
		const struct match_offer **all = malloc((n + 1) * sizeof *all);
		if (all) {
			n = inventory_all_offers(r->app->inv, all, n);
			qsort(all, n, sizeof *all, cmp_offer);
			for (size_t i = 0; i < n; i++)
				if (all[i]->porteur_id == porteur)
					offer_row(out, (const struct inv_offer *)all[i]);
			free(all);
		}
	}
	req_add_header(r, "Content-Disposition",
			  kind == IMPORT_OFFERS ? "attachment; filename=\"modele_offres.csv\""
						: "attachment; filename=\"modele_jeunes.csv\"");
	req_reply_buffer(r, 200, "text/csv; charset=utf-8", out);
	evbuffer_free(out);
}
