/*
 * inventory_refresh: keeps the inventory (inventory.h) in step with
 * PostgreSQL, and publishes what readers see.
 *
 * It owns the WORKING model, which only it changes, on the event loop:
 * loaded whole at start (blocking, before the loop runs), then re-read a
 * few ids at a time after every committed write and on notifications, in
 * batches (see inventory_refresh.c). After a batch it PUBLISHES an
 * immutable snapshot (inventory_freeze) into *published: the pointer that
 * every reader uses (app->inv: matches, candidates, offers, plans). A
 * reader that keeps a snapshot beyond its callback (a worker thread)
 * takes a reference with inventory_refresh_acquire() and releases it when
 * done, from any thread.
 *
 * Snapshots are published at most every INVENTORY_PUBLISH_MS: batches that
 * end closer together are published once. A refresh's done() callback is
 * called after the snapshot holding its records is published, so a write
 * answered after its refresh is seen by the next match.
 */
#ifndef SIAOD_INVENTORY_REFRESH_H
#define SIAOD_INVENTORY_REFRESH_H

#include <stdbool.h>
#include <stdint.h>
#include <libpq-fe.h>

#include "inventory.h"

#define INVENTORY_PUBLISH_MS 5

struct event_base;
struct inventory;
struct store;
struct inventory_refresh;

/* Loads everything through pg (blocking) into a new working model and
 * publishes its first snapshot into *published. NULL on error (logged). */
struct inventory_refresh *inventory_refresh_load(PGconn *pg, int default_max_distance_km,
						 struct inventory **published);
/* The loop and the store to refresh through, once they exist. */
void inventory_refresh_start(struct inventory_refresh *f, struct event_base *base, struct store *st);
/* Frees the refresher and the working model; *published is released too. */
void inventory_refresh_free(struct inventory_refresh *f);

/* Re-reads the given offers and youth, asynchronously, then calls
 * done(arg, ok) once they are published. */
typedef void (*inventory_done_fn)(void *arg, bool ok);
void inventory_refresh(struct inventory_refresh *f,
		       const int64_t *offer_ids, int noffers,
		       const int64_t *youth_ids, int nyouth,
		       inventory_done_fn done, void *arg);
/* The same, with spans this instance knows from a write it just made (a
 * new proposal's place and days, from its answer): put into the model as
 * they are (inventory_put_span) instead of reading their offers again;
 * youth_id, when not 0, now has an open placement (the proposal's young
 * person, not read again either). */
struct inventory_span {
	int64_t offer_id, place_id;
	struct inv_span span;
	int64_t youth_id;
};
void inventory_refresh_spans(struct inventory_refresh *f,
			     const struct inventory_span *spans, int nspans,
			     const int64_t *offer_ids, int noffers,
			     const int64_t *youth_ids, int nyouth,
			     inventory_done_fn done, void *arg);
/* Re-reads everything (after a lost LISTEN connection, and periodically as
 * a safety net); young people no longer returned are dropped. */
void inventory_refresh_all(struct inventory_refresh *f, inventory_done_fn done, void *arg);
/* default_max_distance_km changed (SIGHUP): applied and published at once. */
void inventory_refresh_default_distance(struct inventory_refresh *f, int km);

/* The snapshot published now, with a reference for the caller. */
struct inventory *inventory_refresh_acquire(struct inventory_refresh *f);

#endif
