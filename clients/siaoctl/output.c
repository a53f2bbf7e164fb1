/*
 * JSON for scripts, values for tables.
 */
#include "output.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void out_real(double d, char buf[32])
{
	/* Positional notation first, as the API writes its numbers (250.0, not
	 * 2.5e+02): the fewest decimals that read back as d. Very large or very
	 * small magnitudes, which would need more than the buffer, fall back to
	 * the shortest exponent form. (d == d: not a NaN.) */
	if (d == d && d < 1e16 && d > -1e16 && (d == 0 || d >= 1e-6 || d <= -1e-6)) {
		for (int dec = 0; dec <= 17; dec++) {
			int n = snprintf(buf, 32, "%.*f", dec, d);
			if (n > 0 && n < 30 && strtod(buf, NULL) == d) {
				if (dec == 0)
					memcpy(buf + n, ".0", 3); /* n < 30: fits in 32 */
				return;
			}
		}
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, 32, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	size_t len = strlen(buf);
	if (!strpbrk(buf, ".eEni") && len + 3 <= 32)
		memcpy(buf + len, ".0", 3);
}

static void string(FILE *f, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	fputc('"', f);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		switch (c) {
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		case '\t': fputs("\\t", f); break;
		case '\b': fputs("\\b", f); break;
		case '\f': fputs("\\f", f); break;
		default:
			if (c < 0x20 || c == 0x7F)
				fprintf(f, "\\u00%c%c", hex[c >> 4], hex[c & 15]);
			else
				fputc(c, f);
		}
	}
	fputc('"', f);
}

static void indent(FILE *f, int depth)
{
	fputc('\n', f);
	for (int i = 0; i < depth; i++)
		fputs("  ", f);
}

static void value(FILE *f, const json_t *v, int depth)
{
	char num[32];
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		if (json_object_size(v) == 0) {
			fputs("{}", f);
			break;
		}
		fputc('{', f);
		const char *key;
		const json_t *member;
		size_t i = 0;
		json_object_foreach((json_t *)v, key, member) {
			if (i++)
				fputc(',', f);
			indent(f, depth + 1);
			string(f, key, strlen(key));
			fputs(": ", f);
			value(f, member, depth + 1);
		}
		indent(f, depth);
		fputc('}', f);
		break;
	}
	case JSON_ARRAY: {
		if (json_array_size(v) == 0) {
			fputs("[]", f);
			break;
		}
		fputc('[', f);
		size_t i;
		const json_t *item;
		json_array_foreach(v, i, item) {
			if (i)
				fputc(',', f);
			indent(f, depth + 1);
			value(f, item, depth + 1);
		}
		indent(f, depth);
		fputc(']', f);
		break;
	}
	case JSON_STRING:
		string(f, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		fprintf(f, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		out_real(json_real_value(v), num);
		fputs(num, f);
		break;
	case JSON_TRUE:
		fputs("true", f);
		break;
	case JSON_FALSE:
		fputs("false", f);
		break;
	case JSON_NULL:
		fputs("null", f);
		break;
	}
}

void out_json(FILE *f, const json_t *v)
{
	value(f, v, 0);
	fputc('\n', f);
}

static bool scalar(const json_t *v)
{
	return !json_is_object(v) && !json_is_array(v);
}

char *out_text(const json_t *v)
{
	char num[32];
	if (!v)
		return xstrdup("-");
	switch (json_typeof(v)) {
	case JSON_STRING:
		return xstrdup(json_string_value(v));
	case JSON_INTEGER:
		return xasprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
	case JSON_REAL:
		out_real(json_real_value(v), num);
		return xstrdup(num);
	case JSON_TRUE:
		return xstrdup("yes");
	case JSON_FALSE:
		return xstrdup("no");
	case JSON_NULL:
		return xstrdup("-");
	case JSON_ARRAY: {
		bool flat = true;
		size_t i;
		const json_t *item;
		json_array_foreach(v, i, item)
			flat = flat && scalar(item);
		if (flat) {
			struct buf b = {0};
			json_array_foreach(v, i, item) {
				char *t = out_text(item);
				buf_printf(&b, "%s%s", i ? ", " : "", t);
				free(t);
			}
			char *s = xstrdup(buf_text(&b));
			buf_free(&b);
			return s;
		}
		break;
	}
	case JSON_OBJECT:
		break;
	}
	char *compact = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	char *s = xstrdup(compact ? compact : "?");
	free(compact);
	return s;
}

void out_cell(struct table *t, const json_t *v)
{
	char *s = out_text(v);
	/* an empty cell would read as a missing column */
	table_cell(t, *s ? s : "-");
	free(s);
}

static bool listed(const char *const *order, const char *key)
{
	for (size_t i = 0; order && order[i]; i++)
		if (strcmp(order[i], key) == 0)
			return true;
	return false;
}

void out_record(FILE *f, const json_t *obj, const char *const *order)
{
	struct table *t = table_new(2, NULL);
	for (size_t i = 0; order && order[i]; i++) {
		const json_t *member = json_object_get(obj, order[i]);
		if (member) {
			table_cell(t, order[i]);
			out_cell(t, member);
		}
	}
	const char *key;
	const json_t *member;
	json_object_foreach((json_t *)obj, key, member) {
		if (listed(order, key))
			continue;
		table_cell(t, key);
		out_cell(t, member);
	}
	table_print(t, f);
	table_free(t);
}
