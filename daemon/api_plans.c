/*
 * Allocation plans: for a département and a date, the assignment of its
 * waiting young people to its free places that maximises the total match
 * score (ties: the higher priorities), computed from the inventory by the
 * planner (include/siaod/plan.h), explained pair by pair, stored, and turned
 * into proposals only by an explicit POST .../apply.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "app.h"
#include "inventory.h"
#include "inventory_refresh.h"
#include "log.h"
#include "siaod/date.h"
#include "siaod/match.h"
#include "siaod/plan.h"
#include "store.h"
#include "validate.h"

#define MAX_PRIORITY 800   /* match_priority's ceiling, see match.h */

static const struct vfield plan_fields[] = {
	{"departement", V_DEPARTEMENT, true, false, 0, 0, NULL, false},
	{"on", V_DATE, false, false, 0, 0, NULL, false},
};

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static struct match_params params_on(struct req *r, sdate on)
{
	const struct config *c = &r->app->cfg;
	struct match_params p = {
		.on = on,
		.weights = {c->weight_distance, c->weight_duration, c->weight_affordability,
			    c->weight_support, c->weight_availability},
		.free_places = inventory_free_places_cb,
	};
	date_parse(r->today, &p.today);
	return p;
}

static json_t *reasons_json(const struct match_factor *f)
{
	json_t *a = json_array();
	for (int k = 0; k < MATCH_FACTOR_COUNT; k++)
		json_array_append_new(a, json_pack("{s:s, s:i, s:s}", "factor", match_factor_code(f[k].factor),
						   "points", f[k].points, "detail", f[k].detail));
	return a;
}

/* Offer → column of the plan, by address (sorted, for bsearch). */
struct column_of {
	const struct inv_offer *offer;
	int32_t column;
};

static int cmp_column_of(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)((const struct column_of *)a)->offer;
	uintptr_t y = (uintptr_t)((const struct column_of *)b)->offer;
	return x < y ? -1 : x > y;
}

static int32_t column_of(const struct column_of *cols, int32_t m, const struct inv_offer *o)
{
	struct column_of key = {o, 0};
	const struct column_of *c = bsearch(&key, cols, (size_t)m, sizeof *cols, cmp_column_of);
	return c ? c->column : -1;
}

/* The plan as JSON; NULL when out of memory. Owns nothing it is given. */
static json_t *build_plan(struct req *r, const char *dep, sdate on, int *total_score)
{
	double t_start = now_ms();
	struct inventory *inv = r->app->inv;
	struct match_params p = params_on(r, on);
	size_t ny = inventory_all_youth(inv, NULL, 0), no = inventory_all_offers(inv, NULL, 0);
	const struct inv_youth **all_y = malloc((ny + 1) * sizeof *all_y);
	const struct match_offer **all_o = malloc((no + 1) * sizeof *all_o);
	const struct inv_youth **ys = malloc((ny + 1) * sizeof *ys);
	const struct inv_offer **os = malloc((no + 1) * sizeof *os);
	int32_t *cap = malloc((no + 1) * sizeof *cap);
	struct column_of *col = malloc((no + 1) * sizeof *col);
	size_t ecap = 1024, ne = 0;
	struct plan_edge *edges = malloc(ecap * sizeof *edges);
	const struct match_offer **near = malloc((no + 1) * sizeof *near);
	json_t *plan = NULL;
	struct plan_result res = {0};
	if (!all_y || !all_o || !ys || !os || !cap || !col || !edges || !near)
		goto out;
	inventory_all_youth(inv, all_y, ny);
	inventory_all_offers(inv, all_o, no);
	int32_t n = 0, m = 0;
	json_t *pending = json_array();  /* waiting, but already with a proposal */
	for (size_t i = 0; i < ny; i++) {
		const struct inv_youth *y = all_y[i];
		if (!y->located || strcmp(y->departement, dep) != 0)
			continue;
		if (y->waiting)
			ys[n++] = y;
		else if (y->status_waiting && y->open_placement)
			json_array_append_new(pending, json_pack("{s:I, s:s}", "youth_id", (json_int_t)y->m.id,
								 "why", "has_an_open_placement"));
	}
	sdate *last_end = malloc((no + 1) * sizeof *last_end);
	if (!last_end) {
		json_decref(pending);
		goto out;
	}
	for (size_t j = 0; j < no; j++) {
		const struct inv_offer *o = (const struct inv_offer *)all_o[j];
		if (strcmp(o->departement, dep) == 0 && inventory_free_on(o, on) > 0) {
			last_end[m] = on + 1;
			col[m] = (struct column_of){o, m};
			os[m++] = o;
		}
	}
	qsort(col, (size_t)m, sizeof *col, cmp_column_of);
	/* Eligible pairs, through the offer grid around each young person. */
	for (int32_t i = 0; i < n; i++) {
		const struct match_youth *y = &ys[i]->m;
		size_t k = inventory_offers_near(inv, y->lat, y->lon, y->max_distance_km, near, no);
		int prio = match_priority(y, p.today);
		for (size_t c = 0; c < k && c < no; c++) {
			const struct inv_offer *o = (const struct inv_offer *)near[c];
			struct match_check chk;
			if (strcmp(o->departement, dep) != 0 || match_eligible(&p, y, &o->m, &chk) != MATCH_OK)
				continue;
			int32_t j = column_of(col, m, o);
			if (j < 0)
				continue; /* no place free on that day */
			if (chk.end > last_end[j])
				last_end[j] = chk.end;
			if (ne == ecap) {
				struct plan_edge *grown = realloc(edges, 2 * ecap * sizeof *edges);
				if (!grown)
					goto out;
				edges = grown;
				ecap *= 2;
			}
			edges[ne++] = (struct plan_edge){i, j,
				plan_weight(match_score(&p, y, &o->m, NULL), prio, n, MAX_PRIORITY)};
		}
	}
	/* An offer gives the plan the places free for the longest stay asked
	 * of it: never more young people than its places can take, whatever
	 * the mix of stays. */
	for (int32_t j = 0; j < m; j++)
		cap[j] = inventory_free_places(os[j], on, last_end[j]);
	free(last_end);
	last_end = NULL;
	struct plan_input in = {n, m, cap, edges, ne};
	double t_solve = now_ms();
	if (plan_solve(&in, &res) != 0) {
		json_decref(pending);
		goto out;
	}
	json_t *assignments = json_array(), *unassigned = pending;
	int total = 0;
	for (int32_t i = 0; i < n; i++) {
		const struct match_youth *y = &ys[i]->m;
		int32_t j = res.offer_of[i];
		if (j >= 0) {
			struct match_factor f[MATCH_FACTOR_COUNT];
			int score = match_score(&p, y, &os[j]->m, f);
			sdate start, end;
			char sd[11], ed[11];
			match_period(y, &os[j]->m, on, p.today, &start, &end);
			date_format(start, sd);
			date_format(end, ed);
			total += score;
			/* the stay the plan checked is the one apply proposes */
			json_array_append_new(assignments, json_pack("{s:I, s:I, s:s, s:i, s:i, s:s, s:s, s:o}",
				"youth_id", (json_int_t)y->id, "offer_id", (json_int_t)os[j]->m.id,
				"label", os[j]->label ? os[j]->label : "", "score", score,
				"priority", match_priority(y, p.today), "start_date", sd, "end_date", ed,
				"reasons", reasons_json(f)));
			continue;
		}
		/* Why not: no eligible offer with a free place (and which rules
		 * excluded the département's offers), or the places went to
		 * pairs that scored more. */
		size_t eligible = 0;
		for (size_t e = 0; e < ne; e++)
			eligible += edges[e].person == i;
		json_t *item = json_pack("{s:I, s:s}", "youth_id", (json_int_t)y->id,
					 "why", eligible ? "places_went_to_better_matches" : "no_eligible_free_place");
		if (eligible) {
			json_object_set_new(item, "eligible_offers", json_integer((json_int_t)eligible));
		} else {
			size_t excluded[MATCH_RULE_COUNT] = {0};
			for (size_t c = 0; c < no; c++) {
				const struct inv_offer *o = (const struct inv_offer *)all_o[c];
				if (strcmp(o->departement, dep) != 0)
					continue;
				enum match_rule rule = match_eligible(&p, y, &o->m, NULL);
				excluded[rule == MATCH_OK ? MATCH_RULE_NO_FREE_PLACE : rule]++;
			}
			json_t *ex = json_object();
			for (int rule = 0; rule < MATCH_RULE_COUNT; rule++)
				json_object_set_new(ex, match_rule_code(rule), json_integer((json_int_t)excluded[rule]));
			json_object_set_new(item, "excluded", ex);
		}
		json_array_append_new(unassigned, item);
	}
	*total_score = total;
	log_info("plan", "departement=%s youth=%d offers=%d pairs=%zu build_ms=%.0f solve_ms=%.0f",
		 dep, n, m, ne, t_solve - t_start, now_ms() - t_solve);
	plan = json_pack("{s:o, s:o, s:i, s:i, s:i}", "assignments", assignments, "unassigned", unassigned,
			 "waiting_youth", n, "offers_with_free_places", m, "eligible_pairs", (int)ne);
out:
	plan_result_free(&res);
	free(all_y);
	free(all_o);
	free(ys);
	free(os);
	free(cap);
	free(col);
	free(edges);
	free(near);
	return plan;
}

void api_plans_create(struct req *r)
{
	if (!api_validate(r, plan_fields, sizeof plan_fields / sizeof *plan_fields, false))
		return;
	const char *dep = json_string_value(json_object_get(r->body, "departement"));
	if (!auth_has_departement(&r->who, dep)) {
		api_forbidden(r, "this département is outside this token's scope");
		return;
	}
	sdate on;
	const char *on_s = json_string_value(json_object_get(r->body, "on"));
	date_parse(on_s ? on_s : r->today, &on);
	int total = 0;
	json_t *plan = build_plan(r, dep, on, &total);
	if (!plan) {
		req_problem(r, 503, "out-of-memory", "try again");
		return;
	}
	char *ps = json_dumps(plan, JSON_COMPACT), day[11], tot[16];
	json_decref(plan);
	date_format(on, day);
	snprintf(tot, sizeof tot, "%d", total);
	const char *values[5] = {dep, day, tot, ps, r->actor};
	api_sql_reply(r, "SELECT plan_create($1, $2::date, $3::integer, $4::jsonb, $5::jsonb)", 5, values, 201, 0);
	free(ps);
}

void api_plans_get(struct req *r)
{
	char id[24];
	snprintf(id, sizeof id, "%lld", (long long)r->ids[0]);
	const char *values[2] = {id, r->actor};
	api_sql_reply(r, "SELECT plan_get($1::bigint, $2::jsonb)", 2, values, 200, 0);
}

/* ---------------------------------------------------------------- apply */

/* Applying proposes the chosen pairs one after the other, each in its own
 * transaction: a place taken meanwhile fails that pair only. */
struct apply {
	struct req *r;
	json_t *pairs;      /* [{youth_id, offer_id}] to propose */
	size_t next;
	json_t *results;
	char start[11];
	int64_t *offers, *youth;
	int nids;
};

static void apply_free(struct apply *a)
{
	json_decref(a->pairs);
	json_decref(a->results);
	free(a->offers);
	free(a->youth);
	free(a);
}

static void apply_next(struct apply *a);

static void apply_recorded(void *arg, PGresult *res)
{
	struct apply *a = arg;
	if (store_result_failed(res))
		api_sql_problem(a->r, res);
	else
		req_reply_raw(a->r, 200, "application/json", PQgetvalue(res, 0, 0),
			      (size_t)PQgetlength(res, 0, 0));
	apply_free(a);
}

static void apply_refreshed(void *arg, bool ok)
{
	struct apply *a = arg;
	char id[24];
	snprintf(id, sizeof id, "%lld", (long long)a->r->ids[0]);
	char *results = json_dumps(a->results, JSON_COMPACT);
	const char *values[3] = {id, results ? results : "[]", a->r->actor};
	store_query(a->r->app->store, "SELECT plan_record_applied($1::bigint, $2::jsonb, $3::jsonb)", 3,
		    values, apply_recorded, a);
	free(results);
}

static void pair_done(void *arg, PGresult *res)
{
	struct apply *a = arg;
	json_t *pair = json_array_get(a->pairs, a->next - 1);
	json_t *out = json_pack("{s:O, s:O}", "youth_id", json_object_get(pair, "youth_id"),
				"offer_id", json_object_get(pair, "offer_id"));
	if (!res) {
		json_object_set_new(out, "status", json_integer(503));
		json_object_set_new(out, "problem", json_string("database-unavailable"));
	} else if (store_result_failed(res)) {
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		/* our own problems carry their slug; any other database error is
		 * reported as a conflict, never as the database's own words */
		bool ours = state && strncmp(state, "SI", 2) == 0;
		json_object_set_new(out, "status", json_integer(ours ? atoi(state + 2) : 409));
		json_object_set_new(out, "problem", json_string(ours && msg ? msg : "conflict"));
		const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
		if (ours && detail)
			json_object_set_new(out, "detail", json_string(detail));
	} else {
		json_t *pl = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
		json_object_set_new(out, "status", json_integer(201));
		json_object_set(out, "placement_id", json_object_get(pl, "id"));
		json_decref(pl);
		a->offers[a->nids] = json_integer_value(json_object_get(pair, "offer_id"));
		a->youth[a->nids++] = json_integer_value(json_object_get(pair, "youth_id"));
	}
	json_array_append_new(a->results, out);
	apply_next(a);
}

static void apply_next(struct apply *a)
{
	struct req *r = a->r;
	if (a->next == json_array_size(a->pairs)) {
		/* the answer waits until matches see the new proposals */
		inventory_refresh(r->app->refresh, a->offers, a->nids, a->youth, a->nids,
				  apply_refreshed, a);
		return;
	}
	json_t *pair = json_array_get(a->pairs, a->next++);
	const char *start = json_string_value(json_object_get(pair, "start_date"));
	const char *end = json_string_value(json_object_get(pair, "end_date"));
	if (!start || strcmp(start, r->today) < 0)
		start = a->start;
	/* Things may have changed since the plan: the pair must still pass the
	 * matcher's rules (free places are the database's to decide). */
	const struct inv_youth *y = inventory_youth(r->app->inv, json_integer_value(json_object_get(pair, "youth_id")));
	const struct inv_offer *o = inventory_offer(r->app->inv, json_integer_value(json_object_get(pair, "offer_id")));
	if (y && o) {
		struct match_params p;
		sdate on;
		date_parse(start, &on);
		p = params_on(r, on);
		enum match_rule rule = match_eligible(&p, &y->m, &o->m, NULL);
		if (rule != MATCH_OK && rule != MATCH_RULE_NO_FREE_PLACE) {
			json_array_append_new(a->results, json_pack("{s:O, s:O, s:i, s:s, s:[s]}",
				"youth_id", json_object_get(pair, "youth_id"), "offer_id", json_object_get(pair, "offer_id"),
				"status", 422, "problem", "not-eligible", "rules", match_rule_code(rule)));
			apply_next(a);
			return;
		}
	}
	json_t *body = json_pack("{s:O, s:O, s:s}", "youth_id", json_object_get(pair, "youth_id"),
				 "offer_id", json_object_get(pair, "offer_id"), "start_date", start);
	/* the end the plan checked, unless the start moved to today */
	if (end && start != a->start)
		json_object_set_new(body, "planned_end_date", json_string(end));
	char *bs = json_dumps(body, JSON_COMPACT), hold[16];
	json_decref(body);
	snprintf(hold, sizeof hold, "%d", r->app->cfg.hold_days);
	const char *values[4] = {bs, r->actor, r->today, hold};
	store_query(r->app->store, "SELECT placement_create($1::jsonb, $2::jsonb, $3::date, $4::integer)",
		    4, values, pair_done, a);
	free(bs);
}

/* The pairs asked for must be pairs of the plan; the others are reported. */
static json_t *chosen_pairs(json_t *plan, const json_t *asked, json_t *results)
{
	json_t *assignments = json_object_get(plan, "assignments");
	if (!asked)
		return json_incref(assignments);
	json_t *pairs = json_array();
	size_t i, k;
	const json_t *want, *have;
	json_array_foreach(asked, i, want) {
		bool found = false;
		json_array_foreach(assignments, k, have)
			if (json_equal(json_object_get(have, "youth_id"), json_object_get(want, "youth_id")) &&
			    json_equal(json_object_get(have, "offer_id"), json_object_get(want, "offer_id")))
				found = true;
		if (found) {
			json_array_foreach(assignments, k, have)
				if (json_equal(json_object_get(have, "youth_id"), json_object_get(want, "youth_id")) &&
				    json_equal(json_object_get(have, "offer_id"), json_object_get(want, "offer_id")))
					json_array_append(pairs, (json_t *)have);
		}
		else
			json_array_append_new(results, json_pack("{s:O, s:O, s:i, s:s}",
				"youth_id", json_object_get(want, "youth_id"),
				"offer_id", json_object_get(want, "offer_id"), "status", 422, "problem", "not-in-plan"));
	}
	return pairs;
}

static void plan_loaded(void *arg, PGresult *res)
{
	struct apply *a = arg;
	struct req *r = a->r;
	if (store_result_failed(res)) {
		api_sql_problem(r, res);
		apply_free(a);
		return;
	}
	json_t *plan = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
	a->pairs = chosen_pairs(plan, json_object_get(r->body, "pairs"), a->results);
	const char *on = json_string_value(json_object_get(plan, "on"));
	/* proposals start on the plan's day, or today if that has passed */
	snprintf(a->start, sizeof a->start, "%s", on && strcmp(on, r->today) > 0 ? on : r->today);
	json_decref(plan);
	size_t n = json_array_size(a->pairs);
	a->offers = malloc((n + 1) * sizeof *a->offers);
	a->youth = malloc((n + 1) * sizeof *a->youth);
	if (!a->offers || !a->youth) {
		req_problem(r, 503, "out-of-memory", "try again");
		apply_free(a);
		return;
	}
	apply_next(a);
}

void api_plans_apply(struct req *r)
{
	json_t *pairs = r->body ? json_object_get(r->body, "pairs") : NULL;
	json_t *errors = NULL;
	if (r->body) {
		const char *key;
		json_t *v;
		json_object_foreach(r->body, key, v)
			if (strcmp(key, "pairs") != 0) {
				char ptr[96];
				snprintf(ptr, sizeof ptr, "/%.80s", key);
				validate_error(&errors, ptr, "unknown_field", "only \"pairs\" is accepted");
			}
	}
	if (pairs && !json_is_array(pairs))
		validate_error(&errors, "/pairs", "wrong_type", "expected an array of {youth_id, offer_id}");
	size_t i;
	json_t *p;
	if (pairs && json_is_array(pairs))
		json_array_foreach(pairs, i, p)
			if (!json_is_integer(json_object_get(p, "youth_id")) ||
			    !json_is_integer(json_object_get(p, "offer_id"))) {
				char ptr[32];
				snprintf(ptr, sizeof ptr, "/pairs/%zu", i);
				validate_error(&errors, ptr, "wrong_type", "expected {youth_id, offer_id}");
			}
	if (errors) {
		req_problem_full(r, 400, "invalid-field", "the pairs to apply are malformed", errors, NULL);
		return;
	}
	struct apply *a = calloc(1, sizeof *a);
	if (!a || !(a->results = json_array())) {
		free(a);
		req_problem(r, 503, "out-of-memory", "try again");
		return;
	}
	a->r = r;
	char id[24];
	snprintf(id, sizeof id, "%lld", (long long)r->ids[0]);
	const char *values[2] = {id, r->actor};
	store_query(r->app->store, "SELECT plan_get($1::bigint, $2::jsonb)", 2, values, plan_loaded, a);
}
