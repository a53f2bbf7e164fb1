/*
 * The body of the matches reply (see match_reply.h).
 */
#include "match_reply.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>
#include <jansson.h>

#include "inventory.h"
#include "siaod/date.h"

void match_scratch_free(struct match_scratch *s)
{
	free(s->buf);
	free(s->cells);
	*s = (struct match_scratch){0};
}

static json_t *date_json(sdate d)
{
	if (d == DATE_NONE)
		return json_null();
	char buf[11];
	date_format(d, buf);
	return json_string(buf);
}

/* explain=1: what would change the answer (see match_explain_hints), in
 * plain members: the offer (id, label) and the figure to act on. */
static json_t *hints_json(const struct match_hints *h, const struct match_offer **cands)
{
	json_t *j = json_object();
	const struct inv_offer *o;
	if (h->distance_index != MATCH_NO_HINT) {
		o = (const struct inv_offer *)cands[h->distance_index];
		json_object_set_new(j, "distance", json_pack("{s:I, s:s, s:f}", "offer_id", (json_int_t)o->m.id,
			"label", o->label ? o->label : "", "distance_km", h->distance_km));
	} else {
		json_object_set_new(j, "distance", json_null());
	}
	if (h->age_index != MATCH_NO_HINT) {
		o = (const struct inv_offer *)cands[h->age_index];
		json_object_set_new(j, "age", json_pack("{s:I, s:s, s:o}", "offer_id", (json_int_t)o->m.id,
			"label", o->label ? o->label : "", "old_enough_on", date_json(h->age_date)));
	} else {
		json_object_set_new(j, "age", json_null());
	}
	if (h->free_index != MATCH_NO_HINT) {
		o = (const struct inv_offer *)cands[h->free_index];
		json_object_set_new(j, "no_free_place", json_pack("{s:I, s:s, s:o}", "offer_id", (json_int_t)o->m.id,
			"label", o->label ? o->label : "", "free_from", date_json(h->free_date)));
	} else {
		json_object_set_new(j, "no_free_place", json_null());
	}
	return j;
}

static json_t *reasons_json(const struct match_result *res)
{
	json_t *a = json_array();
	for (int f = 0; f < MATCH_FACTOR_COUNT; f++)
		json_array_append_new(a, json_pack("{s:s, s:i, s:s}",
			"factor", match_factor_code(res->factors[f].factor),
			"points", res->factors[f].points, "detail", res->factors[f].detail));
	return a;
}

/* The cells within the young person's reach, nearest first, in the
 * scratch buffer (grown when a search finds more than it holds). */
static const struct match_cell *reach(const struct inventory *inv, const struct inv_youth *y,
				      struct match_scratch *s, size_t *n)
{
	for (;;) {
		size_t got = s->cells ? inventory_offer_cells(inv, y->m.lat, y->m.lon, y->m.max_distance_km,
							      s->cells, s->ncells) : SIZE_MAX;
		if (got <= s->ncells) {
			*n = got;
			return s->cells;
		}
		size_t want = got == SIZE_MAX ? 256 : 2 * got;
		struct match_cell *grown = realloc(s->cells, want * sizeof *grown);
		if (!grown)
			return NULL;
		s->cells = grown;
		s->ncells = want;
	}
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
	size_t n = 0, ncells = 0;
	const struct match_offer **cands = NULL;
	const struct match_cell *cells = NULL;
	if (explain)
		cands = all_offers(inv, s, &n);
	else
		cells = reach(inv, y, s, &ncells);
	struct match_result *res = malloc(k * sizeof *res);
	if ((!cands && !cells) || !res) {
		free(res);
		return -1;
	}
	size_t excluded[MATCH_RULE_COUNT];
	int got = explain ? match_rank_offers(&p, &y->m, cands, n, k, res, excluded)
			  : match_rank_cells(&p, &y->m, cells, ncells, k, res);

	json_t *items = json_array();
	for (int i = 0; i < got; i++) {
		const struct inv_offer *o = res[i].item;
		json_t *item = json_pack("{s:I, s:s, s:s, s:I, s:s, s:f, s:i, s:i, s:o, s:o, s:o}",
			"offer_id", (json_int_t)o->m.id, "label", o->label ? o->label : "",
			"kind", match_kind_code(o->m.kind), "porteur_id", (json_int_t)o->m.porteur_id,
			"departement", o->departement, "distance_km", res[i].check.distance_km,
			"score", res[i].score, "free_places", res[i].check.free_places,
			"start_date", date_json(res[i].check.start), "end_date", date_json(res[i].check.end),
			"reasons", reasons_json(&res[i]));
		json_object_set_new(item, "to_reconfirm", json_boolean(match_offer_to_reconfirm(&p, &o->m)));
		json_array_append_new(items, item);
	}
	json_t *body = json_pack("{s:I, s:o, s:n}", "youth_id", (json_int_t)y->m.id, "items", items,
				 "next_cursor");
	if (explain) {
		json_t *ex_obj = json_object();
		for (int rule = 0; rule < MATCH_RULE_COUNT; rule++)
			json_object_set_new(ex_obj, match_rule_code(rule), json_integer((json_int_t)excluded[rule]));
		json_object_set_new(body, "excluded", ex_obj);
		json_object_set_new(body, "offers_considered", json_integer((json_int_t)n));
		struct match_hints hints;
		match_explain_hints(&p, &y->m, cands, n, &hints);
		json_object_set_new(body, "hints", hints_json(&hints, cands));
	}
	free(res);
	char *text = got >= 0 && body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (!text)
		return -1;
	int rc = evbuffer_add(out, text, strlen(text));
	free(text);
	return rc == 0 ? 0 : -1;
}
