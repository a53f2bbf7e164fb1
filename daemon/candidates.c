/*
 * The candidates of capacity events (see candidates.h).
 */
#include "candidates.h"

#include <stdint.h>
#include <stdlib.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "app.h"
#include "clock.h"
#include "inventory.h"
#include "log.h"
#include "match_reply.h"
#include "siaod/date.h"
#include "siaod/match.h"
#include "store.h"

#define CANDIDATES 5               /* in offer.capacity_available */
#define ROUND_EVENTS "50"          /* events per round, at most */

/* Candidates are ranked on the inventory, which a write refreshes after it
 * commits, then says so (webhooks_refreshed): such a round takes every
 * waiting event; a periodic one only those older than SETTLE (from another
 * instance, or whose write's round was missed), so that no event is ranked
 * on the inventory from before the write that enqueued it. */
#define SETTLE "2 seconds"
/* A capacity event says a place is free: an inventory that has not the
 * offer yet, or no place free on the event's day, has not seen the write
 * that enqueued it (a round that another write's refresh started, whose
 * query ran once this write had committed but before its refresh). Such an
 * event waits for a later round, until this age: a place taken again at
 * once is no free place for anyone, and the event goes with none. */
#define STALE_WAIT_MS 10000

struct candidates {
	struct app *app;
	candidates_done_fn done;
	void *arg;
	bool running, stopped;
	int pending;                  /* answers of this round still to come */
};

struct candidates *candidates_new(struct app *app, candidates_done_fn done, void *arg)
{
	struct candidates *c = calloc(1, sizeof *c);
	if (c)
		*c = (struct candidates){.app = app, .done = done, .arg = arg};
	return c;
}

/* The last answer of a round ends it. */
static void release(struct candidates *c)
{
	if (--c->pending == 0) {
		c->running = false;
		if (!c->stopped)
			c->done(c->arg);
	}
}

static void made_ready(void *arg, PGresult *res)
{
	struct candidates *c = arg;
	if (store_result_failed(res))
		log_warn("webhook_enrich", "result=failed");
	release(c);
}

/* The best waiting young people for the freed place, as ids and scores
 * (none when *stale: the inventory has not the offer, or no place of it
 * free on the day, see STALE_WAIT_MS). NULL when out of memory. */
static json_t *best_for(struct app *app, int64_t offer_id, sdate on, bool *stale)
{
	const struct inv_offer *o = inventory_offer(app->inv, offer_id);
	char today[11];
	clock_today(&app->cfg, today);
	struct match_params p = inventory_match_params(&app->cfg, today, DATE_NONE);
	p.on = on != DATE_NONE && on > p.today ? on : p.today;
	*stale = !o || inventory_free_on(o, p.on) <= 0;
	json_t *out = json_array();
	if (!out || *stale)
		return out;
	double reach;
	size_t nc;
	const struct match_ycell *cells = match_scratch_youth_cells(app->inv, o->m.lat, o->m.lon,
								     &app->scratch, &nc, &reach);
	struct match_result res[CANDIDATES];
	int got = cells ? match_rank_youth_cells(&p, &o->m, cells, nc, reach, NULL, NULL, CANDIDATES, res)
			: -1;
	for (int i = 0; i < got; i++) {
		const struct match_youth *y = res[i].item;
		json_array_append_new(out, json_pack("{s:I, s:i, s:i}", "youth_id", (json_int_t)y->id,
						     "score", res[i].score, "priority", res[i].priority));
	}
	return out;
}

static void unready_done(void *arg, PGresult *res)
{
	struct candidates *c = arg;
	int n = store_result_failed(res) ? 0 : PQntuples(res);
	/* outbox_unready's columns, by name (sql/functions/webhooks.sql) */
	int f_outbox = PQfnumber(res, "outbox_id"), f_offer = PQfnumber(res, "offer_id"),
	    f_on = PQfnumber(res, "on_day"), f_age = PQfnumber(res, "age_ms");
	if (n == 0 || c->stopped || f_outbox < 0 || f_offer < 0 || f_on < 0 || f_age < 0) {
		c->running = false;
		return;
	}
	c->pending = n + 1;   /* one more, dropped below once every query is sent */
	for (int i = 0; i < n; i++) {
		sdate on = PQgetisnull(res, i, f_on) ? DATE_NONE
			   : (sdate)strtol(PQgetvalue(res, i, f_on), NULL, 10);
		bool stale;
		json_t *best = best_for(c->app, strtoll(PQgetvalue(res, i, f_offer), NULL, 10), on, &stale);
		if (stale && strtoll(PQgetvalue(res, i, f_age), NULL, 10) < STALE_WAIT_MS) {
			json_decref(best);
			release(c);     /* stays unready: a later round, on a newer inventory */
			continue;
		}
		char *text = best ? json_dumps(best, JSON_COMPACT) : NULL;
		json_decref(best);
		if (!text) {
			/* out of memory: the event stays unready, the next round retries */
			log_warn("webhook_enrich", "error=\"cannot encode the candidates\"");
			release(c);
			continue;
		}
		const char *values[2] = {PQgetvalue(res, i, f_outbox), text};
		store_query(c->app->store, "SELECT outbox_make_ready($1::bigint, $2::jsonb)", 2, values,
			    made_ready, c);
		free(text);
	}
	release(c);          /* the extra count: the round ends with its last answer */
}

void candidates_round(struct candidates *c, bool written)
{
	if (c->running || c->stopped || !store_ready(c->app->store))
		return;
	c->running = true;
	const char *values[2] = {ROUND_EVENTS, written ? "0" : SETTLE};
	store_query(c->app->store, "SELECT * FROM outbox_unready($1::integer, $2::interval)", 2, values,
		    unready_done, c);
}

void candidates_stop(struct candidates *c)
{
	if (c)
		c->stopped = true;
}

void candidates_free(struct candidates *c)
{
	free(c);
}
