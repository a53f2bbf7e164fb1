/*
 * proposals: POST /v1/placements sent to the database together (group
 * commit done by the daemon).
 *
 * Proposals wait in a queue that goes to the database while fewer than
 * `inflight_max` statements of this module run: at the end of the loop's
 * turn that read them (one alone goes as placement_propose, as any other
 * write), and whenever a statement comes back. Several go in one statement
 * (placement_propose_many, sql/functions/placements.sql): one transaction,
 * one commit, one flush of the log, one round trip for them all, each in
 * its own subtransaction. A referent alone sees no wait; under a crowd, a
 * commit carries many proposals instead of each waiting for its own flush
 * (issue 13: with 64 clients the commits, not the proposals, were most of
 * the cost).
 *
 * Each request is answered as a lone one would be, problem for problem
 * (api_idem_row_reply, api_sql_problem_fields). When the batch statement
 * itself fails (nothing of it committed), or an item hit a deadlock or a
 * serialization failure, those proposals go again, alone.
 */
#ifndef SIAOD_PROPOSALS_H
#define SIAOD_PROPOSALS_H

struct app;
struct req;
struct proposals;

/* At most 64 proposals a statement. NULL when out of memory. */
#define PROPOSALS_BATCH_MAX 64
struct proposals *proposals_new(struct app *app, int inflight_max);  /* < 1: 1 */
/* After store_free: the store answers what it still runs (unavailable). */
void proposals_free(struct proposals *p);
/* Proposes r's placement and answers r. body: the request's JSON text
 * (copied); hint: the place the inventory saw free first, or NULL. It
 * goes at the end of the loop's turn, with the others read in that turn. */
void proposals_submit(struct proposals *p, struct req *r, const char *body, const char *hint);

/* For /metrics: statements sent alone, in batches, the proposals those
 * carried; the proposals waiting now, the statements in flight and their cap. */
struct proposals_counts {
	unsigned long long alone, batches, batched;
	int waiting, inflight, inflight_max;
};
void proposals_counts(const struct proposals *p, struct proposals_counts *out);

#endif
