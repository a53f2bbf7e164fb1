/*
 * plan_jobs: the worker threads that compute allocation plans and prepare
 * their application, so the event loop never does (see the threading model
 * in plan_jobs.c).
 *
 * A job is a struct plan_job embedded first in its owner's structure. The
 * loop submits it; a worker calls run(job) at a lower priority; the loop
 * then calls done(job) (also when the pool stops before running it, with
 * job->cancelled set). run() may only read what the job points to that
 * nobody changes (an inventory snapshot it holds a reference to, copies)
 * and write the job's own fields.
 */
#ifndef SIAOD_PLAN_JOBS_H
#define SIAOD_PLAN_JOBS_H

#include <stdatomic.h>
#include <stdbool.h>

struct event_base;
struct plan_jobs;
struct plan_job;

typedef void (*plan_job_fn)(struct plan_job *job);

enum plan_job_state { PLAN_JOB_QUEUED, PLAN_JOB_RUNNING, PLAN_JOB_DONE };

struct plan_job {
	plan_job_fn run;            /* in a worker thread */
	plan_job_fn done;           /* on the loop, exactly once */
	atomic_int state;           /* enum plan_job_state, read by the loop for GET */
	atomic_int progress;        /* per mille, written by run() */
	bool cancelled;             /* done() without run(): the pool stopped */
	struct plan_job *next;      /* the pool's queues */
};

/* workers threads, at most queue_max jobs waiting for one. NULL on error. */
struct plan_jobs *plan_jobs_new(struct event_base *base, int workers, int queue_max);
/* The same, the threads this much nicer than the process (plan_jobs_new:
 * +10, background work; 0 for work a request waits for, such as an
 * import's parse). */
struct plan_jobs *plan_jobs_new_nice(struct event_base *base, int workers, int queue_max, int nice);
/* 0, or -1 when workers + queue_max jobs are already submitted and not
 * done (the caller answers 429). */
int plan_jobs_submit(struct plan_jobs *pj, struct plan_job *job);
/* Jobs submitted and not yet done (for Retry-After and /metrics). */
int plan_jobs_pending(const struct plan_jobs *pj);
/* Waits for running jobs, cancels queued ones (their done() runs now). */
void plan_jobs_free(struct plan_jobs *pj);

#endif
