/*
 * Imports: POST /v1/imports?kind=offers|youth&mode=dry_run|apply takes a
 * spreadsheet saved as CSV; GET /v1/imports/template?kind= gives the French
 * headers, pre-filled with the caller's offers so a first import updates
 * them rather than duplicating them.
 *
 * The cells are parsed and typed here (import.c, libcsv: a few milliseconds
 * for 10,000 rows, so on the loop); what needs the database — communes,
 * scope, the records a row updates — is one call of import_offers /
 * import_youth (sql/018_imports_freshness.sql), which also applies a clean
 * file in the same transaction, so an import is all or nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <csv.h>
#include <event2/buffer.h>

#include "api.h"
#include "app.h"
#include "auth.h"
#include "config.h"
#include "import.h"
#include "inventory.h"
#include "inventory_refresh.h"
#include "siaod/date.h"
#include "siaod/match.h"
#include "store.h"
#include "webhooks.h"

struct import_call {
	struct req *r;
	bool apply;
	PGresult *res;
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

static void ids_of(json_t *report, const char *key, int64_t **ids, int *n)
{
	json_t *a = json_object_get(report, key);
	size_t len = json_array_size(a);
	*ids = len ? malloc(len * sizeof **ids) : NULL;
	*n = 0;
	for (size_t i = 0; *ids && i < len; i++)
		(*ids)[(*n)++] = (int64_t)json_integer_value(json_array_get(a, i));
}

static void import_send(struct import_call *c)
{
	struct req *r = c->r;
	const char *text = PQgetvalue(c->res, 0, 0);
	json_t *report = json_loads(text, 0, NULL);
	bool applied = json_is_true(json_object_get(report, "applied"));
	if (c->apply && !applied && report) {
		/* nothing was changed: the same report, as a problem */
		json_t *errors = json_incref(json_object_get(report, "errors"));
		json_object_del(report, "errors");
		req_problem_full(r, 422, "import-invalid",
				 "the file has errors; nothing was imported", errors, report);
	} else {
		req_reply_raw(r, 200, "application/json", text, (size_t)PQgetlength(c->res, 0, 0));
		json_decref(report);
	}
	PQclear(c->res);
	free(c);
}

static void import_refreshed(void *arg, bool ok)
{
	struct import_call *c = arg;
	(void)ok;
	webhooks_refreshed(c->r->app);  /* created offers may have enqueued events */
	import_send(c);
}

static void import_done(void *arg, PGresult *res)
{
	struct import_call *c = arg;
	struct req *r = c->r;
	if (store_result_failed(res)) {
		free(c);
		api_sql_problem(r, res);
		return;
	}
	c->res = PQcopyResult(res, PG_COPYRES_ATTRS | PG_COPYRES_TUPLES);
	if (!c->res) {
		free(c);
		req_problem(r, 503, "out-of-memory", "try again");
		return;
	}
	json_t *report = c->apply ? json_loads(PQgetvalue(res, 0, 0), 0, NULL) : NULL;
	if (!json_is_true(json_object_get(report, "applied"))) {
		json_decref(report);
		import_send(c);
		return;
	}
	/* the answer waits for the inventory, so the next match sees the import */
	int64_t *offers, *youth;
	int noffers, nyouth;
	ids_of(report, "offer_ids", &offers, &noffers);
	ids_of(report, "youth_ids", &youth, &nyouth);
	json_decref(report);
	inventory_refresh(r->app->refresh, offers, noffers, youth, nyouth,
			  import_refreshed, c);
	free(offers);
	free(youth);
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
	/* the rows apart from the rest, so the database reads them once */
	char *rows = NULL;
	json_t *parsed = import_parse(kind, data, len, &rows);
	struct import_call *c = parsed ? calloc(1, sizeof *c) : NULL;
	char *meta = c ? json_dumps(parsed, JSON_COMPACT) : NULL;
	json_decref(parsed);
	if (!meta) {
		free(rows);
		free(c);
		req_problem(r, 503, "out-of-memory", "try again");
		return;
	}
	c->r = r;
	c->apply = mode && strcmp(mode, "apply") == 0;
	/* each kind's default stay cap, as offer_create is given it */
	json_t *caps = json_object();
	for (int k = 0; k < MATCH_KIND_COUNT; k++)
		json_object_set_new(caps, match_kind_codes[k], r->app->cfg.max_stay_days[k] > 0
			? json_integer(r->app->cfg.max_stay_days[k]) : json_null());
	char *cs = json_dumps(caps, JSON_COMPACT);
	json_decref(caps);
	const char *values[6] = {rows, meta, c->apply ? "true" : "false", r->actor, r->today, cs};
	store_query(r->app->store, kind == IMPORT_OFFERS
		    ? "SELECT import_offers($1::json, $2::jsonb, $3::boolean, $4::jsonb, $5::date, $6::jsonb)"
		    : "SELECT import_youth($1::json, $2::jsonb, $3::boolean, $4::jsonb, $5::date, $6::jsonb)",
		    6, values, import_done, c);
	free(rows);
	free(meta);
	free(cs);
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
