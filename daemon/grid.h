/*
 * grid: points on the globe in cells of CELL_DEG degrees, each cell a vector
 * of item pointers with their positions as unit vectors, so that a search
 * around a point visits only the cells within reach and drops what is out
 * of reach without touching the items themselves. Used by the inventory for
 * offers (by location) and waiting young people (by wished commune).
 *
 * Copy on write, for the inventory's snapshots: grid_clone copies the
 * table of cells but shares their vectors. The grid that keeps changing
 * (the owner) changes a vector in place only if it was made in its current
 * `epoch`; otherwise it copies it first and hands the old one to `retire`,
 * which frees it once no clone reads it (grid_free_vector).
 */
#ifndef SIAOD_GRID_H
#define SIAOD_GRID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cell;

/* Zero-initialised: an empty grid (epoch 0, no retire: vectors are freed at
 * once, cells of GRID_CELL_DEG, no payload). cell_deg and payload_size are
 * set before the first grid_add and never changed. */
struct grid {
	struct cell *cells;
	size_t cap, used;
	unsigned epoch;
	void (*retire)(void *ctx, void *vector, unsigned born);
	void *retire_ctx;
	double cell_deg;            /* 0: GRID_CELL_DEG */
	size_t payload_size;        /* bytes kept by value per item, beside its pointer */
};

/* Cells of 0.2 degree (about 22 km north-south): a 30 km search looks at a
 * dozen cells. */
#define GRID_CELL_DEG 0.2

/* Adds item at (lat, lon), with a copy of payload_size bytes of payload
 * (ignored without a payload size); returns its cell's key (never 0), 0 when
 * out of memory. */
int64_t grid_add(struct grid *g, double lat, double lon, void *item, const void *payload);
void grid_remove(struct grid *g, int64_t key, void *item);
/* The owner: its table and every vector it holds. */
void grid_free(struct grid *g);
/* dst (uninitialised) becomes a clone of src: same cells, vectors shared.
 * 0, or -1 when out of memory (dst then empty). */
int grid_clone(struct grid *dst, const struct grid *src);
/* A clone: its table only. */
void grid_free_clone(struct grid *g);
/* A vector handed to retire(), once no clone reads it. */
void grid_free_vector(void *vector);
/* The items within radius_km of (lat, lon), and perhaps a few just beyond
 * (a margin for the rounding of distances to 0.1 km: callers decide
 * exactly). Fills out (up to max) and returns the count; a return above max
 * means out was too small. */
size_t grid_near(const struct grid *g, double lat, double lon, double radius_km,
		 const void **out, size_t max);

/* One cell of a search, read in place: its items, their payloads (n of
 * payload_size bytes, contiguous), their unit vectors (3 doubles each). */
struct grid_cell_ref {
	void *const *items;
	const void *payload;
	const double *xyz;
	size_t n;
	double min_km;              /* no point of the cell is nearer to the centre */
};
/* Calls visit for each non-empty cell that a circle of radius_km around
 * (lat, lon) touches, in no particular order; min_km is a lower bound of
 * the great-circle distance from the centre to any point of the cell, with
 * a margin for the sphere and the rounding of distances to 0.1 km. Returns
 * the number of cells visited. */
size_t grid_cells_near(const struct grid *g, double lat, double lon, double radius_km,
		       void (*visit)(void *ctx, const struct grid_cell_ref *cell), void *ctx);

/*
 * The same cells as grid_cells_near, with the same min_km, one at a time,
 * nearest first: a walk orders the cells' positions by their lower bound
 * (arithmetic on a few sines worked out per row and column, no memory of
 * the grid touched) and looks a cell up only when its turn comes. A
 * ranking that stops after the nearest cells never pays for the others
 * (looking every cell up and sorting them was a fifth of a request).
 *
 * The order costs little: along a row of cells the bound grows with the
 * column's distance from the centre's column, the same for every row, so
 * the columns are sorted once and the rows merged (a heap of rows).
 *
 * Zero-initialised; grid_walk_begin may be called again and again on the
 * same walk (its buffer is kept and grown), grid_walk_free frees it. The
 * grid must not change during a walk (a snapshot never does).
 */
struct grid_walk_row;
struct grid_walk_col;
struct grid_walk_pos;
struct grid_walk {
	const struct grid *g;
	void *mem;                  /* rows, columns and heap, one buffer */
	size_t cap;
	struct grid_walk_row *rows;
	struct grid_walk_col *cols;
	struct grid_walk_pos *heap; /* a binary heap of rows, by lower bound */
	size_t n, ncol;
	int64_t ncols;              /* around the globe, for the antimeridian */
	double cos_lat;
};
/* 0, or -1 when out of memory (the walk is then empty). */
int grid_walk_begin(struct grid_walk *w, const struct grid *g, double lat, double lon,
		    double radius_km);
/* The next non-empty cell (out->min_km never below the previous one's):
 * true, or false when every cell was given. */
bool grid_walk_next(struct grid_walk *w, struct grid_cell_ref *out);
void grid_walk_free(struct grid_walk *w);

#endif
