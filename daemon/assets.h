/*
 * assets: the files compiled into the binary, so an installed siaod, or one
 * run from its build tree, never depends on where its sources are:
 *   NNN_name.sql         the migrations (sql/NNN_*.sql)
 *   functions/NAME.sql   the API functions (sql/functions/NAME.sql)
 *   communes.csv         reference data (sql/data/)
 *   ui/PATH              the web UI (clients/web/PATH)
 * The tables are generated at build time by cmake/embed.c (CMakeLists.txt).
 */
#ifndef SIAOD_ASSETS_H
#define SIAOD_ASSETS_H

#include <stddef.h>

/* name, content (always followed by a NUL, so text is a C string), length */
struct asset {
	const char *name;
	const char *data;
	unsigned long len;
};

/* The generated tables, one per group; each ends with a NULL name. */
extern const struct asset siaod_assets_sql[];
extern const struct asset siaod_assets_data[];
extern const struct asset siaod_assets_ui[];

/* The asset called name, or NULL. */
const struct asset *asset_find(const char *name);

/* The assets whose name starts with prefix and ends with suffix, sorted by
 * name, into out (at most max). Returns how many matched (may exceed max:
 * the caller then knows its array is too small). */
size_t asset_glob(const char *prefix, const char *suffix, const struct asset **out, size_t max);

#endif
