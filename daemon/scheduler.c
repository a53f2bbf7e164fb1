/*
 * Periodic work (see scheduler.h).
 */
#include "scheduler.h"

#include <stdlib.h>
#include <string.h>
#include <event2/event.h>

#include "app.h"
#include "clock.h"
#include "inventory.h"
#include "log.h"
#include "store.h"

static void expire_done(void *arg, PGresult *res)
{
	struct app *app = arg;
	if (store_result_failed(res)) {
		log_warn("hold_expiry", "result=failed");
		return;
	}
	int n = PQntuples(res);
	if (n == 0)
		return;
	int64_t *offers = malloc(sizeof *offers * (size_t)n), *youth = malloc(sizeof *youth * (size_t)n);
	if (offers && youth) {
		for (int i = 0; i < n; i++) {
			offers[i] = strtoll(PQgetvalue(res, i, 1), NULL, 10);
			youth[i] = strtoll(PQgetvalue(res, i, 2), NULL, 10);
		}
		inventory_refresh(app->inv, app->store, offers, n, youth, n, NULL, NULL);
	}
	free(offers);
	free(youth);
	log_info("hold_expiry", "expired=%d", n);
}

void scheduler_run_now(struct app *app)
{
	char today[11];
	clock_today(&app->cfg, today);
	const char *values[1] = {today};
	store_query(app->store, "SELECT * FROM placements_expire($1::date)", 1, values, expire_done, app);
}

static void tick(evutil_socket_t fd, short what, void *arg)
{
	scheduler_run_now(arg);
}

int scheduler_start(struct app *app)
{
	app->scheduler = event_new(app->base, -1, EV_PERSIST, tick, app);
	if (!app->scheduler)
		return -1;
	struct timeval tv = {SCHEDULER_PERIOD, 0};
	event_add(app->scheduler, &tv);
	scheduler_run_now(app);
	return 0;
}

void scheduler_stop(struct app *app)
{
	if (app->scheduler) {
		event_free(app->scheduler);
		app->scheduler = NULL;
	}
}
