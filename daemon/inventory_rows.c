/*
 * PostgreSQL rows → inventory model (see inventory_rows.h).
 *
 * Every loop over a result is linear (or n log n): a refresh after applying
 * a plan of 25,000 pairs brings 25,000 rows at once.
 */
#include "inventory_rows.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inventory.h"
#include "log.h"

/* ---------------------------------------------------------------- columns */

/* Looks up each name of `names` in res; -1 (logged) if one is missing. */
static int columns(const PGresult *res, const char *what, const char *const *names, int n, int *col)
{
	for (int k = 0; k < n; k++)
		if ((col[k] = PQfnumber(res, names[k])) < 0) {
			log_error("inventory_rows", "function=%s missing_column=%s", what, names[k]);
			return -1;
		}
	return 0;
}

static const char *val(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

static int64_t ival(const PGresult *res, int row, int col)
{
	const char *v = val(res, row, col);
	return v ? strtoll(v, NULL, 10) : 0;
}

static sdate dval(const PGresult *res, int row, int col)
{
	const char *v = val(res, row, col);
	return v ? (sdate)strtol(v, NULL, 10) : DATE_NONE;
}

static double fval(const PGresult *res, int row, int col)
{
	const char *v = val(res, row, col);
	return v ? strtod(v, NULL) : 0;
}

static bool bval(const PGresult *res, int row, int col)
{
	const char *v = val(res, row, col);
	return v && v[0] == 't';
}

static int cmp_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/* The ids of `ids` that column `col` of res does not hold, sorted; *nout
 * their count. NULL with *nout 0 when none; -1 in *nout when out of memory. */
static int64_t *ids_missing(const PGresult *res, int col, const int64_t *ids, int nids, int *nout)
{
	*nout = 0;
	if (!ids || nids == 0)
		return NULL;
	int rows = PQntuples(res);
	int64_t *seen = malloc(((size_t)rows + 1) * sizeof *seen);
	int64_t *missing = malloc((size_t)nids * sizeof *missing);
	if (!seen || !missing) {
		free(seen);
		free(missing);
		*nout = -1;
		return NULL;
	}
	for (int i = 0; i < rows; i++)
		seen[i] = ival(res, i, col);
	qsort(seen, (size_t)rows, sizeof *seen, cmp_id);
	for (int k = 0; k < nids; k++)
		if (!bsearch(&ids[k], seen, (size_t)rows, sizeof *seen, cmp_id))
			missing[(*nout)++] = ids[k];
	free(seen);
	return missing;
}

/* ---------------------------------------------------------------- offers */

enum { O_ID, O_PORTEUR, O_KIND, O_DEP, O_LAT, O_LON, O_CAPACITY, O_MAX_STAY, O_MIN_AGE, O_MAX_AGE,
       O_GENDER, O_COUPLES, O_CHILDREN, O_PETS, O_WHEELCHAIR, O_SUPPORT, O_CHARGE, O_FROM, O_UNTIL,
       O_STATUS, O_LABEL, O_COMMUNE, O_VERSION, O_CREATED, O_UPDATED, O_COUNT };
static const char *const offer_columns[O_COUNT] = {
	"id", "porteur_id", "kind", "departement", "lat", "lon", "capacity", "max_stay_days",
	"min_age", "max_age", "gender", "accepts_couples", "accepts_children", "accepts_pets",
	"wheelchair_accessible", "support_level", "monthly_charge_eur", "available_from",
	"available_until", "status", "label", "commune_insee", "version", "created_at", "updated_at",
};

int inventory_rows_offers(struct inventory *inv, const PGresult *res)
{
	int c[O_COUNT];
	if (columns(res, "inv_offers", offer_columns, O_COUNT, c) != 0)
		return -1;
	for (int i = 0; i < PQntuples(res); i++) {
		struct inv_offer o;
		memset(&o, 0, sizeof o);
		struct match_offer *m = &o.m;
		m->id = ival(res, i, c[O_ID]);
		m->porteur_id = ival(res, i, c[O_PORTEUR]);
		match_kind_parse(PQgetvalue(res, i, c[O_KIND]), &m->kind);
		snprintf(o.departement, sizeof o.departement, "%s", PQgetvalue(res, i, c[O_DEP]));
		m->lat = fval(res, i, c[O_LAT]);
		m->lon = fval(res, i, c[O_LON]);
		m->capacity = (int)ival(res, i, c[O_CAPACITY]);
		m->max_stay_days = (int)ival(res, i, c[O_MAX_STAY]);
		m->min_age = (int)ival(res, i, c[O_MIN_AGE]);
		m->max_age = (int)ival(res, i, c[O_MAX_AGE]);
		match_offer_gender_parse(PQgetvalue(res, i, c[O_GENDER]), &m->gender);
		m->accepts_couples = bval(res, i, c[O_COUPLES]);
		m->accepts_children = bval(res, i, c[O_CHILDREN]);
		m->accepts_pets = bval(res, i, c[O_PETS]);
		m->wheelchair_accessible = bval(res, i, c[O_WHEELCHAIR]);
		match_support_parse(PQgetvalue(res, i, c[O_SUPPORT]), &m->support_level);
		m->monthly_charge_eur = fval(res, i, c[O_CHARGE]);
		m->available_from = dval(res, i, c[O_FROM]);
		m->available_until = dval(res, i, c[O_UNTIL]);
		m->open = strcmp(PQgetvalue(res, i, c[O_STATUS]), "open") == 0;
		snprintf(o.commune_insee, sizeof o.commune_insee, "%s", PQgetvalue(res, i, c[O_COMMUNE]));
		o.version = (int)ival(res, i, c[O_VERSION]);
		snprintf(o.created_at, sizeof o.created_at, "%s", PQgetvalue(res, i, c[O_CREATED]));
		snprintf(o.updated_at, sizeof o.updated_at, "%s", PQgetvalue(res, i, c[O_UPDATED]));
		o.label = PQgetvalue(res, i, c[O_LABEL]);
		if (inventory_put_offer(inv, &o) != 0)
			return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------- places */

enum { P_OFFER, P_PLACE, P_NUMBER, P_ACTIVE, P_COUNT };
static const char *const place_columns[P_COUNT] = {"offer_id", "place_id", "number", "active"};

/* Rows ordered by offer: the places of each offer in the result replace
 * the ones it had. */
int inventory_rows_places(struct inventory *inv, const PGresult *res, const int64_t *ids, int nids)
{
	int c[P_COUNT];
	if (columns(res, "inv_places", place_columns, P_COUNT, c) != 0)
		return -1;
	int nmissing, rc = -1;
	int64_t *missing = ids_missing(res, c[P_OFFER], ids, nids, &nmissing);
	struct inv_place *places = NULL;
	if (nmissing < 0)
		return -1;
	/* offers asked for but without places: now have none */
	for (int k = 0; k < nmissing; k++)
		if (inventory_set_places(inv, missing[k], NULL, 0) != 0)
			goto out;
	int rows = PQntuples(res);
	places = malloc(((size_t)rows + 1) * sizeof *places);
	if (!places)
		goto out;
	for (int i = 0; i < rows;) {
		int64_t offer_id = ival(res, i, c[P_OFFER]);
		int j = i;
		for (; j < rows && ival(res, j, c[P_OFFER]) == offer_id; j++)
			places[j - i] = (struct inv_place){.id = ival(res, j, c[P_PLACE]),
							   .number = (int)ival(res, j, c[P_NUMBER]),
							   .active = bval(res, j, c[P_ACTIVE])};
		if (inventory_set_places(inv, offer_id, places, j - i) != 0)
			goto out;
		i = j;
	}
	rc = 0;
out:
	free(missing);
	free(places);
	return rc;
}

/* ---------------------------------------------------------------- spans */

enum { S_OFFER, S_PLACE, S_START, S_END, S_PLACEMENT, S_COUNT };
static const char *const span_columns[S_COUNT] = {"offer_id", "place_id", "start_day", "end_day",
						  "placement_id"};

/* Rows ordered by offer, place and start; the spans of the offers asked
 * for (all when ids is NULL) are replaced by the result's. */
int inventory_rows_spans(struct inventory *inv, const PGresult *res, const int64_t *ids, int nids)
{
	int c[S_COUNT];
	if (columns(res, "inv_spans", span_columns, S_COUNT, c) != 0)
		return -1;
	if (!ids) {
		if (inventory_clear_spans(inv, 0) != 0)
			return -1;
	}
	for (int k = 0; ids && k < nids; k++)
		if (inventory_clear_spans(inv, ids[k]) != 0)
			return -1;
	for (int i = 0; i < PQntuples(res); i++) {
		struct inv_span s = {dval(res, i, c[S_START]), dval(res, i, c[S_END]), ival(res, i, c[S_PLACEMENT])};
		if (inventory_add_span(inv, ival(res, i, c[S_OFFER]), ival(res, i, c[S_PLACE]), s) != 0)
			return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------- youth */

enum { Y_ID, Y_DEP, Y_BIRTH, Y_RQTH, Y_GENDER, Y_HOUSEHOLD, Y_PETS, Y_NEEDS, Y_SITUATION, Y_EXIT,
       Y_LAT, Y_LON, Y_MAX_KM, Y_INCOME, Y_SUPPORT, Y_FROM, Y_MONTHS, Y_REGISTERED, Y_STATUS,
       Y_OPEN, Y_COUNT };
static const char *const youth_columns[Y_COUNT] = {
	"id", "departement", "birth_date", "rqth", "gender", "household", "has_pets", "needs",
	"situation", "institution_exit_date", "lat", "lon", "max_distance_km", "monthly_income_eur",
	"support_need", "wanted_from", "wanted_months", "registered_at", "status", "open_placement",
};

int inventory_rows_youth(struct inventory *inv, const PGresult *res, const int64_t *ids, int nids)
{
	int c[Y_COUNT];
	if (columns(res, "inv_youth", youth_columns, Y_COUNT, c) != 0)
		return -1;
	int nmissing;
	int64_t *missing = ids_missing(res, c[Y_ID], ids, nids, &nmissing);
	if (nmissing < 0)
		return -1;
	/* asked for and not returned: erased, gone from everything */
	for (int k = 0; k < nmissing; k++)
		inventory_drop_youth(inv, missing[k]);
	free(missing);
	for (int i = 0; i < PQntuples(res); i++) {
		struct inv_youth y;
		memset(&y, 0, sizeof y);
		struct match_youth *m = &y.m;
		m->id = ival(res, i, c[Y_ID]);
		snprintf(y.departement, sizeof y.departement, "%s", PQgetvalue(res, i, c[Y_DEP]));
		m->birth_date = dval(res, i, c[Y_BIRTH]);
		m->rqth = bval(res, i, c[Y_RQTH]);
		match_gender_parse(PQgetvalue(res, i, c[Y_GENDER]), &m->gender);
		match_household_parse(PQgetvalue(res, i, c[Y_HOUSEHOLD]), &m->household);
		m->has_pets = bval(res, i, c[Y_PETS]);
		/* text[] output: {wheelchair,mental_health} */
		char needs[256];
		snprintf(needs, sizeof needs, "%s", PQgetvalue(res, i, c[Y_NEEDS]));
		char *save = NULL;
		for (char *t = strtok_r(needs, "{},\"", &save); t; t = strtok_r(NULL, "{},\"", &save)) {
			unsigned bit;
			if (match_need_parse(t, &bit))
				m->needs |= bit;
		}
		match_situation_parse(PQgetvalue(res, i, c[Y_SITUATION]), &m->situation);
		m->institution_exit_date = dval(res, i, c[Y_EXIT]);
		y.located = val(res, i, c[Y_LAT]) != NULL;
		m->lat = fval(res, i, c[Y_LAT]);
		m->lon = fval(res, i, c[Y_LON]);
		y.own_max_distance_km = (int)ival(res, i, c[Y_MAX_KM]);
		m->monthly_income_eur = fval(res, i, c[Y_INCOME]);
		match_support_parse(PQgetvalue(res, i, c[Y_SUPPORT]), &m->support_need);
		m->wanted_from = dval(res, i, c[Y_FROM]);
		m->wanted_months = (int)ival(res, i, c[Y_MONTHS]);
		m->registered_at = dval(res, i, c[Y_REGISTERED]);
		y.open_placement = bval(res, i, c[Y_OPEN]);
		y.status_waiting = strcmp(PQgetvalue(res, i, c[Y_STATUS]), "waiting") == 0;
		if (inventory_put_youth(inv, &y) != 0)
			return -1;
	}
	return 0;
}
