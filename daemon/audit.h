/*
 * audit: refused attempts into the audit table, through the store only.
 * A refusal of a known token (403) is one row. Attempts without a valid
 * token (401) cost nothing durable per attempt: they are counted in memory
 * per client address and minute and flushed every few seconds as an upsert,
 * so the table holds at most one row per address and minute, with a count.
 */
#ifndef SIAOD_AUDIT_H
#define SIAOD_AUDIT_H

#include <stdint.h>

struct event_base;
struct store;
struct audit;

struct audit *audit_new(struct event_base *base, struct store *st);
/* Flushes what is counted, then frees. */
void audit_free(struct audit *a);
/* One row: actor (JSON of the principal), the route's name as action, its
 * entity and id (0: none), the outcome ("denied") and status. */
void audit_refused(struct audit *a, const char *actor, const char *action, const char *entity,
		   int64_t entity_id, const char *outcome, int status);
/* Counts an attempt without a valid token from client (an address as
 * text); request_id names the first of its minute. */
void audit_unauthenticated(struct audit *a, const char *client, const char *request_id);
/* Writes the counts now (also done by a timer). */
void audit_flush(struct audit *a);

#endif
