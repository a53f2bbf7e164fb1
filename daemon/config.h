/*
 * Configuration: one table of keys (config.c) drives defaults, parsing of
 * config/siaod.conf, the SIAOD_<KEY> environment overrides, --check-config and
 * SIGHUP reloads. Read it there rather than hunting for getenv() calls.
 */
#ifndef SIAOD_CONFIG_H
#define SIAOD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "siaod/match.h"

#define CONFIG_MAX_THRESHOLDS 8
#define CONFIG_MAX_RETRIES 16

struct config {
	char *listen;                 /* host:port */
	bool listen_reuse_port;       /* SO_REUSEPORT: several processes share listen */
	char *database_url;           /* libpq connection string */
	char *timezone;
	char *log_level;
	char *ui_dir;
	int db_pool_size;
	bool db_prepared_statements;  /* prepare statements once per connection */
	int hold_days;
	int max_stay_days[MATCH_KIND_COUNT]; /* by enum match_kind; 0 = no cap */
	int default_max_distance_km;
	int weight_distance, weight_duration, weight_affordability, weight_support,
	    weight_availability;
	char *alert_thresholds_days;   /* "30,14,7" */
	int thresholds[CONFIG_MAX_THRESHOLDS];
	int n_thresholds;
	int alerts_interval_seconds;
	char *webhook_retry_schedule;  /* "5s,5m,30m,..." */
	int retry_seconds[CONFIG_MAX_RETRIES];
	int n_retries;
	bool webhook_allow_private;
	int webhook_timeout_seconds;
	int webhook_max_per_endpoint;
	int webhook_max_inflight;
	int retention_months;
	int reconcile_interval_seconds;
	int plan_build_threads;         /* threads building a plan's pairs; 0: one a core */
	int plan_queue_max;             /* plans and applies waiting for a worker */
	int plan_sync_wait_ms;          /* how long a plan request waits before 202 */
	int plan_workers;               /* worker threads, see plan_jobs.c */
	int rate_limit_per_second;
	int rate_limit_burst;
	int max_body_bytes;
	int max_header_bytes;
	int request_timeout_ms;        /* a request arrives whole within this */
	int keepalive_timeout_ms;      /* an idle keep-alive connection lasts this */
	int max_connections;           /* 0: 3/4 of the descriptor limit */
	char *trusted_proxies;         /* CIDR list: peers whose X-Forwarded-For counts */
	int audit_retention_months;
	int shutdown_grace_seconds;
	int test_clock_offset_days;    /* only settable in a SIAOD_TEST_CLOCK build */
	int test_clock_offset_hours;   /* likewise: moves the hour (digests), and the day with it */
	int test_clock_offset_minutes; /* likewise: lets a test start at a chosen minute */
	int import_max_bytes;          /* body limit of POST /v1/imports only */
	int import_statement_timeout_ms;   /* an import's one statement, a plan apply's
						  load and record (the pool's: 15 s) */
	int reconfirm_days;            /* offers "à reconfirmer" after, stale after twice */
	int refusal_cooldown_days;     /* rule declined_recently */
	char *refusal_reasons;         /* "code=Libellé;code=Libellé" */
	/* accounts, sessions, sign-in, outgoing mail (account.c, session.c, password.c, mail.c, oidc.c) */
	char *public_url;              /* https://siaod.example.org: links, redirects, Origin check */
	bool session_cookie_secure;    /* false only for plain-HTTP development */
	int session_idle_seconds;
	int session_absolute_seconds;
	int invitation_valid_hours;
	int reset_valid_minutes;
	bool password_login;           /* email + password sign-in switched on */
	int password_min_length;
	int argon2_t_cost, argon2_m_cost_kib, argon2_parallelism;
	char *oidc_issuer;             /* "" = no OpenID Connect sign-in */
	char *oidc_client_id;
	char *oidc_client_secret;
	char *oidc_scopes;
	char *oidc_button_label;
	int oidc_login_valid_seconds;  /* a sign-in started at the provider must end within this */
	int oidc_retry_seconds;        /* discovery tried again after a failure */
	int oidc_timeout_seconds;      /* each call to the provider */
	char *smtp_url;                /* "" = no outgoing mail: links shown to the admin only */
	char *smtp_from;
	char *smtp_user;
	char *smtp_password;
	char *mail_retry_schedule;
	int mail_timeout_seconds;
	int mail_retry_seconds[CONFIG_MAX_RETRIES];
	int n_mail_retries;
	/* notifications to people (notify.c) */
	int digest_hour;               /* the daily digest, local time (timezone) */
	int proposal_reminder_days;    /* a proposal unanswered this long: a reminder */
	char *unsubscribe_secret;      /* HMAC key of unsubscribe links; "": the database's */
};

/* Fills cfg with the built-in defaults. */
void config_defaults(struct config *cfg);
/* Reads a key = value file over cfg (path may be NULL: defaults only), then
 * the SIAOD_* environment, then checks cross-key rules. On error returns -1
 * with a one-line message in err. */
int  config_load(struct config *cfg, const char *path, char *err, size_t errlen);
/* Applies one key (used by the file and environment readers, and the fuzzer). */
int  config_set(struct config *cfg, const char *key, const char *value, char *err, size_t errlen);
/* Parses a whole config text (the file's content). */
int  config_parse_text(struct config *cfg, const char *text, size_t len, const char *origin,
		       char *err, size_t errlen);
int  config_validate(struct config *cfg, char *err, size_t errlen);
/* Copies the keys a running daemon may change on SIGHUP from src into dst and
 * names, in `changed` (comma list), keys that differ but need a restart. */
void config_apply_reload(struct config *dst, const struct config *src, char *changed, size_t len);
void config_print(const struct config *cfg, FILE *out);
void config_free(struct config *cfg);
/* The key table, for documentation checks. */
size_t config_key_count(void);
const char *config_key_name(size_t i);
/* Refusal reasons (config refusal_reasons): the i-th code and French label
 * into code/label; false past the last one. */
bool config_refusal_reason_at(const struct config *cfg, size_t i, char *code, size_t codelen,
			      char *label, size_t labellen);
/* Whether code is one of the configured refusal reasons. */
bool config_refusal_reason_ok(const struct config *cfg, const char *code);

#endif
