/*
 * Periodic work (see scheduler.h).
 */
#include "scheduler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>

#include "app.h"
#include "changes.h"
#include "clock.h"
#include "inventory.h"
#include "inventory_refresh.h"
#include "log.h"
#include "notify.h"
#include "store.h"
#include "webhooks.h"

static void apply_retention(struct app *app);

static void expire_done(void *arg, PGresult *res)
{
	struct app *app = arg;
	if (store_result_failed(res)) {
		log_warn("hold_expiry", "result=failed");
		return;
	}
	int n = PQntuples(res), f_offer = PQfnumber(res, "offer_id"), f_youth = PQfnumber(res, "youth_id");
	if (n == 0 || f_offer < 0 || f_youth < 0)
		return;
	int64_t *offers = malloc(sizeof *offers * (size_t)n), *youth = malloc(sizeof *youth * (size_t)n);
	if (offers && youth) {
		for (int i = 0; i < n; i++) {
			offers[i] = strtoll(PQgetvalue(res, i, f_offer), NULL, 10);
			youth[i] = strtoll(PQgetvalue(res, i, f_youth), NULL, 10);
		}
		inventory_refresh(app->refresh, offers, n, youth, n, NULL, NULL);
	}
	free(offers);
	free(youth);
	log_info("hold_expiry", "expired=%d", n);
	webhooks_kick(app);
}

static void expire_holds(struct app *app)
{
	char today[11];
	clock_today(&app->cfg, today);
	const char *values[1] = {today};
	store_query(app->store, "SELECT * FROM placements_expire($1::date)", 1, values, expire_done, app);
}

static void scan_done(void *arg, PGresult *res)
{
	struct app *app = arg;
	if (store_result_failed(res)) {
		log_warn("alert_scan", "result=failed");
		return;
	}
	int f_events = PQfnumber(res, "events");
	if (f_events < 0 || PQntuples(res) != 1)
		return;
	long n = strtol(PQgetvalue(res, 0, f_events), NULL, 10);
	if (n > 0) {
		log_info("alert_scan", "events=%ld", n);
		webhooks_kick(app);
	}
}

static void scan_alerts(struct app *app)
{
	char today[11], thresholds[CONFIG_MAX_THRESHOLDS * 5 + 3];
	clock_today(&app->cfg, today);
	size_t len = 0;
	thresholds[len++] = '{';
	for (int i = 0; i < app->cfg.n_thresholds; i++)
		len += (size_t)snprintf(thresholds + len, sizeof thresholds - len, "%s%d", i ? "," : "",
					app->cfg.thresholds[i]);
	snprintf(thresholds + len, sizeof thresholds - len, "}");
	const char *values[2] = {today, thresholds};
	store_query(app->store, "SELECT alerts_scan($1::date, $2::integer[]) AS events", 2, values, scan_done, app);
}

/* Offers reconfirm_days old: one offer.reconfirm_due event each, the
 * porteur's reminder (sql/018_imports_freshness.sql). */
static void reconfirm_done(void *arg, PGresult *res)
{
	struct app *app = arg;
	if (store_result_failed(res)) {
		log_warn("reconfirm_scan", "result=failed");
		return;
	}
	int n = (int)strtol(PQgetvalue(res, 0, 0), NULL, 10);
	if (n > 0) {
		log_info("reconfirm_scan", "events=%d", n);
		webhooks_kick(app);
	}
}

static void scan_reconfirm(struct app *app)
{
	char today[11], days[16];
	clock_today(&app->cfg, today);
	snprintf(days, sizeof days, "%d", app->cfg.reconfirm_days);
	const char *values[2] = {today, days};
	store_query(app->store, "SELECT offers_reconfirm_scan($1::date, $2::integer)", 2, values,
		    reconfirm_done, app);
}

void scheduler_run_now(struct app *app)
{
	expire_holds(app);
	scan_alerts(app);
	scan_reconfirm(app);
	notify_scan_reminders(app);
	apply_retention(app);
}

void scheduler_scan_alerts(struct app *app)
{
	scan_alerts(app);
}

static void retention_done(void *arg, PGresult *res)
{
	struct app *app = arg;
	if (store_result_failed(res)) {
		log_warn("retention", "result=failed");
		return;
	}
	int n = PQntuples(res), f_youth = PQfnumber(res, "youth_id");
	if (n == 0 || f_youth < 0)
		return;
	int64_t *ids = malloc(sizeof *ids * (size_t)n);
	if (ids) {
		for (int i = 0; i < n; i++)
			ids[i] = strtoll(PQgetvalue(res, i, f_youth), NULL, 10);
		inventory_refresh(app->refresh, NULL, 0, ids, n, NULL, NULL);
	}
	free(ids);
	log_info("retention", "anonymised=%d", n);
}

static void audit_purged(void *arg, PGresult *res)
{
	if (store_result_failed(res))
		log_warn("audit_retention", "result=failed");
	else if (PQntuples(res) == 1 && strtol(PQgetvalue(res, 0, 0), NULL, 10) > 0)
		log_info("audit_retention", "deleted=%s", PQgetvalue(res, 0, 0));
}

/* Young people inactive for retention_months are anonymised; audit rows
 * older than audit_retention_months are deleted. */
static void accounts_cleanup_done(void *arg, PGresult *res)
{
	if (store_result_failed(res))
		log_warn("accounts_cleanup", "result=failed");
}

static void apply_retention(struct app *app)
{
	char amonths[16];
	snprintf(amonths, sizeof amonths, "%d", app->cfg.audit_retention_months);
	const char *avalues[1] = {amonths};
	store_query(app->store, "SELECT audit_purge($1::integer)", 1, avalues, audit_purged, NULL);
	/* accounts: sessions and one-time links over for a month are deleted */
	store_query(app->store, "SELECT accounts_cleanup()", 0, NULL, accounts_cleanup_done, NULL);
	char today[11], months[16];
	clock_today(&app->cfg, today);
	snprintf(months, sizeof months, "%d", app->cfg.retention_months);
	const char *values[2] = {today, months};
	store_query(app->store, "SELECT * FROM youth_retention($1::date, $2::integer)", 2, values,
		    retention_done, app);
}

static void changes_purged(void *arg, PGresult *res)
{
	if (store_result_failed(res))
		log_warn("changes_purge", "result=failed");
}

/* The change table's rows every instance has read long ago (changes.h). */
static void purge_changes(struct app *app)
{
	char keep[16];
	snprintf(keep, sizeof keep, "%d", CHANGES_KEEP_SECONDS);
	const char *values[1] = {keep};
	store_query(app->store, "SELECT inventory_changes_purge($1::integer)", 1, values, changes_purged, NULL);
}

static void hold_tick(evutil_socket_t fd, short what, void *arg)
{
	struct app *app = arg;
	expire_holds(app);
	purge_changes(app);
	app->since_retention += SCHEDULER_PERIOD;
	if (app->since_retention >= 3600) {
		app->since_retention = 0;
		apply_retention(app);
	}
	/* A safety net under the change table: every reconcile_interval_seconds
	 * the whole inventory is read again. */
	app->since_reconcile += SCHEDULER_PERIOD;
	if (app->since_reconcile >= app->cfg.reconcile_interval_seconds) {
		app->since_reconcile = 0;
		inventory_refresh_all(app->refresh, NULL, NULL);
	}
}

static void alert_tick(evutil_socket_t fd, short what, void *arg)
{
	struct app *app = arg;
	scan_alerts(app);
	scan_reconfirm(app);
	notify_scan_reminders(app);
	/* the period may have changed on SIGHUP */
	struct timeval tv = {app->cfg.alerts_interval_seconds, 0};
	if (evtimer_add(app->alert_timer, &tv) != 0)
		log_error("alerts", "error=\"cannot schedule the next scan\"");
}

int scheduler_start(struct app *app)
{
	app->scheduler = event_new(app->base, -1, EV_PERSIST, hold_tick, app);
	app->alert_timer = evtimer_new(app->base, alert_tick, app);
	if (!app->scheduler || !app->alert_timer)
		return -1;
	struct timeval tv = {SCHEDULER_PERIOD, 0};
	struct timeval atv = {app->cfg.alerts_interval_seconds, 0};
	if (event_add(app->scheduler, &tv) != 0 || evtimer_add(app->alert_timer, &atv) != 0)
		return -1;
	scheduler_run_now(app);
	return 0;
}

void scheduler_stop(struct app *app)
{
	if (app->scheduler) {
		event_free(app->scheduler);
		app->scheduler = NULL;
	}
	if (app->alert_timer) {
		event_free(app->alert_timer);
		app->alert_timer = NULL;
	}
}
