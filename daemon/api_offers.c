/*
 * Offers: a porteur's housing capacity (IML, ALT, studios-tiroirs, FJT beds,
 * shared flats). A porteur writes its own; an admin writes any; all read.
 * DELETE closes an offer, it never removes it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>

#include "api.h"
#include "app.h"
#include "config.h"
#include "inventory.h"
#include "siaod/match.h"
#include "siaod/date.h"
#include "clock.h"
#include "validate.h"

static const char *const statuses[] = {"open", "closed", NULL};

static const struct vfield offer_fields[] = {
	{"porteur_id", V_INT, false, false, 1, INT64_MAX, NULL, true},
	{"kind", V_ENUM, true, false, 0, 0, match_kind_codes, false},
	{"label", V_STRING, true, false, 1, 200, NULL, false},
	{"commune_insee", V_INSEE, true, false, 0, 0, NULL, false},
	{"departement", V_DEPARTEMENT, false, false, 0, 0, NULL, false},
	{"lat", V_NUMBER, false, false, -90, 90, NULL, false},
	{"lon", V_NUMBER, false, false, -180, 180, NULL, false},
	{"capacity", V_INT, true, false, 0, 1000, NULL, false},
	{"max_stay_days", V_INT, false, true, 1, 3650, NULL, false},
	/* the offer as its porteur runs it (an FJT takes young workers up to
	 * 30); matching applies the programme's limit on top (match.h) */
	{"min_age", V_INT, false, false, 16, 30, NULL, false},
	{"max_age", V_INT, false, false, 16, 30, NULL, false},
	{"gender", V_ENUM, false, false, 0, 0, match_offer_gender_codes, false},
	{"accepts_couples", V_BOOL, false, false, 0, 0, NULL, false},
	{"accepts_children", V_BOOL, false, false, 0, 0, NULL, false},
	{"accepts_pets", V_BOOL, false, false, 0, 0, NULL, false},
	{"wheelchair_accessible", V_BOOL, false, false, 0, 0, NULL, false},
	{"support_level", V_ENUM, false, false, 0, 0, match_support_codes, false},
	{"monthly_charge_eur", V_NUMBER, false, false, 0, 5000, NULL, false},
	{"available_from", V_DATE, false, false, 0, 0, NULL, false},
	{"available_until", V_DATE, false, true, 0, 0, NULL, false},
	{"status", V_ENUM, false, false, 0, 0, statuses, false},
	{"external_ref", V_STRING, false, true, 1, 64, NULL, false},
};
#define NFIELDS (sizeof offer_fields / sizeof *offer_fields)

/* Rules between fields of one body; the database re-checks them on the
 * merged row of a patch (CHECK constraints). */
static json_t *cross_field_errors(const json_t *b)
{
	json_t *errors = NULL;
	const char *kind = json_string_value(json_object_get(b, "kind"));
	const json_t *msd = json_object_get(b, "max_stay_days");
	if (kind && strcmp(kind, "shared_flat") == 0 && msd &&
	    (json_is_null(msd) || json_integer_value(msd) > 90))
		validate_error(&errors, "/max_stay_days", "out_of_range",
			       "a shared flat caps stays at 90 days at most");
	const json_t *mn = json_object_get(b, "min_age"), *mx = json_object_get(b, "max_age");
	if (mn && mx && json_integer_value(mn) > json_integer_value(mx))
		validate_error(&errors, "/max_age", "out_of_range", "must not be below min_age");
	const char *from = json_string_value(json_object_get(b, "available_from"));
	const char *until = json_string_value(json_object_get(b, "available_until"));
	if (from && until && strcmp(until, from) < 0)
		validate_error(&errors, "/available_until", "out_of_range",
			       "must not be before available_from");
	if ((json_object_get(b, "lat") != NULL) != (json_object_get(b, "lon") != NULL))
		validate_error(&errors, json_object_get(b, "lat") ? "/lon" : "/lat", "required",
			       "lat and lon go together");
	return errors;
}

static bool offer_body_ok(struct req *r, bool patch)
{
	if (!api_validate(r, offer_fields, NFIELDS, patch))
		return false;
	json_t *errors = cross_field_errors(r->body);
	if (errors) {
		req_problem_full(r, 400, "invalid-field", "some fields contradict each other", errors, NULL);
		return false;
	}
	return true;
}

void api_offers_create(struct req *r)
{
	if (!offer_body_ok(r, false))
		return;
	json_t *pid = json_object_get(r->body, "porteur_id");
	if (r->who.role == ROLE_PORTEUR) {
		if (pid && json_integer_value(pid) != r->who.porteur_id) {
			api_forbidden(r, "a porteur token registers offers of its own porteur only");
			return;
		}
		json_object_set_new(r->body, "porteur_id", json_integer(r->who.porteur_id));
	} else if (!pid) {
		req_field_error(r, "/porteur_id", "required", "say which porteur holds the offer");
		return;
	}
	enum match_kind kind = MATCH_KIND_COUNT;
	match_kind_parse(json_string_value(json_object_get(r->body, "kind")), &kind);
	char dflt[16];
	/* validated above (match_kind_codes); an unknown kind would have no cap */
	int cap = kind < MATCH_KIND_COUNT ? r->app->cfg.max_stay_days[kind] : 0;
	snprintf(dflt, sizeof dflt, "%d", cap);
	char *body = api_json_param(r, r->body);
	const char *values[4] = {body, r->actor, r->today, cap > 0 ? dflt : NULL};
	if (body)
		api_sql_reply(r, "SELECT offer_create($1::jsonb, $2::jsonb, $3::date, $4::integer)",
			      4, values, 201, API_ETAG_OFFER);
	free(body);
}

/* The offer as the API shows it, from the inventory (the same members as
 * offer_json in sql/002), with its free places on day `on`. */
static json_t *offer_json(const struct req *r, const struct inv_offer *o, sdate on)
{
	struct match_params fp = {.reconfirm_days = r->app->cfg.reconfirm_days};
	date_parse(r->today, &fp.today);
	char confirmed_on[11] = "";
	if (o->m.confirmed_on != DATE_NONE)
		date_format(o->m.confirmed_on, confirmed_on);
	const struct match_offer *m = &o->m;
	char from[11], until[11], day[11];
	date_format(m->available_from, from);
	date_format(on, day);
	if (m->available_until != DATE_NONE)
		date_format(m->available_until, until);
	json_t *j = json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:f, s:f, s:i, s:i, s:i, s:s, s:b, s:b, s:b,"
			      " s:b, s:s, s:f, s:s, s:s, s:i, s:i, s:s, s:s, s:s}",
		"id", (json_int_t)m->id, "porteur_id", (json_int_t)m->porteur_id,
		"kind", match_kind_code(m->kind), "label", o->label ? o->label : "",
		"commune_insee", o->commune_insee, "departement", o->departement,
		"lat", m->lat, "lon", m->lon, "capacity", m->capacity,
		"min_age", m->min_age, "max_age", m->max_age,
		"gender", match_offer_gender_code(m->gender),
		"accepts_couples", m->accepts_couples, "accepts_children", m->accepts_children,
		"accepts_pets", m->accepts_pets, "wheelchair_accessible", m->wheelchair_accessible,
		"support_level", match_support_code(m->support_level),
		"monthly_charge_eur", m->monthly_charge_eur, "available_from", from,
		"status", m->open ? "open" : "closed", "version", o->version,
		"free_places", inventory_free_on(o, on), "free_places_on", day,
		"created_at", o->created_at, "updated_at", o->updated_at);
	if (j) {
		json_object_set_new(j, "max_stay_days", m->max_stay_days ? json_integer(m->max_stay_days) : json_null());
		json_object_set_new(j, "available_until", m->available_until != DATE_NONE ? json_string(until) : json_null());
		json_object_set_new(j, "external_ref", o->external_ref ? json_string(o->external_ref) : json_null());
		json_object_set_new(j, "confirmed_at", json_string(o->confirmed_at));
		json_object_set_new(j, "confirmed_on", confirmed_on[0] ? json_string(confirmed_on) : json_null());
		json_object_set_new(j, "to_reconfirm", json_boolean(match_offer_to_reconfirm(&fp, m)));
	}
	return j;
}

/* The filters of GET /v1/offers, as inventory_offers_page asks them. */
struct list_filter {
	const char *dep, *kind, *status;
	int64_t porteur;        /* 0: any */
	long long min_free;     /* < 0: any */
	sdate on;
};

static bool list_keep(void *ctx, const struct inv_offer *o)
{
	const struct list_filter *f = ctx;
	return !((f->dep && strcmp(o->departement, f->dep) != 0) ||
		 (f->kind && strcmp(match_kind_code(o->m.kind), f->kind) != 0) ||
		 (f->status && strcmp(o->m.open ? "open" : "closed", f->status) != 0) ||
		 (f->porteur && o->m.porteur_id != f->porteur) ||
		 (f->min_free >= 0 && (!o->m.open || inventory_free_on(o, f->on) < f->min_free)));
}

/* Offers are read from the inventory: the answer needs no round trip and
 * keeps coming while PostgreSQL is away. */
void api_offers_list(struct req *r)
{
	json_t *f = json_object();
	if (!(api_list_params(r, f) && api_query_departement(r, f, "departement") &&
	      api_query_enum(r, f, "kind", match_kind_codes) && api_query_enum(r, f, "status", statuses) &&
	      api_query_int(r, f, "porteur_id", 1, INT64_MAX) &&
	      api_query_int(r, f, "min_free", 0, 1000) &&
	      api_query_date(r, f, "available_on", r->today))) {
		json_decref(f);
		return;
	}
	const char *dep = json_string_value(json_object_get(f, "departement"));
	const char *kind = json_string_value(json_object_get(f, "kind"));
	const char *status = json_string_value(json_object_get(f, "status"));
	json_t *pid = json_object_get(f, "porteur_id"), *min_free = json_object_get(f, "min_free");
	size_t limit = (size_t)json_integer_value(json_object_get(f, "limit"));
	const char *cursor = json_string_value(json_object_get(f, "cursor"));
	int64_t after = cursor ? strtoll(cursor, NULL, 10) : 0;
	sdate on;
	date_parse(json_string_value(json_object_get(f, "available_on")), &on);

	struct list_filter lf = {.dep = dep, .kind = kind, .status = status, .on = on,
				 .porteur = pid ? json_integer_value(pid) : 0,
				 .min_free = min_free ? json_integer_value(min_free) : -1};
	const struct inv_offer **page = malloc((limit + 1) * sizeof *page);
	bool more = false;
	size_t got = page ? inventory_offers_page(r->app->inv, after, list_keep, &lf, page, limit, &more)
			  : SIZE_MAX;
	json_decref(f);
	if (got == SIZE_MAX) {
		free(page);
		req_problem(r, 503, "out-of-memory", "try again");
		return;
	}
	json_t *items = json_array();
	for (size_t i = 0; i < got; i++)
		json_array_append_new(items, offer_json(r, page[i], on));
	json_t *next = json_null();
	if (more && got > 0) {
		char c[24];
		snprintf(c, sizeof c, "%lld", (long long)page[got - 1]->m.id);
		json_decref(next);
		next = json_string(c);
	}
	free(page);
	req_reply_json(r, 200, json_pack("{s:o, s:o}", "items", items, "next_cursor", next));
}

void api_offers_get(struct req *r)
{
	json_t *f = json_object();
	if (api_query_date(r, f, "available_on", r->today)) {
		const struct inv_offer *o = inventory_offer(r->app->inv, r->ids[0]);
		sdate on;
		date_parse(json_string_value(json_object_get(f, "available_on")), &on);
		if (!o) {
			req_problem(r, 404, "not-found", "no such offer");
		} else {
			api_offer_etag(r->etag, sizeof r->etag, o->version, inventory_free_on(o, on),
				       json_string_value(json_object_get(f, "available_on")));
			req_reply_json(r, 200, offer_json(r, o, on));
		}
	}
	json_decref(f);
}

/* An If-Match tag of an offer: its version alone ("3", as the lists'
 * `version` lets a client write it), or the full ETag of its current
 * representation ("3-1a2b3c4d"), the one a PATCH answers and a GET without
 * available_on shows: free places today. */
struct offer_tag_ctx {
	const struct inv_offer *o;
	const char *today;
};

static long long offer_tag_version(void *arg, const char *tag, size_t len)
{
	const struct offer_tag_ctx *c = arg;
	char buf[32], want[32];
	if (len == 0 || len >= sizeof buf)
		return -1;
	memcpy(buf, tag, len);
	buf[len] = '\0';
	char *dash = strchr(buf, '-');
	if (dash)
		*dash = '\0';
	if (!buf[0] || strspn(buf, "0123456789") != strlen(buf) || strlen(buf) > 18)
		return -1;
	long long v = strtoll(buf, NULL, 10);
	if (!dash || !c->o)
		return v;   /* a version alone; an unknown offer is the database's 404 */
	sdate today;
	date_parse(c->today, &today);
	/* the hash part names what was shown: it must be what is shown now */
	api_offer_etag(want, sizeof want, v, inventory_free_on(c->o, today), c->today);
	return strlen(want) == len + 2 && memcmp(want + 1, tag, len) == 0 ? v : -1;
}

void api_offers_patch(struct req *r)
{
	struct offer_tag_ctx tc = {inventory_offer(r->app->inv, r->ids[0]), r->today};
	char versions[API_IF_MATCH_LEN];
	int match = api_if_match(r, offer_tag_version, &tc, versions);
	if (match == -2 || !offer_body_ok(r, true))
		return;
	char id[24];
	snprintf(id, sizeof id, "%lld", (long long)r->ids[0]);
	char *patch = api_json_param(r, r->body);
	const char *values[5] = {id, patch, match > 0 ? versions : NULL, r->actor, r->today};
	if (patch)
		api_sql_reply(r, "SELECT offer_patch($1::bigint, $2::jsonb, offer_if_match($1::bigint, $3::integer[]), "
			      "$4::jsonb, $5::date)",
			      5, values, 200, API_ETAG_OFFER);
	free(patch);
}

void api_offers_close(struct req *r)
{
	char id[24];
	snprintf(id, sizeof id, "%lld", (long long)r->ids[0]);
	const char *values[3] = {id, r->actor, r->today};
	api_sql_reply(r, "SELECT offer_close($1::bigint, $2::jsonb, $3::date)", 3, values, 200,
		      API_ETAG_OFFER);
}

/* POST /v1/offers/{id}/confirm: "toujours à jour", one click of the porteur. */
void api_offers_confirm(struct req *r)
{
	char id[24];
	snprintf(id, sizeof id, "%lld", (long long)r->ids[0]);
	const char *values[3] = {id, r->actor, r->today};
	api_sql_reply(r, "SELECT offer_confirm($1::bigint, $2::jsonb, $3::date)", 3, values, 200,
		      API_ETAG_OFFER);
}

/* Counts of one porteur for /metrics. */
struct porteur_count {
	int64_t id;                 /* 0: an empty slot */
	long open, in_time;
};

static int cmp_porteur(const void *a, const void *b)
{
	int64_t x = ((const struct porteur_count *)a)->id, y = ((const struct porteur_count *)b)->id;
	return x < y ? -1 : x > y;
}

/* For /metrics: per porteur, its open offers and those confirmed within
 * reconfirm_days (the share the indicators give, live). Counted in a hash
 * of porteurs, then only the porteurs sorted: sorting the country's offers
 * held the loop for tens of milliseconds at every scrape. */
void api_offers_freshness_metrics(struct app *app, struct evbuffer *b)
{
	size_t n = inventory_all_offers(app->inv, NULL, 0);
	size_t cap = 64;
	while (cap < 2 * n)
		cap *= 2;
	const struct match_offer **all = malloc((n + 1) * sizeof *all);
	struct porteur_count *t = calloc(cap, sizeof *t);
	if (!all || !t)
		goto out;
	n = inventory_all_offers(app->inv, all, n);
	char today[11];
	clock_today(&app->cfg, today);
	struct match_params fp = {.reconfirm_days = app->cfg.reconfirm_days};
	date_parse(today, &fp.today);
	size_t np = 0;
	for (size_t i = 0; i < n; i++) {
		if (!all[i]->open)
			continue;
		uint64_t h = (uint64_t)all[i]->porteur_id * 0x9e3779b97f4a7c15ULL;
		size_t s = (size_t)(h >> 20) & (cap - 1);
		while (t[s].id && t[s].id != all[i]->porteur_id)
			s = (s + 1) & (cap - 1);
		if (!t[s].id) {
			t[s].id = all[i]->porteur_id;
			np++;
		}
		t[s].open++;
		t[s].in_time += !match_offer_to_reconfirm(&fp, all[i]);
	}
	/* the porteurs to the front, in id order */
	size_t k = 0;
	for (size_t s = 0; s < cap; s++)
		if (t[s].id)
			t[k++] = t[s];
	qsort(t, np, sizeof *t, cmp_porteur);
	evbuffer_add_printf(b, "# HELP siaod_offers_open Open offers, by porteur.\n"
			    "# TYPE siaod_offers_open gauge\n");
	for (size_t i = 0; i < np; i++)
		evbuffer_add_printf(b, "siaod_offers_open{porteur_id=\"%lld\"} %ld\n", (long long)t[i].id,
				    t[i].open);
	evbuffer_add_printf(b, "# HELP siaod_offers_confirmed_in_time Open offers confirmed "
			    "within reconfirm_days, by porteur.\n"
			    "# TYPE siaod_offers_confirmed_in_time gauge\n");
	for (size_t i = 0; i < np; i++)
		evbuffer_add_printf(b, "siaod_offers_confirmed_in_time{porteur_id=\"%lld\"} %ld\n",
				    (long long)t[i].id, t[i].in_time);
out:
	free(all);
	free(t);
}
