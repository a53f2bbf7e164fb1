/*
 * Worker threads for plans and applies (see plan_jobs.h).
 *
 * THE THREADING MODEL OF SIAOD (the one place it is written down)
 *
 * - One event loop thread does all I/O: HTTP (http.c), PostgreSQL (libpq,
 *   store.c), webhooks (libcurl), timers, signals. No other thread ever
 *   touches a libevent, libpq or curl handle, nor struct app.
 * - The inventory that handlers read is an immutable, reference-counted
 *   snapshot (inventory.h). inventory_refresh.c changes its private
 *   working model after commits and publishes a new snapshot at most every
 *   INVENTORY_PUBLISH_MS (never a copy per reader: records are shared
 *   between snapshots and copied only when a write changes them). The
 *   loop's handlers read app->inv during their callback; a worker holds its
 *   own reference (inventory_refresh_acquire) for as long as it reads.
 * - plan_workers threads (this file) run the CPU-heavy jobs: building and
 *   solving a plan, parsing a plan and checking the pairs of an apply. A
 *   worker reads only its job's snapshot and inputs (copied at submission)
 *   and writes only its job's result fields and `progress` (atomic). It
 *   runs 10 nicer than the process (setpriority on its own thread id) so the loop keeps
 *   the CPU when both want it.
 * - A finished job is handed back through a mutex-protected list and an
 *   eventfd the loop watches (no libevent call from a worker); the loop
 *   then stores the result (SQL) and answers the waiting request, or the
 *   polling client later.
 * - Admission is decided on the loop: at most plan_workers jobs run, at
 *   most plan_queue_max wait; beyond that the request gets 429.
 * Future HTTP worker threads (one event base each) would read snapshots the
 *   same way and hand writes to the store's loop.
 */
#include "plan_jobs.h"

#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"

#define WORKER_NICE 10

struct plan_jobs {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct plan_job *queue, *queue_tail;   /* waiting for a worker */
	struct plan_job *finished;             /* done by a worker, for the loop */
	bool stopping;
	pthread_t *threads;
	int nthreads;
	int efd;                               /* eventfd: "finished is not empty" */
	struct event *ev;
	int limit;                             /* workers + queue_max */
	int pending;                           /* submitted, done() not yet called: loop only */
	int nice;                              /* the workers' nice value */
};

static void *worker_main(void *arg)
{
	struct plan_jobs *pj = arg;
	/* Linux: a thread's nice value is its own, set through its thread id.
	 * Relative to the one it inherited (the process's): below the loop,
	 * whatever the process was started at (a daemon run at nice -10 runs
	 * its plans at 0, not at 10 behind every other process). */
	if (pj->nice != 0) {
		id_t tid = (id_t)syscall(SYS_gettid);
		errno = 0;
		int inherited = getpriority(PRIO_PROCESS, tid);
		if (errno != 0)
			inherited = 0;
		if (setpriority(PRIO_PROCESS, tid, inherited + pj->nice) != 0)
			log_warn("plan_worker", "setpriority=failed errno=%d", errno);
	}
	pthread_mutex_lock(&pj->lock);
	for (;;) {
		while (!pj->queue && !pj->stopping)
			pthread_cond_wait(&pj->wake, &pj->lock);
		if (pj->stopping)
			break;
		struct plan_job *job = pj->queue;
		pj->queue = job->next;
		if (!pj->queue)
			pj->queue_tail = NULL;
		atomic_store(&job->state, PLAN_JOB_RUNNING);
		pthread_mutex_unlock(&pj->lock);
		job->run(job);
		atomic_store(&job->progress, 1000);
		atomic_store(&job->state, PLAN_JOB_DONE);
		pthread_mutex_lock(&pj->lock);
		job->next = pj->finished;
		pj->finished = job;
		uint64_t one = 1;
		/* the counter only accumulates: a full one (never in practice) still wakes the loop */
		if (write(pj->efd, &one, sizeof one) < 0 && errno != EAGAIN)
			log_warn("plan_worker", "eventfd_write=failed errno=%d", errno);
	}
	pthread_mutex_unlock(&pj->lock);
	return NULL;
}

/* Reverses a list taken from `finished` so jobs are done in finishing order. */
static struct plan_job *reversed(struct plan_job *j)
{
	struct plan_job *out = NULL;
	while (j) {
		struct plan_job *next = j->next;
		j->next = out;
		out = j;
		j = next;
	}
	return out;
}

static void on_finished(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	struct plan_jobs *pj = arg;
	uint64_t n;
	if (read(fd, &n, sizeof n) < 0 && errno != EAGAIN)
		log_warn("plan_jobs", "eventfd_read=failed errno=%d", errno);
	pthread_mutex_lock(&pj->lock);
	struct plan_job *list = pj->finished;
	pj->finished = NULL;
	pthread_mutex_unlock(&pj->lock);
	for (struct plan_job *j = reversed(list), *next; j; j = next) {
		next = j->next;
		pj->pending--;
		j->done(j);
	}
}

struct plan_jobs *plan_jobs_new(struct event_base *base, int workers, int queue_max)
{
	return plan_jobs_new_nice(base, workers, queue_max, WORKER_NICE);
}

struct plan_jobs *plan_jobs_new_nice(struct event_base *base, int workers, int queue_max, int nice)
{
	struct plan_jobs *pj = calloc(1, sizeof *pj);
	if (!pj)
		return NULL;
	pj->nice = nice;
	pthread_mutex_init(&pj->lock, NULL);
	pthread_cond_init(&pj->wake, NULL);
	pj->limit = workers + queue_max;
	pj->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	pj->threads = calloc((size_t)workers, sizeof *pj->threads);
	if (pj->efd < 0 || !pj->threads)
		goto fail;
	pj->ev = event_new(base, pj->efd, EV_READ | EV_PERSIST, on_finished, pj);
	if (!pj->ev || event_add(pj->ev, NULL) != 0)
		goto fail;
	for (; pj->nthreads < workers; pj->nthreads++)
		if (pthread_create(&pj->threads[pj->nthreads], NULL, worker_main, pj) != 0)
			goto fail;
	return pj;
fail:
	log_error("plan_jobs", "start=failed workers=%d", workers);
	plan_jobs_free(pj);
	return NULL;
}

int plan_jobs_submit(struct plan_jobs *pj, struct plan_job *job)
{
	if (pj->pending >= pj->limit)
		return -1;
	pj->pending++;
	atomic_store(&job->state, PLAN_JOB_QUEUED);
	atomic_store(&job->progress, 0);
	job->cancelled = false;
	job->next = NULL;
	pthread_mutex_lock(&pj->lock);
	if (pj->queue_tail)
		pj->queue_tail->next = job;
	else
		pj->queue = job;
	pj->queue_tail = job;
	pthread_cond_signal(&pj->wake);
	pthread_mutex_unlock(&pj->lock);
	return 0;
}

int plan_jobs_pending(const struct plan_jobs *pj)
{
	return pj ? pj->pending : 0;
}

void plan_jobs_free(struct plan_jobs *pj)
{
	if (!pj)
		return;
	pthread_mutex_lock(&pj->lock);
	pj->stopping = true;
	pthread_cond_broadcast(&pj->wake);
	pthread_mutex_unlock(&pj->lock);
	for (int i = 0; i < pj->nthreads; i++)
		pthread_join(pj->threads[i], NULL);
	/* finished ones are done normally; queued ones are cancelled */
	struct plan_job *fin = reversed(pj->finished), *queued = pj->queue;
	pj->finished = pj->queue = NULL;
	for (struct plan_job *j = fin, *next; j; j = next) {
		next = j->next;
		j->done(j);
	}
	for (struct plan_job *j = queued, *next; j; j = next) {
		next = j->next;
		j->cancelled = true;
		j->done(j);
	}
	if (pj->ev)
		event_free(pj->ev);
	if (pj->efd >= 0)
		close(pj->efd);
	free(pj->threads);
	pthread_mutex_destroy(&pj->lock);
	pthread_cond_destroy(&pj->wake);
	free(pj);
}
