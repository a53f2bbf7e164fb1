/*
 * Small read routes for the clients: who the token is (GET /v1/me), and
 * communes by name (GET /v1/communes?q=) for the forms.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "session.h"

void api_me(struct req *r)
{
	json_t *deps = json_array();
	for (int i = 0; i < r->who.ndep; i++)
		json_array_append_new(deps, json_string(r->who.departements[i]));
	json_t *me = json_pack("{s:I, s:s, s:o}", "token_id", (json_int_t)r->who.token_id,
			       "role", auth_role_name(r->who.role), "departements", deps);
	json_object_set_new(me, "porteur_id",
			    r->who.porteur_id ? json_integer(r->who.porteur_id) : json_null());
	/* accounts: the person, and for a session the CSRF token its writes need */
	json_object_set_new(me, "account_id", r->who.account_id ? json_integer(r->who.account_id) : json_null());
	json_object_set_new(me, "session", json_boolean(r->who.session_id > 0));
	char sid[SESSION_ID_LEN + 1], csrf[SESSION_CSRF_LEN + 1];
	if (r->who.session_id > 0 && session_cookie_value(r, sid)) {
		session_csrf(sid, csrf);
		json_object_set_new(me, "csrf_token", json_string(csrf));
	}
	if (r->who.account_id) {
		/* the rest (e-mail, name) from the database */
		char acc[24];
		snprintf(acc, sizeof acc, "%lld", (long long)r->who.account_id);
		char *base = json_dumps(me, JSON_COMPACT);
		json_decref(me);
		const char *values[2] = {base, acc};
		api_sql_reply(r, "SELECT $1::jsonb || jsonb_build_object('email', a.email, 'display_name', "
			      "a.display_name) FROM accounts a WHERE a.id = $2::bigint", 2, values, 200, 0);
		free(base);
		return;
	}
	req_reply_json(r, 200, me);
}

void api_communes(struct req *r)
{
	json_t *f = json_object();
	const char *q = req_query(r, "q");
	if (q && (strlen(q) < 1 || strlen(q) > 80)) {
		api_query_error(r, "q", "out_of_range", "1 to 80 characters");
	} else if (api_query_departement(r, f, "departement") && api_query_int(r, f, "limit", 1, 50)) {
		json_t *lim = json_object_get(f, "limit");
		char limit[8];
		snprintf(limit, sizeof limit, "%d", lim ? (int)json_integer_value(lim) : 10);
		const char *values[3] = {q, json_string_value(json_object_get(f, "departement")), limit};
		api_sql_reply(r, "SELECT commune_search($1, $2, $3::integer)", 3, values, 200, 0);
	}
	json_decref(f);
}
