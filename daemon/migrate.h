/*
 * migrate: brings a database to what this binary expects. Applies the
 * numbered migrations compiled into the binary (sql/NNN_*.sql, schema
 * changes only), each in its own transaction, recorded in schema_migrations
 * with its checksum (an applied migration must never change); refuses a
 * database migrated by a newer siaod; then loads the API functions
 * (sql/functions/NAME.sql) into schema api when their checksums changed. All
 * under an advisory lock, so that several instances starting together
 * migrate once. See sql/README.md.
 */
#ifndef SIAOD_MIGRATE_H
#define SIAOD_MIGRATE_H

#include <libpq-fe.h>

/* Returns the number of migrations applied, or -1 (message logged). */
int migrate_run(PGconn *pg);

#endif
