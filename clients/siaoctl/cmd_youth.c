/*
 * siaoctl youth: register a young person's needs (pseudonymously: a file
 * reference, never a name), list them and show one (POST /v1/youth,
 * GET /v1/youth, GET /v1/youth/{id}).
 */
#include <stdio.h>
#include <stdlib.h>

#include "args.h"
#include "body.h"
#include "names.h"
#include "output.h"
#include "siaoctl.h"
#include "table.h"
#include "util.h"

const char cmd_youth_help[] =
	"usage: siaoctl youth add --ref R --departement D --birth-date DATE --gender G\n"
	"                         --situation S --commune C [--needs a,b] [--household H]\n"
	"                         [--pets] [--rqth] [--income EUR] [--support S]\n"
	"                         [--wanted-from DATE] [--wanted-months N] [--max-distance-km N]\n"
	"                         [--institution-exit-date DATE] [--registered-at DATE]\n"
	"       siaoctl youth ls [--status waiting|placed|closed] [--departement D] [--limit N]\n"
	"       siaoctl youth show YOUTH_ID\n"
	"\n"
	"add   registers a young person (POST /v1/youth): --ref is the referent's own file\n"
	"      reference (never a name); G: female, male, other; S: street,\n"
	"      emergency_shelter, precarious, institution_exit, family_breakdown;\n"
	"      needs: wheelchair, mental_health, addiction, justice_followup, pregnancy;\n"
	"      H: alone, couple, with_children; --support: light, standard, intensive;\n"
	"      --income: monthly income in euros; --commune: where they want to live,\n"
	"      a name (Sète) or an INSEE code (34301).\n"
	"ls    the young people of the token's départements, by id (every page unless\n"
	"      --limit), with their commune's name.\n"
	"show  the young person's record.\n"
	"\n"
	"Global options: --url URL (or --server URL), --token TOKEN, --json (the API's JSON).\n";

/* The record's fields in the order people read them. */
static const char *const youth_fields[] = {
	"id", "ref", "status", "departement", "birth_date", "gender", "household", "has_pets",
	"rqth", "needs", "situation", "institution_exit_date", "commune_insee", "max_distance_km",
	"monthly_income_eur", "support_need", "wanted_from", "wanted_months", "registered_at",
	"version", "created_at", "updated_at", NULL,
};

static int youth_add(struct ctx *c, int argc, char **argv)
{
	const char *ref = NULL, *dep = NULL, *birth = NULL, *gender = NULL, *situation = NULL,
		   *commune = NULL, *needs = NULL, *household = NULL, *income = NULL, *support = NULL,
		   *wanted_from = NULL, *wanted_months = NULL, *max_km = NULL, *exit_date = NULL,
		   *registered = NULL;
	bool pets = false, rqth = false;
	const struct args_opt opts[] = {
		{"ref", ARGS_VALUE, &ref, NULL}, {"departement", ARGS_VALUE, &dep, NULL},
		{"birth-date", ARGS_VALUE, &birth, NULL}, {"gender", ARGS_VALUE, &gender, NULL},
		{"situation", ARGS_VALUE, &situation, NULL}, {"commune", ARGS_VALUE, &commune, NULL},
		{"needs", ARGS_VALUE, &needs, NULL}, {"household", ARGS_VALUE, &household, NULL},
		{"income", ARGS_VALUE, &income, NULL}, {"support", ARGS_VALUE, &support, NULL},
		{"wanted-from", ARGS_VALUE, &wanted_from, NULL},
		{"wanted-months", ARGS_VALUE, &wanted_months, NULL},
		{"max-distance-km", ARGS_VALUE, &max_km, NULL},
		{"institution-exit-date", ARGS_VALUE, &exit_date, NULL},
		{"registered-at", ARGS_VALUE, &registered, NULL},
		{"pets", ARGS_FLAG, NULL, &pets}, {"rqth", ARGS_FLAG, NULL, &rqth},
	};
	struct args_pos pos;
	if (!ctx_args(c, argc, argv, opts, sizeof opts / sizeof *opts, &pos, 0, 0, NULL))
		return c->exit;
	if (!ctx_require(c, "--ref", ref) || !ctx_require(c, "--departement", dep) ||
	    !ctx_require(c, "--birth-date", birth) || !ctx_require(c, "--gender", gender) ||
	    !ctx_require(c, "--situation", situation) || !ctx_require(c, "--commune", commune))
		return c->exit;
	char *insee;
	if (!names_commune_code(c, "--commune", commune, &insee))
		return c->exit;
	json_t *b = json_object();
	bool ok = body_string(c, b, "ref", "--ref", ref) &&
		  body_string(c, b, "departement", "--departement", dep) &&
		  body_string(c, b, "birth_date", "--birth-date", birth) &&
		  body_string(c, b, "gender", "--gender", gender) &&
		  body_string(c, b, "situation", "--situation", situation) &&
		  body_string(c, b, "commune_insee", "--commune", insee) &&
		  body_list(c, b, "needs", "--needs", needs) &&
		  body_string(c, b, "household", "--household", household) &&
		  body_number(c, b, "monthly_income_eur", "--income", income) &&
		  body_string(c, b, "support_need", "--support", support) &&
		  body_string(c, b, "wanted_from", "--wanted-from", wanted_from) &&
		  body_int(c, b, "wanted_months", "--wanted-months", wanted_months, NULL) &&
		  body_int(c, b, "max_distance_km", "--max-distance-km", max_km, NULL) &&
		  body_string(c, b, "institution_exit_date", "--institution-exit-date", exit_date) &&
		  body_string(c, b, "registered_at", "--registered-at", registered);
	free(insee);
	if (!ok) {
		json_decref(b);
		return c->exit;
	}
	body_flag(b, "has_pets", pets);
	body_flag(b, "rqth", rqth);
	json_t *y;
	int rc = ctx_call(c, "POST", "/v1/youth", b, &y);
	json_decref(b);
	if (rc != 0)
		return rc;
	if (c->json) {
		ctx_print_json(y);
	} else {
		printf("young person %lld registered\n", (long long)json_integer_value(json_object_get(y, "id")));
		out_record(stdout, y, youth_fields);
	}
	json_decref(y);
	return SIAOCTL_EXIT_OK;
}

static int youth_show(struct ctx *c, int argc, char **argv)
{
	struct args_pos pos;
	long long id;
	if (!ctx_args(c, argc, argv, NULL, 0, &pos, 1, 1, "YOUTH_ID") || !ctx_id(c, "YOUTH_ID", pos.v[0], &id))
		return c->exit;
	char path[64];
	snprintf(path, sizeof path, "/v1/youth/%lld", id);
	json_t *y;
	int rc = ctx_call(c, "GET", path, NULL, &y);
	if (rc != 0)
		return rc;
	if (c->json)
		ctx_print_json(y);
	else
		out_record(stdout, y, youth_fields);
	json_decref(y);
	return SIAOCTL_EXIT_OK;
}

static int youth_ls(struct ctx *c, int argc, char **argv)
{
	const char *status = NULL, *dep = NULL, *limit = NULL;
	const struct args_opt opts[] = {
		{"status", ARGS_VALUE, &status, NULL}, {"departement", ARGS_VALUE, &dep, NULL},
		{"limit", ARGS_VALUE, &limit, NULL},
	};
	struct args_pos pos;
	long long n = 0;
	if (!ctx_args(c, argc, argv, opts, sizeof opts / sizeof *opts, &pos, 0, 0, NULL))
		return c->exit;
	if (limit && !args_int(c->what, "--limit", limit, 1, 1000000, &n))
		return SIAOCTL_EXIT_USAGE;
	struct buf path = {0};
	buf_puts(&path, "/v1/youth");
	http_query_add(&path, "status", status);
	http_query_add(&path, "departement", dep);
	json_t *list;
	int rc = ctx_list(c, buf_text(&path), n, &list);
	buf_free(&path);
	if (rc != 0)
		return rc;
	if (c->json) {
		ctx_print_json(list);
		json_decref(list);
		return SIAOCTL_EXIT_OK;
	}
	static const char *const headers[] = {">ID", "REF", "STATUS", "DEP", "BIRTH DATE", "SITUATION",
					      "COMMUNE", "WANTED FROM", ">MONTHS"};
	struct table *t = table_new(9, headers);
	size_t i;
	json_t *y;
	json_array_foreach(json_object_get(list, "items"), i, y) {
		out_cell(t, json_object_get(y, "id"));
		out_cell(t, json_object_get(y, "ref"));
		out_cell(t, json_object_get(y, "status"));
		out_cell(t, json_object_get(y, "departement"));
		out_cell(t, json_object_get(y, "birth_date"));
		out_cell(t, json_object_get(y, "situation"));
		char *commune = names_commune(c, json_object_get(y, "commune_insee"));
		table_cell(t, commune);
		free(commune);
		out_cell(t, json_object_get(y, "wanted_from"));
		out_cell(t, json_object_get(y, "wanted_months"));
	}
	size_t rows = table_rows(t);
	if (rows == 0) {
		printf("no young people\n");
	} else {
		table_print(t, stdout);
		printf("%zu young %s\n", rows, rows == 1 ? "person" : "people");
	}
	table_free(t);
	json_decref(list);
	return SIAOCTL_EXIT_OK;
}

static const struct ctx_sub subs[] = {
	{"add", youth_add},
	{"ls", youth_ls},
	{"show", youth_show},
};

int cmd_youth(struct ctx *c, int argc, char **argv)
{
	return ctx_dispatch(c, "youth", cmd_youth_help, subs, sizeof subs / sizeof *subs, argc, argv);
}
