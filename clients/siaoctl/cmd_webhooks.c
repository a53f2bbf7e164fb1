/*
 * siaoctl webhooks: subscribe a URL to events (its signing secret is shown
 * once) and list the subscriptions (POST/GET /v1/webhooks).
 */
#include <stdio.h>
#include <stdlib.h>

#include "body.h"
#include "output.h"
#include "siaoctl.h"
#include "table.h"

const char cmd_webhooks_help[] =
	"usage: siaoctl webhooks add --url TARGET_URL --events a,b [--departement D | --porteur ID]\n"
	"                            [--label L]\n"
	"       siaoctl webhooks ls [--limit N]\n"
	"\n"
	"add  subscribes TARGET_URL to the events: stay.ending_soon, stay.overdue,\n"
	"     offer.capacity_available, placement.status_changed, hold.expired; scoped\n"
	"     to a département or a porteur (by default the token's own). Prints the\n"
	"     signing secret (whsec_...) once: store it now, it cannot be read again.\n"
	"     Here --url is the subscriber's URL: give the server before the command\n"
	"     (siaoctl --url SERVER webhooks add ...), as --server, or by SIAOCTL_URL.\n"
	"ls   the subscriptions this token may see.\n"
	"\n"
	"Global options: --url URL (or --server URL), --token TOKEN, --json (the API's JSON).\n";

/* The record's fields in the order people read them. */
static const char *const webhook_fields[] = {
	"id", "url", "event_types", "departement", "porteur_id", "label", "status",
	"disabled_reason", "created_at", NULL,
};

static int webhooks_add(struct ctx *c, int argc, char **argv)
{
	const char *url = NULL, *events = NULL, *dep = NULL, *porteur = NULL, *label = NULL;
	const struct args_opt opts[] = {
		{"url", ARGS_VALUE, &url, NULL}, {"events", ARGS_VALUE, &events, NULL},
		{"departement", ARGS_VALUE, &dep, NULL}, {"porteur", ARGS_VALUE, &porteur, NULL},
		{"label", ARGS_VALUE, &label, NULL},
	};
	struct args_pos pos;
	if (!ctx_args(c, argc, argv, opts, sizeof opts / sizeof *opts, &pos, 0, 0, NULL))
		return c->exit;
	if (!ctx_require(c, "--url", url) || !ctx_require(c, "--events", events))
		return c->exit;
	if (dep && porteur) {
		args_error(c->what, "give --departement or --porteur, not both");
		return SIAOCTL_EXIT_USAGE;
	}
	json_t *b = json_object();
	if (!body_string(c, b, "url", "--url", url) ||
	    !body_list(c, b, "event_types", "--events", events) ||
	    !body_string(c, b, "departement", "--departement", dep) ||
	    !body_int(c, b, "porteur_id", "--porteur", porteur, NULL) ||
	    !body_string(c, b, "label", "--label", label)) {
		json_decref(b);
		return c->exit;
	}
	json_t *w;
	int rc = ctx_call(c, "POST", "/v1/webhooks", b, &w);
	json_decref(b);
	if (rc != 0)
		return rc;
	if (c->json) {
		ctx_print_json(w);
	} else {
		char *secret = out_text(json_object_get(w, "secret"));
		table_clean(secret);
		printf("webhook %lld created\n", (long long)json_integer_value(json_object_get(w, "id")));
		json_object_del(w, "secret");
		out_record(stdout, w, webhook_fields);
		printf("\nsecret: %s\n", secret);
		printf("(shown once: store it now; it signs every delivery and cannot be read again)\n");
		free(secret);
	}
	json_decref(w);
	return SIAOCTL_EXIT_OK;
}

static int webhooks_ls(struct ctx *c, int argc, char **argv)
{
	const char *limit = NULL;
	const struct args_opt opts[] = {{"limit", ARGS_VALUE, &limit, NULL}};
	struct args_pos pos;
	long long n = 0;
	if (!ctx_args(c, argc, argv, opts, 1, &pos, 0, 0, NULL))
		return c->exit;
	if (limit && !args_int(c->what, "--limit", limit, 1, 1000000, &n))
		return SIAOCTL_EXIT_USAGE;
	json_t *list;
	int rc = ctx_list(c, "/v1/webhooks", n, &list);
	if (rc != 0)
		return rc;
	if (c->json) {
		ctx_print_json(list);
		json_decref(list);
		return SIAOCTL_EXIT_OK;
	}
	static const char *const headers[] = {">ID", "URL", "EVENTS", "SCOPE", "STATUS", "LABEL"};
	struct table *t = table_new(6, headers);
	size_t i;
	const json_t *w;
	json_array_foreach(json_object_get(list, "items"), i, w) {
		out_cell(t, json_object_get(w, "id"));
		out_cell(t, json_object_get(w, "url"));
		out_cell(t, json_object_get(w, "event_types"));
		const json_t *dep = json_object_get(w, "departement"), *pid = json_object_get(w, "porteur_id");
		if (json_is_string(dep))
			table_cellf(t, "département %s", json_string_value(dep));
		else if (json_is_integer(pid))
			table_cellf(t, "porteur %lld", (long long)json_integer_value(pid));
		else
			table_cell(t, "all");
		const json_t *why = json_object_get(w, "disabled_reason");
		if (json_is_string(why)) {
			char *status = out_text(json_object_get(w, "status"));
			table_cellf(t, "%s (%s)", status, json_string_value(why));
			free(status);
		} else
			out_cell(t, json_object_get(w, "status"));
		out_cell(t, json_object_get(w, "label"));
	}
	if (table_rows(t) == 0)
		printf("no webhooks\n");
	else
		table_print(t, stdout);
	table_free(t);
	json_decref(list);
	return SIAOCTL_EXIT_OK;
}

static const struct ctx_sub subs[] = {
	{"add", webhooks_add},
	{"ls", webhooks_ls},
};

int cmd_webhooks(struct ctx *c, int argc, char **argv)
{
	return ctx_dispatch(c, "webhooks", cmd_webhooks_help, subs, sizeof subs / sizeof *subs, argc, argv);
}
