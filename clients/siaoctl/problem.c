/*
 * Problem answers as one clear line on stderr.
 */
#include "problem.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "output.h"
#include "table.h"

/* The members every problem has; others are shown as extras. */
static const char *const standard[] = {"type", "title", "status", "detail", "errors", "instance", NULL};

static bool is_standard(const char *key)
{
	for (int i = 0; standard[i]; i++)
		if (strcmp(standard[i], key) == 0)
			return true;
	return false;
}

static const char *reason(long status)
{
	switch (status) {
	case 400: return "Bad request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not found";
	case 405: return "Method not allowed";
	case 409: return "Conflict";
	case 412: return "Precondition failed";
	case 413: return "Content too large";
	case 415: return "Unsupported media type";
	case 422: return "Unprocessable content";
	case 429: return "Too many requests";
	case 500: return "Internal server error";
	case 502: return "Bad gateway";
	case 503: return "Service unavailable";
	case 504: return "Gateway timeout";
	default: return status >= 500 ? "Server error" : "Error";
	}
}

/* "/problems/no-free-place" -> "no-free-place"; other URIs: their last segment. */
static const char *slug(const char *type)
{
	if (!type || !*type || strcmp(type, "about:blank") == 0)
		return NULL;
	const char *s = strrchr(type, '/');
	return s && s[1] ? s + 1 : type;
}

/* " (pointer /capacity: out_range; parameter on: wrong_type, detail)" */
static void errors_text(struct buf *b, const json_t *errors, const char *detail)
{
	size_t i;
	const json_t *e;
	bool first = true;
	json_array_foreach(errors, i, e) {
		if (!json_is_object(e))
			continue;
		const char *pointer = json_string_value(json_object_get(e, "pointer"));
		const char *param = json_string_value(json_object_get(e, "parameter"));
		const char *code = json_string_value(json_object_get(e, "code"));
		const char *edetail = json_string_value(json_object_get(e, "detail"));
		buf_puts(b, first ? " (" : "; ");
		first = false;
		if (pointer)
			buf_printf(b, "pointer %s", *pointer ? pointer : "\"\" (the whole body)");
		else if (param)
			buf_printf(b, "parameter %s", param);
		else
			buf_puts(b, "error");
		if (code)
			buf_printf(b, ": %s", code);
		if (edetail && (!detail || strcmp(edetail, detail) != 0))
			buf_printf(b, ", %s", edetail);
	}
	if (!first)
		buf_puts(b, ")");
}

/* " (current status: active)", " (rules: age, gender)" */
static void extras_text(struct buf *b, const json_t *p)
{
	const char *key;
	const json_t *v;
	json_object_foreach((json_t *)p, key, v) {
		if (is_standard(key))
			continue;
		char *text = out_text(v);
		buf_puts(b, " (");
		for (const char *k = key; *k; k++)
			buf_add(b, *k == '_' ? " " : k, 1);
		buf_printf(b, ": %s)", text);
		free(text);
	}
}

static bool json_media(const char *ct)
{
	return ct && (strncasecmp(ct, "application/problem+json", 24) == 0 ||
		      strncasecmp(ct, "application/json", 16) == 0);
}

char *problem_line(const struct http_resp *resp)
{
	struct buf b = {0};
	json_t *p = NULL;
	if (json_media(resp->content_type))
		p = json_loadb(resp->body.s ? resp->body.s : "", resp->body.len, 0, NULL);
	if (json_is_object(p)) {
		const char *type = slug(json_string_value(json_object_get(p, "type")));
		const char *title = json_string_value(json_object_get(p, "title"));
		const char *detail = json_string_value(json_object_get(p, "detail"));
		buf_printf(&b, "siaoctl: %ld %s: %s", resp->status, type ? type : (title ? title : reason(resp->status)),
			   detail ? detail : (title ? title : reason(resp->status)));
		const json_t *errors = json_object_get(p, "errors");
		if (json_is_array(errors))
			errors_text(&b, errors, detail);
		extras_text(&b, p);
	} else {
		/* not siaod's problem+json: a proxy, or another server on that port */
		buf_printf(&b, "siaoctl: %ld %s", resp->status, reason(resp->status));
		if (resp->content_type)
			buf_printf(&b, " (%s answer, not application/problem+json)", resp->content_type);
	}
	if (resp->retry_after > 0)
		buf_printf(&b, " (retry after %ld s)", resp->retry_after);
	json_decref(p);
	char *line = xstrdup(buf_text(&b));
	buf_free(&b);
	table_clean(line);
	return line;
}

void problem_print(const struct http_resp *resp)
{
	char *line = problem_line(resp);
	fprintf(stderr, "%s\n", line);
	free(line);
}
