/*
 * Prometheus metrics (see metrics.h). The outbox figures need the database:
 * when it cannot answer, /metrics still answers with everything else and
 * siaod_db_up 0.
 */
#include "metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>

#include "api.h"
#include "app.h"
#include "inventory.h"
#include "routes.h"
#include "store.h"

#define MAX_ROUTES 64
#define NSTATUS 600
static const double buckets_ms[] = {0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000};
#define NBUCKETS (sizeof buckets_ms / sizeof *buckets_ms)

static struct {
	unsigned long requests[MAX_ROUTES + 1][NSTATUS];   /* last row: no route */
	unsigned long bucket[MAX_ROUTES + 1][NBUCKETS + 1];
	double sum_ms[MAX_ROUTES + 1];
	unsigned long count[MAX_ROUTES + 1];
	unsigned long db_errors, rate_limited;
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

void metrics_delivery(const char *outcome)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(outcome, outcomes[i]) == 0)
			m.deliveries[i]++;
}

static const char *route_name(int r)
{
	return r < (int)nroutes && r < MAX_ROUTES ? routes[r].name : "none";
}

static void render(struct req *r, const PGresult *res)
{
	struct app *app = r->app;
	struct evbuffer *b = evbuffer_new();
	if (!b) {
		req_problem(r, 503, "out-of-memory", "try again");
		return;
	}
	evbuffer_add_printf(b, "# HELP siaod_build_info Build of this siaod.\n# TYPE siaod_build_info gauge\n"
			    "siaod_build_info{version=\"%s\"} 1\n", SIAOD_VERSION);
	evbuffer_add_printf(b, "# HELP siaod_http_requests_total Requests answered, by route and status.\n"
			    "# TYPE siaod_http_requests_total counter\n");
	for (int i = 0; i <= MAX_ROUTES; i++)
		for (int s = 0; s < NSTATUS; s++)
			if (m.requests[i][s])
				evbuffer_add_printf(b, "siaod_http_requests_total{route=\"%s\",status=\"%d\"} %lu\n",
						    route_name(i), s, m.requests[i][s]);
	evbuffer_add_printf(b, "# HELP siaod_http_request_duration_seconds Time from request to answer.\n"
			    "# TYPE siaod_http_request_duration_seconds histogram\n");
	for (int i = 0; i <= MAX_ROUTES; i++) {
		if (!m.count[i])
			continue;
		unsigned long cum = 0;
		for (size_t k = 0; k < NBUCKETS; k++) {
			cum += m.bucket[i][k];
			evbuffer_add_printf(b, "siaod_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %lu\n",
					    route_name(i), buckets_ms[k] / 1000.0, cum);
		}
		evbuffer_add_printf(b, "siaod_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %lu\n"
				    "siaod_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
				    "siaod_http_request_duration_seconds_count{route=\"%s\"} %lu\n",
				    route_name(i), m.count[i], route_name(i), m.sum_ms[i] / 1000.0,
				    route_name(i), m.count[i]);
	}
	evbuffer_add_printf(b, "# HELP siaod_http_requests_in_flight Requests accepted and not yet answered.\n"
			    "# TYPE siaod_http_requests_in_flight gauge\nsiaod_http_requests_in_flight %d\n",
			    app->inflight - 1);
	evbuffer_add_printf(b, "# HELP siaod_rate_limited_total Requests refused with 429.\n"
			    "# TYPE siaod_rate_limited_total counter\nsiaod_rate_limited_total %lu\n", m.rate_limited);
	evbuffer_add_printf(b, "# HELP siaod_db_up Whether a connection to PostgreSQL is up.\n"
			    "# TYPE siaod_db_up gauge\nsiaod_db_up %d\n", store_ready(app->store) ? 1 : 0);
	evbuffer_add_printf(b, "# HELP siaod_db_connections Pool connections up.\n"
			    "# TYPE siaod_db_connections gauge\nsiaod_db_connections %d\n",
			    store_connections_up(app->store));
	evbuffer_add_printf(b, "# HELP siaod_db_queue Statements waiting for a connection.\n"
			    "# TYPE siaod_db_queue gauge\nsiaod_db_queue %d\n", store_pending(app->store));
	evbuffer_add_printf(b, "# HELP siaod_db_errors_total Statements that failed or found no connection.\n"
			    "# TYPE siaod_db_errors_total counter\nsiaod_db_errors_total %lu\n", m.db_errors);
	if (res && !store_result_failed(res)) {
		evbuffer_add_printf(b, "# HELP siaod_outbox_backlog Deliveries pending or in flight.\n"
				    "# TYPE siaod_outbox_backlog gauge\nsiaod_outbox_backlog %s\n",
				    PQgetvalue(res, 0, 0));
		evbuffer_add_printf(b, "# HELP siaod_outbox_oldest_pending_seconds Age of the oldest pending delivery.\n"
				    "# TYPE siaod_outbox_oldest_pending_seconds gauge\n"
				    "siaod_outbox_oldest_pending_seconds %s\n", PQgetvalue(res, 0, 1));
		evbuffer_add_printf(b, "# HELP siaod_outbox_unready Capacity events waiting for candidates.\n"
				    "# TYPE siaod_outbox_unready gauge\nsiaod_outbox_unready %s\n",
				    PQgetvalue(res, 0, 2));
	}
	evbuffer_add_printf(b, "# HELP siaod_webhook_attempts_total Delivery attempts by outcome.\n"
			    "# TYPE siaod_webhook_attempts_total counter\n");
	for (int i = 0; i < 4; i++)
		evbuffer_add_printf(b, "siaod_webhook_attempts_total{outcome=\"%s\"} %lu\n", outcomes[i],
				    m.deliveries[i]);
	evbuffer_add_printf(b, "# HELP siaod_inventory_offers Offers in memory.\n# TYPE siaod_inventory_offers gauge\n"
			    "siaod_inventory_offers %zu\n", inventory_offer_count(app->inv));
	evbuffer_add_printf(b, "# HELP siaod_inventory_places Places in memory.\n# TYPE siaod_inventory_places gauge\n"
			    "siaod_inventory_places %zu\n", inventory_place_count(app->inv));
	evbuffer_add_printf(b, "# HELP siaod_inventory_youth Young people in memory.\n# TYPE siaod_inventory_youth gauge\n"
			    "siaod_inventory_youth %zu\n", inventory_youth_count(app->inv));
	req_reply_buffer(r, 200, "text/plain; version=0.0.4; charset=utf-8", b);
	evbuffer_free(b);
}

static void outbox_done(void *arg, PGresult *res)
{
	render(arg, res);
}

void api_metrics(struct req *r)
{
	if (!store_ready(r->app->store)) {
		render(r, NULL);
		return;
	}
	store_query(r->app->store,
		    "SELECT count(*) FILTER (WHERE status IN ('pending', 'delivering')),"
		    " coalesce(extract(epoch FROM now() - min(created_at) FILTER (WHERE status = 'pending'))::bigint, 0),"
		    " (SELECT count(*) FROM outbox WHERE NOT ready)"
		    " FROM deliveries WHERE status IN ('pending', 'delivering')",
		    0, NULL, outbox_done, r);
}
