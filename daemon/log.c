/*
 * key=value log lines on stderr (see log.h).
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static enum log_level min_level = LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(enum log_level level)
{
	min_level = level;
}

bool log_enabled(enum log_level level)
{
	return level >= min_level;
}

int log_level_parse(const char *s, enum log_level *out)
{
	for (size_t i = 0; i < sizeof level_names / sizeof *level_names; i++)
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	return -1;
}

void log_msg(enum log_level level, const char *event, const char *fmt, ...)
{
	if (level < min_level)
		return;
	struct timeval tv;
	struct tm tm;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);

	/* One fprintf per line keeps lines whole when several processes share stderr. */
	char line[2048];
	int n = snprintf(line, sizeof line, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s event=%s ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
			 tm.tm_min, tm.tm_sec, (long)tv.tv_usec / 1000, level_names[level], event);
	if (n > 0 && (size_t)n < sizeof line) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
		va_end(ap);
	}
	fprintf(stderr, "%s\n", line);
}

const char *log_quote(const char *s, char *buf, size_t size)
{
	size_t j = 0;
	int quote = s[0] == '\0' || strpbrk(s, " \"=") != NULL;
	if (quote && j + 1 < size)
		buf[j++] = '"';
	for (; *s && j + 2 < size; s++) {
		unsigned char c = (unsigned char)*s;
		if (c >= 0x20 && c < 0x7f && c != '"')
			buf[j++] = *s;
		else
			buf[j++] = '?';
	}
	if (quote && j + 1 < size)
		buf[j++] = '"';
	buf[j] = '\0';
	return buf;
}
