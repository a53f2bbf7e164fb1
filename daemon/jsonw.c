/*
 * JSON text into a buffer (see jsonw.h).
 */
#include "jsonw.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void jsonw_reset(struct jsonw *w)
{
	w->len = 0;
	w->failed = false;
}

void jsonw_free(struct jsonw *w)
{
	free(w->buf);
	*w = (struct jsonw){0};
}

bool jsonw_failed(const struct jsonw *w)
{
	return w->failed;
}

/* Room for n more bytes; false (and failed) when out of memory. */
static bool room(struct jsonw *w, size_t n)
{
	if (w->failed)
		return false;
	if (w->cap - w->len >= n)
		return true;
	size_t cap = w->cap ? w->cap : 4096;
	while (cap - w->len < n) {
		if (cap > SIZE_MAX / 2) {
			w->failed = true;
			return false;
		}
		cap *= 2;
	}
	char *grown = realloc(w->buf, cap);
	if (!grown) {
		w->failed = true;
		return false;
	}
	w->buf = grown;
	w->cap = cap;
	return true;
}

void jsonw_raw(struct jsonw *w, const char *s, size_t n)
{
	if (!room(w, n))
		return;
	memcpy(w->buf + w->len, s, n);
	w->len += n;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if invalid:
 * no overlong forms, no surrogates, nothing above U+10FFFF. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len;
	uint32_t cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, cp = c & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* Whether none of the eight bytes of x needs care: each is printable
 * ASCII (0x20..0x7f) and neither '"' nor '\\'. */
static bool plain8(uint64_t x)
{
	const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
	uint64_t below = (x - ones * 0x20) & ~x;          /* a byte < 0x20 (or >= 0x80) */
	uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');
	uint64_t quote = (q - ones) & ~q, slash = (b - ones) & ~b;  /* a zero byte */
	return ((below | quote | slash | x) & highs) == 0;
}

void jsonw_str(struct jsonw *w, const char *str)
{
	if (!str) {
		jsonw_lit(w, "null");
		return;
	}
	const unsigned char *s = (const unsigned char *)str;
	size_t n = strlen(str);
	/* at worst 6 bytes out per byte in, and the quotes */
	if (!room(w, 6 * n + 2))
		return;
	char *o = w->buf + w->len;
	*o++ = '"';
	for (size_t i = 0; i < n;) {
		/* eight plain bytes at a time (most of a reply's text) */
		while (i + 8 <= n) {
			uint64_t x;
			memcpy(&x, s + i, 8);
			if (!plain8(x))
				break;
			memcpy(o, &x, 8);
			o += 8;
			i += 8;
		}
		if (i >= n)
			break;
		unsigned c = s[i];
		if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
			*o++ = (char)c;
			i++;
			continue;
		}
		if (c >= 0x80) {
			size_t len = utf8_len(s + i, n - i);
			if (len) {
				memcpy(o, s + i, len);
				o += len;
				i += len;
			} else {
				*o++ = (char)0xef;   /* U+FFFD */
				*o++ = (char)0xbf;
				*o++ = (char)0xbd;
				i++;
			}
			continue;
		}
		*o++ = '\\';
		switch (c) {
		case '"': *o++ = '"'; break;
		case '\\': *o++ = '\\'; break;
		case '\b': *o++ = 'b'; break;
		case '\f': *o++ = 'f'; break;
		case '\n': *o++ = 'n'; break;
		case '\r': *o++ = 'r'; break;
		case '\t': *o++ = 't'; break;
		default: {
			static const char hex[] = "0123456789ABCDEF";
			*o++ = 'u';
			*o++ = '0';
			*o++ = '0';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
		}
		i++;
	}
	*o++ = '"';
	w->len = (size_t)(o - w->buf);
}

void jsonw_int(struct jsonw *w, long long v)
{
	char tmp[24], *e = tmp + sizeof tmp, *p = e;
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
	do
		*--p = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (v < 0)
		*--p = '-';
	jsonw_raw(w, p, (size_t)(e - p));
}

/* The general path: into buf (40 bytes), *len its length; false when
 * snprintf fails. */
static bool real_text(double v, char *buf, size_t *out_len)
{
	int n = snprintf(buf, 40 - 2, "%.17g", v);
	if (n < 0 || (size_t)n >= 40 - 2)
		return false;
	size_t len = (size_t)n;
	char *e = strchr(buf, 'e');
	if (!e && !strchr(buf, '.')) {
		buf[len++] = '.';
		buf[len++] = '0';
		buf[len] = 0;
	}
	if (e) {
		/* "1e+20" -> "1e20", "1e-05" -> "1e-5" */
		char *start = e + 1, *end = e + 2;
		if (*start == '-')
			start++;
		while (*end == '0')
			end++;
		if (end != start) {
			memmove(start, end, len - (size_t)(end - buf) + 1);
			len -= (size_t)(end - start);
		}
	}
	*out_len = len;
	return true;
}

/* Distances are whole tenths of a km, (double)t / 10: the text of the
 * first TENTHS_KEPT of them is worked out once, by the general path, and
 * copied (printf's %.17g was a tenth of a reply's cost). */
#define TENTHS_KEPT 4096
static struct {
	unsigned char len;
	char s[39];
} tenths_text[TENTHS_KEPT];
static pthread_once_t tenths_once = PTHREAD_ONCE_INIT;

static void tenths_fill(void)
{
	for (int t = 0; t < TENTHS_KEPT; t++) {
		char buf[40];
		size_t len;
		if (!real_text((double)t / 10, buf, &len))
			len = 0;    /* never: the general path will say it */
		memcpy(tenths_text[t].s, buf, len);
		tenths_text[t].len = (unsigned char)len;
	}
}

void jsonw_real(struct jsonw *w, double v)
{
	if (!isfinite(v)) {
		jsonw_lit(w, "null");
		return;
	}
	if (v >= 0 && v < TENTHS_KEPT / 10.0 && !signbit(v)) {
		long t = lround(v * 10);
		if (t >= 0 && t < TENTHS_KEPT && (double)t / 10 == v &&
		    pthread_once(&tenths_once, tenths_fill) == 0 && tenths_text[t].len) {
			jsonw_raw(w, tenths_text[t].s, tenths_text[t].len);
			return;
		}
	}
	char buf[40];
	size_t len;
	if (!real_text(v, buf, &len)) {
		w->failed = true;
		return;
	}
	jsonw_raw(w, buf, len);
}

void jsonw_bool(struct jsonw *w, bool v)
{
	if (v)
		jsonw_lit(w, "true");
	else
		jsonw_lit(w, "false");
}
