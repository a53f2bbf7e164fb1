/* daemon/api_offers.c's table and cross-field rules, for fuzz_json (see tables.h). */
#include "../../../daemon/api_offers.c"

#include "tables.h"

const struct fuzz_table fuzz_tables_offers[] = {
	{"offer.create, offer.patch", offer_fields, NFIELDS, true, cross_field_errors},
	{NULL, NULL, 0, false, NULL},
};
