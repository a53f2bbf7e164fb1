/*
 * metrics: counters kept by the loop (one thread, no atomics) and rendered
 * at GET /metrics in the Prometheus text format (version 0.0.4).
 */
#ifndef SIAOD_METRICS_H
#define SIAOD_METRICS_H

#include <stddef.h>

struct app;
struct req;

/* A request answered: its route (index in routes[], or -1), status and
 * duration. */
void metrics_request(int route, int status, double ms);
void metrics_db_error(void);
/* A webhook attempt's outcome: "succeeded", "retry", "failed" or "gone". */
void metrics_delivery(const char *outcome);
void metrics_rate_limited(void);

void api_metrics(struct req *r);

#endif
