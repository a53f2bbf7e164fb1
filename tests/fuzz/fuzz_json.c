/*
 * fuzz_json: bytes as a request body. Decoded as req_read_body() does
 * (json_loadb with JSON_REJECT_DUPLICATES), then checked against every
 * request field table of the API, in create and, where a PATCH route uses
 * the table, patch mode; a body a table accepts then goes through the rules
 * its handler applies next (tables.h). Besides the sanitizers, the harness
 * checks what a client gets back: every error is {pointer, code, detail}
 * with one of the contract's codes, and the problem document and the body
 * passed on to PostgreSQL serialise.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "tables.h"
#include "validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct fuzz_table *const lists[] = {
	fuzz_tables_offers, fuzz_tables_placements, fuzz_tables_plans, fuzz_tables_porteurs,
	fuzz_tables_tokens, fuzz_tables_webhooks, fuzz_tables_youth,
};

static const char *const codes[] = {"required", "wrong_type", "out_of_range", "unknown_value",
				     "unknown_field", "too_long", "not_an_object", NULL};

static void fail(const char *table, const char *what, const json_t *errors)
{
	char *text = errors ? json_dumps(errors, JSON_COMPACT) : NULL;
	fprintf(stderr, "fuzz_json: %s: %s: %s\n", table, what, text ? text : "-");
	free(text);
	abort();
}

/* NULL, or a non-empty array of {pointer, code, detail} as the contract says. */
static void check_errors(const char *table, const json_t *errors)
{
	if (!errors)
		return;
	if (!json_is_array(errors) || json_array_size(errors) == 0)
		fail(table, "errors is not a non-empty array", errors);
	size_t i;
	const json_t *e;
	json_array_foreach(errors, i, e) {
		const char *pointer = json_string_value(json_object_get(e, "pointer"));
		const char *code = json_string_value(json_object_get(e, "code"));
		const char *detail = json_string_value(json_object_get(e, "detail"));
		if (!pointer || !code || !detail || !*detail)
			fail(table, "an error lacks pointer, code or detail", errors);
		if (*pointer && *pointer != '/')
			fail(table, "a pointer is not a JSON pointer", errors);
		const char *const *c = codes;
		while (*c && strcmp(*c, code) != 0)
			c++;
		if (!*c)
			fail(table, "a code outside the contract", errors);
	}
	/* req_problem_full sends them in a problem document */
	json_t *problem = json_pack("{s:s, s:O}", "type", "/problems/invalid-field", "errors", errors);
	char *text = problem ? json_dumps(problem, JSON_COMPACT) : NULL;
	if (!text)
		fail(table, "the problem document does not serialise", errors);
	free(text);
	json_decref(problem);
}

static void check_table(const struct fuzz_table *t, const json_t *body, enum vmode mode)
{
	json_t *errors = validate_object(body, t->fields, t->n, mode);
	check_errors(t->name, errors);
	if (!errors && !json_is_object(body))
		fail(t->name, "a body that is no object passed", NULL);
	if (!errors && t->rules) {
		errors = t->rules(body);
		check_errors(t->name, errors);
	}
	if (!errors) {
		/* the handler hands the body to its SQL function as jsonb text */
		char *text = json_dumps(body, JSON_COMPACT);
		if (!text)
			fail(t->name, "an accepted body does not serialise", NULL);
		free(text);
	}
	json_decref(errors);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t err;
	json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &err);
	if (!body) {
		/* body_parse_error() maps the code and quotes text and position */
		if ((unsigned)json_error_code(&err) > json_error_index_out_of_range ||
		    strnlen(err.text, sizeof err.text - 1) == sizeof err.text - 1)
			fail("json_loadb", "a malformed error report", NULL);
		return 0;
	}
	for (size_t l = 0; l < sizeof lists / sizeof *lists; l++)
		for (const struct fuzz_table *t = lists[l]; t->name; t++) {
			check_table(t, body, V_CREATE);
			if (t->patch)
				check_table(t, body, V_PATCH);
		}
	json_decref(body);
	return 0;
}
