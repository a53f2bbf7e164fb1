/*
 * Names beside ids, and communes by name (see names.h). Lookups are quiet:
 * a name that cannot be read leaves the id alone, it never fails a command.
 * Each answer is cached for the run (one GET /v1/porteurs, one GET
 * /v1/communes per code).
 */
#include "names.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "args.h"
#include "http.h"
#include "util.h"

static json_t *cache(struct ctx *c, const char *kind)
{
	if (!c->names)
		c->names = json_object();
	json_t *m = json_object_get(c->names, kind);
	if (!m) {
		m = json_object();
		json_object_set_new(c->names, kind, m);
	}
	return m;
}

static void load_porteurs(struct ctx *c, json_t *map)
{
	if (json_object_get(map, "#loaded"))
		return;
	json_object_set_new(map, "#loaded", json_true());
	json_t *list = NULL;
	c->quiet = true;
	int rc = ctx_list(c, "/v1/porteurs", 0, &list);
	c->quiet = false;
	if (rc != 0)
		return;
	size_t i;
	const json_t *p;
	json_array_foreach(json_object_get(list, "items"), i, p) {
		const json_t *id = json_object_get(p, "id"), *name = json_object_get(p, "name");
		if (json_is_integer(id) && json_is_string(name)) {
			char key[24];
			snprintf(key, sizeof key, "%lld", (long long)json_integer_value(id));
			json_object_set(map, key, (json_t *)name);
		}
	}
	json_decref(list);
}

char *names_porteur(struct ctx *c, const json_t *id)
{
	if (!json_is_integer(id))
		return xstrdup("-");
	char key[24];
	snprintf(key, sizeof key, "%lld", (long long)json_integer_value(id));
	json_t *map = cache(c, "porteurs");
	load_porteurs(c, map);
	const char *name = json_string_value(json_object_get(map, key));
	struct buf b = {0};
	if (name)
		buf_printf(&b, "%s (#%s)", name, key);
	else
		buf_puts(&b, key);
	char *s = xstrdup(buf_text(&b));
	buf_free(&b);
	return s;
}

/* GET /v1/communes?q=text&limit=n, quietly; the items or NULL (to decref). */
static json_t *search(struct ctx *c, const char *text, int limit)
{
	struct buf path = {0};
	char num[8];
	snprintf(num, sizeof num, "%d", limit);
	buf_puts(&path, "/v1/communes");
	http_query_add(&path, "q", text);
	http_query_add(&path, "limit", num);
	json_t *res = NULL;
	c->quiet = true;
	int rc = ctx_call(c, "GET", buf_text(&path), NULL, &res);
	c->quiet = false;
	buf_free(&path);
	if (rc != 0)
		return NULL;
	json_t *items = json_incref(json_object_get(res, "items"));
	json_decref(res);
	return json_is_array(items) ? items : (json_decref(items), NULL);
}

char *names_commune(struct ctx *c, const json_t *insee)
{
	const char *code = json_string_value(insee);
	if (!code)
		return xstrdup("-");
	json_t *map = cache(c, "communes");
	json_t *name = json_object_get(map, code);
	if (!name) {
		json_t *items = search(c, code, 5);
		size_t i;
		const json_t *it;
		name = json_null();
		json_array_foreach(items, i, it) {
			if (json_is_string(json_object_get(it, "insee")) &&
			    strcmp(json_string_value(json_object_get(it, "insee")), code) == 0)
				name = json_object_get(it, "name");
		}
		json_object_set(map, code, name);
		json_decref(items);
		name = json_object_get(map, code);
	}
	struct buf b = {0};
	if (json_is_string(name))
		buf_printf(&b, "%s (%s)", json_string_value(name), code);
	else
		buf_puts(&b, code);
	char *s = xstrdup(buf_text(&b));
	buf_free(&b);
	return s;
}

/* An INSEE code: 5 characters, digits but for 2A/2B (Corsica). */
static bool is_insee(const char *s)
{
	if (strlen(s) != 5)
		return false;
	for (int i = 0; i < 5; i++) {
		if (isdigit((unsigned char)s[i]))
			continue;
		if (i == 1 && s[0] == '2' && (s[1] == 'A' || s[1] == 'B' || s[1] == 'a' || s[1] == 'b'))
			continue;
		return false;
	}
	return true;
}

bool names_commune_code(struct ctx *c, const char *opt, const char *text, char **insee)
{
	*insee = NULL;
	if (is_insee(text)) {
		*insee = xstrdup(text);
		for (char *p = *insee; *p; p++)
			*p = (char)toupper((unsigned char)*p);
		return true;
	}
	json_t *items = search(c, text, 20);
	size_t i, n = json_array_size(items), exact = 0;
	const json_t *it, *pick = NULL;
	json_array_foreach(items, i, it) {
		const char *name = json_string_value(json_object_get(it, "name"));
		if (name && strcasecmp(name, text) == 0) {
			exact++;
			pick = it;
		}
	}
	if (exact != 1)
		pick = n == 1 ? json_array_get(items, 0) : NULL;
	if (pick) {
		*insee = xstrdup(json_string_value(json_object_get(pick, "insee")));
		json_decref(items);
		return true;
	}
	if (!items) {
		args_error(c->what, "%s %s: the communes could not be searched (GET /v1/communes)", opt, text);
	} else if (n == 0) {
		args_error(c->what, "%s %s: no commune has this name (give its INSEE code, e.g. 34301)", opt, text);
	} else {
		args_error(c->what, "%s %s names %s%zu communes: give one of these INSEE codes", opt, text,
			   n == 20 ? "at least " : "", n);
		json_array_foreach(items, i, it) {
			fprintf(stderr, "  %s  %s (%s)\n", json_string_value(json_object_get(it, "insee")),
				json_string_value(json_object_get(it, "name")),
				json_string_value(json_object_get(it, "departement")));
		}
	}
	json_decref(items);
	c->exit = SIAOCTL_EXIT_USAGE;
	return false;
}
