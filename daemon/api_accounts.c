/*
 * People's accounts (admins): invite by e-mail, change a scope, disable;
 * and a person's own sessions (/v1/me/sessions). The invitation link is
 * shown once, to the admin, in the answer to the invitation; PostgreSQL
 * keeps only its SHA-256.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

#include "account.h"
#include "api.h"
#include "app.h"
#include "auth.h"
#include "mail.h"
#include "session.h"
#include "store.h"
#include "validate.h"

static const char *const roles[] = {"admin", "referent", "porteur", NULL};

static const struct vfield account_fields[] = {
	{"email", V_STRING, true, false, 3, 254, NULL, true},
	{"display_name", V_STRING, false, false, 0, 200, NULL, false},
	{"role", V_ENUM, true, false, 0, 0, roles, false},
	{"departements", V_DEPARTEMENTS, false, false, 0, AUTH_MAX_DEPARTEMENTS, NULL, false},
	{"porteur_id", V_INT, false, true, 1, INT64_MAX, NULL, false},
};

bool account_email_ok(const char *e)
{
	const char *at = e ? strchr(e, '@') : NULL;
	if (!at || at == e || !at[1] || strchr(at + 1, '@') || !strchr(at + 1, '.') || strlen(e) > 254)
		return false;
	for (const char *p = e; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == '<' || *p == '>' || *p == '"' || *p == '\\' ||
		    *p == ',' || *p == ';' || (unsigned char)*p == 0x7f)
			return false;
	return true;
}

int account_link_new(const struct config *cfg, const char *fragment, char *url, size_t urlsize,
		     char hash_param[67])
{
	char tok[SESSION_ID_LEN + 1];
	unsigned char hash[32];
	if (session_random_id(tok) != 0)
		return -1;
	auth_hash(tok, hash);
	auth_hash_param(hash, hash_param);
	/* In the fragment: browsers never send it, so no server log sees it. */
	snprintf(url, urlsize, "%s/ui/#%s=%s", cfg->public_url, fragment, tok);
	OPENSSL_cleanse(tok, sizeof tok);
	return 0;
}

void account_link_hash(const char *token, char hash_param[67])
{
	unsigned char hash[32];
	auth_hash(token, hash);
	auth_hash_param(hash, hash_param);
}

/* An invitation answered with its link, this once. */
struct invite {
	struct req *r;
	char url[600];
};

static void invite_done(void *arg, PGresult *res)
{
	struct invite *iv = arg;
	struct req *r = iv->r;
	if (store_result_failed(res)) {
		api_sql_problem(r, res);
	} else {
		json_t *j = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
		if (j)
			json_object_set_new(j, "invitation_url", json_string(iv->url));
		req_reply_json(r, 201, j);
	}
	OPENSSL_cleanse(iv->url, sizeof iv->url);
	free(iv);
}

static void invite(struct req *r, const char *sql, const char *first, const char *email,
		   const char *name)
{
	struct invite *iv = calloc(1, sizeof *iv);
	char hp[67], secs[16];
	if (!iv || account_link_new(&r->app->cfg, "invitation", iv->url, sizeof iv->url, hp) != 0) {
		free(iv);
		req_problem(r, 503, "unavailable", "cannot draw a random link now");
		return;
	}
	iv->r = r;
	r->idem_redact = "invitation_url"; /* a replay never shows it again */
	snprintf(secs, sizeof secs, "%d", r->app->cfg.invitation_valid_hours * 3600);
	char *mail = email ? mail_invitation(&r->app->cfg, email, name, iv->url,
					     r->app->cfg.invitation_valid_hours) : NULL;
	const char *values[5] = {first, hp, secs, mail, r->actor};
	store_query(r->app->store, sql, 5, values, invite_done, iv);
	if (mail)
		OPENSSL_cleanse(mail, strlen(mail));
	free(mail);
}

void api_accounts_create(struct req *r)
{
	if (!api_validate(r, account_fields, sizeof account_fields / sizeof *account_fields, false))
		return;
	const char *email = json_string_value(json_object_get(r->body, "email"));
	if (!account_email_ok(email)) {
		req_field_error(r, "/email", "out_of_range", "expected an e-mail address");
		return;
	}
	json_t *errors = api_token_scope_errors(r->body);
	if (errors) {
		req_problem_full(r, 400, "invalid-field", "the account's scope does not fit its role", errors, NULL);
		return;
	}
	char *body = json_dumps(r->body, JSON_COMPACT);
	invite(r, "SELECT account_create($1::jsonb, $2::bytea, $3::integer, $4::jsonb, $5::jsonb)", body,
	       email, json_string_value(json_object_get(r->body, "display_name")));
	free(body);
}

struct reinvite {
	struct req *r;
};

static void reinvite_got(void *arg, PGresult *res)
{
	struct req *r = arg;
	if (store_result_failed(res)) {
		api_sql_problem(r, res);
		return;
	}
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
		req_problem(r, 404, "not-found", "no such account");
		return;
	}
	json_t *a = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
	char id[24];
	snprintf(id, sizeof id, "%lld", (long long)r->ids[0]);
	invite(r, "SELECT account_invite_again($1::bigint, $2::bytea, $3::integer, $4::jsonb, $5::jsonb)", id,
	       json_string_value(json_object_get(a, "email")),
	       json_string_value(json_object_get(a, "display_name")));
	json_decref(a);
}

void api_accounts_invite(struct req *r)
{
	char id[24];
	snprintf(id, sizeof id, "%lld", (long long)r->ids[0]);
	const char *values[1] = {id};
	store_query(r->app->store, "SELECT account_get($1::bigint)", 1, values, reinvite_got, r);
}

void api_accounts_list(struct req *r)
{
	json_t *f = json_object();
	if (api_list_params(r, f) && api_query_enum(r, f, "role", roles)) {
		char *fs = json_dumps(f, JSON_COMPACT);
		const char *values[1] = {fs};
		api_sql_reply(r, "SELECT account_list($1::jsonb)", 1, values, 200, 0);
		free(fs);
	}
	json_decref(f);
}

void api_accounts_get(struct req *r)
{
	char id[24];
	snprintf(id, sizeof id, "%lld", (long long)r->ids[0]);
	const char *values[1] = {id};
	api_sql_reply(r, "SELECT account_get($1::bigint)", 1, values, 200, API_ETAG);
}

void api_accounts_patch(struct req *r)
{
	if (!api_validate(r, account_fields, sizeof account_fields / sizeof *account_fields, true))
		return;
	char versions[API_IF_MATCH_LEN];
	int match = api_if_match(r, NULL, NULL, versions);
	if (match == -2)
		return;
	char id[24];
	snprintf(id, sizeof id, "%lld", (long long)r->ids[0]);
	char *body = json_dumps(r->body, JSON_COMPACT);
	const char *values[4] = {id, body, match > 0 ? versions : NULL, r->actor};
	/* a new scope ends the sessions that carried the old one */
	session_forget_account(r->app->sessions, r->ids[0]);
	api_sql_reply(r, "SELECT account_patch($1::bigint, $2::jsonb, account_if_match($1::bigint, $3::integer[]), "
		      "$4::jsonb)", 4, values,
		      200, API_ETAG);
	free(body);
}

void api_accounts_disable(struct req *r)
{
	char id[24];
	snprintf(id, sizeof id, "%lld", (long long)r->ids[0]);
	const char *values[2] = {id, r->actor};
	auth_forget_account(r->app->auth, r->ids[0]);
	session_forget_account(r->app->sessions, r->ids[0]);
	api_sql_reply(r, "SELECT account_disable($1::bigint, $2::jsonb)", 2, values, 200, API_ETAG);
}

void api_accounts_enable(struct req *r)
{
	char id[24];
	snprintf(id, sizeof id, "%lld", (long long)r->ids[0]);
	const char *values[2] = {id, r->actor};
	api_sql_reply(r, "SELECT account_enable($1::bigint, $2::jsonb)", 2, values, 200, API_ETAG);
}

/* ------------------------------------------------------------ my sessions */

static bool has_account(struct req *r)
{
	if (r->who.account_id > 0)
		return true;
	req_problem(r, 404, "no-account", "this token belongs to no account");
	return false;
}

void api_me_sessions(struct req *r)
{
	if (!has_account(r))
		return;
	char acc[24], cur[24], idle[16];
	snprintf(acc, sizeof acc, "%lld", (long long)r->who.account_id);
	snprintf(cur, sizeof cur, "%lld", (long long)r->who.session_id);
	snprintf(idle, sizeof idle, "%d", r->app->cfg.session_idle_seconds);
	const char *values[3] = {acc, cur, idle};
	api_sql_reply(r, "SELECT session_list($1::bigint, $2::bigint, $3::integer)", 3, values, 200, 0);
}

void api_me_session_end(struct req *r)
{
	if (!has_account(r))
		return;
	char acc[24], sid[24];
	snprintf(acc, sizeof acc, "%lld", (long long)r->who.account_id);
	snprintf(sid, sizeof sid, "%lld", (long long)r->ids[0]);
	const char *values[3] = {acc, sid, r->actor};
	session_forget_account(r->app->sessions, r->who.account_id);
	if (r->ids[0] == r->who.session_id)
		session_set_cookie(r, NULL);
	api_sql_reply(r, "SELECT session_end($1::bigint, $2::bigint, $3::jsonb)", 3, values, 200, 0);
}

void api_me_sessions_end_all(struct req *r)
{
	if (!has_account(r))
		return;
	char acc[24];
	snprintf(acc, sizeof acc, "%lld", (long long)r->who.account_id);
	const char *values[3] = {acc, NULL, r->actor};
	session_forget_account(r->app->sessions, r->who.account_id);
	if (r->who.session_id)
		session_set_cookie(r, NULL);
	api_sql_reply(r, "SELECT session_end($1::bigint, $2::bigint, $3::jsonb)", 3, values, 200, 0);
}
