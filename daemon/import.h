/*
 * import: a spreadsheet saved as CSV (offers or the waiting list) into rows
 * of typed values, with every error a row, a column and the API's code.
 *
 * What French spreadsheets write is taken as it comes: ';' or ',' between
 * fields (the first line decides), UTF-8 with or without a byte order mark,
 * or Windows-1252 (any body that is not valid UTF-8), decimal commas, dates as
 * JJ/MM/AAAA or AAAA-MM-JJ, oui/non, and the French column headers of the
 * template (accents, case and punctuation ignored; the API's own field names
 * are accepted too). Fields are split by libcsv, never by hand.
 *
 * Pure: no I/O, no database. The database then checks what needs it
 * (communes, scope, existing records) in import_offers / import_youth
 * (sql/018_imports_freshness.sql) and applies a clean file in one
 * transaction.
 */
#ifndef SIAOD_IMPORT_H
#define SIAOD_IMPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

enum import_kind { IMPORT_OFFERS, IMPORT_YOUTH, IMPORT_KIND_COUNT };

/* "offers" / "youth"; false for anything else. */
bool import_kind_parse(const char *s, enum import_kind *out);

/*
 * Parses a CSV body. *rows_json gets the rows as JSON text (malloc'd, the
 * caller frees it): [{row, errors: [...], api_key: typed value...}], row
 * being the line of the file (the header is line 1), blank rows left out,
 * blank cells absent. Returns a new object, NULL only when out of memory:
 *   nrows:    how many rows;
 *   errors:   errors of the file itself (headers), row 1;
 *   headers:  {api_key: French header} of this kind (for the database's
 *             messages);
 *   encoding: "utf-8" or "windows-1252"; separator: ";" or ",".
 * An error is {row, column (the template's header), pointer
 * ("/rows/<row>/<api_key>"), code, detail}.
 */
json_t *import_parse(enum import_kind kind, const char *data, size_t len, char **rows_json);

/* The template's header line: headers separated by ';' (no line end). */
void import_header_line(enum import_kind kind, char *buf, size_t len);

/* Column count and, for column i, its API key and French header. */
size_t import_column_count(enum import_kind kind);
const char *import_column_key(enum import_kind kind, size_t i);
const char *import_column_header(enum import_kind kind, size_t i);

#endif
