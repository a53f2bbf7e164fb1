/*
 * output: JSON pretty-printed for scripts (--json) and JSON values as table
 * text for people.
 */
#ifndef SIAOCTL_OUTPUT_H
#define SIAOCTL_OUTPUT_H

#include <stdio.h>
#include <jansson.h>

#include "table.h"

/* v indented by two spaces, members in the order received, UTF-8 kept as
 * is, reals in their shortest form that reads back to the same number. */
void out_json(FILE *f, const json_t *v);
/* The text of a value in a table (to free): strings as they are, null "-",
 * booleans yes/no, arrays of scalars "a, b", objects compact JSON. */
char *out_text(const json_t *v);
/* Appends out_text(v) as the next cell. */
void out_cell(struct table *t, const json_t *v);
/* The members of an object as "key  value" lines: first those named in
 * order (NULL-terminated, may be NULL), then the others as received. */
void out_record(FILE *f, const json_t *obj, const char *const *order);
/* The shortest decimal text that reads back as d ("2.0" for 2). */
void out_real(double d, char buf[32]);

#endif
