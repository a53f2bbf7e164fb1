/*
 * import: the CSV side of imports — encodings, separators, the BOM, header
 * folding, each cell type and its error code — on hand-written files whose
 * expected values are written out here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "import.h"
#include "unit.h"

/* The elements of a PostgreSQL array literal as written by import_parse
 * ("{2,NULL,\"a \\\"b\\\"\"}"), read here by array_in's rules: a JSON
 * array of strings, null for NULL; quoted[i] says whether it was quoted. */
static json_t *array_elements(const char *lit, json_t *quoted)
{
	json_t *out = json_array();
	CHECK(lit[0] == '{');
	const char *s = lit + 1;
	while (*s && *s != '}') {
		char buf[512];
		size_t n = 0;
		bool q = *s == '"';
		if (q) {
			for (s++; *s && *s != '"'; s++) {
				if (*s == '\\')
					s++;
				if (n + 1 < sizeof buf)
					buf[n++] = *s;
			}
			s++;
		} else {
			while (*s && *s != ',' && *s != '}' && n + 1 < sizeof buf)
				buf[n++] = *s++;
		}
		buf[n] = '\0';
		json_array_append_new(out, !q && strcmp(buf, "NULL") == 0 ? json_null() : json_string(buf));
		json_array_append_new(quoted, json_boolean(q));
		if (*s == ',')
			s++;
	}
	CHECK(*s == '}');
	return out;
}

/* One element as the API's JSON value: quoted strings stay strings (needs:
 * split at ','), t/f booleans, numbers numbers, the rest (codes, dates) strings. */
static json_t *typed(const char *key, const char *v, bool quoted)
{
	if (quoted && strcmp(key, "needs") == 0) {
		json_t *a = json_array();
		char buf[256];
		snprintf(buf, sizeof buf, "%s", v);
		char *save = NULL;
		for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
			json_array_append_new(a, json_string(t));
		return a;
	}
	if (quoted || strcmp(key, "departement") == 0)     /* "09": text, unquoted */
		return json_string(v);
	if (strcmp(v, "t") == 0 || strcmp(v, "f") == 0)
		return json_boolean(v[0] == 't');
	char *end;
	if (strspn(v, "-0123456789.") == strlen(v) && strchr(v, '-') == NULL) {
		if (strchr(v, '.'))
			return json_real(strtod(v, &end));
		return json_integer(strtoll(v, &end, 10));
	}
	return json_string(v);
}

/* The result as {encoding, separator, errors (the file's), rows: [{row,
 * errors, key: value...}]}, rebuilt from the columns and the error list. */
static json_t *parse(enum import_kind k, const char *text)
{
	struct import_parsed p;
	CHECK(import_parse(k, text, strlen(text), &p));
	json_t *meta = json_loads(p.meta, 0, NULL), *errors = json_loads(p.errors, 0, NULL);
	CHECK(meta && errors);
	CHECK_INT(p.ncols, import_column_count(k) + 1);
	json_t *q = json_array();
	json_t *lines = array_elements(p.cols[0], q);
	CHECK_INT(json_array_size(lines), json_integer_value(json_object_get(meta, "nrows")));
	json_t *rows = json_array();
	for (size_t i = 0; i < json_array_size(lines); i++)
		json_array_append_new(rows, json_pack("{s:I, s:[]}", "row",
			(json_int_t)strtoll(json_string_value(json_array_get(lines, i)), NULL, 10), "errors"));
	for (size_t c = 0; c < import_column_count(k); c++) {
		const char *key = import_column_key(k, c);
		CHECK_STR(json_string_value(json_array_get(json_object_get(meta, "columns"), c)), key);
		json_t *quoted = json_array();
		json_t *col = array_elements(p.cols[c + 1], quoted);
		CHECK_INT(json_array_size(col), json_array_size(lines));
		for (size_t i = 0; i < json_array_size(col); i++)
			if (!json_is_null(json_array_get(col, i)))
				json_object_set_new(json_array_get(rows, i), key,
					typed(key, json_string_value(json_array_get(col, i)),
					      json_is_true(json_array_get(quoted, i))));
		json_decref(col);
		json_decref(quoted);
	}
	json_t *file = json_array();
	size_t i;
	json_t *e;
	json_array_foreach(errors, i, e) {
		json_int_t row = json_integer_value(json_object_get(e, "row"));
		json_t *target = file;
		for (size_t r = 0; r < json_array_size(rows); r++)
			if (json_integer_value(json_object_get(json_array_get(rows, r), "row")) == row)
				target = json_object_get(json_array_get(rows, r), "errors");
		json_array_append(target, e);
	}
	json_t *res = json_pack("{s:O, s:O, s:o, s:o}", "encoding", json_object_get(meta, "encoding"),
				"separator", json_object_get(meta, "separator"), "errors", file, "rows", rows);
	json_decref(meta);
	json_decref(errors);
	json_decref(lines);
	json_decref(q);
	import_parsed_free(&p);
	return res;
}

static const json_t *values(const json_t *res, size_t i)
{
	return json_array_get(json_object_get(res, "rows"), i);   /* flat: the row's values */
}

static const char *sval(const json_t *v, const char *key)
{
	return json_string_value(json_object_get(v, key));
}

/* "column code" of the only error of row i, or "ok" / "<n> errors". */
static const char *row_error(const json_t *res, size_t i)
{
	static char out[160];
	const json_t *e = json_object_get(json_array_get(json_object_get(res, "rows"), i), "errors");
	if (json_array_size(e) == 0)
		return "ok";
	if (json_array_size(e) > 1) {
		snprintf(out, sizeof out, "%zu errors", json_array_size(e));
		return out;
	}
	snprintf(out, sizeof out, "%s %s", sval(json_array_get(e, 0), "column"),
		 sval(json_array_get(e, 0), "code"));
	return out;
}

static void test_encodings_and_separators(void)
{
	/* UTF-8 with a BOM, ';' */
	json_t *r = parse(IMPORT_OFFERS, "\xEF\xBB\xBF" "Code offre;Type;Libellé;Commune;Capacité\r\n"
				       "A1;iml;Résidence été;Sète;3\r\n");
	CHECK_STR(sval(r, "encoding"), "utf-8");
	CHECK_STR(sval(r, "separator"), ";");
	CHECK_INT(json_array_size(json_object_get(r, "errors")), 0);
	CHECK_STR(sval(values(r, 0), "label"), "Résidence été");
	CHECK_STR(sval(values(r, 0), "commune"), "Sète");
	CHECK_INT(json_integer_value(json_object_get(values(r, 0), "capacity")), 3);
	json_decref(r);
	/* Windows-1252, ',' with a quoted comma; headers in any case, no accents */
	r = parse(IMPORT_OFFERS, "code offre,TYPE,Libelle,commune,capacite,Charge mensuelle\n"
				 "A2,colocation,\"F4, centre \xE9t\xE9 \x80\",S\xE8te,4,\"1 234,50\"\n");
	CHECK_STR(sval(r, "encoding"), "windows-1252");
	CHECK_STR(sval(r, "separator"), ",");
	CHECK_INT(json_array_size(json_object_get(r, "errors")), 0);
	CHECK_STR(sval(values(r, 0), "label"), "F4, centre été €");
	CHECK_STR(sval(values(r, 0), "commune"), "Sète");
	CHECK_STR(sval(values(r, 0), "kind"), "shared_flat");
	CHECK(json_real_value(json_object_get(values(r, 0), "monthly_charge_eur")) == 1234.5);
	json_decref(r);
	/* quotes and backslashes survive the array literal; NULL as a label is a string */
	r = parse(IMPORT_OFFERS, "Code offre;Type;Libellé;Commune;Capacité\n"
				 "A3;iml;\"Le \"\"grand\"\" \\ {studio}, 1\";NULL;2\n");
	CHECK_INT(json_array_size(json_object_get(r, "errors")), 0);
	CHECK_STR(sval(values(r, 0), "label"), "Le \"grand\" \\ {studio}, 1");
	CHECK_STR(sval(values(r, 0), "commune"), "NULL");
	json_decref(r);
}

static void test_cells(void)
{
	json_t *r = parse(IMPORT_OFFERS,
		"Code offre;Type;Libellé;Commune;Capacité;Couples;Disponible à partir du;Statut;Âge max\n"
		"B1;fjt;L;X;2;oui;15/03/2026;fermée;25\n"          /* ok */
		"B2;fjt;;X;2;;;;\n"                                /* label required */
		"B3;fjt;L;X;2,5;;;;\n"                             /* capacity not an integer */
		"B4;fjt;L;X;1001;;;;\n"                            /* capacity out of range */
		"B5;manoir;L;X;2;;;;\n"                            /* kind unknown */
		"B6;fjt;L;X;2;peut-être;;;\n"                      /* not oui/non */
		"B7;fjt;L;X;2;;30/02/2026;;\n"                     /* no such day */
		"B8;fjt;L;X;2;;2026-03-15;;31\n"                   /* ISO date ok; age above 29 */
		";;;;\n"                                           /* blank: skipped */
		"B9;fjt;L;X;2;non;;ouverte;;extra\n");             /* a cell beyond the header */
	CHECK_INT(json_array_size(json_object_get(r, "rows")), 9);
	CHECK_STR(row_error(r, 0), "ok");
	CHECK(json_is_true(json_object_get(values(r, 0), "accepts_couples")));
	CHECK_STR(sval(values(r, 0), "available_from"), "2026-03-15");
	CHECK_STR(sval(values(r, 0), "status"), "closed");
	CHECK_STR(row_error(r, 1), "Libellé required");
	CHECK_STR(row_error(r, 2), "Capacité wrong_type");
	CHECK_STR(row_error(r, 3), "Capacité out_of_range");
	CHECK_STR(row_error(r, 4), "Type unknown_value");
	CHECK_STR(row_error(r, 5), "Couples wrong_type");
	CHECK_STR(row_error(r, 6), "Disponible à partir du wrong_type");
	CHECK_STR(row_error(r, 7), "Âge max out_of_range");
	CHECK_STR(row_error(r, 8), " unknown_field");
	/* row numbers are the file's lines: the blank line 10 is skipped */
	CHECK_INT(json_integer_value(json_object_get(json_array_get(json_object_get(r, "rows"), 8), "row")), 11);
	json_decref(r);
}

static void test_headers_and_youth(void)
{
	json_t *r = parse(IMPORT_OFFERS, "Code offre;Libellé;Couleur;Libellé\nX;Y;bleu;Z\n");
	const json_t *e = json_object_get(r, "errors");
	/* unknown Couleur, duplicate Libellé, missing Type, Commune, Capacité */
	CHECK_INT(json_array_size(e), 5);
	CHECK_STR(sval(json_array_get(e, 0), "code"), "unknown_field");
	CHECK_STR(sval(json_array_get(e, 1), "code"), "duplicate");
	json_decref(r);
	r = parse(IMPORT_YOUTH, "Référence;Département;Date de naissance;Genre;Situation;Besoins\n"
				"Y1;9;01/02/2005;F;Hébergement d'urgence;\"Fauteuil | santé mentale, fauteuil\"\n"
				"Y2;20;01/02/2005;f;rue;\n");
	CHECK_STR(row_error(r, 0), "ok");
	CHECK_STR(sval(values(r, 0), "departement"), "09");
	CHECK_STR(sval(values(r, 0), "gender"), "female");
	CHECK_STR(sval(values(r, 0), "situation"), "emergency_shelter");
	const json_t *needs = json_object_get(values(r, 0), "needs");
	CHECK_INT(json_array_size(needs), 2);
	CHECK_STR(json_string_value(json_array_get(needs, 0)), "wheelchair");
	CHECK_STR(json_string_value(json_array_get(needs, 1)), "mental_health");
	CHECK_STR(row_error(r, 1), "Département unknown_value");
	json_decref(r);
	r = parse(IMPORT_YOUTH, "");
	CHECK_INT(json_array_size(json_object_get(r, "errors")), 1);
	json_decref(r);
}

int main(void)
{
	test_encodings_and_separators();
	test_cells();
	test_headers_and_youth();
	return unit_done("test_import");
}
