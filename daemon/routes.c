/*
 * Every HTTP route siaod serves, in one table: method, path, handler, the
 * roles that may call it (0 = no token), a name for logs and the audit, and
 * what a successful write triggers once committed (effects.h: inventory
 * refresh — which also wakes webhook delivery — and the alert scan).
 * Finer scope (a porteur's own offers, a referent's départements) is checked
 * by the handler or its SQL function.
 */
#include "routes.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "auth.h"

#define A ROLE_ADMIN
#define R ROLE_REFERENT
#define P ROLE_PORTEUR
#define OFFER EFFECT_REFRESH_OFFER
#define YOUTH EFFECT_REFRESH_YOUTH
#define PLACEMENT EFFECT_REFRESH_PLACEMENT
#define PROPOSAL EFFECT_NEW_PROPOSAL
#define ALERTS EFFECT_SCAN_ALERTS

const struct route routes[] = {
	{"GET",    "/healthz",               api_healthz,         0,         "health.live", 0},
	{"GET",    "/readyz",                api_readyz,          0,         "health.ready", 0},
	{"GET",    "/metrics",               api_metrics,         0,         "metrics", 0},
	{"GET",    "/ui*",                   api_ui,              0,         "ui.file", 0},

	{"GET",    "/v1/me",                 api_me,              A | R | P, "me.get", 0},
	{"GET",    "/v1/communes",           api_communes,        A | R | P, "commune.search", 0},
	{"GET",    "/auth/config",           api_auth_config,     0,         "auth.config", 0},
	{"POST",   "/auth/password",         api_auth_password,   0,         "auth.password", 0},
	{"POST",   "/auth/logout",           api_auth_logout,     0,         "auth.logout", 0},
	{"POST",   "/auth/link",             api_auth_link,       0,         "auth.link", 0},
	{"POST",   "/auth/invitation",       api_auth_invitation, 0,         "auth.invitation", 0},
	{"POST",   "/auth/reset-request",    api_auth_reset_request, 0,      "auth.reset_request", 0},
	{"POST",   "/auth/reset",            api_auth_reset,      0,         "auth.reset", 0},
	{"GET",    "/auth/oidc/start",       api_auth_oidc_start, 0,         "auth.oidc_start", 0},
	{"GET",    "/auth/oidc/callback",    api_auth_oidc_callback, 0,      "auth.oidc_callback", 0},

	{"GET",    "/v1/me/sessions",        api_me_sessions,     A | R | P, "session.list", 0},
	{"DELETE", "/v1/me/sessions",        api_me_sessions_end_all, A | R | P, "session.end_all", 0},
	{"DELETE", "/v1/me/sessions/{id}",   api_me_session_end,  A | R | P, "session.end", 0},
	{"GET",    "/v1/me/notification-preferences", api_notification_prefs_get, A | R | P, "notification.preferences_get", 0},
	{"POST",   "/v1/me/notification-preferences", api_notification_prefs_set, A | R | P, "notification.preferences_set", 0},
	{"GET",    "/v1/notifications",      api_notifications_list, A | R | P, "notification.list", 0},
	{"POST",   "/v1/notifications/{id}/read", api_notifications_read, A | R | P, "notification.read", 0},
	/* mails' one-click unsubscribe: the link's signed token, no session */
	{"GET",    "/unsubscribe",           api_unsubscribe_page, 0,        "notification.unsubscribe_page", 0},
	{"POST",   "/unsubscribe",           api_unsubscribe,     0,         "notification.unsubscribe", 0},

	{"POST",   "/v1/porteurs",           api_porteurs_create, A,         "porteur.create", 0},
	{"GET",    "/v1/porteurs",           api_porteurs_list,   A | R | P, "porteur.list", 0},
	{"GET",    "/v1/porteurs/{id}",      api_porteurs_get,    A | R | P, "porteur.get", 0},
	{"PATCH",  "/v1/porteurs/{id}",      api_porteurs_patch,  A,         "porteur.patch", 0},

	{"POST",   "/v1/offers",             api_offers_create,   A | P,     "offer.create", OFFER},
	{"GET",    "/v1/offers",             api_offers_list,     A | R | P, "offer.list", 0},
	{"GET",    "/v1/offers/{id}",        api_offers_get,      A | R | P, "offer.get", 0},
	{"PATCH",  "/v1/offers/{id}",        api_offers_patch,    A | P,     "offer.patch", OFFER},
	{"DELETE", "/v1/offers/{id}",        api_offers_close,    A | P,     "offer.close", OFFER},
	{"GET",    "/v1/offers/{id}/candidates", api_offer_candidates, A | R | P, "offer.candidates", 0},
	{"GET",    "/v1/offers/{id}/availability", api_offer_availability, A | R | P, "offer.availability", 0},
	{"POST",   "/v1/offers/{id}/confirm", api_offers_confirm, A | P,     "offer.confirm", OFFER},
	/* the import refreshes what it changed itself (api_imports.c) */
	{"POST",   "/v1/imports",            api_imports,         A | R | P, "import.run", 0},
	{"GET",    "/v1/imports/template",   api_imports_template, A | R | P, "import.template", 0},
	{"GET",    "/v1/imports",            api_imports_list,    A | R | P, "import.list", 0},
	{"GET",    "/v1/imports/{id}",       api_imports_get,     A | R | P, "import.get", 0},
	{"GET",    "/v1/refusal-reasons",    api_refusal_reasons, A | R | P, "refusal_reason.list", 0},

	{"POST",   "/v1/youth",              api_youth_create,    A | R,     "youth.create", YOUTH},
	{"GET",    "/v1/youth",              api_youth_list,      A | R,     "youth.list", 0},
	{"GET",    "/v1/youth/{id}",         api_youth_get,       A | R,     "youth.get", 0},
	{"PATCH",  "/v1/youth/{id}",         api_youth_patch,     A | R,     "youth.patch", YOUTH},
	{"DELETE", "/v1/youth/{id}",         api_youth_erase,     A | R,     "youth.erase", YOUTH},
	{"GET",    "/v1/youth/{id}/matches", api_youth_matches,   A | R,     "youth.matches", 0},

	{"POST",   "/v1/placements",         api_placements_create, A | R,     "placement.create", PROPOSAL},
	{"GET",    "/v1/placements",         api_placements_list, A | R | P, "placement.list", 0},
	{"GET",    "/v1/placements/{id}",    api_placements_get,  A | R | P, "placement.get", 0},
	{"POST",   "/v1/placements/{id}/accept", api_placements_transition, A | P, "placement.accept", PLACEMENT | ALERTS},
	{"POST",   "/v1/placements/{id}/refuse", api_placements_transition, A | R | P, "placement.refuse", PLACEMENT | ALERTS},
	{"POST",   "/v1/placements/{id}/enter",  api_placements_transition, A | P, "placement.enter", PLACEMENT | ALERTS},
	{"POST",   "/v1/placements/{id}/exit",   api_placements_transition, A | P, "placement.exit", PLACEMENT | ALERTS},
	{"POST",   "/v1/placements/{id}/extend", api_placements_transition, A | P, "placement.extend", PLACEMENT | ALERTS},
	{"POST",   "/v1/placements/{id}/cancel", api_placements_transition, A | R | P, "placement.cancel", PLACEMENT | ALERTS},
	{"GET",    "/v1/stays",              api_stays_list,      A | R | P, "stay.list", 0},

	{"POST",   "/v1/webhooks",           api_webhooks_create, A | R | P, "webhook.create", 0},
	{"GET",    "/v1/webhooks",           api_webhooks_list,   A | R | P, "webhook.list", 0},
	{"DELETE", "/v1/webhooks/{id}",      api_webhooks_delete, A | R | P, "webhook.delete", 0},
	{"GET",    "/v1/webhooks/{id}/deliveries", api_webhooks_deliveries, A | R | P, "webhook.deliveries", 0},
	{"POST",   "/v1/webhooks/{id}/deliveries/{id}/retry", api_webhooks_retry, A | R | P, "webhook.retry", 0},

	{"POST",   "/v1/allocation-plans",   api_plans_create,    A | R,     "plan.create", 0},
	{"GET",    "/v1/allocation-plans/{id}", api_plans_get,    A | R,     "plan.get", 0},
	{"POST",   "/v1/allocation-plans/{id}/apply", api_plans_apply, A | R, "plan.apply", 0},
	{"GET",    "/v1/reports/indicators", api_reports_indicators, A | R | P, "report.indicators", 0},

	{"POST",   "/v1/tokens",             api_tokens_create,   A,         "token.create", 0},
	{"GET",    "/v1/tokens",             api_tokens_list,     A,         "token.list", 0},
	{"DELETE", "/v1/tokens/{id}",        api_tokens_revoke,   A,         "token.revoke", 0},

	{"GET",    "/v1/audit",              api_audit_list,      A,         "audit.list", 0},
	{"POST",   "/v1/accounts",           api_accounts_create, A,         "account.create", 0},
	{"GET",    "/v1/accounts",           api_accounts_list,   A,         "account.list", 0},
	{"GET",    "/v1/accounts/{id}",      api_accounts_get,    A,         "account.get", 0},
	{"PATCH",  "/v1/accounts/{id}",      api_accounts_patch,  A,         "account.patch", 0},
	{"POST",   "/v1/accounts/{id}/disable", api_accounts_disable, A,     "account.disable", 0},
	{"POST",   "/v1/accounts/{id}/enable", api_accounts_enable, A,       "account.enable", 0},
	{"POST",   "/v1/accounts/{id}/invitation", api_accounts_invite, A,   "account.invite", 0},

};
const size_t nroutes = sizeof routes / sizeof *routes;

bool routes_raw_body(const struct route *r)
{
	/* the one-click unsubscribe is posted as a form (RFC 8058) */
	return r && (r->handler == api_imports || r->handler == api_unsubscribe);
}

bool routes_idem_in_sql(const struct route *r)
{
	/* placement_propose (sql/functions/placements.sql): one round trip */
	return r && r->handler == api_placements_create;
}

/* Matches one pattern; {id} takes a positive integer of at most 18 digits. */
static int match_pattern(const char *pattern, const char *path, int64_t *ids, int maxids, int *nids)
{
	int n = 0;
	while (*pattern && *path) {
		if (strcmp(pattern, "*") == 0) {
			*nids = n;
			return 1;
		}
		if (strncmp(pattern, "{id}", 4) == 0) {
			int64_t v = 0;
			int digits = 0;
			/* 18 digits at most: a 19th would overflow v */
			while (*path >= '0' && *path <= '9' && digits < 18) {
				v = v * 10 + (*path++ - '0');
				digits++;
			}
			if (digits == 0 || (*path >= '0' && *path <= '9') || v == 0 || n >= maxids)
				return 0;
			ids[n++] = v;
			pattern += 4;
			continue;
		}
		if (*pattern++ != *path++)
			return 0;
	}
	if (strcmp(pattern, "*") == 0)
		pattern++;
	/* a trailing slash is the same resource */
	if (*path == '/' && path[1] == '\0' && *pattern == '\0')
		path++;
	if (*pattern || *path)
		return 0;
	*nids = n;
	return 1;
}

enum route_match routes_find(const char *method, const char *path, const struct route **out,
			     int64_t *ids, int maxids, int *nids, char *allow, size_t allowlen)
{
	bool path_known = false;
	allow[0] = '\0';
	for (size_t i = 0; i < nroutes; i++) {
		if (!match_pattern(routes[i].pattern, path, ids, maxids, nids))
			continue;
		/* HEAD is GET without a body; the transport drops the body. */
		if (strcmp(routes[i].method, method) == 0 ||
		    (strcmp(method, "HEAD") == 0 && strcmp(routes[i].method, "GET") == 0)) {
			*out = &routes[i];
			return ROUTE_FOUND;
		}
		size_t used = strlen(allow);
		snprintf(allow + used, allowlen - used, "%s%s", used ? ", " : "", routes[i].method);
		path_known = true;
	}
	return path_known ? ROUTE_BAD_METHOD : ROUTE_NOT_FOUND;
}
