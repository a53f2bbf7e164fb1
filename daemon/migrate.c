/*
 * Schema migrations (see migrate.h).
 *
 * A migration may load an embedded CSV file with a directive line
 *   -- siaod:copy TABLE (COLUMNS) FROM FILE.csv
 * run after the file's SQL, in the same transaction.
 */
#include "migrate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "log.h"

/* pg_advisory_lock key: "siaod" in ASCII (0x7369616f64), so other tools can recognise it */
#define MIGRATE_LOCK "495689232228"

const struct asset *asset_find(const char *name)
{
	for (const struct asset *a = siaod_assets; a->name; a++)
		if (strcmp(a->name, name) == 0)
			return a;
	return NULL;
}

static int exec_ok(PGconn *pg, const char *sql, const char *what)
{
	PGresult *res = PQexec(pg, sql);
	ExecStatusType st = PQresultStatus(res);
	int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
	if (!ok)
		log_error("migrate", "step=%s error=\"%s\"", what,
			  strtok(PQresultErrorMessage(res), "\n"));
	PQclear(res);
	return ok ? 0 : -1;
}

static int run_copy(PGconn *pg, const char *directive)
{
	/* "TABLE (COLUMNS) FROM FILE" */
	char table_cols[256], file[128];
	const char *from = strstr(directive, " FROM ");
	if (!from || (size_t)(from - directive) >= sizeof table_cols)
		return -1;
	memcpy(table_cols, directive, (size_t)(from - directive));
	table_cols[from - directive] = '\0';
	if (sscanf(from + 6, "%127s", file) != 1)
		return -1;
	const struct asset *a = asset_find(file);
	if (!a) {
		log_error("migrate", "step=copy error=\"no embedded file %s\"", file);
		return -1;
	}
	char sql[512];
	snprintf(sql, sizeof sql, "COPY %s FROM STDIN WITH (FORMAT csv, HEADER true)", table_cols);
	PGresult *res = PQexec(pg, sql);
	if (PQresultStatus(res) != PGRES_COPY_IN) {
		log_error("migrate", "step=copy error=\"%s\"", strtok(PQresultErrorMessage(res), "\n"));
		PQclear(res);
		return -1;
	}
	PQclear(res);
	if (PQputCopyData(pg, a->data, (int)a->len) != 1 || PQputCopyEnd(pg, NULL) != 1)
		return -1;
	int rc = 0;
	while ((res = PQgetResult(pg)) != NULL) {
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			log_error("migrate", "step=copy error=\"%s\"", strtok(PQresultErrorMessage(res), "\n"));
			rc = -1;
		}
		PQclear(res);
	}
	return rc;
}

/* SHA-256 of a migration, in hex: an applied migration must never change. */
static void checksum(const struct asset *a, char out[65])
{
	unsigned char md[32];
	unsigned int len = 32;
	EVP_Digest(a->data, a->len, md, &len, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static int apply_one(PGconn *pg, const struct asset *a, int version)
{
	if (exec_ok(pg, "BEGIN", "begin") != 0)
		return -1;
	if (exec_ok(pg, a->data, a->name) != 0)
		goto fail;
	for (const char *p = strstr(a->data, "-- siaod:copy "); p; p = strstr(p + 1, "-- siaod:copy ")) {
		char directive[512];
		const char *start = p + strlen("-- siaod:copy ");
		size_t n = strcspn(start, "\n");
		if (n >= sizeof directive)
			goto fail;
		memcpy(directive, start, n);
		directive[n] = '\0';
		if (run_copy(pg, directive) != 0)
			goto fail;
	}
	char v[16], sum[65];
	snprintf(v, sizeof v, "%d", version);
	checksum(a, sum);
	const char *values[3] = {v, a->name, sum};
	PGresult *res = PQexecParams(pg, "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
				     3, NULL, values, NULL, NULL, 0);
	int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	PQclear(res);
	if (!ok || exec_ok(pg, "COMMIT", "commit") != 0)
		goto fail;
	log_info("migrate", "applied=%s", a->name);
	return 0;
fail:
	exec_ok(pg, "ROLLBACK", "rollback");
	return -1;
}

static int cmp_assets(const void *x, const void *y)
{
	return strcmp((*(const struct asset *const *)x)->name, (*(const struct asset *const *)y)->name);
}

int migrate_run(PGconn *pg)
{
	if (exec_ok(pg, "SELECT pg_advisory_lock(" MIGRATE_LOCK ")", "lock") != 0)
		return -1;
	int applied = 0;
	const struct asset *list[256];
	size_t n = 0;
	for (const struct asset *a = siaod_assets; a->name && n < 256; a++)
		if (strlen(a->name) > 4 && strcmp(a->name + strlen(a->name) - 4, ".sql") == 0)
			list[n++] = a;
	qsort(list, n, sizeof *list, cmp_assets);

	if (exec_ok(pg, "CREATE TABLE IF NOT EXISTS schema_migrations ("
			"version integer PRIMARY KEY, name text NOT NULL, checksum text, "
			"applied_at timestamptz NOT NULL DEFAULT now())", "schema_migrations") != 0 ||
	    exec_ok(pg, "ALTER TABLE schema_migrations ADD COLUMN IF NOT EXISTS checksum text",
		    "schema_migrations") != 0) {
		applied = -1;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		int version = atoi(list[i]->name);
		char v[16];
		snprintf(v, sizeof v, "%d", version);
		const char *values[1] = {v};
		PGresult *res = PQexecParams(pg, "SELECT checksum FROM schema_migrations WHERE version = $1",
					     1, NULL, values, NULL, NULL, 0);
		int done = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
		int failed = PQresultStatus(res) != PGRES_TUPLES_OK;
		/* A migration edited after it was applied would leave this database
		 * different from a fresh one: refuse rather than drift. */
		char sum[65];
		checksum(list[i], sum);
		if (done && !PQgetisnull(res, 0, 0) && strcmp(PQgetvalue(res, 0, 0), sum) != 0) {
			log_error("migrate", "migration=%s error=\"changed since it was applied to this database; "
				  "restore it, or recreate a development database (scripts/dev reset)\"",
				  list[i]->name);
			failed = 1;
		} else if (done && PQgetisnull(res, 0, 0)) {
			const char *up[2] = {sum, v};
			PGresult *u = PQexecParams(pg, "UPDATE schema_migrations SET checksum = $1 WHERE version = $2",
						   2, NULL, up, NULL, NULL, 0);
			PQclear(u);
		}
		PQclear(res);
		if (failed || (!done && apply_one(pg, list[i], version) != 0)) {
			applied = -1;
			goto out;
		}
		applied += !done;
	}
out:
	exec_ok(pg, "SELECT pg_advisory_unlock(" MIGRATE_LOCK ")", "unlock");
	return applied;
}
