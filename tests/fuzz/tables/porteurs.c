/* daemon/api_porteurs.c's table, for fuzz_json (see tables.h). */
#include "../../../daemon/api_porteurs.c"

#include "tables.h"

const struct fuzz_table fuzz_tables_porteurs[] = {
	{"porteur.create, porteur.patch", porteur_fields, NFIELDS, true, NULL},
	{NULL, NULL, 0, false, NULL},
};
