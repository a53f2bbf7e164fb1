/*
 * The body of the matches reply (see match_reply.h).
 */
#include "match_reply.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>

#include "inventory.h"
#include "siaod/date.h"

void match_scratch_free(struct match_scratch *s)
{
	free(s->buf);
	grid_walk_free(&s->walk);
	free(s->res);
	free(s->ycells);
	jsonw_free(&s->text);
	*s = (struct match_scratch){0};
}

static void put_date(struct jsonw *w, sdate d)
{
	if (d == DATE_NONE) {
		jsonw_lit(w, "null");
		return;
	}
	char buf[11];
	date_format(d, buf);
	jsonw_str(w, buf);
}

/* "offer_id":..,"label":.., the start of a hint */
static void put_hint_offer(struct jsonw *w, const struct match_offer *m)
{
	const struct inv_offer *o = (const struct inv_offer *)m;
	jsonw_lit(w, "{\"offer_id\":");
	jsonw_int(w, o->m.id);
	jsonw_lit(w, ",\"label\":");
	jsonw_str(w, o->label ? o->label : "");
}

/* explain=1: what would change the answer (see match_explain_hints), in
 * plain members: the offer (id, label) and the figure to act on. */
static void put_hints(struct jsonw *w, const struct match_hints *h, const struct match_offer **cands)
{
	jsonw_lit(w, "{\"distance\":");
	if (h->distance_index != MATCH_NO_HINT) {
		put_hint_offer(w, cands[h->distance_index]);
		jsonw_lit(w, ",\"distance_km\":");
		jsonw_real(w, h->distance_km);
		jsonw_lit(w, "}");
	} else {
		jsonw_lit(w, "null");
	}
	jsonw_lit(w, ",\"age\":");
	if (h->age_index != MATCH_NO_HINT) {
		put_hint_offer(w, cands[h->age_index]);
		jsonw_lit(w, ",\"old_enough_on\":");
		put_date(w, h->age_date);
		jsonw_lit(w, "}");
	} else {
		jsonw_lit(w, "null");
	}
	jsonw_lit(w, ",\"no_free_place\":");
	if (h->free_index != MATCH_NO_HINT) {
		put_hint_offer(w, cands[h->free_index]);
		jsonw_lit(w, ",\"free_from\":");
		put_date(w, h->free_date);
		jsonw_lit(w, "}");
	} else {
		jsonw_lit(w, "null");
	}
	jsonw_lit(w, "}");
}

static void put_reasons(struct jsonw *w, const struct match_result *res)
{
	jsonw_lit(w, "[");
	for (int f = 0; f < MATCH_FACTOR_COUNT; f++) {
		if (f)
			jsonw_lit(w, ",");
		jsonw_lit(w, "{\"factor\":");
		jsonw_str(w, match_factor_code(res->factors[f].factor));
		jsonw_lit(w, ",\"points\":");
		jsonw_int(w, res->factors[f].points);
		jsonw_lit(w, ",\"detail\":");
		jsonw_str(w, res->factors[f].detail);
		jsonw_lit(w, "}");
	}
	jsonw_lit(w, "]");
}

const struct match_ycell *match_scratch_youth_cells(const struct inventory *inv, double lat,
						    double lon, struct match_scratch *s, size_t *n,
						    double *reach_km)
{
	size_t got;
	if (!s->ycells) {   /* never NULL once called: NULL says out of memory */
		if (!(s->ycells = malloc(64 * sizeof *s->ycells)))
			return NULL;
		s->nycells = 64;
	}
	while ((got = inventory_youth_cells(inv, lat, lon, s->ycells, s->nycells, reach_km)) > s->nycells) {
		struct match_ycell *grown = realloc(s->ycells, 2 * got * sizeof *grown);
		if (!grown)
			return NULL;
		s->ycells = grown;
		s->nycells = 2 * got;
	}
	*n = got;
	return s->ycells;
}

/* Every offer of the country (for explain=1), in the scratch buffer. */
static const struct match_offer **all_offers(const struct inventory *inv,
					     struct match_scratch *s, size_t *n)
{
	if (!s->buf) {
		s->buf = malloc(1024 * sizeof *s->buf);
		if (!s->buf)
			return NULL;
		s->cap = 1024;
	}
	for (;;) {
		const struct match_offer **buf = (const struct match_offer **)s->buf;
		size_t got = inventory_all_offers(inv, buf, s->cap);
		if (got <= s->cap) {
			*n = got;
			return buf;
		}
		const void **grown = realloc(s->buf, 2 * got * sizeof *grown);
		if (!grown)
			return NULL;
		s->buf = grown;
		s->cap = 2 * got;
	}
}

int match_reply_offers(const struct inventory *inv, const struct inv_youth *y,
		       const struct match_params *pp, size_t k, bool explain,
		       struct match_scratch *s, struct evbuffer *out)
{
	struct match_params p = *pp;
	/* explain counts every offer of the country under its first failed rule;
	 * otherwise only the grid cells within reach are looked at, nearest
	 * first. */
	size_t n = 0;
	const struct match_offer **cands = NULL;
	bool ready;
	if (explain)
		ready = (cands = all_offers(inv, s, &n)) != NULL;
	else
		ready = inventory_offer_walk(inv, y->m.lat, y->m.lon, y->m.max_distance_km, &s->walk) == 0;
	if (k > s->nres) {
		struct match_result *grown = realloc(s->res, k * sizeof *grown);
		if (!grown)
			return -1;
		s->res = grown;
		s->nres = k;
	}
	struct match_result *res = s->res;
	if (!ready)
		return -1;
	size_t excluded[MATCH_RULE_COUNT];
	int got = explain ? match_rank_offers(&p, &y->m, cands, n, k, res, excluded)
			  : match_rank_cells_from(&p, &y->m, inventory_offer_walk_next, &s->walk, k, res);
	if (got < 0)
		return -1;
	/* the members in the order the API has always sent them */
	struct jsonw *w = &s->text;
	jsonw_reset(w);
	jsonw_lit(w, "{\"youth_id\":");
	jsonw_int(w, y->m.id);
	jsonw_lit(w, ",\"items\":[");
	for (int i = 0; i < got; i++) {
		const struct inv_offer *o = res[i].item;
		if (i)
			jsonw_lit(w, ",");
		jsonw_lit(w, "{\"offer_id\":");
		jsonw_int(w, o->m.id);
		jsonw_lit(w, ",\"label\":");
		jsonw_str(w, o->label ? o->label : "");
		jsonw_lit(w, ",\"kind\":");
		jsonw_str(w, match_kind_code(o->m.kind));
		jsonw_lit(w, ",\"porteur_id\":");
		jsonw_int(w, o->m.porteur_id);
		jsonw_lit(w, ",\"departement\":");
		jsonw_str(w, o->departement);
		jsonw_lit(w, ",\"distance_km\":");
		jsonw_real(w, res[i].check.distance_km);
		jsonw_lit(w, ",\"score\":");
		jsonw_int(w, res[i].score);
		jsonw_lit(w, ",\"free_places\":");
		jsonw_int(w, res[i].check.free_places);
		jsonw_lit(w, ",\"start_date\":");
		put_date(w, res[i].check.start);
		jsonw_lit(w, ",\"end_date\":");
		put_date(w, res[i].check.end);
		jsonw_lit(w, ",\"reasons\":");
		put_reasons(w, &res[i]);
		jsonw_lit(w, ",\"to_reconfirm\":");
		jsonw_bool(w, match_offer_to_reconfirm(&p, &o->m));
		jsonw_lit(w, "}");
	}
	jsonw_lit(w, "],\"next_cursor\":null");
	if (explain) {
		jsonw_lit(w, ",\"excluded\":{");
		for (int rule = 0; rule < MATCH_RULE_COUNT; rule++) {
			if (rule)
				jsonw_lit(w, ",");
			jsonw_str(w, match_rule_code(rule));
			jsonw_lit(w, ":");
			jsonw_int(w, (long long)excluded[rule]);
		}
		jsonw_lit(w, "},\"offers_considered\":");
		jsonw_int(w, (long long)n);
		struct match_hints hints;
		match_explain_hints(&p, &y->m, cands, n, &hints);
		jsonw_lit(w, ",\"hints\":");
		put_hints(w, &hints, cands);
	}
	jsonw_lit(w, "}");
	if (jsonw_failed(w))
		return -1;
	return evbuffer_add(out, w->buf, w->len) == 0 ? 0 : -1;
}
