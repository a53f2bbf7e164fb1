/*
 * Unit tests of the civil-date module: conversions over the whole range,
 * strict parsing, month arithmetic and ages as PostgreSQL counts them.
 */
#include "siaod/date.h"
#include "unit.h"

static sdate ymd(int y, int m, int d)
{
	return date_from_ymd(y, m, d);
}

static void test_known_days(void)
{
	CHECK_INT(ymd(1970, 1, 1), 0);
	CHECK_INT(ymd(1969, 12, 31), -1);
	/* 30 years of 365 days plus the 7 leap days 1972..1996. */
	CHECK_INT(ymd(2000, 1, 1), 30 * 365 + 7);
	CHECK_INT(ymd(2000, 3, 1), 30 * 365 + 7 + 31 + 29);
	/* 2024-05-01 was a Wednesday; 1970-01-01 a Thursday. */
	sdate d = ymd(2024, 5, 1);
	CHECK_INT(((d % 7) + 7 + 4) % 7, 3);     /* 0 = Sunday */
	CHECK_INT(ymd(2024, 3, 1) - ymd(2024, 2, 28), 2);
	CHECK_INT(ymd(2023, 3, 1) - ymd(2023, 2, 28), 1);
	CHECK_INT(ymd(2100, 3, 1) - ymd(2100, 2, 28), 1);   /* not leap */
	CHECK_INT(ymd(2000, 3, 1) - ymd(2000, 2, 28), 2);   /* leap */
	CHECK_INT(ymd(2001, 1, 1) - ymd(1601, 1, 1), 146097);
}

static void test_round_trip(void)
{
	/* Every day from 0001-01-01 to 9999-12-31: back and forth, and each
	 * day follows the previous one in the calendar. */
	sdate first = ymd(1, 1, 1), last = ymd(9999, 12, 31);
	int py = 0, pm = 12, pd = 31, bad = 0;
	long days = 0;
	for (sdate day = first; day <= last; day++, days++) {
		int y, m, d;
		date_to_ymd(day, &y, &m, &d);
		if (!date_valid_ymd(y, m, d) || date_from_ymd(y, m, d) != day)
			bad++;
		bool next_day = y == py && m == pm && d == pd + 1;
		bool next_month = y == py && m == pm + 1 && d == 1;
		bool next_year = y == py + 1 && m == 1 && d == 1 && pm == 12 && pd == 31;
		if (!next_day && !next_month && !next_year)
			bad++;
		py = y;
		pm = m;
		pd = d;
	}
	CHECK_INT(bad, 0);
	/* 9999 years of 365 days and 2424 leap days (2499 - 99 + 24). */
	CHECK_INT(days, 9999L * 365 + 2424);
	CHECK_INT(py, 9999);

	char buf[11];
	sdate back = 0;
	for (sdate day = ymd(1900, 1, 1); day < ymd(2100, 1, 1); day += 37) {
		date_format(day, buf);
		if (!date_parse(buf, &back) || back != day)
			bad++;
	}
	CHECK_INT(bad, 0);
}

static void test_parse(void)
{
	sdate d = 12345;
	const char *bad[] = {
		"2023-02-29", "2024-13-01", "2024-1-01", "2024-01-1", "2024-00-10",
		"2024-01-00", "2024-01-32", "2023-04-31", "2024/01/01", "2024-01-01 ",
		" 2024-01-01", "+024-01-01", "0000-01-01", "20240101", "", "2024-01-0a",
		"2024--1-01",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (date_parse(bad[i], &d))
			fprintf(stderr, "accepted \"%s\"\n", bad[i]);
		CHECK(!date_parse(bad[i], &d));
	}
	CHECK(!date_parse(NULL, &d));
	CHECK_INT(d, 12345);                     /* untouched on failure */

	CHECK(date_parse("2024-02-29", &d));
	CHECK_INT(d, ymd(2024, 2, 29));
	CHECK(date_parse("2000-02-29", &d));
	CHECK(!date_parse("1900-02-29", &d));
	CHECK(date_parse("0001-01-01", &d));
	CHECK_INT(d, ymd(1, 1, 1));
	CHECK(date_parse("9999-12-31", &d));
	CHECK(date_parse_n("2024-02-29T10:00", 10, &d));
	CHECK_INT(d, ymd(2024, 2, 29));
	CHECK(!date_parse_n("2024-02-29", 9, &d));

	char buf[11];
	date_format(ymd(2024, 2, 29), buf);
	CHECK_STR(buf, "2024-02-29");
	date_format(ymd(7, 3, 9), buf);
	CHECK_STR(buf, "0007-03-09");
}

static void test_add_months(void)
{
	CHECK_INT(date_add_months(ymd(2024, 1, 31), 1), ymd(2024, 2, 29));
	CHECK_INT(date_add_months(ymd(2023, 1, 31), 1), ymd(2023, 2, 28));
	CHECK_INT(date_add_months(ymd(2024, 3, 31), -1), ymd(2024, 2, 29));
	CHECK_INT(date_add_months(ymd(2024, 5, 31), 1), ymd(2024, 6, 30));
	CHECK_INT(date_add_months(ymd(2024, 8, 31), 6), ymd(2025, 2, 28));
	CHECK_INT(date_add_months(ymd(2024, 2, 29), 12), ymd(2025, 2, 28));
	CHECK_INT(date_add_months(ymd(2024, 2, 29), 48), ymd(2028, 2, 29));
	CHECK_INT(date_add_months(ymd(2024, 12, 15), 1), ymd(2025, 1, 15));
	CHECK_INT(date_add_months(ymd(2024, 1, 15), -1), ymd(2023, 12, 15));
	CHECK_INT(date_add_months(ymd(2024, 1, 31), -13), ymd(2022, 12, 31));
	CHECK_INT(date_add_months(ymd(2024, 5, 1), 0), ymd(2024, 5, 1));
	CHECK_INT(date_add_months(ymd(2024, 5, 1), 18), ymd(2025, 11, 1));
	/* Clamping does not carry: Jan 31 + 1 + 1 is Mar 29, not Mar 31. */
	CHECK_INT(date_add_months(date_add_months(ymd(2024, 1, 31), 1), 1),
		  ymd(2024, 3, 29));
	CHECK_INT(date_add_months(ymd(2024, 1, 31), 2), ymd(2024, 3, 31));
}

static void test_age(void)
{
	sdate b = ymd(2004, 2, 29);
	CHECK_INT(date_age_years(b, ymd(2022, 2, 28)), 17);
	CHECK_INT(date_age_years(b, ymd(2022, 3, 1)), 18);
	CHECK_INT(date_age_years(b, ymd(2024, 2, 28)), 19);
	CHECK_INT(date_age_years(b, ymd(2024, 2, 29)), 20);
	CHECK_INT(date_age_years(b, b), 0);
	b = ymd(2000, 5, 15);
	CHECK_INT(date_age_years(b, ymd(2024, 5, 14)), 23);
	CHECK_INT(date_age_years(b, ymd(2024, 5, 15)), 24);
	CHECK_INT(date_age_years(b, ymd(2024, 12, 31)), 24);
	CHECK_INT(date_age_years(ymd(1999, 12, 31), ymd(2000, 1, 1)), 0);
	CHECK_INT(date_age_years(ymd(1999, 12, 31), ymd(2024, 12, 31)), 25);
}

int main(void)
{
	test_known_days();
	test_round_trip();
	test_parse();
	test_add_months();
	test_age();
	return unit_done("test_date");
}
