/*
 * The spatial grid (see grid.h).
 */
#include "grid.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Grid cells of 0.2 degree (about 22 km north-south): a 30 km search looks
 * at a dozen cells. */
#define CELL_DEG 0.2

/* One grid: cell key → a vector of pointers, with each item's position as
 * a unit vector, so a search drops what is out of reach without touching
 * the item itself (a cache miss per item was most of a match's time). */
struct vec {
	unsigned born;              /* the owner's epoch when it was made */
	void **items;
	double *xyz;                /* 3 per item */
	int n, cap;
};

struct cell {
	int64_t key;                /* 0: empty slot */
	struct vec *v;              /* NULL until an item is added */
};

static size_t hash64(int64_t k)
{
	uint64_t x = (uint64_t)k;
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return (size_t)x;
}


static int64_t cell_key(double lat, double lon)
{
	int64_t row = (int64_t)floor((lat + 90.0) / CELL_DEG);
	int64_t col = (int64_t)floor((lon + 180.0) / CELL_DEG);
	return row * 4096 + col + 1; /* never 0 */
}

static struct cell *grid_cell(struct grid *g, int64_t key, bool insert)
{
	if (insert && (g->used + 1) * 2 > g->cap) {
		struct grid n = {0};
		n.cap = g->cap ? g->cap * 2 : 1024;
		n.cells = calloc(n.cap, sizeof *n.cells);
		if (!n.cells)
			return NULL;
		for (size_t i = 0; i < g->cap; i++)
			if (g->cells[i].key) {
				struct cell *c = grid_cell(&n, g->cells[i].key, true);
				*c = g->cells[i];
			}
		free(g->cells);
		g->cells = n.cells;   /* the epoch and the retire hook stay */
		g->cap = n.cap;
		g->used = n.used;
	}
	if (!g->cap)
		return NULL;
	for (size_t i = hash64(key) & (g->cap - 1);; i = (i + 1) & (g->cap - 1)) {
		if (g->cells[i].key == key)
			return &g->cells[i];
		if (g->cells[i].key == 0) {
			if (!insert)
				return NULL;
			g->cells[i].key = key;
			g->used++;
			return &g->cells[i];
		}
	}
}

static void unit_vector(double lat, double lon, double v[3])
{
	double rl = lat * M_PI / 180.0, ro = lon * M_PI / 180.0;
	v[0] = cos(rl) * cos(ro);
	v[1] = cos(rl) * sin(ro);
	v[2] = sin(rl);
}

void grid_free_vector(void *vector)
{
	struct vec *v = vector;
	if (!v)
		return;
	free(v->items);
	free(v->xyz);
	free(v);
}

/* The cell's vector, the owner's own (copied first if a clone may read it). */
static struct vec *own_vec(struct grid *g, struct cell *c)
{
	struct vec *v = c->v;
	if (v && v->born == g->epoch)
		return v;
	struct vec *n = calloc(1, sizeof *n);
	if (!n)
		return NULL;
	n->born = g->epoch;
	if (v && v->n) {
		n->items = malloc((size_t)v->n * sizeof *n->items);
		n->xyz = malloc((size_t)v->n * 3 * sizeof *n->xyz);
		if (!n->items || !n->xyz) {
			grid_free_vector(n);
			return NULL;
		}
		memcpy(n->items, v->items, (size_t)v->n * sizeof *n->items);
		memcpy(n->xyz, v->xyz, (size_t)v->n * 3 * sizeof *n->xyz);
		n->n = n->cap = v->n;
	}
	if (v) {
		if (g->retire)
			g->retire(g->retire_ctx, v, v->born);
		else
			grid_free_vector(v);
	}
	c->v = n;
	return n;
}

int64_t grid_add(struct grid *g, double lat, double lon, void *item)
{
	int64_t key = cell_key(lat, lon);
	struct cell *cell = grid_cell(g, key, true);
	struct vec *c = cell ? own_vec(g, cell) : NULL;
	if (!c)
		return 0;
	if (c->n == c->cap) {
		int cap = c->cap ? c->cap * 2 : 8;
		void **items = realloc(c->items, (size_t)cap * sizeof *items);
		if (!items)
			return 0;
		c->items = items;
		double *xyz = realloc(c->xyz, (size_t)cap * 3 * sizeof *xyz);
		if (!xyz)
			return 0;
		c->xyz = xyz;
		c->cap = cap;
	}
	unit_vector(lat, lon, &c->xyz[3 * (size_t)c->n]);
	c->items[c->n++] = item;
	return key;
}

void grid_remove(struct grid *g, int64_t key, void *item)
{
	struct cell *cell = grid_cell(g, key, false);
	if (!cell || !cell->v)
		return;
	for (int i = 0; i < cell->v->n; i++)
		if (cell->v->items[i] == item) {
			struct vec *c = own_vec(g, cell);
			if (!c)
				return;  /* out of memory: the item stays, callers re-check what they find */
			c->items[i] = c->items[--c->n];
			memcpy(&c->xyz[3 * (size_t)i], &c->xyz[3 * (size_t)c->n], 3 * sizeof(double));
			return;
		}
}

int grid_clone(struct grid *dst, const struct grid *src)
{
	*dst = (struct grid){0};
	if (!src->cap)
		return 0;
	dst->cells = malloc(src->cap * sizeof *dst->cells);
	if (!dst->cells)
		return -1;
	memcpy(dst->cells, src->cells, src->cap * sizeof *dst->cells);
	dst->cap = src->cap;
	dst->used = src->used;
	dst->epoch = src->epoch;
	return 0;
}

void grid_free_clone(struct grid *g)
{
	free(g->cells);
	*g = (struct grid){0};
}

void grid_free(struct grid *g)
{
	for (size_t i = 0; i < g->cap; i++)
		grid_free_vector(g->cells[i].v);
	free(g->cells);
}

/* The items of the cells that a circle of radius_km around (lat, lon)
 * touches, less those whose straight-line (chord) distance shows them out
 * of the circle: a superset of the items within radius_km, with a margin
 * for the rounding of distances to 0.1 km (the matcher decides exactly). */
size_t grid_near(const struct grid *g, double lat, double lon, double radius_km,
			const void **out, size_t max)
{
	double p[3];
	unit_vector(lat, lon, p);
	double theta = (radius_km + 0.2) * (1 + 1e-6) / 6371.0;
	double chord = theta >= M_PI ? 2.0 : 2 * sin(theta / 2);
	double chord2 = chord * chord;
	double dlat = radius_km / 110.5 + CELL_DEG;
	double coslat = cos(fmin(89.0, fabs(lat) + dlat) * M_PI / 180.0);
	double dlon = radius_km / (111.32 * fmax(coslat, 0.01)) + CELL_DEG;
	if (dlon > 180)
		dlon = 180;
	int64_t r0 = (int64_t)floor((lat - dlat + 90.0) / CELL_DEG);
	int64_t r1 = (int64_t)floor((lat + dlat + 90.0) / CELL_DEG);
	int64_t c0 = (int64_t)floor((lon - dlon + 180.0) / CELL_DEG);
	int64_t c1 = (int64_t)floor((lon + dlon + 180.0) / CELL_DEG);
	size_t n = 0;
	for (int64_t r = r0; r <= r1; r++)
		for (int64_t c = c0; c <= c1; c++) {
			/* wrap around the antimeridian */
			int64_t cc = ((c % 1800) + 1800) % 1800;
			/* a lookup (insert false) never changes the grid */
			const struct cell *cell = grid_cell((struct grid *)g, r * 4096 + cc + 1, false);
			const struct vec *vec = cell ? cell->v : NULL;
			for (int i = 0; vec && i < vec->n; i++) {
				const double *v = &vec->xyz[3 * (size_t)i];
				double dx = v[0] - p[0], dy = v[1] - p[1], dz = v[2] - p[2];
				if (dx * dx + dy * dy + dz * dz > chord2)
					continue;
				if (n < max)
					out[n] = vec->items[i];
				n++;
			}
		}
	return n;
}

