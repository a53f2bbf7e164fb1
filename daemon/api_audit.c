/*
 * GET /v1/audit: who did what, including refused attempts (admins only).
 */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "validate.h"

static bool time_param(struct req *r, json_t *f, const char *name)
{
	const char *s = req_query(r, name);
	if (!s)
		return true;
	char buf[40];
	if (strlen(s) == 10 && strlen(s) < sizeof buf) {
		/* a bare date means that day at midnight in the server's zone */
		if (!api_query_date(r, f, name, NULL))
			return false;
		return true;
	}
	if (!validate_timestamp(s)) {
		api_query_error(r, name, "wrong_type", "expected a date or an RFC 3339 timestamp");
		return false;
	}
	json_object_set_new(f, name, json_string(s));
	return true;
}

void api_audit_list(struct req *r)
{
	static const char *const entities[] = {
					       "porteur", "offer", "token", "youth", "placement", "stay",
					       "webhook", "plan", "report", "audit", "me", "commune",
					       "account", "session", NULL};
	json_t *f = json_object();
	if (api_list_params(r, f) && api_query_enum(r, f, "entity", entities) &&
	    api_query_int(r, f, "actor", 1, INT64_MAX) && api_query_int(r, f, "account", 1, INT64_MAX) &&
	    time_param(r, f, "from") &&
	    time_param(r, f, "to")) {
		char *fs = api_json_param(r, f);
		const char *values[1] = {fs};
		if (fs)
			api_sql_reply(r, "SELECT audit_list($1::jsonb)", 1, values, 200, 0);
		free(fs);
	}
	json_decref(f);
}
