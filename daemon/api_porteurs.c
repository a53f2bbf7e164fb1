/*
 * Porteurs: the associations and bodies that hold housing capacity.
 * Admins write; every role reads.
 */
#include <stdio.h>
#include <stdlib.h>

#include "api.h"
#include "validate.h"

static const struct vfield porteur_fields[] = {
	{"name", V_STRING, true, false, 1, 200, NULL, false},
	{"departement", V_DEPARTEMENT, true, false, 0, 0, NULL, false},
	{"target_youth", V_INT, false, false, 0, 100000, NULL, false},
};
#define NFIELDS (sizeof porteur_fields / sizeof *porteur_fields)

void api_porteurs_create(struct req *r)
{
	if (!api_validate(r, porteur_fields, NFIELDS, false))
		return;
	char *body = api_json_param(r, r->body);
	const char *values[2] = {body, r->actor};
	if (body)
		api_sql_reply(r, "SELECT porteur_create($1::jsonb, $2::jsonb)", 2, values, 201, API_ETAG);
	free(body);
}

void api_porteurs_list(struct req *r)
{
	json_t *f = json_object();
	if (api_list_params(r, f) && api_query_departement(r, f, "departement")) {
		char *fs = api_json_param(r, f);
		const char *values[1] = {fs};
		if (fs)
			api_sql_reply(r, "SELECT porteur_list($1::jsonb)", 1, values, 200, 0);
		free(fs);
	}
	json_decref(f);
}

void api_porteurs_get(struct req *r)
{
	char id[24];
	snprintf(id, sizeof id, "%lld", (long long)r->ids[0]);
	const char *values[1] = {id};
	api_sql_reply(r, "SELECT porteur_get($1::bigint)", 1, values, 200, API_ETAG);
}

void api_porteurs_patch(struct req *r)
{
	char versions[API_IF_MATCH_LEN];
	int match = api_if_match(r, NULL, NULL, versions);
	if (match == -2 || !api_validate(r, porteur_fields, NFIELDS, true))
		return;
	char id[24];
	snprintf(id, sizeof id, "%lld", (long long)r->ids[0]);
	char *patch = api_json_param(r, r->body);
	const char *values[4] = {id, patch, match > 0 ? versions : NULL, r->actor};
	if (patch)
		api_sql_reply(r, "SELECT porteur_patch($1::bigint, $2::jsonb, porteur_if_match($1::bigint, $3::integer[]), "
			      "$4::jsonb)",
			      4, values, 200, API_ETAG);
	free(patch);
}
