/*
 * GET /metrics: the counters (metrics.c), the transport's connection
 * figures, the store's and the inventory's gauges, and the outbox backlog
 * read from the database. When the database cannot answer, /metrics still
 * answers with everything else and siaod_db_up 0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <event2/buffer.h>

#include "api.h"
#include "app.h"
#include "http.h"
#include "inventory.h"
#include "metrics.h"
#include "proposals.h"
#include "routes.h"
#include "store.h"

static const char *route_name(int i)
{
	return i >= 0 && (size_t)i < nroutes ? routes[i].name : NULL;
}

static void render(struct req *r, const PGresult *res)
{
	struct app *app = r->app;
	struct evbuffer *b = evbuffer_new();
	if (!b) {
		req_problem(r, 503, "out-of-memory", "try again");
		return;
	}
	struct http_stats hs;
	http_server_stats(app->http, &hs);
	evbuffer_add_printf(b, "# HELP siaod_build_info Build of this siaod.\n# TYPE siaod_build_info gauge\n"
			    "siaod_build_info{version=\"%s\"} 1\n", SIAOD_VERSION);
	metrics_write(b, route_name);
	evbuffer_add_printf(b, "# HELP siaod_http_requests_in_flight Requests accepted and not yet answered.\n"
			    "# TYPE siaod_http_requests_in_flight gauge\nsiaod_http_requests_in_flight %d\n",
			    app->inflight - 1);
	evbuffer_add_printf(b, "# HELP siaod_http_connections Open client connections.\n"
			    "# TYPE siaod_http_connections gauge\nsiaod_http_connections %d\n"
			    "# HELP siaod_http_max_connections The cap on open connections.\n"
			    "# TYPE siaod_http_max_connections gauge\nsiaod_http_max_connections %d\n",
			    hs.connections, hs.max_connections);
	evbuffer_add_printf(b, "# HELP siaod_http_connections_total Connections by fate: accepted, "
			    "evicted at the cap, refused at the cap (none idle), timed out before a request.\n"
			    "# TYPE siaod_http_connections_total counter\n"
			    "siaod_http_connections_total{event=\"accepted\"} %lu\n"
			    "siaod_http_connections_total{event=\"evicted\"} %lu\n"
			    "siaod_http_connections_total{event=\"refused\"} %lu\n"
			    "siaod_http_connections_total{event=\"timed_out\"} %lu\n"
			    "# HELP siaod_http_accept_errors_total accept() failures (out of descriptors).\n"
			    "# TYPE siaod_http_accept_errors_total counter\nsiaod_http_accept_errors_total %lu\n",
			    hs.accepted, hs.evicted, hs.refused, hs.timed_out, hs.accept_errors);
	evbuffer_add_printf(b, "# HELP siaod_db_up Whether a connection to PostgreSQL is up.\n"
			    "# TYPE siaod_db_up gauge\nsiaod_db_up %d\n", store_ready(app->store) ? 1 : 0);
	evbuffer_add_printf(b, "# HELP siaod_db_connections Pool connections up.\n"
			    "# TYPE siaod_db_connections gauge\nsiaod_db_connections %d\n",
			    store_connections_up(app->store));
	evbuffer_add_printf(b, "# HELP siaod_db_queue Statements waiting for a connection.\n"
			    "# TYPE siaod_db_queue gauge\nsiaod_db_queue %d\n", store_pending(app->store));
	struct proposals_counts pc;
	proposals_counts(app->proposals, &pc);
	evbuffer_add_printf(b, "# HELP siaod_proposal_statements_total Placement proposals' statements: "
			    "one proposal alone, or several in one transaction (proposals.h).\n"
			    "# TYPE siaod_proposal_statements_total counter\n"
			    "siaod_proposal_statements_total{kind=\"alone\"} %llu\n"
			    "siaod_proposal_statements_total{kind=\"batch\"} %llu\n"
			    "# HELP siaod_proposals_batched_total Proposals sent in a batch.\n"
			    "# TYPE siaod_proposals_batched_total counter\nsiaod_proposals_batched_total %llu\n"
			    "# HELP siaod_proposals_waiting Proposals waiting for a statement in flight to end.\n"
			    "# TYPE siaod_proposals_waiting gauge\nsiaod_proposals_waiting %d\n"
			    "# HELP siaod_proposal_statements_in_flight Proposals' statements running.\n"
			    "# TYPE siaod_proposal_statements_in_flight gauge\n"
			    "siaod_proposal_statements_in_flight %d\n"
			    "# HELP siaod_proposal_statements_in_flight_max Statements of proposals run at once at most.\n"
			    "# TYPE siaod_proposal_statements_in_flight_max gauge\n"
			    "siaod_proposal_statements_in_flight_max %d\n",
			    pc.alone, pc.batches, pc.batched, pc.waiting, pc.inflight, pc.inflight_max);
	int f_backlog = res ? PQfnumber(res, "backlog") : -1, f_oldest = res ? PQfnumber(res, "oldest_pending") : -1,
	    f_unready = res ? PQfnumber(res, "unready") : -1;
	if (res && !store_result_failed(res) && PQntuples(res) == 1 && f_backlog >= 0 && f_oldest >= 0 &&
	    f_unready >= 0) {
		evbuffer_add_printf(b, "# HELP siaod_outbox_backlog Deliveries pending or in flight.\n"
				    "# TYPE siaod_outbox_backlog gauge\nsiaod_outbox_backlog %s\n",
				    PQgetvalue(res, 0, f_backlog));
		evbuffer_add_printf(b, "# HELP siaod_outbox_oldest_pending_seconds Age of the oldest pending delivery.\n"
				    "# TYPE siaod_outbox_oldest_pending_seconds gauge\n"
				    "siaod_outbox_oldest_pending_seconds %s\n", PQgetvalue(res, 0, f_oldest));
		evbuffer_add_printf(b, "# HELP siaod_outbox_unready Capacity events waiting for candidates.\n"
				    "# TYPE siaod_outbox_unready gauge\nsiaod_outbox_unready %s\n",
				    PQgetvalue(res, 0, f_unready));
	}
	evbuffer_add_printf(b, "# HELP siaod_inventory_offers Offers in memory.\n# TYPE siaod_inventory_offers gauge\n"
			    "siaod_inventory_offers %zu\n", inventory_offer_count(app->inv));
	evbuffer_add_printf(b, "# HELP siaod_inventory_places Places in memory.\n# TYPE siaod_inventory_places gauge\n"
			    "siaod_inventory_places %zu\n", inventory_place_count(app->inv));
	evbuffer_add_printf(b, "# HELP siaod_inventory_youth Young people in memory.\n# TYPE siaod_inventory_youth gauge\n"
			    "siaod_inventory_youth %zu\n", inventory_youth_count(app->inv));
	api_offers_freshness_metrics(app, b);
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
		    "SELECT count(*) FILTER (WHERE status IN ('pending', 'delivering')) AS backlog,"
		    " coalesce(extract(epoch FROM now() - min(created_at) FILTER (WHERE status = 'pending'))::bigint, 0)"
		    " AS oldest_pending, (SELECT count(*) FROM outbox WHERE NOT ready) AS unready"
		    " FROM deliveries WHERE status IN ('pending', 'delivering')",
		    0, NULL, outbox_done, r);
}
