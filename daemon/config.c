/*
 * Configuration keys, their defaults and how they are read (see config.h).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "proxies.h"
#include "siaod/match.h"

enum key_type { T_STR, T_INT, T_BOOL };

struct key {
	const char *name;
	enum key_type type;
	size_t offset;
	const char *def;
	long min, max;          /* T_INT only */
	bool reload;            /* may change on SIGHUP */
};

/* The reasons DESIGN names, with their French labels. */
#define REFUSAL_REASONS_DEFAULT \
	"youth_declined=Refus du jeune;no_show=Ne s'est pas présenté;" \
	"incompatible_needs=Besoins incompatibles avec l'offre;" \
	"place_unavailable=Place plus disponible;incomplete_file=Dossier incomplet;other=Autre motif"

#define S(f) T_STR, offsetof(struct config, f)
#define I(f) T_INT, offsetof(struct config, f)
#define B(f) T_BOOL, offsetof(struct config, f)
/* a default given by a macro of another module, as the table's text */
#define STR_(x) #x
#define STR(x) STR_(x)

/* Alphabetical, one line per key; config/siaod.conf documents each one. */
static const struct key keys[] = {
	{"alert_thresholds_days",       S(alert_thresholds_days), "30,14,7", 0, 0, true},
	{"alerts_interval_seconds",     I(alerts_interval_seconds), "3600", 1, 86400, true},
	{"audit_retention_months",      I(audit_retention_months), "12", 1, 240, true},
	{"argon2_m_cost_kib",           I(argon2_m_cost_kib), "19456", 8, 4 << 20, true},
	{"argon2_parallelism",          I(argon2_parallelism), "1", 1, 16, true},
	{"argon2_t_cost",               I(argon2_t_cost), "2", 1, 64, true},
	{"database_url",                S(database_url), "dbname=siaod", 0, 0, false},
	{"db_pool_size",                I(db_pool_size), "4", 1, 64, false},
	{"db_prepared_statements",      B(db_prepared_statements), "true", 0, 0, false},
	{"default_max_distance_km",     I(default_max_distance_km), "30", 1, 2000, true},
	{"digest_hour",                 I(digest_hour), "8", 0, 23, true},
	{"hold_days",                   I(hold_days), "7", 1, 90, true},
	{"keepalive_timeout_ms",        I(keepalive_timeout_ms), "15000", 100, 3600000, false},
	{"import_max_bytes",            I(import_max_bytes), "16777216", 1024, 256L << 20, false},
	{"import_statement_timeout_ms", I(import_statement_timeout_ms), "300000", 1, 3600000, true},
	{"invitation_valid_hours",      I(invitation_valid_hours), "168", 1, 24L * 90, true},
	{"listen",                      S(listen), "127.0.0.1:8080", 0, 0, false},
	{"listen_reuse_port",           B(listen_reuse_port), "false", 0, 0, false},
	{"log_level",                   S(log_level), "info", 0, 0, true},
	{"mail_retry_schedule",         S(mail_retry_schedule), "1m,5m,30m,2h,6h,12h", 0, 0, true},
	{"mail_timeout_seconds",        I(mail_timeout_seconds), "60", 1, 600, true},
	{"max_body_bytes",              I(max_body_bytes), "1048576", 1024, 64 << 20, false},
	{"max_connections",             I(max_connections), "0", 0, 1000000, false},
	{"max_header_bytes",            I(max_header_bytes), "16384", 1024, 1 << 20, false},
	{"max_stay_days_alt",           I(max_stay_days[MATCH_KIND_ALT]), "180", 0, 3650, true},
	{"max_stay_days_fjt",           I(max_stay_days[MATCH_KIND_FJT]), "0", 0, 3650, true},
	{"max_stay_days_iml",           I(max_stay_days[MATCH_KIND_IML]), "540", 0, 3650, true},
	{"max_stay_days_shared_flat",   I(max_stay_days[MATCH_KIND_SHARED_FLAT]), "90", 1, 90, true},
	{"max_stay_days_studio_tiroir", I(max_stay_days[MATCH_KIND_STUDIO_TIROIR]), "180", 0, 3650, true},
	{"oidc_button_label",           S(oidc_button_label), "Se connecter avec ProConnect", 0, 0, true},
	{"oidc_client_id",              S(oidc_client_id), "", 0, 0, false},
	{"oidc_client_secret",          S(oidc_client_secret), "", 0, 0, false},
	{"oidc_issuer",                 S(oidc_issuer), "", 0, 0, false},
	{"oidc_login_valid_seconds",    I(oidc_login_valid_seconds), "600", 30, 3600, true},
	{"oidc_retry_seconds",          I(oidc_retry_seconds), "60", 1, 86400, true},
	{"oidc_scopes",                 S(oidc_scopes), "openid email given_name usual_name siret", 0, 0, false},
	{"oidc_timeout_seconds",        I(oidc_timeout_seconds), "10", 1, 120, true},
	{"password_login",              B(password_login), "true", 0, 0, true},
	{"password_min_length",         I(password_min_length), "12", 8, 128, true},
	{"plan_build_threads",          I(plan_build_threads), "0", 0, 64, true},
	{"plan_queue_max",              I(plan_queue_max), "8", 0, 1000, false},
	{"plan_sync_wait_ms",           I(plan_sync_wait_ms), "2000", 0, 60000, true},
	{"plan_workers",                I(plan_workers), "2", 1, 64, false},
	{"proposal_reminder_days",      I(proposal_reminder_days), "3", 1, 90, true},
	{"public_url",                  S(public_url), "http://127.0.0.1:8080", 0, 0, false},
	{"rate_limit_burst",            I(rate_limit_burst), "200", 1, 100000, true},
	{"rate_limit_per_second",       I(rate_limit_per_second), "100", 0, 100000, true},
	{"reconcile_interval_seconds",  I(reconcile_interval_seconds), "300", 60, 86400, true},
	{"reconfirm_days",              I(reconfirm_days), "30", 1, 3650, true},
	{"refusal_cooldown_days",       I(refusal_cooldown_days), "90", 0, 3650, true},
	{"refusal_reasons",             S(refusal_reasons), REFUSAL_REASONS_DEFAULT, 0, 0, true},
	{"request_timeout_ms",          I(request_timeout_ms), "10000", 100, 3600000, false},
	{"reset_valid_minutes",         I(reset_valid_minutes), "60", 5, 7L * 24 * 60, true},
	{"retention_months",            I(retention_months), "24", 1, 240, true},
	{"session_absolute_seconds",    I(session_absolute_seconds), "43200", 2, 30L * 86400, true},
	{"session_cookie_secure",       B(session_cookie_secure), "true", 0, 0, false},
	{"session_idle_seconds",        I(session_idle_seconds), "7200", 1, 30L * 86400, true},
	{"shutdown_grace_seconds",      I(shutdown_grace_seconds), "30", 0, 3600, false},
	{"smtp_from",                   S(smtp_from), "", 0, 0, true},
	{"smtp_password",               S(smtp_password), "", 0, 0, true},
	{"smtp_url",                    S(smtp_url), "", 0, 0, true},
	{"smtp_user",                   S(smtp_user), "", 0, 0, true},
#ifdef SIAOD_TEST_CLOCK
	{"test_clock_offset_days",      I(test_clock_offset_days), "0", -36500, 36500, true},
	{"test_clock_offset_hours",     I(test_clock_offset_hours), "0", -876000, 876000, true},
	{"test_clock_offset_minutes",   I(test_clock_offset_minutes), "0", -1440, 1440, true},
#endif
	{"timezone",                    S(timezone), "Europe/Paris", 0, 0, false},
	{"trusted_proxies",             S(trusted_proxies), "", 0, 0, false},
	{"ui_dir",                      S(ui_dir), "", 0, 0, false},
	{"unsubscribe_secret",          S(unsubscribe_secret), "", 0, 0, false},
	{"webhook_allow_private",       B(webhook_allow_private), "false", 0, 0, true},
	{"webhook_max_inflight",        I(webhook_max_inflight), "256", 1, 4096, false},
	{"webhook_max_per_endpoint",    I(webhook_max_per_endpoint), "4", 1, 64, true},
	{"webhook_retry_schedule",      S(webhook_retry_schedule), "5s,5m,30m,2h,5h,10h,10h", 0, 0, true},
	{"webhook_timeout_seconds",     I(webhook_timeout_seconds), "15", 1, 120, true},
	{"weight_affordability",        I(weight_affordability), STR(MATCH_WEIGHT_DEFAULT_AFFORDABILITY), 0, 100, true},
	{"weight_availability",         I(weight_availability), STR(MATCH_WEIGHT_DEFAULT_AVAILABILITY), 0, 100, true},
	{"weight_distance",             I(weight_distance), STR(MATCH_WEIGHT_DEFAULT_DISTANCE), 0, 100, true},
	{"weight_duration",             I(weight_duration), STR(MATCH_WEIGHT_DEFAULT_DURATION), 0, 100, true},
	{"weight_support",              I(weight_support), STR(MATCH_WEIGHT_DEFAULT_SUPPORT), 0, 100, true},
};
#define NKEYS (sizeof keys / sizeof *keys)

size_t config_key_count(void)
{
	return NKEYS;
}

const char *config_key_name(size_t i)
{
	return i < NKEYS ? keys[i].name : NULL;
}

static const struct key *key_find(const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

static int set_key(struct config *cfg, const struct key *k, const char *value,
		   char *err, size_t errlen)
{
	void *field = (char *)cfg + k->offset;
	switch (k->type) {
	case T_STR: {
		char *copy = strdup(value);
		if (!copy) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		free(*(char **)field);
		*(char **)field = copy;
		return 0;
	}
	case T_INT: {
		char *end;
		errno = 0;
		long v = strtol(value, &end, 10);
		if (errno || end == value || *end != '\0' || v < k->min || v > k->max) {
			snprintf(err, errlen, "%s: expected an integer in [%ld, %ld], got \"%.40s\"",
				 k->name, k->min, k->max, value);
			return -1;
		}
		*(int *)field = (int)v;
		return 0;
	}
	case T_BOOL:
		if (strcmp(value, "true") == 0 || strcmp(value, "1") == 0 || strcmp(value, "yes") == 0)
			*(bool *)field = true;
		else if (strcmp(value, "false") == 0 || strcmp(value, "0") == 0 || strcmp(value, "no") == 0)
			*(bool *)field = false;
		else {
			snprintf(err, errlen, "%s: expected true or false, got \"%.40s\"", k->name, value);
			return -1;
		}
		return 0;
	}
	return -1;
}

int config_set(struct config *cfg, const char *key, const char *value, char *err, size_t errlen)
{
	const struct key *k = key_find(key);
	if (!k) {
#ifndef SIAOD_TEST_CLOCK
		if (strncmp(key, "test_clock_offset_", 18) == 0) {
			snprintf(err, errlen, "%s exists only in a test build", key);
			return -1;
		}
#endif
		snprintf(err, errlen, "unknown key \"%.60s\"", key);
		return -1;
	}
	return set_key(cfg, k, value, err, errlen);
}

void config_defaults(struct config *cfg)
{
	char err[256];
	memset(cfg, 0, sizeof *cfg);
	for (size_t i = 0; i < NKEYS; i++)
		if (set_key(cfg, &keys[i], keys[i].def, err, sizeof err) != 0)
			abort(); /* a default that does not parse is a programming error */
}

/* ASCII blanks: the file's syntax does not depend on the locale */
static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static char *trim(char *s)
{
	while (blank(*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && blank(e[-1]))
		*--e = '\0';
	return s;
}

int config_parse_text(struct config *cfg, const char *text, size_t len, const char *origin,
		      char *err, size_t errlen)
{
	int lineno = 0;
	size_t pos = 0;
	while (pos < len) {
		size_t end = pos;
		while (end < len && text[end] != '\n')
			end++;
		lineno++;
		char line[1024];
		size_t n = end - pos;
		if (n >= sizeof line) {
			snprintf(err, errlen, "%s:%d: line too long", origin, lineno);
			return -1;
		}
		memcpy(line, text + pos, n);
		line[n] = '\0';
		pos = end + 1;
		if (memchr(line, '\0', n) != NULL) {
			snprintf(err, errlen, "%s:%d: NUL byte", origin, lineno);
			return -1;
		}
		char *s = trim(line);
		if (*s == '\0' || *s == '#')
			continue;
		char *eq = strchr(s, '=');
		if (!eq) {
			snprintf(err, errlen, "%s:%d: expected key = value", origin, lineno);
			return -1;
		}
		*eq = '\0';
		char *key = trim(s), *value = trim(eq + 1);
		char kerr[200];
		if (config_set(cfg, key, value, kerr, sizeof kerr) != 0) {
			snprintf(err, errlen, "%s:%d: %s", origin, lineno, kerr);
			return -1;
		}
	}
	return 0;
}

static int parse_thresholds(struct config *cfg, char *err, size_t errlen)
{
	cfg->n_thresholds = 0;
	const char *p = cfg->alert_thresholds_days;
	while (*p) {
		char *end;
		long v = strtol(p, &end, 10);
		if (end == p || v < 1 || v > 365 || cfg->n_thresholds == CONFIG_MAX_THRESHOLDS) {
			snprintf(err, errlen, "alert_thresholds_days: expected up to %d day counts "
				 "in [1, 365] separated by commas", CONFIG_MAX_THRESHOLDS);
			return -1;
		}
		cfg->thresholds[cfg->n_thresholds++] = (int)v;
		p = end;
		while (*p == ',' || *p == ' ')
			p++;
	}
	if (cfg->n_thresholds == 0) {
		snprintf(err, errlen, "alert_thresholds_days: at least one threshold");
		return -1;
	}
	return 0;
}

static int parse_delays(const char *key, const char *p, int *out, int *n, char *err, size_t errlen)
{
	*n = 0;
	while (*p) {
		char *end;
		long v = strtol(p, &end, 10);
		long unit = 1;
		if (*end == 's') end++;
		else if (*end == 'm') { unit = 60; end++; }
		else if (*end == 'h') { unit = 3600; end++; }
		else if (*end == 'd') { unit = 86400; end++; }
		if (end == p || v < 0 || v > 30L * 86400 / unit || *n == CONFIG_MAX_RETRIES) {
			snprintf(err, errlen, "%s: expected up to %d delays like "
				 "5s, 5m, 2h or 1d separated by commas", key, CONFIG_MAX_RETRIES);
			return -1;
		}
		out[(*n)++] = (int)(v * unit);
		p = end;
		while (*p == ',' || *p == ' ')
			p++;
	}
	return 0;
}

bool config_refusal_reason_at(const struct config *cfg, size_t i, char *code, size_t codelen,
			      char *label, size_t labellen)
{
	const char *p = cfg->refusal_reasons;
	for (; p && *p; i--) {
		const char *end = strchr(p, ';');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		if (i == 0) {
			const char *eq = memchr(p, '=', n);
			size_t cn = eq ? (size_t)(eq - p) : n;
			snprintf(code, codelen, "%.*s", (int)cn, p);
			snprintf(label, labellen, "%.*s", eq ? (int)(n - cn - 1) : 0, eq ? eq + 1 : "");
			return true;
		}
		p = end ? end + 1 : p + n;
	}
	return false;
}

bool config_refusal_reason_ok(const struct config *cfg, const char *code)
{
	char c[48], l[8];
	for (size_t i = 0; code && config_refusal_reason_at(cfg, i, c, sizeof c, l, sizeof l); i++)
		if (strcmp(c, code) == 0)
			return true;
	return false;
}

/* code=Libellé entries separated by ';', codes as the database takes them
 * (ck_placements__refusal_reason: a lower-case slug of at most 40). */
static int check_refusal_reasons(const struct config *cfg, char *err, size_t errlen)
{
	char code[64], label[256];
	size_t i = 0;
	for (; config_refusal_reason_at(cfg, i, code, sizeof code, label, sizeof label); i++) {
		bool ok = code[0] >= 'a' && code[0] <= 'z' && strlen(code) <= 40 && label[0];
		for (const char *c = code; ok && *c; c++)
			ok = (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_';
		if (!ok) {
			snprintf(err, errlen, "refusal_reasons: expected code=Libellé entries separated "
				 "by ';', codes in lower case letters, digits and _ (entry %zu)", i + 1);
			return -1;
		}
	}
	if (i == 0) {
		snprintf(err, errlen, "refusal_reasons: at least one reason");
		return -1;
	}
	return 0;
}

static int parse_schedule(struct config *cfg, char *err, size_t errlen)
{
	return parse_delays("webhook_retry_schedule", cfg->webhook_retry_schedule, cfg->retry_seconds,
			    &cfg->n_retries, err, errlen) == 0 &&
	       parse_delays("mail_retry_schedule", cfg->mail_retry_schedule, cfg->mail_retry_seconds,
			    &cfg->n_mail_retries, err, errlen) == 0 ? 0 : -1;
}

/* public_url: an http(s) origin with an optional path, kept without a
 * trailing slash so links are built by appending "/ui/...". */
static int check_public_url(struct config *cfg, char *err, size_t errlen)
{
	char *u = cfg->public_url;
	if (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0) {
		snprintf(err, errlen, "public_url: expected http://host[:port] or https://host[:port]");
		return -1;
	}
	for (const char *c = u; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == '"' || *c == '\\' || *c == '?' || *c == '#') {
			snprintf(err, errlen, "public_url: no spaces, quotes, query or fragment");
			return -1;
		}
	size_t n = strlen(u);
	while (n > 8 && u[n - 1] == '/')
		u[--n] = '\0';
	return 0;
}

/* OpenID Connect: an https issuer (plain http only on loopback, for tests
 * and development), a client id, the openid scope. Whether the provider
 * answers is not checked here: siaod starts without it (oidc.c). */
static int check_oidc(const struct config *cfg, char *err, size_t errlen)
{
	const char *iss = cfg->oidc_issuer;
	if (!iss[0])
		return 0;
	static const char *const loopback[] = {"http://127.0.0.1", "http://localhost", "http://[::1]"};
	bool ok = strncmp(iss, "https://", 8) == 0 && iss[8];
	for (size_t i = 0; !ok && i < sizeof loopback / sizeof *loopback; i++) {
		size_t n = strlen(loopback[i]);
		ok = strncmp(iss, loopback[i], n) == 0 && (iss[n] == ':' || iss[n] == '/' || iss[n] == '\0');
	}
	for (const char *c = iss; ok && *c; c++)
		if ((unsigned char)*c <= ' ' || *c == '"' || *c == '?' || *c == '#')
			ok = false;
	if (!ok || strlen(iss) > 500) {
		snprintf(err, errlen, "oidc_issuer: expected https://host[/path] (http:// only on loopback)");
		return -1;
	}
	if (!cfg->oidc_client_id[0]) {
		snprintf(err, errlen, "oidc_issuer is set: oidc_client_id is required");
		return -1;
	}
	char scopes[512];
	snprintf(scopes, sizeof scopes, " %s ", cfg->oidc_scopes);
	if (!strstr(scopes, " openid ")) {
		snprintf(err, errlen, "oidc_scopes must contain openid");
		return -1;
	}
	return 0;
}

int config_validate(struct config *cfg, char *err, size_t errlen)
{
	if (check_refusal_reasons(cfg, err, errlen) != 0)
		return -1;
	int sum = cfg->weight_distance + cfg->weight_duration + cfg->weight_affordability +
		  cfg->weight_support + cfg->weight_availability;
	if (sum != 100) {
		snprintf(err, errlen, "the weight_* keys must sum to 100, they sum to %d", sum);
		return -1;
	}
	enum log_level lvl;
	if (log_level_parse(cfg->log_level, &lvl) != 0) {
		snprintf(err, errlen, "log_level: expected debug, info, warn or error");
		return -1;
	}
	if (!strchr(cfg->listen, ':')) {
		snprintf(err, errlen, "listen: expected host:port");
		return -1;
	}
	if (parse_thresholds(cfg, err, errlen) != 0 || parse_schedule(cfg, err, errlen) != 0 ||
	    check_public_url(cfg, err, errlen) != 0)
		return -1;
	struct proxies *p = proxies_parse(cfg->trusted_proxies, err, errlen);
	if (!p)
		return -1;
	proxies_free(p);
	if (cfg->session_idle_seconds > cfg->session_absolute_seconds) {
		snprintf(err, errlen, "session_idle_seconds must not exceed session_absolute_seconds");
		return -1;
	}
	if (check_oidc(cfg, err, errlen) != 0)
		return -1;
	if (cfg->smtp_url[0] && !strchr(cfg->smtp_from, '@')) {
		snprintf(err, errlen, "smtp_url is set: smtp_from needs an e-mail address");
		return -1;
	}
	if (cfg->unsubscribe_secret[0] && strlen(cfg->unsubscribe_secret) < 32) {
		snprintf(err, errlen, "unsubscribe_secret: at least 32 characters (or empty: one kept in the database)");
		return -1;
	}
	return 0;
}

int config_load(struct config *cfg, const char *path, char *err, size_t errlen)
{
	if (path) {
		FILE *f = fopen(path, "r");
		if (!f) {
			snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
			return -1;
		}
		char *buf = NULL;
		size_t len = 0, cap = 0;
		int c;
		while ((c = fgetc(f)) != EOF) {
			if (len + 1 >= cap) {
				cap = cap ? cap * 2 : 4096;
				char *nb = realloc(buf, cap);
				if (!nb) {
					free(buf);
					fclose(f);
					snprintf(err, errlen, "out of memory");
					return -1;
				}
				buf = nb;
			}
			buf[len++] = (char)c;
		}
		fclose(f);
		int rc = config_parse_text(cfg, buf ? buf : "", len, path, err, errlen);
		free(buf);
		if (rc != 0)
			return -1;
	}
	for (size_t i = 0; i < NKEYS; i++) {
		char env[80] = "SIAOD_";
		for (size_t j = 0; keys[i].name[j] && j + 7 < sizeof env; j++)
			env[6 + j] = (char)toupper((unsigned char)keys[i].name[j]),
			env[7 + j] = '\0';
		const char *v = getenv(env);
		char kerr[200];
		if (v && set_key(cfg, &keys[i], v, kerr, sizeof kerr) != 0) {
			snprintf(err, errlen, "%s: %s", env, kerr);
			return -1;
		}
	}
#ifndef SIAOD_TEST_CLOCK
	static const char *const test_clock[] = {"SIAOD_TEST_CLOCK_OFFSET_DAYS", "SIAOD_TEST_CLOCK_OFFSET_HOURS",
						 "SIAOD_TEST_CLOCK_OFFSET_MINUTES"};
	for (size_t i = 0; i < sizeof test_clock / sizeof test_clock[0]; i++)
		if (getenv(test_clock[i])) {
			snprintf(err, errlen, "%s: the test clock exists only in a test build", test_clock[i]);
			return -1;
		}
#endif
	return config_validate(cfg, err, errlen);
}

void config_apply_reload(struct config *dst, const struct config *src, char *changed, size_t len)
{
	changed[0] = '\0';
	for (size_t i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];
		void *d = (char *)dst + k->offset;
		const void *s = (const char *)src + k->offset;
		bool differs = k->type == T_STR ? strcmp(*(char **)d, *(char *const *)s) != 0
			     : k->type == T_INT ? *(int *)d != *(const int *)s
			     : *(bool *)d != *(const bool *)s;
		if (!differs)
			continue;
		if (!k->reload) {
			size_t used = strlen(changed);
			snprintf(changed + used, len - used, "%s%s", used ? "," : "", k->name);
			continue;
		}
		char err[64];
		if (k->type == T_STR)
			set_key(dst, k, *(char *const *)s, err, sizeof err);
		else if (k->type == T_INT)
			*(int *)d = *(const int *)s;
		else
			*(bool *)d = *(const bool *)s;
	}
	/* derived arrays follow their source strings */
	memcpy(dst->thresholds, src->thresholds, sizeof dst->thresholds);
	dst->n_thresholds = src->n_thresholds;
	memcpy(dst->retry_seconds, src->retry_seconds, sizeof dst->retry_seconds);
	dst->n_retries = src->n_retries;
	memcpy(dst->mail_retry_seconds, src->mail_retry_seconds, sizeof dst->mail_retry_seconds);
	dst->n_mail_retries = src->n_mail_retries;
}

/* libpq connection strings may carry a password: never print it. */
static void print_masked_url(const char *url, FILE *out)
{
	const char *pw = strstr(url, "password=");
	const char *scheme = strstr(url, "://");
	const char *at = scheme ? strchr(scheme, '@') : NULL;
	const char *colon = scheme && at ? memchr(scheme + 3, ':', (size_t)(at - scheme - 3)) : NULL;
	if (pw)
		fprintf(out, "%.*spassword=***\n", (int)(pw - url), url);
	else if (colon)
		fprintf(out, "%.*s:***%s\n", (int)(colon - url), url, at);
	else
		fprintf(out, "%s\n", url);
}

void config_print(const struct config *cfg, FILE *out)
{
	for (size_t i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];
		const void *f = (const char *)cfg + k->offset;
		fprintf(out, "%s = ", k->name);
		bool secret = strcmp(k->name, "smtp_password") == 0 ||
			      strcmp(k->name, "oidc_client_secret") == 0 ||
			      strcmp(k->name, "unsubscribe_secret") == 0;
		if (strcmp(k->name, "database_url") == 0 || strcmp(k->name, "smtp_url") == 0)
			print_masked_url(*(char *const *)f, out);
		else if (secret && **(char *const *)f)
			fprintf(out, "***\n");
		else if (k->type == T_STR)
			fprintf(out, "%s\n", *(char *const *)f);
		else if (k->type == T_INT)
			fprintf(out, "%d\n", *(const int *)f);
		else
			fprintf(out, "%s\n", *(const bool *)f ? "true" : "false");
	}
}

void config_free(struct config *cfg)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (keys[i].type == T_STR) {
			char **f = (char **)((char *)cfg + keys[i].offset);
			free(*f);
			*f = NULL;
		}
}
