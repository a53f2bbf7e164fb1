/*
 * Allocation plans: for a département and a date, the assignment of its
 * waiting young people to its free places that maximises the total match
 * score (ties: the higher priorities), computed from an inventory snapshot
 * by the planner (include/siaod/plan.h) in a worker thread (plan_jobs.c),
 * explained pair by pair, stored, and turned into proposals only by an
 * explicit POST .../apply.
 *
 *   POST ──▶ job submitted (429 if plan_workers + plan_queue_max are busy)
 *        ──▶ row queued (plan_enqueue) ─┐   worker: pairs, solve, JSON
 *                                       ▼
 *        plan_finish(result) ◀── both done
 *   The request waits plan_sync_wait_ms: 201 with the plan if it is stored
 *   by then, else 202 + Location; GET shows status and progress meanwhile.
 *
 * Apply: the plan is read (SQL), parsed and its pairs checked in a worker
 * (a pair asked for that is not among the plan's assignments: 422, nothing
 * proposed), then each pair is proposed in its own transaction from the
 * loop, one round trip at a time; the same wait, 202 and GET apply.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "api.h"
#include "app.h"
#include "bigmem.h"
#include "inventory.h"
#include "inventory_refresh.h"
#include "jsonw.h"
#include "log.h"
#include "plan_jobs.h"
#include "problem.h"
#include "siaod/date.h"
#include "siaod/match.h"
#include "siaod/plan.h"
#include "store.h"
#include "validate.h"

#define MAX_PRIORITY 800   /* match_priority's ceiling, see match.h */

static const struct vfield plan_fields[] = {
	{"departement", V_DEPARTEMENT, true, false, 0, 0, NULL, false},
	{"on", V_DATE, false, false, 0, 0, NULL, false},
};

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static struct match_params params_on(struct req *r, sdate on)
{
	return inventory_match_params(&r->app->cfg, r->today, on);
}

/* Retry-After for a 429: a plan takes a few seconds; more when many wait. */
static int retry_after(const struct app *app)
{
	return 2 + plan_jobs_pending(app->plans) / (app->cfg.plan_workers ? app->cfg.plan_workers : 1);
}

/* ================================================================ plans */

struct plan_run {
	struct plan_job job;        /* first: a plan_job * is a plan_run * */
	struct app *app;
	struct req *r;              /* waiting for the answer; NULL once answered */
	struct event *timer;        /* plan_sync_wait_ms */
	int64_t id;                 /* 0 until the row exists */
	bool row_failed;            /* the row could not be written: answered already */
	bool computed;              /* the worker's part is done */
	char dep[4];
	sdate on;
	struct match_params p;
	struct inventory *snap;     /* the worker's reference, released by it */
	/* written by the worker */
	char *plan;                 /* JSON, NULL when it failed */
	int total;
	int32_t n, m;
	size_t pairs;
	int build_threads;          /* asked (0: one a core), then the number used */
	/* phases, for the log line: submitted → pairs → solved → JSON → stored */
	double t_submit, queue_ms, collect_ms, build_ms, solve_ms, explain_ms, t_store;
	struct plan_run *next;      /* runs in memory, for GET */
};

/* Runs not yet stored, for GET while they are queued or running. Loop only. */
static struct plan_run *runs;

/* The plan is written as JSON text straight into a buffer (jsonw), as
 * Jansson would write it compact, keys in this order: a tree of 7,000
 * assignments with their reasons, then its dump, took 0.4 s. The readers
 * of a stored plan rely on each item of assignments and unassigned
 * starting with {"youth_id": (see sql/functions/plans.sql). */
static void put_date(struct jsonw *w, sdate d)
{
	char day[11];
	date_format(d, day);
	jsonw_str(w, day);
}

static void put_reasons(struct jsonw *w, const struct match_factor *f)
{
	jsonw_lit(w, "[");
	for (int k = 0; k < MATCH_FACTOR_COUNT; k++) {
		if (k)
			jsonw_lit(w, ",");
		jsonw_lit(w, "{\"factor\":");
		jsonw_str(w, match_factor_code(f[k].factor));
		jsonw_lit(w, ",\"points\":");
		jsonw_int(w, f[k].points);
		jsonw_lit(w, ",\"detail\":");
		jsonw_str(w, f[k].detail);
		jsonw_lit(w, "}");
	}
	jsonw_lit(w, "]");
}

/* An item of unassigned: who, and why not. */
static void put_unassigned(struct jsonw *w, bool *first, int64_t youth_id, const char *why)
{
	if (!*first)
		jsonw_lit(w, ",");
	*first = false;
	jsonw_lit(w, "{\"youth_id\":");
	jsonw_int(w, youth_id);
	jsonw_lit(w, ",\"why\":");
	jsonw_str(w, why);
}

/* Offer → column of the plan, by address: an open-addressing table (a
 * power of two, at most half full), asked once for every offer a scan
 * meets, so a lookup costs one or two probes, not a binary search. Only
 * the plan's offers are in it (the département's, with a free place). */
struct column_of {
	const struct inv_offer *offer;   /* NULL: an empty slot */
	int32_t column;
};

static size_t column_slot(const struct inv_offer *o, size_t mask)
{
	return (size_t)(((uint64_t)(uintptr_t)o >> 4) * 0x9E3779B97F4A7C15ull >> 32) & mask;
}

static void column_put(struct column_of *cols, size_t mask, const struct inv_offer *o, int32_t column)
{
	size_t h = column_slot(o, mask);
	while (cols[h].offer)
		h = (h + 1) & mask;
	cols[h] = (struct column_of){o, column};
}

static int32_t column_of(const struct column_of *cols, size_t mask, const struct inv_offer *o)
{
	for (size_t h = column_slot(o, mask); cols[h].offer; h = (h + 1) & mask)
		if (cols[h].offer == o)
			return cols[h].column;
	return -1;
}

/* The pairs of one young person, as match_scan_cells finds them. */
struct pair_scan {
	const char *dep;
	const struct column_of *col;
	size_t mask;                /* col's size - 1 */
	const sdate *free_until;    /* a column's inventory_free_until(on) */
	sdate on;
	int32_t m;
	sdate *last_end;
	uint32_t *pairs;            /* one chunk's (PLAN_PAIR): room for BUILD_CHUNK */
	size_t ecap, ne;            /* young people of at most m pairs each */
	int32_t column;             /* of the offer pair_wanted accepted last */
	bool failed;                /* out of memory */
};

/* The département's offers with a place free on the plan's day: their
 * column, for pair_found, which comes next for the same offer. */
static bool pair_wanted(void *ctx, const struct match_offer *o)
{
	struct pair_scan *ps = ctx;
	ps->column = column_of(ps->col, ps->mask, (const struct inv_offer *)o);
	return ps->column >= 0;
}

/* The scan's free places question (params.free_places, ctx the scan),
 * asked right after pair_wanted for the same offer: every stay of a plan
 * starts on its day, so the offer's free_until answers it (1: free). */
static int pair_free(void *ctx, const struct match_offer *o, sdate start, sdate end)
{
	const struct pair_scan *ps = ctx;
	if (start != ps->on)
		return inventory_free_places((const struct inv_offer *)o, start, end);
	return end <= ps->free_until[ps->column];
}

static void pair_found(void *ctx, const struct match_offer *o, const struct match_check *chk, int score)
{
	struct pair_scan *ps = ctx;
	(void)o;
	int32_t j = ps->column;
	if (ps->failed)
		return;
	if (chk->end > ps->last_end[j])
		ps->last_end[j] = chk->end;
	if (ps->ne == ps->ecap) {
		ps->failed = true;      /* cannot happen: see pair_scan.ecap */
		return;
	}
	ps->pairs[ps->ne++] = PLAN_PAIR(j, score);
}

/* Pairs are built in chunks of young people, taken in turn by as many
 * threads as cores (so the shares stay even wherever the dense areas
 * are), each chunk's pairs copied at once to the next free room of one
 * array: the chunks in the order they finish, each young person's pairs
 * together and in the order of the scan, which is all the planner's
 * answer depends on (see plan.h), hence the same plan whatever the
 * threads. */
#define BUILD_CHUNK 64
#define BUILD_THREADS_MAX 8

struct pair_shared {
	uint32_t *out;              /* room for cap pairs: every young person's m */
	size_t cap;                 /* when the address space allows, see build_pairs */
	size_t *start;              /* where each young person's pairs went */
	int32_t *count, *prio;
	_Atomic size_t used;
	atomic_int next, done;      /* chunks taken, chunks finished */
	int32_t nchunks;
};

struct pair_part {
	struct pair_scan ps;        /* this thread's chunk and last_end */
	struct match_params params; /* the plan's, free places by pair_free */
	struct match_cell *cells;
	size_t ncells;
	struct pair_shared *sh;
	const struct inventory *inv;
	const struct match_params *pp;
	const struct inv_youth **ys;
	int32_t n;
	struct plan_job *job;
};

static void *pair_part_run(void *arg)
{
	struct pair_part *pt = arg;
	struct pair_scan *ps = &pt->ps;
	struct pair_shared *sh = pt->sh;
	for (int32_t c; !ps->failed && (c = atomic_fetch_add(&sh->next, 1)) < sh->nchunks;) {
		int32_t end = c * BUILD_CHUNK + BUILD_CHUNK < pt->n ? c * BUILD_CHUNK + BUILD_CHUNK : pt->n;
		ps->ne = 0;
		size_t from[BUILD_CHUNK];
		for (int32_t i = c * BUILD_CHUNK; i < end && !ps->failed; i++) {
			const struct match_youth *y = &pt->ys[i]->m;
			size_t nc;
			while ((nc = inventory_offer_cells(pt->inv, y->lat, y->lon, y->max_distance_km, pt->cells,
							   pt->ncells)) > pt->ncells) {
				struct match_cell *grown = realloc(pt->cells, 2 * nc * sizeof *grown);
				if (!grown) {
					ps->failed = true;
					break;
				}
				pt->cells = grown;
				pt->ncells = 2 * nc;
			}
			if (ps->failed)
				break;
			from[i - c * BUILD_CHUNK] = ps->ne;
			sh->prio[i] = match_priority(y, pt->pp->today);
			match_scan_cells(&pt->params, y, pt->cells, nc, pair_wanted, pair_found, ps);
			sh->count[i] = (int32_t)(ps->ne - from[i - c * BUILD_CHUNK]);
		}
		if (ps->failed)
			break;
		size_t at = atomic_fetch_add(&sh->used, ps->ne);
		if (at + ps->ne > sh->cap) {
			ps->failed = true;      /* beyond the room that could be had */
			break;
		}
		memcpy(sh->out + at, ps->pairs, ps->ne * sizeof *ps->pairs);
		for (int32_t i = c * BUILD_CHUNK; i < end; i++)
			sh->start[i] = at + from[i - c * BUILD_CHUNK];
		int done = atomic_fetch_add(&sh->done, 1) + 1;
		atomic_store(&pt->job->progress, (int)(600LL * done / sh->nchunks));
	}
	return NULL;
}

/* How many threads build the pairs: plan_build_threads (0: one a core,
 * the worker's own one included), never more than the chunks. */
static int build_threads(int want, int32_t n)
{
	long cores = want > 0 ? want : sysconf(_SC_NPROCESSORS_ONLN);
	int32_t nchunks = (n + BUILD_CHUNK - 1) / BUILD_CHUNK;
	int nt = cores < 1 ? 1 : cores > BUILD_THREADS_MAX ? BUILD_THREADS_MAX : (int)cores;
	if (nt > nchunks)
		nt = nchunks > 0 ? (int)nchunks : 1;
	return nt;
}

/* The eligible pairs of ys[0..n) and the offers' columns (see pair_scan):
 * into *out (its arrays: pairs in *mem, which the caller releases; start,
 * count and priority the caller's, n entries each), *ne of them;
 * last_end[] raised to the longest stay asked of each column. -1 when out
 * of memory. */
static int build_pairs(struct plan_job *job, const struct inventory *inv, const struct match_params *pp,
		       const char *dep, const struct inv_youth **ys, int32_t n, const struct column_of *col,
		       size_t mask, int32_t m, const sdate *free_until, sdate *last_end, int nt,
		       struct bigmem *mem, struct plan_pairs *out, size_t *ne)
{
	int rc = -1;
	struct pair_shared sh = {.nchunks = (n + BUILD_CHUNK - 1) / BUILD_CHUNK, .start = (size_t *)out->start,
				 .count = (int32_t *)out->count, .prio = (int32_t *)out->priority};
	atomic_init(&sh.used, 0);
	atomic_init(&sh.next, 0);
	atomic_init(&sh.done, 0);
	struct pair_part *parts = calloc((size_t)nt, sizeof *parts);
	pthread_t *tids = calloc((size_t)nt, sizeof *tids);
	bool *started = calloc((size_t)nt, sizeof *started);
	*ne = 0;
	if (!parts || !tids || !started)
		goto out;
	/* Room for the most pairs there can be (reserved, not taken: see
	 * bigmem.h); where the system counts reserved memory against its
	 * limit (vm.overcommit_memory = 2) and refuses that much, room for
	 * 256 M pairs, then 32 M, far more than a département has (dép. 59:
	 * 9 M): a plan beyond fails as out of memory. */
	static const size_t fallback[] = {(size_t)256 << 20, (size_t)32 << 20};
	sh.cap = (size_t)n * (size_t)m;
	for (size_t f = 0; bigmem_reserve(mem, sh.cap * sizeof *sh.out) != 0; f++) {
		if (f == sizeof fallback / sizeof *fallback)
			goto out;
		if (fallback[f] < sh.cap)
			sh.cap = fallback[f];
	}
	sh.out = mem->base;
	for (int t = 0; t < nt; t++) {
		struct pair_part *pt = &parts[t];
		*pt = (struct pair_part){.sh = &sh, .inv = inv, .pp = pp, .ys = ys, .n = n, .job = job,
					 .ncells = 256};
		pt->ps = (struct pair_scan){.dep = dep, .col = col, .mask = mask, .free_until = free_until,
					   .on = pp->on, .m = m, .ecap = (size_t)BUILD_CHUNK * (size_t)m};
		pt->params = *pp;
		pt->params.free_places = pair_free;
		pt->params.ctx = &pt->ps;
		pt->ps.last_end = malloc(((size_t)m + 1) * sizeof *pt->ps.last_end);
		pt->ps.pairs = malloc((pt->ps.ecap + 1) * sizeof *pt->ps.pairs);
		pt->cells = malloc(pt->ncells * sizeof *pt->cells);
		if (!pt->ps.last_end || !pt->ps.pairs || !pt->cells)
			goto out;
		memcpy(pt->ps.last_end, last_end, (size_t)m * sizeof *last_end);
	}
	/* one share on this thread; a thread that cannot start leaves its
	 * chunks to the others */
	for (int t = 1; t < nt; t++)
		started[t] = pthread_create(&tids[t], NULL, pair_part_run, &parts[t]) == 0;
	pair_part_run(&parts[0]);
	for (int t = 1; t < nt; t++)
		if (started[t])
			pthread_join(tids[t], NULL);
	for (int t = 0; t < nt; t++) {
		if (parts[t].ps.failed)
			goto out;
		for (int32_t j = 0; j < m; j++)
			if (parts[t].ps.last_end[j] > last_end[j])
				last_end[j] = parts[t].ps.last_end[j];
	}
	out->pairs = sh.out;
	*ne = atomic_load(&sh.used);
	rc = 0;
out:
	for (int t = 0; parts && t < nt; t++) {
		free(parts[t].ps.last_end);
		free(parts[t].ps.pairs);
		free(parts[t].cells);
	}
	free(parts);
	free(tids);
	free(started);
	return rc;
}

/* In a worker thread: the plan as JSON text into run->plan (NULL when out
 * of memory). Reads only run->snap and run's inputs. Progress: pairs
 * built 0–600 ‰, solved 800 ‰, explained up to 1000 ‰. */
static void plan_compute(struct plan_job *job)
{
	struct plan_run *run = (struct plan_run *)job;
	double t_run = now_ms();
	run->queue_ms = t_run - run->t_submit;
	const struct inventory *inv = run->snap;
	const char *dep = run->dep;
	sdate on = run->on;
	const struct match_params *pp = &run->p;
	size_t ny = inventory_all_youth(inv, NULL, 0), no = inventory_all_offers(inv, NULL, 0);
	const struct inv_youth **all_y = malloc((ny + 1) * sizeof *all_y);
	const struct match_offer **all_o = malloc((no + 1) * sizeof *all_o);
	const struct inv_youth **ys = malloc((ny + 1) * sizeof *ys);
	const struct inv_offer **os = malloc((no + 1) * sizeof *os);
	const struct inv_offer **dep_os = malloc((no + 1) * sizeof *dep_os);  /* free or not */
	int32_t *cap = malloc((no + 1) * sizeof *cap);
	struct column_of *col = NULL;
	size_t mask = 1;
	sdate *last_end = malloc((no + 1) * sizeof *last_end);
	sdate *free_until = malloc((no + 1) * sizeof *free_until);
	size_t ne = 0;
	struct bigmem pairs_mem = {0};   /* pairs.pairs */
	size_t *pair_start = malloc((ny + 1) * sizeof *pair_start);
	int32_t *pair_count = calloc(ny + 1, sizeof *pair_count);
	int32_t *prio = malloc((ny + 1) * sizeof *prio);
	struct plan_pairs pairs = {.start = pair_start, .count = pair_count, .priority = prio,
				   .max_priority = MAX_PRIORITY};
	int64_t *pending = malloc((ny + 1) * sizeof *pending);  /* waiting, but already with a proposal */
	size_t npending = 0;
	struct jsonw w = {0};
	struct plan_result res = {0};
	if (!all_y || !all_o || !ys || !os || !dep_os || !cap || !last_end || !free_until || !pending)
		goto out;
	inventory_all_youth(inv, all_y, ny);
	inventory_all_offers(inv, all_o, no);
	int32_t n = 0, m = 0;
	size_t ndep = 0;
	for (size_t i = 0; i < ny; i++) {
		const struct inv_youth *y = all_y[i];
		if (!y->located || strcmp(y->departement, dep) != 0)
			continue;
		if (y->waiting)
			ys[n++] = y;
		else if (y->status_waiting && y->open_placement)
			pending[npending++] = y->m.id;
	}
	for (size_t j = 0; j < no; j++) {
		const struct inv_offer *o = (const struct inv_offer *)all_o[j];
		if (strcmp(o->departement, dep) != 0)
			continue;
		dep_os[ndep++] = o;
		if (inventory_free_on(o, on) > 0) {
			last_end[m] = on + 1;
			free_until[m] = inventory_free_until(o, on);
			os[m++] = o;
		}
	}
	while (mask + 1 < 2 * (size_t)m)
		mask = 2 * mask + 1;
	col = calloc(mask + 1, sizeof *col);
	if (!col)
		goto out;
	for (int32_t j = 0; j < m; j++)
		column_put(col, mask, os[j], j);
	/* Eligible pairs, through the offer grid's cells around each young
	 * person (offers packed by value: see match_scan_cells), on as many
	 * threads as cores. */
	double t_build = now_ms();
	run->collect_ms = t_build - t_run;
	run->build_threads = build_threads(run->build_threads, n);
	if (!pair_start || !pair_count || !prio ||
	    build_pairs(job, inv, pp, dep, ys, n, col, mask, m, free_until, last_end, run->build_threads, &pairs_mem,
			&pairs, &ne) != 0)
		goto out;
	atomic_store(&job->progress, 600);
	/* An offer gives the plan the places free for the longest stay asked
	 * of it: never more young people than its places can take, whatever
	 * the mix of stays. */
	for (int32_t j = 0; j < m; j++)
		cap[j] = inventory_free_places(os[j], on, last_end[j]);
	struct plan_input in = {n, m, cap, NULL, ne, 0, &pairs};
	double t_solve = now_ms();
	if (plan_solve(&in, &res) != 0)
		goto out;
	double t_explain = now_ms();
	run->build_ms = t_solve - t_build;
	run->solve_ms = t_explain - t_solve;
	atomic_store(&job->progress, 800);
	int total = 0;
	jsonw_lit(&w, "{\"assignments\":[");
	bool first = true;
	for (int32_t i = 0; i < n; i++) {
		const struct match_youth *y = &ys[i]->m;
		int32_t j = res.offer_of[i];
		if (j < 0)
			continue;
		struct match_factor f[MATCH_FACTOR_COUNT];
		int score = match_score(pp, y, &os[j]->m, f);
		sdate start, end;
		match_period(y, &os[j]->m, on, pp->today, &start, &end);
		total += score;
		/* the stay the plan checked is the one apply proposes */
		if (!first)
			jsonw_lit(&w, ",");
		first = false;
		jsonw_lit(&w, "{\"youth_id\":");
		jsonw_int(&w, y->id);
		jsonw_lit(&w, ",\"offer_id\":");
		jsonw_int(&w, os[j]->m.id);
		jsonw_lit(&w, ",\"label\":");
		jsonw_str(&w, os[j]->label ? os[j]->label : "");
		jsonw_lit(&w, ",\"score\":");
		jsonw_int(&w, score);
		jsonw_lit(&w, ",\"priority\":");
		jsonw_int(&w, match_priority(y, pp->today));
		jsonw_lit(&w, ",\"start_date\":");
		put_date(&w, start);
		jsonw_lit(&w, ",\"end_date\":");
		put_date(&w, end);
		jsonw_lit(&w, ",\"reasons\":");
		put_reasons(&w, f);
		jsonw_lit(&w, "}");
	}
	jsonw_lit(&w, "],\"unassigned\":[");
	first = true;
	for (size_t k = 0; k < npending; k++) {
		put_unassigned(&w, &first, pending[k], "has_an_open_placement");
		jsonw_lit(&w, "}");
	}
	for (int32_t i = 0; i < n; i++) {
		const struct match_youth *y = &ys[i]->m;
		if (res.offer_of[i] >= 0)
			continue;
		/* Why not: no eligible offer with a free place (and which rules
		 * excluded the département's offers), or the places went to
		 * pairs that scored more. */
		size_t eligible = (size_t)pair_count[i];     /* eligible pairs */
		put_unassigned(&w, &first, y->id, eligible ? "places_went_to_better_matches" : "no_eligible_free_place");
		if (eligible) {
			jsonw_lit(&w, ",\"eligible_offers\":");
			jsonw_int(&w, (long long)eligible);
		} else {
			size_t excluded[MATCH_RULE_COUNT] = {0};
			for (size_t c = 0; c < ndep; c++) {
				enum match_rule rule = match_eligible(pp, y, &dep_os[c]->m, NULL);
				excluded[rule == MATCH_OK ? MATCH_RULE_NO_FREE_PLACE : rule]++;
			}
			jsonw_lit(&w, ",\"excluded\":{");
			for (int rule = 0; rule < MATCH_RULE_COUNT; rule++) {
				if (rule)
					jsonw_lit(&w, ",");
				jsonw_str(&w, match_rule_code(rule));
				jsonw_lit(&w, ":");
				jsonw_int(&w, (long long)excluded[rule]);
			}
			jsonw_lit(&w, "}");
		}
		jsonw_lit(&w, "}");
	}
	jsonw_lit(&w, "],\"waiting_youth\":");
	jsonw_int(&w, n);
	jsonw_lit(&w, ",\"offers_with_free_places\":");
	jsonw_int(&w, m);
	jsonw_lit(&w, ",\"eligible_pairs\":");
	jsonw_int(&w, (long long)ne);
	jsonw_raw(&w, "}", 2);   /* with its NUL: run->plan is a C string */
	run->total = total;
	run->n = n;
	run->m = m;
	run->pairs = ne;
	if (!jsonw_failed(&w)) {
		run->plan = w.buf;   /* handed over */
		w = (struct jsonw){0};
	}
	run->explain_ms = now_ms() - t_explain;
out:
	free(pending);
	jsonw_free(&w);
	plan_result_free(&res);
	free(all_y);
	free(all_o);
	free(ys);
	free(os);
	free(dep_os);
	free(cap);
	free(col);
	free(last_end);
	free(free_until);
	bigmem_release(&pairs_mem);
	free(pair_start);
	free(prio);
	free(pair_count);
	/* done reading: the snapshot may go as soon as the loop swaps it */
	inventory_release(run->snap);
	run->snap = NULL;
}

static void run_unlink(struct plan_run *run)
{
	for (struct plan_run **p = &runs; *p; p = &(*p)->next)
		if (*p == run) {
			*p = run->next;
			return;
		}
}

static void run_free(struct plan_run *run)
{
	run_unlink(run);
	if (run->timer)
		event_free(run->timer);
	inventory_release(run->snap);
	free(run->plan);
	free(run);
}

static json_t *run_status_json(const struct plan_run *run)
{
	char day[11];
	date_format(run->on, day);
	int state = atomic_load(&run->job.state);
	return json_pack("{s:I, s:s, s:s, s:s, s:f}", "id", (json_int_t)run->id, "departement", run->dep,
			 /* done only once stored: until then GET answers from here */
			 "on", day, "status", state == PLAN_JOB_QUEUED && !run->computed ? "queued" : "running",
			 "progress", atomic_load(&run->job.progress) / 1000.0);
}

/* plan_sync_wait_ms passed: 202 with where to look. */
static void run_accepted(struct plan_run *run)
{
	struct req *r = run->r;
	run->r = NULL;
	char location[64];
	snprintf(location, sizeof location, "/v1/allocation-plans/%lld", (long long)run->id);
	req_add_header(r, "Location", location);
	req_reply_json(r, 202, run_status_json(run));
}

static void on_run_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct plan_run *run = arg;
	if (run->r)
		run_accepted(run);
}

static void run_stored(void *arg, PGresult *res)
{
	struct plan_run *run = arg;
	struct req *r = run->r;
	run->r = NULL;
	if (r) {
		if (store_result_failed(res))
			api_sql_problem(r, res);
		else if (!run->plan)
			req_problem(r, 503, "plan-failed", "the plan could not be computed; try again");
		else
			req_reply_raw(r, 201, "application/json", PQgetvalue(res, 0, 0),
				      (size_t)PQgetlength(res, 0, 0));
	} else if (store_result_failed(res))
		log_warn("plan", "id=%lld stored=failed", (long long)run->id);
	double t_end = now_ms();
	log_info("plan", "id=%lld departement=%s youth=%d offers=%d pairs=%zu threads=%d queue_ms=%.0f "
		 "collect_ms=%.0f build_ms=%.0f solve_ms=%.0f explain_ms=%.0f store_ms=%.0f total_ms=%.0f result=%s",
		 (long long)run->id, run->dep, run->n, run->m, run->pairs, run->build_threads, run->queue_ms,
		 run->collect_ms, run->build_ms, run->solve_ms, run->explain_ms, t_end - run->t_store, t_end - run->t_submit,
		 run->plan ? "done" : "failed");
	run_free(run);
}

/* The row exists and the worker is done: store the result. */
static void run_store(struct plan_run *run)
{
	run->t_store = now_ms();
	char id[24], tot[16];
	snprintf(id, sizeof id, "%lld", (long long)run->id);
	snprintf(tot, sizeof tot, "%d", run->total);
	/* answered already (202): the plan is read later by GET, not now */
	const char *values[4] = {id, run->plan ? tot : NULL, run->plan, run->r ? "true" : "false"};
	store_query(run->app->store, "SELECT plan_finish($1::bigint, $2::integer, $3::json, $4::boolean)", 4,
		    values, run_stored, run);
}

/* On the loop, once the worker is done (or the pool stopped). */
static void run_done(struct plan_job *job)
{
	struct plan_run *run = (struct plan_run *)job;
	run->computed = true;
	if (job->cancelled) {
		free(run->plan);
		run->plan = NULL;
	}
	if (run->row_failed)
		run_free(run);
	else if (run->id)
		run_store(run);
	/* else: stored as soon as the row exists (run_enqueued) */
}

static void run_enqueued(void *arg, PGresult *res)
{
	struct plan_run *run = arg;
	if (store_result_failed(res)) {
		struct req *r = run->r;
		run->r = NULL;
		run->row_failed = true;
		api_sql_problem(r, res);
		if (run->computed)
			run_free(run);
		return;
	}
	json_t *row = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
	run->id = json_integer_value(json_object_get(row, "id"));
	json_decref(row);
	run->next = runs;
	runs = run;
	if (run->computed) {
		run_store(run);
		return;
	}
	int wait = run->app->cfg.plan_sync_wait_ms;
	struct timeval tv = {wait / 1000, (wait % 1000) * 1000L};
	run->timer = evtimer_new(run->app->base, on_run_timer, run);
	if (!run->timer || evtimer_add(run->timer, &tv) != 0)
		run_accepted(run);
}

void api_plans_create(struct req *r)
{
	if (!api_validate(r, plan_fields, sizeof plan_fields / sizeof *plan_fields, false))
		return;
	const char *dep = json_string_value(json_object_get(r->body, "departement"));
	if (!auth_has_departement(&r->who, dep)) {
		api_forbidden(r, "this département is outside this token's scope");
		return;
	}
	struct app *app = r->app;
	struct plan_run *run = calloc(1, sizeof *run);
	if (!run || !app->plans) {
		free(run);
		req_problem(r, 503, "out-of-memory", "try again");
		return;
	}
	const char *on_s = json_string_value(json_object_get(r->body, "on"));
	date_parse(on_s ? on_s : r->today, &run->on);
	snprintf(run->dep, sizeof run->dep, "%s", dep);
	run->p = params_on(r, run->on);
	run->app = app;
	run->r = r;
	run->job.run = plan_compute;
	run->job.done = run_done;
	run->snap = inventory_refresh_acquire(app->refresh);
	run->t_submit = now_ms();
	run->build_threads = app->cfg.plan_build_threads;   /* the worker resolves 0 */
	if (plan_jobs_submit(app->plans, &run->job) != 0) {
		run->r = NULL;
		run_free(run);
		r->retry_after = retry_after(app);
		req_problem(r, 429, "too-many-plans", "every plan worker is busy and the queue is full; try again later");
		return;
	}
	/* the worker computes while the row is written */
	char day[11];
	date_format(run->on, day);
	const char *values[3] = {dep, day, r->actor};
	store_query(app->store, "SELECT plan_enqueue($1, $2::date, $3::jsonb)", 3, values, run_enqueued, run);
}

/* ================================================================ apply */

/* A pair of the plan to propose, prepared by the worker. */
struct apply_pair {
	int64_t youth, offer;
	char *body;                 /* placement_create's JSON, or NULL: */
	char *result;               /* its outcome already known (not eligible) */
};

struct apply {
	struct plan_job job;        /* first */
	struct app *app;
	struct req *r;              /* waiting for the answer; NULL once answered */
	int64_t plan_id;
	struct event *timer;
	char actor[512];
	char today[11];
	char hold[16];
	struct match_params p;      /* weights and today; `on` set per pair */
	/* inputs of the worker */
	char *plan_text;
	int64_t *ask_y, *ask_o;     /* pairs asked for; NULL: all */
	size_t nask;
	struct inventory *snap;
	/* written by the worker */
	bool failed;
	bool not_done;              /* the plan is not computed (yet) */
	json_t *not_in_plan;        /* errors [{pointer, code, detail}] when asked pairs are not in the plan */
	struct apply_pair *pairs;
	size_t npairs;
	/* the loop's progress through the pairs */
	size_t next;
	char *results;              /* "[{...},{...}" as it grows */
	size_t rlen, rcap;
	int64_t *offers, *youth;    /* proposed, to refresh */
	int nids;
	struct apply *link;         /* applies in memory, for GET and "one at a time" */
};

static struct apply *applies;

static struct apply *apply_of_plan(int64_t plan_id)
{
	for (struct apply *a = applies; a; a = a->link)
		if (a->plan_id == plan_id)
			return a;
	return NULL;
}

static void apply_free(struct apply *a)
{
	for (struct apply **p = &applies; *p; p = &(*p)->link)
		if (*p == a) {
			*p = a->link;
			break;
		}
	if (a->timer)
		event_free(a->timer);
	for (size_t i = 0; i < a->npairs; i++) {
		free(a->pairs[i].body);
		free(a->pairs[i].result);
	}
	free(a->pairs);
	free(a->plan_text);
	free(a->ask_y);
	free(a->ask_o);
	inventory_release(a->snap);
	json_decref(a->not_in_plan);
	free(a->results);
	free(a->offers);
	free(a->youth);
	free(a);
}

struct pair_key {
	int64_t youth, offer;
	size_t index;
};

static int cmp_pair_key(const void *a, const void *b)
{
	const struct pair_key *x = a, *y = b;
	if (x->youth != y->youth)
		return x->youth < y->youth ? -1 : 1;
	return x->offer < y->offer ? -1 : x->offer > y->offer;
}

/* In a worker: parses the plan, finds the pairs asked for among its
 * assignments (sorted once, a binary search per pair: n log n, not n²),
 * checks each pair against the matcher's rules again and writes what the
 * loop will send. */
static void apply_prepare(struct plan_job *job)
{
	struct apply *a = (struct apply *)job;
	json_t *plan = json_loads(a->plan_text, 0, NULL);
	json_t *assignments = json_object_get(plan, "assignments");
	size_t na = json_array_size(assignments);
	struct pair_key *keys = malloc((na + 1) * sizeof *keys);
	size_t *chosen = malloc(((a->ask_y ? a->nask : na) + 1) * sizeof *chosen);
	size_t nchosen = 0;
	a->failed = true;
	if (!plan || !keys || !chosen)
		goto out;
	const char *status = json_string_value(json_object_get(plan, "status"));
	if (status && strcmp(status, "done") != 0) {
		a->not_done = true;
		a->failed = false;
		goto out;
	}
	for (size_t k = 0; k < na; k++) {
		json_t *have = json_array_get(assignments, k);
		keys[k] = (struct pair_key){json_integer_value(json_object_get(have, "youth_id")),
					    json_integer_value(json_object_get(have, "offer_id")), k};
	}
	qsort(keys, na, sizeof *keys, cmp_pair_key);
	if (!a->ask_y) {
		for (size_t k = 0; k < na; k++)
			chosen[nchosen++] = k;
	} else {
		for (size_t i = 0; i < a->nask; i++) {
			struct pair_key want = {a->ask_y[i], a->ask_o[i], 0};
			const struct pair_key *hit = bsearch(&want, keys, na, sizeof *keys, cmp_pair_key);
			if (hit) {
				chosen[nchosen++] = hit->index;
				continue;
			}
			if (!a->not_in_plan)
				a->not_in_plan = json_array();
			char ptr[32];
			snprintf(ptr, sizeof ptr, "/pairs/%zu", i);
			json_array_append_new(a->not_in_plan, json_pack("{s:s, s:s, s:s}", "pointer", ptr,
				"code", "unknown_value", "detail", "this pair is not among the plan's assignments"));
		}
		if (a->not_in_plan) {
			a->failed = false;
			goto out;
		}
	}
	const char *on = json_string_value(json_object_get(plan, "on"));
	/* proposals start on the plan's day, or today if that has passed */
	char start_default[11];
	snprintf(start_default, sizeof start_default, "%s", on && strcmp(on, a->today) > 0 ? on : a->today);
	a->pairs = calloc(nchosen + 1, sizeof *a->pairs);
	if (!a->pairs)
		goto out;
	for (size_t c = 0; c < nchosen; c++) {
		json_t *pair = json_array_get(assignments, chosen[c]);
		struct apply_pair *ap = &a->pairs[a->npairs++];
		ap->youth = json_integer_value(json_object_get(pair, "youth_id"));
		ap->offer = json_integer_value(json_object_get(pair, "offer_id"));
		const char *start = json_string_value(json_object_get(pair, "start_date"));
		const char *end = json_string_value(json_object_get(pair, "end_date"));
		bool moved = !start || strcmp(start, a->today) < 0;
		if (moved)
			start = start_default;
		/* Things may have changed since the plan: the pair must still pass
		 * the matcher's rules (free places are the database's to decide). */
		const struct inv_youth *y = inventory_youth(a->snap, ap->youth);
		const struct inv_offer *o = inventory_offer(a->snap, ap->offer);
		if (y && o) {
			struct match_params p = a->p;
			date_parse(start, &p.on);
			enum match_rule rule = match_eligible(&p, &y->m, &o->m, NULL);
			if (rule != MATCH_OK && rule != MATCH_RULE_NO_FREE_PLACE) {
				json_t *res = json_pack("{s:I, s:I, s:i, s:s, s:[s]}", "youth_id", (json_int_t)ap->youth,
					"offer_id", (json_int_t)ap->offer, "status", 422, "problem", "not-eligible",
					"rules", match_rule_code(rule));
				ap->result = res ? json_dumps(res, JSON_COMPACT) : NULL;
				json_decref(res);
				if (!ap->result)
					goto out;
				continue;
			}
		}
		json_t *body = json_pack("{s:I, s:I, s:s}", "youth_id", (json_int_t)ap->youth,
					 "offer_id", (json_int_t)ap->offer, "start_date", start);
		/* the end the plan checked, unless the start moved to today */
		if (body && end && !moved)
			json_object_set_new(body, "planned_end_date", json_string(end));
		ap->body = body ? json_dumps(body, JSON_COMPACT) : NULL;
		json_decref(body);
		if (!ap->body)
			goto out;
		if ((c & 255) == 0)
			atomic_store(&job->progress, (int)(100 * c / (nchosen ? nchosen : 1)));
	}
	a->failed = false;
out:
	json_decref(plan);
	free(keys);
	free(chosen);
	free(a->plan_text);
	a->plan_text = NULL;
	inventory_release(a->snap);
	a->snap = NULL;
}

/* Progress of an apply: preparing 0–10 %, then the pairs proposed. */
static double apply_progress(const struct apply *a)
{
	if (!a->pairs)
		return atomic_load(&a->job.progress) / 10000.0;
	return 0.1 + 0.9 * (double)a->next / (double)(a->npairs ? a->npairs : 1);
}

static void apply_accepted(struct apply *a)
{
	struct req *r = a->r;
	a->r = NULL;
	char location[64];
	snprintf(location, sizeof location, "/v1/allocation-plans/%lld", (long long)a->plan_id);
	req_add_header(r, "Location", location);
	req_reply_json(r, 202, json_pack("{s:I, s:s, s:f}", "plan_id", (json_int_t)a->plan_id,
					 "status", "running", "progress", apply_progress(a)));
}

static void on_apply_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct apply *a = arg;
	if (a->r)
		apply_accepted(a);
}

static int results_add(struct apply *a, const char *item)
{
	size_t len = strlen(item);
	if (!a->results || a->rlen + len + 3 > a->rcap) {
		size_t cap = (a->rcap ? a->rcap * 2 : 4096) + len;
		char *grown = realloc(a->results, cap);
		if (!grown)
			return -1;
		a->results = grown;
		a->rcap = cap;
	}
	char sep = a->rlen ? ',' : '[';
	a->results[a->rlen++] = sep;
	memcpy(a->results + a->rlen, item, len);
	a->rlen += len;
	a->results[a->rlen] = '\0';
	return 0;
}

static void apply_next(struct apply *a);

static void apply_recorded(void *arg, PGresult *res)
{
	struct apply *a = arg;
	struct req *r = a->r;
	a->r = NULL;
	if (r) {
		if (store_result_failed(res))
			api_sql_problem(r, res);
		else
			req_reply_raw(r, 200, "application/json", PQgetvalue(res, 0, 0),
				      (size_t)PQgetlength(res, 0, 0));
	} else if (store_result_failed(res))
		log_warn("plan_apply", "plan_id=%lld recorded=failed", (long long)a->plan_id);
	apply_free(a);
}

static void apply_refreshed(void *arg, bool ok)
{
	(void)ok;
	struct apply *a = arg;
	char id[24];
	snprintf(id, sizeof id, "%lld", (long long)a->plan_id);
	if (!a->results)
		results_add(a, "");       /* "[" */
	if (a->results && a->rlen > 1) {
		/* results_add keeps room for the closing bracket and the NUL */
		a->results[a->rlen++] = ']';
		a->results[a->rlen] = '\0';
	}
	const char *values[3] = {id, a->results && a->rlen > 1 ? a->results : "[]", a->actor};
	/* one row per pair proposed, in one statement: the long timeout */
	store_query_timeout(a->app->store, "SELECT plan_record_applied($1::bigint, $2::jsonb, $3::jsonb)", 3,
			    values, a->app->cfg.import_statement_timeout_ms, apply_recorded, a);
}

static void pair_done(void *arg, PGresult *res)
{
	struct apply *a = arg;
	const struct apply_pair *ap = &a->pairs[a->next - 1];
	json_t *out = json_pack("{s:I, s:I}", "youth_id", (json_int_t)ap->youth, "offer_id", (json_int_t)ap->offer);
	if (!res) {
		json_object_set_new(out, "status", json_integer(503));
		json_object_set_new(out, "problem", json_string("database-unavailable"));
	} else if (store_result_failed(res)) {
		/* the same mapping as a whole request's (problem.c): our own
		 * problems carry their slug and detail; never the database's words */
		struct problem p;
		problem_from_result(res, &p);
		json_object_set_new(out, "status", json_integer(p.status));
		json_object_set_new(out, "problem", json_string(p.slug));
		if (p.detail[0] && strncmp(p.sqlstate, "SI", 2) == 0)
			json_object_set_new(out, "detail", json_string(p.detail));
		problem_clear(&p);
	} else {
		json_t *pl = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
		json_object_set_new(out, "status", json_integer(201));
		json_object_set(out, "placement_id", json_object_get(pl, "id"));
		json_decref(pl);
		a->offers[a->nids] = ap->offer;
		a->youth[a->nids++] = ap->youth;
	}
	char *s = out ? json_dumps(out, JSON_COMPACT) : NULL;
	json_decref(out);
	if (s)
		results_add(a, s);
	free(s);
	apply_next(a);
}

static void apply_next(struct apply *a)
{
	/* one pair per round trip: the loop serves others between two */
	while (a->next < a->npairs && a->pairs[a->next].result)
		results_add(a, a->pairs[a->next++].result);
	if (a->next == a->npairs) {
		/* the answer waits until matches see the new proposals */
		inventory_refresh(a->app->refresh, a->offers, a->nids, a->youth, a->nids, apply_refreshed, a);
		return;
	}
	const char *values[4] = {a->pairs[a->next].body, a->actor, a->today, a->hold};
	a->next++;
	store_query(a->app->store, "SELECT placement_create($1::jsonb, $2::jsonb, $3::date, $4::integer)",
		    4, values, pair_done, a);
}

/* On the loop, the worker's part done. */
static void apply_prepared(struct plan_job *job)
{
	struct apply *a = (struct apply *)job;
	if (job->cancelled || a->failed) {
		struct req *r = a->r;
		a->r = NULL;
		if (r)
			req_problem(r, 503, "out-of-memory", "try again");
		apply_free(a);
		return;
	}
	if (a->not_done) {
		struct req *r = a->r;
		a->r = NULL;
		if (r)
			req_problem(r, 409, "plan-not-done", "this plan has no result to apply");
		apply_free(a);
		return;
	}
	if (a->not_in_plan) {
		struct req *r = a->r;
		a->r = NULL;
		json_t *errors = a->not_in_plan;
		a->not_in_plan = NULL;
		if (r)
			req_problem_full(r, 422, "not-in-plan",
					 "only pairs among the plan's assignments can be applied; nothing was proposed",
					 errors, NULL);
		else
			json_decref(errors);
		apply_free(a);
		return;
	}
	a->offers = malloc((a->npairs + 1) * sizeof *a->offers);
	a->youth = malloc((a->npairs + 1) * sizeof *a->youth);
	if (!a->offers || !a->youth) {
		struct req *r = a->r;
		a->r = NULL;
		if (r)
			req_problem(r, 503, "out-of-memory", "try again");
		apply_free(a);
		return;
	}
	/* proposing takes a round trip per pair: from now on, the request
	 * waits plan_sync_wait_ms at most */
	int wait = a->app->cfg.plan_sync_wait_ms;
	struct timeval tv = {wait / 1000, (wait % 1000) * 1000L};
	a->timer = evtimer_new(a->app->base, on_apply_timer, a);
	if (!a->timer || evtimer_add(a->timer, &tv) != 0)
		apply_accepted(a);
	apply_next(a);
}

static void plan_loaded(void *arg, PGresult *res)
{
	struct apply *a = arg;
	struct req *r = a->r;
	if (store_result_failed(res)) {
		a->r = NULL;
		api_sql_problem(r, res);
		apply_free(a);
		return;
	}
	if (!(a->plan_text = strdup(PQgetvalue(res, 0, 0)))) {
		a->r = NULL;
		req_problem(r, 503, "out-of-memory", "try again");
		apply_free(a);
		return;
	}
	a->snap = inventory_refresh_acquire(a->app->refresh);
	if (plan_jobs_submit(a->app->plans, &a->job) != 0) {
		a->r = NULL;
		r->retry_after = retry_after(a->app);
		req_problem(r, 429, "too-many-plans", "every plan worker is busy and the queue is full; try again later");
		apply_free(a);
	}
	/* The request waits for the check of its pairs (a parse and a lookup
	 * per pair), so a pair not in the plan is always answered 422. */
}

void api_plans_apply(struct req *r)
{
	json_t *pairs = r->body ? json_object_get(r->body, "pairs") : NULL;
	json_t *errors = NULL;
	if (r->body) {
		const char *key;
		json_t *v;
		json_object_foreach(r->body, key, v)
			if (strcmp(key, "pairs") != 0) {
				char ptr[96];
				snprintf(ptr, sizeof ptr, "/%.80s", key);
				validate_error(&errors, ptr, "unknown_field", "only \"pairs\" is accepted");
			}
	}
	if (pairs && !json_is_array(pairs))
		validate_error(&errors, "/pairs", "wrong_type", "expected an array of {youth_id, offer_id}");
	size_t i;
	json_t *p;
	if (pairs && json_is_array(pairs))
		json_array_foreach(pairs, i, p)
			if (!json_is_integer(json_object_get(p, "youth_id")) ||
			    !json_is_integer(json_object_get(p, "offer_id"))) {
				char ptr[32];
				snprintf(ptr, sizeof ptr, "/pairs/%zu", i);
				validate_error(&errors, ptr, "wrong_type", "expected {youth_id, offer_id}");
			}
	if (errors) {
		req_problem_full(r, 400, "invalid-field", "the pairs to apply are malformed", errors, NULL);
		return;
	}
	for (struct plan_run *run = runs; run; run = run->next)
		if (run->id == r->ids[0] && auth_has_departement(&r->who, run->dep)) {
			req_problem(r, 409, "plan-not-done", "this plan is still being computed; see GET on the plan");
			return;
		}
	if (apply_of_plan(r->ids[0])) {
		req_problem(r, 409, "apply-in-progress", "this plan is being applied; see GET on the plan");
		return;
	}
	struct apply *a = calloc(1, sizeof *a);
	if (!a || !r->app->plans) {
		free(a);
		req_problem(r, 503, "out-of-memory", "try again");
		return;
	}
	a->app = r->app;
	a->r = r;
	a->plan_id = r->ids[0];
	a->job.run = apply_prepare;
	a->job.done = apply_prepared;
	snprintf(a->actor, sizeof a->actor, "%s", r->actor);
	snprintf(a->today, sizeof a->today, "%s", r->today);
	snprintf(a->hold, sizeof a->hold, "%d", r->app->cfg.hold_days);
	a->p = params_on(r, DATE_NONE);
	if (pairs) {
		a->nask = json_array_size(pairs);
		a->ask_y = malloc((a->nask + 1) * sizeof *a->ask_y);
		a->ask_o = malloc((a->nask + 1) * sizeof *a->ask_o);
		if (!a->ask_y || !a->ask_o) {
			apply_free(a);
			req_problem(r, 503, "out-of-memory", "try again");
			return;
		}
		json_array_foreach(pairs, i, p) {
			a->ask_y[i] = json_integer_value(json_object_get(p, "youth_id"));
			a->ask_o[i] = json_integer_value(json_object_get(p, "offer_id"));
		}
	}
	a->link = applies;
	applies = a;
	char id[24];
	snprintf(id, sizeof id, "%lld", (long long)r->ids[0]);
	const char *values[2] = {id, r->actor};
	/* a plan of 25,000 assignments is a few MB of JSON: the long timeout */
	store_query_timeout(r->app->store, "SELECT plan_get($1::bigint, $2::jsonb)", 2, values,
			    r->app->cfg.import_statement_timeout_ms, plan_loaded, a);
}

/* ================================================================ GET */

void api_plans_get(struct req *r)
{
	for (struct plan_run *run = runs; run; run = run->next)
		if (run->id == r->ids[0]) {
			/* not stored yet: answered from memory, with the same scope rule */
			if (!auth_has_departement(&r->who, run->dep)) {
				api_forbidden(r, "this département is outside this token's scope");
				return;
			}
			req_reply_json(r, 200, run_status_json(run));
			return;
		}
	char id[24], progress[16];
	snprintf(id, sizeof id, "%lld", (long long)r->ids[0]);
	const struct apply *a = apply_of_plan(r->ids[0]);
	if (a) {
		snprintf(progress, sizeof progress, "%.3f", apply_progress(a));
		const char *values[3] = {id, r->actor, progress};
		api_sql_reply(r, "SELECT plan_get($1::bigint, $2::jsonb, jsonb_build_object('apply', "
			      "jsonb_build_object('status', 'running', 'progress', $3::real)))", 3, values, 200, 0);
		return;
	}
	const char *values[2] = {id, r->actor};
	api_sql_reply(r, "SELECT plan_get($1::bigint, $2::jsonb)", 2, values, 200, 0);
}
