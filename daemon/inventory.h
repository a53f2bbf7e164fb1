/*
 * inventory: the in-memory copy of what matching needs — offers with their
 * places and the date ranges that hold each place, and young people — loaded
 * from PostgreSQL at start and refreshed after every committed write, so a
 * match answers from memory, at once, and reflects the last write.
 *
 * PostgreSQL stays the source of truth: the inventory is only ever filled
 * from the inv_* SQL functions (sql/003_youth.sql and later), with the same
 * row parsers for the full load and for a refresh of a few ids.
 *
 * Two grids (offers by location, waiting youth by wished commune) keep a
 * distance-limited search to the cells around a point, never the country.
 */
#ifndef SIAOD_INVENTORY_H
#define SIAOD_INVENTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <libpq-fe.h>

#include "siaod/match.h"

struct store;

/* A date range that holds a place, [start, end), from a placement. */
struct inv_span {
	sdate start, end;
	int64_t placement_id;
};

struct inv_place {
	int64_t id;
	int number;
	bool active;
	struct inv_span *spans;     /* sorted by start; never overlapping */
	int nspans, capspans;
};

struct inv_offer {
	struct match_offer m;       /* first: a match_offer * is an inv_offer * */
	char departement[4];
	char commune_insee[6];
	int version;
	char *label;
	char created_at[40], updated_at[40];  /* as PostgreSQL writes them in JSON */
	char confirmed_at[40];
	char *external_ref;         /* the porteur's own code, NULL when none */
	struct inv_place *places;
	int nplaces, capplaces;
	int64_t grid_cell;          /* key of its grid cell, 0 when not in the grid */
};

struct inv_youth {
	struct match_youth m;       /* first, as above */
	char departement[4];
	bool waiting;               /* status waiting and no open placement: in the youth grid */
	bool open_placement;        /* a proposal, an accepted hold or a stay */
	bool status_waiting;        /* the record's status, whatever its placements */
	bool located;               /* has a wished commune */
	int own_max_distance_km;    /* 0: the configured default applies */
	unsigned gen;               /* full reload in which it was last seen */
	struct match_decline *declines;  /* owned; m.declines points here */
	int64_t grid_cell;
};

struct inventory;

struct inventory *inventory_new(int default_max_distance_km);
/* default_max_distance_km changed (SIGHUP): applies it to records without their own. */
void inventory_set_default_distance(struct inventory *inv, int km);
void inventory_free(struct inventory *inv);

/* Full load before the event loop runs (blocking). -1 on error (logged). */
int inventory_load(struct inventory *inv, PGconn *pg);

/* Re-reads the given offers and youth from the database, asynchronously,
 * then calls done(arg, ok). Used after each write and on notifications. */
typedef void (*inventory_done_fn)(void *arg, bool ok);
void inventory_refresh(struct inventory *inv, struct store *st,
		       const int64_t *offer_ids, int noffers,
		       const int64_t *youth_ids, int nyouth,
		       inventory_done_fn done, void *arg);

/* Re-reads everything (after a lost LISTEN connection, and periodically as
 * a safety net); young people no longer returned are dropped. */
void inventory_refresh_all(struct inventory *inv, struct store *st, inventory_done_fn done, void *arg);

struct inv_offer *inventory_offer(struct inventory *inv, int64_t id);
struct inv_youth *inventory_youth(struct inventory *inv, int64_t id);
size_t inventory_offer_count(const struct inventory *inv);
size_t inventory_youth_count(const struct inventory *inv);
size_t inventory_place_count(const struct inventory *inv);

/* Places of o free on every day of [start, end): active places no span
 * overlaps. A binary search per place, never a scan of every stay. */
int inventory_free_places(const struct inv_offer *o, sdate start, sdate end);
/* Free places on day d as the API reports them: 0 unless the offer is open
 * and d within its availability window. */
int inventory_free_on(const struct inv_offer *o, sdate d);
/* A match_free_places_fn over the inventory (ctx unused). */
int inventory_free_places_cb(void *ctx, const struct match_offer *o, sdate start, sdate end);
/* The earliest day d >= from on which an active place of o is free for
 * [d, d + days); DATE_NONE without an active place. And the same as a
 * match_next_free_fn (ctx unused). */
sdate inventory_next_free(const struct inv_offer *o, sdate from, int days);
sdate inventory_next_free_cb(void *ctx, const struct match_offer *o, sdate from, int days);

/* Offers whose grid cells come within radius_km of (lat, lon): a superset
 * of those within the radius. Fills out (up to max) and returns the count;
 * a return above max means out was too small. */
size_t inventory_offers_near(struct inventory *inv, double lat, double lon, double radius_km,
			     const struct match_offer **out, size_t max);
/* Every offer, for explanations that must count the whole country. */
size_t inventory_all_offers(struct inventory *inv, const struct match_offer **out, size_t max);
/* Every young person (waiting or not), for the planner. */
size_t inventory_all_youth(struct inventory *inv, const struct inv_youth **out, size_t max);
/* Waiting young people who might reach (lat, lon) with their own
 * max_distance_km (the grid is searched with the largest of those). */
size_t inventory_youth_near(struct inventory *inv, double lat, double lon,
			    const struct match_youth **out, size_t max);

#endif
