/*
 * siaoctl match: the offers that fit a young person, best first, with the
 * points of each factor (GET /v1/youth/{id}/matches): the ranking is the
 * API's, as the web UI shows it.
 */
#include <stdio.h>
#include <stdlib.h>

#include "names.h"
#include "output.h"
#include "siaoctl.h"
#include "table.h"
#include "util.h"

const char cmd_match_help[] =
	"usage: siaoctl match YOUTH_ID [--limit N] [--on DATE] [--explain]\n"
	"\n"
	"The offers that fit the young person, best first (GET /v1/youth/{id}/matches):\n"
	"rank, score (0-100), offer, kind, porteur, distance, free places, the start and\n"
	"end a proposal would book (`siaoctl place --youth ID --offer ID` books them) and\n"
	"the points of each factor (distance, duration, affordability, support,\n"
	"availability).\n"
	"\n"
	"--limit N   how many (default 10, at most 200)\n"
	"--on DATE   the stay starts on DATE (default: today or the wished date)\n"
	"--explain   also each factor's reason, and how many offers each eligibility\n"
	"            rule excluded (an offer counts under the first rule it fails)\n"
	"\n"
	"Global options: --url URL (or --server URL), --token TOKEN, --json (the API's JSON).\n";

/* "distance 30, duration 25, ..." */
static char *reasons_text(const json_t *reasons)
{
	struct buf b = {0};
	size_t i;
	const json_t *r;
	json_array_foreach(reasons, i, r) {
		buf_printf(&b, "%s%s %lld", i ? ", " : "", json_string_value(json_object_get(r, "factor")),
			   (long long)json_integer_value(json_object_get(r, "points")));
	}
	char *s = xstrdup(buf_text(&b));
	buf_free(&b);
	return s;
}

static void print_ranking(struct ctx *c, const json_t *items)
{
	static const char *const headers[] = {">RANK", ">SCORE", ">OFFER", "KIND", "PORTEUR", ">DISTANCE",
					      ">FREE", "START", "END", "LABEL", "REASONS (POINTS)"};
	struct table *t = table_new(11, headers);
	size_t i;
	const json_t *m;
	json_array_foreach(items, i, m) {
		table_cellf(t, "%zu", i + 1);
		out_cell(t, json_object_get(m, "score"));
		out_cell(t, json_object_get(m, "offer_id"));
		out_cell(t, json_object_get(m, "kind"));
		char *porteur = names_porteur(c, json_object_get(m, "porteur_id"));
		table_cell(t, porteur);
		free(porteur);
		table_cellf(t, "%.1f km", json_number_value(json_object_get(m, "distance_km")));
		out_cell(t, json_object_get(m, "free_places"));
		/* the period a proposal books (planned end excluded, as the API
		 * counts it); "-" from a server that does not say */
		out_cell(t, json_object_get(m, "start_date"));
		out_cell(t, json_object_get(m, "end_date"));
		out_cell(t, json_object_get(m, "label"));
		char *reasons = reasons_text(json_object_get(m, "reasons"));
		table_cell(t, reasons);
		free(reasons);
	}
	table_print(t, stdout);
	table_free(t);
}

/* Each offer's factors with their one-line reasons. */
static void print_reasons(const json_t *items)
{
	static const char *const headers[] = {">RANK", ">OFFER", "FACTOR", ">POINTS", "REASON"};
	struct table *t = table_new(5, headers);
	size_t i, j;
	const json_t *m, *r;
	json_array_foreach(items, i, m) {
		json_array_foreach(json_object_get(m, "reasons"), j, r) {
			table_cellf(t, "%zu", i + 1);
			out_cell(t, json_object_get(m, "offer_id"));
			out_cell(t, json_object_get(r, "factor"));
			out_cell(t, json_object_get(r, "points"));
			out_cell(t, json_object_get(r, "detail"));
		}
	}
	printf("\n");
	table_print(t, stdout);
	table_free(t);
}

static void print_excluded(const json_t *excluded, const json_t *considered)
{
	static const char *const headers[] = {"EXCLUDED BY RULE", ">OFFERS"};
	struct table *t = table_new(2, headers);
	const char *rule;
	const json_t *n;
	json_object_foreach((json_t *)excluded, rule, n) {
		table_cell(t, rule);
		out_cell(t, n);
	}
	printf("\n");
	table_print(t, stdout);
	table_free(t);
	if (json_is_integer(considered))
		printf("%lld offers considered\n", (long long)json_integer_value(considered));
}

int cmd_match(struct ctx *c, int argc, char **argv)
{
	const char *limit = NULL, *on = NULL;
	bool explain = false;
	const struct args_opt opts[] = {
		{"limit", ARGS_VALUE, &limit, NULL},
		{"on", ARGS_VALUE, &on, NULL},
		{"explain", ARGS_FLAG, NULL, &explain},
	};
	struct args_pos pos;
	long long id, n;
	if (!ctx_args(c, argc - 1, argv + 1, opts, sizeof opts / sizeof *opts, &pos, 1, 1, "YOUTH_ID") ||
	    !ctx_id(c, "YOUTH_ID", pos.v[0], &id))
		return c->exit;
	if (limit && !args_int(c->what, "--limit", limit, 1, 200, &n))
		return SIAOCTL_EXIT_USAGE;
	struct buf path = {0};
	buf_printf(&path, "/v1/youth/%lld/matches", id);
	http_query_add(&path, "limit", limit);
	http_query_add(&path, "on", on);
	http_query_add(&path, "explain", explain ? "1" : NULL);
	json_t *res;
	int rc = ctx_call(c, "GET", buf_text(&path), NULL, &res);
	buf_free(&path);
	if (rc != 0)
		return rc;
	const json_t *items = json_object_get(res, "items");
	if (c->json) {
		ctx_print_json(res);
	} else if (!json_is_array(items)) {
		fprintf(stderr, "siaoctl: the answer has no items list\n");
		rc = SIAOCTL_EXIT_API;
	} else {
		if (json_array_size(items) == 0)
			printf("no offer fits young person %lld\n", id);
		else
			print_ranking(c, items);
		if (explain && json_array_size(items) > 0)
			print_reasons(items);
		if (explain && json_is_object(json_object_get(res, "excluded")))
			print_excluded(json_object_get(res, "excluded"), json_object_get(res, "offers_considered"));
	}
	json_decref(res);
	return rc;
}
