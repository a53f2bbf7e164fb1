/*
 * problem: what a failed database statement means for the client — the
 * SQLSTATE (our own SIxxx codes, constraint violations, conflicts, the
 * database being away) mapped onto an RFC 9457 problem. Pure: no request,
 * no I/O; the caller answers (api.c) or reports it per item (api_plans.c).
 */
#ifndef SIAOD_PROBLEM_H
#define SIAOD_PROBLEM_H

#include <stdbool.h>
#include <jansson.h>
#include <libpq-fe.h>

struct problem {
	int status;
	char slug[64];           /* the type is /problems/<slug> */
	char detail[256];        /* "" when there is none to show */
	json_t *errors;          /* owned: an array of {pointer, code, detail}, or NULL */
	json_t *extra;           /* owned: members added to the problem, or NULL */
	int retry_after;         /* seconds, 0 = none */
	bool denied;             /* a 403 raised by the database: audit it */
	bool unexpected;         /* not a case we know: worth an error log line */
	char sqlstate[6];
};

/* res NULL: the database could not be reached. Fills p; free with
 * problem_clear. */
void problem_from_result(const PGresult *res, struct problem *p);
/* The same from an error's fields, for an error caught in SQL and returned
 * as columns (placement_propose_many); any of them may be NULL. */
void problem_from_fields(const char *sqlstate, const char *message, const char *detail, const char *hint,
			 const char *constraint, struct problem *p);
void problem_clear(struct problem *p);

#endif
