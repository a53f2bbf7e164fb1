/*
 * Config: defaults, the key = value reader, environment overrides, the
 * cross-key rules, reloads, and that config/siaod.conf documents every key.
 */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "unit.h"

static int parse(struct config *c, const char *text, char *err, size_t len)
{
	return config_parse_text(c, text, strlen(text), "test", err, len);
}

static void test_defaults(void)
{
	struct config c;
	char err[256];
	config_defaults(&c);
	CHECK_INT(config_validate(&c, err, sizeof err), 0);
	CHECK_STR(c.listen, "127.0.0.1:8080");
	CHECK_INT(c.max_stay_days[MATCH_KIND_SHARED_FLAT], 90);
	CHECK_INT(c.max_stay_days[MATCH_KIND_IML], 540);
	CHECK_INT(c.max_stay_days[MATCH_KIND_FJT], 0);
	CHECK_INT(c.hold_days, 7);
	/* the documented defaults (config/siaod.conf, DESIGN.md), the same as
	 * the matcher's own */
	CHECK_INT(c.weight_distance, 35);
	CHECK_INT(c.weight_duration, 15);
	CHECK_INT(c.weight_affordability, 20);
	CHECK_INT(c.weight_support, 20);
	CHECK_INT(c.weight_availability, 10);
	struct match_weights w = match_weights_default();
	CHECK_INT(w.distance, c.weight_distance);
	CHECK_INT(w.duration, c.weight_duration);
	CHECK_INT(w.affordability, c.weight_affordability);
	CHECK_INT(w.support, c.weight_support);
	CHECK_INT(w.availability, c.weight_availability);
	CHECK_INT(c.n_thresholds, 3);
	CHECK_INT(c.thresholds[0], 30);
	CHECK_INT(c.thresholds[2], 7);
	/* the Standard Webhooks example: 5s, 5m, 30m, 2h, 5h, 10h, 10h */
	CHECK_INT(c.n_retries, 7);
	CHECK_INT(c.retry_seconds[0], 5);
	CHECK_INT(c.retry_seconds[1], 300);
	CHECK_INT(c.retry_seconds[6], 36000);
	CHECK(!c.webhook_allow_private);
	config_free(&c);
}

static void test_parse(void)
{
	struct config c;
	char err[256];
	config_defaults(&c);
	CHECK_INT(parse(&c, "# comment\n\n  listen =  0.0.0.0:9000  \nhold_days=3\n"
			   "webhook_allow_private = true\n", err, sizeof err), 0);
	CHECK_STR(c.listen, "0.0.0.0:9000");
	CHECK_INT(c.hold_days, 3);
	CHECK(c.webhook_allow_private);

	CHECK_INT(parse(&c, "nosuchkey = 1\n", err, sizeof err), -1);
	CHECK(strstr(err, "test:1") != NULL && strstr(err, "unknown key") != NULL);
	CHECK_INT(parse(&c, "\nhold_days = many\n", err, sizeof err), -1);
	CHECK(strstr(err, "test:2") != NULL);
	CHECK_INT(parse(&c, "hold_days = 0\n", err, sizeof err), -1);        /* below min */
	CHECK_INT(parse(&c, "hold_days = 12abc\n", err, sizeof err), -1);
	CHECK_INT(parse(&c, "max_stay_days_shared_flat = 91\n", err, sizeof err), -1);
	CHECK_INT(parse(&c, "just words\n", err, sizeof err), -1);
	CHECK_INT(parse(&c, "webhook_allow_private = maybe\n", err, sizeof err), -1);
	config_free(&c);
}

static void test_cross_rules(void)
{
	struct config c;
	char err[256];
	config_defaults(&c);
	CHECK_INT(parse(&c, "weight_distance = 50\n", err, sizeof err), 0);
	CHECK_INT(config_validate(&c, err, sizeof err), -1);
	CHECK(strstr(err, "sum to 100") != NULL);
	CHECK_INT(parse(&c, "weight_distance = 35\nalert_thresholds_days = 10, 3\n"
			   "webhook_retry_schedule = 1s,2m,1h,1d\n", err, sizeof err), 0);
	CHECK_INT(config_validate(&c, err, sizeof err), 0);
	CHECK_INT(c.n_thresholds, 2);
	CHECK_INT(c.thresholds[1], 3);
	CHECK_INT(c.n_retries, 4);
	CHECK_INT(c.retry_seconds[2], 3600);
	CHECK_INT(c.retry_seconds[3], 86400);
	CHECK_INT(parse(&c, "alert_thresholds_days = 0\n", err, sizeof err), 0);
	CHECK_INT(config_validate(&c, err, sizeof err), -1);
	CHECK_INT(parse(&c, "alert_thresholds_days = 7\nwebhook_retry_schedule = 5x\n", err, sizeof err), 0);
	CHECK_INT(config_validate(&c, err, sizeof err), -1);
	CHECK_INT(parse(&c, "webhook_retry_schedule = 5s\nlog_level = loud\n", err, sizeof err), 0);
	CHECK_INT(config_validate(&c, err, sizeof err), -1);
	config_free(&c);
}

static void test_env_override(void)
{
	struct config c;
	char err[256];
	config_defaults(&c);
	setenv("SIAOD_HOLD_DAYS", "11", 1);
	setenv("SIAOD_LISTEN", "127.0.0.1:1234", 1);
	CHECK_INT(config_load(&c, NULL, err, sizeof err), 0);
	CHECK_INT(c.hold_days, 11);
	CHECK_STR(c.listen, "127.0.0.1:1234");
	setenv("SIAOD_HOLD_DAYS", "-3", 1);
	CHECK_INT(config_load(&c, NULL, err, sizeof err), -1);
	CHECK(strstr(err, "SIAOD_HOLD_DAYS") != NULL);
	unsetenv("SIAOD_HOLD_DAYS");
	unsetenv("SIAOD_LISTEN");
	config_free(&c);
}

static void test_reload(void)
{
	struct config live, fresh;
	char err[256], changed[256];
	config_defaults(&live);
	config_defaults(&fresh);
	CHECK_INT(parse(&fresh, "hold_days = 9\nlisten = 127.0.0.1:9\nlog_level = debug\n", err, sizeof err), 0);
	CHECK_INT(config_validate(&fresh, err, sizeof err), 0);
	config_apply_reload(&live, &fresh, changed, sizeof changed);
	CHECK_INT(live.hold_days, 9);                   /* reloadable */
	CHECK_STR(live.log_level, "debug");
	CHECK_STR(live.listen, "127.0.0.1:8080");       /* needs a restart */
	CHECK_STR(changed, "listen");
	config_free(&live);
	config_free(&fresh);
}

static void test_test_clock_key(void)
{
	struct config c;
	char err[256];
	config_defaults(&c);
	int rc = parse(&c, "test_clock_offset_days = 5\n", err, sizeof err);
#ifdef SIAOD_TEST_CLOCK
	CHECK_INT(rc, 0);
	CHECK_INT(c.test_clock_offset_days, 5);
#else
	CHECK_INT(rc, -1);
	CHECK(strstr(err, "test build") != NULL);
#endif
	/* the hour offset beside it (digests, reminders): the same rule */
	rc = parse(&c, "test_clock_offset_hours = -7\n", err, sizeof err);
#ifdef SIAOD_TEST_CLOCK
	CHECK_INT(rc, 0);
	CHECK_INT(c.test_clock_offset_hours, -7);
#else
	CHECK_INT(rc, -1);
	CHECK(strstr(err, "test_clock_offset_hours exists only in a test build") != NULL);
#endif
	config_free(&c);
}

/* The example config must document every key and parse to valid values. */
static void test_example_file(void)
{
	char path[512];
	snprintf(path, sizeof path, "%s/config/siaod.conf", SIAOD_SOURCE_DIR);
	FILE *f = fopen(path, "r");
	CHECK(f != NULL);
	if (!f)
		return;
	static char text[32768];
	size_t n = fread(text, 1, sizeof text - 1, f);
	text[n] = '\0';
	fclose(f);
	for (size_t i = 0; i < config_key_count(); i++) {
		char needle[80];
		snprintf(needle, sizeof needle, "%s =", config_key_name(i));
		if (!strstr(text, needle))
			fprintf(stderr, "config/siaod.conf does not document %s\n", config_key_name(i));
		CHECK(strstr(text, needle) != NULL);
	}
	struct config c;
	char err[256];
	config_defaults(&c);
	CHECK_INT(config_load(&c, path, err, sizeof err), 0);
	config_free(&c);
}

int main(void)
{
	test_defaults();
	test_parse();
	test_cross_rules();
	test_env_override();
	test_reload();
	test_test_clock_key();
	test_example_file();
	return unit_done("test_config");
}
