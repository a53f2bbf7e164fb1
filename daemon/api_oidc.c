/*
 * Sign-in with an OpenID Connect provider (ProConnect or any other): the two
 * routes a browser walks through. The provider itself (discovery, keys, HTTP
 * calls, JWS checks) is oidc.c's.
 *
 * GET /auth/oidc/start
 *   state, nonce and a PKCE verifier (256 random bits each) are kept in
 *   PostgreSQL (oidc_login_begin: state hashed, expiring), the state also in
 *   a short cookie siaod_oidc (HttpOnly, SameSite=Lax, Path=/auth/oidc) that
 *   ties the sign-in to this browser; 302 to the provider's authorization
 *   endpoint (code flow, S256 code challenge).
 *
 * GET /auth/oidc/callback?code=&state=
 *   state equal to the cookie ─▶ oidc_login_take (deleted: works once) ─▶
 *   token endpoint (code, verifier, client secret) ─▶ ID token verified
 *   (oidc_verify: signature by kid, RS256/ES256) and its claims checked
 *   (iss, aud, azp, exp, iat, nonce) ─▶ userinfo (JSON, or a signed JWT
 *   verified the same way; same sub) ─▶ oidc_account: the account bound to
 *   (iss, sub), or the invited account with this e-mail when the provider
 *   says it is verified, never a new one ─▶ session_open (method oidc, the
 *   ID token kept for the provider's logout) ─▶ 302 to public_url/ui/.
 *
 * Every refusal is a French HTML page that says what to do (whom to ask),
 * and a log line with a reason, never a token or an address.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <event2/http.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "account.h"
#include "api.h"
#include "app.h"
#include "log.h"
#include "oidc.h"
#include "session.h"
#include "store.h"

#define OIDC_COOKIE "siaod_oidc"

enum page {
	PAGE_OFF, PAGE_EXPIRED, PAGE_UNAVAILABLE, PAGE_DATABASE, PAGE_REFUSED, PAGE_PROVIDER_ERROR,
	PAGE_UNKNOWN, PAGE_UNVERIFIED, PAGE_DISABLED,
};

/* Status, title and text of each page; %s in a text is the e-mail address
 * the provider gave (escaped), shown to its owner only. */
static const struct {
	int status;
	const char *title;
	const char *text;
} pages[] = {
	[PAGE_OFF] = {404, "Connexion par fournisseur d'identité non activée",
		"Ce siaod n'est pas relié à un fournisseur d'identité. Connectez-vous avec votre adresse "
		"e-mail et votre mot de passe, ou demandez à l'administrateur siaod de votre SIAO."},
	[PAGE_EXPIRED] = {400, "Connexion expirée",
		"Cette tentative de connexion a expiré ou a déjà servi. Recommencez depuis la page de connexion."},
	[PAGE_UNAVAILABLE] = {503, "Service de connexion indisponible",
		"Le service de connexion ne répond pas pour le moment. Réessayez dans quelques minutes ; si cela "
		"dure, prévenez l'administrateur siaod de votre SIAO."},
	[PAGE_DATABASE] = {503, "Connexion impossible pour le moment",
		"siaod ne peut pas terminer votre connexion pour le moment. Réessayez dans quelques instants."},
	[PAGE_REFUSED] = {502, "Connexion refusée par sécurité",
		"La réponse du service de connexion n'a pas pu être vérifiée : par sécurité, vous n'êtes pas "
		"connecté·e. Recommencez depuis la page de connexion ; si cela se reproduit, prévenez "
		"l'administrateur siaod de votre SIAO."},
	[PAGE_PROVIDER_ERROR] = {502, "Connexion interrompue",
		"Le service de connexion n'a pas terminé votre connexion. Recommencez depuis la page de "
		"connexion ; si cela se reproduit, prévenez l'administrateur siaod de votre SIAO."},
	[PAGE_UNKNOWN] = {403, "Pas encore de compte siaod",
		"Vous êtes bien identifié·e (%s), mais aucun compte siaod n'est ouvert à cette adresse. siaod "
		"n'en crée pas tout seul : demandez à l'administrateur ou l'administratrice siaod de votre SIAO "
		"de vous inviter avec cette adresse, puis reconnectez-vous."},
	[PAGE_UNVERIFIED] = {403, "Adresse e-mail non vérifiée",
		"Votre fournisseur d'identité n'atteste pas que l'adresse %s est bien la vôtre : siaod ne peut "
		"pas la relier à votre compte. Faites-la vérifier auprès de votre fournisseur d'identité, ou "
		"demandez à l'administrateur siaod de votre SIAO."},
	[PAGE_DISABLED] = {403, "Compte désactivé",
		"Votre compte siaod (%s) est désactivé. Adressez-vous à l'administrateur ou l'administratrice "
		"siaod de votre SIAO."},
};

/* Text for HTML: & < > " ' escaped, at most size - 1 bytes. */
static void html_escape(const char *s, char *out, size_t size)
{
	size_t o = 0;
	for (; s && *s && o + 7 < size; s++) {
		const char *e = *s == '&' ? "&amp;" : *s == '<' ? "&lt;" : *s == '>' ? "&gt;"
			      : *s == '"' ? "&quot;" : *s == '\'' ? "&#39;" : NULL;
		if (e) {
			size_t n = strlen(e);
			memcpy(out + o, e, n);
			o += n;
		} else {
			out[o++] = *s;
		}
	}
	out[o] = '\0';
}

static void clear_flow_cookie(struct req *r)
{
	char c[160];
	snprintf(c, sizeof c, OIDC_COOKIE "=; Path=/auth/oidc; HttpOnly; SameSite=Lax; Max-Age=0%s",
		 r->app->cfg.session_cookie_secure ? "; Secure" : "");
	req_add_header(r, "Set-Cookie", c);
}

static void answer_page(struct req *r, enum page which, const char *email)
{
	char addr[800], text[2400], body[5000];
	html_escape(email && *email ? email : "adresse inconnue", addr, sizeof addr);
	/* the texts are ours (the table above), each with at most one %s */
	const char *t = pages[which].text, *hole = strstr(t, "%s");
	if (hole)
		snprintf(text, sizeof text, "%.*s%s%s", (int)(hole - t), t, addr, hole + 2);
	else
		snprintf(text, sizeof text, "%s", t);
	snprintf(body, sizeof body,
		 "<!doctype html>\n<html lang=\"fr\"><head><meta charset=\"utf-8\">"
		 "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
		 "<title>%s — siaod</title><style>body{font-family:system-ui,sans-serif;max-width:40rem;"
		 "margin:3rem auto;padding:0 1rem;line-height:1.5;color:#161616}a{color:#000091}</style>"
		 "</head><body><main><h1>%s</h1><p class=\"oidc-message\">%s</p>"
		 "<p><a href=\"/ui/\">Retour à la page de connexion</a></p></main></body></html>\n",
		 pages[which].title, pages[which].title, text);
	req_add_header(r, "Cache-Control", "no-store");
	req_add_header(r, "Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'");
	if (pages[which].status == 503)
		r->retry_after = 30;
	req_reply_raw(r, pages[which].status, "text/html; charset=utf-8", body, strlen(body));
}

static void redirect(struct req *r, const char *url)
{
	static const char body[] = "<!doctype html>\n<p>Redirection…</p>\n";
	req_add_header(r, "Location", url);
	req_add_header(r, "Cache-Control", "no-store");
	req_reply_raw(r, 302, "text/html; charset=utf-8", body, sizeof body - 1);
}

/* The siaod_oidc cookie's value (43 base64url characters) or false. */
static bool flow_cookie(struct req *r, char out[SESSION_ID_LEN + 1])
{
	const char *c = req_header(r, "Cookie");
	const size_t nl = strlen(OIDC_COOKIE);
	for (const char *p = c; p && *p;) {
		while (*p == ' ' || *p == ';')
			p++;
		size_t len = strcspn(p, ";");
		if (len == nl + 1 + SESSION_ID_LEN && strncmp(p, OIDC_COOKIE "=", nl + 1) == 0) {
			memcpy(out, p + nl + 1, SESSION_ID_LEN);
			out[SESSION_ID_LEN] = '\0';
			return true;
		}
		p += len;
	}
	return false;
}

static void redirect_uri(const struct config *cfg, char *out, size_t size)
{
	snprintf(out, size, "%s/auth/oidc/callback", cfg->public_url);
}

/* ------------------------------------------------------------ start */

struct start {
	struct req *r;
	char state[SESSION_ID_LEN + 1];
	char nonce[SESSION_ID_LEN + 1];
	char verifier[SESSION_ID_LEN + 1];
};

static void start_free(struct start *s)
{
	OPENSSL_cleanse(s, sizeof *s);
	free(s);
}

/* A query parameter name=value (value encoded) appended at *pos. */
static bool add_param(char *url, size_t size, size_t *pos, const char *name, const char *value)
{
	char *enc = evhttp_uriencode(value, -1, 0);
	if (!enc)
		return false;
	int n = snprintf(url + *pos, size - *pos, "%s%s=%s", strchr(url, '?') ? "&" : "?", name, enc);
	free(enc);
	if (n < 0 || (size_t)n >= size - *pos)
		return false;
	*pos += (size_t)n;
	return true;
}

static void start_begun(void *arg, PGresult *res)
{
	struct start *s = arg;
	struct req *r = s->r;
	const struct config *cfg = &r->app->cfg;
	const char *endpoint = oidc_endpoint(r->app->oidc, OIDC_AUTHORIZATION);
	if (store_result_failed(res) || !endpoint) {
		start_free(s);
		answer_page(r, endpoint ? PAGE_DATABASE : PAGE_UNAVAILABLE, NULL);
		return;
	}
	/* S256: the challenge is base64url(SHA-256(verifier)) */
	unsigned char md[32];
	char challenge[48], back[600];
	unsigned int mdlen = sizeof md;
	EVP_Digest(s->verifier, strlen(s->verifier), md, &mdlen, EVP_sha256(), NULL);
	oidc_b64url(md, sizeof md, challenge, sizeof challenge);
	redirect_uri(cfg, back, sizeof back);
	char url[4096];
	size_t pos = (size_t)snprintf(url, sizeof url, "%s", endpoint);
	bool ok = pos < sizeof url && add_param(url, sizeof url, &pos, "response_type", "code") &&
		  add_param(url, sizeof url, &pos, "client_id", cfg->oidc_client_id) &&
		  add_param(url, sizeof url, &pos, "redirect_uri", back) &&
		  add_param(url, sizeof url, &pos, "scope", cfg->oidc_scopes) &&
		  add_param(url, sizeof url, &pos, "state", s->state) &&
		  add_param(url, sizeof url, &pos, "nonce", s->nonce) &&
		  add_param(url, sizeof url, &pos, "code_challenge", challenge) &&
		  add_param(url, sizeof url, &pos, "code_challenge_method", "S256");
	if (!ok) {
		start_free(s);
		answer_page(r, PAGE_UNAVAILABLE, NULL);
		return;
	}
	char cookie[200];
	snprintf(cookie, sizeof cookie, OIDC_COOKIE "=%s; Path=/auth/oidc; HttpOnly; SameSite=Lax; Max-Age=%d%s",
		 s->state, cfg->oidc_login_valid_seconds, cfg->session_cookie_secure ? "; Secure" : "");
	req_add_header(r, "Set-Cookie", cookie);
	OPENSSL_cleanse(cookie, sizeof cookie);
	start_free(s);
	log_info("oidc_signin", "outcome=started");
	redirect(r, url);
	OPENSSL_cleanse(url, sizeof url);
}

static void start_ready(void *arg, bool ok)
{
	struct req *r = arg;
	if (!ok) {
		answer_page(r, PAGE_UNAVAILABLE, NULL);
		return;
	}
	struct start *s = calloc(1, sizeof *s);
	if (!s || session_random_id(s->state) != 0 || session_random_id(s->nonce) != 0 ||
	    session_random_id(s->verifier) != 0) {
		free(s);
		answer_page(r, PAGE_DATABASE, NULL);
		return;
	}
	s->r = r;
	char hp[67], valid[16];
	account_link_hash(s->state, hp);
	snprintf(valid, sizeof valid, "%d", r->app->cfg.oidc_login_valid_seconds);
	const char *values[4] = {hp, s->nonce, s->verifier, valid};
	store_query(r->app->store, "SELECT oidc_login_begin($1::bytea, $2, $3, $4::integer)", 4, values,
		    start_begun, s);
}

void api_auth_oidc_start(struct req *r)
{
	if (!oidc_enabled(&r->app->cfg)) {
		answer_page(r, PAGE_OFF, NULL);
		return;
	}
	oidc_when_ready(r->app->oidc, start_ready, r);
}

/* ------------------------------------------------------------ callback */

struct flow {
	struct req *r;
	char *code;
	char *error;                /* the provider's error code, when it sent one */
	char *iss;                  /* the iss parameter (RFC 9207), when sent */
	char nonce[SESSION_ID_LEN + 1];
	char verifier[SESSION_ID_LEN + 1];
	char *id_token;
	char *access_token;
	char *sub;
	json_t *id_claims;
	char email[256];
};

static void flow_free(struct flow *f)
{
	if (f->code) {
		OPENSSL_cleanse(f->code, strlen(f->code));
		free(f->code);
	}
	if (f->id_token) {
		OPENSSL_cleanse(f->id_token, strlen(f->id_token));
		free(f->id_token);
	}
	if (f->access_token) {
		OPENSSL_cleanse(f->access_token, strlen(f->access_token));
		free(f->access_token);
	}
	free(f->error);
	free(f->iss);
	free(f->sub);
	json_decref(f->id_claims);
	OPENSSL_cleanse(f, sizeof *f);
	free(f);
}

/* Ends the flow with a page; reason goes to the log. */
static void flow_fail(struct flow *f, enum page which, const char *reason)
{
	struct req *r = f->r;
	char email[256];
	snprintf(email, sizeof email, "%s", f->email);
	flow_free(f);
	log_warn("oidc_signin_refused", "reason=%s status=%d", reason, pages[which].status);
	clear_flow_cookie(r);
	answer_page(r, which, email);
}

static void session_opened(struct req *r, const char *sid, void *arg)
{
	if (!sid) {
		log_warn("oidc_signin_refused", "reason=session_not_opened status=503");
		clear_flow_cookie(r);
		answer_page(r, PAGE_DATABASE, NULL);
		return;
	}
	char back[600];
	snprintf(back, sizeof back, "%s/ui/", r->app->cfg.public_url);
	session_set_cookie(r, sid);
	clear_flow_cookie(r);
	log_info("oidc_signin", "outcome=ok account=%lld", (long long)(intptr_t)arg);
	redirect(r, back);
}

static void accounted(void *arg, PGresult *res)
{
	struct flow *f = arg;
	if (store_result_failed(res) || PQntuples(res) != 1) {
		flow_fail(f, PAGE_DATABASE, "database");
		return;
	}
	json_error_t jerr;
	json_t *j = json_loads(PQgetvalue(res, 0, 0), 0, &jerr);
	const char *outcome = json_string_value(json_object_get(j, "outcome"));
	json_int_t id = json_integer_value(json_object_get(j, "account_id"));
	bool ok = outcome && strcmp(outcome, "ok") == 0 && id > 0;
	enum page which = !outcome ? PAGE_DATABASE
			: strcmp(outcome, "unverified") == 0 ? PAGE_UNVERIFIED
			: strcmp(outcome, "disabled") == 0 ? PAGE_DISABLED : PAGE_UNKNOWN;
	char reason[40];
	snprintf(reason, sizeof reason, "account_%s", outcome ? outcome : "error");
	json_decref(j);
	if (!ok) {
		flow_fail(f, which, reason);
		return;
	}
	struct req *r = f->r;
	char *id_token = f->id_token;
	f->id_token = NULL;
	flow_free(f);
	session_open(r, (int64_t)id, "oidc", id_token, session_opened, (void *)(intptr_t)id);
	OPENSSL_cleanse(id_token, strlen(id_token));
	free(id_token);
}

static const char *claim_str(const json_t *ui, const json_t *id, const char *name)
{
	const char *v = json_string_value(json_object_get(ui, name));
	return v ? v : json_string_value(json_object_get(id, name));
}

/* The person as the provider describes them (userinfo, else the ID token);
 * ProConnect's claims: email, given_name, usual_name (family_name elsewhere),
 * siret. */
static void got_userinfo(struct flow *f, json_t *ui)
{
	const char *sub = json_string_value(json_object_get(ui, "sub"));
	if (!sub || strcmp(sub, f->sub) != 0) {
		json_decref(ui);
		flow_fail(f, PAGE_REFUSED, "userinfo_sub_mismatch");
		return;
	}
	const char *email = claim_str(ui, f->id_claims, "email");
	const json_t *ev = json_object_get(ui, "email_verified");
	if (!ev)
		ev = json_object_get(f->id_claims, "email_verified");
	/* some providers send the string "true" */
	bool verified = json_is_true(ev) || (json_is_string(ev) && strcmp(json_string_value(ev), "true") == 0);
	const char *given = claim_str(ui, f->id_claims, "given_name");
	const char *family = claim_str(ui, f->id_claims, "usual_name");
	if (!family)
		family = claim_str(ui, f->id_claims, "family_name");
	const char *siret = claim_str(ui, f->id_claims, "siret");
	snprintf(f->email, sizeof f->email, "%s", email && strlen(email) < sizeof f->email ? email : "");
	char name[420];
	snprintf(name, sizeof name, "%.200s%s%.200s", given ? given : "", given && family ? " " : "",
		 family ? family : "");
	/* a SIRET is 14 digits; anything else is not kept */
	bool siret_ok = siret && strlen(siret) == 14 && strspn(siret, "0123456789") == 14;
	const char *values[7] = {oidc_endpoint(f->r->app->oidc, OIDC_ISSUER), f->sub,
				 f->email[0] ? f->email : NULL, verified ? "true" : "false", name,
				 siret_ok ? siret : NULL, f->r->id};
	if (!values[0]) {
		json_decref(ui);
		flow_fail(f, PAGE_UNAVAILABLE, "provider_forgotten");
		return;
	}
	/* the values point into ui: freed once the query has copied them */
	store_query(f->r->app->store, "SELECT oidc_account($1, $2, $3, $4::boolean, $5, $6, $7)", 7, values,
		    accounted, f);
	json_decref(ui);
}

static void userinfo_verified(void *arg, json_t *claims, const char *why)
{
	struct flow *f = arg;
	if (!claims) {
		char reason[48];
		snprintf(reason, sizeof reason, "userinfo_%s", why ? why : "refused");
		flow_fail(f, PAGE_REFUSED, reason);
		return;
	}
	/* a signed userinfo names its issuer and audience (when it does) */
	const char *iss = json_string_value(json_object_get(claims, "iss"));
	const json_t *aud = json_object_get(claims, "aud");
	const char *client = f->r->app->cfg.oidc_client_id;
	bool aud_ok = !aud || (json_is_string(aud) && strcmp(json_string_value(aud), client) == 0);
	size_t i;
	json_t *a;
	json_array_foreach(aud, i, a)
		if (json_is_string(a) && strcmp(json_string_value(a), client) == 0)
			aud_ok = true;
	const char *issuer = oidc_endpoint(f->r->app->oidc, OIDC_ISSUER);
	if ((iss && (!issuer || strcmp(iss, issuer) != 0)) || !aud_ok) {
		json_decref(claims);
		flow_fail(f, PAGE_REFUSED, iss && issuer && strcmp(iss, issuer) != 0 ? "userinfo_wrong_iss"
										      : "userinfo_wrong_aud");
		return;
	}
	got_userinfo(f, claims);
}

static void userinfo_answered(void *arg, long status, const char *ct, const char *body, size_t len)
{
	struct flow *f = arg;
	if (status != 200) {
		flow_fail(f, status ? PAGE_PROVIDER_ERROR : PAGE_UNAVAILABLE, status ? "userinfo_status" : "userinfo_unreachable");
		return;
	}
	if (strncasecmp(ct, "application/jwt", 15) == 0) {
		/* ProConnect signs userinfo: verified like the ID token */
		char *jws = strndup(body, len);
		if (!jws) {
			flow_fail(f, PAGE_DATABASE, "out_of_memory");
			return;
		}
		size_t n = strlen(jws);
		while (n && (jws[n - 1] == '\n' || jws[n - 1] == '\r' || jws[n - 1] == ' '))
			jws[--n] = '\0';
		oidc_verify(f->r->app->oidc, jws, userinfo_verified, f);
		free(jws);
		return;
	}
	json_error_t jerr;
	json_t *ui = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(ui)) {
		json_decref(ui);
		flow_fail(f, PAGE_PROVIDER_ERROR, "userinfo_not_json");
		return;
	}
	got_userinfo(f, ui);
}

static void id_token_verified(void *arg, json_t *claims, const char *why)
{
	struct flow *f = arg;
	struct app *app = f->r->app;
	if (!claims) {
		flow_fail(f, PAGE_REFUSED, why ? why : "refused");
		return;
	}
	const char *bad = oidc_check_id_token(claims, oidc_endpoint(app->oidc, OIDC_ISSUER), app->cfg.oidc_client_id,
					      f->nonce, time(NULL));
	if (bad) {
		json_decref(claims);
		flow_fail(f, PAGE_REFUSED, bad);
		return;
	}
	f->id_claims = claims;
	f->sub = strdup(json_string_value(json_object_get(claims, "sub")));
	if (!f->sub) {
		flow_fail(f, PAGE_DATABASE, "out_of_memory");
		return;
	}
	const char *userinfo = oidc_endpoint(app->oidc, OIDC_USERINFO);
	if (!userinfo || !f->access_token) {
		got_userinfo(f, json_incref(claims));
		return;
	}
	oidc_fetch(app->oidc, userinfo, NULL, f->access_token, false, userinfo_answered, f);
}

static void token_answered(void *arg, long status, const char *ct, const char *body, size_t len)
{
	struct flow *f = arg;
	if (status != 200) {
		flow_fail(f, status ? PAGE_PROVIDER_ERROR : PAGE_UNAVAILABLE, status ? "token_status" : "token_unreachable");
		return;
	}
	json_error_t jerr;
	json_t *j = json_loadb(body, len, 0, &jerr);
	const char *id_token = json_string_value(json_object_get(j, "id_token"));
	const char *access = json_string_value(json_object_get(j, "access_token"));
	const char *type = json_string_value(json_object_get(j, "token_type"));
	if (!id_token || (access && type && strcasecmp(type, "Bearer") != 0)) {
		json_decref(j);
		flow_fail(f, PAGE_PROVIDER_ERROR, "token_answer");
		return;
	}
	f->id_token = strdup(id_token);
	f->access_token = access ? strdup(access) : NULL;
	json_decref(j);
	if (!f->id_token || (access && !f->access_token)) {
		flow_fail(f, PAGE_DATABASE, "out_of_memory");
		return;
	}
	oidc_verify(f->r->app->oidc, f->id_token, id_token_verified, f);
}

/* The form body of the token request (client_secret_post adds the client's
 * credentials), malloc'd. */
static char *token_request(const struct config *cfg, const struct flow *f, bool post_auth)
{
	char back[600];
	redirect_uri(cfg, back, sizeof back);
	const char *names[] = {"grant_type", "code", "redirect_uri", "code_verifier", "client_id", "client_secret"};
	const char *vals[] = {"authorization_code", f->code, back, f->verifier, cfg->oidc_client_id,
			      cfg->oidc_client_secret};
	size_t n = post_auth ? 6 : 4;
	char *out = NULL;
	size_t len = 0;
	for (size_t i = 0; i < n; i++) {
		char *enc = evhttp_uriencode(vals[i], -1, 1);
		if (!enc)
			goto fail;
		size_t add = strlen(names[i]) + strlen(enc) + 2;
		char *grown = realloc(out, len + add + 1);
		if (!grown) {
			OPENSSL_cleanse(enc, strlen(enc));
			free(enc);
			goto fail;
		}
		out = grown;
		len += (size_t)snprintf(out + len, add + 1, "%s%s=%s", i ? "&" : "", names[i], enc);
		OPENSSL_cleanse(enc, strlen(enc));
		free(enc);
	}
	return out;
fail:
	if (out) {
		OPENSSL_cleanse(out, len);
		free(out);
	}
	return NULL;
}

static void callback_ready(void *arg, bool ok)
{
	struct flow *f = arg;
	if (!ok) {
		flow_fail(f, PAGE_UNAVAILABLE, "provider_unavailable");
		return;
	}
	struct app *app = f->r->app;
	/* RFC 9207: an answer that names another issuer is a mix-up */
	const char *issuer = oidc_endpoint(app->oidc, OIDC_ISSUER);
	if (f->iss && (!issuer || strcmp(f->iss, issuer) != 0)) {
		flow_fail(f, PAGE_REFUSED, "wrong_iss_parameter");
		return;
	}
	bool post_auth = oidc_token_auth_post(app->oidc);
	char *body = token_request(&app->cfg, f, post_auth);
	if (!body) {
		flow_fail(f, PAGE_DATABASE, "out_of_memory");
		return;
	}
	oidc_fetch(app->oidc, oidc_endpoint(app->oidc, OIDC_TOKEN), body, NULL, !post_auth, token_answered, f);
	OPENSSL_cleanse(body, strlen(body));
	free(body);
}

static void flow_taken(void *arg, PGresult *res)
{
	struct flow *f = arg;
	if (store_result_failed(res)) {
		flow_fail(f, PAGE_DATABASE, "database");
		return;
	}
	/* oidc_login_take's columns, by name (sql/functions/oidc.sql) */
	int f_nonce = PQfnumber(res, "nonce"), f_verifier = PQfnumber(res, "code_verifier");
	if (PQntuples(res) != 1 || f_nonce < 0 || f_verifier < 0) {
		flow_fail(f, PAGE_EXPIRED, "state_unknown_used_or_expired");
		return;
	}
	snprintf(f->nonce, sizeof f->nonce, "%s", PQgetvalue(res, 0, f_nonce));
	snprintf(f->verifier, sizeof f->verifier, "%s", PQgetvalue(res, 0, f_verifier));
	if (f->error) {
		/* the person cancelled at the provider: back to the sign-in page */
		if (strcmp(f->error, "access_denied") == 0) {
			struct req *r = f->r;
			char back[600];
			snprintf(back, sizeof back, "%s/ui/", r->app->cfg.public_url);
			flow_free(f);
			log_info("oidc_signin", "outcome=cancelled");
			clear_flow_cookie(r);
			redirect(r, back);
			return;
		}
		flow_fail(f, PAGE_PROVIDER_ERROR, "provider_error");
		return;
	}
	if (!f->code) {
		flow_fail(f, PAGE_EXPIRED, "no_code");
		return;
	}
	oidc_when_ready(f->r->app->oidc, callback_ready, f);
}

void api_auth_oidc_callback(struct req *r)
{
	if (!oidc_enabled(&r->app->cfg)) {
		answer_page(r, PAGE_OFF, NULL);
		return;
	}
	const char *state = req_query(r, "state"), *code = req_query(r, "code"), *error = req_query(r, "error"),
		   *iss = req_query(r, "iss");
	char cookie[SESSION_ID_LEN + 1];
	/* the state must come back to the browser that started the sign-in */
	bool mine = state && strlen(state) == SESSION_ID_LEN && flow_cookie(r, cookie) &&
		    CRYPTO_memcmp(cookie, state, SESSION_ID_LEN) == 0;
	OPENSSL_cleanse(cookie, sizeof cookie);
	if (!mine || (code && strlen(code) > 2048) || (error && strlen(error) > 100) || (iss && strlen(iss) > 500)) {
		log_warn("oidc_signin_refused", "reason=%s status=400", !mine ? "state_not_this_browser" : "too_long");
		clear_flow_cookie(r);
		answer_page(r, PAGE_EXPIRED, NULL);
		return;
	}
	struct flow *f = calloc(1, sizeof *f);
	if (!f || (code && !(f->code = strdup(code))) || (error && !(f->error = strdup(error))) ||
	    (iss && !(f->iss = strdup(iss)))) {
		if (f)
			flow_free(f);
		answer_page(r, PAGE_DATABASE, NULL);
		return;
	}
	f->r = r;
	char hp[67];
	account_link_hash(state, hp);
	const char *values[1] = {hp};
	store_query(r->app->store, "SELECT * FROM oidc_login_take($1::bytea)", 1, values, flow_taken, f);
}
