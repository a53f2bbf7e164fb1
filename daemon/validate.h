/*
 * validate: checks a JSON request body against a table of fields and reports
 * every problem at once as [{pointer, code, detail}], with the contract's
 * codes (required, wrong_type, out_of_range, unknown_value, unknown_field,
 * too_long). Pure: no I/O, fuzzed in tests/fuzz.
 */
#ifndef SIAOD_VALIDATE_H
#define SIAOD_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

enum vtype {
	V_STRING,       /* max = longest length in characters */
	V_INT,          /* [min, max] */
	V_NUMBER,       /* [min, max], integers accepted */
	V_BOOL,
	V_DATE,         /* "YYYY-MM-DD", a real calendar day */
	V_TIMESTAMP,    /* "YYYY-MM-DDTHH:MM[:SS][.frac](Z|±HH:MM)" */
	V_ENUM,         /* one of values[] */
	V_DEPARTEMENT,  /* "34", "2A", "971" */
	V_INSEE,        /* a 5-character INSEE commune code */
	V_DEPARTEMENTS, /* an array of V_DEPARTEMENT, at most max */
	V_ENUM_ARRAY,   /* an array of distinct values[] */
};

struct vfield {
	const char *name;
	enum vtype type;
	bool required;              /* on create; a patch never requires */
	bool nullable;
	long long min, max;
	const char *const *values;  /* V_ENUM, NULL-terminated */
	bool readonly;              /* refused in a patch */
};

enum vmode { V_CREATE, V_PATCH };

/* Returns NULL when obj is valid, else a new JSON array of errors. */
json_t *validate_object(const json_t *obj, const struct vfield *fields, size_t n, enum vmode mode);
/* Appends one error to *errors (creating the array). */
void validate_error(json_t **errors, const char *pointer, const char *code, const char *detail);

bool validate_departement(const char *s);
bool validate_insee(const char *s);
bool validate_timestamp(const char *s);

#endif
