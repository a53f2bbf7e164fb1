/*
 * Access tokens (admins only). The token itself is shown once, in the answer
 * to its creation; the database keeps its SHA-256.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "app.h"
#include "auth.h"
#include "store.h"
#include "validate.h"

static const char *const roles[] = {"admin", "referent", "porteur", NULL};

static const struct vfield token_fields[] = {
	{"role", V_ENUM, true, false, 0, 0, roles, false},
	{"label", V_STRING, false, false, 0, 200, NULL, false},
	{"departements", V_DEPARTEMENTS, false, false, 0, AUTH_MAX_DEPARTEMENTS, NULL, false},
	{"porteur_id", V_INT, false, false, 1, INT64_MAX, NULL, false},
	{"expires_at", V_TIMESTAMP, false, true, 0, 0, NULL, false},
	{"account_id", V_INT, false, false, 1, INT64_MAX, NULL, false}, /* accounts: its owner */
};

/* Which scope fields each role needs: referent → départements, porteur → porteur_id. */
json_t *api_token_scope_errors(const json_t *body)
{
	json_t *errors = NULL;
	const char *role = json_string_value(json_object_get(body, "role"));
	const json_t *deps = json_object_get(body, "departements");
	const json_t *pid = json_object_get(body, "porteur_id");
	if (!role)
		return NULL;
	if (strcmp(role, "referent") == 0 && json_array_size(deps) == 0)
		validate_error(&errors, "/departements", "required",
			       "a referent token needs at least one département");
	if (strcmp(role, "referent") != 0 && deps)
		validate_error(&errors, "/departements", "unknown_field", "only referent tokens have départements");
	if (strcmp(role, "porteur") == 0 && !pid)
		validate_error(&errors, "/porteur_id", "required", "a porteur token needs its porteur_id");
	if (strcmp(role, "porteur") != 0 && pid)
		validate_error(&errors, "/porteur_id", "unknown_field", "only porteur tokens have a porteur_id");
	return errors;
}

void api_tokens_create(struct req *r)
{
	if (!api_validate(r, token_fields, sizeof token_fields / sizeof *token_fields, false))
		return;
	json_t *errors = api_token_scope_errors(r->body);
	if (errors) {
		req_problem_full(r, 400, "invalid-field", "the token's scope does not fit its role", errors, NULL);
		return;
	}
	char token[AUTH_TOKEN_LEN + 1], hp[67];
	unsigned char hash[32];
	if (auth_token_generate(token, hash) != 0) {
		req_problem(r, 503, "unavailable", "cannot draw a random token now");
		return;
	}
	auth_hash_param(hash, hp);
	char *body = api_json_param(r, r->body);
	const char *values[3] = {hp, body, r->actor};
	if (body)
		api_sql_create_with_secret(r, "SELECT token_create($1::bytea, $2::jsonb, $3::jsonb)", 3, values,
					   "token", token);
	memset(token, 0, sizeof token);
	free(body);
}

void api_tokens_list(struct req *r)
{
	json_t *f = json_object();
	if (api_list_params(r, f)) {
		char *fs = api_json_param(r, f);
		const char *values[1] = {fs};
		if (fs)
			api_sql_reply(r, "SELECT token_list($1::jsonb)", 1, values, 200, 0);
		free(fs);
	}
	json_decref(f);
}

void api_tokens_revoke(struct req *r)
{
	char id[24];
	snprintf(id, sizeof id, "%lld", (long long)r->ids[0]);
	auth_forget(r->app->auth, r->ids[0]);
	const char *values[2] = {id, r->actor};
	api_sql_reply(r, "SELECT token_revoke($1::bigint, $2::jsonb)", 2, values, 200, 0);
}
