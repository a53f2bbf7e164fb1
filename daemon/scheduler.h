/*
 * scheduler: the periodic work of the daemon on one libevent timer — for now
 * the expiry of holds (proposed and accepted placements past their day).
 * It runs at start, every SCHEDULER_PERIOD seconds and after a SIGHUP (so a
 * moved test clock takes effect at once).
 */
#ifndef SIAOD_SCHEDULER_H
#define SIAOD_SCHEDULER_H

struct app;

#define SCHEDULER_PERIOD 60

int  scheduler_start(struct app *app);
void scheduler_run_now(struct app *app);
void scheduler_stop(struct app *app);

#endif
