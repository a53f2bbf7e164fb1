/*
 * grid: points on the globe in cells of CELL_DEG degrees, each cell a vector
 * of item pointers with their positions as unit vectors, so that a search
 * around a point visits only the cells within reach and drops what is out
 * of reach without touching the items themselves. Used by the inventory for
 * offers (by location) and waiting young people (by wished commune).
 */
#ifndef SIAOD_GRID_H
#define SIAOD_GRID_H

#include <stddef.h>
#include <stdint.h>

struct cell;

/* Zero-initialised: an empty grid. */
struct grid {
	struct cell *cells;
	size_t cap, used;
};

/* Adds item at (lat, lon); returns its cell's key (never 0), 0 when out of memory. */
int64_t grid_add(struct grid *g, double lat, double lon, void *item);
void grid_remove(struct grid *g, int64_t key, void *item);
void grid_free(struct grid *g);
/* dst (uninitialised) becomes a copy of src holding the same item pointers.
 * 0, or -1 when out of memory (dst then empty). */
int grid_clone(struct grid *dst, const struct grid *src);
/* The items within radius_km of (lat, lon), and perhaps a few just beyond
 * (a margin for the rounding of distances to 0.1 km: callers decide
 * exactly). Fills out (up to max) and returns the count; a return above max
 * means out was too small. */
size_t grid_near(const struct grid *g, double lat, double lon, double radius_km,
		 const void **out, size_t max);

#endif
