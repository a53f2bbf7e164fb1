/* daemon/api_tokens.c's table and scope rules, for fuzz_json (see tables.h). */
#include "../../../daemon/api_tokens.c"

#include "tables.h"

const struct fuzz_table fuzz_tables_tokens[] = {
	{"token.create", token_fields, sizeof token_fields / sizeof *token_fields, false,
	 api_token_scope_errors},
	{NULL, NULL, 0, false, NULL},
};
