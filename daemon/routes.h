/*
 * routes: the one table of every HTTP route siaod serves (routes.c), with the
 * roles allowed on each and what a write triggers after it commits. A
 * reader finds the whole API there.
 */
#ifndef SIAOD_ROUTES_H
#define SIAOD_ROUTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "effects.h"

struct req;
typedef void (*handler_fn)(struct req *r);

struct route {
	const char *method;
	const char *pattern;   /* "/v1/offers/{id}": {id} is a positive integer;
	                          a final "*" matches any rest of the path */
	handler_fn handler;
	int roles;             /* 0: no token needed; else a mask of enum role */
	const char *name;      /* for logs and metrics */
	int effects;           /* what a successful write triggers after commit
	                          (a mask of enum effect, see effects.h) */
};

/* Routes whose body is not JSON (POST /v1/imports: a CSV file): the handler
 * reads the bytes (req_raw_body), and import_max_bytes, not max_body_bytes,
 * bounds them. */
bool routes_raw_body(const struct route *r);

/* Routes whose SQL statement takes the Idempotency-Key itself (claim, write
 * and stored answer in one transaction, see idempotency.h): the gate does
 * not claim it first. */
bool routes_idem_in_sql(const struct route *r);

extern const struct route routes[];
extern const size_t nroutes;

enum route_match { ROUTE_FOUND, ROUTE_NOT_FOUND, ROUTE_BAD_METHOD };

/* Finds the route for method and path; fills ids. On ROUTE_BAD_METHOD, allow
 * holds the methods the path accepts ("GET, POST"). */
enum route_match routes_find(const char *method, const char *path, const struct route **out,
			     int64_t *ids, int maxids, int *nids, char *allow, size_t allowlen);

#endif
