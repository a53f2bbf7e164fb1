/*
 * The daemon's one piece of shared state. There is one event loop; every
 * field is touched only from it.
 */
#ifndef SIAOD_APP_H
#define SIAOD_APP_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "match_reply.h"

struct event_base;
struct event;
struct http_server;
struct audit;
struct proxies;
struct store;
struct proposals;
struct auth;
struct inventory;
struct inventory_refresh;
struct plan_jobs;
struct req;
struct engine;
struct ratelimit;
struct sessions;
struct password;
struct mailer;
struct oidc;
struct changes;

/* The loop's event priorities: everything runs at the default (1) except the
 * connections' deadlines, at APP_PRIORITY_DEADLINES, of which the loop runs
 * at most APP_DEADLINES_PER_TURN between two looks at the sockets — so that
 * thousands of connections timing out in the same second (a burst of idle
 * clients) are closed in slices and never keep a new request waiting. */
#define APP_LOOP_PRIORITIES 3
#define APP_PRIORITY_DEADLINES 2
#define APP_DEADLINES_PER_TURN 256

struct app {
	struct config cfg;
	const char *config_path;          /* NULL: defaults + SIAOD_* only */
	struct event_base *base;
	struct http_server *http;         /* the transport, see http.h; gate.c drives it */
	struct audit *audit;              /* refused attempts, see audit.h */
	struct proxies *proxies;          /* trusted_proxies, see proxies.h */
	struct store *store;
	struct proposals *proposals;      /* POST /v1/placements, together under load (proposals.h) */
	struct auth *auth;
	struct inventory *inv;            /* the published snapshot every handler reads,
					     swapped by the refresher (inventory_refresh.h) */
	struct inventory_refresh *refresh; /* keeps it fresh after writes */
	struct plan_jobs *plans;          /* plans and applies in worker threads (plan_jobs.h) */
	struct plan_jobs *imports;        /* the parse of large CSV imports, started by the first (api_imports.c) */
	struct ratelimit *ratelimit;
	struct sessions *sessions;        /* accounts: session cookies, see session.h */
	struct password *password;        /* accounts: Argon2 worker, see password.h */
	struct mailer *mail;              /* accounts: outgoing mail, see mail.h */
	struct oidc *oidc;                /* accounts: the OpenID Connect provider, see oidc.h */
	struct notifier *notify;          /* people's notification mails, see notify.h */
	struct match_scratch scratch;     /* room of one ranking, reused (api_match.c) */
	int inflight;                     /* requests accepted and not yet answered */
	struct req *requests_inflight;    /* their list, to orphan them at exit */
	bool draining;                    /* SIGTERM received */
	struct event *drain_tick;         /* polls in-flight requests while draining */
	struct event *scheduler;          /* periodic work, see scheduler.h */
	struct event *alert_timer;
	struct engine *webhooks;          /* delivery, see webhooks.h */
	uint64_t requests;                /* for request ids */
	struct changes *changes;          /* other instances' writes, see changes.h */
	int since_reconcile;              /* seconds since the last full re-read */
	int since_retention;              /* seconds since the last retention run */
	char instance[9];                 /* random, prefixes request ids */
};

#endif
