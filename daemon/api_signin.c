/*
 * Signing in and out (routes under /auth, no token): the sign-in page's
 * settings, e-mail + password sign-in with its throttle, sign-out, the
 * invitation and reset links. Answers that a person reads are in French.
 *
 * Password sign-in: the throttle is asked first (login_wait: per account
 * e-mail and per client address, a growing delay, never a lockout), then the
 * stored hash is checked by the Argon2 worker (password.h). An unknown
 * e-mail costs the same hashing work, so timing does not tell who has an
 * account.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

#include "account.h"
#include "api.h"
#include "app.h"
#include "log.h"
#include "mail.h"
#include "oidc.h"
#include "password.h"
#include "session.h"
#include "store.h"
#include "validate.h"

/* Lengths as literals (read by tests/api/test_openapi.py): a link token is
 * SESSION_ID_LEN (43) characters, a password at most PASSWORD_MAX_LEN (256). */
_Static_assert(SESSION_ID_LEN == 43 && PASSWORD_MAX_LEN == 256, "the tables below say 43 and 256");

static const struct vfield login_fields[] = {
	{"email", V_STRING, true, false, 1, 254, NULL, false},
	{"password", V_STRING, true, false, 1, 256, NULL, false},
};

static const struct vfield link_fields[] = {
	{"token", V_STRING, true, false, 43, 43, NULL, false},
};

static const struct vfield setpw_fields[] = {
	{"token", V_STRING, true, false, 43, 43, NULL, false},
	{"password", V_STRING, true, false, 1, 256, NULL, false},
};

static const struct vfield email_fields[] = {
	{"email", V_STRING, true, false, 1, 254, NULL, false},
};

void api_auth_config(struct req *r)
{
	const struct config *c = &r->app->cfg;
	json_t *j = json_pack("{s:b, s:b, s:s, s:b}", "password", c->password_login,
			      "oidc", oidc_enabled(c), "oidc_label", c->oidc_button_label,
			      "mail", mail_enabled(c));
	req_reply_json(r, 200, j);
}

/* The client's address as the gate found it (X-Forwarded-For only behind
 * trusted_proxies). */
static void client_addr(struct req *r, char *out, size_t size)
{
	snprintf(out, size, "%s", r->client[0] ? r->client : "-");
}

static bool origin_checked(struct req *r)
{
	if (session_origin_ok(r))
		return true;
	api_audit_refused(r, "denied", 403);
	req_problem(r, 403, "csrf", "L'origine de cette requête n'est pas ce site.");
	return false;
}

/* The answer to a successful sign-in: the cookie, and what the UI needs. */
static void signed_in(struct req *r, const char *sid, void *arg)
{
	int64_t account_id = (int64_t)(intptr_t)arg;
	if (!sid) {
		req_problem(r, 503, "database-unavailable", "La connexion est impossible pour le moment ; réessayez.");
		return;
	}
	char csrf[SESSION_CSRF_LEN + 1];
	session_csrf(sid, csrf);
	session_set_cookie(r, sid);
	req_reply_json(r, 200, json_pack("{s:I, s:s}", "account_id", (json_int_t)account_id, "csrf_token", csrf));
}

/* ------------------------------------------------------------ password sign-in */

struct login {
	struct req *r;
	char email[256];
	char password[PASSWORD_MAX_LEN + 1];
	char addr[64];
	int64_t account_id;
};

static void login_free(struct login *l)
{
	OPENSSL_cleanse(l->password, sizeof l->password);
	free(l);
}

static void failed_recorded(void *arg, PGresult *res)
{
	struct req *r = arg;
	if (store_result_failed(res))
		log_warn("login", "event=failure_not_recorded");
	req_problem(r, 401, "invalid-credentials", "Adresse e-mail ou mot de passe incorrect.");
}

static void login_verified(void *arg, int result, const char *encoded)
{
	struct login *l = arg;
	struct req *r = l->r;
	if (result < 0) {
		login_free(l);
		req_problem(r, 503, "unavailable", "La connexion est impossible pour le moment ; réessayez.");
		return;
	}
	if (result == 1 && l->account_id > 0) {
		int64_t id = l->account_id;
		login_free(l);
		session_open(r, id, "password", NULL, signed_in, (void *)(intptr_t)id);
		return;
	}
	const char *values[2] = {l->email, l->addr};
	store_query(r->app->store, "SELECT login_failed($1, $2)", 2, values, failed_recorded, r);
	login_free(l);
}

static void login_account(void *arg, PGresult *res)
{
	struct login *l = arg;
	if (store_result_failed(res)) {
		struct req *r = l->r;
		login_free(l);
		api_sql_problem(r, res);
		return;
	}
	struct password *pw = l->r->app->password;
	/* account_password's columns, by name (sql/functions/accounts.sql) */
	int f_id = PQfnumber(res, "id"), f_hash = PQfnumber(res, "password_hash"),
	    f_disabled = PQfnumber(res, "disabled");
	if (PQntuples(res) == 1 && f_id >= 0 && f_hash >= 0 && f_disabled >= 0 &&
	    !PQgetisnull(res, 0, f_hash) && strcmp(PQgetvalue(res, 0, f_disabled), "f") == 0) {
		l->account_id = strtoll(PQgetvalue(res, 0, f_id), NULL, 10);
		password_verify_async(pw, PQgetvalue(res, 0, f_hash), l->password, login_verified, l);
	} else {
		/* no such account, no password, or disabled: the same work, then no */
		l->account_id = 0;
		password_hash_async(pw, l->password, login_verified, l);
	}
}

static void login_throttled(void *arg, PGresult *res)
{
	struct login *l = arg;
	struct req *r = l->r;
	if (store_result_failed(res) || PQntuples(res) != 1) {
		login_free(l);
		api_sql_problem(r, res);
		return;
	}
	int wait = (int)strtol(PQgetvalue(res, 0, 0), NULL, 10);
	if (wait > 0) {
		char detail[200];
		int minutes = (wait + 59) / 60;
		if (wait < 60)
			snprintf(detail, sizeof detail, "Trop de tentatives de connexion. Réessayez dans %d seconde%s.",
				 wait, wait > 1 ? "s" : "");
		else
			snprintf(detail, sizeof detail, "Trop de tentatives de connexion. Réessayez dans %d minute%s.",
				 minutes, minutes > 1 ? "s" : "");
		r->retry_after = wait;
		login_free(l);
		req_problem_full(r, 429, "login-throttled", detail, NULL,
				 json_pack("{s:i}", "retry_after_seconds", wait));
		return;
	}
	const char *values[1] = {l->email};
	store_query(r->app->store, "SELECT * FROM account_password($1)", 1, values, login_account, l);
}

void api_auth_password(struct req *r)
{
	if (!r->app->cfg.password_login) {
		req_problem(r, 404, "password-login-off", "La connexion par mot de passe n'est pas activée.");
		return;
	}
	if (!origin_checked(r) ||
	    !api_validate(r, login_fields, sizeof login_fields / sizeof *login_fields, false))
		return;
	struct login *l = calloc(1, sizeof *l);
	if (!l) {
		req_problem(r, 503, "out-of-memory", "try again");
		return;
	}
	l->r = r;
	snprintf(l->email, sizeof l->email, "%s", json_string_value(json_object_get(r->body, "email")));
	snprintf(l->password, sizeof l->password, "%s", json_string_value(json_object_get(r->body, "password")));
	client_addr(r, l->addr, sizeof l->addr);
	const char *values[2] = {l->email, l->addr};
	store_query(r->app->store, "SELECT login_wait($1, $2)", 2, values, login_throttled, l);
}

/* ------------------------------------------------------------ sign-out */

static void logged_out(void *arg, PGresult *res)
{
	struct req *r = arg;
	if (store_result_failed(res)) {
		api_sql_problem(r, res);
		return;
	}
	session_set_cookie(r, NULL);
	json_t *j = json_pack("{s:b}", "ended", PQntuples(res) == 1);
	/* a session from the provider: its sign-out too (RP-initiated logout,
	 * id_token_hint), which the UI opens; the provider sends the browser
	 * back to public_url/ui/ */
	int f_token = PQfnumber(res, "id_token");   /* session_logout's column (sessions.sql) */
	if (j && PQntuples(res) == 1 && f_token >= 0 && !PQgetisnull(res, 0, f_token)) {
		char *url = oidc_logout_url(r->app, PQgetvalue(res, 0, f_token));
		if (url)
			json_object_set_new(j, "logout_url", json_string(url));
		free(url);
	}
	req_reply_json(r, 200, j);
}

void api_auth_logout(struct req *r)
{
	char sid[SESSION_ID_LEN + 1], hp[67];
	if (!origin_checked(r))
		return;
	if (!session_cookie_value(r, sid)) {
		session_set_cookie(r, NULL);
		req_reply_json(r, 200, json_pack("{s:b}", "ended", 0));
		return;
	}
	account_link_hash(sid, hp);
	OPENSSL_cleanse(sid, sizeof sid);
	const char *values[1] = {hp};
	store_query(r->app->store, "SELECT * FROM session_logout($1::bytea)", 1, values, logged_out, r);
}

/* ------------------------------------------------------------ links */

static void link_peeked(void *arg, PGresult *res)
{
	struct req *r = arg;
	if (store_result_failed(res)) {
		api_sql_problem(r, res);
		return;
	}
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
		req_problem(r, 404, "link-invalid",
			    "Ce lien n'est plus valable (déjà utilisé ou expiré). Demandez-en un nouveau.");
		return;
	}
	req_reply_raw(r, 200, "application/json", PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
}

void api_auth_link(struct req *r)
{
	if (!api_validate(r, link_fields, sizeof link_fields / sizeof *link_fields, false))
		return;
	char hp[67];
	account_link_hash(json_string_value(json_object_get(r->body, "token")), hp);
	const char *values[1] = {hp};
	store_query(r->app->store, "SELECT link_peek($1::bytea)", 1, values, link_peeked, r);
}

/* Accepting an invitation or resetting a password: peek the link (for the
 * e-mail the policy checks), hash the new password in the worker, then use
 * the link and set the password in one statement, then sign in. */
struct setpw {
	struct req *r;
	const char *kind;
	char hash_param[67];
	char password[PASSWORD_MAX_LEN + 1];
};

static void setpw_free(struct setpw *s)
{
	OPENSSL_cleanse(s->password, sizeof s->password);
	free(s);
}

static void setpw_done(void *arg, PGresult *res)
{
	struct req *r = arg;
	if (store_result_failed(res)) {
		api_sql_problem(r, res);
		return;
	}
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
		req_problem(r, 404, "link-invalid",
			    "Ce lien n'est plus valable (déjà utilisé ou expiré). Demandez-en un nouveau.");
		return;
	}
	int64_t id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	session_forget_account(r->app->sessions, id);
	session_open(r, id, "password", NULL, signed_in, (void *)(intptr_t)id);
}

static void setpw_hashed(void *arg, int result, const char *encoded)
{
	struct setpw *s = arg;
	struct req *r = s->r;
	if (result != 0 || !encoded) {
		setpw_free(s);
		req_problem(r, 503, "unavailable", "Le mot de passe n'a pas pu être enregistré ; réessayez.");
		return;
	}
	const char *values[3] = {s->hash_param, s->kind, encoded};
	store_query(r->app->store, "SELECT link_set_password($1::bytea, $2, $3)", 3, values, setpw_done, r);
	setpw_free(s);
}

static void setpw_peeked(void *arg, PGresult *res)
{
	struct setpw *s = arg;
	struct req *r = s->r;
	if (store_result_failed(res)) {
		setpw_free(s);
		api_sql_problem(r, res);
		return;
	}
	json_t *j = PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) ? json_loads(PQgetvalue(res, 0, 0), 0, NULL) : NULL;
	const char *kind = json_string_value(json_object_get(j, "kind"));
	if (!kind || strcmp(kind, s->kind) != 0) {
		json_decref(j);
		setpw_free(s);
		req_problem(r, 404, "link-invalid",
			    "Ce lien n'est plus valable (déjà utilisé ou expiré). Demandez-en un nouveau.");
		return;
	}
	const char *why = password_policy(r->app->cfg.password_min_length, s->password,
					  json_string_value(json_object_get(j, "email")));
	json_decref(j);
	if (why) {
		setpw_free(s);
		json_t *errors = json_pack("[{s:s, s:s, s:s}]", "pointer", "/password", "code", "out_of_range",
					   "detail", why);
		req_problem_full(r, 400, "weak-password", why, errors, NULL);
		return;
	}
	password_hash_async(r->app->password, s->password, setpw_hashed, s);
}

static void set_password(struct req *r, const char *kind)
{
	if (!r->app->cfg.password_login) {
		req_problem(r, 404, "password-login-off", "La connexion par mot de passe n'est pas activée.");
		return;
	}
	if (!origin_checked(r) ||
	    !api_validate(r, setpw_fields, sizeof setpw_fields / sizeof *setpw_fields, false))
		return;
	const char *pw = json_string_value(json_object_get(r->body, "password"));
	struct setpw *s = calloc(1, sizeof *s);
	if (!s) {
		req_problem(r, 503, "out-of-memory", "try again");
		return;
	}
	s->r = r;
	s->kind = kind;
	snprintf(s->password, sizeof s->password, "%s", pw);
	account_link_hash(json_string_value(json_object_get(r->body, "token")), s->hash_param);
	const char *values[1] = {s->hash_param};
	store_query(r->app->store, "SELECT link_peek($1::bytea)", 1, values, setpw_peeked, s);
}

void api_auth_invitation(struct req *r)
{
	set_password(r, "invitation");
}

void api_auth_reset(struct req *r)
{
	set_password(r, "reset");
}

static void reset_requested(void *arg, PGresult *res)
{
	struct req *r = arg;
	if (!res) {
		api_sql_problem(r, res);
		return;
	}
	if (store_result_failed(res))
		log_warn("reset", "event=request_failed");
	/* the same answer whether or not the address has an account */
	req_reply_json(r, 202, json_pack("{s:s}", "detail",
		"Si un compte existe pour cette adresse, un lien de réinitialisation vient d'y être envoyé."));
}

void api_auth_reset_request(struct req *r)
{
	if (!r->app->cfg.password_login) {
		req_problem(r, 404, "password-login-off", "La connexion par mot de passe n'est pas activée.");
		return;
	}
	if (!origin_checked(r) ||
	    !api_validate(r, email_fields, sizeof email_fields / sizeof *email_fields, false))
		return;
	if (!mail_enabled(&r->app->cfg)) {
		req_problem(r, 409, "mail-off",
			    "L'envoi de courriels n'est pas configuré : demandez un nouveau lien à un administrateur.");
		return;
	}
	char url[600], hp[67], mins[16];
	if (account_link_new(&r->app->cfg, "reinitialisation", url, sizeof url, hp) != 0) {
		req_problem(r, 503, "unavailable", "try again");
		return;
	}
	char *mail = mail_reset(&r->app->cfg, url, r->app->cfg.reset_valid_minutes);
	OPENSSL_cleanse(url, sizeof url);
	snprintf(mins, sizeof mins, "%d", r->app->cfg.reset_valid_minutes * 60);
	const char *values[4] = {json_string_value(json_object_get(r->body, "email")), hp, mins, mail};
	store_query(r->app->store, "SELECT reset_request($1, $2::bytea, $3::integer, $4::jsonb)", 4, values,
		    reset_requested, r);
	if (mail)
		OPENSSL_cleanse(mail, strlen(mail));
	free(mail);
}
