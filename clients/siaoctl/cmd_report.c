/*
 * siaoctl report: the indicators of the porteurs in the token's scope over a
 * period (GET /v1/reports/indicators), as tables, the API's JSON, or its CSV
 * (Accept: text/csv, passed through byte for byte) for the bilans.
 */
#include <stdio.h>
#include <stdlib.h>

#include "output.h"
#include "siaoctl.h"
#include "table.h"
#include "util.h"

const char cmd_report_help[] =
	"usage: siaoctl report [--departement D] [--porteur ID] [--from DATE] [--to DATE] [--csv]\n"
	"\n"
	"The indicators of each porteur in the token's scope (GET /v1/reports/indicators):\n"
	"youth accompanied against the target, proposals, acceptances, refusals, entries,\n"
	"exits (and where to), stay lengths, stays that reached the cap, occupancy and\n"
	"the median wait before entry. The period is [--from, --to] (default: the year so\n"
	"far). --csv prints the API's CSV as it comes (';', decimal commas, a UTF-8 BOM),\n"
	"--json the API's JSON.\n"
	"\n"
	"Global options: --url URL (or --server URL), --token TOKEN, --json (the API's JSON).\n";

/* 0.2 -> "20.0 %" */
static void rate_cell(struct table *t, const json_t *v)
{
	if (json_is_number(v))
		table_cellf(t, "%.1f %%", 100.0 * json_number_value(v));
	else
		out_cell(t, v);
}

/* {"no_show": 2, "other": 1} -> 3 */
static long long total(const json_t *counts)
{
	long long n = 0;
	const char *key;
	const json_t *v;
	json_object_foreach((json_t *)counts, key, v)
		n += json_integer_value(v);
	return n;
}

static void print_porteurs(const json_t *items)
{
	static const char *const headers[] = {
		">PORTEUR", "NAME", "DEP", ">TARGET", ">YOUTH", ">PROPOSALS", ">ACCEPTED", ">ACCEPT RATE",
		">REFUSALS", ">ENTRIES", ">EXITS", ">DURABLE", ">MEAN STAY", ">MEDIAN STAY", ">AT CAP",
		">OCCUPANCY", ">DAYS TO ENTRY"};
	struct table *t = table_new(sizeof headers / sizeof *headers, headers);
	size_t i;
	const json_t *p;
	json_array_foreach(items, i, p) {
		out_cell(t, json_object_get(p, "porteur_id"));
		out_cell(t, json_object_get(p, "name"));
		out_cell(t, json_object_get(p, "departement"));
		out_cell(t, json_object_get(p, "target_youth"));
		out_cell(t, json_object_get(p, "youth_accompanied"));
		out_cell(t, json_object_get(p, "proposals"));
		out_cell(t, json_object_get(p, "accepted"));
		rate_cell(t, json_object_get(p, "acceptance_rate"));
		const json_t *refusals = json_object_get(p, "refusals");
		if (json_is_object(refusals))
			table_cellf(t, "%lld", total(refusals));
		else
			out_cell(t, refusals);
		out_cell(t, json_object_get(p, "entries"));
		out_cell(t, json_object_get(p, "exits"));
		rate_cell(t, json_object_get(p, "durable_share"));
		out_cell(t, json_object_get(p, "mean_stay_days"));
		out_cell(t, json_object_get(p, "median_stay_days"));
		out_cell(t, json_object_get(p, "stays_to_cap"));
		rate_cell(t, json_object_get(p, "occupancy_rate"));
		out_cell(t, json_object_get(p, "median_days_to_entry"));
	}
	table_print(t, stdout);
	table_free(t);
}

/* The refusals by reason and the exits by destination, when there are any. */
static void print_breakdown(const json_t *items)
{
	static const char *const headers[] = {">PORTEUR", "EVENT", "REASON OR DESTINATION", ">COUNT"};
	static const char *const members[][2] = {{"refusals", "refusal"}, {"exits_by_destination", "exit"}};
	struct table *t = table_new(4, headers);
	size_t i;
	const json_t *p;
	json_array_foreach(items, i, p) {
		for (size_t m = 0; m < 2; m++) {
			const char *key;
			const json_t *n;
			json_object_foreach(json_object_get(p, members[m][0]), key, n) {
				out_cell(t, json_object_get(p, "porteur_id"));
				table_cell(t, members[m][1]);
				table_cell(t, key);
				out_cell(t, n);
			}
		}
	}
	if (table_rows(t) > 0) {
		printf("\n");
		table_print(t, stdout);
	}
	table_free(t);
}

static void print_report(const json_t *report)
{
	const json_t *items = json_object_get(report, "items");
	if (!json_is_array(items)) {
		out_record(stdout, report, NULL);
		return;
	}
	char *from = out_text(json_object_get(report, "from"));
	char *to = out_text(json_object_get(report, "to"));
	char *dep = out_text(json_object_get(report, "departement"));
	char *pid = out_text(json_object_get(report, "porteur_id"));
	char *head = xasprintf("Indicators from %s to %s; département: %s; porteur: %s", from, to,
			       json_is_string(json_object_get(report, "departement")) ? dep : "all",
			       json_is_integer(json_object_get(report, "porteur_id")) ? pid : "all");
	table_clean(head);
	printf("%s\n", head);
	if (json_array_size(items) == 0) {
		printf("no porteur in this scope\n");
	} else {
		print_porteurs(items);
		print_breakdown(items);
	}
	free(head);
	free(from);
	free(to);
	free(dep);
	free(pid);
}

int cmd_report(struct ctx *c, int argc, char **argv)
{
	const char *dep = NULL, *porteur = NULL, *from = NULL, *to = NULL;
	bool csv = false;
	const struct args_opt opts[] = {
		{"departement", ARGS_VALUE, &dep, NULL}, {"porteur", ARGS_VALUE, &porteur, NULL},
		{"from", ARGS_VALUE, &from, NULL}, {"to", ARGS_VALUE, &to, NULL},
		{"csv", ARGS_FLAG, NULL, &csv},
	};
	struct args_pos pos;
	if (!ctx_args(c, argc - 1, argv + 1, opts, sizeof opts / sizeof *opts, &pos, 0, 0, NULL))
		return c->exit;
	if (csv && c->json) {
		args_error(c->what, "--csv and --json exclude each other");
		return SIAOCTL_EXIT_USAGE;
	}
	struct buf path = {0};
	buf_puts(&path, "/v1/reports/indicators");
	http_query_add(&path, "departement", dep);
	http_query_add(&path, "porteur_id", porteur);
	http_query_add(&path, "from", from);
	http_query_add(&path, "to", to);
	int rc;
	if (csv) {
		struct http_resp resp;
		rc = ctx_call_raw(c, buf_text(&path), "text/csv", &resp);
		if (rc == 0) {
			fwrite(buf_text(&resp.body), 1, resp.body.len, stdout);
			http_resp_free(&resp);
		}
	} else {
		json_t *report;
		rc = ctx_call(c, "GET", buf_text(&path), NULL, &report);
		if (rc == 0 && c->json)
			ctx_print_json(report);
		else if (rc == 0)
			print_report(report);
		json_decref(report);
	}
	buf_free(&path);
	return rc;
}
