/*
 * webhooks: delivers the outbox. Due deliveries are claimed from PostgreSQL
 * (FOR UPDATE SKIP LOCKED, with a lease, at most webhook_max_per_endpoint in
 * flight per subscription), sent with libcurl's multi interface on the app's
 * libevent loop — no blocking call, no thread — signed as Standard Webhooks
 * says, and their outcomes recorded in batches. Events about freed capacity
 * first get the matcher's best candidates (candidates.h).
 *
 * Delivery is at least once: an attempt cut short by a crash is retried once
 * its lease runs out, with the same webhook-id.
 */
#ifndef SIAOD_WEBHOOKS_H
#define SIAOD_WEBHOOKS_H

struct app;

int  webhooks_start(struct app *app);
/* Look for work now (after a write that may have enqueued events). */
void webhooks_kick(struct app *app);
/* The same, once a write's inventory refresh is published: the capacity
 * events it enqueued may be ranked now (before, only settled ones are). */
void webhooks_refreshed(struct app *app);
/* SIGTERM: claim nothing more; attempts in flight may still finish. */
void webhooks_drain(struct app *app);
/* At exit, after the store is closed: attempts still in flight are
 * abandoned to their lease. */
void webhooks_stop(struct app *app);

#endif
