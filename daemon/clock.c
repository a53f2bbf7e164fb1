/*
 * "Today" in the configured time zone (see clock.h).
 */
#include "clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

void clock_set_timezone(const char *tz)
{
	setenv("TZ", tz, 1);
	tzset();
}

/* Local broken-down time now, moved by the test clock in a test build. */
static void local_now(const struct config *cfg, struct tm *tm)
{
	time_t now = time(NULL);
#ifdef SIAOD_TEST_CLOCK
	now += (time_t)cfg->test_clock_offset_hours * 3600 + (time_t)cfg->test_clock_offset_minutes * 60;
#endif
	localtime_r(&now, tm);
#ifdef SIAOD_TEST_CLOCK
	if (cfg->test_clock_offset_days) {
		/* mktime normalises the day of month, across months and years;
		 * the hour stays (tm_isdst -1: the new day's own offset) */
		tm->tm_mday += cfg->test_clock_offset_days;
		tm->tm_isdst = -1;
		mktime(tm);
	}
#else
	(void)cfg;
#endif
}

void clock_today(const struct config *cfg, char buf[11])
{
	struct tm tm;
	local_now(cfg, &tm);
	strftime(buf, 11, "%Y-%m-%d", &tm);
}

int clock_hour(const struct config *cfg)
{
	struct tm tm;
	local_now(cfg, &tm);
	return tm.tm_hour;
}
