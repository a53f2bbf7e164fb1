/*
 * The matcher (see include/siaod/match.h): eligibility rules, the explainable
 * score, priority and top-k. Pure C over the caller's structs.
 *
 * Every ratio that becomes points goes through ratio_points(), in integers,
 * so that the same inputs give the same points on every machine and a better
 * input never gives fewer points.
 */
#include "siaod/match.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define EARTH_RADIUS_KM 6371.0
#define PI 3.14159265358979323846

#define AGE_MIN 16
#define AGE_MAX 25
#define AGE_MAX_RQTH 29

/* Effort rates (charge / income) bounding the affordability slope. */
#define EFFORT_FULL_PCT 30
#define EFFORT_NONE_PCT 60

#define AVAILABILITY_HORIZON_DAYS 90

#define WAIT_CAP_DAYS 365
#define WAIT_MAX_POINTS 100
#define EXIT_WINDOW_DAYS 30
#define EXIT_POINTS 200

/* A hundred years: beyond any real wish, and far from int overflow in
 * date_add_months. */
#define WANTED_MONTHS_MAX 1200

/* ---- codes ---- */

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

#define KIND_CODE_(name, code) [MATCH_KIND_##name] = (code),
const char *const match_kind_codes[] = {MATCH_KINDS(KIND_CODE_) NULL};
#undef KIND_CODE_
const char *const match_offer_gender_codes[] = {"any", "female", "male", NULL};
const char *const match_gender_codes[] = {"female", "male", "other", NULL};
const char *const match_household_codes[] = {
	"alone", "couple", "with_children", NULL};
const char *const match_support_codes[] = {"light", "standard", "intensive", NULL};
const char *const match_situation_codes[] = {
	"street", "emergency_shelter", "precarious", "institution_exit",
	"family_breakdown", NULL};
const char *const match_need_codes[] = {
	"wheelchair", "mental_health", "addiction", "justice_followup",
	"pregnancy", NULL};
static const char *const rule_codes[] = {
	"closed", "distance", "age", "gender", "household", "pets",
	"wheelchair", "declined_recently", "stale", "no_free_place"};
#define FACTOR_CODE_(name, code) [MATCH_FACTOR_##name] = (code),
static const char *const factor_codes[] = {MATCH_FACTORS(FACTOR_CODE_)};
#undef FACTOR_CODE_

_Static_assert(COUNT_OF(match_kind_codes) == MATCH_KIND_COUNT + 1, "kind codes");
_Static_assert(COUNT_OF(match_offer_gender_codes) == MATCH_OFFER_GENDER_COUNT + 1, "offer gender codes");
_Static_assert(COUNT_OF(match_gender_codes) == MATCH_GENDER_COUNT + 1, "gender codes");
_Static_assert(COUNT_OF(match_household_codes) == MATCH_HOUSEHOLD_COUNT + 1, "household codes");
_Static_assert(COUNT_OF(match_support_codes) == MATCH_SUPPORT_COUNT + 1, "support codes");
_Static_assert(COUNT_OF(match_situation_codes) == MATCH_SITUATION_COUNT + 1, "situation codes");
_Static_assert(COUNT_OF(match_need_codes) == MATCH_NEED_COUNT + 1, "need codes");
_Static_assert(COUNT_OF(rule_codes) == MATCH_RULE_COUNT, "rule codes");
_Static_assert(COUNT_OF(factor_codes) == MATCH_FACTOR_COUNT, "factor codes");

static const char *code_of(const char *const codes[], size_t n, int v)
{
	return v >= 0 && (size_t)v < n ? codes[v] : NULL;
}

static int index_of(const char *const codes[], size_t n, const char *s)
{
	for (size_t i = 0; s && i < n; i++)
		if (strcmp(codes[i], s) == 0)
			return (int)i;
	return -1;
}

const char *match_kind_code(enum match_kind v)
{
	return code_of(match_kind_codes, MATCH_KIND_COUNT, (int)v);
}

const char *match_offer_gender_code(enum match_offer_gender v)
{
	return code_of(match_offer_gender_codes, MATCH_OFFER_GENDER_COUNT, (int)v);
}

const char *match_gender_code(enum match_gender v)
{
	return code_of(match_gender_codes, MATCH_GENDER_COUNT, (int)v);
}

const char *match_household_code(enum match_household v)
{
	return code_of(match_household_codes, MATCH_HOUSEHOLD_COUNT, (int)v);
}

const char *match_support_code(enum match_support v)
{
	return code_of(match_support_codes, MATCH_SUPPORT_COUNT, (int)v);
}

const char *match_situation_code(enum match_situation v)
{
	return code_of(match_situation_codes, MATCH_SITUATION_COUNT, (int)v);
}

const char *match_need_code(int bit)
{
	return code_of(match_need_codes, MATCH_NEED_COUNT, bit);
}

const char *match_rule_code(enum match_rule r)
{
	if (r == MATCH_OK)
		return "ok";
	return code_of(rule_codes, COUNT_OF(rule_codes), (int)r);
}

const char *match_factor_code(enum match_factor_id f)
{
	return code_of(factor_codes, COUNT_OF(factor_codes), (int)f);
}

bool match_kind_parse(const char *s, enum match_kind *out)
{
	int i = index_of(match_kind_codes, MATCH_KIND_COUNT, s);
	if (i < 0)
		return false;
	*out = (enum match_kind)i;
	return true;
}

bool match_offer_gender_parse(const char *s, enum match_offer_gender *out)
{
	int i = index_of(match_offer_gender_codes, MATCH_OFFER_GENDER_COUNT, s);
	if (i < 0)
		return false;
	*out = (enum match_offer_gender)i;
	return true;
}

bool match_gender_parse(const char *s, enum match_gender *out)
{
	int i = index_of(match_gender_codes, MATCH_GENDER_COUNT, s);
	if (i < 0)
		return false;
	*out = (enum match_gender)i;
	return true;
}

bool match_household_parse(const char *s, enum match_household *out)
{
	int i = index_of(match_household_codes, MATCH_HOUSEHOLD_COUNT, s);
	if (i < 0)
		return false;
	*out = (enum match_household)i;
	return true;
}

bool match_support_parse(const char *s, enum match_support *out)
{
	int i = index_of(match_support_codes, MATCH_SUPPORT_COUNT, s);
	if (i < 0)
		return false;
	*out = (enum match_support)i;
	return true;
}

bool match_situation_parse(const char *s, enum match_situation *out)
{
	int i = index_of(match_situation_codes, MATCH_SITUATION_COUNT, s);
	if (i < 0)
		return false;
	*out = (enum match_situation)i;
	return true;
}

bool match_need_parse(const char *s, unsigned *bit_out)
{
	int i = index_of(match_need_codes, MATCH_NEED_COUNT, s);
	if (i < 0)
		return false;
	*bit_out = 1u << i;
	return true;
}

/* ---- weights ---- */

bool match_weights_valid(const struct match_weights *w)
{
	const int v[] = {w->distance, w->duration, w->affordability, w->support,
			 w->availability};
	int sum = 0;
	for (size_t i = 0; i < COUNT_OF(v); i++) {
		if (v[i] < 0 || v[i] > 100)
			return false;
		sum += v[i];
	}
	return sum == 100;
}

struct match_weights match_weights_default(void)
{
	return (struct match_weights){.distance = MATCH_WEIGHT_DEFAULT_DISTANCE,
				      .duration = MATCH_WEIGHT_DEFAULT_DURATION,
				      .affordability = MATCH_WEIGHT_DEFAULT_AFFORDABILITY,
				      .support = MATCH_WEIGHT_DEFAULT_SUPPORT,
				      .availability = MATCH_WEIGHT_DEFAULT_AVAILABILITY};
}

/* ---- distance and period ---- */

/* The distance rules and points work on 0.1 km steps, as integers, so the
 * comparison with max_distance_km cannot be spoilt by a last binary digit. */
static long long distance_tenths_from(double lat1, double lon1, double cos_lat1, double lat2, double lon2)
{
	const double rad = PI / 180.0;
	double s_lat = sin((lat2 - lat1) * rad / 2);
	double s_lon = sin((lon2 - lon1) * rad / 2);
	double a = s_lat * s_lat + cos_lat1 * cos(lat2 * rad) * s_lon * s_lon;
	if (a > 1)
		a = 1;
	double km = 2 * EARTH_RADIUS_KM * asin(sqrt(a));
	if (!isfinite(km))
		return LLONG_MAX;   /* missing coordinates: out of anyone's reach */
	return llround(km * 10);
}

static long long distance_tenths(double lat1, double lon1, double lat2, double lon2)
{
	return distance_tenths_from(lat1, lon1, cos(lat1 * (PI / 180.0)), lat2, lon2);
}

static long long max_tenths(double km)
{
	if (!(km > 0))
		return 0;
	if (km > 1e6)
		return 10000000;    /* farther than any two points on Earth */
	return llround(km * 10);
}

double match_distance_km(double lat1, double lon1, double lat2, double lon2)
{
	long long t = distance_tenths(lat1, lon1, lat2, lon2);
	return t == LLONG_MAX ? HUGE_VAL : (double)t / 10;
}

static int wanted_months(const struct match_youth *y)
{
	if (y->wanted_months < 1)
		return 1;
	return y->wanted_months > WANTED_MONTHS_MAX ? WANTED_MONTHS_MAX : y->wanted_months;
}

static sdate wished_start(const struct match_youth *y, sdate today)
{
	return y->wanted_from != DATE_NONE && y->wanted_from > today ? y->wanted_from : today;
}

void match_period(const struct match_youth *y, const struct match_offer *o,
		  sdate on, sdate today, sdate *start, sdate *end)
{
	sdate s = on != DATE_NONE ? on : wished_start(y, today);
	sdate e = date_add_months(s, wanted_months(y));
	if (o->max_stay_days > 0 && e - s > o->max_stay_days)
		e = s + o->max_stay_days;
	*start = s;
	*end = e;
}

/* ---- eligibility ---- */

static bool age_in(bool rqth, int min_age, int max_age, int age)
{
	int lo = min_age > AGE_MIN ? min_age : AGE_MIN;
	int hi = rqth ? AGE_MAX_RQTH : AGE_MAX;
	if (max_age > 0 && max_age < hi)
		hi = max_age;
	return age >= lo && age <= hi;
}

static bool age_ok(const struct match_youth *y, const struct match_offer *o, int age)
{
	return age_in(y->rqth, o->min_age, o->max_age, age);
}

static bool gender_ok(const struct match_youth *y, const struct match_offer *o)
{
	switch (o->gender) {
	case MATCH_OFFER_GENDER_FEMALE:
		return y->gender == MATCH_GENDER_FEMALE;
	case MATCH_OFFER_GENDER_MALE:
		return y->gender == MATCH_GENDER_MALE;
	default:
		return true;
	}
}

static bool household_ok(const struct match_youth *y, const struct match_offer *o)
{
	switch (y->household) {
	case MATCH_HOUSEHOLD_COUPLE:
		return o->accepts_couples;
	case MATCH_HOUSEHOLD_WITH_CHILDREN:
		return o->accepts_children;
	default:
		return true;
	}
}

static bool open_between(bool open, sdate from, sdate until, sdate start)
{
	return open && (from == DATE_NONE || start >= from) &&
	       (until == DATE_NONE || start <= until);
}

static bool open_on(const struct match_offer *o, sdate start)
{
	return open_between(o->open, o->available_from, o->available_until, start);
}

/* ---- freshness and refusals ---- */

bool match_offer_to_reconfirm(const struct match_params *p, const struct match_offer *o)
{
	return p->reconfirm_days > 0 && o->confirmed_on != DATE_NONE &&
	       (long long)p->today - o->confirmed_on > p->reconfirm_days;
}

static bool stale_since(const struct match_params *p, sdate confirmed_on)
{
	return p->reconfirm_days > 0 && confirmed_on != DATE_NONE &&
	       (long long)p->today - confirmed_on > 2LL * p->reconfirm_days;
}

bool match_offer_stale(const struct match_params *p, const struct match_offer *o)
{
	return stale_since(p, o->confirmed_on);
}

static bool declined_id(const struct match_params *p, const struct match_youth *y, int64_t id)
{
	if (p->refusal_cooldown_days <= 0 || y->ndeclines == 0)
		return false;
	/* binary search: a young person may have declined many offers */
	size_t lo = 0, hi = y->ndeclines;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (y->declines[mid].offer_id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == y->ndeclines || y->declines[lo].offer_id != id)
		return false;
	return (long long)p->today - y->declines[lo].on < p->refusal_cooldown_days;
}

bool match_declined_recently(const struct match_params *p, const struct match_youth *y,
			     const struct match_offer *o)
{
	return declined_id(p, y, o->id);
}

/* The rules in their documented order; free places are asked last because
 * the callback is the only part that may cost something. */
static enum match_rule first_failed(const struct match_params *p,
				    const struct match_youth *y,
				    const struct match_offer *o,
				    long long tenths, struct match_check *c)
{
	if (!open_on(o, c->start))
		return MATCH_RULE_CLOSED;
	if (tenths > max_tenths(y->max_distance_km))
		return MATCH_RULE_DISTANCE;
	if (!age_ok(y, o, c->age))
		return MATCH_RULE_AGE;
	if (!gender_ok(y, o))
		return MATCH_RULE_GENDER;
	if (!household_ok(y, o))
		return MATCH_RULE_HOUSEHOLD;
	if (y->has_pets && !o->accepts_pets)
		return MATCH_RULE_PETS;
	if ((y->needs & MATCH_NEED_WHEELCHAIR) && !o->wheelchair_accessible)
		return MATCH_RULE_WHEELCHAIR;
	if (match_declined_recently(p, y, o))
		return MATCH_RULE_DECLINED_RECENTLY;
	if (match_offer_stale(p, o))
		return MATCH_RULE_STALE;
	if (o->capacity <= 0)
		c->free_places = 0;
	else if (p->free_places)
		c->free_places = p->free_places(p->ctx, o, c->start, c->end);
	else
		c->free_places = o->capacity;
	if (c->free_places <= 0)
		return MATCH_RULE_NO_FREE_PLACE;
	return MATCH_OK;
}

enum match_rule match_eligible(const struct match_params *p,
			       const struct match_youth *y,
			       const struct match_offer *o,
			       struct match_check *out)
{
	struct match_check c = {.age = -1, .free_places = -1};
	match_period(y, o, p->on, p->today, &c.start, &c.end);
	long long tenths = distance_tenths(y->lat, y->lon, o->lat, o->lon);
	c.distance_km = tenths == LLONG_MAX ? HUGE_VAL : (double)tenths / 10;
	if (y->birth_date != DATE_NONE)
		c.age = date_age_years(y->birth_date, c.start);
	enum match_rule r = first_failed(p, y, o, tenths, &c);
	if (out)
		*out = c;
	return r;
}

/* ---- explanation hints ---- */

/* The rules after age, which no wished date or distance changes: a hint
 * towards an offer the young person declined lately, or one whose capacity
 * nobody confirmed, would point at an offer the matcher keeps out anyway. */
static bool later_rules_ok(const struct match_params *p, const struct match_youth *y,
			   const struct match_offer *o)
{
	return gender_ok(y, o) && household_ok(y, o) && (!y->has_pets || o->accepts_pets) &&
	       (!(y->needs & MATCH_NEED_WHEELCHAIR) || o->wheelchair_accessible) &&
	       !match_declined_recently(p, y, o) && !match_offer_stale(p, o);
}

/* The first day on which the young person born on `birth` is `years` old,
 * as date_age_years counts. */
static sdate birthday(sdate birth, int years)
{
	sdate d = date_add_months(birth, 12 * years);
	/* 29 February in a year without one: date_add_months gives the 28th,
	 * on which the age is not reached yet */
	while (date_age_years(birth, d) < years)
		d++;
	return d;
}

/* The day the young person becomes old enough for o, or DATE_NONE. */
static sdate old_enough_on(const struct match_params *p, const struct match_youth *y,
			   const struct match_offer *o, sdate start)
{
	if (y->birth_date == DATE_NONE || !later_rules_ok(p, y, o))
		return DATE_NONE;
	int lo = o->min_age > AGE_MIN ? o->min_age : AGE_MIN;
	int hi = y->rqth ? AGE_MAX_RQTH : AGE_MAX;
	if (o->max_age > 0 && o->max_age < hi)
		hi = o->max_age;
	if (lo > hi || date_age_years(y->birth_date, start) >= lo)
		return DATE_NONE;   /* never eligible, or too old rather than too young */
	sdate d = birthday(y->birth_date, lo);
	return open_on(o, d) ? d : DATE_NONE;
}

/* The earliest day from `from` on which a whole period starting that day
 * is free, or DATE_NONE. The period's length moves a little with its start
 * (calendar months), so ask again from the day found until it holds. */
static sdate first_free_start(const struct match_params *p, const struct match_youth *y,
			      const struct match_offer *o, sdate from)
{
	sdate d = from;
	for (int round = 0; round < 64; round++) {
		if (!open_on(o, d))
			return DATE_NONE;
		sdate s, e;
		match_period(y, o, d, p->today, &s, &e);
		sdate next = p->next_free(p->ctx, o, d, (int)(e - s));
		if (next == DATE_NONE || next < d)
			return DATE_NONE;
		if (next == d)
			return d;
		d = next;
	}
	return DATE_NONE;
}

void match_explain_hints(const struct match_params *p, const struct match_youth *y,
			 const struct match_offer *const offers[], size_t n,
			 struct match_hints *out)
{
	struct match_hints h = {.distance_index = MATCH_NO_HINT, .age_index = MATCH_NO_HINT,
				.free_index = MATCH_NO_HINT};
	long long best_tenths = LLONG_MAX;
	for (size_t i = 0; i < n; i++) {
		const struct match_offer *o = offers[i];
		struct match_check c = {.age = -1, .free_places = -1};
		match_period(y, o, p->on, p->today, &c.start, &c.end);
		if (y->birth_date != DATE_NONE)
			c.age = date_age_years(y->birth_date, c.start);
		if (!open_on(o, c.start))
			continue;
		long long tenths = distance_tenths(y->lat, y->lon, o->lat, o->lon);
		if (tenths > max_tenths(y->max_distance_km)) {
			/* distance is its only fault, and a place waits */
			if (tenths == LLONG_MAX || !age_ok(y, o, c.age) || !later_rules_ok(p, y, o) ||
			    o->capacity <= 0)
				continue;
			const struct match_offer *b = h.distance_index == MATCH_NO_HINT
							      ? NULL : offers[h.distance_index];
			if (tenths > best_tenths || (tenths == best_tenths && b && o->id >= b->id))
				continue;
			int fp = p->free_places ? p->free_places(p->ctx, o, c.start, c.end) : o->capacity;
			if (fp > 0) {
				best_tenths = tenths;
				h.distance_index = i;
				h.distance_km = (double)tenths / 10;
			}
			continue;
		}
		if (!age_ok(y, o, c.age)) {
			sdate d = old_enough_on(p, y, o, c.start);
			if (d != DATE_NONE && (h.age_index == MATCH_NO_HINT || d < h.age_date ||
					       (d == h.age_date && o->id < offers[h.age_index]->id)))
				h.age_index = i, h.age_date = d;
			continue;
		}
		if (!later_rules_ok(p, y, o) || o->capacity <= 0 || !p->next_free)
			continue;
		int fp = p->free_places ? p->free_places(p->ctx, o, c.start, c.end) : o->capacity;
		if (fp > 0)
			continue;   /* eligible: no hint needed */
		sdate d = first_free_start(p, y, o, c.start);
		if (d == DATE_NONE || (y->birth_date != DATE_NONE && !age_ok(y, o, date_age_years(y->birth_date, d))))
			continue;
		if (h.free_index == MATCH_NO_HINT || d < h.free_date ||
		    (d == h.free_date && o->id < offers[h.free_index]->id))
			h.free_index = i, h.free_date = d;
	}
	*out = h;
}

/* ---- score ---- */

/* weight * num / den rounded to the nearest integer, for 0 <= num <= den. */
static int ratio_points(int weight, long long num, long long den)
{
	if (weight <= 0 || num <= 0 || den <= 0)
		return 0;
	if (num >= den)
		return weight;
	return (int)((2LL * weight * num + den) / (2 * den));
}

/* The details are written piece by piece into their buffer, cut as
 * snprintf would cut them (the same bytes: printf was most of the cost of
 * a reply's reasons). */
struct text {
	char *at;
	size_t left;                /* room, the final NUL included */
};

static struct text text_in(char *buf, size_t size)
{
	if (size)
		buf[0] = '\0';
	return (struct text){buf, size};
}

static void put_s(struct text *t, const char *s)
{
	size_t n = strlen(s);
	if (t->left == 0)
		return;
	if (n >= t->left)
		n = t->left - 1;
	memcpy(t->at, s, n);
	t->at += n;
	t->left -= n;
	t->at[0] = '\0';
}

/* printf's %lld */
static void put_ll(struct text *t, long long v)
{
	char tmp[24], *e = tmp + sizeof tmp, *q = e;
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
	*--q = '\0';
	do
		*--q = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (v < 0)
		*--q = '-';
	put_s(t, q);
}

/* "12,4" from 124: French decimal comma ("%lld,%lld" of tenths / 10 and
 * tenths % 10). */
static void put_tenths(struct text *t, long long tenths)
{
	put_ll(t, tenths / 10);
	put_s(t, ",");
	put_ll(t, tenths % 10);
}

/* Whole numbers without ",0", for limits the referent typed. */
static void put_limit(struct text *t, long long tenths)
{
	if (tenths % 10 == 0)
		put_ll(t, tenths / 10);
	else
		put_tenths(t, tenths);
}

/* "%lld €", or "%lld,%02lld €" with cents */
static void put_euros(struct text *t, long long cents)
{
	put_ll(t, cents / 100);
	long long c = cents % 100;
	if (c != 0) {
		put_s(t, ",");
		if (c >= 0 && c < 10)
			put_s(t, "0");
		put_ll(t, c);
	}
	put_s(t, " €");
}

static const char *days_word(long long n)
{
	return n == 1 ? "jour" : "jours";
}

static int score_distance(int weight, const struct match_youth *y,
			  const struct match_offer *o, char *detail)
{
	long long d = distance_tenths(y->lat, y->lon, o->lat, o->lon);
	long long max = max_tenths(y->max_distance_km);
	int points;
	if (d > max)
		points = 0;
	else if (max == 0)
		points = weight < 0 ? 0 : weight;   /* same place, no leeway asked */
	else
		points = ratio_points(weight, max - d, max);
	if (detail) {
		struct text t = text_in(detail, MATCH_DETAIL_MAX);
		if (d == LLONG_MAX) {
			put_s(&t, "distance inconnue (max ");
		} else {
			put_s(&t, "à ");
			put_tenths(&t, d);
			put_s(&t, " km du lieu souhaité (max ");
		}
		put_limit(&t, max);
		put_s(&t, " km)");
	}
	return points;
}

static int score_duration(int weight, const struct match_youth *y,
			  const struct match_offer *o, sdate start, sdate end,
			  char *detail)
{
	int months = wanted_months(y);
	long long wanted = date_add_months(start, months) - start;
	long long got = end - start;
	int points = ratio_points(weight, got, wanted);
	if (!detail)
		return points;
	struct text t = text_in(detail, MATCH_DETAIL_MAX);
	put_ll(&t, months);
	if (o->max_stay_days <= 0) {
		put_s(&t, " mois souhaités, sans durée maximale");
	} else if (got >= wanted) {
		put_s(&t, " mois souhaités, dans la limite de ");
		put_ll(&t, o->max_stay_days);
		put_s(&t, " jours");
	} else {
		put_s(&t, " mois souhaités (");
		put_ll(&t, wanted);
		put_s(&t, " jours), séjour limité à ");
		put_ll(&t, got);
		put_s(&t, " ");
		put_s(&t, days_word(got));
	}
	return points;
}

static long long to_cents(double eur)
{
	if (!(eur > 0))
		return 0;
	return eur > 1e9 ? 100000000000LL : llround(eur * 100);
}

/* Full up to the FULL rate, nothing from the NONE rate: points follow
 * NONE% * income - charge over (NONE - FULL)% * income. */
static int affordability_points(int weight, long long charge, long long income)
{
	if (charge == 0)
		return weight < 0 ? 0 : weight;
	if (income == 0)
		return 0;
	long long room = EFFORT_NONE_PCT * income - 100 * charge;
	long long span = (EFFORT_NONE_PCT - EFFORT_FULL_PCT) * income;
	return ratio_points(weight, room, span);
}

static int score_affordability(int weight, const struct match_youth *y,
			       const struct match_offer *o, char *detail)
{
	long long charge = to_cents(o->monthly_charge_eur);
	long long income = to_cents(y->monthly_income_eur);
	int points = affordability_points(weight, charge, income);
	if (!detail)
		return points;
	struct text t = text_in(detail, MATCH_DETAIL_MAX);
	if (charge == 0) {
		put_s(&t, "sans charge mensuelle");
		return points;
	}
	put_s(&t, "charge de ");
	put_euros(&t, charge);
	if (income == 0) {
		put_s(&t, " par mois sans ressources déclarées");
	} else {
		put_s(&t, " par mois, taux d'effort de ");
		put_ll(&t, (100 * charge + income / 2) / income);
		put_s(&t, " %");
	}
	return points;
}

static int support_rank(enum match_support s)
{
	if ((int)s < MATCH_SUPPORT_LIGHT)
		return MATCH_SUPPORT_LIGHT;
	return s > MATCH_SUPPORT_INTENSIVE ? MATCH_SUPPORT_INTENSIVE : (int)s;
}

/* Needs that call for closer follow-up than the referent may have noted. */
static int effective_need(const struct match_youth *y)
{
	unsigned heavy = y->needs & (MATCH_NEED_MENTAL_HEALTH | MATCH_NEED_ADDICTION |
				     MATCH_NEED_JUSTICE_FOLLOWUP);
	int n = 0;
	for (; heavy; heavy &= heavy - 1)
		n++;
	int need = support_rank(y->support_need);
	if (n >= 2)
		return MATCH_SUPPORT_INTENSIVE;
	if (n == 1 && need < MATCH_SUPPORT_STANDARD)
		return MATCH_SUPPORT_STANDARD;
	return need;
}

/* Quarters of the weight by (offer level - need): more support than
 * needed costs a place someone else needs, less risks the stay. */
static int support_points(int weight, int need, int level)
{
	static const int quarters[] = {0, 1, 4, 3, 2};   /* index diff + 2 */
	return ratio_points(weight, quarters[level - need + 2], 4);
}

static int score_support(int weight, const struct match_youth *y,
			 const struct match_offer *o, char *detail)
{
	static const char *const label[] = {"léger", "standard", "intensif"};
	int need = effective_need(y);
	int level = support_rank(o->support_level);
	int points = support_points(weight, need, level);
	if (detail) {
		struct text t = text_in(detail, MATCH_DETAIL_MAX);
		put_s(&t, "accompagnement ");
		put_s(&t, label[level]);
		put_s(&t, " pour un besoin ");
		put_s(&t, label[need]);
	}
	return points;
}

static int score_availability(int weight, const struct match_params *p,
			      const struct match_youth *y, sdate start, char *detail)
{
	long long wished = wished_start(y, p->today);
	long long gap = start > wished ? start - wished : wished - start;
	int points = ratio_points(weight, AVAILABILITY_HORIZON_DAYS - gap,
				  AVAILABILITY_HORIZON_DAYS);
	if (!detail)
		return points;
	struct text t = text_in(detail, MATCH_DETAIL_MAX);
	if (gap == 0) {
		put_s(&t, "entrée possible à la date souhaitée");
	} else {
		put_s(&t, "entrée ");
		put_ll(&t, gap);
		put_s(&t, " ");
		put_s(&t, days_word(gap));
		put_s(&t, start > wished ? " après" : " avant");
		put_s(&t, " la date souhaitée");
	}
	return points;
}

int match_score(const struct match_params *p, const struct match_youth *y,
		const struct match_offer *o,
		struct match_factor factors[MATCH_FACTOR_COUNT])
{
	const struct match_weights *w = &p->weights;
	sdate start, end;
	match_period(y, o, p->on, p->today, &start, &end);
	char *det[MATCH_FACTOR_COUNT] = {0};
	if (factors)
		for (int i = 0; i < MATCH_FACTOR_COUNT; i++)
			det[i] = factors[i].detail;
	int points[MATCH_FACTOR_COUNT] = {
		[MATCH_FACTOR_DISTANCE] = score_distance(w->distance, y, o,
							 det[MATCH_FACTOR_DISTANCE]),
		[MATCH_FACTOR_DURATION] = score_duration(w->duration, y, o, start, end,
							 det[MATCH_FACTOR_DURATION]),
		[MATCH_FACTOR_AFFORDABILITY] = score_affordability(
			w->affordability, y, o, det[MATCH_FACTOR_AFFORDABILITY]),
		[MATCH_FACTOR_SUPPORT] = score_support(w->support, y, o,
						       det[MATCH_FACTOR_SUPPORT]),
		[MATCH_FACTOR_AVAILABILITY] = score_availability(
			w->availability, p, y, start, det[MATCH_FACTOR_AVAILABILITY]),
	};
	int total = 0;
	for (int i = 0; i < MATCH_FACTOR_COUNT; i++) {
		total += points[i];
		if (factors) {
			factors[i].factor = (enum match_factor_id)i;
			factors[i].points = points[i];
		}
	}
	return total;
}

/* ---- priority ---- */

int match_priority(const struct match_youth *y, sdate today)
{
	static const int urgency[MATCH_SITUATION_COUNT] = {
		[MATCH_SITUATION_STREET] = 500,
		[MATCH_SITUATION_EMERGENCY_SHELTER] = 400,
		[MATCH_SITUATION_INSTITUTION_EXIT] = 300,
		[MATCH_SITUATION_FAMILY_BREAKDOWN] = 200,
		[MATCH_SITUATION_PRECARIOUS] = 100,
	};
	int prio = (int)y->situation >= 0 && y->situation < MATCH_SITUATION_COUNT
			   ? urgency[y->situation] : 0;
	if (y->registered_at != DATE_NONE && today > y->registered_at) {
		long long days = (long long)today - y->registered_at;
		if (days > WAIT_CAP_DAYS)
			days = WAIT_CAP_DAYS;
		prio += (int)(WAIT_MAX_POINTS * days / WAIT_CAP_DAYS);
	}
	if (y->institution_exit_date != DATE_NONE &&
	    llabs((long long)y->institution_exit_date - today) <= EXIT_WINDOW_DAYS)
		prio += EXIT_POINTS;
	return prio;
}

/* ---- top-k ---- */

static bool better(const struct match_cand *a, const struct match_cand *b)
{
	if (a->score != b->score)
		return a->score > b->score;
	if (a->t1 != b->t1)
		return a->t1 < b->t1;
	if (a->t2 != b->t2)
		return a->t2 < b->t2;
	return a->index < b->index;
}

static void swap_cand(struct match_cand *a, struct match_cand *b)
{
	struct match_cand t = *a;
	*a = *b;
	*b = t;
}

/* The root holds the worst candidate, so a newcomer only has to beat it. */
static void sift_up(struct match_cand *it, size_t i)
{
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!better(&it[parent], &it[i]))
			break;
		swap_cand(&it[parent], &it[i]);
		i = parent;
	}
}

static void sift_down(struct match_cand *it, size_t len, size_t i)
{
	for (;;) {
		size_t worst = i, l = 2 * i + 1, r = l + 1;
		if (l < len && better(&it[worst], &it[l]))
			worst = l;
		if (r < len && better(&it[worst], &it[r]))
			worst = r;
		if (worst == i)
			return;
		swap_cand(&it[i], &it[worst]);
		i = worst;
	}
}

void match_heap_init(struct match_heap *h, struct match_cand *storage, size_t k)
{
	h->items = storage;
	h->len = 0;
	h->cap = k;
}

void match_heap_push(struct match_heap *h, struct match_cand c)
{
	if (h->len < h->cap) {
		h->items[h->len] = c;
		sift_up(h->items, h->len++);
	} else if (h->cap > 0 && better(&c, &h->items[0])) {
		h->items[0] = c;
		sift_down(h->items, h->len, 0);
	}
}

size_t match_heap_finish(struct match_heap *h)
{
	size_t n = h->len;
	/* Heapsort: each round moves the worst left to the end, so the array
	 * ends up best first. */
	for (size_t len = n; len > 1; len--) {
		swap_cand(&h->items[0], &h->items[len - 1]);
		sift_down(h->items, len - 1, 0);
	}
	h->len = 0;
	return n;
}

/* ---- ranking ---- */

/* Room for the k best, k bounded by n so a generous limit costs nothing. */
static struct match_cand *cand_storage(size_t *k, size_t n)
{
	if (*k > n)
		*k = n;
	if (*k > INT_MAX)
		*k = INT_MAX;
	return malloc((*k ? *k : 1) * sizeof(struct match_cand));
}

/* The ranking's inner loop, for when no explanation is asked: what depends
 * only on the young person is computed once; the cheap rules come before
 * the haversine; and free places — the only costly question — are asked
 * only of an offer whose score would enter the top k. The result is the
 * one match_eligible + match_score give, offer by offer. */
static void rank_offers_fast(const struct match_params *p, const struct match_youth *y,
			     const struct match_offer *const offers[], size_t n,
			     struct match_heap *heap)
{
	const struct match_weights *w = &p->weights;
	sdate start = p->on != DATE_NONE ? p->on : wished_start(y, p->today);
	sdate wend = date_add_months(start, wanted_months(y));
	int age = y->birth_date != DATE_NONE ? date_age_years(y->birth_date, start) : -1;
	long long maxt = max_tenths(y->max_distance_km);
	int avail = score_availability(w->availability, p, y, start, NULL);
	for (size_t i = 0; i < n; i++) {
		const struct match_offer *o = offers[i];
		if (!open_on(o, start) || !age_ok(y, o, age) || !gender_ok(y, o) ||
		    !household_ok(y, o) || (y->has_pets && !o->accepts_pets) ||
		    ((y->needs & MATCH_NEED_WHEELCHAIR) && !o->wheelchair_accessible) ||
		    match_declined_recently(p, y, o) || match_offer_stale(p, o) ||
		    o->capacity <= 0)
			continue;
		long long d = distance_tenths(y->lat, y->lon, o->lat, o->lon);
		if (d > maxt)
			continue;
		sdate end = wend;
		if (o->max_stay_days > 0 && end - start > o->max_stay_days)
			end = start + o->max_stay_days;
		int dist = maxt == 0 ? (w->distance < 0 ? 0 : w->distance)
				     : ratio_points(w->distance, maxt - d, maxt);
		struct match_cand cand = {
			.score = dist + ratio_points(w->duration, end - start, wend - start) +
				 score_affordability(w->affordability, y, o, NULL) +
				 score_support(w->support, y, o, NULL) + avail,
			.t1 = d, .t2 = o->id, .index = i,
		};
		if (heap->cap == 0 || (heap->len == heap->cap && !better(&cand, &heap->items[0])))
			continue;
		int free_places = p->free_places ? p->free_places(p->ctx, o, start, end) : o->capacity;
		if (free_places > 0)
			match_heap_push(heap, cand);
	}
}

int match_rank_offers(const struct match_params *p, const struct match_youth *y,
		      const struct match_offer *const offers[], size_t n,
		      size_t k, struct match_result out[],
		      size_t excluded[MATCH_RULE_COUNT])
{
	if (excluded)
		memset(excluded, 0, MATCH_RULE_COUNT * sizeof excluded[0]);
	struct match_cand *store = cand_storage(&k, n);
	if (!store)
		return -1;
	struct match_heap heap;
	match_heap_init(&heap, store, k);
	if (!excluded)
		rank_offers_fast(p, y, offers, n, &heap);
	for (size_t i = 0; excluded && i < n; i++) {
		struct match_check c;
		enum match_rule r = match_eligible(p, y, offers[i], &c);
		if (r != MATCH_OK) {
			excluded[r]++;
			continue;
		}
		struct match_cand cand = {
			.score = match_score(p, y, offers[i], NULL),
			.t1 = llround(c.distance_km * 10),
			.t2 = offers[i]->id,
			.index = i,
		};
		match_heap_push(&heap, cand);
	}
	size_t m = match_heap_finish(&heap);
	/* Reasons only for the winners: formatting them for every offer would
	 * be most of the work. */
	for (size_t j = 0; j < m; j++) {
		const struct match_offer *o = offers[store[j].index];
		struct match_result *res = &out[j];
		res->index = store[j].index;
		res->item = o;
		res->priority = 0;
		match_eligible(p, y, o, &res->check);
		res->score = match_score(p, y, o, res->factors);
	}
	free(store);
	return (int)m;
}

int match_rank_youth(const struct match_params *p, const struct match_offer *o,
		     const struct match_youth *const youth[], size_t n,
		     size_t k, struct match_result out[],
		     size_t excluded[MATCH_RULE_COUNT])
{
	if (excluded)
		memset(excluded, 0, MATCH_RULE_COUNT * sizeof excluded[0]);
	struct match_cand *store = cand_storage(&k, n);
	if (!store)
		return -1;
	struct match_heap heap;
	match_heap_init(&heap, store, k);
	for (size_t i = 0; i < n; i++) {
		enum match_rule r = match_eligible(p, youth[i], o, NULL);
		if (r != MATCH_OK) {
			if (excluded)
				excluded[r]++;
			continue;
		}
		struct match_cand cand = {
			.score = match_score(p, youth[i], o, NULL),
			.t1 = -(int64_t)match_priority(youth[i], p->today),
			.t2 = youth[i]->id,
			.index = i,
		};
		match_heap_push(&heap, cand);
	}
	size_t m = match_heap_finish(&heap);
	for (size_t j = 0; j < m; j++) {
		const struct match_youth *y = youth[store[j].index];
		struct match_result *res = &out[j];
		res->index = store[j].index;
		res->item = y;
		res->priority = match_priority(y, p->today);
		match_eligible(p, y, o, &res->check);
		res->score = match_score(p, y, o, res->factors);
	}
	free(store);
	return (int)m;
}

/* ---- ranking by cells ---- */

/* Who an offer takes (match_packed.takes), against what a young person
 * needs of it: the gender, household, pets and wheelchair rules as one
 * mask test. */
enum {
	TAKES_FEMALE = 1u << 0,
	TAKES_MALE = 1u << 1,
	TAKES_OTHER = 1u << 2,      /* any other gender: only offers open to all */
	TAKES_COUPLE = 1u << 3,
	TAKES_CHILDREN = 1u << 4,
	TAKES_PETS = 1u << 5,
	TAKES_WHEELCHAIR = 1u << 6,
};

void match_pack_offer(const struct match_offer *o, struct match_packed *out)
{
	unsigned takes;
	switch (o->gender) {
	case MATCH_OFFER_GENDER_FEMALE:
		takes = TAKES_FEMALE;
		break;
	case MATCH_OFFER_GENDER_MALE:
		takes = TAKES_MALE;
		break;
	default:
		takes = TAKES_FEMALE | TAKES_MALE | TAKES_OTHER;
		break;
	}
	if (o->accepts_couples)
		takes |= TAKES_COUPLE;
	if (o->accepts_children)
		takes |= TAKES_CHILDREN;
	if (o->accepts_pets)
		takes |= TAKES_PETS;
	if (o->wheelchair_accessible)
		takes |= TAKES_WHEELCHAIR;
	*out = (struct match_packed){
		.id = o->id, .lat = o->lat, .lon = o->lon,
		.available_from = o->available_from, .available_until = o->available_until,
		.confirmed_on = o->confirmed_on, .max_stay_days = o->max_stay_days,
		.charge_cents = to_cents(o->monthly_charge_eur),
		.min_age = o->min_age, .max_age = o->max_age,
		.takes = (uint8_t)takes, .support_level = (uint8_t)support_rank(o->support_level),
		.open = o->open, .has_capacity = o->capacity > 0,
	};
}

/* What y needs of an offer, in match_packed.takes bits (gender_ok,
 * household_ok, pets, wheelchair). */
static unsigned youth_needs(const struct match_youth *y)
{
	unsigned need = y->gender == MATCH_GENDER_FEMALE ? TAKES_FEMALE
			: y->gender == MATCH_GENDER_MALE ? TAKES_MALE : TAKES_OTHER;
	if (y->household == MATCH_HOUSEHOLD_COUPLE)
		need |= TAKES_COUPLE;
	else if (y->household == MATCH_HOUSEHOLD_WITH_CHILDREN)
		need |= TAKES_CHILDREN;
	if (y->has_pets)
		need |= TAKES_PETS;
	if (y->needs & MATCH_NEED_WHEELCHAIR)
		need |= TAKES_WHEELCHAIR;
	return need;
}

static int at_least_zero(int v)
{
	return v > 0 ? v : 0;
}

/* What a ranking by cells works out once per young person (as
 * rank_offers_fast does). */
struct youth_view {
	sdate start, wend;
	int age;
	long long maxt;             /* reach in 0.1 km */
	int avail;                  /* availability points: the same for every offer */
	unsigned need;              /* match_packed.takes bits needed */
	int need_rank;
	long long income;           /* cents */
	double pv[3], chord2;       /* the grid's straight-line prefilter, same margin */
	double cos_lat;             /* the haversine's cos(lat) of the young person */
};

static void youth_view(const struct match_params *p, const struct match_youth *y,
		       struct youth_view *v)
{
	v->start = p->on != DATE_NONE ? p->on : wished_start(y, p->today);
	v->wend = date_add_months(v->start, wanted_months(y));
	v->age = y->birth_date != DATE_NONE ? date_age_years(y->birth_date, v->start) : -1;
	v->maxt = max_tenths(y->max_distance_km);
	v->avail = score_availability(p->weights.availability, p, y, v->start, NULL);
	v->need = youth_needs(y);
	v->need_rank = effective_need(y);
	v->income = to_cents(y->monthly_income_eur);
	const double rad = PI / 180.0;
	v->pv[0] = cos(y->lat * rad) * cos(y->lon * rad);
	v->pv[1] = cos(y->lat * rad) * sin(y->lon * rad);
	v->pv[2] = sin(y->lat * rad);
	v->cos_lat = cos(y->lat * (PI / 180.0));
	double theta = (y->max_distance_km + 0.2) * (1 + 1e-6) / EARTH_RADIUS_KM;
	double chord = theta >= PI || isnan(theta) ? 2.0 : 2 * sin(theta / 2);
	v->chord2 = chord * chord;
}

/* The cheap rules on the packed offer (open on the start, gender,
 * household, pets, wheelchair, capacity, age) and the grid's straight-line
 * prefilter; *chord2 gets the squared chord to the offer. */
static bool packed_cheap(const struct match_youth *y, const struct youth_view *v,
			 const struct match_packed *o, const double *xyz, double *chord2)
{
	if (!open_between(o->open, o->available_from, o->available_until, v->start) ||
	    (o->takes & v->need) != v->need || !o->has_capacity ||
	    !age_in(y->rqth, o->min_age, o->max_age, v->age))
		return false;
	double dx = xyz[0] - v->pv[0], dy = xyz[1] - v->pv[1], dz = xyz[2] - v->pv[2];
	*chord2 = dx * dx + dy * dy + dz * dz;
	return *chord2 <= v->chord2;
}

/*
 * The haversine's distance in 0.1 km, from the squared chord between the
 * unit vectors the grid keeps (one sqrt and one asin instead of three sines
 * and cosines): the same great-circle arc, both within 1e-9 km of it at
 * these distances, so both round to the same tenth unless the arc is within
 * 1e-7 km of a half tenth; there, the haversine itself decides. Every
 * answer stays the haversine's, bit for bit.
 */
static long long distance_tenths_chord(double chord2, const struct match_youth *y, const struct youth_view *v,
				       const struct match_packed *o)
{
	double half = sqrt(chord2) / 2;
	if (half < 0.5) {           /* under 1/3 of the way round: asin well-conditioned */
		double t = 2 * EARTH_RADIUS_KM * asin(half) * 10;
		double f = t - floor(t);
		if (f < 0.5 - 1e-6 || f > 0.5 + 1e-6)
			return llround(t);
	}
	return distance_tenths_from(y->lat, y->lon, v->cos_lat, o->lat, o->lon);
}

/* The rules after the cheap ones: the distance (*d gets it in 0.1 km, from
 * chord2, packed_cheap's), a recent refusal, a stale capacity. */
static bool packed_far_rules(const struct match_params *p, const struct match_youth *y,
			     const struct youth_view *v, const struct match_packed *o, double chord2,
			     long long *d)
{
	*d = distance_tenths_chord(chord2, y, v, o);
	return *d <= v->maxt && !declined_id(p, y, o->id) && !stale_since(p, o->confirmed_on);
}

/* Every rule but free places, on the packed offer; *d gets the distance
 * in 0.1 km when they pass. */
static bool packed_rules(const struct match_params *p, const struct match_youth *y,
			 const struct youth_view *v, const struct match_packed *o,
			 const double *xyz, long long *d)
{
	double chord2;
	return packed_cheap(y, v, o, xyz, &chord2) && packed_far_rules(p, y, v, o, chord2, d);
}

/* The distance points at d (0.1 km) for this young person's reach. */
static int distance_points(const struct match_weights *w, const struct youth_view *v, long long d)
{
	return v->maxt == 0 ? at_least_zero(w->distance) : ratio_points(w->distance, v->maxt - d, v->maxt);
}

/* match_score's points but distance for a packed offer; *end gets the end
 * of the period. */
static int packed_rest(const struct match_params *p, const struct youth_view *v,
		       const struct match_packed *o, sdate *end)
{
	const struct match_weights *w = &p->weights;
	sdate e = v->wend;
	if (o->max_stay_days > 0 && e - v->start > o->max_stay_days)
		e = v->start + o->max_stay_days;
	*end = e;
	return ratio_points(w->duration, e - v->start, v->wend - v->start) +
	       affordability_points(w->affordability, o->charge_cents, v->income) +
	       support_points(w->support, v->need_rank, o->support_level) + v->avail;
}

/* match_score's total for a packed offer at distance d; *end gets the
 * end of the period. */
static int packed_score(const struct match_params *p, const struct youth_view *v,
			const struct match_packed *o, long long d, sdate *end)
{
	return distance_points(&p->weights, v, d) + packed_rest(p, v, o, end);
}

/* A lower bound of the distance in 0.1 km, from the straight-line (chord)
 * distance between the unit vectors: an arc is never shorter than its
 * chord. The margin (0.01 of a tenth) covers the rounding of the unit
 * vectors and of the haversine many times over. */
static long long tenths_at_least(double chord2)
{
	double t = sqrt(chord2) * EARTH_RADIUS_KM * 10 - 0.01;
	return t > 0 ? (long long)t : 0;
}

/* Whether a candidate whose score is at most `best` and whose distance is
 * at least `near` (0.1 km) cannot beat the k-th kept: a tie on the score
 * wins only by a smaller distance (offer ids differ). */
static bool cannot_beat(int best, long long near, const struct match_cand *kth)
{
	return best < kth->score || (best == kth->score && near > kth->t1);
}

/* The squared chord beyond which no offer can beat the k-th kept even
 * with every other factor at its best (rest): tenths_at_least and
 * cannot_beat worked out once per k-th, not per offer (a square root and
 * a division for each of hundreds of offers). Conservative: an offer
 * beyond it is at least the first distance that cannot beat, with a
 * margin; HUGE_VAL when every distance in reach still could. */
static double chord_cut(const struct match_weights *w, const struct youth_view *v, int rest,
			const struct match_cand *kth)
{
	/* the first distance (0.1 km) that cannot beat: they all cannot
	 * from there on (the points only fall with the distance) */
	long long lo = 0, hi = v->maxt + 1;
	if (!cannot_beat(rest + distance_points(w, v, hi), hi, kth))
		return HUGE_VAL;
	while (lo < hi) {
		long long mid = lo + (hi - lo) / 2;
		if (cannot_beat(rest + distance_points(w, v, mid), mid, kth))
			hi = mid;
		else
			lo = mid + 1;
	}
	double c = ((double)lo + 0.02) / (EARTH_RADIUS_KM * 10);
	return c * c;
}

static bool any_free(const struct match_params *p, const struct match_offer *o, sdate start, sdate end)
{
	if (p->has_free)
		return p->has_free(p->ctx, o, start, end);
	return !p->free_places || p->free_places(p->ctx, o, start, end) > 0;
}

/* Cells of an array, in order. */
struct cell_array {
	const struct match_cell *cells;
	size_t n, at;
};

static bool cell_array_next(void *ctx, struct match_cell *out)
{
	struct cell_array *a = ctx;
	if (a->at >= a->n)
		return false;
	*out = a->cells[a->at++];
	return true;
}

int match_rank_cells(const struct match_params *p, const struct match_youth *y,
		     const struct match_cell cells[], size_t ncells,
		     size_t k, struct match_result out[])
{
	size_t total = 0;
	for (size_t c = 0; c < ncells; c++)
		total += cells[c].n;
	if (k > total)
		k = total;
	struct cell_array a = {cells, ncells, 0};
	return match_rank_cells_from(p, y, cell_array_next, &a, k, out);
}

int match_rank_cells_from(const struct match_params *p, const struct match_youth *y,
			  match_cell_next_fn next, void *ctx, size_t k, struct match_result out[])
{
	/* a usual limit's candidates on the stack, a larger one's allocated */
	struct match_cand local[32];
	struct match_cand *store = k <= 32 ? local : cand_storage(&k, SIZE_MAX);
	if (!store)
		return -1;
	struct match_heap heap;
	match_heap_init(&heap, store, k);
	struct youth_view v;
	youth_view(p, y, &v);
	const struct match_weights *w = &p->weights;
	/* every factor but distance at its best: the bound of a cell */
	int rest = at_least_zero(w->duration) + at_least_zero(w->affordability) +
		   at_least_zero(w->support) + v.avail;
	size_t seen = 0;
	/* the straight-line cut for the k-th kept (offer id cut_for) */
	double cut2 = HUGE_VAL;
	int64_t cut_for = -1;
	int cut_score = -1;
	/* One cell ahead: its first offers are on their way while this one
	 * is read (each cell is its own arrays, somewhere in memory). */
	struct match_cell cell, ahead;
	bool more = heap.cap > 0 && next(ctx, &ahead);
	while (more) {
		cell = ahead;
		more = next(ctx, &ahead);
		if (more && ahead.n) {
			__builtin_prefetch(ahead.packed);
			__builtin_prefetch((const char *)ahead.packed + 64);
			__builtin_prefetch(ahead.xyz);
		}
		long long near = cell.min_km > 0 ? (long long)floor(cell.min_km * 10) : 0;
		if (near > v.maxt)
			break;      /* this cell and every later one out of reach */
		/* Nothing in this cell (nor farther) is nearer than `near`: once
		 * the top k is full, its best score may not beat the k-th kept. */
		if (heap.len == heap.cap && cannot_beat(rest + distance_points(w, &v, near), near, &heap.items[0]))
			break;
		for (size_t i = 0; i < cell.n; i++, seen++) {
			const struct match_packed *o = &cell.packed[i];
			double chord2;
			if (!packed_cheap(y, &v, o, cell.xyz + 3 * i, &chord2))
				continue;
			/* The same bound offer by offer, from the straight line,
			 * before the haversine: first with every other factor at
			 * its best, then with the offer's own points. */
			sdate end;
			int others = -1;
			if (heap.len == heap.cap) {
				if (cut_for != heap.items[0].t2 || cut_score != heap.items[0].score) {
					cut2 = chord_cut(w, &v, rest, &heap.items[0]);
					cut_for = heap.items[0].t2;
					cut_score = heap.items[0].score;
				}
				if (chord2 > cut2)
					continue;
				long long low = tenths_at_least(chord2);
				int dist = distance_points(w, &v, low);
				if (cannot_beat(rest + dist, low, &heap.items[0]))
					continue;
				others = packed_rest(p, &v, o, &end);
				if (cannot_beat(others + dist, low, &heap.items[0]))
					continue;
			}
			/* the offer itself is read if it makes the top k (is a
			 * place free?): on its way during the haversine */
			const char *whole = (const char *)cell.offers[i];
			__builtin_prefetch(whole);
			__builtin_prefetch(whole + 64);
			__builtin_prefetch(whole + 127);
			long long d;
			if (!packed_far_rules(p, y, &v, o, chord2, &d))
				continue;
			if (others < 0)
				others = packed_rest(p, &v, o, &end);
			struct match_cand cand = {
				.score = distance_points(w, &v, d) + others,
				.t1 = d, .t2 = o->id, .index = seen, .item = cell.offers[i],
			};
			if (heap.len == heap.cap && !better(&cand, &heap.items[0]))
				continue;
			if (any_free(p, cell.offers[i], v.start, end))
				match_heap_push(&heap, cand);
		}
	}
	size_t m = match_heap_finish(&heap);
	for (size_t j = 0; j < m; j++) {
		const struct match_offer *o = store[j].item;
		struct match_result *res = &out[j];
		res->index = store[j].index;
		res->item = o;
		res->priority = 0;
		match_eligible(p, y, o, &res->check);
		res->score = match_score(p, y, o, res->factors);
	}
	if (store != local)
		free(store);
	return (int)m;
}

void match_scan_cells(const struct match_params *p, const struct match_youth *y,
		      const struct match_cell cells[], size_t ncells,
		      bool (*want)(void *ctx, const struct match_offer *o),
		      void (*found)(void *ctx, const struct match_offer *o,
				    const struct match_check *c, int score),
		      void *ctx)
{
	struct youth_view v;
	youth_view(p, y, &v);
	for (size_t ci = 0; ci < ncells; ci++) {
		const struct match_cell *cell = &cells[ci];
		if (cell->min_km > 0 && (long long)floor(cell->min_km * 10) > v.maxt)
			continue;
		for (size_t i = 0; i < cell->n; i++) {
			const struct match_packed *o = &cell->packed[i];
			const struct match_offer *offer = cell->offers[i];
			long long d;
			if (!packed_rules(p, y, &v, o, &cell->xyz[3 * i], &d) || (want && !want(ctx, offer)))
				continue;
			struct match_check c = {.start = v.start, .distance_km = (double)d / 10, .age = v.age};
			int score = packed_score(p, &v, o, d, &c.end);
			c.free_places = p->free_places ? p->free_places(p->ctx, offer, c.start, c.end)
						       : offer->capacity;
			if (c.free_places > 0)
				found(ctx, offer, &c, score);
		}
	}
}

int match_rank_youth_cells(const struct match_params *p, const struct match_offer *o,
			   const struct match_ycell cells[], size_t ncells, double reach_km,
			   bool (*want)(void *ctx, const struct match_youth *y), void *ctx,
			   size_t k, struct match_result out[])
{
	size_t total = 0;
	for (size_t c = 0; c < ncells; c++)
		total += cells[c].n;
	struct match_cand *store = cand_storage(&k, total);
	if (!store)
		return -1;
	struct match_heap heap;
	match_heap_init(&heap, store, k);
	const struct match_weights *w = &p->weights;
	/* A young person's distance points grow with their own reach, none of
	 * which passes reach_km; every other factor at its best. */
	long long reach = max_tenths(reach_km);
	int rest = at_least_zero(w->duration) + at_least_zero(w->affordability) +
		   at_least_zero(w->support) + at_least_zero(w->availability);
	/* the grid's straight-line prefilter (grid_near), same margin */
	const double rad = PI / 180.0;
	double pv[3] = {cos(o->lat * rad) * cos(o->lon * rad), cos(o->lat * rad) * sin(o->lon * rad),
			sin(o->lat * rad)};
	double theta = (reach_km + 0.2) * (1 + 1e-6) / EARTH_RADIUS_KM;
	double chord = theta >= PI || isnan(theta) ? 2.0 : 2 * sin(theta / 2);
	double chord2 = chord * chord;
	size_t seen = 0;
	for (size_t ci = 0; ci < ncells && heap.cap > 0; ci++) {
		const struct match_ycell *cell = &cells[ci];
		long long near = cell->min_km > 0 ? (long long)floor(cell->min_km * 10) : 0;
		if (near > reach)
			break;
		if (heap.len == heap.cap) {
			/* a tie on the score may still win on priority: only a
			 * lower best stops */
			int best = rest + (reach == 0 ? at_least_zero(w->distance)
						      : ratio_points(w->distance, reach - near, reach));
			if (best < heap.items[0].score)
				break;
		}
		for (size_t i = 0; i < cell->n; i++, seen++) {
			const struct match_youth *y = cell->youth[i];
			const double *v = &cell->xyz[3 * i];
			double dx = v[0] - pv[0], dy = v[1] - pv[1], dz = v[2] - pv[2];
			if (dx * dx + dy * dy + dz * dz > chord2 || (want && !want(ctx, y)) ||
			    match_eligible(p, y, o, NULL) != MATCH_OK)
				continue;
			match_heap_push(&heap, (struct match_cand){
				.score = match_score(p, y, o, NULL),
				.t1 = -(int64_t)match_priority(y, p->today),
				.t2 = y->id, .index = seen, .item = y,
			});
		}
	}
	size_t m = match_heap_finish(&heap);
	for (size_t j = 0; j < m; j++) {
		const struct match_youth *y = store[j].item;
		struct match_result *res = &out[j];
		res->index = store[j].index;
		res->item = y;
		res->priority = match_priority(y, p->today);
		match_eligible(p, y, o, &res->check);
		res->score = match_score(p, y, o, res->factors);
	}
	free(store);
	return (int)m;
}
