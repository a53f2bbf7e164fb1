/*
 * candidates: the best waiting young people for a freed place, as ids and
 * scores, added to offer.capacity_available events before delivery (the
 * "enrichment"). The write that frees a place enqueues its event not ready
 * (sql/functions/webhooks.sql); a round reads the waiting events, ranks each
 * offer's candidates on the published inventory and makes the event ready,
 * after which webhooks.c delivers it like any other.
 */
#ifndef SIAOD_CANDIDATES_H
#define SIAOD_CANDIDATES_H

#include <stdbool.h>

struct app;
struct candidates;

/* done(arg) is called when a round has made events ready (deliveries may
 * be due). */
typedef void (*candidates_done_fn)(void *arg);

struct candidates *candidates_new(struct app *app, candidates_done_fn done, void *arg);
/* Starts a round unless one runs. written: a write's inventory refresh has
 * just been published, so its events may be ranked; otherwise only events
 * old enough to be in the inventory whatever happened to their kick. */
void candidates_round(struct candidates *c, bool written);
/* No new round; answers still to come end quietly. */
void candidates_stop(struct candidates *c);
/* After the store is closed (no answer can come any more). */
void candidates_free(struct candidates *c);

#endif
