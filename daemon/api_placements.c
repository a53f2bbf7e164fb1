/*
 * Placements and stays: a referent proposes a place, the porteur accepts or
 * refuses, records the entry, extensions and the exit. The database decides
 * which place and refuses any double booking (sql/004_placements.sql); this
 * file checks the request, the matcher's eligibility rules and the scope.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "app.h"
#include "inventory.h"
#include "proposals.h"
#include "routes.h"
#include "siaod/date.h"
#include "siaod/match.h"
#include "validate.h"

static const char *const statuses[] = {"proposed", "accepted", "active", "ended", "refused",
				       "cancelled", "expired", NULL};
/* Refusal reasons are the config's (refusal_reasons), checked below. */
static const char *const sides[] = {"youth", "porteur", NULL};
static const char *const destinations[] = {"durable_housing", "fjt", "family", "institution",
					   "other_transitional", "street", "unknown", NULL};

static const struct vfield create_fields[] = {
	{"youth_id", V_INT, true, false, 1, INT64_MAX, NULL, false},
	{"offer_id", V_INT, true, false, 1, INT64_MAX, NULL, false},
	{"start_date", V_DATE, true, false, 0, 0, NULL, false},
	{"planned_end_date", V_DATE, false, false, 0, 0, NULL, false},
};

/* Only the young person's referent (or an admin) proposes: a porteur holding
 * someone else's young person on its own offer would block the referent's
 * proposal until the hold expires (the route table keeps porteurs out, with a
 * 403 before any eligibility rule is named). */
static bool may_propose(struct req *r, const struct inv_youth *y)
{
	switch (r->who.role) {
	case ROLE_ADMIN: return true;
	case ROLE_REFERENT: return auth_has_departement(&r->who, y->departement);
	case ROLE_PORTEUR: return false;
	}
	return false;
}

void api_placements_create(struct req *r)
{
	if (!api_validate(r, create_fields, sizeof create_fields / sizeof *create_fields, false))
		return;
	const struct inv_youth *y = inventory_youth(r->app->inv,
		json_integer_value(json_object_get(r->body, "youth_id")));
	const struct inv_offer *o = inventory_offer(r->app->inv,
		json_integer_value(json_object_get(r->body, "offer_id")));
	/* unknown ids: the database answers, with the right pointer */
	char hint[24] = "";
	if (y && o) {
		if (!may_propose(r, y)) {
			api_forbidden(r, "this young person or offer is outside this token's scope");
			return;
		}
		struct match_params p = inventory_match_params(&r->app->cfg, r->today, DATE_NONE);
		date_parse(json_string_value(json_object_get(r->body, "start_date")), &p.on);
		enum match_rule rule = match_eligible(&p, &y->m, &o->m, NULL);
		/* Free places are the database's to decide, for the exact period. */
		if (rule != MATCH_OK && rule != MATCH_RULE_NO_FREE_PLACE) {
			char detail[160];
			snprintf(detail, sizeof detail, "this young person is not eligible for this offer (rule %s)",
				 match_rule_code(rule));
			json_t *extra = json_pack("{s:[s]}", "rules", match_rule_code(rule));
			req_problem_full(r, 422, "not-eligible", detail, NULL, extra);
			return;
		}
		/* the place this snapshot sees free first over the stay, which
		 * placement_create probes before any other (sql/functions/placements.sql) */
		sdate start, end;
		match_period(&y->m, &o->m, p.on, p.today, &start, &end);
		const char *given = json_string_value(json_object_get(r->body, "planned_end_date"));
		if (given && !date_parse(given, &end))
			end = start;
		int64_t place = end > start ? inventory_first_free_place(o, start, end) : 0;
		if (place)
			snprintf(hint, sizeof hint, "%lld", (long long)place);
	}
	char *body = api_json_param(r, r->body);
	/* one round trip, alone or with the proposals waiting with it: with
	 * an Idempotency-Key, its claim and stored answer are in the same
	 * statement (placement_propose) */
	if (body)
		proposals_submit(r->app->proposals, r, body, hint[0] ? hint : NULL);
	free(body);
}

void api_placements_list(struct req *r)
{
	json_t *f = json_object();
	if (api_list_params(r, f) && api_query_enum(r, f, "status", statuses) &&
	    api_query_int(r, f, "offer_id", 1, INT64_MAX) && api_query_int(r, f, "youth_id", 1, INT64_MAX) &&
	    api_query_int(r, f, "porteur_id", 1, INT64_MAX)) {
		char *fs = api_json_param(r, f);
		const char *values[2] = {fs, r->actor};
		if (fs)
			api_sql_reply(r, "SELECT placement_list($1::jsonb, $2::jsonb)", 2, values, 200, 0);
		free(fs);
	}
	json_decref(f);
}

void api_placements_get(struct req *r)
{
	char id[24];
	snprintf(id, sizeof id, "%lld", (long long)r->ids[0]);
	const char *values[2] = {id, r->actor};
	api_sql_reply(r, "SELECT placement_get($1::bigint, $2::jsonb)", 2, values, 200, API_ETAG);
}

/* The body each transition takes. */
static const struct vfield refuse_fields[] = {
	{"reason", V_STRING, true, false, 1, 40, NULL, false},
	{"by", V_ENUM, false, false, 0, 0, sides, false},
};
static const struct vfield enter_fields[] = {
	{"date", V_DATE, false, false, 0, 0, NULL, false},
};
static const struct vfield exit_fields[] = {
	{"date", V_DATE, true, false, 0, 0, NULL, false},
	{"destination", V_ENUM, true, false, 0, 0, destinations, false},
};
static const struct vfield extend_fields[] = {
	{"planned_end_date", V_DATE, true, false, 0, 0, NULL, false},
};

struct transition {
	const char *action;
	const struct vfield *fields;
	size_t nfields;
};

static const struct transition transitions[] = {
	{"accept", NULL, 0},
	{"refuse", refuse_fields, 2},
	{"enter", enter_fields, 1},
	{"exit", exit_fields, 2},
	{"extend", extend_fields, 1},
	{"cancel", NULL, 0},
};

/* POST /v1/placements/{id}/{action}: the action is the route name's suffix. */
void api_placements_transition(struct req *r)
{
	const char *action = strchr(r->route->name, '.') + 1;
	const struct transition *t = NULL;
	for (size_t i = 0; i < sizeof transitions / sizeof *transitions; i++)
		if (strcmp(transitions[i].action, action) == 0)
			t = &transitions[i];
	if (!r->body)
		r->body = json_object(); /* accept and cancel need no body */
	if (!api_validate(r, t->fields, t->nfields, false))
		return;
	if (strcmp(action, "refuse") == 0 &&
	    !config_refusal_reason_ok(&r->app->cfg, json_string_value(json_object_get(r->body, "reason")))) {
		req_field_error(r, "/reason", "unknown_value",
				"not one of the refusal reasons (GET /v1/refusal-reasons)");
		return;
	}
	char id[24], hold[16];
	snprintf(id, sizeof id, "%lld", (long long)r->ids[0]);
	snprintf(hold, sizeof hold, "%d", r->app->cfg.hold_days);
	char *body = api_json_param(r, r->body);
	const char *values[6] = {id, action, body, r->actor, r->today, hold};
	if (body)
		api_sql_reply(r, "SELECT placement_transition($1::bigint, $2, $3::jsonb, $4::jsonb, $5::date, $6::integer)",
			      6, values, 200, API_ETAG);
	free(body);
}

void api_stays_list(struct req *r)
{
	json_t *f = json_object();
	if (api_list_params(r, f) && api_query_int(r, f, "ending_within_days", 0, 3650) &&
	    api_query_departement(r, f, "departement") &&
	    api_query_int(r, f, "porteur_id", 1, INT64_MAX)) {
		char *fs = api_json_param(r, f);
		const char *values[3] = {fs, r->actor, r->today};
		if (fs)
			api_sql_reply(r, "SELECT stay_list($1::jsonb, $2::jsonb, $3::date)", 3, values, 200, 0);
		free(fs);
	}
	json_decref(f);
}

static json_t *day(sdate d)
{
	char buf[11];
	date_format(d, buf);
	return json_string(buf);
}

void api_offer_availability(struct req *r)
{
	const struct inv_offer *o = inventory_offer(r->app->inv, r->ids[0]);
	if (!o) {
		req_problem(r, 404, "not-found", "no such offer");
		return;
	}
	sdate today, from, to;
	date_parse(r->today, &today);
	const char *fs = req_query(r, "from"), *ts = req_query(r, "to");
	if (fs && !date_parse(fs, &from)) {
		api_query_error(r, "from", "wrong_type", "expected a date as YYYY-MM-DD");
		return;
	}
	if (!fs)
		from = today;
	if (ts && !date_parse(ts, &to)) {
		api_query_error(r, "to", "wrong_type", "expected a date as YYYY-MM-DD");
		return;
	}
	if (!ts)
		to = from + 30;
	if (to < from || to - from > 366) {
		api_query_error(r, "to", "out_of_range", "to is on or after from, at most 366 days later");
		return;
	}
	json_t *days = json_array();
	for (sdate d = from; d <= to; d++)
		json_array_append_new(days, json_pack("{s:o, s:i}", "date", day(d), "free_places", inventory_free_on(o, d)));
	/* A place frees up on the day a span ends, unless another begins then. */
	json_t *frees = json_array();
	for (sdate d = from; d <= to; d++) {
		int n = 0;
		for (int i = 0; i < o->nplaces; i++) {
			const struct inv_place *p = &o->places[i];
			if (!p->active)
				continue;
			for (int s = 0; s < p->nspans; s++)
				if (p->spans[s].end == d &&
				    (s + 1 == p->nspans || p->spans[s + 1].start > d))
					n++;
		}
		if (n > 0)
			json_array_append_new(frees, json_pack("{s:o, s:i}", "date", day(d), "places", n));
	}
	char fbuf[11], tbuf[11];
	date_format(from, fbuf);
	date_format(to, tbuf);
	req_reply_json(r, 200, json_pack("{s:I, s:s, s:s, s:i, s:o, s:o}", "offer_id", (json_int_t)o->m.id,
					 "from", fbuf, "to", tbuf, "capacity", o->m.capacity,
					 "days", days, "frees_up", frees));
}

/* GET /v1/refusal-reasons: the configured codes and their French labels. */
void api_refusal_reasons(struct req *r)
{
	json_t *items = json_array();
	char code[64], label[256];
	for (size_t i = 0; config_refusal_reason_at(&r->app->cfg, i, code, sizeof code, label, sizeof label); i++)
		json_array_append_new(items, json_pack("{s:s, s:s}", "code", code, "label", label));
	/* a short configured list, not a paged collection */
	req_reply_json(r, 200, json_pack("{s:o}", "reasons", items));
}
