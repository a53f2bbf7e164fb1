/*
 * store: the PostgreSQL side of siaod. A small pool of non-blocking libpq
 * connections driven by the libevent loop; queries are queued FIFO and each
 * runs with PQsendQueryParams on the first idle connection. Lost connections
 * are re-established in the background with a capped backoff.
 *
 * Blocking helpers (store_connect_blocking) exist for start-up and the
 * command-line tools only, before the event loop runs.
 */
#ifndef SIAOD_STORE_H
#define SIAOD_STORE_H

#include <stdbool.h>
#include <libpq-fe.h>

struct event_base;
struct store;

/* res is the query's result (owned by the store, cleared after the callback
 * returns) or NULL when no connection could run it (database unavailable). */
typedef void (*store_cb)(void *arg, PGresult *res);
typedef void (*store_notify_cb)(void *arg, const char *channel, const char *payload);
typedef void (*store_up_cb)(void *arg);

/* origin (NULL: none): the setting siaod.origin of every pooled session,
 * which the change table's rows written by them carry (changes.h). */
struct store *store_new(struct event_base *base, const char *conninfo, int pool_size, const char *origin);
/* Whether statements are prepared once per connection (parsed and planned
 * once, not at every call): off by default; siaod turns it on unless
 * db_prepared_statements = false (a proxy that pools by transaction, such
 * as PgBouncer before 1.21, cannot keep them). Jobs with their own timeout
 * and the listener's are never prepared. */
void store_prepare_statements(struct store *st, bool on);
void store_free(struct store *st);
/* Queues one statement; sql and values are copied. */
void store_query(struct store *st, const char *sql, int nparams,
		 const char *const *values, store_cb cb, void *arg);
/* The same, the statement running under its own statement_timeout
 * (milliseconds; 0: the pool's 15 s), e.g. a large import's one statement. */
void store_query_timeout(struct store *st, const char *sql, int nparams,
			 const char *const *values, int timeout_ms, store_cb cb, void *arg);
/* Opens one more connection that runs listen_sql ("LISTEN a; LISTEN b") and
 * then hands every notification from other sessions to notify. up is called
 * each time it is (re)established: what was notified meanwhile is lost, so
 * the owner reconciles. */
void store_listen(struct store *st, const char *listen_sql, store_notify_cb notify,
		  store_up_cb up, void *arg);
/* True while at least one connection is up. */
bool store_ready(const struct store *st);
int  store_pending(const struct store *st);
int  store_connections_up(const struct store *st);

/* Start-up and CLI: a blocking connection, or NULL with a message on stderr. */
PGconn *store_connect_blocking(const char *conninfo);

/* Problem mapping of a failed result: fills the HTTP status and problem slug.
 * Returns true when res is an error. */
bool store_result_failed(const PGresult *res);

#endif
