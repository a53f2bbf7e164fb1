/*
 * Matching, answered from the in-memory inventory without a database round
 * trip: the places that fit a young person (GET /v1/youth/{id}/matches) and
 * the young people waiting that fit an offer (GET /v1/offers/{id}/candidates).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>

#include "api.h"
#include "app.h"
#include "inventory.h"
#include "match_reply.h"
#include "siaod/date.h"
#include "siaod/match.h"

static json_t *date_json(sdate d);

static struct match_params params_for(struct req *r)
{
	return inventory_match_params(&r->app->cfg, r->today, DATE_NONE);
}

static json_t *date_json(sdate d)
{
	if (d == DATE_NONE)
		return json_null();
	char buf[11];
	date_format(d, buf);
	return json_string(buf);
}

static json_t *reasons_json(const struct match_result *res)
{
	json_t *a = json_array();
	for (int f = 0; f < MATCH_FACTOR_COUNT; f++)
		json_array_append_new(a, json_pack("{s:s, s:i, s:s}",
			"factor", match_factor_code(res->factors[f].factor),
			"points", res->factors[f].points, "detail", res->factors[f].detail));
	return a;
}

/* limit: default 10, at most 200. */
static bool limit_param(struct req *r, size_t *k)
{
	json_t *f = json_object();
	bool ok = api_query_int(r, f, "limit", 1, 200);
	json_t *v = json_object_get(f, "limit");
	*k = v ? (size_t)json_integer_value(v) : 10;
	json_decref(f);
	return ok;
}

void api_youth_matches(struct req *r)
{
	struct app *app = r->app;
	const struct inv_youth *y = inventory_youth(app->inv, r->ids[0]);
	if (!y) {
		req_problem(r, 404, "not-found", "no such young person");
		return;
	}
	if (!auth_has_departement(&r->who, y->departement)) {
		api_forbidden(r, "this young person is outside this token's départements");
		return;
	}
	size_t k;
	if (!limit_param(r, &k))
		return;
	struct match_params p = params_for(r);
	const char *on = req_query(r, "on");
	if (on && !date_parse(on, &p.on)) {
		api_query_error(r, "on", "wrong_type", "expected a date as YYYY-MM-DD");
		return;
	}
	const char *ex = req_query(r, "explain");
	bool explain = ex && (strcmp(ex, "1") == 0 || strcmp(ex, "true") == 0);
	struct evbuffer *buf = evbuffer_new();
	if (!buf || match_reply_offers(app->inv, y, &p, k, explain, &app->scratch, buf) != 0) {
		if (buf)
			evbuffer_free(buf);
		req_problem(r, 503, "out-of-memory", "try again");
		return;
	}
	req_reply_buffer(r, 200, "application/json", buf);
	evbuffer_free(buf);
}

static const char *age_band(const struct match_youth *y, sdate today)
{
	if (y->birth_date == DATE_NONE)
		return "other";
	int a = date_age_years(y->birth_date, today);
	return a < 18 ? "16-17" : a < 22 ? "18-21" : a < 26 ? "22-25" : a < 30 ? "26-29" : "other";
}

/* What a porteur may know of a young person: never ref or birth date. */
static json_t *porteur_view(const struct match_youth *y, sdate today)
{
	json_t *needs = json_array();
	for (int b = 0; b < MATCH_NEED_COUNT; b++)
		if (y->needs & (1u << b))
			json_array_append_new(needs, json_string(match_need_code(b)));
	return json_pack("{s:s, s:s, s:o, s:s, s:s}", "age_band", age_band(y, today),
			 "household", match_household_code(y->household), "needs", needs,
			 "situation", match_situation_code(y->situation),
			 "support_need", match_support_code(y->support_need));
}

static bool followed(void *ctx, const struct match_youth *y)
{
	return auth_has_departement(ctx, ((const struct inv_youth *)y)->departement);
}

void api_offer_candidates(struct req *r)
{
	struct app *app = r->app;
	const struct inv_offer *o = inventory_offer(app->inv, r->ids[0]);
	if (!o) {
		req_problem(r, 404, "not-found", "no such offer");
		return;
	}
	if (r->who.role == ROLE_PORTEUR && r->who.porteur_id != o->m.porteur_id) {
		api_forbidden(r, "this offer belongs to another porteur");
		return;
	}
	size_t k;
	if (!limit_param(r, &k))
		return;
	struct match_params p = params_for(r);
	/* the youth grid's cells nearest first, read until no farther young
	 * person can make the top k */
	double reach;
	size_t nc;
	const struct match_ycell *cells = match_scratch_youth_cells(app->inv, o->m.lat, o->m.lon,
								     &app->scratch, &nc, &reach);
	if (!cells) {
		req_problem(r, 503, "out-of-memory", "try again");
		return;
	}
	struct match_result *res = malloc(k * sizeof *res);
	if (!res) {
		req_problem(r, 503, "out-of-memory", "try again");
		return;
	}
	/* a referent ranks only the young people it follows */
	int got = match_rank_youth_cells(&p, &o->m, cells, nc, reach,
					 r->who.role == ROLE_REFERENT ? followed : NULL, &r->who, k, res);
	json_t *items = json_array();
	for (int i = 0; i < got; i++) {
		const struct match_youth *y = res[i].item;
		json_t *item = porteur_view(y, p.today);
		json_object_set_new(item, "youth_id", json_integer((json_int_t)y->id));
		json_object_set_new(item, "score", json_integer(res[i].score));
		json_object_set_new(item, "priority", json_integer(res[i].priority));
		json_object_set_new(item, "distance_km", json_real(res[i].check.distance_km));
		json_object_set_new(item, "start_date", date_json(res[i].check.start));
		json_object_set_new(item, "reasons", reasons_json(&res[i]));
		json_array_append_new(items, item);
	}
	free(res);
	if (got < 0) {
		json_decref(items);
		req_problem(r, 503, "out-of-memory", "try again");
		return;
	}
	req_reply_json(r, 200, json_pack("{s:I, s:o, s:n}", "offer_id", (json_int_t)o->m.id,
					 "items", items, "next_cursor"));
}
