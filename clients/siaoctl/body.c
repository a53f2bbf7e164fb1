/*
 * Request bodies from options.
 */
#include "body.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static bool bad_utf8(struct ctx *c, const char *opt)
{
	args_error(c->what, "%s is not valid UTF-8", opt);
	c->exit = SIAOCTL_EXIT_USAGE;
	return false;
}

bool body_string(struct ctx *c, json_t *b, const char *key, const char *opt, const char *value)
{
	if (!value)
		return true;
	json_t *s = json_string(value);
	if (!s)
		return bad_utf8(c, opt);
	json_object_set_new(b, key, s);
	return true;
}

bool body_int(struct ctx *c, json_t *b, const char *key, const char *opt, const char *value,
	      const char *null_word)
{
	if (!value)
		return true;
	if (null_word && strcmp(value, null_word) == 0) {
		json_object_set_new(b, key, json_null());
		return true;
	}
	long long v;
	if (!args_int(c->what, opt, value, -999999999999999999LL, 999999999999999999LL, &v)) {
		c->exit = SIAOCTL_EXIT_USAGE;
		return false;
	}
	json_object_set_new(b, key, json_integer(v));
	return true;
}

bool body_number(struct ctx *c, json_t *b, const char *key, const char *opt, const char *value)
{
	if (!value)
		return true;
	double v;
	if (!args_number(c->what, opt, value, -1e15, 1e15, &v)) {
		c->exit = SIAOCTL_EXIT_USAGE;
		return false;
	}
	if (v == floor(v))
		json_object_set_new(b, key, json_integer((json_int_t)v));
	else
		json_object_set_new(b, key, json_real(v));
	return true;
}

void body_flag(json_t *b, const char *key, bool set)
{
	if (set)
		json_object_set_new(b, key, json_true());
}

bool body_list(struct ctx *c, json_t *b, const char *key, const char *opt, const char *value)
{
	if (!value)
		return true;
	json_t *probe = json_string(value);
	if (!probe)
		return bad_utf8(c, opt);
	json_decref(probe);
	json_t *a = json_array();
	const char *p = value;
	while (*p) {
		size_t n = strcspn(p, ",");
		const char *s = p, *e = p + n;
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (e > s) {
			char *item = xstrndup(s, (size_t)(e - s));
			json_array_append_new(a, json_string(item));
			free(item);
		}
		p += n;
		if (*p == ',')
			p++;
	}
	json_object_set_new(b, key, a);
	return true;
}
