/*
 * table: aligned text columns for a terminal. Widths count what a terminal
 * shows (UTF-8 aware: "é" is one column, a CJK ideograph two, a combining
 * accent none), cells are cleaned of control characters so that nothing the
 * server sends can move the cursor or break a row.
 */
#ifndef SIAOCTL_TABLE_H
#define SIAOCTL_TABLE_H

#include <stddef.h>
#include <stdio.h>

struct table;

/* headers: ncols titles; a title starting with '>' is a right-aligned column
 * (numbers), the '>' not shown. headers NULL: no header row, all left. */
struct table *table_new(size_t ncols, const char *const *headers);
/* Appends the next cell, row by row; NULL shows as "-". */
void table_cell(struct table *t, const char *text);
void table_cellf(struct table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
size_t table_rows(const struct table *t);
/* Columns separated by two spaces, no trailing blanks. */
void table_print(const struct table *t, FILE *out);
void table_free(struct table *t);

/* Columns a terminal uses to show the UTF-8 text s (invalid bytes count one). */
size_t table_display_width(const char *s);
/* Replaces control characters (C0, DEL, C1) of s in place by spaces. */
void table_clean(char *s);

#endif
