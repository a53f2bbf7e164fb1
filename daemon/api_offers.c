/*
 * Offers: a porteur's housing capacity (IML, ALT, studios-tiroirs, FJT beds,
 * shared flats). A porteur writes its own; an admin writes any; all read.
 * DELETE closes an offer, it never removes it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "app.h"
#include "config.h"
#include "siaod/date.h"
#include "validate.h"

static const char *const genders[] = {"any", "female", "male", NULL};
static const char *const levels[] = {"light", "standard", "intensive", NULL};
static const char *const statuses[] = {"open", "closed", NULL};

static const struct vfield offer_fields[] = {
	{"porteur_id", V_INT, false, false, 1, INT64_MAX, NULL, true},
	{"kind", V_ENUM, true, false, 0, 0, api_kinds, false},
	{"label", V_STRING, true, false, 1, 200, NULL, false},
	{"commune_insee", V_INSEE, true, false, 0, 0, NULL, false},
	{"departement", V_DEPARTEMENT, false, false, 0, 0, NULL, false},
	{"lat", V_NUMBER, false, false, -90, 90, NULL, false},
	{"lon", V_NUMBER, false, false, -180, 180, NULL, false},
	{"capacity", V_INT, true, false, 0, 1000, NULL, false},
	{"max_stay_days", V_INT, false, true, 1, 3650, NULL, false},
	{"min_age", V_INT, false, false, 16, 29, NULL, false},
	{"max_age", V_INT, false, false, 16, 29, NULL, false},
	{"gender", V_ENUM, false, false, 0, 0, genders, false},
	{"accepts_couples", V_BOOL, false, false, 0, 0, NULL, false},
	{"accepts_children", V_BOOL, false, false, 0, 0, NULL, false},
	{"accepts_pets", V_BOOL, false, false, 0, 0, NULL, false},
	{"wheelchair_accessible", V_BOOL, false, false, 0, 0, NULL, false},
	{"support_level", V_ENUM, false, false, 0, 0, levels, false},
	{"monthly_charge_eur", V_NUMBER, false, false, 0, 5000, NULL, false},
	{"available_from", V_DATE, false, false, 0, 0, NULL, false},
	{"available_until", V_DATE, false, true, 0, 0, NULL, false},
	{"status", V_ENUM, false, false, 0, 0, statuses, false},
};
#define NFIELDS (sizeof offer_fields / sizeof *offer_fields)

/* Rules between fields of one body; the database re-checks them on the
 * merged row of a patch (CHECK constraints). */
static json_t *cross_field_errors(const json_t *b)
{
	json_t *errors = NULL;
	const char *kind = json_string_value(json_object_get(b, "kind"));
	const json_t *msd = json_object_get(b, "max_stay_days");
	if (kind && strcmp(kind, "shared_flat") == 0 && msd &&
	    (json_is_null(msd) || json_integer_value(msd) > 90))
		validate_error(&errors, "/max_stay_days", "out_of_range",
			       "a shared flat caps stays at 90 days at most");
	const json_t *mn = json_object_get(b, "min_age"), *mx = json_object_get(b, "max_age");
	if (mn && mx && json_integer_value(mn) > json_integer_value(mx))
		validate_error(&errors, "/max_age", "out_of_range", "must not be below min_age");
	const char *from = json_string_value(json_object_get(b, "available_from"));
	const char *until = json_string_value(json_object_get(b, "available_until"));
	if (from && until && strcmp(until, from) < 0)
		validate_error(&errors, "/available_until", "out_of_range",
			       "must not be before available_from");
	if ((json_object_get(b, "lat") != NULL) != (json_object_get(b, "lon") != NULL))
		validate_error(&errors, json_object_get(b, "lat") ? "/lon" : "/lat", "required",
			       "lat and lon go together");
	return errors;
}

static bool offer_body_ok(struct req *r, bool patch)
{
	if (!api_validate(r, offer_fields, NFIELDS, patch))
		return false;
	json_t *errors = cross_field_errors(r->body);
	if (errors) {
		req_problem_full(r, 400, "invalid-field", "some fields contradict each other", errors, NULL);
		return false;
	}
	return true;
}

void api_offers_create(struct req *r)
{
	if (!offer_body_ok(r, false))
		return;
	json_t *pid = json_object_get(r->body, "porteur_id");
	if (r->who.role == ROLE_PORTEUR) {
		if (pid && json_integer_value(pid) != r->who.porteur_id) {
			api_forbidden(r, "a porteur token registers offers of its own porteur only");
			return;
		}
		json_object_set_new(r->body, "porteur_id", json_integer(r->who.porteur_id));
	} else if (!pid) {
		req_field_error(r, "/porteur_id", "required", "say which porteur holds the offer");
		return;
	}
	int kind = config_kind_parse(json_string_value(json_object_get(r->body, "kind")));
	char dflt[16];
	int cap = r->app->cfg.max_stay_days[kind];
	snprintf(dflt, sizeof dflt, "%d", cap);
	char *body = json_dumps(r->body, JSON_COMPACT);
	const char *values[4] = {body, r->actor, r->today, cap > 0 ? dflt : NULL};
	api_sql_reply(r, "SELECT offer_create($1::jsonb, $2::jsonb, $3::date, $4::integer)",
		      4, values, 201, API_ETAG | API_REFRESH_OFFER);
	free(body);
}

void api_offers_list(struct req *r)
{
	json_t *f = json_object();
	if (api_list_params(r, f) && api_query_departement(r, f, "departement") &&
	    api_query_enum(r, f, "kind", api_kinds) && api_query_enum(r, f, "status", statuses) &&
	    api_query_int(r, f, "porteur_id", 1, INT64_MAX) &&
	    api_query_int(r, f, "min_free", 0, 1000) &&
	    api_query_date(r, f, "available_on", r->today)) {
		char *fs = json_dumps(f, JSON_COMPACT);
		const char *values[1] = {fs};
		api_sql_reply(r, "SELECT offer_list($1::jsonb)", 1, values, 200, 0);
		free(fs);
	}
	json_decref(f);
}

void api_offers_get(struct req *r)
{
	json_t *f = json_object();
	if (api_query_date(r, f, "available_on", r->today)) {
		char id[24];
		snprintf(id, sizeof id, "%lld", (long long)r->ids[0]);
		const char *values[2] = {id, json_string_value(json_object_get(f, "available_on"))};
		api_sql_reply(r, "SELECT offer_get($1::bigint, $2::date)", 2, values, 200, API_ETAG);
	}
	json_decref(f);
}

void api_offers_patch(struct req *r)
{
	long long match = api_if_match(r);
	if (match == -2 || !offer_body_ok(r, true))
		return;
	char id[24], ver[24];
	snprintf(id, sizeof id, "%lld", (long long)r->ids[0]);
	snprintf(ver, sizeof ver, "%lld", match);
	char *patch = json_dumps(r->body, JSON_COMPACT);
	const char *values[5] = {id, patch, match >= 0 ? ver : NULL, r->actor, r->today};
	api_sql_reply(r, "SELECT offer_patch($1::bigint, $2::jsonb, $3::integer, $4::jsonb, $5::date)",
		      5, values, 200, API_ETAG | API_REFRESH_OFFER);
	free(patch);
}

void api_offers_close(struct req *r)
{
	char id[24];
	snprintf(id, sizeof id, "%lld", (long long)r->ids[0]);
	const char *values[3] = {id, r->actor, r->today};
	api_sql_reply(r, "SELECT offer_close($1::bigint, $2::jsonb, $3::date)", 3, values, 200,
		      API_ETAG | API_REFRESH_OFFER);
}
