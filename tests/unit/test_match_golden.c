/*
 * The matches reply, byte for byte, against answers recorded before the
 * ranking was rewritten (issue 13): the body of GET /v1/youth/{id}/matches
 * (match_reply_offers, what the route sends) for 100 young people of a
 * generated inventory with dense towns, with a fixed "today", several
 * limits, explain=1, a fixed start (on) and three weightings.
 *
 * The data set is a pure function of the seed below (no libm in the
 * generator but the grid's own trigonometry, the same on one machine), so
 * only the answers are stored: tests/unit/golden/matches.txt.gz, one line
 * per request, "<request>\t<body>". It was written by the code as it was
 * before the change (SIAOD_GOLDEN_RECORD=1 writes it again: only for a
 * change of the answers that is intended, and said so in the commit).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>

#include "config.h"
#include "inventory.h"
#include "match_reply.h"
#include "unit.h"

#define GOLDEN SIAOD_SOURCE_DIR "/tests/unit/golden/matches.txt.gz"

#define NOFFERS 24000
#define NYOUTH 6000
#define NTOWNS 30
#define NSAMPLES 100

static uint64_t rng_state = 20261205;

static uint64_t next_u64(void)
{
	/* splitmix64: the same stream on every machine */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* 0..n-1 */
static int rnd(int n)
{
	return (int)(next_u64() % (uint64_t)n);
}

/* percent chance */
static bool pct(int p)
{
	return rnd(100) < p;
}

/* a coordinate offset of up to max_milli thousandths of a degree */
static double jitter(int max_milli)
{
	return (double)(rnd(2 * max_milli + 1) - max_milli) / 1000.0;
}

struct town {
	double lat, lon;
	int weight;
	int spread;   /* thousandths of a degree */
};
static struct town towns[NTOWNS];
static int town_total;

static void make_towns(void)
{
	for (int t = 0; t < NTOWNS; t++) {
		towns[t].lat = 42.5 + rnd(8000) / 1000.0;
		towns[t].lon = -4.3 + rnd(11500) / 1000.0;
		/* one metropolis, a few cities, small towns */
		towns[t].weight = t == 0 ? 300 : t < 5 ? 60 : 10 + rnd(20);
		towns[t].spread = t == 0 ? 80 : t < 5 ? 40 : 20;
		town_total += towns[t].weight;
	}
	/* two towns 0.3 km apart across a cell edge, and one on the edge */
	towns[NTOWNS - 1].lat = 45.0;
	towns[NTOWNS - 1].lon = 4.0;
	towns[NTOWNS - 2].lat = 45.0015;
	towns[NTOWNS - 2].lon = 4.0015;
}

static int pick_town(void)
{
	int r = rnd(town_total);
	for (int t = 0; t < NTOWNS; t++) {
		if (r < towns[t].weight)
			return t;
		r -= towns[t].weight;
	}
	return 0;
}

static const char *const labels[] = {
	"Logement",
	"Résidence \"Les Tilleuls\" n°",
	"Foyer\\Jeunes\t",
	"Appart\n / étage",
	"\x01\x1f contrôle",
	"Studio 日本 😀",
	"FJT </script>",
};

static sdate today;

/* The offers of each town, by id, for the declines: the generator must not
 * depend on the order of the inventory's searches. */
static int64_t *town_offers[NTOWNS];
static int town_noffers[NTOWNS];

static void make_offers(struct inventory *inv)
{
	static const int stay[MATCH_KIND_COUNT] = {540, 180, 180, 0, 90};
	for (int i = 0; i < NOFFERS; i++) {
		struct inv_offer o;
		memset(&o, 0, sizeof o);
		int t = pick_town();
		o.m.id = i + 1;
		o.m.porteur_id = 1 + rnd(300);
		o.m.kind = (enum match_kind)rnd(MATCH_KIND_COUNT);
		o.m.lat = towns[t].lat + jitter(towns[t].spread);
		o.m.lon = towns[t].lon + jitter(towns[t].spread);
		o.m.open = pct(95);
		o.m.available_from = pct(5) ? today + 1 + rnd(60) : today - rnd(400);
		if (pct(3))
			o.m.available_from = DATE_NONE;
		o.m.available_until = pct(15) ? today - 30 + rnd(230) : DATE_NONE;
		o.m.max_stay_days = stay[o.m.kind];
		if (o.m.kind == MATCH_KIND_FJT && pct(20))
			o.m.max_stay_days = 730;
		if (o.m.kind == MATCH_KIND_SHARED_FLAT && pct(50))
			o.m.max_stay_days = 60;
		o.m.min_age = pct(30) ? 18 : 0;
		o.m.max_age = pct(60) ? 0 : pct(50) ? 25 : 29;
		o.m.gender = pct(85) ? MATCH_OFFER_GENDER_ANY : pct(66) ? MATCH_OFFER_GENDER_FEMALE
									: MATCH_OFFER_GENDER_MALE;
		o.m.accepts_couples = pct(30);
		o.m.accepts_children = pct(15);
		o.m.accepts_pets = pct(25);
		o.m.wheelchair_accessible = pct(20);
		o.m.support_level = (enum match_support)rnd(MATCH_SUPPORT_COUNT);
		o.m.monthly_charge_eur = pct(10) ? 0 : (10000 + rnd(50000)) / 100.0;
		o.m.capacity = pct(1) ? 0 : o.m.kind == MATCH_KIND_FJT ? 3 + rnd(8) : 1 + rnd(4);
		o.m.confirmed_on = pct(20) ? DATE_NONE : today - rnd(120);
		snprintf(o.departement, sizeof o.departement, "%02d", (t + 1) % 100);
		char code[24];
		snprintf(code, sizeof code, "%02d%03d", (t + 1) % 100, rnd(1000));
		memcpy(o.commune_insee, code, sizeof o.commune_insee - 1);
		/* the label's pattern, then the offer's number */
		char label[96];
		snprintf(label, sizeof label, "%s %d", labels[rnd((int)(sizeof labels / sizeof labels[0]))], i + 1);
		o.label = label;
		CHECK_INT(inventory_put_offer(inv, &o), 0);
		int64_t *grown = realloc(town_offers[t], (size_t)(town_noffers[t] + 1) * sizeof *grown);
		CHECK(grown != NULL);
		if (grown) {
			town_offers[t] = grown;
			grown[town_noffers[t]++] = o.m.id;
		}
		int np = o.m.capacity + (pct(3) ? 1 : 0);
		struct inv_place places[12];
		for (int j = 0; j < np; j++)
			places[j] = (struct inv_place){.id = (int64_t)(i + 1) * 100 + j,
						       .number = j + 1, .active = j < o.m.capacity};
		CHECK_INT(inventory_set_places(inv, o.m.id, places, np), 0);
		for (int j = 0; j < np; j++) {
			sdate from = today - 400;
			if (pct(55)) {
				sdate s = today - 1 - rnd(200), e = today + 1 + rnd(300);
				CHECK_INT(inventory_add_span(inv, o.m.id, places[j].id,
							     (struct inv_span){s, e, places[j].id * 10}), 0);
				from = e;
			}
			if (pct(30)) {
				sdate s = (from > today ? from : today) + 10 + rnd(190);
				CHECK_INT(inventory_add_span(inv, o.m.id, places[j].id,
							     (struct inv_span){s, s + 30 + rnd(270),
									       places[j].id * 10 + 1}), 0);
			}
		}
	}
}

static int cmp_decline(const void *a, const void *b)
{
	const struct match_decline *x = a, *y = b;
	return x->offer_id < y->offer_id ? -1 : x->offer_id > y->offer_id;
}

static void make_youth(struct inventory *inv)
{
	for (int i = 0; i < NYOUTH; i++) {
		struct inv_youth y;
		memset(&y, 0, sizeof y);
		int t = pick_town();
		y.m.id = i + 1;
		y.m.birth_date = pct(2) ? DATE_NONE : today - 5844 - rnd(5100);
		y.m.rqth = pct(10);
		y.m.gender = (enum match_gender)(pct(48) ? MATCH_GENDER_FEMALE
					       : pct(95) ? MATCH_GENDER_MALE : MATCH_GENDER_OTHER);
		y.m.household = pct(80) ? MATCH_HOUSEHOLD_ALONE : pct(60) ? MATCH_HOUSEHOLD_COUPLE
									 : MATCH_HOUSEHOLD_WITH_CHILDREN;
		y.m.has_pets = pct(8);
		for (int b = 0; b < MATCH_NEED_COUNT; b++)
			if (pct(b == 0 ? 4 : 12))
				y.m.needs |= 1u << b;
		y.m.situation = (enum match_situation)rnd(MATCH_SITUATION_COUNT);
		y.m.institution_exit_date = pct(10) ? today - 60 + rnd(121) : DATE_NONE;
		y.m.lat = towns[t].lat + jitter(towns[t].spread + 30);
		y.m.lon = towns[t].lon + jitter(towns[t].spread + 30);
		y.m.monthly_income_eur = pct(15) ? 0 : (30000 + rnd(120000)) / 100.0;
		y.m.support_need = (enum match_support)rnd(MATCH_SUPPORT_COUNT);
		y.m.wanted_from = pct(40) ? DATE_NONE : today - 30 + rnd(91);
		y.m.wanted_months = rnd(25);
		y.m.registered_at = pct(3) ? DATE_NONE : today - rnd(730);
		y.own_max_distance_km = pct(25) ? 10 + rnd(71) : pct(3) ? 1 : 0;
		y.located = true;
		y.status_waiting = pct(90);
		y.open_placement = pct(5);
		snprintf(y.departement, sizeof y.departement, "%02d", (t + 1) % 100);
		struct match_decline declines[8];
		size_t nd = 0;
		if (pct(25)) {
			/* offers of their own town */
			int n = town_noffers[t];
			for (int d = 0; n && d < 1 + rnd(6); d++) {
				int64_t id = town_offers[t][rnd(n)];
				bool dup = false;
				for (size_t e = 0; e < nd; e++)
					dup |= declines[e].offer_id == id;
				if (!dup)
					declines[nd++] = (struct match_decline){id, today - rnd(150)};
			}
			qsort(declines, nd, sizeof declines[0], cmp_decline);
		}
		y.m.declines = declines;
		y.m.ndeclines = nd;
		CHECK_INT(inventory_put_youth(inv, &y), 0);
	}
}

/* The requests and their answers, as lines; returns the text (owned). */
static char *answers(const struct inventory *inv)
{
	struct config cfg;
	config_defaults(&cfg);
	char day[11];
	date_format(today, day);
	struct evbuffer *all = evbuffer_new();
	struct evbuffer *body = evbuffer_new();
	struct match_scratch scratch = {0};
	bool seen[NYOUTH + 1] = {false};
	for (int j = 0; j < NSAMPLES; j++) {
		int64_t id;
		do
			id = 1 + rnd(NYOUTH);
		while (seen[id]);
		seen[id] = true;
		const struct inv_youth *y = inventory_youth(inv, id);
		CHECK(y != NULL);
		if (!y)
			continue;
		for (int v = 0; v < 4; v++) {
			struct match_params p = inventory_match_params(&cfg, day, DATE_NONE);
			size_t k = 10;
			bool explain = v == 1;
			const char *what = v == 0 ? "limit=10" : v == 1 ? "limit=10&explain=1" : NULL;
			char q[64];
			if (v == 2) {
				/* one variation per young person, in turn */
				switch (j % 6) {
				case 0: k = 200; what = "limit=200"; break;
				case 1: k = 1; what = "limit=1"; break;
				case 2: p.on = today + 30; what = "limit=10&on=+30"; break;
				case 3: p.weights = (struct match_weights){0, 25, 25, 25, 25};
					what = "limit=10&weights=0/25/25/25/25"; break;
				case 4: p.weights = (struct match_weights){100, 0, 0, 0, 0};
					what = "limit=10&weights=100/0/0/0/0"; break;
				default: p.weights = (struct match_weights){50, 10, 10, 20, 10};
					k = 50; what = "limit=50&weights=50/10/10/20/10"; break;
				}
			} else if (v == 3) {
				if (j % 4)
					continue;
				p.on = today - 10;
				k = 20;
				what = "limit=20&explain=1&on=-10";
				explain = true;
			}
			snprintf(q, sizeof q, "%s", what);
			evbuffer_drain(body, evbuffer_get_length(body));
			CHECK_INT(match_reply_offers(inv, y, &p, k, explain, &scratch, body), 0);
			evbuffer_add_printf(all, "youth=%lld&%s\t", (long long)id, q);
			evbuffer_add_buffer(all, body);
			evbuffer_add(all, "\n", 1);
		}
	}
	size_t len = evbuffer_get_length(all);
	char *text = malloc(len + 1);
	if (text) {
		evbuffer_remove(all, text, len);
		text[len] = 0;
	}
	match_scratch_free(&scratch);
	evbuffer_free(body);
	evbuffer_free(all);
	config_free(&cfg);
	return text;
}

/* What match_scan_cells found for one young person. */
struct found {
	const struct match_offer *o[NOFFERS];
	struct match_check c[NOFFERS];
	int score[NOFFERS];
	size_t n;
};

static void on_found(void *ctx, const struct match_offer *o, const struct match_check *c, int score)
{
	struct found *f = ctx;
	if (f->n < NOFFERS) {
		f->o[f->n] = o;
		f->c[f->n] = *c;
		f->score[f->n] = score;
	}
	f->n++;
}

/* Odd ids only: a filter the scan must apply. */
static bool odd_only(void *ctx, const struct match_offer *o)
{
	(void)ctx;
	return o->id % 2 == 1;
}

/* The planner's scan against match_eligible and match_score, offer by offer. */
static void scan_agrees(const struct match_params *p, const struct match_youth *y,
			const struct match_offer **near, size_t n,
			const struct match_cell *cells, size_t nc, struct found *f)
{
	f->n = 0;
	match_scan_cells(p, y, cells, nc, odd_only, on_found, f);
	size_t want = 0;
	for (size_t i = 0; i < n; i++) {
		struct match_check c;
		if (near[i]->id % 2 == 0 || match_eligible(p, y, near[i], &c) != MATCH_OK)
			continue;
		want++;
		size_t j = 0;
		while (j < f->n && f->o[j] != near[i])
			j++;
		CHECK(j < f->n);
		if (j == f->n)
			continue;
		CHECK_INT(f->score[j], match_score(p, y, near[i], NULL));
		CHECK(f->c[j].start == c.start && f->c[j].end == c.end && f->c[j].age == c.age &&
		      f->c[j].distance_km == c.distance_km && f->c[j].free_places == c.free_places);
	}
	CHECK_INT(f->n, want);
}

/* The index's ranking (cells nearest first, early stop) against the plain
 * one over every offer within reach, for every twentieth young person, at the
 * edges of k too: same offers, same order, same scores. */
static void cells_agree(const struct inventory *inv)
{
	struct config cfg;
	config_defaults(&cfg);
	char day[11];
	date_format(today, day);
	const struct match_offer **near = malloc(NOFFERS * sizeof *near);
	struct match_cell *cells = malloc(20000 * sizeof *cells);
	struct match_result *a = malloc(60 * sizeof *a), *b = malloc(60 * sizeof *b);
	struct found *f = malloc(sizeof *f);
	CHECK(near && cells && a && b && f);
	static const size_t ks[] = {1, 3, 10, 60};
	int compared = 0;
	for (int64_t id = 1; near && cells && a && b && f && id <= NYOUTH; id += 20) {
		const struct inv_youth *y = inventory_youth(inv, id);
		struct match_params p = inventory_match_params(&cfg, day, DATE_NONE);
		if (id % 30 == 1)
			p.weights = (struct match_weights){60, 10, 10, 10, 10};
		size_t n = inventory_offers_near(inv, y->m.lat, y->m.lon, y->m.max_distance_km, near, NOFFERS);
		size_t nc = inventory_offer_cells(inv, y->m.lat, y->m.lon, y->m.max_distance_km, cells, 20000);
		CHECK(n <= NOFFERS && nc <= 20000);
		for (size_t c = 1; c < nc; c++)
			CHECK(cells[c - 1].min_km <= cells[c].min_km);
		size_t ki = (size_t)(id / 20) % 4;
		int na = match_rank_offers(&p, &y->m, near, n, ks[ki], a, NULL);
		int nb = match_rank_cells(&p, &y->m, cells, nc, ks[ki], b);
		CHECK_INT(nb, na);
		for (int i = 0; i < na && i < nb; i++) {
			CHECK(a[i].item == b[i].item);
			CHECK_INT(a[i].score, b[i].score);
			CHECK(a[i].check.distance_km == b[i].check.distance_km);
			CHECK_INT(a[i].check.free_places, b[i].check.free_places);
		}
		if (id % 50 == 1)
			scan_agrees(&p, &y->m, near, n, cells, nc, f);
		compared++;
	}
	fprintf(stderr, "cells vs offers: %d rankings compared\n", compared);
	CHECK(compared > 0);
	free(near);
	free(cells);
	free(f);
	free(a);
	free(b);
	config_free(&cfg);
}

/* Young people of the first five towns' départements only: a referent's. */
static bool first_towns(void *ctx, const struct match_youth *y)
{
	(void)ctx;
	const char *dep = ((const struct inv_youth *)y)->departement;
	return dep[0] == '0' && dep[1] >= '1' && dep[1] <= '5';
}

/* The candidates of an offer through the youth grid's cells against
 * match_rank_youth over every waiting young person within reach. */
static void youth_cells_agree(const struct inventory *inv)
{
	struct config cfg;
	config_defaults(&cfg);
	char day[11];
	date_format(today, day);
	const struct match_youth **near = malloc(NYOUTH * sizeof *near);
	struct match_ycell *cells = malloc(20000 * sizeof *cells);
	struct match_result *a = malloc(50 * sizeof *a), *b = malloc(50 * sizeof *b);
	CHECK(near && cells && a && b);
	static const size_t ks[] = {1, 10, 50};
	int compared = 0;
	for (int64_t id = 1; near && cells && a && b && id <= NOFFERS; id += 80) {
		const struct inv_offer *o = inventory_offer(inv, id);
		struct match_params p = inventory_match_params(&cfg, day, DATE_NONE);
		bool filter = id % 3 == 0;
		size_t n = inventory_youth_near(inv, o->m.lat, o->m.lon, near, NYOUTH);
		double reach;
		size_t nc = inventory_youth_cells(inv, o->m.lat, o->m.lon, cells, 20000, &reach);
		CHECK(n <= NYOUTH && nc <= 20000);
		if (filter) {
			size_t kept = 0;
			for (size_t i = 0; i < n; i++)
				if (first_towns(NULL, near[i]))
					near[kept++] = near[i];
			n = kept;
		}
		size_t k = ks[(size_t)id % 3];
		int na = match_rank_youth(&p, &o->m, near, n, k, a, NULL);
		int nb = match_rank_youth_cells(&p, &o->m, cells, nc, reach, filter ? first_towns : NULL,
						NULL, k, b);
		CHECK_INT(nb, na);
		for (int i = 0; i < na && i < nb; i++) {
			CHECK(near[a[i].index] == b[i].item);
			CHECK_INT(a[i].score, b[i].score);
			CHECK_INT(a[i].priority, b[i].priority);
			CHECK(a[i].check.distance_km == b[i].check.distance_km);
		}
		compared += na > 0;
	}
	fprintf(stderr, "youth cells vs youth near: %d non-empty rankings compared\n", compared);
	CHECK(compared > 50);
	free(near);
	free(cells);
	free(a);
	free(b);
	config_free(&cfg);
}

static char *read_golden(void)
{
	FILE *f = popen("gzip -dc '" GOLDEN "'", "r");
	if (!f)
		return NULL;
	size_t cap = 1 << 20, len = 0;
	char *buf = malloc(cap);
	for (size_t got; buf && (got = fread(buf + len, 1, cap - len - 1, f)) > 0;) {
		len += got;
		if (len + 1 == cap) {
			char *grown = realloc(buf, cap * 2);
			if (!grown) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = grown;
			cap *= 2;
		}
	}
	if (pclose(f) != 0) {
		free(buf);
		return NULL;
	}
	if (buf)
		buf[len] = 0;
	return buf;
}

/* Line by line, so a failure names the request and the first byte that differs. */
static void compare(const char *got, const char *want)
{
	int lines = 0, bad = 0;
	while (*got || *want) {
		const char *ge = strchr(got, '\n'), *we = strchr(want, '\n');
		size_t gl = ge ? (size_t)(ge - got) : strlen(got);
		size_t wl = we ? (size_t)(we - want) : strlen(want);
		lines++;
		unit_checks++;
		if (gl != wl || memcmp(got, want, gl) != 0) {
			unit_failures++;
			size_t at = 0;
			while (at < gl && at < wl && got[at] == want[at])
				at++;
			size_t from = at > 60 ? at - 60 : 0;
			if (bad++ < 5)
				fprintf(stderr, "line %d (%.*s) differs at byte %zu:\n  got  ...%.*s\n  want ...%.*s\n",
					lines, (int)strcspn(want, "\t"), want, at,
					(int)((gl - from) < 160 ? gl - from : 160), got + from,
					(int)((wl - from) < 160 ? wl - from : 160), want + from);
		}
		got += gl + (ge != NULL);
		want += wl + (we != NULL);
	}
	fprintf(stderr, "%d answers compared, %d differ\n", lines, bad);
	CHECK(lines >= 3 * NSAMPLES);
}

int main(void)
{
	CHECK(date_parse("2026-06-15", &today));
	make_towns();
	struct inventory *inv = inventory_new(30);
	make_offers(inv);
	make_youth(inv);
	/* the daemon's handlers read snapshots */
	struct inventory *snap = inventory_freeze(inv);
	if (snap) {
		cells_agree(snap);
		youth_cells_agree(snap);
	}
	char *got = snap ? answers(snap) : NULL;
	CHECK(got != NULL);
	if (got && getenv("SIAOD_GOLDEN_RECORD")) {
		FILE *f = popen("gzip -9n > '" GOLDEN "'", "w");
		CHECK(f != NULL);
		if (f) {
			fputs(got, f);
			CHECK_INT(pclose(f), 0);
		}
		fprintf(stderr, "recorded %s\n", GOLDEN);
	} else if (got) {
		char *want = read_golden();
		CHECK(want != NULL);
		if (want)
			compare(got, want);
		free(want);
	}
	free(got);
	for (int t = 0; t < NTOWNS; t++)
		free(town_offers[t]);
	inventory_release(snap);
	inventory_collect(inv);
	inventory_free(inv);
	return unit_done("test_match_golden");
}
