/* daemon/api_webhooks.c's table and the handler's URL and scope checks, for
 * fuzz_json (see tables.h). */
#include "../../../daemon/api_webhooks.c"

#include "tables.h"

/* What api_webhooks_create checks after the table, before the token's scope,
 * with webhook_allow_private off and on. */
static json_t *webhook_rules(const json_t *b)
{
	json_t *errors = NULL;
	const char *url = json_string_value(json_object_get(b, "url"));
	for (int allow_private = 0; allow_private < 2; allow_private++) {
		const char *code, *why = url_problem(url, allow_private, &code);
		if (why)
			validate_error(&errors, "/url", code, why);
	}
	if (json_object_get(b, "departement") && json_object_get(b, "porteur_id"))
		validate_error(&errors, "/porteur_id", "unknown_field",
			       "a subscription is scoped to a département or a porteur, not both");
	return errors;
}

const struct fuzz_table fuzz_tables_webhooks[] = {
	{"webhook.create", webhook_fields, sizeof webhook_fields / sizeof *webhook_fields, false,
	 webhook_rules},
	{NULL, NULL, 0, false, NULL},
};
