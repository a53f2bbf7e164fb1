/*
 * args: long options ("--name value", "--name=value", flags "--name"),
 * positional words, "--" to end the options, "-h"/"--help". Values point
 * into argv. Every error is one line on stderr naming the command and the
 * help to read.
 */
#ifndef SIAOCTL_ARGS_H
#define SIAOCTL_ARGS_H

#include <stdbool.h>
#include <stddef.h>

enum args_kind { ARGS_FLAG, ARGS_VALUE };

struct args_opt {
	const char *name;      /* without the leading "--" */
	enum args_kind kind;
	const char **value;    /* ARGS_VALUE: the argument, if given */
	bool *flag;            /* ARGS_FLAG: true if given */
};

/* Options of one command and, after them, the global ones: a command's own
 * option wins when both have the name (webhooks add --url). */
struct args_spec {
	const struct args_opt *opts;
	size_t nopts;
	const struct args_opt *globals;
	size_t nglobals;
};

#define ARGS_MAX_POS 8
struct args_pos {
	int n;
	const char *v[ARGS_MAX_POS];
};

enum args_result { ARGS_OK, ARGS_HELP, ARGS_USAGE };

/* Parses argv[0..argc) (argv[0] is the first word to look at). what names
 * the command in messages ("offers add"). */
enum args_result args_parse(const char *what, const struct args_spec *spec, int argc, char **argv,
			    struct args_pos *pos);
/* Parses options only until the first word; *word is its index (argc if none). */
enum args_result args_parse_prefix(const struct args_spec *spec, int argc, char **argv, int *word);

/* "siaoctl: WHAT: MESSAGE (see: siaoctl help TOPIC)" on stderr; TOPIC is
 * WHAT's first word. */
void args_error(const char *what, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Value checks that print the usage error themselves. */
bool args_int(const char *what, const char *opt, const char *text, long long min, long long max,
	      long long *out);
bool args_number(const char *what, const char *opt, const char *text, double min, double max,
		 double *out);

#endif
