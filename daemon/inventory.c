/*
 * The in-memory inventory model (see inventory.h).
 *
 * Ownership: the working model owns every block it holds (records, id-map
 * chunks, grid vectors), and the blocks it retired until inventory_collect
 * frees them; a snapshot owns only its pointer tables (the chunk tables of
 * its id maps, the cell tables of its grids) and reads the rest. Blocks are
 * never changed once a snapshot may read them: the working model copies
 * first (own_chunk, own_offer, own_youth, the grid's own_vec). Only the
 * snapshots' reference counts are shared with other threads (atomics).
 */
#include "inventory.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "grid.h"

/* Offer cells of 0.05 degree (about 5.5 km north-south): small enough that
 * the nearest cells of a dense town hold a ranking's top 10 and the farther
 * ones are skipped, large enough that a 30 km search looks up a few hundred
 * cells at most. */
#define OFFER_CELL_DEG 0.05

/* id → pointer, open addressing over fixed chunks of slots, so that a
 * snapshot shares the chunks and a write copies only the one it touches;
 * ids are never 0. */
#define CHUNK_BITS 8
#define CHUNK ((size_t)1 << CHUNK_BITS)
#define CHUNK_MASK (CHUNK - 1)

struct chunk {
	unsigned epoch;             /* made in */
	int64_t keys[CHUNK];
	void *vals[CHUNK];
};

struct idmap {
	struct chunk **chunks;      /* cap / CHUNK of them */
	size_t cap, len;
};

/* A block replaced in the working model, freed once no snapshot made
 * before `epoch` (when it was retired) is alive. */
struct retired {
	void *block;
	void (*free_fn)(void *);
	unsigned epoch;
};

struct inventory {
	atomic_int refs;            /* of a snapshot */
	bool frozen;                /* a snapshot: never changed again */
	unsigned epoch;             /* working: the current one; snapshot: the one it ended */
	struct idmap offers, youth;
	struct grid offer_grid, youth_grid;
	size_t nplaces;
	int default_km;
	int max_youth_km;           /* high-water mark of waiting youth's reach */
	int64_t max_offer_id;       /* high-water mark of the offers' ids */
	unsigned gen;               /* of the last full reload */
	/* working model only */
	struct retired *retired;
	size_t nretired, capretired;
	struct inventory **snaps;   /* snapshots made and not yet freed */
	size_t nsnaps, capsnaps;
};

/* ---------------------------------------------------------------- retiring */

static void offer_free(struct inv_offer *o)
{
	for (int i = 0; i < o->nplaces; i++)
		free(o->places[i].spans);
	free(o->places);
	free(o->label);
	free(o->external_ref);
	free(o);
}

static void offer_free_cb(void *p)
{
	offer_free(p);
}

static void youth_free(struct inv_youth *y)
{
	if (y)
		free(y->declines);
	free(y);
}

static void youth_free_cb(void *p)
{
	youth_free(p);
}

/* A block made in `born` leaves the working model: freed now if no
 * snapshot can read it, else when none can any more. */
static void retire(struct inventory *inv, void *block, void (*free_fn)(void *), unsigned born)
{
	if (born == inv->epoch) {
		free_fn(block);
		return;
	}
	if (inv->nretired == inv->capretired) {
		size_t cap = inv->capretired ? inv->capretired * 2 : 256;
		struct retired *grown = realloc(inv->retired, cap * sizeof *grown);
		if (!grown)
			return;   /* out of memory: leaked rather than freed under a reader */
		inv->retired = grown;
		inv->capretired = cap;
	}
	inv->retired[inv->nretired++] = (struct retired){block, free_fn, inv->epoch};
}

static void retire_vector(void *ctx, void *vector, unsigned born)
{
	retire(ctx, vector, grid_free_vector, born);
}

/* ---------------------------------------------------------------- idmap */

static size_t hash64(int64_t k)
{
	uint64_t x = (uint64_t)k;
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return (size_t)x;
}

static int64_t key_at(const struct idmap *m, size_t i)
{
	return m->chunks[i >> CHUNK_BITS]->keys[i & CHUNK_MASK];
}

static void *val_at(const struct idmap *m, size_t i)
{
	return m->chunks[i >> CHUNK_BITS]->vals[i & CHUNK_MASK];
}

/* Slot index of key, or of the empty slot where it would go. */
static size_t idmap_find(const struct idmap *m, int64_t key)
{
	size_t i = hash64(key) & (m->cap - 1);
	for (int64_t k; (k = key_at(m, i)) != key && k != 0; i = (i + 1) & (m->cap - 1))
		;
	return i;
}

static void *idmap_get(const struct idmap *m, int64_t key)
{
	if (!m->cap)
		return NULL;
	size_t i = idmap_find(m, key);
	return key_at(m, i) == key ? val_at(m, i) : NULL;
}

/* The chunk of slot i, the working model's own (copied first if shared). */
static struct chunk *own_chunk(struct inventory *inv, struct idmap *m, size_t i)
{
	struct chunk **cp = &m->chunks[i >> CHUNK_BITS], *c = *cp;
	if (c->epoch == inv->epoch)
		return c;
	struct chunk *n = malloc(sizeof *n);
	if (!n)
		return NULL;
	memcpy(n, c, sizeof *n);
	n->epoch = inv->epoch;
	retire(inv, c, free, c->epoch);
	*cp = n;
	return n;
}

static void free_chunks(struct chunk **chunks, size_t n)
{
	for (size_t c = 0; c < n; c++)
		free(chunks[c]);
	free(chunks);
}

static int idmap_grow(struct inventory *inv, struct idmap *m)
{
	struct idmap n = {0};
	n.cap = m->cap ? m->cap * 2 : 1024;
	n.chunks = calloc(n.cap / CHUNK, sizeof *n.chunks);
	if (!n.chunks)
		return -1;
	for (size_t c = 0; c < n.cap / CHUNK; c++)
		if (!(n.chunks[c] = calloc(1, sizeof **n.chunks))) {
			free_chunks(n.chunks, c);
			return -1;
		}
		else
			n.chunks[c]->epoch = inv->epoch;
	for (size_t i = 0; i < m->cap; i++) {
		int64_t k = key_at(m, i);
		void *v = val_at(m, i);
		if (k && v) {
			size_t j = idmap_find(&n, k);
			n.chunks[j >> CHUNK_BITS]->keys[j & CHUNK_MASK] = k;
			n.chunks[j >> CHUNK_BITS]->vals[j & CHUNK_MASK] = v;
			n.len++;
		}
	}
	for (size_t c = 0; c < m->cap / CHUNK; c++)
		retire(inv, m->chunks[c], free, m->chunks[c]->epoch);
	free(m->chunks);
	*m = n;
	return 0;
}

/* Slot of key in a chunk the working model owns, ready to be written;
 * NULL when absent (insert false) or out of memory. Deleted entries keep
 * their key with a NULL value (a tombstone). */
static void **idmap_slot(struct inventory *inv, struct idmap *m, int64_t key, bool insert)
{
	if (insert && (m->len + 1) * 2 > m->cap && idmap_grow(inv, m) != 0)
		return NULL;
	if (!m->cap)
		return NULL;
	size_t i = idmap_find(m, key);
	if (key_at(m, i) != key && !insert)
		return NULL;
	struct chunk *c = own_chunk(inv, m, i);
	if (!c)
		return NULL;
	if (c->keys[i & CHUNK_MASK] != key) {
		c->keys[i & CHUNK_MASK] = key;
		m->len++;
	}
	return &c->vals[i & CHUNK_MASK];
}

/* The slot of index i, in a chunk the working model owns. */
static void **idmap_slot_at(struct inventory *inv, struct idmap *m, size_t i)
{
	struct chunk *c = own_chunk(inv, m, i);
	return c ? &c->vals[i & CHUNK_MASK] : NULL;
}

/* ---------------------------------------------------------------- records */

/* A private deep copy of o, made in the current epoch. */
static struct inv_offer *offer_copy(const struct inv_offer *o, unsigned epoch)
{
	struct inv_offer *c = malloc(sizeof *c);
	if (!c)
		return NULL;
	memcpy(c, o, sizeof *c);
	c->epoch = epoch;
	c->label = NULL;
	c->external_ref = NULL;
	c->places = NULL;
	c->nplaces = c->capplaces = 0;
	if (o->label && !(c->label = strdup(o->label)))
		goto fail;
	if (o->external_ref && !(c->external_ref = strdup(o->external_ref)))
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
			p->nspans = p->capspans = 0;
			c->nplaces = i + 1;
			if (o->places[i].nspans) {
				p->spans = malloc((size_t)o->places[i].nspans * sizeof *p->spans);
				if (!p->spans)
					goto fail;
				memcpy(p->spans, o->places[i].spans, (size_t)o->places[i].nspans * sizeof *p->spans);
				p->nspans = p->capspans = o->places[i].nspans;
			}
		}
	}
	return c;
fail:
	offer_free(c);
	return NULL;
}

/* The offer in *slot (a slot of an owned chunk), the working model's own:
 * copied first if a snapshot may read it, the grid pointing at the copy.
 * NULL when out of memory (the shared record stays in place). */
static struct inv_offer *own_offer(struct inventory *inv, void **slot)
{
	struct inv_offer *o = *slot;
	if (o->epoch == inv->epoch)
		return o;
	struct inv_offer *c = offer_copy(o, inv->epoch);
	if (!c)
		return NULL;
	if (o->grid_cell) {
		grid_remove(&inv->offer_grid, o->grid_cell, o);
		struct match_packed packed;
		match_pack_offer(&c->m, &packed);
		c->grid_cell = grid_add(&inv->offer_grid, c->m.lat, c->m.lon, c, &packed);
	}
	*slot = c;
	retire(inv, o, offer_free_cb, o->epoch);
	return c;
}

static struct inv_youth *own_youth(struct inventory *inv, void **slot)
{
	struct inv_youth *y = *slot;
	if (y->epoch == inv->epoch)
		return y;
	struct inv_youth *c = malloc(sizeof *c);
	if (!c)
		return NULL;
	memcpy(c, y, sizeof *c);
	c->epoch = inv->epoch;
	/* the declines are the record's own too: a snapshot keeps reading y's */
	c->declines = NULL;
	if (y->m.ndeclines) {
		c->declines = malloc(y->m.ndeclines * sizeof *c->declines);
		if (!c->declines) {
			free(c);
			return NULL;
		}
		memcpy(c->declines, y->m.declines, y->m.ndeclines * sizeof *c->declines);
	}
	c->m.declines = c->declines;
	if (y->grid_cell) {
		grid_remove(&inv->youth_grid, y->grid_cell, y);
		c->grid_cell = grid_add(&inv->youth_grid, c->m.lat, c->m.lon, c, NULL);
	}
	*slot = c;
	retire(inv, y, youth_free_cb, y->epoch);
	return c;
}

/* ---------------------------------------------------------------- lifecycle */

struct inventory *inventory_new(int default_max_distance_km)
{
	struct inventory *inv = calloc(1, sizeof *inv);
	if (!inv)
		return NULL;
	atomic_init(&inv->refs, 1);
	inv->default_km = default_max_distance_km;
	inv->offer_grid.retire = inv->youth_grid.retire = retire_vector;
	/* Offers by value in small cells: a ranking reads the nearest cells
	 * first and stops once no farther offer can make its top k. */
	inv->offer_grid.cell_deg = OFFER_CELL_DEG;
	inv->offer_grid.payload_size = sizeof(struct match_packed);
	inv->offer_grid.retire_ctx = inv->youth_grid.retire_ctx = inv;
	return inv;
}

static void snapshot_destroy(struct inventory *s)
{
	free(s->offers.chunks);
	free(s->youth.chunks);
	grid_free_clone(&s->offer_grid);
	grid_free_clone(&s->youth_grid);
	free(s);
}

static void working_destroy(struct inventory *inv)
{
	for (size_t i = 0; i < inv->nsnaps; i++)
		snapshot_destroy(inv->snaps[i]);
	free(inv->snaps);
	for (size_t i = 0; i < inv->nretired; i++)
		inv->retired[i].free_fn(inv->retired[i].block);
	free(inv->retired);
	for (size_t i = 0; i < inv->offers.cap; i++)
		if (val_at(&inv->offers, i))
			offer_free(val_at(&inv->offers, i));
	for (size_t i = 0; i < inv->youth.cap; i++)
		youth_free(val_at(&inv->youth, i));
	free_chunks(inv->offers.chunks, inv->offers.cap / CHUNK);
	free_chunks(inv->youth.chunks, inv->youth.cap / CHUNK);
	grid_free(&inv->offer_grid);
	grid_free(&inv->youth_grid);
	free(inv);
}

static struct chunk **chunks_clone(const struct idmap *m)
{
	size_t n = m->cap / CHUNK;
	struct chunk **c = malloc((n ? n : 1) * sizeof *c);
	if (c && n)
		memcpy(c, m->chunks, n * sizeof *c);
	return c;
}

struct inventory *inventory_freeze(struct inventory *work)
{
	if (work->nsnaps == work->capsnaps) {
		size_t cap = work->capsnaps ? work->capsnaps * 2 : 8;
		struct inventory **grown = realloc(work->snaps, cap * sizeof *grown);
		if (!grown)
			return NULL;
		work->snaps = grown;
		work->capsnaps = cap;
	}
	struct inventory *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	atomic_init(&s->refs, 1);
	s->frozen = true;
	s->epoch = work->epoch;
	s->nplaces = work->nplaces;
	s->default_km = work->default_km;
	s->max_youth_km = work->max_youth_km;
	s->max_offer_id = work->max_offer_id;
	s->gen = work->gen;
	s->offers = work->offers;
	s->youth = work->youth;
	s->offers.chunks = chunks_clone(&work->offers);
	s->youth.chunks = chunks_clone(&work->youth);
	if (!s->offers.chunks || !s->youth.chunks ||
	    grid_clone(&s->offer_grid, &work->offer_grid) != 0 ||
	    grid_clone(&s->youth_grid, &work->youth_grid) != 0) {
		snapshot_destroy(s);
		return NULL;
	}
	work->snaps[work->nsnaps++] = s;
	/* from now on, what the snapshot reads is copied before any change */
	work->epoch++;
	work->offer_grid.epoch = work->youth_grid.epoch = work->epoch;
	return s;
}

int inventory_collect(struct inventory *work)
{
	unsigned oldest = work->epoch;
	size_t kept = 0;
	for (size_t i = 0; i < work->nsnaps; i++) {
		struct inventory *s = work->snaps[i];
		if (atomic_load_explicit(&s->refs, memory_order_acquire) == 0) {
			snapshot_destroy(s);
			continue;
		}
		if (s->epoch < oldest)
			oldest = s->epoch;
		work->snaps[kept++] = s;
	}
	work->nsnaps = kept;
	/* retired in epoch r: read only by snapshots of epochs before r */
	size_t left = 0;
	for (size_t i = 0; i < work->nretired; i++) {
		struct retired *r = &work->retired[i];
		if (r->epoch <= oldest)
			r->free_fn(r->block);
		else
			work->retired[left++] = *r;
	}
	work->nretired = left;
	return (int)kept;
}

struct inventory *inventory_retain(struct inventory *inv)
{
	if (inv)
		atomic_fetch_add_explicit(&inv->refs, 1, memory_order_relaxed);
	return inv;
}

void inventory_release(struct inventory *inv)
{
	if (!inv)
		return;
	if (atomic_fetch_sub_explicit(&inv->refs, 1, memory_order_acq_rel) == 1 && !inv->frozen)
		working_destroy(inv);
	/* a snapshot at 0 is freed by the working model's next collection */
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
		n += val_at(&inv->offers, i) != NULL;
	return n;
}

size_t inventory_youth_count(const struct inventory *inv)
{
	size_t n = 0;
	for (size_t i = 0; i < inv->youth.cap; i++)
		n += val_at(&inv->youth, i) != NULL;
	return n;
}

size_t inventory_place_count(const struct inventory *inv)
{
	return inv->nplaces;
}

/* The first of a place's spans that ends after day t (nspans: none); the
 * spans are sorted and never overlap, so they end in the same order. */
static int place_span_after(const struct inv_place *p, sdate t)
{
	int lo = 0, hi = p->nspans;
	while (lo < hi) {
		int mid = (lo + hi) / 2;
		if (p->spans[mid].end <= t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
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
	if (start >= o->all_free_from)
		return o->nactive;
	int n = 0;
	for (int i = 0; i < o->nplaces; i++)
		if (o->places[i].active && place_free(&o->places[i], start, end))
			n++;
	return n;
}

sdate inventory_free_until(const struct inv_offer *o, sdate start)
{
	if (o->nactive > 0 && start >= o->all_free_from)
		return INT32_MAX;
	sdate best = start;
	for (int i = 0; i < o->nplaces; i++) {
		const struct inv_place *p = &o->places[i];
		if (!p->active)
			continue;
		/* the first span ending after start: it holds the place on start,
		 * or the place is free from start up to where it begins */
		int lo = place_span_after(p, start);
		sdate until = lo == p->nspans ? INT32_MAX : p->spans[lo].start > start ? p->spans[lo].start : start;
		if (until > best)
			best = until;
	}
	return best;
}

int64_t inventory_first_free_place(const struct inv_offer *o, sdate start, sdate end)
{
	for (int i = 0; i < o->nplaces; i++)
		if (o->places[i].active && place_free(&o->places[i], start, end))
			return o->places[i].id;
	return 0;
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

bool inventory_has_free_cb(void *ctx, const struct match_offer *m, sdate start, sdate end)
{
	(void)ctx;
	const struct inv_offer *o = (const struct inv_offer *)m;
	if (start >= o->free_from)
		return true;
	for (int i = 0; i < o->nplaces; i++)
		if (o->places[i].active && place_free(&o->places[i], start, end))
			return true;
	return false;
}

/* The first gap of `days` days from `from` in one place's spans: the spans
 * are sorted and never overlap, so walk them from the first that ends after
 * `from`, moving the candidate past each span that reaches into it. */
static sdate place_next_free(const struct inv_place *p, sdate from, int days)
{
	int lo = place_span_after(p, from);
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

struct cells_out {
	struct match_cell *out;
	size_t max, n;
};

static void cell_visit(void *ctx, const struct grid_cell_ref *ref)
{
	struct cells_out *c = ctx;
	if (c->n < c->max)
		c->out[c->n] = (struct match_cell){
			.packed = ref->payload, .offers = (const struct match_offer *const *)ref->items,
			.xyz = ref->xyz, .n = ref->n, .min_km = ref->min_km};
	c->n++;
}

static int cmp_cell(const void *a, const void *b)
{
	double x = ((const struct match_cell *)a)->min_km, y = ((const struct match_cell *)b)->min_km;
	return x < y ? -1 : x > y;
}

struct ycells_out {
	struct match_ycell *out;
	size_t max, n;
};

static void ycell_visit(void *ctx, const struct grid_cell_ref *ref)
{
	struct ycells_out *c = ctx;
	if (c->n < c->max)
		c->out[c->n] = (struct match_ycell){
			.youth = (const struct match_youth *const *)ref->items, .xyz = ref->xyz,
			.n = ref->n, .min_km = ref->min_km};
	c->n++;
}

static int cmp_ycell(const void *a, const void *b)
{
	double x = ((const struct match_ycell *)a)->min_km, y = ((const struct match_ycell *)b)->min_km;
	return x < y ? -1 : x > y;
}

size_t inventory_youth_cells(const struct inventory *inv, double lat, double lon,
			     struct match_ycell *out, size_t max, double *reach_km)
{
	struct ycells_out c = {out, max, 0};
	*reach_km = inv->max_youth_km;
	grid_cells_near(&inv->youth_grid, lat, lon, inv->max_youth_km, ycell_visit, &c);
	if (c.n <= max)
		qsort(out, c.n, sizeof *out, cmp_ycell);
	return c.n;
}

size_t inventory_offer_cells(const struct inventory *inv, double lat, double lon, double radius_km,
			     struct match_cell *out, size_t max)
{
	struct cells_out c = {out, max, 0};
	grid_cells_near(&inv->offer_grid, lat, lon, radius_km, cell_visit, &c);
	if (c.n <= max)
		qsort(out, c.n, sizeof *out, cmp_cell);
	return c.n;
}

int inventory_offer_walk(const struct inventory *inv, double lat, double lon, double radius_km,
			 struct grid_walk *w)
{
	return grid_walk_begin(w, &inv->offer_grid, lat, lon, radius_km);
}

bool inventory_offer_walk_next(void *walk, struct match_cell *out)
{
	struct grid_cell_ref ref;
	if (!grid_walk_next(walk, &ref))
		return false;
	*out = (struct match_cell){
		.packed = ref.payload, .offers = (const struct match_offer *const *)ref.items,
		.xyz = ref.xyz, .n = ref.n, .min_km = ref.min_km};
	return true;
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
		if (val_at(&inv->offers, i)) {
			if (n < max)
				out[n] = val_at(&inv->offers, i);
			n++;
		}
	return n;
}

/* A max-heap of (id, offer) on the id: its top is the largest id kept. */
struct page_heap {
	int64_t *ids;
	const struct inv_offer **offers;
	size_t n;
};

static void page_sift_down(struct page_heap *h, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < h->n && h->ids[l] > h->ids[m])
			m = l;
		if (r < h->n && h->ids[r] > h->ids[m])
			m = r;
		if (m == i)
			return;
		int64_t t = h->ids[i];
		h->ids[i] = h->ids[m];
		h->ids[m] = t;
		const struct inv_offer *o = h->offers[i];
		h->offers[i] = h->offers[m];
		h->offers[m] = o;
		i = m;
	}
}

static void page_push(struct page_heap *h, int64_t id, const struct inv_offer *o)
{
	size_t i = h->n++;
	for (; i > 0 && h->ids[(i - 1) / 2] < id; i = (i - 1) / 2) {
		h->ids[i] = h->ids[(i - 1) / 2];
		h->offers[i] = h->offers[(i - 1) / 2];
	}
	h->ids[i] = id;
	h->offers[i] = o;
}

/* The scan: every id of the map, the k smallest above `after` kept in a
 * heap; out gets them in id order. SIZE_MAX when out of memory. */
static size_t page_scan(const struct inventory *inv, int64_t after,
			bool (*keep)(void *ctx, const struct inv_offer *o), void *ctx,
			const struct inv_offer **out, size_t k)
{
	int64_t *ids = malloc(k * sizeof *ids);
	const struct inv_offer **offers = malloc(k * sizeof *offers);
	struct page_heap h = {ids, offers, 0};
	size_t got = SIZE_MAX;
	if (!ids || !offers)
		goto out;
	const struct idmap *m = &inv->offers;
	for (size_t i = 0; i < m->cap; i++) {
		int64_t id = key_at(m, i);
		/* the id alone rules most out, before the offer is read */
		if (id <= after || (h.n == k && id >= h.ids[0]))
			continue;
		const struct inv_offer *o = val_at(m, i);
		if (!o || (keep && !keep(ctx, o)))
			continue;
		if (h.n == k) {
			h.ids[0] = id;
			h.offers[0] = o;
			page_sift_down(&h, 0);
		} else {
			page_push(&h, id, o);
		}
	}
	/* emptying the heap gives the ids from the largest down */
	got = h.n;
	while (h.n > 0) {
		out[h.n - 1] = h.offers[0];
		h.ids[0] = h.ids[h.n - 1];
		h.offers[0] = h.offers[h.n - 1];
		h.n--;
		page_sift_down(&h, 0);
	}
out:
	free(ids);
	free(offers);
	return got;
}

size_t inventory_offers_page(const struct inventory *inv, int64_t after,
			     bool (*keep)(void *ctx, const struct inv_offer *o), void *ctx,
			     const struct inv_offer **out, size_t k, bool *more)
{
	*more = false;
	if (k == 0)
		return 0;
	/* k + 1 wanted: the last one only says there is more. The database
	 * hands out ids in order, so most pages are the ids that follow the
	 * cursor: asked of the map one by one, a page is k lookups. A sparse
	 * stretch (a narrow filter, many gaps) spends the budget and the rest
	 * comes from a scan of every id. */
	size_t want = k + 1, n = 0;
	const struct inv_offer **all = malloc(want * sizeof *all);
	if (!all)
		return SIZE_MAX;
	size_t budget = 4 * want + 64;
	int64_t id = after < 0 ? 0 : after;
	while (n < want && budget > 0 && id < inv->max_offer_id) {
		id++;
		budget--;
		const struct inv_offer *o = idmap_get(&inv->offers, id);
		if (o && (!keep || keep(ctx, o)))
			all[n++] = o;
	}
	if (n < want && id < inv->max_offer_id) {
		size_t got = page_scan(inv, id, keep, ctx, all + n, want - n);
		if (got == SIZE_MAX) {
			free(all);
			return SIZE_MAX;
		}
		n += got;
	}
	*more = n == want;
	if (*more)
		n = k;
	memcpy(out, all, n * sizeof *out);
	free(all);
	return n;
}

size_t inventory_all_youth(const struct inventory *inv, const struct inv_youth **out, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < inv->youth.cap; i++)
		if (val_at(&inv->youth, i)) {
			if (n < max)
				out[n] = val_at(&inv->youth, i);
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
		if (!val_at(&inv->youth, i))
			continue;
		const struct inv_youth *cur = val_at(&inv->youth, i);
		if (!cur->own_max_distance_km && cur->m.max_distance_km != km) {
			void **slot = idmap_slot_at(inv, &inv->youth, i);
			struct inv_youth *y = slot ? own_youth(inv, slot) : NULL;
			if (y)
				y->m.max_distance_km = km;
		}
		cur = val_at(&inv->youth, i);
		if (cur->waiting && cur->m.max_distance_km > inv->max_youth_km)
			inv->max_youth_km = (int)cur->m.max_distance_km;
	}
}

int inventory_put_offer(struct inventory *inv, const struct inv_offer *f)
{
	void **slot = idmap_slot(inv, &inv->offers, f->m.id, true);
	if (!slot)
		return -1;
	char *label = strdup(f->label ? f->label : "");
	char *ext = f->external_ref ? strdup(f->external_ref) : NULL;
	if (!label || (f->external_ref && !ext)) {
		free(label);
		free(ext);
		return -1;
	}
	struct inv_offer *o;
	if (!*slot) {
		o = calloc(1, sizeof *o);
		if (!o) {
			free(label);
			free(ext);
			return -1;
		}
		o->epoch = inv->epoch;
		o->free_from = INT32_MAX;   /* no place yet */
		o->all_free_from = DATE_NONE;
		*slot = o;
		if (f->m.id > inv->max_offer_id)
			inv->max_offer_id = f->m.id;
	} else if (!(o = own_offer(inv, slot))) {
		free(label);
		free(ext);
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
	memcpy(o->confirmed_at, f->confirmed_at, sizeof o->confirmed_at);
	free(o->label);
	o->label = label;
	free(o->external_ref);
	o->external_ref = ext;
	struct match_packed packed;
	match_pack_offer(&o->m, &packed);
	o->grid_cell = grid_add(&inv->offer_grid, o->m.lat, o->m.lon, o, &packed);
	return o->grid_cell ? 0 : -1;
}

_Static_assert(offsetof(struct inv_offer, capplaces) + sizeof(int) <= 128,
	       "what has_free reads stays within the first 128 bytes a ranking prefetches");

/* o->free_from after a change of its places or spans (spans are kept
 * sorted: a place's last span ends last). */
static void offer_free_from(struct inv_offer *o)
{
	sdate f = INT32_MAX, all = DATE_NONE;
	int n = 0;
	for (int i = 0; i < o->nplaces; i++) {
		const struct inv_place *p = &o->places[i];
		if (!p->active)
			continue;
		sdate e = p->nspans > 0 && p->spans ? p->spans[p->nspans - 1].end : DATE_NONE;
		if (e < f)
			f = e;
		if (e > all)
			all = e;
		n++;
	}
	o->free_from = f;
	o->all_free_from = all;
	o->nactive = n;
}

int inventory_set_places(struct inventory *inv, int64_t offer_id, const struct inv_place *given, int n)
{
	void **slot = idmap_slot(inv, &inv->offers, offer_id, false);
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
	offer_free_from(o);
	return 0;
}

int inventory_clear_spans(struct inventory *inv, int64_t offer_id)
{
	if (offer_id) {
		void **slot = idmap_slot(inv, &inv->offers, offer_id, false);
		if (!slot || !*slot)
			return 0;
		struct inv_offer *o = own_offer(inv, slot);
		if (!o)
			return -1;
		for (int p = 0; p < o->nplaces; p++)
			o->places[p].nspans = 0;
		offer_free_from(o);
		return 0;
	}
	for (size_t i = 0; i < inv->offers.cap; i++) {
		if (!val_at(&inv->offers, i))
			continue;
		void **slot = idmap_slot_at(inv, &inv->offers, i);
		struct inv_offer *o = slot ? own_offer(inv, slot) : NULL;
		if (!o)
			return -1;
		for (int p = 0; p < o->nplaces; p++)
			o->places[p].nspans = 0;
		offer_free_from(o);
	}
	return 0;
}

/* The offer, owned by the working model, or NULL with *rc: 0 unknown, -1
 * out of memory. */
static struct inv_offer *offer_to_change(struct inventory *inv, int64_t offer_id, int *rc)
{
	void **slot = idmap_slot(inv, &inv->offers, offer_id, false);
	struct inv_offer *o = slot && *slot ? own_offer(inv, slot) : NULL;
	*rc = slot && *slot && !o ? -1 : 0;
	return o;
}

/* Room for one more span on p. */
static int place_room(struct inv_place *p)
{
	if (p->nspans < p->capspans)
		return 0;
	int cap = p->capspans ? p->capspans * 2 : 4;
	struct inv_span *spans = realloc(p->spans, (size_t)cap * sizeof *spans);
	if (!spans)
		return -1;
	p->spans = spans;
	p->capspans = cap;
	return 0;
}

int inventory_add_span(struct inventory *inv, int64_t offer_id, int64_t place_id, struct inv_span s)
{
	int rc;
	struct inv_offer *o = offer_to_change(inv, offer_id, &rc);
	if (!o)
		return rc;
	struct inv_place *p = NULL;
	for (int i = 0; i < o->nplaces && !p; i++)
		if (o->places[i].id == place_id)
			p = &o->places[i];
	if (!p)
		return 0;
	if (place_room(p) != 0)
		return -1;
	p->spans[p->nspans++] = s;
	offer_free_from(o);
	return 0;
}

int inventory_put_span(struct inventory *inv, int64_t offer_id, int64_t place_id, struct inv_span s)
{
	int rc;
	struct inv_offer *o = offer_to_change(inv, offer_id, &rc);
	if (!o)
		return rc;
	struct inv_place *p = NULL;
	for (int i = 0; i < o->nplaces; i++) {
		struct inv_place *q = &o->places[i];
		if (q->id == place_id)
			p = q;
		/* what the model held for this placement, on any place: a read of
		 * the offer made after the write may already have it */
		for (int k = 0; k < q->nspans; k++)
			if (q->spans[k].placement_id == s.placement_id) {
				memmove(&q->spans[k], &q->spans[k + 1], (size_t)(q->nspans - k - 1) * sizeof *q->spans);
				q->nspans--;
				k--;
			}
	}
	if (p && s.end > s.start) {
		if (place_room(p) != 0)
			return -1;
		/* in start order: the place's later spans move up one */
		int at = p->nspans;
		while (at > 0 && p->spans[at - 1].start > s.start)
			at--;
		memmove(&p->spans[at + 1], &p->spans[at], (size_t)(p->nspans - at) * sizeof *p->spans);
		p->spans[at] = s;
		p->nspans++;
	}
	offer_free_from(o);
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
	void **slot = idmap_slot(inv, &inv->youth, id, false);
	if (!slot || !*slot)
		return;
	struct inv_youth *y = *slot;
	/* out of this inventory's grid; a snapshot keeps its own grid and record */
	if (y->grid_cell)
		grid_remove(&inv->youth_grid, y->grid_cell, y);
	*slot = NULL;
	retire(inv, y, youth_free_cb, y->epoch);
}

void inventory_sweep_youth(struct inventory *inv)
{
	for (size_t i = 0; i < inv->youth.cap; i++) {
		struct inv_youth *y = val_at(&inv->youth, i);
		if (y && y->gen != inv->gen)
			inventory_drop_youth(inv, y->m.id);
	}
}

int inventory_set_open_placement(struct inventory *inv, int64_t id, bool open)
{
	void **slot = idmap_slot(inv, &inv->youth, id, false);
	if (!slot || !*slot)
		return 0;
	struct inv_youth *y = own_youth(inv, slot);
	if (!y)
		return -1;
	youth_unlink(inv, y);
	y->open_placement = open;
	/* as inventory_put_youth: a pending proposal takes them out of the grid */
	y->waiting = y->status_waiting && !y->open_placement;
	if (y->waiting && y->located) {
		y->grid_cell = grid_add(&inv->youth_grid, y->m.lat, y->m.lon, y, NULL);
		if (!y->grid_cell)
			return -1;
		if (y->m.max_distance_km > inv->max_youth_km)
			inv->max_youth_km = (int)y->m.max_distance_km;
	}
	return 0;
}

int inventory_put_youth(struct inventory *inv, const struct inv_youth *f)
{
	void **slot = idmap_slot(inv, &inv->youth, f->m.id, true);
	if (!slot)
		return -1;
	/* f's declines are the caller's: the record keeps a copy */
	struct match_decline *declines = NULL;
	if (f->m.ndeclines) {
		declines = malloc(f->m.ndeclines * sizeof *declines);
		if (!declines)
			return -1;
		memcpy(declines, f->m.declines, f->m.ndeclines * sizeof *declines);
	}
	struct inv_youth *y;
	if (!*slot) {
		y = calloc(1, sizeof *y);
		if (!y) {
			free(declines);
			return -1;
		}
		y->epoch = inv->epoch;
		*slot = y;
	} else if (!(y = own_youth(inv, slot))) {
		free(declines);
		return -1;
	}
	youth_unlink(inv, y);
	free(y->declines);
	y->m = f->m;
	y->declines = declines;
	y->m.declines = declines;
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
		y->grid_cell = grid_add(&inv->youth_grid, y->m.lat, y->m.lon, y, NULL);
		if (!y->grid_cell)
			return -1;
		if (y->m.max_distance_km > inv->max_youth_km)
			inv->max_youth_km = (int)y->m.max_distance_km;
	}
	return 0;
}

struct match_params inventory_match_params(const struct config *c, const char *today, sdate on)
{
	struct match_params p = {
		.today = DATE_NONE,
		.on = on,
		.weights = {c->weight_distance, c->weight_duration, c->weight_affordability,
			    c->weight_support, c->weight_availability},
		.free_places = inventory_free_places_cb,
		.has_free = inventory_has_free_cb,
		.next_free = inventory_next_free_cb,
		.reconfirm_days = c->reconfirm_days,
		.refusal_cooldown_days = c->refusal_cooldown_days,
	};
	if (!today || !date_parse(today, &p.today))
		p.today = DATE_NONE;
	return p;
}
