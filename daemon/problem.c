/*
 * SQLSTATE → problem (see problem.h). Our SQL functions raise SQLSTATE
 * SI<status> with the slug as message, the detail as detail and extra
 * members (errors included) as a JSON hint.
 */
#include "problem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void set(struct problem *p, int status, const char *slug, const char *detail)
{
	p->status = status;
	snprintf(p->slug, sizeof p->slug, "%s", slug);
	snprintf(p->detail, sizeof p->detail, "%s", detail ? detail : "");
}

/* Constraint names ck_<table>__<field>[__why] carry the JSON pointer. */
static void check_violation(struct problem *p, const char *constraint)
{
	char ptr[96] = "";
	const char *sep = constraint ? strstr(constraint, "__") : NULL;
	if (sep) {
		const char *end = strstr(sep + 2, "__");
		size_t n = end ? (size_t)(end - sep - 2) : strlen(sep + 2);
		snprintf(ptr, sizeof ptr, "/%.*s", (int)n, sep + 2);
	}
	char detail[160];
	snprintf(detail, sizeof detail, "the value breaks the rule %s", constraint ? constraint : "?");
	set(p, 400, "invalid-field", detail);
	p->errors = json_pack("[{s:s, s:s, s:s}]", "pointer", ptr, "code", "out_of_range",
			      "detail", detail);
}

void problem_from_result(const PGresult *res, struct problem *p)
{
	if (!res) {
		memset(p, 0, sizeof *p);
		set(p, 503, "database-unavailable", "the database cannot be reached; try again");
		p->retry_after = 2;
		return;
	}
	problem_from_fields(PQresultErrorField(res, PG_DIAG_SQLSTATE),
			    PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY),
			    PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL),
			    PQresultErrorField(res, PG_DIAG_MESSAGE_HINT),
			    PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME), p);
}

void problem_from_fields(const char *state, const char *msg, const char *detail, const char *hint,
			 const char *constraint, struct problem *p)
{
	memset(p, 0, sizeof *p);
	snprintf(p->sqlstate, sizeof p->sqlstate, "%s", state && *state ? state : "XX000");
	state = p->sqlstate;
	if (strncmp(state, "SI", 2) == 0) {
		int status = (int)strtol(state + 2, NULL, 10);
		set(p, status >= 400 && status < 600 ? status : 500, msg ? msg : "error", detail);
		p->extra = hint && *hint ? json_loads(hint, 0, NULL) : NULL;
		if (p->extra && !json_is_object(p->extra)) {
			json_decref(p->extra);
			p->extra = NULL;
		}
		p->errors = p->extra ? json_incref(json_object_get(p->extra, "errors")) : NULL;
		if (p->extra)
			json_object_del(p->extra, "errors");
		p->denied = status == 403;
		return;
	}
	if (strcmp(state, "23514") == 0) {
		check_violation(p, constraint && *constraint ? constraint : NULL);
		return;
	}
	if (strcmp(state, "23505") == 0 || strcmp(state, "23P01") == 0 || strcmp(state, "40001") == 0) {
		set(p, 409, "conflict", "this conflicts with the current state; reload and retry");
		return;
	}
	if (strcmp(state, "57014") == 0 || strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0) {
		set(p, 503, "database-unavailable", "the database did not answer in time");
		p->retry_after = 2;
		return;
	}
	if (strncmp(state, "22", 2) == 0) {
		set(p, 400, "invalid-field", "a value is out of range");
		return;
	}
	set(p, 500, "internal", "unexpected database error");
	p->unexpected = true;
}

void problem_clear(struct problem *p)
{
	json_decref(p->errors);
	json_decref(p->extra);
	p->errors = p->extra = NULL;
}
