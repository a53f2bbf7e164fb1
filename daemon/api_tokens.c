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

struct create {
	struct req *r;
	char token[AUTH_TOKEN_LEN + 1];
};

static void create_done(void *arg, PGresult *res)
{
	struct create *c = arg;
	struct req *r = c->r;
	if (store_result_failed(res)) {
		api_sql_problem(r, res);
	} else {
		json_t *t = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
		if (t)
			json_object_set_new(t, "token", json_string(c->token));
		req_reply_json(r, 201, t);
	}
	/* the only copy of the clear token in this process */
	memset(c->token, 0, sizeof c->token);
	free(c);
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
	struct create *c = calloc(1, sizeof *c);
	unsigned char hash[32];
	if (!c || auth_token_generate(c->token, hash) != 0) {
		free(c);
		req_problem(r, 503, "unavailable", "cannot draw a random token now");
		return;
	}
	c->r = r;
	r->idem_redact = "token";
	char hp[67];
	auth_hash_param(hash, hp);
	char *body = json_dumps(r->body, JSON_COMPACT);
	const char *values[3] = {hp, body, r->actor};
	store_query(r->app->store, "SELECT token_create($1::bytea, $2::jsonb, $3::jsonb)",
		    3, values, create_done, c);
	free(body);
}

void api_tokens_list(struct req *r)
{
	json_t *f = json_object();
	if (api_list_params(r, f)) {
		char *fs = json_dumps(f, JSON_COMPACT);
		const char *values[1] = {fs};
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
