/*
 * changes: what other instances (or psql) committed, read from the change
 * table instead of a NOTIFY per transaction (sql/022_changes_no_notify.sql).
 *
 * Every CHANGES_POLL_MS the instance asks inventory_changes_since() for the
 * offers and young people changed by the transactions that committed since
 * its previous snapshot, and re-reads them into its inventory (then wakes
 * webhook delivery, as a write does). Reading by snapshot, not by a counter,
 * takes each transaction once, whatever order ids and commits came in. The
 * rows this instance's sessions wrote are skipped (they carry its id,
 * siaod.origin, store_new): its writes are re-read after their commit
 * (effects.c), as its own NOTIFYs were ignored before.
 *
 * A reader that could not read for CHANGES_GAP_SECONDS (the database away)
 * re-reads everything: rows older than the scheduler's purge
 * (CHANGES_KEEP_SECONDS) may be gone.
 */
#ifndef SIAOD_CHANGES_H
#define SIAOD_CHANGES_H

#include <libpq-fe.h>

#define CHANGES_POLL_MS 250
#define CHANGES_KEEP_SECONDS 600
#define CHANGES_GAP_SECONDS 300        /* half the time kept */

struct app;
struct changes;

/* The snapshot to read from, taken (blocking, at start) before the inventory
 * is loaded, so that nothing committed after the load is missed: a string to
 * free, or NULL (logged). */
char *changes_snapshot_blocking(PGconn *pg);
/* Starts reading from snapshot (copied); -1 on error. */
int changes_start(struct app *app, const char *snapshot);
/* Stops the timer; the state goes with changes_free, after the store (whose
 * last answers may still call back). */
void changes_stop(struct app *app);
void changes_free(struct app *app);

#endif
