/*
 * clock: "today" in the configured time zone, computed once per request and
 * passed to SQL as a parameter (never CURRENT_DATE), so a test build can move
 * it with test_clock_offset_days (and test_clock_offset_hours).
 */
#ifndef SIAOD_CLOCK_H
#define SIAOD_CLOCK_H

#include "config.h"

/* Sets the process time zone (TZ) once at start. */
void clock_set_timezone(const char *tz);
/* Writes today's date, YYYY-MM-DD, into buf. */
void clock_today(const struct config *cfg, char buf[11]);
/* The local hour now (0-23): the daily digest's (notify.c). A test build
 * moves it with test_clock_offset_hours (and the day with it). */
int clock_hour(const struct config *cfg);

#endif
