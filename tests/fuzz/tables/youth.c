/* daemon/api_youth.c's table, for fuzz_json (see tables.h). */
#include "../../../daemon/api_youth.c"

#include "tables.h"

const struct fuzz_table fuzz_tables_youth[] = {
	{"youth.create, youth.patch", youth_fields, NFIELDS, true, NULL},
	{NULL, NULL, 0, false, NULL},
};
