/*
 * Lookups in the embedded files (see assets.h). Linear scans: there are a
 * few dozen files, and the UI's are looked up once per static request.
 */
#include "assets.h"

#include <stdlib.h>
#include <string.h>

static const struct asset *const groups[] = {siaod_assets_sql, siaod_assets_data, siaod_assets_ui};

const struct asset *asset_find(const char *name)
{
	for (size_t g = 0; g < sizeof groups / sizeof *groups; g++)
		for (const struct asset *a = groups[g]; a->name; a++)
			if (strcmp(a->name, name) == 0)
				return a;
	return NULL;
}

static int cmp_names(const void *x, const void *y)
{
	return strcmp((*(const struct asset *const *)x)->name, (*(const struct asset *const *)y)->name);
}

size_t asset_glob(const char *prefix, const char *suffix, const struct asset **out, size_t max)
{
	size_t n = 0, plen = strlen(prefix), slen = strlen(suffix);
	for (size_t g = 0; g < sizeof groups / sizeof *groups; g++)
		for (const struct asset *a = groups[g]; a->name; a++) {
			size_t len = strlen(a->name);
			if (len < plen + slen || strncmp(a->name, prefix, plen) != 0 ||
			    strcmp(a->name + len - slen, suffix) != 0)
				continue;
			if (n < max)
				out[n] = a;
			n++;
		}
	if (n > 0 && max > 0)
		qsort(out, n < max ? n : max, sizeof *out, cmp_names);
	return n;
}
