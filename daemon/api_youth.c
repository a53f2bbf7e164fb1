/*
 * Young people: pseudonymous records of needs (a referent's file reference,
 * never a name; needs as codes, never free text). A referent reaches the
 * young people of its départements; an admin all. DELETE erases the personal
 * fields and the person disappears from every answer.
 */
#include <stdio.h>
#include <stdlib.h>

#include "api.h"
#include "siaod/match.h"
#include "validate.h"

/* "placed" is reached through a placement's entry, never set by hand */
static const char *const statuses[] = {"waiting", "closed", NULL};
static const char *const all_statuses[] = {"waiting", "placed", "closed", NULL};

static const struct vfield youth_fields[] = {
	{"ref", V_STRING, true, false, 1, 64, NULL, false},
	{"departement", V_DEPARTEMENT, true, false, 0, 0, NULL, false},
	{"birth_date", V_DATE, true, false, 0, 0, NULL, false},
	{"rqth", V_BOOL, false, false, 0, 0, NULL, false},
	{"gender", V_ENUM, true, false, 0, 0, match_gender_codes, false},
	{"household", V_ENUM, false, false, 0, 0, match_household_codes, false},
	{"has_pets", V_BOOL, false, false, 0, 0, NULL, false},
	{"needs", V_ENUM_ARRAY, false, false, 0, MATCH_NEED_COUNT, match_need_codes, false},
	{"situation", V_ENUM, true, false, 0, 0, match_situation_codes, false},
	{"institution_exit_date", V_DATE, false, true, 0, 0, NULL, false},
	{"commune_insee", V_INSEE, true, false, 0, 0, NULL, false},
	{"max_distance_km", V_INT, false, true, 1, 1000, NULL, false},
	{"monthly_income_eur", V_NUMBER, false, false, 0, 10000, NULL, false},
	{"support_need", V_ENUM, false, false, 0, 0, match_support_codes, false},
	{"wanted_from", V_DATE, false, false, 0, 0, NULL, false},
	{"wanted_months", V_INT, false, false, 1, 60, NULL, false},
	{"registered_at", V_DATE, false, false, 0, 0, NULL, true},
	{"status", V_ENUM, false, false, 0, 0, statuses, false},
	/* the following referent (notifications); default: who registers */
	{"referent_account_id", V_INT, false, true, 1, INT64_MAX, NULL, false},
};
#define NFIELDS (sizeof youth_fields / sizeof *youth_fields)

static void id_text(struct req *r, char id[24])
{
	snprintf(id, 24, "%lld", (long long)r->ids[0]);
}

void api_youth_create(struct req *r)
{
	if (!api_validate(r, youth_fields, NFIELDS, false))
		return;
	char *body = api_json_param(r, r->body);
	const char *values[3] = {body, r->actor, r->today};
	if (body)
		api_sql_reply(r, "SELECT youth_create($1::jsonb, $2::jsonb, $3::date)", 3, values, 201,
			      API_ETAG);
	free(body);
}

void api_youth_list(struct req *r)
{
	json_t *f = json_object();
	if (api_list_params(r, f) && api_query_enum(r, f, "status", all_statuses) &&
	    api_query_departement(r, f, "departement")) {
		char *fs = api_json_param(r, f);
		const char *values[2] = {fs, r->actor};
		if (fs)
			api_sql_reply(r, "SELECT youth_list($1::jsonb, $2::jsonb)", 2, values, 200, 0);
		free(fs);
	}
	json_decref(f);
}

void api_youth_get(struct req *r)
{
	char id[24];
	id_text(r, id);
	const char *values[2] = {id, r->actor};
	api_sql_reply(r, "SELECT youth_get($1::bigint, $2::jsonb)", 2, values, 200, API_ETAG);
}

void api_youth_patch(struct req *r)
{
	char versions[API_IF_MATCH_LEN];
	int match = api_if_match(r, NULL, NULL, versions);
	if (match == -2 || !api_validate(r, youth_fields, NFIELDS, true))
		return;
	char id[24];
	id_text(r, id);
	char *patch = api_json_param(r, r->body);
	const char *values[5] = {id, patch, match > 0 ? versions : NULL, r->actor, r->today};
	if (patch)
		api_sql_reply(r, "SELECT youth_patch($1::bigint, $2::jsonb, youth_if_match($1::bigint, $3::integer[]), "
			      "$4::jsonb, $5::date)",
			      5, values, 200, API_ETAG);
	free(patch);
}

void api_youth_erase(struct req *r)
{
	char id[24];
	id_text(r, id);
	const char *values[3] = {id, r->actor, r->today};
	api_sql_reply(r, "SELECT youth_erase($1::bigint, $2::jsonb, $3::date)", 3, values, 200,
		      0);
}
