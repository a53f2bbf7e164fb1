/*
 * The request field tables of daemon/api_*.c, for fuzz_json.
 *
 * The tables are static in their files, next to their handlers (and
 * tests/api/test_openapi.py reads them there), so each tables/<name>.c
 * includes one daemon/api_<name>.c and lists its tables with the rules the
 * handler applies once a body passed its table: the fuzzer checks the very
 * tables and rules the daemon uses, and the daemon exports nothing for it.
 * One daemon file per wrapper: the files share static names (genders,
 * statuses, NFIELDS).
 *
 * Linking: a wrapper defines every global symbol of the file it includes, so
 * the linker never takes that file's own object out of siaod_fuzz_core.
 */
#ifndef SIAOD_FUZZ_TABLES_H
#define SIAOD_FUZZ_TABLES_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "validate.h"

struct fuzz_table {
	const char *name;                     /* route(s) whose body it checks; NULL ends a list */
	const struct vfield *fields;
	size_t n;
	bool patch;                           /* the PATCH route checks its body with it too */
	json_t *(*rules)(const json_t *body); /* the handler's checks after the table, or NULL */
};

extern const struct fuzz_table fuzz_tables_offers[];
extern const struct fuzz_table fuzz_tables_placements[];
extern const struct fuzz_table fuzz_tables_plans[];
extern const struct fuzz_table fuzz_tables_porteurs[];
extern const struct fuzz_table fuzz_tables_tokens[];
extern const struct fuzz_table fuzz_tables_webhooks[];
extern const struct fuzz_table fuzz_tables_youth[];

#endif
