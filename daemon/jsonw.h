/*
 * jsonw: JSON text written straight into a growing buffer, for the replies
 * on the hot path (the matches), where building a Jansson tree and dumping
 * it cost more than the ranking. The output is byte for byte what
 * json_dumps(..., JSON_COMPACT) writes for the same values: strings escaped
 * as Jansson escapes them, reals as Jansson prints them (tests/unit/
 * test_jsonw.c compares both, and parses the output back).
 *
 * Errors are sticky: after an allocation failure every call does nothing
 * and jsonw_failed() says so, so a writer checks once at the end.
 */
#ifndef SIAOD_JSONW_H
#define SIAOD_JSONW_H

#include <stdbool.h>
#include <stddef.h>

struct jsonw {
	char *buf;
	size_t len, cap;
	bool failed;
};

/* Empties the buffer and keeps its room (a zeroed struct is empty). */
void jsonw_reset(struct jsonw *w);
void jsonw_free(struct jsonw *w);
bool jsonw_failed(const struct jsonw *w);

/* Bytes as they are (punctuation, keys known to need no escaping). */
void jsonw_raw(struct jsonw *w, const char *s, size_t n);
#define jsonw_lit(w, s) jsonw_raw((w), "" s, sizeof(s) - 1)
/* A string, quoted and escaped; NULL writes null. Invalid UTF-8 bytes
 * (which Jansson refuses) become U+FFFD. */
void jsonw_str(struct jsonw *w, const char *s);
void jsonw_int(struct jsonw *w, long long v);
/* A real as Jansson prints it: %.17g, ".0" added to a whole number, no '+'
 * nor leading zeros in the exponent. Not finite: null (Jansson has none). */
void jsonw_real(struct jsonw *w, double v);
void jsonw_bool(struct jsonw *w, bool v);

#endif
