/*
 * The in-memory inventory (see inventory.h).
 *
 * Ownership: the inventory owns every inv_offer and inv_youth (and an
 * offer's label, places and spans); lookups hand out borrowed pointers that
 * stay valid until the next refresh of that record.
 */
#include "inventory.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "grid.h"
#include "store.h"

/* id → pointer, open addressing; ids are never 0. */
struct idmap {
	int64_t *keys;
	void **vals;
	size_t cap, len;
};

struct inventory {
	struct idmap offers, youth;
	struct grid offer_grid, youth_grid;
	size_t nplaces;
	int default_km;
	int max_youth_km;           /* high-water mark of waiting youth's reach */
	struct refresher *refresher; /* see "refresh" below */
	unsigned gen;               /* of the last full reload */
};

struct refresher;
static void refresher_free(struct refresher *f);

/* ---------------------------------------------------------------- idmap */

static size_t hash64(int64_t k)
{
	uint64_t x = (uint64_t)k;
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return (size_t)x;
}

static void **idmap_slot(struct idmap *m, int64_t key, bool insert);

static int idmap_grow(struct idmap *m)
{
	struct idmap n = {0};
	n.cap = m->cap ? m->cap * 2 : 1024;
	n.keys = calloc(n.cap, sizeof *n.keys);
	n.vals = calloc(n.cap, sizeof *n.vals);
	if (!n.keys || !n.vals) {
		free(n.keys);
		free(n.vals);
		return -1;
	}
	for (size_t i = 0; i < m->cap; i++)
		if (m->keys[i] && m->vals[i])
			*idmap_slot(&n, m->keys[i], true) = m->vals[i];
	free(m->keys);
	free(m->vals);
	*m = n;
	return 0;
}

/* Deleted entries keep their key with a NULL value (a tombstone). */
static void **idmap_slot(struct idmap *m, int64_t key, bool insert)
{
	if (insert && (m->len + 1) * 2 > m->cap && idmap_grow(m) != 0)
		return NULL;
	if (!m->cap)
		return NULL;
	for (size_t i = hash64(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		if (m->keys[i] == key)
			return &m->vals[i];
		if (m->keys[i] == 0) {
			if (!insert)
				return NULL;
			m->keys[i] = key;
			m->len++;
			return &m->vals[i];
		}
	}
}

static void *idmap_get(struct idmap *m, int64_t key)
{
	void **slot = idmap_slot(m, key, false);
	return slot ? *slot : NULL;
}

/* ---------------------------------------------------------------- lifecycle */

struct inventory *inventory_new(int default_max_distance_km)
{
	struct inventory *inv = calloc(1, sizeof *inv);
	if (inv)
		inv->default_km = default_max_distance_km;
	return inv;
}

static void offer_free(struct inv_offer *o)
{
	for (int i = 0; i < o->nplaces; i++)
		free(o->places[i].spans);
	free(o->places);
	free(o->label);
	free(o->external_ref);
	free(o);
}

static void youth_free(struct inv_youth *y)
{
	if (y)
		free(y->declines);
	free(y);
}

void inventory_free(struct inventory *inv)
{
	if (!inv)
		return;
	for (size_t i = 0; i < inv->offers.cap; i++)
		if (inv->offers.vals[i])
			offer_free(inv->offers.vals[i]);
	for (size_t i = 0; i < inv->youth.cap; i++)
		youth_free(inv->youth.vals[i]);
	free(inv->offers.keys);
	free(inv->offers.vals);
	free(inv->youth.keys);
	free(inv->youth.vals);
	grid_free(&inv->offer_grid);
	grid_free(&inv->youth_grid);
	refresher_free(inv->refresher);
	free(inv);
}

void inventory_set_default_distance(struct inventory *inv, int km)
{
	inv->default_km = km;
	for (size_t i = 0; i < inv->youth.cap; i++) {
		struct inv_youth *y = inv->youth.vals[i];
		if (y && !y->own_max_distance_km)
			y->m.max_distance_km = km;
		if (y && y->waiting && y->m.max_distance_km > inv->max_youth_km)
			inv->max_youth_km = (int)y->m.max_distance_km;
	}
}

struct inv_offer *inventory_offer(struct inventory *inv, int64_t id)
{
	return idmap_get(&inv->offers, id);
}

struct inv_youth *inventory_youth(struct inventory *inv, int64_t id)
{
	return idmap_get(&inv->youth, id);
}

size_t inventory_offer_count(const struct inventory *inv)
{
	size_t n = 0;
	for (size_t i = 0; i < inv->offers.cap; i++)
		n += inv->offers.vals[i] != NULL;
	return n;
}

size_t inventory_youth_count(const struct inventory *inv)
{
	size_t n = 0;
	for (size_t i = 0; i < inv->youth.cap; i++)
		n += inv->youth.vals[i] != NULL;
	return n;
}

size_t inventory_place_count(const struct inventory *inv)
{
	return inv->nplaces;
}

/* ---------------------------------------------------------------- free places */

static bool place_free(const struct inv_place *p, sdate start, sdate end)
{
	/* Spans of one place never overlap, so sorted by start they are sorted
	 * by end too: only the last span starting before `end` can reach into
	 * [start, end). */
	int lo = 0, hi = p->nspans;
	while (lo < hi) {
		int mid = (lo + hi) / 2;
		if (p->spans[mid].start < end)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo == 0 || p->spans[lo - 1].end <= start;
}

int inventory_free_places(const struct inv_offer *o, sdate start, sdate end)
{
	int n = 0;
	for (int i = 0; i < o->nplaces; i++)
		if (o->places[i].active && place_free(&o->places[i], start, end))
			n++;
	return n;
}

int inventory_free_on(const struct inv_offer *o, sdate d)
{
	if (!o->m.open || d < o->m.available_from ||
	    (o->m.available_until != DATE_NONE && d > o->m.available_until))
		return 0;
	return inventory_free_places(o, d, d + 1);
}

int inventory_free_places_cb(void *ctx, const struct match_offer *o, sdate start, sdate end)
{
	(void)ctx;
	return inventory_free_places((const struct inv_offer *)o, start, end);
}

/* The first gap of `days` days from `from` in one place's spans: the spans
 * are sorted and never overlap, so walk them from the first that ends after
 * `from`, moving the candidate past each span that reaches into it. */
static sdate place_next_free(const struct inv_place *p, sdate from, int days)
{
	int lo = 0, hi = p->nspans;
	while (lo < hi) {
		int mid = (lo + hi) / 2;
		if (p->spans[mid].end <= from)
			lo = mid + 1;
		else
			hi = mid;
	}
	sdate d = from;
	for (int i = lo; i < p->nspans && p->spans[i].start < d + days; i++)
		if (p->spans[i].end > d)
			d = p->spans[i].end;
	return d;
}

sdate inventory_next_free(const struct inv_offer *o, sdate from, int days)
{
	sdate best = DATE_NONE;
	for (int i = 0; i < o->nplaces; i++) {
		if (!o->places[i].active)
			continue;
		sdate d = place_next_free(&o->places[i], from, days);
		if (best == DATE_NONE || d < best)
			best = d;
	}
	return best;
}

sdate inventory_next_free_cb(void *ctx, const struct match_offer *o, sdate from, int days)
{
	(void)ctx;
	return inventory_next_free((const struct inv_offer *)o, from, days);
}

/* ---------------------------------------------------------------- searches */

size_t inventory_offers_near(struct inventory *inv, double lat, double lon, double radius_km,
			     const struct match_offer **out, size_t max)
{
	return grid_near(&inv->offer_grid, lat, lon, radius_km, (const void **)out, max);
}

size_t inventory_all_offers(struct inventory *inv, const struct match_offer **out, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < inv->offers.cap; i++)
		if (inv->offers.vals[i]) {
			if (n < max)
				out[n] = inv->offers.vals[i];
			n++;
		}
	return n;
}

size_t inventory_all_youth(struct inventory *inv, const struct inv_youth **out, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < inv->youth.cap; i++)
		if (inv->youth.vals[i]) {
			if (n < max)
				out[n] = inv->youth.vals[i];
			n++;
		}
	return n;
}

size_t inventory_youth_near(struct inventory *inv, double lat, double lon,
			    const struct match_youth **out, size_t max)
{
	return grid_near(&inv->youth_grid, lat, lon, inv->max_youth_km, (const void **)out, max);
}

/* ---------------------------------------------------------------- row parsing */

static const char *val(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

static int64_t ival(const PGresult *res, int row, int col)
{
	const char *v = val(res, row, col);
	return v ? strtoll(v, NULL, 10) : 0;
}

static sdate dval(const PGresult *res, int row, int col)
{
	const char *v = val(res, row, col);
	return v ? (sdate)strtol(v, NULL, 10) : DATE_NONE;
}

static double fval(const PGresult *res, int row, int col)
{
	const char *v = val(res, row, col);
	return v ? strtod(v, NULL) : 0;
}

static bool bval(const PGresult *res, int row, int col)
{
	const char *v = val(res, row, col);
	return v && v[0] == 't';
}

static void offer_unlink(struct inventory *inv, struct inv_offer *o)
{
	if (o->grid_cell)
		grid_remove(&inv->offer_grid, o->grid_cell, o);
	o->grid_cell = 0;
}

/* Columns of inv_offers(): id, porteur_id, kind, departement, lat, lon,
 * capacity, max_stay_days, min_age, max_age, gender, accepts_couples,
 * accepts_children, accepts_pets, wheelchair_accessible, support_level,
 * monthly_charge_eur, available_from, available_until, status, label,
 * commune_insee, version, created_at, updated_at, external_ref, confirmed_at,
 * confirmed_on. */
static int apply_offer_row(struct inventory *inv, const PGresult *res, int i)
{
	int64_t id = ival(res, i, 0);
	void **slot = idmap_slot(&inv->offers, id, true);
	if (!slot)
		return -1;
	struct inv_offer *o = *slot;
	if (!o) {
		o = calloc(1, sizeof *o);
		if (!o)
			return -1;
		*slot = o;
	} else
		offer_unlink(inv, o);
	struct match_offer *m = &o->m;
	m->id = id;
	m->porteur_id = ival(res, i, 1);
	match_kind_parse(PQgetvalue(res, i, 2), &m->kind);
	snprintf(o->departement, sizeof o->departement, "%s", PQgetvalue(res, i, 3));
	m->lat = fval(res, i, 4);
	m->lon = fval(res, i, 5);
	m->capacity = (int)ival(res, i, 6);
	m->max_stay_days = (int)ival(res, i, 7);
	m->min_age = (int)ival(res, i, 8);
	m->max_age = (int)ival(res, i, 9);
	match_offer_gender_parse(PQgetvalue(res, i, 10), &m->gender);
	m->accepts_couples = bval(res, i, 11);
	m->accepts_children = bval(res, i, 12);
	m->accepts_pets = bval(res, i, 13);
	m->wheelchair_accessible = bval(res, i, 14);
	match_support_parse(PQgetvalue(res, i, 15), &m->support_level);
	m->monthly_charge_eur = fval(res, i, 16);
	m->available_from = dval(res, i, 17);
	m->available_until = dval(res, i, 18);
	m->open = strcmp(PQgetvalue(res, i, 19), "open") == 0;
	snprintf(o->commune_insee, sizeof o->commune_insee, "%s", PQgetvalue(res, i, 21));
	o->version = (int)ival(res, i, 22);
	snprintf(o->created_at, sizeof o->created_at, "%s", PQgetvalue(res, i, 23));
	snprintf(o->updated_at, sizeof o->updated_at, "%s", PQgetvalue(res, i, 24));
	snprintf(o->confirmed_at, sizeof o->confirmed_at, "%s", PQgetvalue(res, i, 26));
	m->confirmed_on = dval(res, i, 27);
	free(o->external_ref);
	o->external_ref = val(res, i, 25) ? strdup(PQgetvalue(res, i, 25)) : NULL;
	char *label = strdup(PQgetvalue(res, i, 20));
	if (label) {
		free(o->label);
		o->label = label;
	}
	o->grid_cell = grid_add(&inv->offer_grid, m->lat, m->lon, o);
	return o->grid_cell ? 0 : -1;
}

static int apply_offers(struct inventory *inv, const PGresult *res)
{
	for (int i = 0; i < PQntuples(res); i++)
		if (apply_offer_row(inv, res, i) != 0)
			return -1;
	return 0;
}

/* Columns of inv_places(): offer_id, place_id, number, active; ordered by
 * offer. The places of each offer in the result replace the ones it had;
 * spans are kept for places that remain. */
static int apply_places(struct inventory *inv, const PGresult *res,
			const int64_t *ids, int nids)
{
	/* offers asked for but without places: now have none */
	for (int k = 0; k < nids; k++) {
		struct inv_offer *o = inventory_offer(inv, ids[k]);
		bool listed = false;
		for (int i = 0; i < PQntuples(res) && !listed; i++)
			listed = ival(res, i, 0) == ids[k];
		if (o && !listed) {
			for (int p = 0; p < o->nplaces; p++)
				free(o->places[p].spans);
			inv->nplaces -= (size_t)o->nplaces;
			o->nplaces = 0;
		}
	}
	int rows = PQntuples(res);
	for (int i = 0; i < rows;) {
		int64_t offer_id = ival(res, i, 0);
		int j = i;
		while (j < rows && ival(res, j, 0) == offer_id)
			j++;
		struct inv_offer *o = inventory_offer(inv, offer_id);
		if (!o) {
			i = j;
			continue;
		}
		struct inv_place *places = calloc((size_t)(j - i), sizeof *places);
		if (!places)
			return -1;
		for (int r = i; r < j; r++) {
			struct inv_place *p = &places[r - i];
			p->id = ival(res, r, 1);
			p->number = (int)ival(res, r, 2);
			p->active = bval(res, r, 3);
			/* keep the spans a place already had; they are refreshed separately */
			for (int q = 0; q < o->nplaces; q++)
				if (o->places[q].id == p->id) {
					p->spans = o->places[q].spans;
					p->nspans = o->places[q].nspans;
					p->capspans = o->places[q].capspans;
					o->places[q].spans = NULL;
					break;
				}
		}
		for (int q = 0; q < o->nplaces; q++)
			free(o->places[q].spans);
		free(o->places);
		inv->nplaces += (size_t)(j - i) - (size_t)o->nplaces;
		o->places = places;
		o->nplaces = o->capplaces = j - i;
		i = j;
	}
	return 0;
}

static struct inv_place *offer_place(struct inv_offer *o, int64_t place_id)
{
	for (int i = 0; i < o->nplaces; i++)
		if (o->places[i].id == place_id)
			return &o->places[i];
	return NULL;
}

static int span_push(struct inv_place *p, struct inv_span s)
{
	if (p->nspans == p->capspans) {
		int cap = p->capspans ? p->capspans * 2 : 4;
		struct inv_span *spans = realloc(p->spans, (size_t)cap * sizeof *spans);
		if (!spans)
			return -1;
		p->spans = spans;
		p->capspans = cap;
	}
	p->spans[p->nspans++] = s;
	return 0;
}

/* Columns of inv_spans(): offer_id, place_id, start_day, end_day,
 * placement_id; ordered by offer, place and start. The spans of the offers
 * asked for (all when ids is NULL) are replaced by the result's. */
static int apply_spans(struct inventory *inv, const PGresult *res, const int64_t *ids, int nids)
{
	if (!ids) {
		for (size_t i = 0; i < inv->offers.cap; i++) {
			struct inv_offer *o = inv->offers.vals[i];
			for (int p = 0; o && p < o->nplaces; p++)
				o->places[p].nspans = 0;
		}
	}
	for (int k = 0; k < nids; k++) {
		struct inv_offer *o = inventory_offer(inv, ids[k]);
		for (int p = 0; o && p < o->nplaces; p++)
			o->places[p].nspans = 0;
	}
	struct inv_offer *o = NULL;
	struct inv_place *place = NULL;
	for (int i = 0; i < PQntuples(res); i++) {
		int64_t offer_id = ival(res, i, 0), place_id = ival(res, i, 1);
		if (!o || o->m.id != offer_id) {
			o = inventory_offer(inv, offer_id);
			place = NULL;
		}
		if (!o)
			continue;
		if (!place || place->id != place_id)
			place = offer_place(o, place_id);
		if (!place)
			continue;
		struct inv_span s = {dval(res, i, 2), dval(res, i, 3), ival(res, i, 4)};
		if (span_push(place, s) != 0)
			return -1;
	}
	return 0;
}

/* "{12,40}" and "{20400,20455}" (offers, day numbers) into y->declines. */
static int youth_declines(struct inv_youth *y, const char *offers, const char *days)
{
	free(y->declines);
	y->declines = NULL;
	y->m.declines = NULL;
	y->m.ndeclines = 0;
	if (!offers || !days)
		return 0;
	size_t n = 1;
	for (const char *c = offers; *c; c++)
		n += *c == ',';
	y->declines = calloc(n, sizeof *y->declines);
	if (!y->declines)
		return -1;
	const char *a = offers + (*offers == '{'), *b = days + (*days == '{');
	size_t k = 0;
	while (k < n && *a && *a != '}' && *b && *b != '}') {
		char *ea, *eb;
		y->declines[k].offer_id = strtoll(a, &ea, 10);
		y->declines[k].on = (sdate)strtol(b, &eb, 10);
		if (ea == a || eb == b)
			break;
		k++;
		a = ea + (*ea == ',');
		b = eb + (*eb == ',');
	}
	y->m.declines = y->declines;
	y->m.ndeclines = k;
	return 0;
}

static void youth_unlink(struct inventory *inv, struct inv_youth *y)
{
	if (y->grid_cell)
		grid_remove(&inv->youth_grid, y->grid_cell, y);
	y->grid_cell = 0;
}

/* Columns of inv_youth(): id, departement, birth_date, rqth, gender,
 * household, has_pets, needs, situation, institution_exit_date, lat, lon,
 * max_distance_km, monthly_income_eur, support_need, wanted_from,
 * wanted_months, registered_at, status, open_placement, declined_offers,
 * declined_on (bigint[] and integer[] of the same length, by offer id). */
static int apply_youth_row(struct inventory *inv, const PGresult *res, int i)
{
	int64_t id = ival(res, i, 0);
	void **slot = idmap_slot(&inv->youth, id, true);
	if (!slot)
		return -1;
	struct inv_youth *y = *slot;
	if (!y) {
		y = calloc(1, sizeof *y);
		if (!y)
			return -1;
		*slot = y;
	} else
		youth_unlink(inv, y);
	struct match_youth *m = &y->m;
	m->id = id;
	snprintf(y->departement, sizeof y->departement, "%s", PQgetvalue(res, i, 1));
	m->birth_date = dval(res, i, 2);
	m->rqth = bval(res, i, 3);
	match_gender_parse(PQgetvalue(res, i, 4), &m->gender);
	match_household_parse(PQgetvalue(res, i, 5), &m->household);
	m->has_pets = bval(res, i, 6);
	m->needs = 0;
	/* text[] output: {wheelchair,mental_health} */
	char needs[256];
	snprintf(needs, sizeof needs, "%s", PQgetvalue(res, i, 7));
	char *save = NULL;
	for (char *t = strtok_r(needs, "{},\"", &save); t; t = strtok_r(NULL, "{},\"", &save)) {
		unsigned bit;
		if (match_need_parse(t, &bit))
			m->needs |= bit;
	}
	match_situation_parse(PQgetvalue(res, i, 8), &m->situation);
	m->institution_exit_date = dval(res, i, 9);
	y->located = val(res, i, 10) != NULL;
	m->lat = fval(res, i, 10);
	m->lon = fval(res, i, 11);
	y->own_max_distance_km = (int)ival(res, i, 12);
	m->max_distance_km = y->own_max_distance_km ? y->own_max_distance_km : inv->default_km;
	m->monthly_income_eur = fval(res, i, 13);
	match_support_parse(PQgetvalue(res, i, 14), &m->support_need);
	m->wanted_from = dval(res, i, 15);
	m->wanted_months = (int)ival(res, i, 16);
	m->registered_at = dval(res, i, 17);
	/* A young person with a pending proposal is not waiting for another
	 * place: not a candidate, not in a plan. */
	y->open_placement = PQnfields(res) > 19 && bval(res, i, 19);
	y->status_waiting = strcmp(PQgetvalue(res, i, 18), "waiting") == 0;
	y->waiting = y->status_waiting && !y->open_placement;
	y->gen = inv->gen;
	if (youth_declines(y, val(res, i, 20), val(res, i, 21)) != 0)
		return -1;
	if (y->waiting && y->located) {
		y->grid_cell = grid_add(&inv->youth_grid, m->lat, m->lon, y);
		if (!y->grid_cell)
			return -1;
		if (m->max_distance_km > inv->max_youth_km)
			inv->max_youth_km = (int)m->max_distance_km;
	}
	return 0;
}

static void youth_sweep(struct inventory *inv)
{
	for (size_t i = 0; i < inv->youth.cap; i++) {
		struct inv_youth *y = inv->youth.vals[i];
		if (y && y->gen != inv->gen) {
			youth_unlink(inv, y);
			youth_free(y);
			inv->youth.vals[i] = NULL;
		}
	}
}

static int apply_youth(struct inventory *inv, const PGresult *res, const int64_t *ids, int nids)
{
	/* asked for and not returned: erased, gone from everything */
	for (int k = 0; k < nids; k++) {
		bool listed = false;
		for (int i = 0; i < PQntuples(res) && !listed; i++)
			listed = ival(res, i, 0) == ids[k];
		void **slot = idmap_slot(&inv->youth, ids[k], false);
		if (!listed && slot && *slot) {
			youth_unlink(inv, *slot);
			youth_free(*slot);
			*slot = NULL;
		}
	}
	for (int i = 0; i < PQntuples(res); i++)
		if (apply_youth_row(inv, res, i) != 0)
			return -1;
	return 0;
}

/* ---------------------------------------------------------------- full load */

static PGresult *load_query(PGconn *pg, const char *sql)
{
	PGresult *res = PQexecParams(pg, sql, 1, NULL, (const char *const[]){NULL}, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		log_error("inventory_load", "query=\"%.40s\" error=\"%s\"", sql,
			  strtok(PQresultErrorMessage(res), "\n"));
		PQclear(res);
		return NULL;
	}
	return res;
}

int inventory_load(struct inventory *inv, PGconn *pg)
{
	PGresult *res;
	if (!(res = load_query(pg, "SELECT * FROM inv_offers($1::bigint[])")))
		return -1;
	int rc = apply_offers(inv, res);
	PQclear(res);
	if (rc != 0 || !(res = load_query(pg, "SELECT * FROM inv_places($1::bigint[])")))
		return -1;
	rc = apply_places(inv, res, NULL, 0);
	PQclear(res);
	if (rc != 0 || !(res = load_query(pg, "SELECT * FROM inv_spans($1::bigint[])")))
		return -1;
	rc = apply_spans(inv, res, NULL, 0);
	PQclear(res);
	if (rc != 0 || !(res = load_query(pg, "SELECT * FROM inv_youth($1::bigint[])")))
		return -1;
	rc = apply_youth(inv, res, NULL, 0);
	PQclear(res);
	if (rc == 0)
		log_info("inventory_load", "offers=%zu places=%zu youth=%zu",
			 inventory_offer_count(inv), inv->nplaces, inventory_youth_count(inv));
	return rc;
}

/* ---------------------------------------------------------------- refresh */

/*
 * Refreshes run one at a time, each reading what the previous one left, so
 * an older read can never land after a newer one. Requests that arrive while
 * one runs are merged into the next batch: under a stream of writes the
 * inventory costs a few round trips per batch, not per write.
 */

enum refresh_step { STEP_OFFERS, STEP_PLACES, STEP_SPANS, STEP_YOUTH, STEP_DONE };

struct waiter {
	inventory_done_fn done;
	void *arg;
};

struct idset {
	int64_t *ids;
	int n, cap;
};

struct batch {
	bool all;                          /* everything, not just the ids */
	struct idset offers, youth;
	struct waiter *waiters;
	int nwaiters, capwaiters;
};

struct refresher {
	struct store *st;
	bool running;
	enum refresh_step step;
	bool ok;
	struct batch run, next;            /* the batch in flight, the one gathering */
	char *offer_param, *youth_param;   /* "{1,2,3}" for the batch in flight */
};

static int idset_add(struct idset *s, int64_t id)
{
	for (int i = 0; i < s->n; i++)
		if (s->ids[i] == id)
			return 0;
	if (s->n == s->cap) {
		int cap = s->cap ? s->cap * 2 : 16;
		int64_t *ids = realloc(s->ids, (size_t)cap * sizeof *ids);
		if (!ids)
			return -1;
		s->ids = ids;
		s->cap = cap;
	}
	s->ids[s->n++] = id;
	return 0;
}

static char *id_array(const struct idset *s)
{
	char *out = malloc((size_t)s->n * 21 + 3);
	if (!out)
		return NULL;
	size_t len = 0;
	out[len++] = '{';
	for (int i = 0; i < s->n; i++)
		len += (size_t)sprintf(out + len, "%s%lld", i ? "," : "", (long long)s->ids[i]);
	out[len++] = '}';
	out[len] = '\0';
	return out;
}

static void refresh_step(struct inventory *inv);

static void refresh_start(struct inventory *inv)
{
	struct refresher *f = inv->refresher;
	/* the gathering batch becomes the running one; the old one's storage is reused */
	struct batch old = f->run;
	f->run = f->next;
	f->next = old;
	f->next.offers.n = f->next.youth.n = f->next.nwaiters = 0;
	f->next.all = false;
	f->offer_param = f->run.all ? NULL : id_array(&f->run.offers);
	f->youth_param = f->run.all ? NULL : id_array(&f->run.youth);
	f->running = true;
	f->ok = f->run.all || (f->offer_param && f->youth_param);
	if (f->run.all)
		inv->gen++;
	f->step = f->ok ? STEP_OFFERS : STEP_DONE;
	refresh_step(inv);
}

static void refresh_result(void *arg, PGresult *res)
{
	struct inventory *inv = arg;
	struct refresher *f = inv->refresher;
	if (store_result_failed(res)) {
		/* The write has committed; only our copy is stale until the next
		 * refresh of these records. */
		log_warn("inventory_refresh", "step=%d result=failed", (int)f->step);
		f->ok = false;
	} else {
		int rc = 0;
		bool all = f->run.all;
		const int64_t *oids = all ? NULL : f->run.offers.ids, *yids = all ? NULL : f->run.youth.ids;
		int no = all ? 0 : f->run.offers.n, ny = all ? 0 : f->run.youth.n;
		switch (f->step) {
		case STEP_OFFERS: rc = apply_offers(inv, res); break;
		case STEP_PLACES: rc = apply_places(inv, res, oids, no); break;
		case STEP_SPANS: rc = apply_spans(inv, res, oids, no); break;
		case STEP_YOUTH:
			rc = apply_youth(inv, res, yids, ny);
			if (all && rc == 0)
				youth_sweep(inv);
			break;
		case STEP_DONE: break;
		}
		if (rc != 0)
			f->ok = false;
	}
	f->step++;
	refresh_step(inv);
}

static void refresh_step(struct inventory *inv)
{
	struct refresher *f = inv->refresher;
	if (f->step == STEP_OFFERS && f->run.offers.n == 0 && !f->run.all)
		f->step = STEP_YOUTH;
	if (f->step == STEP_YOUTH && f->run.youth.n == 0 && !f->run.all)
		f->step = STEP_DONE;
	static const char *const sql[] = {
		[STEP_OFFERS] = "SELECT * FROM inv_offers($1::bigint[])",
		[STEP_PLACES] = "SELECT * FROM inv_places($1::bigint[])",
		[STEP_SPANS] = "SELECT * FROM inv_spans($1::bigint[])",
		[STEP_YOUTH] = "SELECT * FROM inv_youth($1::bigint[])",
	};
	if (f->step != STEP_DONE) {
		const char *values[1] = {f->step == STEP_YOUTH ? f->youth_param : f->offer_param};
		store_query(f->st, sql[f->step], 1, values, refresh_result, inv);
		return;
	}
	free(f->offer_param);
	free(f->youth_param);
	f->offer_param = f->youth_param = NULL;
	f->running = false;
	/* Waiters may start writes that ask for more refreshes: those gather in
	 * f->next, started below. */
	for (int i = 0; i < f->run.nwaiters; i++)
		f->run.waiters[i].done(f->run.waiters[i].arg, f->ok);
	f->run.nwaiters = 0;
	if (!f->running && (f->next.all || f->next.offers.n || f->next.youth.n || f->next.nwaiters))
		refresh_start(inv);
}

void inventory_refresh(struct inventory *inv, struct store *st,
		       const int64_t *offer_ids, int noffers,
		       const int64_t *youth_ids, int nyouth,
		       inventory_done_fn done, void *arg)
{
	struct refresher *f = inv->refresher;
	if (!f) {
		f = inv->refresher = calloc(1, sizeof *f);
		if (!f) {
			if (done)
				done(arg, false);
			return;
		}
	}
	f->st = st;
	struct batch *b = &f->next;
	int rc = 0;
	for (int i = 0; i < noffers && rc == 0; i++)
		rc = idset_add(&b->offers, offer_ids[i]);
	for (int i = 0; i < nyouth && rc == 0; i++)
		rc = idset_add(&b->youth, youth_ids[i]);
	if (rc == 0 && done) {
		if (b->nwaiters == b->capwaiters) {
			int cap = b->capwaiters ? b->capwaiters * 2 : 16;
			struct waiter *w = realloc(b->waiters, (size_t)cap * sizeof *w);
			if (w) {
				b->waiters = w;
				b->capwaiters = cap;
			} else
				rc = -1;
		}
		if (rc == 0)
			b->waiters[b->nwaiters++] = (struct waiter){done, arg};
	}
	if (rc != 0) {
		if (done)
			done(arg, false);
		return;
	}
	if (!f->running && (b->all || b->offers.n || b->youth.n || b->nwaiters))
		refresh_start(inv);
}

void inventory_refresh_all(struct inventory *inv, struct store *st, inventory_done_fn done, void *arg)
{
	if (!inv->refresher && !(inv->refresher = calloc(1, sizeof *inv->refresher))) {
		if (done)
			done(arg, false);
		return;
	}
	/* the gathering batch becomes a full one; it starts now if idle */
	inv->refresher->next.all = true;
	inventory_refresh(inv, st, NULL, 0, NULL, 0, done, arg);
}

static void batch_free(struct batch *b)
{
	free(b->offers.ids);
	free(b->youth.ids);
	free(b->waiters);
}

static void refresher_free(struct refresher *f)
{
	if (!f)
		return;
	batch_free(&f->run);
	batch_free(&f->next);
	free(f->offer_param);
	free(f->youth_param);
	free(f);
}
