/*
 * After-commit effects (see effects.h).
 */
#include "effects.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "app.h"
#include "inventory_refresh.h"
#include "siaod/date.h"
#include "scheduler.h"
#include "webhooks.h"

struct after {
	struct app *app;
	int effects;
	effects_done_fn done;
	void *arg;
};

static int64_t json_id(const json_t *j, const char *key)
{
	const json_t *v = json_object_get(j, key);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

static void refreshed(void *arg, bool ok)
{
	struct after a = *(struct after *)arg;
	free(arg);
	/* the write may have enqueued events (triggers on offers and placements) */
	webhooks_refreshed(a.app);
	if (a.effects & EFFECT_SCAN_ALERTS)
		scheduler_scan_alerts(a.app);
	a.done(a.arg);
}

/* The new proposal's span, from its answer; false if a field is missing
 * (then its offer is read again, as for any placement). */
static bool proposal_span(const json_t *j, struct inventory_span *k)
{
	const char *start = json_string_value(json_object_get(j, "start_date"));
	const char *end = json_string_value(json_object_get(j, "planned_end_date"));
	const char *status = json_string_value(json_object_get(j, "status"));
	k->offer_id = json_id(j, "offer_id");
	k->place_id = json_id(j, "place_id");
	k->span.placement_id = json_id(j, "id");
	/* a proposal holds its place over [start, planned end), as the column
	 * placements.held says (sql/004) */
	return k->offer_id && k->place_id && k->span.placement_id && status && strcmp(status, "proposed") == 0 &&
	       start && end && date_parse(start, &k->span.start) && date_parse(end, &k->span.end);
}

void effects_after_commit(struct app *app, int effects, const char *result, effects_done_fn done,
			  void *arg)
{
	int64_t offers[16], youth[1];
	int noffers = 0, nyouth = 0;
	struct inventory_span span = {0};
	int nspans = 0;
	if (effects & EFFECT_NEW_PROPOSAL) {
		json_t *j = json_loads(result, 0, NULL);
		span.youth_id = json_id(j, "youth_id");
		if (proposal_span(j, &span) && span.youth_id) {
			nspans = 1;
		} else {
			offers[noffers++] = json_id(j, "offer_id");
			youth[nyouth++] = span.youth_id;
		}
		json_decref(j);
	} else if (effects & (EFFECT_REFRESH_OFFER | EFFECT_REFRESH_YOUTH | EFFECT_REFRESH_PLACEMENT)) {
		json_t *j = json_loads(result, 0, NULL);
		/* a write that touched other offers lists them */
		size_t k;
		json_t *v;
		json_array_foreach(json_object_get(j, "freed_offers"), k, v)
			if (json_is_integer(v) && noffers < 14)
				offers[noffers++] = json_integer_value(v);
		if (effects & EFFECT_REFRESH_OFFER)
			offers[noffers++] = json_id(j, "id");
		if (effects & EFFECT_REFRESH_YOUTH)
			youth[nyouth++] = json_id(j, "id");
		else if (effects & EFFECT_REFRESH_PLACEMENT) {
			offers[noffers++] = json_id(j, "offer_id");
			youth[nyouth++] = json_id(j, "youth_id");
		}
		json_decref(j);
	}
	struct after *a = noffers + nyouth + nspans ? malloc(sizeof *a) : NULL;
	if (!a) {
		done(arg);
		return;
	}
	*a = (struct after){app, effects, done, arg};
	inventory_refresh_spans(app->refresh, &span, nspans, offers, noffers, youth, nyouth, refreshed, a);
}
