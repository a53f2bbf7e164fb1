/*
 * GET /v1/reports/indicators: the figures porteurs report to the DREETS
 * (definitions in sql/007_plans_reports.sql and clients/openapi.yaml), in
 * JSON, or in CSV with Accept: text/csv — UTF-8 with a byte order mark,
 * ';' between fields and decimal commas, which is what a French spreadsheet
 * opens without asking — or as an XLSX workbook (Accept: XLSX_TYPE), where
 * every cell has its type: a département stays the text "09" (a spreadsheet
 * reads the CSV's 09 as the number 9), figures are numbers, the period's days
 * are dates, and a porteur's name is a string cell, never a formula.
 *
 * CSV injection (OWASP): a text cell that starts with =, +, -, @, a tab or a
 * carriage return is written with a leading single quote, so no spreadsheet
 * reads it as a formula. Numeric columns are left alone: they come from JSON
 * numbers, a spreadsheet reads "-3" as the number -3 (what it is), and a
 * quote would turn a figure into text.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <xlsxwriter.h>

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
	{"refus_par_le_jeune", "refusals_by_side/youth"}, {"refus_par_le_porteur", "refusals_by_side/porteur"},
	{"delai_median_reponse_heures", "median_hours_to_answer"}, {"offres_ouvertes", "offers_open"},
	{"offres_confirmees_a_temps", "offers_confirmed_in_time"},
	{"part_confirmees_a_temps", "confirmed_in_time_share"},
};
#define NCOLUMNS (sizeof columns / sizeof *columns)
/* the XLSX loops count columns in lxw_col_t (16 bits) */
_Static_assert(NCOLUMNS + 2 < 1000, "more columns than a worksheet row takes here");

/* A column's value: "a/b" is member b of object a. */
static const json_t *column_value(const json_t *item, const char *key)
{
	const char *slash = strchr(key, '/');
	if (!slash)
		return json_object_get(item, key);
	char outer[64];
	snprintf(outer, sizeof outer, "%.*s", (int)(slash - key), key);
	return json_object_get(json_object_get(item, outer), slash + 1);
}

#define XLSX_TYPE "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

/* A text cell a spreadsheet would read as a formula (or a DDE call). */
static bool csv_dangerous(const char *s)
{
	return *s && strchr("=+-@\t\r", *s) != NULL;
}

/* Text quoted, a quote doubled, a dangerous start neutralised. */
static void csv_text(struct evbuffer *out, const char *s)
{
	evbuffer_add(out, "\"", 1);
	if (csv_dangerous(s))
		evbuffer_add(out, "'", 1);
	for (; *s; s++) {
		if (*s == '"')
			evbuffer_add(out, "\"", 1); /* a quote is doubled */
		evbuffer_add(out, s, 1);
	}
	evbuffer_add(out, "\"", 1);
}

/* exits_by_destination as "key: n, key: n" (in a buffer the caller frees). */
static char *object_text(const json_t *v)
{
	struct evbuffer *b = evbuffer_new();
	char *text = NULL;
	if (!b)
		return NULL;
	const char *key;
	const json_t *n;
	bool first = true;
	json_object_foreach((json_t *)v, key, n) {
		evbuffer_add_printf(b, "%s%s: %lld", first ? "" : ", ", key, (long long)json_integer_value(n));
		first = false;
	}
	size_t len = evbuffer_get_length(b);
	text = malloc(len + 1);
	if (text) {
		evbuffer_remove(b, text, len);
		text[len] = '\0';
	}
	evbuffer_free(b);
	return text;
}

/* A field: numbers with a decimal comma, objects as "key: n, key: n", text
 * always quoted (see csv_text). */
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
		char *text = object_text(v);
		csv_text(out, text ? text : "");
		free(text);
	} else if (json_is_string(v)) {
		csv_text(out, json_string_value(v));
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
			csv_field(out, column_value(item, columns[c][1]));
		}
		evbuffer_add(out, "\r\n", 2);
	}
	req_reply_buffer(r, 200, "text/csv; charset=utf-8", out);
	evbuffer_free(out);
}

/* The quality Accept gives a media type: -1 when it is not named, else its
 * q (1 without one; q=0 means "not this"). */
static double accept_quality(const char *accept, const char *type)
{
	size_t tlen = strlen(type);
	for (const char *t = accept; t && (t = strstr(t, type)) != NULL; t += tlen) {
		/* the whole media range, not a prefix of a longer one */
		if ((t != accept && t[-1] != ',' && t[-1] != ' ') ||
		    (t[tlen] && t[tlen] != ';' && t[tlen] != ',' && t[tlen] != ' '))
			continue;
		const char *end = strchr(t, ',');
		const char *q = strstr(t, "q=");
		if (q && (!end || q < end))
			return strtod(q + 2, NULL);
		return 1;
	}
	return -1;
}

enum report_format { REPORT_JSON, REPORT_CSV, REPORT_XLSX };

/* XLSX or CSV when Accept names them with a quality above 0 (the better
 * quality of the two wins, XLSX on a tie); JSON otherwise. */
static enum report_format report_format(const char *accept)
{
	double xlsx = accept_quality(accept, XLSX_TYPE), csv = accept_quality(accept, "text/csv");
	if (xlsx > 0 && xlsx >= csv)
		return REPORT_XLSX;
	return csv > 0 ? REPORT_CSV : REPORT_JSON;
}

/* "YYYY-MM-DD" as a spreadsheet date (time 00:00). */
static bool xlsx_date(const char *iso, lxw_datetime *dt)
{
	sdate day;
	memset(dt, 0, sizeof *dt);
	if (!iso || !date_parse(iso, &day))
		return false;
	date_to_ymd(day, &dt->year, &dt->month, &dt->day);
	return true;
}

/* The rates are fractions (0.25 = 25 %): shown as percentages, kept as numbers. */
static bool is_rate(const char *key)
{
	return strcmp(key, "acceptance_rate") == 0 || strcmp(key, "durable_share") == 0 ||
	       strcmp(key, "occupancy_rate") == 0;
}

/* Writes the workbook to path (in dir, private); 0 when done. The columns are
 * the CSV's, then the period's first and last day (dates). A text cell is
 * written with worksheet_write_string, which libxlsxwriter stores as a string,
 * never as a formula: no neutralising quote needed in XLSX. */
static int write_xlsx(const char *path, const char *dir, json_t *report)
{
	lxw_workbook_options opts = {.constant_memory = LXW_FALSE, .tmpdir = (char *)dir};
	lxw_workbook *wb = workbook_new_opt(path, &opts);
	if (!wb)
		return -1;
	lxw_worksheet *ws = workbook_add_worksheet(wb, "indicateurs");
	lxw_format *bold = workbook_add_format(wb);
	lxw_format *pct = workbook_add_format(wb);
	lxw_format *day = workbook_add_format(wb);
	if (!ws || !bold || !pct || !day) {
		workbook_close(wb);
		return -1;
	}
	format_set_bold(bold);
	format_set_num_format(pct, "0.0%");
	format_set_num_format(day, "dd/mm/yyyy");
	lxw_col_t c;
	for (c = 0; c < (lxw_col_t)NCOLUMNS; c++)
		worksheet_write_string(ws, 0, c, columns[c][0], bold);
	worksheet_write_string(ws, 0, c, "debut_periode", bold);
	worksheet_write_string(ws, 0, c + 1, "fin_periode", bold);
	worksheet_set_column(ws, 1, 1, 40, NULL);   /* the porteur's name */
	worksheet_set_column(ws, c, c + 1, 12, NULL);

	lxw_datetime from, to;
	bool have_from = xlsx_date(json_string_value(json_object_get(report, "from")), &from);
	bool have_to = xlsx_date(json_string_value(json_object_get(report, "to")), &to);
	size_t i;
	const json_t *item;
	json_array_foreach(json_object_get(report, "items"), i, item) {
		lxw_row_t row = (lxw_row_t)(i + 1);
		for (c = 0; c < (lxw_col_t)NCOLUMNS; c++) {
			const json_t *v = column_value(item, columns[c][1]);
			if (json_is_number(v)) {
				worksheet_write_number(ws, row, c, json_number_value(v),
						       is_rate(columns[c][1]) ? pct : NULL);
			} else if (json_is_string(v)) {
				worksheet_write_string(ws, row, c, json_string_value(v), NULL);
			} else if (json_is_object(v)) {
				char *text = object_text(v);
				if (text)
					worksheet_write_string(ws, row, c, text, NULL);
				free(text);
			} /* null: an empty cell */
		}
		if (have_from)
			worksheet_write_datetime(ws, row, c, &from, day);
		if (have_to)
			worksheet_write_datetime(ws, row, c + 1, &to, day);
	}
	return workbook_close(wb) == LXW_NO_ERROR ? 0 : -1;
}

/* The workbook in a private directory (mkdtemp: mode 0700, a fresh name), read
 * back into out, then deleted with its directory whatever happened.
 * libxlsxwriter 1.1.4 writes to a file only (memory output came in 1.1.5).
 * This is blocking work on the event loop: a small file (a few kilobytes, one
 * row per porteur) but a zip of a dozen XML parts, measured with
 * tests/bench/xlsx_bench.c (-O2, a shared 2-core machine at load 16): 22 ms
 * for 17 rows, 51 ms for 200, 107 ms for 1000. Acceptable for a report asked
 * for a few times a month; the daemon has no worker thread yet: when it has
 * one (issue 12), this write belongs there. */
static int xlsx_to_buffer(json_t *report, struct evbuffer *out)
{
	char dir[] = "/tmp/siaod-xlsx-XXXXXX";
	char path[sizeof dir + 32];
	int rc = -1, fd = -1;
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof path, "%s/indicateurs.xlsx", dir);
	if (write_xlsx(path, dir, report) != 0)
		goto out;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		goto out;
	for (;;) {
		int n = evbuffer_read(out, fd, 65536);
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto out;
		}
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	unlink(path);   /* the library's own temporary files are unlinked by it */
	rmdir(dir);
	return rc;
}

static void reply_xlsx(struct req *r, json_t *report)
{
	struct evbuffer *out = evbuffer_new();
	if (!out || xlsx_to_buffer(report, out) != 0) {
		if (out)
			evbuffer_free(out);
		req_problem(r, 503, "unavailable", "the spreadsheet could not be written: try again");
		return;
	}
	req_reply_buffer(r, 200, XLSX_TYPE, out);
	evbuffer_free(out);
}

struct report_call {
	struct req *r;
	enum report_format format;
};

static void report_done(void *arg, PGresult *res)
{
	struct report_call *c = arg;
	struct req *r = c->r;
	enum report_format format = c->format;
	free(c);
	if (store_result_failed(res)) {
		api_sql_problem(r, res);
		return;
	}
	const char *text = PQgetvalue(res, 0, 0);
	if (format == REPORT_JSON) {
		req_reply_raw(r, 200, "application/json", text, strlen(text));
		return;
	}
	json_t *report = json_loads(text, 0, NULL);
	if (format == REPORT_XLSX)
		reply_xlsx(r, report);
	else
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
		c->format = report_format(accept);
		/* freshness is counted on today, with the configured delay */
		json_object_set_new(f, "today", json_string(r->today));
		json_object_set_new(f, "reconfirm_days", json_integer(r->app->cfg.reconfirm_days));
		char *fs = api_json_param(r, f);
		const char *values[2] = {fs, r->actor};
		if (fs)
			store_query(r->app->store, "SELECT report_indicators($1::jsonb, $2::jsonb)", 2, values,
				    report_done, c);
		else
			free(c); /* answered: 500 */
		free(fs);
	}
	json_decref(f);
}
