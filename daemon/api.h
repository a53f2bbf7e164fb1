/*
 * api: what the route handlers share — calling one SQL function and answering
 * with the JSON it returns, turning database errors into problem+json,
 * reading list parameters, auditing refused attempts — and the handlers
 * themselves (api_*.c), listed in routes.c. The request and its answers are
 * req.h's.
 */
#ifndef SIAOD_API_H
#define SIAOD_API_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "req.h"

/* What api_sql_reply does with a successful result besides answering it
 * (what a write triggers after commit is the route's, see effects.h). */
enum {
	API_ETAG = 1,              /* the resource's "version" becomes its ETag */
	API_ETAG_OFFER = 2,        /* the ETag is api_offer_etag's (version, free places) */
};
/* Runs sql (one jsonb column, one row) and answers ok_status with it. After
 * a successful write, the route's effects run first (effects.h): the answer
 * waits until the inventory has the change, so the next match reflects it. */
void api_sql_reply(struct req *r, const char *sql, int nparams, const char *const *values,
		   int ok_status, int flags);
/* The same for a route whose statement takes the Idempotency-Key itself
 * (routes_idem_in_sql): sql takes nparams values then three more, the key's
 * token, the key and the request's hash (all NULL without a key), and
 * returns one row (state, status, response) — 'new' with the write's JSON
 * in response, or 'replay', 'running', 'mismatch' (see placement_propose). */
#define API_SQL_IDEM_MAX_PARAMS 8
void api_sql_reply_idem(struct req *r, const char *sql, int nparams, const char *const *values,
			int ok_status, int flags);
/* For a caller that runs such a statement for several requests at once
 * (proposals.c): the key's token and hash as api_sql_reply_idem passes
 * them, false without a key; then one row of the statement answered as
 * api_sql_reply_idem answers it, or an error caught in SQL and returned as
 * its fields (problem_from_fields) answered as a failed statement is. */
bool api_idem_params(struct req *r, char token[24], char hash[AUTH_HASH_PARAM_LEN]);
void api_idem_row_reply(struct req *r, const char *state, const char *status, const char *response,
			size_t len, int ok_status, int flags);
/* The same for a whole result of one row (or a failed one), as api_sql_reply_idem's. */
void api_idem_result_reply(struct req *r, const PGresult *res, int ok_status, int flags);
void api_sql_problem_fields(struct req *r, const char *sqlstate, const char *message, const char *detail,
			    const char *hint, const char *constraint);
/* Runs sql (creating a resource) and answers 201 with the resource plus
 * `member`: `secret`, which is shown this once (see idem_redact). */
void api_sql_create_with_secret(struct req *r, const char *sql, int nparams, const char *const *values,
				const char *member, const char *secret);
/* j as the text of a jsonb parameter (to free). NULL when json_dumps fails
 * (out of memory): the request is answered 500 and the caller must not run
 * its SQL, whose parameter would otherwise be an SQL NULL. */
char *api_json_param(struct req *r, const json_t *j);
/* Answers the problem a failed result (or NULL: database unavailable) means. */
void api_sql_problem(struct req *r, const PGresult *res);
/* Records a refused attempt in the audit log: a 403 is one row, a 401 is
 * counted per client address and minute (audit.h); fire and forget. */
void api_audit_refused(struct req *r, const char *outcome, int status);
/* 403 with an audit row. */
void api_forbidden(struct req *r, const char *detail);

/* List parameters into the filter object f: limit (default 50, at most 200)
 * and cursor. False when an answer (400) was already sent. */
bool api_list_params(struct req *r, json_t *f);
/* Optional query parameters copied into f after a check; false when answered. */
bool api_query_date(struct req *r, json_t *f, const char *name, const char *dflt);
bool api_query_int(struct req *r, json_t *f, const char *name, long long min, long long max);
bool api_query_enum(struct req *r, json_t *f, const char *name, const char *const *values);
bool api_query_departement(struct req *r, json_t *f, const char *name);
void api_query_error(struct req *r, const char *name, const char *code, const char *detail);
/* If-Match (RFC 9110 13.1.1): a list of entity-tags compared strongly, so a
 * weak tag (W/"3") never matches. tag_version reads one strong tag's
 * opaque content (without the quotes) into the version it stands for, or
 * -1 when it names no current representation; NULL reads plain versions
 * ("3"). Returns 0 when there is no condition (no header, or "*"); 1 with
 * out set to a PostgreSQL integer array literal of the versions named
 * ("{999,3}": the patch functions take the current one if listed); -2 when
 * nothing can match (malformed, weak tags only, no tag of ours), the 412
 * already answered. */
typedef long long (*api_tag_fn)(void *ctx, const char *tag, size_t len);
#define API_IF_MATCH_MAX 16                 /* versions kept from one header */
#define API_IF_MATCH_LEN (API_IF_MATCH_MAX * 20 + 3)
int api_if_match(struct req *r, api_tag_fn tag_version, void *ctx, char out[API_IF_MATCH_LEN]);
/* An offer's ETag: its version, then a hash of what its representation
 * shows without a new version (free places on the day shown, and that
 * day), so that the ETag changes whenever the representation does:
 * "3-1a2b3c4d". buf holds at least 24 bytes. */
void api_offer_etag(char *buf, size_t n, long long version, long long free_places, const char *on);
/* Validates r->body; answers 400 and returns false when invalid. */
struct vfield;
bool api_validate(struct req *r, const struct vfield *fields, size_t n, bool patch);

/* Scope fields a token's role needs; NULL when consistent. Shared with the CLI. */
json_t *api_token_scope_errors(const json_t *body);

/* handlers, by file */
void api_healthz(struct req *r);
void api_me(struct req *r);
void api_communes(struct req *r);
void api_ui(struct req *r);
void api_readyz(struct req *r);
void api_porteurs_create(struct req *r);
void api_porteurs_list(struct req *r);
void api_porteurs_get(struct req *r);
void api_porteurs_patch(struct req *r);
void api_offers_create(struct req *r);
void api_offers_list(struct req *r);
void api_offers_get(struct req *r);
void api_offers_patch(struct req *r);
void api_offers_close(struct req *r);
void api_offers_confirm(struct req *r);
struct app;
struct evbuffer;
/* Per-porteur freshness gauges appended to /metrics. */
void api_offers_freshness_metrics(struct app *app, struct evbuffer *b);
void api_imports(struct req *r);
void api_imports_template(struct req *r);
void api_imports_list(struct req *r);
void api_imports_get(struct req *r);
void api_refusal_reasons(struct req *r);
void api_tokens_create(struct req *r);
void api_tokens_list(struct req *r);
void api_tokens_revoke(struct req *r);
void api_audit_list(struct req *r);
void api_youth_create(struct req *r);
void api_youth_list(struct req *r);
void api_youth_get(struct req *r);
void api_youth_patch(struct req *r);
void api_youth_erase(struct req *r);
void api_youth_matches(struct req *r);
void api_offer_candidates(struct req *r);
void api_offer_availability(struct req *r);
void api_placements_create(struct req *r);
void api_placements_list(struct req *r);
void api_placements_get(struct req *r);
void api_placements_transition(struct req *r);
void api_stays_list(struct req *r);
void api_webhooks_create(struct req *r);
void api_webhooks_list(struct req *r);
void api_webhooks_delete(struct req *r);
void api_webhooks_deliveries(struct req *r);
void api_webhooks_retry(struct req *r);
void api_reports_indicators(struct req *r);
void api_plans_create(struct req *r);
void api_plans_get(struct req *r);
void api_plans_apply(struct req *r);
void api_metrics(struct req *r);
/* accounts and sign-in (api_accounts.c, api_signin.c) */
void api_accounts_create(struct req *r);
void api_accounts_list(struct req *r);
void api_accounts_get(struct req *r);
void api_accounts_patch(struct req *r);
void api_accounts_disable(struct req *r);
void api_accounts_enable(struct req *r);
void api_accounts_invite(struct req *r);
void api_me_sessions(struct req *r);
void api_me_session_end(struct req *r);
void api_me_sessions_end_all(struct req *r);
void api_auth_config(struct req *r);
void api_auth_password(struct req *r);
void api_auth_logout(struct req *r);
void api_auth_link(struct req *r);
void api_auth_invitation(struct req *r);
void api_auth_reset(struct req *r);
void api_auth_reset_request(struct req *r);
void api_auth_oidc_start(struct req *r);      /* api_oidc.c */
void api_auth_oidc_callback(struct req *r);
/* people's notifications (api_notifications.c) */
void api_notifications_list(struct req *r);
void api_notifications_read(struct req *r);
void api_notification_prefs_get(struct req *r);
void api_notification_prefs_set(struct req *r);
void api_unsubscribe_page(struct req *r);
void api_unsubscribe(struct req *r);

#endif
