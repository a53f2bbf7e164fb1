/*
 * The spatial grid (see grid.h).
 */
#include "grid.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Columns per row in a cell key: room for cells down to 0.0004 degree. */
#define KEY_COLS ((int64_t)1 << 20)

/* One grid: cell key → a vector of pointers, with each item's position as
 * a unit vector, so a search drops what is out of reach without touching
 * the item itself (a cache miss per item was most of a match's time). */
struct vec {
	unsigned born;              /* the owner's epoch when it was made */
	void **items;
	double *xyz;                /* 3 per item */
	unsigned char *payload;     /* payload_size bytes per item, or NULL */
	int n, cap;
};

/* A slot of the table: the key, its vector, and a copy of what a search
 * reads of the vector (its arrays and count), kept in step by every change
 * (cell_sync), so that a search's lookup reads one slot, not the slot and
 * then the vector (two cache misses per cell were a tenth of a request). */
struct cell {
	int64_t key;                /* 0: empty slot */
	struct vec *v;              /* NULL until an item is added */
	void **items;
	const double *xyz;
	const unsigned char *payload;
	int n;
};

static void cell_sync(struct cell *c)
{
	const struct vec *v = c->v;
	c->items = v ? v->items : NULL;
	c->xyz = v ? v->xyz : NULL;
	c->payload = v ? v->payload : NULL;
	c->n = v ? v->n : 0;
}

static size_t hash64(int64_t k)
{
	uint64_t x = (uint64_t)k;
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return (size_t)x;
}


static double cell_deg(const struct grid *g)
{
	return g->cell_deg > 0 ? g->cell_deg : GRID_CELL_DEG;
}

static int64_t key_of(int64_t row, int64_t col)
{
	return row * KEY_COLS + col + 1; /* never 0 */
}

static int64_t cell_key(const struct grid *g, double lat, double lon)
{
	int64_t row = (int64_t)floor((lat + 90.0) / cell_deg(g));
	int64_t col = (int64_t)floor((lon + 180.0) / cell_deg(g));
	return key_of(row, col);
}

static struct cell *grid_cell(struct grid *g, int64_t key, bool insert)
{
	if (insert && (g->used + 1) * 2 > g->cap) {
		struct grid n = {.cell_deg = g->cell_deg, .payload_size = g->payload_size};
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
	free(v->payload);
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
		n->payload = g->payload_size ? malloc((size_t)v->n * g->payload_size) : NULL;
		if (!n->items || !n->xyz || (g->payload_size && !n->payload)) {
			grid_free_vector(n);
			return NULL;
		}
		memcpy(n->items, v->items, (size_t)v->n * sizeof *n->items);
		memcpy(n->xyz, v->xyz, (size_t)v->n * 3 * sizeof *n->xyz);
		if (g->payload_size)
			memcpy(n->payload, v->payload, (size_t)v->n * g->payload_size);
		n->n = n->cap = v->n;
	}
	if (v) {
		if (g->retire)
			g->retire(g->retire_ctx, v, v->born);
		else
			grid_free_vector(v);
	}
	c->v = n;
	cell_sync(c);
	return n;
}

static int64_t vec_add(struct grid *g, struct vec *c, int64_t key, double lat, double lon,
		       void *item, const void *payload);

int64_t grid_add(struct grid *g, double lat, double lon, void *item, const void *payload)
{
	int64_t key = cell_key(g, lat, lon);
	struct cell *cell = grid_cell(g, key, true);
	struct vec *c = cell ? own_vec(g, cell) : NULL;
	if (!c)
		return 0;
	int64_t rc = vec_add(g, c, key, lat, lon, item, payload);
	cell_sync(cell);
	return rc;
}

/* grid_add's append to the cell's own vector (grown as needed). */
static int64_t vec_add(struct grid *g, struct vec *c, int64_t key, double lat, double lon,
		       void *item, const void *payload)
{
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
		if (g->payload_size) {
			unsigned char *pl = realloc(c->payload, (size_t)cap * g->payload_size);
			if (!pl)
				return 0;
			c->payload = pl;
		}
		c->cap = cap;
	}
	if (g->payload_size)
		memcpy(c->payload + (size_t)c->n * g->payload_size, payload, g->payload_size);
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
			if (g->payload_size)
				memcpy(c->payload + (size_t)i * g->payload_size,
				       c->payload + (size_t)c->n * g->payload_size, g->payload_size);
			cell_sync(cell);
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
	dst->cell_deg = src->cell_deg;
	dst->payload_size = src->payload_size;
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

/* The rows and columns of the cells a circle of radius_km around (lat, lon)
 * may touch. */
struct span {
	int64_t r0, r1, c0, c1;
	int64_t ncols;              /* around the globe, for the antimeridian */
};

static struct span cells_around(const struct grid *g, double lat, double lon, double radius_km)
{
	double cd = cell_deg(g);
	double dlat = radius_km / 110.5 + cd;
	double coslat = cos(fmin(89.0, fabs(lat) + dlat) * M_PI / 180.0);
	double dlon = radius_km / (111.32 * fmax(coslat, 0.01)) + cd;
	if (dlon > 180)
		dlon = 180;
	return (struct span){
		.r0 = (int64_t)floor((lat - dlat + 90.0) / cd),
		.r1 = (int64_t)floor((lat + dlat + 90.0) / cd),
		.c0 = (int64_t)floor((lon - dlon + 180.0) / cd),
		.c1 = (int64_t)floor((lon + dlon + 180.0) / cd),
		.ncols = (int64_t)llround(360.0 / cd),
	};
}

/* The non-empty cell at row r, column c, or NULL. */
static const struct cell *vec_at(const struct grid *g, int64_t r, int64_t c, int64_t ncols)
{
	/* wrap around the antimeridian */
	int64_t cc = ((c % ncols) + ncols) % ncols;
	/* a lookup (insert false) never changes the grid */
	const struct cell *cell = grid_cell((struct grid *)g, key_of(r, cc), false);
	return cell && cell->n ? cell : NULL;
}

/* The slot where the lookup of row r, column c starts: read soon. */
static void prefetch_cell(const struct grid *g, int64_t r, int64_t c, int64_t ncols)
{
	int64_t cc = ((c % ncols) + ncols) % ncols;
	if (g->cap)
		__builtin_prefetch(&g->cells[hash64(key_of(r, cc)) & (g->cap - 1)]);
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
	struct span sp = cells_around(g, lat, lon, radius_km);
	size_t n = 0;
	for (int64_t r = sp.r0; r <= sp.r1; r++)
		for (int64_t c = sp.c0; c <= sp.c1; c++) {
			const struct cell *vec = vec_at(g, r, c, sp.ncols);
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

/* A lower bound of the distance from (lat, lon) to any point of the cell
 * [lat0, lat0 + cd) x [lon0, lon0 + cd): the distance to the cell's point
 * of nearest latitude and longitude. On a sphere the true nearest point of
 * a meridian edge lies a little poleward of that latitude, a second-order
 * difference (under 10 m at 100 km); the margin covers it many times, and
 * the rounding of distances to 0.1 km.
 *
 * That point's latitude depends on the cell's row only, its longitude on
 * its column only: the sines and cosines of the haversine are worked out
 * once per row and per column of a search (they were most of a search's
 * time when computed per cell), the same expressions, the same values. */
struct near_row {
	double s_lat;               /* sin((la - lat) / 2) */
	double cos_la;              /* cos(la) */
};

static struct near_row near_row(double lat, double lat0, double cd)
{
	const double rad = M_PI / 180.0;
	double la = lat < lat0 ? lat0 : lat > lat0 + cd ? lat0 + cd : lat;
	return (struct near_row){sin((la - lat) * rad / 2), cos(la * rad)};
}

/* sin((lo - lon) / 2) of the column whose west edge is lon0 */
static double near_col(double lon, double lon0, double cd)
{
	const double rad = M_PI / 180.0;
	/* how far east of the west edge, around the globe */
	double dl = fmod(fmod(lon - lon0, 360.0) + 360.0, 360.0);
	double lo;
	if (dl <= cd)
		lo = lon;               /* within the cell's columns */
	else if (dl - cd <= 360.0 - dl)
		lo = lon0 + cd;         /* east of the cell: its east edge */
	else
		lo = lon0;              /* west of it: its west edge */
	return sin((lo - lon) * rad / 2);
}

/* The haversine's a of the cell's nearest point: min_km grows with it, so
 * a walk orders cells by a and works min_km out only for those it gives. */
static double cell_a(double cos_lat, struct near_row row, double s_lon)
{
	return row.s_lat * row.s_lat + cos_lat * row.cos_la * s_lon * s_lon;
}

static double min_km_of(double a)
{
	double km = 2 * 6371.0 * asin(sqrt(fmin(1.0, a)));
	km -= 0.5 + km * 0.01;
	return km > 0 ? km : 0;
}

static double cell_min_km(double cos_lat, struct near_row row, double s_lon)
{
	return min_km_of(cell_a(cos_lat, row, s_lon));
}

/* Columns whose terms a search keeps on the stack; a wider span (a radius
 * of hundreds of km) works them out per cell. */
#define NEAR_COLS 512

size_t grid_cells_near(const struct grid *g, double lat, double lon, double radius_km,
		       void (*visit)(void *ctx, const struct grid_cell_ref *cell), void *ctx)
{
	double cd = cell_deg(g);
	struct span sp = cells_around(g, lat, lon, radius_km);
	const double rad = M_PI / 180.0;
	double cos_lat = cos(lat * rad);
	double cols[NEAR_COLS];
	int64_t ncols = sp.c1 - sp.c0 + 1;
	bool cached = ncols <= NEAR_COLS;
	for (int64_t c = sp.c0; cached && c <= sp.c1; c++)
		cols[c - sp.c0] = near_col(lon, (double)c * cd - 180.0, cd);
	size_t n = 0;
	for (int64_t r = sp.r0; r <= sp.r1; r++) {
		struct near_row row = near_row(lat, (double)r * cd - 90.0, cd);
		for (int64_t c = sp.c0; c <= sp.c1; c++) {
			const struct cell *vec = vec_at(g, r, c, sp.ncols);
			if (!vec)
				continue;
			double s_lon = cached ? cols[c - sp.c0] : near_col(lon, (double)c * cd - 180.0, cd);
			struct grid_cell_ref ref = {
				.items = vec->items, .payload = vec->payload, .xyz = vec->xyz,
				.n = (size_t)vec->n,
				.min_km = cell_min_km(cos_lat, row, s_lon),
			};
			visit(ctx, &ref);
			n++;
		}
	}
	return n;
}

/* ---- walks: the cells of a search one at a time, nearest first ---- */

struct grid_walk_row {
	struct near_row row;
	int32_t r;
	bool reverse;               /* cos_lat * cos_la < 0 (beyond a pole): far columns first */
};

struct grid_walk_col {
	double s;                   /* near_col's sine */
	int32_t c;
};

/* A row's next cell: its bound, the row and the column's rank. */
struct grid_walk_pos {
	double a;                   /* cell_a: orders the cells as min_km does */
	int32_t row, rank;
};

static int cmp_walk_col(const void *x, const void *y)
{
	double a = fabs(((const struct grid_walk_col *)x)->s), b = fabs(((const struct grid_walk_col *)y)->s);
	return a < b ? -1 : a > b;
}

/* The binary heap's sift-down: the smallest a at the root. */
static void walk_sift(struct grid_walk_pos *h, size_t n, size_t i)
{
	struct grid_walk_pos v = h[i];
	for (;;) {
		size_t m = 2 * i + 1;
		if (m >= n)
			break;
		if (m + 1 < n && h[m + 1].a < h[m].a)
			m++;
		if (!(h[m].a < v.a))
			break;
		h[i] = h[m];
		i = m;
	}
	h[i] = v;
}

/* The column of rank k along row i (its order of growing bound). */
static size_t walk_col(const struct grid_walk *w, int32_t i, int32_t k)
{
	return w->rows[i].reverse ? w->ncol - 1 - (size_t)k : (size_t)k;
}

static struct grid_walk_pos walk_pos(const struct grid_walk *w, int32_t i, int32_t k)
{
	const struct grid_walk_col *col = &w->cols[walk_col(w, i, k)];
	return (struct grid_walk_pos){cell_a(w->cos_lat, w->rows[i].row, col->s), i, k};
}

static void walk_prefetch_top(const struct grid_walk *w)
{
	if (w->n)
		prefetch_cell(w->g, w->rows[w->heap[0].row].r,
			      w->cols[walk_col(w, w->heap[0].row, w->heap[0].rank)].c, w->ncols);
}

int grid_walk_begin(struct grid_walk *w, const struct grid *g, double lat, double lon,
		    double radius_km)
{
	double cd = cell_deg(g);
	struct span sp = cells_around(g, lat, lon, radius_km);
	w->g = g;
	w->n = 0;
	w->ncols = sp.ncols;
	if (!g->cap || sp.r1 < sp.r0 || sp.c1 < sp.c0)
		return 0;       /* no cell at all */
	size_t nr = (size_t)(sp.r1 - sp.r0 + 1), nc = (size_t)(sp.c1 - sp.c0 + 1);
	if (nr > INT32_MAX || nc > INT32_MAX)
		return -1;
	/* one buffer: rows, columns, heap (each part 8-byte aligned) */
	size_t need = nr * sizeof(struct grid_walk_row) + nc * sizeof(struct grid_walk_col) +
		      nr * sizeof(struct grid_walk_pos);
	if (need > w->cap) {
		void *grown = realloc(w->mem, need);
		if (!grown)
			return -1;
		w->mem = grown;
		w->cap = need;
	}
	w->rows = w->mem;
	w->cols = (struct grid_walk_col *)(void *)(w->rows + nr);
	w->heap = (struct grid_walk_pos *)(void *)(w->cols + nc);
	w->ncol = nc;
	const double rad = M_PI / 180.0;
	w->cos_lat = cos(lat * rad);
	for (int64_t c = sp.c0; c <= sp.c1; c++)
		w->cols[c - sp.c0] = (struct grid_walk_col){near_col(lon, (double)c * cd - 180.0, cd),
							    (int32_t)c};
	/* Along a row the bound grows with |sine| (a product of rounded
	 * factors grows with each of them): columns nearest first. */
	if (nc > 1)
		qsort(w->cols, nc, sizeof *w->cols, cmp_walk_col);
	for (int64_t r = sp.r0; r <= sp.r1; r++) {
		struct near_row row = near_row(lat, (double)r * cd - 90.0, cd);
		int32_t i = (int32_t)(r - sp.r0);
		w->rows[i] = (struct grid_walk_row){row, (int32_t)r, w->cos_lat * row.cos_la < 0};
		w->heap[i] = walk_pos(w, i, 0);
	}
	w->n = nr;
	for (size_t i = nr / 2; i-- > 0;)
		walk_sift(w->heap, nr, i);
	walk_prefetch_top(w);
	return 0;
}

bool grid_walk_next(struct grid_walk *w, struct grid_cell_ref *out)
{
	while (w->n > 0) {
		struct grid_walk_pos top = w->heap[0];
		int32_t r = w->rows[top.row].r;
		int32_t c = w->cols[walk_col(w, top.row, top.rank)].c;
		/* the row's next column takes its place, or the row is done */
		if ((size_t)top.rank + 1 < w->ncol)
			w->heap[0] = walk_pos(w, top.row, top.rank + 1);
		else
			w->heap[0] = w->heap[--w->n];
		if (w->n) {
			walk_sift(w->heap, w->n, 0);
			/* the next cell's slot, on its way while this one is read */
			walk_prefetch_top(w);
		}
		const struct cell *vec = vec_at(w->g, r, c, w->ncols);
		if (!vec)
			continue;
		*out = (struct grid_cell_ref){
			.items = vec->items, .payload = vec->payload, .xyz = vec->xyz,
			.n = (size_t)vec->n, .min_km = min_km_of(top.a),
		};
		return true;
	}
	return false;
}

void grid_walk_free(struct grid_walk *w)
{
	free(w->mem);
	*w = (struct grid_walk){0};
}
