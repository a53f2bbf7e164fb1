/*
 * Refused attempts in the audit (see audit.h). The counts of
 * unauthenticated attempts live in a small open-addressing table keyed by
 * address and minute; a full table is flushed at once, so memory stays
 * bounded whatever the noise.
 */
#include "audit.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <event2/event.h>
#include <libpq-fe.h>

#include "log.h"
#include "store.h"

#define SLOTS 512                 /* a power of two */
#define FLUSH_MS 2000

struct slot {
	char client[46];
	long minute;                  /* unix time / 60; 0 = free */
	unsigned count;
	char request_id[32];
};

struct audit {
	struct store *st;
	struct event *timer;
	struct slot slots[SLOTS];
	int used;
};

static void written(void *arg, PGresult *res)
{
	if (store_result_failed(res))
		log_warn("audit_lost", "reason=%s", res ? "sql_error" : "database_unavailable");
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	audit_flush(arg);
}

struct audit *audit_new(struct event_base *base, struct store *st)
{
	struct audit *a = calloc(1, sizeof *a);
	if (!a)
		return NULL;
	a->st = st;
	a->timer = event_new(base, -1, EV_PERSIST, on_timer, a);
	struct timeval tv = {FLUSH_MS / 1000, (FLUSH_MS % 1000) * 1000L};
	if (!a->timer || event_add(a->timer, &tv) != 0) {
		audit_free(a);
		return NULL;
	}
	return a;
}

void audit_free(struct audit *a)
{
	if (!a)
		return;
	audit_flush(a);
	if (a->timer)
		event_free(a->timer);
	free(a);
}

void audit_refused(struct audit *a, const char *actor, const char *action, const char *entity,
		   int64_t entity_id, const char *outcome, int status)
{
	char st[8], eid[24];
	snprintf(st, sizeof st, "%d", status);
	snprintf(eid, sizeof eid, "%lld", (long long)entity_id);
	const char *values[6] = {actor, action, entity, entity_id > 0 ? eid : NULL, outcome, st};
	store_query(a->st, "SELECT audit_write($1::jsonb, $2, $3, $4::bigint, $5, $6::integer)", 6,
		    values, written, NULL);
}

static unsigned hash(const char *s, long minute)
{
	unsigned h = 2166136261u ^ (unsigned)minute;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

void audit_unauthenticated(struct audit *a, const char *client, const char *request_id)
{
	if (!a)
		return;
	long minute = (long)(time(NULL) / 60);
	if (!client || !*client)
		client = "0.0.0.0";
	for (int attempt = 0; attempt < 2; attempt++) {
		unsigned i = hash(client, minute) & (SLOTS - 1);
		for (int probe = 0; probe < SLOTS; probe++, i = (i + 1) & (SLOTS - 1)) {
			struct slot *s = &a->slots[i];
			if (s->minute == minute && strcmp(s->client, client) == 0) {
				s->count++;
				return;
			}
			if (s->minute == 0) {
				if (a->used >= SLOTS * 3 / 4)
					break;
				snprintf(s->client, sizeof s->client, "%s", client);
				snprintf(s->request_id, sizeof s->request_id, "%s", request_id ? request_id : "");
				s->minute = minute;
				s->count = 1;
				a->used++;
				return;
			}
		}
		audit_flush(a);   /* full: write out, then count again */
	}
}

/* One statement for the whole table: arrays of addresses, minutes, counts. */
void audit_flush(struct audit *a)
{
	if (!a || a->used == 0)
		return;
	size_t cap = (size_t)a->used * 96 + 16;
	char *clients = malloc(cap), *minutes = malloc(cap), *counts = malloc(cap), *rids = malloc(cap);
	if (!clients || !minutes || !counts || !rids)
		goto out;
	size_t lc = 0, lm = 0, ln = 0, lr = 0;
	clients[lc++] = '{';
	minutes[lm++] = '{';
	counts[ln++] = '{';
	rids[lr++] = '{';
	for (int i = 0; i < SLOTS; i++) {
		struct slot *s = &a->slots[i];
		if (!s->minute)
			continue;
		bool first = lc == 1;
		/* addresses and request ids are ours (inet_ntop, the request id
		 * format): no quoting needed beyond the double quotes */
		lc += (size_t)snprintf(clients + lc, cap - lc, "%s\"%s\"", first ? "" : ",", s->client);
		lm += (size_t)snprintf(minutes + lm, cap - lm, "%s%ld", first ? "" : ",", s->minute * 60);
		ln += (size_t)snprintf(counts + ln, cap - ln, "%s%u", first ? "" : ",", s->count);
		lr += (size_t)snprintf(rids + lr, cap - lr, "%s\"%s\"", first ? "" : ",", s->request_id);
		memset(s, 0, sizeof *s);
	}
	snprintf(clients + lc, cap - lc, "}");
	snprintf(minutes + lm, cap - lm, "}");
	snprintf(counts + ln, cap - ln, "}");
	snprintf(rids + lr, cap - lr, "}");
	a->used = 0;
	const char *values[4] = {clients, minutes, counts, rids};
	store_query(a->st, "SELECT audit_unauthenticated($1::inet[], $2::bigint[], $3::integer[], $4::text[])",
		    4, values, written, NULL);
out:
	free(clients);
	free(minutes);
	free(counts);
	free(rids);
}
