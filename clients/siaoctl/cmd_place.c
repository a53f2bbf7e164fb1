/*
 * siaoctl place: propose a placement (POST /v1/placements) and move it
 * through its states (POST /v1/placements/{id}/{action}), or show it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "body.h"
#include "output.h"
#include "siaoctl.h"
#include "table.h"

const char cmd_place_help[] =
	"usage: siaoctl place --youth ID --offer ID [--start DATE [--end DATE]]\n"
	"       siaoctl place accept PLACEMENT_ID\n"
	"       siaoctl place refuse PLACEMENT_ID --reason R\n"
	"       siaoctl place enter PLACEMENT_ID [--date DATE]\n"
	"       siaoctl place exit PLACEMENT_ID --date DATE --destination X\n"
	"       siaoctl place extend PLACEMENT_ID --end DATE\n"
	"       siaoctl place cancel PLACEMENT_ID\n"
	"       siaoctl place show PLACEMENT_ID\n"
	"\n"
	"The first form proposes the young person for a place of the offer. Without\n"
	"--start it books the start and end `siaoctl match YOUTH_ID` shows for that offer\n"
	"(the period the match scored); with --start, from that day (the planned end\n"
	"defaults to the wished duration within the offer's cap). Then the\n"
	"offer's porteur accepts or refuses, records the entry (default today), extends\n"
	"the stay (within the cap) and records the exit; the referent may cancel.\n"
	"R: youth_declined, no_show, incompatible_needs, place_unavailable, incomplete_file, other\n"
	"   (the server's refusal_reasons).\n"
	"X: durable_housing, fjt, family, institution, other_transitional, street, unknown.\n"
	"\n"
	"Global options: --url URL (or --server URL), --token TOKEN, --json (the API's JSON).\n";

/* The record's fields in the order people read them. */
static const char *const placement_fields[] = {
	"id", "status", "youth_id", "youth_departement", "offer_id", "porteur_id", "departement",
	"place_number", "place_id", "start_date", "planned_end_date", "actual_end_date",
	"hold_until", "exit_destination", "refusal_reason", "version", "created_at", "updated_at", NULL,
};

static void summary(const json_t *p)
{
	char *status = out_text(json_object_get(p, "status"));
	char *start = out_text(json_object_get(p, "start_date"));
	char *end = out_text(json_object_get(p, "planned_end_date"));
	table_clean(status);
	table_clean(start);
	table_clean(end);
	printf("placement %lld is %s: young person %lld, offer %lld place %lld, from %s to %s\n",
	       (long long)json_integer_value(json_object_get(p, "id")), status,
	       (long long)json_integer_value(json_object_get(p, "youth_id")),
	       (long long)json_integer_value(json_object_get(p, "offer_id")),
	       (long long)json_integer_value(json_object_get(p, "place_number")), start, end);
	free(status);
	free(start);
	free(end);
}

static int show_result(struct ctx *c, json_t *p)
{
	if (c->json) {
		ctx_print_json(p);
	} else {
		summary(p);
		out_record(stdout, p, placement_fields);
	}
	json_decref(p);
	return SIAOCTL_EXIT_OK;
}

/* The match item of offer for youth (GET /v1/youth/{id}/matches): the
 * period it scored is what the proposal books. *out to decref. */
static int match_dates(struct ctx *c, const char *youth, const char *offer, json_t **out)
{
	long long yid, oid;
	*out = NULL;
	if (!ctx_id(c, "--youth", youth, &yid) || !ctx_id(c, "--offer", offer, &oid))
		return c->exit;
	char path[96];
	snprintf(path, sizeof path, "/v1/youth/%lld/matches?limit=200", yid);
	json_t *res;
	int rc = ctx_call(c, "GET", path, NULL, &res);
	if (rc != 0)
		return rc;
	size_t i;
	json_t *m;
	json_array_foreach(json_object_get(res, "items"), i, m) {
		if (json_integer_value(json_object_get(m, "offer_id")) == oid)
			*out = json_incref(m);
	}
	json_decref(res);
	if (!*out) {
		args_error(c->what, "offer %lld is not among the offers that fit young person %lld "
			   "(siaoctl match %lld): give --start to propose it anyway", oid, yid, yid);
		return SIAOCTL_EXIT_USAGE;
	}
	if (!json_is_string(json_object_get(*out, "start_date")) ||
	    !json_is_string(json_object_get(*out, "end_date"))) {
		json_decref(*out);
		*out = NULL;
		args_error(c->what, "this server's matches carry no dates: give --start (and --end)");
		return SIAOCTL_EXIT_USAGE;
	}
	return SIAOCTL_EXIT_OK;
}

static int place_create(struct ctx *c, int argc, char **argv)
{
	const char *youth = NULL, *offer = NULL, *start = NULL, *end = NULL;
	const struct args_opt opts[] = {
		{"youth", ARGS_VALUE, &youth, NULL}, {"offer", ARGS_VALUE, &offer, NULL},
		{"start", ARGS_VALUE, &start, NULL}, {"end", ARGS_VALUE, &end, NULL},
	};
	struct args_pos pos;
	if (!ctx_args(c, argc, argv, opts, sizeof opts / sizeof *opts, &pos, 0, 0, NULL))
		return c->exit;
	if (!ctx_require(c, "--youth", youth) || !ctx_require(c, "--offer", offer))
		return c->exit;
	if (end && !start) {
		args_error(c->what, "--end needs --start (without both, the match's dates are booked)");
		return SIAOCTL_EXIT_USAGE;
	}
	json_t *match = NULL;
	if (!start) {
		int rc = match_dates(c, youth, offer, &match);
		if (rc != 0)
			return rc;
		start = json_string_value(json_object_get(match, "start_date"));
		end = json_string_value(json_object_get(match, "end_date"));
		if (!c->json)
			printf("booking the match's period: from %s to %s\n", start, end);
	}
	json_t *b = json_object();
	if (!body_int(c, b, "youth_id", "--youth", youth, NULL) ||
	    !body_int(c, b, "offer_id", "--offer", offer, NULL) ||
	    !body_string(c, b, "start_date", "--start", start) ||
	    !body_string(c, b, "planned_end_date", "--end", end)) {
		json_decref(b);
		json_decref(match);
		return c->exit;
	}
	json_t *p;
	int rc = ctx_call(c, "POST", "/v1/placements", b, &p);
	json_decref(b);
	json_decref(match);
	return rc != 0 ? rc : show_result(c, p);
}

/* POST /v1/placements/{id}/{action} with the options the action takes. */
static int place_transition(struct ctx *c, const char *action, int argc, char **argv)
{
	const char *reason = NULL, *date = NULL, *destination = NULL, *end = NULL;
	struct args_opt opts[2];
	size_t nopts = 0;
	if (strcmp(action, "refuse") == 0) {
		opts[nopts++] = (struct args_opt){"reason", ARGS_VALUE, &reason, NULL};
	} else if (strcmp(action, "enter") == 0) {
		opts[nopts++] = (struct args_opt){"date", ARGS_VALUE, &date, NULL};
	} else if (strcmp(action, "exit") == 0) {
		opts[nopts++] = (struct args_opt){"date", ARGS_VALUE, &date, NULL};
		opts[nopts++] = (struct args_opt){"destination", ARGS_VALUE, &destination, NULL};
	} else if (strcmp(action, "extend") == 0) {
		opts[nopts++] = (struct args_opt){"end", ARGS_VALUE, &end, NULL};
	}
	struct args_pos pos;
	long long id;
	if (!ctx_args(c, argc, argv, opts, nopts, &pos, 1, 1, "PLACEMENT_ID") ||
	    !ctx_id(c, "PLACEMENT_ID", pos.v[0], &id))
		return c->exit;
	if ((strcmp(action, "refuse") == 0 && !ctx_require(c, "--reason", reason)) ||
	    (strcmp(action, "exit") == 0 && (!ctx_require(c, "--date", date) ||
					     !ctx_require(c, "--destination", destination))) ||
	    (strcmp(action, "extend") == 0 && !ctx_require(c, "--end", end)))
		return c->exit;
	json_t *b = json_object();
	if (!body_string(c, b, "reason", "--reason", reason) ||
	    !body_string(c, b, "date", "--date", date) ||
	    !body_string(c, b, "destination", "--destination", destination) ||
	    !body_string(c, b, "planned_end_date", "--end", end)) {
		json_decref(b);
		return c->exit;
	}
	char path[96];
	snprintf(path, sizeof path, "/v1/placements/%lld/%s", id, action);
	json_t *p;
	int rc = ctx_call(c, "POST", path, b, &p);
	json_decref(b);
	return rc != 0 ? rc : show_result(c, p);
}

static int place_accept(struct ctx *c, int argc, char **argv) { return place_transition(c, "accept", argc, argv); }
static int place_refuse(struct ctx *c, int argc, char **argv) { return place_transition(c, "refuse", argc, argv); }
static int place_enter(struct ctx *c, int argc, char **argv) { return place_transition(c, "enter", argc, argv); }
static int place_exit(struct ctx *c, int argc, char **argv) { return place_transition(c, "exit", argc, argv); }
static int place_extend(struct ctx *c, int argc, char **argv) { return place_transition(c, "extend", argc, argv); }
static int place_cancel(struct ctx *c, int argc, char **argv) { return place_transition(c, "cancel", argc, argv); }

static int place_show(struct ctx *c, int argc, char **argv)
{
	struct args_pos pos;
	long long id;
	if (!ctx_args(c, argc, argv, NULL, 0, &pos, 1, 1, "PLACEMENT_ID") ||
	    !ctx_id(c, "PLACEMENT_ID", pos.v[0], &id))
		return c->exit;
	char path[64];
	snprintf(path, sizeof path, "/v1/placements/%lld", id);
	json_t *p;
	int rc = ctx_call(c, "GET", path, NULL, &p);
	return rc != 0 ? rc : show_result(c, p);
}

static const struct ctx_sub subs[] = {
	{"accept", place_accept}, {"refuse", place_refuse}, {"enter", place_enter},
	{"exit", place_exit}, {"extend", place_extend}, {"cancel", place_cancel},
	{"show", place_show}, {"", place_create},
};

int cmd_place(struct ctx *c, int argc, char **argv)
{
	return ctx_dispatch(c, "place", cmd_place_help, subs, sizeof subs / sizeof *subs, argc, argv);
}
