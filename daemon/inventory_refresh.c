/*
 * Refreshing and publishing the inventory (see inventory_refresh.h).
 *
 * Refreshes run one at a time, each reading what the previous one left, so
 * an older read can never land after a newer one. Requests that arrive while
 * one runs are merged into the next batch: under a stream of writes the
 * inventory costs a few round trips per batch, not per write.
 *
 *   idle ──refresh()──▶ OFFERS ─▶ PLACES ─▶ SPANS ─▶ YOUTH ─▶ batch done
 *                        (steps with no ids are skipped)        │
 *                        (a batch of ids sends its steps at
 *                        once, on as many connections, and
 *                        applies their answers in this order)    │
 *        ◀── next batch, if one gathered meanwhile ─────────────┤
 *                                                                ▼
 *           publish now (or when INVENTORY_PUBLISH_MS has passed since
 *           the last one), then call the batch's waiters
 */
#include "inventory_refresh.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "inventory.h"
#include "inventory_rows.h"
#include "log.h"
#include "store.h"

enum refresh_step { STEP_OFFERS, STEP_PLACES, STEP_SPANS, STEP_YOUTH, STEP_DONE };

struct waiter {
	inventory_done_fn done;
	void *arg;
	bool ok;
};

struct waiters {
	struct waiter *w;
	int n, cap;
};

/* Ids of a batch: a vector for the query, a hash set to keep them unique
 * in constant time (an apply of 25,000 pairs asks for 25,000 of each). */
struct idset {
	int64_t *ids;
	int n, cap;
	int64_t *set;               /* open addressing, 0 empty; ids are never 0 */
	size_t setcap;
};

/* Spans known from a write's answer (inventory_refresh_spans), applied
 * to the working model when their batch starts: after every read sent
 * before (a read of the offer made before the write would undo them),
 * before the batch's own reads (which, made after the write, agree). */
struct spans {
	struct inventory_span *v;
	int n, cap;
};

struct batch {
	bool all;                          /* everything, not just the ids */
	struct idset offers, youth;
	struct spans spans;
	struct waiters waiters;
};

/* One step of a batch of ids, sent with the others (refresh_parallel). */
struct refresh_part {
	struct inventory_refresh *f;
	enum refresh_step step;
	bool sent, failed;
	PGresult *res;                     /* its answer, copied, until all are in */
};

struct inventory_refresh {
	struct inventory *work;            /* the working model, ours alone */
	struct refresh_part parts[STEP_DONE];
	int outstanding;                   /* parts sent and not answered */
	struct inventory **published;      /* what readers read */
	struct event_base *base;
	struct store *st;
	bool running;
	enum refresh_step step;
	bool ok;
	struct batch run, next;            /* the batch in flight, the one gathering */
	char *offer_param, *youth_param;   /* "{1,2,3}" for the batch in flight */
	struct waiters unpublished;        /* batches done, waiting for the publication */
	bool dirty;                        /* working model changed since the last publication */
	struct event *publish_timer;
	double last_publish_ms;
};

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ---------------------------------------------------------------- id sets */

static size_t hash64(int64_t k)
{
	uint64_t x = (uint64_t)k;
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return (size_t)x;
}

static int idset_add(struct idset *s, int64_t id)
{
	if ((size_t)(s->n + 1) * 2 > s->setcap) {
		size_t cap = s->setcap ? s->setcap * 2 : 64;
		int64_t *set = calloc(cap, sizeof *set);
		if (!set)
			return -1;
		for (int i = 0; i < s->n; i++)
			for (size_t h = hash64(s->ids[i]) & (cap - 1);; h = (h + 1) & (cap - 1))
				if (!set[h]) {
					set[h] = s->ids[i];
					break;
				}
		free(s->set);
		s->set = set;
		s->setcap = cap;
	}
	size_t h = hash64(id) & (s->setcap - 1);
	for (; s->set[h]; h = (h + 1) & (s->setcap - 1))
		if (s->set[h] == id)
			return 0;
	if (s->n == s->cap) {
		int cap = s->cap ? s->cap * 2 : 16;
		int64_t *ids = realloc(s->ids, (size_t)cap * sizeof *ids);
		if (!ids)
			return -1;
		s->ids = ids;
		s->cap = cap;
	}
	s->set[h] = id;
	s->ids[s->n++] = id;
	return 0;
}

static void idset_clear(struct idset *s)
{
	s->n = 0;
	if (s->set)
		memset(s->set, 0, s->setcap * sizeof *s->set);
}

static char *id_array(const struct idset *s)
{
	char *out = malloc((size_t)s->n * 21 + 3);
	if (!out)
		return NULL;
	size_t len = 0;
	out[len++] = '{';
	for (int i = 0; i < s->n; i++)
		len += (size_t)sprintf(out + len, "%s%lld", i ? "," : "", (long long)s->ids[i]);
	out[len++] = '}';
	out[len] = '\0';
	return out;
}

static int spans_push(struct spans *ss, struct inventory_span k)
{
	if (ss->n == ss->cap) {
		int cap = ss->cap ? ss->cap * 2 : 16;
		struct inventory_span *grown = realloc(ss->v, (size_t)cap * sizeof *grown);
		if (!grown)
			return -1;
		ss->v = grown;
		ss->cap = cap;
	}
	ss->v[ss->n++] = k;
	return 0;
}

static int waiters_push(struct waiters *ws, struct waiter w)
{
	if (ws->n == ws->cap) {
		int cap = ws->cap ? ws->cap * 2 : 16;
		struct waiter *grown = realloc(ws->w, (size_t)cap * sizeof *grown);
		if (!grown)
			return -1;
		ws->w = grown;
		ws->cap = cap;
	}
	ws->w[ws->n++] = w;
	return 0;
}

/* ---------------------------------------------------------------- publishing */

static void publish(struct inventory_refresh *f)
{
	f->last_publish_ms = now_ms();
	if (!f->dirty)
		return;
	struct inventory *snap = inventory_freeze(f->work);
	if (!snap) {
		/* readers keep the previous snapshot; the next batch tries again */
		log_warn("inventory_publish", "result=out_of_memory");
		return;
	}
	f->dirty = false;
	struct inventory *old = *f->published;
	*f->published = snap;
	inventory_release(old);
	/* frees the snapshots no reader holds any more, and what only they read */
	inventory_collect(f->work);
}

static void refresh_start(struct inventory_refresh *f);

/* Publishes, then tells the waiters of every batch done so far. */
static void publish_and_answer(struct inventory_refresh *f)
{
	publish(f);
	/* Waiters may start writes that ask for more refreshes: those gather in
	 * f->next. Answered from a copy, as they may also end in a publication. */
	struct waiters ws = f->unpublished;
	f->unpublished = (struct waiters){0};
	for (int i = 0; i < ws.n; i++)
		ws.w[i].done(ws.w[i].arg, ws.w[i].ok);
	free(ws.w);
}

static void on_publish_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	publish_and_answer(arg);
}

/* A batch is done: publish now, or as soon as INVENTORY_PUBLISH_MS has
 * passed since the last publication. */
static void batch_done(struct inventory_refresh *f)
{
	double wait = f->last_publish_ms + INVENTORY_PUBLISH_MS - now_ms();
	if (wait <= 0 || !f->publish_timer) {
		if (f->publish_timer)
			evtimer_del(f->publish_timer);
		publish_and_answer(f);
		return;
	}
	if (!evtimer_pending(f->publish_timer, NULL)) {
		struct timeval tv = {0, (long)(wait * 1000) + 1};
		if (evtimer_add(f->publish_timer, &tv) != 0)
			publish_and_answer(f);
	}
}

/* ---------------------------------------------------------------- refresh */

static void refresh_step(struct inventory_refresh *f);
static void refresh_parallel(struct inventory_refresh *f);

/* At most this many offers and young people per round: a step's rows are
 * applied in one turn of the loop, and the 25,000 of an apply held it for
 * over 100 ms. The rest and the batch's waiters go to the next round: a
 * waiter is answered once every id it asked for has been read. */
#define REFRESH_SLICE 2000

static void slice_batch(struct batch *run, struct batch *next)
{
	if (run->all || (run->offers.n <= REFRESH_SLICE && run->youth.n <= REFRESH_SLICE))
		return;
	for (int i = REFRESH_SLICE; i < run->offers.n; i++)
		if (idset_add(&next->offers, run->offers.ids[i]) != 0)
			goto undo;
	for (int i = REFRESH_SLICE; i < run->youth.n; i++)
		if (idset_add(&next->youth, run->youth.ids[i]) != 0)
			goto undo;
	if (run->offers.n > REFRESH_SLICE)
		run->offers.n = REFRESH_SLICE;
	if (run->youth.n > REFRESH_SLICE)
		run->youth.n = REFRESH_SLICE;
	struct waiters w = run->waiters;   /* next's are empty: swapped whole */
	run->waiters = next->waiters;
	next->waiters = w;
	return;
undo:   /* out of memory: the batch runs whole, as before slicing */
	idset_clear(&next->offers);
	idset_clear(&next->youth);
}

/* The batch's known spans, into the working model; out of memory for
 * one: its offer (or young person) is read instead (false if even that
 * fails). */
static bool apply_spans(struct inventory_refresh *f)
{
	bool ok = true;
	for (int i = 0; i < f->run.spans.n; i++) {
		const struct inventory_span *k = &f->run.spans.v[i];
		f->dirty = true;
		if (inventory_put_span(f->work, k->offer_id, k->place_id, k->span) != 0 &&
		    idset_add(&f->run.offers, k->offer_id) != 0)
			ok = false;
		if (k->youth_id && inventory_set_open_placement(f->work, k->youth_id, true) != 0 &&
		    idset_add(&f->run.youth, k->youth_id) != 0)
			ok = false;
	}
	f->run.spans.n = 0;
	return ok;
}

static void refresh_start(struct inventory_refresh *f)
{
	/* the gathering batch becomes the running one; the old one's storage is reused */
	struct batch old = f->run;
	f->run = f->next;
	f->next = old;
	idset_clear(&f->next.offers);
	idset_clear(&f->next.youth);
	f->next.spans.n = 0;
	f->next.waiters.n = 0;
	f->next.all = false;
	slice_batch(&f->run, &f->next);
	bool spans_ok = apply_spans(f);
	f->offer_param = f->run.all ? NULL : id_array(&f->run.offers);
	f->youth_param = f->run.all ? NULL : id_array(&f->run.youth);
	f->running = true;
	f->ok = spans_ok && (f->run.all || (f->offer_param && f->youth_param));
	if (f->run.all)
		inventory_begin_full(f->work);
	f->step = f->ok ? STEP_OFFERS : STEP_DONE;
	if (f->ok && !f->run.all) {
		refresh_parallel(f);
		return;
	}
	refresh_step(f);
}

/* Applies the answer of step f->step to the working model. */
static void refresh_apply(struct inventory_refresh *f, PGresult *res)
{
	if (store_result_failed(res)) {
		/* The write has committed; only our copy is stale until the next
		 * refresh of these records. */
		log_warn("inventory_refresh", "step=%d result=failed", (int)f->step);
		f->ok = false;
	} else {
		int rc = 0;
		bool all = f->run.all;
		const int64_t *oids = all ? NULL : f->run.offers.ids, *yids = all ? NULL : f->run.youth.ids;
		int no = all ? 0 : f->run.offers.n, ny = all ? 0 : f->run.youth.n;
		f->dirty = true;
		switch (f->step) {
		case STEP_OFFERS: rc = inventory_rows_offers(f->work, res); break;
		case STEP_PLACES: rc = inventory_rows_places(f->work, res, oids, no); break;
		case STEP_SPANS: rc = inventory_rows_spans(f->work, res, oids, no); break;
		case STEP_YOUTH:
			rc = inventory_rows_youth(f->work, res, yids, ny);
			if (all && rc == 0)
				inventory_sweep_youth(f->work);
			break;
		case STEP_DONE: break;
		}
		if (rc != 0)
			f->ok = false;
	}
}

static void refresh_result(void *arg, PGresult *res)
{
	struct inventory_refresh *f = arg;
	refresh_apply(f, res);
	if (f->step < STEP_DONE)
		f->step++;
	refresh_step(f);
}

static const char *const step_sql[] = {
	[STEP_OFFERS] = "SELECT * FROM inv_offers($1::bigint[])",
	[STEP_PLACES] = "SELECT * FROM inv_places($1::bigint[])",
	[STEP_SPANS] = "SELECT * FROM inv_spans($1::bigint[])",
	[STEP_YOUTH] = "SELECT * FROM inv_youth($1::bigint[])",
};

/* An answer of a batch sent at once: kept until the last is in, then all
 * are applied in the order of the steps (offers before their places...). */
static void refresh_part_done(void *arg, PGresult *res)
{
	struct refresh_part *p = arg;
	struct inventory_refresh *f = p->f;
	if (store_result_failed(res)) {
		log_warn("inventory_refresh", "step=%d result=failed", (int)p->step);
		p->failed = true;
	} else {
		p->res = PQcopyResult(res, PG_COPYRES_ATTRS | PG_COPYRES_TUPLES);
		p->failed = !p->res;
	}
	if (--f->outstanding > 0)
		return;
	for (int s = STEP_OFFERS; s < STEP_DONE; s++) {
		struct refresh_part *q = &f->parts[s];
		if (!q->sent)
			continue;
		f->step = (enum refresh_step)s;
		if (q->failed)
			f->ok = false;
		else
			refresh_apply(f, q->res);
		if (q->res)
			PQclear(q->res);
		*q = (struct refresh_part){0};
	}
	f->step = STEP_DONE;
	refresh_step(f);
}

/* A batch of ids: its steps are independent reads, sent together (one
 * round trip instead of four in a row, each behind the writes queued
 * before it: the answers of the writes wait for their refresh). */
static void refresh_parallel(struct inventory_refresh *f)
{
	bool want[STEP_DONE] = {f->run.offers.n > 0, f->run.offers.n > 0, f->run.offers.n > 0,
				f->run.youth.n > 0};
	int n = 0;
	for (int s = STEP_OFFERS; s < STEP_DONE; s++)
		n += want[s];
	if (n == 0) {
		f->step = STEP_DONE;
		refresh_step(f);
		return;
	}
	/* counted before the first is sent: a store that is closing answers at once */
	f->outstanding = n;
	for (int s = STEP_OFFERS; s < STEP_DONE; s++) {
		if (!want[s])
			continue;
		struct refresh_part *p = &f->parts[s];
		*p = (struct refresh_part){.f = f, .step = (enum refresh_step)s, .sent = true};
		const char *values[1] = {s == STEP_YOUTH ? f->youth_param : f->offer_param};
		store_query(f->st, step_sql[s], 1, values, refresh_part_done, p);
	}
}

static void refresh_step(struct inventory_refresh *f)
{
	if (f->step == STEP_OFFERS && f->run.offers.n == 0 && !f->run.all)
		f->step = STEP_YOUTH;
	if (f->step == STEP_YOUTH && f->run.youth.n == 0 && !f->run.all)
		f->step = STEP_DONE;
	if (f->step < STEP_DONE) {
		const char *values[1] = {f->step == STEP_YOUTH ? f->youth_param : f->offer_param};
		store_query(f->st, step_sql[f->step], 1, values, refresh_result, f);
		return;
	}
	free(f->offer_param);
	free(f->youth_param);
	f->offer_param = f->youth_param = NULL;
	f->running = false;
	for (int i = 0; i < f->run.waiters.n; i++) {
		struct waiter w = f->run.waiters.w[i];
		w.ok = f->ok;
		if (waiters_push(&f->unpublished, w) != 0)
			w.done(w.arg, false);
	}
	f->run.waiters.n = 0;
	struct batch *b = &f->next;
	if (b->all || b->offers.n || b->youth.n || b->spans.n || b->waiters.n)
		refresh_start(f);
	batch_done(f);
}

void inventory_refresh(struct inventory_refresh *f,
		       const int64_t *offer_ids, int noffers,
		       const int64_t *youth_ids, int nyouth,
		       inventory_done_fn done, void *arg)
{
	inventory_refresh_spans(f, NULL, 0, offer_ids, noffers, youth_ids, nyouth, done, arg);
}

void inventory_refresh_spans(struct inventory_refresh *f,
			     const struct inventory_span *spans, int nspans,
			     const int64_t *offer_ids, int noffers,
			     const int64_t *youth_ids, int nyouth,
			     inventory_done_fn done, void *arg)
{
	struct batch *b = &f->next;
	int rc = 0;
	for (int i = 0; i < nspans && rc == 0; i++)
		rc = spans_push(&b->spans, spans[i]);
	for (int i = 0; i < noffers && rc == 0; i++)
		rc = idset_add(&b->offers, offer_ids[i]);
	for (int i = 0; i < nyouth && rc == 0; i++)
		rc = idset_add(&b->youth, youth_ids[i]);
	if (rc == 0 && done)
		rc = waiters_push(&b->waiters, (struct waiter){done, arg, true});
	if (rc != 0) {
		if (done)
			done(arg, false);
		return;
	}
	if (!f->running && (b->all || b->offers.n || b->youth.n || b->spans.n || b->waiters.n))
		refresh_start(f);
}

void inventory_refresh_all(struct inventory_refresh *f, inventory_done_fn done, void *arg)
{
	/* the gathering batch becomes a full one; it starts now if idle */
	f->next.all = true;
	inventory_refresh(f, NULL, 0, NULL, 0, done, arg);
}

void inventory_refresh_default_distance(struct inventory_refresh *f, int km)
{
	inventory_set_default_distance(f->work, km);
	f->dirty = true;
	publish(f);
}

struct inventory *inventory_refresh_acquire(struct inventory_refresh *f)
{
	return inventory_retain(*f->published);
}

/* ---------------------------------------------------------------- load */

static PGresult *load_query(PGconn *pg, const char *sql)
{
	PGresult *res = PQexecParams(pg, sql, 1, NULL, (const char *const[]){NULL}, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		log_error("inventory_load", "query=\"%.40s\" error=\"%s\"", sql, msg ? msg : "?");
		PQclear(res);
		return NULL;
	}
	return res;
}

static int load(struct inventory *inv, PGconn *pg)
{
	static const char *const sql[] = {
		"SELECT * FROM inv_offers($1::bigint[])", "SELECT * FROM inv_places($1::bigint[])",
		"SELECT * FROM inv_spans($1::bigint[])", "SELECT * FROM inv_youth($1::bigint[])",
	};
	for (int step = STEP_OFFERS; step < STEP_DONE; step++) {
		PGresult *res = load_query(pg, sql[step]);
		if (!res)
			return -1;
		int rc = step == STEP_OFFERS ? inventory_rows_offers(inv, res)
		       : step == STEP_PLACES ? inventory_rows_places(inv, res, NULL, 0)
		       : step == STEP_SPANS ? inventory_rows_spans(inv, res, NULL, 0)
		       : inventory_rows_youth(inv, res, NULL, 0);
		PQclear(res);
		if (rc != 0)
			return -1;
	}
	log_info("inventory_load", "offers=%zu places=%zu youth=%zu", inventory_offer_count(inv),
		 inventory_place_count(inv), inventory_youth_count(inv));
	return 0;
}

struct inventory_refresh *inventory_refresh_load(PGconn *pg, int default_max_distance_km,
						 struct inventory **published)
{
	struct inventory_refresh *f = calloc(1, sizeof *f);
	if (!f)
		return NULL;
	f->published = published;
	*published = NULL;
	f->work = inventory_new(default_max_distance_km);
	f->dirty = true;
	if (!f->work || load(f->work, pg) != 0) {
		inventory_refresh_free(f);
		return NULL;
	}
	publish(f);
	if (!*published) {
		inventory_refresh_free(f);
		return NULL;
	}
	return f;
}

void inventory_refresh_start(struct inventory_refresh *f, struct event_base *base, struct store *st)
{
	f->base = base;
	f->st = st;
	/* without the timer (out of memory) every batch publishes at once */
	f->publish_timer = evtimer_new(base, on_publish_timer, f);
}

static void batch_free(struct batch *b)
{
	free(b->offers.ids);
	free(b->offers.set);
	free(b->youth.ids);
	free(b->youth.set);
	free(b->spans.v);
	free(b->waiters.w);
}

void inventory_refresh_free(struct inventory_refresh *f)
{
	if (!f)
		return;
	if (f->publish_timer)
		event_free(f->publish_timer);
	batch_free(&f->run);
	batch_free(&f->next);
	free(f->unpublished.w);
	free(f->offer_param);
	free(f->youth_param);
	for (int i = 0; i < STEP_DONE; i++)
		if (f->parts[i].res)
			PQclear(f->parts[i].res);
	/* the published snapshot first: the working model frees every snapshot it made */
	inventory_release(*f->published);
	*f->published = NULL;
	inventory_release(f->work);
	free(f);
}
