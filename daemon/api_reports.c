/*
 * GET /v1/reports/indicators: the figures porteurs report to the DREETS
 * (definitions in sql/007_plans_reports.sql and clients/openapi.yaml), in
 * JSON, or in CSV with Accept: text/csv — UTF-8 with a byte order mark,
 * ';' between fields and decimal commas, which is what a French spreadsheet
 * opens without asking.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>

#include "api.h"
#include "app.h"
#include "siaod/date.h"
#include "store.h"

/* One CSV row per porteur; the columns, in order, with their JSON key. */
static const char *const columns[][2] = {
	{"porteur_id", "porteur_id"}, {"porteur", "name"}, {"departement", "departement"},
	{"objectif_jeunes", "target_youth"}, {"jeunes_accompagnes", "youth_accompanied"},
	{"propositions", "proposals"}, {"acceptees", "accepted"}, {"refusees", "refused"},
	{"en_attente", "pending"}, {"taux_acceptation", "acceptance_rate"},
	{"refus", "refusals"}, {"entrees", "entries"}, {"sorties", "exits"},
	{"sorties_par_destination", "exits_by_destination"}, {"part_logement_durable", "durable_share"},
	{"duree_moyenne_jours", "mean_stay_days"}, {"duree_mediane_jours", "median_stay_days"},
	{"sejours_au_plafond", "stays_to_cap"}, {"jours_places_occupes", "place_days_held"},
	{"jours_places_ouverts", "place_days_capacity"}, {"taux_occupation", "occupancy_rate"},
	{"delai_median_entree_jours", "median_days_to_entry"},
};
#define NCOLUMNS (sizeof columns / sizeof *columns)

/* A field: numbers with a decimal comma, objects as "key: n, key: n",
 * text quoted when it holds a separator or a quote. */
static void csv_field(struct evbuffer *out, const json_t *v)
{
	if (!v || json_is_null(v))
		return;
	if (json_is_integer(v)) {
		evbuffer_add_printf(out, "%lld", (long long)json_integer_value(v));
	} else if (json_is_real(v)) {
		/* the SQL rounds rates to 4 decimals and means to 2: print that
		 * many, without trailing zeros, never in exponent form */
		char num[64];
		snprintf(num, sizeof num, "%.4f", json_real_value(v));
		char *dot = strchr(num, '.');
		if (dot) {
			char *end = num + strlen(num) - 1;
			while (end > dot && *end == '0')
				*end-- = '\0';
			if (end == dot)
				*end = '\0';
			else
				*dot = ',';
		}
		evbuffer_add(out, num, strlen(num));
	} else if (json_is_object(v)) {
		const char *key;
		const json_t *n;
		bool first = true;
		evbuffer_add(out, "\"", 1);
		json_object_foreach((json_t *)v, key, n) {
			evbuffer_add_printf(out, "%s%s: %lld", first ? "" : ", ", key,
					    (long long)json_integer_value(n));
			first = false;
		}
		evbuffer_add(out, "\"", 1);
	} else if (json_is_string(v)) {
		const char *s = json_string_value(v);
		evbuffer_add(out, "\"", 1);
		for (; *s; s++) {
			if (*s == '"')
				evbuffer_add(out, "\"", 1); /* a quote is doubled */
			evbuffer_add(out, s, 1);
		}
		evbuffer_add(out, "\"", 1);
	}
}

static void reply_csv(struct req *r, json_t *report)
{
	struct evbuffer *out = evbuffer_new();
	if (!out) {
		req_problem(r, 503, "out-of-memory", "try again");
		return;
	}
	evbuffer_add(out, "\xEF\xBB\xBF", 3); /* BOM: spreadsheets then read UTF-8 */
	for (size_t c = 0; c < NCOLUMNS; c++)
		evbuffer_add_printf(out, "%s%s", c ? ";" : "", columns[c][0]);
	evbuffer_add(out, "\r\n", 2);
	size_t i;
	const json_t *item;
	json_array_foreach(json_object_get(report, "items"), i, item) {
		for (size_t c = 0; c < NCOLUMNS; c++) {
			if (c)
				evbuffer_add(out, ";", 1);
			csv_field(out, json_object_get(item, columns[c][1]));
		}
		evbuffer_add(out, "\r\n", 2);
	}
	req_reply_buffer(r, 200, "text/csv; charset=utf-8", out);
	evbuffer_free(out);
}

/* Accept names text/csv with a quality above 0 (q=0 means "not this"). */
static bool wants_csv(const char *accept)
{
	const char *t = accept ? strstr(accept, "text/csv") : NULL;
	if (!t)
		return false;
	const char *end = strchr(t, ',');
	const char *q = strstr(t, "q=");
	if (q && (!end || q < end)) {
		double v = strtod(q + 2, NULL);
		return v > 0;
	}
	return true;
}

struct report_call {
	struct req *r;
	bool csv;
};

static void report_done(void *arg, PGresult *res)
{
	struct report_call *c = arg;
	struct req *r = c->r;
	bool csv = c->csv;
	free(c);
	if (store_result_failed(res)) {
		api_sql_problem(r, res);
		return;
	}
	const char *text = PQgetvalue(res, 0, 0);
	if (!csv) {
		req_reply_raw(r, 200, "application/json", text, strlen(text));
		return;
	}
	json_t *report = json_loads(text, 0, NULL);
	reply_csv(r, report);
	json_decref(report);
}

void api_reports_indicators(struct req *r)
{
	json_t *f = json_object();
	sdate today;
	date_parse(r->today, &today);
	char first[11];
	/* default period: the calendar year so far */
	int y, m, d;
	date_to_ymd(today, &y, &m, &d);
	date_format(date_from_ymd(y, 1, 1), first);
	bool ok = api_query_departement(r, f, "departement") &&
		  api_query_int(r, f, "porteur_id", 1, INT64_MAX) &&
		  api_query_date(r, f, "from", first) && api_query_date(r, f, "to", r->today);
	if (ok && strcmp(json_string_value(json_object_get(f, "to")),
			 json_string_value(json_object_get(f, "from"))) < 0) {
		api_query_error(r, "to", "out_of_range", "to is on or after from");
		ok = false;
	}
	struct report_call *c = ok ? malloc(sizeof *c) : NULL;
	if (ok && !c)
		req_problem(r, 503, "out-of-memory", "try again");
	if (c) {
		const char *accept = req_header(r, "Accept");
		c->r = r;
		c->csv = wants_csv(accept);
		char *fs = json_dumps(f, JSON_COMPACT);
		const char *values[2] = {fs, r->actor};
		store_query(r->app->store, "SELECT report_indicators($1::jsonb, $2::jsonb)", 2, values,
			    report_done, c);
		free(fs);
	}
	json_decref(f);
}
