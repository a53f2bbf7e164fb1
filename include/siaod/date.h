/*
 * Civil dates for the pure parts (matcher, planner, validation).
 *
 * A date is a day number: days since 1970-01-01 in the proleptic Gregorian
 * calendar. Everything that touches the database lets PostgreSQL do dates;
 * this module exists so the matcher can be tested without one.
 */
#ifndef SIAOD_DATE_H
#define SIAOD_DATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef int32_t sdate;            /* days since 1970-01-01 */
#define DATE_NONE INT32_MIN       /* "no date" (NULL in SQL) */

sdate date_from_ymd(int y, int m, int d);
void  date_to_ymd(sdate day, int *y, int *m, int *d);
bool  date_valid_ymd(int y, int m, int d);
/* Strict "YYYY-MM-DD" with a real calendar day; false otherwise. */
bool  date_parse(const char *s, sdate *out);
bool  date_parse_n(const char *s, size_t len, sdate *out);
/* Writes "YYYY-MM-DD" and a NUL into buf (at least 11 bytes). */
void  date_format(sdate day, char buf[static 11]);
/* Calendar months, clamped to the end of the month as PostgreSQL does
 * ('2024-01-31' + 1 month = '2024-02-29'). */
sdate date_add_months(sdate day, int months);
/* Completed years on `on`, as PostgreSQL's age() counts them: a 29 February
 * birthday is reached on 1 March in a common year. */
int   date_age_years(sdate birth, sdate on);

#endif
