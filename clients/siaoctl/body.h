/*
 * body: JSON request bodies from command-line options. Each helper adds one
 * member when its option was given (value not NULL) and checks only the
 * value's form (a number is a number); ranges, enums and dates are the
 * API's to judge, so its messages and pointers reach the user.
 */
#ifndef SIAOCTL_BODY_H
#define SIAOCTL_BODY_H

#include <stdbool.h>
#include <jansson.h>

#include "siaoctl.h"

/* A string (valid UTF-8). */
bool body_string(struct ctx *c, json_t *b, const char *key, const char *opt, const char *value);
/* An integer; with null_word, that word gives JSON null ("none"). */
bool body_int(struct ctx *c, json_t *b, const char *key, const char *opt, const char *value,
	      const char *null_word);
/* A number: an integer when it has no fraction, else a real. */
bool body_number(struct ctx *c, json_t *b, const char *key, const char *opt, const char *value);
/* true when set (a flag never sends false: the API's default is false). */
void body_flag(json_t *b, const char *key, bool set);
/* "a,b , c" -> ["a", "b", "c"]; "" -> []. */
bool body_list(struct ctx *c, json_t *b, const char *key, const char *opt, const char *value);

#endif
