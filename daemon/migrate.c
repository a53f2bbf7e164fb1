/*
 * Schema migrations, then the API functions (see migrate.h, sql/README.md).
 *
 * A migration may load an embedded CSV file with a directive line
 *   -- siaod:copy TABLE (COLUMNS) FROM FILE.csv
 * run after the file's SQL, in the same transaction.
 *
 * Why the API functions live in their own schema, `api`, rather than among
 * the migrations: a function changed in a migration is copied whole into a
 * new file (report_porteur was, from 007 into 010), so the code a reader
 * looks for is wherever its last copy is, and a changed return type needs a
 * DROP that must name every overload. Kept in sql/functions/NAME.sql, each
 * function is written once; the loader drops the whole schema and creates it
 * again from the files in one transaction, so a return type may change and
 * no stale overload survives, and a running instance sees either the old set
 * or the new one. Only objects in `api` may depend on `api`: what a table,
 * index, constraint or trigger uses stays in public, in the migrations, where
 * it cannot disappear under them. The daemon finds both through search_path
 * "api, public", set when it connects (store.c), so its SQL names no schema.
 */
#include "migrate.h"

#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "assets.h"
#include "log.h"

/* pg_advisory_lock key: "siaod" in ASCII (0x7369616f64), so other tools can recognise it */
#define MIGRATE_LOCK "495689232228"

#define MAX_FILES 256

/* The first line of a libpq message, for a one-line log entry. */
static const char *first_line(const char *msg, char *buf, size_t size)
{
	if (!msg)
		msg = "";
	size_t n = strcspn(msg, "\n");
	if (n >= size)
		n = size - 1;
	memcpy(buf, msg, n);
	buf[n] = '\0';
	return buf;
}

static int exec_ok(PGconn *pg, const char *sql, const char *what)
{
	PGresult *res = PQexec(pg, sql);
	ExecStatusType st = PQresultStatus(res);
	int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
	if (!ok) {
		char line[512];
		log_error("migrate", "step=%s error=\"%s\"", what,
			  first_line(PQresultErrorMessage(res), line, sizeof line));
	}
	PQclear(res);
	return ok ? 0 : -1;
}

static int run_copy(PGconn *pg, const char *directive)
{
	/* "TABLE (COLUMNS) FROM FILE" */
	char table_cols[256], file[128], line[512];
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
		log_error("migrate", "step=copy error=\"%s\"",
			  first_line(PQresultErrorMessage(res), line, sizeof line));
		PQclear(res);
		return -1;
	}
	PQclear(res);
	if (PQputCopyData(pg, a->data, (int)a->len) != 1 || PQputCopyEnd(pg, NULL) != 1)
		return -1;
	int rc = 0;
	while ((res = PQgetResult(pg)) != NULL) {
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			log_error("migrate", "step=copy error=\"%s\"",
				  first_line(PQresultErrorMessage(res), line, sizeof line));
			rc = -1;
		}
		PQclear(res);
	}
	return rc;
}

/* SHA-256 of an embedded file, in hex: an applied migration must never change,
 * and the API functions are reloaded when theirs do. */
static void checksum(const struct asset *a, char out[65])
{
	unsigned char md[32];
	unsigned int len = 32;
	EVP_Digest(a->data, a->len, md, &len, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * (size_t)i, 3, "%02x", md[i]);
}

/* Runs a query expected to return rows; NULL (logged) otherwise. */
static PGresult *query(PGconn *pg, const char *sql, int n, const char *const *values, const char *what)
{
	PGresult *res = PQexecParams(pg, sql, n, NULL, values, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		char line[512];
		log_error("migrate", "step=%s error=\"%s\"", what,
			  first_line(PQresultErrorMessage(res), line, sizeof line));
		PQclear(res);
		return NULL;
	}
	return res;
}

static int command(PGconn *pg, const char *sql, int n, const char *const *values, const char *what)
{
	PGresult *res = PQexecParams(pg, sql, n, NULL, values, NULL, NULL, 0);
	int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok) {
		char line[512];
		log_error("migrate", "step=%s error=\"%s\"", what,
			  first_line(PQresultErrorMessage(res), line, sizeof line));
	}
	PQclear(res);
	return ok ? 0 : -1;
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
	if (command(pg, "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
		    3, values, "record") != 0 ||
	    exec_ok(pg, "COMMIT", "commit") != 0)
		goto fail;
	log_info("migrate", "applied=%s", a->name);
	return 0;
fail:
	exec_ok(pg, "ROLLBACK", "rollback");
	return -1;
}

/* The embedded migrations: NNN_name.sql, sorted. Returns how many, or -1. */
static int migrations(const struct asset **list)
{
	const struct asset *all[MAX_FILES];
	size_t n = asset_glob("", ".sql", all, MAX_FILES), k = 0;
	if (n > MAX_FILES) {
		log_error("migrate", "error=\"more than %d embedded SQL files\"", MAX_FILES);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		const char *name = all[i]->name;
		if (name[0] >= '0' && name[0] <= '9' && name[1] >= '0' && name[1] <= '9' &&
		    name[2] >= '0' && name[2] <= '9' && name[3] == '_' && !strchr(name, '/'))
			list[k++] = all[i];
	}
	return (int)k;
}

/* A database migrated by a newer siaod has migrations this binary does not
 * embed: its functions and queries may not fit that schema, so refuse to
 * run on it rather than half-work (or re-load older API functions). */
/* The number a migration's name or a numeric column starts with (0 if none). */
static int leading_int(const char *s)
{
	long v = strtol(s, NULL, 10);
	return v > INT_MAX || v < INT_MIN ? 0 : (int)v;
}

static int refuse_unknown(PGconn *pg, const struct asset **list, int n)
{
	PGresult *res = query(pg, "SELECT version, name FROM schema_migrations ORDER BY version", 0, NULL,
			      "schema_migrations");
	if (!res)
		return -1;
	int fv = PQfnumber(res, "version"), fn = PQfnumber(res, "name"), rc = 0;
	int newest = n > 0 ? leading_int(list[n - 1]->name) : 0;
	for (int r = 0; r < PQntuples(res) && rc == 0; r++) {
		int version = leading_int(PQgetvalue(res, r, fv));
		int known = 0;
		for (int i = 0; i < n && !known; i++)
			known = leading_int(list[i]->name) == version;
		if (!known) {
			log_error("migrate", "migration=%s error=\"this database was migrated by a newer siaod: "
				  "it has migration %s, this siaod %s knows migrations up to %03d only; "
				  "run the newer siaod (or a later one) on it\"",
				  PQgetvalue(res, r, fn), PQgetvalue(res, r, fn), SIAOD_VERSION, newest);
			rc = -1;
		}
	}
	PQclear(res);
	return rc;
}

static int migrations_run(PGconn *pg)
{
	const struct asset *list[MAX_FILES];
	int n = migrations(list);
	if (n < 0)
		return -1;
	if (exec_ok(pg, "CREATE TABLE IF NOT EXISTS schema_migrations ("
			"version integer PRIMARY KEY, name text NOT NULL, checksum text, "
			"applied_at timestamptz NOT NULL DEFAULT now())", "schema_migrations") != 0 ||
	    exec_ok(pg, "ALTER TABLE schema_migrations ADD COLUMN IF NOT EXISTS checksum text",
		    "schema_migrations") != 0)
		return -1;
	if (refuse_unknown(pg, list, n) != 0)
		return -1;
	int applied = 0;
	for (int i = 0; i < n; i++) {
		int version = leading_int(list[i]->name);
		char v[16];
		snprintf(v, sizeof v, "%d", version);
		const char *values[1] = {v};
		PGresult *res = query(pg, "SELECT checksum FROM schema_migrations WHERE version = $1",
				      1, values, "schema_migrations");
		if (!res)
			return -1;
		int done = PQntuples(res) == 1, fsum = PQfnumber(res, "checksum");
		/* A migration edited after it was applied would leave this database
		 * different from a fresh one: refuse rather than drift. */
		char sum[65];
		checksum(list[i], sum);
		int failed = 0;
		if (done && !PQgetisnull(res, 0, fsum) && strcmp(PQgetvalue(res, 0, fsum), sum) != 0) {
			log_error("migrate", "migration=%s error=\"changed since it was applied to this database; "
				  "restore it, or recreate a development database (scripts/dev reset)\"",
				  list[i]->name);
			failed = 1;
		} else if (done && PQgetisnull(res, 0, fsum)) {
			const char *up[2] = {sum, v};
			failed = command(pg, "UPDATE schema_migrations SET checksum = $1 WHERE version = $2",
					 2, up, "schema_migrations") != 0;
		}
		PQclear(res);
		if (failed || (!done && apply_one(pg, list[i], version) != 0))
			return -1;
		applied += !done;
	}
	return applied;
}

/* ------------------------------------------------------------------ API functions */

/* "file:checksum" lines of the embedded sql/functions/NAME.sql, sorted by file:
 * what schema_functions holds once they are loaded. */
static int functions_wanted(const struct asset **files, size_t *nfiles, char *want, size_t size)
{
	size_t n = asset_glob("functions/", ".sql", files, MAX_FILES), used = 0;
	if (n > MAX_FILES) {
		log_error("migrate", "error=\"more than %d embedded function files\"", MAX_FILES);
		return -1;
	}
	want[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		char sum[65];
		checksum(files[i], sum);
		int w = snprintf(want + used, size - used, "%s%s:%s", i ? "\n" : "",
				 files[i]->name + strlen("functions/"), sum);
		if (w < 0 || (size_t)w >= size - used)
			return -1;
		used += (size_t)w;
	}
	*nfiles = n;
	return 0;
}

/* Whether the loaded functions are the embedded ones: same files and
 * checksums, and no public function of the same name as one in api (a
 * migration written before the move may have re-created one; it must not
 * shadow or overload the API's). */
static int functions_current(PGconn *pg, const char *want)
{
	PGresult *res = query(pg,
		"SELECT (SELECT coalesce(string_agg(file || ':' || checksum, E'\\n' ORDER BY file), '') "
		"        FROM schema_functions) = $1 AS same_files, "
		"       to_regnamespace('api') IS NOT NULL AS has_api, "
		"       EXISTS (SELECT 1 FROM pg_proc p JOIN pg_proc a ON a.proname = p.proname "
		"               WHERE p.pronamespace = 'public'::regnamespace "
		"                 AND a.pronamespace = to_regnamespace('api')) AS shadowed",
		1, &want, "functions");
	if (!res)
		return -1;
	int current = strcmp(PQgetvalue(res, 0, PQfnumber(res, "same_files")), "t") == 0 &&
		      strcmp(PQgetvalue(res, 0, PQfnumber(res, "has_api")), "t") == 0 &&
		      strcmp(PQgetvalue(res, 0, PQfnumber(res, "shadowed")), "f") == 0;
	PQclear(res);
	return current;
}

/* Refuses (logged) when something outside schema api depends on it: a view,
 * index, constraint, default or trigger there would vanish with the
 * schema's DROP ... CASCADE. Such a function belongs in a migration. */
static int functions_no_outside_dependents(PGconn *pg)
{
	PGresult *res = query(pg,
		"SELECT pg_describe_object(d.classid, d.objid, d.objsubid) AS dependent, "
		"       pg_describe_object(d.refclassid, d.refobjid, 0) AS used "
		"FROM pg_depend d, pg_identify_object(d.classid, d.objid, d.objsubid) i "
		"WHERE d.deptype = 'n' AND i.schema IS DISTINCT FROM 'api' "
		"  AND ((d.refclassid = 'pg_proc'::regclass AND d.refobjid IN "
		"        (SELECT oid FROM pg_proc WHERE pronamespace = to_regnamespace('api'))) "
		"    OR (d.refclassid = 'pg_type'::regclass AND d.refobjid IN "
		"        (SELECT oid FROM pg_type WHERE typnamespace = to_regnamespace('api'))))",
		0, NULL, "functions");
	if (!res)
		return -1;
	int rc = 0;
	for (int r = 0; r < PQntuples(res); r++) {
		log_error("migrate", "step=functions error=\"%s depends on %s, which is in schema api and "
			  "reloaded from sql/functions: define what it needs in a migration (schema public)\"",
			  PQgetvalue(res, r, PQfnumber(res, "dependent")), PQgetvalue(res, r, PQfnumber(res, "used")));
		rc = -1;
	}
	PQclear(res);
	return rc;
}

/* Drops the public functions named like one in api (see functions_current). */
static int functions_drop_public_copies(PGconn *pg)
{
	/* the statement is built by format() from catalog names, never from input */
	PGresult *res = query(pg,
		"SELECT format('DROP FUNCTION public.%I(%s)', p.proname, "
		"              pg_get_function_identity_arguments(p.oid)) AS drop_sql, "
		"       p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' AS f "
		"FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace "
		"  AND p.proname IN (SELECT proname FROM pg_proc WHERE pronamespace = 'api'::regnamespace) "
		"ORDER BY 2", 0, NULL, "functions");
	if (!res)
		return -1;
	int rc = 0, fsql = PQfnumber(res, "drop_sql"), ff = PQfnumber(res, "f");
	for (int r = 0; r < PQntuples(res) && rc == 0; r++) {
		rc = exec_ok(pg, PQgetvalue(res, r, fsql), "functions_drop_public");
		if (rc == 0)
			log_info("migrate", "dropped_public_copy=\"%s\"", PQgetvalue(res, r, ff));
	}
	PQclear(res);
	return rc;
}

/* Loads sql/functions/NAME.sql into schema api when they changed. Returns 1
 * when loaded, 0 when already current, -1 on error (logged, rolled back). */
static int functions_load(PGconn *pg)
{
	const struct asset *files[MAX_FILES];
	size_t nfiles = 0;
	char want[MAX_FILES * 160];
	if (functions_wanted(files, &nfiles, want, sizeof want) != 0)
		return -1;
	int current = functions_current(pg, want);
	if (current != 0)
		return current < 0 ? -1 : 0;

	if (exec_ok(pg, "BEGIN", "begin") != 0)
		return -1;
	/* Bodies are checked once every function exists (below), so a file may
	 * call a function of a file loaded after it. */
	if (exec_ok(pg, "SET LOCAL search_path = api, public", "functions") != 0 ||
	    exec_ok(pg, "SET LOCAL check_function_bodies = off", "functions") != 0 ||
	    functions_no_outside_dependents(pg) != 0 ||
	    exec_ok(pg, "DROP SCHEMA IF EXISTS api CASCADE", "functions") != 0 ||
	    exec_ok(pg, "CREATE SCHEMA api", "functions") != 0)
		goto fail;
	for (size_t i = 0; i < nfiles; i++)
		if (exec_ok(pg, files[i]->data, files[i]->name) != 0)
			goto fail;
	/* Re-create each function from its own definition, now with body
	 * checks: a SQL function naming a function or column that does not
	 * exist fails the load here, not at its first call. */
	if (exec_ok(pg, "SET LOCAL check_function_bodies = on", "functions") != 0 ||
	    exec_ok(pg, "DO $$ DECLARE f oid; BEGIN "
			"FOR f IN SELECT oid FROM pg_proc WHERE pronamespace = 'api'::regnamespace "
			"AND prokind IN ('f', 'p') ORDER BY oid LOOP "
			"BEGIN EXECUTE pg_get_functiondef(f); "
			"EXCEPTION WHEN OTHERS THEN RAISE EXCEPTION '%: %', f::regprocedure, SQLERRM; END; "
			"END LOOP; END $$", "functions_check") != 0)
		goto fail;
	/* schema api holds functions only: anything else would be lost at the
	 * next load */
	PGresult *res = query(pg, "SELECT count(*) AS n FROM pg_class WHERE relnamespace = 'api'::regnamespace",
			      0, NULL, "functions");
	if (!res)
		goto fail;
	int relations = leading_int(PQgetvalue(res, 0, PQfnumber(res, "n")));
	PQclear(res);
	if (relations != 0) {
		log_error("migrate", "step=functions error=\"sql/functions created %d table(s), view(s) or "
			  "sequence(s) in schema api: those belong in a migration\"", relations);
		goto fail;
	}
	if (functions_drop_public_copies(pg) != 0 ||
	    exec_ok(pg, "DELETE FROM schema_functions", "functions") != 0)
		goto fail;
	for (size_t i = 0; i < nfiles; i++) {
		char sum[65];
		checksum(files[i], sum);
		const char *values[2] = {files[i]->name + strlen("functions/"), sum};
		if (command(pg, "INSERT INTO schema_functions (file, checksum) VALUES ($1, $2)", 2, values,
			    "functions") != 0)
			goto fail;
	}
	if (exec_ok(pg, "COMMIT", "commit") != 0)
		goto fail;
	log_info("migrate", "functions_loaded=%zu", nfiles);
	return 1;
fail:
	exec_ok(pg, "ROLLBACK", "rollback");
	return -1;
}

int migrate_run(PGconn *pg)
{
	if (exec_ok(pg, "SELECT pg_advisory_lock(" MIGRATE_LOCK ")", "lock") != 0)
		return -1;
	/* Migrations create their objects in public, whatever the connection's
	 * search_path (which puts api first for the daemon's calls). */
	int applied = exec_ok(pg, "SET search_path = public", "search_path");
	if (applied == 0)
		applied = migrations_run(pg);
	if (applied >= 0 && functions_load(pg) < 0)
		applied = -1;
	exec_ok(pg, "RESET search_path", "search_path");
	exec_ok(pg, "SELECT pg_advisory_unlock(" MIGRATE_LOCK ")", "unlock");
	return applied;
}
