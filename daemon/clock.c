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

void clock_today(const struct config *cfg, char buf[11])
{
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
#ifdef SIAOD_TEST_CLOCK
	/* mktime normalises the day of month, across months and years */
	tm.tm_mday += cfg->test_clock_offset_days;
	tm.tm_hour = 12; /* clear of DST transitions */
	mktime(&tm);
#else
	(void)cfg;
#endif
	strftime(buf, 11, "%Y-%m-%d", &tm);
}
