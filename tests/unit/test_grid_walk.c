/*
 * A grid walk (grid_walk_begin / grid_walk_next) against grid_cells_near:
 * the same cells, each once, with the same min_km, given nearest first
 * (min_km never decreasing) — for dense and empty areas, the antimeridian,
 * high latitudes and radii from a few to hundreds of km, and after the
 * grid changed (slots carry a copy of their cell's arrays: the walk must
 * see the change).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "grid.h"
#include "unit.h"

static uint64_t rng = 20261205;

static double uniform(double lo, double hi)
{
	rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return lo + (hi - lo) * (double)(rng >> 11) / 9007199254740992.0;
}

#define MAXCELLS 200000

struct seen {
	const void *payload[MAXCELLS];
	double min_km[MAXCELLS];
	size_t n[MAXCELLS];
	size_t count;
};

static void collect(void *ctx, const struct grid_cell_ref *cell)
{
	struct seen *s = ctx;
	if (s->count < MAXCELLS) {
		s->payload[s->count] = cell->items;
		s->min_km[s->count] = cell->min_km;
		s->n[s->count] = cell->n;
	}
	s->count++;
}

static struct seen listed, walked;

/* One search both ways; returns the number of cells. */
static size_t compare(const struct grid *g, struct grid_walk *w, double lat, double lon, double km)
{
	listed.count = walked.count = 0;
	grid_cells_near(g, lat, lon, km, collect, &listed);
	CHECK(grid_walk_begin(w, g, lat, lon, km) == 0);
	struct grid_cell_ref ref;
	while (grid_walk_next(w, &ref))
		collect(&walked, &ref);
	CHECK_INT(walked.count, listed.count);
	if (walked.count != listed.count || walked.count > MAXCELLS)
		return walked.count;
	for (size_t i = 1; i < walked.count; i++)
		CHECK(walked.min_km[i - 1] <= walked.min_km[i]);
	/* each listed cell walked once, same bound and count */
	for (size_t i = 0; i < listed.count; i++) {
		size_t found = 0, at = 0;
		for (size_t j = 0; j < walked.count; j++)
			if (walked.payload[j] == listed.payload[i])
				found++, at = j;
		CHECK_INT(found, 1);
		if (found == 1) {
			CHECK(walked.min_km[at] == listed.min_km[i]);
			CHECK_INT(walked.n[at], listed.n[i]);
		}
	}
	return walked.count;
}

int main(void)
{
	static int items[60000];
	static int64_t keys[60000];
	struct grid g = {.cell_deg = 0.05};
	/* a dense town, a sparse country, points on both sides of the
	 * antimeridian and near the north pole */
	for (int i = 0; i < 60000; i++) {
		double lat, lon;
		if (i < 20000)
			lat = 48.85 + uniform(-0.2, 0.2), lon = 2.35 + uniform(-0.3, 0.3);
		else if (i < 50000)
			lat = uniform(42, 51), lon = uniform(-5, 8);
		else if (i < 55000)
			lat = uniform(-20, -10), lon = i % 2 ? uniform(179.5, 180) : uniform(-180, -179.5);
		else
			lat = uniform(88.5, 90), lon = uniform(-180, 180);
		keys[i] = grid_add(&g, lat, lon, &items[i], NULL);
		CHECK(keys[i] != 0);
	}
	struct grid_walk w = {0};
	size_t total = 0;
	static const double radii[] = {3, 10, 30, 80, 250};
	for (int q = 0; q < 60; q++) {
		double lat = q < 20 ? 48.85 + uniform(-0.1, 0.1) : q < 40 ? uniform(42, 51) : q < 50 ? -15 : 89.2;
		double lon = q < 20 ? 2.35 + uniform(-0.1, 0.1) : q < 40 ? uniform(-5, 8) : q < 50 ? 179.9 : uniform(-180, 180);
		total += compare(&g, &w, lat, lon, radii[q % 5]);
	}
	CHECK(total > 1000);
	/* changes seen by the next walk: a third of the town removed, the
	 * rest counted through the walk's cells */
	for (int i = 0; i < 20000; i += 3)
		grid_remove(&g, keys[i], &items[i]);
	CHECK(compare(&g, &w, 48.85, 2.35, 60) > 0);
	size_t town = 0;
	struct grid_cell_ref ref;
	CHECK(grid_walk_begin(&w, &g, 48.85, 2.35, 60) == 0);
	while (grid_walk_next(&w, &ref))
		for (size_t i = 0; i < ref.n; i++)
			town += (const int *)ref.items[i] < &items[20000];
	CHECK_INT(town, 20000 - 6667);
	grid_walk_free(&w);
	grid_free(&g);
	return unit_done("test_grid_walk");
}
