/*
 * Command-line parsing: long options and positional words.
 */
#include "args.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void args_error(const char *what, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	size_t topic = strcspn(what, " ");
	if (topic > 0)
		fprintf(stderr, "siaoctl: %s: %s (see: siaoctl help %.*s)\n", what, msg, (int)topic, what);
	else
		fprintf(stderr, "siaoctl: %s (see: siaoctl --help)\n", msg);
	free(msg);
}

static const struct args_opt *find(const struct args_spec *spec, const char *name, size_t len)
{
	for (size_t i = 0; i < spec->nopts; i++)
		if (strlen(spec->opts[i].name) == len && strncmp(spec->opts[i].name, name, len) == 0)
			return &spec->opts[i];
	for (size_t i = 0; i < spec->nglobals; i++)
		if (strlen(spec->globals[i].name) == len && strncmp(spec->globals[i].name, name, len) == 0)
			return &spec->globals[i];
	return NULL;
}

/* Takes the option at argv[*i] (which starts with "--" and is not "--"). */
static enum args_result take(const char *what, const struct args_spec *spec, int argc, char **argv, int *i)
{
	const char *arg = argv[*i] + 2;
	const char *eq = strchr(arg, '=');
	size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
	if (len == 4 && strncmp(arg, "help", 4) == 0 && !eq) {
		(*i)++;
		return ARGS_HELP;
	}
	const struct args_opt *o = find(spec, arg, len);
	if (!o) {
		args_error(what, "unknown option --%.*s", (int)len, arg);
		return ARGS_USAGE;
	}
	if (o->kind == ARGS_FLAG) {
		if (eq) {
			args_error(what, "--%s takes no value", o->name);
			return ARGS_USAGE;
		}
		*o->flag = true;
		(*i)++;
		return ARGS_OK;
	}
	if (eq) {
		*o->value = eq + 1;
		(*i)++;
		return ARGS_OK;
	}
	if (*i + 1 >= argc) {
		args_error(what, "--%s needs a value", o->name);
		return ARGS_USAGE;
	}
	*o->value = argv[*i + 1];
	*i += 2;
	return ARGS_OK;
}

static bool is_option(const char *a)
{
	return a[0] == '-' && a[1] == '-' && a[2] != '\0';
}

enum args_result args_parse(const char *what, const struct args_spec *spec, int argc, char **argv,
			    struct args_pos *pos)
{
	bool words_only = false, help = false;
	pos->n = 0;
	for (int i = 0; i < argc;) {
		const char *a = argv[i];
		if (!words_only && strcmp(a, "--") == 0) {
			words_only = true;
			i++;
		} else if (!words_only && strcmp(a, "-h") == 0) {
			help = true;
			i++;
		} else if (!words_only && is_option(a)) {
			enum args_result r = take(what, spec, argc, argv, &i);
			if (r == ARGS_USAGE)
				return r;
			if (r == ARGS_HELP)
				help = true;
		} else if (!words_only && a[0] == '-' && a[1] != '\0' && strcmp(a, "-") != 0 &&
			   !(a[1] >= '0' && a[1] <= '9')) {
			args_error(what, "unknown option %s (options are long: --name)", a);
			return ARGS_USAGE;
		} else {
			if (pos->n == ARGS_MAX_POS) {
				args_error(what, "too many arguments");
				return ARGS_USAGE;
			}
			pos->v[pos->n++] = a;
			i++;
		}
	}
	return help ? ARGS_HELP : ARGS_OK;
}

enum args_result args_parse_prefix(const struct args_spec *spec, int argc, char **argv, int *word)
{
	bool help = false;
	int i = 0;
	while (i < argc) {
		const char *a = argv[i];
		if (strcmp(a, "-h") == 0) {
			help = true;
			i++;
		} else if (is_option(a)) {
			enum args_result r = take("", spec, argc, argv, &i);
			if (r == ARGS_USAGE)
				return r;
			if (r == ARGS_HELP)
				help = true;
		} else {
			break;
		}
	}
	*word = i;
	return help ? ARGS_HELP : ARGS_OK;
}

bool args_int(const char *what, const char *opt, const char *text, long long min, long long max,
	      long long *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(text, &end, 10);
	if (errno || end == text || *end || v < min || v > max) {
		args_error(what, "%s expects a whole number from %lld to %lld, not '%s'", opt, min, max, text);
		return false;
	}
	*out = v;
	return true;
}

bool args_number(const char *what, const char *opt, const char *text, double min, double max,
		 double *out)
{
	char *end;
	errno = 0;
	double v = strtod(text, &end);
	if (errno || end == text || *end || !isfinite(v) || v < min || v > max) {
		args_error(what, "%s expects a number from %g to %g, not '%s'", opt, min, max, text);
		return false;
	}
	*out = v;
	return true;
}
