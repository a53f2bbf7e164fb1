/*
 * idempotency: the Idempotency-Key store (SQL functions idem_*), for POSTs
 * retried by clients. A key is claimed before the handler runs; the answer
 * is kept with the write itself (api.c wraps the statement in idem_store)
 * or, for answers that are not one statement, stored before it is sent; a
 * 5xx releases the key for a retry. Requests are not known here: the
 * callers pass token ids, keys and texts.
 */
#ifndef SIAOD_IDEMPOTENCY_H
#define SIAOD_IDEMPOTENCY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

enum idem_state { IDEM_NEW, IDEM_REPLAY, IDEM_RUNNING, IDEM_REUSED, IDEM_ERROR };

/* state IDEM_REPLAY: status and body of the stored answer; IDEM_ERROR: res
 * is the failed result (NULL: database unavailable). */
struct pg_result;
typedef void (*idem_claim_cb)(void *arg, enum idem_state state, int status, const char *body,
			      const struct pg_result *res);
typedef void (*idem_done_cb)(void *arg);

/* A key is 1 to 255 printable ASCII characters. */
bool idem_key_valid(const char *key);
/* Claims key for token with what it stands for (hash: SHA-256 of method,
 * path and body). */
void idem_claim(struct store *st, int64_t token_id, const char *key, const unsigned char hash[32],
		idem_claim_cb cb, void *arg);
/* Keeps an answer for later replays, then calls done (stored or not). */
void idem_keep(struct store *st, int64_t token_id, const char *key, int status, const char *body,
	       idem_done_cb done, void *arg);
/* Routes that take the key in their own SQL statement (routes_idem_in_sql:
 * the claim, the write and the stored answer in one round trip, see
 * placement_propose in sql/functions/placements.sql) skip idem_claim. An
 * answer of theirs that did not commit a write (a 4xx) is kept by
 * idem_answer, which calls back with IDEM_NEW (kept: send it), IDEM_REPLAY
 * (the key already had an answer: send that one instead, status and body),
 * IDEM_RUNNING, IDEM_REUSED (nothing kept), or IDEM_ERROR (not kept). */
typedef void (*idem_answer_cb)(void *arg, enum idem_state state, int status, const char *body);
void idem_answer(struct store *st, int64_t token_id, const char *key, const unsigned char hash[32],
		 int status, const char *body, idem_answer_cb cb, void *arg);
/* The request failed without effect: the key may be used again. */
void idem_abandon(struct store *st, int64_t token_id, const char *key);
/* The statement that stores the answer in the write's own transaction:
 * "SELECT idem_store($n+1, $n+2, $n+3, (sql))" into out; false if too long. */
bool idem_wrap_statement(const char *sql, int nparams, char *out, size_t size);

#endif
