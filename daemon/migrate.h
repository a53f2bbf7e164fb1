/*
 * migrate: applies the numbered migrations compiled into the binary
 * (sql/NNN_*.sql, see CMakeLists.txt), each in its own transaction, recorded
 * in schema_migrations, under an advisory lock so that several instances
 * starting together migrate once.
 */
#ifndef SIAOD_MIGRATE_H
#define SIAOD_MIGRATE_H

#include <libpq-fe.h>

/* Returns the number of migrations applied, or -1 (message logged). */
int migrate_run(PGconn *pg);

/* The embedded files: name, content (NUL-terminated), length. */
struct asset {
	const char *name;
	const char *data;
	unsigned long len;
};
const struct asset *asset_find(const char *name);
extern const struct asset siaod_assets[];

#endif
