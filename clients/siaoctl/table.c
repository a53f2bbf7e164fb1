/*
 * Aligned text tables, UTF-8 aware. Cells are copied and cleaned when added;
 * widths are measured when printed.
 */
#include "table.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

struct table {
	size_t ncols;
	bool header;
	bool *right;
	char **cells;           /* row-major; the header row first when there is one */
	size_t ncells, cap;
};

static void add_cell(struct table *t, char *owned);

struct table *table_new(size_t ncols, const char *const *headers)
{
	struct table *t = xcalloc(1, sizeof *t);
	t->ncols = ncols;
	t->right = xcalloc(ncols, sizeof *t->right);
	if (headers) {
		t->header = true;
		for (size_t i = 0; i < ncols; i++) {
			const char *h = headers[i];
			if (h[0] == '>') {
				t->right[i] = true;
				h++;
			}
			add_cell(t, xstrdup(h));
		}
	}
	return t;
}

static void add_cell(struct table *t, char *owned)
{
	if (t->ncells == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 64;
		t->cells = xrealloc(t->cells, t->cap * sizeof *t->cells);
	}
	table_clean(owned);
	t->cells[t->ncells++] = owned;
}

void table_cell(struct table *t, const char *text)
{
	add_cell(t, xstrdup(text ? text : "-"));
}

void table_cellf(struct table *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = xvasprintf(fmt, ap);
	va_end(ap);
	add_cell(t, s);
}

size_t table_rows(const struct table *t)
{
	size_t rows = (t->ncells + t->ncols - 1) / t->ncols;
	return t->header && rows > 0 ? rows - 1 : rows;
}

void table_print(const struct table *t, FILE *out)
{
	size_t *width = xcalloc(t->ncols, sizeof *width);
	for (size_t i = 0; i < t->ncells; i++) {
		size_t w = table_display_width(t->cells[i]);
		if (w > width[i % t->ncols])
			width[i % t->ncols] = w;
	}
	/* blanks are written only before text: no line ends with blanks */
	size_t blanks = 0;
	for (size_t i = 0; i < t->ncells; i++) {
		size_t col = i % t->ncols;
		size_t gap = width[col] - table_display_width(t->cells[i]);
		if (col > 0)
			blanks += 2;
		if (t->right[col])
			blanks += gap;
		if (t->cells[i][0]) {
			for (; blanks > 0; blanks--)
				fputc(' ', out);
			fputs(t->cells[i], out);
		}
		if (!t->right[col])
			blanks += gap;
		if (col == t->ncols - 1 || i == t->ncells - 1) {
			fputc('\n', out);
			blanks = 0;
		}
	}
	free(width);
}

void table_free(struct table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->ncells; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t->right);
	free(t);
}

/* Decodes one UTF-8 sequence at s; 0 when invalid (then one byte is skipped). */
static uint32_t decode(const unsigned char *s, size_t *len)
{
	uint32_t cp;
	size_t n;
	if (s[0] < 0x80) {
		*len = 1;
		return s[0];
	} else if ((s[0] & 0xE0) == 0xC0) {
		cp = s[0] & 0x1F;
		n = 2;
	} else if ((s[0] & 0xF0) == 0xE0) {
		cp = s[0] & 0x0F;
		n = 3;
	} else if ((s[0] & 0xF8) == 0xF0) {
		cp = s[0] & 0x07;
		n = 4;
	} else {
		*len = 1;
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80) {
			*len = 1;
			return 0;
		}
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	*len = n;
	return cp;
}

static bool in(uint32_t cp, uint32_t lo, uint32_t hi)
{
	return cp >= lo && cp <= hi;
}

static int cp_width(uint32_t cp)
{
	if (cp < 0x20 || in(cp, 0x7F, 0x9F))
		return 0;
	/* combining marks, zero-width spaces and joiners, variation selectors */
	if (in(cp, 0x0300, 0x036F) || in(cp, 0x1AB0, 0x1AFF) || in(cp, 0x1DC0, 0x1DFF) ||
	    in(cp, 0x20D0, 0x20FF) || in(cp, 0xFE20, 0xFE2F) || in(cp, 0x200B, 0x200F) ||
	    in(cp, 0xFE00, 0xFE0F) || cp == 0x2060 || cp == 0xFEFF)
		return 0;
	/* East Asian wide and fullwidth, emoji */
	if (in(cp, 0x1100, 0x115F) || in(cp, 0x2E80, 0x303E) || in(cp, 0x3041, 0x33FF) ||
	    in(cp, 0x3400, 0x4DBF) || in(cp, 0x4E00, 0x9FFF) || in(cp, 0xA000, 0xA4CF) ||
	    in(cp, 0xAC00, 0xD7A3) || in(cp, 0xF900, 0xFAFF) || in(cp, 0xFE30, 0xFE4F) ||
	    in(cp, 0xFF00, 0xFF60) || in(cp, 0xFFE0, 0xFFE6) || in(cp, 0x1F300, 0x1F64F) ||
	    in(cp, 0x1F900, 0x1F9FF) || in(cp, 0x20000, 0x3FFFD))
		return 2;
	return 1;
}

size_t table_display_width(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t w = 0;
	while (*p) {
		size_t len;
		uint32_t cp = decode(p, &len);
		w += (cp == 0 && len == 1) ? 1 : (size_t)cp_width(cp);
		p += len;
	}
	return w;
}

void table_clean(char *s)
{
	unsigned char *p = (unsigned char *)s;
	while (*p) {
		if (*p < 0x20 || *p == 0x7F) {
			*p++ = ' ';
		} else if (p[0] == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F) {
			/* a C1 control (U+0080..U+009F): two spaces keep the length */
			p[0] = p[1] = ' ';
			p += 2;
		} else {
			p++;
		}
	}
}
