/*
 * siaoctl stays: the active stays, soonest end first, with the days left
 * (GET /v1/stays).
 */
#include <stdio.h>

#include <stdlib.h>

#include "names.h"
#include "output.h"
#include "siaoctl.h"
#include "table.h"
#include "util.h"

const char cmd_stays_help[] =
	"usage: siaoctl stays [--ending-within N] [--departement D] [--porteur ID] [--limit N]\n"
	"\n"
	"The active stays, soonest planned end first, with the days left (GET /v1/stays):\n"
	"--ending-within N keeps those ending within N days (overdue ones included);\n"
	"--departement and --porteur filter on the offer. Every page unless --limit.\n"
	"\n"
	"Global options: --url URL (or --server URL), --token TOKEN, --json (the API's JSON).\n";

static void print_stays(struct ctx *c, const json_t *items, const char *within)
{
	static const char *const headers[] = {">PLACEMENT", ">YOUTH", ">OFFER", "PORTEUR", "DEP", ">PLACE",
					      "START", "PLANNED END", ">DAYS LEFT"};
	struct table *t = table_new(9, headers);
	size_t i;
	const json_t *s;
	json_array_foreach(items, i, s) {
		out_cell(t, json_object_get(s, "id"));
		out_cell(t, json_object_get(s, "youth_id"));
		out_cell(t, json_object_get(s, "offer_id"));
		char *porteur = names_porteur(c, json_object_get(s, "porteur_id"));
		table_cell(t, porteur);
		free(porteur);
		out_cell(t, json_object_get(s, "departement"));
		out_cell(t, json_object_get(s, "place_number"));
		out_cell(t, json_object_get(s, "start_date"));
		out_cell(t, json_object_get(s, "planned_end_date"));
		const json_t *left = json_object_get(s, "days_left");
		if (json_is_integer(left) && json_integer_value(left) < 0)
			table_cellf(t, "%lld (overdue)", (long long)json_integer_value(left));
		else
			out_cell(t, left);
	}
	size_t rows = table_rows(t);
	if (rows == 0) {
		if (within)
			printf("no active stay ends within %s days\n", within);
		else
			printf("no active stays\n");
	} else {
		table_print(t, stdout);
		printf("%zu active stay%s", rows, rows == 1 ? "" : "s");
		if (within)
			printf(" ending within %s days", within);
		printf("\n");
	}
	table_free(t);
}

int cmd_stays(struct ctx *c, int argc, char **argv)
{
	const char *within = NULL, *dep = NULL, *porteur = NULL, *limit = NULL;
	const struct args_opt opts[] = {
		{"ending-within", ARGS_VALUE, &within, NULL}, {"departement", ARGS_VALUE, &dep, NULL},
		{"porteur", ARGS_VALUE, &porteur, NULL}, {"limit", ARGS_VALUE, &limit, NULL},
	};
	struct args_pos pos;
	long long n = 0, days;
	if (!ctx_args(c, argc - 1, argv + 1, opts, sizeof opts / sizeof *opts, &pos, 0, 0, NULL))
		return c->exit;
	if ((within && !args_int(c->what, "--ending-within", within, 0, 3650, &days)) ||
	    (limit && !args_int(c->what, "--limit", limit, 1, 1000000, &n)))
		return SIAOCTL_EXIT_USAGE;
	struct buf path = {0};
	buf_puts(&path, "/v1/stays");
	http_query_add(&path, "ending_within_days", within);
	http_query_add(&path, "departement", dep);
	http_query_add(&path, "porteur_id", porteur);
	json_t *list;
	int rc = ctx_list(c, buf_text(&path), n, &list);
	buf_free(&path);
	if (rc != 0)
		return rc;
	if (c->json)
		ctx_print_json(list);
	else
		print_stays(c, json_object_get(list, "items"), within);
	json_decref(list);
	return SIAOCTL_EXIT_OK;
}
