/*
 * Webhook subscriptions and their delivery log. A subscription's scope (a
 * département or a porteur) never exceeds the token's; its secret is shown
 * once, in the answer to its creation.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>

#include "api.h"
#include "app.h"
#include "netaddr.h"
#include "signature.h"
#include "store.h"
#include "validate.h"
#include "webhooks.h"

static const char *const event_types[] = {"stay.ending_soon", "stay.overdue",
					  "offer.capacity_available", "placement.status_changed",
					  "hold.expired", "offer.reconfirm_due", NULL};
static const char *const delivery_statuses[] = {"pending", "delivering", "succeeded", "failed", NULL};

static const struct vfield webhook_fields[] = {
	{"url", V_STRING, true, false, 1, 2000, NULL, false},
	{"event_types", V_ENUM_ARRAY, true, false, 1, 6, event_types, false},
	{"departement", V_DEPARTEMENT, false, false, 0, 0, NULL, false},
	{"porteur_id", V_INT, false, false, 1, INT64_MAX, NULL, false},
	{"label", V_STRING, false, false, 0, 200, NULL, false},
};

/* http or https, a host, no credentials; loopback and private hosts only
 * when the config allows them. NULL when fine, else the reason. */
static const char *url_problem(const char *url, bool allow_private, const char **code)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *user = NULL, *password = NULL;
	const char *why = NULL;
	*code = "wrong_type";
	if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
		why = "not an absolute URL";
		goto out;
	}
	curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
	curl_url_get(u, CURLUPART_HOST, &host, 0);
	curl_url_get(u, CURLUPART_USER, &user, 0);
	curl_url_get(u, CURLUPART_PASSWORD, &password, 0);
	*code = "unknown_value";
	if (!scheme || (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0))
		why = "only http and https URLs";
	else if (!host || !*host || strstr(url, ":///"))   /* curl reads "http:///x" as host x */
		why = "the URL has no host";
	else if (user || password)
		why = "no credentials in the URL: authenticate the signature instead";
	else if (!allow_private && netaddr_host_is_private(host)) {
		*code = "out_of_range";
		why = "loopback and private addresses are refused (webhook_allow_private)";
	}
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(user);
	curl_free(password);
	curl_url_cleanup(u);
	return why;
}

void api_webhooks_create(struct req *r)
{
	if (!api_validate(r, webhook_fields, sizeof webhook_fields / sizeof *webhook_fields, false))
		return;
	const char *code, *why = url_problem(json_string_value(json_object_get(r->body, "url")),
					     r->app->cfg.webhook_allow_private, &code);
	if (why) {
		req_field_error(r, "/url", code, why);
		return;
	}
	json_t *dep = json_object_get(r->body, "departement"), *pid = json_object_get(r->body, "porteur_id");
	if (dep && pid) {
		req_field_error(r, "/porteur_id", "unknown_field", "a subscription is scoped to a département or a porteur, not both");
		return;
	}
	/* the scope never exceeds the token's */
	if (r->who.role == ROLE_REFERENT) {
		if (pid) {
			api_forbidden(r, "a referent token subscribes for its départements only");
			return;
		}
		if (!dep && r->who.ndep == 1)
			json_object_set_new(r->body, "departement", json_string(r->who.departements[0]));
		else if (!dep) {
			req_field_error(r, "/departement", "required", "say which of this token's départements");
			return;
		} else if (!auth_has_departement(&r->who, json_string_value(dep))) {
			api_forbidden(r, "this département is outside this token's scope");
			return;
		}
	} else if (r->who.role == ROLE_PORTEUR) {
		if (dep || (pid && json_integer_value(pid) != r->who.porteur_id)) {
			api_forbidden(r, "a porteur token subscribes for its own porteur only");
			return;
		}
		json_object_set_new(r->body, "porteur_id", json_integer(r->who.porteur_id));
	}
	char secret[SIGNATURE_SECRET_LEN + 1];
	if (signature_secret_new(secret) != 0) {
		req_problem(r, 503, "unavailable", "cannot draw a secret now");
		return;
	}
	char *body = api_json_param(r, r->body);
	const char *values[3] = {body, secret, r->actor};
	if (body)
		api_sql_create_with_secret(r, "SELECT webhook_create($1::jsonb, $2, $3::jsonb)", 3, values,
					   "secret", secret);
	memset(secret, 0, sizeof secret);
	free(body);
}

void api_webhooks_list(struct req *r)
{
	json_t *f = json_object();
	if (api_list_params(r, f)) {
		char *fs = api_json_param(r, f);
		const char *values[2] = {fs, r->actor};
		if (fs)
			api_sql_reply(r, "SELECT webhook_list($1::jsonb, $2::jsonb)", 2, values, 200, 0);
		free(fs);
	}
	json_decref(f);
}

void api_webhooks_delete(struct req *r)
{
	char id[24];
	snprintf(id, sizeof id, "%lld", (long long)r->ids[0]);
	const char *values[2] = {id, r->actor};
	api_sql_reply(r, "SELECT webhook_delete($1::bigint, $2::jsonb)", 2, values, 200, 0);
}

void api_webhooks_deliveries(struct req *r)
{
	json_t *f = json_object();
	if (api_list_params(r, f) && api_query_enum(r, f, "status", delivery_statuses)) {
		char id[24];
		snprintf(id, sizeof id, "%lld", (long long)r->ids[0]);
		char *fs = api_json_param(r, f);
		const char *values[3] = {id, fs, r->actor};
		if (fs)
			api_sql_reply(r, "SELECT delivery_list($1::bigint, $2::jsonb, $3::jsonb)", 3, values, 200, 0);
		free(fs);
	}
	json_decref(f);
}

void api_webhooks_retry(struct req *r)
{
	char id[24], did[24];
	snprintf(id, sizeof id, "%lld", (long long)r->ids[0]);
	snprintf(did, sizeof did, "%lld", (long long)r->ids[1]);
	const char *values[3] = {id, did, r->actor};
	api_sql_reply(r, "SELECT delivery_retry($1::bigint, $2::bigint, $3::jsonb)", 3, values, 200, 0);
	webhooks_kick(r->app);
}
