/*
 * GET /healthz (the process answers) and GET /readyz (it can reach PostgreSQL).
 */
#include <stdlib.h>

#include "api.h"
#include "app.h"
#include "store.h"

void api_healthz(struct req *r)
{
	req_reply_raw(r, 200, "application/json", "{\"status\":\"ok\"}", 15);
}

static void readyz_done(void *arg, PGresult *res)
{
	struct req *r = arg;
	if (store_result_failed(res)) {
		r->retry_after = 2;
		req_problem(r, 503, "database-unavailable", "PostgreSQL is not reachable");
		return;
	}
	req_reply_raw(r, 200, "application/json", "{\"status\":\"ready\"}", 18);
}

void api_readyz(struct req *r)
{
	/* A real round trip: a pool that thinks it is connected may be wrong. */
	store_query(r->app->store, "SELECT 1", 0, NULL, readyz_done, r);
}
