/*
 * Spreadsheet rows into typed values (see import.h). libcsv splits the
 * fields; this file decides the encoding and the separator, maps the
 * headers to columns and turns each cell into the JSON value the API takes.
 */
#include "import.h"

#include <csv.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "siaod/date.h"

enum ctype { C_STR, C_INT, C_NUM, C_BOOL, C_DATE, C_ENUM, C_LIST, C_DEP };

/* A French word (folded) that stands for a code. */
struct alias {
	const char *word, *code;
};

struct column {
	const char *key;            /* the API's field */
	const char *header;         /* the template's French header */
	enum ctype type;
	bool required;
	long long min, max;         /* C_INT, C_NUM; C_STR: length */
	const struct alias *aliases;    /* C_ENUM, C_LIST: NULL-terminated */
};

static const struct alias kinds[] = {
	{"iml", "iml"}, {"intermediation_locative", "iml"}, {"alt", "alt"},
	{"studio_tiroir", "studio_tiroir"}, {"fjt", "fjt"}, {"foyer_de_jeunes_travailleurs", "fjt"},
	{"shared_flat", "shared_flat"}, {"colocation", "shared_flat"},
	{"logement_partage", "shared_flat"}, {NULL, NULL}};
static const struct alias offer_genders[] = {
	{"any", "any"}, {"mixte", "any"}, {"tous", "any"}, {"female", "female"},
	{"femmes", "female"}, {"femme", "female"}, {"male", "male"}, {"hommes", "male"},
	{"homme", "male"}, {NULL, NULL}};
static const struct alias levels[] = {
	{"light", "light"}, {"leger", "light"}, {"standard", "standard"},
	{"intensive", "intensive"}, {"intensif", "intensive"}, {NULL, NULL}};
static const struct alias statuses[] = {
	{"open", "open"}, {"ouverte", "open"}, {"ouvert", "open"}, {"closed", "closed"},
	{"fermee", "closed"}, {"ferme", "closed"}, {NULL, NULL}};
static const struct alias genders[] = {
	{"female", "female"}, {"femme", "female"}, {"f", "female"}, {"male", "male"},
	{"homme", "male"}, {"h", "male"}, {"m", "male"}, {"other", "other"}, {"autre", "other"},
	{NULL, NULL}};
static const struct alias households[] = {
	{"alone", "alone"}, {"seul", "alone"}, {"seule", "alone"}, {"couple", "couple"},
	{"with_children", "with_children"}, {"avec_enfants", "with_children"},
	{"avec_enfant", "with_children"}, {NULL, NULL}};
static const struct alias needs[] = {
	{"wheelchair", "wheelchair"}, {"fauteuil", "wheelchair"}, {"fauteuil_roulant", "wheelchair"},
	{"mental_health", "mental_health"}, {"sante_mentale", "mental_health"},
	{"addiction", "addiction"}, {"addictions", "addiction"},
	{"justice_followup", "justice_followup"}, {"suivi_justice", "justice_followup"},
	{"suivi_judiciaire", "justice_followup"}, {"pregnancy", "pregnancy"},
	{"grossesse", "pregnancy"}, {NULL, NULL}};
static const struct alias situations[] = {
	{"street", "street"}, {"rue", "street"}, {"emergency_shelter", "emergency_shelter"},
	{"hebergement_d_urgence", "emergency_shelter"}, {"urgence", "emergency_shelter"},
	{"precarious", "precarious"}, {"precaire", "precarious"},
	{"hebergement_precaire", "precarious"}, {"institution_exit", "institution_exit"},
	{"sortie_d_institution", "institution_exit"}, {"sortie_institution", "institution_exit"},
	{"family_breakdown", "family_breakdown"}, {"rupture_familiale", "family_breakdown"},
	{NULL, NULL}};

static const struct column offer_columns[] = {
	{"id", "Identifiant siaod", C_INT, false, 1, INT64_MAX, NULL},
	{"external_ref", "Code offre", C_STR, false, 1, 64, NULL},
	{"porteur_id", "Porteur", C_INT, false, 1, INT64_MAX, NULL},
	{"kind", "Type", C_ENUM, true, 0, 0, kinds},
	{"label", "Libellé", C_STR, true, 1, 200, NULL},
	{"commune", "Commune", C_STR, true, 1, 100, NULL},
	{"departement", "Département", C_DEP, false, 0, 0, NULL},
	{"capacity", "Capacité", C_INT, true, 0, 1000, NULL},
	{"max_stay_days", "Durée max (jours)", C_INT, false, 1, 3650, NULL},
	{"min_age", "Âge min", C_INT, false, 16, 29, NULL},
	{"max_age", "Âge max", C_INT, false, 16, 29, NULL},
	{"gender", "Public", C_ENUM, false, 0, 0, offer_genders},
	{"accepts_couples", "Couples", C_BOOL, false, 0, 0, NULL},
	{"accepts_children", "Enfants", C_BOOL, false, 0, 0, NULL},
	{"accepts_pets", "Animaux", C_BOOL, false, 0, 0, NULL},
	{"wheelchair_accessible", "Accès fauteuil", C_BOOL, false, 0, 0, NULL},
	{"support_level", "Accompagnement", C_ENUM, false, 0, 0, levels},
	{"monthly_charge_eur", "Charge mensuelle (€)", C_NUM, false, 0, 5000, NULL},
	{"available_from", "Disponible à partir du", C_DATE, false, 0, 0, NULL},
	{"available_until", "Disponible jusqu'au", C_DATE, false, 0, 0, NULL},
	{"status", "Statut", C_ENUM, false, 0, 0, statuses},
};

static const struct column youth_columns[] = {
	{"ref", "Référence", C_STR, true, 1, 64, NULL},
	{"departement", "Département", C_DEP, true, 0, 0, NULL},
	{"birth_date", "Date de naissance", C_DATE, true, 0, 0, NULL},
	{"rqth", "RQTH", C_BOOL, false, 0, 0, NULL},
	{"gender", "Genre", C_ENUM, true, 0, 0, genders},
	{"household", "Ménage", C_ENUM, false, 0, 0, households},
	{"has_pets", "Animaux", C_BOOL, false, 0, 0, NULL},
	{"needs", "Besoins", C_LIST, false, 0, 0, needs},
	{"situation", "Situation", C_ENUM, true, 0, 0, situations},
	{"institution_exit_date", "Date de sortie d'institution", C_DATE, false, 0, 0, NULL},
	{"commune", "Commune souhaitée", C_STR, false, 1, 100, NULL},
	{"max_distance_km", "Distance max (km)", C_INT, false, 1, 1000, NULL},
	{"monthly_income_eur", "Ressources mensuelles (€)", C_NUM, false, 0, 10000, NULL},
	{"support_need", "Besoin d'accompagnement", C_ENUM, false, 0, 0, levels},
	{"wanted_from", "Souhaité à partir du", C_DATE, false, 0, 0, NULL},
	{"wanted_months", "Durée souhaitée (mois)", C_INT, false, 1, 60, NULL},
	{"registered_at", "Inscrit le", C_DATE, false, 0, 0, NULL},
};

#define NCOLS(a) (sizeof(a) / sizeof *(a))
#define MAX_COLS IMPORT_MAX_COLS

static const struct column *columns_of(enum import_kind kind, size_t *n)
{
	if (kind == IMPORT_OFFERS) {
		*n = NCOLS(offer_columns);
		return offer_columns;
	}
	*n = NCOLS(youth_columns);
	return youth_columns;
}

bool import_kind_parse(const char *s, enum import_kind *out)
{
	if (s && strcmp(s, "offers") == 0)
		*out = IMPORT_OFFERS;
	else if (s && strcmp(s, "youth") == 0)
		*out = IMPORT_YOUTH;
	else
		return false;
	return true;
}

size_t import_column_count(enum import_kind kind)
{
	size_t n;
	columns_of(kind, &n);
	return n;
}

const char *import_column_key(enum import_kind kind, size_t i)
{
	size_t n;
	const struct column *c = columns_of(kind, &n);
	return i < n ? c[i].key : NULL;
}

const char *import_column_header(enum import_kind kind, size_t i)
{
	size_t n;
	const struct column *c = columns_of(kind, &n);
	return i < n ? c[i].header : NULL;
}

void import_header_line(enum import_kind kind, char *buf, size_t len)
{
	size_t n, used = 0;
	const struct column *c = columns_of(kind, &n);
	buf[0] = '\0';
	for (size_t i = 0; i < n && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ";" : "", c[i].header);
}

/* ---------------------------------------------------------------- encoding */

static bool valid_utf8(const unsigned char *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		unsigned char c = s[i];
		size_t n = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2
			 : (c & 0xF8) == 0xF0 ? 3 : 9;
		if (n == 9 || (n == 1 && c < 0xC2) || i + n >= len + (n ? 0 : 1))
			return false;
		for (size_t k = 1; k <= n; k++)
			if ((s[i + k] & 0xC0) != 0x80)
				return false;
		i += n + 1;
	}
	return true;
}

/* Windows-1252's 0x80-0x9F; 0xA0-0xFF are Latin-1, the code points themselves. */
static const uint16_t cp1252_high[32] = {
	0x20AC, 0x81, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
	0x2039, 0x0152, 0x8D, 0x017D, 0x8F, 0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
	0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D, 0x017E, 0x0178};

static char *cp1252_to_utf8(const unsigned char *s, size_t len, size_t *outlen)
{
	char *out = malloc(len * 3 + 1);
	if (!out)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned cp = s[i] < 0x80 ? s[i] : s[i] < 0xA0 ? cp1252_high[s[i] - 0x80] : s[i];
		if (cp < 0x80) {
			out[o++] = (char)cp;
		} else if (cp < 0x800) {
			out[o++] = (char)(0xC0 | cp >> 6);
			out[o++] = (char)(0x80 | (cp & 0x3F));
		} else {
			out[o++] = (char)(0xE0 | cp >> 12);
			out[o++] = (char)(0x80 | ((cp >> 6) & 0x3F));
			out[o++] = (char)(0x80 | (cp & 0x3F));
		}
	}
	out[o] = '\0';
	*outlen = o;
	return out;
}

/* ---------------------------------------------------------------- folding */

/* Lower case, accents off (the Latin letters French uses), every run of
 * other characters one '_', none at the ends: "Durée max (jours)" and
 * "duree_max_jours" are the same header, "Hébergement d'urgence" and
 * "hebergement_d_urgence" the same word. */
static void fold(const char *s, char *out, size_t outlen)
{
	static const struct { const char *utf8; char ascii; } acc[] = {
		{"à", 'a'}, {"â", 'a'}, {"ä", 'a'}, {"À", 'a'}, {"Â", 'a'}, {"Ä", 'a'},
		{"ç", 'c'}, {"Ç", 'c'}, {"é", 'e'}, {"è", 'e'}, {"ê", 'e'}, {"ë", 'e'},
		{"É", 'e'}, {"È", 'e'}, {"Ê", 'e'}, {"Ë", 'e'}, {"î", 'i'}, {"ï", 'i'},
		{"Î", 'i'}, {"Ï", 'i'}, {"ô", 'o'}, {"ö", 'o'}, {"Ô", 'o'}, {"Ö", 'o'},
		{"ù", 'u'}, {"û", 'u'}, {"ü", 'u'}, {"Ù", 'u'}, {"Û", 'u'}, {"Ü", 'u'},
		{"ÿ", 'y'}, {"Ÿ", 'y'}, {"œ", 'o'}, {"Œ", 'o'}};
	size_t o = 0;
	bool gap = false;
	while (*s && o + 2 < outlen) {
		char c = 0;
		size_t adv = 1;
		unsigned char u = (unsigned char)*s;
		if ((u >= 'a' && u <= 'z') || (u >= '0' && u <= '9'))
			c = (char)u;
		else if (u >= 'A' && u <= 'Z')
			c = (char)(u - 'A' + 'a');
		else if (u >= 0x80) {
			adv = (u & 0xE0) == 0xC0 ? 2 : (u & 0xF0) == 0xE0 ? 3 : (u & 0xF8) == 0xF0 ? 4 : 1;
			for (size_t k = 0; k < sizeof acc / sizeof *acc; k++)
				if (strncmp(s, acc[k].utf8, strlen(acc[k].utf8)) == 0) {
					c = acc[k].ascii;
					break;
				}
			for (size_t k = 1; k < adv; k++)
				if (!s[k]) {
					adv = k;
					break;
				}
		}
		if (c) {
			if (gap && o > 0)
				out[o++] = '_';
			gap = false;
			out[o++] = c;
		} else {
			gap = true;
		}
		s += adv;
	}
	out[o] = '\0';
}

/* ---------------------------------------------------------------- output */

/* The rows go to the database column by column, each column one
 * PostgreSQL array literal written as the cells are read: the server reads
 * typed arrays (unnest) several times faster than the same rows as JSON
 * objects (json_to_recordset), and nothing per row is allocated here. */
struct sbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 1 << 16;
		while (b->len + n + 1 > cap)
			cap *= 2;
		char *np = realloc(b->p, cap);
		if (!np) {
			b->oom = true;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_puts(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

/* An element of a PostgreSQL array literal: a quoted string, backslash
 * before quotes and backslashes (array_in's rules). */
static void sb_array_str(struct sbuf *b, const char *s)
{
	sb_add(b, "\"", 1);
	const char *run = s;
	for (; *s; s++) {
		if (*s != '"' && *s != '\\')
			continue;
		sb_add(b, run, (size_t)(s - run));
		sb_add(b, "\\", 1);
		run = s;
	}
	sb_add(b, run, (size_t)(s - run));
	sb_add(b, "\"", 1);
}

/* ---------------------------------------------------------------- cells */

struct parse {
	enum import_kind kind;
	const struct column *cols;
	size_t ncols;
	int map[MAX_COLS * 2];      /* file column -> index in cols, -1 ignored */
	size_t nfile;               /* columns in the file's header */
	size_t line;                /* current record's number, header = 1 */
	struct sbuf cell;           /* current record's cells, each '\0'-terminated */
	size_t *offs;               /* where each cell starts in `cell` */
	char **cellv;               /* the cells, pointed at once the record is whole */
	size_t ncells, capcells;
	bool oom;
	size_t nrows;
	struct sbuf lines;          /* "{2,3,..." the rows' line numbers */
	struct sbuf out[MAX_COLS];  /* "{v,NULL,..." one array literal per column */
	json_t *file_errors;        /* row 1: the header */
	json_t *errors;             /* the rows', in row order */
};

static void add_error(json_t *errors, size_t row, const struct column *c, const char *code,
		      const char *detail)
{
	char ptr[96];
	snprintf(ptr, sizeof ptr, "/rows/%zu/%s", row, c ? c->key : "");
	json_array_append_new(errors, json_pack("{s:I, s:s, s:s, s:s, s:s}", "row", (json_int_t)row,
		"column", c ? c->header : "", "pointer", ptr, "code", code, "detail", detail));
}

/* Digits with spaces between thousands and a decimal comma or point. */
static bool parse_number(const char *s, double *out, bool integer)
{
	char buf[64];
	size_t o = 0;
	for (; *s && o + 1 < sizeof buf; s++) {
		unsigned char u = (unsigned char)*s;
		if (u == ' ')
			continue;
		if (u == 0xC2 && (unsigned char)s[1] == 0xA0) {     /* no-break space */
			s++;
			continue;
		}
		if (u == 0xE2 && (unsigned char)s[1] == 0x80 && (unsigned char)s[2] == 0xAF) {
			s += 2;                                         /* narrow no-break space */
			continue;
		}
		buf[o++] = *s;
		if (u == ',')
			buf[o - 1] = '.';
	}
	if (*s || o == 0)
		return false;
	buf[o] = '\0';
	for (size_t i = 0; i < o; i++)
		if (!((buf[i] >= '0' && buf[i] <= '9') || buf[i] == '.' || (i == 0 && buf[i] == '-')))
			return false;
	char *end;
	errno = 0;
	double v = strtod(buf, &end);
	if (errno || *end || (integer && v != (double)(long long)v))
		return false;
	*out = v;
	return true;
}

/* One number of 1 to maxdigits digits, then sep (or the end when sep is 0). */
static bool day_part(const char **s, int maxdigits, char sep, long *out)
{
	const char *p = *s;
	if (*p < '0' || *p > '9')
		return false;
	char *end;
	*out = strtol(p, &end, 10);
	if (end - p > maxdigits || *end != sep)
		return false;
	*s = sep ? end + 1 : end;
	return true;
}

/* JJ/MM/AAAA: day and month of one or two digits, a four-digit year. */
static bool french_day(const char *s, long *d, long *m, long *y)
{
	return day_part(&s, 2, '/', d) && day_part(&s, 2, '/', m) && day_part(&s, 4, '\0', y) &&
	       *y >= 1000;
}

/* JJ/MM/AAAA (what a French spreadsheet shows) or AAAA-MM-JJ. */
static bool parse_day(const char *s, char iso[11])
{
	long d, m, y;
	sdate day;
	if (french_day(s, &d, &m, &y)) {
		if (d < 1 || d > 31 || m < 1 || m > 12)
			return false;
		char buf[48];
		snprintf(buf, sizeof buf, "%04ld-%02ld-%02ld", y, m, d);
		if (!date_parse(buf, &day))
			return false;
	} else if (!date_parse(s, &day)) {
		return false;
	}
	date_format(day, iso);
	return true;
}

static const char *alias_code(const struct alias *a, const char *value)
{
	char f[128];
	fold(value, f, sizeof f);
	for (; a->word; a++)
		if (strcmp(a->word, f) == 0)
			return a->code;
	return NULL;
}

static bool departement_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 2)
		return (s[0] >= '0' && s[0] <= '9' && s[1] >= '0' && s[1] <= '9' &&
			!(s[0] == '0' && s[1] == '0') && !(s[0] == '2' && s[1] == '0')) ||
		       (s[0] == '2' && (s[1] == 'A' || s[1] == 'B'));
	return n == 3 && s[0] == '9' && s[1] == '7' && s[2] >= '1' && s[2] <= '6';
}

static bool utf8_len_ok(const char *s, long long min, long long max)
{
	long long n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n >= min && n <= max;
}

/* A list cell ("fauteuil, grossesse") as one array element, the codes
 * separated by ',' (the database splits it); false when a word is unknown. */
static bool list_value(const struct alias *aliases, char *v, struct sbuf *out)
{
	const char *codes[16];
	size_t n = 0;
	char *save = NULL;
	bool bad = false;
	for (char *t = strtok_r(v, ",;|/+", &save); t; t = strtok_r(NULL, ",;|/+", &save)) {
		const char *code = alias_code(aliases, t);
		if (!code) {
			bad = true;
			continue;
		}
		bool seen = false;
		for (size_t i = 0; i < n; i++)
			seen |= strcmp(codes[i], code) == 0;
		if (!seen && n < sizeof codes / sizeof *codes)
			codes[n++] = code;
	}
	if (bad)
		return false;
	sb_add(out, "\"", 1);      /* codes are [a-z_]: nothing to escape */
	for (size_t i = 0; i < n; i++) {
		if (i)
			sb_add(out, ",", 1);
		sb_puts(out, codes[i]);
	}
	sb_add(out, "\"", 1);
	return true;
}

/* One cell, trimmed in place, as the next element of its column's array
 * (NULL when blank or wrong, with an error then). */
static void convert(const struct column *c, char *raw, size_t row, struct sbuf *out, json_t *errors)
{
	/* spreadsheets pad; a cell of spaces is blank */
	while (*raw == ' ' || *raw == '\t')
		raw++;
	size_t n = strlen(raw);
	while (n && (raw[n - 1] == ' ' || raw[n - 1] == '\t'))
		n--;
	raw[n] = '\0';
	char *v = raw;
	char detail[160];
	size_t before = out->len;
	if (n == 0) {
		if (c->required)
			add_error(errors, row, c, "required", "cette colonne est obligatoire");
		goto out;
	}
	switch (c->type) {
	case C_STR:
		if (!utf8_len_ok(v, c->min, c->max)) {
			snprintf(detail, sizeof detail, "au plus %lld caractères", c->max);
			add_error(errors, row, c, "too_long", detail);
		} else {
			sb_array_str(out, v);
		}
		break;
	case C_INT:
	case C_NUM: {
		double d;
		if (!parse_number(v, &d, c->type == C_INT)) {
			add_error(errors, row, c, "wrong_type",
				  c->type == C_INT ? "un nombre entier est attendu" : "un nombre est attendu");
		} else if (d < (double)c->min || d > (double)c->max) {
			snprintf(detail, sizeof detail, "entre %lld et %lld", c->min, c->max);
			add_error(errors, row, c, "out_of_range", detail);
		} else {
			char num[40];
			if (c->type == C_INT)
				snprintf(num, sizeof num, "%lld", (long long)d);
			else
				snprintf(num, sizeof num, "%.15g", d);  /* 12,34 stays 12.34 */
			sb_puts(out, num);
		}
		break;
	}
	case C_BOOL: {
		char f[16];
		fold(v, f, sizeof f);
		if (!strcmp(f, "oui") || !strcmp(f, "o") || !strcmp(f, "x") || !strcmp(f, "1") ||
		    !strcmp(f, "vrai") || !strcmp(f, "true") || !strcmp(f, "yes"))
			sb_add(out, "t", 1);
		else if (!strcmp(f, "non") || !strcmp(f, "n") || !strcmp(f, "0") ||
			 !strcmp(f, "faux") || !strcmp(f, "false") || !strcmp(f, "no"))
			sb_add(out, "f", 1);
		else
			add_error(errors, row, c, "wrong_type", "oui ou non est attendu");
		break;
	}
	case C_DATE: {
		char iso[11];
		if (parse_day(v, iso))
			sb_puts(out, iso);
		else
			add_error(errors, row, c, "wrong_type", "une date JJ/MM/AAAA est attendue");
		break;
	}
	case C_ENUM: {
		const char *code = alias_code(c->aliases, v);
		if (code)
			sb_puts(out, code);     /* [a-z_]: no quotes needed */
		else
			add_error(errors, row, c, "unknown_value", "valeur inconnue");
		break;
	}
	case C_LIST:
		if (!list_value(c->aliases, v, out))
			add_error(errors, row, c, "unknown_value", "un des besoins est inconnu");
		break;
	case C_DEP:
		if (n == 1 && v[0] >= '1' && v[0] <= '9') {         /* "9" typed for "09" */
			char two[3] = {'0', v[0], '\0'};
			sb_puts(out, two);
		} else if (departement_ok(v)) {
			sb_puts(out, v);    /* digits, 2A/2B: no quotes needed */
		} else {
			add_error(errors, row, c, "unknown_value", "département inconnu");
		}
		break;
	}
out:
	if (out->len == before)
		sb_add(out, "NULL", 4);
}

static void header_record(struct parse *p, char **cells)
{
	bool seen[MAX_COLS] = {false};
	p->nfile = p->ncells < (size_t)MAX_COLS * 2 ? p->ncells : (size_t)MAX_COLS * 2;
	for (size_t i = 0; i < p->nfile; i++) {
		char f[128], g[128];
		fold(cells[i], f, sizeof f);
		p->map[i] = -1;
		if (!f[0])
			continue;            /* an empty header: a blank column */
		for (size_t k = 0; k < p->ncols; k++) {
			fold(p->cols[k].header, g, sizeof g);
			if (strcmp(f, g) == 0 || strcmp(f, p->cols[k].key) == 0) {
				p->map[i] = (int)k;
				break;
			}
		}
		char detail[200];
		if (p->map[i] < 0) {
			snprintf(detail, sizeof detail, "colonne « %.100s » inconnue (voir le modèle)", cells[i]);
			json_array_append_new(p->file_errors, json_pack("{s:i, s:s, s:s, s:s, s:s}", "row", 1,
				"column", cells[i], "pointer", "/rows/1", "code", "unknown_field", "detail", detail));
		} else if (seen[p->map[i]]) {
			add_error(p->file_errors, 1, &p->cols[p->map[i]], "duplicate", "colonne en double");
			p->map[i] = -1;
		} else {
			seen[p->map[i]] = true;
		}
	}
	for (size_t k = 0; k < p->ncols; k++)
		if (p->cols[k].required && !seen[k])
			add_error(p->file_errors, 1, &p->cols[k], "required", "colonne obligatoire absente");
}

static void data_record(struct parse *p, char **cells)
{
	bool blank = true;
	for (size_t i = 0; i < p->ncells && blank; i++)
		for (const char *c = cells[i]; *c && blank; c++)
			blank = *c == ' ' || *c == '\t';
	if (blank)
		return;
	/* the file's cell of each column, NULL when the file has none */
	char *of[MAX_COLS] = {NULL};
	for (size_t i = 0; i < p->ncells && i < p->nfile; i++)
		if (p->map[i] >= 0)
			of[p->map[i]] = cells[i];
	char num[32];
	snprintf(num, sizeof num, "%zu", p->line);
	sb_add(&p->lines, p->nrows ? "," : "{", 1);
	sb_puts(&p->lines, num);
	for (size_t k = 0; k < p->ncols; k++) {
		struct sbuf *out = &p->out[k];
		sb_add(out, p->nrows ? "," : "{", 1);
		if (of[k]) {
			convert(&p->cols[k], of[k], p->line, out, p->errors);
			continue;
		}
		/* a row shorter than the header: its missing cells are blank */
		bool in_file = false;
		for (size_t i = 0; i < p->nfile; i++)
			in_file |= p->map[i] == (int)k;
		if (in_file && p->cols[k].required)
			add_error(p->errors, p->line, &p->cols[k], "required", "cette colonne est obligatoire");
		sb_add(out, "NULL", 4);
	}
	if (p->ncells > p->nfile)
		add_error(p->errors, p->line, NULL, "unknown_field", "plus de cellules que de colonnes");
	p->nrows++;
}

static void on_field(void *s, size_t len, void *arg)
{
	struct parse *p = arg;
	if (p->oom)
		return;
	if (p->ncells == p->capcells) {
		size_t cap = p->capcells ? p->capcells * 2 : 32;
		size_t *grown = realloc(p->offs, cap * sizeof *grown);
		if (grown)
			p->offs = grown;
		char **cv = grown ? realloc(p->cellv, cap * sizeof *cv) : NULL;
		if (!cv) {
			p->oom = true;
			return;
		}
		p->cellv = cv;
		p->capcells = cap;
	}
	p->offs[p->ncells++] = p->cell.len;
	if (s && len)
		sb_add(&p->cell, s, len);
	sb_add(&p->cell, "", 1);        /* the cell's '\0' (sb_add keeps one after it too) */
	p->oom |= p->cell.oom;
}

static void on_record(int term, void *arg)
{
	struct parse *p = arg;
	(void)term;
	p->line++;
	if (!p->oom) {
		for (size_t i = 0; i < p->ncells; i++)
			p->cellv[i] = p->cell.p + p->offs[i];
		if (p->line == 1)
			header_record(p, p->cellv);
		else
			data_record(p, p->cellv);
	}
	p->ncells = 0;
	p->cell.len = 0;
}

/* ';' unless the first line has more ',' (outside quotes). */
static unsigned char guess_separator(const char *s, size_t len)
{
	size_t semi = 0, comma = 0;
	bool quoted = false;
	for (size_t i = 0; i < len && (quoted || (s[i] != '\n' && s[i] != '\r')); i++) {
		if (s[i] == '"')
			quoted = !quoted;
		else if (!quoted && s[i] == ';')
			semi++;
		else if (!quoted && s[i] == ',')
			comma++;
	}
	return comma > semi ? ',' : ';';
}

void import_parsed_free(struct import_parsed *out)
{
	if (!out)
		return;
	for (size_t i = 0; i < out->ncols; i++)
		free(out->cols[i]);
	free(out->errors);
	free(out->meta);
	memset(out, 0, sizeof *out);
}

bool import_parse(enum import_kind kind, const char *data, size_t len, struct import_parsed *out)
{
	struct parse p = {.kind = kind};
	struct csv_parser csv;
	char *converted = NULL;
	const char *encoding = "utf-8";
	json_t *headers = json_object(), *keys = json_array(), *meta = NULL;
	bool ok = false;
	memset(out, 0, sizeof *out);
	p.cols = columns_of(kind, &p.ncols);
	p.file_errors = json_array();
	p.errors = json_array();
	for (size_t k = 0; k < p.ncols; k++) {
		json_object_set_new(headers, p.cols[k].key, json_string(p.cols[k].header));
		json_array_append_new(keys, json_string(p.cols[k].key));
	}

	if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) {
		data += 3;
		len -= 3;
	} else if (!valid_utf8((const unsigned char *)data, len)) {
		/* not UTF-8: what Excel writes for "CSV (séparateur: point-virgule)" */
		converted = cp1252_to_utf8((const unsigned char *)data, len, &len);
		if (!converted)
			goto out;
		data = converted;
		encoding = "windows-1252";
	}
	unsigned char sep = guess_separator(data, len);
	if (csv_init(&csv, CSV_APPEND_NULL) != 0)
		goto out;
	csv_set_delim(&csv, sep);
	if (csv_parse(&csv, data, len, on_field, on_record, &p) != len)
		p.oom = true;
	csv_fini(&csv, on_field, on_record, &p);
	csv_free(&csv);
	sb_puts(&p.lines, p.nrows ? "}" : "{}");
	for (size_t k = 0; k < p.ncols; k++) {
		sb_puts(&p.out[k], p.nrows ? "}" : "{}");
		p.oom |= p.out[k].oom;
	}
	if (p.oom || p.lines.oom)
		goto out;
	if (p.line == 0)
		json_array_append_new(p.file_errors, json_pack("{s:i, s:s, s:s, s:s, s:s}", "row", 1,
			"column", "", "pointer", "/rows/1", "code", "required",
			"detail", "le fichier est vide : la ligne d'en-tête du modèle est attendue"));
	json_array_extend(p.file_errors, p.errors);
	char sepstr[2] = {(char)sep, '\0'};
	meta = json_pack("{s:I, s:O, s:O, s:s, s:s}", "nrows", (json_int_t)p.nrows, "headers", headers,
			 "columns", keys, "encoding", encoding, "separator", sepstr);
	out->errors = json_dumps(p.file_errors, JSON_COMPACT);
	out->meta = meta ? json_dumps(meta, JSON_COMPACT) : NULL;
	if (!out->errors || !out->meta)
		goto out;
	out->nrows = p.nrows;
	out->ncols = p.ncols + 1;
	out->cols[0] = p.lines.p;
	p.lines.p = NULL;
	for (size_t k = 0; k < p.ncols; k++) {
		out->cols[k + 1] = p.out[k].p;
		p.out[k].p = NULL;
	}
	ok = true;
out:
	if (!ok)
		import_parsed_free(out);
	free(converted);
	free(p.cell.p);
	free(p.offs);
	free(p.cellv);
	free(p.lines.p);
	for (size_t k = 0; k < MAX_COLS; k++)
		free(p.out[k].p);
	json_decref(p.file_errors);
	json_decref(p.errors);
	json_decref(headers);
	json_decref(keys);
	json_decref(meta);
	return ok;
}
