/*
 * scheduler: the periodic work of the daemon — the expiry of holds
 * (proposed and accepted placements past their day, every
 * SCHEDULER_PERIOD seconds) and the alert scan (stays nearing or past their
 * planned end, every alerts_interval_seconds), and every hour the
 * anonymisation of young people inactive for retention_months. All run at start, after a
 * SIGHUP (so a moved test clock takes effect at once) and when a write asks
 * (a stay recorded with thresholds already crossed alerts at once). Their
 * SQL is idempotent: running twice, or on two instances, enqueues nothing
 * twice.
 */
#ifndef SIAOD_SCHEDULER_H
#define SIAOD_SCHEDULER_H

struct app;

#define SCHEDULER_PERIOD 60

int  scheduler_start(struct app *app);
void scheduler_run_now(struct app *app);
/* Only the alert scan (after a stay is recorded or extended). */
void scheduler_scan_alerts(struct app *app);
void scheduler_stop(struct app *app);

#endif
