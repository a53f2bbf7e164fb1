/*
 * Table-driven validation of JSON request bodies (see validate.h).
 */
#include "validate.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "siaod/date.h"

/* A body of 40,000 unknown members must not earn a 3 MB answer. */
#define VALIDATE_MAX_ERRORS 100

void validate_error(json_t **errors, const char *pointer, const char *code, const char *detail)
{
	if (!*errors)
		*errors = json_array();
	if (json_array_size(*errors) >= VALIDATE_MAX_ERRORS)
		return;
	json_array_append_new(*errors, json_pack("{s:s, s:s, s:s}", "pointer", pointer,
						 "code", code, "detail", detail));
}

/* 01-95 (no 20: Corsica is 2A and 2B) and the DROM 971-974 and 976. */
bool validate_departement(const char *s)
{
	size_t n = strlen(s);
	if (n == 2 && isdigit((unsigned char)s[0]) && isdigit((unsigned char)s[1])) {
		int v = (s[0] - '0') * 10 + (s[1] - '0');
		return v >= 1 && v <= 95 && v != 20;
	}
	if (n == 2)
		return strcmp(s, "2A") == 0 || strcmp(s, "2B") == 0;
	return n == 3 && s[0] == '9' && s[1] == '7' && s[2] >= '1' && s[2] <= '6' && s[2] != '5';
}

bool validate_insee(const char *s)
{
	if (strlen(s) != 5)
		return false;
	for (int i = 0; i < 5; i++)
		if (!isdigit((unsigned char)s[i]) && !(i == 1 && (s[i] == 'A' || s[i] == 'B')))
			return false;
	return true;
}

static bool digits_at(const char *s, int n)
{
	for (int i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

bool validate_timestamp(const char *s)
{
	sdate d;
	if (strlen(s) < 16 || !date_parse_n(s, 10, &d) || (s[10] != 'T' && s[10] != ' '))
		return false;
	const char *p = s + 11;
	if (!digits_at(p, 2) || p[2] != ':' || !digits_at(p + 3, 2))
		return false;
	int hh = (p[0] - '0') * 10 + (p[1] - '0'), mm = (p[3] - '0') * 10 + (p[4] - '0');
	if (hh > 23 || mm > 59)
		return false;
	p += 5;
	if (*p == ':') {
		if (!digits_at(p + 1, 2) || (p[1] - '0') * 10 + (p[2] - '0') > 59)
			return false;
		p += 3;
		if (*p == '.') {
			p++;
			if (!isdigit((unsigned char)*p))
				return false;
			while (isdigit((unsigned char)*p))
				p++;
		}
	}
	if (*p == 'Z')
		return p[1] == '\0';
	if (*p == '+' || *p == '-')
		return digits_at(p + 1, 2) && p[3] == ':' && digits_at(p + 4, 2) && p[6] == '\0';
	return false;
}

static bool in_values(const char *s, const char *const *values)
{
	for (; *values; values++)
		if (strcmp(s, *values) == 0)
			return true;
	return false;
}

static void list_values(const char *const *values, char *buf, size_t len)
{
	buf[0] = '\0';
	for (size_t used = 0; *values; values++) {
		int n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", *values);
		if (n < 0 || (size_t)n >= len - used)
			break;
		used += (size_t)n;
	}
}

/* Characters, not bytes: Jansson has already checked the UTF-8. */
static size_t utf8_length(const char *s, size_t bytes)
{
	size_t n = 0;
	for (size_t i = 0; i < bytes; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			n++;
	return n;
}

static void check_value(const json_t *v, const struct vfield *f, const char *ptr, json_t **errors)
{
	char detail[256];
	switch (f->type) {
	case V_STRING:
		if (!json_is_string(v))
			goto wrong_type;
		if (json_string_length(v) > 0 && memchr(json_string_value(v), '\0', json_string_length(v))) {
			validate_error(errors, ptr, "wrong_type", "the string contains a NUL character");
			return;
		}
		if (f->min > 0 && json_string_length(v) == 0) {
			validate_error(errors, ptr, "out_of_range", "must not be empty");
			return;
		}
		if (utf8_length(json_string_value(v), json_string_length(v)) > (size_t)f->max) {
			snprintf(detail, sizeof detail, "at most %lld characters", f->max);
			validate_error(errors, ptr, "too_long", detail);
		}
		return;
	case V_INT:
		if (!json_is_integer(v))
			goto wrong_type;
		if (json_integer_value(v) < f->min || json_integer_value(v) > f->max) {
			snprintf(detail, sizeof detail, "must be between %lld and %lld", f->min, f->max);
			validate_error(errors, ptr, "out_of_range", detail);
		}
		return;
	case V_NUMBER: {
		if (!json_is_number(v))
			goto wrong_type;
		double d = json_number_value(v);
		if (!isfinite(d) || d < (double)f->min || d > (double)f->max) {
			snprintf(detail, sizeof detail, "must be between %lld and %lld", f->min, f->max);
			validate_error(errors, ptr, "out_of_range", detail);
		}
		return;
	}
	case V_BOOL:
		if (!json_is_boolean(v))
			goto wrong_type;
		return;
	case V_DATE: {
		if (!json_is_string(v))
			goto wrong_type;
		const char *s = json_string_value(v);
		sdate d;
		if (strlen(s) != 10 || s[4] != '-' || s[7] != '-' || !digits_at(s, 4) ||
		    !digits_at(s + 5, 2) || !digits_at(s + 8, 2)) {
			validate_error(errors, ptr, "wrong_type", "expected a date as YYYY-MM-DD");
			return;
		}
		if (!date_parse(s, &d))
			validate_error(errors, ptr, "out_of_range", "no such day in the calendar");
		return;
	}
	case V_TIMESTAMP:
		if (!json_is_string(v) || !validate_timestamp(json_string_value(v))) {
			validate_error(errors, ptr, "wrong_type",
				       "expected a timestamp such as 2026-12-31T23:59:00Z");
		}
		return;
	case V_ENUM:
		if (!json_is_string(v))
			goto wrong_type;
		if (!in_values(json_string_value(v), f->values)) {
			char list[200];
			list_values(f->values, list, sizeof list);
			snprintf(detail, sizeof detail, "expected one of: %s", list);
			validate_error(errors, ptr, "unknown_value", detail);
		}
		return;
	case V_DEPARTEMENT:
		if (!json_is_string(v))
			goto wrong_type;
		if (!validate_departement(json_string_value(v)))
			validate_error(errors, ptr, "unknown_value",
				       "expected a département code such as \"34\", \"2A\" or \"971\"");
		return;
	case V_INSEE:
		if (!json_is_string(v))
			goto wrong_type;
		if (!validate_insee(json_string_value(v)))
			validate_error(errors, ptr, "unknown_value",
				       "expected a 5-character INSEE commune code such as \"34301\"");
		return;
	case V_DEPARTEMENTS:
	case V_ENUM_ARRAY: {
		if (!json_is_array(v))
			goto wrong_type;
		if (json_array_size(v) > (size_t)f->max) {
			snprintf(detail, sizeof detail, "at most %lld items", f->max);
			validate_error(errors, ptr, "too_long", detail);
			return;
		}
		size_t i;
		const json_t *item;
		json_array_foreach(v, i, item) {
			char iptr[160];
			snprintf(iptr, sizeof iptr, "%s/%zu", ptr, i);
			struct vfield one = *f;
			one.type = f->type == V_DEPARTEMENTS ? V_DEPARTEMENT : V_ENUM;
			check_value(item, &one, iptr, errors);
			for (size_t j = 0; j < i; j++)
				if (json_equal(item, json_array_get(v, j))) {
					validate_error(errors, iptr, "unknown_value", "listed twice");
					break;
				}
		}
		return;
	}
	}
	return;
wrong_type:
	switch (f->type) {
	case V_INT: snprintf(detail, sizeof detail, "expected an integer"); break;
	case V_NUMBER: snprintf(detail, sizeof detail, "expected a number"); break;
	case V_BOOL: snprintf(detail, sizeof detail, "expected true or false"); break;
	case V_DEPARTEMENTS: case V_ENUM_ARRAY: snprintf(detail, sizeof detail, "expected an array"); break;
	default: snprintf(detail, sizeof detail, "expected a string"); break;
	}
	validate_error(errors, ptr, "wrong_type", detail);
}

/* JSON Pointer escaping of one member name (RFC 6901). */
static void pointer_for(const char *key, char *out, size_t len)
{
	size_t j = 0;
	out[j++] = '/';
	for (; *key && j + 3 < len; key++) {
		if (*key == '~') { out[j++] = '~'; out[j++] = '0'; }
		else if (*key == '/') { out[j++] = '~'; out[j++] = '1'; }
		else out[j++] = *key;
	}
	out[j] = '\0';
}

json_t *validate_object(const json_t *obj, const struct vfield *fields, size_t n, enum vmode mode)
{
	json_t *errors = NULL;
	char ptr[128];
	if (!json_is_object(obj)) {
		validate_error(&errors, "", "not_an_object", "the body must be a JSON object");
		return errors;
	}
	const char *key;
	const json_t *v;
	json_object_foreach((json_t *)obj, key, v) {
		const struct vfield *f = NULL;
		for (size_t i = 0; i < n && !f; i++)
			if (strcmp(fields[i].name, key) == 0)
				f = &fields[i];
		pointer_for(key, ptr, sizeof ptr);
		if (!f) {
			validate_error(&errors, ptr, "unknown_field", "this field does not exist here");
			continue;
		}
		if (mode == V_PATCH && f->readonly) {
			validate_error(&errors, ptr, "unknown_field", "this field cannot be changed");
			continue;
		}
		if (json_is_null(v)) {
			if (!f->nullable)
				validate_error(&errors, ptr, mode == V_PATCH || f->required ? "required" : "wrong_type",
					       "must not be null");
			continue;
		}
		check_value(v, f, ptr, &errors);
	}
	if (mode == V_CREATE)
		for (size_t i = 0; i < n; i++)
			if (fields[i].required && !json_object_get(obj, fields[i].name)) {
				pointer_for(fields[i].name, ptr, sizeof ptr);
				validate_error(&errors, ptr, "required", "this field is required");
			}
	return errors;
}
