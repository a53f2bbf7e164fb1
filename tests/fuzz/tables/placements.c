/* daemon/api_placements.c's tables (creation and each transition with a
 * body), for fuzz_json (see tables.h). */
#include "../../../daemon/api_placements.c"

#include "tables.h"

#define TABLE(name, t) {name, t, sizeof t / sizeof *t, false, NULL}

const struct fuzz_table fuzz_tables_placements[] = {
	TABLE("placement.create", create_fields),
	TABLE("placement.refuse", refuse_fields),
	TABLE("placement.enter", enter_fields),
	TABLE("placement.exit", exit_fields),
	TABLE("placement.extend", extend_fields),
	{NULL, NULL, 0, false, NULL},
};
