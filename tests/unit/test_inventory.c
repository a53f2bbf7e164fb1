/*
 * The inventory model without a database: offers, places and spans put in
 * as the row readers would, free places worked out by hand, the grids'
 * searches, young people dropped and swept; then snapshots: a snapshot
 * never changes when the working model does, a reader keeps an old
 * snapshot alive across a swap and a collection (a record freed while a
 * reader holds it would be a use after free, which the test build's ASan
 * reports), and records are shared, not copied, until the working model
 * changes them.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "inventory.h"
#include "unit.h"

#define D(x) ((sdate)(x))

/* Sète and Montpellier, 27 km apart; Lille, far away. */
#define SETE_LAT 43.4028
#define SETE_LON 3.6920
#define MTP_LAT 43.6108
#define MTP_LON 3.8767
#define LILLE_LAT 50.6292
#define LILLE_LON 3.0573

static int put_offer(struct inventory *inv, int64_t id, double lat, double lon, const char *label)
{
	struct inv_offer o;
	memset(&o, 0, sizeof o);
	o.m.id = id;
	o.m.lat = lat;
	o.m.lon = lon;
	o.m.open = true;
	o.m.available_from = D(0);
	o.m.available_until = DATE_NONE;
	o.m.capacity = 2;
	strcpy(o.departement, "34");
	o.label = (char *)label;
	return inventory_put_offer(inv, &o);
}

static int put_youth(struct inventory *inv, int64_t id, double lat, double lon, bool waiting, int own_km)
{
	struct inv_youth y;
	memset(&y, 0, sizeof y);
	y.m.id = id;
	y.m.lat = lat;
	y.m.lon = lon;
	y.located = true;
	y.status_waiting = waiting;
	y.own_max_distance_km = own_km;
	strcpy(y.departement, "34");
	return inventory_put_youth(inv, &y);
}

static bool has(const struct match_offer **v, size_t n, int64_t id)
{
	for (size_t i = 0; i < n; i++)
		if (v[i]->id == id)
			return true;
	return false;
}

/* has_free (its shortcut from free_from, then the places), and an end
 * within free_until (the planner's), say what free_places > 0 says, for
 * every period over the spans' days. */
static void has_free_agrees(const struct inv_offer *o)
{
	for (int a = -2; a < 45; a++) {
		sdate until = inventory_free_until(o, D(a));
		for (int b = a + 1; b < 50; b++) {
			CHECK_INT(inventory_has_free_cb(NULL, &o->m, D(a), D(b)),
				  inventory_free_places(o, D(a), D(b)) > 0);
			CHECK_INT(D(b) <= until, inventory_free_places(o, D(a), D(b)) > 0);
		}
	}
}

static void model(void)
{
	struct inventory *inv = inventory_new(30);
	CHECK(inv && !inventory_frozen(inv));
	CHECK_INT(put_offer(inv, 1, SETE_LAT, SETE_LON, "Sète"), 0);
	CHECK_INT(put_offer(inv, 2, LILLE_LAT, LILLE_LON, "Lille"), 0);
	struct inv_place places[2] = {{.id = 11, .number = 1, .active = true},
				      {.id = 12, .number = 2, .active = true}};
	CHECK_INT(inventory_set_places(inv, 1, places, 2), 0);
	CHECK_INT(inventory_set_places(inv, 999, places, 2), 0);   /* unknown offer: ignored */
	CHECK_INT(inventory_offer_count(inv), 2);
	CHECK_INT(inventory_place_count(inv), 2);
	const struct inv_offer *o = inventory_offer(inv, 1);
	CHECK(o && strcmp(o->label, "Sète") == 0);
	CHECK(inventory_offer(inv, 3) == NULL);
	/* place 11 held on [10, 20), place 12 on [0, 5) and [15, 40) */
	CHECK_INT(inventory_add_span(inv, 1, 11, (struct inv_span){D(10), D(20), 100}), 0);
	CHECK_INT(inventory_add_span(inv, 1, 12, (struct inv_span){D(0), D(5), 101}), 0);
	CHECK_INT(inventory_add_span(inv, 1, 12, (struct inv_span){D(15), D(40), 102}), 0);
	o = inventory_offer(inv, 1);
	CHECK_INT(inventory_free_places(o, D(5), D(10)), 2);    /* both free between their spans */
	CHECK_INT(inventory_free_places(o, D(4), D(10)), 1);    /* 12 until day 5 */
	CHECK_INT(inventory_free_places(o, D(19), D(20)), 0);
	CHECK_INT(inventory_free_places(o, D(20), D(40)), 1);   /* 11 free again on its exit day */
	CHECK_INT(inventory_free_on(o, D(12)), 1);
	has_free_agrees(o);
	CHECK_INT(o->free_from, D(20));        /* 11's last span ends first */
	/* a place deactivated is never free; a place kept keeps its spans */
	places[1].active = false;
	CHECK_INT(inventory_set_places(inv, 1, places, 2), 0);
	o = inventory_offer(inv, 1);
	CHECK_INT(inventory_free_places(o, D(5), D(10)), 1);
	CHECK_INT(inventory_free_places(o, D(12), D(13)), 0);   /* 11's span kept */
	has_free_agrees(o);
	places[0].active = false;
	CHECK_INT(inventory_set_places(inv, 1, places, 2), 0);
	o = inventory_offer(inv, 1);
	CHECK_INT(o->free_from, INT32_MAX);    /* no active place: never free */
	has_free_agrees(o);
	places[0].active = true;
	CHECK_INT(inventory_set_places(inv, 1, places, 2), 0);
	/* spans replaced */
	CHECK_INT(inventory_clear_spans(inv, 1), 0);
	o = inventory_offer(inv, 1);
	CHECK_INT(inventory_free_places(o, D(12), D(13)), 1);
	CHECK_INT(o->free_from, DATE_NONE);    /* a place without spans: free on any day */
	has_free_agrees(o);
	/* closed: 0 free places reported whatever the spans */
	struct inv_offer f = *inventory_offer(inv, 1);
	f.m.open = false;
	f.label = "Sète fermé";
	CHECK_INT(inventory_put_offer(inv, &f), 0);
	o = inventory_offer(inv, 1);
	CHECK_INT(inventory_free_on(o, D(12)), 0);
	CHECK_INT(o->nplaces, 2);                               /* places survive a put */
	CHECK_STR(o->label, "Sète fermé");
	/* the offer grid: Montpellier reaches Sète at 30 km, not at 20; Lille never */
	const struct match_offer *near[8];
	size_t n = inventory_offers_near(inv, MTP_LAT, MTP_LON, 30, near, 8);
	CHECK(has(near, n, 1) && !has(near, n, 2));
	n = inventory_offers_near(inv, MTP_LAT, MTP_LON, 20, near, 8);
	CHECK(!has(near, n, 1));
	CHECK_INT(inventory_all_offers(inv, NULL, 0), 2);
	/* moving an offer moves it in the grid */
	f = *inventory_offer(inv, 2);
	f.m.lat = MTP_LAT;
	f.m.lon = MTP_LON;
	f.label = "Lille à Montpellier";
	CHECK_INT(inventory_put_offer(inv, &f), 0);
	n = inventory_offers_near(inv, MTP_LAT, MTP_LON, 5, near, 8);
	CHECK(has(near, n, 2) && !has(near, n, 1));

	/* young people: default reach, own reach, waiting or not */
	CHECK_INT(put_youth(inv, 7, MTP_LAT, MTP_LON, true, 0), 0);
	CHECK_INT(put_youth(inv, 8, SETE_LAT, SETE_LON, true, 50), 0);
	CHECK_INT(put_youth(inv, 9, SETE_LAT, SETE_LON, false, 0), 0);
	CHECK_INT(inventory_youth(inv, 7)->m.max_distance_km, 30);
	CHECK_INT(inventory_youth(inv, 8)->m.max_distance_km, 50);
	CHECK(inventory_youth(inv, 7)->waiting && !inventory_youth(inv, 9)->waiting);
	const struct match_youth *ys[8];
	n = inventory_youth_near(inv, LILLE_LAT, LILLE_LON, ys, 8);
	CHECK_INT(n, 0);
	n = inventory_youth_near(inv, SETE_LAT, SETE_LON, ys, 8);
	CHECK_INT(n, 2);                                       /* 9 is not waiting */
	inventory_set_default_distance(inv, 40);
	CHECK_INT(inventory_youth(inv, 7)->m.max_distance_km, 40);
	CHECK_INT(inventory_youth(inv, 8)->m.max_distance_km, 50);
	/* a pending proposal: status waiting, but not waiting for another place */
	struct inv_youth yf = *inventory_youth(inv, 7);
	yf.open_placement = true;
	CHECK_INT(inventory_put_youth(inv, &yf), 0);
	CHECK(!inventory_youth(inv, 7)->waiting && inventory_youth(inv, 7)->status_waiting);
	n = inventory_youth_near(inv, MTP_LAT, MTP_LON, ys, 8);
	CHECK_INT(n, 1);
	/* erased */
	inventory_drop_youth(inv, 8);
	CHECK(inventory_youth(inv, 8) == NULL);
	CHECK_INT(inventory_youth_count(inv), 2);
	/* a full reload that sees only 9 drops 7 */
	inventory_begin_full(inv);
	CHECK_INT(put_youth(inv, 9, SETE_LAT, SETE_LON, false, 0), 0);
	inventory_sweep_youth(inv);
	CHECK(inventory_youth(inv, 7) == NULL && inventory_youth(inv, 9) != NULL);
	CHECK_INT(inventory_youth_count(inv), 1);
	/* all places gone */
	CHECK_INT(inventory_set_places(inv, 1, NULL, 0), 0);
	CHECK_INT(inventory_place_count(inv), 0);
	inventory_free(inv);
}

struct reader {
	struct inventory *snap;     /* the reader's own reference */
	int free_then, free_later;
	char label[32];
};

/* A worker: reads its snapshot after the loop swapped it, then lets go. */
static void *read_later(void *arg)
{
	struct reader *r = arg;
	const struct inv_offer *o = inventory_offer(r->snap, 1);
	r->free_later = o ? inventory_free_places(o, D(5), D(6)) : -1;
	snprintf(r->label, sizeof r->label, "%s", o && o->label ? o->label : "?");
	inventory_release(r->snap);
	return NULL;
}

/* A span put from a write's answer: in start order among the others,
 * instead of what the offer held for that placement, wherever it was; an
 * empty one removes; the snapshot that shared the offer keeps its copy. */
static void put_spans(void)
{
	struct inventory *work = inventory_new(30);
	CHECK_INT(put_offer(work, 1, SETE_LAT, SETE_LON, "Sète"), 0);
	struct inv_place pl[2] = {{.id = 11, .number = 1, .active = true},
				  {.id = 12, .number = 2, .active = true}};
	CHECK_INT(inventory_set_places(work, 1, pl, 2), 0);
	CHECK_INT(inventory_add_span(work, 1, 11, (struct inv_span){D(0), D(10), 100}), 0);
	CHECK_INT(inventory_add_span(work, 1, 11, (struct inv_span){D(30), D(40), 101}), 0);
	struct inventory *snap = inventory_freeze(work);
	CHECK(snap != NULL);

	/* between the two: the place's spans stay sorted (free_places reads them so) */
	CHECK_INT(inventory_put_span(work, 1, 11, (struct inv_span){D(15), D(20), 200}), 0);
	const struct inv_offer *o = inventory_offer(work, 1);
	CHECK_INT(o->places[0].nspans, 3);
	CHECK_INT(o->places[0].spans[0].placement_id, 100);
	CHECK_INT(o->places[0].spans[1].placement_id, 200);
	CHECK_INT(o->places[0].spans[2].placement_id, 101);
	CHECK_INT(inventory_free_places(o, D(16), D(17)), 1);
	CHECK_INT(inventory_free_places(o, D(10), D(15)), 2);
	has_free_agrees(o);
	/* the published snapshot still has its own copy, without it */
	CHECK_INT(inventory_free_places(inventory_offer(snap, 1), D(16), D(17)), 2);
	CHECK_INT(inventory_offer(snap, 1)->places[0].nspans, 2);

	/* the same placement again (a read of the offer had it already): one span */
	CHECK_INT(inventory_put_span(work, 1, 11, (struct inv_span){D(15), D(20), 200}), 0);
	o = inventory_offer(work, 1);
	CHECK_INT(o->places[0].nspans, 3);
	/* moved to the other place, later: gone from the first */
	CHECK_INT(inventory_put_span(work, 1, 12, (struct inv_span){D(50), D(60), 200}), 0);
	o = inventory_offer(work, 1);
	CHECK_INT(o->places[0].nspans, 2);
	CHECK_INT(o->places[1].nspans, 1);
	CHECK_INT(o->free_from, D(40));        /* 11 is free for good from day 40, 12 from 60 */
	has_free_agrees(o);
	/* first in order on its place */
	CHECK_INT(inventory_put_span(work, 1, 11, (struct inv_span){D(-5), D(0), 300}), 0);
	o = inventory_offer(work, 1);
	CHECK_INT(o->places[0].spans[0].placement_id, 300);
	/* empty: removed only */
	CHECK_INT(inventory_put_span(work, 1, 12, (struct inv_span){D(50), D(50), 200}), 0);
	o = inventory_offer(work, 1);
	CHECK_INT(o->places[1].nspans, 0);
	CHECK_INT(o->free_from, DATE_NONE);
	has_free_agrees(o);
	/* unknown offer or place: nothing */
	CHECK_INT(inventory_put_span(work, 9, 11, (struct inv_span){D(0), D(1), 400}), 0);
	CHECK_INT(inventory_put_span(work, 1, 99, (struct inv_span){D(0), D(1), 300}), 0);
	CHECK_INT(inventory_offer(work, 1)->places[0].nspans, 2);   /* 300 removed, put nowhere */

	/* the proposal's young person: out of the candidates while it is open,
	 * in the working model only; back when it is not */
	CHECK_INT(put_youth(work, 7, SETE_LAT, SETE_LON, true, 0), 0);
	struct inventory *snap2 = inventory_freeze(work);
	CHECK(snap2 != NULL);
	const struct match_youth *ys[4];
	CHECK_INT(inventory_set_open_placement(work, 7, true), 0);
	CHECK(inventory_youth(work, 7)->open_placement && !inventory_youth(work, 7)->waiting);
	CHECK_INT(inventory_youth_near(work, SETE_LAT, SETE_LON, ys, 4), 0);
	CHECK_INT(inventory_youth_near(snap2, SETE_LAT, SETE_LON, ys, 4), 1);
	CHECK(!inventory_youth(snap2, 7)->open_placement);
	CHECK_INT(inventory_set_open_placement(work, 7, false), 0);
	CHECK(inventory_youth(work, 7)->waiting);
	CHECK_INT(inventory_youth_near(work, SETE_LAT, SETE_LON, ys, 4), 1);
	CHECK_INT(inventory_set_open_placement(work, 8, true), 0);  /* unknown: nothing */
	/* not waiting (closed): never back in the grid, open or not */
	CHECK_INT(put_youth(work, 9, SETE_LAT, SETE_LON, false, 0), 0);
	CHECK_INT(inventory_set_open_placement(work, 9, false), 0);
	CHECK_INT(inventory_youth_near(work, SETE_LAT, SETE_LON, ys, 4), 1);
	inventory_release(snap2);
	inventory_release(snap);
	inventory_release(work);
}

static void snapshots(void)
{
	struct inventory *work = inventory_new(30);
	CHECK_INT(put_offer(work, 1, SETE_LAT, SETE_LON, "avant"), 0);
	struct inv_place pl[1] = {{.id = 11, .number = 1, .active = true}};
	CHECK_INT(inventory_set_places(work, 1, pl, 1), 0);
	CHECK_INT(put_youth(work, 7, SETE_LAT, SETE_LON, true, 0), 0);

	/* published: the loop's reference */
	struct inventory *published = inventory_freeze(work);
	CHECK(published && inventory_frozen(published));
	/* shared, not copied */
	CHECK(inventory_offer(published, 1) == inventory_offer(work, 1));
	CHECK(inventory_youth(published, 7) == inventory_youth(work, 7));

	/* a reader takes its own reference */
	struct reader r = {.snap = inventory_retain(published)};
	r.free_then = inventory_free_places(inventory_offer(r.snap, 1), D(5), D(6));

	/* the working model changes: the shared record is copied first */
	const struct inv_offer *before = inventory_offer(work, 1);
	CHECK_INT(inventory_add_span(work, 1, 11, (struct inv_span){D(0), D(10), 5}), 0);
	CHECK(inventory_offer(work, 1) != before);
	CHECK_INT(inventory_free_places(inventory_offer(work, 1), D(5), D(6)), 0);
	CHECK_INT(inventory_free_places(inventory_offer(published, 1), D(5), D(6)), 1);
	struct inv_offer f = *inventory_offer(work, 1);
	f.label = "après";
	CHECK_INT(inventory_put_offer(work, &f), 0);
	inventory_drop_youth(work, 7);
	CHECK(inventory_youth(published, 7) != NULL);
	const struct match_youth *ys[4];
	CHECK_INT(inventory_youth_near(published, SETE_LAT, SETE_LON, ys, 4), 1);
	CHECK_INT(inventory_youth_near(work, SETE_LAT, SETE_LON, ys, 4), 0);

	/* the loop swaps: the old snapshot loses the loop's reference but the
	 * reader's keeps it (and its records) alive */
	struct inventory *next = inventory_freeze(work);
	CHECK(next != NULL);
	inventory_release(published);
	published = next;
	CHECK_STR(inventory_offer(published, 1)->label, "après");
	CHECK(inventory_youth(published, 7) == NULL);
	/* the collection keeps the old snapshot (and what only it reads): the reader holds it */
	CHECK_INT(inventory_collect(work), 2);

	pthread_t t;
	CHECK_INT(pthread_create(&t, NULL, read_later, &r), 0);
	pthread_join(t, NULL);
	CHECK_INT(r.free_then, 1);
	CHECK_INT(r.free_later, 1);
	CHECK_STR(r.label, "avant");

	/* the reader let go: its snapshot, the old record 1 and young person 7 go */
	CHECK_INT(inventory_collect(work), 1);
	/* unchanged records stay shared by the new snapshot */
	CHECK(inventory_offer(published, 1) == inventory_offer(work, 1));
	/* a record made since the last freeze is changed in place */
	const struct inv_offer *mine = inventory_offer(work, 1);
	CHECK_INT(put_offer(work, 5, SETE_LAT, SETE_LON, "neuve"), 0);
	const struct inv_offer *fresh = inventory_offer(work, 5);
	CHECK_INT(inventory_add_span(work, 5, 55, (struct inv_span){D(0), D(1), 9}), 0);
	CHECK(inventory_offer(work, 5) == fresh);
	CHECK(inventory_offer(work, 1) == mine);
	CHECK(inventory_offer(published, 5) == NULL);
	inventory_release(published);
	CHECK_INT(inventory_collect(work), 0);
	inventory_release(work);
}

/* Many threads hold and drop snapshots while the loop keeps changing and
 * swapping and collecting: each reader sees its own epoch exactly (ASan
 * and LeakSanitizer check that nothing is freed under a reader or kept). */
struct churn {
	struct inventory *snap;
	long sum;
};

static void *churn_reader(void *arg)
{
	struct churn *c = arg;
	const struct match_offer *all[64];
	size_t n = inventory_all_offers(c->snap, all, 64);
	for (size_t i = 0; i < n && i < 64; i++)
		c->sum += inventory_free_places((const struct inv_offer *)all[i], D(0), D(1));
	inventory_release(c->snap);
	return NULL;
}

static void churn(void)
{
	struct inventory *work = inventory_new(30);
	struct inventory *published = NULL;
	for (int id = 1; id <= 32; id++) {
		CHECK_INT(put_offer(work, id, SETE_LAT, SETE_LON, "o"), 0);
		struct inv_place pl[1] = {{.id = id * 10, .number = 1, .active = true}};
		CHECK_INT(inventory_set_places(work, id, pl, 1), 0);
	}
	published = inventory_freeze(work);
	pthread_t t[16];
	struct churn c[16];
	for (int k = 0; k < 16; k++) {
		c[k] = (struct churn){inventory_retain(published), 0};
		CHECK_INT(pthread_create(&t[k], NULL, churn_reader, &c[k]), 0);
		/* meanwhile the loop changes one offer and swaps */
		int id = 1 + k % 32;
		CHECK_INT(inventory_add_span(work, id, id * 10, (struct inv_span){D(0), D(3), k}), 0);
		struct inventory *next = inventory_freeze(work);
		CHECK(next != NULL);
		inventory_release(published);
		published = next;
		inventory_collect(work);
	}
	for (int k = 0; k < 16; k++) {
		pthread_join(t[k], NULL);
		CHECK_INT(c[k].sum, 32 - k);   /* the snapshot of the k-th swap */
	}
	CHECK_INT(inventory_free_places(inventory_offer(published, 1), D(0), D(1)), 0);
	CHECK_INT(inventory_free_places(inventory_offer(published, 32), D(0), D(1)), 1);
	inventory_release(published);
	CHECK_INT(inventory_collect(work), 0);
	inventory_release(work);
}

/* Issue 16's owned members (external_ref, a young person's declines) are
 * the record's own: put copies them from the caller, and a copy on write
 * leaves the snapshot's intact (ASan reports a use after free otherwise). */
static void owned_members(void)
{
	struct inventory *work = inventory_new(30);
	char ref[] = "FJT-12";
	struct inv_offer o;
	memset(&o, 0, sizeof o);
	o.m.id = 1;
	o.m.lat = SETE_LAT;
	o.m.lon = SETE_LON;
	o.m.open = true;
	o.label = "x";
	o.external_ref = ref;
	CHECK_INT(inventory_put_offer(work, &o), 0);
	ref[0] = 'Z';                        /* the caller's buffer, reused */
	CHECK_STR(inventory_offer(work, 1)->external_ref, "FJT-12");

	struct match_decline d[2] = {{1, D(100)}, {4, D(120)}};
	struct inv_youth y;
	memset(&y, 0, sizeof y);
	y.m.id = 7;
	y.m.lat = SETE_LAT;
	y.m.lon = SETE_LON;
	y.located = true;
	y.status_waiting = true;
	y.m.declines = d;
	y.m.ndeclines = 2;
	CHECK_INT(inventory_put_youth(work, &y), 0);
	d[0].offer_id = 99;                  /* the caller's buffer, reused */
	CHECK(inventory_youth(work, 7)->m.declines != d);
	CHECK_INT((int)inventory_youth(work, 7)->m.declines[0].offer_id, 1);

	struct inventory *snap = inventory_freeze(work);
	CHECK(snap != NULL);
	/* the working model changes both records: copied, the snapshot's kept */
	inventory_set_default_distance(work, 40);
	struct match_decline d2[1] = {{4, D(130)}};
	y.m.declines = d2;
	y.m.ndeclines = 1;
	CHECK_INT(inventory_put_youth(work, &y), 0);
	o.external_ref = NULL;
	CHECK_INT(inventory_put_offer(work, &o), 0);
	CHECK(inventory_offer(work, 1)->external_ref == NULL);
	CHECK_INT((int)inventory_youth(work, 7)->m.ndeclines, 1);
	CHECK_INT(inventory_youth(work, 7)->m.declines[0].on, D(130));
	CHECK(inventory_youth(work, 7)->m.declines == inventory_youth(work, 7)->declines);
	CHECK_INT(inventory_collect(work), 1);
	CHECK_STR(inventory_offer(snap, 1)->external_ref, "FJT-12");
	CHECK_INT((int)inventory_youth(snap, 7)->m.ndeclines, 2);
	CHECK_INT(inventory_youth(snap, 7)->m.declines[1].on, D(120));
	inventory_release(snap);
	CHECK_INT(inventory_collect(work), 0);
	inventory_release(work);
}

static bool odd_id(void *ctx, const struct inv_offer *o)
{
	(void)ctx;
	return o->m.id % 2 == 1;
}

/* Pages of offers by id (GET /v1/offers): against the ids worked out
 * here, for every cursor, several page sizes, with and without a filter,
 * over ids put in out of order and far apart (the map's slots are not
 * in id order). */
static void pages(void)
{
	struct inventory *inv = inventory_new(30);
	enum { N = 3000 };
	int64_t ids[N];
	for (int i = 0; i < N; i++) {
		/* a permutation of 1..N, scaled: 7, 14, ... in a scrambled order */
		ids[i] = (int64_t)((i * 1103L) % N + 1) * 7;
		CHECK_INT(put_offer(inv, ids[i], SETE_LAT, SETE_LON, "p"), 0);
	}
	const struct inv_offer *page[101];
	bool more;
	size_t sizes[] = {1, 2, 50, 100};
	for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
		size_t k = sizes[si];
		for (int f = 0; f < 2; f++) {
			/* walk every page: the ids must come 7, 14, 21, ... (odd
			 * ones only with the filter), each once, then stop */
			int64_t after = 0, expect = 7;
			size_t seen = 0, pages_read = 0;
			for (;;) {
				size_t got = inventory_offers_page(inv, after, f ? odd_id : NULL, NULL, page, k, &more);
				CHECK(got <= k);
				for (size_t i = 0; i < got; i++) {
					CHECK_INT(page[i]->m.id, expect);
					expect += f ? 14 : 7;
				}
				seen += got;
				pages_read++;
				if (!more)
					break;
				CHECK_INT(got, (long)k);
				after = page[got - 1]->m.id;
			}
			size_t total = f ? N / 2 : N;
			CHECK_INT(seen, (long)total);
			CHECK_INT(pages_read, (long)((total + k - 1) / k));
		}
	}
	/* a cursor between ids, past the end, and an empty filter */
	CHECK_INT(inventory_offers_page(inv, 10, NULL, NULL, page, 2, &more), 2);
	CHECK_INT(page[0]->m.id, 14);
	CHECK_INT(page[1]->m.id, 21);
	CHECK(more);
	CHECK_INT(inventory_offers_page(inv, 7 * N, NULL, NULL, page, 5, &more), 0);
	CHECK(!more);
	inventory_release(inv);

	/* dense ids (as the database hands them out), read by lookups, with a
	 * stretch of 2,000 missing ids that the lookups' budget cannot cross */
	inv = inventory_new(30);
	for (int64_t id = 1; id <= 3000; id++)
		if (id <= 500 || id > 2500)
			CHECK_INT(put_offer(inv, id, SETE_LAT, SETE_LON, "d"), 0);
	int64_t after = 0, expect = 1;
	size_t seen = 0;
	do {
		size_t got = inventory_offers_page(inv, after, NULL, NULL, page, 50, &more);
		for (size_t i = 0; i < got; i++, seen++) {
			CHECK_INT(page[i]->m.id, expect);
			expect = expect == 500 ? 2501 : expect + 1;
		}
		after = got ? page[got - 1]->m.id : after;
	} while (more);
	CHECK_INT(seen, 1000);
	inventory_release(inv);
}

int main(void)
{
	pages();
	model();
	put_spans();
	snapshots();
	churn();
	owned_members();
	return unit_done("test_inventory");
}
