/*
 * metrics: counters kept by the loop (one thread, no atomics), written in
 * the Prometheus text format (version 0.0.4). Counters only: the /metrics
 * route, and the gauges it reads from the store, the inventory and the
 * transport, are api_metrics.c's.
 */
#ifndef SIAOD_METRICS_H
#define SIAOD_METRICS_H

#include <stddef.h>

struct evbuffer;

/* A request answered: its route (an index, or -1), status and duration. */
void metrics_request(int route, int status, double ms);
void metrics_db_error(void);
/* A webhook attempt's outcome: "succeeded", "retry", "failed" or "gone". */
void metrics_delivery(const char *outcome);
void metrics_rate_limited(void);
/* A request without a valid token (401). */
void metrics_unauthenticated(void);
/* Appends every counter to b; route_name(i) names route i (NULL: "none"). */
void metrics_write(struct evbuffer *b, const char *(*route_name)(int));

#endif
