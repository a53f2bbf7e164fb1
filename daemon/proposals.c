/*
 * Proposals sent to the database together (see proposals.h).
 */
#include "proposals.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "api.h"
#include "app.h"
#include "jsonw.h"
#include "log.h"
#include "store.h"

#define PROPOSE_SQL "SELECT * FROM placement_propose($1::jsonb, $2::jsonb, $3::date, $4::integer, " \
		    "$5::bigint, $6::bigint, $7, $8::bytea)"
#define PROPOSE_MANY_SQL "SELECT n, state, status, response, err_state, err_message, err_detail, " \
			 "err_hint, err_constraint FROM placement_propose_many($1::jsonb, $2::integer)"

struct item {
	struct item *next;
	struct proposals *p;
	struct req *r;
	char *body;          /* owned */
	char hint[24];       /* "": none */
	bool counted;        /* sent alone as one of the statements in flight */
};

struct batch {
	struct proposals *p;
	int n;
	struct item *items[PROPOSALS_BATCH_MAX];
};

struct proposals {
	struct app *app;
	int inflight, inflight_max;
	struct item *head, *tail;
	int queued;
	struct jsonw w;      /* a batch's items, the room reused */
	struct event *kick;  /* pump at the end of the loop's turn */
	struct proposals_counts counts;
};

static void pump(struct proposals *p);

static void item_free(struct item *it)
{
	free(it->body);
	free(it);
}

static void hold_days(const struct proposals *p, char out[16])
{
	snprintf(out, 16, "%d", p->app->cfg.hold_days);
}

/* ---------------------------------------------------------------- alone */

static void alone_done(void *arg, PGresult *res)
{
	struct item *it = arg;
	struct proposals *p = it->p;
	api_idem_result_reply(it->r, res, 201, API_ETAG);
	bool counted = it->counted;
	item_free(it);
	if (counted) {
		p->inflight--;
		pump(p);
	}
}

/* counted: one of the statements in flight (else a proposal sent again
 * after its batch failed, on top of them). */
static void send_alone(struct item *it, bool counted)
{
	struct proposals *p = it->p;
	struct req *r = it->r;
	char hold[16], token[24], hash[AUTH_HASH_PARAM_LEN];
	hold_days(p, hold);
	const char *v[8] = {it->body, r->actor, r->today, hold, it->hint[0] ? it->hint : NULL, NULL, NULL, NULL};
	if (api_idem_params(r, token, hash)) {
		v[5] = token;
		v[6] = r->idem_key;
		v[7] = hash;
	}
	it->counted = counted;
	if (counted)
		p->inflight++;
	p->counts.alone++;
	store_query(p->app->store, PROPOSE_SQL, 8, v, alone_done, it);
}

/* ---------------------------------------------------------------- together */

static const char *value_or_null(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

static void batch_done(void *arg, PGresult *res)
{
	struct batch *b = arg;
	struct proposals *p = b->p;
	p->inflight--;
	if (store_result_failed(res) || PQnfields(res) != 9) {
		/* nothing of it committed: each goes again, alone, and is
		 * answered as a lone proposal (503 if the database is away) */
		const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
		log_warn("proposals", "batch=failed items=%d sqlstate=%s", b->n, state ? state : "-");
		for (int i = 0; i < b->n; i++)
			send_alone(b->items[i], false);
		free(b);
		pump(p);
		return;
	}
	for (int row = 0; row < PQntuples(res); row++) {
		long n = strtol(PQgetvalue(res, row, 0), NULL, 10);
		if (n < 0 || n >= b->n || !b->items[n])
			continue;
		struct item *it = b->items[n];
		b->items[n] = NULL;
		const char *state = PQgetvalue(res, row, 1);
		if (strcmp(state, "error") != 0) {
			api_idem_row_reply(it->r, state, PQgetvalue(res, row, 2), PQgetvalue(res, row, 3),
					   (size_t)PQgetlength(res, row, 3), 201, API_ETAG);
			item_free(it);
			continue;
		}
		const char *sqlstate = value_or_null(res, row, 4);
		if (sqlstate && (strcmp(sqlstate, "40P01") == 0 || strcmp(sqlstate, "40001") == 0)) {
			/* lost a race another transaction may not lose alone */
			send_alone(it, false);
			continue;
		}
		api_sql_problem_fields(it->r, sqlstate, value_or_null(res, row, 5), value_or_null(res, row, 6),
				       value_or_null(res, row, 7), value_or_null(res, row, 8));
		item_free(it);
	}
	for (int i = 0; i < b->n; i++)
		if (b->items[i]) {
			b->items[i]->r->idem_stored = false;
			req_problem(b->items[i]->r, 500, "internal", "unexpected answer of the database");
			item_free(b->items[i]);
		}
	free(b);
	pump(p);
}

/* One item of placement_propose_many's array, from texts the daemon made:
 * the body (api_json_param) and the actor are JSON already. */
static void write_item(struct jsonw *w, struct item *it)
{
	struct req *r = it->r;
	char token[24], hash[AUTH_HASH_PARAM_LEN];
	bool keyed = api_idem_params(r, token, hash);
	jsonw_lit(w, "{\"b\":");
	jsonw_raw(w, it->body, strlen(it->body));
	jsonw_lit(w, ",\"a\":");
	jsonw_raw(w, r->actor, strlen(r->actor));
	jsonw_lit(w, ",\"d\":");
	jsonw_str(w, r->today);
	jsonw_lit(w, ",\"h\":");
	if (it->hint[0])
		jsonw_raw(w, it->hint, strlen(it->hint));
	else
		jsonw_lit(w, "null");
	if (keyed) {
		jsonw_lit(w, ",\"t\":");
		jsonw_raw(w, token, strlen(token));
		jsonw_lit(w, ",\"k\":");
		jsonw_str(w, r->idem_key);
		jsonw_lit(w, ",\"x\":");
		jsonw_str(w, hash + 2);   /* the hex digits, without bytea's "\x" */
	}
	jsonw_lit(w, "}");
}

static void send_batch(struct proposals *p)
{
	struct batch *b = calloc(1, sizeof *b);
	if (!b) {
		/* the first waiting one alone: it needs no room of ours */
		struct item *it = p->head;
		p->head = it->next;
		if (!p->head)
			p->tail = NULL;
		p->queued--;
		send_alone(it, true);
		return;
	}
	b->p = p;
	struct jsonw *w = &p->w;
	jsonw_reset(w);
	jsonw_lit(w, "[");
	while (p->head && b->n < PROPOSALS_BATCH_MAX) {
		struct item *it = p->head;
		p->head = it->next;
		p->queued--;
		it->next = NULL;
		if (b->n)
			jsonw_lit(w, ",");
		write_item(w, it);
		b->items[b->n++] = it;
	}
	if (!p->head)
		p->tail = NULL;
	jsonw_lit(w, "]");
	jsonw_raw(w, "", 1);
	if (jsonw_failed(w)) {
		for (int i = 0; i < b->n; i++) {
			b->items[i]->r->idem_stored = false;
			req_problem(b->items[i]->r, 503, "out-of-memory", "try again");
			item_free(b->items[i]);
		}
		free(b);
		jsonw_free(w);
		return;
	}
	char hold[16];
	hold_days(p, hold);
	const char *v[2] = {w->buf, hold};
	p->inflight++;
	p->counts.batches++;
	p->counts.batched += (unsigned long long)b->n;
	store_query(p->app->store, PROPOSE_MANY_SQL, 2, v, batch_done, b);
}

/* Sends what waits while there is room: one alone, several together. */
static void pump(struct proposals *p)
{
	while (p->head && p->inflight < p->inflight_max) {
		if (p->queued == 1) {
			struct item *it = p->head;
			p->head = p->tail = NULL;
			p->queued = 0;
			send_alone(it, true);
		} else {
			send_batch(p);
		}
	}
}

/* ---------------------------------------------------------------- the module */

/* The requests a turn of the loop read (one wake-up, many sockets) go
 * together: sent from here, not as each arrives, which would send the
 * first alone on a free connection and make the others wait for it. */
static void kick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	pump(arg);
}

struct proposals *proposals_new(struct app *app, int inflight_max)
{
	struct proposals *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->app = app;
	p->inflight_max = inflight_max > 0 ? inflight_max : 1;
	p->kick = event_new(app->base, -1, 0, kick_cb, p);
	if (!p->kick) {
		free(p);
		return NULL;
	}
	return p;
}

void proposals_free(struct proposals *p)
{
	if (!p)
		return;
	/* what still waits belongs to requests the app orphans at exit */
	while (p->head) {
		struct item *it = p->head;
		p->head = it->next;
		item_free(it);
	}
	jsonw_free(&p->w);
	event_free(p->kick);
	free(p);
}

void proposals_submit(struct proposals *p, struct req *r, const char *body, const char *hint)
{
	struct item *it = calloc(1, sizeof *it);
	if (it)
		it->body = strdup(body);
	if (!it || !it->body) {
		free(it);
		req_problem(r, 503, "out-of-memory", "try again");
		return;
	}
	it->p = p;
	it->r = r;
	if (hint)
		snprintf(it->hint, sizeof it->hint, "%s", hint);
	if (p->tail)
		p->tail->next = it;
	else
		p->head = it;
	p->tail = it;
	p->queued++;
	if (p->inflight < p->inflight_max)
		event_active(p->kick, EV_TIMEOUT, 0);
}

void proposals_counts(const struct proposals *p, struct proposals_counts *out)
{
	*out = p ? p->counts : (struct proposals_counts){0};
	out->waiting = p ? p->queued : 0;
	out->inflight = p ? p->inflight : 0;
	out->inflight_max = p ? p->inflight_max : 0;
}
