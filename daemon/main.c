/*
 * siaod: the entry point. Parses the command line, then serves, migrates or
 * creates a token. Serving is: load the config, migrate, open the pool, bind,
 * run the loop; signals are libevent events, so their handlers run in the
 * loop like everything else.
 */
#include <getopt.h>
#include <argon2.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <curl/curl.h>
#include <event2/event.h>
#include <jansson.h>
#include <openssl/rand.h>

#include "api.h"
#include "app.h"
#include "account.h"
#include "auth.h"
#include "changes.h"
#include "mail.h"
#include "oidc.h"
#include "notify.h"
#include "password.h"
#include "session.h"
#include "clock.h"
#include "audit.h"
#include "gate.h"
#include "inventory.h"
#include "inventory_refresh.h"
#include "plan_jobs.h"
#include "log.h"
#include "migrate.h"
#include "ratelimit.h"
#include "scheduler.h"
#include "proposals.h"
#include "store.h"
#include "webhooks.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: siaod [--config FILE]            serve (migrates first)\n"
		"       siaod migrate [--config FILE]    apply pending migrations and exit\n"
		"       siaod token create --role admin|referent|porteur [--label L]\n"
		"                          [--departement D]... [--porteur ID] [--expires-at TS]\n"
		"                                         print a new token (once) on the last line\n"
		"       siaod account create --email E --role admin|referent|porteur [--name N]\n"
		"                          [--departement D]... [--porteur ID] < password\n"
		"                                         an account with a password (read on stdin)\n"
		"       siaod --check-config [--config FILE]\n"
		"                                         check the config, print the effective keys\n"
		"       siaod --version | --help\n"
		"\n"
		"Without --config, siaod runs on its built-in defaults. Every key can be\n"
		"overridden by the environment as SIAOD_<KEY> (SIAOD_LISTEN, SIAOD_DATABASE_URL...).\n"
		"See config/siaod.conf for every key.\n");
}

static int load_config(struct app *app)
{
	char err[512];
	config_defaults(&app->cfg);
	if (config_load(&app->cfg, app->config_path, err, sizeof err) != 0) {
		fprintf(stderr, "siaod: config: %s\n", err);
		return -1;
	}
	enum log_level lvl;
	if (log_level_parse(app->cfg.log_level, &lvl) == 0)
		log_set_level(lvl);
	clock_set_timezone(app->cfg.timezone);
	return 0;
}

/* At start PostgreSQL may still be coming up: wait for it a little. */
static PGconn *connect_with_patience(const char *url)
{
	for (int attempt = 0; attempt < 30; attempt++) {
		PGconn *pg = store_connect_blocking(url);
		if (pg)
			return pg;
		sleep(1);
	}
	return NULL;
}

static int cmd_migrate(struct app *app)
{
	PGconn *pg = connect_with_patience(app->cfg.database_url);
	if (!pg)
		return 1;
	int n = migrate_run(pg);
	PQfinish(pg);
	if (n < 0)
		return 1;
	log_info("migrate", "done=%d", n);
	return 0;
}

static int cmd_token_create(struct app *app, int argc, char **argv)
{
	json_t *body = json_object(), *deps = json_array();
	static const struct option opts[] = {
		{"role", required_argument, NULL, 'r'}, {"label", required_argument, NULL, 'l'},
		{"departement", required_argument, NULL, 'd'}, {"porteur", required_argument, NULL, 'p'},
		{"expires-at", required_argument, NULL, 'e'}, {"config", required_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	int c, rc = 1;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'r': json_object_set_new(body, "role", json_string(optarg)); break;
		case 'l': json_object_set_new(body, "label", json_string(optarg)); break;
		case 'd': json_array_append_new(deps, json_string(optarg)); break;
		case 'p': json_object_set_new(body, "porteur_id", json_integer(strtoll(optarg, NULL, 10))); break;
		case 'e': json_object_set_new(body, "expires_at", json_string(optarg)); break;
		case 'c': break; /* read before */
		case 'h': usage(stdout); rc = 0; goto out;
		default: usage(stderr); goto out;
		}
	}
	if (json_array_size(deps) > 0)
		json_object_set(body, "departements", deps);
	if (!json_object_get(body, "role")) {
		fprintf(stderr, "siaod token create: --role is required (admin, referent or porteur)\n");
		goto out;
	}
	if (auth_role_parse(json_string_value(json_object_get(body, "role"))) < 0) {
		fprintf(stderr, "siaod token create: --role must be admin, referent or porteur\n");
		goto out;
	}
	json_t *errors = api_token_scope_errors(body);
	if (errors) {
		fprintf(stderr, "siaod token create: %s\n",
			json_string_value(json_object_get(json_array_get(errors, 0), "detail")));
		json_decref(errors);
		goto out;
	}
	PGconn *pg = connect_with_patience(app->cfg.database_url);
	if (!pg)
		goto out;
	if (migrate_run(pg) < 0) {
		PQfinish(pg);
		goto out;
	}
	char token[AUTH_TOKEN_LEN + 1], hp[67];
	unsigned char hash[32];
	if (auth_token_generate(token, hash) != 0) {
		PQfinish(pg);
		goto out;
	}
	auth_hash_param(hash, hp);
	char *bs = json_dumps(body, JSON_COMPACT);
	if (!bs) {
		fprintf(stderr, "siaod token create: out of memory\n");
		PQfinish(pg);
		goto out;
	}
	const char *values[3] = {hp, bs, "{\"role\":\"cli\",\"request_id\":\"cli\"}"};
	PGresult *res = PQexecParams(pg, "SELECT token_create($1::bytea, $2::jsonb, $3::jsonb)",
				     3, NULL, values, NULL, NULL, 0);
	free(bs);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		fprintf(stderr, "siaod token create: %s", PQresultErrorMessage(res));
	} else {
		printf("token %s created: %s\n", json_string_value(json_object_get(body, "role")),
		       PQgetvalue(res, 0, 0));
		printf("%s\n", token);
		rc = 0;
	}
	PQclear(res);
	PQfinish(pg);
out:
	json_decref(deps);
	json_decref(body);
	return rc;
}

/* siaod account create --email E --role R [--name N] [--departement D]...
 * [--porteur ID]: an account whose password is read from stdin (never from
 * the command line, which other users may see). Blocking: a command, not
 * the server. */
static int cmd_account_create(struct app *app, int argc, char **argv)
{
	json_t *body = json_object(), *deps = json_array();
	static const struct option opts[] = {
		{"email", required_argument, NULL, 'm'}, {"role", required_argument, NULL, 'r'},
		{"name", required_argument, NULL, 'n'}, {"departement", required_argument, NULL, 'd'},
		{"porteur", required_argument, NULL, 'p'}, {"config", required_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	int c, rc = 1;
	char pw[PASSWORD_MAX_LEN + 2] = "", encoded[256];
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'm': json_object_set_new(body, "email", json_string(optarg)); break;
		case 'r': json_object_set_new(body, "role", json_string(optarg)); break;
		case 'n': json_object_set_new(body, "display_name", json_string(optarg)); break;
		case 'd': json_array_append_new(deps, json_string(optarg)); break;
		case 'p': json_object_set_new(body, "porteur_id", json_integer(strtoll(optarg, NULL, 10))); break;
		case 'c': break;
		case 'h': usage(stdout); rc = 0; goto out;
		default: usage(stderr); goto out;
		}
	}
	if (json_array_size(deps) > 0)
		json_object_set(body, "departements", deps);
	const char *email = json_string_value(json_object_get(body, "email"));
	const char *role = json_string_value(json_object_get(body, "role"));
	if (!email || !account_email_ok(email) || !role || auth_role_parse(role) < 0) {
		fprintf(stderr, "siaod account create: --email ADDRESS and --role admin|referent|porteur are required\n");
		goto out;
	}
	json_t *errors = api_token_scope_errors(body);
	if (errors) {
		fprintf(stderr, "siaod account create: %s\n",
			json_string_value(json_object_get(json_array_get(errors, 0), "detail")));
		json_decref(errors);
		goto out;
	}
	if (!fgets(pw, sizeof pw, stdin)) {
		fprintf(stderr, "siaod account create: give the password on stdin\n");
		goto out;
	}
	pw[strcspn(pw, "\r\n")] = '\0';
	const char *why = password_policy(app->cfg.password_min_length, pw, email);
	if (why) {
		fprintf(stderr, "siaod account create: %s\n", why);
		goto out;
	}
	unsigned char salt[16];
	if (RAND_bytes(salt, sizeof salt) != 1 ||
	    argon2id_hash_encoded((uint32_t)app->cfg.argon2_t_cost, (uint32_t)app->cfg.argon2_m_cost_kib,
				  (uint32_t)app->cfg.argon2_parallelism, pw, strlen(pw), salt, sizeof salt, 32,
				  encoded, sizeof encoded) != ARGON2_OK) {
		fprintf(stderr, "siaod account create: hashing failed\n");
		goto out;
	}
	PGconn *pg = connect_with_patience(app->cfg.database_url);
	if (!pg)
		goto out;
	if (migrate_run(pg) < 0) {
		PQfinish(pg);
		goto out;
	}
	char *bs = json_dumps(body, JSON_COMPACT);
	const char *values[3] = {bs, encoded, "{\"role\":\"cli\",\"request_id\":\"cli\"}"};
	PGresult *res = PQexecParams(pg, "SELECT account_create_with_password($1::jsonb, $2, $3::jsonb)",
				     3, NULL, values, NULL, NULL, 0);
	free(bs);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		fprintf(stderr, "siaod account create: %s", PQresultErrorMessage(res));
	} else {
		printf("account created: %s\n", PQgetvalue(res, 0, 0));
		rc = 0;
	}
	PQclear(res);
	PQfinish(pg);
out:
	OPENSSL_cleanse(pw, sizeof pw);
	json_decref(deps);
	json_decref(body);
	return rc;
}

static void on_term(evutil_socket_t sig, short what, void *arg)
{
	struct app *app = arg;
	if (app->draining) {
		log_warn("shutdown", "signal=%d phase=immediate", (int)sig);
		event_base_loopexit(app->base, NULL);
		return;
	}
	log_info("shutdown", "signal=%d", (int)sig);
	webhooks_drain(app);
	gate_drain(app);
	audit_flush(app->audit);
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	struct app *app = arg;
	struct config fresh;
	char err[512], changed[512];
	config_defaults(&fresh);
	if (config_load(&fresh, app->config_path, err, sizeof err) != 0) {
		log_error("reload", "result=refused error=\"%s\"", err);
		config_free(&fresh);
		return;
	}
	config_apply_reload(&app->cfg, &fresh, changed, sizeof changed);
	config_free(&fresh);
	enum log_level lvl;
	if (log_level_parse(app->cfg.log_level, &lvl) == 0)
		log_set_level(lvl);
	inventory_refresh_default_distance(app->refresh, app->cfg.default_max_distance_km);
	scheduler_run_now(app);
	log_info("reload", "result=ok%s%s", changed[0] ? " needs_restart=" : "", changed);
}

/* The rare notifications of other instances (or psql). Their writes to the
 * inventory are read from the change table instead (changes.h). */
static void on_notify(void *arg, const char *channel, const char *payload)
{
	struct app *app = arg;
	if (strcmp(channel, "siaod_outbox") == 0) {
		webhooks_kick(app);
		return;
	}
	if (strcmp(channel, "siaod_mail") == 0) {
		mail_kick(app);
		return;
	}
	if (strcmp(channel, "siaod_auth") == 0) {
		/* an account disabled or its sessions ended on another instance */
		int64_t acc = payload && strncmp(payload, "a:", 2) == 0 ? strtoll(payload + 2, NULL, 10) : 0;
		if (acc > 0) {
			auth_forget_account(app->auth, acc);
			session_forget_account(app->sessions, acc);
		}
		return;
	}
}

static int cmd_serve(struct app *app)
{
	PGconn *pg = connect_with_patience(app->cfg.database_url);
	if (!pg)
		return 1;
	int migrated = migrate_run(pg);
	/* the changes are read from before the load: none is missed */
	char *since = migrated < 0 ? NULL : changes_snapshot_blocking(pg);
	if (!since ||
	    !(app->refresh = inventory_refresh_load(pg, app->cfg.default_max_distance_km, &app->inv))) {
		free(since);
		PQfinish(pg);
		return 1;
	}
	PQfinish(pg);

	unsigned char rnd[4];
	if (RAND_bytes(rnd, sizeof rnd) != 1)
		memset(rnd, 0, sizeof rnd);
	snprintf(app->instance, sizeof app->instance, "%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3]);

	signal(SIGPIPE, SIG_IGN);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_error("start", "error=\"curl_global_init failed\"");
		inventory_refresh_free(app->refresh);
		free(since);
		return 1;
	}
	struct event_config *ec = event_config_new();
	if (ec && event_config_set_max_dispatch_interval(ec, NULL, APP_DEADLINES_PER_TURN,
							  APP_PRIORITY_DEADLINES) == 0)
		app->base = event_base_new_with_config(ec);
	if (ec)
		event_config_free(ec);
	if (app->base && event_base_priority_init(app->base, APP_LOOP_PRIORITIES) != 0) {
		event_base_free(app->base);
		app->base = NULL;
	}
	if (!app->base) {
		log_error("start", "error=\"event_base_new failed\"");
		curl_global_cleanup();
		inventory_refresh_free(app->refresh);
		free(since);
		return 1;
	}
	app->store = store_new(app->base, app->cfg.database_url, app->cfg.db_pool_size, app->instance);
	if (app->store)
		store_prepare_statements(app->store, app->cfg.db_prepared_statements);
	app->auth = auth_new(app->store);
	/* proposals in flight on all connections but one, kept for the other
	 * routes (tests/bench/README.md: 3 of 4 against 2 or 4) */
	app->proposals = proposals_new(app, app->cfg.db_pool_size - 1);
	if (app->store)
		inventory_refresh_start(app->refresh, app->base, app->store);
	/* Jansson's hash seed, before any other thread builds JSON */
	json_object_seed(0);
	app->plans = plan_jobs_new(app->base, app->cfg.plan_workers, app->cfg.plan_queue_max);
	app->ratelimit = ratelimit_new();
	app->audit = app->store ? audit_new(app->base, app->store) : NULL;
	app->sessions = session_new(app);
	app->password = password_new(app);
	if (app->store)
		store_listen(app->store, "LISTEN siaod_outbox; LISTEN siaod_auth; LISTEN siaod_mail", on_notify,
			     NULL, app);
	struct event *sigterm = evsignal_new(app->base, SIGTERM, on_term, app);
	struct event *sigint = evsignal_new(app->base, SIGINT, on_term, app);
	struct event *sighup = evsignal_new(app->base, SIGHUP, on_hup, app);
	/* without them SIGTERM would kill siaod without draining */
	bool signals = sigterm && sigint && sighup && event_add(sigterm, NULL) == 0 &&
		       event_add(sigint, NULL) == 0 && event_add(sighup, NULL) == 0;

	char err[256];
	int rc = 0;
	bool made = app->store && app->proposals && app->auth && app->audit && app->plans && app->sessions && app->password;
	if (!signals || !made || gate_start(app, err, sizeof err) != 0 ||
	    notify_start(app) != 0 || scheduler_start(app) != 0 || webhooks_start(app) != 0 ||
	    mail_start(app) != 0 || oidc_start(app) != 0 || changes_start(app, since) != 0) {
		log_error("start", "error=\"%s\"", !signals ? "cannot watch the signals" : made ? err : "out of memory");
		rc = 1;
	} else {
		log_info("listening", "address=%s version=%s instance=%s pid=%d", app->cfg.listen,
			 SIAOD_VERSION, app->instance, (int)getpid());
		event_base_dispatch(app->base);
		log_info("shutdown", "phase=done");
	}
	/* The store goes before the engines whose queries it may still answer
	 * (with "unavailable"); they free themselves after. */
	free(since);
	scheduler_stop(app);
	changes_stop(app);
	gate_stop(app);
	/* sign-ins waiting for the provider are answered (as failed) now */
	oidc_stop(app);
	audit_free(app->audit);   /* its last counts go to the store's queue */
	/* the workers finish what they run; results still arriving are stored
	 * (or answered "unavailable" by the store going next) */
	plan_jobs_free(app->plans);
	plan_jobs_free(app->imports);
	store_free(app->store);
	proposals_free(app->proposals);   /* after the store: it answers what the batches ran */
	changes_free(app);
	webhooks_stop(app);
	mail_stop(app);
	oidc_free(app);
	notify_stop(app);
	password_free(app->password);
	session_free(app->sessions);
	auth_free(app->auth);
	ratelimit_free(app->ratelimit);
	match_scratch_free(&app->scratch);
	inventory_refresh_free(app->refresh);
	if (sigterm)
		event_free(sigterm);
	if (sigint)
		event_free(sigint);
	if (sighup)
		event_free(sighup);
	event_base_free(app->base);
	curl_global_cleanup();
	return rc;
}

int main(int argc, char **argv)
{
	struct app app;
	memset(&app, 0, sizeof app);
	bool check = false;
	/* Global options first; a subcommand may follow. */
	int i = 1;
	for (; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			app.config_path = argv[++i];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			app.config_path = argv[i] + 9;
		else if (strcmp(argv[i], "--check-config") == 0)
			check = true;
		else if (strcmp(argv[i], "--version") == 0) {
			printf("siaod %s\n", SIAOD_VERSION);
			return 0;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else
			break;
	}
	const char *cmd = i < argc ? argv[i] : NULL;
	/* `siaod token create ... --config F` also takes --config late */
	for (int j = i; j + 1 < argc; j++)
		if (strcmp(argv[j], "--config") == 0)
			app.config_path = argv[j + 1];

	if (cmd && strcmp(cmd, "migrate") != 0 && strcmp(cmd, "token") != 0 && strcmp(cmd, "account") != 0) {
		fprintf(stderr, "siaod: unknown command or option \"%s\"\n\n", cmd);
		usage(stderr);
		return 2;
	}
	if (load_config(&app) != 0) {
		config_free(&app.cfg);
		return check ? 1 : 2;
	}
	int rc;
	if (check) {
		config_print(&app.cfg, stdout);
		printf("# config ok: the weights sum to 100\n");
		rc = 0;
	} else if (!cmd)
		rc = cmd_serve(&app);
	else if (strcmp(cmd, "migrate") == 0)
		rc = cmd_migrate(&app);
	else if (i + 1 < argc && strcmp(argv[i + 1], "create") == 0 && strcmp(cmd, "account") == 0)
		rc = cmd_account_create(&app, argc - i - 1, argv + i + 1);
	else if (i + 1 < argc && strcmp(argv[i + 1], "create") == 0)
		rc = cmd_token_create(&app, argc - i - 1, argv + i + 1);
	else {
		fprintf(stderr, "siaod: expected \"siaod token create ...\" or \"siaod account create ...\"\n");
		rc = 2;
	}
	config_free(&app.cfg);
	return rc;
}
