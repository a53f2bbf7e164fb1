/*
 * Reading the change table (see changes.h).
 */
#include "changes.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <event2/event.h>

#include "app.h"
#include "inventory_refresh.h"
#include "log.h"
#include "store.h"
#include "webhooks.h"

struct changes {
	struct app *app;
	struct event *tick;
	char *snapshot;               /* "xmin:xmax:xip,..." of the last reading */
	double last_ok_ms;            /* when it was read */
	bool reading, stopped, failing;
};

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* A snapshot's xmax: the first transaction id it did not see start. */
static uint64_t snapshot_xmax(const char *s)
{
	const char *colon = s ? strchr(s, ':') : NULL;
	return colon ? strtoull(colon + 1, NULL, 10) : 0;
}

/* "{1,2,3}" (a bigint[] as text) into a new vector; *n its length. */
static int64_t *id_list(const char *text, int *n)
{
	*n = 0;
	size_t cap = 1;
	for (const char *p = text; *p; p++)
		cap += *p == ',';
	int64_t *ids = malloc(cap * sizeof *ids);
	if (!ids)
		return NULL;
	const char *p = text[0] == '{' ? text + 1 : text;
	while (*p && *p != '}') {
		char *end;
		long long v = strtoll(p, &end, 10);
		if (end == p)
			break;
		if (v > 0 && (size_t)*n < cap)
			ids[(*n)++] = v;
		p = *end == ',' ? end + 1 : end;
	}
	return ids;
}

/* What another instance wrote is in the inventory: its events may be ranked. */
static void refreshed(void *arg, bool ok)
{
	(void)ok;
	webhooks_refreshed(arg);
}

static void read_done(void *arg, PGresult *res)
{
	struct changes *c = arg;
	c->reading = false;
	if (c->stopped)
		return;
	/* inventory_changes_since's columns, by name (sql/functions/inventory.sql) */
	int f_snap = PQfnumber(res, "snapshot"), f_offers = PQfnumber(res, "offer_ids"),
	    f_youth = PQfnumber(res, "youth_ids");
	if (store_result_failed(res) || PQntuples(res) != 1 || f_snap < 0 || f_offers < 0 || f_youth < 0) {
		/* the next tick tries again from the same snapshot */
		if (!c->failing)
			log_warn("changes", "result=failed");
		c->failing = true;
		return;
	}
	c->failing = false;
	struct app *app = c->app;
	double now = now_ms();
	const char *snap = PQgetvalue(res, 0, f_snap);
	/* Too long without reading (rows may be purged), or transaction ids
	 * behind ours (the database restored from an older copy): everything. */
	bool all = now - c->last_ok_ms > CHANGES_GAP_SECONDS * 1e3 ||
		   snapshot_xmax(snap) < snapshot_xmax(c->snapshot);
	char *copy = strdup(snap);
	if (!copy)
		return;   /* the same reading again next tick */
	int no = 0, ny = 0;
	int64_t *offers = all ? NULL : id_list(PQgetvalue(res, 0, f_offers), &no);
	int64_t *youth = all ? NULL : id_list(PQgetvalue(res, 0, f_youth), &ny);
	if (!all && (!offers || !youth)) {
		free(offers);
		free(youth);
		free(copy);
		return;
	}
	free(c->snapshot);
	c->snapshot = copy;
	c->last_ok_ms = now;
	if (all) {
		log_info("changes", "event=reread_all");
		inventory_refresh_all(app->refresh, refreshed, app);
	} else if (no + ny > 0) {
		inventory_refresh(app->refresh, offers, no, youth, ny, refreshed, app);
	}
	free(offers);
	free(youth);
}

static void tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct changes *c = arg;
	if (c->reading || c->stopped || !store_ready(c->app->store))
		return;
	const char *values[2] = {c->snapshot, c->app->instance};
	c->reading = true;
	store_query(c->app->store, "SELECT * FROM inventory_changes_since($1::pg_snapshot, $2)", 2, values,
		    read_done, c);
}

char *changes_snapshot_blocking(PGconn *pg)
{
	PGresult *res = PQexec(pg, "SELECT inventory_changes_start()");
	char *snap = NULL;
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
		snap = strdup(PQgetvalue(res, 0, 0));
	else
		log_error("changes", "error=\"no snapshot to start from\"");
	PQclear(res);
	return snap;
}

int changes_start(struct app *app, const char *snapshot)
{
	struct changes *c = calloc(1, sizeof *c);
	if (!c)
		return -1;
	c->app = app;
	app->changes = c;
	c->snapshot = strdup(snapshot);
	c->last_ok_ms = now_ms();
	c->tick = event_new(app->base, -1, EV_PERSIST, tick, c);
	struct timeval tv = {0, CHANGES_POLL_MS * 1000L};
	if (!c->snapshot || !c->tick || event_add(c->tick, &tv) != 0)
		return -1;   /* changes_free cleans up */
	return 0;
}

void changes_stop(struct app *app)
{
	struct changes *c = app->changes;
	if (!c)
		return;
	c->stopped = true;
	if (c->tick) {
		event_free(c->tick);
		c->tick = NULL;
	}
}

void changes_free(struct app *app)
{
	struct changes *c = app->changes;
	if (!c)
		return;
	changes_stop(app);
	free(c->snapshot);
	free(c);
	app->changes = NULL;
}
