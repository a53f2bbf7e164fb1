/* daemon/api_plans.c's table, for fuzz_json (see tables.h). The body of
 * plan.apply is checked inside its handler, out of the fuzzer's reach. */
#include "../../../daemon/api_plans.c"

#include "tables.h"

const struct fuzz_table fuzz_tables_plans[] = {
	{"plan.create", plan_fields, sizeof plan_fields / sizeof *plan_fields, false, NULL},
	{NULL, NULL, 0, false, NULL},
};
