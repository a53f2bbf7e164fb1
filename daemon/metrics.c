/*
 * Prometheus counters (see metrics.h); the gauges read from elsewhere and
 * the /metrics route are api_metrics.c's.
 */
#include "metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>


#define MAX_ROUTES 64
#define NSTATUS 600
static const double buckets_ms[] = {0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000};
#define NBUCKETS (sizeof buckets_ms / sizeof *buckets_ms)

static struct {
	unsigned long requests[MAX_ROUTES + 1][NSTATUS];   /* last row: no route */
	unsigned long bucket[MAX_ROUTES + 1][NBUCKETS + 1];
	double sum_ms[MAX_ROUTES + 1];
	unsigned long count[MAX_ROUTES + 1];
	unsigned long db_errors, rate_limited, unauthenticated;
	unsigned long deliveries[4];
} m;

static const char *const outcomes[4] = {"succeeded", "retry", "failed", "gone"};

void metrics_request(int route, int status, double ms)
{
	int r = route >= 0 && route < MAX_ROUTES ? route : MAX_ROUTES;
	if (status >= 0 && status < NSTATUS)
		m.requests[r][status]++;
	size_t b = 0;
	while (b < NBUCKETS && ms > buckets_ms[b])
		b++;
	m.bucket[r][b]++;
	m.sum_ms[r] += ms;
	m.count[r]++;
}

void metrics_db_error(void)
{
	m.db_errors++;
}

void metrics_rate_limited(void)
{
	m.rate_limited++;
}

void metrics_unauthenticated(void)
{
	m.unauthenticated++;
}

void metrics_delivery(const char *outcome)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(outcome, outcomes[i]) == 0)
			m.deliveries[i]++;
}

static const char *name_of(const char *(*route_name)(int), int i)
{
	const char *n = i < MAX_ROUTES && route_name ? route_name(i) : NULL;
	return n ? n : "none";
}

void metrics_write(struct evbuffer *b, const char *(*route_name)(int))
{
	evbuffer_add_printf(b, "# HELP siaod_http_requests_total Requests answered, by route and status.\n"
			    "# TYPE siaod_http_requests_total counter\n");
	for (int i = 0; i <= MAX_ROUTES; i++)
		for (int s = 0; s < NSTATUS; s++)
			if (m.requests[i][s])
				evbuffer_add_printf(b, "siaod_http_requests_total{route=\"%s\",status=\"%d\"} %lu\n",
						    name_of(route_name, i), s, m.requests[i][s]);
	evbuffer_add_printf(b, "# HELP siaod_http_request_duration_seconds Time from request to answer.\n"
			    "# TYPE siaod_http_request_duration_seconds histogram\n");
	for (int i = 0; i <= MAX_ROUTES; i++) {
		if (!m.count[i])
			continue;
		const char *name = name_of(route_name, i);
		unsigned long cum = 0;
		for (size_t k = 0; k < NBUCKETS; k++) {
			cum += m.bucket[i][k];
			evbuffer_add_printf(b, "siaod_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %lu\n",
					    name, buckets_ms[k] / 1000.0, cum);
		}
		evbuffer_add_printf(b, "siaod_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %lu\n"
				    "siaod_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
				    "siaod_http_request_duration_seconds_count{route=\"%s\"} %lu\n",
				    name, m.count[i], name, m.sum_ms[i] / 1000.0, name, m.count[i]);
	}
	evbuffer_add_printf(b, "# HELP siaod_rate_limited_total Requests refused with 429.\n"
			    "# TYPE siaod_rate_limited_total counter\nsiaod_rate_limited_total %lu\n", m.rate_limited);
	evbuffer_add_printf(b, "# HELP siaod_unauthenticated_total Requests without a valid token (401).\n"
			    "# TYPE siaod_unauthenticated_total counter\nsiaod_unauthenticated_total %lu\n",
			    m.unauthenticated);
	evbuffer_add_printf(b, "# HELP siaod_db_errors_total Statements that failed or found no connection.\n"
			    "# TYPE siaod_db_errors_total counter\nsiaod_db_errors_total %lu\n", m.db_errors);
	evbuffer_add_printf(b, "# HELP siaod_webhook_attempts_total Delivery attempts by outcome.\n"
			    "# TYPE siaod_webhook_attempts_total counter\n");
	for (int i = 0; i < 4; i++)
		evbuffer_add_printf(b, "siaod_webhook_attempts_total{outcome=\"%s\"} %lu\n", outcomes[i],
				    m.deliveries[i]);
}
