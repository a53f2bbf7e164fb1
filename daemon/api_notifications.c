/*
 * People's notifications: the in-app centre (the person's own list, marked
 * read when opened), their preferences per kind (immediately, daily digest,
 * off), and the one-click unsubscribe of the mails (RFC 8058), outside /v1:
 * authorised by the signed token of the link alone, no session, no CSRF
 * token (a mail client posts it). See notify.h and
 * sql/functions/notifications.sql.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "app.h"
#include "log.h"
#include "notify.h"
#include "store.h"

static const char *const booleans[] = {"true", "false", NULL};

/* The caller's account id as text; a token without an account is refused
 * by the SQL functions (notifications belong to people). */
static void account_text(struct req *r, char out[24])
{
	snprintf(out, 24, "%lld", (long long)r->who.account_id);
}

void api_notifications_list(struct req *r)
{
	json_t *f = json_object();
	if (api_list_params(r, f) && api_query_enum(r, f, "unread", booleans)) {
		char *fj = api_json_param(r, f), acc[24];
		account_text(r, acc);
		const char *values[3] = {acc, fj, r->today};
		if (fj)
			api_sql_reply(r, "SELECT notification_list($1::bigint, $2::jsonb, $3::date)", 3, values, 200, 0);
		free(fj);
	}
	json_decref(f);
}

void api_notifications_read(struct req *r)
{
	char acc[24], id[24];
	account_text(r, acc);
	snprintf(id, sizeof id, "%lld", (long long)r->ids[0]);
	const char *values[3] = {acc, id, r->today};
	api_sql_reply(r, "SELECT notification_read($1::bigint, $2::bigint, $3::date)", 3, values, 200, 0);
}

void api_notification_prefs_get(struct req *r)
{
	char acc[24], hour[8];
	account_text(r, acc);
	snprintf(hour, sizeof hour, "%d", r->app->cfg.digest_hour);
	const char *values[2] = {acc, hour};
	api_sql_reply(r, "SELECT notification_prefs_get($1::bigint, $2::integer)", 2, values, 200, 0);
}

void api_notification_prefs_set(struct req *r)
{
	const json_t *items = json_object_get(r->body, "items");
	if (!json_is_array(items)) {
		req_field_error(r, "/items", items ? "wrong_type" : "required", "an array of {kind, mode}");
		return;
	}
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)r->body, key, v) {
		if (strcmp(key, "items") != 0) {
			char ptr[80];
			snprintf(ptr, sizeof ptr, "/%.60s", key);
			req_field_error(r, ptr, "unknown_field", "only items");
			return;
		}
	}
	size_t i;
	json_array_foreach(items, i, v) {
		if (!json_is_object(v) || !json_is_string(json_object_get(v, "kind")) ||
		    !json_is_string(json_object_get(v, "mode")) || json_object_size(v) != 2) {
			char ptr[32];
			snprintf(ptr, sizeof ptr, "/items/%zu", i);
			req_field_error(r, ptr, "wrong_type", "{kind, mode}, both strings");
			return;
		}
	}
	char acc[24], hour[8];
	account_text(r, acc);
	snprintf(hour, sizeof hour, "%d", r->app->cfg.digest_hour);
	char *body = api_json_param(r, r->body);
	const char *values[4] = {acc, body, hour, r->actor};
	if (body)
		api_sql_reply(r, "SELECT notification_prefs_put($1::bigint, $2::jsonb, $3::integer, $4::jsonb)", 4,
			      values, 200, 0);
	free(body);
}

/* ------------------------------------------------------------ unsubscribe */

static void html_page(struct req *r, int status, const char *title, const char *body)
{
	char *page = NULL;
	int n = asprintf(&page,
			 "<!DOCTYPE html><html lang=\"fr\"><head><meta charset=\"utf-8\">"
			 "<meta name=\"viewport\" content=\"width=device-width\"><title>%s</title></head>"
			 "<body style=\"font-family:sans-serif;max-width:40em;margin:2em auto\"><h1>%s</h1>%s</body></html>",
			 title, title, body);
	if (n < 0) {
		req_problem(r, 503, "out-of-memory", "out of memory");
		return;
	}
	req_add_header(r, "Cache-Control", "no-store");
	req_add_header(r, "Referrer-Policy", "no-referrer");
	req_reply_raw(r, status, "text/html; charset=utf-8", page, (size_t)n);
	free(page);
}

/* The token of ?token=, checked; false when answered. */
static bool unsubscribe_token(struct req *r, int64_t *account, char *kind, size_t size)
{
	if (!r->app->notify) {
		req_problem(r, 503, "unavailable", "try again later");
		return false;
	}
	if (!notify_token_check(r->app, req_query(r, "token"), account, kind, size)) {
		req_problem(r, 404, "not-found", "this unsubscribe link is not valid; see \"Mon compte\" in siaod");
		return false;
	}
	return true;
}

/* GET: a page with the button (a link opened, or prefetched by a mail
 * scanner, changes nothing). */
void api_unsubscribe_page(struct req *r)
{
	int64_t account;
	char kind[32];
	if (!unsubscribe_token(r, &account, kind, sizeof kind))
		return;
	/* the token is [0-9a-z_.A-Z-]: safe in the attribute as it is */
	char body[600];
	snprintf(body, sizeof body,
		 "<p>Ne plus recevoir par e-mail les notifications de ce type ? Elles restent visibles dans "
		 "siaod, et vous pourrez changer d'avis dans « Mon compte ».</p>"
		 "<form method=\"post\" action=\"?token=%s\"><button type=\"submit\">Me désabonner</button></form>",
		 req_query(r, "token"));
	html_page(r, 200, "Se désabonner", body);
}

static void unsubscribed(void *arg, PGresult *res)
{
	struct req *r = arg;
	if (store_result_failed(res)) {
		api_sql_problem(r, res);
		return;
	}
	html_page(r, 200, "Désabonnement enregistré",
		  "<p>Vous ne recevrez plus ces notifications par e-mail. Elles restent visibles dans siaod ; "
		  "vous pouvez les rétablir dans « Mon compte ».</p>");
}

/* POST: RFC 8058's one click (body "List-Unsubscribe=One-Click"), or the
 * page's button; idempotent. */
void api_unsubscribe(struct req *r)
{
	int64_t account;
	char kind[32], acc[24];
	if (!unsubscribe_token(r, &account, kind, sizeof kind))
		return;
	snprintf(acc, sizeof acc, "%lld", (long long)account);
	const char *values[2] = {acc, kind};
	log_info("unsubscribe", "kind=%s", kind);
	store_query(r->app->store, "SELECT notification_unsubscribe($1::bigint, $2)", 2, values, unsubscribed, r);
}
