/*
 * Unit tests of the matcher: every eligibility rule at its edge, the rule
 * order, the score's arithmetic and monotonicity, priority, and top-k
 * against a full sort. Expected values are worked out in the comments.
 */
#include "siaod/match.h"
#include "unit.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#define PI 3.14159265358979323846
#define R_KM 6371.0

static uint64_t rng_state = 20240501;

static uint64_t rng_next(void)
{
	/* splitmix64: deterministic, so a failure reproduces */
	uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static int rng_below(int n)
{
	return (int)(rng_next() % (uint64_t)n);
}

static double rng_unit(void)
{
	return (double)(rng_next() >> 11) / 9007199254740992.0;
}

static sdate ymd(int y, int m, int d)
{
	return date_from_ymd(y, m, d);
}

/* Degrees of latitude for `km` along a meridian: there the haversine
 * distance is exactly R * the latitude difference in radians. */
static double lat_step(double km)
{
	return km / R_KM * 180.0 / PI;
}

static struct match_offer base_offer(void)
{
	return (struct match_offer){
		.id = 1, .porteur_id = 10, .kind = MATCH_KIND_IML,
		.lat = 43.0, .lon = 3.0, .open = true,
		.available_from = DATE_NONE, .available_until = DATE_NONE,
		.max_stay_days = 0, .min_age = 0, .max_age = 0,
		.gender = MATCH_OFFER_GENDER_ANY,
		.support_level = MATCH_SUPPORT_STANDARD,
		.monthly_charge_eur = 0, .capacity = 2,
	};
}

/* 19 years old on 2024-05-01, everything ordinary. */
static struct match_youth base_youth(void)
{
	return (struct match_youth){
		.id = 100, .birth_date = ymd(2004, 6, 15), .rqth = false,
		.gender = MATCH_GENDER_FEMALE, .household = MATCH_HOUSEHOLD_ALONE,
		.situation = MATCH_SITUATION_PRECARIOUS,
		.institution_exit_date = DATE_NONE,
		.lat = 43.0, .lon = 3.0, .max_distance_km = 30,
		.monthly_income_eur = 800, .support_need = MATCH_SUPPORT_STANDARD,
		.wanted_from = DATE_NONE, .wanted_months = 6,
		.registered_at = ymd(2024, 5, 1),
	};
}

static struct match_params base_params(void)
{
	return (struct match_params){
		.today = ymd(2024, 5, 1), .on = DATE_NONE,
		/* fixed here, not the defaults: the points worked out below
		 * (30 * 176 / 300...) are for these weights */
		.weights = {.distance = 30, .duration = 20, .affordability = 20,
			    .support = 20, .availability = 10},
	};
}

static enum match_rule rule(const struct match_params *p, const struct match_youth *y,
			    const struct match_offer *o)
{
	return match_eligible(p, y, o, NULL);
}

/* ---- a fake inventory: occupied intervals [from, to) per place ---- */

struct occupancy {
	int place;
	sdate from, to;
};

struct fake_inventory {
	const struct occupancy *occ;
	size_t n;
	int calls;
};

static int fake_free_places(void *ctx, const struct match_offer *o, sdate start, sdate end)
{
	struct fake_inventory *inv = ctx;
	inv->calls++;
	int free_count = 0;
	for (int place = 0; place < o->capacity; place++) {
		bool busy = false;
		for (size_t i = 0; i < inv->n; i++)
			if (inv->occ[i].place == place && inv->occ[i].from < end &&
			    start < inv->occ[i].to)
				busy = true;
		free_count += !busy;
	}
	return free_count;
}

/* ---- tests ---- */

static void test_codes(void)
{
	CHECK_STR(match_rule_code(MATCH_RULE_CLOSED), "closed");
	CHECK_STR(match_rule_code(MATCH_RULE_DISTANCE), "distance");
	CHECK_STR(match_rule_code(MATCH_RULE_AGE), "age");
	CHECK_STR(match_rule_code(MATCH_RULE_GENDER), "gender");
	CHECK_STR(match_rule_code(MATCH_RULE_HOUSEHOLD), "household");
	CHECK_STR(match_rule_code(MATCH_RULE_PETS), "pets");
	CHECK_STR(match_rule_code(MATCH_RULE_WHEELCHAIR), "wheelchair");
	CHECK_STR(match_rule_code(MATCH_RULE_NO_FREE_PLACE), "no_free_place");
	CHECK_STR(match_rule_code(MATCH_OK), "ok");
	CHECK_STR(match_rule_code(MATCH_RULE_DECLINED_RECENTLY), "declined_recently");
	CHECK_STR(match_rule_code(MATCH_RULE_STALE), "stale");
	CHECK_INT(MATCH_RULE_COUNT, 10);
	CHECK_STR(match_factor_code(MATCH_FACTOR_DISTANCE), "distance");
	CHECK_STR(match_factor_code(MATCH_FACTOR_AVAILABILITY), "availability");
	CHECK(match_factor_code(MATCH_FACTOR_COUNT) == NULL);

	enum match_kind k = MATCH_KIND_IML;
	CHECK(match_kind_parse("studio_tiroir", &k));
	CHECK_INT(k, MATCH_KIND_STUDIO_TIROIR);
	CHECK(!match_kind_parse("studio", &k));
	CHECK(!match_kind_parse(NULL, &k));
	CHECK_INT(k, MATCH_KIND_STUDIO_TIROIR);
	CHECK_STR(match_kind_code(MATCH_KIND_SHARED_FLAT), "shared_flat");
	enum match_situation s;
	CHECK(match_situation_parse("family_breakdown", &s));
	CHECK_INT(s, MATCH_SITUATION_FAMILY_BREAKDOWN);
	CHECK_STR(match_situation_code(MATCH_SITUATION_EMERGENCY_SHELTER), "emergency_shelter");
	unsigned bit = 0;
	CHECK(match_need_parse("justice_followup", &bit));
	CHECK_INT(bit, MATCH_NEED_JUSTICE_FOLLOWUP);
	CHECK_STR(match_need_code(4), "pregnancy");
	CHECK(match_need_code(5) == NULL);
	enum match_offer_gender og;
	CHECK(match_offer_gender_parse("any", &og) && og == MATCH_OFFER_GENDER_ANY);
	enum match_gender g;
	CHECK(match_gender_parse("other", &g) && g == MATCH_GENDER_OTHER);
	enum match_household h;
	CHECK(match_household_parse("with_children", &h) && h == MATCH_HOUSEHOLD_WITH_CHILDREN);
	enum match_support sup;
	CHECK(match_support_parse("intensive", &sup) && sup == MATCH_SUPPORT_INTENSIVE);
	CHECK(!match_support_parse("Intensive", &sup));
}

static void test_weights(void)
{
	struct match_weights w = match_weights_default();
	CHECK(match_weights_valid(&w));
	CHECK_INT(w.distance + w.duration + w.affordability + w.support + w.availability, 100);
	w.availability--;
	CHECK(!match_weights_valid(&w));
	w = (struct match_weights){101, -1, 0, 0, 0};
	CHECK(!match_weights_valid(&w));
	w = (struct match_weights){0, 0, 0, 0, 100};
	CHECK(match_weights_valid(&w));
}

static void test_distance(void)
{
	/* One degree of latitude: 6371 * pi / 180 = 111.19492... km. */
	CHECK(match_distance_km(43, 3, 44, 3) == 111.2);
	/* Half the globe: pi * 6371 = 20015.0866 km. */
	CHECK(match_distance_km(0, 0, 0, 180) == 20015.1);
	CHECK(match_distance_km(43, 3, 43, 3) == 0.0);
	/* Raw 30.04 km rounds down to 30.0, raw 30.06 up to 30.1. */
	CHECK(match_distance_km(43, 3, 43 + lat_step(30.04), 3) == 30.0);
	CHECK(match_distance_km(43, 3, 43 + lat_step(30.06), 3) == 30.1);
	CHECK(match_distance_km(43, 3, 43 - lat_step(12.44), 3) == 12.4);

	struct match_params p = base_params();
	struct match_youth y = base_youth();
	struct match_offer o = base_offer();
	const double raw[] = {29.96, 30.0, 30.04};
	for (size_t i = 0; i < sizeof raw / sizeof raw[0]; i++) {
		o.lat = 43 + lat_step(raw[i]);
		CHECK_INT(rule(&p, &y, &o), MATCH_OK);
	}
	o.lat = 43 + lat_step(30.06);
	CHECK_INT(rule(&p, &y, &o), MATCH_RULE_DISTANCE);
	o.lat = 43 + lat_step(30.1);
	CHECK_INT(rule(&p, &y, &o), MATCH_RULE_DISTANCE);
	y.max_distance_km = 30.1;
	CHECK_INT(rule(&p, &y, &o), MATCH_OK);
	struct match_check c;
	match_eligible(&p, &y, &o, &c);
	CHECK(c.distance_km == 30.1);

	/* A max of 0 km: only the wished commune itself. */
	y.max_distance_km = 0;
	o.lat = 43;
	CHECK_INT(rule(&p, &y, &o), MATCH_OK);
	o.lat = 43 + lat_step(0.06);
	CHECK_INT(rule(&p, &y, &o), MATCH_RULE_DISTANCE);
	/* Along the equator the longitude difference is the angle too. */
	y = base_youth();
	y.lat = 0;
	y.lon = 0;
	o = base_offer();
	o.lat = 0;
	o.lon = lat_step(30.0);
	CHECK_INT(rule(&p, &y, &o), MATCH_OK);
	o.lon = lat_step(30.06);
	CHECK_INT(rule(&p, &y, &o), MATCH_RULE_DISTANCE);
}

static void test_period(void)
{
	struct match_youth y = base_youth();
	struct match_offer o = base_offer();
	sdate today = ymd(2024, 5, 1), s, e;

	/* No cap: 6 calendar months. */
	match_period(&y, &o, DATE_NONE, today, &s, &e);
	CHECK_INT(s, today);
	CHECK_INT(e, ymd(2024, 11, 1));
	/* A later wanted_from wins over today, an earlier one does not. */
	y.wanted_from = ymd(2024, 8, 31);
	match_period(&y, &o, DATE_NONE, today, &s, &e);
	CHECK_INT(s, ymd(2024, 8, 31));
	CHECK_INT(e, ymd(2025, 2, 28));         /* clamped to the month's end */
	y.wanted_from = ymd(2024, 1, 1);
	match_period(&y, &o, DATE_NONE, today, &s, &e);
	CHECK_INT(s, today);
	/* `on` wins over both. */
	match_period(&y, &o, ymd(2024, 6, 10), today, &s, &e);
	CHECK_INT(s, ymd(2024, 6, 10));
	CHECK_INT(e, ymd(2024, 12, 10));
	/* A cap shorter than the wish cuts the stay; a longer one does not. */
	o.max_stay_days = 90;
	match_period(&y, &o, DATE_NONE, today, &s, &e);
	CHECK_INT(e, today + 90);
	o.max_stay_days = 540;
	match_period(&y, &o, DATE_NONE, today, &s, &e);
	CHECK_INT(e, ymd(2024, 11, 1));
	/* 2024-05-01 + 6 months is 184 days away: a cap of exactly 184 is no cut. */
	o.max_stay_days = 184;
	match_period(&y, &o, DATE_NONE, today, &s, &e);
	CHECK_INT(e, ymd(2024, 11, 1));
	o.max_stay_days = 183;
	match_period(&y, &o, DATE_NONE, today, &s, &e);
	CHECK_INT(e, ymd(2024, 10, 31));
	y.wanted_months = 0;                     /* counts as 1 */
	o.max_stay_days = 0;
	match_period(&y, &o, DATE_NONE, today, &s, &e);
	CHECK_INT(e, ymd(2024, 6, 1));
}

static void test_age(void)
{
	struct match_params p = base_params();     /* start = 2024-05-01 */
	struct match_youth y = base_youth();
	struct match_offer o = base_offer();

	/* 26th birthday the day before, on, and the day after the start. */
	y.birth_date = ymd(1998, 4, 30);
	CHECK_INT(rule(&p, &y, &o), MATCH_RULE_AGE);
	y.birth_date = ymd(1998, 5, 1);
	CHECK_INT(rule(&p, &y, &o), MATCH_RULE_AGE);
	y.birth_date = ymd(1998, 5, 2);
	CHECK_INT(rule(&p, &y, &o), MATCH_OK);
	struct match_check c;
	match_eligible(&p, &y, &o, &c);
	CHECK_INT(c.age, 25);

	/* RQTH: 29 is in, 30 is out; without RQTH 29 is out. */
	y.rqth = true;
	y.birth_date = ymd(1994, 5, 2);          /* 29 on the start */
	CHECK_INT(rule(&p, &y, &o), MATCH_OK);
	y.birth_date = ymd(1994, 5, 1);          /* 30 on the start */
	CHECK_INT(rule(&p, &y, &o), MATCH_RULE_AGE);
	y.rqth = false;
	y.birth_date = ymd(1994, 5, 2);
	CHECK_INT(rule(&p, &y, &o), MATCH_RULE_AGE);
	y.birth_date = ymd(1998, 5, 2);          /* 25 with RQTH: still in */
	y.rqth = true;
	CHECK_INT(rule(&p, &y, &o), MATCH_OK);
	y.rqth = false;

	/* 16th birthday on the start is in, the day after is out. */
	y.birth_date = ymd(2008, 5, 1);
	CHECK_INT(rule(&p, &y, &o), MATCH_OK);
	y.birth_date = ymd(2008, 5, 2);
	CHECK_INT(rule(&p, &y, &o), MATCH_RULE_AGE);

	/* Born 29 February 2000: turns 26 on 1 March 2026 (a common year). */
	y.birth_date = ymd(2000, 2, 29);
	p.on = ymd(2026, 2, 28);
	CHECK_INT(rule(&p, &y, &o), MATCH_OK);
	p.on = ymd(2026, 3, 1);
	CHECK_INT(rule(&p, &y, &o), MATCH_RULE_AGE);
	/* ... and 24 on 29 February 2024 itself (a leap year). */
	p.on = ymd(2024, 2, 28);
	match_eligible(&p, &y, &o, &c);
	CHECK_INT(c.age, 23);
	p.on = ymd(2024, 2, 29);
	match_eligible(&p, &y, &o, &c);
	CHECK_INT(c.age, 24);

	/* The offer's min_age: born 29 Feb 2008, 17 on 1 March 2025. */
	y.birth_date = ymd(2008, 2, 29);
	o.min_age = 17;
	p.on = ymd(2025, 2, 28);
	CHECK_INT(rule(&p, &y, &o), MATCH_RULE_AGE);
	p.on = ymd(2025, 3, 1);
	CHECK_INT(rule(&p, &y, &o), MATCH_OK);
	/* A min_age below 16 does not lower the programme's floor. */
	o.min_age = 14;
	p.on = ymd(2023, 3, 1);                  /* 15 */
	CHECK_INT(rule(&p, &y, &o), MATCH_RULE_AGE);

	/* The offer's max_age lowers the ceiling, never raises it. */
	p = base_params();
	o = base_offer();
	y = base_youth();
	y.birth_date = ymd(2002, 5, 1);          /* 22 */
	o.max_age = 21;
	CHECK_INT(rule(&p, &y, &o), MATCH_RULE_AGE);
	o.max_age = 22;
	CHECK_INT(rule(&p, &y, &o), MATCH_OK);
	o.max_age = 30;
	y.birth_date = ymd(1997, 5, 1);          /* 27 without RQTH */
	CHECK_INT(rule(&p, &y, &o), MATCH_RULE_AGE);

	y.birth_date = DATE_NONE;                /* erased */
	CHECK_INT(rule(&p, &y, &o), MATCH_RULE_AGE);
}

static void test_closed(void)
{
	struct match_params p = base_params();   /* start = 2024-05-01 */
	struct match_youth y = base_youth();
	struct match_offer o = base_offer();

	o.open = false;
	CHECK_INT(rule(&p, &y, &o), MATCH_RULE_CLOSED);
	o.open = true;
	o.available_from = ymd(2024, 5, 2);
	CHECK_INT(rule(&p, &y, &o), MATCH_RULE_CLOSED);
	o.available_from = ymd(2024, 5, 1);
	CHECK_INT(rule(&p, &y, &o), MATCH_OK);
	/* available_until is the last day a stay may start, inclusive. */
	o.available_until = ymd(2024, 4, 30);
	CHECK_INT(rule(&p, &y, &o), MATCH_RULE_CLOSED);
	o.available_until = ymd(2024, 5, 1);
	CHECK_INT(rule(&p, &y, &o), MATCH_OK);   /* the 6-month stay may overrun it */
	o.available_from = DATE_NONE;
	p.on = ymd(2024, 5, 2);
	CHECK_INT(rule(&p, &y, &o), MATCH_RULE_CLOSED);
}

static void test_other_rules(void)
{
	struct match_params p = base_params();
	struct match_youth y = base_youth();
	struct match_offer o = base_offer();

	o.gender = MATCH_OFFER_GENDER_FEMALE;
	CHECK_INT(rule(&p, &y, &o), MATCH_OK);
	y.gender = MATCH_GENDER_MALE;
	CHECK_INT(rule(&p, &y, &o), MATCH_RULE_GENDER);
	y.gender = MATCH_GENDER_OTHER;
	CHECK_INT(rule(&p, &y, &o), MATCH_RULE_GENDER);
	o.gender = MATCH_OFFER_GENDER_MALE;
	CHECK_INT(rule(&p, &y, &o), MATCH_RULE_GENDER);
	y.gender = MATCH_GENDER_MALE;
	CHECK_INT(rule(&p, &y, &o), MATCH_OK);
	y.gender = MATCH_GENDER_FEMALE;
	CHECK_INT(rule(&p, &y, &o), MATCH_RULE_GENDER);
	o.gender = MATCH_OFFER_GENDER_ANY;
	y.gender = MATCH_GENDER_OTHER;
	CHECK_INT(rule(&p, &y, &o), MATCH_OK);

	y.household = MATCH_HOUSEHOLD_COUPLE;
	CHECK_INT(rule(&p, &y, &o), MATCH_RULE_HOUSEHOLD);
	o.accepts_couples = true;
	CHECK_INT(rule(&p, &y, &o), MATCH_OK);
	y.household = MATCH_HOUSEHOLD_WITH_CHILDREN;
	CHECK_INT(rule(&p, &y, &o), MATCH_RULE_HOUSEHOLD);
	o.accepts_children = true;
	CHECK_INT(rule(&p, &y, &o), MATCH_OK);
	y.household = MATCH_HOUSEHOLD_ALONE;
	o.accepts_couples = o.accepts_children = false;
	CHECK_INT(rule(&p, &y, &o), MATCH_OK);

	y.has_pets = true;
	CHECK_INT(rule(&p, &y, &o), MATCH_RULE_PETS);
	o.accepts_pets = true;
	CHECK_INT(rule(&p, &y, &o), MATCH_OK);
	y.has_pets = false;
	o.accepts_pets = false;

	y.needs = MATCH_NEED_WHEELCHAIR | MATCH_NEED_PREGNANCY;
	CHECK_INT(rule(&p, &y, &o), MATCH_RULE_WHEELCHAIR);
	o.wheelchair_accessible = true;
	CHECK_INT(rule(&p, &y, &o), MATCH_OK);
	y.needs = MATCH_NEED_MENTAL_HEALTH;      /* not a hard rule */
	o.wheelchair_accessible = false;
	CHECK_INT(rule(&p, &y, &o), MATCH_OK);

	o.capacity = 0;
	CHECK_INT(rule(&p, &y, &o), MATCH_RULE_NO_FREE_PLACE);
	o.capacity = 1;
	CHECK_INT(rule(&p, &y, &o), MATCH_OK);
}

static void test_free_places(void)
{
	struct match_params p = base_params();
	struct match_youth y = base_youth();
	struct match_offer o = base_offer();
	o.capacity = 1;
	o.max_stay_days = 90;
	y.wanted_months = 3;
	/* The one place is taken on [2024-05-01, 2024-07-01). */
	const struct occupancy occ[] = {{0, ymd(2024, 5, 1), ymd(2024, 7, 1)}};
	struct fake_inventory inv = {occ, 1, 0};
	p.free_places = fake_free_places;
	p.ctx = &inv;

	struct match_check c;
	p.on = ymd(2024, 6, 30);
	CHECK_INT(match_eligible(&p, &y, &o, &c), MATCH_RULE_NO_FREE_PLACE);
	CHECK_INT(c.free_places, 0);
	p.on = ymd(2024, 7, 1);                  /* the exit day is free */
	CHECK_INT(match_eligible(&p, &y, &o, &c), MATCH_OK);
	CHECK_INT(c.free_places, 1);
	CHECK_INT(c.start, ymd(2024, 7, 1));
	CHECK_INT(c.end, ymd(2024, 7, 1) + 90);

	/* A stay that ends the day an occupancy starts does not overlap it.
	 * From 2024-01-31, 3 months end on 2024-04-30 (clamped) and so does
	 * the 90-day cap (29 + 31 + 30 days). */
	const struct occupancy later[] = {{0, ymd(2024, 4, 30), ymd(2024, 9, 1)}};
	inv.occ = later;
	p.on = ymd(2024, 1, 31);
	match_eligible(&p, &y, &o, &c);
	CHECK_INT(c.end, ymd(2024, 4, 30));
	CHECK_INT(match_eligible(&p, &y, &o, &c), MATCH_OK);
	p.on = ymd(2024, 2, 1);                  /* ends 2024-05-01: overlaps */
	CHECK_INT(match_eligible(&p, &y, &o, &c), MATCH_RULE_NO_FREE_PLACE);

	/* Two places, one taken: one free. */
	o.capacity = 2;
	CHECK_INT(match_eligible(&p, &y, &o, &c), MATCH_OK);
	CHECK_INT(c.free_places, 1);

	/* The callback is not asked when an earlier rule fails, nor when the
	 * offer has no capacity at all. */
	inv.calls = 0;
	y.has_pets = true;
	CHECK_INT(match_eligible(&p, &y, &o, &c), MATCH_RULE_PETS);
	CHECK_INT(c.free_places, -1);
	y.has_pets = false;
	o.capacity = 0;
	CHECK_INT(match_eligible(&p, &y, &o, &c), MATCH_RULE_NO_FREE_PLACE);
	CHECK_INT(inv.calls, 0);
}

static void test_rule_order(void)
{
	struct match_params p = base_params();
	struct match_youth y = base_youth();
	struct match_offer o[9];
	const struct match_offer *ptr[9];
	for (int i = 0; i < 9; i++) {
		o[i] = base_offer();
		o[i].id = i + 1;
		ptr[i] = &o[i];
	}
	/* Each offer fails several rules; it must count under the first. */
	o[0].open = false;                         /* closed + distance + age */
	o[0].lat = 45;
	o[0].max_age = 18;
	o[1].lat = 45;                             /* distance + age + pets */
	o[1].max_age = 18;
	o[1].capacity = 0;
	o[2].min_age = 21;                         /* age + gender */
	o[2].gender = MATCH_OFFER_GENDER_MALE;
	o[3].gender = MATCH_OFFER_GENDER_MALE;     /* gender + no place */
	o[3].capacity = 0;
	o[4].capacity = 0;                         /* no place only */
	o[5].open = false;                         /* closed only */
	o[6].max_age = 18;                         /* age only */
	y.has_pets = true;
	for (int i = 0; i < 9; i++)
		o[i].accepts_pets = true;
	o[1].accepts_pets = false;
	o[8].accepts_pets = false;                 /* pets + no place */
	o[8].capacity = 0;
	/* o[7] is eligible. */

	CHECK_INT(rule(&p, &y, &o[0]), MATCH_RULE_CLOSED);
	CHECK_INT(rule(&p, &y, &o[1]), MATCH_RULE_DISTANCE);
	CHECK_INT(rule(&p, &y, &o[2]), MATCH_RULE_AGE);
	CHECK_INT(rule(&p, &y, &o[3]), MATCH_RULE_GENDER);
	CHECK_INT(rule(&p, &y, &o[8]), MATCH_RULE_PETS);

	size_t excluded[MATCH_RULE_COUNT];
	memset(excluded, 0xff, sizeof excluded);   /* must be reset, not added to */
	struct match_result out[9];
	int n = match_rank_offers(&p, &y, ptr, 9, 10, out, excluded);
	CHECK_INT(n, 1);
	CHECK_INT(out[0].index, 7);
	CHECK_INT(excluded[MATCH_RULE_CLOSED], 2);
	CHECK_INT(excluded[MATCH_RULE_DISTANCE], 1);
	CHECK_INT(excluded[MATCH_RULE_AGE], 2);
	CHECK_INT(excluded[MATCH_RULE_GENDER], 1);
	CHECK_INT(excluded[MATCH_RULE_HOUSEHOLD], 0);
	CHECK_INT(excluded[MATCH_RULE_PETS], 1);
	CHECK_INT(excluded[MATCH_RULE_WHEELCHAIR], 0);
	CHECK_INT(excluded[MATCH_RULE_NO_FREE_PLACE], 1);

	/* k = 0 still counts the exclusions. */
	n = match_rank_offers(&p, &y, ptr, 9, 0, out, excluded);
	CHECK_INT(n, 0);
	CHECK_INT(excluded[MATCH_RULE_CLOSED], 2);
}

static void check_factors(const struct match_weights *w, const struct match_factor f[],
			  int total)
{
	const int weight[MATCH_FACTOR_COUNT] = {w->distance, w->duration,
						w->affordability, w->support,
						w->availability};
	int sum = 0;
	for (int i = 0; i < MATCH_FACTOR_COUNT; i++) {
		CHECK_INT(f[i].factor, i);
		CHECK(f[i].points >= 0 && f[i].points <= weight[i]);
		CHECK(f[i].detail[0] != '\0');
		sum += f[i].points;
	}
	CHECK_INT(sum, total);
	CHECK(total >= 0 && total <= 100);
}

static void test_score_values(void)
{
	struct match_params p = base_params();     /* 30/20/20/20/10 */
	struct match_youth y = base_youth();
	struct match_offer o = base_offer();
	struct match_factor f[MATCH_FACTOR_COUNT];

	/* Same place, no cap, no charge, same support, starts when wished. */
	CHECK_INT(match_score(&p, &y, &o, f), 100);
	check_factors(&p.weights, f, 100);
	CHECK_STR(f[MATCH_FACTOR_DISTANCE].detail, "à 0,0 km du lieu souhaité (max 30 km)");
	CHECK_STR(f[MATCH_FACTOR_DURATION].detail, "6 mois souhaités, sans durée maximale");
	CHECK_STR(f[MATCH_FACTOR_AFFORDABILITY].detail, "sans charge mensuelle");
	CHECK_STR(f[MATCH_FACTOR_SUPPORT].detail,
		  "accompagnement standard pour un besoin standard");
	CHECK_STR(f[MATCH_FACTOR_AVAILABILITY].detail, "entrée possible à la date souhaitée");

	/* 12.4 km of 30: 30 * 176 / 300 = 17.6 -> 18. */
	o.lat = 43 + lat_step(12.4);
	match_score(&p, &y, &o, f);
	CHECK_INT(f[MATCH_FACTOR_DISTANCE].points, 18);
	CHECK_STR(f[MATCH_FACTOR_DISTANCE].detail, "à 12,4 km du lieu souhaité (max 30 km)");
	/* 29.9 km: 30 * 1 / 300 = 0.1 -> 0; 28.4 km: 30 * 16 / 300 = 1.6 -> 2. */
	o.lat = 43 + lat_step(29.9);
	match_score(&p, &y, &o, f);
	CHECK_INT(f[MATCH_FACTOR_DISTANCE].points, 0);
	o.lat = 43 + lat_step(28.4);
	match_score(&p, &y, &o, f);
	CHECK_INT(f[MATCH_FACTOR_DISTANCE].points, 2);
	/* Beyond the max (scored anyway): none. */
	y.max_distance_km = 12.5;
	o.lat = 43 + lat_step(40);
	match_score(&p, &y, &o, f);
	CHECK_INT(f[MATCH_FACTOR_DISTANCE].points, 0);
	CHECK_STR(f[MATCH_FACTOR_DISTANCE].detail, "à 40,0 km du lieu souhaité (max 12,5 km)");
	y.max_distance_km = 30;
	o.lat = 43;

	/* Duration: 6 months from 2024-05-01 are 184 days; a 90-day cap gives
	 * 20 * 90 / 184 = 9.78 -> 10. */
	o.max_stay_days = 90;
	match_score(&p, &y, &o, f);
	CHECK_INT(f[MATCH_FACTOR_DURATION].points, 10);
	CHECK_STR(f[MATCH_FACTOR_DURATION].detail,
		  "6 mois souhaités (184 jours), séjour limité à 90 jours");
	o.max_stay_days = 184;
	match_score(&p, &y, &o, f);
	CHECK_INT(f[MATCH_FACTOR_DURATION].points, 20);
	CHECK_STR(f[MATCH_FACTOR_DURATION].detail, "6 mois souhaités, dans la limite de 184 jours");
	o.max_stay_days = 1;                     /* 20 / 184 = 0.11 -> 0 */
	match_score(&p, &y, &o, f);
	CHECK_INT(f[MATCH_FACTOR_DURATION].points, 0);
	CHECK_STR(f[MATCH_FACTOR_DURATION].detail,
		  "6 mois souhaités (184 jours), séjour limité à 1 jour");
	o.max_stay_days = 0;

	/* Affordability with 1000 € of income: full to 300 €, none from 600 €. */
	y.monthly_income_eur = 1000;
	o.monthly_charge_eur = 300;
	match_score(&p, &y, &o, f);
	CHECK_INT(f[MATCH_FACTOR_AFFORDABILITY].points, 20);
	o.monthly_charge_eur = 450;              /* halfway: 10 */
	match_score(&p, &y, &o, f);
	CHECK_INT(f[MATCH_FACTOR_AFFORDABILITY].points, 10);
	CHECK_STR(f[MATCH_FACTOR_AFFORDABILITY].detail,
		  "charge de 450 € par mois, taux d'effort de 45 %");
	o.monthly_charge_eur = 350.5;            /* 20 * 249.5 / 300 = 16.6 -> 17 */
	match_score(&p, &y, &o, f);
	CHECK_INT(f[MATCH_FACTOR_AFFORDABILITY].points, 17);
	CHECK_STR(f[MATCH_FACTOR_AFFORDABILITY].detail,
		  "charge de 350,50 € par mois, taux d'effort de 35 %");
	o.monthly_charge_eur = 600;
	match_score(&p, &y, &o, f);
	CHECK_INT(f[MATCH_FACTOR_AFFORDABILITY].points, 0);
	y.monthly_income_eur = 0;
	o.monthly_charge_eur = 50;
	match_score(&p, &y, &o, f);
	CHECK_INT(f[MATCH_FACTOR_AFFORDABILITY].points, 0);
	CHECK_STR(f[MATCH_FACTOR_AFFORDABILITY].detail,
		  "charge de 50 € par mois sans ressources déclarées");
	o.monthly_charge_eur = 0;
	match_score(&p, &y, &o, f);
	CHECK_INT(f[MATCH_FACTOR_AFFORDABILITY].points, 20);
	y.monthly_income_eur = 800;

	/* Support, weight 20, in quarters by offer level - need. */
	const struct {
		enum match_support need;
		unsigned needs;
		enum match_support level;
		int points;
	} sup[] = {
		{MATCH_SUPPORT_STANDARD, 0, MATCH_SUPPORT_STANDARD, 20},
		{MATCH_SUPPORT_STANDARD, 0, MATCH_SUPPORT_INTENSIVE, 15},
		{MATCH_SUPPORT_LIGHT, 0, MATCH_SUPPORT_INTENSIVE, 10},
		{MATCH_SUPPORT_STANDARD, 0, MATCH_SUPPORT_LIGHT, 5},
		{MATCH_SUPPORT_INTENSIVE, 0, MATCH_SUPPORT_LIGHT, 0},
		/* one heavy need lifts light to standard */
		{MATCH_SUPPORT_LIGHT, MATCH_NEED_MENTAL_HEALTH, MATCH_SUPPORT_STANDARD, 20},
		{MATCH_SUPPORT_LIGHT, MATCH_NEED_ADDICTION, MATCH_SUPPORT_LIGHT, 5},
		/* but does not lower nor further raise a declared need */
		{MATCH_SUPPORT_STANDARD, MATCH_NEED_JUSTICE_FOLLOWUP, MATCH_SUPPORT_STANDARD, 20},
		/* two lift to intensive */
		{MATCH_SUPPORT_LIGHT, MATCH_NEED_ADDICTION | MATCH_NEED_JUSTICE_FOLLOWUP,
		 MATCH_SUPPORT_INTENSIVE, 20},
		{MATCH_SUPPORT_LIGHT, MATCH_NEED_ADDICTION | MATCH_NEED_MENTAL_HEALTH,
		 MATCH_SUPPORT_STANDARD, 5},
		/* pregnancy and wheelchair are not about support intensity */
		{MATCH_SUPPORT_LIGHT, MATCH_NEED_PREGNANCY | MATCH_NEED_WHEELCHAIR,
		 MATCH_SUPPORT_LIGHT, 20},
	};
	for (size_t i = 0; i < sizeof sup / sizeof sup[0]; i++) {
		y.support_need = sup[i].need;
		y.needs = sup[i].needs;
		o.support_level = sup[i].level;
		match_score(&p, &y, &o, f);
		CHECK_INT(f[MATCH_FACTOR_SUPPORT].points, sup[i].points);
	}
	CHECK_STR(f[MATCH_FACTOR_SUPPORT].detail, "accompagnement léger pour un besoin léger");
	y.support_need = MATCH_SUPPORT_LIGHT;
	y.needs = MATCH_NEED_MENTAL_HEALTH;
	o.support_level = MATCH_SUPPORT_INTENSIVE;
	match_score(&p, &y, &o, f);
	CHECK_STR(f[MATCH_FACTOR_SUPPORT].detail,
		  "accompagnement intensif pour un besoin standard");
	y.support_need = MATCH_SUPPORT_STANDARD;
	y.needs = 0;
	o.support_level = MATCH_SUPPORT_STANDARD;

	/* Availability, weight 10, against the wished start 2024-05-01. */
	p.on = ymd(2024, 5, 31);                 /* 30 days late: 10 * 60 / 90 -> 7 */
	match_score(&p, &y, &o, f);
	CHECK_INT(f[MATCH_FACTOR_AVAILABILITY].points, 7);
	CHECK_STR(f[MATCH_FACTOR_AVAILABILITY].detail,
		  "entrée 30 jours après la date souhaitée");
	p.on = ymd(2024, 4, 30);                 /* 1 day early: 10 * 89 / 90 -> 10 */
	match_score(&p, &y, &o, f);
	CHECK_INT(f[MATCH_FACTOR_AVAILABILITY].points, 10);
	CHECK_STR(f[MATCH_FACTOR_AVAILABILITY].detail, "entrée 1 jour avant la date souhaitée");
	p.on = ymd(2024, 7, 30);                 /* 90 days: none */
	match_score(&p, &y, &o, f);
	CHECK_INT(f[MATCH_FACTOR_AVAILABILITY].points, 0);
	y.wanted_from = ymd(2024, 7, 30);        /* now it is the wished day */
	match_score(&p, &y, &o, f);
	CHECK_INT(f[MATCH_FACTOR_AVAILABILITY].points, 10);
	p.on = DATE_NONE;
	y.wanted_from = DATE_NONE;

	/* Weights move the points: all on distance, 12.4 km of 30 gives
	 * 100 * 176 / 300 = 58.67 -> 59 and the rest nothing. */
	p.weights = (struct match_weights){100, 0, 0, 0, 0};
	o.lat = 43 + lat_step(12.4);
	o.max_stay_days = 90;
	o.monthly_charge_eur = 500;
	int total = match_score(&p, &y, &o, f);
	CHECK_INT(total, 59);
	CHECK_INT(f[MATCH_FACTOR_DISTANCE].points, 59);
	check_factors(&p.weights, f, total);
	/* 50 on duration, 50 on support: 50 * 90 / 184 = 24.46 -> 24, plus 50. */
	p.weights = (struct match_weights){0, 50, 0, 50, 0};
	total = match_score(&p, &y, &o, f);
	CHECK_INT(f[MATCH_FACTOR_DURATION].points, 24);
	CHECK_INT(total, 74);
	check_factors(&p.weights, f, total);
	CHECK_INT(match_score(&p, &y, &o, NULL), 74);
}

static struct match_youth random_youth(void)
{
	struct match_youth y = base_youth();
	y.id = 1 + rng_below(1000);
	y.lat = 42 + 3 * rng_unit();
	y.lon = 5 * rng_unit();
	y.max_distance_km = rng_below(5) == 0 ? rng_below(3) : 1 + rng_below(1000) / 10.0;
	y.monthly_income_eur = rng_below(4) == 0 ? 0 : rng_below(200000) / 100.0;
	y.support_need = (enum match_support)rng_below(3);
	y.needs = (unsigned)rng_below(32);
	y.wanted_months = rng_below(25);
	y.wanted_from = rng_below(2) ? DATE_NONE : ymd(2024, 5, 1) + rng_below(200) - 50;
	y.situation = (enum match_situation)rng_below(MATCH_SITUATION_COUNT);
	y.registered_at = ymd(2024, 5, 1) - rng_below(800);
	return y;
}

static struct match_offer random_offer(void)
{
	struct match_offer o = base_offer();
	o.id = 1 + rng_below(50);
	o.max_stay_days = rng_below(3) == 0 ? 0 : 1 + rng_below(600);
	o.monthly_charge_eur = rng_below(3) == 0 ? 0 : rng_below(100000) / 100.0;
	o.support_level = (enum match_support)rng_below(3);
	return o;
}

static struct match_weights random_weights(void)
{
	int cut[4];
	for (int i = 0; i < 4; i++)
		cut[i] = rng_below(101);
	for (int i = 0; i < 4; i++)              /* sort the four cuts */
		for (int j = i + 1; j < 4; j++)
			if (cut[j] < cut[i]) {
				int t = cut[i];
				cut[i] = cut[j];
				cut[j] = t;
			}
	return (struct match_weights){cut[0], cut[1] - cut[0], cut[2] - cut[1],
				      cut[3] - cut[2], 100 - cut[3]};
}

static void test_score_random(void)
{
	int non_monotone = 0, bad_sum = 0, compared = 0;
	for (int iter = 0; iter < 3000; iter++) {
		struct match_params p = base_params();
		p.weights = random_weights();
		if (!match_weights_valid(&p.weights))
			bad_sum++;
		if (rng_below(2))
			p.on = ymd(2024, 5, 1) + rng_below(200) - 50;
		struct match_youth y = random_youth();
		struct match_offer a = random_offer(), b = a;
		/* Same offer at two random places; only the distance differs. */
		double span = y.max_distance_km * 1.3 + 1;
		double bearing = 2 * PI * rng_unit();
		double ka = span * rng_unit(), kb = span * rng_unit();
		a.lat = y.lat + lat_step(ka) * cos(bearing);
		a.lon = y.lon + lat_step(ka) * sin(bearing);
		b.lat = y.lat + lat_step(kb) * sin(bearing);
		b.lon = y.lon - lat_step(kb) * cos(bearing);
		struct match_factor fa[MATCH_FACTOR_COUNT], fb[MATCH_FACTOR_COUNT];
		int sa = match_score(&p, &y, &a, fa), sb = match_score(&p, &y, &b, fb);
		double da = match_distance_km(y.lat, y.lon, a.lat, a.lon);
		double db = match_distance_km(y.lat, y.lon, b.lat, b.lon);
		if ((da <= db && sa < sb) || (db <= da && sb < sa))
			non_monotone++;
		compared++;
		int sum = 0;
		for (int i = 0; i < MATCH_FACTOR_COUNT; i++)
			sum += fa[i].points;
		if (sum != sa || sa < 0 || sa > 100)
			bad_sum++;
		check_factors(&p.weights, fb, sb);
		CHECK_INT(match_score(&p, &y, &b, NULL), sb);
	}
	CHECK_INT(compared, 3000);
	CHECK_INT(non_monotone, 0);
	CHECK_INT(bad_sum, 0);

	/* Walking away from the wished commune 0.1 km at a time. */
	struct match_params p = base_params();
	struct match_youth y = base_youth();
	struct match_offer o = base_offer();
	y.max_distance_km = 47.3;
	int prev = 101, drops = 0;
	for (int t = 0; t <= 500; t++) {
		o.lat = 43 + lat_step(t / 10.0);
		int s = match_score(&p, &y, &o, NULL);
		if (s > prev)
			non_monotone++;
		drops += s < prev;
		prev = s;
	}
	CHECK_INT(non_monotone, 0);
	CHECK(drops >= 30);                      /* every distance point is lost on the way */
	CHECK_INT(prev, 70);                     /* beyond the max: no distance points */
}

static void test_priority(void)
{
	sdate today = ymd(2024, 5, 1);
	struct match_youth y = base_youth();     /* registered today, no exit date */

	y.situation = MATCH_SITUATION_STREET;
	CHECK_INT(match_priority(&y, today), 500);
	y.situation = MATCH_SITUATION_EMERGENCY_SHELTER;
	CHECK_INT(match_priority(&y, today), 400);
	y.situation = MATCH_SITUATION_INSTITUTION_EXIT;
	CHECK_INT(match_priority(&y, today), 300);
	y.situation = MATCH_SITUATION_FAMILY_BREAKDOWN;
	CHECK_INT(match_priority(&y, today), 200);
	y.situation = MATCH_SITUATION_PRECARIOUS;
	CHECK_INT(match_priority(&y, today), 100);

	/* Waiting: 73 days = 100 * 73 / 365 = 20 points; capped at a year. */
	y.registered_at = today - 73;
	CHECK_INT(match_priority(&y, today), 120);
	y.registered_at = today - 365;
	CHECK_INT(match_priority(&y, today), 200);
	y.registered_at = today - 3000;
	CHECK_INT(match_priority(&y, today), 200);
	y.registered_at = today + 5;             /* a future date earns nothing */
	CHECK_INT(match_priority(&y, today), 100);
	y.registered_at = DATE_NONE;
	CHECK_INT(match_priority(&y, today), 100);

	/* Institution exit within 30 days, either side: +200. */
	y.situation = MATCH_SITUATION_INSTITUTION_EXIT;
	y.registered_at = today;
	y.institution_exit_date = today + 30;
	CHECK_INT(match_priority(&y, today), 500);
	y.institution_exit_date = today + 31;
	CHECK_INT(match_priority(&y, today), 300);
	y.institution_exit_date = today - 30;
	CHECK_INT(match_priority(&y, today), 500);
	y.institution_exit_date = today - 31;
	CHECK_INT(match_priority(&y, today), 300);

	/* Ordering examples: leaving care in a week (and waiting 10 days)
	 * passes the street; over a year's wait in precarity weighs as much as
	 * a family breakdown of two days ago (100 + 100 vs 200 + 0). */
	struct match_youth street = base_youth(), leaving = base_youth(),
			   waiting = base_youth(), breakdown = base_youth();
	street.situation = MATCH_SITUATION_STREET;
	leaving.situation = MATCH_SITUATION_INSTITUTION_EXIT;
	leaving.institution_exit_date = today + 7;
	leaving.registered_at = today - 10;
	waiting.situation = MATCH_SITUATION_PRECARIOUS;
	waiting.registered_at = today - 400;
	breakdown.situation = MATCH_SITUATION_FAMILY_BREAKDOWN;
	breakdown.registered_at = today - 2;
	CHECK(match_priority(&leaving, today) > match_priority(&street, today));
	CHECK(match_priority(&street, today) > match_priority(&breakdown, today));
	CHECK_INT(match_priority(&leaving, today), 502);
	CHECK_INT(match_priority(&waiting, today), 200);
	CHECK_INT(match_priority(&breakdown, today), 200);  /* 2 days: 0.5 -> 0 */
}

/* The reference order, written independently of the heap's. */
static int cand_cmp(const void *pa, const void *pb)
{
	const struct match_cand *a = pa, *b = pb;
	if (a->score != b->score)
		return a->score > b->score ? -1 : 1;
	if (a->t1 != b->t1)
		return a->t1 < b->t1 ? -1 : 1;
	if (a->t2 != b->t2)
		return a->t2 < b->t2 ? -1 : 1;
	return a->index < b->index ? -1 : a->index > b->index;
}

static void test_heap(void)
{
	int mismatches = 0, runs = 0;
	for (int iter = 0; iter < 300; iter++) {
		size_t n = (size_t)rng_below(60);
		struct match_cand all[60], sorted[60], store[70];
		for (size_t i = 0; i < n; i++) {
			/* Narrow ranges, so ties at every level happen. */
			all[i] = (struct match_cand){rng_below(5), rng_below(3) - 1,
						     rng_below(3), i, NULL};
			sorted[i] = all[i];
		}
		qsort(sorted, n, sizeof sorted[0], cand_cmp);
		const size_t ks[] = {0, 1, 2, 5, n > 0 ? n - 1 : 0, n, n + 7};
		for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++) {
			size_t k = ks[ki];
			struct match_heap h;
			match_heap_init(&h, store, k);
			for (size_t i = 0; i < n; i++)
				match_heap_push(&h, all[i]);
			size_t m = match_heap_finish(&h);
			size_t want = k < n ? k : n;
			runs++;
			if (m != want) {
				mismatches++;
				continue;
			}
			for (size_t i = 0; i < m; i++)
				if (store[i].index != sorted[i].index)
					mismatches++;
		}
	}
	CHECK_INT(runs, 300 * 7);
	CHECK_INT(mismatches, 0);

	/* A hand-made case: the best three of five, best first. */
	struct match_cand store[3];
	struct match_heap h;
	match_heap_init(&h, store, 3);
	match_heap_push(&h, (struct match_cand){50, 10, 1, 0, NULL});
	match_heap_push(&h, (struct match_cand){80, 99, 9, 1, NULL});
	match_heap_push(&h, (struct match_cand){50, 5, 7, 2, NULL});   /* closer than #0 */
	match_heap_push(&h, (struct match_cand){20, 0, 0, 3, NULL});
	match_heap_push(&h, (struct match_cand){50, 5, 3, 4, NULL});   /* same distance, smaller id */
	CHECK_INT(match_heap_finish(&h), 3);
	CHECK_INT(store[0].index, 1);
	CHECK_INT(store[1].index, 4);
	CHECK_INT(store[2].index, 2);
	CHECK_INT(h.len, 0);
}

static int result_cmp(const void *pa, const void *pb)
{
	const struct match_result *a = pa, *b = pb;
	if (a->score != b->score)
		return a->score > b->score ? -1 : 1;
	if (a->check.distance_km != b->check.distance_km)
		return a->check.distance_km < b->check.distance_km ? -1 : 1;
	if (a->priority != b->priority)
		return a->priority > b->priority ? -1 : 1;
	return a->index < b->index ? -1 : 1;     /* ids equal the index + 1 below */
}

/* Some offers full for the period, whatever their capacity. */
static int every_third_full(void *ctx, const struct match_offer *o, sdate start, sdate end)
{
	(void)ctx;
	(void)start;
	(void)end;
	return o->id % 3 == 0 ? 0 : o->capacity;
}

static void test_rank_offers(void)
{
	struct match_params p = base_params();
	struct match_youth y = base_youth();

	/* By hand: three offers 5, 20 and 10 km away and two more at 10 km
	 * with ids 9 and 4: closer first, then the smaller id. */
	struct match_offer o[5];
	const struct match_offer *ptr[5];
	const double km[] = {5, 20, 10, 10, 10};
	const int64_t id[] = {1, 2, 9, 4, 3};
	for (int i = 0; i < 5; i++) {
		o[i] = base_offer();
		o[i].id = id[i];
		o[i].lat = 43 + lat_step(km[i]);
		ptr[i] = &o[i];
	}
	o[4].open = false;
	struct match_result out[5];
	size_t excluded[MATCH_RULE_COUNT];
	CHECK_INT(match_rank_offers(&p, &y, ptr, 5, 3, out, excluded), 3);
	CHECK_INT(out[0].index, 0);
	CHECK_INT(out[1].index, 3);
	CHECK_INT(out[2].index, 2);
	CHECK_INT(excluded[MATCH_RULE_CLOSED], 1);
	/* 5 km: 30 * 250 / 300 = 25, plus 70 elsewhere. */
	CHECK_INT(out[0].score, 95);
	CHECK(out[0].check.distance_km == 5.0);
	CHECK_INT(out[0].check.free_places, 2);
	check_factors(&p.weights, out[0].factors, out[0].score);
	CHECK_STR(out[0].factors[0].detail, "à 5,0 km du lieu souhaité (max 30 km)");
	/* A subset is fine, and the index refers to it. */
	CHECK_INT(match_rank_offers(&p, &y, ptr + 2, 2, 10, out, NULL), 2);
	CHECK_INT(out[0].index, 1);
	CHECK_INT(match_rank_offers(&p, &y, ptr, 0, 10, out, excluded), 0);

	/* Random inventories against the brute force. */
	p.free_places = every_third_full;
	int mismatches = 0;
	for (int iter = 0; iter < 200; iter++) {
		struct match_offer inv[40];
		const struct match_offer *iptr[40];
		struct match_result all[40], got[40];
		size_t n = (size_t)rng_below(40), eligible = 0;
		size_t ex[MATCH_RULE_COUNT], want_ex[MATCH_RULE_COUNT] = {0};
		y = random_youth();
		y.birth_date = ymd(2000, 1, 1) + rng_below(4000);
		y.has_pets = rng_below(4) == 0;
		for (size_t i = 0; i < n; i++) {
			inv[i] = random_offer();
			inv[i].id = (int64_t)i + 1;
			inv[i].lat = y.lat + lat_step(rng_below(400) / 10.0);
			inv[i].lon = y.lon;
			inv[i].open = rng_below(8) != 0;
			inv[i].accepts_pets = rng_below(2);
			inv[i].capacity = rng_below(3);
			iptr[i] = &inv[i];
			enum match_rule r = match_eligible(&p, &y, &inv[i], NULL);
			if (r != MATCH_OK) {
				want_ex[r]++;
				continue;
			}
			struct match_result *res = &all[eligible++];
			res->index = i;
			res->priority = 0;
			res->score = match_score(&p, &y, &inv[i], NULL);
			match_eligible(&p, &y, &inv[i], &res->check);
		}
		qsort(all, eligible, sizeof all[0], result_cmp);
		size_t k = (size_t)rng_below(12);
		int m = match_rank_offers(&p, &y, iptr, n, k, got, ex);
		if (m != (int)(k < eligible ? k : eligible))
			mismatches++;
		for (int j = 0; j < m; j++)
			if (got[j].index != all[j].index || got[j].score != all[j].score)
				mismatches++;
		if (memcmp(ex, want_ex, sizeof ex) != 0)
			mismatches++;
		/* without explain, the fast path must give the same ranking */
		m = match_rank_offers(&p, &y, iptr, n, k, got, NULL);
		if (m != (int)(k < eligible ? k : eligible))
			mismatches++;
		for (int j = 0; j < m; j++)
			if (got[j].index != all[j].index || got[j].score != all[j].score ||
			    got[j].check.free_places != all[j].check.free_places)
				mismatches++;
	}
	CHECK_INT(mismatches, 0);
}

static void test_rank_youth(void)
{
	struct match_params p = base_params();
	struct match_offer o = base_offer();
	struct match_youth y[5];
	const struct match_youth *ptr[5];
	for (int i = 0; i < 5; i++) {
		y[i] = base_youth();
		y[i].id = 50 - i;
		ptr[i] = &y[i];
	}
	/* y0 is 5 km away: a lower score. y1..y3 score 100; y2 is on the
	 * street (500), y1 and y3 precarious (100) with ids 49 and 47.
	 * y4 is too old. */
	y[0].lat = 43 + lat_step(5);
	y[0].situation = MATCH_SITUATION_STREET;
	y[2].situation = MATCH_SITUATION_STREET;
	y[4].birth_date = ymd(1990, 1, 1);
	struct match_result out[5];
	size_t excluded[MATCH_RULE_COUNT];
	CHECK_INT(match_rank_youth(&p, &o, ptr, 5, 10, out, excluded), 4);
	CHECK_INT(out[0].index, 2);
	CHECK_INT(out[0].priority, 500);
	CHECK_INT(out[1].index, 3);
	CHECK_INT(out[2].index, 1);
	CHECK_INT(out[3].index, 0);
	CHECK_INT(out[3].score, 95);
	CHECK_INT(excluded[MATCH_RULE_AGE], 1);
	check_factors(&p.weights, out[3].factors, out[3].score);

	/* For a place free today, a youth wishing to start in 45 days loses
	 * half the availability points (10 * 45 / 90 = 5). */
	p.on = p.today;
	y[3].wanted_from = p.today + 45;
	CHECK_INT(match_rank_youth(&p, &o, ptr, 5, 2, out, NULL), 2);
	CHECK_INT(out[0].index, 2);
	CHECK_INT(out[1].index, 1);
	CHECK_INT(match_score(&p, &y[3], &o, NULL), 95);
}

/* ---- explanation hints ---- */

/* The earliest day from `from` with a place free for `days` days, by
 * asking the fake inventory day after day (slow, obviously right). */
static sdate fake_next_free(void *ctx, const struct match_offer *o, sdate from, int days)
{
	if (o->capacity <= 0)
		return DATE_NONE;
	for (sdate d = from; d < from + 3000; d++)
		if (fake_free_places(ctx, o, d, d + days) > 0)
			return d;
	return DATE_NONE;
}

static void test_hints(void)
{
	struct match_params p = base_params();
	struct match_youth y = base_youth();           /* 19, within 30 km, 6 months */
	struct match_hints h;

	/* distance: the nearest offer only its distance keeps out, with a place */
	struct match_offer o[6];
	for (int i = 0; i < 6; i++) {
		o[i] = base_offer();
		o[i].id = 10 + i;
		o[i].capacity = 1;
	}
	o[0].lat = 43.0 + lat_step(50.0);              /* 50,0 km: the hint */
	o[1].lat = 43.0 + lat_step(40.0);              /* nearer, but men only */
	o[1].gender = MATCH_OFFER_GENDER_MALE;
	o[2].lat = 43.0 + lat_step(45.0);              /* nearer, but full */
	o[3].lat = 43.0 + lat_step(60.0);              /* farther */
	o[4].lat = 43.0 + lat_step(10.0);              /* within reach: no hint needed */
	o[5].lat = 43.0 + lat_step(42.0);              /* nearer, but closed */
	o[5].open = false;
	const struct occupancy full[] = {{0, ymd(2024, 1, 1), ymd(2026, 1, 1)}};
	struct fake_inventory inv = {full, 1, 0};
	/* only offer 2 (index 2) is full: the fake fills place 0 of every
	 * offer, so give the others two places with one free */
	for (int i = 0; i < 6; i++)
		if (i != 2)
			o[i].capacity = 2;
	p.free_places = fake_free_places;
	p.next_free = fake_next_free;
	p.ctx = &inv;
	const struct match_offer *ptr[6] = {&o[0], &o[1], &o[2], &o[3], &o[4], &o[5]};
	match_explain_hints(&p, &y, ptr, 6, &h);
	CHECK_INT((int)h.distance_index, 0);
	CHECK(fabs(h.distance_km - 50.0) < 1e-9);
	CHECK(h.age_index == MATCH_NO_HINT);
	/* the full offer 2 is excluded by distance first: no free-place hint */
	CHECK(h.free_index == MATCH_NO_HINT);
	/* nothing excluded by distance alone: no hint */
	match_explain_hints(&p, &y, ptr + 4, 1, &h);
	CHECK(h.distance_index == MATCH_NO_HINT);

	/* age: 15 on 2024-05-01, 16 on 2024-09-10 */
	struct match_youth young = base_youth();
	young.birth_date = ymd(2008, 9, 10);
	struct match_offer a[5];
	for (int i = 0; i < 5; i++) {
		a[i] = base_offer();
		a[i].id = 20 + i;
	}
	a[1].min_age = 18;                             /* later: 2026-09-10 */
	a[2].gender = MATCH_OFFER_GENDER_MALE;         /* another rule too: no hint */
	a[3].min_age = 16;
	a[3].available_until = ymd(2024, 9, 9);        /* no entry left by then */
	a[4].min_age = 26;                             /* above the programme's 25 */
	const struct match_offer *aptr[5] = {&a[1], &a[2], &a[3], &a[4], &a[0]};
	struct fake_inventory empty = {NULL, 0, 0};
	p.ctx = &empty;
	match_explain_hints(&p, &young, aptr, 5, &h);
	CHECK_INT((int)h.age_index, 4);
	CHECK_INT(h.age_date, ymd(2024, 9, 10));
	CHECK(h.distance_index == MATCH_NO_HINT && h.free_index == MATCH_NO_HINT);
	match_explain_hints(&p, &young, aptr, 1, &h);  /* min_age 18 only */
	CHECK_INT(h.age_date, ymd(2026, 9, 10));
	match_explain_hints(&p, &young, aptr + 1, 3, &h);  /* none can be reached */
	CHECK(h.age_index == MATCH_NO_HINT);
	/* born 29 February: 17 on 1 March 2025, as PostgreSQL's age() counts */
	young.birth_date = ymd(2008, 2, 29);           /* 16 on 2024-05-01 */
	a[1].min_age = 17;
	match_explain_hints(&p, &young, aptr, 1, &h);
	CHECK_INT(h.age_date, ymd(2025, 3, 1));
	/* too old is not too young: no date to wait for */
	struct match_youth old = base_youth();
	old.birth_date = ymd(1997, 1, 1);              /* 27, no RQTH */
	match_explain_hints(&p, &old, aptr + 4, 1, &h);
	CHECK(h.age_index == MATCH_NO_HINT);
	/* erased (no birth date): nothing to say */
	old.birth_date = DATE_NONE;
	match_explain_hints(&p, &old, aptr + 4, 1, &h);
	CHECK(h.age_index == MATCH_NO_HINT);

	/* no_free_place: the first day a whole period (6 months) is free */
	struct match_offer f[3];
	for (int i = 0; i < 3; i++) {
		f[i] = base_offer();
		f[i].id = 30 + i;
		f[i].capacity = 1;
	}
	f[2].available_until = ymd(2024, 6, 30);       /* frees up too late for an entry */
	const struct occupancy busy[] = {
		/* f[0]'s place (place 0 of each offer in the fake): see below */
		{0, ymd(2024, 3, 1), ymd(2024, 7, 15)},
	};
	struct fake_inventory binv = {busy, 1, 0};
	p.ctx = &binv;
	const struct match_offer *fptr[3] = {&f[0], &f[1], &f[2]};
	match_explain_hints(&p, &y, fptr, 3, &h);
	/* every offer's place 0 is busy until 2024-07-15 in the fake: the
	 * earliest is f[0] (smaller id) on 2024-07-15; f[2] takes no entry then */
	CHECK_INT((int)h.free_index, 0);
	CHECK_INT(h.free_date, ymd(2024, 7, 15));
	CHECK(h.distance_index == MATCH_NO_HINT && h.age_index == MATCH_NO_HINT);
	match_explain_hints(&p, &y, fptr + 2, 1, &h);
	CHECK(h.free_index == MATCH_NO_HINT);
	/* a gap shorter than the period does not count: busy [03-01, 07-15)
	 * and [09-01, 2025-06-01): the 48 free days between are too few */
	const struct occupancy gap[] = {
		{0, ymd(2024, 3, 1), ymd(2024, 7, 15)},
		{0, ymd(2024, 9, 1), ymd(2025, 6, 1)},
	};
	struct fake_inventory ginv = {gap, 2, 0};
	p.ctx = &ginv;
	match_explain_hints(&p, &y, fptr, 1, &h);
	CHECK_INT(h.free_date, ymd(2025, 6, 1));
	/* with a cap of 40 days the gap is enough */
	f[0].max_stay_days = 40;
	match_explain_hints(&p, &y, fptr, 1, &h);
	CHECK_INT(h.free_date, ymd(2024, 7, 15));
	f[0].max_stay_days = 0;
	/* one becoming too old before the place frees up: no hint (25 on
	 * 2024-05-01, 26 on 2024-06-01) */
	struct match_youth nearly = base_youth();
	nearly.birth_date = ymd(1998, 6, 1);
	p.ctx = &binv;
	match_explain_hints(&p, &nearly, fptr, 1, &h);
	CHECK(h.free_index == MATCH_NO_HINT);
	/* an offer the matcher keeps out for staleness or a recent decline
	 * gives no hint either, even though a place frees up */
	p.ctx = &binv;
	match_explain_hints(&p, &y, fptr, 1, &h);
	CHECK_INT((int)h.free_index, 0);
	p.reconfirm_days = 30;
	f[0].confirmed_on = p.today - 61;              /* stale */
	match_explain_hints(&p, &y, fptr, 1, &h);
	CHECK(h.free_index == MATCH_NO_HINT);
	f[0].confirmed_on = p.today - 60;              /* only to reconfirm: still a hint */
	match_explain_hints(&p, &y, fptr, 1, &h);
	CHECK_INT((int)h.free_index, 0);
	struct match_decline dec[] = {{f[0].id, p.today - 3}};
	struct match_youth decl = y;
	decl.declines = dec;
	decl.ndeclines = 1;
	p.refusal_cooldown_days = 20;
	match_explain_hints(&p, &decl, fptr, 1, &h);
	CHECK(h.free_index == MATCH_NO_HINT);
	p.refusal_cooldown_days = 0;
	match_explain_hints(&p, &decl, fptr, 1, &h);
	CHECK_INT((int)h.free_index, 0);
	/* the distance hint too: o[0] at 50 km, declined lately (o[0] was
	 * never confirmed: freshness off) */
	p.reconfirm_days = 0;
	struct match_decline dec0[] = {{o[0].id, p.today - 3}};
	decl.declines = dec0;
	p.refusal_cooldown_days = 20;
	p.ctx = &inv;
	match_explain_hints(&p, &decl, ptr, 1, &h);
	CHECK(h.distance_index == MATCH_NO_HINT);
	match_explain_hints(&p, &y, ptr, 1, &h);
	CHECK_INT((int)h.distance_index, 0);
	p.refusal_cooldown_days = 0;
	p.reconfirm_days = 0;
	p.ctx = &binv;
	/* without next_free the matcher cannot say */
	p.next_free = NULL;
	match_explain_hints(&p, &y, fptr, 1, &h);
	CHECK(h.free_index == MATCH_NO_HINT);
}

/* Freshness and the refusal cooldown, at their edges, and their place in
 * the order: after wheelchair, declined_recently before stale before
 * no_free_place; the fast ranking path agrees with match_eligible. */
static void test_stale_and_declined(void)
{
	struct match_params p = base_params();     /* today 2024-05-01 */
	p.reconfirm_days = 30;
	p.refusal_cooldown_days = 20;
	struct match_youth y = base_youth();
	struct match_offer o = base_offer();
	o.confirmed_on = p.today - 30;
	CHECK(!match_offer_to_reconfirm(&p, &o));
	o.confirmed_on = p.today - 31;
	CHECK(match_offer_to_reconfirm(&p, &o));
	CHECK(!match_offer_stale(&p, &o));
	CHECK_INT(rule(&p, &y, &o), MATCH_OK);
	o.confirmed_on = p.today - 60;
	CHECK_INT(rule(&p, &y, &o), MATCH_OK);
	o.confirmed_on = p.today - 61;
	CHECK(match_offer_stale(&p, &o));
	CHECK_INT(rule(&p, &y, &o), MATCH_RULE_STALE);
	o.confirmed_on = DATE_NONE;                /* never goes stale */
	CHECK_INT(rule(&p, &y, &o), MATCH_OK);
	p.reconfirm_days = 0;                      /* freshness off */
	o.confirmed_on = p.today - 1000;
	CHECK_INT(rule(&p, &y, &o), MATCH_OK);
	p.reconfirm_days = 30;

	/* declines sorted by offer id; offer 5 declined 19 days ago */
	struct match_decline d[] = {{2, p.today - 100}, {5, p.today - 19}, {9, p.today}};
	y.declines = d;
	y.ndeclines = 3;
	o.id = 5;
	o.confirmed_on = p.today - 61;             /* also stale: declined comes first */
	CHECK_INT(rule(&p, &y, &o), MATCH_RULE_DECLINED_RECENTLY);
	o.confirmed_on = p.today;
	d[1].on = p.today - 20;                    /* back on day d + 20 */
	CHECK_INT(rule(&p, &y, &o), MATCH_OK);
	d[1].on = p.today - 19;
	o.id = 9;
	CHECK_INT(rule(&p, &y, &o), MATCH_RULE_DECLINED_RECENTLY);
	o.id = 2;
	CHECK_INT(rule(&p, &y, &o), MATCH_OK);
	o.id = 3;                                  /* not declined */
	CHECK_INT(rule(&p, &y, &o), MATCH_OK);
	o.id = 5;
	y.has_pets = true;                         /* pets comes before declined */
	CHECK_INT(rule(&p, &y, &o), MATCH_RULE_PETS);
	y.has_pets = false;
	o.capacity = 0;                            /* declined before no_free_place */
	CHECK_INT(rule(&p, &y, &o), MATCH_RULE_DECLINED_RECENTLY);
	p.refusal_cooldown_days = 0;
	CHECK_INT(rule(&p, &y, &o), MATCH_RULE_NO_FREE_PLACE);
	p.refusal_cooldown_days = 20;
	o.capacity = 2;

	/* ranking with and without explain leaves out the same offers */
	struct match_offer os[4];
	const struct match_offer *ptr[4];
	for (int i = 0; i < 4; i++) {
		os[i] = base_offer();
		os[i].id = i + 4;                  /* 4, 5, 6, 7 */
		os[i].confirmed_on = p.today;
		ptr[i] = &os[i];
	}
	os[2].confirmed_on = p.today - 61;         /* 6: stale */
	os[3].confirmed_on = p.today - 45;         /* 7: to reconfirm, still matched */
	size_t excluded[MATCH_RULE_COUNT];
	struct match_result out[4];
	int n = match_rank_offers(&p, &y, ptr, 4, 4, out, excluded);
	CHECK_INT(n, 2);
	CHECK_INT(excluded[MATCH_RULE_DECLINED_RECENTLY], 1);
	CHECK_INT(excluded[MATCH_RULE_STALE], 1);
	int m = match_rank_offers(&p, &y, ptr, 4, 4, out, NULL);
	CHECK_INT(m, 2);
	bool seen4 = false, seen7 = false;
	for (int i = 0; i < m; i++) {
		seen4 |= out[i].index == 0;
		seen7 |= out[i].index == 3;
	}
	CHECK(seen4 && seen7);
}

int main(void)
{
	test_codes();
	test_weights();
	test_distance();
	test_period();
	test_age();
	test_closed();
	test_other_rules();
	test_free_places();
	test_rule_order();
	test_score_values();
	test_score_random();
	test_priority();
	test_heap();
	test_rank_offers();
	test_rank_youth();
	test_hints();
	test_stale_and_declined();
	return unit_done("test_match");
}
