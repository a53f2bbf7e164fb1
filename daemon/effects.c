/*
 * After-commit effects (see effects.h).
 */
#include "effects.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <jansson.h>

#include "app.h"
#include "inventory_refresh.h"
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

void effects_after_commit(struct app *app, int effects, const char *result, effects_done_fn done,
			  void *arg)
{
	int64_t offers[16], youth[1];
	int noffers = 0, nyouth = 0;
	if (effects & (EFFECT_REFRESH_OFFER | EFFECT_REFRESH_YOUTH | EFFECT_REFRESH_PLACEMENT)) {
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
	struct after *a = noffers + nyouth ? malloc(sizeof *a) : NULL;
	if (!a) {
		done(arg);
		return;
	}
	*a = (struct after){app, effects, done, arg};
	inventory_refresh(app->refresh, offers, noffers, youth, nyouth, refreshed, a);
}
