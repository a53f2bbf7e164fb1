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

#include <stddef.h>
#include <stdint.h>

struct cell;

/* Zero-initialised: an empty grid (epoch 0, no retire: vectors are freed at once). */
struct grid {
	struct cell *cells;
	size_t cap, used;
	unsigned epoch;
	void (*retire)(void *ctx, void *vector, unsigned born);
	void *retire_ctx;
};

/* Adds item at (lat, lon); returns its cell's key (never 0), 0 when out of memory. */
int64_t grid_add(struct grid *g, double lat, double lon, void *item);
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

#endif
