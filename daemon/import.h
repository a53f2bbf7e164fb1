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
 * (sql/functions/imports.sql) and applies a clean file in one
 * transaction.
 */
#ifndef SIAOD_IMPORT_H
#define SIAOD_IMPORT_H

#include <stdbool.h>
#include <stddef.h>


enum import_kind { IMPORT_OFFERS, IMPORT_YOUTH, IMPORT_KIND_COUNT };

/* "offers" / "youth"; false for anything else. */
bool import_kind_parse(const char *s, enum import_kind *out);

#define IMPORT_MAX_COLS 32
/* Large files parsed or waiting for the import thread; more get 429. */
#define IMPORT_QUEUE_MAX 8

/*
 * What import_parse gives the database (import_offers / import_youth):
 *   cols[0]:     the rows' line numbers (the header is line 1, blank rows
 *                left out) as a PostgreSQL array literal, "{2,3,5}";
 *   cols[1 + i]: column i of this kind (import_column_key(kind, i)) as an
 *                array literal of the typed values, NULL for a blank or
 *                wrong cell: integers, numbers with a '.', t/f, dates
 *                AAAA-MM-JJ, the API's codes, strings quoted; a list
 *                (needs) is one string of codes separated by ',';
 *   errors:      JSON array of every error, the file's own (headers, row 1)
 *                first, then the rows' in row order;
 *   meta:        JSON {nrows, headers: {api_key: French header}, columns:
 *                [api_key...] (the order of cols), encoding: "utf-8" or
 *                "windows-1252", separator: ";" or ","}.
 * An error is {row, column (the template's header), pointer
 * ("/rows/<row>/<api_key>"), code, detail}.
 */
struct import_parsed {
	size_t nrows;
	size_t ncols;                       /* import_column_count(kind) + 1 */
	char *cols[IMPORT_MAX_COLS + 1];
	char *errors;
	char *meta;
};

/* Parses a CSV body into *out (the caller frees it with import_parsed_free);
 * false only when out of memory (then *out is empty). Thread-safe: it reads
 * only data and its own tables, so a worker thread may run it. */
bool import_parse(enum import_kind kind, const char *data, size_t len, struct import_parsed *out);
void import_parsed_free(struct import_parsed *out);

/* The template's header line: headers separated by ';' (no line end). */
void import_header_line(enum import_kind kind, char *buf, size_t len);

/* Column count and, for column i, its API key and French header. */
size_t import_column_count(enum import_kind kind);
const char *import_column_key(enum import_kind kind, size_t i);
const char *import_column_header(enum import_kind kind, size_t i);

#endif
