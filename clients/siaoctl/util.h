/*
 * util: allocation wrappers with one failure policy (a message and exit 1),
 * so that callers never check for NULL, and a growable string.
 */
#ifndef SIAOCTL_UTIL_H
#define SIAOCTL_UTIL_H

#include <stdarg.h>
#include <stddef.h>

void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/* A growable NUL-terminated string; zero-initialise it. */
struct buf {
	char *s;
	size_t len, cap;
};
void buf_add(struct buf *b, const char *data, size_t len);
void buf_puts(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The text so far ("" when nothing was added); stays owned by b. */
const char *buf_text(const struct buf *b);
void buf_free(struct buf *b);

#endif
