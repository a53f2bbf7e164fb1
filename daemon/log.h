/*
 * Logging: one line per event on stderr, as key=value pairs, so operators can
 * grep and parse them. Callers pass the pairs already formatted
 * ("status=%d dur_ms=%.2f"); values that may contain spaces go through
 * log_quote(). Nothing personal, no tokens, no secrets (see README).
 */
#ifndef SIAOD_LOG_H
#define SIAOD_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_set_level(enum log_level level);
/* Whether a line of that level would be written (to skip building it). */
bool log_enabled(enum log_level level);
int  log_level_parse(const char *s, enum log_level *out);
void log_msg(enum log_level level, const char *event, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Copies s into buf as a log value: printable ASCII, quoted if it has spaces. */
const char *log_quote(const char *s, char *buf, size_t size);

#define log_debug(ev, ...) log_msg(LOG_DEBUG, ev, __VA_ARGS__)
#define log_info(ev, ...)  log_msg(LOG_INFO, ev, __VA_ARGS__)
#define log_warn(ev, ...)  log_msg(LOG_WARN, ev, __VA_ARGS__)
#define log_error(ev, ...) log_msg(LOG_ERROR, ev, __VA_ARGS__)

#endif
