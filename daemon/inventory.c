/*
 * The in-memory inventory model (see inventory.h).
 *
 * Ownership: each record (inv_offer, inv_youth, with an offer's label,
 * places and spans) is owned jointly by the inventories whose id map holds
 * it, counted in its `refs`; the last inventory to let go frees it. The
 * working model changes only records it holds alone (refs == 1): before
 * changing a shared one it replaces it by a private copy (own_offer,
 * own_youth). A count read as 2 while a worker drops a snapshot to 1 only
 * costs a needless copy; a count of 1 cannot grow behind the loop's back,
 * since only the loop freezes.
 */
#include "inventory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grid.h"

/* id → pointer, open addressing; ids are never 0. */
struct idmap {
	int64_t *keys;
	void **vals;
	size_t cap, len;
};

struct inventory {
	atomic_int refs;            /* of the inventory itself */
	bool frozen;                /* a snapshot: never changed again */
	struct idmap offers, youth;
	struct grid offer_grid, youth_grid;
	size_t nplaces;
	int default_km;
	int max_youth_km;           /* high-water mark of waiting youth's reach */
	unsigned gen;               /* of the last full reload */
};

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

static void *idmap_get(const struct idmap *m, int64_t key)
{
	/* a lookup (insert false) never changes the map */
	void **slot = idmap_slot((struct idmap *)m, key, false);
	return slot ? *slot : NULL;
}

static int idmap_clone(struct idmap *dst, const struct idmap *src)
{
	*dst = (struct idmap){0};
	if (!src->cap)
		return 0;
	dst->keys = malloc(src->cap * sizeof *dst->keys);
	dst->vals = malloc(src->cap * sizeof *dst->vals);
	if (!dst->keys || !dst->vals) {
		free(dst->keys);
		free(dst->vals);
		*dst = (struct idmap){0};
		return -1;
	}
	memcpy(dst->keys, src->keys, src->cap * sizeof *dst->keys);
	memcpy(dst->vals, src->vals, src->cap * sizeof *dst->vals);
	dst->cap = src->cap;
	dst->len = src->len;
	return 0;
}

/* ---------------------------------------------------------------- records */

static void offer_free(struct inv_offer *o)
{
	for (int i = 0; i < o->nplaces; i++)
		free(o->places[i].spans);
	free(o->places);
	free(o->label);
	free(o);
}

static void offer_unref(struct inv_offer *o)
{
	if (o && atomic_fetch_sub_explicit(&o->refs, 1, memory_order_acq_rel) == 1)
		offer_free(o);
}

static void youth_unref(struct inv_youth *y)
{
	if (y && atomic_fetch_sub_explicit(&y->refs, 1, memory_order_acq_rel) == 1)
		free(y);
}

/* A private deep copy of o, held once. */
static struct inv_offer *offer_copy(const struct inv_offer *o)
{
	struct inv_offer *c = malloc(sizeof *c);
	if (!c)
		return NULL;
	memcpy(c, o, sizeof *c);
	atomic_init(&c->refs, 1);
	c->label = NULL;
	c->places = NULL;
	c->nplaces = c->capplaces = 0;
	if (o->label && !(c->label = strdup(o->label)))
		goto fail;
	if (o->nplaces) {
		c->places = calloc((size_t)o->nplaces, sizeof *c->places);
		if (!c->places)
			goto fail;
		c->capplaces = o->nplaces;
		for (int i = 0; i < o->nplaces; i++) {
			struct inv_place *p = &c->places[i];
			*p = o->places[i];
			p->spans = NULL;
			p->capspans = 0;
			if (o->places[i].nspans) {
				p->spans = malloc((size_t)o->places[i].nspans * sizeof *p->spans);
				if (!p->spans) {
					p->nspans = 0;
					c->nplaces = i;
					goto fail;
				}
				memcpy(p->spans, o->places[i].spans, (size_t)o->places[i].nspans * sizeof *p->spans);
				p->capspans = p->nspans;
			}
			c->nplaces = i + 1;
		}
	}
	return c;
fail:
	offer_free(c);
	return NULL;
}

/* The offer in *slot, held by this (working) inventory alone: copied first
 * if a snapshot shares it, the grid pointing at the copy. NULL when out of
 * memory (the shared record stays in place). */
static struct inv_offer *own_offer(struct inventory *inv, void **slot)
{
	struct inv_offer *o = *slot;
	if (atomic_load_explicit(&o->refs, memory_order_acquire) == 1)
		return o;
	struct inv_offer *c = offer_copy(o);
	if (!c)
		return NULL;
	if (o->grid_cell) {
		grid_remove(&inv->offer_grid, o->grid_cell, o);
		c->grid_cell = grid_add(&inv->offer_grid, c->m.lat, c->m.lon, c);
	}
	*slot = c;
	offer_unref(o);
	return c;
}

static struct inv_youth *own_youth(struct inventory *inv, void **slot)
{
	struct inv_youth *y = *slot;
	if (atomic_load_explicit(&y->refs, memory_order_acquire) == 1)
		return y;
	struct inv_youth *c = malloc(sizeof *c);
	if (!c)
		return NULL;
	memcpy(c, y, sizeof *c);
	atomic_init(&c->refs, 1);
	if (y->grid_cell) {
		grid_remove(&inv->youth_grid, y->grid_cell, y);
		c->grid_cell = grid_add(&inv->youth_grid, c->m.lat, c->m.lon, c);
	}
	*slot = c;
	youth_unref(y);
	return c;
}

/* ---------------------------------------------------------------- lifecycle */

struct inventory *inventory_new(int default_max_distance_km)
{
	struct inventory *inv = calloc(1, sizeof *inv);
	if (inv) {
		atomic_init(&inv->refs, 1);
		inv->default_km = default_max_distance_km;
	}
	return inv;
}

static void inventory_destroy(struct inventory *inv)
{
	for (size_t i = 0; i < inv->offers.cap; i++)
		offer_unref(inv->offers.vals[i]);
	for (size_t i = 0; i < inv->youth.cap; i++)
		youth_unref(inv->youth.vals[i]);
	free(inv->offers.keys);
	free(inv->offers.vals);
	free(inv->youth.keys);
	free(inv->youth.vals);
	grid_free(&inv->offer_grid);
	grid_free(&inv->youth_grid);
	free(inv);
}

struct inventory *inventory_freeze(struct inventory *work)
{
	struct inventory *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	atomic_init(&s->refs, 1);
	s->frozen = true;
	s->nplaces = work->nplaces;
	s->default_km = work->default_km;
	s->max_youth_km = work->max_youth_km;
	s->gen = work->gen;
	if (idmap_clone(&s->offers, &work->offers) != 0 || idmap_clone(&s->youth, &work->youth) != 0) {
		/* nothing counted yet: free the arrays only */
		free(s->offers.keys);
		free(s->offers.vals);
		free(s->youth.keys);
		free(s->youth.vals);
		free(s);
		return NULL;
	}
	for (size_t i = 0; i < s->offers.cap; i++)
		if (s->offers.vals[i])
			atomic_fetch_add_explicit(&((struct inv_offer *)s->offers.vals[i])->refs, 1,
						  memory_order_relaxed);
	for (size_t i = 0; i < s->youth.cap; i++)
		if (s->youth.vals[i])
			atomic_fetch_add_explicit(&((struct inv_youth *)s->youth.vals[i])->refs, 1,
						  memory_order_relaxed);
	if (grid_clone(&s->offer_grid, &work->offer_grid) != 0 ||
	    grid_clone(&s->youth_grid, &work->youth_grid) != 0) {
		inventory_destroy(s);
		return NULL;
	}
	return s;
}

struct inventory *inventory_retain(struct inventory *inv)
{
	if (inv)
		atomic_fetch_add_explicit(&inv->refs, 1, memory_order_relaxed);
	return inv;
}

void inventory_release(struct inventory *inv)
{
	if (inv && atomic_fetch_sub_explicit(&inv->refs, 1, memory_order_acq_rel) == 1)
		inventory_destroy(inv);
}

void inventory_free(struct inventory *inv)
{
	inventory_release(inv);
}

bool inventory_frozen(const struct inventory *inv)
{
	return inv->frozen;
}

/* ---------------------------------------------------------------- reading */

const struct inv_offer *inventory_offer(const struct inventory *inv, int64_t id)
{
	return idmap_get(&inv->offers, id);
}

const struct inv_youth *inventory_youth(const struct inventory *inv, int64_t id)
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

size_t inventory_offers_near(const struct inventory *inv, double lat, double lon, double radius_km,
			     const struct match_offer **out, size_t max)
{
	return grid_near(&inv->offer_grid, lat, lon, radius_km, (const void **)out, max);
}

size_t inventory_all_offers(const struct inventory *inv, const struct match_offer **out, size_t max)
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

size_t inventory_all_youth(const struct inventory *inv, const struct inv_youth **out, size_t max)
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

size_t inventory_youth_near(const struct inventory *inv, double lat, double lon,
			    const struct match_youth **out, size_t max)
{
	return grid_near(&inv->youth_grid, lat, lon, inv->max_youth_km, (const void **)out, max);
}

/* ---------------------------------------------------------------- changing */

void inventory_set_default_distance(struct inventory *inv, int km)
{
	inv->default_km = km;
	for (size_t i = 0; i < inv->youth.cap; i++) {
		if (!inv->youth.vals[i])
			continue;
		const struct inv_youth *cur = inv->youth.vals[i];
		if (!cur->own_max_distance_km && cur->m.max_distance_km != km) {
			struct inv_youth *y = own_youth(inv, &inv->youth.vals[i]);
			if (y)
				y->m.max_distance_km = km;
		}
		cur = inv->youth.vals[i];
		if (cur->waiting && cur->m.max_distance_km > inv->max_youth_km)
			inv->max_youth_km = (int)cur->m.max_distance_km;
	}
}

int inventory_put_offer(struct inventory *inv, const struct inv_offer *f)
{
	void **slot = idmap_slot(&inv->offers, f->m.id, true);
	if (!slot)
		return -1;
	char *label = strdup(f->label ? f->label : "");
	if (!label)
		return -1;
	struct inv_offer *o;
	if (!*slot) {
		o = calloc(1, sizeof *o);
		if (!o) {
			free(label);
			return -1;
		}
		atomic_init(&o->refs, 1);
		*slot = o;
	} else if (!(o = own_offer(inv, slot))) {
		free(label);
		return -1;
	}
	if (o->grid_cell)
		grid_remove(&inv->offer_grid, o->grid_cell, o);
	o->grid_cell = 0;
	o->m = f->m;
	memcpy(o->departement, f->departement, sizeof o->departement);
	memcpy(o->commune_insee, f->commune_insee, sizeof o->commune_insee);
	o->version = f->version;
	memcpy(o->created_at, f->created_at, sizeof o->created_at);
	memcpy(o->updated_at, f->updated_at, sizeof o->updated_at);
	free(o->label);
	o->label = label;
	o->grid_cell = grid_add(&inv->offer_grid, o->m.lat, o->m.lon, o);
	return o->grid_cell ? 0 : -1;
}

int inventory_set_places(struct inventory *inv, int64_t offer_id, const struct inv_place *given, int n)
{
	void **slot = idmap_slot(&inv->offers, offer_id, false);
	if (!slot || !*slot)
		return 0;
	struct inv_offer *o = own_offer(inv, slot);
	if (!o)
		return -1;
	struct inv_place *places = n ? calloc((size_t)n, sizeof *places) : NULL;
	if (n && !places)
		return -1;
	for (int r = 0; r < n; r++) {
		struct inv_place *p = &places[r];
		p->id = given[r].id;
		p->number = given[r].number;
		p->active = given[r].active;
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
	inv->nplaces = inv->nplaces + (size_t)n - (size_t)o->nplaces;
	o->places = places;
	o->nplaces = o->capplaces = n;
	return 0;
}

int inventory_clear_spans(struct inventory *inv, int64_t offer_id)
{
	if (offer_id) {
		void **slot = idmap_slot(&inv->offers, offer_id, false);
		if (!slot || !*slot)
			return 0;
		struct inv_offer *o = own_offer(inv, slot);
		if (!o)
			return -1;
		for (int p = 0; p < o->nplaces; p++)
			o->places[p].nspans = 0;
		return 0;
	}
	for (size_t i = 0; i < inv->offers.cap; i++) {
		if (!inv->offers.vals[i])
			continue;
		struct inv_offer *o = own_offer(inv, &inv->offers.vals[i]);
		if (!o)
			return -1;
		for (int p = 0; p < o->nplaces; p++)
			o->places[p].nspans = 0;
	}
	return 0;
}

int inventory_add_span(struct inventory *inv, int64_t offer_id, int64_t place_id, struct inv_span s)
{
	void **slot = idmap_slot(&inv->offers, offer_id, false);
	if (!slot || !*slot)
		return 0;
	struct inv_offer *o = own_offer(inv, slot);
	if (!o)
		return -1;
	struct inv_place *p = NULL;
	for (int i = 0; i < o->nplaces && !p; i++)
		if (o->places[i].id == place_id)
			p = &o->places[i];
	if (!p)
		return 0;
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

void inventory_begin_full(struct inventory *inv)
{
	inv->gen++;
}

static void youth_unlink(struct inventory *inv, struct inv_youth *y)
{
	if (y->grid_cell)
		grid_remove(&inv->youth_grid, y->grid_cell, y);
	y->grid_cell = 0;
}

void inventory_drop_youth(struct inventory *inv, int64_t id)
{
	void **slot = idmap_slot(&inv->youth, id, false);
	if (!slot || !*slot)
		return;
	struct inv_youth *y = *slot;
	/* out of this inventory's grid; a snapshot keeps its own grid and count */
	if (y->grid_cell)
		grid_remove(&inv->youth_grid, y->grid_cell, y);
	*slot = NULL;
	youth_unref(y);
}

void inventory_sweep_youth(struct inventory *inv)
{
	for (size_t i = 0; i < inv->youth.cap; i++) {
		struct inv_youth *y = inv->youth.vals[i];
		if (y && y->gen != inv->gen)
			inventory_drop_youth(inv, y->m.id);
	}
}

int inventory_put_youth(struct inventory *inv, const struct inv_youth *f)
{
	void **slot = idmap_slot(&inv->youth, f->m.id, true);
	if (!slot)
		return -1;
	struct inv_youth *y;
	if (!*slot) {
		y = calloc(1, sizeof *y);
		if (!y)
			return -1;
		atomic_init(&y->refs, 1);
		*slot = y;
	} else if (!(y = own_youth(inv, slot)))
		return -1;
	youth_unlink(inv, y);
	y->m = f->m;
	memcpy(y->departement, f->departement, sizeof y->departement);
	y->located = f->located;
	y->own_max_distance_km = f->own_max_distance_km;
	y->m.max_distance_km = y->own_max_distance_km ? y->own_max_distance_km : inv->default_km;
	y->open_placement = f->open_placement;
	y->status_waiting = f->status_waiting;
	/* A young person with a pending proposal is not waiting for another
	 * place: not a candidate, not in a plan. */
	y->waiting = y->status_waiting && !y->open_placement;
	y->gen = inv->gen;
	if (y->waiting && y->located) {
		y->grid_cell = grid_add(&inv->youth_grid, y->m.lat, y->m.lon, y);
		if (!y->grid_cell)
			return -1;
		if (y->m.max_distance_km > inv->max_youth_km)
			inv->max_youth_km = (int)y->m.max_distance_km;
	}
	return 0;
}
