/*
 * Matching young people with housing offers: the hard eligibility rules, the
 * explainable 0-100 score, the priority of a young person, and top-k ranking.
 *
 * Pure: plain structs in, plain structs out, no I/O and no global state. The
 * caller fills the structs from its in-memory inventory and says how many
 * places are free through a callback, so everything here is testable without
 * a database. Dates are day numbers from siaod/date.h.
 */
#ifndef SIAOD_MATCH_H
#define SIAOD_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "siaod/date.h"

/* The enum values are internal; the codes (match_*_code) are the API's.
 * The offer kinds are listed here only: X(NAME, "code") makes the enum
 * (MATCH_KIND_NAME), the codes (match.c), the API's list (api.c). A new kind
 * also needs its max_stay_days_<code> key in config.c. */
#define MATCH_KINDS(X) \
	X(IML, "iml") \
	X(ALT, "alt") \
	X(STUDIO_TIROIR, "studio_tiroir") \
	X(FJT, "fjt") \
	X(SHARED_FLAT, "shared_flat")

enum match_kind {
#define MATCH_KIND_ENUM_(name, code) MATCH_KIND_##name,
	MATCH_KINDS(MATCH_KIND_ENUM_)
#undef MATCH_KIND_ENUM_
	MATCH_KIND_COUNT
};

enum match_offer_gender {
	MATCH_OFFER_GENDER_ANY,
	MATCH_OFFER_GENDER_FEMALE,
	MATCH_OFFER_GENDER_MALE,
	MATCH_OFFER_GENDER_COUNT
};

enum match_gender {
	MATCH_GENDER_FEMALE,
	MATCH_GENDER_MALE,
	MATCH_GENDER_OTHER,
	MATCH_GENDER_COUNT
};

enum match_household {
	MATCH_HOUSEHOLD_ALONE,
	MATCH_HOUSEHOLD_COUPLE,
	MATCH_HOUSEHOLD_WITH_CHILDREN,
	MATCH_HOUSEHOLD_COUNT
};

/* Ordered: a larger value is more intensive support. */
enum match_support {
	MATCH_SUPPORT_LIGHT,
	MATCH_SUPPORT_STANDARD,
	MATCH_SUPPORT_INTENSIVE,
	MATCH_SUPPORT_COUNT
};

enum match_situation {
	MATCH_SITUATION_STREET,
	MATCH_SITUATION_EMERGENCY_SHELTER,
	MATCH_SITUATION_PRECARIOUS,
	MATCH_SITUATION_INSTITUTION_EXIT,
	MATCH_SITUATION_FAMILY_BREAKDOWN,
	MATCH_SITUATION_COUNT
};

/* Bits of match_youth.needs; bit i has code match_need_code(i). */
enum match_need {
	MATCH_NEED_WHEELCHAIR        = 1u << 0,
	MATCH_NEED_MENTAL_HEALTH     = 1u << 1,
	MATCH_NEED_ADDICTION         = 1u << 2,
	MATCH_NEED_JUSTICE_FOLLOWUP  = 1u << 3,
	MATCH_NEED_PREGNANCY         = 1u << 4,
};
#define MATCH_NEED_COUNT 5

/* Codes as in the HTTP API and the database ("studio_tiroir", "street", ...).
 * *_code returns NULL for a value out of range; *_parse returns false for an
 * unknown code and leaves *out alone. */
/* The same codes in enum order (bit order for needs), NULL-terminated: the
 * lists the API validates against. */
extern const char *const match_kind_codes[];
extern const char *const match_offer_gender_codes[];
extern const char *const match_gender_codes[];
extern const char *const match_household_codes[];
extern const char *const match_support_codes[];
extern const char *const match_situation_codes[];
extern const char *const match_need_codes[];
const char *match_kind_code(enum match_kind v);
const char *match_offer_gender_code(enum match_offer_gender v);
const char *match_gender_code(enum match_gender v);
const char *match_household_code(enum match_household v);
const char *match_support_code(enum match_support v);
const char *match_situation_code(enum match_situation v);
const char *match_need_code(int bit);      /* bit 0..MATCH_NEED_COUNT-1 */
bool match_kind_parse(const char *s, enum match_kind *out);
bool match_offer_gender_parse(const char *s, enum match_offer_gender *out);
bool match_gender_parse(const char *s, enum match_gender *out);
bool match_household_parse(const char *s, enum match_household *out);
bool match_support_parse(const char *s, enum match_support *out);
bool match_situation_parse(const char *s, enum match_situation *out);
bool match_need_parse(const char *s, unsigned *bit_out);  /* *bit_out = its mask bit */

struct match_offer {
	int64_t id, porteur_id;
	enum match_kind kind;
	double lat, lon;
	bool open;                  /* status = open */
	/* Entries may start on [available_from, available_until], both
	 * inclusive, DATE_NONE meaning unbounded. Only the START of the stay is
	 * checked against available_until: it bounds new entries, as
	 * available_from does; how long a stay may run is max_stay_days's job
	 * (an offer's convention is usually renewed, and excluding it whenever
	 * a wished stay overruns the date would hide most offers late in the
	 * year). */
	sdate available_from, available_until;
	int max_stay_days;          /* 0: no cap */
	int min_age, max_age;       /* 0: no limit of the offer's own */
	enum match_offer_gender gender;
	bool accepts_couples, accepts_children, accepts_pets;
	bool wheelchair_accessible;
	enum match_support support_level;
	double monthly_charge_eur;
	int capacity;
	sdate confirmed_on;         /* capacity last confirmed; DATE_NONE: never goes stale */
};

/* An offer the young person declined (a refusal by: youth), on `on`. */
struct match_decline {
	int64_t offer_id;
	sdate on;
};

struct match_youth {
	int64_t id;
	sdate birth_date;           /* DATE_NONE (erased): fails the age rule */
	bool rqth;
	enum match_gender gender;
	enum match_household household;
	bool has_pets;
	unsigned needs;             /* enum match_need bits */
	enum match_situation situation;
	sdate institution_exit_date;    /* DATE_NONE if none */
	double lat, lon;            /* centroid of the wished commune */
	double max_distance_km;
	double monthly_income_eur;
	enum match_support support_need;
	sdate wanted_from;          /* DATE_NONE: as soon as possible */
	int wanted_months;          /* below 1 counts as 1 */
	sdate registered_at;        /* DATE_NONE: counts as registered today */
	/* The offers this young person declined, the latest refusal per offer,
	 * sorted by offer_id; the caller owns the array. */
	const struct match_decline *declines;
	size_t ndeclines;
};

/* Points of each factor; valid when each is in [0, 100] and they sum to 100. */
struct match_weights {
	int distance, duration, affordability, support, availability;
};
bool match_weights_valid(const struct match_weights *w);
/* The default weights, 35/15/20/20/10: distance matters most to a referent,
 * soonness least since the eligibility rules already demand a place free for
 * the whole stay. The one source of these numbers: config.c's weight_* keys
 * take their defaults from here. */
#define MATCH_WEIGHT_DEFAULT_DISTANCE       35
#define MATCH_WEIGHT_DEFAULT_DURATION       15
#define MATCH_WEIGHT_DEFAULT_AFFORDABILITY  20
#define MATCH_WEIGHT_DEFAULT_SUPPORT        20
#define MATCH_WEIGHT_DEFAULT_AVAILABILITY   10
struct match_weights match_weights_default(void);

/* Places of `o` free on every day of [start, end), from the caller's
 * inventory (proposed, accepted and active placements taken off). Asked only
 * when every other rule passed and capacity > 0, and asked again for the
 * offers (or youth) that make a ranking's top k. */
typedef int (*match_free_places_fn)(void *ctx, const struct match_offer *o,
				    sdate start, sdate end);

/* Whether a place of `o` is free on every day of [start, end): what a
 * ranking asks (free_places > 0), answered at the first free place. */
typedef bool (*match_has_free_fn)(void *ctx, const struct match_offer *o, sdate start, sdate end);

/* The earliest day d >= from on which a place of `o` is free for the whole
 * of [d, d + days), or DATE_NONE when no place ever is (no active place).
 * Only explanations ask it (match_explain_hints). */
typedef sdate (*match_next_free_fn)(void *ctx, const struct match_offer *o,
				    sdate from, int days);

struct match_params {
	sdate today;                /* in the configured time zone */
	sdate on;                   /* wished start fixed by the caller, or DATE_NONE */
	struct match_weights weights;
	match_free_places_fn free_places;   /* NULL: every place is free */
	match_has_free_fn has_free;         /* NULL: free_places > 0 is asked */
	match_next_free_fn next_free;       /* NULL: no hint for no_free_place */
	void *ctx;                  /* passed to free_places and next_free */
	int reconfirm_days;         /* freshness (rule stale); 0: offers never go stale */
	int refusal_cooldown_days;  /* rule declined_recently; 0: off */
};

/*
 * Freshness of an offer's capacity, age = today - confirmed_on in days:
 *   to reconfirm ("à reconfirmer")  age > reconfirm_days
 *   stale (rule `stale`)            age > 2 * reconfirm_days
 * Neither when reconfirm_days is 0 or confirmed_on is DATE_NONE.
 */
bool match_offer_to_reconfirm(const struct match_params *p, const struct match_offer *o);
bool match_offer_stale(const struct match_params *p, const struct match_offer *o);
/*
 * Rule `declined_recently`: the young person declined this offer on day d
 * (their latest refusal of it) and today - d < refusal_cooldown_days, so the
 * offer comes back on day d + refusal_cooldown_days.
 */
bool match_declined_recently(const struct match_params *p, const struct match_youth *y,
			     const struct match_offer *o);

/* Great-circle distance (haversine, R = 6371.0 km) rounded to 0.1 km. The
 * rounded value is the one the distance rule compares, so a youth's
 * max_distance_km itself is within reach. */
double match_distance_km(double lat1, double lon1, double lat2, double lon2);

/* The stay asked for, half-open [*start, *end): it starts on `on` when given
 * (not DATE_NONE), else on max(today, wanted_from); it lasts wanted_months
 * calendar months, cut to the offer's max_stay_days when it has a cap. */
void match_period(const struct match_youth *y, const struct match_offer *o,
		  sdate on, sdate today, sdate *start, sdate *end);

/* Hard rules in the order they are checked; an offer fails under the first. */
enum match_rule {
	MATCH_RULE_CLOSED,          /* not open, or start outside available_from/until */
	MATCH_RULE_DISTANCE,        /* rounded distance > max_distance_km */
	MATCH_RULE_AGE,             /* max(16, min_age) <= age <= min(max_age, rqth ? 29 : 25) */
	MATCH_RULE_GENDER,          /* female/male offers take that gender only */
	MATCH_RULE_HOUSEHOLD,       /* couple / with_children need the offer's consent */
	MATCH_RULE_PETS,
	MATCH_RULE_WHEELCHAIR,
	MATCH_RULE_DECLINED_RECENTLY, /* declined by the young person within the cooldown */
	MATCH_RULE_STALE,           /* capacity not reconfirmed for 2 x reconfirm_days */
	MATCH_RULE_NO_FREE_PLACE,   /* no place free for the whole period */
	MATCH_RULE_COUNT,           /* number of rules: the size of excluded[] */
	MATCH_OK = MATCH_RULE_COUNT /* eligible: no rule failed */
};
/* "closed", "distance", ...; "ok" for MATCH_OK; NULL out of range. */
const char *match_rule_code(enum match_rule r);

/* What the rules computed on the way, so the caller need not redo it. */
struct match_check {
	sdate start, end;           /* match_period */
	double distance_km;         /* rounded */
	int age;                    /* on start; -1 without a birth date */
	int free_places;            /* -1 when an earlier rule failed */
};
/* The first rule the pair fails, or MATCH_OK. `out` may be NULL. */
enum match_rule match_eligible(const struct match_params *p,
			       const struct match_youth *y,
			       const struct match_offer *o,
			       struct match_check *out);

/*
 * What would change the answer, for an explanation ("why nothing fits"),
 * one hint per rule where the referent can act or wait. Each hint names the
 * offer (an index into the array given, MATCH_NO_HINT when there is none):
 *   distance       the nearest offer (rounded distance, then smaller id)
 *                  that only its distance keeps out: open on the start,
 *                  every rule after distance passed and a place free for
 *                  the whole period — within reach if max_distance_km were
 *                  distance_km.
 *   age            the earliest day the young person becomes old enough
 *                  for an offer that only their age keeps out: too young on
 *                  the start (age < max(16, min_age)), the offer's range not
 *                  empty under the programme's limit, the rules after age
 *                  passed, the offer still taking entries that day. The day
 *                  is the first on which the age (as match_eligible counts
 *                  it, so 29 February birthdays count on 1 March) reaches
 *                  the minimum. Free places on that day are not asked: the
 *                  referent asks the matches `on` that day.
 *   no_free_place  the earliest day from the start on which a place frees up
 *                  for a whole period starting that day (wanted_months cut
 *                  to the cap, as match_period), among the offers only free
 *                  places keep out; the offer must still take entries and
 *                  the young person still be of age that day. Needs
 *                  p->next_free.
 */
#define MATCH_NO_HINT ((size_t)-1)
struct match_hints {
	size_t distance_index;
	double distance_km;
	size_t age_index;
	sdate age_date;
	size_t free_index;
	sdate free_date;
};
void match_explain_hints(const struct match_params *p, const struct match_youth *y,
			 const struct match_offer *const offers[], size_t n,
			 struct match_hints *out);

/* The score's factors, listed here only: X(NAME, "code") makes the enum
 * (MATCH_FACTOR_NAME) and the codes (match.c). Each has its field in
 * struct match_weights and its weight_<code> key in config.c. */
#define MATCH_FACTORS(X) \
	X(DISTANCE, "distance") \
	X(DURATION, "duration") \
	X(AFFORDABILITY, "affordability") \
	X(SUPPORT, "support") \
	X(AVAILABILITY, "availability")

enum match_factor_id {
#define MATCH_FACTOR_ENUM_(name, code) MATCH_FACTOR_##name,
	MATCH_FACTORS(MATCH_FACTOR_ENUM_)
#undef MATCH_FACTOR_ENUM_
	MATCH_FACTOR_COUNT
};
/* "distance", "duration", "affordability", "support", "availability". */
const char *match_factor_code(enum match_factor_id f);

#define MATCH_DETAIL_MAX 128
struct match_factor {
	enum match_factor_id factor;
	int points;                 /* 0..weight of the factor */
	char detail[MATCH_DETAIL_MAX];  /* one line in French, nothing personal */
};

/*
 * Score 0..100: the sum of the factors' points, each factor in [0, weight],
 * rounded to the nearest integer. Ratios below are computed in integers.
 *   distance      weight * (max - d) / max, d and max in 0.1 km, 0 beyond
 *                 max; full when max is 0 and d is 0.
 *   duration      weight * got / wanted, in days: wanted = wanted_months
 *                 calendar months from the start, got = the period's length
 *                 (full without a cap or when the cap covers the wish).
 *   affordability the effort rate charge / income: full up to 30 %, none from
 *                 60 % (or any charge without income), linear between; full
 *                 when there is no charge.
 *   support       need = support_need, raised to at least standard by one of
 *                 mental_health, addiction, justice_followup, to intensive by
 *                 two or more; offer level - need = 0 full, +1 3/4, +2 1/2,
 *                 -1 1/4, -2 none.
 *   availability  gap = |start - max(today, wanted_from)| days: full at 0,
 *                 none from 90, linear between. Without `on` an eligible
 *                 offer has a place free at the wished start, so the gap is
 *                 0; it tells offers apart when the caller fixes the date
 *                 (`on` in a query, the planner's date, a place just freed).
 * Scores any pair, eligible or not. `factors` may be NULL when only the total
 * is wanted (the planner scores many pairs); else it gets one entry per
 * factor in enum order.
 */
int match_score(const struct match_params *p, const struct match_youth *y,
		const struct match_offer *o,
		struct match_factor factors[MATCH_FACTOR_COUNT]);

/*
 * Priority of a young person, 0..800, higher first, for ranking youth for an
 * offer and for the planner's ties:
 *   situation  street 500, emergency_shelter 400, institution_exit 300,
 *              family_breakdown 200, precarious 100;
 * + waiting    100 * min(days since registered_at, 365) / 365 (so a year
 *              of waiting weighs one step of situation);
 * + exit       200 when institution_exit_date is within 30 days of today,
 *              before or after (about to leave, or just left, ASE/PJJ).
 */
int match_priority(const struct match_youth *y, sdate today);

/*
 * Bounded heap keeping the k best of any number of candidates. Better means:
 * higher score, then smaller t1, then smaller t2, then smaller index, so the
 * order is total and the result deterministic. For offers t1 is the distance
 * in 0.1 km and t2 the offer id; for youth t1 is -priority and t2 the youth
 * id. The storage is the caller's: k entries, nothing allocated.
 */
struct match_cand {
	int score;
	int64_t t1, t2;
	size_t index;               /* the caller's, e.g. into its array */
	const void *item;           /* the caller's too, carried along */
};
struct match_heap {
	struct match_cand *items;   /* min-heap: items[0] is the worst kept */
	size_t len, cap;
};
void match_heap_init(struct match_heap *h, struct match_cand *storage, size_t k);
void match_heap_push(struct match_heap *h, struct match_cand c);
/* Sorts the kept candidates best first in the storage and returns how many
 * there are; the heap is empty afterwards. */
size_t match_heap_finish(struct match_heap *h);

struct match_result {
	size_t index;               /* into the array given to match_rank_* */
	const void *item;           /* the offer or young person ranked */
	int score;
	int priority;               /* match_rank_youth only, else 0 */
	struct match_check check;
	struct match_factor factors[MATCH_FACTOR_COUNT];
};

/* The k best eligible offers for a young person, best first (score, then
 * distance, then offer id) into out[0..k). `offers` may be any subset, such
 * as the candidates of a spatial index. When excluded is not NULL it is
 * zeroed and then counts each ineligible offer once, under its first failed
 * rule. Returns the number of results, or -1 when out of memory. */
int match_rank_offers(const struct match_params *p, const struct match_youth *y,
		      const struct match_offer *const offers[], size_t n,
		      size_t k, struct match_result out[],
		      size_t excluded[MATCH_RULE_COUNT]);

/* The k best eligible young people for an offer, best first (score, then
 * priority, then youth id). To rank for a place free on a given day, set
 * p->on to that day: those wishing to start much later or earlier then get
 * fewer availability points. Returns as match_rank_offers. */
int match_rank_youth(const struct match_params *p, const struct match_offer *o,
		     const struct match_youth *const youth[], size_t n,
		     size_t k, struct match_result out[],
		     size_t excluded[MATCH_RULE_COUNT]);

/*
 * Ranking by cells of a spatial index, for the matches of one young person
 * without looking at every offer within reach.
 *
 * An offer packed: what the rules and the score read, by value (one cache
 * line), kept by the index in contiguous per-cell arrays so that the
 * ranking reads memory in order instead of following a pointer per offer.
 * match_pack_offer makes it from the offer; the index makes it again
 * whenever the offer changes.
 */
struct match_packed {
	int64_t id;
	double lat, lon;
	sdate available_from, available_until;  /* as in the offer */
	sdate confirmed_on;
	int32_t max_stay_days;
	int64_t charge_cents;
	int32_t min_age, max_age;   /* the offer's own, as in the offer */
	uint8_t takes;              /* bits: who the rules let in (match.c) */
	uint8_t support_level;
	bool open;
	bool has_capacity;          /* capacity > 0 */
};
void match_pack_offer(const struct match_offer *o, struct match_packed *out);

/* A cell of the index: n offers, packed[i] being offers[i] packed, xyz[3i..]
 * its unit vector (cos lat cos lon, cos lat sin lon, sin lat); min_km a
 * lower bound of the distance from the young person to any of them. */
struct match_cell {
	const struct match_packed *packed;
	const struct match_offer *const *offers;
	const double *xyz;
	size_t n;
	double min_km;
};

/*
 * The k best eligible offers for a young person over cells given nearest
 * first (by min_km): the same results as match_rank_offers over all their
 * offers, but a cell is not read once no offer at its distance can beat the
 * k-th score kept (the distance factor bounds the rest). Free places are
 * asked only of offers that would enter the top k. out[i].item is the
 * offer; out[i].index its rank in the visit. Returns the number of
 * results, or -1 when out of memory.
 */
int match_rank_cells(const struct match_params *p, const struct match_youth *y,
		     const struct match_cell cells[], size_t ncells,
		     size_t k, struct match_result out[]);

/* A source of cells nearest first (min_km never decreasing): fills *out
 * and returns true, false when there is none left. */
typedef bool (*match_cell_next_fn)(void *ctx, struct match_cell *out);
/* match_rank_cells over the cells next(ctx) gives, asked for only while a
 * farther cell could still make the top k (and one more: the next cell is
 * asked for while the current one is read, so that its memory is on its
 * way), so a spatial index looks up only those. out[i].index is the
 * offer's rank in the visit. */
int match_rank_cells_from(const struct match_params *p, const struct match_youth *y,
			  match_cell_next_fn next, void *ctx, size_t k, struct match_result out[]);

/* A cell of young people (the youth grid's): n of them, xyz[3i..] the unit
 * vector of youth[i]'s wished place, min_km as in match_cell. */
struct match_ycell {
	const struct match_youth *const *youth;
	const double *xyz;
	size_t n;
	double min_km;
};

/*
 * The k best eligible young people for an offer over cells given nearest
 * first: the results of match_rank_youth over the young people of the
 * cells within reach_km of the offer (the largest max_distance_km among
 * them: none farther can take it) that want() accepts (NULL: all), but a
 * cell is not read once no young person at its distance can beat the k-th
 * score kept. out[i].item is the young person. Returns the number of
 * results, or -1 when out of memory.
 */
int match_rank_youth_cells(const struct match_params *p, const struct match_offer *o,
			   const struct match_ycell cells[], size_t ncells, double reach_km,
			   bool (*want)(void *ctx, const struct match_youth *y), void *ctx,
			   size_t k, struct match_result out[]);

/*
 * Every offer of the cells (in any order) that y may take — every rule of
 * match_eligible, free places included — for the planner's pairs: found()
 * gets it with the check match_eligible would give and match_score's
 * total. want() (NULL: every offer) is the caller's own filter (a
 * département), asked after the cheap rules and the distance, before free
 * places, the one costly question.
 */
void match_scan_cells(const struct match_params *p, const struct match_youth *y,
		      const struct match_cell cells[], size_t ncells,
		      bool (*want)(void *ctx, const struct match_offer *o),
		      void (*found)(void *ctx, const struct match_offer *o,
				    const struct match_check *c, int score),
		      void *ctx);

#endif
