/*
 * inventory: the in-memory model of what matching and planning need —
 * offers with their places and the date ranges that hold each place, and
 * young people — with two grids (offers by location, waiting youth by
 * wished commune) so a distance-limited search visits the cells around a
 * point, never the country.
 *
 * This module is the model only: no libpq, no event loop. It is filled by
 * inventory_rows.c (PostgreSQL rows, read by column name) and kept fresh by
 * inventory_refresh.c (batching, snapshots).
 *
 * Two kinds of inventory, one type:
 *   - the WORKING model, owned by the event loop, changed in place by the
 *     inventory_put_* / inventory_set_* calls below;
 *   - SNAPSHOTS, made by inventory_freeze(): immutable, reference counted
 *     (inventory_retain / inventory_release from any thread), read by the
 *     loop's handlers and by worker threads alike.
 *
 * Copy on write by epochs: every block the working model holds (a record,
 * a chunk of 256 id-map slots, a grid cell's vector) carries the epoch it
 * was made in; each freeze ends an epoch. The working model changes a
 * block in place only if it was made in the current epoch (no snapshot
 * can hold it); otherwise it copies the block and RETIRES the old one,
 * which the working model frees once every snapshot of an earlier epoch
 * is released (inventory_collect, on the loop). So freezing copies only
 * pointer tables (a few kB for the national set), never a record; a write
 * copies the few blocks it touches.
 */
#ifndef SIAOD_INVENTORY_H
#define SIAOD_INVENTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "siaod/match.h"

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
	/* Right after m, within the offer's first 128 bytes, which a ranking
	 * prefetches before asking whether a place is free (match.c). */
	/* From this day on an active place is free for good (the end of its
	 * last span; DATE_NONE: one has none; INT32_MAX: no active place):
	 * a ranking's "is a place free" answered without reading the places. */
	sdate free_from;
	/* From this day on every active place is free for good (the latest
	 * end of their last spans), and how many are active: a count of free
	 * places, for a ranking's winners, without reading the places. */
	sdate all_free_from;
	int nactive;
	struct inv_place *places;
	int nplaces, capplaces;
	char departement[4];
	char commune_insee[6];
	int version;
	char *label;
	char created_at[40], updated_at[40];  /* as PostgreSQL writes them in JSON */
	char confirmed_at[40];
	char *external_ref;         /* the porteur's own code, NULL when none */
	int64_t grid_cell;          /* key of its grid cell, 0 when not in the grid */
	unsigned epoch;             /* made in (see above) */
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
	unsigned epoch;             /* made in (see above) */
};

struct inventory;

/* ---------------------------------------------------------------- lifecycle */

/* An empty working model. */
struct inventory *inventory_new(int default_max_distance_km);
/* An immutable snapshot of the working model as it is now (count 1). NULL
 * when out of memory. Loop only (it reads and ends an epoch of the working
 * model). */
struct inventory *inventory_freeze(struct inventory *work);
/* Any thread. A snapshot released by all is freed, with the blocks only it
 * still read, by the next inventory_collect; releasing the working model
 * frees it at once with every snapshot (at exit: none may be in use).
 * inventory_free is inventory_release. */
struct inventory *inventory_retain(struct inventory *inv);
void inventory_release(struct inventory *inv);
void inventory_free(struct inventory *inv);
/* Loop: frees the snapshots no one holds any more, and the retired blocks
 * no remaining snapshot can read. Returns the snapshots still alive. */
int inventory_collect(struct inventory *work);
bool inventory_frozen(const struct inventory *inv);

/* ---------------------------------------------------------------- reading (any inventory) */

const struct inv_offer *inventory_offer(const struct inventory *inv, int64_t id);
const struct inv_youth *inventory_youth(const struct inventory *inv, int64_t id);
size_t inventory_offer_count(const struct inventory *inv);
size_t inventory_youth_count(const struct inventory *inv);
size_t inventory_place_count(const struct inventory *inv);

/* Places of o free on every day of [start, end): active places no span
 * overlaps. A binary search per place, never a scan of every stay. */
int inventory_free_places(const struct inv_offer *o, sdate start, sdate end);
/* The latest end such that a place of o is free on every day of
 * [start, end) (start itself: none is free on start; INT32_MAX: one is free
 * for good). For a fixed start, inventory_free_places(o, start, end) > 0
 * exactly when end <= this: the planner asks it once an offer, not once a
 * pair. */
sdate inventory_free_until(const struct inv_offer *o, sdate start);
/* Free places on day d as the API reports them: 0 unless the offer is open
 * and d within its availability window. */
int inventory_free_on(const struct inv_offer *o, sdate d);
/* The first active place, by number, free over [start, end); 0: none. */
int64_t inventory_first_free_place(const struct inv_offer *o, sdate start, sdate end);
/* A match_free_places_fn and a match_has_free_fn over the inventory (ctx
 * unused). */
bool inventory_has_free_cb(void *ctx, const struct match_offer *o, sdate start, sdate end);
int inventory_free_places_cb(void *ctx, const struct match_offer *o, sdate start, sdate end);
/* The earliest day d >= from on which an active place of o is free for
 * [d, d + days); DATE_NONE without an active place. And the same as a
 * match_next_free_fn (ctx unused). */
sdate inventory_next_free(const struct inv_offer *o, sdate from, int days);
sdate inventory_next_free_cb(void *ctx, const struct match_offer *o, sdate from, int days);

struct config;
/* The matcher's parameters, built here only: the configured weights, the
 * inventory's free places and next free day, today ("YYYY-MM-DD", the
 * request's) and on (a fixed start, or DATE_NONE). */
struct match_params inventory_match_params(const struct config *c, const char *today, sdate on);

/* Offers whose grid cells come within radius_km of (lat, lon): a superset
 * of those within the radius. Fills out (up to max) and returns the count;
 * a return above max means out was too small. */
size_t inventory_offers_near(const struct inventory *inv, double lat, double lon, double radius_km,
			     const struct match_offer **out, size_t max);
/* The offer grid's cells that come within radius_km of (lat, lon), nearest
 * first, each read in place (offers by value, see match_rank_cells). Fills
 * out (up to max) and returns the count; a return above max means out was
 * too small. */
size_t inventory_offer_cells(const struct inventory *inv, double lat, double lon, double radius_km,
			     struct match_cell *out, size_t max);
/* The same cells one at a time, nearest first, looked up only when their
 * turn comes (see grid_walk): inventory_offer_walk starts a walk (0, or -1
 * when out of memory), inventory_offer_walk_next (a match_cell_next_fn, ctx
 * the walk) gives the next cell. */
struct grid_walk;
int inventory_offer_walk(const struct inventory *inv, double lat, double lon, double radius_km,
			 struct grid_walk *w);
bool inventory_offer_walk_next(void *walk, struct match_cell *out);
/* The youth grid's cells (waiting young people) that come within reach of
 * (lat, lon) — the largest max_distance_km of a waiting young person, put
 * in *reach_km — nearest first (see match_rank_youth_cells). Fills out (up
 * to max) and returns the count, as inventory_offer_cells. */
size_t inventory_youth_cells(const struct inventory *inv, double lat, double lon,
			     struct match_ycell *out, size_t max, double *reach_km);
/* A page of offers by id: the k with the smallest ids above `after` that
 * keep() accepts (NULL: all), in id order, in out (k slots); returns how
 * many, or SIZE_MAX when out of memory. *more says whether one more exists. Reads the ids where the map
 * keeps them and an offer only when its id could make the page: a page
 * costs a scan of the ids, not a sort of the country. */
size_t inventory_offers_page(const struct inventory *inv, int64_t after,
			     bool (*keep)(void *ctx, const struct inv_offer *o), void *ctx,
			     const struct inv_offer **out, size_t k, bool *more);
/* Every offer, for explanations that must count the whole country. */
size_t inventory_all_offers(const struct inventory *inv, const struct match_offer **out, size_t max);
/* Every young person (waiting or not), for the planner. */
size_t inventory_all_youth(const struct inventory *inv, const struct inv_youth **out, size_t max);
/* Waiting young people who might reach (lat, lon) with their own
 * max_distance_km (the grid is searched with the largest of those). */
size_t inventory_youth_near(const struct inventory *inv, double lat, double lon,
			    const struct match_youth **out, size_t max);

/* ---------------------------------------------------------------- changing (working model only) */

/* default_max_distance_km changed (SIGHUP): applies it to records without their own. */
void inventory_set_default_distance(struct inventory *inv, int km);

/* Adds or replaces an offer's own fields (m, departement, commune_insee,
 * version, label, created_at, updated_at of `fields`); its places and
 * spans stay. 0, or -1 when out of memory. */
int inventory_put_offer(struct inventory *inv, const struct inv_offer *fields);
/* The offer's places become `places` (id, number, active of each); a
 * place that stays keeps its spans. Unknown offer: ignored. */
int inventory_set_places(struct inventory *inv, int64_t offer_id, const struct inv_place *places, int n);
/* Forgets the spans of one offer (or of every offer, offer_id 0), before
 * inventory_add_span gives them again. */
int inventory_clear_spans(struct inventory *inv, int64_t offer_id);
/* Appends a span (in start order) to a place; unknown place: ignored. */
int inventory_add_span(struct inventory *inv, int64_t offer_id, int64_t place_id, struct inv_span s);

/* Puts one placement's span (s.placement_id) on a place, in start order,
 * instead of whatever the offer held for that placement; an empty span
 * (end <= start) only removes it. For a write whose outcome is known,
 * without reading the whole offer again. Unknown offer or place: ignored. */
int inventory_put_span(struct inventory *inv, int64_t offer_id, int64_t place_id, struct inv_span s);
/* Starts a full reload: young people not put again before
 * inventory_sweep_youth are dropped by it. */
void inventory_begin_full(struct inventory *inv);
void inventory_sweep_youth(struct inventory *inv);
/* A young person's open placement, known from a write (a proposal made):
 * out of the youth grid while one is open. Unknown id: ignored. */
int inventory_set_open_placement(struct inventory *inv, int64_t id, bool open);
/* Adds or replaces a young person (every field of `fields` but gen,
 * grid_cell and m.max_distance_km, which the model works out). */
int inventory_put_youth(struct inventory *inv, const struct inv_youth *fields);
/* Erased: gone from everything. */
void inventory_drop_youth(struct inventory *inv, int64_t id);

#endif
