/*
 * match_reply: the body of GET /v1/youth/{id}/matches, computed from an
 * inventory (working model or snapshot) and written into a buffer. Kept
 * apart from the route (api_match.c) so that the unit tests compare the
 * bytes of the reply without a daemon or a database (tests/unit/
 * test_match_golden.c checks it against answers recorded before the
 * ranking was rewritten).
 */
#ifndef SIAOD_MATCH_REPLY_H
#define SIAOD_MATCH_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#include "grid.h"
#include "jsonw.h"
#include "siaod/match.h"

struct inventory;
struct inv_youth;
struct evbuffer;

/* Room one thread reuses from request to request (no allocation once
 * warm); zero-initialised, freed by match_scratch_free. */
struct match_scratch {
	const void **buf;           /* offers of an explanation */
	size_t cap;
	struct grid_walk walk;      /* the offer cells of a ranking, nearest first */
	struct match_result *res;   /* a ranking's results */
	size_t nres;
	struct jsonw text;          /* the reply being written */
	struct match_ycell *ycells; /* cells of a ranking of young people */
	size_t nycells;
};
void match_scratch_free(struct match_scratch *s);

/* The youth grid's cells that come within reach of (lat, lon), nearest
 * first, in s->ycells (grown as needed), for match_rank_youth_cells: *n
 * cells, *reach_km as inventory_youth_cells says. NULL when out of memory. */
const struct match_ycell *match_scratch_youth_cells(const struct inventory *inv, double lat,
						    double lon, struct match_scratch *s, size_t *n,
						    double *reach_km);

/* Appends the JSON body of the k best offers for y (explain: with the
 * counts of every offer of the country under its first failed rule and the
 * hints) to out. 0, or -1 when out of memory (out may then hold a part). */
int match_reply_offers(const struct inventory *inv, const struct inv_youth *y,
		       const struct match_params *p, size_t k, bool explain,
		       struct match_scratch *s, struct evbuffer *out);

#endif
