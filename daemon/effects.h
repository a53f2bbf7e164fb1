/*
 * effects: what a successful write triggers once it has committed —
 * re-reading what it changed into the inventory (so the next match sees
 * it), then waking webhook delivery and the alert scan. Each route
 * declares its effects in its row of routes.c; api_sql_reply runs them
 * before answering.
 */
#ifndef SIAOD_EFFECTS_H
#define SIAOD_EFFECTS_H

struct app;

enum effect {
	EFFECT_REFRESH_OFFER = 1,      /* re-read offer "id" (and "freed_offers") */
	EFFECT_REFRESH_YOUTH = 2,      /* re-read young person "id" */
	EFFECT_REFRESH_PLACEMENT = 4,  /* re-read "offer_id" and "youth_id" */
	EFFECT_SCAN_ALERTS = 8,        /* a stay was recorded or moved: alert now if due */
	/* a new proposal: its days on its place put into the inventory from
	 * the answer ("offer_id", "place_id", "id", "start_date",
	 * "planned_end_date"), not read again with its whole offer (which, on
	 * a busy offer, is thousands of spans per write); "youth_id" marked
	 * with an open placement (out of the candidates), not re-read */
	EFFECT_NEW_PROPOSAL = 16,
};

typedef void (*effects_done_fn)(void *arg);

/* Runs effects for the committed result (its JSON text), then done(arg);
 * done is called at once when there is nothing to do. */
void effects_after_commit(struct app *app, int effects, const char *result, effects_done_fn done,
			  void *arg);

#endif
