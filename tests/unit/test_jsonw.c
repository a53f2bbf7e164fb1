/*
 * jsonw against Jansson: for strings (every ASCII byte, UTF-8 of every
 * length, invalid bytes), integers and reals (tenths of a kilometre, tiny,
 * huge, negative), the text must be what json_dumps(JSON_COMPACT) writes
 * for the same value, and parse back (json_loads) to the same value.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "jsonw.h"
#include "unit.h"

static uint64_t state = 42;

static uint64_t next_u64(void)
{
	uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* What jsonw wrote, as a C string (owned by w). */
static const char *text(struct jsonw *w)
{
	jsonw_raw(w, "", 1);
	w->len--;
	return w->buf;
}

static void same_as_jansson(json_t *v, struct jsonw *w)
{
	json_t *arr = json_pack("[o]", v);
	char *want = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	CHECK(want != NULL);
	if (!want)
		return;
	/* json_dumps of [v]: drop the brackets */
	size_t n = strlen(want);
	want[n - 1] = 0;
	const char *got = text(w);
	unit_checks++;
	if (strcmp(got, want + 1) != 0) {
		unit_failures++;
		fprintf(stderr, "jsonw wrote %s, Jansson %s\n", got, want + 1);
	}
	/* and it parses back */
	json_error_t err;
	char *wrapped = malloc(strlen(got) + 3);
	if (wrapped) {
		sprintf(wrapped, "[%s]", got);
		json_t *back = json_loads(wrapped, 0, &err);
		CHECK(back != NULL);
		json_decref(back);
		free(wrapped);
	}
	free(want);
}

static void strings(void)
{
	struct jsonw w = {0};
	char s[8];
	/* every ASCII byte, alone and between letters */
	for (int c = 1; c < 128; c++) {
		snprintf(s, sizeof s, "a%cb", c);
		jsonw_reset(&w);
		jsonw_str(&w, s);
		same_as_jansson(json_string(s), &w);
	}
	static const char *const samples[] = {
		"", "Résidence \"Les Tilleuls\"", "Foyer\\Jeunes\t/1", "é", "日本", "😀", "\xc2\x80",
		"\xdf\xbf", "\xe0\xa0\x80", "\xef\xbf\xbf", "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf",
		"</script>", "\x7f", "line\nbreak\r\n", "\xe2\x80\xa8 separator",
	};
	for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
		jsonw_reset(&w);
		jsonw_str(&w, samples[i]);
		same_as_jansson(json_string(samples[i]), &w);
	}
	/* random valid UTF-8 made of the samples' pieces */
	for (int iter = 0; iter < 2000; iter++) {
		char buf[256] = "";
		size_t len = 0;
		for (int k = 0; k < 8; k++) {
			const char *piece = samples[next_u64() % (sizeof samples / sizeof samples[0])];
			char one[2] = {(char)(1 + next_u64() % 127), 0};
			const char *add = next_u64() % 2 ? piece : one;
			if (len + strlen(add) < sizeof buf) {
				memcpy(buf + len, add, strlen(add) + 1);
				len += strlen(add);
			}
		}
		jsonw_reset(&w);
		jsonw_str(&w, buf);
		same_as_jansson(json_string(buf), &w);
	}
	/* invalid UTF-8 (Jansson refuses it): replaced, and valid JSON */
	static const char *const bad[] = {"\xff", "a\xc0\xafz", "\xed\xa0\x80", "\xf5\x80\x80\x80", "\xe2\x82"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		jsonw_reset(&w);
		jsonw_str(&w, bad[i]);
		json_error_t err;
		char wrapped[64];
		snprintf(wrapped, sizeof wrapped, "[%s]", text(&w));
		json_t *back = json_loads(wrapped, 0, &err);
		CHECK(back != NULL);
		CHECK(strstr(text(&w), "\xef\xbf\xbd") != NULL);
		json_decref(back);
	}
	jsonw_reset(&w);
	jsonw_str(&w, NULL);
	CHECK_STR(text(&w), "null");
	jsonw_free(&w);
}

static void numbers(void)
{
	struct jsonw w = {0};
	static const long long ints[] = {0, 1, -1, 9, 10, 99, 100, 123456789, -987654321,
					 INT64_MAX, INT64_MIN, INT64_MIN + 1};
	for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
		jsonw_reset(&w);
		jsonw_int(&w, ints[i]);
		same_as_jansson(json_integer(ints[i]), &w);
	}
	static const double reals[] = {0.0, -0.0, 0.1, 0.3, 1.0, 12.4, 29.999999999999996, 1e-5,
				       1.5e-7, 1e16, 1e17, 1.25e20, 123456789012345678.0, -2.5,
				       DBL_MAX, DBL_MIN, 5e-324};
	for (size_t i = 0; i < sizeof reals / sizeof reals[0]; i++) {
		jsonw_reset(&w);
		jsonw_real(&w, reals[i]);
		same_as_jansson(json_real(reals[i]), &w);
	}
	/* every distance the matcher reports up to 1,000 km: tenths / 10 */
	for (long long t = 0; t <= 10000; t++) {
		jsonw_reset(&w);
		jsonw_real(&w, (double)t / 10);
		same_as_jansson(json_real((double)t / 10), &w);
	}
	for (int iter = 0; iter < 20000; iter++) {
		uint64_t bits = next_u64();
		double d;
		memcpy(&d, &bits, sizeof d);
		if (!isfinite(d))
			continue;
		jsonw_reset(&w);
		jsonw_real(&w, d);
		same_as_jansson(json_real(d), &w);
	}
	jsonw_reset(&w);
	jsonw_real(&w, HUGE_VAL);
	CHECK_STR(text(&w), "null");
	jsonw_reset(&w);
	jsonw_bool(&w, true);
	jsonw_lit(&w, ",");
	jsonw_bool(&w, false);
	CHECK_STR(text(&w), "true,false");
	jsonw_free(&w);
}

int main(void)
{
	strings();
	numbers();
	return unit_done("test_jsonw");
}
