/*
 * siaoctl offers: list the housing offers with their free places, register
 * one, close one (GET/POST /v1/offers, DELETE /v1/offers/{id}).
 */
#include <stdio.h>
#include <stdlib.h>

#include "body.h"
#include "names.h"
#include "output.h"
#include "siaoctl.h"
#include "table.h"
#include "util.h"

const char cmd_offers_help[] =
	"usage: siaoctl offers ls [--departement D] [--kind K] [--on DATE] [--min-free N]\n"
	"                         [--porteur ID] [--status open|closed] [--limit N]\n"
	"       siaoctl offers add --porteur ID --kind K --label L --commune C --capacity N\n"
	"                          [--max-stay-days N|none] [--min-age N] [--max-age N]\n"
	"                          [--gender any|female|male] [--couples] [--children] [--pets]\n"
	"                          [--wheelchair] [--support light|standard|intensive]\n"
	"                          [--charge EUR] [--from DATE] [--until DATE] [--departement D]\n"
	"       siaoctl offers close OFFER_ID\n"
	"\n"
	"ls     the offers, with the places free on --on (default today); every page\n"
	"       unless --limit. --min-free N keeps the open offers with N free places.\n"
	"add    registers an offer (POST /v1/offers). K: iml, alt, studio_tiroir, fjt,\n"
	"       shared_flat. --porteur may be left out with a porteur's token.\n"
	"       --charge is the monthly charge in euros; --from/--until the availability.\n"
	"       --commune: a name (Sète) or an INSEE code (34301).\n"
	"close  closes an offer (it is never deleted).\n"
	"\n"
	"Global options: --url URL (or --server URL), --token TOKEN, --json (the API's JSON).\n";

/* The record's fields in the order people read them. */
static const char *const offer_fields[] = {
	"id", "label", "kind", "porteur_id", "status", "commune_insee", "departement", "lat",
	"lon", "capacity", "free_places", "free_places_on", "max_stay_days", "min_age", "max_age",
	"gender", "accepts_couples", "accepts_children", "accepts_pets", "wheelchair_accessible",
	"support_level", "monthly_charge_eur", "available_from", "available_until", "version",
	"created_at", "updated_at", NULL,
};

static int offers_ls(struct ctx *c, int argc, char **argv)
{
	const char *dep = NULL, *kind = NULL, *on = NULL, *min_free = NULL, *porteur = NULL,
		   *status = NULL, *limit = NULL;
	const struct args_opt opts[] = {
		{"departement", ARGS_VALUE, &dep, NULL}, {"kind", ARGS_VALUE, &kind, NULL},
		{"on", ARGS_VALUE, &on, NULL}, {"min-free", ARGS_VALUE, &min_free, NULL},
		{"porteur", ARGS_VALUE, &porteur, NULL}, {"status", ARGS_VALUE, &status, NULL},
		{"limit", ARGS_VALUE, &limit, NULL},
	};
	struct args_pos pos;
	long long n = 0;
	if (!ctx_args(c, argc, argv, opts, sizeof opts / sizeof *opts, &pos, 0, 0, NULL))
		return c->exit;
	if (limit && !args_int(c->what, "--limit", limit, 1, 1000000, &n))
		return SIAOCTL_EXIT_USAGE;
	struct buf path = {0};
	buf_puts(&path, "/v1/offers");
	http_query_add(&path, "departement", dep);
	http_query_add(&path, "kind", kind);
	http_query_add(&path, "available_on", on);
	http_query_add(&path, "min_free", min_free);
	http_query_add(&path, "porteur_id", porteur);
	http_query_add(&path, "status", status);
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
	static const char *const headers[] = {">ID", "PORTEUR", "KIND", "LABEL", "COMMUNE", "DEP",
					      ">CAPACITY", ">FREE", ">MAX STAY", "STATUS"};
	struct table *t = table_new(10, headers);
	const char *free_on = NULL;
	size_t i;
	json_t *o;
	json_array_foreach(json_object_get(list, "items"), i, o) {
		out_cell(t, json_object_get(o, "id"));
		char *who = names_porteur(c, json_object_get(o, "porteur_id"));
		char *where = names_commune(c, json_object_get(o, "commune_insee"));
		table_cell(t, who);
		out_cell(t, json_object_get(o, "kind"));
		out_cell(t, json_object_get(o, "label"));
		table_cell(t, where);
		free(who);
		free(where);
		out_cell(t, json_object_get(o, "departement"));
		out_cell(t, json_object_get(o, "capacity"));
		out_cell(t, json_object_get(o, "free_places"));
		json_t *msd = json_object_get(o, "max_stay_days");
		if (json_is_integer(msd))
			table_cellf(t, "%lld d", (long long)json_integer_value(msd));
		else
			table_cell(t, "none");
		out_cell(t, json_object_get(o, "status"));
		free_on = json_string_value(json_object_get(o, "free_places_on"));
	}
	size_t rows = table_rows(t);
	if (rows == 0) {
		printf("no offers\n");
	} else {
		table_print(t, stdout);
		printf("%zu offer%s; free places on %s\n", rows, rows == 1 ? "" : "s",
		       free_on ? free_on : "today");
	}
	table_free(t);
	json_decref(list);
	return SIAOCTL_EXIT_OK;
}

static int offers_add(struct ctx *c, int argc, char **argv)
{
	const char *porteur = NULL, *kind = NULL, *label = NULL, *commune = NULL, *capacity = NULL,
		   *max_stay = NULL, *min_age = NULL, *max_age = NULL, *gender = NULL, *support = NULL,
		   *charge = NULL, *from = NULL, *until = NULL, *dep = NULL;
	bool couples = false, children = false, pets = false, wheelchair = false;
	const struct args_opt opts[] = {
		{"porteur", ARGS_VALUE, &porteur, NULL}, {"kind", ARGS_VALUE, &kind, NULL},
		{"label", ARGS_VALUE, &label, NULL}, {"commune", ARGS_VALUE, &commune, NULL},
		{"capacity", ARGS_VALUE, &capacity, NULL}, {"max-stay-days", ARGS_VALUE, &max_stay, NULL},
		{"min-age", ARGS_VALUE, &min_age, NULL}, {"max-age", ARGS_VALUE, &max_age, NULL},
		{"gender", ARGS_VALUE, &gender, NULL}, {"support", ARGS_VALUE, &support, NULL},
		{"charge", ARGS_VALUE, &charge, NULL}, {"from", ARGS_VALUE, &from, NULL},
		{"until", ARGS_VALUE, &until, NULL}, {"departement", ARGS_VALUE, &dep, NULL},
		{"couples", ARGS_FLAG, NULL, &couples}, {"children", ARGS_FLAG, NULL, &children},
		{"pets", ARGS_FLAG, NULL, &pets}, {"wheelchair", ARGS_FLAG, NULL, &wheelchair},
	};
	struct args_pos pos;
	if (!ctx_args(c, argc, argv, opts, sizeof opts / sizeof *opts, &pos, 0, 0, NULL))
		return c->exit;
	if (!ctx_require(c, "--kind", kind) || !ctx_require(c, "--label", label) ||
	    !ctx_require(c, "--commune", commune) || !ctx_require(c, "--capacity", capacity))
		return c->exit;
	char *insee;
	if (!names_commune_code(c, "--commune", commune, &insee))
		return c->exit;
	json_t *b = json_object();
	bool ok = body_int(c, b, "porteur_id", "--porteur", porteur, NULL) &&
		  body_string(c, b, "kind", "--kind", kind) &&
		  body_string(c, b, "label", "--label", label) &&
		  body_string(c, b, "commune_insee", "--commune", insee) &&
		  body_string(c, b, "departement", "--departement", dep) &&
		  body_int(c, b, "capacity", "--capacity", capacity, NULL) &&
		  body_int(c, b, "max_stay_days", "--max-stay-days", max_stay, "none") &&
		  body_int(c, b, "min_age", "--min-age", min_age, NULL) &&
		  body_int(c, b, "max_age", "--max-age", max_age, NULL) &&
		  body_string(c, b, "gender", "--gender", gender) &&
		  body_string(c, b, "support_level", "--support", support) &&
		  body_number(c, b, "monthly_charge_eur", "--charge", charge) &&
		  body_string(c, b, "available_from", "--from", from) &&
		  body_string(c, b, "available_until", "--until", until);
	free(insee);
	if (!ok) {
		json_decref(b);
		return c->exit;
	}
	body_flag(b, "accepts_couples", couples);
	body_flag(b, "accepts_children", children);
	body_flag(b, "accepts_pets", pets);
	body_flag(b, "wheelchair_accessible", wheelchair);
	json_t *offer;
	int rc = ctx_call(c, "POST", "/v1/offers", b, &offer);
	json_decref(b);
	if (rc != 0)
		return rc;
	if (c->json) {
		ctx_print_json(offer);
	} else {
		printf("offer %lld created\n", (long long)json_integer_value(json_object_get(offer, "id")));
		out_record(stdout, offer, offer_fields);
	}
	json_decref(offer);
	return SIAOCTL_EXIT_OK;
}

static int offers_close(struct ctx *c, int argc, char **argv)
{
	struct args_pos pos;
	long long id;
	if (!ctx_args(c, argc, argv, NULL, 0, &pos, 1, 1, "OFFER_ID") || !ctx_id(c, "OFFER_ID", pos.v[0], &id))
		return c->exit;
	char path[64];
	snprintf(path, sizeof path, "/v1/offers/%lld", id);
	json_t *offer;
	int rc = ctx_call(c, "DELETE", path, NULL, &offer);
	if (rc != 0)
		return rc;
	if (c->json) {
		ctx_print_json(offer);
	} else {
		char *label = out_text(json_object_get(offer, "label"));
		char *status = out_text(json_object_get(offer, "status"));
		table_clean(label);
		table_clean(status);
		printf("offer %lld (%s) is %s\n", id, label, status);
		free(label);
		free(status);
	}
	json_decref(offer);
	return SIAOCTL_EXIT_OK;
}

static const struct ctx_sub subs[] = {
	{"ls", offers_ls},
	{"add", offers_add},
	{"close", offers_close},
};

int cmd_offers(struct ctx *c, int argc, char **argv)
{
	return ctx_dispatch(c, "offers", cmd_offers_help, subs, sizeof subs / sizeof *subs, argc, argv);
}
